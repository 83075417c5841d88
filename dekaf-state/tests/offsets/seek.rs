//! Seeks, resets and offsets-for-times queries.

use std::time::Duration;

use dekaf_proto::ErrorCode;
use dekaf_state::offset::{
    Backoff, Event, Intent, ListedOffset, LookupError, OffsetConfig, OffsetError, OffsetSpec,
    PositionState, TopicPartitionOffset, TopicPartitionTimestamp,
};

use crate::harness::{fetched, started, tp, Cluster};

fn listed(offset: i64) -> Result<ListedOffset, ErrorCode> {
    Ok(ListedOffset {
        offset,
        timestamp: -1,
        leader_epoch: Some(5),
    })
}

#[test]
fn a_seek_makes_buffered_and_in_flight_fetched_data_unwanted() {
    let mut cluster = Cluster::new(0, 1000);
    let mut sim = started(OffsetConfig::default(), &mut cluster, &[0]);
    let before = sim.m.fetch_epoch(&tp(0)).unwrap();
    assert!(sim
        .m
        .handle_fetched(sim.now, &tp(0), before, fetched(50, 1000)));
    assert_eq!(sim.m.fetch_position(&tp(0)).map(|f| f.offset), Some(50));
    assert_eq!(sim.m.high_watermark(&tp(0)), Some(1000));
    sim.deliver(&tp(0), [0, 1]);
    sim.m
        .seek(
            sim.now,
            TopicPartitionOffset::new("my-topic", 0, 500).with_leader_epoch(Some(2)),
        )
        .unwrap();
    assert!(
        !sim.m.is_wanted(&tp(0), before),
        "buffered records are dropped"
    );
    assert!(!sim
        .m
        .handle_fetched(sim.now, &tp(0), before, fetched(80, 1000)));
    assert!(!sim
        .m
        .handle_fetch_error(sim.now, &tp(0), before, ErrorCode::OFFSET_OUT_OF_RANGE));
    assert_eq!(sim.m.outstanding(), 0, "outstanding records are dropped");
    let f = sim.m.fetch_position(&tp(0)).unwrap();
    assert_eq!((f.offset, f.leader_epoch), (500, Some(2)));
    assert_eq!(sim.position(0), Some(500));
    let after = sim.m.fetch_epoch(&tp(0)).unwrap();
    assert_ne!(before, after);
    assert!(sim.m.is_wanted(&tp(0), after));
}

#[test]
fn a_seek_stores_nothing_until_records_from_there_are_acknowledged() {
    let mut cluster = Cluster::new(0, 1000);
    let mut sim = started(OffsetConfig::default(), &mut cluster, &[0]);
    sim.deliver(&tp(0), [0, 1, 2]);
    sim.m.release(sim.now);
    assert_eq!(sim.stored(0), Some(3));
    sim.m
        .seek(sim.now, TopicPartitionOffset::new("my-topic", 0, 1))
        .unwrap();
    assert_eq!(sim.stored(0), Some(3));
    sim.deliver(&tp(0), [1]);
    sim.m.release(sim.now);
    assert_eq!(
        sim.stored(0),
        Some(2),
        "after a seek back, the store follows"
    );
}

#[test]
fn seeks_are_validated() {
    let mut cluster = Cluster::new(0, 1000);
    let mut sim = started(OffsetConfig::default(), &mut cluster, &[0]);
    assert!(matches!(
        sim.m
            .seek(sim.now, TopicPartitionOffset::new("my-topic", 0, -5)),
        Err(OffsetError::NegativeOffset { offset: -5, .. })
    ));
    assert_eq!(
        sim.m.seek_to_end(sim.now, [tp(4)]),
        Err(OffsetError::NotAssigned(tp(4)))
    );
    assert!(matches!(
        sim.m
            .seek_to_timestamp(sim.now, [TopicPartitionTimestamp::new("my-topic", 0, -1)]),
        Err(OffsetError::NegativeTimestamp { .. })
    ));
    assert_eq!(sim.position(0), Some(0), "refused seeks change nothing");
}

#[test]
fn a_seek_overrides_a_pending_reset_whose_answer_then_is_ignored() {
    let mut cluster = Cluster::new(0, 1000);
    let mut sim = started(OffsetConfig::default(), &mut cluster, &[0]);
    sim.m.seek_to_end(sim.now, [tp(0)]).unwrap();
    assert_eq!(
        sim.m.position_state(&tp(0)),
        Some(PositionState::AwaitingReset(OffsetSpec::Latest))
    );
    let intents = sim.intents();
    sim.m
        .seek(sim.now, TopicPartitionOffset::new("my-topic", 0, 7))
        .unwrap();
    sim.m
        .handle_list_offsets_response(sim.now, intents[0].id(), [(tp(0), listed(1000))]);
    assert_eq!(sim.position(0), Some(7));
}

#[test]
fn reset_lookups_retry_and_split_answers_are_accepted() {
    let mut cluster = Cluster::new(0, 1000);
    let config = OffsetConfig::default().with_retry_backoff(Backoff::fixed(
        Duration::from_millis(100),
        Duration::from_secs(1),
    ));
    let mut sim = started(config, &mut cluster, &[0, 1, 2]);
    sim.m
        .seek_to_beginning(sim.now, [tp(0), tp(1), tp(2)])
        .unwrap();
    let intents = sim.intents();
    let [Intent::ListOffsets { id, partitions }] = &intents[..] else {
        panic!("{intents:?}")
    };
    assert_eq!(partitions.len(), 3);
    // Leader of 0 answers; leader of 1 says NOT_LEADER_OR_FOLLOWER; leader of 2 is unreachable.
    sim.m
        .handle_list_offsets_response(sim.now, *id, [(tp(0), listed(30))]);
    sim.m.handle_list_offsets_response(
        sim.now,
        *id,
        [(tp(1), Err(ErrorCode::NOT_LEADER_OR_FOLLOWER))],
    );
    sim.m.handle_request_failed(sim.now, *id);
    assert_eq!(sim.position(0), Some(30));
    assert_eq!(sim.m.position(&tp(0)).unwrap().leader_epoch, Some(5));
    assert!(sim.intents().is_empty(), "retries wait for the backoff");
    sim.advance(Duration::from_millis(100));
    let retry = sim.intents();
    let [Intent::ListOffsets { partitions, .. }] = &retry[..] else {
        panic!("{retry:?}")
    };
    assert_eq!(partitions.len(), 2);
    sim.m.handle_list_offsets_response(
        sim.now,
        retry[0].id(),
        [
            (tp(1), listed(31)),
            (tp(2), Err(ErrorCode::TOPIC_AUTHORIZATION_FAILED)),
        ],
    );
    assert_eq!(sim.position(1), Some(31));
    assert!(matches!(
        sim.m.position_state(&tp(2)),
        Some(PositionState::Failed(_))
    ));
    assert!(sim.take_events().iter().any(|e| matches!(
        e,
        Event::PositionFailed { partition, .. } if *partition == tp(2)
    )));
    assert_eq!(sim.m.fetchable().count(), 2);
}

#[test]
fn offsets_for_times_retry_then_time_out() {
    let mut cluster = Cluster::new(0, 1000);
    let config = OffsetConfig::default()
        .with_query_timeout(Duration::from_secs(1))
        .with_retry_backoff(Backoff::fixed(
            Duration::from_millis(300),
            Duration::from_millis(300),
        ));
    let mut sim = started(config, &mut cluster, &[0]);
    // Any partition may be queried, assigned or not.
    let query = sim
        .m
        .offsets_for_times(sim.now, [TopicPartitionTimestamp::new("other", 3, 5)])
        .unwrap();
    for _ in 0..10 {
        for intent in sim.intents() {
            let Intent::ListOffsets { id, partitions } = intent else {
                continue;
            };
            let [(p, OffsetSpec::Timestamp(5))] = &partitions[..] else {
                panic!("{partitions:?}")
            };
            sim.m.handle_list_offsets_response(
                sim.now,
                id,
                [(p.clone(), Err(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION))],
            );
        }
        sim.advance(Duration::from_millis(300));
    }
    let events = sim.take_events();
    let results: Vec<_> = events
        .iter()
        .filter(|e| matches!(e, Event::OffsetsForTimes { query: q, .. } if *q == query))
        .collect();
    assert_eq!(results.len(), 1, "exactly one outcome");
    assert!(matches!(
        results[0],
        Event::OffsetsForTimes {
            result: Err(LookupError::Timeout {
                last_error: Some(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION)
            }),
            ..
        }
    ));
}

#[test]
fn offsets_for_times_fail_on_a_fatal_partition_error() {
    let mut cluster = Cluster::new(0, 1000);
    let mut sim = started(OffsetConfig::default(), &mut cluster, &[0]);
    let query = sim
        .m
        .offsets_for_times(
            sim.now,
            [
                TopicPartitionTimestamp::new("my-topic", 0, 5),
                TopicPartitionTimestamp::new("my-topic", 1, 5),
            ],
        )
        .unwrap();
    let intents = sim.intents();
    sim.m.handle_list_offsets_response(
        sim.now,
        intents[0].id(),
        [
            (tp(0), listed(3)),
            (tp(1), Err(ErrorCode::TOPIC_AUTHORIZATION_FAILED)),
        ],
    );
    let events = sim.take_events();
    assert_eq!(
        events,
        [Event::OffsetsForTimes {
            query,
            result: Err(LookupError::Partition {
                partition: tp(1),
                code: ErrorCode::TOPIC_AUTHORIZATION_FAILED
            })
        }]
    );
    assert!(
        sim.m.poll_timeout().is_some_and(|t| t > sim.now),
        "nothing left due"
    );
}

#[test]
fn close_fails_open_queries() {
    let mut cluster = Cluster::new(0, 1000);
    let mut sim = started(OffsetConfig::default(), &mut cluster, &[0]);
    let query = sim.m.fetch_committed(sim.now, [tp(0)]).unwrap();
    sim.m.close(sim.now);
    assert!(sim.take_events().contains(&Event::Committed {
        query,
        result: Err(LookupError::Closed)
    }));
    assert!(sim.intents().is_empty());
}
