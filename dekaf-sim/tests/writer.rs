//! The writers of the seeded world: an idempotent and a transactional producer against the
//! simulated cluster, and the checks of their promises, each shown to fail on a log or a read
//! that breaks it.

use std::collections::BTreeSet;
use std::time::Duration;

use bytes::Bytes;
use dekaf_sim::world::{self, Op, Protocol, Schedule, Setup};
use dekaf_sim::writer::Writer;
use dekaf_sim::{start, Cluster, Faults, Invariant};
use dekaf_state::offset::OffsetCommitMode;

const LATENCY: Duration = Duration::from_millis(2);

fn faults() -> Faults {
    Faults {
        disconnect: 0.02,
        lost_response: 0.05,
        leader_move: 0.02,
        ..Faults::none()
    }
}

/// Steps the writer every 10 ms until everything it was given is answered (at most 10 min).
fn drain(cluster: &mut Cluster, w: &mut Writer) {
    let mut now = start();
    let end = now + Duration::from_secs(600);
    while !w.is_answered() && now < end {
        w.step(cluster, now);
        now += Duration::from_millis(10);
    }
    // Nothing more after the faults: every command answered.
    cluster.faults = Faults::none();
    while !w.is_answered() && now < end + Duration::from_secs(600) {
        w.step(cluster, now);
        now += Duration::from_millis(10);
    }
}

fn invariants(v: &[dekaf_sim::Violation]) -> Vec<Invariant> {
    v.iter().map(|v| v.invariant).collect()
}

#[test]
fn an_idempotent_writer_under_faults_answers_every_send_once_and_writes_each_once_in_order() {
    for seed in 0..20 {
        let mut cluster = Cluster::new(3, seed);
        cluster.create_topic("t", 3);
        cluster.faults = faults();
        let mut w = Writer::new("t", 3, LATENCY, seed);
        w.send(start(), 200);
        w.flush(start());
        drain(&mut cluster, &mut w);
        assert!(w.is_answered(), "seed {seed}: {:?}", w.unanswered());
        assert!(w.violations.is_empty(), "seed {seed}: {:?}", w.violations);
        assert_eq!(w.check_logs(&cluster), vec![], "seed {seed}");
        let written: usize = (0..3)
            .map(|p| cluster.partition("t", p).records().len())
            .sum();
        assert_eq!(written, 200, "seed {seed}");
    }
}

#[test]
fn a_record_of_the_writer_written_twice_breaks_idempotent_no_duplicate() {
    let mut cluster = Cluster::new(1, 1);
    cluster.create_topic("t", 1);
    let mut w = Writer::new("t", 1, LATENCY, 1);
    w.send(start(), 3);
    drain(&mut cluster, &mut w);
    assert_eq!(w.check_logs(&cluster), vec![]);
    cluster.append_records("t", 0, [(None, Some(Bytes::from("w2")))]);
    assert_eq!(
        invariants(&w.check_logs(&cluster)),
        [Invariant::IdempotentNoDuplicate, Invariant::IdempotentOrder]
    );
}

#[test]
fn records_of_the_writer_out_of_send_order_break_idempotent_order() {
    let mut cluster = Cluster::new(1, 1);
    cluster.create_topic("t", 1);
    let w = Writer::new("t", 1, LATENCY, 1);
    cluster.append_records(
        "t",
        0,
        [
            (None, Some(Bytes::from("w1"))),
            (None, Some(Bytes::from("w0"))),
        ],
    );
    assert_eq!(
        invariants(&w.check_logs(&cluster)),
        [Invariant::IdempotentOrder]
    );
}

#[test]
fn a_send_without_its_outcome_breaks_answered_once() {
    let mut cluster = Cluster::new(1, 1);
    cluster.create_topic("t", 1);
    let mut w = Writer::new("t", 1, LATENCY, 1);
    w.send(start(), 2);
    // Never stepped: nothing answered.
    assert!(!w.is_answered());
    assert_eq!(invariants(&w.unanswered()), [Invariant::AnsweredOnce]);
}

#[test]
fn committed_transactions_are_read_whole_and_aborted_ones_not_at_all() {
    for seed in 0..20 {
        let mut cluster = Cluster::new(3, seed);
        cluster.create_topic("t", 3);
        cluster.faults = faults();
        let mut w = Writer::transactional("t", 3, LATENCY, seed);
        for i in 0..6 {
            w.transaction(5 + i, i % 3 != 2);
        }
        drain(&mut cluster, &mut w);
        assert!(w.is_answered(), "seed {seed}: {:?}", w.unanswered());
        assert!(w.violations.is_empty(), "seed {seed}: {:?}", w.violations);
        assert_eq!(w.check_logs(&cluster), vec![], "seed {seed}");
        // What a read_committed reader gets: the records of committed transactions.
        let read: BTreeSet<u64> = (0..3)
            .flat_map(|p| {
                let part = cluster.partition("t", p);
                part.committed_records()
                    .iter()
                    .filter_map(|r| w.number(r.value.as_ref()))
                    .collect::<Vec<_>>()
            })
            .collect();
        assert_eq!(w.check_reads(&read), vec![], "seed {seed}");
        assert!(!read.is_empty(), "seed {seed}: no transaction committed");
        // A reader that also saw the aborted records breaks the promise.
        let all: BTreeSet<u64> = (0..5 + 6 + 7 + 8 + 9 + 10).collect();
        assert!(
            invariants(&w.check_reads(&all)).contains(&Invariant::TransactionAllOrNothing),
            "seed {seed}"
        );
    }
}

#[test]
fn a_group_reading_committed_sees_the_writers_records_and_answers_its_commands_under_faults() {
    let schedule = Schedule {
        seed: 7,
        setup: Setup {
            protocol: Protocol::Cooperative,
            mode: OffsetCommitMode::Auto,
            static_members: false,
            latency: 2,
        },
        faults: faults(),
        ops: vec![
            Op::Produce(30, false),
            Op::Transaction(10, true),
            Op::Start,
            Op::Transaction(10, false),
            Op::Ask(0, 1),
            Op::Wait(20),
            Op::Ask(0, 0),
            Op::Ask(0, 2),
            Op::Start,
            Op::Ask(1, 3),
            Op::MoveLeader(1),
            Op::Produce(30, true),
            Op::Transaction(5, true),
            Op::Close(1),
            Op::Wait(50),
        ],
    };
    let report = world::run(&schedule, false);
    assert!(report.violations.is_empty(), "{report}");
}
