//! lz4 frame format, through lz4_flex (no unsafe code).
//!
//! Frames as Kafka clients write them (independent blocks, no dictionary) are taken apart
//! here and each block is decompressed straight into the output buffer. Any other shape, and
//! any frame that does not read cleanly that way, goes through lz4_flex's frame decoder, which
//! also gives the precise error. Checksums inside the frame are not verified on the direct
//! path: the batch's CRC-32C already covers these bytes.

use std::io::Write;

use lz4_flex::frame::{BlockMode, BlockSize, FrameDecoder, FrameEncoder, FrameInfo};

use super::{compress_failed, first_capacity, read_bounded};
use crate::error::{DecodeErrorKind, EncodeError};
use crate::records::Compression;

const MAGIC: u32 = 0x184D_2204;
/// FLG bits: version (must be 01), independent blocks, block checksums, content size,
/// content checksum, reserved, dictionary id.
const FLG_VERSION: u8 = 0b0100_0000;
const FLG_INDEPENDENT: u8 = 0b0010_0000;
const FLG_BLOCK_CHECKSUM: u8 = 0b0001_0000;
const FLG_CONTENT_SIZE: u8 = 0b0000_1000;
const FLG_CONTENT_CHECKSUM: u8 = 0b0000_0100;
const FLG_RESERVED_AND_DICT: u8 = 0b0000_0011;
/// Block size field: the high bit marks a block stored uncompressed.
const BLOCK_UNCOMPRESSED: u32 = 0x8000_0000;

/// Decompresses `input` (one or more lz4 frames) into at most `limit` bytes.
pub(super) fn decompress(input: &[u8], limit: usize) -> Result<Vec<u8>, DecodeErrorKind> {
    match decompress_direct(input, limit) {
        Some(out) => Ok(out),
        None => decompress_stream(input, limit),
    }
}

fn decompress_stream(input: &[u8], limit: usize) -> Result<Vec<u8>, DecodeErrorKind> {
    read_bounded(
        Compression::Lz4,
        Frames(FrameDecoder::new(input)),
        limit,
        first_capacity(input.len(), limit),
    )
}

/// lz4_flex's decoder reports the end of each frame as the end of the input; this reads on
/// through every frame until the input is used up.
struct Frames<'a>(FrameDecoder<&'a [u8]>);

impl std::io::Read for Frames<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        loop {
            let before = self.0.get_ref().len();
            let n = self.0.read(buf)?;
            let after = self.0.get_ref().len();
            if n > 0 || buf.is_empty() || after == 0 || after == before {
                return Ok(n);
            }
        }
    }
}

/// The direct path: `None` if the input is not made of plain, well-formed frames whose
/// output fits in `limit` bytes.
fn decompress_direct(input: &[u8], limit: usize) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let mut filled = 0usize;
    let mut rest = input;
    while !rest.is_empty() {
        let (magic, r) = rest.split_first_chunk::<4>()?;
        if u32::from_le_bytes(*magic) != MAGIC {
            return None;
        }
        let (&[flg, bd], mut r) = r.split_first_chunk::<2>()?;
        if flg & 0b1100_0000 != FLG_VERSION
            || flg & FLG_RESERVED_AND_DICT != 0
            || flg & FLG_INDEPENDENT == 0
        {
            return None;
        }
        let max_block: usize = match (bd >> 4) & 0b111 {
            4 => 64 << 10,
            5 => 256 << 10,
            6 => 1 << 20,
            7 => 4 << 20,
            _ => return None,
        };
        let mut capacity = first_capacity(input.len(), limit);
        if flg & FLG_CONTENT_SIZE != 0 {
            let (size, t) = r.split_first_chunk::<8>()?;
            // lz4 cannot expand data more than 255 times: a larger claim is not believed
            // (the buffer is zeroed, so it costs real memory).
            let declared = usize::try_from(u64::from_le_bytes(*size)).ok()?;
            let credible = declared.min(input.len().saturating_mul(255));
            capacity = filled.saturating_add(credible).min(limit);
            r = t;
        }
        // Header checksum byte.
        let (_, mut r) = r.split_first()?;
        if out.len() < capacity {
            out.resize(capacity, 0);
        }
        loop {
            let (size, t) = r.split_first_chunk::<4>()?;
            let size = u32::from_le_bytes(*size);
            if size == 0 {
                r = t;
                break;
            }
            let stored = size & BLOCK_UNCOMPRESSED != 0;
            let len = (size & !BLOCK_UNCOMPRESSED) as usize;
            if len > max_block {
                return None;
            }
            let (block, t) = t.split_at_checked(len)?;
            r = t;
            if flg & FLG_BLOCK_CHECKSUM != 0 {
                r = r.split_first_chunk::<4>()?.1;
            }
            let room = filled.checked_add(if stored { len } else { max_block })?;
            let room = room.min(limit);
            if out.len() < room {
                let grown = out.len().saturating_mul(2).clamp(room, limit.max(room));
                out.resize(grown, 0);
            }
            let dst = out.get_mut(filled..room)?;
            filled += if stored {
                dst.get_mut(..len)?.copy_from_slice(block);
                len
            } else {
                lz4_flex::block::decompress_into(block, dst).ok()?
            };
        }
        if flg & FLG_CONTENT_CHECKSUM != 0 {
            r = r.split_first_chunk::<4>()?.1;
        }
        rest = r;
    }
    out.truncate(filled);
    Some(out)
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn frame(data: &[u8], info: FrameInfo) -> Vec<u8> {
        let mut enc = FrameEncoder::with_frame_info(info, Vec::new());
        enc.write_all(data).unwrap();
        enc.finish().unwrap()
    }

    fn info() -> impl Strategy<Value = FrameInfo> {
        (
            proptest::sample::select(vec![
                BlockSize::Max64KB,
                BlockSize::Max256KB,
                BlockSize::Max1MB,
            ]),
            any::<[bool; 3]>(),
        )
            .prop_map(|(size, [linked, block_sum, content_sum])| {
                FrameInfo::new()
                    .block_size(size)
                    .block_mode(if linked {
                        BlockMode::Linked
                    } else {
                        BlockMode::Independent
                    })
                    .block_checksums(block_sum)
                    .content_checksum(content_sum)
            })
    }

    /// Compressible data with some incompressible stretches, so some blocks are stored.
    fn data() -> impl Strategy<Value = Vec<u8>> {
        (0usize..300_000, any::<u8>(), any::<bool>()).prop_map(|(len, seed, noisy)| {
            let mut x = u32::from(seed) | 1;
            (0..len)
                .map(|i| {
                    x ^= x << 13;
                    x ^= x >> 17;
                    x ^= x << 5;
                    if noisy && (i / 70_000) % 2 == 1 {
                        x as u8
                    } else {
                        (i % 251) as u8 ^ seed
                    }
                })
                .collect()
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

        #[test]
        fn direct_and_stream_paths_agree(
            data in data(),
            info in info(),
            sized: bool,
            frames in 1usize..3,
            cut in any::<proptest::sample::Index>(),
        ) {
            let info = info.content_size(sized.then_some(data.len() as u64));
            let one = frame(&data, info);
            let input = one.repeat(frames);
            let whole = data.repeat(frames);
            prop_assert_eq!(&decompress(&input, whole.len()).unwrap(), &whole);
            prop_assert!(decompress(&input, whole.len().saturating_sub(1)).is_err() || whole.is_empty());
            if let Some(direct) = decompress_direct(&input, whole.len()) {
                prop_assert_eq!(&direct, &whole);
            }
            let cut = &input[..cut.index(input.len())];
            if let Some(direct) = decompress_direct(cut, usize::MAX) {
                prop_assert_eq!(Ok(direct), decompress_stream(cut, usize::MAX));
            }
        }
    }

    #[test]
    fn java_style_frames_take_the_direct_path() {
        let data: Vec<u8> = (0..200_000u32).map(|i| (i % 97) as u8).collect();
        let mut input = Vec::new();
        compress(&data, &mut input).unwrap();
        assert_eq!(decompress_direct(&input, data.len()), Some(data.clone()));
        assert_eq!(decompress_direct(&input, data.len() - 1), None);
    }
}
