//! A deterministic, in-memory Kafka cluster with virtual time and fault injection, to test
//! dekaf's client machines — and the applications built on them — in milliseconds.
//!
//! The model ([`Cluster`]) answers request bodies as Apache Kafka does: brokers, partitions
//! with leaders and leader epochs, logs of real record batches ([`Partition`]) with log start,
//! high watermark and last stable offset, committed offsets, idempotent and transactional
//! producers, transaction markers and aborted-transaction lists. Group coordination lives next
//! to it: the classic protocol ([`classic::Coordinator`]) and the consumer protocol
//! ([`consumer_group::ConsumerCoordinator`]).
//!
//! Every choice — which broker, which version, which fault — comes from a seed, and time is
//! virtual: a run replays exactly from its seed. Drivers carry a machine's requests to the
//! cluster and its answers back:
//!
//! - [`Sim`]: one [`Consumer`](dekaf_state::consumer::Consumer), picking each request's
//!   version at random within what the machine can write;
//! - [`GroupSim`]: the members of one consumer group, with the group coordinator;
//! - [`Link`] and [`drive`]: any [`ClientMachine`](dekaf_state::client::ClientMachine) (the
//!   producer, transactions), with lost answers and broken connections.
//!
//! ```
//! use std::time::Duration;
//! use dekaf_proto::records::Compression;
//! use dekaf_sim::{consume, Cluster, Sim};
//! use dekaf_state::consumer::{Consumer, ConsumerConfig};
//! use dekaf_state::offset::{AutoOffsetReset, TopicPartition};
//!
//! let mut cluster = Cluster::new(3, 7);
//! cluster.create_topic("orders", 1);
//! cluster.append("orders", 0, 10, Compression::None, None);
//! let config = ConsumerConfig::default()
//!     .with_auto_offset_reset(AutoOffsetReset::Earliest)
//!     .with_seed(7);
//! let mut sim = Sim::new(cluster, Consumer::new(config), 7);
//! let tp = TopicPartition::new("orders", 0);
//! sim.consumer.assign(sim.now, [tp.clone()]).unwrap();
//! let got = consume(&mut sim, &[(tp.clone(), 10)].into(), Duration::from_secs(10));
//! assert_eq!(got.count(&tp), 10);
//! ```
//!
//! The [`guide`] shows how to property-test an application's handler with it; [`world`] runs
//! seeded schedules of whole consumer groups and checks every [`Invariant`].
//!
//! # Features
//!
//! - `fuzzing` (off): the bodies of the consumer and producer fuzz targets in the
//!   repository's `fuzz/` directory (a broker made of fuzz input, over this crate's
//!   [`Partition`] logs), for the fuzzers and the replay of their corpus. Not part of the API,
//!   and hidden from these docs.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

#[doc = include_str!("../GUIDE.md")]
pub mod guide {}

mod asked;
#[allow(missing_docs)]
pub mod classic;
mod cluster;
mod consume;
#[allow(missing_docs)]
pub mod consumer_group;
mod faults;
/// The bodies of the consumer and producer fuzz targets: for `fuzz/` and the corpus replay
/// only, not part of the API (the `fuzzing` feature).
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzz;
mod group_sim;
pub mod invariants;
mod link;
mod log;
mod offsets;
mod racks;
mod read;
mod sim;
mod txn;
pub mod world;
pub mod writer;

pub use cluster::{Cluster, Committed, SimError, Topic, T0};
pub use consume::{check_exact, consume, keep_polling, Delivered};
pub use faults::Faults;
pub use group_sim::{GroupSim, Member, GROUP_TICK};
pub use invariants::{Invariant, Violation};
pub use link::{drive, Link};
pub use log::{Partition, Record, Txn};
pub use sim::{start, Sim, REQUEST_TIMEOUT, TICK};
pub use txn::{GroupTxnState, TxnMeta, TxnPhase};
