//! The consumer protocol: the blobs that consumers of a classic group exchange through the
//! coordinator, opaque to the broker.
//!
//! A member puts a [`ConsumerProtocolSubscription`] in each
//! [`JoinGroupRequestProtocol::metadata`](crate::messages::join_group::JoinGroupRequestProtocol);
//! the leader reads every member's subscription from the JoinGroup response and sends back one
//! [`ConsumerProtocolAssignment`] per member in SyncGroup. Java and librdkafka consumers speak
//! the same format, so a dekaf member can share a group with them.
//!
//! Each blob starts with its own `int16` version and is never flexible (no compact lengths, no
//! tagged fields), whatever the version of the request that carries it.
//!
//! # Newer versions
//!
//! Versions only ever append fields. Like Kafka's own readers, [`decode`] accepts a version
//! above [`MAX_VERSION`]: it reads the fields of [`MAX_VERSION`] and ignores the rest.
//! Trailing bytes are ignored at every version, as Java and librdkafka do.
//!
//! [`decode`]: ConsumerProtocolSubscription::decode

use bytes::{BufMut, Bytes, BytesMut};

use crate::error::{DecodeError, DecodeErrorKind, EncodeError};
use crate::field::{Cx, Field};
use crate::structure;
use crate::wire::Reader;

/// The highest version of the subscription and assignment blobs this crate knows.
pub const MAX_VERSION: i16 = 3;

structure! {
    /// What a consumer tells the group leader when it joins: the topics it wants and what it
    /// owns now (the body of a JoinGroup protocol's metadata).
    ///
    /// Version 1 adds `owned_partitions` (for cooperative rebalancing), version 2
    /// `generation_id`, version 3 `rack_id`. Older versions drop those fields silently.
    pub struct ConsumerProtocolSubscription {
        /// The topics the consumer subscribes to.
        topics: Vec<String> [since(0)],
        /// Data for the assignor, if any.
        user_data: Option<Bytes> [since(0).null_since(0)],
        /// The partitions the consumer owns now (v1+).
        owned_partitions: Vec<TopicPartition> [since(1).ignorable()],
        /// The generation in which it got `owned_partitions` (v2+); -1 when unknown.
        generation_id: i32 [since(2).ignorable()] = -1,
        /// The consumer's rack, for rack-aware assignors (v3+).
        rack_id: Option<String> [since(3).null_since(3).ignorable()],
    }
}

structure! {
    /// What the group leader gives one member: its partitions (the body of a SyncGroup
    /// assignment).
    ///
    /// All versions carry the same fields.
    pub struct ConsumerProtocolAssignment {
        /// The partitions assigned to the member, by topic.
        assigned_partitions: Vec<TopicPartition> [since(0)],
        /// Data from the assignor, if any.
        user_data: Option<Bytes> [since(0).null_since(0)],
    }
}

structure! {
    /// Some partitions of one topic.
    // The spec declares this structure twice, with the same fields: from version 1 in the
    // subscription (where only the v1+ field `owned_partitions` holds it) and from version 0 in
    // the assignment. One declaration serves both.
    pub struct TopicPartition {
        /// The topic's name.
        topic: String [since(0)],
        /// The partitions' indexes.
        partitions: Vec<i32> [since(0)],
    }
}

fn encode_blob<T: Field>(body: &T, version: i16, what: &'static str) -> Result<Bytes, EncodeError> {
    if !(0..=MAX_VERSION).contains(&version) {
        return Err(EncodeError::UnsupportedVersion { api: what, version });
    }
    let mut buf = BytesMut::new();
    buf.put_i16(version);
    body.write(&mut buf, Cx::new(version, false), what)?;
    Ok(buf.freeze())
}

fn decode_blob<T: Field>(src: &Bytes, what: &'static str) -> Result<(i16, T), DecodeError> {
    let mut r = Reader::new(src);
    let version = r.i16(what)?;
    if version < 0 {
        return Err(DecodeError::new(
            what,
            0,
            DecodeErrorKind::UnsupportedVersion { api: what, version },
        ));
    }
    // Whatever follows the fields of the version read (newer fields, or padding) is ignored.
    let body = T::read(&mut r, Cx::new(version.min(MAX_VERSION), false), what)?;
    Ok((version, body))
}

macro_rules! blob_codec {
    ($ty:ident) => {
        impl $ty {
            /// Encodes the blob, version prefix included, in [`MAX_VERSION`].
            pub fn encode(&self) -> Result<Bytes, EncodeError> {
                self.encode_version(MAX_VERSION)
            }

            /// Encodes the blob, version prefix included, in `version` (0 to [`MAX_VERSION`]).
            /// Fields the version lacks are dropped.
            pub fn encode_version(&self, version: i16) -> Result<Bytes, EncodeError> {
                encode_blob(self, version, stringify!($ty))
            }

            /// Decodes a blob, version prefix included. A version above [`MAX_VERSION`] is
            /// read as [`MAX_VERSION`]; trailing bytes are ignored.
            ///
            /// An empty blob is an error: callers decide what it means (a broker hands an
            /// empty assignment to a member the leader left out).
            pub fn decode(src: &Bytes) -> Result<Self, DecodeError> {
                Self::decode_versioned(src).map(|(_, body)| body)
            }

            /// Like [`decode`](Self::decode), and also returns the version the blob was
            /// written in (which may be above [`MAX_VERSION`]).
            pub fn decode_versioned(src: &Bytes) -> Result<(i16, Self), DecodeError> {
                decode_blob(src, stringify!($ty))
            }
        }
    };
}

blob_codec!(ConsumerProtocolSubscription);
blob_codec!(ConsumerProtocolAssignment);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arbitrary::Arbitrary;
    use proptest::test_runner::{Config, TestCaseError, TestRunner};

    fn round_trips<T: Arbitrary + PartialEq>(
        encode: impl Fn(&T, i16) -> Result<Bytes, EncodeError>,
        decode: impl Fn(&Bytes) -> Result<(i16, T), DecodeError>,
    ) {
        for version in 0..=MAX_VERSION {
            let mut runner = TestRunner::new(Config {
                cases: 64,
                failure_persistence: None,
                ..Config::default()
            });
            let result = runner.run(&T::arbitrary(Cx::new(version, false)), |value| {
                let bytes = encode(&value, version)
                    .map_err(|e| TestCaseError::fail(format!("encode v{version}: {e}")))?;
                let (read_version, back) = decode(&bytes)
                    .map_err(|e| TestCaseError::fail(format!("decode v{version}: {e}")))?;
                proptest::prop_assert_eq!(read_version, version);
                proptest::prop_assert_eq!(&back, &value);
                proptest::prop_assert_eq!(encode(&back, version).unwrap(), bytes);
                Ok(())
            });
            if let Err(e) = result {
                panic!("v{version}: {e}");
            }
        }
    }

    #[test]
    fn subscription_round_trips() {
        round_trips(
            ConsumerProtocolSubscription::encode_version,
            ConsumerProtocolSubscription::decode_versioned,
        );
    }

    #[test]
    fn assignment_round_trips() {
        round_trips(
            ConsumerProtocolAssignment::encode_version,
            ConsumerProtocolAssignment::decode_versioned,
        );
    }

    fn tp(topic: &str, partitions: &[i32]) -> TopicPartition {
        TopicPartition {
            topic: topic.into(),
            partitions: partitions.to_vec(),
            ..TopicPartition::default()
        }
    }

    /// Checks that `value` encodes in `version` to exactly `expected`, and back.
    fn check_vector<T: PartialEq + std::fmt::Debug>(
        value: &T,
        version: i16,
        expected: &[u8],
        encode: impl Fn(&T, i16) -> Result<Bytes, EncodeError>,
        decode: impl Fn(&Bytes) -> Result<T, DecodeError>,
    ) {
        let bytes = encode(value, version).unwrap();
        assert_eq!(&bytes[..], expected, "v{version} encoding");
        assert_eq!(&decode(&Bytes::copy_from_slice(expected)).unwrap(), value);
    }

    // The vectors below are written out from the field list of the spec: int16 version, then
    // the body in the classic (non-flexible) encoding: int32 array counts, int16 string
    // lengths, int32 byte lengths, -1 for null.

    #[test]
    fn subscription_v0_bytes() {
        let sub = ConsumerProtocolSubscription {
            topics: vec!["a".into(), "bc".into()],
            user_data: None,
            ..Default::default()
        };
        #[rustfmt::skip]
        let expected = [
            0x00, 0x00,             // version 0
            0x00, 0x00, 0x00, 0x02, // topics: 2
            0x00, 0x01, b'a',
            0x00, 0x02, b'b', b'c',
            0xff, 0xff, 0xff, 0xff, // user_data: null
        ];
        check_vector(
            &sub,
            0,
            &expected,
            ConsumerProtocolSubscription::encode_version,
            ConsumerProtocolSubscription::decode,
        );
    }

    #[test]
    fn subscription_v1_bytes() {
        let sub = ConsumerProtocolSubscription {
            topics: vec!["t".into()],
            user_data: Some(Bytes::from_static(&[0xab, 0xcd])),
            owned_partitions: vec![tp("t", &[0, 2])],
            ..Default::default()
        };
        #[rustfmt::skip]
        let expected = [
            0x00, 0x01,             // version 1
            0x00, 0x00, 0x00, 0x01, // topics: 1
            0x00, 0x01, b't',
            0x00, 0x00, 0x00, 0x02, // user_data: 2 bytes
            0xab, 0xcd,
            0x00, 0x00, 0x00, 0x01, // owned_partitions: 1
            0x00, 0x01, b't',       //   topic
            0x00, 0x00, 0x00, 0x02, //   partitions: 2
            0x00, 0x00, 0x00, 0x00,
            0x00, 0x00, 0x00, 0x02,
        ];
        check_vector(
            &sub,
            1,
            &expected,
            ConsumerProtocolSubscription::encode_version,
            ConsumerProtocolSubscription::decode,
        );
    }

    #[test]
    fn subscription_v3_bytes() {
        let sub = ConsumerProtocolSubscription {
            topics: vec![],
            user_data: Some(Bytes::new()),
            owned_partitions: vec![],
            generation_id: 7,
            rack_id: Some("r".into()),
            ..Default::default()
        };
        #[rustfmt::skip]
        let expected = [
            0x00, 0x03,             // version 3
            0x00, 0x00, 0x00, 0x00, // topics: 0
            0x00, 0x00, 0x00, 0x00, // user_data: empty
            0x00, 0x00, 0x00, 0x00, // owned_partitions: 0
            0x00, 0x00, 0x00, 0x07, // generation_id
            0x00, 0x01, b'r',       // rack_id
        ];
        check_vector(
            &sub,
            3,
            &expected,
            ConsumerProtocolSubscription::encode_version,
            ConsumerProtocolSubscription::decode,
        );
    }

    #[test]
    fn assignment_v0_bytes() {
        let assignment = ConsumerProtocolAssignment {
            assigned_partitions: vec![tp("t", &[1]), tp("uv", &[])],
            user_data: None,
            ..Default::default()
        };
        #[rustfmt::skip]
        let expected = [
            0x00, 0x00,             // version 0
            0x00, 0x00, 0x00, 0x02, // assigned_partitions: 2
            0x00, 0x01, b't',       //   topic
            0x00, 0x00, 0x00, 0x01, //   partitions: 1
            0x00, 0x00, 0x00, 0x01,
            0x00, 0x02, b'u', b'v', //   topic
            0x00, 0x00, 0x00, 0x00, //   partitions: 0
            0xff, 0xff, 0xff, 0xff, // user_data: null
        ];
        check_vector(
            &assignment,
            0,
            &expected,
            ConsumerProtocolAssignment::encode_version,
            ConsumerProtocolAssignment::decode,
        );
    }

    #[test]
    fn assignment_v1_bytes() {
        let assignment = ConsumerProtocolAssignment {
            assigned_partitions: vec![tp("t", &[3, 4])],
            user_data: Some(Bytes::from_static(&[0x01])),
            ..Default::default()
        };
        #[rustfmt::skip]
        let expected = [
            0x00, 0x01,             // version 1
            0x00, 0x00, 0x00, 0x01, // assigned_partitions: 1
            0x00, 0x01, b't',       //   topic
            0x00, 0x00, 0x00, 0x02, //   partitions: 2
            0x00, 0x00, 0x00, 0x03,
            0x00, 0x00, 0x00, 0x04,
            0x00, 0x00, 0x00, 0x01, // user_data: 1 byte
            0x01,
        ];
        check_vector(
            &assignment,
            1,
            &expected,
            ConsumerProtocolAssignment::encode_version,
            ConsumerProtocolAssignment::decode,
        );
    }

    #[test]
    fn newer_versions_are_read_as_the_latest() {
        let sub = ConsumerProtocolSubscription {
            topics: vec!["t".into()],
            owned_partitions: vec![tp("t", &[0])],
            generation_id: 3,
            rack_id: Some("r".into()),
            ..Default::default()
        };
        let mut future = BytesMut::from(&sub.encode().unwrap()[..]);
        future[..2].copy_from_slice(&9i16.to_be_bytes());
        future.extend_from_slice(&[0x00, 0x00, 0x00, 0x2a, 0xff]); // a field from v9
        let future = future.freeze();
        assert_eq!(
            ConsumerProtocolSubscription::decode_versioned(&future).unwrap(),
            (9, sub)
        );

        let assignment = ConsumerProtocolAssignment {
            assigned_partitions: vec![tp("t", &[0])],
            ..Default::default()
        };
        let mut future = BytesMut::from(&assignment.encode().unwrap()[..]);
        future[..2].copy_from_slice(&4i16.to_be_bytes());
        future.extend_from_slice(&[0x01]);
        let future = future.freeze();
        assert_eq!(
            ConsumerProtocolAssignment::decode_versioned(&future).unwrap(),
            (4, assignment)
        );
    }

    #[test]
    fn older_versions_drop_newer_fields() {
        let sub = ConsumerProtocolSubscription {
            topics: vec!["t".into()],
            owned_partitions: vec![tp("t", &[0])],
            generation_id: 3,
            rack_id: Some("r".into()),
            ..Default::default()
        };
        let v0 = ConsumerProtocolSubscription::decode(&sub.encode_version(0).unwrap()).unwrap();
        assert_eq!(
            v0,
            ConsumerProtocolSubscription {
                topics: vec!["t".into()],
                ..Default::default()
            }
        );
    }

    #[test]
    fn bad_blobs_are_errors() {
        let sub = ConsumerProtocolSubscription::default();
        assert!(matches!(
            sub.encode_version(4),
            Err(EncodeError::UnsupportedVersion { version: 4, .. })
        ));
        assert!(sub.encode_version(-1).is_err());

        for raw in [
            &[][..],                               // empty
            &[0x00],                               // half a version
            &[0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0], // negative version
            &[0x00, 0x00, 0x00, 0x00, 0x00],       // cut inside the topic count
            &[0x00, 0x00, 0x7f, 0xff, 0xff, 0xff], // count larger than the input
        ] {
            let raw = Bytes::copy_from_slice(raw);
            assert!(
                ConsumerProtocolSubscription::decode(&raw).is_err(),
                "{raw:?}"
            );
            assert!(ConsumerProtocolAssignment::decode(&raw).is_err(), "{raw:?}");
        }
    }
}
