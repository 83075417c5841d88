//! Splitting a byte stream into size-prefixed frames, and writing frames.

use bytes::{Buf, BufMut, Bytes, BytesMut};

use crate::error::{DecodeError, DecodeErrorKind};

/// The default largest frame accepted: 100 MiB, Kafka's own `socket.request.max.bytes`.
pub const DEFAULT_MAX_FRAME_SIZE: usize = 100 * 1024 * 1024;

/// Cuts complete frames out of a stream of arbitrary chunks.
///
/// Feed it whatever the socket gave with [`push`](Self::push) (or read straight into
/// [`buffer_mut`](Self::buffer_mut)), then take frames with [`next_frame`](Self::next_frame)
/// until it returns `Ok(None)`. A length prefix that is negative or above the maximum is an
/// error before anything is allocated for it; the connection should then be closed.
#[derive(Debug)]
pub struct FrameSplitter {
    buf: BytesMut,
    max_frame_size: usize,
}

impl Default for FrameSplitter {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_FRAME_SIZE)
    }
}

impl FrameSplitter {
    /// A splitter that refuses frames larger than `max_frame_size` bytes.
    pub fn new(max_frame_size: usize) -> Self {
        FrameSplitter {
            buf: BytesMut::new(),
            max_frame_size,
        }
    }

    /// Appends bytes read from the stream.
    pub fn push(&mut self, chunk: &[u8]) {
        self.buf.extend_from_slice(chunk);
    }

    /// The buffer behind the splitter, to read into without a copy.
    pub fn buffer_mut(&mut self) -> &mut BytesMut {
        &mut self.buf
    }

    /// How many bytes are buffered and not yet returned as frames.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// Bytes still missing for the frame being received (0 if unknown or complete).
    pub fn missing(&self) -> usize {
        match self.peek_len() {
            Some(Ok(n)) => (n + 4).saturating_sub(self.buf.len()),
            _ => 0,
        }
    }

    fn peek_len(&self) -> Option<Result<usize, DecodeError>> {
        let prefix: [u8; 4] = self.buf.get(..4)?.try_into().ok()?;
        let size = i32::from_be_bytes(prefix);
        if size < 0 || size as usize > self.max_frame_size {
            return Some(Err(DecodeError::new(
                "frame length",
                0,
                DecodeErrorKind::FrameTooLarge {
                    size: i64::from(size),
                    max: self.max_frame_size,
                },
            )));
        }
        Some(Ok(size as usize))
    }

    /// The next complete frame (without its length prefix), `Ok(None)` if more bytes are needed.
    pub fn next_frame(&mut self) -> Result<Option<Bytes>, DecodeError> {
        let size = match self.peek_len() {
            None => return Ok(None),
            Some(r) => r?,
        };
        if self.buf.len() < 4 + size {
            // Make room once for the whole frame rather than growing chunk by chunk.
            self.buf.reserve(4 + size - self.buf.len());
            return Ok(None);
        }
        self.buf.advance(4);
        Ok(Some(self.buf.split_to(size).freeze()))
    }
}

/// Starts a frame in `buf`: reserves the length prefix and returns where it is.
pub fn begin_frame(buf: &mut BytesMut) -> usize {
    let at = buf.len();
    buf.put_i32(0);
    at
}

/// Finishes a frame begun at `at` by writing its length.
pub fn end_frame(buf: &mut BytesMut, at: usize) {
    let len = (buf.len() - at - 4) as i32;
    buf[at..at + 4].copy_from_slice(&len.to_be_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn framed(payloads: &[Vec<u8>]) -> Vec<u8> {
        let mut out = BytesMut::new();
        for p in payloads {
            let at = begin_frame(&mut out);
            out.put_slice(p);
            end_frame(&mut out, at);
        }
        out.to_vec()
    }

    proptest! {
        #[test]
        fn any_chunking_yields_the_same_frames(
            payloads in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..300), 0..8),
            cuts in proptest::collection::vec(1usize..64, 0..40),
        ) {
            let stream = framed(&payloads);
            let mut s = FrameSplitter::new(1024);
            let mut out = Vec::new();
            let mut pos = 0;
            for cut in cuts.iter().copied().chain(std::iter::repeat(64)) {
                if pos >= stream.len() { break; }
                let end = (pos + cut).min(stream.len());
                s.push(&stream[pos..end]);
                pos = end;
                while let Some(f) = s.next_frame().unwrap() {
                    out.push(f.to_vec());
                }
            }
            prop_assert_eq!(out, payloads);
            prop_assert_eq!(s.buffered(), 0);
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes: Vec<u8>) {
            let mut s = FrameSplitter::new(4096);
            s.push(&bytes);
            while let Ok(Some(_)) = s.next_frame() {}
        }
    }

    #[test]
    fn oversized_and_negative_lengths_are_errors() {
        let mut s = FrameSplitter::new(10);
        s.push(&11i32.to_be_bytes());
        let e = s.next_frame().unwrap_err();
        assert!(matches!(
            e.kind,
            DecodeErrorKind::FrameTooLarge { size: 11, max: 10 }
        ));
        let mut s = FrameSplitter::new(10);
        s.push(&(-5i32).to_be_bytes());
        assert!(s.next_frame().is_err());
        // A huge announced frame allocates nothing.
        let mut s = FrameSplitter::new(DEFAULT_MAX_FRAME_SIZE);
        s.push(&i32::MAX.to_be_bytes());
        assert!(s.next_frame().is_err());
        assert!(s.buffer_mut().capacity() < 1024);
    }
}
