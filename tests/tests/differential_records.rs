//! Differential tests for record batches: dekaf-proto and the `kafka-protocol` crate must read
//! each other's batches, in every codec, to the same records.
//!
//! kafka-protocol 0.18 reads and writes timestampDelta as a varlong, as the spec says (older
//! releases used a 32-bit varint), so deltas past the int32 range are covered both ways.
//! Where the two crates model records differently, the inputs are narrowed:
//! - kafka-protocol keeps headers in a map, so repeated header keys would collapse: the keys
//!   here are distinct UTF-8 strings (it also rejects keys that are not UTF-8).
//! - kafka-protocol gives every record `base_timestamp + delta` even in a log-append-time
//!   batch, where Kafka (and dekaf) use the batch's max timestamp; it never writes that flag
//!   either. Batches here use create time.
//! - kafka-protocol drops the per-record attributes byte, which Kafka leaves unused: 0 here.

use bytes::{Bytes, BytesMut};
use dekaf_proto::records::{
    Compression, OwnedHeader, OwnedRecord, RecordBatch, RecordBatchBuilder, RecordBatches,
};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::records::{
    Compression as TheirCompression, Record as TheirRecord, RecordBatchDecoder, RecordBatchEncoder,
    RecordEncodeOptions, TimestampType as TheirTimestampType,
};
use proptest::collection::{btree_map, vec};
use proptest::prelude::*;

fn their_codec(c: Compression) -> TheirCompression {
    match c {
        Compression::None => TheirCompression::None,
        Compression::Gzip => TheirCompression::Gzip,
        Compression::Snappy => TheirCompression::Snappy,
        Compression::Lz4 => TheirCompression::Lz4,
        Compression::Zstd => TheirCompression::Zstd,
    }
}

fn codec() -> impl Strategy<Value = Compression> {
    proptest::sample::select(Compression::ALL.to_vec())
}

fn nullable_bytes() -> impl Strategy<Value = Option<Bytes>> {
    proptest::option::weighted(0.8, vec(any::<u8>(), 0..48).prop_map(Bytes::from))
}

/// Distinct UTF-8 header keys with nullable values, in key order.
fn headers() -> impl Strategy<Value = Vec<(String, Option<Bytes>)>> {
    btree_map("[a-z0-9-]{0,8}|\\PC{0,3}", nullable_bytes(), 0..4)
        .prop_map(|m| m.into_iter().collect())
}

/// Timestamps around a base, some deltas beyond the int32 range.
fn timestamp_delta() -> impl Strategy<Value = i64> {
    prop_oneof![
        0i64..10_000,
        (i64::from(i32::MAX) - 10)..(i64::from(i32::MAX) + 10_000),
        0i64..(1 << 50),
    ]
}

/// One record's content: offset step from the previous one, timestamp delta, key, value,
/// headers.
type Content = (
    i32,
    i64,
    Option<Bytes>,
    Option<Bytes>,
    Vec<(String, Option<Bytes>)>,
);

fn content() -> impl Strategy<Value = Content> {
    (
        0i32..1000,
        timestamp_delta(),
        nullable_bytes(),
        nullable_bytes(),
        headers(),
    )
}

/// Batch-level settings shared by all records.
#[derive(Debug, Clone)]
struct Settings {
    base_offset: i64,
    base_timestamp: i64,
    leader_epoch: i32,
    producer: (i64, i16, i32),
    transactional: bool,
    control: bool,
    delete_horizon: bool,
}

fn settings() -> impl Strategy<Value = Settings> {
    (
        0i64..(1 << 60),
        -(1i64 << 50)..(1 << 50),
        any::<i32>(),
        (any::<i64>(), any::<i16>(), any::<i32>()),
        any::<[bool; 3]>(),
    )
        .prop_map(
            |(base_offset, base_timestamp, leader_epoch, producer, flags)| Settings {
                base_offset,
                base_timestamp,
                leader_epoch,
                producer,
                transactional: flags[0],
                control: flags[1],
                delete_horizon: flags[2],
            },
        )
}

/// The records as kafka-protocol models them.
fn their_records(s: &Settings, contents: &[Content]) -> Vec<TheirRecord> {
    let mut delta = 0i32;
    contents
        .iter()
        .enumerate()
        .map(|(i, (step, ts, key, value, headers))| {
            if i > 0 {
                delta += step;
            }
            TheirRecord {
                transactional: s.transactional,
                control: s.control,
                delete_horizon: s.delete_horizon,
                partition_leader_epoch: s.leader_epoch,
                producer_id: s.producer.0,
                producer_epoch: s.producer.1,
                timestamp_type: TheirTimestampType::Creation,
                offset: s.base_offset + i64::from(delta),
                sequence: s.producer.2.wrapping_add(delta),
                timestamp: s.base_timestamp + ts,
                key: key.clone(),
                value: value.clone(),
                headers: headers
                    .iter()
                    .map(|(k, v)| (StrBytes::from_string(k.clone()), v.clone()))
                    .collect(),
            }
        })
        .collect()
}

/// The same records built with dekaf's builder.
fn our_batch(s: &Settings, records: &[TheirRecord], codec: Compression) -> Bytes {
    let mut b = RecordBatchBuilder::new()
        .base_offset(s.base_offset)
        .base_timestamp(s.base_timestamp)
        .partition_leader_epoch(s.leader_epoch)
        .producer(s.producer.0, s.producer.1, s.producer.2)
        .transactional(s.transactional)
        .control(s.control)
        .delete_horizon(s.delete_horizon)
        .compression(codec);
    for r in records {
        b.push(OwnedRecord {
            offset_delta: (r.offset - s.base_offset) as i32,
            timestamp_delta: r.timestamp - s.base_timestamp,
            attributes: 0,
            key: r.key.clone(),
            value: r.value.clone(),
            headers: r
                .headers
                .iter()
                .map(|(k, v)| OwnedHeader::new(k.to_string(), v.clone()))
                .collect(),
        });
    }
    b.build().unwrap()
}

/// Checks that dekaf's reading of `batch` matches kafka-protocol's records.
fn same(batch: &RecordBatch, theirs: &[TheirRecord]) -> Result<(), TestCaseError> {
    prop_assert_eq!(batch.records_count(), theirs.len());
    for (ours, t) in batch.records().zip(theirs) {
        let ours = ours.map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(ours.offset(), t.offset);
        prop_assert_eq!(ours.timestamp(), t.timestamp);
        let h = batch.header();
        prop_assert_eq!(
            h.base_sequence.wrapping_add(ours.offset_delta()),
            t.sequence
        );
        prop_assert_eq!(
            (h.producer_id, h.producer_epoch, h.partition_leader_epoch),
            (t.producer_id, t.producer_epoch, t.partition_leader_epoch)
        );
        prop_assert_eq!(
            (batch.is_transactional(), batch.is_control()),
            (t.transactional, t.control)
        );
        prop_assert_eq!(h.attributes.has_delete_horizon(), t.delete_horizon);
        prop_assert_eq!(ours.key(), t.key.as_deref());
        prop_assert_eq!(ours.value(), t.value.as_deref());
        let our_headers: Vec<_> = ours
            .headers()
            .map(|h| (h.key_str().unwrap_or("<not utf-8>"), h.value()))
            .collect();
        let their_headers: Vec<_> = t
            .headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_deref()))
            .collect();
        prop_assert_eq!(our_headers, their_headers);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 192, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn kafka_protocol_reads_our_batches(
        s in settings(),
        contents in vec(content(), 0..10),
        codec in codec(),
    ) {
        let records = their_records(&s, &contents);
        let ours = our_batch(&s, &records, codec);
        let mut src = ours.clone();
        let set = RecordBatchDecoder::decode(&mut src)
            .map_err(|e| TestCaseError::fail(format!("kafka-protocol cannot read ours: {e}")))?;
        prop_assert!(src.is_empty());
        prop_assert_eq!(set.compression, their_codec(codec));
        prop_assert_eq!(&set.records, &records);
        // And dekaf agrees with itself on the same bytes.
        same(&RecordBatch::decode(&ours).unwrap(), &records)?;
    }

    #[test]
    fn we_read_kafka_protocol_batches(
        s in settings(),
        contents in vec(content(), 1..10),
        codec in codec(),
    ) {
        let records = their_records(&s, &contents);
        let mut buf = BytesMut::new();
        let options = RecordEncodeOptions { version: 2, compression: their_codec(codec) };
        RecordBatchEncoder::encode(&mut buf, &records, &options)
            .map_err(|e| TestCaseError::fail(format!("kafka-protocol cannot write: {e}")))?;
        let mut batches = RecordBatches::new(buf.freeze());
        let batch = batches.next().unwrap().map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert!(batches.next().is_none());
        prop_assert_eq!(batch.compression(), codec);
        // kafka-protocol counts from the smallest timestamp, so the base may differ from ours.
        let min_ts = records.iter().map(|r| r.timestamp).min().unwrap();
        prop_assert_eq!(batch.header().base_timestamp, min_ts);
        prop_assert_eq!(
            batch.header().max_timestamp,
            records.iter().map(|r| r.timestamp).max().unwrap()
        );
        prop_assert_eq!(batch.last_offset(), records.last().unwrap().offset);
        same(&batch, &records)?;
    }
}
