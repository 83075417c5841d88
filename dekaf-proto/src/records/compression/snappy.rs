//! snappy, through snap: Java's xerial framing written and read, raw blocks read too.
//!
//! Java's client frames snappy output the way the xerial library does: a 16-byte header
//! (`0x82 "SNAPPY" 0x00`, then a version and a minimum compatible version as int32) followed
//! by chunks, each an int32 length and one raw snappy block. Input without that header is one
//! raw block, which Java also accepts.

use super::{compress_failed, failed, too_large};
use crate::error::{DecodeErrorKind, EncodeError};
use crate::records::Compression;

const MAGIC: &[u8; 8] = b"\x82SNAPPY\x00";
const HEADER_LEN: usize = 16;
/// Version fields as Java writes them: version 1, compatible with version 1.
const VERSIONS: [u8; 8] = [0, 0, 0, 1, 0, 0, 0, 1];
/// Uncompressed bytes per chunk, as Java writes them.
const CHUNK: usize = 32 * 1024;

/// Decompresses framed or raw snappy into at most `limit` bytes.
pub(super) fn decompress(input: &[u8], limit: usize) -> Result<Vec<u8>, DecodeErrorKind> {
    let mut out = Vec::new();
    match input.split_at_checked(HEADER_LEN) {
        Some((header, mut rest)) if header.starts_with(MAGIC) => {
            while !rest.is_empty() {
                let Some((len, tail)) = rest.split_first_chunk::<4>() else {
                    return Err(failed(Compression::Snappy, "truncated chunk length"));
                };
                let len = u32::from_be_bytes(*len) as usize;
                let Some((chunk, tail)) = tail.split_at_checked(len) else {
                    return Err(failed(Compression::Snappy, "chunk runs past the input"));
                };
                block(chunk, &mut out, limit)?;
                rest = tail;
            }
        }
        _ => block(input, &mut out, limit)?,
    }
    Ok(out)
}

/// Appends one raw block's output, checking its declared size against the limit first.
fn block(chunk: &[u8], out: &mut Vec<u8>, limit: usize) -> Result<(), DecodeErrorKind> {
    let len = snap::raw::decompress_len(chunk).map_err(|e| failed(Compression::Snappy, e))?;
    if len > limit.saturating_sub(out.len()) {
        return Err(too_large(limit));
    }
    let start = out.len();
    out.resize(start + len, 0);
    let dst = out.get_mut(start..).unwrap_or_default();
    let n = snap::raw::Decoder::new()
        .decompress(chunk, dst)
        .map_err(|e| failed(Compression::Snappy, e))?;
    out.truncate(start + n);
    Ok(())
}

/// Appends `input` in xerial framing, 32 KiB per chunk.
pub(super) fn compress(input: &[u8], out: &mut Vec<u8>) -> Result<(), EncodeError> {
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&VERSIONS);
    let mut enc = snap::raw::Encoder::new();
    for chunk in input.chunks(CHUNK) {
        let len_at = out.len();
        out.extend_from_slice(&[0; 4]);
        let start = out.len();
        out.resize(start + snap::raw::max_compress_len(chunk.len()), 0);
        let dst = out.get_mut(start..).unwrap_or_default();
        let n = enc
            .compress(chunk, dst)
            .map_err(|e| compress_failed(Compression::Snappy, e))?;
        out.truncate(start + n);
        let len = u32::try_from(n).map_err(|e| compress_failed(Compression::Snappy, e))?;
        if let Some(slot) = out.get_mut(len_at..start) {
            slot.copy_from_slice(&len.to_be_bytes());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_java_framing_and_raw_blocks() {
        let text = b"hello hello hello hello snappy";
        let raw = snap::raw::Encoder::new().compress_vec(text).unwrap();
        assert_eq!(decompress(&raw, 100).unwrap(), text);

        let mut framed = MAGIC.to_vec();
        framed.extend_from_slice(&VERSIONS);
        for _ in 0..2 {
            framed.extend_from_slice(&(raw.len() as u32).to_be_bytes());
            framed.extend_from_slice(&raw);
        }
        let both = [&text[..], &text[..]].concat();
        assert_eq!(decompress(&framed, 100).unwrap(), both);
        assert!(decompress(&framed, both.len() - 1).is_err());

        let mut ours = Vec::new();
        compress(&both, &mut ours).unwrap();
        assert!(ours.starts_with(MAGIC));
        assert_eq!(decompress(&ours, 100).unwrap(), both);
    }

    #[test]
    fn lying_chunks_are_errors() {
        let mut framed = MAGIC.to_vec();
        framed.extend_from_slice(&VERSIONS);
        framed.extend_from_slice(&[0, 0, 0, 9, 1]);
        assert!(decompress(&framed, 100).is_err());
        framed.truncate(HEADER_LEN + 2);
        assert!(decompress(&framed, 100).is_err());
        // A block that claims 4 GiB of output is refused before allocating.
        let huge = [0xff, 0xff, 0xff, 0xff, 0x0f, 0x00];
        assert!(matches!(
            decompress(&huge, 1 << 20),
            Err(DecodeErrorKind::Decompression(_))
        ));
    }
}
