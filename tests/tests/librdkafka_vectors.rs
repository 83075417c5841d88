//! Record batches written by librdkafka, one file per codec, decoded record by record.
//!
//! `tests/data/librdkafka/<codec>.records.bin` holds the `records` bytes of a Fetch answer
//! for a partition that librdkafka produced into; `<codec>.expected.json` says what it sent.
//! See `tests/data/librdkafka/README.md` for how they were made; the ignored test
//! [`regenerate`] makes them again (`cargo test -p dekaf-tests --test librdkafka_vectors --
//! --ignored`), with tansu build W and the `confluent-kafka` Python package installed.

use std::path::{Path, PathBuf};
use std::process::Command;

use bytes::Bytes;
use dekaf_proto::messages::fetch::{FetchPartition, FetchTopic};
use dekaf_proto::messages::produce::ProduceRequest;
use dekaf_proto::messages::{FetchRequest, FetchResponse};
use dekaf_proto::records::{Compression, RecordBatch, RecordBatches, TimestampType};
use dekaf_proto::{ApiKey, ErrorCode, Message};
use dekaf_tests::proxy::{Direction, Proxy};
use dekaf_tests::{Broker, Build, Client, Engine};
use serde_json::Value;

const CODECS: [(&str, Compression); 5] = [
    ("none", Compression::None),
    ("gzip", Compression::Gzip),
    ("snappy", Compression::Snappy),
    ("lz4", Compression::Lz4),
    ("zstd", Compression::Zstd),
];

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("data/librdkafka")
}

fn read_expected(dir: &Path, codec: &str) -> Value {
    let path = dir.join(format!("{codec}.expected.json"));
    let text =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("parse {}: {e}", path.display()))
}

fn read_records(dir: &Path, codec: &str) -> Bytes {
    let path = dir.join(format!("{codec}.records.bin"));
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    Bytes::from(bytes)
}

fn int(v: &Value, what: &str) -> i64 {
    v.as_i64()
        .unwrap_or_else(|| panic!("{what}: not an integer: {v}"))
}

/// A hex string or null, as the script writes keys, values and header values.
fn hex_or_null(v: &Value, what: &str) -> Option<Vec<u8>> {
    if v.is_null() {
        return None;
    }
    let s = v
        .as_str()
        .unwrap_or_else(|| panic!("{what}: not a string: {v}"));
    assert!(s.len() % 2 == 0, "{what}: odd hex length");
    let digits: Vec<u8> = s
        .chars()
        .map(|c| {
            let d = c
                .to_digit(16)
                .unwrap_or_else(|| panic!("{what}: not hex: {s}"));
            d as u8
        })
        .collect();
    Some(digits.chunks(2).map(|p| p[0] << 4 | p[1]).collect())
}

/// Decodes the committed bytes of `codec` and compares them with what librdkafka was given.
fn check(dir: &Path, codec: &str, compression: Compression) {
    let expected = read_expected(dir, codec);
    let blob = read_records(dir, codec);
    let what = format!("{codec}.records.bin");

    assert_eq!(
        expected["codec"].as_str(),
        Some(codec),
        "{codec}.expected.json"
    );
    let idempotent = expected["idempotent"]
        .as_bool()
        .unwrap_or_else(|| panic!("{codec}: no idempotent flag"));
    let per_flush: Vec<i64> = expected["records_per_flush"]
        .as_array()
        .unwrap_or_else(|| panic!("{codec}: no records_per_flush"))
        .iter()
        .map(|n| int(n, "records_per_flush"))
        .collect();
    let records = expected["records"]
        .as_array()
        .unwrap_or_else(|| panic!("{codec}: no records"));

    let mut batches = RecordBatches::new(blob.clone());
    let decoded: Vec<RecordBatch> = batches
        .by_ref()
        .map(|b| b.unwrap_or_else(|e| panic!("{what}: {e}")))
        .collect();
    assert_eq!(batches.position(), blob.len(), "{what}: bytes left over");

    // Each flush became one batch, compressed as asked.
    let counts: Vec<i64> = decoded.iter().map(|b| b.records_count() as i64).collect();
    assert_eq!(counts, per_flush, "{what}: records per batch");
    let mut next_sequence = 0;
    for batch in &decoded {
        let h = batch.header();
        assert_eq!(batch.compression(), compression, "{what}: codec");
        assert_eq!(h.magic, 2, "{what}: magic");
        assert_eq!(batch.timestamp_type(), TimestampType::CreateTime);
        assert!(!batch.is_transactional() && !batch.is_control(), "{what}");
        assert!(h.records_count > 1, "{what}: a batch of several records");
        if idempotent {
            // An idempotent producer: an id from InitProducerId, epoch 0 on a fresh producer,
            // and sequence numbers that run on across batches.
            assert!(h.producer_id >= 0, "{what}: producer id {}", h.producer_id);
            assert_eq!(h.producer_epoch, 0, "{what}: producer epoch");
            assert_eq!(h.base_sequence, next_sequence, "{what}: base sequence");
            next_sequence += h.records_count;
        } else {
            assert_eq!(
                (h.producer_id, h.producer_epoch, h.base_sequence),
                (-1, -1, -1),
                "{what}: a plain producer leaves the idempotence fields unset"
            );
        }
    }

    let mut seen = 0;
    for batch in &decoded {
        let mut max_ts = i64::MIN;
        let mut first_ts = None;
        for record in batch.records() {
            let record = record.unwrap_or_else(|e| panic!("{what}: {e}"));
            let want = records
                .get(seen)
                .unwrap_or_else(|| panic!("{what}: more records than expected"));
            let at = format!("{what} record {seen}");
            assert_eq!(
                record.offset(),
                int(&want["offset"], "offset"),
                "{at}: offset"
            );
            let ts = int(&want["timestamp"], "timestamp");
            assert_eq!(record.timestamp(), ts, "{at}: timestamp");
            first_ts.get_or_insert(ts);
            max_ts = max_ts.max(ts);
            assert_eq!(
                record.key().map(<[u8]>::to_vec),
                hex_or_null(&want["key"], "key"),
                "{at}: key"
            );
            assert_eq!(
                record.value().map(<[u8]>::to_vec),
                hex_or_null(&want["value"], "value"),
                "{at}: value"
            );
            let headers: Vec<(String, Option<Vec<u8>>)> = record
                .headers()
                .map(|h| {
                    let key = h
                        .key_str()
                        .unwrap_or_else(|| panic!("{at}: header key not UTF-8"));
                    (key.to_owned(), h.value().map(<[u8]>::to_vec))
                })
                .collect();
            let want_headers: Vec<(String, Option<Vec<u8>>)> = want["headers"]
                .as_array()
                .unwrap_or_else(|| panic!("{at}: no headers"))
                .iter()
                .map(|pair| {
                    let key = pair[0]
                        .as_str()
                        .unwrap_or_else(|| panic!("{at}: header key"));
                    (key.to_owned(), hex_or_null(&pair[1], "header value"))
                })
                .collect();
            assert_eq!(headers, want_headers, "{at}: headers");
            seen += 1;
        }
        // librdkafka takes the first record's timestamp as the base, so deltas can be negative.
        assert_eq!(
            Some(batch.header().base_timestamp),
            first_ts,
            "{what}: base ts"
        );
        assert_eq!(
            batch.header().max_timestamp,
            max_ts,
            "{what}: max timestamp"
        );
    }
    assert_eq!(seen, records.len(), "{what}: record count");
}

#[test]
fn uncompressed() {
    check(&data_dir(), "none", Compression::None);
}

#[test]
fn gzip() {
    check(&data_dir(), "gzip", Compression::Gzip);
}

#[test]
fn snappy() {
    check(&data_dir(), "snappy", Compression::Snappy);
}

#[test]
fn lz4_from_an_idempotent_producer() {
    check(&data_dir(), "lz4", Compression::Lz4);
}

#[test]
fn zstd() {
    check(&data_dir(), "zstd", Compression::Zstd);
}

#[test]
fn negative_timestamp_deltas_are_in_the_vectors() {
    // The set includes a record older than its batch's first one; make sure the committed
    // bytes still carry it, so the decoder's signed delta stays covered.
    let blob = read_records(&data_dir(), "none");
    let found = RecordBatches::new(blob).any(|b| {
        b.unwrap()
            .records()
            .any(|r| r.unwrap().timestamp_delta() < 0)
    });
    assert!(found);
}

/// The versions of Fetch that still name topics (v13+ use topic ids).
const FETCH_BY_NAME: (i16, i16) = (4, 12);

/// Fetches every record of partition 0 of `topic` from the start, `want` records in all.
fn fetch_all(client: &mut Client, version: i16, topic: &str, want: i64) -> Bytes {
    let mut blob = Vec::new();
    let mut next = 0i64;
    for _ in 0..20 {
        if next >= want {
            break;
        }
        let request = FetchRequest {
            max_wait_ms: 500,
            min_bytes: 1,
            max_bytes: 1 << 20,
            topics: vec![FetchTopic {
                topic: topic.into(),
                partitions: vec![FetchPartition {
                    partition: 0,
                    fetch_offset: next,
                    partition_max_bytes: 1 << 20,
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        };
        let response: FetchResponse = client.call(&request, version);
        let partition = response
            .responses
            .first()
            .and_then(|t| t.partitions.first())
            .unwrap_or_else(|| panic!("{topic}: empty fetch answer"));
        assert_eq!(partition.error_code, ErrorCode::NONE, "{topic}");
        let records = partition.records.clone().unwrap_or_default();
        let mut batches = RecordBatches::new(records.clone());
        for batch in batches.by_ref() {
            let batch = batch.unwrap_or_else(|e| panic!("{topic}: {e}"));
            next = batch.next_offset();
        }
        blob.extend_from_slice(records.get(..batches.position()).unwrap_or_default());
    }
    assert_eq!(next, want, "{topic}: fetched up to");
    Bytes::from(blob)
}

/// The wire bytes of each whole batch in `blob`.
fn raw_batches(blob: &Bytes, what: &str) -> Vec<Bytes> {
    let mut batches = RecordBatches::new(blob.clone());
    let mut out = Vec::new();
    let mut start = 0;
    while let Some(batch) = batches.next() {
        batch.unwrap_or_else(|e| panic!("{what}: {e}"));
        out.push(blob.slice(start..batches.position()));
        start = batches.position();
    }
    out
}

/// The batches librdkafka sent in its Produce requests for `topic`, as it sent them.
fn produced_batches(proxy: &Proxy, topic: &str) -> Vec<Bytes> {
    let mut out = Vec::new();
    for frame in proxy.frames() {
        if frame.direction != Direction::Request {
            continue;
        }
        let request = ProduceRequest::decode_exact(&frame.body(), frame.api_version)
            .unwrap_or_else(|e| panic!("Produce v{}: {e}", frame.api_version));
        for t in request.topic_data.iter().filter(|t| t.name == topic) {
            println!("{topic}: librdkafka sent Produce v{}", frame.api_version);
            for p in &t.partition_data {
                out.extend(raw_batches(&p.records.clone().unwrap_or_default(), topic));
            }
        }
    }
    out
}

/// Makes the vectors again: tansu build W, the Python script through a recording proxy, then
/// a Fetch of each topic whose `records` bytes are saved.
#[test]
#[ignore = "needs tansu build W and confluent-kafka; rewrites tests/data/librdkafka"]
fn regenerate() {
    let listener = Proxy::bind().unwrap();
    let advertised = listener.local_addr().unwrap();
    let broker = Broker::start_advertising(Build::W, Engine::Memory, advertised)
        .expect("regenerating needs tansu build W");
    let proxy = Proxy::start(listener, broker.addr(), &[ApiKey::Produce]);
    let dir = data_dir();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/make_vectors.py");
    let status = Command::new("python3")
        .arg(&script)
        .args(["--bootstrap", &proxy.addr().to_string()])
        .arg("--out")
        .arg(&dir)
        .status()
        .expect("run python3");
    assert!(status.success(), "{} failed: {status}", script.display());

    let mut client = broker.client();
    let versions = client.broker_versions();
    let version = versions
        .pick_within(ApiKey::Fetch, Some(FETCH_BY_NAME))
        .expect("a Fetch version that names topics");
    for (codec, compression) in CODECS {
        let expected = read_expected(&dir, codec);
        let topic = expected["topic"].as_str().expect("topic").to_owned();
        let want = expected["records"].as_array().expect("records").len() as i64;
        let blob = fetch_all(&mut client, version, &topic, want);

        // The broker gives back librdkafka's own batches: everything from the magic byte on
        // (the CRC and all it covers) is as librdkafka wrote it; only the base offset, length
        // and partition leader epoch in front are the broker's.
        let fetched = raw_batches(&blob, &topic);
        let sent = produced_batches(&proxy, &topic);
        assert_eq!(fetched.len(), sent.len(), "{topic}: batches");
        for (f, s) in fetched.iter().zip(&sent) {
            assert_eq!(f.get(16..), s.get(16..), "{topic}: batch bytes changed");
        }

        let path = dir.join(format!("{codec}.records.bin"));
        std::fs::write(&path, &blob).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
        println!(
            "{topic}: Fetch v{version}, {} bytes -> {}",
            blob.len(),
            path.display()
        );
        check(&dir, codec, compression);
    }
}
