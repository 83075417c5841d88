//! lz4 frame format, through lz4_flex (no unsafe code).

use std::io::Write;

use lz4_flex::frame::{BlockMode, BlockSize, FrameDecoder, FrameEncoder, FrameInfo};

use super::{compress_failed, first_capacity, read_bounded};
use crate::error::{DecodeErrorKind, EncodeError};
use crate::records::Compression;

/// Decompresses `input` (one or more lz4 frames) into at most `limit` bytes.
pub(super) fn decompress(input: &[u8], limit: usize) -> Result<Vec<u8>, DecodeErrorKind> {
    read_bounded(
        Compression::Lz4,
        FrameDecoder::new(input),
        limit,
        first_capacity(input.len(), limit),
    )
}

/// Appends `input` as one lz4 frame with 64 KiB independent blocks, as Java's client writes.
pub(super) fn compress(input: &[u8], out: &mut Vec<u8>) -> Result<(), EncodeError> {
    let info = FrameInfo::new()
        .block_size(BlockSize::Max64KB)
        .block_mode(BlockMode::Independent);
    let mut enc = FrameEncoder::with_frame_info(info, out);
    enc.write_all(input)
        .map_err(|e| compress_failed(Compression::Lz4, e))?;
    enc.finish()
        .map(drop)
        .map_err(|e| compress_failed(Compression::Lz4, e))
}
