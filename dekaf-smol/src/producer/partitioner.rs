//! Which partition a keyed record goes to: the hash Kafka's Java client uses, so that dekaf
//! and Java (and librdkafka's `murmur2_random`) producers put a key in the same partition.

pub use dekaf_state::producer::murmur2;

/// The partition of `key` among `partitions` (at least 1), as Java's default partitioner
/// picks it: `toPositive(murmur2(key)) % partitions`.
pub fn partition_for_key(key: &[u8], partitions: i32) -> i32 {
    let n = usize::try_from(partitions.max(1)).unwrap_or(1);
    dekaf_state::producer::partition_for_key(key, n).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The vectors of Kafka's own `UtilsTest.testMurmur2`.
    #[test]
    fn matches_kafkas_java_hash() {
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
        for (data, want) in cases {
            assert_eq!(murmur2(data), want, "{}", String::from_utf8_lossy(data));
        }
    }

    #[test]
    fn partitions_are_in_range_and_stable() {
        assert_eq!(
            partition_for_key(b"foobar", 7),
            (-790_332_482i32 & 0x7fff_ffff) % 7
        );
        for n in 1..20 {
            for key in [&b""[..], b"k", b"key-1", b"\xff\xfe\xfd"] {
                let p = partition_for_key(key, n);
                assert!((0..n).contains(&p));
                assert_eq!(p, partition_for_key(key, n));
            }
        }
        assert_eq!(partition_for_key(b"x", 0), 0);
    }
}
