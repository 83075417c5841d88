//! Every error code of the Kafka protocol, as a value.

use std::fmt;

use bytes::{BufMut, BytesMut};

use crate::error::{DecodeError, EncodeError};
use crate::field::{Cx, Field};
use crate::wire::Reader;

/// A Kafka error code, as carried in responses (per partition, per member, or for the whole
/// response). `ErrorCode::NONE` is success.
///
/// Any `i16` round-trips, including codes newer than this crate: those have the name
/// `"UNKNOWN"` and are not retriable. Match on the associated constants.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct ErrorCode(pub i16);

macro_rules! error_codes {
    ($($name:ident = $code:literal, $retriable:literal, $doc:literal;)*) => {
        impl ErrorCode {
            $(
                #[doc = $doc]
                pub const $name: ErrorCode = ErrorCode($code);
            )*

            /// Every code this crate knows, in numeric order.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$name,)*];

            /// Kafka's name for the code, e.g. `"OFFSET_OUT_OF_RANGE"`.
            pub const fn name(self) -> &'static str {
                match self.0 {
                    $($code => stringify!($name),)*
                    _ => "UNKNOWN",
                }
            }

            /// Whether retrying the same request may succeed (Kafka's `RetriableException`).
            pub const fn is_retriable(self) -> bool {
                match self.0 {
                    $($code => $retriable,)*
                    _ => false,
                }
            }

            /// What the code means, in a sentence.
            pub const fn description(self) -> &'static str {
                match self.0 {
                    $($code => $doc,)*
                    _ => "an error code this client does not know",
                }
            }
        }
    };
}

error_codes! {
    UNKNOWN_SERVER_ERROR = -1, false, "The broker hit an unexpected error.";
    NONE = 0, false, "No error.";
    OFFSET_OUT_OF_RANGE = 1, false, "The requested offset is outside the partition's log.";
    UNKNOWN_TOPIC_OR_PARTITION = 3, true, "The broker does not host this topic or partition.";
    NOT_LEADER_OR_FOLLOWER = 6, true, "The broker is not the leader or a follower of this partition: refresh metadata.";
    REQUEST_TIMED_OUT = 7, true, "The request timed out on the broker.";
    OFFSET_METADATA_TOO_LARGE = 12, false, "The metadata string of the committed offset is too large.";
    COORDINATOR_LOAD_IN_PROGRESS = 14, true, "The coordinator is still loading its state: retry later.";
    COORDINATOR_NOT_AVAILABLE = 15, true, "The coordinator is not available: find it again.";
    NOT_COORDINATOR = 16, true, "This broker is not the coordinator: find it again.";
    ILLEGAL_GENERATION = 22, false, "The generation in the request is not the group's current one.";
    UNKNOWN_MEMBER_ID = 25, false, "The coordinator does not know this member id.";
    REBALANCE_IN_PROGRESS = 27, false, "The group is rebalancing: rejoin before committing.";
    INVALID_COMMIT_OFFSET_SIZE = 28, false, "The committed offset request is too large.";
    TOPIC_AUTHORIZATION_FAILED = 29, false, "Not authorized to access the topic.";
    GROUP_AUTHORIZATION_FAILED = 30, false, "Not authorized to access the group.";
    FENCED_INSTANCE_ID = 82, false, "Another member with the same group instance id replaced this one.";
    UNSTABLE_OFFSET_COMMIT = 88, true, "Offsets of a pending transaction are not settled yet: retry later.";
    FENCED_MEMBER_EPOCH = 110, false, "The coordinator fenced this member's epoch: it must rejoin the group.";
    STALE_MEMBER_EPOCH = 113, false, "The member epoch is stale: the member must catch up with the group.";
}

impl ErrorCode {
    /// Whether this is `NONE`.
    pub const fn is_ok(self) -> bool {
        self.0 == 0
    }

    /// `Ok(())` for `NONE`, else `Err(self)`.
    pub fn into_result(self) -> Result<(), ErrorCode> {
        if self.is_ok() {
            Ok(())
        } else {
            Err(self)
        }
    }
}

impl fmt::Debug for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}({})", self.name(), self.0)
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}): {}", self.name(), self.0, self.description())
    }
}

impl std::error::Error for ErrorCode {}

impl From<i16> for ErrorCode {
    fn from(code: i16) -> Self {
        ErrorCode(code)
    }
}

impl Field for ErrorCode {
    fn write(&self, buf: &mut BytesMut, _: Cx, _: &'static str) -> Result<(), EncodeError> {
        buf.put_i16(self.0);
        Ok(())
    }
    fn read(r: &mut Reader<'_>, _: Cx, what: &'static str) -> Result<Self, DecodeError> {
        r.i16(what).map(ErrorCode)
    }
}

#[cfg(any(test, feature = "arbitrary"))]
impl crate::arbitrary::Arbitrary for ErrorCode {
    fn arbitrary(_: Cx) -> proptest::strategy::BoxedStrategy<Self> {
        use proptest::prelude::*;
        any::<i16>().prop_map(ErrorCode).boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_sorted_unique_and_named() {
        for w in ErrorCode::ALL.windows(2) {
            assert!(w[0].0 < w[1].0, "{:?} before {:?}", w[0], w[1]);
        }
        for c in ErrorCode::ALL {
            assert_ne!(c.name(), "UNKNOWN");
        }
        assert_eq!(ErrorCode(i16::MAX).name(), "UNKNOWN");
        assert!(!ErrorCode(i16::MAX).is_retriable());
        assert_eq!(
            ErrorCode::OFFSET_OUT_OF_RANGE.to_string().split(' ').next(),
            Some("OFFSET_OUT_OF_RANGE")
        );
    }
}
