//! The Kafka wire protocol, without IO.
//!
//! Bytes in, typed messages out, and back: primitives ([`wire`]), frames ([`frame`]), headers
//! ([`header`]), request and response bodies for every version in range ([`messages`]), the
//! correlation of responses to requests ([`correlation`]), the consumer protocol blobs carried
//! inside group messages ([`consumer_protocol`]), and record batches.
//! Nothing here reads a clock, touches a socket or spawns a task.
//!
//! Decoding never panics on any input: malformed bytes are a [`DecodeError`] that says what
//! was being read and where, and every length is checked against the bytes that remain before
//! anything is allocated.
//!
//! # Features
//!
//! - `gzip`, `snappy`, `lz4`, `zstd` (all on by default): the compression codecs of record
//!   batches, with flate2, snap (raw and xerial-framed), lz4_flex and zstd. A batch in a codec
//!   left out fails to decode with a typed error.
//! - `arbitrary` (off): proptest strategies for every message (`arbitrary::Arbitrary`),
//!   for property tests of code built on these messages.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod api_key;
#[cfg(any(test, feature = "arbitrary"))]
pub mod arbitrary;
pub mod consumer_protocol;
pub mod correlation;
mod error;
mod error_code;
pub mod field;
pub mod frame;
#[doc(hidden)]
pub mod fuzz;
pub mod header;
mod macros;
mod message;
pub mod messages;
pub mod records;
pub mod version;
pub mod wire;

pub use api_key::ApiKey;
pub use error::{DecodeError, DecodeErrorKind, EncodeError};
pub use error_code::ErrorCode;
pub use message::{Message, MessageKind, MessageSpec, Request};
#[doc(hidden)]
pub use records::fuzz_record_batches;
