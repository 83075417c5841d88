//! The faults of the answer path and of brokers, each alone in a whole run of a consumer
//! group: every invariant must hold.

use std::time::Duration;

use dekaf_sim::world::{self, Op, Protocol, Schedule, Setup};
use dekaf_sim::Faults;
use dekaf_state::offset::OffsetCommitMode;

fn schedule(seed: u64, protocol: Protocol, faults: Faults, ops: Vec<Op>) -> Schedule {
    Schedule {
        seed,
        setup: Setup {
            protocol,
            mode: OffsetCommitMode::Auto,
            static_members: false,
            latency: 2,
        },
        faults,
        ops,
    }
}

/// Members come and go while the faults are on; records keep arriving.
fn busy() -> Vec<Op> {
    vec![
        Op::Start,
        Op::Wait(30),
        Op::Append(5),
        Op::Start,
        Op::Wait(40),
        Op::Close(0),
        Op::Append(5),
        Op::Wait(60),
    ]
}

#[test]
fn a_group_loses_no_record_and_settles_while_each_broker_in_turn_goes_down() {
    for protocol in [Protocol::Eager, Protocol::Cooperative, Protocol::Consumer] {
        for broker in 0..3 {
            let ops = vec![
                Op::Start,
                Op::Wait(30),
                Op::BrokerDown(broker, 10),
                Op::Append(5),
                Op::Start,
                Op::BrokerDown(broker + 1, 3),
                Op::Wait(50),
            ];
            let report = world::run(&schedule(7, protocol, Faults::none(), ops), false);
            assert!(
                report.violations.is_empty(),
                "{protocol:?}, broker {broker}: {report}"
            );
        }
    }
}

#[test]
fn duplicated_answers_are_taken_once_and_break_no_invariant() {
    for (seed, protocol) in [
        (1, Protocol::Eager),
        (2, Protocol::Cooperative),
        (3, Protocol::Consumer),
    ] {
        let faults = Faults {
            duplicated_response: 0.2,
            ..Faults::none()
        };
        let report = world::run(&schedule(seed, protocol, faults, busy()), false);
        assert!(report.violations.is_empty(), "{protocol:?}: {report}");
    }
}

#[test]
fn delayed_answers_and_a_slow_coordinator_break_no_invariant() {
    for (seed, protocol) in [
        (4, Protocol::Eager),
        (5, Protocol::Cooperative),
        (6, Protocol::Consumer),
    ] {
        let faults = Faults {
            delayed_response: 0.1,
            slow_coordinator: Duration::from_millis(800),
            ..Faults::none()
        };
        let report = world::run(&schedule(seed, protocol, faults, busy()), false);
        assert!(report.violations.is_empty(), "{protocol:?}: {report}");
    }
}

#[test]
fn a_schedule_is_the_plain_one_of_its_seed_with_the_later_faults_on_top() {
    let with_brokers_down = (0..200)
        .map(Schedule::from_seed)
        .filter(|s| s.ops.iter().any(|op| matches!(op, Op::BrokerDown(..))))
        .count();
    assert!(with_brokers_down > 50, "{with_brokers_down} of 200");
    for seed in 0..200 {
        let plain = Schedule::from_seed_plain(seed);
        let extended = Schedule::from_seed(seed);
        assert_eq!(plain.setup, extended.setup);
        let without: Vec<&Op> = extended
            .ops
            .iter()
            .filter(|op| !matches!(op, Op::BrokerDown(..)))
            .collect();
        assert_eq!(without, plain.ops.iter().collect::<Vec<_>>(), "seed {seed}");
        assert!(plain.ops.iter().all(|op| !matches!(op, Op::BrokerDown(..))));
        assert_eq!(plain.faults.delayed_response, 0.0);
        assert_eq!(plain.faults.duplicated_response, 0.0);
    }
    // Delayed answers are drawn for groups of every protocol.
    let delayed = |protocol: Protocol| {
        (0..200)
            .map(Schedule::from_seed)
            .filter(|s| s.setup.protocol == protocol && s.faults.delayed_response > 0.0)
            .count()
    };
    for protocol in [Protocol::Eager, Protocol::Cooperative, Protocol::Consumer] {
        assert!(delayed(protocol) > 5, "{protocol:?}: {}", delayed(protocol));
    }
}
