//! The member side of the consumer group protocol (KIP-848), one transition at a time.

use std::time::Duration;

use dekaf_proto::messages::consumer_group_heartbeat::{
    Assignment, ConsumerGroupHeartbeatRequest, ConsumerGroupHeartbeatResponse, TopicPartitions,
};
use dekaf_proto::messages::RequestBody;
use dekaf_proto::wire::Uuid;
use dekaf_proto::ErrorCode;

use super::*;
use crate::group::{GroupError, GroupProtocol, LeaveReason, MemberState, TopicInfo};

const A: Uuid = Uuid([1; 16]);
const B: Uuid = Uuid([2; 16]);

fn kconfig() -> GroupConfig {
    config().with_protocol(GroupProtocol::Consumer)
}

fn member(h: &mut H) -> (RequestId, i16, ConsumerGroupHeartbeatRequest) {
    let (id, v, body) = h.expect();
    let RequestBody::ConsumerGroupHeartbeat(r) = body else {
        panic!("{body:?}")
    };
    (id, v, r)
}

fn ok(epoch: i32, assignment: Option<&[(Uuid, &[i32])]>) -> ConsumerGroupHeartbeatResponse {
    ConsumerGroupHeartbeatResponse {
        member_epoch: epoch,
        heartbeat_interval_ms: 2000,
        assignment: assignment.map(|a| Assignment {
            topic_partitions: a
                .iter()
                .map(|(id, ps)| TopicPartitions {
                    topic_id: *id,
                    partitions: ps.to_vec(),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn err(code: ErrorCode) -> ConsumerGroupHeartbeatResponse {
    ConsumerGroupHeartbeatResponse {
        error_code: code,
        ..Default::default()
    }
}

fn metadata() -> Vec<TopicInfo> {
    vec![
        TopicInfo::new("a", 3).with_id(A),
        TopicInfo::new("b", 2).with_id(B),
    ]
}

/// Joined with epoch 1 and `a-0`, `a-1` reconciled and acknowledged.
fn joined(cfg: GroupConfig) -> H {
    let mut h = H::subscribed(cfg, &["a"]);
    h.m.handle_metadata(h.now, metadata());
    let (id, v, _) = member(&mut h);
    h.respond(id, v, ok(1, Some(&[(A, &[0, 1])])));
    let (id, v, ack) = member(&mut h);
    assert!(ack.topic_partitions.is_some());
    h.respond(id, v, ok(1, None));
    h.take_events();
    h
}

#[test]
fn joins_with_epoch_zero_and_reconciles_the_target() {
    let mut h = H::subscribed(kconfig().with_server_assignor("uniform"), &["a"]);
    h.m.handle_metadata(h.now, metadata());
    let member_id = h.m.member_id().to_string();
    assert_eq!(member_id.len(), 22, "the member makes its own id");
    let (id, v, r) = member(&mut h);
    assert_eq!(r.member_epoch, 0);
    assert_eq!(r.member_id, member_id);
    assert_eq!(r.rebalance_timeout_ms, 60_000);
    assert_eq!(r.subscribed_topic_names, Some(vec!["a".to_string()]));
    assert_eq!(r.server_assignor.as_deref(), Some("uniform"));
    assert_eq!(r.topic_partitions, Some(vec![]));
    assert!(h.request().is_none(), "one heartbeat at a time");

    h.respond(id, v, ok(5, Some(&[(A, &[0, 1])])));
    assert_eq!(
        h.take_events(),
        vec![
            GroupEvent::Stable {
                generation: 5,
                member_id: member_id.clone(),
                leader: false
            },
            GroupEvent::Assigned(tps(&[("a", 0), ("a", 1)])),
        ]
    );
    assert_eq!(h.m.generation(), 5, "OffsetCommit carries the member epoch");
    // The acknowledgement goes at once, with only what changed.
    let (id, v, r) = member(&mut h);
    assert_eq!(r.member_epoch, 5);
    assert_eq!(r.subscribed_topic_names, None);
    assert_eq!(r.rebalance_timeout_ms, -1);
    assert_eq!(
        r.topic_partitions,
        Some(vec![TopicPartitions {
            topic_id: A,
            partitions: vec![0, 1],
            ..Default::default()
        }])
    );
    h.respond(id, v, ok(5, None));
    // Then heartbeats at the interval the coordinator sent, with nothing changed.
    assert!(h.request().is_none());
    assert_eq!(h.m.poll_timeout(), Some(h.now + Duration::from_secs(2)));
    h.advance(Duration::from_secs(2));
    let (_, _, r) = member(&mut h);
    assert_eq!((r.topic_partitions, r.subscribed_topic_names), (None, None));
}

#[test]
fn revokes_first_then_assigns_then_acknowledges() {
    let mut h = joined(kconfig());
    h.advance(Duration::from_secs(2));
    let (id, v, _) = member(&mut h);
    h.respond(id, v, ok(2, Some(&[(A, &[1]), (B, &[0])])));
    let member_id = h.m.member_id().to_string();
    assert_eq!(
        h.take_events(),
        vec![
            GroupEvent::Stable {
                generation: 2,
                member_id,
                leader: false
            },
            GroupEvent::Revoked(tps(&[("a", 0)]))
        ],
        "a new epoch is announced, so that commits carry it"
    );
    assert!(
        h.m.is_stable(),
        "the revoked partition can still be committed"
    );
    assert!(
        h.request().is_none(),
        "nothing to say before the revocation is done"
    );
    h.m.revoke_done(h.now);
    assert_eq!(
        h.take_events(),
        vec![GroupEvent::Assigned(tps(&[("b", 0)]))]
    );
    let (_, _, r) = member(&mut h);
    let owned = r.topic_partitions.unwrap();
    assert_eq!(owned.len(), 2);
    assert_eq!(
        h.m.assignment().cloned().collect::<Vec<_>>(),
        tps(&[("a", 1), ("b", 0)])
    );
}

#[test]
fn unknown_topic_ids_wait_for_metadata() {
    let mut h = joined(kconfig());
    h.advance(Duration::from_secs(2));
    let (id, v, _) = member(&mut h);
    let c = Uuid([3; 16]);
    h.respond(id, v, ok(2, Some(&[(A, &[0, 1]), (c, &[0])])));
    assert!(matches!(
        h.take_events()[..],
        [GroupEvent::Stable { generation: 2, .. }]
    ));
    assert!(h.m.needs_metadata());
    let mut md = metadata();
    md.push(TopicInfo::new("c", 1).with_id(c));
    h.m.handle_metadata(h.now, md);
    assert_eq!(
        h.take_events(),
        vec![GroupEvent::Assigned(tps(&[("c", 0)]))]
    );
    assert!(!h.m.needs_metadata());
}

#[test]
fn stale_member_epoch_retries_at_once_with_everything() {
    let mut h = joined(kconfig());
    h.advance(Duration::from_secs(2));
    let (id, v, _) = member(&mut h);
    h.respond(id, v, err(ErrorCode::STALE_MEMBER_EPOCH));
    assert!(h.take_events().is_empty());
    let (_, _, r) = member(&mut h);
    assert_eq!(r.member_epoch, 1);
    assert!(r.subscribed_topic_names.is_some() && r.topic_partitions.is_some());
}

#[test]
fn fenced_or_unknown_members_lose_everything_and_rejoin_with_epoch_zero() {
    for code in [ErrorCode::FENCED_MEMBER_EPOCH, ErrorCode::UNKNOWN_MEMBER_ID] {
        let mut h = joined(kconfig());
        let member_id = h.m.member_id().to_string();
        h.advance(Duration::from_secs(2));
        let (id, v, _) = member(&mut h);
        h.respond(id, v, err(code));
        assert_eq!(
            h.take_events(),
            vec![
                GroupEvent::Unstable,
                GroupEvent::Lost(tps(&[("a", 0), ("a", 1)]))
            ],
            "{code}"
        );
        let (_, _, r) = member(&mut h);
        assert_eq!(r.member_epoch, 0);
        assert_eq!(r.member_id, member_id, "the same member id");
        assert_eq!(r.topic_partitions, Some(vec![]));
    }
}

#[test]
fn coordinator_errors_and_retriable_codes() {
    let mut h = joined(kconfig());
    h.advance(Duration::from_secs(2));
    let (id, v, _) = member(&mut h);
    h.respond(id, v, err(ErrorCode::NOT_COORDINATOR));
    assert!(h.m.needs_coordinator());
    h.m.handle_coordinator(h.now, Some(7));
    let (id, _, _) = member(&mut h);
    h.fail(id, RequestFailed::Disconnected);
    assert!(h.m.needs_coordinator());
    h.m.handle_coordinator(h.now, Some(7));
    assert!(h.request().is_none(), "after a backoff");
    h.advance(Duration::from_millis(200));
    let (id, v, _) = member(&mut h);
    h.respond(id, v, err(ErrorCode::COORDINATOR_LOAD_IN_PROGRESS));
    assert!(h.request().is_none());
    h.advance(Duration::from_millis(400));
    let (id, v, _) = member(&mut h);
    h.respond(id, v, err(ErrorCode::GROUP_AUTHORIZATION_FAILED));
    assert_eq!(
        h.take_events(),
        vec![
            GroupEvent::Unstable,
            GroupEvent::Lost(tps(&[("a", 0), ("a", 1)])),
            GroupEvent::Failed(GroupError::Unauthorized(
                ErrorCode::GROUP_AUTHORIZATION_FAILED
            ))
        ]
    );
}

#[test]
fn leaving_sends_epoch_minus_one_or_minus_two_for_static_members() {
    for (cfg, epoch) in [
        (kconfig(), -1),
        (kconfig().with_group_instance_id("host-1"), -2),
    ] {
        let mut h = joined(cfg);
        h.m.close(h.now);
        assert_eq!(
            h.take_events(),
            vec![GroupEvent::Revoked(tps(&[("a", 0), ("a", 1)]))]
        );
        h.m.revoke_done(h.now);
        let (id, v, r) = member(&mut h);
        assert_eq!(r.member_epoch, epoch);
        h.respond(id, v, ok(epoch, None));
        assert_eq!(
            h.take_events(),
            vec![GroupEvent::Unstable, GroupEvent::Left(LeaveReason::Closed)]
        );
        assert_eq!(h.m.state(), MemberState::Closed);
    }
}

#[test]
fn subscription_changes_travel_with_the_next_heartbeat() {
    let mut h = joined(kconfig());
    h.m.subscribe(h.now, Subscription::topics(["a", "b"]))
        .unwrap();
    let (_, _, r) = member(&mut h);
    assert_eq!(
        r.subscribed_topic_names,
        Some(vec!["a".to_string(), "b".to_string()])
    );
    assert_eq!(r.topic_partitions, None);
}

#[test]
fn max_poll_leaves_with_a_leave_heartbeat_and_rejoins_on_poll() {
    let mut h = joined(kconfig());
    h.run_until(None, |h| h.m.state() != MemberState::Stable);
    let (id, v, r) = member(&mut h);
    assert_eq!(r.member_epoch, -1);
    h.respond(id, v, ok(-1, None));
    assert_eq!(
        h.take_events(),
        vec![
            GroupEvent::Unstable,
            GroupEvent::Lost(tps(&[("a", 0), ("a", 1)])),
            GroupEvent::Left(LeaveReason::MaxPollExceeded)
        ]
    );
    h.m.handle_poll(h.now);
    let (_, _, r) = member(&mut h);
    assert_eq!(r.member_epoch, 0);
}

#[test]
fn a_revocation_not_confirmed_in_time_fences_the_member_itself() {
    let mut h = joined(kconfig());
    h.advance(Duration::from_secs(2));
    let (id, v, _) = member(&mut h);
    h.respond(id, v, ok(2, Some(&[(A, &[1])])));
    h.take_events();
    let start = h.now;
    h.run_until(Some(Duration::from_secs(5)), |h| !h.events.is_empty());
    assert_eq!(h.now, start + Duration::from_secs(60));
    assert_eq!(
        h.take_events(),
        vec![
            GroupEvent::Unstable,
            GroupEvent::Lost(tps(&[("a", 0), ("a", 1)]))
        ]
    );
    let (_, _, r) = member(&mut h);
    assert_eq!(r.member_epoch, 0);
}

#[test]
fn a_member_unheard_for_a_whole_session_loses_its_partitions_and_rejoins() {
    let mut h = joined(kconfig());
    // The acknowledgement `joined` sent now was the last heartbeat answered.
    let acked = h.now;
    let member_id = h.m.member_id().to_string();
    // Heartbeats go out but no answer ever comes back (delayed past the session): the
    // coordinator removes the member at its session timeout and hands `a-0`, `a-1` on, so the
    // member must stop fetching them by then.
    let mut sent = 0;
    while h.m.state() == MemberState::Stable {
        assert!(h.now < acked + Duration::from_secs(60), "still stable");
        if h.request().is_some() {
            sent += 1;
        }
        let next = h.m.poll_timeout().expect("a deadline while stable");
        h.advance(next.saturating_duration_since(h.now));
    }
    assert_eq!(sent, 1, "one heartbeat in flight at a time");
    assert_eq!(
        h.now,
        acked + Duration::from_secs(10),
        "the session timeout"
    );
    assert_eq!(
        h.take_events(),
        vec![
            GroupEvent::Unstable,
            GroupEvent::Lost(tps(&[("a", 0), ("a", 1)]))
        ]
    );
    let (_, _, r) = member(&mut h);
    assert_eq!(r.member_epoch, 0);
    assert_eq!(r.member_id, member_id, "the same member id");
    assert_eq!(r.topic_partitions, Some(vec![]));
}
