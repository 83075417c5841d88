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
use dekaf_smol::{
    AutoOffsetReset, Consumer, ConsumerBuilder, Error, OffsetCommitMode, TopicPartition,
};
use dekaf_tests::smol_member::{lock, until, Hook, Member, MemberLog, Recorder, SharedLog};
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

        within(WAIT, "A's close", a.close()).await??;
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

/// What `MemberLog` a test inspects, for the unused-import lint.
#[allow(dead_code)]
fn _log_type(_: &MemberLog, _: &Error) {}
