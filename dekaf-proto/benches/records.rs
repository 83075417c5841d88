//! Decoding a 1000-record batch (16-byte keys, 100-byte values): dekaf-proto and the
//! kafka-protocol crate on the same bytes, uncompressed, lz4 and zstd, plus a bare CRC-32C
//! pass over the batch as a floor. Throughput is in records.
//!
//! dekaf writes zstd frames with their content size, which lets it decompress in one call;
//! Java's client (and kafka-protocol) stream frames without it: `decode/zstd-streamed` is the
//! same records in a batch written by kafka-protocol, for that path.
//!
//! Encoding the same 1000 records into a batch, uncompressed, lz4 and zstd: dekaf-proto's
//! `RecordBatchBuilder::encode` and kafka-protocol's `RecordBatchEncoder::encode`, each from
//! records it already holds (`encode/*/dekaf-append` adds appending them to a new builder).
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

/// A record as an application hands it over: timestamp, key, value.
type Input = (i64, Option<Bytes>, Option<Bytes>);

/// The records of `blob`.
fn inputs(blob: &Bytes) -> Vec<Input> {
    let mut out = Vec::new();
    for batch in RecordBatches::new(blob.clone()) {
        let batch = batch.unwrap();
        let base = batch.header().base_timestamp;
        for r in batch.records() {
            let r = r.unwrap();
            out.push((base + r.timestamp_delta(), r.key_bytes(), r.value_bytes()));
        }
    }
    out
}

/// A builder holding `records`, to be compressed with `codec`.
fn builder(records: &[Input], codec: Compression) -> RecordBatchBuilder {
    let mut b = RecordBatchBuilder::new()
        .producer(4242, 0, 0)
        .compression(codec);
    for (timestamp, key, value) in records {
        b.append(*timestamp, key.clone(), value.clone(), vec![]);
    }
    b
}

fn encode(c: &mut Criterion) {
    let plain = batch(Compression::None);
    let records = inputs(&plain);
    let theirs = RecordBatchDecoder::decode(&mut plain.clone())
        .unwrap()
        .records;
    let cases = [
        ("none", Compression::None, TheirCompression::None),
        ("lz4", Compression::Lz4, TheirCompression::Lz4),
        ("zstd", Compression::Zstd, TheirCompression::Zstd),
    ];
    for (name, codec, their_codec) in cases {
        let ours = builder(&records, codec);
        let options = RecordEncodeOptions {
            version: 2,
            compression: their_codec,
        };
        // Both write batches that decode to the same records.
        let mut out = bytes::BytesMut::new();
        ours.encode(&mut out).unwrap();
        let mut other = bytes::BytesMut::new();
        RecordBatchEncoder::encode(&mut other, &theirs, &options).unwrap();
        assert_eq!(
            dekaf_views(&out.freeze()),
            kafka_protocol(&other.freeze()),
            "{name}"
        );
        let mut g = c.benchmark_group(format!("encode/{name}"));
        g.throughput(Throughput::Elements(RECORDS as u64));
        g.bench_function("dekaf", |b| {
            let mut out = bytes::BytesMut::new();
            b.iter(|| {
                out.clear();
                black_box(&ours).encode(&mut out).unwrap();
                out.len()
            })
        });
        g.bench_function("dekaf-append", |b| {
            let mut out = bytes::BytesMut::new();
            b.iter(|| {
                out.clear();
                builder(black_box(&records), codec)
                    .encode(&mut out)
                    .unwrap();
                out.len()
            })
        });
        g.bench_function("kafka-protocol", |b| {
            let mut out = bytes::BytesMut::new();
            b.iter(|| {
                out.clear();
                RecordBatchEncoder::encode(&mut out, black_box(&theirs), &options).unwrap();
                out.len()
            })
        });
        g.finish();
    }
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    decode(&mut c);
    encode(&mut c);
    c.final_summary();
}
