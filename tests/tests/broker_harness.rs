//! The real-broker harness itself: engines, restarts, logs.

use dekaf_proto::messages::ApiVersionsRequest;
use dekaf_proto::ErrorCode;
use dekaf_tests::broker::{temp_dir, StartError};
use dekaf_tests::{Broker, Build, Engine};

#[test]
fn build_c_keeps_its_sqlite_file_across_a_kill() {
    let dir = temp_dir("sqlite");
    let Some(broker) = Broker::start(Build::C, Engine::Sqlite(dir.clone())) else {
        return;
    };
    let first = broker.addr();
    assert!(broker.log().contains("ready in"), "{}", broker.log());
    broker.kill();
    assert!(
        dir.join("tansu.db").is_file(),
        "no tansu.db in {}",
        dir.display()
    );

    let broker = Broker::start(Build::C, Engine::Sqlite(dir.clone())).unwrap();
    assert_ne!(broker.addr().port(), 0);
    let answer = broker.client().call(&ApiVersionsRequest::default(), 3);
    assert_eq!(
        answer.error_code,
        ErrorCode::NONE,
        "restarted after {first}"
    );
    drop(broker);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn build_w_has_no_sqlite_engine() {
    let dir = temp_dir("sqlite-w");
    match Broker::try_start(Build::W, Engine::Sqlite(dir.clone())) {
        Err(StartError::Unsupported { build, .. }) => assert_eq!(build, Build::W),
        // Without the binary the harness cannot get as far as the engine.
        Err(StartError::Missing { .. }) => {}
        other => panic!("expected Unsupported, got {other:?}"),
    }
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn two_brokers_of_one_build_run_side_by_side() {
    let (Some(a), Some(b)) = (
        Broker::start(Build::W, Engine::Memory),
        Broker::start(Build::W, Engine::Memory),
    ) else {
        return;
    };
    assert_ne!(a.addr(), b.addr());
    assert_ne!(a.pid(), b.pid());
    for broker in [&a, &b] {
        let answer = broker.client().call(&ApiVersionsRequest::default(), 0);
        assert_eq!(answer.error_code, ErrorCode::NONE);
    }
}
