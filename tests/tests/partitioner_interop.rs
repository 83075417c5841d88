//! The partitioner against librdkafka's `murmur2_random` (the Java client's partitioner): for
//! 10,000 keys, produced by librdkafka (confluent-kafka) to tansu build W, dekaf picks the
//! partition librdkafka's delivery reports name.

use std::path::Path;
use std::process::Command;

use dekaf_state::producer::partition_for_key;
use dekaf_tests::{Broker, Build, Engine};
use serde_json::Value;

const KEYS: usize = 10_000;
const COUNTS: [usize; 2] = [7, 32];

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

#[test]
fn keys_land_where_librdkafka_puts_them() {
    let Some(broker) = Broker::start(Build::W, Engine::Memory) else {
        return;
    };
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/partition_keys.py");
    let out = Command::new("python3")
        .arg(&script)
        .args(["--bootstrap", &broker.addr().to_string()])
        .args(["--keys", &KEYS.to_string()])
        .arg("--partitions")
        .args(COUNTS.map(|c| c.to_string()))
        .output()
        .expect("run python3");
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        if stderr.contains("No module named 'confluent_kafka'") && std::env::var_os("CI").is_none()
        {
            println!("skipped: confluent-kafka is not installed");
            return;
        }
        panic!("{} failed: {}\n{stderr}", script.display(), out.status);
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    let report: Value = serde_json::from_str(stdout.lines().last().expect("a summary line"))
        .expect("a JSON summary");
    for count in COUNTS {
        let placed = report["topics"][count.to_string()]
            .as_array()
            .expect("the keys of a topic");
        assert_eq!(placed.len(), KEYS);
        let mut used = vec![0usize; count];
        for entry in placed {
            let key = hex(entry[0].as_str().unwrap());
            let theirs = entry[1].as_i64().unwrap() as i32;
            let ours = partition_for_key(&key, count).unwrap();
            assert_eq!(
                ours, theirs,
                "key {:?} with {count} partitions (librdkafka {})",
                entry[0], report["librdkafka"]
            );
            used[theirs as usize] += 1;
        }
        assert!(
            used.iter().all(|n| *n > 0),
            "every partition gets keys: {used:?}"
        );
    }
}
