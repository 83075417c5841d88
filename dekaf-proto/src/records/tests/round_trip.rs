//! What the builder writes, the decoder reads back, field for field.

use bytes::{Bytes, BytesMut};
use proptest::prelude::*;

use super::*;

/// Checks that `batch` holds what `spec` describes.
fn check(spec: &Spec, batch: &RecordBatch) -> Result<(), TestCaseError> {
    let h = batch.header();
    let records = &spec.records;
    let max_delta = records.iter().map(|r| r.timestamp_delta).max();
    let max_timestamp = spec.max_timestamp.unwrap_or(match max_delta {
        Some(d) => records
            .iter()
            .map(|r| spec.base_timestamp.wrapping_add(r.timestamp_delta))
            .max()
            .unwrap_or(spec.base_timestamp.wrapping_add(d)),
        None => spec.base_timestamp,
    });
    let last_offset_delta = spec
        .last_offset_delta
        .unwrap_or(records.iter().map(|r| r.offset_delta).max().unwrap_or(0));
    prop_assert_eq!(h.base_offset, spec.base_offset);
    prop_assert_eq!(h.partition_leader_epoch, spec.epoch);
    prop_assert_eq!(h.magic, 2);
    prop_assert_eq!(batch.compression(), spec.codec);
    prop_assert_eq!(batch.timestamp_type(), spec.timestamp_type);
    prop_assert_eq!(batch.is_transactional(), spec.transactional);
    prop_assert_eq!(batch.is_control(), spec.control);
    prop_assert_eq!(h.attributes.has_delete_horizon(), spec.delete_horizon);
    prop_assert_eq!(
        (h.producer_id, h.producer_epoch, h.base_sequence),
        spec.producer
    );
    prop_assert_eq!(h.base_timestamp, spec.base_timestamp);
    prop_assert_eq!(h.max_timestamp, max_timestamp);
    prop_assert_eq!(h.last_offset_delta, last_offset_delta);
    prop_assert_eq!(batch.records_count(), records.len());
    let mut n = 0;
    for (got, want) in batch.records().zip(records) {
        let got = got.map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(
            got.offset(),
            spec.base_offset.wrapping_add(i64::from(want.offset_delta))
        );
        let timestamp = match spec.timestamp_type {
            TimestampType::CreateTime => spec.base_timestamp.wrapping_add(want.timestamp_delta),
            TimestampType::LogAppendTime => max_timestamp,
        };
        prop_assert_eq!(got.timestamp(), timestamp);
        prop_assert_eq!(got.key(), want.key.as_deref());
        prop_assert_eq!(got.value(), want.value.as_deref());
        prop_assert_eq!(got.header_count(), want.headers.len());
        prop_assert_eq!(&got.into_owned(), want);
        n += 1;
    }
    prop_assert_eq!(n, records.len());
    prop_assert!(batch.records().all(|r| r.is_ok()));
    // Resuming from a cursor after every record reads the same records.
    let mut cursor = batch.records().cursor();
    let mut resumed = Vec::new();
    loop {
        let mut it = batch.records_at(cursor);
        let Some(record) = it.next() else { break };
        let record = record.map_err(|e| TestCaseError::fail(e.to_string()))?;
        resumed.push(record.into_owned());
        cursor = it.cursor();
    }
    prop_assert_eq!(&resumed, records);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn builder_output_decodes_to_the_same_batch(spec in spec()) {
        let bytes = spec.builder().build().unwrap();
        let batch = RecordBatch::decode(&bytes).map_err(|e| TestCaseError::fail(e.to_string()))?;
        check(&spec, &batch)?;
        prop_assert_eq!(batch.header().batch_length as usize, bytes.len() - 12);
    }

    #[test]
    fn a_blob_yields_its_batches_and_skips_a_partial_tail(
        specs in proptest::collection::vec(spec(), 1..4),
        cut in any::<proptest::sample::Index>(),
    ) {
        let mut blob = BytesMut::new();
        let mut ends = Vec::new();
        for s in &specs {
            s.builder().encode(&mut blob).unwrap();
            ends.push(blob.len());
        }
        // Cut the last batch anywhere short of its end: the others still come out whole.
        let last_start = ends.len().checked_sub(2).map_or(0, |i| ends[i]);
        let cut_at = last_start + cut.index(blob.len() - last_start);
        let blob = blob.freeze();
        for (len, whole) in [(blob.len(), specs.len()), (cut_at, specs.len() - 1)] {
            let mut batches = RecordBatches::new(blob.slice(..len));
            let mut n = 0;
            for (batch, spec) in batches.by_ref().zip(&specs) {
                let batch = batch.map_err(|e| TestCaseError::fail(e.to_string()))?;
                check(spec, &batch)?;
                n += 1;
            }
            prop_assert_eq!(n, whole);
            prop_assert!(batches.next().is_none());
            prop_assert_eq!(batches.position(), if whole == 0 { 0 } else { ends[whole - 1] });
        }
    }

    #[test]
    fn transaction_markers_round_trip(
        commit: bool,
        coordinator_epoch: i32,
        producer_id: i64,
        producer_epoch: i16,
        timestamp: i64,
        codec in proptest::sample::select(enabled_codecs()),
    ) {
        let kind = if commit { ControlKind::Commit } else { ControlKind::Abort };
        let marker = ControlRecord { kind, coordinator_epoch };
        let bytes = RecordBatchBuilder::transaction_marker(marker, timestamp)
            .producer(producer_id, producer_epoch, -1)
            .compression(codec)
            .build()
            .unwrap();
        let batch = RecordBatch::decode(&bytes).unwrap();
        prop_assert!(batch.is_control() && batch.is_transactional());
        prop_assert_eq!((batch.producer_id(), batch.producer_epoch()), (producer_id, producer_epoch));
        prop_assert_eq!(batch.control_record().unwrap(), Some(marker));
        let record = batch.records().next().unwrap().unwrap();
        prop_assert_eq!(record.timestamp(), timestamp);
        prop_assert_eq!(ControlRecord::from_record(&record).unwrap(), Some(marker));
    }
}

#[test]
fn uncompressed_values_are_slices_of_the_input() {
    let bytes = simple_batch(3, Compression::None);
    let range = bytes.as_ptr_range();
    let batch = RecordBatches::new(bytes.clone()).next().unwrap().unwrap();
    for r in batch.records() {
        let r = r.unwrap();
        for b in [r.key_bytes().unwrap(), r.value_bytes().unwrap()] {
            assert!(range.contains(&b.as_ptr()));
        }
        let h = r.headers().next().unwrap();
        assert_eq!(h.key_str(), Some("h"));
        assert!(range.contains(&h.value_bytes().unwrap().as_ptr()));
    }
}

#[test]
fn compressed_values_share_one_decompressed_buffer() {
    for codec in enabled_codecs() {
        let bytes = simple_batch(3, codec);
        let batch = RecordBatch::decode(&bytes).unwrap();
        let range = batch.record_bytes().as_ptr_range();
        for r in batch.records() {
            let v = r.unwrap().value_bytes().unwrap();
            assert!(range.contains(&v.as_ptr()), "{codec}");
        }
    }
}

#[test]
fn append_counts_offsets_and_timestamps_from_the_first_record() {
    let mut b = RecordBatchBuilder::new().base_offset(7);
    b.append(5_000_000_000_000, None, None, vec![]);
    b.append(1_000, None, Some(Bytes::from_static(b"x")), vec![]);
    let batch = RecordBatch::decode(&b.build().unwrap()).unwrap();
    assert_eq!(batch.header().base_timestamp, 5_000_000_000_000);
    assert_eq!(batch.header().max_timestamp, 5_000_000_000_000);
    assert_eq!((batch.base_offset(), batch.last_offset()), (7, 8));
    let got: Vec<_> = batch
        .records()
        .map(|r| r.map(|r| (r.offset(), r.timestamp())).unwrap())
        .collect();
    assert_eq!(got, [(7, 5_000_000_000_000), (8, 1_000)]);
}

#[test]
fn an_empty_batch_keeps_its_offsets() {
    let bytes = RecordBatchBuilder::new()
        .base_offset(10)
        .last_offset_delta(4)
        .compression(*enabled_codecs().last().unwrap())
        .build()
        .unwrap();
    let batch = RecordBatch::decode(&bytes).unwrap();
    assert_eq!((batch.records_count(), batch.next_offset()), (0, 15));
    assert_eq!(batch.header().base_timestamp, -1);
    assert!(batch.records().next().is_none());
}

#[test]
fn empty_blob_has_no_batches() {
    assert!(RecordBatches::new(Bytes::new()).next().is_none());
}
