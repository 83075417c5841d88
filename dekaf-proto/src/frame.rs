//! Splitting a byte stream into size-prefixed frames, and writing frames.

use std::collections::VecDeque;

use bytes::{Buf, BufMut, Bytes, BytesMut};

use crate::error::{DecodeError, DecodeErrorKind};

/// The default largest frame accepted: 100 MiB, Kafka's own `socket.request.max.bytes`.
pub const DEFAULT_MAX_FRAME_SIZE: usize = 100 * 1024 * 1024;

/// Cuts complete frames out of a stream of arbitrary chunks.
///
/// Feed it whatever the socket gave with [`push`](Self::push), or read straight into it with
/// [`read_buf`](Self::read_buf) and [`commit_read`](Self::commit_read), then take frames with
/// [`next_frame`](Self::next_frame) until it returns `Ok(None)`. A length prefix that is
/// negative or above the maximum is an error before anything is allocated for it; the
/// connection should then be closed.
///
/// Reading straight into it copies nothing and zeroes each byte of memory at most once: once a
/// frame's length is known, the rest of it is read into one buffer of the frame's size, which
/// the frame (and every slice of it) then shares. The buffer of a large frame is taken back
/// for a later one once nothing holds the frame any more, so that a steady stream of large
/// answers is read into memory that needs no zeroing (a few such buffers are kept, at most
/// 8 MiB in all).
#[derive(Debug)]
pub struct FrameSplitter {
    /// The bytes received, followed by `spare` initialized bytes not yet read into.
    buf: BytesMut,
    spare: usize,
    max_frame_size: usize,
    /// Large frames handed out (with their length prefixes), oldest first: their buffers,
    /// once no one else holds them.
    used: VecDeque<Bytes>,
}

/// Frames from this size on have their buffers taken back (smaller ones share a chunk).
const REUSED_FROM: usize = 64 * 1024;

/// At most this many bytes of earlier frames are kept for reuse.
const KEPT_BYTES: usize = 8 * 1024 * 1024;

/// At most this many earlier frames are kept for reuse.
const KEPT_FRAMES: usize = 4;

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
            spare: 0,
            max_frame_size,
            used: VecDeque::new(),
        }
    }

    /// Appends bytes read from the stream.
    pub fn push(&mut self, chunk: &[u8]) {
        self.drop_spare();
        self.buf.extend_from_slice(chunk);
    }

    /// The buffer behind the splitter, to read into without a copy: whatever it holds when
    /// the caller is done counts as received.
    pub fn buffer_mut(&mut self) -> &mut BytesMut {
        self.drop_spare();
        &mut self.buf
    }

    /// Room to read into, at least one byte: the rest of the frame being received (its length
    /// known), else at least `chunk` bytes. Tell how many bytes were read with
    /// [`commit_read`](Self::commit_read); what is not committed is not received.
    pub fn read_buf(&mut self, chunk: usize) -> &mut [u8] {
        let received = self.buffered();
        let want = match self.peek_len() {
            Some(Ok(size)) => (4 + size).saturating_sub(received),
            _ => 0,
        };
        // Room for the whole frame, or for a chunk; not a sliver when more is coming.
        let enough = if want > 0 { want } else { chunk.max(1) };
        if self.spare < enough.min(chunk.max(1)) {
            let need = received + enough;
            let mut fresh = self.reuse(need).unwrap_or_else(|| BytesMut::zeroed(need));
            fresh[..received].copy_from_slice(&self.buf[..received]);
            self.spare = fresh.len() - received;
            self.buf = fresh;
        }
        let end = received + self.spare;
        &mut self.buf[received..end]
    }

    /// The buffer of an earlier frame that nothing holds any more, of at least `need` bytes
    /// and not much more (a frame keeps its whole buffer alive).
    fn reuse(&mut self, need: usize) -> Option<BytesMut> {
        if need < REUSED_FROM {
            return None;
        }
        let fits = |b: &Bytes| b.len() >= need && b.len() <= need.saturating_mul(2);
        let at = self.used.iter().position(fits)?;
        let frame = self.used.remove(at)?;
        match frame.try_into_mut() {
            Ok(buf) => Some(buf),
            Err(held) => {
                // Still read: try it again later.
                self.used.push_back(held);
                None
            }
        }
    }

    /// Keeps the buffer of a frame (`whole`: with its length prefix) to read a later frame
    /// into once the frame is dropped.
    fn keep(&mut self, whole: Bytes) {
        if whole.len() > KEPT_BYTES {
            return;
        }
        self.used.push_back(whole);
        let mut kept: usize = self.used.iter().map(Bytes::len).sum();
        while self.used.len() > KEPT_FRAMES || kept > KEPT_BYTES {
            match self.used.pop_front() {
                Some(old) => kept -= old.len(),
                None => break,
            }
        }
    }

    /// `n` bytes were read into the start of what [`read_buf`](Self::read_buf) gave.
    pub fn commit_read(&mut self, n: usize) {
        self.spare -= n.min(self.spare);
    }

    /// How many bytes are buffered and not yet returned as frames.
    pub fn buffered(&self) -> usize {
        self.buf.len() - self.spare
    }

    /// Bytes still missing for the frame being received (0 if unknown or complete).
    pub fn missing(&self) -> usize {
        match self.peek_len() {
            Some(Ok(n)) => (n + 4).saturating_sub(self.buffered()),
            _ => 0,
        }
    }

    /// Forgets the room read into and not filled.
    fn drop_spare(&mut self) {
        if self.spare > 0 {
            let len = self.buffered();
            self.buf.truncate(len);
            self.spare = 0;
        }
    }

    fn peek_len(&self) -> Option<Result<usize, DecodeError>> {
        if self.buffered() < 4 {
            return None;
        }
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
        let received = self.buffered();
        if received < 4 + size {
            if self.spare == 0 {
                // Make room once for the whole frame rather than growing chunk by chunk
                // (`read_buf` does that for those who read through it).
                self.buf.reserve(4 + size - received);
            }
            return Ok(None);
        }
        if size < REUSED_FROM {
            self.buf.advance(4);
            return Ok(Some(self.buf.split_to(size).freeze()));
        }
        let whole = self.buf.split_to(4 + size).freeze();
        if self.buf.is_empty() {
            // Nothing of the frame's buffer is left to read into: let go of it, so that the
            // frame alone holds it and the buffer can be taken back.
            self.buf = BytesMut::new();
            self.spare = 0;
        }
        let frame = whole.slice(4..);
        self.keep(whole);
        Ok(Some(frame))
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
        fn reading_in_yields_the_same_frames(
            payloads in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..300), 0..8),
            cuts in proptest::collection::vec(1usize..64, 0..40),
            chunk in 1usize..128,
        ) {
            let stream = framed(&payloads);
            let mut s = FrameSplitter::new(1024);
            let mut out = Vec::new();
            let mut pos = 0;
            for cut in cuts.iter().copied().chain(std::iter::repeat(64)) {
                if pos >= stream.len() { break; }
                let room = s.read_buf(chunk);
                prop_assert!(!room.is_empty());
                let n = cut.min(room.len()).min(stream.len() - pos);
                room[..n].copy_from_slice(&stream[pos..pos + n]);
                s.commit_read(n);
                pos += n;
                while let Some(f) = s.next_frame().unwrap() {
                    out.push(f.to_vec());
                }
                // Mixing in pushes keeps the order.
                if cut % 7 == 0 && pos < stream.len() {
                    s.push(&stream[pos..pos + 1]);
                    pos += 1;
                }
            }
            while let Some(f) = s.next_frame().unwrap() {
                out.push(f.to_vec());
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

    /// Reads `stream` through `read_buf` in chunks of `chunk`, handing each frame to `seen`.
    fn read_through(
        s: &mut FrameSplitter,
        stream: &[u8],
        chunk: usize,
        mut seen: impl FnMut(Bytes),
    ) {
        let mut pos = 0;
        while pos < stream.len() {
            let room = s.read_buf(chunk);
            let n = room.len().min(stream.len() - pos);
            room[..n].copy_from_slice(&stream[pos..pos + n]);
            s.commit_read(n);
            pos += n;
            while let Some(f) = s.next_frame().unwrap() {
                seen(f);
            }
        }
    }

    #[test]
    fn a_large_frame_dropped_lends_its_buffer_to_the_next_and_the_bytes_stay_right() {
        let payloads: Vec<Vec<u8>> = (0..4u8).map(|i| vec![i + 1; 200_000]).collect();
        let stream = framed(&payloads);
        let mut s = FrameSplitter::new(DEFAULT_MAX_FRAME_SIZE);
        let mut starts = Vec::new();
        let mut out = Vec::new();
        read_through(&mut s, &stream, 64 * 1024, |f| {
            starts.push(f.as_ptr() as usize);
            out.push(f.to_vec());
            // Dropped here: its buffer is free for the next frame.
        });
        assert_eq!(out, payloads);
        // Each frame after the first was read into the buffer of an earlier one.
        assert!(starts[1..].iter().all(|p| *p == starts[0]), "{starts:?}");
    }

    #[test]
    fn a_large_frame_still_held_is_never_read_into() {
        let payloads: Vec<Vec<u8>> = (0..4u8).map(|i| vec![i + 1; 100_000]).collect();
        let stream = framed(&payloads);
        let mut s = FrameSplitter::new(DEFAULT_MAX_FRAME_SIZE);
        let mut held = Vec::new();
        read_through(&mut s, &stream, 64 * 1024, |f| held.push(f));
        let held: Vec<Vec<u8>> = held.iter().map(|f| f.to_vec()).collect();
        assert_eq!(held, payloads);
        assert!(s.used.iter().map(Bytes::len).sum::<usize>() <= KEPT_BYTES);
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
        // Nor when read into.
        let mut s = FrameSplitter::new(1000);
        let room = s.read_buf(16);
        assert_eq!(room.len(), 16);
        room[..4].copy_from_slice(&i32::MAX.to_be_bytes());
        s.commit_read(4);
        assert!(s.read_buf(16).len() <= 16);
        assert!(s.next_frame().is_err());
        assert!(s.buffer_mut().capacity() < 1024);
    }

    #[test]
    fn reading_in_takes_the_rest_of_a_known_frame_in_one_buffer() {
        let stream = framed(&[vec![7; 10_000], vec![1, 2, 3]]);
        let mut s = FrameSplitter::default();
        let mut pos = 0;
        let mut frames = Vec::new();
        let mut sizes = Vec::new();
        while pos < stream.len() {
            let room = s.read_buf(64);
            sizes.push(room.len());
            // A socket gives at most 100 bytes at a time here.
            let n = room.len().min(100).min(stream.len() - pos);
            room[..n].copy_from_slice(&stream[pos..pos + n]);
            s.commit_read(n);
            pos += n;
            while let Some(f) = s.next_frame().unwrap() {
                frames.push(f);
            }
        }
        assert_eq!(frames.len(), 2);
        assert_eq!(frames[0].len(), 10_000);
        assert!(frames[0].iter().all(|b| *b == 7));
        assert_eq!(frames[1][..], [1, 2, 3]);
        // 64 bytes, then the 9,940 still missing of the first frame, and less and less of it.
        assert_eq!(sizes[..3], [64, 9_940, 9_840]);
        assert_eq!(s.buffered(), 0);
    }
}
