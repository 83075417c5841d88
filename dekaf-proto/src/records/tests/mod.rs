//! Tests of record batches as a whole: round trips, malformed input, bounds.

mod malformed;
mod round_trip;

use bytes::Bytes;
use proptest::collection::vec;
use proptest::prelude::*;

use super::header::{crc32c, ATTRIBUTES_OFFSET, CRC_OFFSET};
use super::*;

/// Every codec this build can use.
fn enabled_codecs() -> Vec<Compression> {
    Compression::ALL
        .into_iter()
        .filter(|c| c.is_enabled())
        .collect()
}

fn nullable_bytes(max: usize) -> impl Strategy<Value = Option<Bytes>> {
    proptest::option::weighted(0.8, vec(any::<u8>(), 0..max).prop_map(Bytes::from))
}

fn header() -> impl Strategy<Value = OwnedHeader> {
    (vec(any::<u8>(), 0..12), nullable_bytes(16)).prop_map(|(key, value)| OwnedHeader {
        key: Bytes::from(key),
        value,
    })
}

/// Timestamp deltas: small ones, any i64, and ones just past the int32 range.
fn timestamp_delta() -> impl Strategy<Value = i64> {
    prop_oneof![
        -1000i64..1000,
        any::<i64>(),
        (i64::from(i32::MAX) + 1)..(i64::from(i32::MAX) + 1000),
        (i64::from(i32::MIN) - 1000)..i64::from(i32::MIN),
    ]
}

fn record() -> impl Strategy<Value = OwnedRecord> {
    (
        any::<i32>(),
        timestamp_delta(),
        any::<i8>(),
        nullable_bytes(64),
        nullable_bytes(64),
        vec(header(), 0..4),
    )
        .prop_map(
            |(offset_delta, timestamp_delta, attributes, key, value, headers)| OwnedRecord {
                offset_delta,
                timestamp_delta,
                attributes,
                key,
                value,
                headers,
            },
        )
}

/// Every builder setting, drawn at random, and the records.
#[derive(Debug, Clone)]
struct Spec {
    base_offset: i64,
    epoch: i32,
    codec: Compression,
    timestamp_type: TimestampType,
    transactional: bool,
    control: bool,
    delete_horizon: bool,
    producer: (i64, i16, i32),
    base_timestamp: i64,
    max_timestamp: Option<i64>,
    last_offset_delta: Option<i32>,
    records: Vec<OwnedRecord>,
}

impl Spec {
    fn builder(&self) -> RecordBatchBuilder {
        let (id, epoch, seq) = self.producer;
        let mut b = RecordBatchBuilder::new()
            .base_offset(self.base_offset)
            .partition_leader_epoch(self.epoch)
            .compression(self.codec)
            .timestamp_type(self.timestamp_type)
            .transactional(self.transactional)
            .control(self.control)
            .delete_horizon(self.delete_horizon)
            .producer(id, epoch, seq)
            .base_timestamp(self.base_timestamp);
        if let Some(max) = self.max_timestamp {
            b = b.max_timestamp(max);
        }
        if let Some(last) = self.last_offset_delta {
            b = b.last_offset_delta(last);
        }
        for r in &self.records {
            b.push(r.clone());
        }
        b
    }
}

fn spec() -> impl Strategy<Value = Spec> {
    let settings = (
        any::<i64>(),
        any::<i32>(),
        proptest::sample::select(enabled_codecs()),
        any::<bool>(),
        any::<[bool; 3]>(),
        (any::<i64>(), any::<i16>(), any::<i32>()),
        any::<i64>(),
        proptest::option::of(any::<i64>()),
        proptest::option::of(any::<i32>()),
    );
    (settings, vec(record(), 0..12)).prop_map(|(s, records)| {
        let (base_offset, epoch, codec, log_append, flags, producer, base_timestamp, max, last) = s;
        Spec {
            base_offset,
            epoch,
            codec,
            timestamp_type: if log_append {
                TimestampType::LogAppendTime
            } else {
                TimestampType::CreateTime
            },
            transactional: flags[0],
            control: flags[1],
            delete_horizon: flags[2],
            producer,
            base_timestamp,
            max_timestamp: max,
            last_offset_delta: last,
            records,
        }
    })
}

/// Recomputes the CRC of a whole batch after a test changed it.
fn reseal(batch: &mut [u8]) {
    if batch.len() > ATTRIBUTES_OFFSET {
        let crc = crc32c(&batch[ATTRIBUTES_OFFSET..]);
        batch[CRC_OFFSET..ATTRIBUTES_OFFSET].copy_from_slice(&crc.to_be_bytes());
    }
}

/// A plain batch of `n` small records.
fn simple_batch(n: usize, codec: Compression) -> Bytes {
    let mut b = RecordBatchBuilder::new()
        .base_offset(100)
        .compression(codec);
    for i in 0..n {
        b.append(
            1_000 + i as i64,
            Some(Bytes::from(format!("k{i}"))),
            Some(Bytes::from(format!("value {i}"))),
            vec![OwnedHeader::new("h", Some(Bytes::from_static(b"v")))],
        );
    }
    b.build().unwrap()
}
