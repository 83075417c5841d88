//! Consuming in a simulation: collecting what the application got and checking it against
//! the cluster's records.

use std::collections::BTreeMap;
use std::time::Duration;

use dekaf_state::consumer::ConsumerRecord;
use dekaf_state::offset::TopicPartition;

use crate::{Record, Sim};

/// What the application got, per partition.
#[derive(Default, Debug)]
pub struct Delivered {
    /// Records by partition, in the order handed out.
    pub by_partition: BTreeMap<TopicPartition, Vec<ConsumerRecord>>,
}

impl Delivered {
    /// Adds records, checking that each partition's offsets only grow.
    pub fn add(&mut self, records: Vec<ConsumerRecord>) {
        for r in records {
            let list = self
                .by_partition
                .entry(r.topic_partition.clone())
                .or_default();
            if let Some(last) = list.last() {
                assert!(
                    r.offset > last.offset,
                    "{}: {} handed out after {}",
                    r.topic_partition,
                    r.offset,
                    last.offset
                );
            }
            list.push(r);
        }
    }

    /// The offsets handed out for `tp`.
    pub fn offsets(&self, tp: &TopicPartition) -> Vec<i64> {
        self.by_partition
            .get(tp)
            .map(|rs| rs.iter().map(|r| r.offset).collect())
            .unwrap_or_default()
    }

    /// How many records of `tp` were handed out.
    pub fn count(&self, tp: &TopicPartition) -> usize {
        self.by_partition.get(tp).map_or(0, Vec::len)
    }
}

/// Takes records (at most `per_poll` at a time) until `want` of them arrived per partition.
pub fn consume(sim: &mut Sim, want: &BTreeMap<TopicPartition, usize>, max: Duration) -> Delivered {
    let mut got = Delivered::default();
    sim.run_until(max, |sim| {
        let records = sim.consumer.poll_records(sim.now, 37);
        got.add(records);
        want.iter().all(|(tp, n)| got.count(tp) >= *n)
    });
    got
}

/// Checks that `got` is exactly `expected` for `tp`, in order, with the right contents.
pub fn check_exact(got: &Delivered, tp: &TopicPartition, expected: &[&Record]) {
    let records = got
        .by_partition
        .get(tp)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let offsets: Vec<i64> = records.iter().map(|r| r.offset).collect();
    let want: Vec<i64> = expected.iter().map(|r| r.offset).collect();
    assert_eq!(offsets, want, "{tp}: delivered offsets");
    for (r, e) in records.iter().zip(expected) {
        assert_eq!(r.value.as_ref(), e.value.as_ref(), "{tp}@{}", r.offset);
        assert_eq!(r.timestamp, e.timestamp, "{tp}@{}", r.offset);
        let key = format!("k{}", r.offset);
        assert_eq!(r.key.as_deref(), Some(key.as_bytes()));
        // The cluster puts one header on every record whose offset is a multiple of 3.
        assert_eq!(
            r.headers.len(),
            usize::from(r.offset % 3 == 0),
            "{tp}@{}",
            r.offset
        );
        if let Some(h) = r.headers.first() {
            assert_eq!(
                (&h.key[..], h.value.as_deref()),
                (&b"h"[..], Some(&b"v"[..]))
            );
        }
    }
}

/// Keeps taking records for `d` of virtual time.
pub fn keep_polling(sim: &mut Sim, got: &mut Delivered, d: Duration) {
    let until = sim.now + d;
    sim.run_until(d + Duration::from_secs(1), |sim| {
        got.add(sim.consumer.poll_records(sim.now, 100));
        sim.now >= until
    });
}
