//! A Kafka client on smol, driving the `dekaf-state` machines over real sockets.
//!
//! The IO core is [`Driver`]: it owns any [`ClientMachine`](dekaf_state::client::ClientMachine)
//! and does its IO — connections (one per broker, opened when needed, plus the bootstrap
//! addresses), the ApiVersions handshake and version negotiation, pipelining, request
//! timeouts, reconnection with backoff, and the machine's timer. A [`Handle`] runs commands on
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
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod admin;
mod config;
mod connection;
pub mod consumer;
mod driver;
mod error;
mod handshake;
pub mod producer;
mod side;
mod spawn;

pub use admin::{Admin, NewTopic};
pub use config::Config;
pub use connection::{ConnectionEvent, Endpoint};
pub use consumer::{Consumer, ConsumerBuilder, ConsumerRecord, GroupSettings, RecordStream};
pub use driver::{Driver, Handle, Hooks};
pub use error::Error;
pub use producer::{DeliveryFuture, Producer, ProducerBuilder, ProducerRecord, RecordMetadata};
pub use spawn::{DriverFuture, Spawner};

pub use dekaf_proto::records::{OwnedHeader as Header, TimestampType};
pub use dekaf_proto::ErrorCode;
pub use dekaf_state::consumer::{FetchError, IsolationLevel, MetadataProblem, Watermarks};
pub use dekaf_state::offset::{
    AckMode, AutoOffsetReset, CommitError, CommitPolicy, Fault, LookupError, OffsetAndMetadata,
    OffsetAndTimestamp, OffsetCommitMode, OffsetError, PositionError, TopicPartition,
    TopicPartitionOffset, TopicPartitionTimestamp,
};
