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
//! # Embedding dekaf
//!
//! dekaf-smol is one driver of these machines; a runtime of your own (an event loop, an
//! embedded system, a simulation) can have another. The example `blocking_driver`
//! (`dekaf-state/examples/blocking_driver.rs`, about 400 lines for the driver itself) is the
//! reference: it runs the [producer](producer::Producer) and the
//! [consumer](consumer::Consumer) over blocking `std::net` sockets, writes records, reads them
//! back with commits, and is run against a real broker by the tests. What any driver must do:
//!
//! **Connections.** A request says where it goes ([`client::Destination`]):
//! `Broker(id)` and `Coordinator(id)` are *two* connections to the same broker — group,
//! commit and transaction requests must not wait behind a Fetch the broker holds for its max
//! wait — and `AnyBroker` takes any open broker connection or a bootstrap address. The address
//! of a node id comes from [`broker_address`](client::ClientMachine::broker_address). Each
//! new connection starts with an ApiVersions request (v3 and up carry the client's name);
//! its answer, as [`BrokerVersions`](dekaf_proto::version::BrokerVersions), is what every
//! request of that connection is negotiated against.
//!
//! **Sending.** For each [`Outgoing`](client::Outgoing):
//! [`negotiate`](client::ClientRequest::negotiate) the version (an error goes straight back
//! to `handle_response`), write [`body(version)`](client::ClientRequest::body) with the
//! connection's [`Correlator`](dekaf_proto::correlation::Correlator), and remember the
//! correlation id with the request's id and the time it was sent. A request that
//! [does not expect a response](client::ClientRequest::expects_response) (a Produce with
//! acks = 0) is `forget`-ed at once and gets no `handle_response`.
//!
//! **Receiving.** Split the bytes into frames
//! ([`FrameSplitter`](dekaf_proto::frame::FrameSplitter)), decode each with the correlator
//! (it knows the API and version of the request it answers), and pass it to
//! [`handle_response`](client::ClientMachine::handle_response) as a
//! [`Response`](client::Response) with that version. Every request gets exactly one
//! `handle_response`, with an answer or a [`RequestFailed`](client::RequestFailed).
//!
//! **The loop.** Each turn, with `now` read once from the clock after waking:
//!
//! 1. send what [`poll_request`](client::ClientMachine::poll_request) hands out (the
//!    application's commands since the last turn made some);
//! 2. sleep until an answer arrives, the machine's deadline
//!    ([`poll_timeout`](client::ClientMachine::poll_timeout)) passes, or the oldest request
//!    in flight reaches the request timeout;
//! 3. feed each answer with `now`, then fail timed-out requests, then call
//!    [`handle_timeout`](client::ClientMachine::handle_timeout) if the deadline passed;
//! 4. send what that made due (`poll_request` again);
//! 5. drain the machine's events ([`Producer::poll_event`](producer::Producer::poll_event),
//!    [`Consumer::poll_event`](consumer::Consumer::poll_event)) and let the application
//!    give its commands (`send`, `poll_records`, `commit`...), which take `now` too.
//!
//! In code (the example's `Driver::turn`, with its connections left out):
//!
//! ```no_run
//! use std::time::Instant;
//! use dekaf_state::client::{ClientMachine, Outgoing, RequestFailed, RequestId, Response};
//!
//! /// Writes `out` on its connection, opening it first.
//! fn send(_out: &Outgoing) -> Result<(), RequestFailed> { Ok(()) }
//! /// Answers that arrived, waiting for one until `deadline` at the latest.
//! fn wait(_deadline: Option<Instant>) -> Vec<(RequestId, Result<Response, RequestFailed>)> {
//!     Vec::new()
//! }
//!
//! fn send_all(machine: &mut impl ClientMachine, now: Instant) {
//!     while let Some(out) = machine.poll_request(now) {
//!         if let Err(failed) = send(&out) {
//!             machine.handle_response(now, out.id, Err(failed));
//!         }
//!     }
//! }
//!
//! #[allow(clippy::disallowed_methods)] // the driver reads the clock; the machine never does
//! fn turn(machine: &mut impl ClientMachine) {
//!     send_all(machine, Instant::now());
//!     let answers = wait(machine.poll_timeout());
//!     let now = Instant::now();
//!     for (id, result) in answers {
//!         machine.handle_response(now, id, result);
//!     }
//!     if machine.poll_timeout().is_some_and(|deadline| deadline <= now) {
//!         machine.handle_timeout(now);
//!     }
//!     send_all(machine, now);
//!     // Then the application drains the machine's events and gives its commands.
//! }
//! ```
//!
//! The machines never read a clock: the driver's `now` is their only time, so a deadline
//! passes when the driver says so, and a test can drive them in virtual time. Nor do they
//! read the wall clock: a record's creation time
//! ([`ProducerRecord::timestamp`](producer::ProducerRecord::timestamp)) is the driver's to
//! fill in when the application gives none (dekaf-smol does); sent without one, a record
//! carries -1, which some brokers mishandle (tansu's SQLite engine then fails offset lookups
//! on the partition).
//!
//! **On a disconnect** (the peer closed, a read or write failed, or a frame did not
//! decode): fail every request in flight on that connection with
//! `RequestFailed::Disconnected` (or `Malformed`), in the order they were sent, then call
//! [`handle_disconnected`](client::ClientMachine::handle_disconnected) with the connection's
//! destination (`AnyBroker` for a bootstrap connection). Do not retry or reconnect on your
//! own: the machine backs off, refreshes metadata or finds the coordinator again, and its
//! next request to that broker makes the driver connect anew. A connection that cannot be
//! opened fails its request the same way.
//!
//! **On a timeout**: when a request stays unanswered for the request timeout, its
//! connection is closed as above, its requests failing with `RequestFailed::TimedOut`: a late
//! answer must not be taken for that of a request sent on a new connection. The machines'
//! own deadlines (commit timeouts, heartbeats, linger, retry backoff) are theirs: the driver
//! only calls `handle_timeout` when `poll_timeout` says.
//!
//! # Features
//!
//! - `fuzzing` (off): the body of the `sasl` fuzz target in the repository's `fuzz/`
//!   directory and the fuzz input reader dekaf-sim's fuzz bodies share, for the fuzzers and
//!   the replay of their corpus. Not part of the API, and hidden from these docs.
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
//! | Auto mode, the application stops on an error and drops the consumer ([`abandon`](consumer::Consumer::abandon)) | records acknowledged before the last record or batch handed out | **at-least-once**: the record that failed comes again; an explicit `close` commits it too |
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

// Mutation checks. Built with `RUSTFLAGS='--cfg dekaf_mutant="NAME"'` (never set by users;
// `cargo xtask sim --mutant NAME` does it in a target directory of its own), the crate leaves
// out one rule, so that the seeded runs of dekaf-sim can show they notice:
// - `stale_epoch_retry`: a commit refused with STALE_MEMBER_EPOCH is not sent again
//   (offset/inputs.rs);
// - `commit_coalescing`: a new commit replaces the queued one instead of merging into it
//   (offset/commit.rs);
// - `revoke_before_rejoin`: a classic member rejoins without waiting for the consumer to
//   confirm a revocation (group/membership.rs);
// - `commit_revoked`: revoked partitions stay in the offset machine after the confirmation
//   (consumer/group.rs);
// - `commit_lost`: lost partitions stay in the offset machine (consumer/group.rs).
// dekaf-sim's GUIDE.md records how many seeds each takes to be found.

pub mod admin;
pub mod assignor;
pub mod client;
pub mod consumer;
pub mod display;
/// The body of the SASL fuzz target and the fuzz input reader: for `fuzz/`, dekaf-sim's fuzz
/// bodies and the corpus replay only, not
/// part of the API (the `fuzzing` feature, as quinn-proto keeps its own behind `cfg(fuzzing)`).
#[cfg(any(test, feature = "fuzzing"))]
#[doc(hidden)]
pub mod fuzz;
pub mod group;
pub mod metrics;
pub mod offset;
pub mod producer;
pub mod sasl;
