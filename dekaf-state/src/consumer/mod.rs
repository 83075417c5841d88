//! The consumer machine: fetching, handing records out in order, and the offsets of what was
//! handed out. See [`Consumer`].
//!
//! # How it is built
//!
//! The [`Consumer`] wires the [`OffsetManager`](crate::offset::OffsetManager) to Kafka's
//! requests. The offset machine says *what* to ask (find the coordinator, commit these
//! offsets, look up committed offsets, list offsets); the consumer writes the request for the
//! version the driver picks, splits listings by partition leader, and feeds the answers back.
//! It adds what the offset machine does not know about: the metadata cache (brokers, topic
//! ids, leaders and leader epochs), the fetch path, and the records themselves.
//!
//! | request | versions | sent to | notes |
//! |---|---|---|---|
//! | Metadata | 1–12 | any broker | assigned topics (and topics queried); never creates topics |
//! | FindCoordinator | 0–6 | any broker | key type 0 (group); v4+ asks with a list of keys |
//! | OffsetCommit | 2–9 (7–9 with an instance id) | coordinator | generation, member id, instance id; leader epoch from v6 |
//! | OffsetFetch | 1–9 | coordinator | v8+ through the groups array; `require_stable` from v7 |
//! | ListOffsets | 1–9 (2–9 under read_committed) | each partition's leader | current leader epoch from v4 |
//! | Fetch | 4–17 (4–12 without topic ids) | each partition's leader | no fetch session: every fetch is a full one; last fetched epoch from v12 |
//! | OffsetForLeaderEpoch | 2–4 | each partition's leader | replica id -2 (a consumer) from v3; validates positions after a leader change |
//!
//! # The fetch path
//!
//! At most one fetch is in flight per leader. A partition is fetched when it has a position, is
//! not paused, is not backing off after an error, has at most half of its last answer left to
//! hand out, and the buffered data of all partitions is under
//! [`max_buffered_bytes`](ConsumerConfig::max_buffered_bytes). While the application has
//! records to take from some partition, a partition with records left is fetched ahead only
//! while at most half an answer's worth is buffered over all partitions, and one with none only
//! while at most one answer's worth is (the size of an answer: the largest recent one). So the
//! next answer is on its way while the application takes the rest of this one, and about two
//! answers are kept however many partitions there are. Brokers do not reliably keep to the
//! fetch size limits (tansu answers ~5.5 MB whatever the per-partition limit), so memory is
//! bounded by what is kept, not by what is asked for. A fetch made only of partitions at the
//! end of their log (which the broker holds until new records come, up to the max wait) is not
//! sent while another partition of that leader still has records being taken: it goes with that
//! partition's next fetch, so that the long poll does not hold up the partitions with records
//! to read.
//!
//! Each answer's batches are decoded and checked when they arrive; the records are read into
//! [`ConsumerRecord`]s (key, value and headers share the fetched buffer) one at a time, as
//! the application takes them. Records below the fetch position are skipped (a batch can
//! start before it), control batches move the position without being handed out, and a seek,
//! reset or reassignment drops buffered data and the answers of fetches sent before it (the
//! offset machine's fetch epoch). [`Consumer::take_fetch_due`] tells a driver when taking
//! records made a fetch due, so that it need not look after every record.
//!
//! Errors: OFFSET_OUT_OF_RANGE resets the partition through the offset machine
//! (`auto_offset_reset`); NOT_LEADER_OR_FOLLOWER, UNKNOWN_TOPIC_OR_PARTITION,
//! FENCED_LEADER_EPOCH, UNKNOWN_LEADER_EPOCH and the like refresh metadata; every error backs
//! the partition off (exponential, jittered from the configured seed); errors retrying will
//! not fix are reported as [`ConsumerEvent::Fetch`].
//!
//! # Leader changes and log truncation
//!
//! When metadata shows a partition with a new leader or a higher leader epoch, and its
//! position carries the leader epoch it was read under, the partition stops fetching and
//! asks the new leader where that epoch ends (OffsetForLeaderEpoch). An end below the
//! position means the log was truncated: the position moves back to that end, with an
//! `Offset(Event::Truncated)` event, or, with `auto_offset_reset = none`, the partition fails
//! with [`PositionError::Truncation`](crate::offset::PositionError). A broker without
//! OffsetForLeaderEpoch (tansu) leaves positions as they are. Fetch v12+ sends the last
//! fetched epoch, and a diverging epoch in the answer is handled the same way.
//!
//! # read_committed
//!
//! Records at or after the last stable offset are not read. Below it every transaction is
//! decided, and its outcome is in the log: each producer's transactional batches are followed
//! by its COMMIT or ABORT marker. The consumer holds a transactional batch until its
//! producer's marker arrives — handing it out on COMMIT, passing over it on ABORT — and hands
//! nothing out behind a held batch. Where the broker lists aborted transactions in its answer
//! (Apache Kafka does; tansu always sends the list empty) their batches are dropped at once.
//! The result is Kafka's read_committed on both kinds of broker. A partition whose front is
//! held is fetched further even when the buffer is full, so that the marker is always
//! reached: memory can then exceed the bound by the size of the open transactions being read.
//!
//! # Choices where Kafka leaves room
//!
//! - A ListOffsets by time that finds no record answers offset -1, timestamp -1 in Kafka; tansu
//!   answers offset 0, timestamp -1. Any answer with a negative timestamp counts as "no
//!   record" (a found record always has a timestamp at or after the time asked).
//! - `require_stable` is dropped when the coordinator only speaks OffsetFetch below v7.
//! - The lag of a partition is measured to the high watermark, or to the last stable offset
//!   under read_committed, as Java's consumer does.
//! - Every fetch is a full fetch (no incremental fetch sessions).

mod buffer;
mod config;
#[allow(clippy::module_inception)]
mod consumer;
mod event;
mod fetch;
mod group;
mod io;
mod lists;
mod metadata;
mod record;
pub(crate) mod requests;
mod validate;

pub use config::{ConsumerConfig, IsolationLevel};
pub use consumer::{Consumer, ConsumerStats, FetchStats, GroupGeneration};
pub use event::{ConsumerEvent, FetchError, MetadataProblem, WatermarksId};
pub use group::SubscribeError;
pub use record::{ConsumerRecord, Watermarks};
