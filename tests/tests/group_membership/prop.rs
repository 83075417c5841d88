//! Random runs: members join, close, crash, come back, stall, revoke slowly, topics grow;
//! the invariants are checked after every step, and the group must settle afterwards.

use std::time::Duration;

use proptest::prelude::*;

use super::sim::{Setup, World};

#[derive(Clone, Debug)]
enum Op {
    /// Let time pass (tenths of a second).
    Wait(u16),
    Start(usize),
    Close(usize),
    Crash(usize),
    /// The application stops polling for this many seconds.
    Stall(usize, u8),
    /// The application's next revoke callbacks take this many seconds.
    SlowRevoke(usize, u8),
    Grow(usize),
    Rejoin(usize),
    /// The network between a member and the coordinator fails for this many seconds.
    Disconnect(usize, u8),
}

const SLOTS: usize = 4;
const TOPICS: [&str; 2] = ["t1", "t2"];

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (1u16..200).prop_map(Op::Wait),
        3 => (0..SLOTS).prop_map(Op::Start),
        1 => (0..SLOTS).prop_map(Op::Close),
        1 => (0..SLOTS).prop_map(Op::Crash),
        1 => ((0..SLOTS), 1u8..60).prop_map(|(s, d)| Op::Stall(s, d)),
        1 => ((0..SLOTS), 1u8..50).prop_map(|(s, d)| Op::SlowRevoke(s, d)),
        1 => (0..TOPICS.len()).prop_map(Op::Grow),
        1 => (0..SLOTS).prop_map(Op::Rejoin),
        1 => ((0..SLOTS), 1u8..30).prop_map(|(s, d)| Op::Disconnect(s, d)),
    ]
}

fn setup() -> impl Strategy<Value = Setup> {
    (
        prop_oneof![
            Just(vec!["range"]),
            Just(vec!["roundrobin"]),
            Just(vec!["cooperative-sticky"]),
            Just(vec!["range", "cooperative-sticky"]),
        ],
        any::<bool>(),
        any::<bool>(),
        prop_oneof![Just(Duration::ZERO), Just(Duration::from_secs(3))],
    )
        .prop_map(
            |(assignors, static_members, pattern, initial_delay)| Setup {
                assignors,
                static_members,
                pattern,
                initial_delay,
                ..Setup::default()
            },
        )
}

fn run(setup: Setup, ops: &[Op], seed: u64) {
    let static_members = setup.static_members;
    let mut w = World::new(setup, SLOTS, &[("t1", 3), ("t2", 2)], seed);
    w.start(0);
    // Slots whose process crashed and has not started again.
    let mut down = std::collections::BTreeSet::new();
    for op in ops {
        match *op {
            Op::Wait(t) => w.run_for(Duration::from_millis(u64::from(t) * 100)),
            Op::Start(s) => {
                if w.consumer(s).is_some_and(|c| c.group.is_closed()) {
                    w.crash(s);
                }
                down.remove(&s);
                w.start(s)
            }
            Op::Close(s) => w.close(s),
            Op::Crash(s) => {
                down.insert(s);
                w.crash(s)
            }
            // A static leader that comes back within its session is not given the members'
            // subscriptions (the coordinator keeps the assignment: JoinGroup's
            // skip_assignment), so it cannot tell that a topic grew while it was down; the
            // group sees the new partitions only at its next rebalance. Java's consumer does
            // the same (KIP-814). Topics do not grow while a static member is down here.
            Op::Grow(_) if static_members && !down.is_empty() => {}
            Op::Stall(s, secs) => {
                if let Some(c) = w.consumer(s) {
                    c.polling = false;
                }
                w.run_for(Duration::from_secs(u64::from(secs)));
                if let Some(c) = w.consumer(s) {
                    c.polling = true;
                }
            }
            Op::SlowRevoke(s, secs) => {
                if let Some(c) = w.consumer(s) {
                    c.revoke_delay = Duration::from_secs(u64::from(secs));
                }
            }
            Op::Grow(t) => w.grow(TOPICS[t]),
            Op::Disconnect(s, secs) => {
                w.disconnect(s);
                w.run_for(Duration::from_secs(u64::from(secs)));
                w.reconnect(s);
            }
            Op::Rejoin(s) => {
                let now = w.now;
                if let Some(c) = w.consumer(s) {
                    c.group.rejoin(now);
                }
            }
        }
        w.run_for(Duration::from_millis(10));
    }
    w.settle(Duration::from_secs(600));
}

fn consumer_setup() -> impl Strategy<Value = Setup> {
    (
        any::<bool>(),
        any::<bool>(),
        prop_oneof![Just(2u64), Just(150)],
    )
        .prop_map(|(static_members, pattern, latency)| Setup {
            consumer_protocol: true,
            static_members,
            pattern,
            // A slow network makes commits race epoch changes (STALE_MEMBER_EPOCH).
            latency: Duration::from_millis(latency),
            ..Setup::default()
        })
}

/// Operations for the consumer protocol: no network cuts, since a member of that protocol has
/// no session check of its own and keeps its partitions while cut off (Kafka's zombie case).
fn consumer_op() -> impl Strategy<Value = Op> {
    op().prop_filter("no network cuts", |o| !matches!(o, Op::Disconnect(..)))
}

/// Fixed, so that every run checks the same cases (see `regression_*` below);
/// `DEKAF_SIM_SEED=n` explores others.
fn rng_seed() -> proptest::test_runner::RngSeed {
    let seed = std::env::var("DEKAF_SIM_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1);
    proptest::test_runner::RngSeed::Fixed(seed)
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 48,
        failure_persistence: None,
        rng_seed: rng_seed(),
        ..ProptestConfig::default()
    })]

    #[test]
    fn random_groups_never_share_a_partition_and_always_settle(
        setup in setup(),
        ops in proptest::collection::vec(op(), 1..25),
        seed in any::<u64>(),
    ) {
        run(setup, &ops, seed);
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 32,
        failure_persistence: None,
        rng_seed: rng_seed(),
        ..ProptestConfig::default()
    })]

    #[test]
    fn random_consumer_protocol_groups_never_share_a_partition_and_always_settle(
        setup in consumer_setup(),
        ops in proptest::collection::vec(consumer_op(), 1..25),
        seed in any::<u64>(),
    ) {
        run(setup, &ops, seed);
    }
}

/// Found by the random runs: a cooperative member closes while another crashes right after
/// starting again; the group must still settle with commits flowing.
#[test]
fn regression_cooperative_close_then_crash() {
    let setup = Setup {
        assignors: vec!["cooperative-sticky"],
        ..Setup::default()
    };
    let ops = [
        Op::Wait(1),
        Op::Wait(1),
        Op::Wait(1),
        Op::Wait(1),
        Op::Start(1),
        Op::Close(0),
        Op::Close(2),
        Op::Start(0),
        Op::Crash(0),
    ];
    run(setup, &ops, 6);
}

/// Found by the random runs: with the consumer protocol, a member whose revoke callback runs
/// past its rebalance timeout is removed by the coordinator while the callback still runs.
#[test]
fn regression_consumer_protocol_revoke_past_the_rebalance_timeout() {
    let setup = Setup {
        consumer_protocol: true,
        latency: Duration::from_millis(150),
        ..Setup::default()
    };
    let ops = [
        Op::Start(3),
        Op::Wait(13),
        Op::Start(1),
        Op::SlowRevoke(3, 30),
        Op::Wait(6),
    ];
    run(setup, &ops, 0);
}

/// Found by the random runs: with the consumer protocol, a revoke callback that returns just
/// as the rebalance timeout ends sends its commit, and learns it lost its partitions while the
/// commit is on the way; the coordinator refuses that commit.
#[test]
fn regression_consumer_protocol_commit_on_the_way_when_the_member_is_removed() {
    let setup = Setup {
        consumer_protocol: true,
        latency: Duration::from_millis(150),
        ..Setup::default()
    };
    let ops = [
        Op::Start(1),
        Op::SlowRevoke(1, 30),
        Op::Wait(30),
        Op::Wait(93),
        Op::Wait(75),
        Op::Start(2),
        Op::Wait(16),
    ];
    run(setup, &ops, 20);
}

/// Found by the random runs: a commit in flight when the member's session expired (cut off
/// from the coordinator) was lost on the way, and its retry went out in the member's next
/// generation, with partitions it no longer owned.
#[test]
fn regression_commit_retry_crosses_a_generation() {
    let setup = Setup {
        assignors: vec!["cooperative-sticky"],
        ..Setup::default()
    };
    let ops = [
        Op::Start(0),
        Op::Wait(111),
        Op::Start(2),
        Op::Wait(77),
        Op::Grow(0),
        Op::Stall(0, 1),
        Op::Disconnect(0, 12),
        Op::Start(0),
        Op::Wait(10),
        Op::Wait(48),
        Op::Grow(0),
        Op::Disconnect(2, 10),
    ];
    run(setup, &ops, 0);
}

/// Found by the random runs: a member revoking some partitions is closed while the commit of
/// that revocation is on the way; the rest is revoked too and waits for its own callback.
#[test]
fn regression_consumer_protocol_close_while_a_revocation_commits() {
    let setup = Setup {
        consumer_protocol: true,
        latency: Duration::from_millis(150),
        ..Setup::default()
    };
    let ops = [
        Op::Start(2),
        Op::Wait(4),
        Op::Wait(16),
        Op::Rejoin(0),
        Op::Start(1),
        Op::Wait(158),
        Op::Crash(0),
        Op::Wait(29),
        Op::Wait(1),
        Op::Wait(66),
        Op::Close(2),
    ];
    run(setup, &ops, 11321452145844072660);
}

/// Found by the random runs: with the consumer protocol, a member whose revocation is no
/// longer needed (the member that was to get the partitions left) gives up everything when its
/// callback outlasts the rebalance timeout; a commit it sent before, still accepted, is fine.
#[test]
fn regression_consumer_protocol_revocation_outlasts_the_rebalance_timeout_after_the_group_shrank() {
    let setup = Setup {
        consumer_protocol: true,
        latency: Duration::from_millis(150),
        ..Setup::default()
    };
    let ops = [
        Op::Wait(55),
        Op::SlowRevoke(0, 30),
        Op::Start(1),
        Op::Stall(1, 32),
    ];
    run(setup, &ops, 0);
}
