//! dekaf-smol consumers as members of one group on tansu (build W): subscribe, split, hand
//! over on close with the revoked hook's commit, pattern subscriptions that grow, static
//! membership, and a member that stops asking for records.
//!
//! tansu holds the first JoinGroup of a rebalance for about half the session timeout, so the
//! members use a 6 s session (joins take ~3 s). Where tansu differs from Kafka the test pins
//! what it does and says what Kafka does (and where the simulation checks Kafka's rule).

#[macro_use]
#[allow(unreachable_pub, missing_docs)]
#[path = "../../dekaf-smol/examples/common/mod.rs"]
mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use common::{create_topic, fill, unique, within};
use dekaf_proto::messages::describe_groups::DescribedGroup;
use dekaf_proto::messages::DescribeGroupsRequest;
use dekaf_smol::{
    AutoOffsetReset, Consumer, ConsumerBuilder, Error, GroupError, GroupProtocol, OffsetCommitMode,
    RebalanceListener, TopicPartition,
};
use dekaf_tests::ops::version;
use dekaf_tests::smol_member::{lock, until, Hook, Member, Recorder, SharedLog};
use dekaf_tests::{Broker, Build, Engine};

type Result<T = ()> = common::Result<T>;

/// How long a test waits for any one thing (a rebalance takes a few seconds on tansu).
const WAIT: Duration = Duration::from_secs(40);

fn partitions(topic: &str, n: i32) -> BTreeSet<TopicPartition> {
    (0..n).map(|p| TopicPartition::new(topic, p)).collect()
}

fn builder(bootstrap: &str, group: &str, log: &SharedLog) -> ConsumerBuilder {
    Consumer::builder()
        .bootstrap_servers(bootstrap)
        .group_id(group)
        .client_id("dekaf-group-test")
        .offset_commit_mode(OffsetCommitMode::Manual)
        .auto_offset_reset(AutoOffsetReset::Earliest)
        .session_timeout(Duration::from_secs(6))
        .heartbeat_interval(Duration::from_secs(1))
        .rebalance_timeout(Duration::from_secs(20))
        .rebalance_listener(Recorder::new(log.clone(), true))
}

fn new_log() -> SharedLog {
    SharedLog::default()
}

/// Runs `test` against a fresh build W broker (skipped when it is not installed).
fn on_build_w<F, Fut>(name: &str, test: F)
where
    F: FnOnce(String) -> Fut,
    Fut: std::future::Future<Output = Result>,
{
    let Some(broker) = Broker::start(Build::W, Engine::Memory) else {
        return;
    };
    if let Err(e) = smol::block_on(test(broker.addr().to_string())) {
        panic!("{name}: {e}\n--- broker log ---\n{}", broker.log());
    }
}

/// `group` as the coordinator describes it (DescribeGroups).
fn describe(bootstrap: &str, group: &str) -> Result<DescribedGroup> {
    let mut client = dekaf_tests::Client::connect(bootstrap.parse()?)?;
    let versions = client.broker_versions();
    let request = DescribeGroupsRequest {
        groups: vec![group.into()],
        ..Default::default()
    };
    let answer = client.call(&request, version::<DescribeGroupsRequest>(&versions));
    Ok(answer.groups.into_iter().next().unwrap_or_default())
}

/// The member ids of `group`, as the coordinator lists them.
fn members(bootstrap: &str, group: &str) -> Result<Vec<String>> {
    let described = describe(bootstrap, group)?;
    Ok(described.members.into_iter().map(|m| m.member_id).collect())
}

/// Fills every partition of `topic` with records `first..first + n`.
async fn fill_all(bootstrap: &str, topic: &str, parts: i32, first: i64, n: i64) -> Result {
    for p in 0..parts {
        fill(bootstrap, topic, p, first, n).await?;
    }
    Ok(())
}

/// Every offset of `topic` received by any of `logs`, by partition, in order of arrival.
fn received(logs: &[&SharedLog]) -> BTreeMap<TopicPartition, Vec<i64>> {
    let mut out: BTreeMap<TopicPartition, Vec<i64>> = BTreeMap::new();
    for log in logs {
        for (tp, offset, _) in &lock(log).records {
            out.entry(tp.clone()).or_default().push(*offset);
        }
    }
    out
}

fn count(logs: &[&SharedLog]) -> usize {
    logs.iter().map(|l| lock(l).records.len()).sum()
}

/// Each partition's records `0..end` were received exactly once over all members.
fn exactly_once(logs: &[&SharedLog], all: &BTreeSet<TopicPartition>, end: i64) -> Result {
    let got = received(logs);
    for tp in all {
        let mut offsets = got.get(tp).cloned().unwrap_or_default();
        offsets.sort_unstable();
        check!(
            offsets == (0..end).collect::<Vec<_>>(),
            "{tp}: received {offsets:?}, not 0..{end} once each"
        );
    }
    Ok(())
}

fn no_violations(log: &SharedLog, who: &str) -> Result {
    let l = lock(log);
    check!(l.violations.is_empty(), "{who}: {:?}", l.violations);
    Ok(())
}

fn split(a: &Member, b: &Member, all: &BTreeSet<TopicPartition>) -> bool {
    let (x, y) = (a.assignment(), b.assignment());
    !x.is_empty() && !y.is_empty() && x.is_disjoint(&y) && &(&x | &y) == all
}

#[test]
fn subscribe_consume_commit_and_hand_over_on_close() {
    on_build_w("hand over on close", |bootstrap| async move {
        let (topic, group) = (unique("group-handover"), unique("group-handover-g"));
        create_topic(&bootstrap, &topic, 4).await?;
        let all = partitions(&topic, 4);
        fill_all(&bootstrap, &topic, 4, 0, 10).await?;

        let (la, lb) = (new_log(), new_log());
        let a = builder(&bootstrap, &group, &la).build().await?;
        a.subscribe([topic.as_str()])?;
        let a = Member::start(a, la.clone(), true);
        until(WAIT, "A holds all 4 and read 40", || {
            a.assignment() == all && count(&[&la]) == 40
        })
        .await?;
        let meta = a.consumer.group_metadata().expect("subscribed");
        check!(
            meta.group_id == group && meta.generation_id >= 0 && !meta.member_id.is_empty(),
            "{meta:?}"
        );

        let b = builder(&bootstrap, &group, &lb).build().await?;
        b.subscribe([topic.as_str()])?;
        let b = Member::start(b, lb.clone(), true);
        until(WAIT, "A and B split the 4 partitions", || {
            split(&a, &b, &all)
        })
        .await?;
        check!(
            a.assignment().len() == 2,
            "range splits 2/2: {:?}",
            a.assignment()
        );
        fill_all(&bootstrap, &topic, 4, 10, 10).await?;
        until(WAIT, "80 records", || count(&[&la, &lb]) == 80).await?;

        let a_id = meta.member_id.clone();
        within(WAIT, "A's close", a.close()).await??;
        // close() returns once A left the group: the coordinator has forgotten it already,
        // rather than after its session timeout.
        let listed = members(&bootstrap, &group)?;
        check!(!listed.contains(&a_id), "A is still a member: {listed:?}");
        until(WAIT, "B holds all 4", || b.assignment() == all).await?;
        fill_all(&bootstrap, &topic, 4, 20, 10).await?;
        until(WAIT, "120 records", || count(&[&la, &lb]) == 120).await?;
        exactly_once(&[&la, &lb], &all, 30)?;
        no_violations(&la, "A")?;
        no_violations(&lb, "B")?;

        // A: all four, all revoked when B joined (eager), two, revoked again on close.
        let hooks = lock(&la).hooks.clone();
        let revoked: Vec<&Hook> = hooks
            .iter()
            .filter(|h| matches!(h, Hook::Revoked(_)))
            .collect();
        check!(
            hooks.first() == Some(&Hook::Assigned(all.iter().cloned().collect()))
                && revoked.len() == 2
                && !hooks.iter().any(|h| matches!(h, Hook::Lost(_))),
            "A's hooks: {hooks:?}"
        );
        check!(
            matches!(hooks.last(), Some(Hook::Revoked(ps)) if ps.len() == 2),
            "close revokes what A holds: {hooks:?}"
        );
        within(WAIT, "B's close", b.close()).await??;
        Ok(())
    });
}

#[test]
fn a_pattern_subscription_picks_up_a_topic_created_later() {
    on_build_w("pattern", |bootstrap| async move {
        let prefix = unique("pattern");
        let (first, second) = (format!("{prefix}-a"), format!("{prefix}-b"));
        let other = unique("elsewhere");
        create_topic(&bootstrap, &first, 2).await?;
        create_topic(&bootstrap, &other, 1).await?;
        fill_all(&bootstrap, &first, 2, 0, 5).await?;
        fill_all(&bootstrap, &other, 1, 0, 5).await?;

        let log = new_log();
        let consumer = builder(&bootstrap, &unique("pattern-g"), &log)
            .metadata_max_age(Duration::from_millis(500))
            .build()
            .await?;
        consumer.subscribe_pattern(&format!("{prefix}-.*"))?;
        let member = Member::start(consumer, log.clone(), true);
        let firsts = partitions(&first, 2);
        until(WAIT, "the first topic's partitions and 10 records", || {
            member.assignment() == firsts && count(&[&log]) == 10
        })
        .await?;

        create_topic(&bootstrap, &second, 2).await?;
        fill_all(&bootstrap, &second, 2, 0, 5).await?;
        let both: BTreeSet<TopicPartition> = &firsts | &partitions(&second, 2);
        until(WAIT, "the new topic joins the subscription", || {
            member.assignment() == both
        })
        .await?;
        until(WAIT, "its records", || count(&[&log]) == 20).await?;
        let topics: BTreeSet<String> = lock(&log)
            .records
            .iter()
            .map(|(tp, _, _)| tp.topic().to_string())
            .collect();
        check!(
            topics == BTreeSet::from([first.clone(), second.clone()]),
            "read {topics:?}"
        );
        no_violations(&log, "member")?;
        within(WAIT, "close", member.close()).await??;
        Ok(())
    });
}

#[test]
fn the_revoked_hooks_commit_is_where_the_next_owner_starts() {
    on_build_w("revoke commit", |bootstrap| async move {
        let (topic, group) = (unique("revoke-commit"), unique("revoke-commit-g"));
        create_topic(&bootstrap, &topic, 4).await?;
        let all = partitions(&topic, 4);
        fill_all(&bootstrap, &topic, 4, 0, 10).await?;

        // A commits nothing but in its revoked hook.
        let (la, lb) = (new_log(), new_log());
        let a = builder(&bootstrap, &group, &la).build().await?;
        a.subscribe([topic.as_str()])?;
        let a = Member::start(a, la.clone(), false);
        until(WAIT, "A read all 40", || count(&[&la]) == 40).await?;
        for tp in &all {
            let c = a.consumer.committed(tp).await?;
            check!(c.is_none(), "{tp}: A committed {c:?} outside its hook");
        }

        let b = builder(&bootstrap, &group, &lb).build().await?;
        b.subscribe([topic.as_str()])?;
        let b = Member::start(b, lb.clone(), false);
        until(WAIT, "A and B split", || split(&a, &b, &all)).await?;
        let commits = lock(&la).revoke_commits.clone();
        check!(
            commits.first().map(|c| c.len()) == Some(4),
            "A's revoked hook committed {commits:?}"
        );
        for (tp, position) in &commits[0] {
            check!(*position == 10, "{tp}: A's position was {position}");
            let c = b.consumer.committed(tp).await?.map(|c| c.offset);
            check!(c == Some(10), "{tp}: the group's committed offset is {c:?}");
        }
        fill_all(&bootstrap, &topic, 4, 10, 5).await?;
        until(WAIT, "B read its partitions' new records", || {
            count(&[&lb]) == 5 * b.assignment().len()
        })
        .await?;
        for tp in b.assignment() {
            let offsets = b.offsets(&tp);
            check!(
                offsets == (10..15).collect::<Vec<_>>(),
                "{tp}: B read {offsets:?}, from the revoked hook's commit on"
            );
        }
        no_violations(&la, "A")?;
        no_violations(&lb, "B")?;
        within(WAIT, "A's close", a.close()).await??;
        within(WAIT, "B's close", b.close()).await??;
        Ok(())
    });
}

#[test]
fn a_member_that_stops_asking_for_records_leaves_and_says_so() {
    on_build_w("max poll", |bootstrap| async move {
        let (topic, group) = (unique("max-poll"), unique("max-poll-g"));
        create_topic(&bootstrap, &topic, 4).await?;
        let all = partitions(&topic, 4);
        let max_poll = Duration::from_secs(4);

        let (la, lb) = (new_log(), new_log());
        let a = builder(&bootstrap, &group, &la)
            .max_poll_interval(max_poll)
            .build()
            .await?;
        a.subscribe([topic.as_str()])?;
        let a = Member::start(a, la.clone(), true);
        let b = builder(&bootstrap, &group, &lb).build().await?;
        b.subscribe([topic.as_str()])?;
        let b = Member::start(b, lb.clone(), true);
        until(WAIT, "A and B split", || split(&a, &b, &all)).await?;

        // Waiting in recv with nothing to read is asking for records: A stays, for twice the
        // max poll interval.
        let held = a.assignment();
        let since = std::time::Instant::now();
        while since.elapsed() < 2 * max_poll {
            check!(
                a.assignment() == held
                    && !lock(&la).hooks.iter().any(|h| matches!(h, Hook::Lost(_))),
                "A lost its partitions while waiting in recv: {:?}",
                lock(&la).hooks
            );
            async_io::Timer::after(Duration::from_millis(50)).await;
        }
        check!(
            a.assignment() == held,
            "A's partitions moved while it waited"
        );

        // A stops asking: after the max poll interval it leaves, and B takes everything.
        let a = a.stop().await;
        until(WAIT, "B takes all after A left", || b.assignment() == all).await?;
        // The next recv runs on_lost (no commit of partitions another member owns now), then
        // says why.
        let e = within(WAIT, "A's recv", a.recv()).await?;
        check!(
            matches!(e, Err(Error::MaxPollIntervalExceeded { interval }) if interval == max_poll),
            "A's recv gave {e:?}"
        );
        let hooks = lock(&la).hooks.clone();
        check!(
            hooks.last() == Some(&Hook::Lost(held.iter().cloned().collect())),
            "A's hooks: {hooks:?}"
        );
        // Asking again rejoins: the partitions are split again.
        let a = Member::start(a, la.clone(), true);
        until(WAIT, "A rejoins and the two split again", || {
            split(&a, &b, &all)
        })
        .await?;
        no_violations(&la, "A")?;
        no_violations(&lb, "B")?;
        within(WAIT, "A's close", a.close()).await??;
        within(WAIT, "B's close", b.close()).await??;
        Ok(())
    });
}

/// Kafka's rule: a static member that restarts within its session timeout gets its partitions
/// back without a rebalance (the others keep theirs, unrevoked), under a new member id. tansu
/// keeps the partitions and the generation as Kafka does, but hands the returning member its
/// old member id again (pinned here). The simulation (`sim_consumer_group`) checks Kafka's
/// rule, new member id included.
#[test]
fn a_static_member_restarts_with_its_partitions() {
    on_build_w("static", |bootstrap| async move {
        let (topic, group) = (unique("static"), unique("static-g"));
        create_topic(&bootstrap, &topic, 4).await?;
        let all = partitions(&topic, 4);
        let static_member = |log: &SharedLog| {
            builder(&bootstrap, &group, log)
                .group_instance_id("static-a")
                .session_timeout(Duration::from_secs(10))
        };
        let (la, lb) = (new_log(), new_log());
        let a = static_member(&la).build().await?;
        a.subscribe([topic.as_str()])?;
        let a = Member::start(a, la.clone(), true);
        let b = builder(&bootstrap, &group, &lb).build().await?;
        b.subscribe([topic.as_str()])?;
        let b = Member::start(b, lb.clone(), true);
        until(WAIT, "A and B split", || split(&a, &b, &all)).await?;
        let held = a.assignment();
        let before = a.consumer.group_metadata().ok_or("A is subscribed")?;
        let b_hooks = lock(&lb).hooks.len();
        fill_all(&bootstrap, &topic, 4, 0, 5).await?;
        until(WAIT, "20 records", || count(&[&la, &lb]) == 20).await?;

        // No LeaveGroup: the coordinator keeps A, and B its partitions, while A is away.
        within(WAIT, "A's close", a.close()).await??;
        let listed = members(&bootstrap, &group)?;
        check!(
            listed.contains(&before.member_id),
            "a static member left on close: {listed:?}"
        );
        let la2 = new_log();
        let a2 = static_member(&la2).build().await?;
        a2.subscribe([topic.as_str()])?;
        let a2 = Member::start(a2, la2.clone(), true);
        until(WAIT, "A is back", || split(&a2, &b, &all)).await?;
        let after = a2.consumer.group_metadata().ok_or("A is subscribed")?;
        check!(
            a2.assignment() == held,
            "A came back to {:?}, not {held:?}",
            a2.assignment()
        );
        let since: Vec<Hook> = lock(&lb).hooks[b_hooks..].to_vec();
        check!(since.is_empty(), "B was disturbed: {since:?}");
        check!(
            after.generation_id == before.generation_id,
            "a rebalance happened: generation {} -> {}",
            before.generation_id,
            after.generation_id
        );
        check!(
            after.member_id == before.member_id,
            "tansu now gives a returning static member a new member id ({} -> {}), as Kafka \
             does: drop this pin",
            before.member_id,
            after.member_id
        );
        // A starts from what it committed.
        fill_all(&bootstrap, &topic, 4, 5, 5).await?;
        until(WAIT, "40 records", || count(&[&la, &la2, &lb]) == 40).await?;
        exactly_once(&[&la, &la2, &lb], &all, 10)?;
        within(WAIT, "A's close", a2.close()).await??;
        within(WAIT, "B's close", b.close()).await??;
        Ok(())
    });
}

/// Holds `on_revoked` until the test lets it go, then commits; writes every hook down.
struct Gate {
    log: SharedLog,
    entered: async_channel::Sender<Vec<TopicPartition>>,
    release: async_channel::Receiver<()>,
    committed: async_channel::Sender<std::result::Result<(), Error>>,
}

impl RebalanceListener for Gate {
    async fn on_assigned(&self, _consumer: &Consumer, partitions: &[TopicPartition]) {
        lock(&self.log)
            .hooks
            .push(Hook::Assigned(partitions.to_vec()));
    }

    async fn on_revoked(&self, consumer: &Consumer, partitions: &[TopicPartition]) {
        lock(&self.log)
            .hooks
            .push(Hook::Revoked(partitions.to_vec()));
        let _ = self.entered.try_send(partitions.to_vec());
        let _ = self.release.recv().await;
        let _ = self.committed.try_send(consumer.commit().await);
    }

    async fn on_lost(&self, _consumer: &Consumer, partitions: &[TopicPartition]) {
        lock(&self.log).hooks.push(Hook::Lost(partitions.to_vec()));
    }
}

/// While `on_revoked` runs the member hands no record out, keeps its partitions (its
/// heartbeats keep its session alive, longer than the session timeout) and does not rejoin:
/// the coordinator holds the rebalance, and the joining member gets nothing. Once the hook
/// returned (its commit accepted), the member rejoins and the two split.
#[test]
fn the_member_rejoins_only_after_on_revoked_returned() {
    on_build_w("revoke order", |bootstrap| async move {
        let (topic, group) = (unique("revoke-order"), unique("revoke-order-g"));
        create_topic(&bootstrap, &topic, 4).await?;
        let all = partitions(&topic, 4);
        let (entered_tx, entered) = async_channel::unbounded();
        let (release, release_rx) = async_channel::unbounded();
        let (committed_tx, committed) = async_channel::unbounded();
        let (la, lb) = (new_log(), new_log());
        let a = builder(&bootstrap, &group, &la)
            .rebalance_listener(Gate {
                log: la.clone(),
                entered: entered_tx,
                release: release_rx,
                committed: committed_tx,
            })
            .build()
            .await?;
        a.subscribe([topic.as_str()])?;
        let a = Member::start(a, la.clone(), true);
        until(WAIT, "A holds all 4", || a.assignment() == all).await?;
        let generation = a.consumer.group_metadata().map(|m| m.generation_id);

        let b = builder(&bootstrap, &group, &lb).build().await?;
        b.subscribe([topic.as_str()])?;
        let b = Member::start(b, lb.clone(), true);
        let revoked = within(WAIT, "A's on_revoked", entered.recv()).await??;
        check!(revoked.len() == 4, "A revokes {revoked:?}");
        fill_all(&bootstrap, &topic, 4, 0, 5).await?;
        // Longer than the session timeout and tansu's join hold.
        let since = std::time::Instant::now();
        while since.elapsed() < Duration::from_secs(8) {
            check!(
                b.assignment().is_empty() && count(&[&la, &lb]) == 0,
                "while A's hook ran: B holds {:?}, {} records handed out",
                b.assignment(),
                count(&[&la, &lb])
            );
            check!(
                a.assignment() == all,
                "A dropped partitions before its hook returned: {:?} {:?}",
                a.assignment(),
                lock(&la).hooks
            );
            async_io::Timer::after(Duration::from_millis(50)).await;
        }
        check!(
            a.consumer.group_metadata().map(|m| m.generation_id) == generation,
            "A rejoined during its hook"
        );
        release.close();
        let commit = within(WAIT, "the hook's commit", committed.recv()).await??;
        check!(commit.is_ok(), "the hook's commit: {commit:?}");
        until(WAIT, "A and B split once the hook returned", || {
            split(&a, &b, &all)
        })
        .await?;
        until(WAIT, "20 records", || count(&[&la, &lb]) == 20).await?;
        exactly_once(&[&la, &lb], &all, 5)?;
        let hooks = lock(&la).hooks.clone();
        check!(
            !hooks.iter().any(|h| matches!(h, Hook::Lost(_))),
            "A's hooks: {hooks:?}"
        );
        within(WAIT, "A's close", a.close()).await??;
        within(WAIT, "B's close", b.close()).await??;
        Ok(())
    });
}

/// `unsubscribe` runs `on_revoked` before it returns and leaves the group; the consumer can
/// then be given partitions by hand. Mixing the two is refused.
#[test]
fn unsubscribe_revokes_at_once_and_assign_follows() {
    on_build_w("unsubscribe", |bootstrap| async move {
        let (topic, group) = (unique("unsubscribe"), unique("unsubscribe-g"));
        create_topic(&bootstrap, &topic, 2).await?;
        fill_all(&bootstrap, &topic, 2, 0, 5).await?;
        let all = partitions(&topic, 2);
        let log = new_log();
        let consumer = builder(&bootstrap, &group, &log).build().await?;
        consumer.subscribe([topic.as_str()])?;
        let member = Member::start(consumer, log.clone(), true);
        until(WAIT, "10 records", || count(&[&log]) == 10).await?;
        let consumer = member.stop().await;
        let refused = consumer.assign([TopicPartition::new(topic.as_str(), 0)]);
        check!(
            matches!(refused, Err(Error::Usage(_))),
            "assign while subscribed: {refused:?}"
        );
        within(WAIT, "unsubscribe", consumer.unsubscribe()).await??;
        let hooks = lock(&log).hooks.clone();
        check!(
            hooks.last() == Some(&Hook::Revoked(all.iter().cloned().collect())),
            "{hooks:?}"
        );
        check!(
            lock(&log).revoke_commits.len() == 1,
            "on_revoked committed: {:?}",
            lock(&log).revoke_commits
        );
        consumer.assign([TopicPartition::new(topic.as_str(), 1)])?;
        fill_all(&bootstrap, &topic, 2, 5, 5).await?;
        let record = within(WAIT, "a record of the assigned partition", consumer.recv()).await??;
        check!(
            record.partition() == 1 && record.offset() == 5,
            "read {}@{} (the group committed 5)",
            record.partition(),
            record.offset()
        );
        let refused = consumer.subscribe([topic.as_str()]);
        check!(
            matches!(refused, Err(Error::Usage(_))),
            "subscribe while assigned: {refused:?}"
        );
        within(WAIT, "close", consumer.close()).await??;
        Ok(())
    });
}

/// tansu does not speak the consumer protocol (KIP-848): a member asking for it stops with an
/// error saying so (the protocol is verified in simulation, `sim_consumer_group`).
#[test]
fn the_consumer_protocol_is_refused_clearly_by_a_broker_without_it() {
    on_build_w("kip-848", |bootstrap| async move {
        let topic = unique("kip848");
        create_topic(&bootstrap, &topic, 1).await?;
        let log = new_log();
        let consumer = builder(&bootstrap, &unique("kip848-g"), &log)
            .group_protocol(GroupProtocol::Consumer)
            .build()
            .await?;
        consumer.subscribe([topic.as_str()])?;
        let e = within(WAIT, "recv", consumer.recv()).await?;
        check!(
            matches!(&e, Err(Error::Group(GroupError::Unsupported(_)))),
            "recv gave {e:?}"
        );
        within(WAIT, "close", consumer.close()).await??;
        Ok(())
    });
}

/// Auto mode without a listener: what was received of revoked partitions is committed before
/// they move (the timer is too slow to do it here), so the next owner reads nothing twice —
/// including the last batch, received before the revocation and counted processed by the
/// `recv` that runs it.
#[test]
fn auto_mode_commits_revoked_partitions_without_a_listener() {
    on_build_w("auto revoke", |bootstrap| async move {
        let (topic, group) = (unique("auto-revoke"), unique("auto-revoke-g"));
        create_topic(&bootstrap, &topic, 4).await?;
        let all = partitions(&topic, 4);
        fill_all(&bootstrap, &topic, 4, 0, 10).await?;
        let auto = || {
            Consumer::builder()
                .bootstrap_servers(&bootstrap)
                .group_id(&group)
                .offset_commit_mode(OffsetCommitMode::Auto)
                .auto_commit_interval(Duration::from_secs(600))
                .auto_offset_reset(AutoOffsetReset::Earliest)
                .session_timeout(Duration::from_secs(6))
                .heartbeat_interval(Duration::from_secs(1))
        };
        let (la, lb) = (new_log(), new_log());
        let a = auto().build().await?;
        a.subscribe([topic.as_str()])?;
        while count(&[&la]) < 40 {
            let batch = within(WAIT, "A's records", a.recv_batch(100)).await??;
            let mut log = lock(&la);
            for r in batch {
                log.records
                    .push((r.topic_partition().clone(), r.offset(), String::new()));
            }
        }
        // A asks for nothing more until B's join has made the group revoke its partitions
        // (they are paused then): the next recv finds the revocation due.
        let b = auto().build().await?;
        b.subscribe([topic.as_str()])?;
        let b = Member::start(b, lb.clone(), false);
        until(WAIT, "A's partitions to be revoked", || {
            a.paused().into_iter().collect::<BTreeSet<_>>() == all
        })
        .await?;
        let a = Member::start(a, la.clone(), false);
        until(WAIT, "A and B split", || split(&a, &b, &all)).await?;
        for tp in &all {
            let c = b.consumer.committed(tp).await?.map(|c| c.offset);
            check!(c == Some(10), "{tp}: committed {c:?} on revocation");
        }
        fill_all(&bootstrap, &topic, 4, 10, 5).await?;
        until(WAIT, "60 records", || count(&[&la, &lb]) == 60).await?;
        exactly_once(&[&la, &lb], &all, 15)?;
        within(WAIT, "A's close", a.close()).await??;
        within(WAIT, "B's close", b.close()).await??;
        Ok(())
    });
}

/// An application's assignor: every partition to the member with the smallest id, the others
/// stand by.
#[derive(Debug)]
struct StandBy;

impl dekaf_smol::Assignor for StandBy {
    fn name(&self) -> &'static str {
        "stand-by"
    }

    fn assign(
        &self,
        members: &[dekaf_smol::MemberSubscription],
        partitions_per_topic: &BTreeMap<String, i32>,
    ) -> dekaf_smol::GroupAssignment {
        let mut out: dekaf_smol::GroupAssignment = members
            .iter()
            .map(|m| (m.member_id.clone(), Vec::new()))
            .collect();
        let topics: BTreeSet<&String> = members.iter().flat_map(|m| &m.topics).collect();
        if let Some(first) = members.iter().map(|m| &m.member_id).min() {
            let all = topics
                .into_iter()
                .filter_map(|t| Some((t, *partitions_per_topic.get(t)?)))
                .flat_map(|(t, n)| (0..n).map(move |p| (t.clone(), p)))
                .collect();
            out.insert(first.clone(), all);
        }
        out
    }
}

#[test]
fn a_custom_assignor_decides_who_consumes_what() {
    on_build_w("custom assignor", |bootstrap| async move {
        let (topic, group) = (unique("group-custom"), unique("group-custom-g"));
        create_topic(&bootstrap, &topic, 4).await?;
        let all = partitions(&topic, 4);
        fill_all(&bootstrap, &topic, 4, 0, 10).await?;
        let stand_by = |log: &SharedLog| {
            builder(&bootstrap, &group, log)
                .custom_assignor(StandBy)
                .assignors(["stand-by"])
        };

        let (la, lb) = (new_log(), new_log());
        let a = stand_by(&la).build().await?;
        a.subscribe([topic.as_str()])?;
        let a = Member::start(a, la.clone(), true);
        until(WAIT, "A holds all 4", || a.assignment() == all).await?;
        let b = stand_by(&lb).build().await?;
        b.subscribe([topic.as_str()])?;
        let b = Member::start(b, lb.clone(), true);
        until(WAIT, "both members in the group", || {
            members(&bootstrap, &group).is_ok_and(|m| m.len() == 2)
                && b.consumer
                    .group_metadata()
                    .is_some_and(|g| g.generation_id > 0)
        })
        .await?;
        // tansu leaves DescribeGroups' protocol empty (Kafka names the protocol the group
        // chose, here "stand-by"); the assignment below shows which one ran.
        let chosen = describe(&bootstrap, &group)?.protocol_data;
        check!(
            chosen.is_empty() || chosen == "stand-by",
            "the group runs {chosen:?}"
        );
        // Whoever has the smaller member id holds everything, the other nothing.
        let a_id = a
            .consumer
            .group_metadata()
            .map(|g| g.member_id)
            .unwrap_or_default();
        let b_id = b
            .consumer
            .group_metadata()
            .map(|g| g.member_id)
            .unwrap_or_default();
        let (holder, idle) = if a_id < b_id { (&a, &b) } else { (&b, &a) };
        until(WAIT, "one member holds all 4, the other none", || {
            holder.assignment() == all && idle.assignment().is_empty()
        })
        .await?;
        let a_first = a_id < b_id;
        let (holder, idle, idle_log) = if a_first { (a, b, &lb) } else { (b, a, &la) };
        until(WAIT, "40 records", || count(&[&la, &lb]) == 40).await?;
        let idle_before = lock(idle_log).records.len();
        fill_all(&bootstrap, &topic, 4, 10, 10).await?;
        until(WAIT, "80 records", || count(&[&la, &lb]) == 80).await?;
        check!(
            lock(idle_log).records.len() == idle_before,
            "the idle member got records"
        );

        // The holder leaves: the other takes over from the committed offsets.
        within(WAIT, "the holder's close", holder.close()).await??;
        until(WAIT, "the other holds all 4", || idle.assignment() == all).await?;
        fill_all(&bootstrap, &topic, 4, 20, 10).await?;
        until(WAIT, "120 records", || count(&[&la, &lb]) == 120).await?;
        exactly_once(&[&la, &lb], &all, 30)?;
        within(WAIT, "the other's close", idle.close()).await??;
        Ok(())
    });
}
