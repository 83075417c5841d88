//! Version-neutral requests, their destinations and their outcomes.

use std::fmt;
use std::sync::Arc;

use dekaf_proto::messages::{supported_versions, RequestBody, ResponseBody};
use dekaf_proto::version::{BrokerVersions, UnsupportedVersion};
use dekaf_proto::{ApiKey, DecodeError, EncodeError, ErrorCode};
use thiserror::Error;

/// A broker's node id, as Metadata and FindCoordinator answers name it.
pub type BrokerId = i32;

/// Identifies one request of a machine until its answer (or failure) comes back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestId(pub u64);

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "request #{}", self.0)
    }
}

/// Where a request must go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Destination {
    /// Any broker the driver can reach: a connected one, else the bootstrap list in order.
    AnyBroker,
    /// One broker, by node id (its address comes from the machine's metadata).
    Broker(BrokerId),
    /// A group or transaction coordinator, by node id, on a connection of its own.
    ///
    /// A broker answers the requests of one connection in order, so a coordinator request
    /// queued behind a Fetch that waits up to its max wait would wait as long. Group
    /// membership, commits, committed-offset lookups and transaction requests go here so
    /// that they never do; a driver keeps this connection apart from the broker's
    /// [`Broker`](Self::Broker) connection (Java's and librdkafka's clients do the same).
    Coordinator(BrokerId),
}

impl Destination {
    /// The broker's node id, `None` for [`AnyBroker`](Self::AnyBroker).
    pub fn broker(self) -> Option<BrokerId> {
        match self {
            Destination::AnyBroker => None,
            Destination::Broker(id) | Destination::Coordinator(id) => Some(id),
        }
    }
}

/// A request the machine wants sent.
#[derive(Debug, Clone)]
pub struct Outgoing {
    /// Passed back with the answer.
    pub id: RequestId,
    /// Where to send it.
    pub destination: Destination,
    /// What to send, in whichever version the broker speaks.
    pub request: ClientRequest,
}

type Build = dyn Fn(i16) -> RequestBody + Send + Sync;

/// A request not yet bound to a protocol version: the API, the versions the machine can use,
/// and how to write the body in each of them.
#[derive(Clone)]
pub struct ClientRequest {
    api_key: ApiKey,
    min_version: i16,
    max_version: i16,
    expects_response: bool,
    build: Arc<Build>,
}

impl fmt::Debug for ClientRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}(v{}..=v{})",
            self.api_key, self.min_version, self.max_version
        )
    }
}

impl ClientRequest {
    /// A request of `api_key` writable in `min_version..=max_version` (clamped to what
    /// dekaf-proto implements) by `build`.
    pub fn new(
        api_key: ApiKey,
        min_version: i16,
        max_version: i16,
        build: impl Fn(i16) -> RequestBody + Send + Sync + 'static,
    ) -> Self {
        let (lo, hi) = supported_versions(api_key).unwrap_or((min_version, max_version));
        ClientRequest {
            api_key,
            min_version: min_version.max(lo),
            max_version: max_version.min(hi),
            expects_response: true,
            build: Arc::new(build),
        }
    }

    /// Marks a request the broker does not answer (a Produce with acks = 0).
    pub fn without_response(mut self) -> Self {
        self.expects_response = false;
        self
    }

    /// The API.
    pub fn api_key(&self) -> ApiKey {
        self.api_key
    }

    /// The versions the machine can write it in.
    pub fn versions(&self) -> (i16, i16) {
        (self.min_version, self.max_version)
    }

    /// Whether the broker sends an answer.
    pub fn expects_response(&self) -> bool {
        self.expects_response
    }

    /// The highest version both the machine and the broker support.
    pub fn negotiate(&self, broker: &BrokerVersions) -> Result<i16, UnsupportedVersion> {
        broker.pick_within(self.api_key, Some((self.min_version, self.max_version)))
    }

    /// The body written for `version` (one in [`versions`](Self::versions)).
    pub fn body(&self, version: i16) -> RequestBody {
        (self.build)(version)
    }
}

/// An answer, with the version the request was sent in.
#[derive(Debug, Clone, PartialEq)]
pub struct Response {
    /// The version the driver chose for the request (the response uses the same).
    pub version: i16,
    /// The decoded body.
    pub body: ResponseBody,
}

/// Why a request got no answer. The machine treats each as "the request may or may not have
/// reached the broker".
#[derive(Debug, Clone, PartialEq, Error)]
#[non_exhaustive]
pub enum RequestFailed {
    /// The connection closed (or could not be opened) before the answer arrived.
    #[error("disconnected before the answer arrived")]
    Disconnected,
    /// No answer within the request timeout.
    #[error("no answer within the request timeout")]
    TimedOut,
    /// The broker's answer could not be decoded (the broker's fault; the connection is closed).
    #[error("malformed answer: {0}")]
    Malformed(#[from] DecodeError),
    /// The request could not be written (a bug in the machine, or a misused API).
    #[error("request could not be encoded: {0}")]
    Encode(#[from] EncodeError),
    /// The broker supports no version of the API that the machine can write.
    #[error(transparent)]
    Unsupported(#[from] UnsupportedVersion),
    /// The broker answered with an error that concerns the whole request (e.g. an
    /// authentication failure surfaced by the driver).
    #[error("broker error {0}")]
    Broker(ErrorCode),
}

impl RequestFailed {
    /// Whether sending the request again later may succeed.
    pub fn is_retriable(&self) -> bool {
        match self {
            RequestFailed::Disconnected | RequestFailed::TimedOut | RequestFailed::Malformed(_) => {
                true
            }
            RequestFailed::Broker(code) => code.is_retriable(),
            RequestFailed::Encode(_) | RequestFailed::Unsupported(_) => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dekaf_proto::messages::api_versions::ApiVersion;
    use dekaf_proto::messages::{ApiVersionsResponse, MetadataRequest};

    #[test]
    fn negotiates_within_both_ranges_and_builds_per_version() {
        let req = ClientRequest::new(ApiKey::Metadata, 4, 99, |v| {
            RequestBody::Metadata(MetadataRequest {
                allow_auto_topic_creation: v >= 4,
                ..MetadataRequest::default()
            })
        });
        assert_eq!(req.versions(), (4, 12));
        let broker = BrokerVersions::from_response(&ApiVersionsResponse {
            api_keys: vec![ApiVersion {
                api_key: ApiKey::Metadata.key(),
                min_version: 0,
                max_version: 9,
                ..Default::default()
            }],
            ..Default::default()
        });
        assert_eq!(req.negotiate(&broker), Ok(9));
        assert_eq!(req.body(9).api_key(), ApiKey::Metadata);
        assert!(
            ClientRequest::new(ApiKey::Metadata, 10, 12, |_| RequestBody::Metadata(
                Default::default()
            ))
            .negotiate(&broker)
            .is_err()
        );
    }
}
