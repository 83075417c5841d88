//! The async producer: [`Producer`], built with [`ProducerBuilder`], over the
//! [`dekaf_state::producer`] machine.
//!
//! Records go to the partition given, else the one of the key's murmur2 hash (as Java's
//! client), else a sticky partition that changes with each full batch. They are batched per
//! partition (`linger`, `batch_size`, one codec), written in order per partition, and retried
//! with a backoff within the delivery timeout. With idempotence (the default) a retry is
//! never written twice or out of order. With a transactional id, records and consumer offsets
//! are committed together or not at all (see [`Producer`]'s transactions).

mod builder;
mod machine;
mod record;
#[cfg(test)]
mod tests;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use async_channel::Receiver;
use dekaf_state::group::GroupMetadata;
use dekaf_state::offset::TopicPartitionOffset;
use dekaf_state::producer::{DeliveryId, TxnOpId};

pub use builder::ProducerBuilder;
pub use dekaf_state::producer::{
    murmur2, AbortableError, Acks, DeliveryError, FatalError, Partitioner, SendError,
    TransactionError, TransactionState, TxnOperation,
};
pub use record::{ProducerRecord, RecordMetadata};

use machine::{Inner, Machine, Shared};

use crate::metrics::ProducerMetrics;
use crate::{Error, Handle};

/// Writes records to Kafka, optionally in transactions.
///
/// ```no_run
/// use dekaf_smol::{Producer, ProducerRecord};
/// # async fn example() -> Result<(), dekaf_smol::Error> {
/// let producer = Producer::builder()
///     .bootstrap_servers("localhost:9092")
///     .build()
///     .await?;
/// let written = producer
///     .send(ProducerRecord::new("my-topic").key("k").value("v"))
///     .await?;
/// println!("partition {} offset {:?}", written.partition(), written.offset());
/// // Without waiting for each outcome: wait only for room in the buffer, then flush (it
/// // fails if any of them failed).
/// for i in 0..100_000 {
///     let _ = producer
///         .send(ProducerRecord::new("my-topic").value(format!("{i}")))
///         .buffered()
///         .await?;
/// }
/// producer.flush().await?;
/// producer.close().await?;
/// # Ok(()) }
/// ```
///
/// # Transactions
///
/// Give the builder a [`transactional_id`](ProducerBuilder::transactional_id), call
/// [`init_transactions`](Self::init_transactions) once (it fences any older producer with the
/// same id and aborts its open transaction), then per transaction
/// [`begin_transaction`](Self::begin_transaction), [`send`](Self::send)s,
/// [`send_offsets_to_transaction`](Self::send_offsets_to_transaction) for what was consumed,
/// and [`commit_transaction`](Self::commit_transaction). A `read_committed` consumer sees the
/// records, and the group's committed offsets move, only if the commit succeeds.
///
/// ```no_run
/// use dekaf_smol::{Consumer, Error, GroupMetadata, Producer, ProducerRecord, TopicPartitionOffset};
/// # async fn example(consumer: &Consumer) -> Result<(), Error> {
/// let producer = Producer::builder()
///     .bootstrap_servers("localhost:9092")
///     .transactional_id("uppercase-0")
///     .build()
///     .await?;
/// producer.init_transactions().await?;
/// let group = GroupMetadata::new("uppercase"); // a consumer given its partitions by `assign`
/// loop {
///     let records = consumer.recv_batch(100).await?;
///     producer.begin_transaction()?;
///     let mut offsets = Vec::new();
///     for r in &records {
///         let upper = r.value().unwrap_or_default().to_ascii_uppercase();
///         let _ = producer.send(ProducerRecord::new("out").value(upper));
///         offsets.push(TopicPartitionOffset::new(r.topic(), r.partition(), r.offset() + 1));
///     }
///     producer.send_offsets_to_transaction(offsets, &group).await?;
///     match producer.commit_transaction().await {
///         Ok(()) => {}
///         // Nothing of it is visible: abort, rewind the consumer, and do it again.
///         Err(e) if e.is_abortable() => {
///             producer.abort_transaction().await?;
///             // ... seek the consumer back to its committed offsets
///         }
///         // Fenced by a newer producer with the same id, or refused for good.
///         Err(e) => return Err(e),
///     }
/// }
/// # }
/// ```
///
/// Every transaction operation waits at most [`max_block`](ProducerBuilder::max_block), then
/// fails with [`Error::TransactionTimeout`]; the operation goes on and calling it again waits
/// for it again. Errors say what to do next: [`Error::is_abortable`] (abort, then try
/// again), [`Error::is_fenced`] and [`Error::is_fatal`] (close the producer).
///
/// # A full buffer
///
/// The producer holds at most [`buffer_memory`](ProducerBuilder::buffer_memory) bytes of
/// records not yet written. When a record does not fit, it waits for room (records enter the
/// buffer in the order `send` was called, so none overtakes another in its partition), at
/// most [`max_block`](ProducerBuilder::max_block) from its `send`; then it fails with
/// [`Error::Send`]`(`[`SendError::BufferFull`]`)` (retriable). `send` itself never blocks:
/// awaiting the [`Delivery`], or its [`buffered`](Delivery::buffered), waits for the room. See
/// [`Delivery`] for what becomes of a record whose `Delivery` is dropped while it waits.
///
/// # The driver
///
/// As for the [`Consumer`](crate::Consumer): a driver task owns the connections, and the
/// producer shares the state machine with it behind a lock held only briefly. `send` and
/// `begin_transaction` return at once; records waiting for room enter the buffer when the
/// driver learns of outcomes that free it. [`close`](Self::close) waits for every record's
/// outcome and stops the driver; dropping the producer does the same in the background.
#[derive(Debug)]
pub struct Producer {
    shared: Arc<Shared>,
    handle: Handle<Machine>,
    /// Closed when the driver's task ends.
    stopped: Receiver<()>,
    max_block: Duration,
}

/// One record given to [`Producer::send`]: `.await` it to learn where the record was
/// written, or why it was not; [`buffered`](Self::buffered)`().await` it to wait only until
/// the record is in the producer's buffer; or drop it (fire and forget: if the record fails,
/// the next [`Producer::flush`] says so).
///
/// It is not a [`Future`] itself but turns into one ([`DeliveryFuture`]) when awaited, so
/// that `let _ = producer.send(record);` reads as what it is.
///
/// # Dropped while the buffer is full
///
/// A record that is in the producer's buffer is sent whether or not its `Delivery` (or the
/// future made of it) is kept. A record still waiting for room when its `Delivery` is
/// dropped is cancelled: it is never sent, and the next [`Producer::flush`] reports it as
/// [`Error::Send`]`(`[`SendError::BufferFull`]`)`, as it reports every failure nobody
/// awaited (in a transaction, the commit fails with an abortable error). So the records
/// waiting for room are never more than the `Delivery`s the application holds: a loop of
/// `let _ = producer.send(r);` never piles records up in memory (with a full buffer they are
/// refused), while `producer.send(r).buffered().await?` waits for room at each record.
#[must_use = "a record waiting for room in a full buffer is cancelled when this is dropped; \
              await it, or `.buffered().await` it"]
#[derive(Debug)]
pub struct Delivery(Pending);

impl Delivery {
    /// Waits until the record is in the producer's buffer (at once if it fitted) and gives
    /// the `Delivery` back, to await its outcome later or to drop (the record is then sent
    /// anyway). Fails as awaiting the `Delivery` would, when the record never gets in: with
    /// [`Error::Send`]`(`[`SendError::BufferFull`]`)` after `max_block`, with a refusal of
    /// `send`, or when the transaction is aborted or the producer fails meanwhile.
    ///
    /// Backpressure for records sent without awaiting each outcome:
    ///
    /// ```no_run
    /// # async fn example(producer: &dekaf_smol::Producer) -> Result<(), dekaf_smol::Error> {
    /// use dekaf_smol::ProducerRecord;
    /// for i in 0..1_000_000 {
    ///     let record = ProducerRecord::new("events").value(format!("{i}"));
    ///     let _ = producer.send(record).buffered().await?;
    /// }
    /// producer.flush().await?; // fails if any of them failed
    /// # Ok(()) }
    /// ```
    ///
    /// Dropping this future before it completes drops the `Delivery`: a record still
    /// waiting for room is cancelled.
    pub async fn buffered(mut self) -> Result<Delivery, Error> {
        let entered = match &self.0.space {
            Some(space) => space.rx.recv().await.is_ok(),
            None => true,
        };
        self.0.space = None;
        if let Outcome::Refused(error) = &mut self.0.outcome {
            return Err(error.take().unwrap_or(Error::Shutdown));
        }
        if entered {
            return Ok(self);
        }
        // It never got in: its outcome is there already (or the driver stopped).
        match std::mem::replace(&mut self.0.outcome, Outcome::Done) {
            Outcome::Queued(id) => {
                let outcome = self
                    .0
                    .shared
                    .lock()
                    .poll_outcome(id, std::task::Waker::noop());
                match outcome {
                    Some(Poll::Ready(Err(e))) => Err(e),
                    // Not expected (the record is reported in the buffer before its
                    // outcome), but an outcome is never lost.
                    Some(Poll::Ready(Ok(written))) => {
                        self.0.outcome = Outcome::Written(Some(written));
                        Ok(self)
                    }
                    Some(Poll::Pending) => {
                        self.0.outcome = Outcome::Queued(id);
                        Ok(self)
                    }
                    None => Err(Error::Shutdown),
                }
            }
            _ => Err(Error::Shutdown),
        }
    }
}

/// The future of a [`Delivery`]: resolves to where the record was written.
#[must_use = "futures do nothing unless polled"]
#[derive(Debug)]
pub struct DeliveryFuture(Pending);

impl std::future::IntoFuture for Delivery {
    type Output = Result<RecordMetadata, Error>;
    type IntoFuture = DeliveryFuture;

    fn into_future(self) -> DeliveryFuture {
        DeliveryFuture(self.0)
    }
}

impl Future for DeliveryFuture {
    type Output = Result<RecordMetadata, Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.0.poll(cx)
    }
}

/// What a send awaits, and who hears of a failure nobody read.
struct Pending {
    outcome: Outcome,
    /// Set while the record may still be waiting for room in the buffer.
    space: Option<Space>,
    shared: Arc<Shared>,
}

enum Outcome {
    /// Refused at once.
    Refused(Option<Error>),
    /// Sent as record `id` (in the buffer, or waiting for room); the driver keeps its
    /// outcome until it is taken.
    Queued(DeliveryId),
    /// Written, taken from the driver already.
    Written(Option<RecordMetadata>),
    /// Already handed out.
    Done,
}

/// A record waiting for room in the buffer.
struct Space {
    /// Gets `()` when the record enters the buffer; closes if it never does.
    rx: Pin<Box<Receiver<()>>>,
    /// Wakes the driver when the record is cancelled (records behind it may fit).
    handle: Handle<Machine>,
}

impl std::fmt::Debug for Pending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match (&self.outcome, &self.space) {
            (Outcome::Refused(_), _) => "Refused",
            (Outcome::Queued(..), Some(_)) => "WaitingForRoom",
            (Outcome::Queued(..), None) => "Queued",
            (Outcome::Written(_), _) => "Written",
            (Outcome::Done, _) => "Done",
        })
    }
}

impl Pending {
    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<Result<RecordMetadata, Error>> {
        let result = match &mut self.outcome {
            Outcome::Refused(error) => Err(error.take().unwrap_or(Error::Shutdown)),
            Outcome::Queued(id) => match self.shared.lock().poll_outcome(*id, cx.waker()) {
                Some(Poll::Pending) => return Poll::Pending,
                Some(Poll::Ready(answer)) => answer,
                None => Err(Error::Shutdown),
            },
            Outcome::Written(written) => written.take().ok_or(Error::Shutdown),
            Outcome::Done => Err(Error::Shutdown),
        };
        self.outcome = Outcome::Done;
        self.space = None;
        Poll::Ready(result)
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        // A record still waiting for room is cancelled; a failure nobody will read goes to
        // the next flush.
        let space = self.space.take();
        match std::mem::replace(&mut self.outcome, Outcome::Done) {
            Outcome::Refused(Some(e)) => self.shared.lock().unread(None, e),
            Outcome::Queued(id) => {
                let mut inner = self.shared.lock();
                let cancelled = space.is_some() && inner.producer.cancel(Instant::now(), id);
                if cancelled {
                    // Its refusal is known at once, and flushes waiting for it complete.
                    inner.drain_after_step();
                }
                inner.release(id);
                drop(inner);
                if let Some(space) = space.filter(|_| cancelled) {
                    self.shared.nudge(&space.handle);
                }
            }
            _ => {}
        }
    }
}

/// The partition of `key` among `partitions` (at least 1), as Java's default partitioner
/// picks it: `toPositive(murmur2(key)) % partitions`.
pub fn partition_for_key(key: &[u8], partitions: i32) -> i32 {
    let n = usize::try_from(partitions.max(1)).unwrap_or(1);
    dekaf_state::producer::partition_for_key(key, n).unwrap_or(0)
}

/// Milliseconds since the Unix epoch, by the wall clock.
pub(crate) fn now_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

impl Producer {
    /// A builder with the default settings.
    pub fn builder() -> ProducerBuilder {
        ProducerBuilder::default()
    }

    fn nudge(&self) {
        self.shared.nudge(&self.handle);
    }

    /// A snapshot of what the producer is doing: records sent, delivered and failed (with
    /// the failures by error), what the buffer holds, batches sent (their fill and queue
    /// time), retries by cause, and each connection (state, requests, latency per API,
    /// bytes).
    pub async fn metrics(&self) -> Result<ProducerMetrics, Error> {
        let brokers = self.handle.connection_metrics().await?;
        let inner = self.shared.lock();
        let p = &inner.producer;
        let counts = &inner.counts;
        let stats = p.stats();
        Ok(ProducerMetrics {
            requests_in_flight: brokers.iter().map(|b| b.requests_in_flight).sum(),
            brokers,
            records_sent: counts.sent,
            records_delivered: counts.delivered,
            records_failed: counts.failed,
            records_pending: p.pending_records() as u64,
            buffer_used: p.buffered_bytes(),
            buffer_memory: p.config().buffer_memory,
            errors: counts.errors.clone(),
            records_buffered: p.buffered_records() as u64,
            produce_requests_in_flight: p.produce_requests_in_flight(),
            batches_sent: stats.batches_sent,
            records_per_batch: if stats.batches_sent == 0 {
                0.0
            } else {
                stats.batch_records as f64 / stats.batches_sent as f64
            },
            batch_fill: stats.batch_fill.summary(),
            queue_time: stats.queue_time.summary(),
            retries: stats
                .retries
                .iter()
                .map(|(cause, n)| (cause.to_string(), *n))
                .collect(),
        })
    }

    /// Waits until a broker of the cluster answers, at most `timeout`.
    ///
    /// [`build`](ProducerBuilder::build) does not contact the cluster: a producer built while
    /// the brokers are unreachable keeps trying in the background, and the records sent
    /// meanwhile go out once one answers (or fail after the delivery timeout). An application
    /// that would rather fail at start-up calls `ready` first. Fails with
    /// [`Error::NoBrokerAvailable`] (with the last connection failure as its cause) after
    /// `timeout`, and at once on a failure no retry fixes (credentials or a certificate
    /// refused).
    pub async fn ready(&self, timeout: Duration) -> Result<(), Error> {
        self.shared
            .ready(&self.handle, timeout, |inner| inner.stopped)
            .await
    }

    /// The machine, unless the driver has stopped.
    fn lock_running(&self) -> Result<std::sync::MutexGuard<'_, Inner>, Error> {
        let inner = self.shared.lock();
        if inner.stopped {
            return Err(Error::Shutdown);
        }
        Ok(inner)
    }

    /// Sends `record` and returns at once (it never blocks); awaiting the returned
    /// [`Delivery`] gives where the broker wrote it, or why it failed for good (after
    /// retries, at most the delivery timeout). A record without a timestamp gets the wall
    /// clock's.
    ///
    /// When the buffer is full, the record waits for room after the records sent before it,
    /// at most [`max_block`](ProducerBuilder::max_block) from this call, then fails with
    /// [`Error::Send`]`(`[`SendError::BufferFull`]`)` (retriable). Awaiting the `Delivery`
    /// waits for the room, then for the outcome; [`Delivery::buffered`] waits for the room
    /// only. A `Delivery` dropped while its record waits for room cancels the record (see
    /// [`Delivery`]); once in the buffer, the record is sent whether or not its `Delivery` is
    /// kept.
    ///
    /// Refusals come out of the `Delivery` too: [`Error::Send`] for a record too large, a
    /// transactional producer outside a transaction, a closed or failed producer. A failure
    /// (or refusal) nobody awaited is reported by the next [`flush`](Self::flush). Inside a
    /// transaction, a record refused or failed makes the transaction abortable (as in Java's
    /// producer): it cannot commit without the record.
    pub fn send(&self, record: ProducerRecord) -> Delivery {
        let record = record.into_state(now_millis());
        let queued = self.lock_running().and_then(|mut inner| {
            let topic = inner.topic(&record.topic);
            let id = inner.producer.send_waiting(Instant::now(), record)?;
            let space = inner
                .producer
                .is_waiting(id)
                .then(|| async_channel::bounded(1));
            let (space_tx, space_rx) = space.unzip();
            inner.sent(id, topic, space_tx);
            // A record added to a batch already lingering changes nothing the driver must
            // act on: no wake-up for it.
            let wake = inner.producer.wants_poll();
            Ok((id, space_rx, wake))
        });
        let (outcome, space) = match queued {
            Ok((id, space, wake)) => {
                if wake {
                    self.nudge();
                }
                let space = space.map(|rx| Space {
                    rx: Box::pin(rx),
                    handle: self.handle.clone(),
                });
                (Outcome::Queued(id), space)
            }
            Err(e) => (Outcome::Refused(Some(e)), None),
        };
        Delivery(Pending {
            outcome,
            space,
            shared: self.shared.clone(),
        })
    }

    /// Sends every record held without waiting for the linger time, and waits until each
    /// record sent before has been written or has failed (records waiting for room in the
    /// buffer included: they get in, or fail after `max_block`). Fails with the first failure
    /// among them that nobody awaited (a dropped [`Delivery`], including sends refused at
    /// once and records cancelled while waiting for room since the previous flush), so that
    /// records sent without awaiting are never lost silently.
    pub async fn flush(&self) -> Result<(), Error> {
        let rx = {
            let mut inner = self.lock_running()?;
            let id = inner.producer.flush(Instant::now());
            let (tx, rx) = async_channel::bounded(1);
            inner.flushing(id, tx);
            rx
        };
        self.nudge();
        rx.recv().await.map_err(|_| Error::Shutdown)?
    }

    /// Runs a transaction command and waits for its outcome, at most `max_block`.
    async fn transaction_op(
        &self,
        operation: TxnOperation,
        command: impl FnOnce(&mut Inner, Instant) -> Result<TxnOpId, TransactionError>,
    ) -> Result<(), Error> {
        let (id, rx) = {
            let mut inner = self.lock_running()?;
            let id = command(&mut inner, Instant::now())?;
            let (tx, rx) = async_channel::bounded(1);
            inner.operating(id, tx);
            (id, rx)
        };
        self.nudge();
        let answer = futures_lite::future::or(async { Some(rx.recv().await) }, async {
            async_io::Timer::after(self.max_block).await;
            None
        })
        .await;
        match answer {
            Some(Ok(result)) => result.map_err(Error::Transaction),
            Some(Err(_)) => Err(Error::Shutdown),
            None => {
                self.shared.lock().forget_operation(id);
                Err(Error::TransactionTimeout {
                    operation,
                    timeout: self.max_block,
                })
            }
        }
    }

    /// Gets the producer id and epoch of the transactional id from its coordinator. Any older
    /// producer with the same id is fenced and its open transaction aborted. Call it once,
    /// before the first transaction.
    pub async fn init_transactions(&self) -> Result<(), Error> {
        self.transaction_op(TxnOperation::Init, |inner, now| {
            inner.producer.init_transactions(now)
        })
        .await
    }

    /// Opens a transaction: records sent from now on belong to it. Does no IO.
    pub fn begin_transaction(&self) -> Result<(), Error> {
        let mut inner = self.lock_running()?;
        inner.producer.begin_transaction()?;
        Ok(())
    }

    /// Adds consumed offsets to the open transaction: they become `group`'s committed offsets
    /// if and only if the transaction commits. Each offset is the next one to read (the last
    /// processed record's offset + 1). `group` comes from the consumer whose records were
    /// processed; a consumer given its partitions with `assign` sends
    /// [`GroupMetadata::new`]`(group_id)`.
    pub async fn send_offsets_to_transaction(
        &self,
        offsets: impl IntoIterator<Item = TopicPartitionOffset>,
        group: &GroupMetadata,
    ) -> Result<(), Error> {
        let offsets: Vec<_> = offsets
            .into_iter()
            .map(|o| (o.topic_partition, o.offset))
            .collect();
        let group = group.clone();
        self.transaction_op(TxnOperation::SendOffsets, move |inner, now| {
            inner
                .producer
                .send_offsets_to_transaction(now, offsets, group)
        })
        .await
    }

    /// Sends the transaction's last records (those waiting for room in the buffer included),
    /// waits for all of them and for its offsets, then commits it. An
    /// [abortable](Error::is_abortable) error means nothing of it will be visible: abort it
    /// and do the work again (a record of it that got no room within `max_block`, or whose
    /// `Delivery` was dropped while it waited, is one such error).
    pub async fn commit_transaction(&self) -> Result<(), Error> {
        self.transaction_op(TxnOperation::Commit, |inner, now| {
            inner.producer.commit_transaction(now)
        })
        .await
    }

    /// Aborts the transaction: records not yet sent (those waiting for room in the buffer
    /// included) fail with [`DeliveryError::TransactionAborted`], those written are never
    /// visible to `read_committed` readers, and its offsets are not committed.
    pub async fn abort_transaction(&self) -> Result<(), Error> {
        self.transaction_op(TxnOperation::Abort, |inner, now| {
            inner.producer.abort_transaction(now)
        })
        .await
    }

    /// Where the transactional producer is; `None` without a transactional id.
    pub fn transaction_state(&self) -> Option<TransactionState> {
        self.shared.lock().producer.transaction_state()
    }

    /// The producer id and epoch the batches carry, once known (idempotence or transactions).
    pub fn producer_id_and_epoch(&self) -> Option<(i64, i16)> {
        self.shared.lock().producer.producer_id_and_epoch()
    }

    /// The error that stopped the producer for good (e.g. fenced), if one did.
    pub fn fatal_error(&self) -> Option<Error> {
        self.shared
            .lock()
            .producer
            .fatal_error()
            .map(|e| Error::Transaction(TransactionError::Fatal(e.clone())))
    }

    /// Refuses further records, waits until every record sent has its outcome (a record
    /// waiting for room in the buffer gets in, or fails after `max_block`), and stops the
    /// driver. Returns what [`flush`](Self::flush) would.
    ///
    /// An open transaction is aborted first, as Java's producer does: left open, it would
    /// hold every `read_committed` reader of its partitions at the last stable offset until
    /// the coordinator times it out. Its records fail with
    /// [`DeliveryError::TransactionAborted`](crate::producer::DeliveryError); `close` then
    /// returns the abort's result. Dropping the producer without `close` leaves the
    /// transaction to the coordinator's timeout.
    pub async fn close(self) -> Result<(), Error> {
        let open = matches!(
            self.transaction_state(),
            Some(TransactionState::InTransaction | TransactionState::AbortableError)
        );
        if open {
            tracing::info!("closing with a transaction open: aborting it");
            let aborted = self.abort_transaction().await;
            // The aborted records' failures are theirs to report, not the close's.
            let _ = self.flush().await;
            self.stop().await;
            return aborted;
        }
        let flushed = self.flush().await;
        self.stop().await;
        match flushed {
            Err(Error::Shutdown) => Ok(()),
            other => other,
        }
    }

    /// Closes the machine once every record has its outcome and waits for the driver to end.
    async fn stop(&self) {
        {
            let mut inner = self.shared.lock();
            if !inner.stopped {
                inner.producer.close(Instant::now());
                inner.stop_when_delivered = Some(self.handle.clone());
            }
        }
        self.nudge();
        // Ends when the driver task has ended.
        let _ = self.stopped.recv().await;
    }
}

impl Drop for Producer {
    fn drop(&mut self) {
        let mut inner = self.shared.lock();
        if inner.stopped || inner.producer.is_closed() {
            return;
        }
        // As `close`, without waiting: the driver stops once every record has its outcome.
        inner.producer.close(Instant::now());
        inner.stop_when_delivered = Some(self.handle.clone());
        drop(inner);
        self.nudge();
    }
}
