//! `dekaf groups delete-offsets` against a broker that has OffsetDelete (tansu does not): a
//! scripted broker on loopback answers Metadata, FindCoordinator and OffsetDelete, deleting
//! the offset of one partition and refusing the other for a subscribed group. The binary
//! sends one OffsetDelete with both partitions, prints what was deleted and what was refused,
//! and exits 1 for the partial failure; `--json` gives each partition's outcome.

use std::net::{SocketAddr, TcpListener};
use std::process::Command;
use std::sync::{Arc, Mutex};

use dekaf_proto::messages::find_coordinator::FindCoordinatorResponse;
use dekaf_proto::messages::metadata::{
    MetadataResponse, MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use dekaf_proto::messages::offset_delete::{
    OffsetDeleteRequest, OffsetDeleteResponse, OffsetDeleteResponsePartition,
    OffsetDeleteResponseTopic,
};
use dekaf_proto::{ApiKey, ErrorCode, Message};
use dekaf_tests::scripted::{fake, Conn};

const NODE: i32 = 1;
const TOPIC: &str = "orders";

/// The OffsetDelete requests the scripted broker received.
type Seen = Arc<Mutex<Vec<OffsetDeleteRequest>>>;

/// A one-broker cluster whose topic `orders` has partitions 0 and 1; OffsetDelete deletes
/// partition 0 and refuses partition 1 with GROUP_SUBSCRIBED_TO_TOPIC.
fn cluster() -> (SocketAddr, Seen) {
    let seen = Seen::default();
    let log = Arc::clone(&seen);
    let (addr, _) = fake(move |listener: TcpListener| {
        let addr = listener.local_addr().expect("address");
        // Every connection the client opens (bootstrap, broker, coordinator) on a thread.
        while let Ok(conn) = listener.try_clone() {
            let mut conn = Conn::accept(&conn);
            let log = Arc::clone(&log);
            std::thread::spawn(move || serve(&mut conn, addr, &log));
        }
    });
    (addr, seen)
}

fn serve(conn: &mut Conn, addr: SocketAddr, seen: &Seen) {
    conn.handshake(&[
        (ApiKey::ApiVersions, 0, 3),
        (ApiKey::Metadata, 0, 12),
        (ApiKey::FindCoordinator, 0, 3),
        (ApiKey::OffsetDelete, 0, 0),
    ]);
    let broker = MetadataResponseBroker {
        node_id: NODE,
        host: addr.ip().to_string(),
        port: i32::from(addr.port()),
        ..Default::default()
    };
    while let Some((header, body)) = conn.request() {
        match ApiKey::from_key(header.api_key) {
            Some(ApiKey::Metadata) => {
                let partition = |index| MetadataResponsePartition {
                    partition_index: index,
                    leader_id: NODE,
                    replica_nodes: vec![NODE],
                    isr_nodes: vec![NODE],
                    ..Default::default()
                };
                conn.respond(
                    &header,
                    &MetadataResponse {
                        brokers: vec![broker.clone()],
                        controller_id: NODE,
                        topics: vec![MetadataResponseTopic {
                            name: Some(TOPIC.into()),
                            partitions: vec![partition(0), partition(1)],
                            ..Default::default()
                        }],
                        ..Default::default()
                    },
                );
            }
            Some(ApiKey::FindCoordinator) => conn.respond(
                &header,
                &FindCoordinatorResponse {
                    node_id: NODE,
                    host: broker.host.clone(),
                    port: broker.port,
                    ..Default::default()
                },
            ),
            Some(ApiKey::OffsetDelete) => {
                let request = OffsetDeleteRequest::decode_exact(&body, header.api_version)
                    .expect("an OffsetDelete request");
                let topics = request
                    .topics
                    .iter()
                    .map(|t| OffsetDeleteResponseTopic {
                        name: t.name.clone(),
                        partitions: t
                            .partitions
                            .iter()
                            .map(|p| OffsetDeleteResponsePartition {
                                partition_index: p.partition_index,
                                error_code: if p.partition_index == 0 {
                                    ErrorCode::NONE
                                } else {
                                    ErrorCode::GROUP_SUBSCRIBED_TO_TOPIC
                                },
                                ..Default::default()
                            })
                            .collect(),
                        ..Default::default()
                    })
                    .collect();
                seen.lock().expect("lock").push(request);
                conn.respond(
                    &header,
                    &OffsetDeleteResponse {
                        topics,
                        ..Default::default()
                    },
                );
            }
            other => panic!("the scripted broker does not answer {other:?}"),
        }
    }
}

fn dekaf(addr: SocketAddr, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_dekaf"))
        .env_remove("DEKAF_BOOTSTRAP")
        .arg("--bootstrap-server")
        .arg(addr.to_string())
        .args(args)
        .output()
        .expect("run dekaf");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The partitions of each OffsetDelete the broker received, in order.
fn asked(seen: &Seen) -> Vec<(String, Vec<(String, i32)>)> {
    seen.lock()
        .expect("lock")
        .iter()
        .map(|r| {
            let mut parts: Vec<(String, i32)> = r
                .topics
                .iter()
                .flat_map(|t| {
                    t.partitions
                        .iter()
                        .map(|p| (t.name.clone(), p.partition_index))
                })
                .collect();
            parts.sort();
            (r.group_id.clone(), parts)
        })
        .collect()
}

#[test]
fn delete_offsets_deletes_what_the_coordinator_allows_and_reports_the_rest() {
    let (addr, seen) = cluster();
    let (code, stdout, stderr) = dekaf(
        addr,
        &["groups", "delete-offsets", "billing", "--topic", TOPIC],
    );
    assert_eq!(code, 1, "a partial failure: {stdout} {stderr}");
    assert!(
        stdout.contains("committed offsets of 1 partition(s) deleted"),
        "{stdout}"
    );
    assert!(
        stderr.starts_with("dekaf: error: orders-1: GROUP_SUBSCRIBED_TO_TOPIC")
            && stderr.lines().count() == 1,
        "one line naming the refused partition and why: {stderr}"
    );
    assert_eq!(
        asked(&seen),
        [(
            "billing".to_string(),
            vec![(TOPIC.to_string(), 0), (TOPIC.to_string(), 1)]
        )]
    );

    let (code, stdout, stderr) = dekaf(
        addr,
        &[
            "groups",
            "delete-offsets",
            "billing",
            "--topic",
            "orders:0",
            "--json",
        ],
    );
    assert_eq!(code, 0, "{stdout} {stderr}");
    let json: serde_json::Value = serde_json::from_str(&stdout).expect("JSON");
    assert_eq!(json["group"], "billing");
    assert_eq!(
        json["partitions"],
        serde_json::json!([{"topic": TOPIC, "partition": 0, "error": null}])
    );
    assert_eq!(asked(&seen).len(), 2);
    assert_eq!(asked(&seen)[1].1, [(TOPIC.to_string(), 0)]);
}
