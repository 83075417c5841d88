//! How each field type of a message is written and read, version by version.
//!
//! Messages are declared with `message!` and `structure!` (see the `macros` module):
//! one line per field with the field's Rust type and a [`FieldSpec`] (the versions that carry
//! it, the versions where it may be null, its tag). The macros generate the encoder and the
//! decoder; this module holds the pieces they call.

use bytes::{BufMut, Bytes, BytesMut};

use crate::error::{DecodeError, DecodeErrorKind, EncodeError};
use crate::wire::{put_uvarint, Reader, Uuid};

/// What a field needs to know to encode itself: the version, whether that version is
/// flexible (compact strings and arrays, tagged fields), and whether it may be null.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cx {
    /// The message version being encoded or decoded.
    pub version: i16,
    /// Whether this version uses the flexible (compact, tagged) encoding.
    pub flexible: bool,
    /// Whether the field may be null in this version.
    pub nullable: bool,
}

impl Cx {
    /// The context of a whole message at `version`.
    pub const fn new(version: i16, flexible: bool) -> Self {
        Cx {
            version,
            flexible,
            nullable: false,
        }
    }

    /// The same context, with the nullability of one field.
    pub const fn with_nullable(self, nullable: bool) -> Self {
        Cx { nullable, ..self }
    }
}

/// The versions of a message that carry a field, and how: nullable, tagged, ignorable.
///
/// Built with [`since`] or [`between`] and refined with the `const` methods, so that a field
/// declaration reads like `[since(12).null_since(12).tag(0)]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldSpec {
    lo: i16,
    hi: i16,
    null_lo: i16,
    null_hi: i16,
    tag: Option<u32>,
    tag_lo: i16,
    ignorable: bool,
}

/// A field present from version `lo` on.
pub const fn since(lo: i16) -> FieldSpec {
    between(lo, i16::MAX)
}

/// A field present from version `lo` to `hi`, both included.
pub const fn between(lo: i16, hi: i16) -> FieldSpec {
    FieldSpec {
        lo,
        hi,
        null_lo: 1,
        null_hi: 0,
        tag: None,
        tag_lo: i16::MAX,
        ignorable: false,
    }
}

impl FieldSpec {
    /// The field may be null from version `lo` on.
    pub const fn null_since(self, lo: i16) -> Self {
        self.null_between(lo, i16::MAX)
    }

    /// The field may be null from `lo` to `hi`, both included.
    pub const fn null_between(self, lo: i16, hi: i16) -> Self {
        FieldSpec {
            null_lo: lo,
            null_hi: hi,
            ..self
        }
    }

    /// The field is a tagged field with this tag in every version that has it.
    pub const fn tag(self, tag: u32) -> Self {
        self.tag_since(tag, self.lo)
    }

    /// The field is a tagged field with this tag from version `lo` on.
    pub const fn tag_since(self, tag: u32, lo: i16) -> Self {
        FieldSpec {
            tag: Some(tag),
            tag_lo: lo,
            ..self
        }
    }

    /// A version without the field drops it silently, even when it holds a non-default value.
    pub const fn ignorable(self) -> Self {
        FieldSpec {
            ignorable: true,
            ..self
        }
    }

    /// Whether `version` carries the field.
    pub const fn has(&self, version: i16) -> bool {
        self.lo <= version && version <= self.hi
    }

    /// Whether the field may be null in `version`.
    pub const fn nullable(&self, version: i16) -> bool {
        self.null_lo <= version && version <= self.null_hi
    }

    /// The field's tag, if it is a tagged field in `version`.
    pub const fn tag_in(&self, version: i16) -> Option<u32> {
        match self.tag {
            Some(t) if self.has(version) && version >= self.tag_lo => Some(t),
            _ => None,
        }
    }

    /// Whether a non-default value may be silently dropped where the version lacks the field.
    pub const fn is_ignorable(&self) -> bool {
        self.ignorable
    }
}

/// A value that can be written as a message field and read back.
pub trait Field: Sized {
    /// Writes the value.
    fn write(&self, buf: &mut BytesMut, cx: Cx, what: &'static str) -> Result<(), EncodeError>;
    /// Reads a value.
    fn read(r: &mut Reader<'_>, cx: Cx, what: &'static str) -> Result<Self, DecodeError>;
}

/// A field type that has a null on the wire, so that `Option<Self>` is a field too.
pub trait Nullable: Field {
    /// Writes a present value where null was possible (structures add a marker byte).
    fn write_some(
        &self,
        buf: &mut BytesMut,
        cx: Cx,
        what: &'static str,
    ) -> Result<(), EncodeError> {
        self.write(buf, cx, what)
    }
    /// Writes the null marker.
    fn write_null(buf: &mut BytesMut, cx: Cx);
    /// Reads a value, or `None` for the null marker.
    fn read_nullable(
        r: &mut Reader<'_>,
        cx: Cx,
        what: &'static str,
    ) -> Result<Option<Self>, DecodeError>;
}

impl<T: Nullable> Field for Option<T> {
    fn write(&self, buf: &mut BytesMut, cx: Cx, what: &'static str) -> Result<(), EncodeError> {
        match self {
            Some(v) => v.write_some(buf, cx, what),
            None if cx.nullable => {
                T::write_null(buf, cx);
                Ok(())
            }
            None => Err(EncodeError::NullNotAllowed {
                field: what,
                version: cx.version,
            }),
        }
    }

    fn read(r: &mut Reader<'_>, cx: Cx, what: &'static str) -> Result<Self, DecodeError> {
        match T::read_nullable(r, cx, what)? {
            None if !cx.nullable => Err(r.error(what, DecodeErrorKind::UnexpectedNull)),
            v => Ok(v),
        }
    }
}

macro_rules! fixed_width {
    ($($ty:ty => $put:ident, $get:ident;)*) => {$(
        impl Field for $ty {
            fn write(&self, buf: &mut BytesMut, _: Cx, _: &'static str) -> Result<(), EncodeError> {
                buf.$put(*self);
                Ok(())
            }
            fn read(r: &mut Reader<'_>, _: Cx, what: &'static str) -> Result<Self, DecodeError> {
                r.$get(what)
            }
        }
    )*};
}

fixed_width! {
    i8 => put_i8, i8;
    i16 => put_i16, i16;
    i32 => put_i32, i32;
    i64 => put_i64, i64;
    u16 => put_u16, u16;
    u32 => put_u32, u32;
    f64 => put_f64, f64;
}

impl Field for bool {
    fn write(&self, buf: &mut BytesMut, _: Cx, _: &'static str) -> Result<(), EncodeError> {
        buf.put_u8(u8::from(*self));
        Ok(())
    }
    fn read(r: &mut Reader<'_>, _: Cx, what: &'static str) -> Result<Self, DecodeError> {
        r.bool(what)
    }
}

impl Field for Uuid {
    fn write(&self, buf: &mut BytesMut, _: Cx, _: &'static str) -> Result<(), EncodeError> {
        buf.put_slice(&self.0);
        Ok(())
    }
    fn read(r: &mut Reader<'_>, _: Cx, what: &'static str) -> Result<Self, DecodeError> {
        r.uuid(what)
    }
}

/// Writes the length prefix of a string, byte array or array: `len + 1` as a varint in
/// flexible versions, else a fixed-width integer (`wide`: int32, otherwise int16).
fn put_len(
    buf: &mut BytesMut,
    cx: Cx,
    len: usize,
    wide: bool,
    what: &'static str,
) -> Result<(), EncodeError> {
    let too_long = || EncodeError::TooLong { field: what, len };
    if cx.flexible {
        let n = u32::try_from(len)
            .ok()
            .and_then(|n| n.checked_add(1))
            .ok_or_else(too_long)?;
        put_uvarint(buf, n);
    } else if wide {
        buf.put_i32(i32::try_from(len).map_err(|_| too_long())?);
    } else {
        buf.put_i16(i16::try_from(len).map_err(|_| too_long())?);
    }
    Ok(())
}

fn put_null_len(buf: &mut BytesMut, cx: Cx, wide: bool) {
    if cx.flexible {
        put_uvarint(buf, 0);
    } else if wide {
        buf.put_i32(-1);
    } else {
        buf.put_i16(-1);
    }
}

/// Reads a length prefix; `None` is the null marker. The length is not checked here.
fn get_len(
    r: &mut Reader<'_>,
    cx: Cx,
    wide: bool,
    what: &'static str,
) -> Result<Option<i64>, DecodeError> {
    let raw = if cx.flexible {
        i64::from(r.uvarint(what)?) - 1
    } else if wide {
        i64::from(r.i32(what)?)
    } else {
        i64::from(r.i16(what)?)
    };
    Ok((raw != -1).then_some(raw))
}

impl Field for String {
    fn write(&self, buf: &mut BytesMut, cx: Cx, what: &'static str) -> Result<(), EncodeError> {
        put_len(buf, cx, self.len(), false, what)?;
        buf.put_slice(self.as_bytes());
        Ok(())
    }
    fn read(r: &mut Reader<'_>, cx: Cx, what: &'static str) -> Result<Self, DecodeError> {
        Self::read_nullable(r, cx, what)?
            .ok_or_else(|| r.error(what, DecodeErrorKind::UnexpectedNull))
    }
}

impl Nullable for String {
    fn write_null(buf: &mut BytesMut, cx: Cx) {
        put_null_len(buf, cx, false);
    }
    fn read_nullable(
        r: &mut Reader<'_>,
        cx: Cx,
        what: &'static str,
    ) -> Result<Option<Self>, DecodeError> {
        let Some(len) = get_len(r, cx, false, what)? else {
            return Ok(None);
        };
        let len = r.check_len(what, len)?;
        let at = r.offset();
        let raw = r.slice(len, what)?;
        match std::str::from_utf8(raw) {
            Ok(s) => Ok(Some(s.to_owned())),
            Err(_) => Err(DecodeError::new(what, at, DecodeErrorKind::InvalidUtf8)),
        }
    }
}

impl Field for Bytes {
    fn write(&self, buf: &mut BytesMut, cx: Cx, what: &'static str) -> Result<(), EncodeError> {
        put_len(buf, cx, self.len(), true, what)?;
        buf.put_slice(self);
        Ok(())
    }
    fn read(r: &mut Reader<'_>, cx: Cx, what: &'static str) -> Result<Self, DecodeError> {
        Self::read_nullable(r, cx, what)?
            .ok_or_else(|| r.error(what, DecodeErrorKind::UnexpectedNull))
    }
}

impl Nullable for Bytes {
    fn write_null(buf: &mut BytesMut, cx: Cx) {
        put_null_len(buf, cx, true);
    }
    fn read_nullable(
        r: &mut Reader<'_>,
        cx: Cx,
        what: &'static str,
    ) -> Result<Option<Self>, DecodeError> {
        let Some(len) = get_len(r, cx, true, what)? else {
            return Ok(None);
        };
        let len = r.check_len(what, len)?;
        r.bytes(len, what).map(Some)
    }
}

impl<T: Field> Field for Vec<T> {
    fn write(&self, buf: &mut BytesMut, cx: Cx, what: &'static str) -> Result<(), EncodeError> {
        put_len(buf, cx, self.len(), true, what)?;
        let item_cx = cx.with_nullable(false);
        self.iter()
            .try_for_each(|item| item.write(buf, item_cx, what))
    }
    fn read(r: &mut Reader<'_>, cx: Cx, what: &'static str) -> Result<Self, DecodeError> {
        Self::read_nullable(r, cx, what)?
            .ok_or_else(|| r.error(what, DecodeErrorKind::UnexpectedNull))
    }
}

impl<T: Field> Nullable for Vec<T> {
    fn write_null(buf: &mut BytesMut, cx: Cx) {
        put_null_len(buf, cx, true);
    }
    fn read_nullable(
        r: &mut Reader<'_>,
        cx: Cx,
        what: &'static str,
    ) -> Result<Option<Self>, DecodeError> {
        let Some(len) = get_len(r, cx, true, what)? else {
            return Ok(None);
        };
        // Every element takes at least one byte on the wire in practice; a count larger than
        // the bytes left is a lie, and checking it first bounds the allocation.
        let len = r.check_len(what, len)?;
        let item_cx = cx.with_nullable(false);
        let mut items = Vec::with_capacity(len);
        for _ in 0..len {
            items.push(T::read(r, item_cx, what)?);
        }
        Ok(Some(items))
    }
}

/// Tagged fields this crate does not know, kept in tag order so that a decoded message
/// encodes back to the same bytes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TaggedFields(pub Vec<(u32, Bytes)>);

impl TaggedFields {
    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// A set of small tag numbers: which known tagged fields a decoded structure carried.
///
/// Tags from 0 to 63 are tracked, which covers every tagged field of Kafka's messages;
/// [`insert`](Self::insert) ignores larger ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TagSet(u64);

impl TagSet {
    /// Adds `tag` (ignored when 64 or more).
    pub fn insert(&mut self, tag: u32) {
        if let Some(bit) = 1u64.checked_shl(tag) {
            self.0 |= bit;
        }
    }

    /// Whether `tag` is in the set.
    pub fn contains(&self, tag: u32) -> bool {
        1u64.checked_shl(tag).is_some_and(|bit| self.0 & bit != 0)
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.0 == 0
    }
}

/// Writes the tagged-field section of a flexible structure: the `known` fields (tag and
/// encoded value, in tag order) merged with the unknown ones.
#[doc(hidden)]
pub fn write_tagged(buf: &mut BytesMut, known: &[(u32, Bytes)], unknown: &TaggedFields) {
    put_uvarint(buf, (known.len() + unknown.0.len()) as u32);
    let (mut a, mut b) = (known.iter().peekable(), unknown.0.iter().peekable());
    loop {
        let next = match (a.peek(), b.peek()) {
            (Some(x), Some(y)) if x.0 <= y.0 => a.next(),
            (Some(_), Some(_)) => b.next(),
            (Some(_), None) => a.next(),
            (None, Some(_)) => b.next(),
            (None, None) => break,
        };
        if let Some((tag, value)) = next {
            put_uvarint(buf, *tag);
            put_uvarint(buf, value.len() as u32);
            buf.put_slice(value);
        }
    }
}

/// Encodes one known tagged field's value on its own, for [`write_tagged`].
#[doc(hidden)]
pub fn encode_tagged<T: Field>(
    value: &T,
    cx: Cx,
    what: &'static str,
) -> Result<Bytes, EncodeError> {
    let mut b = BytesMut::new();
    value.write(&mut b, cx, what)?;
    Ok(b.freeze())
}

/// Reads the header of the tagged-field section: how many fields follow.
#[doc(hidden)]
pub fn read_tagged_count(r: &mut Reader<'_>, what: &'static str) -> Result<u32, DecodeError> {
    let n = r.uvarint(what)?;
    // Each tagged field takes at least two bytes (tag and size).
    r.check_len(what, i64::from(n) * 2)?;
    Ok(n)
}

/// Reads one tagged field's tag and a reader over its value.
#[doc(hidden)]
pub fn read_tagged_field<'a>(
    r: &mut Reader<'a>,
    what: &'static str,
) -> Result<(u32, Reader<'a>), DecodeError> {
    let tag = r.uvarint(what)?;
    let size = r.uvarint(what)?;
    let size = r.check_len(what, i64::from(size))?;
    Ok((tag, r.sub(size, what)?))
}
