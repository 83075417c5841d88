//! The demo: dekaf-proto over a plain blocking `TcpStream`, against a running broker.
//!
//! `cargo xtask demo` starts a broker and runs this with its address; by hand:
//! `cargo run -p dekaf-tests --example demo -- 127.0.0.1:9092`.
//!
//! Each step is one request and its answer, in the highest version both sides speak: which
//! APIs the broker offers, a new topic, where its partitions live, a few records written and
//! read back, and the offsets at both ends of the partition.

use std::net::SocketAddr;
use std::process::ExitCode;

use bytes::Bytes;
use dekaf_proto::messages::create_topics::CreatableTopic;
use dekaf_proto::messages::fetch::{FetchPartition, FetchTopic};
use dekaf_proto::messages::list_offsets::{ListOffsetsPartition, ListOffsetsTopic};
use dekaf_proto::messages::metadata::MetadataRequestTopic;
use dekaf_proto::messages::produce::{PartitionProduceData, TopicProduceData};
use dekaf_proto::messages::{
    supported_versions, ApiVersionsRequest, CreateTopicsRequest, FetchRequest, ListOffsetsRequest,
    MetadataRequest, ProduceRequest, IMPLEMENTED,
};
use dekaf_proto::records::{OwnedHeader, RecordBatchBuilder, RecordBatches};
use dekaf_proto::version::BrokerVersions;
use dekaf_proto::wire::Uuid;
use dekaf_proto::{ApiKey, ErrorCode, Request};
use dekaf_tests::Client;

/// The partition the demo writes to and reads from.
const PARTITION: i32 = 0;

fn main() -> ExitCode {
    let Some(addr) = std::env::args().nth(1) else {
        eprintln!("usage: demo HOST:PORT");
        return ExitCode::FAILURE;
    };
    let addr: SocketAddr = match addr.parse() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("not an address {addr}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut client = match Client::connect(addr) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("cannot connect to {addr}: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("connected to {addr}");
    let versions = api_versions(&mut client);
    negotiate(&versions);
    match run(&mut client, &versions) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("\ndemo failed: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The topic, produce, fetch and offset steps.
fn run(client: &mut Client, versions: &BrokerVersions) -> Result<(), String> {
    let topic = format!("dekaf-demo-{}", std::process::id());
    let topic_id = create_topic(client, versions, &topic)?;
    metadata(client, versions, &topic)?;
    produce(client, versions, &topic)?;
    let high_watermark = fetch(client, versions, &topic, topic_id)?;
    list_offsets(client, versions, &topic, high_watermark)
}

/// The version of `R` to send: the highest both the broker and dekaf support.
fn version_of<R: Request>(versions: &BrokerVersions) -> Result<i16, String> {
    versions.pick(R::SPEC.api_key).map_err(|e| e.to_string())
}

/// `Ok` for error code NONE, else the error with what was being done.
fn check(code: ErrorCode, what: &str) -> Result<(), String> {
    code.into_result().map_err(|e| format!("{what}: {e}"))
}

/// Bytes as text when they are printable UTF-8, else as hex; `null` for none.
fn show(bytes: Option<&[u8]>) -> String {
    match bytes {
        None => "null".into(),
        Some(b) => match std::str::from_utf8(b) {
            Ok(s) if !s.chars().any(char::is_control) => format!("{s:?}"),
            _ => b.iter().map(|x| format!("{x:02x}")).collect(),
        },
    }
}

/// Asks which APIs the broker speaks, in the newest ApiVersions both sides know.
fn api_versions(client: &mut Client) -> BrokerVersions {
    let request = ApiVersionsRequest {
        client_software_name: "dekaf-demo".into(),
        client_software_version: env!("CARGO_PKG_VERSION").into(),
        ..Default::default()
    };
    let response = client.call(&request, 3);
    println!(
        "\nApiVersions v3: error {}, {} APIs offered",
        response.error_code,
        response.api_keys.len()
    );
    let mut keys = response.api_keys.clone();
    keys.sort_by_key(|k| k.api_key);
    for k in &keys {
        let name = ApiKey::from_key(k.api_key).map_or("(unknown)", ApiKey::name);
        println!(
            "  {:>3} {name:<28} v{}..=v{}",
            k.api_key, k.min_version, k.max_version
        );
    }
    BrokerVersions::from_response(&response)
}

/// Shows the version dekaf will use for each API it implements.
fn negotiate(versions: &BrokerVersions) {
    println!("\nnegotiated versions:");
    for &api in IMPLEMENTED {
        let ours = supported_versions(api).unwrap_or((0, -1));
        match versions.pick(api) {
            Ok(v) => println!(
                "  {:<28} v{v} (dekaf v{}..=v{})",
                api.name(),
                ours.0,
                ours.1
            ),
            Err(e) => println!("  {:<28} none: {e}", api.name()),
        }
    }
}

/// Creates the demo's topic with three partitions; the broker gives it an id.
fn create_topic(
    client: &mut Client,
    versions: &BrokerVersions,
    topic: &str,
) -> Result<Uuid, String> {
    let v = version_of::<CreateTopicsRequest>(versions)?;
    let request = CreateTopicsRequest {
        topics: vec![CreatableTopic {
            name: topic.into(),
            num_partitions: 3,
            replication_factor: 1,
            ..Default::default()
        }],
        timeout_ms: 10_000,
        ..Default::default()
    };
    let response = client.call(&request, v);
    let created = response
        .topics
        .first()
        .ok_or("CreateTopics: empty answer")?;
    check(created.error_code, "CreateTopics")?;
    println!(
        "\nCreateTopics v{v}: {topic:?} created with {} partitions, id {}",
        created.num_partitions, created.topic_id
    );
    Ok(created.topic_id)
}

/// Asks where the topic's partitions live: a client sends produce and fetch requests to
/// each partition's leader.
fn metadata(client: &mut Client, versions: &BrokerVersions, topic: &str) -> Result<(), String> {
    let v = version_of::<MetadataRequest>(versions)?;
    let request = MetadataRequest {
        topics: Some(vec![MetadataRequestTopic {
            name: Some(topic.into()),
            ..Default::default()
        }]),
        allow_auto_topic_creation: false,
        ..Default::default()
    };
    let response = client.call(&request, v);
    println!("\nMetadata v{v}: the cluster and the topic");
    for b in &response.brokers {
        println!("  broker {} at {}:{}", b.node_id, b.host, b.port);
    }
    for t in &response.topics {
        check(t.error_code, "Metadata")?;
        for p in &t.partitions {
            println!(
                "  partition {} led by broker {} (leader epoch {})",
                p.partition_index, p.leader_id, p.leader_epoch
            );
        }
    }
    Ok(())
}

/// Writes two record batches to one partition and waits for every replica (acks = -1): keys,
/// headers (one with a null value), a null value (a tombstone: "delete user-1" on a compacted
/// topic) and a record without a key.
fn produce(client: &mut Client, versions: &BrokerVersions, topic: &str) -> Result<(), String> {
    let v = version_of::<ProduceRequest>(versions)?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(0));
    let text = |s: &'static str| Some(Bytes::from_static(s.as_bytes()));
    let mut first = RecordBatchBuilder::new();
    first
        .append(
            now,
            text("user-1"),
            text("signed up"),
            vec![OwnedHeader::new("source", text("web"))],
        )
        .append(
            now + 10,
            text("user-2"),
            text("signed up"),
            vec![
                OwnedHeader::new("source", text("app")),
                OwnedHeader::new("trace", None),
            ],
        )
        .append(now + 20, text("user-1"), None, vec![]);
    let mut second = RecordBatchBuilder::new();
    second.append(now + 30, None, text("a record without a key"), vec![]);
    println!("\nProduce v{v}: two batches to partition {PARTITION} (acks = -1)");
    for batch in [first, second] {
        let records = batch.build().map_err(|e| e.to_string())?;
        let request = ProduceRequest {
            acks: -1,
            timeout_ms: 10_000,
            topic_data: vec![TopicProduceData {
                name: topic.into(),
                partition_data: vec![PartitionProduceData {
                    index: PARTITION,
                    records: Some(records.clone()),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        };
        let response = client.call(&request, v);
        let p = response
            .responses
            .first()
            .and_then(|t| t.partition_responses.first())
            .ok_or("Produce: empty answer")?;
        check(p.error_code, "Produce")?;
        println!(
            "  {} record(s) ({} bytes) stored from offset {}",
            batch.len(),
            records.len(),
            p.base_offset
        );
    }
    Ok(())
}

/// Reads the partition from offset 0 and prints every record; returns the high watermark.
fn fetch(
    client: &mut Client,
    versions: &BrokerVersions,
    topic: &str,
    topic_id: Uuid,
) -> Result<i64, String> {
    let v = version_of::<FetchRequest>(versions)?;
    let request = FetchRequest {
        max_wait_ms: 500,
        min_bytes: 1,
        topics: vec![FetchTopic {
            // From Fetch v13 on, topics go by id; before, by name.
            topic: topic.into(),
            topic_id,
            partitions: vec![FetchPartition {
                partition: PARTITION,
                fetch_offset: 0,
                partition_max_bytes: 1 << 20,
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    };
    let response = client.call(&request, v);
    check(response.error_code, "Fetch")?;
    let p = response
        .responses
        .first()
        .and_then(|t| t.partitions.first())
        .ok_or("Fetch: empty answer")?;
    check(p.error_code, "Fetch")?;
    let blob = p.records.clone().unwrap_or_default();
    println!(
        "\nFetch v{v}: {} bytes of record batches; high watermark {}",
        blob.len(),
        p.high_watermark
    );
    for batch in RecordBatches::new(blob) {
        let batch = batch.map_err(|e| format!("Fetch: bad batch: {e}"))?;
        println!(
            "  batch at offset {}, {} records, {:?} compression",
            batch.base_offset(),
            batch.records_count(),
            batch.compression()
        );
        for record in batch.records() {
            let r = record.map_err(|e| format!("Fetch: bad record: {e}"))?;
            let headers: Vec<String> = r
                .headers()
                .map(|h| format!("{}={}", show(Some(h.key())), show(h.value())))
                .collect();
            println!(
                "    offset {}  time {}  key {}  value {}  headers [{}]",
                r.offset(),
                r.timestamp(),
                show(r.key()),
                show(r.value()),
                headers.join(", ")
            );
        }
    }
    Ok(p.high_watermark)
}

/// Asks for the partition's first offset and the offset the next record will get.
fn list_offsets(
    client: &mut Client,
    versions: &BrokerVersions,
    topic: &str,
    high_watermark: i64,
) -> Result<(), String> {
    let v = version_of::<ListOffsetsRequest>(versions)?;
    println!("\nListOffsets v{v}: the ends of partition {PARTITION}");
    for (name, timestamp) in [("earliest", -2), ("latest", -1)] {
        let request = ListOffsetsRequest {
            replica_id: -1,
            topics: vec![ListOffsetsTopic {
                name: topic.into(),
                partitions: vec![ListOffsetsPartition {
                    partition_index: PARTITION,
                    timestamp,
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        };
        let response = client.call(&request, v);
        let p = response
            .topics
            .first()
            .and_then(|t| t.partitions.first())
            .ok_or("ListOffsets: empty answer")?;
        check(p.error_code, "ListOffsets")?;
        println!("  {name:<8} offset {}", p.offset);
        if timestamp == -1 && p.offset != high_watermark {
            // tansu's memory engine answers the last batch's base offset + 1.
            println!("  (Kafka would say {high_watermark}, the high watermark)");
        }
    }
    Ok(())
}
