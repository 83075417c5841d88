//! Record batches (magic 2): the `records` bytes of fetch responses and produce requests.
//!
//! Reading: [`RecordBatches`] walks a `records` blob and yields one [`RecordBatch`] per batch,
//! ending quietly at a trailing partial batch. Each batch is decoded up front (header, CRC-32C,
//! decompression under the [`DecodeOptions`] size bound); its records are read lazily by
//! [`RecordBatch::records`] as borrowed [`Record`] views, which cost no allocation and no
//! reference count. Keys, values and header values are slices of the fetched buffer (or of the
//! one decompressed buffer) and become [`bytes::Bytes`] without a copy on request.
//!
//! Writing: [`RecordBatchBuilder`] lays out a batch, compresses it and computes its CRC.
//!
//! Control batches carry [`ControlRecord`]s, the commit and abort markers of transactions.
//!
//! Codecs sit behind cargo features (`gzip`, `snappy`, `lz4`, `zstd`, all on by default); a
//! batch in a codec that is compiled out decodes to
//! [`DecodeErrorKind::UnsupportedCompression`](crate::DecodeErrorKind::UnsupportedCompression)
//! and builds to [`EncodeError::CompressionDisabled`](crate::EncodeError::CompressionDisabled).

mod attributes;
mod batch;
mod batches;
mod builder;
mod compression;
mod control;
mod cursor;
mod fuzz;
mod header;
mod options;
mod owned;
mod parse;
mod record;
#[cfg(test)]
mod tests;
mod writer;

pub use attributes::{BatchAttributes, Compression, TimestampType};
pub use batch::RecordBatch;
pub use batches::RecordBatches;
pub use builder::RecordBatchBuilder;
pub use control::{ControlKind, ControlRecord};
pub use fuzz::fuzz_record_batches;
pub use header::{BatchHeader, BATCH_HEADER_LEN, MAGIC};
pub use options::DecodeOptions;
pub use owned::{OwnedHeader, OwnedRecord};
pub use record::{Header, Headers, Record, RecordCursor, Records};
pub use writer::{BatchSeal, RecordBatchWriter};
