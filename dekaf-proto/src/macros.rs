//! The small language messages are declared in.
//!
//! ```text
//! message! {
//!     /// What the message is for.
//!     pub struct ApiVersionsRequest [MessageSpec::new(ApiKey::ApiVersions, 0, 4)] {
//!         /// What the field means.
//!         client_software_name: String [since(3).ignorable()],
//!         throttle_time_ms: i32 [since(1)] = -1,
//!     }
//! }
//! ```
//!
//! Each field has a Rust type (`Option<_>` where the spec allows null), a
//! [`FieldSpec`](crate::field::FieldSpec) in brackets, and an optional default after `=`.
//! Nested structures use [`structure!`](crate::structure) with the same field syntax. Both
//! generate the struct (with `unknown_tagged_fields` for round trips), `Default`, and the
//! version-aware encoder and decoder.

/// Declares a structure nested inside a message (an element of an array field, say).
#[macro_export]
#[doc(hidden)]
macro_rules! structure {
    (
        $(#[$meta:meta])*
        pub struct $name:ident {
            $(
                $(#[$fmeta:meta])*
                $field:ident : $fty:ty [ $spec:expr ] $(= $default:expr)?
            ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone)]
        pub struct $name {
            $(
                $(#[$fmeta])*
                pub $field: $fty,
            )*
            /// Tagged fields this crate does not know, kept so the structure round-trips.
            pub unknown_tagged_fields: $crate::field::TaggedFields,
            /// The known tagged fields the decoded bytes carried, written again even when
            /// they hold their default value so that the structure round-trips byte for
            /// byte. Not part of equality; empty for a structure built in code.
            pub decoded_tags: $crate::field::TagSet,
        }

        impl Default for $name {
            fn default() -> Self {
                Self {
                    $( $field: $crate::__field_default!($fty $(, $default)?), )*
                    unknown_tagged_fields: Default::default(),
                    decoded_tags: Default::default(),
                }
            }
        }

        // Equal values are equal however they were written: `decoded_tags` is left out.
        impl PartialEq for $name {
            fn eq(&self, other: &Self) -> bool {
                $( self.$field == other.$field && )*
                    self.unknown_tagged_fields == other.unknown_tagged_fields
            }
        }

        impl $crate::field::Field for $name {
            #[allow(unused_variables)]
            fn write(
                &self,
                buf: &mut ::bytes::BytesMut,
                cx: $crate::field::Cx,
                _what: &'static str,
            ) -> Result<(), $crate::EncodeError> {
                use $crate::field::*;
                let v = cx.version;
                #[allow(unused_mut)]
                let mut tagged: Vec<(u32, ::bytes::Bytes)> = Vec::new();
                $({
                    const SPEC: FieldSpec = $spec;
                    const WHAT: &str = concat!(stringify!($name), ".", stringify!($field));
                    let fcx = cx.with_nullable(SPEC.nullable(v));
                    if !SPEC.has(v) {
                        if !SPEC.is_ignorable()
                            && self.$field != $crate::__field_default!($fty $(, $default)?)
                        {
                            return Err($crate::EncodeError::FieldNotInVersion { field: WHAT, version: v });
                        }
                    } else if let Some(tag) = SPEC.tag_in(v) {
                        if self.decoded_tags.contains(tag)
                            || self.$field != $crate::__field_default!($fty $(, $default)?)
                        {
                            tagged.push((tag, encode_tagged(&self.$field, fcx, WHAT)?));
                        }
                    } else {
                        Field::write(&self.$field, buf, fcx, WHAT)?;
                    }
                })*
                if cx.flexible {
                    // The wire wants tags in ascending order, whatever the declaration order.
                    tagged.sort_unstable_by_key(|(tag, _)| *tag);
                    write_tagged(buf, &tagged, &self.unknown_tagged_fields);
                }
                Ok(())
            }

            #[allow(unused_variables, unused_mut)]
            fn read(
                r: &mut $crate::wire::Reader<'_>,
                cx: $crate::field::Cx,
                _what: &'static str,
            ) -> Result<Self, $crate::DecodeError> {
                use $crate::field::*;
                let v = cx.version;
                let mut this = Self::default();
                $({
                    const SPEC: FieldSpec = $spec;
                    const WHAT: &str = concat!(stringify!($name), ".", stringify!($field));
                    if SPEC.has(v) && SPEC.tag_in(v).is_none() {
                        this.$field = Field::read(r, cx.with_nullable(SPEC.nullable(v)), WHAT)?;
                    }
                })*
                if cx.flexible {
                    const WHAT: &str = concat!(stringify!($name), " tagged fields");
                    for _ in 0..read_tagged_count(r, WHAT)? {
                        let (tag, mut sub) = read_tagged_field(r, WHAT)?;
                        let mut known = false;
                        $({
                            const SPEC: FieldSpec = $spec;
                            const FWHAT: &str = concat!(stringify!($name), ".", stringify!($field));
                            if !known && SPEC.tag_in(v) == Some(tag) {
                                known = true;
                                this.decoded_tags.insert(tag);
                                this.$field = Field::read(&mut sub, cx.with_nullable(SPEC.nullable(v)), FWHAT)?;
                                sub.finish(FWHAT)?;
                            }
                        })*
                        if !known {
                            let raw = sub.remaining();
                            this.unknown_tagged_fields.0.push((tag, sub.bytes(raw, WHAT)?));
                        }
                    }
                }
                Ok(this)
            }
        }

        #[cfg(any(test, feature = "arbitrary"))]
        impl $crate::arbitrary::Arbitrary for $name {
            #[allow(unused_variables)]
            fn arbitrary(cx: $crate::field::Cx) -> ::proptest::strategy::BoxedStrategy<Self> {
                use ::proptest::strategy::{Just, Strategy};
                use $crate::field::*;
                let v = cx.version;
                let s = (
                    $crate::arbitrary::unknown_tagged_fields(cx),
                    $crate::arbitrary::decoded_tags(cx),
                )
                    .prop_map(|(unknown_tagged_fields, decoded_tags)| Self {
                        unknown_tagged_fields,
                        decoded_tags,
                        ..Self::default()
                    })
                    .boxed();
                $(
                    let s = {
                        const SPEC: FieldSpec = $spec;
                        if SPEC.has(v) {
                            let f = <$fty as $crate::arbitrary::Arbitrary>::arbitrary(
                                cx.with_nullable(SPEC.nullable(v)),
                            );
                            (s, f).prop_map(|(mut this, f)| { this.$field = f; this }).boxed()
                        } else {
                            s
                        }
                    };
                )*
                let _ = Just(());
                s
            }
        }

        impl $crate::field::Nullable for $name {
            fn write_some(
                &self,
                buf: &mut ::bytes::BytesMut,
                cx: $crate::field::Cx,
                what: &'static str,
            ) -> Result<(), $crate::EncodeError> {
                ::bytes::BufMut::put_i8(buf, 1);
                <Self as $crate::field::Field>::write(self, buf, cx, what)
            }
            fn write_null(buf: &mut ::bytes::BytesMut, _cx: $crate::field::Cx) {
                ::bytes::BufMut::put_i8(buf, -1);
            }
            fn read_nullable(
                r: &mut $crate::wire::Reader<'_>,
                cx: $crate::field::Cx,
                what: &'static str,
            ) -> Result<Option<Self>, $crate::DecodeError> {
                if r.i8(what)? < 0 {
                    Ok(None)
                } else {
                    <Self as $crate::field::Field>::read(r, cx, what).map(Some)
                }
            }
        }
    };
}

/// Declares a top-level request or response: a [`structure!`] plus its
/// [`Message`](crate::Message) implementation.
#[macro_export]
#[doc(hidden)]
macro_rules! message {
    (
        $(#[$meta:meta])*
        pub struct $name:ident [ $mspec:expr ] { $($body:tt)* }
    ) => {
        $crate::structure! {
            $(#[$meta])*
            pub struct $name { $($body)* }
        }

        impl $crate::Message for $name {
            const SPEC: $crate::MessageSpec = $mspec;
        }
    };
}

/// The default value of a field: the declared one, else the type's `Default`.
#[macro_export]
#[doc(hidden)]
macro_rules! __field_default {
    ($ty:ty) => {
        <$ty as ::core::default::Default>::default()
    };
    ($ty:ty, $default:expr) => {
        $default
    };
}
