//! Compressing and decompressing a batch's record bytes, each codec behind its cargo feature.
//!
//! Decompression never produces more than the caller's limit: codecs are read as streams
//! into a buffer that grows only up to `limit + 1` bytes, or their declared sizes are checked
//! before anything is allocated.

use bytes::Bytes;

use super::attributes::Compression;
use crate::error::{DecodeErrorKind, EncodeError};

#[cfg(feature = "gzip")]
mod gzip;
#[cfg(feature = "lz4")]
mod lz4;
#[cfg(feature = "snappy")]
mod snappy;
#[cfg(feature = "zstd")]
mod zstd;

/// Decompresses `input` with `codec` into at most `limit` bytes.
#[cfg_attr(
    not(any(
        feature = "gzip",
        feature = "snappy",
        feature = "lz4",
        feature = "zstd"
    )),
    allow(unused_variables)
)]
pub(crate) fn decompress(
    codec: Compression,
    input: &Bytes,
    limit: usize,
) -> Result<Bytes, DecodeErrorKind> {
    let out: Result<Vec<u8>, DecodeErrorKind> = match codec {
        Compression::None => return Ok(input.clone()),
        #[cfg(feature = "gzip")]
        Compression::Gzip => gzip::decompress(input, limit),
        #[cfg(feature = "snappy")]
        Compression::Snappy => snappy::decompress(input, limit),
        #[cfg(feature = "lz4")]
        Compression::Lz4 => lz4::decompress(input, limit),
        #[cfg(feature = "zstd")]
        Compression::Zstd => zstd::decompress(input, limit),
        #[allow(unreachable_patterns)]
        other => Err(DecodeErrorKind::UnsupportedCompression(other.id())),
    };
    out.map(Bytes::from)
}

/// Appends `input` compressed with `codec` to `out`.
pub(crate) fn compress(
    codec: Compression,
    input: &[u8],
    out: &mut Vec<u8>,
) -> Result<(), EncodeError> {
    match codec {
        Compression::None => {
            out.extend_from_slice(input);
            Ok(())
        }
        #[cfg(feature = "gzip")]
        Compression::Gzip => gzip::compress(input, out),
        #[cfg(feature = "snappy")]
        Compression::Snappy => snappy::compress(input, out),
        #[cfg(feature = "lz4")]
        Compression::Lz4 => lz4::compress(input, out),
        #[cfg(feature = "zstd")]
        Compression::Zstd => zstd::compress(input, out),
        #[allow(unreachable_patterns)]
        other => Err(EncodeError::CompressionDisabled(other.name())),
    }
}

/// The error for output that would pass the limit.
#[allow(dead_code)]
pub(super) fn too_large(limit: usize) -> DecodeErrorKind {
    DecodeErrorKind::Decompression(format!("output exceeds the limit of {limit} bytes"))
}

/// The error for a codec that rejected its input.
#[allow(dead_code)]
pub(super) fn failed(codec: Compression, e: impl std::fmt::Display) -> DecodeErrorKind {
    DecodeErrorKind::Decompression(format!("{codec}: {e}"))
}

/// The error for a codec that failed to compress.
#[allow(dead_code)]
pub(super) fn compress_failed(codec: Compression, e: impl std::fmt::Display) -> EncodeError {
    EncodeError::Compression(format!("{codec}: {e}"))
}

/// A first buffer size for decompressing `input_len` bytes: a guess at the ratio, within the
/// limit.
#[allow(dead_code)]
pub(super) fn first_capacity(input_len: usize, limit: usize) -> usize {
    input_len
        .saturating_mul(4)
        .max(4096)
        .min(limit.saturating_add(1))
}

/// Reads `r` to its end into a buffer of at most `limit` bytes; more is an error.
///
/// The buffer starts at `capacity` bytes (at most `limit + 1`) and doubles as needed, never
/// past `limit + 1`: reading that last byte proves the output is too large.
#[allow(dead_code)]
pub(super) fn read_bounded(
    codec: Compression,
    mut r: impl std::io::Read,
    limit: usize,
    capacity: usize,
) -> Result<Vec<u8>, DecodeErrorKind> {
    let cap = limit.saturating_add(1);
    let mut buf = vec![0u8; capacity.clamp(1, cap)];
    let mut filled = 0;
    loop {
        if filled == buf.len() {
            if buf.len() >= cap {
                return Err(too_large(limit));
            }
            let grown = buf.len().saturating_mul(2).min(cap);
            buf.resize(grown, 0);
        }
        let Some(spare) = buf.get_mut(filled..) else {
            return Err(failed(codec, "reader overran its buffer"));
        };
        match r.read(spare) {
            Ok(0) => break,
            Ok(n) => filled += n.min(spare.len()),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(failed(codec, e)),
        }
    }
    buf.truncate(filled);
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_bounded_stops_one_byte_past_the_limit() {
        let data = vec![7u8; 100];
        let out = read_bounded(Compression::None, &data[..], 100, 1).unwrap();
        assert_eq!(out, data);
        let e = read_bounded(Compression::None, &data[..], 99, 1).unwrap_err();
        assert!(matches!(e, DecodeErrorKind::Decompression(_)));
        assert!(read_bounded(Compression::None, &[][..], 0, 0)
            .unwrap()
            .is_empty());
        assert!(read_bounded(Compression::None, &[1][..], 0, 0).is_err());
    }

    #[test]
    fn every_enabled_codec_round_trips() {
        let input: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        for codec in Compression::ALL {
            let mut out = Vec::new();
            match compress(codec, &input, &mut out) {
                Ok(()) => {
                    let back = decompress(codec, &Bytes::from(out), input.len()).unwrap();
                    assert_eq!(back, input, "{codec}");
                    let mut again = Vec::new();
                    compress(codec, &input, &mut again).unwrap();
                    if codec != Compression::None {
                        let e = decompress(codec, &Bytes::from(again), input.len() - 1);
                        assert!(
                            matches!(e, Err(DecodeErrorKind::Decompression(_))),
                            "{codec}"
                        );
                    }
                }
                Err(e) => {
                    assert!(!codec.is_enabled());
                    assert_eq!(e, EncodeError::CompressionDisabled(codec.name()));
                    let e = decompress(codec, &Bytes::new(), 10).unwrap_err();
                    assert_eq!(e, DecodeErrorKind::UnsupportedCompression(codec.id()));
                }
            }
        }
    }
}
