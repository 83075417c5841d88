//! The commit lifecycle, transition by transition, in virtual time.

use std::time::Duration;

use dekaf_proto::ErrorCode;
use dekaf_state::offset::{
    Backoff, CommitError, CommitOrigin, Event, Fault, Intent, OffsetAndMetadata, OffsetCommitMode,
    OffsetConfig, OffsetError, TopicPartitionOffset,
};

use crate::harness::{commit_offsets, started, the_commit, tp, Cluster, Sim};

fn manual() -> OffsetConfig {
    OffsetConfig::default()
        .with_commit_mode(OffsetCommitMode::Manual)
        .with_retry_backoff(Backoff::fixed(
            Duration::from_millis(100),
            Duration::from_millis(400),
        ))
}

fn commit_intent(sim: &mut Sim) -> (dekaf_state::offset::IntentId, Vec<(i32, i64)>) {
    let intents = sim.intents();
    let intent = the_commit(&intents);
    (intent.id(), commit_offsets(intent))
}

#[test]
fn one_commit_in_flight_and_newer_commits_coalesce() {
    let mut cluster = Cluster::new(0, 1000);
    let mut sim = started(manual(), &mut cluster, &[0, 1]);
    sim.deliver(&tp(0), [0]);
    let first = sim.m.commit(sim.now).unwrap();
    let (in_flight, offsets) = commit_intent(&mut sim);
    assert_eq!(offsets, [(0, 1), (1, 0)]);
    assert_eq!(sim.m.commit_in_flight(&tp(0)).map(|o| o.offset), Some(1));

    // Two more commits while the first is in flight: queued, merged, not sent.
    sim.deliver(&tp(0), [1]);
    let second = sim.m.commit(sim.now).unwrap();
    sim.deliver(&tp(0), [2]);
    let third = sim
        .m
        .commit_offsets(sim.now, [TopicPartitionOffset::new("my-topic", 0, 3)])
        .unwrap();
    assert!(sim.intents().is_empty(), "one commit in flight at a time");

    sim.m.handle_commit_response(
        sim.now,
        in_flight,
        [(tp(0), ErrorCode::NONE), (tp(1), ErrorCode::NONE)],
    );
    assert_eq!(sim.commit_result(first), Some(Ok(())));
    assert_eq!(sim.committed(0), Some(1));
    let (merged, offsets) = commit_intent(&mut sim);
    assert_eq!(
        offsets,
        [(0, 3), (1, 0)],
        "the newer offset of partition 0 wins"
    );
    sim.m.handle_commit_response(
        sim.now,
        merged,
        [(tp(0), ErrorCode::NONE), (tp(1), ErrorCode::NONE)],
    );
    assert_eq!(sim.commit_result(second), Some(Ok(())));
    assert_eq!(sim.commit_result(third), Some(Ok(())));
    assert_eq!(sim.committed(0), Some(3));
}

#[test]
fn coalesced_commits_report_only_their_own_partitions() {
    let mut cluster = Cluster::new(0, 1000);
    let mut sim = started(manual(), &mut cluster, &[0, 1, 2]);
    let blocker = sim
        .m
        .commit_offsets(sim.now, [TopicPartitionOffset::new("my-topic", 2, 1)])
        .unwrap();
    let (blocker_intent, _) = commit_intent(&mut sim);
    let a = sim
        .m
        .commit_offsets(sim.now, [TopicPartitionOffset::new("my-topic", 0, 5)])
        .unwrap();
    let b = sim
        .m
        .commit_offsets(sim.now, [TopicPartitionOffset::new("my-topic", 1, 5)])
        .unwrap();
    sim.m
        .handle_commit_response(sim.now, blocker_intent, [(tp(2), ErrorCode::NONE)]);
    assert_eq!(sim.commit_result(blocker), Some(Ok(())));
    let (merged, offsets) = commit_intent(&mut sim);
    assert_eq!(offsets, [(0, 5), (1, 5)]);
    sim.m.handle_commit_response(
        sim.now,
        merged,
        [
            (tp(0), ErrorCode::NONE),
            (tp(1), ErrorCode::OFFSET_METADATA_TOO_LARGE),
        ],
    );
    assert_eq!(sim.commit_result(a), Some(Ok(())));
    let err = sim.commit_result(b).unwrap().unwrap_err();
    assert_eq!(err.partitions().len(), 1);
    assert_eq!(err.partitions()[0].partition, tp(1));
    assert_eq!(err.fault(), Fault::Broker);
    assert!(!err.is_retriable() && !err.is_rebalance());
    assert_eq!(sim.committed(0), Some(5));
    assert_eq!(sim.committed(1), None);
}

#[test]
fn an_older_answer_never_overwrites_a_newer_committed_offset() {
    let mut cluster = Cluster::new(0, 1000);
    let mut sim = started(manual(), &mut cluster, &[0]);
    // A committed-offsets lookup goes out first...
    let query = sim.m.fetch_committed(sim.now, [tp(0)]).unwrap();
    let lookup = sim.intents();
    // ...then a commit, which succeeds before the lookup's (older) answer arrives.
    sim.deliver(&tp(0), [0, 1, 2]);
    sim.m.commit(sim.now).unwrap();
    let (commit, _) = commit_intent(&mut sim);
    sim.m
        .handle_commit_response(sim.now, commit, [(tp(0), ErrorCode::NONE)]);
    assert_eq!(sim.committed(0), Some(3));
    sim.m
        .handle_committed_response(sim.now, lookup[0].id(), Ok(vec![(tp(0), Ok(None))]));
    assert_eq!(sim.committed(0), Some(3), "the older answer lost");
    // The query itself still reports what the broker said.
    let answered = sim.take_events().into_iter().any(|e| {
        matches!(e, Event::Committed { query: q, result: Ok(ref r) } if q == query && r[0].1.is_none())
    });
    assert!(answered);
}

#[test]
fn retriable_errors_retry_after_a_backoff_within_the_deadline() {
    let mut cluster = Cluster::new(0, 1000);
    let mut sim = started(manual(), &mut cluster, &[0]);
    sim.deliver(&tp(0), [0]);
    let id = sim.m.commit(sim.now).unwrap();
    let (intent, _) = commit_intent(&mut sim);
    sim.m
        .handle_commit_response(sim.now, intent, [(tp(0), ErrorCode::REQUEST_TIMED_OUT)]);
    assert_eq!(sim.commit_result(id), None);
    assert!(sim.intents().is_empty(), "not before the backoff");
    let retry_at = sim.m.poll_timeout().unwrap();
    assert_eq!(retry_at - sim.now, Duration::from_millis(100));
    sim.advance(Duration::from_millis(100));
    let (retry, offsets) = commit_intent(&mut sim);
    assert_eq!(offsets, [(0, 1)]);
    // The second failure waits twice as long.
    sim.m
        .handle_commit_response(sim.now, retry, [(tp(0), ErrorCode::REQUEST_TIMED_OUT)]);
    assert_eq!(
        sim.m.poll_timeout().unwrap() - sim.now,
        Duration::from_millis(200)
    );
    sim.advance(Duration::from_millis(200));
    let (retry, _) = commit_intent(&mut sim);
    sim.m
        .handle_commit_response(sim.now, retry, [(tp(0), ErrorCode::NONE)]);
    assert_eq!(sim.commit_result(id), Some(Ok(())));
}

#[test]
fn retries_end_at_the_deadline_with_a_timeout() {
    let mut cluster = Cluster::new(0, 1000);
    let config = manual().with_commit_timeout(Duration::from_secs(2));
    let mut sim = started(config, &mut cluster, &[0]);
    let id = sim.m.commit(sim.now).unwrap();
    for _ in 0..100 {
        let intents = sim.intents();
        if let Some(i) = intents
            .iter()
            .find(|i| matches!(i, Intent::CommitOffsets { .. }))
        {
            sim.m.handle_commit_response(
                sim.now,
                i.id(),
                [(tp(0), ErrorCode::COORDINATOR_LOAD_IN_PROGRESS)],
            );
        }
        if sim.commit_result(id).is_some() {
            break;
        }
        sim.advance(Duration::from_millis(50));
    }
    let err = sim.commit_result(id).unwrap().unwrap_err();
    assert_eq!(
        err,
        CommitError::Timeout {
            last_error: Some(ErrorCode::COORDINATOR_LOAD_IN_PROGRESS)
        }
    );
    assert!(err.is_retriable());
    assert_eq!(err.fault(), Fault::Transient);
    assert!(!sim.m.has_pending_commits());
}

#[test]
fn not_coordinator_finds_the_coordinator_again_then_retries() {
    let mut cluster = Cluster::new(0, 1000);
    let mut sim = started(manual(), &mut cluster, &[0]);
    assert_eq!(sim.m.coordinator(), Some(1));
    let id = sim.m.commit(sim.now).unwrap();
    let (intent, _) = commit_intent(&mut sim);
    sim.m
        .handle_commit_response(sim.now, intent, [(tp(0), ErrorCode::NOT_COORDINATOR)]);
    assert_eq!(sim.m.coordinator(), None);
    assert!(sim.m.needs_coordinator());
    let intents = sim.intents();
    assert!(
        matches!(&intents[..], [Intent::FindCoordinator { .. }]),
        "{intents:?}"
    );
    sim.m
        .handle_coordinator_response(sim.now, intents[0].id(), Ok(2));
    assert!(sim.intents().is_empty(), "the commit waits out its backoff");
    sim.advance(Duration::from_millis(100));
    let served = sim.serve(&mut cluster);
    assert_eq!(commit_offsets(the_commit(&served)), [(0, 0)]);
    assert_eq!(sim.commit_result(id), Some(Ok(())));
    assert_eq!(sim.m.coordinator(), Some(2));
}

#[test]
fn a_disconnect_rediscovers_and_resends() {
    let mut cluster = Cluster::new(0, 1000);
    let mut sim = started(manual(), &mut cluster, &[0]);
    let id = sim.m.commit(sim.now).unwrap();
    let (intent, _) = commit_intent(&mut sim);
    sim.m.handle_coordinator_disconnected(sim.now);
    // The driver may also report the request itself as failed: it changes nothing more.
    sim.m.handle_request_failed(sim.now, intent);
    let late = sim.now;
    sim.m
        .handle_commit_response(late, intent, [(tp(0), ErrorCode::NONE)]);
    assert_eq!(sim.commit_result(id), None, "a stale answer is ignored");
    sim.advance(Duration::from_millis(100));
    let served = sim.serve(&mut cluster);
    assert!(matches!(served[0], Intent::FindCoordinator { .. }));
    assert_eq!(sim.commit_result(id), Some(Ok(())));
}

#[test]
fn a_fatal_coordinator_lookup_fails_waiting_commits() {
    let mut sim = Sim::group(manual());
    sim.m.assign(sim.now, [tp(0)]).unwrap();
    let intents = sim.intents();
    sim.m.handle_coordinator_response(
        sim.now,
        intents[0].id(),
        Err(ErrorCode::GROUP_AUTHORIZATION_FAILED),
    );
    let events = sim.take_events();
    assert!(events
        .iter()
        .any(|e| matches!(e, Event::PositionFailed { .. })));
    let id = sim
        .m
        .commit_offsets(sim.now, [TopicPartitionOffset::new("my-topic", 0, 1)])
        .unwrap();
    let intents = sim.intents();
    assert!(matches!(&intents[..], [Intent::FindCoordinator { .. }]));
    sim.m.handle_coordinator_response(
        sim.now,
        intents[0].id(),
        Err(ErrorCode::GROUP_AUTHORIZATION_FAILED),
    );
    let err = sim.commit_result(id).unwrap().unwrap_err();
    assert_eq!(
        err,
        CommitError::Group(ErrorCode::GROUP_AUTHORIZATION_FAILED)
    );
    assert_eq!(err.fault(), Fault::Broker);
}

#[test]
fn rebalance_errors_keep_stored_offsets_and_recommit_after_the_group_settles() {
    let mut cluster = Cluster::new(0, 1000);
    let mut sim = started(OffsetConfig::default(), &mut cluster, &[0, 1]);
    sim.deliver(&tp(0), [0, 1]);
    sim.deliver(&tp(1), [0]);
    sim.m.release(sim.now);
    sim.advance(Duration::from_secs(5));
    let (intent, offsets) = commit_intent(&mut sim);
    assert_eq!(offsets, [(0, 2), (1, 1)]);
    for code in [
        ErrorCode::ILLEGAL_GENERATION,
        ErrorCode::UNKNOWN_MEMBER_ID,
        ErrorCode::FENCED_INSTANCE_ID,
        ErrorCode::FENCED_MEMBER_EPOCH,
        ErrorCode::STALE_MEMBER_EPOCH,
        ErrorCode::REBALANCE_IN_PROGRESS,
    ] {
        assert!(dekaf_state::offset::is_rebalance_code(code));
    }
    sim.m.handle_commit_response(
        sim.now,
        intent,
        [
            (tp(0), ErrorCode::ILLEGAL_GENERATION),
            (tp(1), ErrorCode::ILLEGAL_GENERATION),
        ],
    );
    let finished = sim.take_events();
    assert!(matches!(
        &finished[..],
        [Event::CommitFinished {
            origin: CommitOrigin::Auto,
            result: Err(CommitError::Rebalance(ErrorCode::ILLEGAL_GENERATION)),
            ..
        }]
    ));
    assert!(!sim.m.is_group_stable());
    assert_eq!((sim.stored(0), sim.stored(1)), (Some(2), Some(1)));
    // Explicit commits during the rebalance fail at once.
    let id = sim.m.commit(sim.now).unwrap();
    assert!(sim.commit_result(id).unwrap().unwrap_err().is_rebalance());
    sim.advance(Duration::from_secs(20));
    assert!(sim.intents().is_empty());
    // The new assignment keeps partition 0 only; then the group is stable.
    sim.m.assign(sim.now, [tp(0)]).unwrap();
    sim.m.handle_group_stable(sim.now);
    let served = sim.serve(&mut cluster);
    assert_eq!(commit_offsets(the_commit(&served)), [(0, 2)]);
}

#[test]
fn queued_commits_fail_when_the_group_starts_rebalancing() {
    let mut cluster = Cluster::new(0, 1000);
    let mut sim = started(manual(), &mut cluster, &[0]);
    let first = sim.m.commit(sim.now).unwrap();
    let (intent, _) = commit_intent(&mut sim);
    sim.deliver(&tp(0), [0]);
    let queued = sim.m.commit(sim.now).unwrap();
    sim.m.handle_group_unstable(sim.now);
    assert!(sim
        .commit_result(queued)
        .unwrap()
        .unwrap_err()
        .is_rebalance());
    // The one in flight still gets its answer.
    sim.m
        .handle_commit_response(sim.now, intent, [(tp(0), ErrorCode::NONE)]);
    assert_eq!(sim.commit_result(first), Some(Ok(())));
    assert_eq!(sim.stored(0), Some(1));
}

#[test]
fn a_commit_in_flight_when_the_group_rebalances_is_not_retried_in_the_next_generation() {
    let mut cluster = Cluster::new(0, 1000);
    let mut sim = started(manual(), &mut cluster, &[0, 1]);
    sim.deliver(&tp(0), [0, 1]);
    let id = sim.m.commit(sim.now).unwrap();
    let (intent, offsets) = commit_intent(&mut sim);
    assert_eq!(offsets, [(0, 2), (1, 0)]);
    // The group rebalances while the commit is on the way, then the request is lost.
    sim.m.handle_group_unstable(sim.now);
    sim.m.handle_request_failed(sim.now, intent);
    assert!(sim.commit_result(id).unwrap().unwrap_err().is_rebalance());
    // Partition 0 went to another member; the next generation commits nothing of it.
    sim.m.assign(sim.now, [tp(1)]).unwrap();
    sim.m.handle_group_stable(sim.now);
    sim.advance(Duration::from_secs(20));
    assert!(sim
        .intents()
        .iter()
        .all(|i| !matches!(i, Intent::CommitOffsets { .. })));
}

#[test]
fn a_commit_refused_for_a_stale_member_epoch_goes_again() {
    let mut cluster = Cluster::new(0, 1000);
    let mut sim = started(manual(), &mut cluster, &[0]);
    sim.deliver(&tp(0), [0, 1]);
    let id = sim.m.commit(sim.now).unwrap();
    let (intent, _) = commit_intent(&mut sim);
    // The member's epoch moved on while the commit was on the way; the group is still stable.
    sim.m
        .handle_commit_response(sim.now, intent, [(tp(0), ErrorCode::STALE_MEMBER_EPOCH)]);
    assert_eq!(sim.commit_result(id), None, "not finished: it goes again");
    sim.advance(Duration::from_millis(400));
    let (intent, offsets) = commit_intent(&mut sim);
    assert_eq!(offsets, [(0, 2)]);
    sim.m
        .handle_commit_response(sim.now, intent, [(tp(0), ErrorCode::NONE)]);
    assert_eq!(sim.commit_result(id), Some(Ok(())));
}

#[test]
fn auto_commits_carry_only_partitions_whose_stored_offset_moved() {
    let mut cluster = Cluster::new(0, 1000);
    let mut sim = started(OffsetConfig::default(), &mut cluster, &[0, 1]);
    sim.deliver(&tp(0), [0]);
    sim.deliver(&tp(1), [0]);
    sim.m.release(sim.now);
    sim.advance(Duration::from_secs(5));
    assert_eq!(
        commit_offsets(the_commit(&sim.serve(&mut cluster))),
        [(0, 1), (1, 1)]
    );
    sim.deliver(&tp(1), [1]);
    sim.m.release(sim.now);
    sim.advance(Duration::from_secs(5));
    assert_eq!(
        commit_offsets(the_commit(&sim.serve(&mut cluster))),
        [(1, 2)]
    );
    sim.advance(Duration::from_secs(5));
    assert!(
        sim.serve(&mut cluster).is_empty(),
        "nothing moved, nothing sent"
    );
}

#[test]
fn close_releases_and_commits_in_auto_mode() {
    let mut cluster = Cluster::new(0, 1000);
    let mut sim = started(OffsetConfig::default(), &mut cluster, &[0]);
    sim.deliver(&tp(0), [0, 1, 2]);
    let id = sim.m.close(sim.now).expect("a commit");
    assert!(sim.m.has_pending_commits());
    sim.serve(&mut cluster);
    assert_eq!(sim.commit_result(id), Some(Ok(())));
    assert_eq!(
        cluster.committed[&tp(0)],
        OffsetAndMetadata::new(3).with_leader_epoch(Some(0))
    );
    assert!(!sim.m.has_pending_commits());
    assert_eq!(sim.m.commit(sim.now), Err(OffsetError::Closed));
    assert_eq!(sim.m.close(sim.now), None);
}

#[test]
fn the_background_commit_leaves_out_the_record_being_processed() {
    let mut cluster = Cluster::new(0, 1000);
    let mut sim = started(OffsetConfig::default(), &mut cluster, &[0]);
    sim.deliver(&tp(0), [0, 1, 2]);
    sim.m.release(sim.now);
    // 3 is handed out and not yet released when the interval ends.
    sim.deliver(&tp(0), [3]);
    sim.advance(Duration::from_secs(5));
    assert_eq!(
        commit_offsets(the_commit(&sim.serve(&mut cluster))),
        [(0, 3)]
    );
}

#[test]
fn abandon_commits_only_what_was_released_before_the_last_records() {
    let mut cluster = Cluster::new(0, 1000);
    let mut sim = started(OffsetConfig::default(), &mut cluster, &[0]);
    sim.deliver(&tp(0), [0, 1]);
    sim.m.release(sim.now);
    // 2 and 3 are being processed when the application stops.
    sim.deliver(&tp(0), [2, 3]);
    let id = sim.m.abandon(sim.now).expect("a commit");
    sim.serve(&mut cluster);
    assert_eq!(sim.commit_result(id), Some(Ok(())));
    assert_eq!(cluster.committed[&tp(0)].offset, 2);
    assert_eq!(sim.m.commit(sim.now), Err(OffsetError::Closed));
    assert_eq!(sim.m.abandon(sim.now), None);
}

#[test]
fn close_in_manual_mode_commits_nothing() {
    let mut cluster = Cluster::new(0, 1000);
    let mut sim = started(manual(), &mut cluster, &[0]);
    sim.deliver(&tp(0), [0]);
    assert_eq!(sim.m.close(sim.now), None);
    assert!(sim.serve(&mut cluster).is_empty());
}

#[test]
fn commits_need_a_group() {
    let mut sim = Sim::new(OffsetConfig::default());
    sim.m.assign(sim.now, [tp(0)]).unwrap();
    assert_eq!(sim.m.commit(sim.now), Err(OffsetError::NoGroup));
    assert_eq!(
        sim.m.fetch_committed(sim.now, [tp(0)]),
        Err(OffsetError::NoGroup)
    );
    assert_eq!(OffsetError::NoGroup.fault(), Fault::Application);
}

#[test]
fn a_commit_of_nothing_finishes_at_once() {
    let mut sim = Sim::group(manual());
    let id = sim.m.commit(sim.now).unwrap();
    assert_eq!(sim.commit_result(id), Some(Ok(())));
    assert!(sim.intents().is_empty());
}

#[test]
fn duplicate_partitions_are_refused() {
    let mut cluster = Cluster::new(0, 1000);
    let mut sim = started(manual(), &mut cluster, &[0]);
    let twice = sim.m.commit_offsets(
        sim.now,
        [
            TopicPartitionOffset::new("my-topic", 0, 1),
            TopicPartitionOffset::new("my-topic", 0, 2),
        ],
    );
    assert_eq!(twice, Err(OffsetError::DuplicatePartition(tp(0))));
}

#[test]
fn commits_carry_the_leader_epoch_of_the_last_consumed_record() {
    let mut cluster = Cluster::new(0, 1000);
    let mut sim = started(manual(), &mut cluster, &[0]);
    let epoch = sim.m.fetch_epoch(&tp(0)).unwrap();
    sim.m.deliver(sim.now, &tp(0), epoch, 0, Some(3)).unwrap();
    sim.m.deliver(sim.now, &tp(0), epoch, 1, Some(4)).unwrap();
    sim.m.commit(sim.now).unwrap();
    let intents = sim.intents();
    let Intent::CommitOffsets { offsets, .. } = the_commit(&intents) else {
        unreachable!()
    };
    assert_eq!(offsets[0].offset.offset, 2);
    assert_eq!(offsets[0].offset.leader_epoch, Some(4));
}

/// As Kafka's clients: `commit_offsets` commits an offset beyond the position as given (the
/// offsets are the application's), while storing one beyond what was handed out is refused.
#[test]
fn commit_offsets_beyond_the_position_are_committed_as_given() {
    let mut cluster = Cluster::new(0, 1000);
    let mut sim = started(manual(), &mut cluster, &[0]);
    sim.deliver(&tp(0), [0]);
    let beyond = TopicPartitionOffset::new("my-topic", 0, 500);
    let id = sim.m.commit_offsets(sim.now, [beyond.clone()]).unwrap();
    let (in_flight, offsets) = commit_intent(&mut sim);
    assert_eq!(offsets, [(0, 500)]);
    sim.m
        .handle_commit_response(sim.now, in_flight, [(tp(0), ErrorCode::NONE)]);
    assert_eq!(sim.commit_result(id), Some(Ok(())));
    assert_eq!(sim.committed(0), Some(500));
    assert!(matches!(
        sim.m.store_offsets(sim.now, [beyond]),
        Err(OffsetError::NotConsumed { .. })
    ));
}
