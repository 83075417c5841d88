//! Two dekaf consumers in one group against tansu (build W), over the blocking test driver:
//! they split a 4-partition topic, then one closes and the other takes all four.

use std::time::{Duration, Instant};

use dekaf_proto::messages::create_topics::CreatableTopic;
use dekaf_proto::messages::CreateTopicsRequest;
use dekaf_proto::ErrorCode;
use dekaf_state::consumer::{Consumer, ConsumerConfig};
use dekaf_state::offset::{AutoOffsetReset, TopicPartition};
use dekaf_tests::blocking::BlockingDriver as Driver;
use dekaf_tests::{Broker, Build, Engine};

const TOPIC: &str = "group-split";

fn member(now: Instant) -> Consumer {
    let mut c = Consumer::new(
        ConsumerConfig::new()
            .with_client_id("dekaf-tests")
            .with_group_id("dekaf-group-split")
            .with_auto_offset_reset(AutoOffsetReset::Earliest)
            // tansu's session timeout is about 6 s.
            .with_session_timeout(Duration::from_millis(6000))
            .with_heartbeat_interval(Duration::from_secs(1))
            .with_max_poll_interval(Duration::from_secs(30)),
    );
    c.subscribe(now, [TOPIC]).expect("subscribe");
    c
}

/// Steps both drivers (the second may be gone) until `done`; false after `timeout`.
fn run(
    a: &mut Driver<Consumer>,
    mut b: Option<&mut Driver<Consumer>>,
    timeout: Duration,
    mut done: impl FnMut(&mut Consumer, Option<&mut Consumer>) -> bool,
) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        let now = Instant::now();
        let _ = a.machine.poll_records(now, 100);
        while a.machine.poll_event().is_some() {}
        if let Some(b) = b.as_deref_mut() {
            let _ = b.machine.poll_records(now, 100);
            while b.machine.poll_event().is_some() {}
        }
        if done(&mut a.machine, b.as_deref_mut().map(|d| &mut d.machine)) {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        a.step(Duration::from_millis(5));
        if let Some(b) = b.as_deref_mut() {
            b.step(Duration::from_millis(5));
        }
    }
}

fn stable(c: &Consumer) -> bool {
    c.member_state() == Some(dekaf_state::group::MemberState::Stable) && c.revoking().is_empty()
}

#[test]
fn two_members_split_then_one_takes_all_on_build_w() {
    let Some(broker) = Broker::start(Build::W, Engine::Memory) else {
        return;
    };
    let mut client = broker.client();
    let versions = client.broker_versions();
    let mut topic = CreatableTopic::new(TOPIC);
    topic.num_partitions = 4;
    topic.replication_factor = 1;
    let resp = client.call_negotiated(
        &versions,
        &CreateTopicsRequest {
            topics: vec![topic],
            ..Default::default()
        },
    );
    assert_eq!(resp.topics[0].error_code, ErrorCode::NONE);

    let now = Instant::now();
    let mut a = Driver::new(member(now), broker.addr(), "dekaf-tests");
    let mut b = Driver::new(member(now), broker.addr(), "dekaf-tests");
    let split = run(&mut a, Some(&mut b), Duration::from_secs(60), |a, b| {
        let b = b.expect("running");
        stable(a)
            && stable(b)
            && a.assignment().len() + b.assignment().len() == 4
            && a.assignment().iter().all(|tp| !b.assignment().contains(tp))
    });
    assert!(
        split,
        "no split: {:?} / {:?}",
        a.machine.assignment(),
        b.machine.assignment()
    );
    assert_eq!(a.machine.assignment().len(), 2);
    assert_eq!(b.machine.assignment().len(), 2);

    b.machine.close(Instant::now());
    let closed = run(&mut a, Some(&mut b), Duration::from_secs(30), |_, b| {
        b.expect("running").is_close_complete()
    });
    assert!(
        closed,
        "close did not complete: {:?}",
        b.machine.member_state()
    );
    let all: Vec<TopicPartition> = (0..4).map(|p| TopicPartition::new(TOPIC, p)).collect();
    let took = run(&mut a, None, Duration::from_secs(60), |a, _| {
        stable(a) && a.assignment() == all
    });
    assert!(took, "the survivor has {:?}", a.machine.assignment());
}
