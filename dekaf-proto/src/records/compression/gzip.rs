//! gzip, through flate2 (pure Rust backend).

use std::io::Write;

use super::{compress_failed, first_capacity, read_bounded};
use crate::error::{DecodeErrorKind, EncodeError};
use crate::records::Compression;

/// Inflates `input` (one or more gzip members) into at most `limit` bytes.
pub(super) fn decompress(input: &[u8], limit: usize) -> Result<Vec<u8>, DecodeErrorKind> {
    let reader = flate2::bufread::MultiGzDecoder::new(input);
    read_bounded(
        Compression::Gzip,
        reader,
        limit,
        first_capacity(input.len(), limit),
    )
}

/// Appends `input` as one gzip member at the default level.
pub(super) fn compress(input: &[u8], out: &mut Vec<u8>) -> Result<(), EncodeError> {
    let mut enc = flate2::write::GzEncoder::new(out, flate2::Compression::default());
    enc.write_all(input)
        .and_then(|()| enc.finish().map(drop))
        .map_err(|e| compress_failed(Compression::Gzip, e))
}
