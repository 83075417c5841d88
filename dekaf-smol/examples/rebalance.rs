//! Two consumers of one group share a topic: the first reads all four partitions alone, the
//! second joins and takes two (with the cooperative-sticky assignor only those two are
//! revoked from the first), then the first closes and the second takes all four. In Manual
//! mode, each commits after each batch and again in its revoked hook, so that a partition
//! handed over continues right after the last record processed: no record is lost and none
//! is processed twice.
//!
//! `DEKAF_BOOTSTRAP=127.0.0.1:9092 cargo run -p dekaf-smol --example rebalance`

#[macro_use]
#[path = "common/mod.rs"]
mod common;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{create_topic, fill, unique, wait_for, within, Result, PATIENCE};
use dekaf_smol::{
    AutoOffsetReset, Consumer, MemberState, OffsetCommitMode, RebalanceListener, TopicPartition,
};

fn main() -> std::process::ExitCode {
    common::main("rebalance", run)
}

const PARTITIONS: i32 = 4;

/// Who processed which record: (partition, offset) -> consumer name, and any duplicate.
#[derive(Default)]
struct Ledger {
    processed: BTreeMap<(i32, i64), &'static str>,
    twice: Vec<String>,
}

type SharedLedger = Arc<Mutex<Ledger>>;

fn lock(l: &SharedLedger) -> std::sync::MutexGuard<'_, Ledger> {
    l.lock().unwrap_or_else(|e| e.into_inner())
}

/// The rebalance hooks: say what happens, and commit before partitions move.
struct CommitOnRevoke {
    name: &'static str,
}

impl RebalanceListener for CommitOnRevoke {
    async fn on_assigned(&self, _consumer: &Consumer, partitions: &[TopicPartition]) {
        if !partitions.is_empty() {
            println!("  {}: assigned {}", self.name, numbers(partitions));
        }
    }

    async fn on_revoked(&self, consumer: &Consumer, partitions: &[TopicPartition]) {
        // Everything received so far is processed: commit it before another member starts.
        match consumer.commit().await {
            Ok(()) => println!(
                "  {}: revoked {}, processed offsets committed",
                self.name,
                numbers(partitions)
            ),
            Err(e) => eprintln!("  {}: commit on revoke failed: {e}", self.name),
        }
    }

    async fn on_lost(&self, _consumer: &Consumer, partitions: &[TopicPartition]) {
        eprintln!(
            "  {}: lost {} (nothing committed)",
            self.name,
            numbers(partitions)
        );
    }
}

fn numbers(partitions: &[TopicPartition]) -> String {
    let n: Vec<String> = partitions
        .iter()
        .map(|tp| tp.partition().to_string())
        .collect();
    format!("partitions [{}]", n.join(", "))
}

async fn member(bootstrap: &str, group: &str, topic: &str, name: &'static str) -> Result<Consumer> {
    let consumer = Consumer::builder()
        .bootstrap_servers(bootstrap)
        .group_id(group)
        .offset_commit_mode(OffsetCommitMode::Manual)
        .auto_offset_reset(AutoOffsetReset::Earliest)
        // Short timeouts so that the group settles in seconds.
        .session_timeout(Duration::from_secs(6))
        .heartbeat_interval(Duration::from_secs(1))
        // Cooperative: only the partitions that move are revoked.
        .assignors(["cooperative-sticky"])
        .rebalance_listener(CommitOnRevoke { name })
        .build()
        .await?;
    consumer.subscribe([topic])?;
    Ok(consumer)
}

/// The application's loop: a batch, process it, commit it; until told to stop.
fn work(
    name: &'static str,
    consumer: Arc<Consumer>,
    ledger: SharedLedger,
) -> (async_channel::Sender<()>, smol::Task<Result>) {
    let (stop, stopped) = async_channel::bounded::<()>(1);
    let task = smol::spawn(async move {
        loop {
            let batch = smol::future::or(
                async {
                    let _ = stopped.recv().await;
                    None
                },
                async { Some(consumer.recv_batch(50).await) },
            )
            .await;
            let Some(batch) = batch else { return Ok(()) };
            for record in batch? {
                let key = (record.partition(), record.offset());
                let mut l = lock(&ledger);
                if let Some(before) = l.processed.insert(key, name) {
                    l.twice.push(format!("{key:?} by {before} and {name}"));
                }
            }
            match consumer.commit().await {
                Ok(()) => {}
                // Refused by a rebalance: the revoked hook commits these offsets.
                Err(e) if e.is_rebalance() => {}
                Err(e) => return Err(e.into()),
            }
        }
    });
    (stop, task)
}

async fn fill_all(bootstrap: &str, topic: &str, first: i64) -> Result {
    for p in 0..PARTITIONS {
        fill(bootstrap, topic, p, first, 25).await?;
    }
    Ok(())
}

async fn until_processed(ledger: &SharedLedger, n: usize) -> Result {
    wait_for(PATIENCE, &format!("{n} records processed"), || async {
        Ok((lock(ledger).processed.len() >= n).then_some(()))
    })
    .await
}

/// Waits until the group has settled with these members holding `sizes` partitions: each
/// is stable in one generation they share. An assignment of the right size alone is not
/// enough: a member can hold it while it already rejoins, and records written then may be
/// read by a member that is about to lose them.
async fn until_settled(members: &[(&Consumer, usize)], what: &str) -> Result {
    wait_for(PATIENCE, what, || async {
        let mut generations = members.iter().map(|(c, size)| {
            let stable = c.member_state() == Some(MemberState::Stable);
            let generation = c.group_metadata().map(|g| g.generation_id);
            (stable && c.assignment().len() == *size)
                .then_some(generation)
                .flatten()
        });
        let first = generations.next().flatten();
        let shared = first.is_some_and(|g| g >= 0 && generations.all(|o| o == Some(g)));
        Ok(shared.then_some(()))
    })
    .await
}

/// Runs the example against the broker at `bootstrap`.
pub async fn run(bootstrap: String) -> Result {
    let (topic, group) = (unique("rebalance"), unique("rebalance-group"));
    create_topic(&bootstrap, &topic, PARTITIONS).await?;
    fill_all(&bootstrap, &topic, 0).await?;
    let ledger = SharedLedger::default();
    println!("rebalance: a topic of 4 partitions, 100 records; two consumers of one group");

    let first = Arc::new(member(&bootstrap, &group, &topic, "first").await?);
    let (stop_first, first_task) = work("first", first.clone(), ledger.clone());
    until_settled(
        &[(&first, 4)],
        "the first consumer to hold all 4 partitions",
    )
    .await?;
    until_processed(&ledger, 100).await?;
    println!("  first: processed the 100 records alone");

    let second = Arc::new(member(&bootstrap, &group, &topic, "second").await?);
    let (stop_second, second_task) = work("second", second.clone(), ledger.clone());
    until_settled(
        &[(&first, 2), (&second, 2)],
        "the group to settle with 2 partitions each",
    )
    .await?;
    fill_all(&bootstrap, &topic, 25).await?;
    until_processed(&ledger, 200).await?;
    let by_second = lock(&ledger)
        .processed
        .values()
        .filter(|n| **n == "second")
        .count();
    check!(
        by_second == 50,
        "the second consumer processed {by_second} of 100 new records, not its 2 partitions' 50"
    );
    println!("  100 more records: 50 to each");
    until_settled(
        &[(&first, 2), (&second, 2)],
        "the group to be settled before the first consumer closes",
    )
    .await?;

    let _ = stop_first.try_send(());
    within(PATIENCE, "the first consumer's loop to stop", first_task).await??;
    let first = Arc::try_unwrap(first).map_err(|_| "the first consumer is still shared")?;
    within(PATIENCE, "the first consumer to close", first.close()).await??;
    println!("  first: closed (revoked, committed, left the group)");
    until_settled(
        &[(&second, 4)],
        "the second consumer to take all 4 partitions",
    )
    .await?;
    fill_all(&bootstrap, &topic, 50).await?;
    until_processed(&ledger, 300).await?;

    let _ = stop_second.try_send(());
    within(PATIENCE, "the second consumer's loop to stop", second_task).await??;
    let second = Arc::try_unwrap(second).map_err(|_| "the second consumer is still shared")?;
    within(PATIENCE, "the second consumer to close", second.close()).await??;

    let l = lock(&ledger);
    check!(l.twice.is_empty(), "processed twice: {:?}", l.twice);
    for p in 0..PARTITIONS {
        for offset in 0..75 {
            check!(
                l.processed.contains_key(&(p, offset)),
                "record {offset} of partition {p} was never processed"
            );
        }
    }
    check!(
        l.processed.len() == 300,
        "{} records processed, not 300",
        l.processed.len()
    );
    println!("  all 300 records processed exactly once across both hand-overs");
    Ok(())
}
