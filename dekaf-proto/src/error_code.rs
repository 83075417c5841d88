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

// Numbers, names and the retriable flag follow Kafka's Java `Errors` enum (as of Kafka 4.1):
// a code is retriable when its exception class extends `RetriableException`. Descriptions are
// our own.
error_codes! {
    UNKNOWN_SERVER_ERROR = -1, false, "The broker failed in a way it could not classify; its log has the details.";
    NONE = 0, false, "Success: no error.";
    OFFSET_OUT_OF_RANGE = 1, false, "The requested offset is below the log start or above the end of the partition.";
    CORRUPT_MESSAGE = 2, true, "A record batch failed its CRC or size check, or is otherwise malformed.";
    UNKNOWN_TOPIC_OR_PARTITION = 3, true, "The broker does not host this topic partition (yet); refresh metadata.";
    INVALID_FETCH_SIZE = 4, false, "The fetch size in the request is not valid.";
    LEADER_NOT_AVAILABLE = 5, true, "The partition has no leader right now, typically during an election.";
    NOT_LEADER_OR_FOLLOWER = 6, true, "The broker is not the leader (or not a replica) of the partition; refresh metadata.";
    REQUEST_TIMED_OUT = 7, true, "The broker gave up waiting for the request to complete.";
    BROKER_NOT_AVAILABLE = 8, false, "The broker is not available.";
    REPLICA_NOT_AVAILABLE = 9, true, "A replica of the partition is not available on the broker.";
    MESSAGE_TOO_LARGE = 10, false, "A record batch is larger than the broker or topic accepts.";
    STALE_CONTROLLER_EPOCH = 11, false, "The request came from a controller that has since been replaced.";
    OFFSET_METADATA_TOO_LARGE = 12, false, "The metadata string of an offset commit is too long.";
    NETWORK_EXCEPTION = 13, true, "The connection closed before the response arrived.";
    COORDINATOR_LOAD_IN_PROGRESS = 14, true, "The coordinator is still loading its state and cannot answer yet.";
    COORDINATOR_NOT_AVAILABLE = 15, true, "The coordinator is not available; look it up again and retry.";
    NOT_COORDINATOR = 16, true, "The broker is not the coordinator for this group or transactional id; look it up again.";
    INVALID_TOPIC_EXCEPTION = 17, false, "The topic name is not valid, or the operation is not allowed on this topic.";
    RECORD_LIST_TOO_LARGE = 18, false, "A record batch is larger than the broker's log segment size.";
    NOT_ENOUGH_REPLICAS = 19, true, "Fewer in-sync replicas than required, so the write was refused.";
    NOT_ENOUGH_REPLICAS_AFTER_APPEND = 20, true, "The write was stored, but fewer in-sync replicas than required acknowledged it.";
    INVALID_REQUIRED_ACKS = 21, false, "The produce request's acks value is not one the broker accepts.";
    ILLEGAL_GENERATION = 22, false, "The group generation in the request is not the current one; rejoin the group.";
    INCONSISTENT_GROUP_PROTOCOL = 23, false, "The member's protocol type or protocols do not match those of the group.";
    INVALID_GROUP_ID = 24, false, "The group id is not valid (for example empty).";
    UNKNOWN_MEMBER_ID = 25, false, "The coordinator does not know this member id; rejoin with an empty one.";
    INVALID_SESSION_TIMEOUT = 26, false, "The session timeout is outside the range the broker allows.";
    REBALANCE_IN_PROGRESS = 27, false, "The group is rebalancing; the member must rejoin.";
    INVALID_COMMIT_OFFSET_SIZE = 28, false, "The offset commit request is too large or otherwise has an invalid size.";
    TOPIC_AUTHORIZATION_FAILED = 29, false, "The client is not authorized to access the topic.";
    GROUP_AUTHORIZATION_FAILED = 30, false, "The client is not authorized to access the group.";
    CLUSTER_AUTHORIZATION_FAILED = 31, false, "The client is not authorized for this cluster-level operation.";
    INVALID_TIMESTAMP = 32, false, "A record timestamp is outside the range the broker accepts.";
    UNSUPPORTED_SASL_MECHANISM = 33, false, "The broker does not offer the requested SASL mechanism.";
    ILLEGAL_SASL_STATE = 34, false, "The request is not allowed at this stage of the SASL exchange.";
    UNSUPPORTED_VERSION = 35, false, "The broker does not support this version of the API.";
    TOPIC_ALREADY_EXISTS = 36, false, "A topic with this name already exists.";
    INVALID_PARTITIONS = 37, false, "The requested number of partitions is not valid.";
    INVALID_REPLICATION_FACTOR = 38, false, "The replication factor is below 1 or above the number of brokers.";
    INVALID_REPLICA_ASSIGNMENT = 39, false, "The explicit replica assignment is not valid.";
    INVALID_CONFIG = 40, false, "A configuration entry is not valid.";
    NOT_CONTROLLER = 41, true, "The broker is not the active controller; find the controller and retry.";
    INVALID_REQUEST = 42, false, "The broker could not make sense of the request, usually a client bug or an incompatible broker.";
    UNSUPPORTED_FOR_MESSAGE_FORMAT = 43, false, "The request needs a newer message format than the topic uses.";
    POLICY_VIOLATION = 44, false, "The request breaks a policy configured on the broker.";
    OUT_OF_ORDER_SEQUENCE_NUMBER = 45, false, "The broker got an unexpected producer sequence number, so records may be missing.";
    DUPLICATE_SEQUENCE_NUMBER = 46, false, "The broker already has a batch with this producer sequence number.";
    INVALID_PRODUCER_EPOCH = 47, false, "The producer epoch is older than the one the broker knows.";
    INVALID_TXN_STATE = 48, false, "The transactional request is not allowed in the transaction's current state.";
    INVALID_PRODUCER_ID_MAPPING = 49, false, "The producer id is not the one currently assigned to the transactional id.";
    INVALID_TRANSACTION_TIMEOUT = 50, false, "The transaction timeout is above the broker's maximum.";
    CONCURRENT_TRANSACTIONS = 51, true, "Another operation on the same transaction is still in progress; retry shortly.";
    TRANSACTION_COORDINATOR_FENCED = 52, false, "The transaction coordinator that sent the request is no longer the current one.";
    TRANSACTIONAL_ID_AUTHORIZATION_FAILED = 53, false, "The client is not authorized to use the transactional id.";
    SECURITY_DISABLED = 54, false, "Security features are disabled on the broker.";
    OPERATION_NOT_ATTEMPTED = 55, false, "The broker skipped this operation because another one in the same request failed.";
    KAFKA_STORAGE_ERROR = 56, true, "The broker hit a disk error reading or writing the log.";
    LOG_DIR_NOT_FOUND = 57, false, "The log directory named in the request is not configured on the broker.";
    SASL_AUTHENTICATION_FAILED = 58, false, "SASL authentication failed, for example because of wrong credentials.";
    UNKNOWN_PRODUCER_ID = 59, false, "The broker has no state for the producer id, for example after its records expired.";
    REASSIGNMENT_IN_PROGRESS = 60, false, "A partition reassignment is already in progress.";
    DELEGATION_TOKEN_AUTH_DISABLED = 61, false, "Delegation tokens are not enabled on the broker.";
    DELEGATION_TOKEN_NOT_FOUND = 62, false, "The delegation token does not exist.";
    DELEGATION_TOKEN_OWNER_MISMATCH = 63, false, "The principal is neither the owner nor a renewer of the token.";
    DELEGATION_TOKEN_REQUEST_NOT_ALLOWED = 64, false, "Delegation token requests are refused on this kind of connection.";
    DELEGATION_TOKEN_AUTHORIZATION_FAILED = 65, false, "The client is not authorized for this delegation token operation.";
    DELEGATION_TOKEN_EXPIRED = 66, false, "The delegation token has expired.";
    INVALID_PRINCIPAL_TYPE = 67, false, "The principal type is not supported.";
    NON_EMPTY_GROUP = 68, false, "The group still has members, so it cannot be deleted.";
    GROUP_ID_NOT_FOUND = 69, false, "The group does not exist.";
    FETCH_SESSION_ID_NOT_FOUND = 70, true, "The broker no longer knows the fetch session; start a new one.";
    INVALID_FETCH_SESSION_EPOCH = 71, true, "The fetch session epoch is not the expected one; start a new session.";
    LISTENER_NOT_FOUND = 72, true, "The leader has no listener matching the one the metadata request came in on.";
    TOPIC_DELETION_DISABLED = 73, false, "Deleting topics is disabled on the cluster.";
    FENCED_LEADER_EPOCH = 74, true, "The leader epoch in the request is older than the broker's; refresh metadata.";
    UNKNOWN_LEADER_EPOCH = 75, true, "The leader epoch in the request is newer than the broker's; retry later.";
    UNSUPPORTED_COMPRESSION_TYPE = 76, false, "The client does not support the compression type used by the partition.";
    STALE_BROKER_EPOCH = 77, false, "The broker epoch in the request is out of date.";
    OFFSET_NOT_AVAILABLE = 78, true, "The new leader's high watermark has not caught up yet, so the offset cannot be given.";
    MEMBER_ID_REQUIRED = 79, false, "The member must rejoin with the member id the coordinator just assigned.";
    PREFERRED_LEADER_NOT_AVAILABLE = 80, true, "The preferred leader of the partition is not available.";
    GROUP_MAX_SIZE_REACHED = 81, false, "The group is at its maximum number of members.";
    FENCED_INSTANCE_ID = 82, false, "Another member with the same static instance id has replaced this one.";
    ELIGIBLE_LEADERS_NOT_AVAILABLE = 83, true, "No replica eligible to lead the partition is available.";
    ELECTION_NOT_NEEDED = 84, true, "The partition already has the leader the election would pick.";
    NO_REASSIGNMENT_IN_PROGRESS = 85, false, "There is no partition reassignment in progress to act on.";
    GROUP_SUBSCRIBED_TO_TOPIC = 86, false, "The group's offsets for a topic cannot be deleted while it is subscribed to it.";
    INVALID_RECORD = 87, false, "A record failed the broker's validation and was rejected.";
    UNSTABLE_OFFSET_COMMIT = 88, true, "A pending transactional offset commit must complete before offsets can be read.";
    THROTTLING_QUOTA_EXCEEDED = 89, true, "The request exceeded a rate quota; retry after the throttle time.";
    PRODUCER_FENCED = 90, false, "A newer producer with the same transactional id has taken over.";
    RESOURCE_NOT_FOUND = 91, false, "The request refers to a resource that does not exist.";
    DUPLICATE_RESOURCE = 92, false, "The request names the same resource twice.";
    UNACCEPTABLE_CREDENTIAL = 93, false, "The requested credential does not meet the broker's requirements.";
    INCONSISTENT_VOTER_SET = 94, false, "The sender or receiver of a voter request is not one of the expected voters.";
    INVALID_UPDATE_VERSION = 95, false, "The feature update version is not valid.";
    FEATURE_UPDATE_FAILED = 96, false, "The finalized features could not be updated because of an unexpected broker error.";
    PRINCIPAL_DESERIALIZATION_FAILURE = 97, false, "A forwarded request's principal could not be decoded.";
    SNAPSHOT_NOT_FOUND = 98, false, "The requested metadata snapshot does not exist.";
    POSITION_OUT_OF_RANGE = 99, false, "The requested position is outside the snapshot.";
    UNKNOWN_TOPIC_ID = 100, true, "The broker does not host a topic with this id; refresh metadata.";
    DUPLICATE_BROKER_REGISTRATION = 101, false, "Another broker has already registered this broker id.";
    BROKER_ID_NOT_REGISTERED = 102, false, "The broker id has not been registered.";
    INCONSISTENT_TOPIC_ID = 103, true, "The topic id in the request does not match the one in the log.";
    INCONSISTENT_CLUSTER_ID = 104, false, "The cluster id in the request does not match the broker's.";
    TRANSACTIONAL_ID_NOT_FOUND = 105, false, "The transactional id does not exist.";
    FETCH_SESSION_TOPIC_ID_ERROR = 106, true, "The fetch session used topic ids inconsistently.";
    INELIGIBLE_REPLICA = 107, false, "The proposed in-sync replica set contains a replica that may not join it.";
    NEW_LEADER_ELECTED = 108, false, "The partition state was updated, but a new leader has been elected meanwhile.";
    OFFSET_MOVED_TO_TIERED_STORAGE = 109, false, "The requested offset is only in tiered (remote) storage.";
    FENCED_MEMBER_EPOCH = 110, false, "The coordinator fenced the member's epoch; it must give up its partitions and rejoin.";
    UNRELEASED_INSTANCE_ID = 111, false, "The static instance id is still held by another member, which must leave first.";
    UNSUPPORTED_ASSIGNOR = 112, false, "The group does not support the requested assignor or its versions.";
    STALE_MEMBER_EPOCH = 113, false, "The member epoch is out of date; retry after a heartbeat gives the current one.";
    MISMATCHED_ENDPOINT_TYPE = 114, false, "The request was sent to the wrong kind of endpoint (broker or controller).";
    UNSUPPORTED_ENDPOINT_TYPE = 115, false, "The requested endpoint type is not supported.";
    UNKNOWN_CONTROLLER_ID = 116, false, "The controller id is not known.";
    UNKNOWN_SUBSCRIPTION_ID = 117, false, "The telemetry subscription id is unknown or out of date.";
    TELEMETRY_TOO_LARGE = 118, false, "The pushed telemetry is larger than the broker accepts.";
    INVALID_REGISTRATION = 119, false, "The controller considers the broker registration invalid.";
    TRANSACTION_ABORTABLE = 120, false, "The transaction hit an error; abort it to keep using the transactional id.";
    INVALID_RECORD_STATE = 121, false, "The record's state does not allow the acknowledgement.";
    SHARE_SESSION_NOT_FOUND = 122, true, "The broker does not know the share session.";
    INVALID_SHARE_SESSION_EPOCH = 123, true, "The share session epoch is not the expected one.";
    FENCED_STATE_EPOCH = 124, false, "The share-group state epoch does not match the share coordinator's.";
    INVALID_VOTER_KEY = 125, false, "The voter key does not match the receiving replica's.";
    DUPLICATE_VOTER = 126, false, "The voter is already in the voter set.";
    VOTER_NOT_FOUND = 127, false, "The voter is not in the voter set.";
    INVALID_REGULAR_EXPRESSION = 128, false, "The regular expression is not valid.";
    REBOOTSTRAP_REQUIRED = 129, false, "The client's metadata is too stale; it must start again from the bootstrap servers.";
    STREAMS_INVALID_TOPOLOGY = 130, false, "The Streams topology is not valid.";
    STREAMS_INVALID_TOPOLOGY_EPOCH = 131, false, "The Streams topology epoch is not valid.";
    STREAMS_TOPOLOGY_FENCED = 132, false, "The Streams topology epoch is out of date.";
    SHARE_SESSION_LIMIT_REACHED = 133, true, "The broker has reached its limit of share sessions.";
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

    #[test]
    fn well_known_codes() {
        let cases: &[(ErrorCode, i16, &str, bool)] = &[
            (
                ErrorCode::UNKNOWN_SERVER_ERROR,
                -1,
                "UNKNOWN_SERVER_ERROR",
                false,
            ),
            (ErrorCode::NONE, 0, "NONE", false),
            (
                ErrorCode::OFFSET_OUT_OF_RANGE,
                1,
                "OFFSET_OUT_OF_RANGE",
                false,
            ),
            (ErrorCode::CORRUPT_MESSAGE, 2, "CORRUPT_MESSAGE", true),
            (
                ErrorCode::UNKNOWN_TOPIC_OR_PARTITION,
                3,
                "UNKNOWN_TOPIC_OR_PARTITION",
                true,
            ),
            (
                ErrorCode::NOT_LEADER_OR_FOLLOWER,
                6,
                "NOT_LEADER_OR_FOLLOWER",
                true,
            ),
            (ErrorCode::REQUEST_TIMED_OUT, 7, "REQUEST_TIMED_OUT", true),
            (
                ErrorCode::COORDINATOR_LOAD_IN_PROGRESS,
                14,
                "COORDINATOR_LOAD_IN_PROGRESS",
                true,
            ),
            (
                ErrorCode::COORDINATOR_NOT_AVAILABLE,
                15,
                "COORDINATOR_NOT_AVAILABLE",
                true,
            ),
            (ErrorCode::NOT_COORDINATOR, 16, "NOT_COORDINATOR", true),
            (
                ErrorCode::ILLEGAL_GENERATION,
                22,
                "ILLEGAL_GENERATION",
                false,
            ),
            (ErrorCode::UNKNOWN_MEMBER_ID, 25, "UNKNOWN_MEMBER_ID", false),
            (
                ErrorCode::REBALANCE_IN_PROGRESS,
                27,
                "REBALANCE_IN_PROGRESS",
                false,
            ),
            (
                ErrorCode::UNSUPPORTED_VERSION,
                35,
                "UNSUPPORTED_VERSION",
                false,
            ),
            (ErrorCode::NOT_CONTROLLER, 41, "NOT_CONTROLLER", true),
            (
                ErrorCode::INVALID_PRODUCER_EPOCH,
                47,
                "INVALID_PRODUCER_EPOCH",
                false,
            ),
            (
                ErrorCode::CONCURRENT_TRANSACTIONS,
                51,
                "CONCURRENT_TRANSACTIONS",
                true,
            ),
            (
                ErrorCode::UNKNOWN_PRODUCER_ID,
                59,
                "UNKNOWN_PRODUCER_ID",
                false,
            ),
            (
                ErrorCode::FENCED_LEADER_EPOCH,
                74,
                "FENCED_LEADER_EPOCH",
                true,
            ),
            (
                ErrorCode::FENCED_INSTANCE_ID,
                82,
                "FENCED_INSTANCE_ID",
                false,
            ),
            (ErrorCode::PRODUCER_FENCED, 90, "PRODUCER_FENCED", false),
            (ErrorCode::UNKNOWN_TOPIC_ID, 100, "UNKNOWN_TOPIC_ID", true),
            (
                ErrorCode::FENCED_MEMBER_EPOCH,
                110,
                "FENCED_MEMBER_EPOCH",
                false,
            ),
            (
                ErrorCode::STALE_MEMBER_EPOCH,
                113,
                "STALE_MEMBER_EPOCH",
                false,
            ),
            (
                ErrorCode::TRANSACTION_ABORTABLE,
                120,
                "TRANSACTION_ABORTABLE",
                false,
            ),
            (
                ErrorCode::SHARE_SESSION_LIMIT_REACHED,
                133,
                "SHARE_SESSION_LIMIT_REACHED",
                true,
            ),
        ];
        for &(code, number, name, retriable) in cases {
            assert_eq!(code.0, number, "{name}");
            assert_eq!(code.name(), name, "{number}");
            assert_eq!(code.is_retriable(), retriable, "{name}");
            assert_eq!(ErrorCode::from(number), code);
            assert!(!code.description().is_empty());
        }
    }

    #[test]
    fn table_covers_every_code_without_gaps() {
        assert_eq!(
            ErrorCode::ALL.first(),
            Some(&ErrorCode::UNKNOWN_SERVER_ERROR)
        );
        for (i, c) in ErrorCode::ALL.iter().enumerate() {
            assert_eq!(i64::from(c.0), i as i64 - 1, "{c:?}");
        }
        assert_eq!(ErrorCode::ALL.len(), 135);
        assert_eq!(ErrorCode(134).name(), "UNKNOWN");
        assert_eq!(ErrorCode(-2).name(), "UNKNOWN");
    }
}
