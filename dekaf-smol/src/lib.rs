//! A Kafka client on smol, driving the `dekaf-state` machines over real sockets.
//!
//! # Clients
//!
//! - [`Consumer`] (built with [`Consumer::builder`]): reads the partitions it is given
//!   ([`assign`](Consumer::assign)) or those its group hands it
//!   ([`subscribe`](Consumer::subscribe), with [`RebalanceListener`] hooks) as a
//!   [`Stream`](futures_core::Stream) of [`ConsumerRecord`]s, with
//!   [`recv`](Consumer::recv) and [`recv_batch`](Consumer::recv_batch); commits in Auto or
//!   Manual mode ([`commit`](Consumer::commit), [`commit_offsets`](Consumer::commit_offsets)),
//!   looks up committed offsets, offsets for times and watermarks, seeks, pauses, closes.
//! - [`Producer`] (built with [`Producer::builder`]): batching, compression, retries,
//!   idempotence (on by default) and transactions, with the consumed offsets committed in the
//!   transaction ([`send_offsets_to_transaction`](Producer::send_offsets_to_transaction)) for
//!   exactly-once consume-transform-produce.
//! - [`Admin`] (built with [`Admin::builder`]): topics (list, describe, create, delete, add
//!   partitions), configurations, the cluster, groups (list, describe, delete), their committed
//!   offsets (list, alter, delete) and lag, and partition offsets; each item of a call gets
//!   its own result.
//!
//! Every failure is an [`Error`] whose kind can be asked ([`Error::is_rebalance`],
//! [`Error::is_retriable`], [`Error::is_fatal`], [`Error::is_abortable`], [`Error::is_fenced`],
//! [`Error::error_code`], [`Error::fault`]).
//! Each client's driver runs on a thread of its own unless a [`Spawner`] says otherwise, so the
//! clients work under any executor.
//!
//! The guide's three commit strategies, in Manual mode:
//!
//! ```no_run
//! use std::time::{Duration, Instant};
//! use dekaf_smol::{Consumer, ConsumerRecord, Error, OffsetCommitMode, TopicPartition};
//! use futures_lite::StreamExt;
//!
//! # async fn process(_: &ConsumerRecord) {}
//! # async fn strategies(consumer: &mut Consumer) -> Result<(), Error> {
//! // After each record: safest, one round trip per record.
//! while let Some(record) = consumer.next().await {
//!     process(&record?).await;
//!     consumer.commit().await?;
//! }
//!
//! // In batches of up to 100.
//! loop {
//!     let batch = consumer.recv_batch(100).await?;
//!     for record in &batch {
//!         process(record).await;
//!     }
//!     consumer.commit().await?;
//! }
//!
//! // Periodically.
//! let mut last_commit = Instant::now();
//! while let Some(record) = consumer.next().await {
//!     process(&record?).await;
//!     if last_commit.elapsed() > Duration::from_secs(5) {
//!         consumer.commit().await?;
//!         last_commit = Instant::now();
//!     }
//! }
//! # Ok(()) }
//! ```
//!
//! # Running under tokio
//!
//! The clients work in a tokio application as they are: their futures are `Send` and need no
//! particular executor, so `#[tokio::main]`, `tokio::spawn` and tokio's timers around them
//! (`tokio::time::timeout(d, consumer.recv())`) all work, on the multi-thread and the
//! current-thread runtime alike. Nothing needs a tokio feature flag or a compatibility layer:
//! sockets and timers are `async-io`'s, whose reactor runs on a thread of its own and wakes
//! whichever executor polls the future.
//!
//! Each client's driver (the task that owns its connections) runs on a thread of its own by
//! default. To run it as a tokio task instead, give the builder a [`Spawner`] that spawns it
//! on the runtime — three lines, called inside the runtime:
//!
//! ```no_run
//! use dekaf_smol::{Consumer, Spawner};
//!
//! # async fn example() -> Result<(), dekaf_smol::Error> {
//! let runtime = tokio::runtime::Handle::current();
//! let spawner = Spawner::new(move |driver| drop(runtime.spawn(driver)));
//! let consumer = Consumer::builder()
//!     .bootstrap_servers("localhost:9092")
//!     .group_id("my-group")
//!     .spawner(spawner.clone()) // the same for Producer::builder() and Admin::builder()
//!     .build()
//!     .await?;
//! # Ok(()) }
//! ```
//!
//! Which to choose:
//!
//! - **A driver thread** (the default) keeps reading, heartbeating and committing in the
//!   background whatever the application's tasks do, even a task that blocks its thread. It
//!   also outlives the runtime: a client can move from one runtime to another.
//! - **A tokio task** saves a thread per client. On a current-thread runtime the driver then
//!   runs only while no task blocks that thread: a task that blocks (a synchronous call, a
//!   `std::thread::sleep`) for longer than the group's session timeout gets its consumer
//!   thrown out of the group. When the runtime shuts down, its tasks stop, drivers included:
//!   `close().await` each client before, so that the last commits and records go out.
//!
//! Rebalance hooks ([`RebalanceListener`]) run on the application's task, inside `recv`,
//! `recv_batch` and the stream, whichever the spawner. The example `tokio`
//! (`dekaf-smol/examples/tokio.rs`) is a whole program; the tests run it, a group of two with
//! its hooks and transactions on both runtimes, with drivers on both sides.
//!
//! # The IO core
//!
//! The IO core is [`Driver`]: it owns any [`ClientMachine`](dekaf_state::client::ClientMachine)
//! and does its IO — connections (one per broker and one more to each group or transaction
//! coordinator, opened when needed, plus the bootstrap addresses) through a
//! [`Transport`] (plaintext TCP or TLS), the ApiVersions handshake and version negotiation,
//! pipelining, request timeouts, reconnection with backoff, and the machine's timer. A [`Handle`] runs commands on
//! the machine from other tasks and awaits their results; [`Hooks`] let an API built on top
//! drain the machine's events after each step.
//!
//! ```no_run
//! use std::time::Instant;
//! use dekaf_smol::{Config, Driver};
//! use dekaf_state::client::{
//!     BrokerAddress, BrokerId, ClientMachine, Outgoing, RequestFailed, RequestId, Response,
//! };
//!
//! /// A machine that wants nothing (a real one is a consumer or a producer).
//! struct Quiet;
//!
//! impl ClientMachine for Quiet {
//!     fn poll_request(&mut self, _: Instant) -> Option<Outgoing> { None }
//!     fn handle_response(&mut self, _: Instant, _: RequestId, _: Result<Response, RequestFailed>) {}
//!     fn handle_timeout(&mut self, _: Instant) {}
//!     fn poll_timeout(&self) -> Option<Instant> { None }
//!     fn broker_address(&self, _: BrokerId) -> Option<BrokerAddress> { None }
//! }
//!
//! # fn main() -> Result<(), dekaf_smol::Error> {
//! let (driver, handle) = Driver::new(Config::new(["localhost:9092"]), Quiet)?;
//! futures_lite::future::block_on(async {
//!     // Any executor works; here the driver runs next to the code that commands it.
//!     let work = async {
//!         let answer = handle.call(|_machine: &mut Quiet, _now| 42).await?;
//!         handle.shutdown();
//!         Ok::<_, dekaf_smol::Error>(answer)
//!     };
//!     let (_machine, answer) = futures_lite::future::zip(driver.run(), work).await;
//!     assert_eq!(answer?, 42);
//!     Ok(())
//! })
//! # }
//! ```
//!
//! # Features
//!
//! - `native-roots` (on by default): TLS trusts the certificate authorities of the operating
//!   system's store ([`TlsSettings::native_roots`]).
//! - `webpki-roots` (off): TLS can trust Mozilla's root certificates, compiled in
//!   ([`TlsSettings::webpki_roots`]).
//! - `metrics` (off): each client's snapshot ([`metrics`]) can publish itself through the
//!   [`metrics`](https://docs.rs/metrics) facade (`ConsumerMetrics::record`, ...), for
//!   Prometheus or OpenTelemetry exporters.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod admin;
mod config;
mod connection;
pub mod consumer;
mod driver;
mod error;
mod glue;
mod handshake;
pub mod metrics;
pub mod producer;
mod sasl;
mod security;
mod side;
mod spawn;
pub mod transport;

pub use admin::{Admin, AdminBuilder, AdminError, NewTopic};
pub use config::{Config, CustomTransport};
pub use connection::{ConnectionEvent, Endpoint};
pub use consumer::{
    Consumer, ConsumerBuilder, ConsumerRecord, GroupMetadata, GroupProtocol, GroupSettings,
    Rebalance, RebalanceListener, RecordStream,
};
pub use dekaf_state::sasl::{Mechanism, SaslConfig, SaslError, Secret};
pub use driver::{Driver, Handle, Hooks};
pub use error::Error;
pub use producer::{
    Acks, Delivery, DeliveryFuture, Producer, ProducerBuilder, ProducerRecord, RecordMetadata,
    TransactionState,
};
pub use sasl::{OAuthToken, SaslSettings, TokenFuture, TokenProvider};
pub use security::{Pem, SecurityProtocol, TlsSettings};
pub use spawn::{DriverFuture, Spawner};
pub use transport::{TlsError, Transport};

pub use dekaf_proto::records::{Compression, OwnedHeader as Header, TimestampType};
pub use dekaf_proto::ErrorCode;
pub use dekaf_state::assignor::{
    AssignmentError, Assignor, GroupAssignment, MemberSubscription, RebalanceProtocol,
};
pub use dekaf_state::consumer::{
    FetchError, IsolationLevel, MetadataProblem, SubscribeError, Watermarks,
};
pub use dekaf_state::group::{GroupError, MemberState};
pub use dekaf_state::offset::{
    AckMode, AutoOffsetReset, CommitError, CommitPolicy, Fault, LookupError, OffsetAndMetadata,
    OffsetAndTimestamp, OffsetCommitMode, OffsetError, PositionError, TopicPartition,
    TopicPartitionOffset, TopicPartitionTimestamp,
};
