//! Walking the `records` bytes of a fetch response, batch by batch.

use bytes::Bytes;

use super::batch::{Frame, RecordBatch};
use super::options::DecodeOptions;
use crate::error::DecodeError;
use crate::wire::Reader;

/// The record batches of a `records` blob (a fetch response partition's records field), in
/// order.
///
/// A broker may cut the blob at its size limit, so the last batch can be incomplete: the
/// iteration then ends without an error, and [`RecordBatches::position`] tells how far it got.
/// A malformed batch is an error, after which the iteration ends.
///
/// ```
/// use bytes::Bytes;
/// use dekaf_proto::records::{RecordBatchBuilder, RecordBatches};
///
/// let mut builder = RecordBatchBuilder::new().base_offset(42);
/// builder.append(1_700_000_000_000, None, Some(Bytes::from_static(b"hello")), vec![]);
/// let blob = builder.build().unwrap();
/// for batch in RecordBatches::new(blob) {
///     let batch = batch.unwrap();
///     for record in batch.records() {
///         let record = record.unwrap();
///         assert_eq!((record.offset(), record.value()), (42, Some(&b"hello"[..])));
///     }
/// }
/// ```
#[derive(Debug, Clone)]
pub struct RecordBatches {
    src: Bytes,
    pos: usize,
    options: DecodeOptions,
    done: bool,
}

impl RecordBatches {
    /// The batches of `records`, decoded with default options.
    pub fn new(records: Bytes) -> Self {
        Self::with_options(records, DecodeOptions::default())
    }

    /// The batches of `records`, decoded with `options`.
    pub fn with_options(records: Bytes, options: DecodeOptions) -> Self {
        RecordBatches {
            src: records,
            pos: 0,
            options,
            done: false,
        }
    }

    /// Bytes of the blob taken by the batches returned so far. Once the iteration has ended
    /// without an error, anything past this is a partial batch.
    pub fn position(&self) -> usize {
        self.pos
    }

    fn step(&mut self) -> Result<Option<RecordBatch>, DecodeError> {
        let mut r = Reader::new(&self.src);
        r.slice(self.pos, "RecordBatches")?;
        match RecordBatch::frame(&r)? {
            Frame::Partial => Ok(None),
            Frame::Complete(len) => {
                let batch = RecordBatch::read(&mut r, len, &self.options)?;
                self.pos = r.offset();
                Ok(Some(batch))
            }
        }
    }
}

impl Iterator for RecordBatches {
    type Item = Result<RecordBatch, DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let step = self.step();
        if !matches!(step, Ok(Some(_))) {
            self.done = true;
        }
        step.transpose()
    }
}

impl std::iter::FusedIterator for RecordBatches {}
