//! Errors of encoding and decoding. Kafka's own error codes are values, see [`crate::ErrorCode`].

use thiserror::Error;

/// Bytes that could not be decoded: what was being read, where, and why.
///
/// The peer sent something malformed (or something this crate does not understand); it is
/// never a reason to panic and never leads to an allocation larger than the input.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("cannot decode {what} at byte {offset}: {kind}")]
pub struct DecodeError {
    /// The field or structure being read, e.g. `"FetchResponse.responses"`.
    pub what: &'static str,
    /// Byte offset from the start of the input (the frame, or the record batch).
    pub offset: usize,
    /// Why it failed.
    pub kind: DecodeErrorKind,
}

/// Why a decode failed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum DecodeErrorKind {
    /// The input ended while `needed` more bytes were expected.
    #[error("input ends early ({needed} more bytes needed)")]
    UnexpectedEnd {
        /// How many bytes were missing, at least.
        needed: usize,
    },
    /// A length or count is negative (and not the null marker) or larger than what remains.
    #[error("invalid length {length} ({remaining} bytes remain)")]
    InvalidLength {
        /// The length as read.
        length: i64,
        /// The bytes left in the input at that point.
        remaining: usize,
    },
    /// A null where the version does not allow one.
    #[error("null is not allowed here")]
    UnexpectedNull,
    /// A string that is not UTF-8.
    #[error("string is not valid UTF-8")]
    InvalidUtf8,
    /// A varint longer than its type allows.
    #[error("varint is too long")]
    VarintTooLong,
    /// A value outside the range the protocol defines.
    #[error("invalid value {0}")]
    InvalidValue(i64),
    /// The version is outside the range this crate supports for the message.
    #[error("version {version} of {api} is not supported")]
    UnsupportedVersion {
        /// The api (message) name.
        api: &'static str,
        /// The version asked for.
        version: i16,
    },
    /// An api key this crate does not know or does not implement.
    #[error("unknown api key {0}")]
    UnknownApiKey(i16),
    /// A record batch's CRC-32C does not match its contents.
    #[error("CRC mismatch (stored {stored:#010x}, computed {computed:#010x})")]
    CrcMismatch {
        /// CRC in the batch header.
        stored: u32,
        /// CRC of the bytes.
        computed: u32,
    },
    /// A record batch with a magic byte other than 2.
    #[error("unsupported record batch magic {0}")]
    UnsupportedMagic(i8),
    /// A compression codec id this crate does not know, or one compiled out.
    #[error("unsupported compression codec {0}")]
    UnsupportedCompression(u8),
    /// Decompression failed, or its output would exceed the configured bound.
    #[error("decompression failed: {0}")]
    Decompression(String),
    /// Bytes were left over after the structure ended.
    #[error("{0} trailing bytes")]
    TrailingBytes(usize),
    /// A frame larger than the configured maximum.
    #[error("frame of {size} bytes exceeds the maximum of {max}")]
    FrameTooLarge {
        /// Size announced by the length prefix.
        size: i64,
        /// The configured maximum.
        max: usize,
    },
    /// A response whose correlation id matches no request in flight.
    #[error("unknown correlation id {0}")]
    UnknownCorrelationId(i32),
}

impl DecodeError {
    /// Builds an error for `what` at `offset`.
    pub fn new(what: &'static str, offset: usize, kind: DecodeErrorKind) -> Self {
        Self { what, offset, kind }
    }
}

/// A value that cannot be written in the version asked for: an API misuse, not a peer's fault.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// The field holds a non-default value but the version has no room for it.
    #[error("{field} cannot be sent in version {version}")]
    FieldNotInVersion {
        /// The field, as `Message.field`.
        field: &'static str,
        /// The version being encoded.
        version: i16,
    },
    /// The field is `None` but the version cannot carry a null.
    #[error("{field} cannot be null in version {version}")]
    NullNotAllowed {
        /// The field, as `Message.field`.
        field: &'static str,
        /// The version being encoded.
        version: i16,
    },
    /// The message does not exist in that version (in this crate's range).
    #[error("version {version} of {api} is not supported")]
    UnsupportedVersion {
        /// The api (message) name.
        api: &'static str,
        /// The version asked for.
        version: i16,
    },
    /// A string, byte array or array longer than its length prefix can say.
    #[error("{field} is too long ({len})")]
    TooLong {
        /// The field, as `Message.field`.
        field: &'static str,
        /// Its length.
        len: usize,
    },
    /// Compression failed.
    #[error("compression failed: {0}")]
    Compression(String),
    /// The compression codec was compiled out.
    #[error("compression codec {0} is not enabled")]
    CompressionDisabled(&'static str),
}
