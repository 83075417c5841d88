//! The bodies of the consumer and producer fuzz targets in `fuzz/` (`consumer_machine`,
//! `producer_machine`), kept in the crate so that their committed corpora also replay as
//! ordinary tests on a stable toolchain. Behind the `fuzzing` feature; not part of the API.
//!
//! Each function reads its input as a stream of choices. The first bytes set the machine up
//! (protocol, commit mode, isolation level, idempotence, transactions, sizes and timeouts) and
//! the broker version ranges; the rest drive it step by step, as a driver would: the
//! application's commands, the virtual clock, and for each request the machine sent, an
//! answer — one a broker could plausibly give (the request's own topics, partitions and
//! member ids mirrored back with error codes, offsets, epochs and assignments the input
//! chooses, and record batches from partition logs — this crate's
//! [`Partition`](crate::Partition) — that the input writes as consumers read), one decoded
//! from raw or damaged bytes, a timeout, a broken connection, or none yet. After the input
//! ends, the brokers answer everything and the clock runs on past every timeout the machine
//! promises to keep.
//!
//! They panic only when the machine breaks a promise:
//! - a panic inside it, a `poll_request` or `poll_event` that never ends, requests piling up,
//!   a request it cannot write in a version it offers, a deadline still due right after
//!   `handle_timeout`;
//! - consumer: a record of a partition that is not assigned (or is paused, or revoked), or
//!   that is not the one the partition's log holds at its offset, or, under read_committed,
//!   of an open or aborted transaction; offsets out of order or below the position; a
//!   position moving back without a new fetch epoch (seek, reset, reassignment); more than one
//!   fetch in flight to a broker; more records outstanding than the cap; records buffered after
//!   `close`; a commit of a partition after it was lost; a commit or query answered twice, not
//!   for the partitions asked, or not at all within its timeout;
//! - producer: an outcome for a record twice, for one never sent, for another topic or
//!   partition, or none within the delivery timeout; a flush finished before the records sent
//!   before it; a transaction operation reported twice or as another operation; a commit that
//!   succeeds although a record of its transaction failed; a transaction state change its
//!   state machine does not allow; more Produce requests in flight than `max_in_flight`; a
//!   record sent again with another sequence number, or sequence numbers out of send order;
//!   bytes buffered beyond `buffer_memory` (or one record), or with no record pending.

mod appends;
mod broker;
mod consumer;
mod groups;
mod leader;
mod net;
mod producer;
mod txns;

/// Drives a [`Consumer`](dekaf_state::consumer::Consumer) in a group (or with partitions assigned
/// by hand) with `data` as its commands, clock and answers; panics when it breaks a promise.
pub fn fuzz_consumer(data: &[u8]) {
    consumer::run(data);
}

/// Drives a [`Producer`](dekaf_state::producer::Producer) (idempotent or not, sometimes
/// transactional) with `data` as its commands, clock and answers; panics when it breaks a
/// promise.
pub fn fuzz_producer(data: &[u8]) {
    producer::run(data);
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use proptest::prelude::*;
    use proptest::strategy::{Strategy, ValueTree};
    use proptest::test_runner::{Config, RngSeed, TestRunner};

    fn config() -> Config {
        Config {
            cases: 256,
            failure_persistence: None,
            rng_seed: RngSeed::Fixed(0x5EED),
            ..Config::default()
        }
    }

    /// What a run reached: the kinds of events, the APIs answered, whether records went
    /// through.
    fn features(stats: &net::Stats) -> BTreeSet<String> {
        let mut out: BTreeSet<String> = stats.events.keys().cloned().collect();
        out.extend(stats.answered.keys().map(|k| format!("api {k}")));
        if stats.records > 0 {
            out.insert("records".to_string());
        }
        if stats.raw > 0 {
            out.insert("raw".to_string());
        }
        out
    }

    /// Inputs that are mostly zeros (the ordinary choice: answer, successfully) with some
    /// random bytes, after random setup bytes: they get further than uniform bytes.
    fn sparse() -> impl Strategy<Value = Vec<u8>> {
        (
            proptest::collection::vec(any::<u8>(), 24),
            proptest::collection::vec((any::<u8>(), 0u8..4), 128..768),
        )
            .prop_map(|(setup, rest)| {
                setup
                    .into_iter()
                    .chain(
                        rest.into_iter()
                            .map(|(b, keep)| if keep == 0 { b } else { 0 }),
                    )
                    .collect()
            })
    }

    /// Uniform random bytes or sparse ones.
    fn inputs() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![proptest::collection::vec(any::<u8>(), 0..2048), sparse()]
    }

    /// Rewrites the committed seeds of the state machine fuzz targets
    /// (`fuzz/corpus/{consumer,producer}_machine/seed-*`): of many sparse random inputs, the
    /// first ones that reach something the ones before did not.
    #[test]
    #[ignore = "rewrites the committed seed inputs"]
    fn write_seeds() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus");
        let mut runner = TestRunner::new(config());
        for (target, run) in [
            ("consumer_machine", consumer::run as fn(&[u8]) -> net::Stats),
            ("producer_machine", producer::run),
        ] {
            let dir = root.join(target);
            std::fs::create_dir_all(&dir).unwrap();
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
                if name.starts_with("seed-") {
                    std::fs::remove_file(&path).unwrap();
                }
            }
            let mut seen = BTreeSet::new();
            let mut kept = 0;
            for _ in 0..2000 {
                let data = sparse().new_tree(&mut runner).unwrap().current();
                let found = features(&run(&data));
                if found.is_subset(&seen) {
                    continue;
                }
                seen.extend(found);
                std::fs::write(dir.join(format!("seed-{kept}")), &data).unwrap();
                kept += 1;
                if kept == 8 {
                    break;
                }
            }
            println!("{target}: {kept} seeds reaching {seen:?}");
        }
    }

    proptest! {
        #![proptest_config(config())]

        #[test]
        fn consumer_survives_arbitrary_input(data in inputs()) {
            let stats = consumer::run(&data);
            prop_assert!(stats.unwritable.is_empty(), "{:?}", stats.unwritable);
        }

        #[test]
        fn producer_survives_arbitrary_input(data in inputs()) {
            let stats = producer::run(&data);
            prop_assert!(stats.unwritable.is_empty(), "{:?}", stats.unwritable);
        }
    }
}
