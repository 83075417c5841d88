//! Consumer group membership: joining a group, getting partitions assigned, heartbeats,
//! rebalances and leaving. See [`GroupMembership`].
//!
//! # The manage loop
//!
//! `docs/DESIGN.md` at the repository root draws the states and transitions. In short, for the
//! classic protocol: a member joins (JoinGroup, once more with the member id the coordinator
//! asks for), the leader computes the assignment and every member syncs (SyncGroup), then the
//! member heartbeats until the group rebalances, its generation ends, or it leaves.
//!
//! # Rebalance events and the offset machine
//!
//! The group machine decides who owns which partition; the
//! [`OffsetManager`](crate::offset::OffsetManager) keeps the offsets of what is owned. A
//! consumer composes them like this, handling each [`GroupEvent`] in order, after every call
//! into the group machine and before it asks the offset machine for its next request (an
//! answer that fences the member takes its partitions at once; until `Unstable` is applied,
//! the offset machine would still commit them):
//!
//! | event | the consumer does |
//! |---|---|
//! | `Unstable` | `offsets.handle_group_unstable(now)`: commits wait |
//! | `Stable { .. }` | `offsets.handle_group_stable(now)`: commits go (Auto mode commits what is stored) |
//! | `Assigned(ps)` | `offsets.assign(now, group.assignment())`, then tells the application `ps` |
//! | `Revoked(ps)` | stops fetching `ps`; tells the application (which may commit); `offsets.assign(now, group.assignment() minus ps)` (Auto mode commits the stored offsets of `ps` here); once `!offsets.has_pending_commits()`, `group.revoke_done(now)` |
//! | `Lost(ps)` | `offsets.assign(now, group.assignment())` (nothing is committed: `Unstable` came first), then tells the application `ps` |
//! | `Left(_)`, `Failed(_)` | tells the application |
//!
//! Commits carry the generation (member epoch) the group machine has when they are sent. The
//! consumer protocol moves a member's epoch on without a rebalance, so a commit can race the
//! new epoch and be refused with STALE_MEMBER_EPOCH: the offset machine sends it again (after
//! a backoff, within its deadline), and it goes out with the epoch the member has by then.
//!
//! The machine guarantees the order this relies on: `Stable` comes before the `Assigned` and
//! `Revoked` of a rebalance, so a revoked partition can still be committed in its own
//! generation; `Unstable` comes before every `Lost`, so a lost partition is never committed.
//! A revoked partition stays in [`assignment`](GroupMembership::assignment) until
//! `revoke_done`, and the member does not rejoin before it: once the confirmation is given,
//! the old owner commits nothing more for it, and only then can anyone else get it.
//!
//! Offsets are committed with [`generation`](GroupMembership::generation) and
//! [`member_id`](GroupMembership::member_id) (the member epoch under the consumer protocol);
//! [`group_metadata`](GroupMembership::group_metadata) gives the same for transactional
//! commits.
//!
//! # Errors
//!
//! | answer | the member |
//! |---|---|
//! | MEMBER_ID_REQUIRED | joins again at once with the member id given |
//! | REBALANCE_IN_PROGRESS | rejoins (eager: revokes everything first) |
//! | ILLEGAL_GENERATION | loses its partitions, keeps its member id, rejoins |
//! | UNKNOWN_MEMBER_ID | loses its partitions, forgets its member id, rejoins |
//! | NOT_COORDINATOR, COORDINATOR_NOT_AVAILABLE, a broken connection | asks for the coordinator again ([`needs_coordinator`](GroupMembership::needs_coordinator)), then retries |
//! | other retriable codes | retries after a backoff |
//! | FENCED_INSTANCE_ID, authorization and other non-retriable codes | loses its partitions and stops: [`GroupEvent::Failed`] with a [`GroupError`] |
//! | consumer protocol: STALE_MEMBER_EPOCH | heartbeats again at once with its epoch |
//! | consumer protocol: FENCED_MEMBER_EPOCH, UNKNOWN_MEMBER_ID | loses its partitions and rejoins with epoch 0 and the same member id |
//!
//! # The consumer protocol (KIP-848)
//!
//! With [`GroupProtocol::Consumer`] the member speaks ConsumerGroupHeartbeat: it joins with
//! epoch 0, heartbeats at the interval the coordinator sends, receives its target assignment
//! by topic id, revokes what is no longer assigned (waiting for `revoke_done`), then takes what
//! is new, and acknowledges with the partitions it owns in the next heartbeat. It leaves with
//! epoch -1 (-2 for a static member). No broker available to this project speaks this
//! protocol (tansu does not), so it is verified in simulation only.

mod classic;
mod config;
mod consumer;
mod error;
mod membership;
mod outputs;
mod types;

pub use config::{builtin_assignor, GroupConfig, GroupProtocol, Subscription, TopicPattern};
pub use error::{ConfigError, GroupError};
pub use membership::{GroupMembership, MemberClosed};
pub use types::{GroupEvent, GroupMetadata, LeaveReason, MemberState, MetadataTopics, TopicInfo};

#[cfg(test)]
mod tests;
