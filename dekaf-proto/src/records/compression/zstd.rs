//! zstd, through the zstd crate (bindings to the reference library).

use std::cell::RefCell;

use zstd::zstd_safe::{self, CCtx, CParameter, DCtx};

use super::{compress_failed, failed, first_capacity, read_bounded, too_large};
use crate::error::{DecodeErrorKind, EncodeError};
use crate::records::Compression;

/// The level Java's client uses by default.
const LEVEL: i32 = 3;

thread_local! {
    /// A decompression context kept per thread: creating one costs more than a small batch.
    static DCTX: RefCell<Option<DCtx<'static>>> = const { RefCell::new(None) };
    /// A compression context at [`LEVEL`] and its output buffer, kept per thread: a new
    /// context allocates and clears its match tables for every batch.
    static CCTX: RefCell<Option<(CCtx<'static>, Vec<u8>)>> = const { RefCell::new(None) };
}

/// Decompresses `input` (one or more zstd frames) into at most `limit` bytes.
pub(super) fn decompress(input: &[u8], limit: usize) -> Result<Vec<u8>, DecodeErrorKind> {
    // A frame that declares its size decompresses in one call into a buffer of that size.
    // Anything else, including a second frame that does not fit, goes through the stream
    // decoder, which also gives the precise error.
    if let Ok(Some(declared)) = zstd_safe::get_frame_content_size(input) {
        if declared > limit as u64 {
            return Err(too_large(limit));
        }
        if let Some(out) = decompress_declared(input, declared as usize) {
            return Ok(out);
        }
    }
    decompress_stream(input, limit)
}

/// One-shot decompression into a buffer of the declared size; `None` if the output does not
/// fit or anything else fails.
fn decompress_declared(input: &[u8], declared: usize) -> Option<Vec<u8>> {
    DCTX.with(|cell| {
        let mut slot = cell.try_borrow_mut().ok()?;
        if slot.is_none() {
            *slot = DCtx::try_create();
        }
        let ctx = slot.as_mut()?;
        let mut out = Vec::with_capacity(declared);
        ctx.decompress(&mut out, input).ok().map(|_| out)
    })
}

/// Streaming decompression for frames without a declared size (as Java's client writes them).
fn decompress_stream(input: &[u8], limit: usize) -> Result<Vec<u8>, DecodeErrorKind> {
    let mut dec = zstd::stream::read::Decoder::with_buffer(input)
        .map_err(|e| failed(Compression::Zstd, e))?;
    // The window is memory the decoder allocates up front: keep it near the output bound.
    let limit_bits = usize::BITS - limit.leading_zeros();
    dec.window_log_max(limit_bits.clamp(24, 27))
        .map_err(|e| failed(Compression::Zstd, e))?;
    read_bounded(
        Compression::Zstd,
        dec,
        limit,
        first_capacity(input.len(), limit),
    )
}

/// Appends `input` as one zstd frame (with its content size) at Java's default level.
pub(super) fn compress(input: &[u8], out: &mut Vec<u8>) -> Result<(), EncodeError> {
    let reused = CCTX.with(|cell| {
        let mut slot = cell.try_borrow_mut().ok()?;
        if slot.is_none() {
            let mut ctx = CCtx::try_create()?;
            ctx.set_parameter(CParameter::CompressionLevel(LEVEL))
                .ok()?;
            *slot = Some((ctx, Vec::new()));
        }
        let (ctx, frame) = slot.as_mut()?;
        frame.clear();
        frame.reserve(zstd_safe::compress_bound(input.len()));
        let written = ctx.compress2(frame, input);
        if written.is_err() {
            // The next batch starts from a fresh context.
            *slot = None;
            return Some(written.map(drop).map_err(|code| {
                compress_failed(Compression::Zstd, zstd_safe::get_error_name(code))
            }));
        }
        out.extend_from_slice(frame);
        // A rare huge batch does not keep its buffer for the thread's lifetime.
        if frame.capacity() > KEPT_OUTPUT {
            *frame = Vec::new();
        }
        Some(Ok(()))
    });
    match reused {
        Some(result) => result,
        // No context could be made or the thread's is busy: a one-off one.
        None => {
            let frame = zstd::bulk::compress(input, LEVEL)
                .map_err(|e| compress_failed(Compression::Zstd, e))?;
            out.extend_from_slice(&frame);
            Ok(())
        }
    }
}

/// The largest output buffer a thread keeps between batches.
const KEPT_OUTPUT: usize = 4 << 20;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streamed_frames_without_a_size_are_read_and_bounded() {
        let input: Vec<u8> = (0..50_000u32).map(|i| (i % 13) as u8).collect();
        let framed = zstd::stream::encode_all(&input[..], LEVEL).unwrap();
        assert!(matches!(
            zstd_safe::get_frame_content_size(&framed),
            Ok(None)
        ));
        assert_eq!(decompress(&framed, input.len()).unwrap(), input);
        assert!(decompress(&framed, input.len() - 1).is_err());
    }

    #[test]
    fn a_frame_that_lies_about_its_size_is_an_error() {
        let input = vec![1u8; 10_000];
        let mut frame = Vec::new();
        compress(&input, &mut frame).unwrap();
        let declared = zstd_safe::get_frame_content_size(&frame).unwrap().unwrap();
        assert_eq!(declared, 10_000);
        // Two frames: the first one's size is not the whole output; the stream path reads on.
        let two = [&frame[..], &frame[..]].concat();
        assert_eq!(decompress(&two, 20_000).unwrap().len(), 20_000);
        assert!(decompress(&two, 19_999).is_err());
    }
}
