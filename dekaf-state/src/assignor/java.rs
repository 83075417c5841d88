//! The parts of Java's standard library whose behaviour shows in Java's assignments: string
//! order, hash codes, and the iteration order of `java.util.HashMap` / `HashSet`.
//!
//! Java's sticky assignor walks members in the order of a `HashMap` keyed by member id (which
//! member keeps a partition above its quota depends on it) and takes "any" element of a
//! `HashSet` of topic partitions. Both orders are a function of the keys' hash codes, the
//! table's capacity and the insertion order, so they can be reproduced:
//!
//! - a key's bucket is `(h ^ (h >>> 16)) & (capacity - 1)`, with `h` its `hashCode()`;
//! - the table starts at 16 buckets and doubles when it holds more than 3/4 of its capacity,
//!   or when a ninth key lands in one bucket while it has fewer than 64 buckets;
//! - iteration goes bucket by bucket, and within a bucket in insertion order (doubling keeps
//!   that order).
//!
//! Not reproduced: a bucket holding nine or more keys in a table of 64 buckets or more, which
//! Java turns into a tree with another order. That takes dozens of members with colliding hash
//! codes.

use std::cmp::Ordering;

/// Compares two strings the way Java's `String.compareTo` does (by UTF-16 code units).
pub(crate) fn cmp_str(a: &str, b: &str) -> Ordering {
    a.encode_utf16().cmp(b.encode_utf16())
}

/// Java's `String.hashCode`.
pub(crate) fn string_hash(s: &str) -> i32 {
    s.encode_utf16()
        .fold(0i32, |h, c| h.wrapping_mul(31).wrapping_add(i32::from(c)))
}

/// Java's `TopicPartition.hashCode`, given the topic's string hash.
pub(crate) fn topic_partition_hash(topic_hash: i32, partition: i32) -> i32 {
    31i32
        .wrapping_add(partition)
        .wrapping_mul(31)
        .wrapping_add(topic_hash)
}

/// `HashMap.hash`: the hash code with its high half folded into the low half.
fn spread(hash: i32) -> u32 {
    let h = u32::from_ne_bytes(hash.to_ne_bytes());
    h ^ (h >> 16)
}

/// The bucket layout of a `java.util.HashMap` (or `HashSet`) created with the default
/// capacity: which keys it holds, in insertion order, and how many buckets it has.
#[derive(Debug, Clone)]
pub(crate) struct HashLayout<K> {
    capacity: u32,
    /// Keys with their spread hash, in insertion order.
    entries: Vec<(K, u32)>,
}

impl<K: PartialEq + Copy> HashLayout<K> {
    /// An empty map.
    pub(crate) fn new() -> Self {
        HashLayout {
            capacity: 16,
            entries: Vec::new(),
        }
    }

    fn bucket(&self, spread: u32) -> u32 {
        spread & (self.capacity - 1)
    }

    /// Adds a key not already present, with its Java hash code.
    pub(crate) fn insert(&mut self, key: K, hash: i32) {
        let spread = spread(hash);
        let bucket = self.bucket(spread);
        let in_bucket = self
            .entries
            .iter()
            .filter(|e| self.bucket(e.1) == bucket)
            .count();
        self.entries.push((key, spread));
        // A ninth key in one bucket makes a small table grow rather than build a tree.
        if in_bucket >= 8 && self.capacity < 64 {
            self.capacity *= 2;
        }
        if self.entries.len() > (self.capacity as usize) * 3 / 4 {
            self.capacity *= 2;
        }
    }

    /// Removes a key (tables never shrink).
    pub(crate) fn remove(&mut self, key: K) {
        self.entries.retain(|e| e.0 != key);
    }

    /// Whether the map holds no key.
    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The key an iterator returns first.
    pub(crate) fn first(&self) -> Option<K> {
        // `min_by_key` keeps the first of equal keys: insertion order within a bucket.
        self.entries
            .iter()
            .min_by_key(|e| self.bucket(e.1))
            .map(|e| e.0)
    }

    /// The keys in iteration order.
    pub(crate) fn iteration_order(&self) -> Vec<K> {
        let mut keys: Vec<(u32, K)> = self
            .entries
            .iter()
            .map(|e| (self.bucket(e.1), e.0))
            .collect();
        keys.sort_by_key(|e| e.0);
        keys.into_iter().map(|e| e.1).collect()
    }
}

/// The order in which Java iterates a `HashMap<String, _>` filled with `keys` in this order
/// (distinct keys); returns indexes into `keys`.
pub(crate) fn string_map_order(keys: &[&str]) -> Vec<usize> {
    let mut layout = HashLayout::new();
    for (i, key) in keys.iter().enumerate() {
        layout.insert(i, string_hash(key));
    }
    layout.iteration_order()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_codes_match_java() {
        // Values computed by Java's String.hashCode.
        assert_eq!(string_hash(""), 0);
        assert_eq!(string_hash("a"), 97);
        assert_eq!(string_hash("hello"), 99_162_322);
        assert_eq!(string_hash("consumer1"), 0xe6e7_fafb_u32 as i32);
        // Characters outside the BMP hash as two UTF-16 units.
        assert_eq!(string_hash("\u{1F600}"), 0xD83D * 31 + 0xDE00);
        assert_eq!(topic_partition_hash(string_hash("t"), 0), 31 * 31 + 116);
    }

    #[test]
    fn java_string_order_is_by_utf16_units() {
        assert_eq!(cmp_str("a", "b"), Ordering::Less);
        assert_eq!(cmp_str("ab", "a"), Ordering::Greater);
        // U+FF61 sorts after U+1F600 in UTF-8 byte order but before it in UTF-16 units.
        assert_eq!(cmp_str("\u{FF61}", "\u{1F600}"), Ordering::Greater);
        assert_eq!("\u{FF61}".cmp("\u{1F600}"), Ordering::Less);
    }

    #[test]
    fn map_order_follows_buckets() {
        // "consumer1..3" land in buckets 12, 11, 10 of 16: Java iterates them backwards.
        assert_eq!(
            string_map_order(&["consumer1", "consumer2", "consumer3"]),
            vec![2, 1, 0]
        );
        // Same bucket: insertion order ("Aa" and "BB" share a hash code).
        assert_eq!(string_map_order(&["BB", "Aa"]), vec![0, 1]);
        assert_eq!(string_map_order(&["Aa", "BB"]), vec![0, 1]);
    }

    #[test]
    fn map_grows_past_three_quarters() {
        let mut layout = HashLayout::new();
        for i in 0..12 {
            layout.insert(i, i);
        }
        assert_eq!(layout.capacity, 16);
        layout.insert(12, 12);
        assert_eq!(layout.capacity, 32);
        // Keys 16 and 0 share bucket 0 of 16 but not of 32.
        layout.insert(16, 16);
        assert_eq!(layout.iteration_order()[..2], [0, 1]);
        assert_eq!(layout.first(), Some(0));
    }

    #[test]
    fn ninth_key_in_a_bucket_grows_a_small_table() {
        let mut layout = HashLayout::new();
        for i in 0..9 {
            layout.insert(i, i * 16);
        }
        assert_eq!(layout.capacity, 32);
    }
}
