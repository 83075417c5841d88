//! One test per code example of the offset-management guide, at the level of the offset
//! machine (no sockets): each is named after the guide's section.

use std::time::Duration;

use dekaf_state::offset::{
    CommitPolicy, Event, Intent, OffsetCommitMode, OffsetConfig, OffsetError, TopicPartitionOffset,
    TopicPartitionTimestamp,
};

use crate::harness::{commit_offsets, started, the_commit, tp, Cluster};

/// `await foreach (var msg in consumer.ConsumeAsync(ct)) ProcessMessage(msg);` in Auto mode:
/// offsets are committed every 5 s, and only for records the application has moved past.
#[test]
fn offset_commit_modes_auto_mode() {
    let mut cluster = Cluster::new(0, 1000);
    let mut sim = started(OffsetConfig::default(), &mut cluster, &[0]);
    assert_eq!(sim.m.config().commit_mode, OffsetCommitMode::Auto);
    // The loop: ask for the next record (releasing the previous one), then process it.
    for offset in 0..10 {
        sim.m.release(sim.now);
        sim.deliver(&tp(0), [offset]);
        sim.advance(Duration::from_millis(100));
    }
    // Record 9 is being processed: it is handed out but not released.
    assert_eq!(sim.position(0), Some(10));
    assert_eq!(sim.stored(0), Some(9));
    assert!(
        sim.serve(&mut cluster).is_empty(),
        "nothing before the interval"
    );
    sim.advance(Duration::from_secs(5));
    let served = sim.serve(&mut cluster);
    assert_eq!(commit_offsets(the_commit(&served)), [(0, 9)]);
    assert_eq!(sim.committed(0), Some(9));
    // A crash now redelivers record 9 (at-least-once), never skips it.
}

/// Manual mode: process first, then commit.
#[test]
fn offset_commit_modes_manual_mode() {
    let mut cluster = Cluster::new(0, 1000);
    let config = OffsetConfig::default().with_commit_mode(OffsetCommitMode::Manual);
    let mut sim = started(config, &mut cluster, &[0]);
    for offset in 0..3 {
        sim.m.release(sim.now);
        sim.deliver(&tp(0), [offset]);
        // ProcessMessageAsync(msg), then CommitAsync():
        let id = sim.m.commit(sim.now).unwrap();
        let served = sim.serve(&mut cluster);
        assert_eq!(commit_offsets(the_commit(&served)), [(0, offset + 1)]);
        assert_eq!(sim.commit_result(id), Some(Ok(())));
    }
    // Without a commit call, nothing is committed, however long we wait.
    sim.m.release(sim.now);
    sim.deliver(&tp(0), [3, 4]);
    sim.m.release(sim.now);
    sim.advance(Duration::from_secs(60));
    assert!(sim.serve(&mut cluster).is_empty());
    assert_eq!(sim.committed(0), Some(3));
    assert_eq!(sim.stored(0), Some(5));
}

/// `await consumer.CommitAsync();` commits the position of every assigned partition.
#[test]
fn committing_offsets_commit_all_consumed_offsets() {
    let mut cluster = Cluster::new(0, 1000);
    let config = OffsetConfig::default().with_commit_mode(OffsetCommitMode::Manual);
    let mut sim = started(config, &mut cluster, &[0, 1, 2]);
    sim.deliver(&tp(0), [0, 1, 2]);
    sim.deliver(&tp(1), [0]);
    // Partition 2 consumed nothing: its position (0) is committed too.
    let id = sim.m.commit(sim.now).unwrap();
    let served = sim.serve(&mut cluster);
    assert_eq!(
        commit_offsets(the_commit(&served)),
        [(0, 3), (1, 1), (2, 0)]
    );
    assert_eq!(sim.commit_result(id), Some(Ok(())));
    for p in 0..3 {
        assert_eq!(sim.committed(p), sim.position(p));
    }
}

/// `CommitAsync(new[] { new TopicPartitionOffset("my-topic", 0, 100), ... })` commits exactly
/// the given list, after validating it.
#[test]
fn committing_offsets_commit_specific_offsets() {
    let mut cluster = Cluster::new(0, 1000);
    let config = OffsetConfig::default().with_commit_mode(OffsetCommitMode::Manual);
    let mut sim = started(config, &mut cluster, &[0, 1, 2]);
    let id = sim
        .m
        .commit_offsets(
            sim.now,
            [
                TopicPartitionOffset::new("my-topic", 0, 100),
                TopicPartitionOffset::new("my-topic", 1, 50).with_metadata("batch 7"),
            ],
        )
        .unwrap();
    let served = sim.serve(&mut cluster);
    assert_eq!(commit_offsets(the_commit(&served)), [(0, 100), (1, 50)]);
    assert_eq!(sim.commit_result(id), Some(Ok(())));
    assert_eq!(
        sim.m.committed(&tp(1)).and_then(|c| c.metadata.as_deref()),
        Some("batch 7")
    );
    assert_eq!(sim.committed(2), None);

    let negative = sim
        .m
        .commit_offsets(sim.now, [TopicPartitionOffset::new("my-topic", 0, -1)]);
    assert!(matches!(negative, Err(OffsetError::NegativeOffset { .. })));
    let unassigned = sim
        .m
        .commit_offsets(sim.now, [TopicPartitionOffset::new("my-topic", 9, 1)]);
    assert_eq!(unassigned, Err(OffsetError::NotAssigned(tp(9))));
    assert!(
        sim.serve(&mut cluster).is_empty(),
        "refused calls send nothing"
    );
}

/// "Commit after each message": one commit (one round trip) per record, explicitly or by the
/// `EveryRecord` policy.
#[test]
fn commit_strategies_commit_after_each_message() {
    for explicit in [true, false] {
        let mut cluster = Cluster::new(0, 1000);
        let config = if explicit {
            OffsetConfig::default().with_commit_mode(OffsetCommitMode::Manual)
        } else {
            OffsetConfig::default().with_commit_policy(CommitPolicy::EveryRecord)
        };
        let mut sim = started(config, &mut cluster, &[0]);
        for offset in 0..5 {
            sim.m.release(sim.now);
            sim.deliver(&tp(0), [offset]);
            // ProcessAsync(msg), then CommitAsync() (the policy commits on the next ask).
            if explicit {
                sim.m.commit(sim.now).unwrap();
            }
            sim.serve(&mut cluster);
        }
        sim.m.release(sim.now);
        sim.serve(&mut cluster);
        let committed: Vec<i64> = cluster.commits.iter().map(|c| c[&tp(0)].offset).collect();
        assert_eq!(committed, [1, 2, 3, 4, 5], "explicit: {explicit}");
    }
}

/// "Commit in batches": one commit per 100 records, explicitly or by `EveryNRecords(100)`.
#[test]
fn commit_strategies_commit_in_batches() {
    for explicit in [true, false] {
        let mut cluster = Cluster::new(0, 1000);
        let config = if explicit {
            OffsetConfig::default().with_commit_mode(OffsetCommitMode::Manual)
        } else {
            OffsetConfig::default().with_commit_policy(CommitPolicy::EveryNRecords(100))
        };
        let mut sim = started(config, &mut cluster, &[0]);
        for batch in 0..3 {
            sim.m.release(sim.now); // asking for the next batch releases the previous one
            sim.deliver(&tp(0), batch * 100..(batch + 1) * 100);
            if explicit {
                sim.m.commit(sim.now).unwrap();
            }
            sim.serve(&mut cluster);
        }
        sim.m.release(sim.now);
        sim.serve(&mut cluster);
        let committed: Vec<i64> = cluster.commits.iter().map(|c| c[&tp(0)].offset).collect();
        assert_eq!(committed, [100, 200, 300], "explicit: {explicit}");
    }
}

/// "Commit periodically": at most one commit per interval, explicitly or by `Interval(5 s)`.
#[test]
fn commit_strategies_commit_periodically() {
    for explicit in [true, false] {
        let mut cluster = Cluster::new(0, 100_000);
        let interval = Duration::from_secs(5);
        let config = if explicit {
            OffsetConfig::default().with_commit_mode(OffsetCommitMode::Manual)
        } else {
            OffsetConfig::default().with_commit_policy(CommitPolicy::Interval(interval))
        };
        let mut sim = started(config, &mut cluster, &[0]);
        let mut last_commit = sim.now;
        // One record every 100 ms for 12 s.
        for offset in 0..120 {
            sim.m.release(sim.now);
            sim.deliver(&tp(0), [offset]);
            if explicit && sim.now - last_commit > interval {
                sim.m.commit(sim.now).unwrap();
                last_commit = sim.now;
            }
            sim.serve(&mut cluster);
            sim.advance(Duration::from_millis(100));
            sim.serve(&mut cluster);
        }
        assert_eq!(cluster.commits.len(), 2, "explicit: {explicit}");
    }
}

/// `GetCommittedOffsetAsync(tp)` asks the coordinator; `GetPosition(tp)` is local.
#[test]
fn checking_committed_offsets() {
    let mut cluster = Cluster::new(0, 1000);
    cluster
        .committed
        .insert(tp(0), dekaf_state::offset::OffsetAndMetadata::new(42));
    let mut sim = started(OffsetConfig::default(), &mut cluster, &[0]);
    assert_eq!(sim.position(0), Some(42));
    // Someone else commits 60 for the group; the cached value is 42 until asked.
    cluster
        .committed
        .insert(tp(0), dekaf_state::offset::OffsetAndMetadata::new(60));
    assert_eq!(sim.committed(0), Some(42));
    let query = sim.m.fetch_committed(sim.now, [tp(0)]).unwrap();
    sim.serve(&mut cluster);
    let answer = sim.take_events().into_iter().find_map(|e| match e {
        Event::Committed { query: q, result } if q == query => Some(result),
        _ => None,
    });
    let answer = answer.expect("answered").unwrap();
    assert_eq!(answer[0].1.as_ref().map(|c| c.offset), Some(60));
    assert_eq!(sim.committed(0), Some(60));
    assert_eq!(sim.position(0), Some(42), "looking up moves nothing");
    assert_eq!(sim.m.position(&tp(7)), None);
}

/// `Seek`, `SeekToBeginning` (the log start offset, not 0), `SeekToEnd`.
#[test]
fn seeking_to_offsets() {
    let mut cluster = Cluster::new(30, 1000);
    let mut sim = started(OffsetConfig::default(), &mut cluster, &[0]);
    sim.m
        .seek(sim.now, TopicPartitionOffset::new("my-topic", 0, 100))
        .unwrap();
    assert_eq!(sim.position(0), Some(100));
    assert_eq!(sim.m.fetch_position(&tp(0)).map(|p| p.offset), Some(100));

    sim.m.seek_to_beginning(sim.now, [tp(0)]).unwrap();
    assert_eq!(sim.position(0), None, "unknown until the broker answers");
    let served = sim.serve(&mut cluster);
    assert!(matches!(&served[..], [Intent::ListOffsets { .. }]));
    assert_eq!(sim.position(0), Some(30));

    sim.m.seek_to_end(sim.now, [tp(0)]).unwrap();
    sim.serve(&mut cluster);
    assert_eq!(sim.position(0), Some(1000));
}

/// `GetOffsetsForTimesAsync` then `Seek` to each offset found.
#[test]
fn seek_by_timestamp() {
    let mut cluster = Cluster::new(0, 1000);
    let mut sim = started(OffsetConfig::default(), &mut cluster, &[0, 1]);
    let query = sim
        .m
        .offsets_for_times(
            sim.now,
            [
                TopicPartitionTimestamp::new("my-topic", 0, 500_500),
                TopicPartitionTimestamp::new("my-topic", 1, 2_000_000),
            ],
        )
        .unwrap();
    sim.serve(&mut cluster);
    assert_eq!(sim.position(0), Some(0), "a query does not seek");
    let offsets = sim
        .take_events()
        .into_iter()
        .find_map(|e| match e {
            Event::OffsetsForTimes { query: q, result } if q == query => Some(result),
            _ => None,
        })
        .expect("answered")
        .unwrap();
    assert_eq!(offsets[0].1.map(|o| o.offset), Some(501));
    assert_eq!(offsets[1].1, None, "no record that recent");
    for (tp, offset) in offsets {
        if let Some(found) = offset {
            sim.m
                .seek(sim.now, TopicPartitionOffset::at(tp, found.offset))
                .unwrap();
        }
    }
    assert_eq!(sim.position(0), Some(501));
    // The one-step form: seek by time, to the end when no record is that recent.
    sim.m
        .seek_to_timestamp(
            sim.now,
            [TopicPartitionTimestamp::new("my-topic", 1, 2_000_000)],
        )
        .unwrap();
    sim.serve(&mut cluster);
    assert_eq!(sim.position(1), Some(1000));
}

/// The delivery-semantics table, made exact: sequential processing in Auto mode is
/// at-least-once; committing before processing is at-most-once.
#[test]
fn delivery_semantics() {
    // Auto mode, crash while processing record 4: the restarted consumer gets 4 again.
    let mut cluster = Cluster::new(0, 1000);
    let config = OffsetConfig::default().with_commit_policy(CommitPolicy::EveryRecord);
    let mut sim = started(config.clone(), &mut cluster, &[0]);
    for offset in 0..5 {
        sim.m.release(sim.now);
        sim.deliver(&tp(0), [offset]);
        sim.serve(&mut cluster);
    }
    drop(sim); // crash while processing 4
    let sim = started(config, &mut cluster, &[0]);
    assert_eq!(sim.position(0), Some(4), "redelivered, not lost");

    // Manual mode, commit before processing: a crash loses the record.
    let mut cluster = Cluster::new(0, 1000);
    let config = OffsetConfig::default().with_commit_mode(OffsetCommitMode::Manual);
    let mut sim = started(config.clone(), &mut cluster, &[0]);
    sim.deliver(&tp(0), [0]);
    sim.m.commit(sim.now).unwrap();
    sim.serve(&mut cluster);
    drop(sim); // crash before processing 0
    let sim = started(config, &mut cluster, &[0]);
    assert_eq!(sim.position(0), Some(1), "record 0 is never seen again");
}

/// "Handle rebalances": a commit refused by a rebalance says so, and the offsets are
/// committed again once the group settles.
#[test]
fn best_practices_handle_rebalances() {
    let mut cluster = Cluster::new(0, 1000);
    let mut sim = started(OffsetConfig::default(), &mut cluster, &[0]);
    sim.deliver(&tp(0), [0, 1, 2]);
    let id = sim.m.commit(sim.now).unwrap();
    let intents = sim.intents();
    let Intent::CommitOffsets { id: intent, .. } = the_commit(&intents) else {
        unreachable!()
    };
    sim.m.handle_commit_response(
        sim.now,
        *intent,
        [(tp(0), dekaf_proto::ErrorCode::REBALANCE_IN_PROGRESS)],
    );
    let error = sim.commit_result(id).unwrap().unwrap_err();
    assert!(error.is_rebalance());
    assert!(error.to_string().contains("rebalance"));
    assert_eq!(sim.stored(0), Some(3), "still stored");
    sim.advance(Duration::from_secs(10));
    assert!(
        sim.serve(&mut cluster).is_empty(),
        "nothing while rebalancing"
    );
    sim.m.handle_group_stable(sim.now);
    let served = sim.serve(&mut cluster);
    assert_eq!(commit_offsets(the_commit(&served)), [(0, 3)]);
    assert_eq!(sim.committed(0), Some(3));
}
