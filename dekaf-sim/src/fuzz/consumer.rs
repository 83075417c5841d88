//! The consumer under fuzzing: set up from the first bytes, then driven by the rest — the
//! application's commands, the clock, and the brokers' answers — with its promises checked
//! after every step.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use dekaf_proto::messages::RequestBody;
use dekaf_proto::ApiKey;

use super::broker::World;
use super::net::{Net, Stats, REQUEST_TIMEOUT};
use crate::log::{Record, Txn};
use dekaf_state::client::ClientMachine;
use dekaf_state::consumer::{
    Consumer, ConsumerConfig, ConsumerEvent, ConsumerRecord, IsolationLevel,
};
use dekaf_state::fuzz::Input;
use dekaf_state::group::{GroupEvent, GroupProtocol};
use dekaf_state::offset::{
    AckMode, AutoOffsetReset, CommitPolicy, Event, FetchEpoch, OffsetCommitMode, TopicPartition,
    TopicPartitionOffset, TopicPartitionTimestamp,
};

const TOPICS: [&str; 2] = ["fuzz-a", "fuzz-b"];

/// What the checks remember between steps.
#[derive(Default)]
struct Checks {
    read_committed: bool,
    /// Commits returned by commands, and every commit id that finished.
    commits: BTreeSet<u64>,
    finished_commits: BTreeSet<u64>,
    /// Query ids returned by commands, and those answered.
    queries: BTreeMap<u64, BTreeSet<TopicPartition>>,
    answered_queries: BTreeSet<u64>,
    watermarks: BTreeMap<u64, BTreeSet<TopicPartition>>,
    answered_watermarks: BTreeSet<u64>,
    /// Partitions revoked by the group and not assigned again since.
    revoked: BTreeSet<TopicPartition>,
    /// Partitions lost and not assigned again since (nor committed by the application).
    lost: BTreeSet<(String, i32)>,
    /// Each assigned partition's fetch epoch and position when last looked at.
    positions: BTreeMap<TopicPartition, (Option<FetchEpoch>, i64)>,
    /// The last records handed out (for `store` and `ack`).
    last: Vec<ConsumerRecord>,
}

fn config(input: &mut Input<'_>) -> ConsumerConfig {
    let a = input.byte();
    let b = input.byte();
    let mut config = ConsumerConfig::new()
        .with_group_id("fuzz-group")
        .with_seed(u64::from(input.byte()))
        .with_group_protocol(if a & 1 == 1 {
            GroupProtocol::Consumer
        } else {
            GroupProtocol::Classic
        })
        .with_commit_mode(if a & 2 == 2 {
            OffsetCommitMode::Manual
        } else {
            OffsetCommitMode::Auto
        })
        .with_isolation_level(if a & 4 == 4 {
            IsolationLevel::ReadCommitted
        } else {
            IsolationLevel::ReadUncommitted
        })
        .with_auto_offset_reset(match b % 3 {
            0 => AutoOffsetReset::Earliest,
            1 => AutoOffsetReset::Latest,
            _ => AutoOffsetReset::None,
        })
        .with_commit_policy(match (b / 3) % 4 {
            0 => CommitPolicy::Interval(Duration::from_secs(5)),
            1 => CommitPolicy::EveryRecord,
            2 => CommitPolicy::EveryNRecords(3),
            _ => CommitPolicy::Explicit,
        });
    if a & 32 == 32 {
        config = config.with_group_instance_id("fuzz-instance");
    }
    if a & 64 == 64 {
        config = config.with_ack_mode(AckMode::Explicit);
    }
    if a & 128 == 128 {
        config = config.with_max_buffered_bytes(256);
    }
    if b & 64 == 64 {
        config = config.with_max_outstanding(4);
    }
    if b & 128 == 128 {
        config = config
            .with_max_poll_interval(Duration::from_secs(20))
            .with_session_timeout(Duration::from_secs(10))
            .with_heartbeat_interval(Duration::from_secs(1));
    }
    config
}

/// Partitions the input picks among the assigned ones and the cluster's.
fn partitions(c: &Consumer, world: &World, input: &mut Input<'_>) -> Vec<TopicPartition> {
    let mut all: BTreeSet<TopicPartition> = c.assignment().into_iter().collect();
    for (t, n) in &world.topics {
        for p in 0..(*n).clamp(0, 4) {
            all.insert(TopicPartition::new(t.as_str(), p));
        }
    }
    let mask = input.byte();
    all.into_iter()
        .enumerate()
        .filter(|(i, _)| mask & (1 << (i % 8)) != 0)
        .map(|(_, tp)| tp)
        .collect()
}

/// Runs the consumer on `data`; panics when it breaks a promise.
pub(crate) fn run(data: &[u8]) -> Stats {
    let mut input = Input::new(data);
    let config = config(&mut input);
    let mode = input.byte();
    let counts = [
        i32::from(input.byte() % 4) + 1,
        i32::from(input.byte() % 4) + 1,
    ];
    let mut world = World::new(&[(TOPICS[0], counts[0]), (TOPICS[1], counts[1])]);
    // The one real clock reading: every later time is this plus virtual time.
    #[allow(clippy::disallowed_methods)]
    let start = Instant::now();
    let mut net = Net::new(&mut input, start);
    let max_outstanding = config.offsets.max_outstanding;
    let mut c = Consumer::new(config);
    let mut checks = Checks {
        read_committed: c.config().isolation_level == IsolationLevel::ReadCommitted,
        ..Checks::default()
    };
    let now = net.now;
    match mode % 4 {
        0 => {
            let _ = c.subscribe(now, [TOPICS[0]]);
        }
        1 => {
            let _ = c.subscribe(now, TOPICS);
        }
        2 => {
            let _ = c.subscribe_pattern(now, "fuzz-.*");
        }
        _ => {
            let tps = partitions(&c, &world, &mut input);
            let _ = c.assign(now, tps);
        }
    }
    while !input.is_empty() {
        let mut fired = false;
        match input.byte() {
            0..=127 => net.settle(&mut c, &mut world, &mut input),
            128..=167 => fired = net.advance(&mut c, &mut input),
            168..=199 => {
                let max = usize::from(input.byte() % 8) + 1;
                poll(&mut c, &mut checks, &world, &mut net.stats, net.now, max);
            }
            _ => command(&mut c, &mut net, &world, &mut checks, &mut input),
        }
        step(
            &mut c,
            &mut net,
            &mut checks,
            &mut input,
            fired,
            max_outstanding,
        );
    }
    drain(&mut c, &mut net, &mut world, &mut checks, max_outstanding);
    net.stats
}

/// Takes records as the application does, and checks what comes out.
fn poll(
    c: &mut Consumer,
    checks: &mut Checks,
    world: &World,
    stats: &mut Stats,
    now: Instant,
    max: usize,
) {
    let before: BTreeMap<TopicPartition, (Option<FetchEpoch>, Option<i64>)> = c
        .assignment()
        .into_iter()
        .map(|tp| {
            let state = (c.offsets().fetch_epoch(&tp), c.position(&tp));
            (tp, state)
        })
        .collect();
    let records = c.poll_records(now, max);
    assert!(records.len() <= max, "more records than asked for");
    let assigned: BTreeSet<TopicPartition> = c.assignment().into_iter().collect();
    let paused: BTreeSet<TopicPartition> = c.paused().into_iter().collect();
    let mut last: BTreeMap<&TopicPartition, i64> = BTreeMap::new();
    for r in &records {
        let tp = &r.topic_partition;
        assert!(
            assigned.contains(tp),
            "a record of {tp}, which is not assigned"
        );
        assert!(!paused.contains(tp), "a record of {tp}, which is paused");
        assert!(
            !checks.revoked.contains(tp),
            "a record of {tp}, which was revoked"
        );
        check_logged(world, checks.read_committed, r);
        if let Some(prev) = last.insert(tp, r.offset) {
            assert!(prev < r.offset, "{tp}: offset {} after {prev}", r.offset);
        }
        if let Some(p) = c.position(tp) {
            assert!(
                r.offset < p,
                "{tp}: handed out {} with position {p}",
                r.offset
            );
        }
        if let Some((epoch, Some(p))) = before.get(tp) {
            if *epoch == c.offsets().fetch_epoch(tp) {
                assert!(
                    r.offset >= *p,
                    "{tp}: handed out {} below position {p}",
                    r.offset
                );
            }
        }
    }
    stats.records += records.len();
    if !records.is_empty() {
        checks.last = records;
    }
}

/// A record handed out is the one its partition's log holds at its offset (unless the
/// partition was ever answered with raw bytes), and under read_committed it is not part of
/// an open or aborted transaction.
fn check_logged(world: &World, read_committed: bool, r: &ConsumerRecord) {
    let tp = &r.topic_partition;
    let key = (tp.topic().to_string(), tp.partition());
    if world.all_tainted || world.tainted.contains(&key) {
        return;
    }
    let held = world.logs.get(&key).and_then(|l| l.record_at(r.offset));
    let Some(Record {
        value: Some(value),
        txn,
        ..
    }) = held
    else {
        panic!(
            "{tp}: handed out offset {}, where the log holds no record",
            r.offset
        );
    };
    assert_eq!(
        r.value.as_ref(),
        Some(value),
        "{tp}: the record handed out at offset {} is not the log's",
        r.offset
    );
    if read_committed {
        assert!(
            matches!(txn, Txn::None | Txn::Committed),
            "{tp}: read_committed handed out offset {} of a transaction {txn:?}",
            r.offset
        );
    }
}

/// One application command, chosen by the input.
fn command(
    c: &mut Consumer,
    net: &mut Net,
    world: &World,
    checks: &mut Checks,
    input: &mut Input<'_>,
) {
    let now = net.now;
    match input.byte() {
        0..=39 => {
            if let Ok(id) = c.commit(now) {
                checks.commits.insert(id.get());
            }
        }
        40..=59 => {
            let offsets: Vec<TopicPartitionOffset> = partitions(c, world, input)
                .into_iter()
                .map(|tp| {
                    let offset = match c.position(&tp) {
                        Some(p) if input.bool() => p,
                        _ => input.i64_interesting(),
                    };
                    TopicPartitionOffset::at(tp, offset)
                })
                .collect();
            for o in &offsets {
                let tp = &o.topic_partition;
                checks
                    .lost
                    .remove(&(tp.topic().to_string(), tp.partition()));
            }
            if let Ok(id) = c.commit_offsets(now, offsets) {
                checks.commits.insert(id.get());
            }
        }
        60..=79 => {
            if let Some(tp) = partitions(c, world, input).into_iter().next() {
                let offset = input.i64_interesting();
                let epoch = input.bool().then(|| input.i32_interesting());
                let _ = c.seek(
                    now,
                    TopicPartitionOffset::at(tp, offset).with_leader_epoch(epoch),
                );
            }
        }
        80..=89 => {
            let _ = c.seek_to_beginning(now, partitions(c, world, input));
        }
        90..=99 => {
            let _ = c.seek_to_end(now, partitions(c, world, input));
        }
        100..=109 => {
            let ts = 1_700_000_000_000 + i64::from(input.u16());
            let times: Vec<TopicPartitionTimestamp> = partitions(c, world, input)
                .into_iter()
                .map(|tp| TopicPartitionTimestamp::new(tp.topic_arc().clone(), tp.partition(), ts))
                .collect();
            let _ = c.seek_to_timestamp(now, times);
        }
        110..=124 => {
            let _ = c.pause(partitions(c, world, input));
        }
        125..=139 => {
            let _ = c.resume(partitions(c, world, input));
        }
        140..=144 => {
            let topics: Vec<&str> = TOPICS.into_iter().filter(|_| input.bool()).collect();
            let _ = c.subscribe(now, topics);
        }
        145..=147 => c.unsubscribe(now),
        148..=149 => {
            let _ = c.subscribe_pattern(now, "fuzz-.*");
        }
        150..=164 => c.rebalance_done(now),
        165..=166 => {
            if let Some(id) = c.close(now) {
                checks.commits.insert(id.get());
            }
        }
        167..=171 => {
            let tps = partitions(c, world, input);
            for tp in &tps {
                checks.revoked.remove(tp);
                checks
                    .lost
                    .remove(&(tp.topic().to_string(), tp.partition()));
            }
            if let Ok(Some(id)) = c.assign(now, tps) {
                checks.commits.insert(id.get());
            }
        }
        172..=191 => {
            if let Some(r) = checks.last.get(input.below(checks.last.len())).cloned() {
                if input.bool() {
                    let _ = c.store(now, &r);
                } else {
                    let _ = c.ack(now, &r);
                }
            }
        }
        192..=199 => {
            let offsets: Vec<TopicPartitionOffset> = partitions(c, world, input)
                .into_iter()
                .map(|tp| {
                    let offset = c.position(&tp).unwrap_or_else(|| input.i64_interesting());
                    TopicPartitionOffset::at(tp, offset)
                })
                .collect();
            let _ = c.store_offsets(now, offsets);
        }
        200..=207 => {
            let asked = partitions(c, world, input);
            if let Ok(id) = c.fetch_committed(now, asked.clone()) {
                checks.queries.insert(id.get(), asked.into_iter().collect());
            }
        }
        208..=215 => {
            let ts = 1_700_000_000_000 + i64::from(input.u16());
            let times: Vec<TopicPartitionTimestamp> = partitions(c, world, input)
                .into_iter()
                .map(|tp| TopicPartitionTimestamp::new(tp.topic_arc().clone(), tp.partition(), ts))
                .collect();
            let asked = times.iter().map(|t| t.topic_partition.clone()).collect();
            if let Ok(id) = c.offsets_for_times(now, times) {
                checks.queries.insert(id.get(), asked);
            }
        }
        216..=223 => {
            let asked = partitions(c, world, input);
            if let Ok(id) = c.query_watermarks(now, asked.clone()) {
                checks
                    .watermarks
                    .insert(id.get(), asked.into_iter().collect());
            }
        }
        224..=231 => c.release(now),
        232..=233 => c.enforce_rebalance(now),
        234..=241 => net.disconnect(c, input),
        242..=249 => {
            let max = usize::from(input.byte()) + 1;
            poll(c, checks, world, &mut net.stats, now, max);
        }
        _ => {
            if let Some(r) = c.next_record(now) {
                assert!(
                    c.assignment().contains(&r.topic_partition),
                    "next_record: {} is not assigned",
                    r.topic_partition
                );
                check_logged(world, checks.read_committed, &r);
                checks.last = vec![r];
            }
        }
    }
}

/// After each step: the driver drains requests and events; the checks run.
fn step(
    c: &mut Consumer,
    net: &mut Net,
    checks: &mut Checks,
    input: &mut Input<'_>,
    fired: bool,
    max_outstanding: usize,
) {
    let now = net.now;
    for body in net.send(c, input) {
        if let RequestBody::OffsetCommit(r) = body {
            for t in &r.topics {
                for p in &t.partitions {
                    let key = (t.name.clone(), p.partition_index);
                    assert!(
                        !checks.lost.contains(&key),
                        "{}-{} committed after it was lost",
                        key.0,
                        key.1
                    );
                }
            }
        }
    }
    events(c, checks, &mut net.stats);
    if fired {
        assert!(
            c.poll_timeout().is_none_or(|t| t > now),
            "the deadline is still due right after handle_timeout"
        );
    }
    // At most one fetch in flight per leader.
    let mut fetches: BTreeMap<i32, usize> = BTreeMap::new();
    for (broker, sent) in net.in_flight() {
        if sent.api == ApiKey::Fetch {
            *fetches.entry(broker).or_default() += 1;
        }
    }
    assert!(
        fetches.values().all(|n| *n <= 1),
        "several fetches in flight to one broker: {fetches:?}"
    );
    assert!(
        c.offsets().outstanding() <= max_outstanding.max(1),
        "{} records outstanding, over the cap of {max_outstanding}",
        c.offsets().outstanding()
    );
    if c.is_closed() {
        assert_eq!(c.buffered_records(), 0, "records buffered after close");
    }
    // Positions move back only with a new fetch epoch (seek, reset, reassignment).
    let assigned = c.assignment();
    checks.positions.retain(|tp, _| assigned.contains(tp));
    for tp in assigned {
        let Some(position) = c.position(&tp) else {
            checks.positions.remove(&tp);
            continue;
        };
        let epoch = c.offsets().fetch_epoch(&tp);
        if let Some((was_epoch, was)) = checks.positions.insert(tp.clone(), (epoch, position)) {
            if was_epoch == epoch {
                assert!(
                    position >= was,
                    "{tp}: position went back from {was} to {position} without a seek"
                );
            }
        }
    }
}

fn events(c: &mut Consumer, checks: &mut Checks, stats: &mut Stats) {
    let mut n = 0;
    while let Some(event) = c.poll_event() {
        stats.event(&event);
        n += 1;
        assert!(n <= 100_000, "poll_event keeps returning events");
        match event {
            ConsumerEvent::Offset(Event::CommitFinished { id, .. }) => {
                assert!(
                    checks.finished_commits.insert(id.get()),
                    "commit {id} finished twice"
                );
            }
            ConsumerEvent::Offset(Event::Committed { query, result }) => {
                let answered = result.map(|r| r.into_iter().map(|(tp, _)| tp).collect());
                answer(
                    &checks.queries,
                    &mut checks.answered_queries,
                    query.get(),
                    answered,
                );
            }
            ConsumerEvent::Offset(Event::OffsetsForTimes { query, result }) => {
                let answered = result.map(|r| r.into_iter().map(|(tp, _)| tp).collect());
                answer(
                    &checks.queries,
                    &mut checks.answered_queries,
                    query.get(),
                    answered,
                );
            }
            ConsumerEvent::Watermarks { query, result } => {
                let answered = result.map(|r| r.into_iter().map(|(tp, _)| tp).collect());
                let (asked, done) = (&checks.watermarks, &mut checks.answered_watermarks);
                answer(asked, done, query.get(), answered);
            }
            ConsumerEvent::Rebalance(GroupEvent::Revoked(ps)) => checks.revoked.extend(ps),
            ConsumerEvent::Rebalance(GroupEvent::Assigned(ps)) => {
                for tp in ps {
                    checks
                        .lost
                        .remove(&(tp.topic().to_string(), tp.partition()));
                    checks.revoked.remove(&tp);
                }
            }
            ConsumerEvent::Rebalance(GroupEvent::Lost(ps)) => {
                checks
                    .lost
                    .extend(ps.iter().map(|tp| (tp.topic().to_string(), tp.partition())));
            }
            _ => {}
        }
    }
}

/// A query's answer: one per query asked, covering each partition asked once when it
/// succeeds.
fn answer<E>(
    asked: &BTreeMap<u64, BTreeSet<TopicPartition>>,
    answered: &mut BTreeSet<u64>,
    query: u64,
    result: Result<Vec<TopicPartition>, E>,
) {
    let Some(partitions) = asked.get(&query) else {
        panic!("an answer to query {query}, which was never asked");
    };
    assert!(answered.insert(query), "query {query} answered twice");
    if let Ok(got) = result {
        let unique: BTreeSet<TopicPartition> = got.iter().cloned().collect();
        assert_eq!(
            unique.len(),
            got.len(),
            "query {query}: a partition answered twice"
        );
        assert_eq!(
            &unique, partitions,
            "query {query}: not the partitions asked"
        );
    }
}

/// After the input: the brokers answer everything and the clock runs on, until every commit
/// and query had the time its timeout allows. Each must have finished by then.
fn drain(
    c: &mut Consumer,
    net: &mut Net,
    world: &mut World,
    checks: &mut Checks,
    max_outstanding: usize,
) {
    let timeouts = c
        .config()
        .offsets
        .commit_timeout
        .max(c.config().offsets.query_timeout);
    let Some(until) = net.now.checked_add(timeouts + 3 * REQUEST_TIMEOUT) else {
        return;
    };
    let mut zeros = Input::new(&[]);
    for _ in 0..1000 {
        if net.now > until {
            break;
        }
        // Each request in flight gets its answer (those it leads to wait for the next round).
        for _ in 0..net.in_flight().count() {
            net.settle(c, world, &mut zeros);
            net.send(c, &mut zeros);
        }
        // To the next deadline, in steps of 500 ms to 1 s.
        let next = c
            .poll_timeout()
            .unwrap_or(net.now + Duration::from_secs(1))
            .clamp(
                net.now + Duration::from_millis(500),
                net.now + Duration::from_secs(1),
            );
        let fired = net.jump(c, next);
        step(c, net, checks, &mut zeros, fired, max_outstanding);
    }
    if net.now <= until {
        return;
    }
    all_answered(checks.commits.iter(), &checks.finished_commits, "commits");
    all_answered(checks.queries.keys(), &checks.answered_queries, "queries");
    all_answered(
        checks.watermarks.keys(),
        &checks.answered_watermarks,
        "watermark queries",
    );
}

/// Every id `asked` has its answer in `answered`.
fn all_answered<'a>(asked: impl Iterator<Item = &'a u64>, answered: &BTreeSet<u64>, what: &str) {
    let missing: Vec<&u64> = asked.filter(|id| !answered.contains(id)).collect();
    assert!(missing.is_empty(), "{what} {missing:?} never answered");
}
