//! The body of the record-batch fuzz target, kept here so its corpus replays as a test.

use bytes::Bytes;

use super::{ControlRecord, DecodeOptions, RecordBatches};

/// Decodes `data` as a `records` blob and reads everything in it; must never panic.
#[doc(hidden)]
pub fn fuzz_record_batches(data: &[u8]) {
    let options = DecodeOptions::default().with_max_decompressed_size(1 << 20);
    let mut batches = RecordBatches::with_options(Bytes::copy_from_slice(data), options);
    for batch in batches.by_ref() {
        let Ok(batch) = batch else { break };
        let _ = batch.control_record();
        for record in batch.records() {
            let Ok(record) = record else { break };
            if batch.is_control() {
                let _ = ControlRecord::from_record(&record);
            }
            for header in record.headers() {
                let _ = (header.key_str(), header.value_bytes());
            }
            let owned = record.into_owned();
            assert_eq!(owned.headers.len(), record.header_count());
        }
    }
    assert!(batches.position() <= data.len());
}
