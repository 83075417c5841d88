//! The producer: partitioning, batching, retries, idempotence and transactions, without IO.
//! See [`Producer`].
//!
//! A driver's loop around it:
//!
//! ```no_run
//! use std::time::Instant;
//! use dekaf_state::client::ClientMachine;
//! use dekaf_state::producer::{Event, Producer, ProducerConfig, ProducerRecord};
//!
//! fn step(producer: &mut Producer, now: Instant) -> Option<Instant> {
//!     // 1. Requests to send; each answer comes back through `handle_response`.
//!     while let Some(outgoing) = producer.poll_request(now) {
//!         let _ = (outgoing.id, outgoing.destination, outgoing.request);
//!     }
//!     // 2. Outcomes for the application.
//!     while let Some(event) = producer.poll_event() {
//!         if let Event::Delivered { id, result } = event {
//!             println!("{id}: {result:?}");
//!         }
//!     }
//!     // 3. When to call `handle_timeout` next.
//!     producer.poll_timeout()
//! }
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! #[allow(clippy::disallowed_methods)] // a driver reads the clock; the machine never does
//! let now = Instant::now();
//! let mut producer = Producer::new(ProducerConfig::default(), 42)?;
//! producer.send(now, ProducerRecord::new("events", "hello").key("user-1"))?;
//! producer.flush(now);
//! step(&mut producer, now);
//! # Ok(())
//! # }
//! ```
//!
//! # Delivery guarantees
//!
//! With idempotence (the default), each partition's records are written in send order and at
//! most once, whatever is lost or retried on the way; a record reported as failed with
//! [`DeliveryError::TimedOut`] and `maybe_written` may nonetheless be in the log. Without
//! idempotence, a retry may write a batch twice, and with more than one request in flight a
//! retried batch may land after a later one.
//!
//! # Transactions
//!
//! With a transactional id, records and consumer offsets become visible together, or not at
//! all, to `read_committed` readers:
//! [`init_transactions`](Producer::init_transactions) once, then per transaction
//! [`begin_transaction`](Producer::begin_transaction), [`send`](Producer::send)s,
//! [`send_offsets_to_transaction`](Producer::send_offsets_to_transaction) and
//! [`commit_transaction`](Producer::commit_transaction) (or
//! [`abort_transaction`](Producer::abort_transaction)). A failure inside a transaction is
//! [abortable](TransactionError::Abortable): abort and go on. A fencing by a newer producer
//! with the same transactional id, or a refused authorization, is
//! [fatal](TransactionError::Fatal): close the producer.

mod attempt;
mod batch;
mod commands;
mod config;
mod drain;
mod error;
mod idempotence;
mod metadata;
mod partitioner;
#[allow(clippy::module_inception)]
mod producer;
mod response;
mod stats;
#[cfg(test)]
mod tests;
mod transactions;
mod txn;
mod txn_answers;
mod txn_requests;
mod types;
mod undelivered;
mod waiting;

pub use config::{Acks, ConfigError, ProducerConfig};
pub use error::{AbortableError, DeliveryError, FatalError, SendError, TransactionError};
pub use partitioner::{murmur2, partition_for_key, CustomPartitioner, Partitioner};
pub use producer::Producer;
pub use stats::{FillHistogram, FillSummary, ProducerStats, RetryCause};
pub use txn::TransactionState;
pub use types::{
    ConsumerGroupMetadata, DeliveryId, Event, FlushId, ProducerRecord, RecordMetadata, TxnOpId,
    TxnOperation,
};
