//! The async consumer: [`Consumer`], built with [`ConsumerBuilder`].

mod builder;
mod group;
mod machine;
mod rebalance;
mod record;

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use async_channel::Receiver;
use dekaf_state::consumer::{Consumer as StateConsumer, ConsumerConfig, Watermarks};
use dekaf_state::offset::{
    Event, OffsetAndMetadata, OffsetAndTimestamp, TopicPartition, TopicPartitionOffset,
    TopicPartitionTimestamp,
};
use futures_core::Stream;

pub use builder::{ConsumerBuilder, GroupSettings};
pub use dekaf_state::group::{GroupMetadata, GroupProtocol};
pub use rebalance::{NoopListener, Rebalance, RebalanceListener};
pub use record::ConsumerRecord;

use machine::{Inner, Machine, Shared};
use rebalance::DynListener;

use crate::metrics::{CommitMetrics, ConsumerMetrics, GroupMetrics, PartitionMetrics};
use crate::{glue, Config, Error, Handle, Spawner};

/// A Kafka consumer: reads records from the partitions it is given, in order per partition,
/// and keeps their offsets (what was consumed, what is committed).
///
/// Build one with [`Consumer::builder`], give it partitions with [`assign`](Self::assign) or
/// let its group hand them out with [`subscribe`](Self::subscribe) (see [Groups](Self#groups)),
/// then read records as a [`Stream`], one at a time with [`recv`](Self::recv), or in batches
/// with [`recv_batch`](Self::recv_batch).
///
/// ```no_run
/// use dekaf_smol::{Consumer, OffsetCommitMode, TopicPartition};
/// use futures_lite::StreamExt;
///
/// # async fn process(_: &dekaf_smol::ConsumerRecord) {}
/// # async fn example() -> Result<(), dekaf_smol::Error> {
/// let mut consumer = Consumer::builder()
///     .bootstrap_servers("localhost:9092")
///     .group_id("my-group")
///     .offset_commit_mode(OffsetCommitMode::Manual)
///     .build()
///     .await?;
/// consumer.assign([TopicPartition::new("my-topic", 0)])?;
/// while let Some(record) = consumer.next().await {
///     let record = record?;
///     process(&record).await; // process first,
///     consumer.commit().await?; // then commit
/// }
/// # Ok(()) }
/// ```
///
/// # Offsets
///
/// The *position* of a partition is the offset of the next record to receive. A record
/// counts as processed when the next record or batch is asked for, on `commit` and on `close`
/// (or, with [`AckMode::Explicit`](crate::AckMode::Explicit), when [`ack`](Self::ack)ed).
/// In [`OffsetCommitMode::Auto`](crate::OffsetCommitMode::Auto) the consumer commits what
/// was processed in the background; in `Manual` mode only [`commit`](Self::commit) (every
/// assigned partition's position) and [`commit_offsets`](Self::commit_offsets) (offsets you
/// choose) commit. A committed offset is the next offset to read: committing 3 says "0, 1
/// and 2 are done".
///
/// # Errors
///
/// Calls refused as they stand (a partition not assigned, a negative offset, a topic name
/// Kafka refuses, storing an offset beyond what was handed out) fail at once with
/// [`Error::Offset`]; `commit_offsets` commits any offset at or above 0, beyond the position
/// too (as Kafka's clients do: the offsets are yours). Problems found while fetching (an unknown topic, a
/// partition without a position, a refused fetch) come out of `recv` and the stream as
/// `Err` items, before the next records; they do not end the stream, which keeps trying.
/// Commits refused by a rebalance fail with an error whose
/// [`is_rebalance`](Error::is_rebalance) is true.
///
/// # Groups
///
/// A consumer either reads the partitions it is given with [`assign`](Self::assign) (the
/// group id then only keeps committed offsets), or joins its group with
/// [`subscribe`](Self::subscribe) / [`subscribe_pattern`](Self::subscribe_pattern) and reads
/// the partitions the group hands it: the members split the subscribed topics' partitions
/// among them, by the assignor they share (`range`, `roundrobin`, `cooperative-sticky`; see
/// [`GroupSettings`]), and hand them over when one joins, leaves or stops asking for records
/// within the max poll interval. Members of other clients (Java, librdkafka) can share the
/// group.
///
/// A [`RebalanceListener`] given to the builder hears each change, on the application's task
/// inside `recv`, `recv_batch` and the stream: `on_revoked` before partitions go to another
/// member (commit there in Manual mode; Auto mode commits them right after it, listener or
/// not), `on_lost` when they went without that chance (nothing of them is committed), and
/// `on_assigned` once new partitions are known (seek there to start elsewhere than the
/// committed offsets). Hooks run only while the application asks for records, as in Java.
///
/// ```no_run
/// use dekaf_smol::{Consumer, OffsetCommitMode, RebalanceListener, TopicPartition};
///
/// struct CommitOnRevoke;
///
/// impl RebalanceListener for CommitOnRevoke {
///     async fn on_revoked(&self, consumer: &Consumer, _: &[TopicPartition]) {
///         // What was received so far is processed: the next owner starts after it.
///         let _ = consumer.commit().await;
///     }
/// }
///
/// # async fn example() -> Result<(), dekaf_smol::Error> {
/// let consumer = Consumer::builder()
///     .bootstrap_servers("localhost:9092")
///     .group_id("my-group")
///     .offset_commit_mode(OffsetCommitMode::Manual)
///     .rebalance_listener(CommitOnRevoke)
///     .build()
///     .await?;
/// consumer.subscribe(["orders"])?;
/// loop {
///     let batch = consumer.recv_batch(100).await?;
///     // ... process the batch ...
///     consumer.commit().await?;
/// }
/// # }
/// ```
///
/// [`close`](Self::close) runs `on_revoked` for what the member holds, commits (Auto mode)
/// and leaves the group, so that the others take over at once; a static member
/// ([`group_instance_id`](ConsumerBuilder::group_instance_id)) does not leave, and gets its
/// partitions back if it returns within the session timeout.
/// [`group_metadata`](Self::group_metadata) gives what a transactional producer sends with
/// consumed offsets. When the application stops asking for records for longer than the max
/// poll interval, the member leaves its group (its partitions are lost) and `recv` says so
/// with [`Error::MaxPollIntervalExceeded`]; asking again rejoins.
///
/// # The driver
///
/// A driver task owns the connections; `build` starts it with the builder's
/// [`Spawner`] (a thread of its own by default). The consumer and the driver share the state
/// machine behind a lock held only briefly: getters and commands that need no broker
/// answer (`position`, `seek`, `pause`, `store`, ...) return at once.
/// [`close`](Self::close) commits (in Auto mode) and stops the driver; dropping the consumer
/// does the same in the background, except for what it commits: see
/// [Dropping](Self#dropping-instead-of-closing).
///
/// # Dropping instead of closing
///
/// An explicit [`close`](Self::close) says the application is done with every record it
/// received, so Auto mode commits them all. A consumer dropped without `close` — the
/// application left its loop with `?` because processing a record failed, or a panic
/// unwound through it — commits only what was processed *before* the last record or batch
/// handed out: the record that failed is delivered again, to this application when it
/// restarts or to the next owner of its partition. (Java's consumer and librdkafka commit
/// everything on close in both cases, which skips the record that failed.)
///
/// ```no_run
/// # use dekaf_smol::{Consumer, ConsumerRecord, Error};
/// # async fn process(_: &ConsumerRecord) -> Result<(), Error> { Ok(()) }
/// # async fn example(consumer: Consumer) -> Result<(), Error> {
/// loop {
///     let record = consumer.recv().await?;
///     // On an error the consumer is dropped: `record` is not committed.
///     process(&record).await?;
/// }
/// # }
/// ```
pub struct Consumer {
    shared: Arc<Shared>,
    handle: Handle<Machine>,
    /// Closed when the driver's task ends.
    stopped: Receiver<()>,
    group: GroupSettings,
    listener: Arc<dyn DynListener>,
    /// False for the copy a rebalance hook is given: dropping it closes nothing.
    owner: bool,
}

impl std::fmt::Debug for Consumer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Consumer")
            .field("handle", &self.handle)
            .field("group", &self.group)
            .field("owner", &self.owner)
            .finish_non_exhaustive()
    }
}

impl Consumer {
    /// A builder with the default settings.
    pub fn builder() -> ConsumerBuilder {
        ConsumerBuilder::default()
    }

    async fn start(
        connection: Config,
        config: ConsumerConfig,
        group: GroupSettings,
        spawner: Spawner,
        listener: Arc<dyn DynListener>,
    ) -> Result<Consumer, Error> {
        let shared = Shared::new(
            Inner::new(StateConsumer::new(config)),
            connection.bootstrap_servers.clone(),
        );
        let started = glue::start(
            "dekaf-consumer",
            connection,
            &spawner,
            glue::Machine(shared.clone()),
            glue::StateHooks,
            glue::StopGuard(shared.clone()),
        )
        .await?;
        let (handle, stopped) = (started.handle, started.stopped);
        Ok(Consumer {
            shared,
            handle,
            stopped,
            group,
            listener,
            owner: true,
        })
    }

    /// Waits until a broker of the cluster answers, at most `timeout`.
    ///
    /// [`build`](ConsumerBuilder::build) does not contact the cluster: a consumer built while
    /// the brokers are unreachable keeps trying in the background, and receives records once
    /// one answers. An application that would rather fail at start-up calls `ready` first.
    /// Fails with [`Error::NoBrokerAvailable`] (with the last connection failure as its
    /// cause) after `timeout`, and at once on a failure no retry fixes (credentials or a
    /// certificate refused).
    pub async fn ready(&self, timeout: Duration) -> Result<(), Error> {
        self.shared.ready(&self.handle, timeout, |_| false).await
    }

    fn nudge(&self) {
        self.shared.nudge(&self.handle);
    }

    /// The same consumer for a rebalance hook to keep while it runs; dropping it does nothing.
    fn alias(&self) -> Consumer {
        Consumer {
            shared: self.shared.clone(),
            handle: self.handle.clone(),
            stopped: self.stopped.clone(),
            group: self.group.clone(),
            listener: self.listener.clone(),
            owner: false,
        }
    }

    /// The machine, unless the driver has stopped.
    fn lock_running(&self) -> Result<std::sync::MutexGuard<'_, Inner>, Error> {
        let inner = self.shared.lock();
        if inner.stopped {
            return Err(Error::Shutdown);
        }
        Ok(inner)
    }

    /// Runs a command that needs no broker answer, then lets the driver send what it made due.
    fn command<R>(
        &self,
        f: impl FnOnce(&mut Inner, Instant) -> Result<R, dekaf_state::offset::OffsetError>,
    ) -> Result<R, Error> {
        let result = {
            let mut inner = self.lock_running()?;
            f(&mut inner, Instant::now())?
        };
        self.nudge();
        Ok(result)
    }

    // ----- assignment -----

    /// Reads exactly these partitions from now on (no group membership). Partitions kept
    /// keep their position; new ones start from their committed offset, or from
    /// `auto_offset_reset` when there is none; removed ones are dropped. In Auto mode,
    /// processed offsets not yet committed are committed first, in the background.
    ///
    /// Fails with [`Error::Usage`] while the consumer is subscribed: the group decides its
    /// partitions then ([`unsubscribe`](Self::unsubscribe) first).
    pub fn assign(
        &self,
        partitions: impl IntoIterator<Item = TopicPartition>,
    ) -> Result<(), Error> {
        let result = {
            let mut inner = self.lock_running()?;
            if group::is_subscribed(&inner) {
                return Err(Error::Usage(
                    "assign while subscribed: the group assigns the partitions",
                ));
            }
            inner.consumer.assign(Instant::now(), partitions).map(drop)
        };
        self.nudge();
        Ok(result?)
    }

    /// The assigned partitions, in order: given by [`assign`](Self::assign), or by the group
    /// (including, during a rebalance, partitions being revoked).
    pub fn assignment(&self) -> Vec<TopicPartition> {
        self.shared.lock().consumer.assignment()
    }

    /// The group membership settings given to the builder.
    pub fn group_settings(&self) -> &GroupSettings {
        &self.group
    }

    // ----- records -----

    /// Polls for the next record: an error for the application first, then a buffered
    /// record; `None` once the consumer has stopped.
    pub fn poll_recv(&self, cx: &mut Context<'_>) -> Poll<Option<Result<ConsumerRecord, Error>>> {
        match self.poll_take_with(cx, 1, Vec::pop) {
            Poll::Ready(Ok(record)) => Poll::Ready(record.map(|r| Ok(ConsumerRecord(r)))),
            Poll::Ready(Err(Error::Shutdown)) => Poll::Ready(None),
            Poll::Ready(Err(e)) => Poll::Ready(Some(Err(e))),
            Poll::Pending => Poll::Pending,
        }
    }

    /// Up to `max` (at least 1) records, an error for the application, or `Shutdown`. Due
    /// rebalance hooks run first.
    fn poll_take(
        &self,
        cx: &mut Context<'_>,
        max: usize,
    ) -> Poll<Result<Vec<ConsumerRecord>, Error>> {
        self.poll_take_with(cx, max, |taken| {
            std::mem::take(taken)
                .into_iter()
                .map(ConsumerRecord)
                .collect()
        })
    }

    /// Runs the due rebalance hooks, then takes up to `max` records into the machine's
    /// reusable vector and hands it to `out` (which empties it) under the same lock.
    fn poll_take_with<R>(
        &self,
        cx: &mut Context<'_>,
        max: usize,
        out: impl FnOnce(&mut Vec<dekaf_state::consumer::ConsumerRecord>) -> R,
    ) -> Poll<Result<R, Error>> {
        loop {
            let mut guard = self.shared.lock();
            let inner = &mut *guard;
            // Under the same lock as `poll_records_into`, which confirms a pending revocation:
            // a `Revoked` the driver has not handed out yet must reach its hook first. The
            // hooks run outside the lock; with none due (nearly always) the lock is taken
            // once per call.
            inner.drain_events();
            if inner.hooks_pending() && !inner.stopped && !inner.consumer.is_closed() {
                drop(guard);
                match self.poll_hooks(cx) {
                    Poll::Ready(Ok(())) => continue,
                    Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                    Poll::Pending => return Poll::Pending,
                }
            }
            if let Some(e) = inner.errors.pop_front() {
                return Poll::Ready(Err(e));
            }
            if inner.stopped || inner.consumer.is_closed() {
                return Poll::Ready(Err(Error::Shutdown));
            }
            inner.taken.clear();
            // Room for a batch at once rather than growing record by record (bounded: `max`
            // may be far more than is buffered).
            inner.taken.reserve(max.min(1024));
            let now = inner.take_time();
            inner.consumer.poll_records_into(now, max, &mut inner.taken);
            let n = inner.taken.len();
            if n == 0 {
                inner.waited();
                inner.wait_for_records(cx.waker());
                drop(guard);
                // Whatever taking records made fetchable is fetched before this task sleeps.
                self.nudge();
                return Poll::Pending;
            }
            let wake_driver = inner.took(n);
            let records = out(&mut inner.taken);
            drop(guard);
            if wake_driver {
                self.nudge();
            }
            return Poll::Ready(Ok(records));
        }
    }

    /// The next record, waiting until one is fetched. Asking for it counts as having
    /// processed the record received before (see [Offsets](Self#offsets)).
    ///
    /// Errors met while fetching come out here before the next records and do not end the
    /// consumer; [`Error::Shutdown`] means it has stopped.
    pub async fn recv(&self) -> Result<ConsumerRecord, Error> {
        futures_lite::future::poll_fn(|cx| self.poll_recv(cx))
            .await
            .unwrap_or(Err(Error::Shutdown))
    }

    /// Up to `max` records, waiting until at least one is fetched: what is ready now, never
    /// waiting for more. Asking counts as having processed every record received before.
    pub async fn recv_batch(&self, max: usize) -> Result<Vec<ConsumerRecord>, Error> {
        futures_lite::future::poll_fn(|cx| self.poll_take(cx, max.max(1))).await
    }

    /// The records as a stream borrowing the consumer, so that it can commit, seek or pause
    /// while the stream is in use (`Consumer` is a stream itself too).
    pub fn stream(&self) -> RecordStream<'_> {
        RecordStream { consumer: self }
    }

    // ----- processed, stored and committed offsets -----

    /// Marks `record` processed, in any order ([`AckMode::Explicit`](crate::AckMode)): the
    /// offset commits carry moves to the end of the acknowledged prefix of its partition.
    pub fn ack(&self, record: &ConsumerRecord) -> Result<(), Error> {
        self.command(|inner, now| inner.consumer.ack(now, &record.0))
    }

    /// Stores `record` as done: the next commit of its partition (Auto mode's, or
    /// [`commit`](Self::commit)) carries its offset + 1.
    pub fn store(&self, record: &ConsumerRecord) -> Result<(), Error> {
        self.command(|inner, now| inner.consumer.store(now, &record.0))
    }

    /// Stores offsets to be committed later (each the next offset to read, at most the
    /// position); all or nothing.
    pub fn store_offsets(
        &self,
        offsets: impl IntoIterator<Item = TopicPartitionOffset>,
    ) -> Result<(), Error> {
        self.command(|inner, now| inner.consumer.store_offsets(now, offsets))
    }

    /// Commits the position of every assigned partition — everything received counts as
    /// processed — and waits for the coordinator's answer.
    pub async fn commit(&self) -> Result<(), Error> {
        self.commit_with(|inner, now| inner.consumer.commit(now))
            .await
    }

    /// Commits exactly these offsets (each the next offset to read: commit 100 once 99 is
    /// processed) and waits for the coordinator's answer. The partitions must be assigned;
    /// an offset beyond the position is committed as given (Kafka's clients do the same),
    /// a negative one is refused.
    pub async fn commit_offsets(
        &self,
        offsets: impl IntoIterator<Item = TopicPartitionOffset>,
    ) -> Result<(), Error> {
        self.commit_with(|inner, now| inner.consumer.commit_offsets(now, offsets))
            .await
    }

    async fn commit_with(
        &self,
        f: impl FnOnce(
            &mut Inner,
            Instant,
        )
            -> Result<dekaf_state::offset::CommitId, dekaf_state::offset::OffsetError>,
    ) -> Result<(), Error> {
        let answer = self.command(|inner, now| {
            let id = f(inner, now)?;
            let (tx, rx) = async_channel::bounded(1);
            inner.commits.insert(id, tx);
            Ok(rx)
        })?;
        answer
            .recv()
            .await
            .map_err(|_| Error::Shutdown)?
            .map_err(Error::from)
    }

    /// The committed offset of `tp` (assigned or not), asked of the coordinator: `None` when
    /// the group has committed none.
    pub async fn committed(&self, tp: &TopicPartition) -> Result<Option<OffsetAndMetadata>, Error> {
        let mut all = self.committed_many([tp.clone()]).await?;
        Ok(all
            .iter()
            .position(|(p, _)| p == tp)
            .and_then(|i| all.swap_remove(i).1))
    }

    /// The committed offsets of several partitions (assigned or not), asked of the
    /// coordinator in one request.
    pub async fn committed_many(
        &self,
        partitions: impl IntoIterator<Item = TopicPartition>,
    ) -> Result<Vec<(TopicPartition, Option<OffsetAndMetadata>)>, Error> {
        let answer = self.command(|inner, now| {
            let id = inner.consumer.fetch_committed(now, partitions)?;
            let (tx, rx) = async_channel::bounded(1);
            inner.queries.insert(id, tx);
            Ok(rx)
        })?;
        match answer.recv().await.map_err(|_| Error::Shutdown)? {
            Event::Committed { result, .. } => result.map_err(Error::from),
            _ => Err(Error::Shutdown),
        }
    }

    // ----- positions -----

    /// The offset of the next record to receive from `tp`; `None` while the partition has no
    /// position yet (its committed offset or a reset is being looked up) or is not assigned.
    pub fn position(&self, tp: &TopicPartition) -> Option<i64> {
        self.shared.lock().consumer.position(tp)
    }

    /// Moves the position of an assigned partition; records buffered from before are
    /// dropped. Nothing is committed until records from there are processed or
    /// [`commit`](Self::commit) is called.
    pub fn seek(&self, to: TopicPartitionOffset) -> Result<(), Error> {
        self.command(|inner, now| inner.consumer.seek(now, to))
    }

    /// Moves partitions to the start of their log (its first offset still kept).
    pub fn seek_to_beginning(
        &self,
        partitions: impl IntoIterator<Item = TopicPartition>,
    ) -> Result<(), Error> {
        self.command(|inner, now| inner.consumer.seek_to_beginning(now, partitions))
    }

    /// Moves partitions to the end of their log: only records written from now on are read.
    pub fn seek_to_end(
        &self,
        partitions: impl IntoIterator<Item = TopicPartition>,
    ) -> Result<(), Error> {
        self.command(|inner, now| inner.consumer.seek_to_end(now, partitions))
    }

    /// Per partition (assigned or not), the first offset whose record's timestamp is at or
    /// after the time given, and that record's timestamp; `None` when no record is that
    /// recent. Seeks nothing: pass the offsets to [`seek`](Self::seek).
    pub async fn offsets_for_times(
        &self,
        times: impl IntoIterator<Item = TopicPartitionTimestamp>,
    ) -> Result<Vec<(TopicPartition, Option<OffsetAndTimestamp>)>, Error> {
        let answer = self.command(|inner, now| {
            let id = inner.consumer.offsets_for_times(now, times)?;
            let (tx, rx) = async_channel::bounded(1);
            inner.queries.insert(id, tx);
            Ok(rx)
        })?;
        match answer.recv().await.map_err(|_| Error::Shutdown)? {
            Event::OffsetsForTimes { result, .. } => result.map_err(Error::from),
            _ => Err(Error::Shutdown),
        }
    }

    /// The low and high watermarks of `tp` (assigned or not), asked of its leader: the first
    /// offset still in the log and the offset after the last readable record (the last stable
    /// offset under read_committed).
    pub async fn watermarks(&self, tp: &TopicPartition) -> Result<Watermarks, Error> {
        let answer = self.command(|inner, now| {
            let id = inner.consumer.query_watermarks(now, [tp.clone()])?;
            let (tx, rx) = async_channel::bounded(1);
            inner.watermarks.insert(id, tx);
            Ok(rx)
        })?;
        let all = answer
            .recv()
            .await
            .map_err(|_| Error::Shutdown)?
            .map_err(Error::from)?;
        Ok(all
            .into_iter()
            .find(|(p, _)| p == tp)
            .map(|(_, w)| w)
            .unwrap_or_default())
    }

    /// How many records `tp` has after the position, as of the last fetch answer; `None` until
    /// both are known.
    pub fn lag(&self, tp: &TopicPartition) -> Option<i64> {
        self.shared.lock().consumer.lag(tp)
    }

    /// A snapshot of what the consumer is doing: each assigned partition (position,
    /// committed offset, high watermark, lag, what was fetched), each connection (state,
    /// requests, latency per API, bytes), the group (state, generation, rebalances) and its
    /// commits. Cheap enough to take every second.
    pub async fn metrics(&self) -> Result<ConsumerMetrics, Error> {
        let brokers = self.handle.connection_metrics().await?;
        let now = Instant::now();
        let inner = self.shared.lock();
        let c = &inner.consumer;
        let stats = c.stats();
        let offsets = c.offsets();
        let partitions = c
            .assignment()
            .into_iter()
            .map(|tp| {
                let fetched = stats.fetched.get(&tp);
                PartitionMetrics {
                    position: c.position(&tp),
                    committed: offsets.committed(&tp).map(|o| o.offset),
                    high_watermark: offsets.high_watermark(&tp),
                    lag: c.lag(&tp),
                    records_fetched: fetched.map_or(0, |f| f.records.total()),
                    bytes_fetched: fetched.map_or(0, |f| f.bytes.total()),
                    records_per_second: fetched.map_or(0.0, |f| f.records.per_second(now)),
                    bytes_per_second: fetched.map_or(0.0, |f| f.bytes.per_second(now)),
                    paused: offsets.is_paused(&tp),
                    topic_partition: tp,
                }
            })
            .collect();
        let group = c.group().map(|g| GroupMetrics {
            group_id: offsets.config().group_id.clone().unwrap_or_default(),
            state: format!("{:?}", g.state()),
            generation: g.generation(),
            member_id: g.member_id().to_string(),
            rebalances: stats.rebalances,
            last_rebalance: stats.last_rebalance,
            rebalance_time: stats.rebalance_time,
        });
        let commit_stats = offsets.commit_stats();
        Ok(ConsumerMetrics {
            partitions,
            brokers,
            group,
            commits: CommitMetrics {
                succeeded: commit_stats.succeeded,
                failed: commit_stats.failed,
                requests: commit_stats.requests,
                latency: commit_stats.latency.summary(),
            },
            records_consumed: stats.records_handed_out,
            records_buffered: c.buffered_records(),
            bytes_buffered: c.buffered_bytes(),
        })
    }

    // ----- flow control -----

    /// Stops fetching and handing out records of these partitions; positions and buffered
    /// records are kept.
    pub fn pause(&self, partitions: impl IntoIterator<Item = TopicPartition>) -> Result<(), Error> {
        self.command(|inner, _| inner.consumer.pause(partitions))
    }

    /// Fetches and hands out these partitions again.
    pub fn resume(
        &self,
        partitions: impl IntoIterator<Item = TopicPartition>,
    ) -> Result<(), Error> {
        self.command(|inner, _| {
            inner.consumer.resume(partitions)?;
            // Records buffered while paused are ready now.
            inner.wake_readers();
            Ok(())
        })
    }

    /// The paused partitions, in order.
    pub fn paused(&self) -> Vec<TopicPartition> {
        self.shared.lock().consumer.paused()
    }

    // ----- closing -----

    /// Closes the consumer: what was received counts as processed, Auto mode commits it (the
    /// result is returned), and the driver stops once commits in flight have finished (at
    /// most the commit timeout).
    ///
    /// A member of a group first runs the rebalance hooks still due, then
    /// [`on_revoked`](RebalanceListener::on_revoked) for the partitions it holds
    /// ([`on_lost`](RebalanceListener::on_lost) if its generation is gone), then commits
    /// (Auto mode) and leaves the group, so that the others take its partitions over at once.
    /// A static member (with a `group_instance_id`) does not leave: the coordinator keeps its
    /// partitions for it until its session times out.
    pub async fn close(self) -> Result<(), Error> {
        self.close_hooks().await;
        let (commit, hook) = {
            let mut inner = self.shared.lock();
            if inner.stopped {
                return Ok(());
            }
            let id = inner.consumer.close(Instant::now());
            let hook = inner.clear_hooks();
            inner.stop_when_closed = Some(self.handle.clone());
            inner.wake_readers();
            let commit = id.map(|id| {
                let (tx, rx) = async_channel::bounded(1);
                inner.commits.insert(id, tx);
                rx
            });
            (commit, hook)
        };
        drop(hook);
        self.nudge();
        let result = match commit {
            Some(rx) => rx
                .recv()
                .await
                .map_err(|_| Error::Shutdown)
                .and_then(|r| r.map_err(Error::from)),
            None => Ok(()),
        };
        // Ends when the driver task has ended.
        let _ = self.stopped.recv().await;
        result
    }
}

impl Drop for Consumer {
    fn drop(&mut self) {
        if !self.owner {
            return;
        }
        let mut inner = self.shared.lock();
        let hook = inner.clear_hooks();
        if inner.stopped || inner.consumer.is_closed() {
            drop(inner);
            drop(hook);
            return;
        }
        // As `close`, without waiting and without hooks, and without counting the last
        // record or batch handed out as processed: the driver commits what was processed
        // before it (Auto mode), leaves the group and then stops.
        let _ = inner.consumer.abandon(Instant::now());
        inner.stop_when_closed = Some(self.handle.clone());
        inner.wake_readers();
        drop(inner);
        drop(hook);
        self.nudge();
    }
}

// No field is pinned: `poll_next` only takes `&self`.
impl Unpin for Consumer {}

impl Stream for Consumer {
    type Item = Result<ConsumerRecord, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.poll_recv(cx)
    }
}

/// The records of a [`Consumer`] as a [`Stream`] that borrows it (see
/// [`Consumer::stream`]). Ends when the consumer has stopped.
#[derive(Debug)]
#[must_use = "streams do nothing unless polled"]
pub struct RecordStream<'a> {
    consumer: &'a Consumer,
}

impl Stream for RecordStream<'_> {
    type Item = Result<ConsumerRecord, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.consumer.poll_recv(cx)
    }
}
