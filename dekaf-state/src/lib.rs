//! Sans-IO Kafka client state machines.
//!
//! Nothing here reads a clock, opens a socket or spawns a task: time arrives as a `now`
//! argument, and requests and events leave as values for a driver to carry out.
//!
//! # The offset machine
//!
//! [`offset::OffsetManager`] keeps the offsets of one consumer: for each assigned partition
//! the fetch position, the position (next record for the application), the stored offset (what
//! the next commit sends), the committed offset, and how a starting position is found. Its
//! main type's documentation lists its getters, commands, inputs and outputs and the order in
//! which a driver polls them. A driver's loop looks like this:
//!
//! ```no_run
//! use std::time::Instant;
//! use dekaf_state::offset::{Event, Intent, OffsetManager};
//!
//! fn step(offsets: &mut OffsetManager, now: Instant) -> Option<Instant> {
//!     // 1. Requests to send. Each id comes back with `handle_*_response` or
//!     //    `handle_request_failed`.
//!     while let Some(intent) = offsets.poll_intent(now) {
//!         match intent {
//!             Intent::FindCoordinator { id } => { /* FindCoordinator to any broker */ }
//!             Intent::CommitOffsets { id, offsets, .. } => { /* OffsetCommit */ }
//!             Intent::FetchCommitted { id, partitions, .. } => { /* OffsetFetch */ }
//!             Intent::ListOffsets { id, partitions } => { /* ListOffsets per leader */ }
//!             _ => {}
//!         }
//!     }
//!     // 2. Events for the application.
//!     while let Some(event) = offsets.poll_event() {
//!         if let Event::CommitFinished { id, result, .. } = event {
//!             println!("{id}: {result:?}");
//!         }
//!     }
//!     // 3. When to call `handle_timeout` next.
//!     offsets.poll_timeout()
//! }
//! ```
//!
//! # The consumer
//!
//! [`consumer::Consumer`] drives the offset machine with Kafka's requests: it implements
//! [`client::ClientMachine`] (requests out with the versions it can write, answers in), keeps
//! a metadata cache, fetches from partition leaders, filters transactions under
//! read_committed, and hands records out in order through
//! [`poll_records`](consumer::Consumer::poll_records). Its documentation has the driver loop.
//!
//! # The producer
//!
//! [`producer::Producer`] is a [`client::ClientMachine`]: records in (`send`), Produce and
//! transaction requests out, one event per record outcome. It partitions like the Java client,
//! batches per partition, retries without duplicates or reordering (idempotence, on by
//! default) and runs Kafka transactions, offsets included, for consume-transform-produce.
//!
//! # Authentication
//!
//! [`sasl::SaslClient`] authenticates one connection with SASL (PLAIN, SCRAM-SHA-256,
//! SCRAM-SHA-512, OAUTHBEARER): SaslHandshake and SaslAuthenticate requests out, their answers
//! in, one outcome, and re-authentication when the broker limits the session's lifetime.
//!
//! # The admin client
//!
//! [`admin`] holds an admin client's calls without IO: for each, the requests written per
//! version, and functions that read an answer into one result per item asked (a topic, a
//! partition, a group, a configuration resource), so that one failing item hides no other.
//! Lookups are planned per partition leader and a group's lag computed by plain functions.
//!
//! # Delivery semantics
//!
//! Kafka only knows committed offsets; what is lost or repeated after a crash depends on
//! whether an offset was committed before or after its record was processed. In Dekaf a
//! record is *acknowledged* when the application asks for the next record or batch
//! ([`release`](offset::OffsetManager::release)), commits, or closes — or, with
//! [`AckMode::Explicit`](offset::AckMode::Explicit), when it calls
//! [`ack`](offset::OffsetManager::ack). Automatic stores and Auto mode commits only ever carry
//! the end of the acknowledged prefix. So:
//!
//! | How the application works | Commit carries | On a crash |
//! |---|---|---|
//! | Auto mode, each record (or batch) processed before asking for the next | acknowledged records only | **at-least-once**: records processed since the last commit, and the one being processed, come again |
//! | Auto mode, records handed to other tasks and the next one asked for before they finish | records still being processed (asking released them) | **at-most-once** for those records: use `AckMode::Explicit` and `ack` instead |
//! | `AckMode::Explicit`, `ack` after processing, any order | the contiguous acknowledged prefix | **at-least-once**: acknowledged records above a gap come again |
//! | Manual mode, `commit` after processing | the position of every partition | **at-least-once** |
//! | Manual mode, `commit` before processing | records not yet processed | **at-most-once**: they are lost |
//! | `commit_offsets` / `store_offsets` with offsets the application picks | exactly those offsets | what the offsets say: beyond what was processed is at-most-once |
//! | `seek` then commit | the new position (may move back: reprocess; or forward: skip) | as chosen |
//! | offsets committed atomically with the output (a producer transaction, or a database) | offsets and results together | **exactly-once**, not by this machine alone |
//!
//! Two further cases: when a partition is revoked, records handed out but not acknowledged are
//! delivered again to its next owner (at-least-once); and a commit refused by a rebalance
//! leaves its offsets stored, to be committed again once the group is stable (Auto mode) or by
//! the next `commit` (Manual mode) — unless the partition moved to another member, which then
//! starts from the older committed offset (at-least-once). Making processing idempotent turns
//! every at-least-once row into effectively exactly-once.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod admin;
pub mod assignor;
pub mod client;
pub mod consumer;
pub mod display;
pub mod fuzz;
pub mod group;
pub mod offset;
pub mod producer;
pub mod sasl;
