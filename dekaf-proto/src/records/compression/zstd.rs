//! zstd, through the zstd crate (bindings to the reference library).

use super::{compress_failed, failed, first_capacity, read_bounded};
use crate::error::{DecodeErrorKind, EncodeError};
use crate::records::Compression;

/// The level Java's client uses by default.
const LEVEL: i32 = 3;

/// Decompresses `input` (one or more zstd frames) into at most `limit` bytes.
pub(super) fn decompress(input: &[u8], limit: usize) -> Result<Vec<u8>, DecodeErrorKind> {
    let mut dec = zstd::stream::read::Decoder::with_buffer(input)
        .map_err(|e| failed(Compression::Zstd, e))?;
    // The window is memory the decoder allocates up front: keep it near the output bound.
    let limit_bits = usize::BITS - limit.leading_zeros();
    dec.window_log_max(limit_bits.clamp(24, 27))
        .map_err(|e| failed(Compression::Zstd, e))?;
    // A frame that declares its size lets the buffer be right the first time (still capped).
    let capacity = match zstd::zstd_safe::get_frame_content_size(input) {
        Ok(Some(n)) => usize::try_from(n).unwrap_or(usize::MAX).saturating_add(1),
        _ => first_capacity(input.len(), limit),
    };
    read_bounded(Compression::Zstd, dec, limit, capacity)
}

/// Appends `input` as one zstd frame (with its content size) at Java's default level.
pub(super) fn compress(input: &[u8], out: &mut Vec<u8>) -> Result<(), EncodeError> {
    let frame =
        zstd::bulk::compress(input, LEVEL).map_err(|e| compress_failed(Compression::Zstd, e))?;
    out.extend_from_slice(&frame);
    Ok(())
}
