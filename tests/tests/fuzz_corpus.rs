//! The fuzz corpora under `fuzz/corpus/<target>/` replayed through the same functions the
//! fuzz targets call, so every committed input is checked by `cargo test` on stable.
//!
//! `cargo test -p dekaf-tests --test fuzz_corpus -- --ignored write_seeds` rewrites the seed
//! inputs (files named `seed-*`) from valid messages and frames.

use std::fs;
use std::path::{Path, PathBuf};

use dekaf_proto::arbitrary::Arbitrary;
use dekaf_proto::frame::{begin_frame, end_frame};
use dekaf_proto::fuzz::{fuzz_frames, fuzz_request, fuzz_response, message_input};
use dekaf_proto::messages::{ApiVersionsRequest, ApiVersionsResponse};
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

/// Writes a default and two random values of `M` for every version as seed inputs.
fn message_seeds<M: Message + Arbitrary>(target: &str) {
    let dir = corpus(target);
    let mut runner = TestRunner::deterministic();
    for version in M::SPEC.min_version..=M::SPEC.max_version {
        let mut values = vec![M::default()];
        for _ in 0..2 {
            let tree = M::arbitrary(M::SPEC.cx(version))
                .new_tree(&mut runner)
                .unwrap();
            values.push(tree.current());
        }
        for (i, value) in values.iter().enumerate() {
            let body = value.to_bytes(version).unwrap();
            let name = format!("seed-{}-v{version}-{i}", M::SPEC.api_key.name());
            let input = message_input(M::SPEC.api_key, version, &body);
            fs::write(dir.join(name), input).unwrap();
        }
    }
}

#[test]
#[ignore = "rewrites the committed seed inputs"]
fn write_seeds() {
    for target in ["frame_splitter", "request", "response"] {
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

    // Messages: one line per request and response type.
    message_seeds::<ApiVersionsRequest>("request");
    message_seeds::<ApiVersionsResponse>("response");
}
