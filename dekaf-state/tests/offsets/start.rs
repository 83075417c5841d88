//! Starting positions after assignment, and resets.

use std::time::Duration;

use dekaf_proto::ErrorCode;
use dekaf_state::offset::{
    AutoOffsetReset, Backoff, EpochAnswer, Event, Intent, OffsetAndMetadata, OffsetConfig,
    OffsetSpec, PositionError, PositionState,
};

use crate::harness::{started, tp, Cluster, Sim};

fn config(reset: AutoOffsetReset) -> OffsetConfig {
    OffsetConfig::default()
        .with_auto_offset_reset(reset)
        .with_retry_backoff(Backoff::fixed(
            Duration::from_millis(100),
            Duration::from_secs(1),
        ))
}

#[test]
fn the_committed_offset_is_the_starting_position() {
    let mut cluster = Cluster::new(0, 1000);
    cluster
        .committed
        .insert(tp(0), OffsetAndMetadata::new(42).with_leader_epoch(Some(3)));
    let mut sim = Sim::group(config(AutoOffsetReset::Latest));
    sim.m.assign(sim.now, [tp(0)]).unwrap();
    assert_eq!(
        sim.m.position_state(&tp(0)),
        Some(PositionState::AwaitingCommitted)
    );
    assert_eq!(sim.m.fetchable().count(), 0);
    let served = sim.serve(&mut cluster);
    assert!(matches!(served[0], Intent::FindCoordinator { .. }));
    assert!(matches!(
        &served[1],
        Intent::FetchCommitted { partitions, require_stable: true, .. } if partitions == &[tp(0)]
    ));
    assert_eq!(served.len(), 2);
    let p = sim.m.position(&tp(0)).unwrap();
    assert_eq!((p.offset, p.leader_epoch), (42, Some(3)));
    assert_eq!(sim.committed(0), Some(42));
    assert_eq!(sim.m.fetchable().count(), 1);
}

#[test]
fn without_a_committed_offset_auto_offset_reset_decides() {
    for (reset, expected) in [
        (AutoOffsetReset::Earliest, Some(10)),
        (AutoOffsetReset::Latest, Some(1000)),
        (AutoOffsetReset::None, None),
    ] {
        let mut cluster = Cluster::new(10, 1000);
        let mut sim = Sim::group(config(reset));
        sim.m.assign(sim.now, [tp(0)]).unwrap();
        sim.serve(&mut cluster);
        assert_eq!(sim.position(0), expected, "{reset:?}");
        if reset == AutoOffsetReset::None {
            let events = sim.take_events();
            assert_eq!(
                events,
                [Event::PositionFailed {
                    partition: tp(0),
                    error: PositionError::NoCommittedOffset
                }]
            );
            assert_eq!(sim.m.fetchable().count(), 0);
        }
    }
}

#[test]
fn without_a_group_partitions_reset_at_once() {
    let mut cluster = Cluster::new(10, 1000);
    let mut sim = Sim::new(config(AutoOffsetReset::Earliest));
    sim.m.assign(sim.now, [tp(0)]).unwrap();
    let served = sim.serve(&mut cluster);
    assert!(matches!(
        &served[..],
        [Intent::ListOffsets { partitions, .. }] if partitions == &[(tp(0), OffsetSpec::Earliest)]
    ));
    assert_eq!(sim.position(0), Some(10));
}

#[test]
fn committed_lookups_retry_and_find_a_moved_coordinator() {
    let mut cluster = Cluster::new(0, 1000);
    cluster.committed.insert(tp(0), OffsetAndMetadata::new(5));
    let mut sim = Sim::group(config(AutoOffsetReset::Latest));
    sim.m.assign(sim.now, [tp(0), tp(1)]).unwrap();
    let find = sim.intents();
    sim.m
        .handle_coordinator_response(sim.now, find[0].id(), Ok(1));
    let lookup = sim.intents();
    sim.m
        .handle_committed_response(sim.now, lookup[0].id(), Err(ErrorCode::NOT_COORDINATOR));
    assert_eq!(sim.m.coordinator(), None);
    sim.advance(Duration::from_millis(100));
    sim.serve(&mut cluster);
    assert_eq!(sim.position(0), Some(5));
    assert_eq!(sim.position(1), Some(1000));
}

#[test]
fn a_retriable_coordinator_lookup_error_backs_off() {
    let mut sim = Sim::group(config(AutoOffsetReset::Latest));
    sim.m.assign(sim.now, [tp(0)]).unwrap();
    let find = sim.intents();
    sim.m.handle_coordinator_response(
        sim.now,
        find[0].id(),
        Err(ErrorCode::COORDINATOR_NOT_AVAILABLE),
    );
    assert!(sim.intents().is_empty());
    assert_eq!(
        sim.m.poll_timeout(),
        Some(sim.now + Duration::from_millis(100))
    );
    sim.advance(Duration::from_millis(100));
    assert!(matches!(
        &sim.intents()[..],
        [Intent::FindCoordinator { .. }]
    ));
}

#[test]
fn a_fatal_committed_lookup_error_fails_the_partition() {
    let mut sim = Sim::group(config(AutoOffsetReset::Latest));
    sim.m.assign(sim.now, [tp(0), tp(1)]).unwrap();
    let find = sim.intents();
    sim.m
        .handle_coordinator_response(sim.now, find[0].id(), Ok(1));
    let lookup = sim.intents();
    sim.m.handle_committed_response(
        sim.now,
        lookup[0].id(),
        Ok(vec![
            (tp(0), Err(ErrorCode::TOPIC_AUTHORIZATION_FAILED)),
            (tp(1), Ok(Some(OffsetAndMetadata::new(9)))),
        ]),
    );
    assert_eq!(
        sim.m.position_state(&tp(0)),
        Some(PositionState::Failed(PositionError::Broker(
            ErrorCode::TOPIC_AUTHORIZATION_FAILED
        )))
    );
    assert_eq!(sim.position(1), Some(9));
}

#[test]
fn offset_out_of_range_resets_by_auto_offset_reset() {
    for reset in [AutoOffsetReset::Earliest, AutoOffsetReset::None] {
        let mut cluster = Cluster::new(0, 1000);
        cluster.committed.insert(tp(0), OffsetAndMetadata::new(5));
        let mut sim = Sim::group(config(reset));
        sim.m.assign(sim.now, [tp(0)]).unwrap();
        sim.serve(&mut cluster);
        assert_eq!(sim.position(0), Some(5));
        // Retention removed everything below 500.
        cluster.log_start = 500;
        let epoch = sim.m.fetch_epoch(&tp(0)).unwrap();
        assert!(sim
            .m
            .handle_fetch_error(sim.now, &tp(0), epoch, ErrorCode::OFFSET_OUT_OF_RANGE));
        assert!(!sim.m.is_wanted(&tp(0), epoch));
        sim.serve(&mut cluster);
        match reset {
            AutoOffsetReset::Earliest => assert_eq!(sim.position(0), Some(500)),
            _ => {
                assert_eq!(sim.position(0), None);
                assert!(sim.take_events().contains(&Event::PositionFailed {
                    partition: tp(0),
                    error: PositionError::OutOfRange { offset: 5 }
                }));
            }
        }
    }
}

#[test]
fn other_fetch_errors_are_left_to_the_driver() {
    let mut cluster = Cluster::new(0, 1000);
    let mut sim = started(OffsetConfig::default(), &mut cluster, &[0]);
    let epoch = sim.m.fetch_epoch(&tp(0)).unwrap();
    assert!(sim
        .m
        .handle_fetch_error(sim.now, &tp(0), epoch, ErrorCode::NOT_LEADER_OR_FOLLOWER));
    assert!(sim.m.is_wanted(&tp(0), epoch));
    assert_eq!(sim.position(0), Some(0));
}

#[test]
fn reassignment_keeps_kept_partitions_and_starts_new_ones_fresh() {
    let mut cluster = Cluster::new(0, 1000);
    let mut sim = started(OffsetConfig::default(), &mut cluster, &[0, 1]);
    sim.deliver(&tp(0), [0, 1]);
    sim.m.release(sim.now);
    let epoch1 = sim.m.fetch_epoch(&tp(1)).unwrap();
    // Auto mode commits what is stored before partitions go.
    let commit = sim.m.assign(sim.now, [tp(0)]).unwrap();
    assert!(commit.is_some());
    assert_eq!(sim.position(0), Some(2));
    assert_eq!(sim.position(1), None);
    sim.serve(&mut cluster);
    assert_eq!(sim.commit_result(commit.unwrap()), Some(Ok(())));
    sim.m.assign(sim.now, [tp(0), tp(1)]).unwrap();
    assert!(
        !sim.m.is_wanted(&tp(1), epoch1),
        "data from the earlier ownership is stale"
    );
    sim.serve(&mut cluster);
    assert_eq!(sim.position(1), Some(0), "its committed offset");
}

#[test]
fn unsettled_transactional_offsets_are_waited_out() {
    let mut sim = Sim::group(config(AutoOffsetReset::Latest));
    sim.m.assign(sim.now, [tp(0)]).unwrap();
    let find = sim.intents();
    sim.m
        .handle_coordinator_response(sim.now, find[0].id(), Ok(1));
    let lookup = sim.intents();
    sim.m.handle_committed_response(
        sim.now,
        lookup[0].id(),
        Ok(vec![(tp(0), Err(ErrorCode::UNSTABLE_OFFSET_COMMIT))]),
    );
    assert_eq!(
        sim.m.position_state(&tp(0)),
        Some(PositionState::AwaitingCommitted)
    );
    sim.advance(Duration::from_millis(100));
    let again = sim.intents();
    sim.m.handle_committed_response(
        sim.now,
        again[0].id(),
        Ok(vec![(tp(0), Ok(Some(OffsetAndMetadata::new(77))))]),
    );
    assert_eq!(sim.position(0), Some(77));
}

#[test]
fn fetch_responses_update_watermarks() {
    let mut cluster = Cluster::new(0, 1000);
    let mut sim = started(OffsetConfig::default(), &mut cluster, &[0]);
    let epoch = sim.m.fetch_epoch(&tp(0)).unwrap();
    let mut f = crate::harness::fetched(40, 900);
    f.last_stable_offset = Some(880);
    f.log_start_offset = Some(12);
    assert!(sim.m.handle_fetched(sim.now, &tp(0), epoch, f));
    assert_eq!(sim.m.high_watermark(&tp(0)), Some(900));
    assert_eq!(sim.m.last_stable_offset(&tp(0)), Some(880));
    assert_eq!(sim.m.log_start_offset(&tp(0)), Some(12));
    assert_eq!(sim.m.fetch_position(&tp(0)).map(|p| p.offset), Some(40));
    assert_eq!(sim.position(0), Some(0), "nothing handed out yet");
}

#[test]
fn a_paused_partition_waiting_to_retry_its_validation_does_not_keep_the_timer_due() {
    let mut cluster = Cluster::new(0, 1000);
    let mut sim = started(config(AutoOffsetReset::Earliest), &mut cluster, &[0]);
    sim.deliver(&tp(0), [0, 1]);
    // The leader changed; the new leader cannot answer yet, so the validation backs off.
    assert!(sim.m.await_validation(&tp(0)));
    let due = sim.m.validations_due(sim.now);
    let [(partition, epoch, position)] = due.as_slice() else {
        panic!("one validation due: {due:?}");
    };
    let answer = EpochAnswer::Failed(ErrorCode::NOT_LEADER_OR_FOLLOWER);
    sim.m
        .handle_validation(sim.now, partition, *epoch, *position, answer);
    sim.m.pause([tp(0)]).unwrap();
    // The backoff ends while the partition is paused: once handled, its time is not due
    // again (a driver would spin on it).
    sim.advance(Duration::from_secs(5));
    assert!(sim.m.poll_timeout().is_none_or(|t| t > sim.now));
    // Resumed, the partition asks again at once.
    sim.m.resume([tp(0)]).unwrap();
    assert_eq!(sim.m.validations_due(sim.now).len(), 1);
}
