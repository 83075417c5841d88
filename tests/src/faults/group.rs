//! Three consumers of one group read a topic that a writer (straight to the broker) keeps
//! filling, while leaders and the group's coordinator move, brokers go down or slow, and
//! connections drop; half way one member leaves and another joins. An observer (straight to
//! the broker) samples the group's committed offsets all along.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_channel::{Receiver, Sender};
use dekaf_proto::ApiKey;
use dekaf_smol::{
    AutoOffsetReset, Consumer, Error, IsolationLevel, OffsetCommitMode, Producer, ProducerRecord,
    RebalanceListener, TopicPartition,
};

use super::committed::{Bound, Observer};
use super::journal::{self, Hook};
use super::schedule::{FaultKind, Menu, Schedule};
use super::{create_topic, read_log, recv_for, unique, until, within, Report, Setup, PATIENCE};
use crate::cluster_proxy::CoordinatorKind;

const PARTITIONS: i32 = 6;
const MEMBERS: usize = 3;

/// Writes the journal's hooks; in Manual mode commits what was processed before a
/// revocation completes, as the commit-on-revoke recipe does.
struct Listener {
    journal: journal::Shared,
    member: usize,
    commit_on_revoke: bool,
}

impl RebalanceListener for Listener {
    async fn on_assigned(&self, consumer: &Consumer, partitions: &[TopicPartition]) {
        let group = consumer.group_metadata();
        journal::lock(&self.journal).hook(self.member, group, Hook::Assigned, partitions);
    }

    async fn on_revoked(&self, consumer: &Consumer, partitions: &[TopicPartition]) {
        let group = consumer.group_metadata();
        journal::lock(&self.journal).hook(self.member, group, Hook::Revoked, partitions);
        if self.commit_on_revoke {
            if let Err(e) = consumer.commit().await {
                journal::lock(&self.journal).error(&e);
            }
        }
    }

    async fn on_lost(&self, consumer: &Consumer, partitions: &[TopicPartition]) {
        let group = consumer.group_metadata();
        journal::lock(&self.journal).hook(self.member, group, Hook::Lost, partitions);
    }
}

/// One member: asks for records until told to stop, committing each batch in Manual mode.
async fn member(
    index: usize,
    consumer: Arc<Consumer>,
    journal: journal::Shared,
    manual: bool,
    stop: Receiver<()>,
) {
    loop {
        if stop.try_recv().is_ok() {
            return;
        }
        let before = consumer.assignment();
        let batch = match recv_for(&consumer, 200, Duration::from_millis(300)).await {
            Ok(batch) => batch,
            Err(Error::Shutdown) => return,
            Err(e) => {
                journal::lock(&journal).error(&e);
                continue;
            }
        };
        if batch.is_empty() {
            continue;
        }
        let mut held = before;
        held.extend(consumer.assignment());
        {
            let mut j = journal::lock(&journal);
            for r in &batch {
                j.record(
                    index,
                    Some(&held),
                    r.topic_partition(),
                    r.offset(),
                    r.value_bytes().cloned().unwrap_or_default(),
                );
            }
        }
        if manual {
            if let Err(e) = consumer.commit().await {
                if !e.is_rebalance() {
                    journal::lock(&journal).error(&e);
                }
            }
        }
    }
}

/// Writes `records` values `"{partition}:{i}"` round the partitions, spread over `over`.
async fn write(
    bootstrap: String,
    topic: String,
    records: usize,
    over: Duration,
) -> Result<(), String> {
    let producer = Producer::builder()
        .bootstrap_servers(&bootstrap)
        .build()
        .await
        .map_err(|e| format!("writer: {e}"))?;
    let steps = (over.as_millis() / 100).max(1) as usize;
    let per_step = records.div_ceil(steps).max(1);
    for i in 0..records {
        let p = (i % PARTITIONS as usize) as i32;
        let record = ProducerRecord::new(topic.as_str())
            .partition(p)
            .value(format!("{p}:{i}"));
        let _ = producer
            .send(record)
            .buffered()
            .await
            .map_err(|e| format!("writer: {e}"))?;
        if i % per_step == per_step - 1 {
            smol::Timer::after(Duration::from_millis(100)).await;
        }
    }
    producer.flush().await.map_err(|e| format!("writer: {e}"))?;
    producer.close().await.map_err(|e| format!("writer: {e}"))
}

/// A running member: its consumer, the task asking it for records, and how to stop that.
struct Member {
    index: usize,
    consumer: Arc<Consumer>,
    task: smol::Task<()>,
    stop: Sender<()>,
}

/// What every member of a run shares.
struct Group<'a> {
    setup: &'a Setup,
    topic: String,
    group: String,
    mode: OffsetCommitMode,
    journal: journal::Shared,
}

impl Group<'_> {
    async fn start_member(&self, index: usize) -> Result<Member, String> {
        let manual = self.mode == OffsetCommitMode::Manual;
        let consumer = Consumer::builder()
            .bootstrap_servers(self.setup.proxy.bootstrap())
            .group_id(self.group.as_str())
            .client_id(format!("faults-member-{index}"))
            .offset_commit_mode(self.mode)
            .auto_commit_interval(Duration::from_millis(500))
            .auto_offset_reset(AutoOffsetReset::Earliest)
            .session_timeout(Duration::from_secs(6))
            .heartbeat_interval(Duration::from_secs(1))
            .rebalance_timeout(Duration::from_secs(20))
            .request_timeout(Duration::from_secs(10))
            .metadata_max_age(Duration::from_secs(5))
            .rebalance_listener(Listener {
                journal: self.journal.clone(),
                member: index,
                commit_on_revoke: manual,
            })
            .build()
            .await
            .map_err(|e| format!("member {index}: {e}"))?;
        let consumer = Arc::new(consumer);
        consumer
            .subscribe([self.topic.as_str()])
            .map_err(|e| format!("member {index} subscribe: {e}"))?;
        let (stop, stopped) = async_channel::bounded::<()>(1);
        let task = smol::spawn(member(
            index,
            consumer.clone(),
            self.journal.clone(),
            manual,
            stopped,
        ));
        Ok(Member {
            index,
            consumer,
            task,
            stop,
        })
    }
}

/// Stops a member's task, then closes its consumer (which leaves the group).
async fn stop_member(m: Member, report: &mut Report) {
    let _ = m.stop.try_send(());
    if within(Duration::from_secs(30), m.task).await.is_none() {
        report.violation(format!(
            "member {} did not stop asking for records within 30 s",
            m.index
        ));
        return;
    }
    match Arc::try_unwrap(m.consumer) {
        Ok(c) => match within(Duration::from_secs(30), c.close()).await {
            Some(Ok(())) => {}
            Some(Err(e)) => report.note(format!("member {} closed with an error: {e}", m.index)),
            None => report.violation(format!("member {}: close() hung for 30 s", m.index)),
        },
        Err(_) => report.note(format!("member {} is still shared; not closed", m.index)),
    }
}

pub(crate) async fn run(setup: &Setup, mode: OffsetCommitMode, report: &mut Report) {
    let manual = mode == OffsetCommitMode::Manual;
    let g = Group {
        setup,
        topic: unique("faults-group"),
        group: unique("faults-group-g"),
        mode,
        journal: journal::new(setup.proxy.started()),
    };
    let (topic, journal) = (g.topic.clone(), g.journal.clone());
    if let Err(e) = create_topic(&setup.direct, &topic, PARTITIONS).await {
        return report.violation(format!("setup: {e}"));
    }
    let tps: Vec<TopicPartition> = (0..PARTITIONS)
        .map(|p| TopicPartition::new(topic.as_str(), p))
        .collect();
    let mut members = Vec::new();
    for i in 0..MEMBERS {
        match g.start_member(i).await {
            Ok(m) => members.push(m),
            Err(e) => return report.violation(format!("setup: {e}")),
        }
    }

    let bound: Bound = {
        let journal = journal.clone();
        Box::new(move |tp: &TopicPartition| journal::lock(&journal).frontier(tp))
    };
    let started = setup.proxy.started();
    let observer = match Observer::start(&setup.direct, &g.group, tps.clone(), bound, started).await
    {
        Ok(o) => o,
        Err(e) => return report.violation(format!("setup: {e}")),
    };

    // Faults hit a group that consumes: first the members split the partitions.
    let formed = until(PATIENCE, || {
        let held: Vec<Vec<TopicPartition>> =
            members.iter().map(|m| m.consumer.assignment()).collect();
        held.iter().all(|h| !h.is_empty())
            && tps
                .iter()
                .all(|tp| held.iter().filter(|h| h.contains(tp)).count() == 1)
    })
    .await;
    if !formed {
        report.note(format!(
            "the group did not split the partitions within {PATIENCE:?}; faults start anyway"
        ));
    }
    let writer = smol::spawn(write(
        setup.direct.clone(),
        topic.clone(),
        setup.length.records,
        setup.length.faults_for,
    ));
    let mut menu = Menu::new(vec![(topic.clone(), PARTITIONS)]);
    menu.coordinators = vec![(CoordinatorKind::Group, g.group.clone())];
    menu.kinds.push(FaultKind::MoveCoordinator);
    // Outages up to past the session timeout (6 s): members lose their partitions and rejoin.
    menu.outage.1 = Duration::from_secs(8);
    menu.drop_after = vec![
        None,
        Some(ApiKey::OffsetCommit),
        Some(ApiKey::Fetch),
        Some(ApiKey::Heartbeat),
        Some(ApiKey::JoinGroup),
        Some(ApiKey::SyncGroup),
    ];
    let faults_end = Instant::now() + setup.length.faults_for;
    let schedule = Schedule::start(
        setup.proxy.clone(),
        menu,
        setup.seed,
        setup.length.faults_for,
    );
    // Half way through, one member (chosen by the seed) leaves and a new one joins: two
    // rebalances under faults.
    smol::Timer::after(setup.length.faults_for / 2).await;
    let leaving = members.remove((crate::rng::mix(setup.seed) % MEMBERS as u64) as usize);
    let left = leaving.index;
    stop_member(leaving, report).await;
    match g.start_member(MEMBERS).await {
        Ok(m) => members.push(m),
        Err(e) => report.violation(format!("a new member could not start: {e}")),
    }
    report.note(format!(
        "member {left} left half way; member {MEMBERS} joined"
    ));
    smol::Timer::at(faults_end).await;
    let injected = schedule.stop();
    report.note(format!("schedule injected: {injected}"));

    match within(PATIENCE, writer).await {
        Some(Ok(())) => {}
        Some(Err(e)) => return report.violation(format!("the writer failed: {e}")),
        None => return report.violation(format!("the writer did not finish within {PATIENCE:?}")),
    }
    let log = match read_log(
        &setup.direct,
        &topic,
        PARTITIONS,
        IsolationLevel::ReadUncommitted,
    )
    .await
    {
        Ok(log) => log,
        Err(e) => return report.violation(format!("reading the log back: {e}")),
    };
    let total: usize = log.values().map(Vec::len).sum();
    let ends: BTreeMap<TopicPartition, i64> = tps
        .iter()
        .map(|tp| {
            let end = log
                .get(&tp.partition())
                .and_then(|l| l.last())
                .map_or(0, |s| s.offset + 1);
            (tp.clone(), end)
        })
        .collect();
    let missing = |j: &journal::Journal| -> Vec<String> {
        log.iter()
            .flat_map(|(p, records)| {
                records
                    .iter()
                    .filter(|s| {
                        !j.received
                            .contains_key(&(TopicPartition::new(topic.as_str(), *p), s.offset))
                    })
                    .map(move |s| format!("{p}@{}", s.offset))
            })
            .take(20)
            .collect()
    };

    // Healed: every record must reach a member, and the commits the end of each partition.
    let deadline = Instant::now() + PATIENCE;
    let mut last_nudge = Instant::now();
    let converged = loop {
        let all_read = missing(&journal::lock(&journal)).is_empty();
        let committed = {
            let o = observer.observed();
            ends.iter()
                .all(|(tp, end)| o.last.get(tp).copied().unwrap_or(0) >= *end)
        };
        if all_read && committed {
            break true;
        }
        if Instant::now() >= deadline {
            break false;
        }
        if manual && all_read && last_nudge.elapsed() > Duration::from_secs(1) {
            // The last batch's commit may have been refused by a rebalance: commit again.
            last_nudge = Instant::now();
            for m in &members {
                let _ = within(Duration::from_secs(10), m.consumer.commit()).await;
            }
        }
        smol::Timer::after(Duration::from_millis(100)).await;
    };

    for m in members {
        stop_member(m, report).await;
    }
    let o = observer.stop().await;
    let j = journal::lock(&journal);
    report.checked(format!(
        "no record lost: {total} records in the log, {} received ({} deliveries, {} redelivered)",
        j.received.len(),
        j.deliveries,
        j.redelivered()
    ));
    if !converged {
        report.violation(format!(
            "within {PATIENCE:?} of healing, the group did not read everything and commit the \
             end: never received {:?}; committed {:?} of ends {:?}",
            missing(&j),
            o.last,
            ends
        ));
    }
    report.checked(format!(
        "per partition, in order with no gap within an assignment and no skip ahead ({} hooks)",
        j.hooks.len()
    ));
    report.checked("each record received with the value written at its offset");
    for ((tp, offset), (_, value)) in &j.received {
        let written = log
            .get(&tp.partition())
            .and_then(|l| l.iter().find(|s| s.offset == *offset));
        match written {
            Some(s) if s.value == *value => {}
            Some(_) => report.violation(format!("{tp}@{offset}: received another value")),
            None => report.violation(format!("{tp}@{offset}: received, but not in the log")),
        }
    }
    report.checked(format!(
        "committed offsets never went back nor past what was handed out ({} samples), and \
         reached the end of every partition",
        o.samples
    ));
    for v in j.violations.iter().chain(o.violations.iter()) {
        report.violation(v.clone());
    }
    for tp in &o.troubled {
        report.note(format!(
            "history of {tp} (seconds since the proxy started):\n    hooks:\n      {}\n    \
             commits:\n      {}\n    committed offsets seen:\n      {}",
            j.history(tp).join("\n      "),
            setup
                .proxy
                .commits_of(tp.topic(), tp.partition())
                .join("\n      "),
            o.seen
                .get(tp)
                .map(|s| s.join("\n      "))
                .unwrap_or_default()
        ));
    }
    if !j.errors.is_empty() {
        report.note(format!("errors the members saw: {:?}", j.errors));
    }
}
