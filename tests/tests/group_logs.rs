//! Group events and commits leave debug lines that say what happened (join, sync, the
//! assignment, the generation, revocations, leaving; each commit's offsets, outcome and
//! latency), and nothing at the default levels. Consumers of one group run in virtual time
//! under a capturing subscriber.

use std::collections::BTreeSet;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use dekaf_proto::records::Compression;
use dekaf_sim::{Cluster, GroupSim};
use dekaf_state::consumer::{Consumer, ConsumerConfig};
use dekaf_state::offset::{AutoOffsetReset, OffsetCommitMode, TopicPartition};
use tracing::Level;

const TOPIC: &str = "orders";
const PARTITIONS: i32 = 4;

/// Log output, shared with the subscriber's writer.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        let mut buffer = self.0.lock().unwrap_or_else(|e| e.into_inner());
        buffer.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(|e| e.into_inner())).into_owned()
    }
}

fn all() -> BTreeSet<TopicPartition> {
    (0..PARTITIONS)
        .map(|p| TopicPartition::new(TOPIC, p))
        .collect()
}

fn consumer(now: std::time::Instant, seed: u64) -> Consumer {
    let config = ConsumerConfig::new()
        .with_group_id("g")
        .with_commit_mode(OffsetCommitMode::Manual)
        .with_auto_offset_reset(AutoOffsetReset::Earliest)
        .with_session_timeout(Duration::from_secs(6))
        .with_heartbeat_interval(Duration::from_secs(1))
        .with_seed(seed);
    let mut c = Consumer::new(config);
    c.subscribe(now, [TOPIC]).expect("subscribe");
    c
}

/// Two members share the topic, the first commits what it read, then a third joins (the
/// generation changes, partitions are revoked and handed over) and the first leaves.
fn a_group_life() {
    let mut cluster = Cluster::new(1, 3);
    cluster.create_topic(TOPIC, PARTITIONS);
    for p in 0..PARTITIONS {
        cluster.append(TOPIC, p, 10, Compression::None, None);
    }
    let mut sim = GroupSim::new(cluster, "g");
    for seed in [1, 2] {
        let now = sim.now;
        sim.add(consumer(now, seed));
    }
    sim.run_until(Duration::from_secs(60), |s| s.settled(&all()));
    sim.run_for(Duration::from_secs(2));
    let now = sim.now;
    sim.member(0).consumer.commit(now).expect("commit");
    sim.run_for(Duration::from_millis(500));
    let now = sim.now;
    sim.add(consumer(now, 3));
    sim.run_until(Duration::from_secs(60), |s| s.settled(&all()));
    sim.close(0);
    sim.run_until(Duration::from_secs(30), |s| s.members[0].is_none());
}

fn run_logged(level: Level) -> String {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(level)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    tracing::subscriber::with_default(subscriber, a_group_life);
    captured.text()
}

#[test]
fn group_events_and_commits_are_logged_at_debug() {
    let logged = run_logged(Level::DEBUG);
    for line in [
        "joining the group",
        "joined the group; syncing",
        "assignment received",
        "Revoked",
        "leaving the group",
        "commit requested",
        "OffsetCommit answered",
        "commit done",
    ] {
        assert!(logged.contains(line), "no {line:?} in the log:\n{logged}");
    }
    // The third member's join starts a new generation, which the members' lines name.
    assert!(
        logged.contains("previous_generation=1"),
        "no generation change in the log:\n{logged}"
    );
    // A commit's line carries its offsets and its latency.
    let answered = logged
        .lines()
        .find(|l| l.contains("OffsetCommit answered"))
        .expect("found above");
    assert!(
        answered.contains("orders-") && answered.contains("latency="),
        "{answered}"
    );
}

#[test]
fn group_events_and_commits_are_quiet_at_the_default_levels() {
    let logged = run_logged(Level::INFO);
    for line in [
        "joining the group",
        "assignment received",
        "commit requested",
    ] {
        assert!(!logged.contains(line), "{line:?} at INFO:\n{logged}");
    }
}
