//! Handing records out, acknowledging them, storing offsets, backpressure.

use dekaf_state::offset::{
    AckMode, OffsetCommitMode, OffsetConfig, OffsetError, TopicPartitionOffset,
};

use crate::harness::{started, tp, Cluster};

fn manual() -> OffsetConfig {
    OffsetConfig::default().with_commit_mode(OffsetCommitMode::Manual)
}

#[test]
fn a_record_is_stored_only_once_the_next_one_is_asked_for() {
    let mut cluster = Cluster::new(0, 1000);
    let mut sim = started(manual(), &mut cluster, &[0]);
    sim.m.release(sim.now);
    sim.deliver(&tp(0), [0]);
    assert_eq!(sim.position(0), Some(1));
    assert_eq!(sim.stored(0), None, "handed out, not released");
    assert_eq!(sim.m.outstanding(), 1);
    sim.m.release(sim.now);
    assert_eq!(sim.stored(0), Some(1));
    assert_eq!(sim.m.outstanding(), 0);
}

#[test]
fn explicit_acks_in_any_order_commit_the_contiguous_prefix_across_gaps() {
    let mut cluster = Cluster::new(0, 1000);
    let mut sim = started(
        manual().with_ack_mode(AckMode::Explicit),
        &mut cluster,
        &[0],
    );
    // Offsets 3 and 6 do not exist (compaction, a transaction marker).
    sim.deliver(&tp(0), [0, 1, 2, 4, 5, 7]);
    sim.m.release(sim.now);
    assert_eq!(
        sim.m.outstanding(),
        6,
        "release acknowledges nothing in explicit mode"
    );
    sim.m.ack(sim.now, &tp(0), 4).unwrap();
    sim.m.ack(sim.now, &tp(0), 1).unwrap();
    assert_eq!(sim.m.committable(&tp(0)).map(|c| c.offset), Some(0));
    assert_eq!(sim.stored(0), None, "0 is outstanding: nothing to store");
    sim.m.ack(sim.now, &tp(0), 0).unwrap();
    assert_eq!(sim.stored(0), Some(2));
    sim.m.ack(sim.now, &tp(0), 2).unwrap();
    assert_eq!(sim.stored(0), Some(5), "3 never existed, 4 is acknowledged");
    sim.m.ack(sim.now, &tp(0), 7).unwrap();
    assert_eq!(sim.stored(0), Some(5));
    sim.m.ack(sim.now, &tp(0), 5).unwrap();
    assert_eq!(sim.stored(0), Some(8));
    assert_eq!(
        sim.m.ack(sim.now, &tp(0), 5),
        Err(OffsetError::NotOutstanding {
            partition: tp(0),
            offset: 5
        })
    );
    // Commit all consumed, in explicit mode, is the acknowledged prefix.
    sim.deliver(&tp(0), [8, 9]);
    sim.m.ack(sim.now, &tp(0), 9).unwrap();
    sim.m.commit(sim.now).unwrap();
    let served = sim.serve(&mut cluster);
    assert_eq!(
        crate::harness::commit_offsets(crate::harness::the_commit(&served)),
        [(0, 8)]
    );
}

#[test]
fn the_outstanding_cap_applies_backpressure() {
    let mut cluster = Cluster::new(0, 1000);
    let config = manual()
        .with_ack_mode(AckMode::Explicit)
        .with_max_outstanding(3);
    let mut sim = started(config, &mut cluster, &[0, 1]);
    sim.deliver(&tp(0), [0, 1]);
    sim.deliver(&tp(1), [0]);
    assert_eq!(sim.m.delivery_capacity(), 0);
    let epoch = sim.m.fetch_epoch(&tp(1)).unwrap();
    assert_eq!(
        sim.m.deliver(sim.now, &tp(1), epoch, 1, None),
        Err(OffsetError::Backpressure { limit: 3 })
    );
    assert_eq!(
        sim.position(1),
        Some(1),
        "a refused record is not handed out"
    );
    sim.m.ack(sim.now, &tp(0), 1).unwrap();
    assert_eq!(sim.m.delivery_capacity(), 1);
    sim.m.deliver(sim.now, &tp(1), epoch, 1, None).unwrap();
    // Forgetting a partition frees its records.
    sim.m.assign(sim.now, [tp(1)]).unwrap();
    assert_eq!(sim.m.outstanding(), 2);
}

#[test]
fn explicit_stores() {
    let mut cluster = Cluster::new(0, 1000);
    let mut sim = started(manual().with_auto_store(false), &mut cluster, &[0, 1]);
    sim.deliver(&tp(0), [0, 1, 2]);
    sim.m.release(sim.now);
    assert_eq!(sim.stored(0), None, "no automatic store");
    sim.m.store(sim.now, &tp(0), 1, Some(0)).unwrap();
    assert_eq!(sim.stored(0), Some(2));
    assert_eq!(
        sim.m.store(sim.now, &tp(0), 3, None),
        Err(OffsetError::NotConsumed {
            partition: tp(0),
            offset: 4,
            position: Some(3)
        })
    );
    let err = sim
        .m
        .store_offsets(sim.now, [TopicPartitionOffset::new("my-topic", 1, 1)])
        .unwrap_err();
    assert!(matches!(err, OffsetError::NotConsumed { .. }), "{err}");
    sim.m
        .store_offsets(
            sim.now,
            [TopicPartitionOffset::new("my-topic", 0, 3).with_metadata("m")],
        )
        .unwrap();
    assert_eq!(
        sim.m.stored(&tp(0)).and_then(|s| s.metadata.as_deref()),
        Some("m")
    );
    assert_eq!(
        sim.m
            .store_offsets(sim.now, [TopicPartitionOffset::new("my-topic", 5, 0)]),
        Err(OffsetError::NotAssigned(tp(5)))
    );
}

#[test]
fn skipped_offsets_move_the_position_and_the_stored_offset() {
    let mut cluster = Cluster::new(0, 1000);
    let mut sim = started(manual(), &mut cluster, &[0]);
    let epoch = sim.m.fetch_epoch(&tp(0)).unwrap();
    sim.deliver(&tp(0), [0, 1]);
    // 2 is a commit marker: skipped, never handed out.
    sim.m.advance(sim.now, &tp(0), epoch, 3).unwrap();
    assert_eq!(sim.position(0), Some(3));
    assert_eq!(sim.stored(0), None, "0 and 1 are still outstanding");
    sim.m.release(sim.now);
    assert_eq!(sim.stored(0), Some(3));
    sim.m.advance(sim.now, &tp(0), epoch, 5).unwrap();
    assert_eq!(
        sim.stored(0),
        Some(5),
        "nothing outstanding: the skip is stored at once"
    );
}

#[test]
fn records_are_handed_out_in_order_from_current_data_only() {
    let mut cluster = Cluster::new(0, 1000);
    let mut sim = started(manual(), &mut cluster, &[0]);
    let epoch = sim.m.fetch_epoch(&tp(0)).unwrap();
    sim.deliver(&tp(0), [0, 1]);
    assert!(matches!(
        sim.m.deliver(sim.now, &tp(0), epoch, 1, None),
        Err(OffsetError::OutOfOrder {
            offset: 1,
            position: 2,
            ..
        })
    ));
    sim.m
        .seek(sim.now, TopicPartitionOffset::new("my-topic", 0, 10))
        .unwrap();
    assert_eq!(
        sim.m.deliver(sim.now, &tp(0), epoch, 10, None),
        Err(OffsetError::StaleFetch(tp(0)))
    );
    assert_eq!(
        sim.m.deliver(sim.now, &tp(9), epoch, 10, None),
        Err(OffsetError::NotAssigned(tp(9)))
    );
}

#[test]
fn pause_and_resume() {
    let mut cluster = Cluster::new(0, 1000);
    let mut sim = started(manual(), &mut cluster, &[0, 1]);
    sim.m.pause([tp(0)]).unwrap();
    assert!(sim.m.is_paused(&tp(0)));
    assert_eq!(sim.m.fetchable().cloned().collect::<Vec<_>>(), [tp(1)]);
    let epoch = sim.m.fetch_epoch(&tp(0)).unwrap();
    assert!(
        sim.m.is_wanted(&tp(0), epoch),
        "buffered data of a paused partition is kept"
    );
    sim.m.resume([tp(0)]).unwrap();
    assert_eq!(sim.m.fetchable().count(), 2);
    assert_eq!(sim.m.pause([tp(3)]), Err(OffsetError::NotAssigned(tp(3))));
}

#[test]
fn every_n_records_counts_explicit_acks_and_stores() {
    use dekaf_state::offset::CommitPolicy;
    let mut cluster = Cluster::new(0, 1000);
    let config = OffsetConfig::default()
        .with_ack_mode(AckMode::Explicit)
        .with_commit_policy(CommitPolicy::EveryNRecords(3));
    let mut sim = started(config, &mut cluster, &[0]);
    sim.deliver(&tp(0), [0, 1, 2, 3]);
    sim.m.ack(sim.now, &tp(0), 1).unwrap();
    sim.m.ack(sim.now, &tp(0), 2).unwrap();
    sim.m.ack(sim.now, &tp(0), 3).unwrap();
    // Three acks, but the prefix is stuck at 0: nothing new to commit yet.
    assert!(
        sim.serve(&mut cluster).is_empty() || cluster.commits.iter().all(|c| c[&tp(0)].offset == 0)
    );
    sim.m.ack(sim.now, &tp(0), 0).unwrap();
    sim.serve(&mut cluster);
    assert_eq!(cluster.commits.last().map(|c| c[&tp(0)].offset), Some(4));
}
