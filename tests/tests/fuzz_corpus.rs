//! The fuzz corpora under `fuzz/corpus/<target>/` replayed through the same functions the
//! fuzz targets call, so every committed input is checked by `cargo test` on stable.
//!
//! `cargo test -p dekaf-tests --test fuzz_corpus -- --ignored write_seeds` rewrites the seed
//! inputs (files named `seed-*`): valid frames, every version of every request and response
//! dekaf implements, and record batches in every codec. The seeds of the state machine targets
//! are written by `cargo test -p dekaf-sim --features fuzzing --lib -- --ignored write_seeds`,
//! those of `sasl` by `cargo test -p dekaf-state --all-features --lib -- --ignored write_seeds`.

use std::fs;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use dekaf_proto::arbitrary::Arbitrary;
use dekaf_proto::frame::{begin_frame, end_frame};
use dekaf_proto::fuzz::{fuzz_frames, fuzz_request, fuzz_response, message_input};
use dekaf_proto::fuzz_record_batches;
use dekaf_proto::messages::*;
use dekaf_proto::records::{
    Compression, ControlKind, ControlRecord, OwnedHeader, RecordBatchBuilder, RecordBatches,
};
use dekaf_proto::Message;
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::TestRunner;

fn corpus(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus")
        .join(target)
}

fn replay(target: &str, run: fn(&[u8])) {
    let dir = corpus(target);
    let mut files: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no inputs in {}", dir.display());
    for file in files {
        let data = fs::read(&file).unwrap();
        let outcome = std::panic::catch_unwind(|| run(&data));
        assert!(outcome.is_ok(), "{target}: input {} fails", file.display());
    }
}

#[test]
fn frame_splitter() {
    replay("frame_splitter", fuzz_frames);
}

#[test]
fn request() {
    replay("request", fuzz_request);
}

#[test]
fn response() {
    replay("response", fuzz_response);
}

#[test]
fn record_batches() {
    replay("record_batches", fuzz_record_batches);
}

#[test]
fn consumer_machine() {
    replay("consumer_machine", dekaf_sim::fuzz::fuzz_consumer);
}

#[test]
fn producer_machine() {
    replay("producer_machine", dekaf_sim::fuzz::fuzz_producer);
}

#[test]
fn sim_world() {
    replay("sim_world", dekaf_sim::world::fuzz_world);
}

#[test]
fn sasl() {
    replay("sasl", dekaf_state::fuzz::fuzz_sasl);
}

/// The committed record batch seeds hold what their names say.
#[test]
fn record_batch_seeds_decode_as_named() {
    let dir = corpus("record_batches");
    for codec in Compression::ALL {
        let name = format!("seed-{codec:?}").to_lowercase();
        let data = fs::read(dir.join(&name)).unwrap();
        let batches = RecordBatches::new(Bytes::from(data));
        let batches: Vec<_> = batches.collect::<Result<_, _>>().unwrap();
        let [batch] = batches.as_slice() else {
            panic!("{name}: one batch expected");
        };
        assert_eq!(batch.compression(), codec, "{name}");
        assert_eq!(batch.records().filter(|r| r.is_ok()).count(), 3, "{name}");
    }
    let read = |name: &str| {
        let data = fs::read(dir.join(format!("seed-{name}"))).unwrap();
        let mut batches = RecordBatches::new(Bytes::from(data));
        let shapes: Vec<_> = batches
            .by_ref()
            .map(|b| b.map(|b| (b.is_control(), b.records_count())))
            .collect();
        (shapes, batches.position())
    };
    assert_eq!(read("control").0, [Ok((true, 1))]);
    assert_eq!(
        read("transaction-then-marker").0,
        [Ok((false, 1)), Ok((true, 1))]
    );
    assert_eq!(read("truncated"), (vec![], 0));
    let (shapes, position) = read("then-partial");
    assert_eq!(shapes, [Ok((false, 3))]);
    assert!(position > 0);
    let (shapes, _) = read("bad-crc");
    assert!(matches!(shapes.as_slice(), [Err(_)]), "{shapes:?}");
}

/// The seed file names of `target`.
fn seed_names(target: &str) -> Vec<String> {
    fs::read_dir(corpus(target))
        .unwrap()
        .filter_map(|e| e.unwrap().file_name().into_string().ok())
        .filter(|n| n.starts_with("seed-"))
        .collect()
}

/// Every version of every implemented API has seeds in both message corpora, so that a new
/// API or version cannot go unfuzzed (run `write_seeds` after adding one).
#[test]
fn every_message_version_has_seeds() {
    for target in ["request", "response"] {
        let names = seed_names(target);
        for &api in IMPLEMENTED {
            let (lo, hi) = supported_versions(api).unwrap();
            for version in lo..=hi {
                let prefix = format!("seed-{}-v{version}-", api.name());
                assert!(
                    names.iter().any(|n| n.starts_with(&prefix)),
                    "{target}: no seed for {api} v{version}"
                );
            }
        }
    }
}

/// The committed corpora stay small.
#[test]
fn corpora_are_small() {
    let mut total = 0;
    let targets = [
        "frame_splitter",
        "request",
        "response",
        "record_batches",
        "consumer_machine",
        "producer_machine",
        "sasl",
    ];
    for target in targets {
        for entry in fs::read_dir(corpus(target)).unwrap() {
            total += entry.unwrap().metadata().unwrap().len();
        }
    }
    assert!(total < 1 << 20, "the fuzz corpora hold {total} bytes");
}

/// Random values larger than this are drawn again, to keep the corpus small.
const MAX_SEED_BODY: usize = 512;

/// Writes, for every version of `M`, its default value and up to two small random values as
/// seed inputs.
fn message_seeds<M: Message + Arbitrary>(target: &str) {
    let dir = corpus(target);
    let mut runner = TestRunner::deterministic();
    for version in M::SPEC.min_version..=M::SPEC.max_version {
        let mut bodies = vec![M::default().to_bytes(version).unwrap()];
        for _ in 0..16 {
            if bodies.len() == 3 {
                break;
            }
            let tree = M::arbitrary(M::SPEC.cx(version))
                .new_tree(&mut runner)
                .unwrap();
            let body = tree.current().to_bytes(version).unwrap();
            if body.len() <= MAX_SEED_BODY && !bodies.contains(&body) {
                bodies.push(body);
            }
        }
        for (i, body) in bodies.iter().enumerate() {
            let name = format!("seed-{}-v{version}-{i}", M::SPEC.api_key.name());
            let input = message_input(M::SPEC.api_key, version, body);
            fs::write(dir.join(name), input).unwrap();
        }
    }
}

/// Seeds for every request and response type.
macro_rules! all_message_seeds {
    ($($req:ident / $resp:ident),* $(,)?) => {
        $(
            message_seeds::<$req>("request");
            message_seeds::<$resp>("response");
        )*
    };
}

/// Record batch seeds: a few records in every codec, a transaction marker, two batches in a
/// row, and cut-short or damaged batches.
fn record_batch_seeds() -> Vec<(String, Vec<u8>)> {
    let text = |s: &'static str| Some(Bytes::from_static(s.as_bytes()));
    let records = |codec: Compression| {
        let mut b = RecordBatchBuilder::new()
            .base_offset(100)
            .compression(codec);
        b.append(
            1_700_000_000_000,
            text("key"),
            text("value"),
            vec![
                OwnedHeader::new("h", text("v")),
                OwnedHeader::new("n", None),
            ],
        )
        .append(1_699_999_999_000, None, None, vec![])
        .append(
            1_700_000_001_000,
            text("k2"),
            text("a longer value, a longer value"),
            vec![],
        );
        b.build().unwrap().to_vec()
    };
    let mut seeds = Vec::new();
    for codec in Compression::ALL {
        seeds.push((format!("{codec:?}").to_lowercase(), records(codec)));
    }
    let marker = ControlRecord {
        kind: ControlKind::Commit,
        coordinator_epoch: 3,
    };
    let control = RecordBatchBuilder::transaction_marker(marker, 1_700_000_000_000)
        .producer(7, 1, -1)
        .base_offset(103)
        .build()
        .unwrap()
        .to_vec();
    seeds.push(("control".into(), control.clone()));
    let transactional = {
        let mut b = RecordBatchBuilder::new()
            .transactional(true)
            .producer(7, 1, 0);
        b.append(1_700_000_000_000, None, text("in a transaction"), vec![]);
        b.build().unwrap().to_vec()
    };
    seeds.push((
        "transaction-then-marker".into(),
        [transactional, control].concat(),
    ));
    let plain = records(Compression::None);
    let cut = plain.len() - 9;
    seeds.push(("truncated".into(), plain[..cut].to_vec()));
    seeds.push((
        "then-partial".into(),
        [plain.clone(), plain[..30].to_vec()].concat(),
    ));
    let mut bad_crc = plain.clone();
    if let Some(last) = bad_crc.last_mut() {
        *last ^= 0xff;
    }
    seeds.push(("bad-crc".into(), bad_crc));
    seeds
}

#[test]
#[ignore = "rewrites the committed seed inputs"]
fn write_seeds() {
    for target in ["frame_splitter", "request", "response", "record_batches"] {
        let dir = corpus(target);
        fs::create_dir_all(&dir).unwrap();
        for entry in fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let is_seed = path
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("seed-"));
            if is_seed {
                fs::remove_file(path).unwrap();
            }
        }
    }

    // Frames: a chunking seed byte, then a few size-prefixed payloads (the last one cut short).
    let frames = |seed: u8, payloads: &[&[u8]], cut: usize| {
        let mut buf = bytes::BytesMut::new();
        for p in payloads {
            let at = begin_frame(&mut buf);
            buf.extend_from_slice(p);
            end_frame(&mut buf, at);
        }
        let mut input = vec![seed];
        input.extend_from_slice(&buf[..buf.len() - cut]);
        input
    };
    let dir = corpus("frame_splitter");
    let seeds: [(&str, Vec<u8>); 4] = [
        ("empty-frame", frames(1, &[b""], 0)),
        ("three-frames", frames(7, &[b"abc", b"", &[0xff; 40]], 0)),
        ("partial", frames(3, &[b"hello", b"world!"], 2)),
        ("too-large", frames(0, &[&[1; 64]], 0)),
    ];
    for (name, input) in seeds {
        fs::write(dir.join(format!("seed-{name}")), input).unwrap();
    }

    // Messages: every API, in key order.
    all_message_seeds! {
        ProduceRequest / ProduceResponse,
        FetchRequest / FetchResponse,
        ListOffsetsRequest / ListOffsetsResponse,
        MetadataRequest / MetadataResponse,
        OffsetCommitRequest / OffsetCommitResponse,
        OffsetFetchRequest / OffsetFetchResponse,
        FindCoordinatorRequest / FindCoordinatorResponse,
        JoinGroupRequest / JoinGroupResponse,
        HeartbeatRequest / HeartbeatResponse,
        LeaveGroupRequest / LeaveGroupResponse,
        SyncGroupRequest / SyncGroupResponse,
        DescribeGroupsRequest / DescribeGroupsResponse,
        ListGroupsRequest / ListGroupsResponse,
        SaslHandshakeRequest / SaslHandshakeResponse,
        ApiVersionsRequest / ApiVersionsResponse,
        CreateTopicsRequest / CreateTopicsResponse,
        DeleteTopicsRequest / DeleteTopicsResponse,
        DeleteRecordsRequest / DeleteRecordsResponse,
        InitProducerIdRequest / InitProducerIdResponse,
        OffsetForLeaderEpochRequest / OffsetForLeaderEpochResponse,
        AddPartitionsToTxnRequest / AddPartitionsToTxnResponse,
        AddOffsetsToTxnRequest / AddOffsetsToTxnResponse,
        EndTxnRequest / EndTxnResponse,
        TxnOffsetCommitRequest / TxnOffsetCommitResponse,
        SaslAuthenticateRequest / SaslAuthenticateResponse,
        CreatePartitionsRequest / CreatePartitionsResponse,
        DeleteGroupsRequest / DeleteGroupsResponse,
        DescribeClusterRequest / DescribeClusterResponse,
        ConsumerGroupHeartbeatRequest / ConsumerGroupHeartbeatResponse,
        DescribeConfigsRequest / DescribeConfigsResponse,
        IncrementalAlterConfigsRequest / IncrementalAlterConfigsResponse,
        OffsetDeleteRequest / OffsetDeleteResponse,
    }

    let dir = corpus("record_batches");
    for (name, input) in record_batch_seeds() {
        fs::write(dir.join(format!("seed-{name}")), input).unwrap();
    }
}
