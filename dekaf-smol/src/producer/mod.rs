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

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use async_channel::Receiver;
use dekaf_state::group::GroupMetadata;
use dekaf_state::offset::TopicPartitionOffset;
use dekaf_state::producer::{DeliveryId, TxnOpId};
use futures_core::Stream;

pub use builder::ProducerBuilder;
pub use dekaf_state::producer::{
    murmur2, AbortableError, Acks, DeliveryError, FatalError, SendError, TransactionError,
    TransactionState, TxnOperation,
};
pub use record::{ProducerRecord, RecordMetadata};

use machine::{Inner, Machine, Shared};

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
/// println!("partition {} offset {}", written.partition(), written.offset());
/// // Without waiting for each: send, then flush (it fails if any of them failed).
/// for i in 0..100 {
///     let _ = producer.send(ProducerRecord::new("my-topic").value(format!("{i}")));
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
/// # The driver
///
/// As for the [`Consumer`](crate::Consumer): a driver task owns the connections, and the
/// producer shares the state machine with it behind a lock held only briefly. `send` and
/// `begin_transaction` return at once. [`close`](Self::close) waits for every record's
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
/// written, or why it was not; or drop it (fire and forget: the record is sent anyway, and if
/// it fails the next [`Producer::flush`] says so).
///
/// It is not a [`Future`] itself but turns into one ([`DeliveryFuture`]) when awaited, so
/// that `let _ = producer.send(record);` reads as what it is.
#[must_use = "the record is sent anyway; await this to learn where it was written"]
#[derive(Debug)]
pub struct Delivery(Pending);

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
    shared: Arc<Shared>,
}

enum Outcome {
    /// Refused at once.
    Refused(Option<Error>),
    /// Sent as record `id`; its outcome comes through the channel.
    Waiting(DeliveryId, Pin<Box<Receiver<machine::Delivery>>>),
    /// Already handed out.
    Done,
}

impl std::fmt::Debug for Pending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self.outcome {
            Outcome::Refused(_) => "Refused",
            Outcome::Waiting(..) => "Waiting",
            Outcome::Done => "Done",
        })
    }
}

impl Pending {
    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<Result<RecordMetadata, Error>> {
        let result = match &mut self.outcome {
            Outcome::Refused(error) => Err(error.take().unwrap_or(Error::Shutdown)),
            Outcome::Waiting(_, rx) => match rx.as_mut().poll_next(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(answer) => answer.unwrap_or(Err(Error::Shutdown)),
            },
            Outcome::Done => Err(Error::Shutdown),
        };
        self.outcome = Outcome::Done;
        Poll::Ready(result)
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        // A failure nobody will read goes to the next flush.
        match std::mem::replace(&mut self.outcome, Outcome::Done) {
            Outcome::Refused(Some(e)) => self.shared.lock().unread(None, e),
            Outcome::Waiting(id, rx) => {
                if let Ok(Err(e)) = rx.try_recv() {
                    self.shared.lock().unread(Some(id), e);
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

    /// The machine, unless the driver has stopped.
    fn lock_running(&self) -> Result<std::sync::MutexGuard<'_, Inner>, Error> {
        let inner = self.shared.lock();
        if inner.stopped {
            return Err(Error::Shutdown);
        }
        Ok(inner)
    }

    /// Sends `record` and returns at once; awaiting the returned [`Delivery`] gives where the
    /// broker wrote it, or why it failed for good (after retries, at most the delivery
    /// timeout).
    /// A record without a timestamp gets the wall clock's.
    ///
    /// Refusals come out of the future too: [`Error::Send`] for a record too large, a full
    /// buffer ([`is_retriable`](Error::is_retriable)), a transactional producer outside a
    /// transaction, a closed or failed producer. A record whose future is dropped is still
    /// sent; if it fails (or was refused), the next [`flush`](Self::flush) says so.
    pub fn send(&self, record: ProducerRecord) -> Delivery {
        let record = record.into_state(now_millis());
        let topic: Arc<str> = record.topic.as_str().into();
        let (tx, rx) = async_channel::bounded(1);
        let queued = self.lock_running().and_then(|mut inner| {
            let id = inner.producer.send(Instant::now(), record)?;
            inner.sent(id, topic, tx);
            Ok(id)
        });
        let outcome = match queued {
            Ok(id) => {
                self.nudge();
                Outcome::Waiting(id, Box::pin(rx))
            }
            Err(e) => Outcome::Refused(Some(e)),
        };
        Delivery(Pending {
            outcome,
            shared: self.shared.clone(),
        })
    }

    /// Sends every record held without waiting for the linger time, and waits until each
    /// record sent before has been written or has failed. Fails with the first failure among
    /// them that nobody awaited (a dropped [`Delivery`], including sends refused at once
    /// since the previous flush), so that records sent without awaiting are never lost
    /// silently.
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

    /// Sends the transaction's last records, waits for all of them and for its offsets, then
    /// commits it. An [abortable](Error::is_abortable) error means nothing of it will be
    /// visible: abort it and do the work again.
    pub async fn commit_transaction(&self) -> Result<(), Error> {
        self.transaction_op(TxnOperation::Commit, |inner, now| {
            inner.producer.commit_transaction(now)
        })
        .await
    }

    /// Aborts the transaction: records not yet sent fail with
    /// [`DeliveryError::TransactionAborted`], those written are never visible to
    /// `read_committed` readers, and its offsets are not committed.
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

    /// Refuses further records, waits until every record sent has its outcome, and stops the
    /// driver. Returns what [`flush`](Self::flush) would. An open transaction is left for the
    /// coordinator to abort after the transaction timeout.
    pub async fn close(self) -> Result<(), Error> {
        let flushed = self.flush().await;
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
        match flushed {
            Err(Error::Shutdown) => Ok(()),
            other => other,
        }
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
