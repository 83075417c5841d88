//! Why one item of an admin call (a topic, a partition, a group, a resource) failed.

use dekaf_proto::version::UnsupportedVersion;
use dekaf_proto::ErrorCode;

use crate::client::RequestFailed;
use crate::offset::Fault;

/// Why one item of an admin call failed; the other items of the same call have results of
/// their own.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum AdminError {
    /// The broker refused this item with an error code (an unknown topic, a group that does
    /// not exist, a partition count that cannot shrink...).
    #[error("{}", refusal(*.code, .message.as_deref()))]
    Broker {
        /// The broker's code.
        code: ErrorCode,
        /// The broker's explanation (or the client's, for a refusal it made on the broker's
        /// behalf, such as a partition the metadata does not list), if there is one.
        message: Option<String>,
    },
    /// A group's committed offsets were not altered because the group has active members:
    /// a consumer of the group would overwrite them. Stop its consumers and try again.
    #[error("{}", not_empty(.group, .members, *.code))]
    GroupNotEmpty {
        /// The group.
        group: String,
        /// The member ids of the active members, when the group's description named them.
        members: Vec<String>,
        /// The code the coordinator refused the change with, when it was the coordinator that
        /// refused (UNKNOWN_MEMBER_ID, ILLEGAL_GENERATION, REBALANCE_IN_PROGRESS) rather than
        /// the description read before.
        code: Option<ErrorCode>,
    },
    /// The broker supports no version of the API this item needs (tansu: CreatePartitions,
    /// OffsetDelete).
    #[error("{}", unsupported(.0))]
    Unsupported(UnsupportedVersion),
    /// The request that carried this item got no answer (disconnected, timed out, a malformed
    /// answer).
    #[error("{0}")]
    Request(RequestFailed),
    /// The broker answered the request but said nothing about this item.
    #[error("the broker's answer did not mention it")]
    Missing,
    /// The item was refused before anything was sent (a negative partition, a broker id that
    /// is not a number...).
    #[error("{0}")]
    Invalid(String),
}

fn refusal(code: ErrorCode, message: Option<&str>) -> String {
    match message.filter(|m| !m.is_empty()) {
        Some(m) => format!("{} ({}): {m}", code.name(), code.0),
        None => code.to_string(),
    }
}

fn not_empty(group: &str, members: &[String], code: Option<ErrorCode>) -> String {
    let who = if members.is_empty() {
        "active members".to_owned()
    } else {
        format!("active members ({})", members.join(", "))
    };
    match code {
        Some(code) => format!(
            "group {group} has {who}: the coordinator refused the change with {}",
            code.name()
        ),
        None => format!("group {group} has {who}: stop its consumers before altering its offsets"),
    }
}

fn unsupported(e: &UnsupportedVersion) -> String {
    let range = |r: Option<(i16, i16)>| match r {
        Some((lo, hi)) if lo == hi => format!("v{lo}"),
        Some((lo, hi)) => format!("v{lo} to v{hi}"),
        None => "no version".to_owned(),
    };
    match e.broker {
        None => format!("the broker does not support {}", e.api),
        Some(_) => format!(
            "no common version of {}: the broker speaks {}, dekaf {}",
            e.api,
            range(e.broker),
            range(e.ours)
        ),
    }
}

impl From<RequestFailed> for AdminError {
    fn from(failed: RequestFailed) -> Self {
        match failed {
            RequestFailed::Unsupported(e) => AdminError::Unsupported(e),
            RequestFailed::Broker(code) => AdminError::Broker {
                code,
                message: None,
            },
            failed => AdminError::Request(failed),
        }
    }
}

impl From<ErrorCode> for AdminError {
    fn from(code: ErrorCode) -> Self {
        AdminError::Broker {
            code,
            message: None,
        }
    }
}

impl AdminError {
    /// A refusal with `code` and an explanation.
    pub fn broker(code: ErrorCode, message: impl Into<String>) -> Self {
        AdminError::Broker {
            code,
            message: Some(message.into()),
        }
    }

    /// A refusal with `code` and the broker's optional explanation.
    pub(crate) fn code_with(code: ErrorCode, message: &Option<String>) -> Result<(), Self> {
        if code.is_ok() {
            return Ok(());
        }
        Err(AdminError::Broker {
            code,
            message: message.clone().filter(|m| !m.is_empty()),
        })
    }

    /// The Kafka error code, when a broker sent one.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            AdminError::Broker { code, .. } => Some(*code),
            AdminError::GroupNotEmpty { code, .. } => *code,
            _ => None,
        }
    }

    /// Whether the broker lacks the API (see [`AdminError::Unsupported`]).
    pub fn is_unsupported(&self) -> bool {
        matches!(self, AdminError::Unsupported(_))
    }

    /// Whether trying the same item again later may succeed.
    pub fn is_retriable(&self) -> bool {
        match self {
            AdminError::Broker { code, .. } => code.is_retriable(),
            AdminError::Request(failed) => failed.is_retriable(),
            // Once its consumers stop, the group accepts the change.
            AdminError::GroupNotEmpty { .. } => true,
            AdminError::Unsupported(_) | AdminError::Missing | AdminError::Invalid(_) => false,
        }
    }

    /// Whose fault it is.
    pub fn fault(&self) -> Fault {
        match self {
            AdminError::Invalid(_) | AdminError::GroupNotEmpty { .. } => Fault::Application,
            AdminError::Request(RequestFailed::Encode(_)) => Fault::Application,
            AdminError::Unsupported(_) | AdminError::Missing => Fault::Broker,
            _ if self.is_retriable() => Fault::Transient,
            _ => Fault::Broker,
        }
    }

    /// Whether the error says the group coordinator moved or is not ready, or the connection
    /// to it was lost: find the coordinator again and retry.
    pub fn is_coordinator_error(&self) -> bool {
        match self {
            AdminError::Broker { code, .. } => crate::offset::is_coordinator_code(*code),
            AdminError::Request(RequestFailed::Disconnected) => true,
            _ => false,
        }
    }
}
