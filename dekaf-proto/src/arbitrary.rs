//! proptest strategies for messages, version by version (feature `arbitrary`, and in tests).
//!
//! A strategy built for a version only produces values that version can carry: absent fields
//! keep their default, nulls appear only where the version allows them, and flexible versions
//! get a few unknown tagged fields to prove they survive a round trip.

use bytes::Bytes;
use proptest::prelude::*;

use crate::field::{Cx, TaggedFields};
use crate::wire::Uuid;

/// Types that can produce random values valid in a given encoding context.
pub trait Arbitrary: Sized + std::fmt::Debug + Clone + 'static {
    /// A strategy for values valid in `cx`.
    fn arbitrary(cx: Cx) -> BoxedStrategy<Self>;
}

macro_rules! any_of {
    ($($ty:ty),*) => {$(
        impl Arbitrary for $ty {
            fn arbitrary(_: Cx) -> BoxedStrategy<Self> {
                any::<$ty>().boxed()
            }
        }
    )*};
}
any_of!(i8, i16, i32, i64, u16, u32, bool);

impl Arbitrary for f64 {
    fn arbitrary(_: Cx) -> BoxedStrategy<Self> {
        // NaN never equals itself, which a round-trip check cannot use.
        proptest::num::f64::NORMAL.boxed()
    }
}

impl Arbitrary for Uuid {
    fn arbitrary(_: Cx) -> BoxedStrategy<Self> {
        any::<[u8; 16]>().prop_map(Uuid).boxed()
    }
}

impl Arbitrary for String {
    fn arbitrary(_: Cx) -> BoxedStrategy<Self> {
        "[a-zA-Z0-9._-]{0,12}|\\PC{0,4}".boxed()
    }
}

impl Arbitrary for Bytes {
    fn arbitrary(_: Cx) -> BoxedStrategy<Self> {
        proptest::collection::vec(any::<u8>(), 0..24)
            .prop_map(Bytes::from)
            .boxed()
    }
}

impl<T: Arbitrary> Arbitrary for Vec<T> {
    fn arbitrary(cx: Cx) -> BoxedStrategy<Self> {
        proptest::collection::vec(T::arbitrary(cx.with_nullable(false)), 0..3).boxed()
    }
}

impl<T: Arbitrary> Arbitrary for Option<T> {
    fn arbitrary(cx: Cx) -> BoxedStrategy<Self> {
        let inner = T::arbitrary(cx.with_nullable(false));
        if cx.nullable {
            proptest::option::of(inner).boxed()
        } else {
            inner.prop_map(Some).boxed()
        }
    }
}

/// Unknown tagged fields for a flexible structure (tags far above any Kafka assigns).
pub fn unknown_tagged_fields(cx: Cx) -> BoxedStrategy<TaggedFields> {
    if !cx.flexible {
        return Just(TaggedFields::default()).boxed();
    }
    proptest::collection::btree_map(
        10_000u32..10_003,
        proptest::collection::vec(any::<u8>(), 0..6),
        0..2,
    )
    .prop_map(|m| TaggedFields(m.into_iter().map(|(t, v)| (t, Bytes::from(v))).collect()))
    .boxed()
}

/// Known tagged fields marked as decoded (tags 0 to 7), so that round trips also cover
/// fields written while holding their default value.
pub fn decoded_tags(cx: Cx) -> BoxedStrategy<crate::field::TagSet> {
    if !cx.flexible {
        return Just(crate::field::TagSet::default()).boxed();
    }
    any::<u8>()
        .prop_map(|mask| {
            let mut tags = crate::field::TagSet::default();
            for tag in 0..8 {
                if mask & (1 << tag) != 0 {
                    tags.insert(tag);
                }
            }
            tags
        })
        .boxed()
}

/// Checks, for every version of `M` and `cases` random values, that encoding and decoding
/// give back the value and the same bytes. Panics with the version and value on failure.
pub fn check_round_trips<M: crate::Message + Arbitrary>(cases: u32) {
    use proptest::test_runner::{Config, TestRunner};
    for version in M::SPEC.min_version..=M::SPEC.max_version {
        let mut runner = TestRunner::new(Config {
            cases,
            failure_persistence: None,
            ..Config::default()
        });
        let result = runner.run(&M::arbitrary(M::SPEC.cx(version)), |m| {
            let bytes = m
                .to_bytes(version)
                .map_err(|e| TestCaseError::fail(format!("encode v{version}: {e}")))?;
            let back = M::decode_exact(&bytes, version)
                .map_err(|e| TestCaseError::fail(format!("decode v{version}: {e}")))?;
            prop_assert_eq!(&back, &m, "v{}", version);
            prop_assert_eq!(back.to_bytes(version).unwrap(), bytes, "v{}", version);
            Ok(())
        });
        if let Err(e) = result {
            panic!("{} v{version}: {e}", M::SPEC.api_key.name());
        }
    }
}
