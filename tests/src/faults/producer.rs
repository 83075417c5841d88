//! An idempotent producer writes numbered records while leaders move, brokers go down or
//! slow, and connections drop right after a Produce was written (the broker stores the batch,
//! the producer never hears of it and must send it again without writing it twice).

use std::collections::BTreeMap;
use std::future::IntoFuture;
use std::time::Duration;

use dekaf_proto::ApiKey;
use dekaf_smol::{Delivery, Error, IsolationLevel, Producer, ProducerRecord, RecordMetadata};

use super::journal::error_kind;
use super::schedule::{FaultKind, Menu, Schedule};
use super::{create_topic, read_log, unique, within, Report, Setup, Stored, PATIENCE};

/// The partitions of the topic written to (records go to `i % PARTITIONS`).
pub(crate) const PARTITIONS: i32 = 4;

/// Sends records `0..n` (value `"{i}"`, partition `i % PARTITIONS`) through `producer`,
/// spread over `over`; the outcome of each.
pub(crate) async fn send_numbered(
    producer: &Producer,
    topic: &str,
    n: usize,
    over: Duration,
) -> Vec<(usize, Result<RecordMetadata, Error>)> {
    let steps = (over.as_millis() / 50).max(1) as usize;
    let per_step = n.div_ceil(steps).max(1);
    let mut pending: Vec<(usize, Delivery)> = Vec::new();
    let mut outcomes = Vec::new();
    for i in 0..n {
        let record = ProducerRecord::new(topic)
            .partition((i % PARTITIONS as usize) as i32)
            .value(format!("{i}"));
        match producer.send(record).buffered().await {
            Ok(delivery) => pending.push((i, delivery)),
            Err(e) => outcomes.push((i, Err(e))),
        }
        if i % per_step == per_step - 1 {
            smol::Timer::after(Duration::from_millis(50)).await;
        }
    }
    for (i, delivery) in pending {
        let outcome = match within(PATIENCE, delivery.into_future()).await {
            Some(outcome) => outcome,
            None => Err(Error::Config(format!(
                "delivery of record {i} not settled within {PATIENCE:?}"
            ))),
        };
        outcomes.push((i, outcome));
    }
    outcomes.sort_by_key(|(i, _)| *i);
    outcomes
}

/// Checks the idempotent producer's promises against the log: each acknowledged record
/// once, where its acknowledgement said, in send order; no duplicate; nothing unsent.
pub(crate) fn check_numbered(
    report: &mut Report,
    outcomes: &[(usize, Result<RecordMetadata, Error>)],
    log: &BTreeMap<i32, Vec<Stored>>,
    all_must_succeed: bool,
) {
    let sent = outcomes.len();
    let mut failed: BTreeMap<String, u32> = BTreeMap::new();
    let mut acked: BTreeMap<usize, (i32, Option<i64>)> = BTreeMap::new();
    for (i, outcome) in outcomes {
        match outcome {
            Ok(m) => {
                acked.insert(*i, (m.partition(), m.offset()));
            }
            Err(e) => *failed.entry(error_kind(e)).or_default() += 1,
        }
    }
    let mut found: BTreeMap<usize, Vec<(i32, i64)>> = BTreeMap::new();
    let mut order_broken = Vec::new();
    let mut unsent = Vec::new();
    for (p, records) in log {
        let mut last: Option<usize> = None;
        for s in records {
            let Some(i) = std::str::from_utf8(&s.value)
                .ok()
                .and_then(|v| v.parse::<usize>().ok())
                .filter(|i| *i < sent && (*i % PARTITIONS as usize) as i32 == *p)
            else {
                unsent.push(format!("{p}@{}", s.offset));
                continue;
            };
            if last.is_some_and(|l| l >= i) {
                order_broken.push(format!("{p}@{}: {i} after {}", s.offset, last.unwrap_or(0)));
            }
            last = Some(i);
            found.entry(i).or_default().push((*p, s.offset));
        }
    }
    let in_log: usize = log.values().map(Vec::len).sum();
    report.checked(format!(
        "every record acknowledged: {} of {sent}",
        acked.len()
    ));
    if all_must_succeed && !failed.is_empty() {
        report.violation(format!(
            "{} records failed after the faults healed: {failed:?}",
            sent - acked.len()
        ));
    } else if !failed.is_empty() {
        report.note(format!("failed sends: {failed:?}"));
    }
    let twice: Vec<String> = found
        .iter()
        .filter(|(_, at)| at.len() > 1)
        .map(|(i, at)| format!("{i} at {at:?}"))
        .take(20)
        .collect();
    report.checked(format!("no duplicate ({in_log} records in the log)"));
    if !twice.is_empty() {
        report.violation(format!("written more than once: {twice:?}"));
    }
    let mut misplaced = Vec::new();
    let mut missing = Vec::new();
    for (i, (p, offset)) in &acked {
        match (found.get(i), offset) {
            (Some(at), Some(o)) if at.contains(&(*p, *o)) => {}
            (Some(at), None) if at.iter().any(|(q, _)| q == p) => {}
            (Some(at), _) => misplaced.push(format!(
                "{i}: acknowledged at {p}@{offset:?}, found at {at:?}"
            )),
            (None, _) => missing.push(format!("{i} (acknowledged at {p}@{offset:?})")),
        }
    }
    let unknown = acked.values().filter(|(_, o)| o.is_none()).count();
    report.checked(format!(
        "each acknowledged record in the log, at the offset acknowledged ({unknown} \
         acknowledged without an offset, as a retried batch the broker had already written is)"
    ));
    if !missing.is_empty() {
        missing.truncate(20);
        report.violation(format!("acknowledged but not in the log: {missing:?}"));
    }
    if !misplaced.is_empty() {
        misplaced.truncate(20);
        report.violation(format!(
            "acknowledged elsewhere than written: {misplaced:?}"
        ));
    }
    report.checked("per partition, records in send order; nothing that was not sent");
    if !order_broken.is_empty() {
        order_broken.truncate(20);
        report.violation(format!("out of send order: {order_broken:?}"));
    }
    if !unsent.is_empty() {
        unsent.truncate(20);
        report.violation(format!("records nobody sent: {unsent:?}"));
    }
}

pub(crate) async fn run(setup: &Setup, report: &mut Report) {
    let topic = unique("faults-idempotent");
    if let Err(e) = create_topic(&setup.direct, &topic, PARTITIONS).await {
        return report.violation(format!("setup: {e}"));
    }
    let producer = match Producer::builder()
        .bootstrap_servers(setup.proxy.bootstrap())
        .request_timeout(Duration::from_secs(10))
        .delivery_timeout(PATIENCE)
        .build()
        .await
    {
        Ok(p) => p,
        Err(e) => return report.violation(format!("setup: producer: {e}")),
    };
    let mut menu = Menu::new(vec![(topic.clone(), PARTITIONS)]);
    menu.kinds.retain(|k| *k != FaultKind::MoveCoordinator);
    menu.kinds.push(FaultKind::DropAfterRequest);
    menu.drop_after = vec![
        Some(ApiKey::Produce),
        Some(ApiKey::Produce),
        Some(ApiKey::Produce),
        Some(ApiKey::Metadata),
        None,
    ];
    // The schedule heals the cluster once the fault phase is over: the deliveries still
    // pending then settle against a healed cluster.
    let schedule = Schedule::start(
        setup.proxy.clone(),
        menu,
        setup.seed,
        setup.length.faults_for,
    );
    let outcomes = send_numbered(
        &producer,
        &topic,
        setup.length.records,
        setup.length.faults_for,
    )
    .await;
    report.note(format!("schedule injected: {}", schedule.stop()));
    match within(PATIENCE, producer.flush()).await {
        Some(Ok(())) => {}
        Some(Err(e)) => report.note(format!("flush: {e}")),
        None => report.violation(format!("flush() hung for {PATIENCE:?}")),
    }
    match within(Duration::from_secs(30), producer.close()).await {
        Some(Ok(())) => {}
        Some(Err(e)) => report.note(format!("close: {e}")),
        None => report.violation("close() hung for 30 s"),
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
    check_numbered(report, &outcomes, &log, true);
}
