//! Typed errors of the group machine, each saying whose fault it is.

use std::time::Duration;

use dekaf_proto::ErrorCode;

use crate::offset::Fault;

/// A configuration the group machine refuses. Always the application's fault.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// Every member belongs to a named group.
    #[error("the group id is empty")]
    EmptyGroupId,
    /// A static identity must not be empty.
    #[error("the group instance id is empty")]
    EmptyInstanceId,
    /// The heartbeat interval must be above zero and below the session timeout.
    #[error("the heartbeat interval must be above zero and below the session timeout")]
    HeartbeatInterval,
    /// Timeouts travel as 32-bit milliseconds and must be above zero.
    #[error("timeout {} is zero or does not fit in 32-bit milliseconds", crate::display::HumanDuration(*.0))]
    Timeout(Duration),
    /// The classic protocol needs at least one assignor.
    #[error("no assignor is configured")]
    NoAssignor,
    /// Two assignors have the same name.
    #[error("assignor {0} is configured twice")]
    DuplicateAssignor(String),
    /// No built-in assignor has this name.
    #[error("no built-in assignor is named {0}")]
    UnknownAssignor(String),
    /// The assignors share no rebalance protocol (e.g. one eager-only and one
    /// cooperative-only).
    #[error("the assignors share no rebalance protocol")]
    NoCommonProtocol,
    /// A topic pattern did not compile.
    #[error("invalid topic pattern: {0}")]
    Pattern(String),
}

impl ConfigError {
    /// Always [`Fault::Application`].
    pub fn fault(&self) -> Fault {
        Fault::Application
    }
}

/// Why the member stopped for good. Its partitions were reported lost first.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum GroupError {
    /// Another member joined with the same group instance id (FENCED_INSTANCE_ID): two
    /// processes share one static identity.
    #[error("another member joined with the same group instance id")]
    FencedInstanceId,
    /// The coordinator refused access (GROUP_AUTHORIZATION_FAILED or another authorization
    /// code).
    #[error("not authorized: {0}")]
    Unauthorized(ErrorCode),
    /// The group's members share no protocol with this one, or the coordinator answered with
    /// another protocol type (INCONSISTENT_GROUP_PROTOCOL).
    #[error("the group runs a protocol this member does not: {0}")]
    InconsistentProtocol(String),
    /// The broker refused the configuration (INVALID_SESSION_TIMEOUT, UNSUPPORTED_ASSIGNOR,
    /// UNRELEASED_INSTANCE_ID, GROUP_MAX_SIZE_REACHED, INVALID_GROUP_ID, ...).
    #[error("the coordinator refused the member: {0}")]
    Refused(ErrorCode),
    /// The leader sent an assignment that cannot be read.
    #[error("the assignment from the group leader cannot be read: {0}")]
    MalformedAssignment(String),
    /// The coordinator speaks no version of a request this member needs (for example static
    /// membership needs JoinGroup v5).
    #[error("the coordinator cannot serve the member: {0}")]
    Unsupported(String),
    /// Another non-retriable error code.
    #[error("group error {0}")]
    Broker(ErrorCode),
    /// A request could not be written (a bug in the machine, or a name too long for the wire).
    #[error("a group request could not be written: {0}")]
    Encode(String),
    /// This member leads the group and its assignor gave a result that breaks the group's
    /// rules (see [`check_assignment`](crate::assignor::check_assignment)); nothing was sent.
    #[error("assignor {assignor} gave an invalid assignment: {error}")]
    InvalidAssignment {
        /// The assignor's protocol name.
        assignor: String,
        /// What is wrong with its result.
        error: crate::assignor::AssignmentError,
    },
}

impl GroupError {
    /// Whose fault it is.
    pub fn fault(&self) -> Fault {
        match self {
            GroupError::FencedInstanceId
            | GroupError::InconsistentProtocol(_)
            | GroupError::Refused(_)
            | GroupError::Encode(_)
            | GroupError::InvalidAssignment { .. } => Fault::Application,
            GroupError::Unauthorized(_)
            | GroupError::MalformedAssignment(_)
            | GroupError::Unsupported(_)
            | GroupError::Broker(_) => Fault::Broker,
        }
    }

    /// The error code behind the error, where there is one.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            GroupError::FencedInstanceId => Some(ErrorCode::FENCED_INSTANCE_ID),
            GroupError::Unauthorized(c) | GroupError::Refused(c) | GroupError::Broker(c) => {
                Some(*c)
            }
            GroupError::InconsistentProtocol(_) => Some(ErrorCode::INCONSISTENT_GROUP_PROTOCOL),
            GroupError::MalformedAssignment(_)
            | GroupError::Unsupported(_)
            | GroupError::Encode(_)
            | GroupError::InvalidAssignment { .. } => None,
        }
    }

    /// The fatal error for a non-retriable error code.
    pub(crate) fn from_code(code: ErrorCode) -> Self {
        match code {
            ErrorCode::FENCED_INSTANCE_ID => GroupError::FencedInstanceId,
            ErrorCode::GROUP_AUTHORIZATION_FAILED
            | ErrorCode::TOPIC_AUTHORIZATION_FAILED
            | ErrorCode::CLUSTER_AUTHORIZATION_FAILED => GroupError::Unauthorized(code),
            ErrorCode::INCONSISTENT_GROUP_PROTOCOL => {
                GroupError::InconsistentProtocol(code.name().to_string())
            }
            ErrorCode::INVALID_SESSION_TIMEOUT
            | ErrorCode::UNSUPPORTED_ASSIGNOR
            | ErrorCode::UNRELEASED_INSTANCE_ID
            | ErrorCode::GROUP_MAX_SIZE_REACHED
            | ErrorCode::INVALID_GROUP_ID
            | ErrorCode::INVALID_REQUEST => GroupError::Refused(code),
            _ => GroupError::Broker(code),
        }
    }
}
