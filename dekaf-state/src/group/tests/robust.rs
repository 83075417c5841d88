//! Random answers, failures and commands never panic the machine and keep its basic promises:
//! `Unstable` before every `Lost`, no request without a coordinator, nothing after the end.

use std::time::Duration;

use bytes::Bytes;
use dekaf_proto::messages::consumer_group_heartbeat::{
    Assignment, ConsumerGroupHeartbeatResponse, TopicPartitions,
};
use dekaf_proto::messages::join_group::JoinGroupResponse;
use dekaf_proto::messages::leave_group::LeaveGroupResponse;
use dekaf_proto::messages::RequestBody;
use dekaf_proto::wire::Uuid;
use dekaf_proto::ErrorCode;
use proptest::prelude::*;

use super::*;
use crate::group::{GroupProtocol, TopicInfo};

#[derive(Clone, Debug)]
enum Step {
    /// Answer the oldest request with this code (and, for a join, this leader choice).
    Answer(u8, bool, u8),
    Fail(u8),
    Advance(u16),
    Poll,
    RevokeDone,
    Metadata(u8),
    Coordinator(Option<u8>),
    Subscribe(u8),
    Rejoin,
    Close,
}

const CODES: [ErrorCode; 14] = [
    ErrorCode::NONE,
    ErrorCode::NONE,
    ErrorCode::NONE,
    ErrorCode::MEMBER_ID_REQUIRED,
    ErrorCode::REBALANCE_IN_PROGRESS,
    ErrorCode::ILLEGAL_GENERATION,
    ErrorCode::UNKNOWN_MEMBER_ID,
    ErrorCode::NOT_COORDINATOR,
    ErrorCode::COORDINATOR_LOAD_IN_PROGRESS,
    ErrorCode::FENCED_INSTANCE_ID,
    ErrorCode::STALE_MEMBER_EPOCH,
    ErrorCode::FENCED_MEMBER_EPOCH,
    ErrorCode::GROUP_AUTHORIZATION_FAILED,
    ErrorCode::UNKNOWN_SERVER_ERROR,
];

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        6 => (any::<u8>(), any::<bool>(), any::<u8>()).prop_map(|(c, l, a)| Step::Answer(c, l, a)),
        1 => any::<u8>().prop_map(Step::Fail),
        3 => (0u16..20_000).prop_map(Step::Advance),
        2 => Just(Step::Poll),
        2 => Just(Step::RevokeDone),
        1 => any::<u8>().prop_map(Step::Metadata),
        1 => proptest::option::of(any::<u8>()).prop_map(Step::Coordinator),
        1 => any::<u8>().prop_map(Step::Subscribe),
        1 => Just(Step::Rejoin),
        1 => Just(Step::Close),
    ]
}

fn garbage(n: u8) -> Bytes {
    match n % 4 {
        0 => Bytes::new(),
        1 => Bytes::from_static(&[0, 0, 0, 0, 0, 1, 0, 1, b't', 0, 0, 0, 1, 0, 0, 0, 0]),
        2 => Bytes::from_static(&[0xff, 0xff, 1, 2, 3]),
        _ => assignment_blob(&[("t", i32::from(n)), ("u", -1)]),
    }
}

fn answer(body: &RequestBody, code: ErrorCode, leader: bool, n: u8) -> ResponseBody {
    match body {
        RequestBody::JoinGroup(j) => {
            let member = if j.member_id.is_empty() {
                "m"
            } else {
                j.member_id.as_str()
            };
            let mut r = JoinGroupResponse {
                error_code: code,
                generation_id: i32::from(n) - 2,
                protocol_type: Some("consumer".into()),
                protocol_name: Some(if n % 7 == 0 { "x" } else { "range" }.into()),
                leader: if leader {
                    member.into()
                } else {
                    "other".into()
                },
                member_id: member.into(),
                ..Default::default()
            };
            if leader {
                r.members = vec![super::member(member, &["t", "u"], &[("t", 0)])];
                r.members.push(JoinGroupResponseMember {
                    member_id: "junk".into(),
                    metadata: garbage(n),
                    ..Default::default()
                });
            }
            r.into()
        }
        RequestBody::SyncGroup(_) => {
            let mut s = sync_err(code);
            s.assignment = garbage(n);
            s.into()
        }
        RequestBody::Heartbeat(_) => hb(code).into(),
        RequestBody::LeaveGroup(_) => LeaveGroupResponse {
            error_code: code,
            ..Default::default()
        }
        .into(),
        RequestBody::ConsumerGroupHeartbeat(_) => ConsumerGroupHeartbeatResponse {
            error_code: code,
            member_epoch: i32::from(n % 5) - 1,
            heartbeat_interval_ms: i32::from(n) * 100 - 1000,
            assignment: (n % 2 == 0).then(|| Assignment {
                topic_partitions: vec![TopicPartitions {
                    topic_id: Uuid([n % 3; 16]),
                    partitions: vec![0, i32::from(n % 4), -1],
                    ..Default::default()
                }],
                ..Default::default()
            }),
            ..Default::default()
        }
        .into(),
        other => panic!("unexpected {other:?}"),
    }
}

fn run(protocol: GroupProtocol, static_member: bool, steps: Vec<Step>) {
    let mut cfg = config().with_protocol(protocol);
    if static_member {
        cfg = cfg.with_group_instance_id("s");
    }
    let mut h = H::subscribed(cfg, &["t"]);
    let mut pending: Vec<(RequestId, i16, RequestBody)> = Vec::new();
    let mut told_unstable = true;
    let mut finished = false;
    for s in steps {
        match s {
            Step::Answer(c, leader, n) => {
                if !pending.is_empty() {
                    let (id, v, body) = pending.remove(0);
                    let code = CODES[usize::from(c) % CODES.len()];
                    let reply = answer(&body, code, leader, n);
                    h.respond(id, v, reply);
                }
            }
            Step::Fail(k) => {
                if !pending.is_empty() {
                    let (id, _, _) = pending.remove(0);
                    let f = match k % 3 {
                        0 => RequestFailed::Disconnected,
                        1 => RequestFailed::TimedOut,
                        _ => RequestFailed::Broker(ErrorCode::UNKNOWN_SERVER_ERROR),
                    };
                    h.fail(id, f);
                }
            }
            Step::Advance(ms) => {
                h.advance(Duration::from_millis(u64::from(ms)));
            }
            Step::Poll => h.m.handle_poll(h.now),
            Step::RevokeDone => h.m.revoke_done(h.now),
            Step::Metadata(n) => h.m.handle_metadata(
                h.now,
                [
                    TopicInfo::new("t", i32::from(n % 4)).with_id(Uuid([1; 16])),
                    TopicInfo::new("u", i32::from(n % 3) - 1).with_id(Uuid([2; 16])),
                ],
            ),
            Step::Coordinator(c) => h.m.handle_coordinator(h.now, c.map(i32::from)),
            Step::Subscribe(n) => {
                let sub = match n % 3 {
                    0 => Subscription::topics(["t"]),
                    1 => Subscription::topics(["t", "u"]),
                    _ => Subscription::pattern("[tu]").unwrap(),
                };
                let _ = h.m.subscribe(h.now, sub);
            }
            Step::Rejoin => h.m.rejoin(h.now),
            Step::Close => h.m.close(h.now),
        }
        while let Some(out) = h.m.poll_request(h.now) {
            assert!(
                h.m.coordinator().is_some(),
                "a request without a coordinator"
            );
            assert!(!finished, "a request after the end");
            let v = out.request.versions().1;
            pending.push((out.id, v, out.request.body(v)));
        }
        for e in h.take_events() {
            assert!(!finished, "an event after the end: {e:?}");
            match e {
                GroupEvent::Unstable => told_unstable = true,
                GroupEvent::Stable { .. } => told_unstable = false,
                GroupEvent::Lost(_) => assert!(told_unstable, "Lost while commits are accepted"),
                GroupEvent::Failed(_) | GroupEvent::Left(crate::group::LeaveReason::Closed) => {
                    finished = true
                }
                _ => {}
            }
        }
        assert_eq!(h.m.is_stable(), !told_unstable);
        if h.m.is_closed() {
            assert_eq!(h.m.assignment().count(), 0);
            assert_eq!(h.m.poll_timeout(), None);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn classic_members_survive_anything(
        static_member in any::<bool>(),
        steps in proptest::collection::vec(step(), 0..60),
    ) {
        run(GroupProtocol::Classic, static_member, steps);
    }

    #[test]
    fn consumer_protocol_members_survive_anything(
        static_member in any::<bool>(),
        steps in proptest::collection::vec(step(), 0..60),
    ) {
        run(GroupProtocol::Consumer, static_member, steps);
    }
}
