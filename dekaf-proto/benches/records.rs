//! Decoding a 1000-record batch (16-byte keys, 100-byte values): dekaf-proto and the
//! kafka-protocol crate on the same bytes, uncompressed, lz4 and zstd, plus a bare CRC-32C
//! pass over the batch as a floor. Throughput is in records.
//!
//! dekaf writes zstd frames with their content size, which lets it decompress in one call;
//! Java's client (and kafka-protocol) stream frames without it: `decode/zstd-streamed` is the
//! same records in a batch written by kafka-protocol, for that path.
//!
//! `cargo bench -p dekaf-proto --bench records -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;

use bytes::Bytes;
use criterion::{Criterion, Throughput};
use dekaf_proto::records::{Compression, RecordBatchBuilder, RecordBatches};
use kafka_protocol::records::{
    Compression as TheirCompression, RecordBatchDecoder, RecordBatchEncoder, RecordEncodeOptions,
};

const RECORDS: usize = 1000;

/// The benchmark batch: keys `key-000000000042`, JSON-ish 100-byte values.
fn batch(codec: Compression) -> Bytes {
    let mut b = RecordBatchBuilder::new()
        .producer(4242, 0, 0)
        .compression(codec);
    for i in 0..RECORDS {
        let key = format!("key-{i:012}");
        let mut value = format!(
            r#"{{"id":{i},"user":"user-{}","event":"page_view","path":"/items/{}","ms":{}"#,
            i % 97,
            i * 7 % 1000,
            i % 250
        );
        value.push_str(&" ".repeat(99 - value.len()));
        value.push('}');
        assert_eq!((key.len(), value.len()), (16, 100));
        b.append(
            1_700_000_000_000 + i as i64,
            Some(Bytes::from(key)),
            Some(Bytes::from(value)),
            vec![],
        );
    }
    b.build().unwrap()
}

/// The same records re-encoded by kafka-protocol.
fn their_batch(blob: &Bytes, compression: TheirCompression) -> Bytes {
    let set = RecordBatchDecoder::decode(&mut blob.clone()).unwrap();
    let mut out = bytes::BytesMut::new();
    let options = RecordEncodeOptions {
        version: 2,
        compression,
    };
    RecordBatchEncoder::encode(&mut out, &set.records, &options).unwrap();
    out.freeze()
}

/// dekaf: every record as a borrowed view.
fn dekaf_views(blob: &Bytes) -> usize {
    let mut sum = 0;
    for batch in RecordBatches::new(blob.clone()) {
        for r in batch.unwrap().records() {
            let r = r.unwrap();
            sum += r.offset() as usize + r.key().map_or(0, <[u8]>::len);
            sum += r.value().map_or(0, <[u8]>::len);
        }
    }
    sum
}

/// dekaf: every record's key and value as `Bytes` handles (a reference count bump each).
fn dekaf_bytes(blob: &Bytes) -> usize {
    let mut sum = 0;
    for batch in RecordBatches::new(blob.clone()) {
        for r in batch.unwrap().records() {
            let r = r.unwrap();
            let (k, v) = (r.key_bytes(), r.value_bytes());
            sum += r.offset() as usize + k.map_or(0, |k| k.len()) + v.map_or(0, |v| v.len());
        }
    }
    sum
}

/// kafka-protocol: its decoder builds a `Vec<Record>` with `Bytes` fields.
fn kafka_protocol(blob: &Bytes) -> usize {
    let mut src = blob.clone();
    let set = RecordBatchDecoder::decode(&mut src).unwrap();
    set.records
        .iter()
        .map(|r| {
            r.offset as usize
                + r.key.as_ref().map_or(0, |k| k.len())
                + r.value.as_ref().map_or(0, |v| v.len())
        })
        .sum()
}

fn decode(c: &mut Criterion) {
    let streamed = their_batch(&batch(Compression::None), TheirCompression::Zstd);
    let cases = [
        ("none", batch(Compression::None)),
        ("lz4", batch(Compression::Lz4)),
        ("zstd", batch(Compression::Zstd)),
        ("zstd-streamed", streamed),
    ];
    for (name, blob) in cases {
        assert_eq!(dekaf_views(&blob), kafka_protocol(&blob));
        assert_eq!(dekaf_bytes(&blob), kafka_protocol(&blob));
        let mut g = c.benchmark_group(format!("decode/{name}"));
        g.throughput(Throughput::Elements(RECORDS as u64));
        g.bench_function("dekaf", |b| b.iter(|| dekaf_views(black_box(&blob))));
        g.bench_function("dekaf-bytes", |b| b.iter(|| dekaf_bytes(black_box(&blob))));
        g.bench_function("kafka-protocol", |b| {
            b.iter(|| kafka_protocol(black_box(&blob)))
        });
        g.finish();
    }
    let blob = batch(Compression::None);
    let mut g = c.benchmark_group("crc32c");
    g.throughput(Throughput::Elements(RECORDS as u64));
    g.bench_function("batch", |b| {
        b.iter(|| crc_fast::crc32_iscsi(black_box(&blob[21..])))
    });
    g.finish();
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    decode(&mut c);
    c.final_summary();
}
