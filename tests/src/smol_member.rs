//! A dekaf-smol consumer as a member of a group for real-broker tests: a task of its own asks
//! for records in a loop (committing after each batch in Manual mode), and a
//! [`RebalanceListener`] writes every hook down (committing in `on_revoked` when asked to).
//! Each record is checked against the assignment when it arrives: a member must only receive
//! records of partitions it holds.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use async_channel::Sender;
use dekaf_smol::{Consumer, Error, RebalanceListener, TopicPartition};

/// One hook call, as the listener saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Hook {
    /// `on_assigned`.
    Assigned(Vec<TopicPartition>),
    /// `on_revoked`.
    Revoked(Vec<TopicPartition>),
    /// `on_lost`.
    Lost(Vec<TopicPartition>),
}

/// What a member went through.
#[derive(Debug, Default)]
pub struct MemberLog {
    /// Every record received: partition, offset, value.
    pub records: Vec<(TopicPartition, i64, String)>,
    /// Every hook call, in order.
    pub hooks: Vec<Hook>,
    /// Errors `recv_batch` returned.
    pub errors: Vec<Error>,
    /// Broken rules (a record of a partition not held, a failed commit).
    pub violations: Vec<String>,
    /// Per `on_revoked` that committed: the partitions and their positions then.
    pub revoke_commits: Vec<Vec<(TopicPartition, i64)>>,
}

/// A shared [`MemberLog`].
pub type SharedLog = Arc<Mutex<MemberLog>>;

/// Locks a log (a panic elsewhere leaves it usable).
pub fn lock(log: &SharedLog) -> MutexGuard<'_, MemberLog> {
    log.lock().unwrap_or_else(|e| e.into_inner())
}

/// The listener: writes hooks down, and commits every position in `on_revoked` if asked to.
#[derive(Debug, Clone)]
pub struct Recorder {
    log: SharedLog,
    commit_on_revoke: bool,
}

impl Recorder {
    /// A recorder writing to `log`.
    pub fn new(log: SharedLog, commit_on_revoke: bool) -> Self {
        Recorder {
            log,
            commit_on_revoke,
        }
    }
}

impl RebalanceListener for Recorder {
    async fn on_assigned(&self, _consumer: &Consumer, partitions: &[TopicPartition]) {
        lock(&self.log)
            .hooks
            .push(Hook::Assigned(partitions.to_vec()));
    }

    async fn on_revoked(&self, consumer: &Consumer, partitions: &[TopicPartition]) {
        lock(&self.log)
            .hooks
            .push(Hook::Revoked(partitions.to_vec()));
        if self.commit_on_revoke {
            let positions: Vec<(TopicPartition, i64)> = partitions
                .iter()
                .filter_map(|tp| Some((tp.clone(), consumer.position(tp)?)))
                .collect();
            match consumer.commit().await {
                Ok(()) => lock(&self.log).revoke_commits.push(positions),
                Err(e) => lock(&self.log)
                    .violations
                    .push(format!("commit in on_revoked({partitions:?}) failed: {e}")),
            }
        }
    }

    async fn on_lost(&self, _consumer: &Consumer, partitions: &[TopicPartition]) {
        lock(&self.log).hooks.push(Hook::Lost(partitions.to_vec()));
    }
}

/// A consumer asking for records on a task of its own.
pub struct Member {
    /// The consumer (shared with the task).
    pub consumer: Arc<Consumer>,
    /// What it went through.
    pub log: SharedLog,
    stop: Sender<()>,
    task: Option<smol::Task<()>>,
}

impl Member {
    /// Starts asking `consumer` (already subscribed, or not yet) for records; `log` is the
    /// one its [`Recorder`] writes to. With `commit_each_batch` (Manual mode) each batch is
    /// committed once received.
    pub fn start(consumer: Consumer, log: SharedLog, commit_each_batch: bool) -> Member {
        crate::init_logging();
        let consumer = Arc::new(consumer);
        let (stop, stopped) = async_channel::bounded::<()>(1);
        let c = consumer.clone();
        let l = log.clone();
        let task = smol::spawn(async move {
            loop {
                let next = futures_lite::future::or(
                    async {
                        let _ = stopped.recv().await;
                        None
                    },
                    async { Some(c.recv_batch(100).await) },
                )
                .await;
                match next {
                    None => return,
                    Some(Ok(batch)) => {
                        let held: BTreeSet<TopicPartition> = c.assignment().into_iter().collect();
                        {
                            let mut log = lock(&l);
                            for r in &batch {
                                let tp = r.topic_partition().clone();
                                if !held.contains(&tp) {
                                    log.violations.push(format!(
                                        "received {tp}@{} while holding {held:?}",
                                        r.offset()
                                    ));
                                }
                                let value = r
                                    .value()
                                    .map(|v| String::from_utf8_lossy(v).into_owned())
                                    .unwrap_or_default();
                                log.records.push((tp, r.offset(), value));
                            }
                        }
                        if commit_each_batch {
                            if let Err(e) = c.commit().await {
                                // A rebalance may refuse it: the offsets stay for the next.
                                if !e.is_rebalance() {
                                    lock(&l).violations.push(format!("commit failed: {e}"));
                                }
                            }
                        }
                    }
                    Some(Err(Error::Shutdown)) => return,
                    Some(Err(e)) => lock(&l).errors.push(e),
                }
            }
        });
        Member {
            consumer,
            log,
            stop,
            task: Some(task),
        }
    }

    /// The partitions the consumer holds now.
    pub fn assignment(&self) -> BTreeSet<TopicPartition> {
        self.consumer.assignment().into_iter().collect()
    }

    /// The offsets received of `tp`, in order.
    pub fn offsets(&self, tp: &TopicPartition) -> Vec<i64> {
        lock(&self.log)
            .records
            .iter()
            .filter(|(p, _, _)| p == tp)
            .map(|(_, o, _)| *o)
            .collect()
    }

    /// Stops asking for records and gives the consumer back.
    pub async fn stop(mut self) -> Consumer {
        let _ = self.stop.try_send(());
        if let Some(task) = self.task.take() {
            task.await;
        }
        let mut consumer = self.consumer.clone();
        drop(self);
        loop {
            match Arc::try_unwrap(consumer) {
                Ok(c) => return c,
                Err(again) => {
                    consumer = again;
                    async_io::Timer::after(Duration::from_millis(10)).await;
                }
            }
        }
    }

    /// Stops asking for records, then closes the consumer.
    pub async fn close(self) -> Result<(), Error> {
        self.stop().await.close().await
    }
}

impl Drop for Member {
    fn drop(&mut self) {
        let _ = self.stop.try_send(());
    }
}

/// Waits until `done` holds, checking every 20 ms; an error naming `what` after `limit`.
pub async fn until(
    limit: Duration,
    what: &str,
    mut done: impl FnMut() -> bool,
) -> Result<(), String> {
    let deadline = Instant::now() + limit;
    loop {
        if done() {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(format!("timed out after {limit:?}: {what}"));
        }
        async_io::Timer::after(Duration::from_millis(20)).await;
    }
}
