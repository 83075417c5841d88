//! Choosing a partition for a record: murmur2 on the key exactly as the Java client (and
//! librdkafka's `murmur2_random`) computes it, sticky partitions for records without a key.

use std::collections::HashMap;
use std::sync::Arc;

use crate::offset::Rng;

/// Kafka's murmur2 hash of `data`, bit for bit what the Java client's `Utils.murmur2` returns.
pub fn murmur2(data: &[u8]) -> i32 {
    const SEED: u32 = 0x9747_b28c;
    const M: u32 = 0x5bd1_e995;
    const R: u32 = 24;
    // Java hashes arrays of at most i32::MAX bytes; the length enters the hash as 32 bits.
    let mut h = SEED ^ (data.len() as u32);
    let mut chunks = data.chunks_exact(4);
    for chunk in &mut chunks {
        let mut k = u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M);
        h ^= k;
    }
    let tail = chunks.remainder();
    if !tail.is_empty() {
        for (i, byte) in tail.iter().enumerate().rev() {
            h ^= u32::from(*byte) << (8 * i);
        }
        h = h.wrapping_mul(M);
    }
    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^= h >> 15;
    h as i32
}

/// The partition the Java client and librdkafka (`murmur2_random`) give a record with `key`:
/// `(murmur2(key) & 0x7fffffff) % partitions`. `None` when the topic has no partitions.
pub fn partition_for_key(key: &[u8], partitions: usize) -> Option<i32> {
    let n = u32::try_from(partitions).ok().filter(|n| *n > 0)?;
    let positive = (murmur2(key) as u32) & 0x7fff_ffff;
    i32::try_from(positive % n).ok()
}

/// Chooses the partition of each record the application did not place itself, in place of the
/// default (murmur2 of the key as Java's client computes it; a sticky partition for records
/// without a key).
///
/// It runs on the producer's machine, once per record, when the topic's partition count is
/// known: keep it quick and never block.
///
/// ```
/// use dekaf_state::producer::Partitioner;
///
/// /// Records of one customer (the key's prefix before ':') on one partition.
/// struct ByCustomer;
///
/// impl Partitioner for ByCustomer {
///     fn partition(&self, _topic: &str, key: Option<&[u8]>, partitions: usize) -> Option<i32> {
///         let key = key?;
///         let customer = key.split(|b| *b == b':').next().unwrap_or(key);
///         dekaf_state::producer::partition_for_key(customer, partitions)
///     }
/// }
/// assert_eq!(ByCustomer.partition("orders", Some(b"c42:1"), 8), ByCustomer.partition("orders", Some(b"c42:2"), 8));
/// ```
pub trait Partitioner: Send + Sync + 'static {
    /// The partition (0 to `partitions - 1`) of a record of `topic` with `key`; `None` leaves
    /// the record to the default choice. A partition out of range fails the record with
    /// `DeliveryError::InvalidPartition`.
    fn partition(&self, topic: &str, key: Option<&[u8]>, partitions: usize) -> Option<i32>;
}

/// A [`Partitioner`] in a [`ProducerConfig`](super::ProducerConfig): settings compare equal
/// when they hold the same partitioner.
#[derive(Clone)]
pub struct CustomPartitioner(pub Arc<dyn Partitioner>);

impl CustomPartitioner {
    /// Wraps `partitioner`.
    pub fn new(partitioner: impl Partitioner) -> Self {
        CustomPartitioner(Arc::new(partitioner))
    }
}

impl PartialEq for CustomPartitioner {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl std::fmt::Debug for CustomPartitioner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CustomPartitioner")
    }
}

/// Sticky choices for records without a key: one partition per topic, kept until the batch
/// being filled for it is closed, then another picked at random.
#[derive(Debug)]
pub(crate) struct Sticky {
    rng: Rng,
    current: HashMap<Arc<str>, i32>,
}

impl Sticky {
    pub(crate) fn new(seed: u64) -> Self {
        Sticky {
            rng: Rng::new(seed),
            current: HashMap::new(),
        }
    }

    /// The partition for the next keyless record of `topic`: the current sticky one, or a
    /// random pick among `available` (partitions with a leader), else among all `partitions`.
    pub(crate) fn partition(
        &mut self,
        topic: &Arc<str>,
        partitions: usize,
        available: &[i32],
    ) -> Option<i32> {
        if let Some(p) = self.current.get(topic) {
            if usize::try_from(*p).is_ok_and(|p| p < partitions) {
                return Some(*p);
            }
        }
        let pick = if available.is_empty() {
            let n = u64::try_from(partitions).ok().filter(|n| *n > 0)?;
            i32::try_from(self.rng.next_u64() % n).ok()?
        } else {
            let i = self.rng.next_u64() % available.len() as u64;
            *available.get(usize::try_from(i).ok()?)?
        };
        self.current.insert(topic.clone(), pick);
        Some(pick)
    }

    /// The batch filling `partition` of `topic` was closed: the next keyless record of the
    /// topic picks again.
    pub(crate) fn batch_closed(&mut self, topic: &str, partition: i32) {
        if self.current.get(topic) == Some(&partition) {
            self.current.remove(topic);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The cases of Kafka's own `UtilsTest.testMurmur2`.
    #[test]
    fn matches_the_java_client() {
        let cases: [(&[u8], i32); 6] = [
            (b"21", -973_932_308),
            (b"foobar", -790_332_482),
            (b"a-little-bit-long-string", -985_981_536),
            (b"a-little-bit-longer-string", -1_486_304_829),
            (
                b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8",
                -58_897_971,
            ),
            (b"abc", 479_470_107),
        ];
        for (key, expected) in cases {
            assert_eq!(murmur2(key), expected, "{}", String::from_utf8_lossy(key));
        }
    }

    #[test]
    fn key_partition_is_positive_modulo() {
        // murmur2("21") is negative: the sign bit is masked off, not negated.
        let masked = (-973_932_308i32 as u32) & 0x7fff_ffff;
        assert_eq!(partition_for_key(b"21", 7), Some((masked % 7) as i32));
        assert_eq!(partition_for_key(b"", 1), Some(0));
        assert_eq!(partition_for_key(b"x", 0), None);
        for n in 1..50 {
            let p = partition_for_key(b"some key", n).unwrap();
            assert!((0..n as i32).contains(&p));
        }
    }

    #[test]
    fn sticky_keeps_a_partition_until_its_batch_closes() {
        let topic: Arc<str> = Arc::from("t");
        let mut sticky = Sticky::new(7);
        let first = sticky.partition(&topic, 8, &[]).unwrap();
        for _ in 0..10 {
            assert_eq!(sticky.partition(&topic, 8, &[]), Some(first));
        }
        sticky.batch_closed("t", (first + 1) % 8);
        assert_eq!(sticky.partition(&topic, 8, &[]), Some(first));
        sticky.batch_closed("t", first);
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..200 {
            let p = sticky.partition(&topic, 8, &[1, 5]).unwrap();
            seen.insert(p);
            sticky.batch_closed("t", p);
        }
        // Only partitions with a leader are picked while there are some.
        assert_eq!(seen.into_iter().collect::<Vec<_>>(), [1, 5]);
        assert_eq!(sticky.partition(&topic, 0, &[]), None);
    }
}
