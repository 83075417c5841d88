//! The classic protocol, one transition at a time.

use std::sync::Arc;
use std::time::Duration;

use dekaf_proto::consumer_protocol::ConsumerProtocolSubscription;
use dekaf_proto::messages::leave_group::LeaveGroupResponse;
use dekaf_proto::messages::RequestBody;
use dekaf_proto::version::UnsupportedVersion;
use dekaf_proto::ErrorCode;

use super::*;
use crate::client::Destination;
use crate::group::{GroupError, LeaveReason, MemberState, MetadataTopics, TopicInfo};

/// Joins as a follower with member id "m1" in generation `generation` and syncs `parts`.
fn to_stable(h: &mut H, generation: i32, parts: &[(&str, i32)]) {
    let (id, v, body) = h.expect();
    assert!(matches!(body, RequestBody::JoinGroup(_)), "{body:?}");
    h.respond(id, v, join_ok("m1", generation, "leader"));
    let (id, v, body) = h.expect();
    let RequestBody::SyncGroup(s) = body else {
        panic!("{body:?}")
    };
    assert!(s.assignments.is_empty(), "followers send no assignment");
    h.respond(id, v, sync_ok(parts));
    assert_eq!(h.m.state(), MemberState::Stable);
}

#[test]
fn join_with_member_id_required_then_sync_then_heartbeat() {
    let mut h = H::new(config());
    h.m.subscribe(h.now, Subscription::topics(["t"])).unwrap();
    assert!(h.m.needs_coordinator());
    assert!(
        h.request().is_none(),
        "nothing goes out without a coordinator"
    );
    h.m.handle_coordinator(h.now, Some(1));
    assert!(!h.m.needs_coordinator());

    let (id, v, body) = h.expect();
    let RequestBody::JoinGroup(j) = body else {
        panic!("{body:?}")
    };
    assert_eq!(j.group_id, "g");
    assert_eq!(j.member_id, "");
    assert_eq!(j.session_timeout_ms, 10_000);
    assert_eq!(j.rebalance_timeout_ms, 60_000);
    assert_eq!(j.protocol_type, "consumer");
    assert_eq!(j.protocols.len(), 1);
    assert_eq!(j.protocols[0].name, "range");
    let sub = ConsumerProtocolSubscription::decode(&j.protocols[0].metadata).unwrap();
    assert_eq!(sub.topics, vec!["t".to_string()]);
    assert!(h.request().is_none(), "one join at a time");

    h.respond(id, v, join_err(ErrorCode::MEMBER_ID_REQUIRED, "m1"));
    let (id, v, body) = h.expect();
    let RequestBody::JoinGroup(j) = body else {
        panic!("{body:?}")
    };
    assert_eq!(j.member_id, "m1", "rejoins at once with the id given");
    h.respond(id, v, join_ok("m1", 4, "leader"));
    assert_eq!(h.m.state(), MemberState::Syncing);
    assert!(h.take_events().is_empty());

    let (id, v, body) = h.expect();
    let RequestBody::SyncGroup(s) = body else {
        panic!("{body:?}")
    };
    assert_eq!((s.generation_id, s.member_id.as_str()), (4, "m1"));
    assert_eq!(s.protocol_name.as_deref(), Some("range"));
    h.respond(id, v, sync_ok(&[("t", 0), ("t", 1)]));
    assert_eq!(
        h.take_events(),
        vec![
            GroupEvent::Stable {
                generation: 4,
                member_id: "m1".into(),
                leader: false
            },
            GroupEvent::Assigned(tps(&[("t", 0), ("t", 1)])),
        ]
    );
    assert!(h.m.is_stable());
    assert_eq!(h.m.generation(), 4);
    let meta = h.m.group_metadata();
    assert_eq!(
        (
            meta.group_id.as_str(),
            meta.generation_id,
            meta.member_id.as_str()
        ),
        ("g", 4, "m1")
    );

    // The first heartbeat goes one interval after the sync.
    assert!(h.request().is_none());
    assert_eq!(h.m.poll_timeout(), Some(h.now + Duration::from_secs(3)));
    h.advance(Duration::from_secs(3));
    let (id, v, body) = h.expect();
    let RequestBody::Heartbeat(b) = body else {
        panic!("{body:?}")
    };
    assert_eq!((b.generation_id, b.member_id.as_str()), (4, "m1"));
    assert!(h.request().is_none(), "one heartbeat at a time");
    h.respond(id, v, hb(ErrorCode::NONE));
    h.advance(Duration::from_secs(3));
    assert!(matches!(h.expect().2, RequestBody::Heartbeat(_)));
}

#[test]
fn the_leader_assigns_from_every_subscription_and_metadata() {
    let mut h = H::subscribed(config(), &["a"]);
    h.m.handle_metadata(h.now, [TopicInfo::new("a", 2), TopicInfo::new("b", 2)]);
    let (id, v, _) = h.expect();
    let mut join = join_ok("m1", 1, "m1");
    join.members = vec![member("m1", &["a"], &[]), member("m2", &["a", "b"], &[])];
    h.respond(id, v, join);
    assert!(h.m.is_leader());
    assert_eq!(
        h.m.metadata_topics(),
        MetadataTopics::Some(vec!["a".into(), "b".into()]),
        "a leader wants the partition counts of every member's topics"
    );
    let (id, v, body) = h.expect();
    let RequestBody::SyncGroup(s) = body else {
        panic!("{body:?}")
    };
    let mut by_member: Vec<(String, Vec<TopicPartition>)> = s
        .assignments
        .iter()
        .map(|a| (a.member_id.clone(), decode_assignment(&a.assignment)))
        .collect();
    by_member.sort();
    assert_eq!(
        by_member,
        vec![
            ("m1".to_string(), tps(&[("a", 0)])),
            ("m2".to_string(), tps(&[("a", 1), ("b", 0), ("b", 1)])),
        ]
    );
    h.respond(id, v, sync_ok(&[("a", 0)]));
    assert!(matches!(
        h.take_events()[0],
        GroupEvent::Stable { leader: true, .. }
    ));

    // Metadata that changes nothing changes nothing; a topic growing makes the leader rejoin.
    h.m.handle_metadata(h.now, [TopicInfo::new("a", 2), TopicInfo::new("b", 2)]);
    assert!(h.take_events().is_empty());
    h.m.handle_metadata(h.now, [TopicInfo::new("a", 2), TopicInfo::new("b", 3)]);
    assert_eq!(h.take_events(), vec![GroupEvent::Revoked(tps(&[("a", 0)]))]);
}

#[test]
fn eager_rebalance_revokes_everything_and_waits_for_the_confirmation() {
    let mut h = H::subscribed(config(), &["t"]);
    to_stable(&mut h, 1, &[("t", 0), ("t", 1)]);
    h.take_events();
    h.advance(Duration::from_secs(3));
    let (id, v, _) = h.expect();
    h.respond(id, v, hb(ErrorCode::REBALANCE_IN_PROGRESS));
    assert_eq!(
        h.take_events(),
        vec![GroupEvent::Revoked(tps(&[("t", 0), ("t", 1)]))]
    );
    assert!(
        h.m.is_stable(),
        "the revoked partitions can still be committed"
    );
    assert_eq!(h.m.revoking().count(), 2);
    assert_eq!(h.m.assignment().count(), 2, "held until confirmed");
    h.advance(Duration::from_secs(1));
    assert!(h.request().is_none(), "no join before the confirmation");

    h.m.revoke_done(h.now);
    assert_eq!(h.take_events(), vec![GroupEvent::Unstable]);
    assert_eq!(h.m.assignment().count(), 0);
    let (_, _, body) = h.expect();
    let RequestBody::JoinGroup(j) = body else {
        panic!("{body:?}")
    };
    assert_eq!(j.member_id, "m1", "rejoins with its member id");
    let sub = ConsumerProtocolSubscription::decode(&j.protocols[0].metadata).unwrap();
    assert!(
        sub.owned_partitions.is_empty(),
        "eager members own nothing when they join"
    );
    assert_eq!(sub.generation_id, 1);
}

#[test]
fn a_revocation_not_confirmed_in_time_is_lost() {
    let mut h = H::subscribed(config(), &["t"]);
    to_stable(&mut h, 1, &[("t", 0)]);
    h.take_events();
    h.m.rejoin(h.now);
    assert_eq!(h.take_events(), vec![GroupEvent::Revoked(tps(&[("t", 0)]))]);
    // The application keeps polling; only the revocation stalls.
    let start = h.now;
    h.run_until(Some(Duration::from_secs(5)), |h| !h.events.is_empty());
    assert_eq!(h.now, start + Duration::from_secs(60));
    assert_eq!(
        h.take_events(),
        vec![GroupEvent::Unstable, GroupEvent::Lost(tps(&[("t", 0)]))]
    );
    h.m.revoke_done(h.now);
    assert!(matches!(h.expect().2, RequestBody::JoinGroup(_)));
}

#[test]
fn cooperative_revokes_only_what_moves_then_rejoins() {
    let cfg = config().with_assignors(vec![Arc::new(Coop)]);
    let mut h = H::subscribed(cfg, &["t"]);
    assert_eq!(h.m.rebalance_protocol(), RebalanceProtocol::Cooperative);
    let (id, v, _) = h.expect();
    let mut join = join_ok("m1", 1, "other");
    join.protocol_name = Some("test-coop".into());
    h.respond(id, v, join);
    let (id, v, _) = h.expect();
    let mut sync = sync_ok(&[("t", 0), ("t", 1), ("t", 2)]);
    sync.protocol_name = Some("test-coop".into());
    h.respond(id, v, sync);
    h.take_events();

    // A rebalance: the cooperative member rejoins at once, keeping and declaring its partitions.
    h.advance(Duration::from_secs(3));
    let (id, v, _) = h.expect();
    h.respond(id, v, hb(ErrorCode::REBALANCE_IN_PROGRESS));
    assert_eq!(h.take_events(), vec![GroupEvent::Unstable]);
    let (id, v, body) = h.expect();
    let RequestBody::JoinGroup(j) = body else {
        panic!("{body:?}")
    };
    let sub = ConsumerProtocolSubscription::decode(&j.protocols[0].metadata).unwrap();
    assert_eq!(sub.owned_partitions.len(), 1);
    assert_eq!(sub.owned_partitions[0].partitions, vec![0, 1, 2]);
    assert_eq!(sub.generation_id, 1);
    let mut join = join_ok("m1", 2, "other");
    join.protocol_name = Some("test-coop".into());
    h.respond(id, v, join);
    let (id, v, _) = h.expect();
    let mut sync = sync_ok(&[("t", 0), ("t", 1)]);
    sync.protocol_name = Some("test-coop".into());
    h.respond(id, v, sync);
    assert_eq!(
        h.take_events(),
        vec![
            GroupEvent::Stable {
                generation: 2,
                member_id: "m1".into(),
                leader: false
            },
            GroupEvent::Assigned(vec![]),
            GroupEvent::Revoked(tps(&[("t", 2)])),
        ]
    );
    assert!(
        h.request().is_none(),
        "the second phase waits for the confirmation"
    );
    h.m.revoke_done(h.now);
    let (_, _, body) = h.expect();
    let RequestBody::JoinGroup(j) = body else {
        panic!("{body:?}")
    };
    let sub = ConsumerProtocolSubscription::decode(&j.protocols[0].metadata).unwrap();
    assert_eq!(sub.owned_partitions[0].partitions, vec![0, 1]);
    assert_eq!(h.m.assignment().count(), 2);
}

#[test]
fn illegal_generation_loses_partitions_and_keeps_the_member_id() {
    let mut h = H::subscribed(config(), &["t"]);
    to_stable(&mut h, 3, &[("t", 0)]);
    h.take_events();
    h.advance(Duration::from_secs(3));
    let (id, v, _) = h.expect();
    h.respond(id, v, hb(ErrorCode::ILLEGAL_GENERATION));
    assert_eq!(
        h.take_events(),
        vec![GroupEvent::Unstable, GroupEvent::Lost(tps(&[("t", 0)]))]
    );
    assert_eq!(h.m.generation(), -1);
    let (_, _, body) = h.expect();
    let RequestBody::JoinGroup(j) = body else {
        panic!("{body:?}")
    };
    assert_eq!(j.member_id, "m1");
}

#[test]
fn unknown_member_id_forgets_the_member_id() {
    let mut h = H::subscribed(config(), &["t"]);
    to_stable(&mut h, 3, &[("t", 0)]);
    h.take_events();
    h.advance(Duration::from_secs(3));
    let (id, v, _) = h.expect();
    h.respond(id, v, hb(ErrorCode::UNKNOWN_MEMBER_ID));
    assert_eq!(
        h.take_events(),
        vec![GroupEvent::Unstable, GroupEvent::Lost(tps(&[("t", 0)]))]
    );
    let (_, _, body) = h.expect();
    let RequestBody::JoinGroup(j) = body else {
        panic!("{body:?}")
    };
    assert_eq!(j.member_id, "");
}

#[test]
fn sync_errors_rejoin_by_their_rules() {
    for (code, member_after) in [
        (ErrorCode::REBALANCE_IN_PROGRESS, "m1"),
        (ErrorCode::ILLEGAL_GENERATION, "m1"),
        (ErrorCode::UNKNOWN_MEMBER_ID, ""),
    ] {
        let mut h = H::subscribed(config(), &["t"]);
        let (id, v, _) = h.expect();
        h.respond(id, v, join_ok("m1", 1, "leader"));
        let (id, v, _) = h.expect();
        h.respond(id, v, sync_err(code));
        assert_eq!(h.m.state(), MemberState::Joining, "{code}");
        let (_, _, body) = h.expect();
        let RequestBody::JoinGroup(j) = body else {
            panic!("{body:?}")
        };
        assert_eq!(j.member_id, member_after, "{code}");
    }
}

#[test]
fn coordinator_errors_and_disconnects_ask_for_the_coordinator_again() {
    let mut h = H::subscribed(config(), &["t"]);
    to_stable(&mut h, 1, &[("t", 0)]);
    h.take_events();
    h.advance(Duration::from_secs(3));
    let (id, v, _) = h.expect();
    h.respond(id, v, hb(ErrorCode::NOT_COORDINATOR));
    assert!(h.m.needs_coordinator());
    assert!(h.request().is_none());
    assert!(h.take_events().is_empty(), "the partitions stay");
    h.m.handle_coordinator(h.now, Some(2));
    assert!(h.request().is_none(), "heartbeats again after a backoff");
    h.advance(Duration::from_millis(100));
    let out = h.m.poll_request(h.now).unwrap();
    assert_eq!(out.destination, Destination::Coordinator(2));
    h.fail(out.id, RequestFailed::Disconnected);
    assert!(h.m.needs_coordinator());

    // A join that fails in transport backs off after the coordinator is found again.
    let mut h = H::subscribed(config(), &["t"]);
    let (id, _, _) = h.expect();
    h.fail(id, RequestFailed::TimedOut);
    assert!(h.m.needs_coordinator());
    h.m.handle_coordinator(h.now, Some(1));
    assert!(h.request().is_none());
    assert_eq!(h.m.poll_timeout(), Some(h.now + Duration::from_millis(100)));
    h.advance(Duration::from_millis(100));
    assert!(matches!(h.expect().2, RequestBody::JoinGroup(_)));

    // COORDINATOR_NOT_AVAILABLE on a join: the same.
    let mut h = H::subscribed(config(), &["t"]);
    let (id, v, _) = h.expect();
    h.respond(id, v, join_err(ErrorCode::COORDINATOR_NOT_AVAILABLE, ""));
    assert!(h.m.needs_coordinator());
    assert_eq!(h.m.state(), MemberState::Joining);
}

#[test]
fn retriable_errors_back_off_deterministically() {
    let mut h = H::subscribed(config(), &["t"]);
    let mut waits = Vec::new();
    for _ in 0..5 {
        let (id, v, _) = h.expect();
        h.respond(id, v, join_err(ErrorCode::COORDINATOR_LOAD_IN_PROGRESS, ""));
        let t = h.m.poll_timeout().unwrap();
        waits.push((t - h.now).as_millis());
        assert!(h.request().is_none());
        h.advance(t - h.now);
    }
    assert_eq!(waits, vec![100, 200, 400, 800, 1000]);
    let (id, v, _) = h.expect();
    h.respond(id, v, join_ok("m1", 1, "x"));
    let (id, v, _) = h.expect();
    h.respond(id, v, sync_ok(&[]));
    // A success resets the backoff.
    h.advance(Duration::from_secs(3));
    let (id, v, _) = h.expect();
    h.respond(id, v, hb(ErrorCode::COORDINATOR_LOAD_IN_PROGRESS));
    assert_eq!(h.m.poll_timeout(), Some(h.now + Duration::from_millis(100)));
}

#[test]
fn fatal_errors_stop_the_member_with_a_typed_error() {
    let cases = [
        (ErrorCode::FENCED_INSTANCE_ID, GroupError::FencedInstanceId),
        (
            ErrorCode::GROUP_AUTHORIZATION_FAILED,
            GroupError::Unauthorized(ErrorCode::GROUP_AUTHORIZATION_FAILED),
        ),
        (
            ErrorCode::INVALID_SESSION_TIMEOUT,
            GroupError::Refused(ErrorCode::INVALID_SESSION_TIMEOUT),
        ),
    ];
    for (code, error) in cases {
        // On a heartbeat: the partitions are lost first.
        let mut h = H::subscribed(config(), &["t"]);
        to_stable(&mut h, 1, &[("t", 0)]);
        h.take_events();
        h.advance(Duration::from_secs(3));
        let (id, v, _) = h.expect();
        h.respond(id, v, hb(code));
        assert_eq!(
            h.take_events(),
            vec![
                GroupEvent::Unstable,
                GroupEvent::Lost(tps(&[("t", 0)])),
                GroupEvent::Failed(error.clone())
            ]
        );
        assert_eq!(h.m.state(), MemberState::Failed);
        assert!(h.m.is_closed());
        assert!(h.request().is_none());
        assert_eq!(h.m.poll_timeout(), None);
        assert!(h.m.subscribe(h.now, Subscription::topics(["t"])).is_err());

        // On a join.
        let mut h = H::subscribed(config(), &["t"]);
        let (id, v, _) = h.expect();
        h.respond(id, v, join_err(code, ""));
        assert_eq!(h.take_events(), vec![GroupEvent::Failed(error)]);
    }
}

#[test]
fn protocol_mismatches_and_bad_assignments_are_fatal() {
    let mut h = H::subscribed(config(), &["t"]);
    let (id, v, _) = h.expect();
    let mut j = join_ok("m1", 1, "x");
    j.protocol_name = Some("roundrobin".into());
    h.respond(id, v, j);
    assert!(matches!(
        h.take_events()[..],
        [GroupEvent::Failed(GroupError::InconsistentProtocol(_))]
    ));

    let mut h = H::subscribed(config(), &["t"]);
    let (id, v, _) = h.expect();
    h.respond(id, v, join_ok("m1", 1, "x"));
    let (id, v, _) = h.expect();
    let mut s = sync_ok(&[]);
    s.assignment = bytes::Bytes::from_static(&[0, 0, 0, 0, 0, 9]);
    h.respond(id, v, s);
    assert!(matches!(
        h.take_events()[..],
        [GroupEvent::Failed(GroupError::MalformedAssignment(_))]
    ));
    assert_eq!(
        GroupError::MalformedAssignment(String::new()).fault(),
        crate::offset::Fault::Broker
    );

    // An empty assignment blob means "nothing for you".
    let mut h = H::subscribed(config(), &["t"]);
    to_stable(&mut h, 1, &[]);
    let mut h2 = H::subscribed(config(), &["t"]);
    let (id, v, _) = h2.expect();
    h2.respond(id, v, join_ok("m1", 1, "x"));
    let (id, v, _) = h2.expect();
    let mut s = sync_ok(&[]);
    s.assignment = bytes::Bytes::new();
    h2.respond(id, v, s);
    assert_eq!(h2.m.state(), MemberState::Stable);
    assert!(h.take_events().contains(&GroupEvent::Assigned(vec![])));
}

/// An application's assignor that gives every partition to every member.
#[derive(Debug)]
struct Greedy;

impl Assignor for Greedy {
    fn name(&self) -> &'static str {
        "greedy"
    }

    fn assign(
        &self,
        members: &[MemberSubscription],
        partitions_per_topic: &BTreeMap<String, i32>,
    ) -> GroupAssignment {
        let all: Vec<(String, i32)> = partitions_per_topic
            .iter()
            .flat_map(|(t, n)| (0..*n).map(move |p| (t.clone(), p)))
            .collect();
        members
            .iter()
            .map(|m| (m.member_id.clone(), all.clone()))
            .collect()
    }
}

#[test]
fn a_leader_whose_assignor_breaks_the_rules_stops_without_syncing() {
    let mut h = H::subscribed(config().with_assignors(vec![Arc::new(Greedy)]), &["a"]);
    h.m.handle_metadata(h.now, [TopicInfo::new("a", 2)]);
    let (id, v, _) = h.expect();
    let mut join = join_ok("m1", 1, "m1");
    join.protocol_name = Some("greedy".into());
    join.members = vec![member("m1", &["a"], &[]), member("m2", &["a"], &[])];
    h.respond(id, v, join);
    let events = h.take_events();
    let [GroupEvent::Failed(e @ GroupError::InvalidAssignment { assignor, error })] = &events[..]
    else {
        panic!("{events:?}")
    };
    assert_eq!(assignor, "greedy");
    assert_eq!(
        *error,
        crate::assignor::AssignmentError::AssignedTwice("a".into(), 0)
    );
    assert_eq!(e.fault(), crate::offset::Fault::Application);
    assert!(h.request().is_none(), "no SyncGroup carries the result");
}

#[test]
fn an_expired_session_loses_the_partitions() {
    let mut h = H::subscribed(config(), &["t"]);
    to_stable(&mut h, 1, &[("t", 0)]);
    h.take_events();
    // Heartbeats go out but no answer ever comes back.
    let mut sent = 0;
    for _ in 0..20 {
        h.advance(Duration::from_secs(1));
        h.m.handle_poll(h.now);
        if h.request().is_some() {
            sent += 1;
        }
        if h.m.state() != MemberState::Stable {
            break;
        }
    }
    assert_eq!(sent, 1, "one heartbeat in flight at a time");
    assert_eq!(
        h.take_events(),
        vec![GroupEvent::Unstable, GroupEvent::Lost(tps(&[("t", 0)]))]
    );
    assert!(h.m.needs_coordinator());
    assert_eq!(h.m.generation(), -1);
    h.m.handle_coordinator(h.now, Some(1));
    assert!(matches!(h.expect().2, RequestBody::JoinGroup(_)));
}

#[test]
fn the_session_runs_from_the_send_of_the_last_good_heartbeat() {
    let mut h = H::subscribed(config(), &["t"]);
    to_stable(&mut h, 1, &[("t", 0)]);
    let synced = h.now;
    h.advance(Duration::from_secs(3));
    let (id, v, _) = h.expect();
    let sent = h.now;
    h.advance(Duration::from_secs(2));
    h.respond(id, v, hb(ErrorCode::NONE));
    assert!(sent > synced);
    // From now on heartbeats fail, each after a second: the session ends 10 s after `sent`.
    loop {
        h.m.handle_poll(h.now);
        if let Some((id, _, _)) = h.request() {
            h.advance(Duration::from_secs(1));
            h.fail(id, RequestFailed::TimedOut);
            h.m.handle_coordinator(h.now, Some(1));
        }
        if h.m.state() != MemberState::Stable {
            break;
        }
        let next = h.m.poll_timeout().unwrap();
        h.advance(next.saturating_duration_since(h.now));
    }
    assert_eq!(h.now, sent + Duration::from_secs(10));
}

#[test]
fn not_polling_leaves_the_group_and_polling_rejoins() {
    let mut h = H::subscribed(config(), &["t"]);
    to_stable(&mut h, 1, &[("t", 0)]);
    h.take_events();
    // Heartbeats succeed, but the application never asks for records.
    let start = h.now;
    h.run_until(None, |h| h.m.state() != MemberState::Stable);
    assert_eq!(h.now, start + Duration::from_secs(60));
    assert_eq!(
        h.take_events(),
        vec![GroupEvent::Unstable, GroupEvent::Lost(tps(&[("t", 0)]))]
    );
    let (id, v, body) = h.expect();
    let RequestBody::LeaveGroup(l) = body else {
        panic!("{body:?}")
    };
    assert_eq!(l.members[0].member_id, "m1");
    h.respond(id, v, LeaveGroupResponse::default());
    assert_eq!(
        h.take_events(),
        vec![GroupEvent::Left(LeaveReason::MaxPollExceeded)]
    );
    assert_eq!(h.m.state(), MemberState::Idle);
    assert_eq!(h.m.member_id(), "");
    assert_eq!(h.m.poll_timeout(), None);
    h.m.handle_poll(h.now);
    assert!(matches!(h.expect().2, RequestBody::JoinGroup(_)));
}

#[test]
fn close_revokes_then_leaves() {
    let mut h = H::subscribed(config(), &["t"]);
    to_stable(&mut h, 1, &[("t", 0)]);
    h.take_events();
    h.m.close(h.now);
    assert_eq!(h.take_events(), vec![GroupEvent::Revoked(tps(&[("t", 0)]))]);
    assert!(h.request().is_none(), "leaves only after the confirmation");
    h.m.revoke_done(h.now);
    assert_eq!(h.take_events(), vec![GroupEvent::Unstable]);
    let (id, _, body) = h.expect();
    assert!(matches!(body, RequestBody::LeaveGroup(_)));
    // Old brokers get the member id at the top level.
    h.fail(id, RequestFailed::Disconnected);
    assert_eq!(h.take_events(), vec![GroupEvent::Left(LeaveReason::Closed)]);
    assert!(h.m.is_closed());
    assert!(h.request().is_none());

    // LeaveGroup v0-2 carry the member id at the top level.
    let mut h = H::subscribed(config(), &["t"]);
    to_stable(&mut h, 1, &[]);
    h.m.close(h.now);
    let out = h.m.poll_request(h.now).unwrap();
    let RequestBody::LeaveGroup(l) = out.request.body(2) else {
        panic!()
    };
    assert_eq!((l.member_id.as_str(), l.members.len()), ("m1", 0));
}

#[test]
fn closing_outside_a_generation_loses_and_leaves_without_waiting() {
    let mut h = H::subscribed(config(), &["t"]);
    let (id, v, _) = h.expect();
    h.respond(id, v, join_ok("m1", 1, "x"));
    h.m.close(h.now);
    let (_, _, body) = h.expect();
    assert!(matches!(body, RequestBody::LeaveGroup(_)), "{body:?}");

    // Nothing joined yet: closed at once.
    let mut h = H::new(config());
    h.m.close(h.now);
    assert_eq!(h.take_events(), vec![GroupEvent::Left(LeaveReason::Closed)]);
    assert!(h.m.is_closed());
}

#[test]
fn static_members_never_send_leave_group() {
    let cfg = config().with_group_instance_id("host-1");
    let mut h = H::subscribed(cfg, &["t"]);
    let out = h.m.poll_request(h.now).unwrap();
    assert_eq!(
        out.request.versions().0,
        5,
        "static membership needs JoinGroup v5"
    );
    let RequestBody::JoinGroup(j) = out.request.body(9) else {
        panic!()
    };
    assert_eq!(j.group_instance_id.as_deref(), Some("host-1"));
    h.respond(out.id, 9, join_ok("m1", 1, "x"));
    let (id, v, body) = h.expect();
    let RequestBody::SyncGroup(s) = body else {
        panic!()
    };
    assert_eq!(s.group_instance_id.as_deref(), Some("host-1"));
    h.respond(id, v, sync_ok(&[("t", 0)]));
    h.take_events();
    h.m.close(h.now);
    h.m.revoke_done(h.now);
    assert!(h.request().is_none());
    assert_eq!(
        h.take_events(),
        vec![
            GroupEvent::Revoked(tps(&[("t", 0)])),
            GroupEvent::Unstable,
            GroupEvent::Left(LeaveReason::Closed)
        ]
    );
    assert!(h.m.is_closed());
    assert_eq!(
        h.m.group_metadata().group_instance_id.as_deref(),
        Some("host-1")
    );
}

#[test]
fn a_broker_without_the_versions_needed_is_fatal() {
    let cfg = config().with_group_instance_id("host-1");
    let mut h = H::subscribed(cfg, &["t"]);
    let (id, _, _) = h.expect();
    h.fail(
        id,
        RequestFailed::Unsupported(UnsupportedVersion {
            api: dekaf_proto::ApiKey::JoinGroup,
            ours: Some((5, 9)),
            broker: Some((0, 4)),
        }),
    );
    assert!(matches!(
        h.take_events()[..],
        [GroupEvent::Failed(GroupError::Unsupported(_))]
    ));
}

#[test]
fn patterns_wait_for_metadata_and_follow_it() {
    let mut h = H::new(config());
    h.m.subscribe(h.now, Subscription::pattern("orders-.*").unwrap())
        .unwrap();
    h.m.handle_coordinator(h.now, Some(1));
    assert!(h.m.needs_metadata());
    assert_eq!(h.m.metadata_topics(), MetadataTopics::All);
    assert!(
        h.request().is_none(),
        "waits to know what the pattern means"
    );
    let mut internal = TopicInfo::new("orders-internal", 1);
    internal.is_internal = true;
    h.m.handle_metadata(
        h.now,
        [
            TopicInfo::new("orders-eu", 2),
            TopicInfo::new("audit", 1),
            internal.clone(),
        ],
    );
    assert!(!h.m.needs_metadata());
    let (id, v, body) = h.expect();
    let RequestBody::JoinGroup(j) = body else {
        panic!()
    };
    let sub = ConsumerProtocolSubscription::decode(&j.protocols[0].metadata).unwrap();
    assert_eq!(sub.topics, vec!["orders-eu".to_string()]);
    h.respond(id, v, join_ok("m1", 1, "x"));
    let (id, v, _) = h.expect();
    h.respond(id, v, sync_ok(&[("orders-eu", 0)]));
    h.take_events();

    // The same topics again: nothing. A new matching topic: rejoin (eager: revoke first).
    h.m.handle_metadata(
        h.now,
        [
            TopicInfo::new("orders-eu", 2),
            TopicInfo::new("audit", 1),
            internal,
        ],
    );
    assert!(h.take_events().is_empty());
    h.m.handle_metadata(
        h.now,
        [
            TopicInfo::new("orders-eu", 2),
            TopicInfo::new("orders-us", 1),
        ],
    );
    assert_eq!(
        h.take_events(),
        vec![GroupEvent::Revoked(tps(&[("orders-eu", 0)]))]
    );
    h.m.revoke_done(h.now);
    let (_, _, body) = h.expect();
    let RequestBody::JoinGroup(j) = body else {
        panic!()
    };
    let sub = ConsumerProtocolSubscription::decode(&j.protocols[0].metadata).unwrap();
    assert_eq!(
        sub.topics,
        vec!["orders-eu".to_string(), "orders-us".to_string()]
    );
}

#[test]
fn a_subscription_change_during_a_join_rejoins_after_the_sync() {
    let mut h = H::subscribed(config(), &["a"]);
    let (id, v, _) = h.expect();
    h.m.subscribe(h.now, Subscription::topics(["a", "b"]))
        .unwrap();
    h.respond(id, v, join_ok("m1", 1, "x"));
    let (id, v, _) = h.expect();
    h.respond(id, v, sync_ok(&[("a", 0)]));
    assert_eq!(
        h.take_events()[1..],
        [
            GroupEvent::Assigned(tps(&[("a", 0)])),
            GroupEvent::Revoked(tps(&[("a", 0)]))
        ]
    );
    h.m.revoke_done(h.now);
    let (_, _, body) = h.expect();
    let RequestBody::JoinGroup(j) = body else {
        panic!()
    };
    let sub = ConsumerProtocolSubscription::decode(&j.protocols[0].metadata).unwrap();
    assert_eq!(sub.topics.len(), 2);
}

#[test]
fn an_assignment_outside_the_subscription_is_not_applied() {
    let mut h = H::subscribed(config(), &["a"]);
    let (id, v, _) = h.expect();
    h.respond(id, v, join_ok("m1", 1, "x"));
    let (id, v, _) = h.expect();
    h.respond(id, v, sync_ok(&[("zzz", 0)]));
    assert_eq!(h.m.assignment().count(), 0);
    assert!(matches!(h.expect().2, RequestBody::JoinGroup(_)));
}

#[test]
fn unsubscribe_revokes_leaves_and_resubscribe_joins_again() {
    let mut h = H::subscribed(config(), &["t"]);
    to_stable(&mut h, 1, &[("t", 0)]);
    h.take_events();
    h.m.unsubscribe(h.now).unwrap();
    h.m.revoke_done(h.now);
    let (id, v, body) = h.expect();
    assert!(matches!(body, RequestBody::LeaveGroup(_)));
    h.respond(id, v, LeaveGroupResponse::default());
    assert_eq!(
        h.take_events(),
        vec![
            GroupEvent::Revoked(tps(&[("t", 0)])),
            GroupEvent::Unstable,
            GroupEvent::Left(LeaveReason::Unsubscribed)
        ]
    );
    assert_eq!(h.m.state(), MemberState::Idle);
    assert!(!h.m.needs_coordinator());
    h.m.subscribe(h.now, Subscription::topics(["t"])).unwrap();
    let (_, _, body) = h.expect();
    let RequestBody::JoinGroup(j) = body else {
        panic!()
    };
    assert_eq!(j.member_id, "", "a dynamic member that left starts over");
}

#[test]
fn stale_heartbeat_answers_are_ignored() {
    let mut h = H::subscribed(config(), &["t"]);
    to_stable(&mut h, 1, &[("t", 0)]);
    h.take_events();
    h.advance(Duration::from_secs(3));
    let (old, v, _) = h.expect();
    // The application forces a rebalance; the old heartbeat's answer arrives later.
    h.m.rejoin(h.now);
    h.m.revoke_done(h.now);
    let (join, _, _) = h.expect();
    h.respond(old, v, hb(ErrorCode::UNKNOWN_MEMBER_ID));
    assert_eq!(
        h.take_events(),
        vec![GroupEvent::Revoked(tps(&[("t", 0)])), GroupEvent::Unstable]
    );
    assert_eq!(h.m.member_id(), "m1");
    // Unknown ids and answers of the wrong type are ignored or retried, never a panic.
    h.respond(RequestId(999), v, hb(ErrorCode::NONE));
    h.respond(join, v, hb(ErrorCode::NONE));
    assert!(h.m.needs_coordinator());
}

#[test]
fn several_assignors_are_offered_in_order() {
    let cfg = config().with_assignors(vec![Arc::new(Coop), Arc::new(RangeAssignor)]);
    let mut h = H::subscribed(cfg, &["t"]);
    assert_eq!(
        h.m.rebalance_protocol(),
        RebalanceProtocol::Eager,
        "range is eager only, so the member is eager"
    );
    let (_, _, body) = h.expect();
    let RequestBody::JoinGroup(j) = body else {
        panic!()
    };
    let names: Vec<&str> = j.protocols.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["test-coop", "range"]);
}

#[test]
fn timeouts_never_repeat_a_time_already_handled() {
    let mut h = H::subscribed(config(), &["t"]);
    to_stable(&mut h, 1, &[("t", 0)]);
    for _ in 0..200 {
        let t = h.m.poll_timeout().unwrap();
        h.advance(t.saturating_duration_since(h.now));
        h.m.handle_poll(h.now);
        while let Some((id, v, _)) = h.request() {
            h.respond(id, v, hb(ErrorCode::NONE));
        }
        assert!(h.m.poll_timeout().unwrap() > h.now);
    }
    assert_eq!(h.m.state(), MemberState::Stable);
}

#[test]
fn losing_the_coordinators_connection_looks_it_up_again() {
    let mut h = H::subscribed(config(), &["t"]);
    to_stable(&mut h, 1, &[("t", 0)]);
    h.m.handle_disconnected(h.now, Destination::Coordinator(7));
    assert!(!h.m.needs_coordinator(), "another broker");
    h.m.handle_disconnected(h.now, Destination::AnyBroker);
    assert!(!h.m.needs_coordinator());
    h.m.handle_disconnected(h.now, Destination::Broker(1));
    assert!(
        !h.m.needs_coordinator(),
        "the coordinator's fetch connection"
    );
    h.m.handle_disconnected(h.now, Destination::Coordinator(1));
    assert!(h.m.needs_coordinator());
    assert_eq!(h.m.state(), MemberState::Stable, "the partitions stay");
}
