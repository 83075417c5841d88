//! JoinGroup and SyncGroup frames as librdkafka sent them (and tansu answered them), and the
//! consumer-protocol blobs inside: decoded with dekaf's types and written again byte for byte.
//!
//! `tests/data/librdkafka/consumer_protocol/<scenario>/` holds one scenario each: a group of
//! two librdkafka consumers with the default assignor setting, `range`, `roundrobin` or
//! `cooperative-sticky` (see the README there). The ignored test [`regenerate`] records them
//! again (`cargo test -p dekaf-tests --test librdkafka_consumer_protocol -- --ignored`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use bytes::Bytes;
use dekaf_proto::consumer_protocol::{ConsumerProtocolAssignment, ConsumerProtocolSubscription};
use dekaf_proto::header::{response_header_version, RequestHeader, ResponseHeader};
use dekaf_proto::messages::{
    JoinGroupRequest, JoinGroupResponse, SyncGroupRequest, SyncGroupResponse,
};
use dekaf_proto::wire::Reader;
use dekaf_proto::{ApiKey, ErrorCode, Message};
use dekaf_tests::proxy::{Direction, Proxy};
use dekaf_tests::{Broker, Build, Engine};
use serde_json::{json, Value};

/// The scenarios, by the `--strategy` given to the script.
const SCENARIOS: [&str; 4] = ["default", "range", "roundrobin", "cooperative-sticky"];
const TOPIC: &str = "capture";
const GROUP: &str = "dekaf-capture";
const PARTITIONS: i32 = 3;

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("data/librdkafka/consumer_protocol")
}

/// One recorded frame, as listed in a scenario's `capture.json`.
#[derive(Debug, Clone)]
struct Captured {
    file: String,
    client_id: String,
    api: ApiKey,
    direction: Direction,
    version: i16,
    frame: Bytes,
}

/// A scenario's manifest and frames.
struct Scenario {
    name: String,
    manifest: Value,
    frames: Vec<Captured>,
}

fn load(name: &str) -> Scenario {
    let dir = data_dir().join(name);
    let path = dir.join("capture.json");
    let text =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    let manifest: Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("parse {}: {e}", path.display()));
    let frames = manifest["frames"]
        .as_array()
        .unwrap_or_else(|| panic!("{name}: no frames"))
        .iter()
        .map(|f| {
            let file = f["file"].as_str().expect("file").to_owned();
            let api = match f["api"].as_str() {
                Some("JoinGroup") => ApiKey::JoinGroup,
                Some("SyncGroup") => ApiKey::SyncGroup,
                other => panic!("{name}/{file}: api {other:?}"),
            };
            let direction = match f["direction"].as_str() {
                Some("request") => Direction::Request,
                Some("response") => Direction::Response,
                other => panic!("{name}/{file}: direction {other:?}"),
            };
            let frame = std::fs::read(dir.join(&file))
                .unwrap_or_else(|e| panic!("read {name}/{file}: {e}"));
            Captured {
                client_id: f["client_id"].as_str().expect("client_id").to_owned(),
                api,
                direction,
                version: f["version"].as_i64().expect("version") as i16,
                frame: Bytes::from(frame),
                file,
            }
        })
        .collect();
    Scenario {
        name: name.to_owned(),
        manifest,
        frames,
    }
}

/// Splits a frame into its header's correlation id and its body, checking the header.
fn body(c: &Captured) -> Bytes {
    let mut r = Reader::new(&c.frame);
    match c.direction {
        Direction::Request => {
            let h = RequestHeader::decode(&mut r).unwrap_or_else(|e| panic!("{}: {e}", c.file));
            assert_eq!(h.api_key, c.api.key(), "{}", c.file);
            assert_eq!(h.api_version, c.version, "{}", c.file);
            assert_eq!(
                h.client_id.as_deref(),
                Some(c.client_id.as_str()),
                "{}",
                c.file
            );
        }
        Direction::Response => {
            ResponseHeader::decode(&mut r, response_header_version(c.api, c.version))
                .unwrap_or_else(|e| panic!("{}: {e}", c.file));
        }
    }
    c.frame.slice(r.offset()..)
}

/// Decodes a message and checks that writing it again gives the same bytes.
fn exact<M: Message>(c: &Captured) -> M {
    let body = body(c);
    let m = M::decode_exact(&body, c.version).unwrap_or_else(|e| panic!("{}: {e}", c.file));
    let again = m
        .to_bytes(c.version)
        .unwrap_or_else(|e| panic!("{}: re-encode: {e}", c.file));
    assert_eq!(again, body, "{}: re-encoded bytes differ", c.file);
    m
}

/// Decodes a subscription blob and checks it re-encodes byte for byte in its own version.
fn subscription(blob: &Bytes, what: &str) -> (i16, ConsumerProtocolSubscription) {
    let (version, s) = ConsumerProtocolSubscription::decode_versioned(blob)
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    let again = s
        .encode_version(version)
        .unwrap_or_else(|e| panic!("{what}: re-encode: {e}"));
    assert_eq!(
        &again, blob,
        "{what}: subscription v{version} re-encoded differently"
    );
    (version, s)
}

/// Decodes an assignment blob and checks it re-encodes byte for byte in its own version.
fn assignment(blob: &Bytes, what: &str) -> (i16, ConsumerProtocolAssignment) {
    let (version, a) = ConsumerProtocolAssignment::decode_versioned(blob)
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    let again = a
        .encode_version(version)
        .unwrap_or_else(|e| panic!("{what}: re-encode: {e}"));
    assert_eq!(
        &again, blob,
        "{what}: assignment v{version} re-encoded differently"
    );
    (version, a)
}

/// Makes the captures again: for each scenario a fresh tansu build W behind a recording
/// proxy, and the Python script's two consumers pointed at the proxy.
#[test]
#[ignore = "needs tansu build W and confluent-kafka; rewrites tests/data/librdkafka/consumer_protocol"]
fn regenerate() {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/capture_group.py");
    for scenario in SCENARIOS {
        let listener = Proxy::bind().unwrap();
        let advertised = listener.local_addr().unwrap();
        let broker = Broker::start_advertising(Build::W, Engine::Memory, advertised)
            .expect("regenerating needs tansu build W");
        let proxy = Proxy::start(
            listener,
            broker.addr(),
            &[ApiKey::JoinGroup, ApiKey::SyncGroup],
        );
        let out = Command::new("python3")
            .arg(&script)
            .args(["--bootstrap", &proxy.addr().to_string()])
            .args(["--topic", TOPIC, "--group", GROUP, "--strategy", scenario])
            .output()
            .expect("run python3");
        assert!(
            out.status.success(),
            "{} {scenario} failed: {}\n{}",
            script.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        let line = stdout.lines().last().expect("the script's summary line");
        let mut manifest: Value = serde_json::from_str(line).expect("a JSON summary");
        drop(broker);
        let frames = proxy.frames();
        drop(proxy);

        let dir = data_dir().join(scenario);
        if dir.exists() {
            std::fs::remove_dir_all(&dir).unwrap();
        }
        std::fs::create_dir_all(&dir).unwrap();
        let mut listed = Vec::new();
        for (i, f) in frames.iter().enumerate() {
            let client_id = f.client_id.clone().unwrap_or_default();
            let who = client_id.trim_start_matches("dekaf-capture-");
            let (api, short) = match f.api_key {
                ApiKey::JoinGroup => ("JoinGroup", "join"),
                _ => ("SyncGroup", "sync"),
            };
            let direction = match f.direction {
                Direction::Request => "request",
                Direction::Response => "response",
            };
            let file = format!("{i:02}-{who}-{short}-{direction}.bin");
            std::fs::write(dir.join(&file), &f.frame).unwrap();
            listed.push(json!({
                "file": file,
                "client_id": client_id,
                "api": api,
                "direction": direction,
                "version": f.api_version,
            }));
        }
        manifest["topic"] = json!(TOPIC);
        manifest["group"] = json!(GROUP);
        manifest["frames"] = Value::Array(listed);
        let text = serde_json::to_string_pretty(&manifest).unwrap() + "\n";
        std::fs::write(dir.join("capture.json"), text).unwrap();
        println!("{scenario}: {} frames -> {}", frames.len(), dir.display());
        check(&load(scenario));
    }
}

/// What a scenario's capture shows, once every frame has been checked.
#[derive(Debug, Default)]
struct Outcome {
    /// The protocol names of every JoinGroup request, in the order sent.
    protocol_lists: BTreeSet<Vec<String>>,
    /// The protocol the broker chose.
    chosen: BTreeSet<String>,
    /// Each consumer's partitions after its first and its last successful SyncGroup.
    first: BTreeMap<String, Vec<i32>>,
    last: BTreeMap<String, Vec<i32>>,
    /// Versions seen: JoinGroup, SyncGroup, subscription blobs, assignment blobs.
    versions: BTreeSet<(&'static str, i16)>,
    /// Subscriptions that named owned partitions, as (generation, partitions).
    owned: Vec<(i32, Vec<i32>)>,
}

/// Per consumer, what it holds, as the frames tell.
#[derive(Debug, Default)]
struct Member {
    member_id: String,
    generation: i32,
    /// Partitions from the last successful SyncGroup, and the generation they came with.
    owned: Vec<i32>,
    owned_generation: Option<i32>,
}

/// The partitions of `topic` in an assignment, sorted.
fn partitions(a: &ConsumerProtocolAssignment, what: &str) -> Vec<i32> {
    let mut out = Vec::new();
    for tp in &a.assigned_partitions {
        assert_eq!(tp.topic, TOPIC, "{what}: topic");
        out.extend(&tp.partitions);
    }
    out.sort_unstable();
    out
}

/// librdkafka's sticky assignors also put the owned partitions and their generation in the
/// subscription's user data, in the layout of Java's `StickyAssignorUserData` v1: an array of
/// (topic, partitions) then an int32 generation.
fn sticky_user_data(data: &Bytes, what: &str) -> (Vec<i32>, i32) {
    const W: &str = "sticky user data";
    let mut r = Reader::new(data);
    let mut out = Vec::new();
    let topics = r.i32(W).unwrap_or_else(|e| panic!("{what}: {e}"));
    for _ in 0..topics {
        let len = r.i16(W).unwrap_or_else(|e| panic!("{what}: {e}"));
        let name = r
            .slice(len as usize, W)
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!(name, TOPIC.as_bytes(), "{what}: topic");
        let n = r.i32(W).unwrap_or_else(|e| panic!("{what}: {e}"));
        for _ in 0..n {
            out.push(r.i32(W).unwrap());
        }
    }
    let generation = r.i32(W).unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(r.is_empty(), "{what}: bytes after the generation");
    out.sort_unstable();
    (out, generation)
}

/// Everything the normal tests check for one scenario, in the order the frames were seen.
fn check(s: &Scenario) -> Outcome {
    let mut out = Outcome::default();
    let mut members: BTreeMap<String, Member> = BTreeMap::new();
    // Each member's subscription in its latest JoinGroup request, by protocol.
    let mut subscribed: BTreeMap<String, BTreeMap<String, Bytes>> = BTreeMap::new();
    // What the leader gave each member, by (generation, member id).
    let mut assigned: BTreeMap<(i32, String), Bytes> = BTreeMap::new();
    let mut leader_generations = BTreeSet::new();

    for c in &s.frames {
        let what = format!("{}/{}", s.name, c.file);
        let me = members.entry(c.client_id.clone()).or_default();
        match (c.api, c.direction) {
            (ApiKey::JoinGroup, Direction::Request) => {
                let m: JoinGroupRequest = exact(c);
                out.versions.insert(("JoinGroup", c.version));
                assert_eq!(m.group_id, GROUP, "{what}");
                assert_eq!(m.protocol_type, "consumer", "{what}");
                assert_eq!(m.session_timeout_ms, 6000, "{what}");
                assert_eq!(m.member_id, me.member_id, "{what}: member id");
                out.protocol_lists
                    .insert(m.protocols.iter().map(|p| p.name.clone()).collect());
                let first = &m.protocols.first().expect("a protocol").metadata;
                let mut by_protocol = BTreeMap::new();
                for p in &m.protocols {
                    // Every protocol offered carries the same subscription.
                    assert_eq!(&p.metadata, first, "{what}: {} metadata", p.name);
                    let (version, sub) = subscription(&p.metadata, &what);
                    out.versions.insert(("Subscription", version));
                    assert_eq!(sub.topics, [TOPIC], "{what}: topics");
                    assert_eq!(sub.rack_id.as_deref(), Some(""), "{what}: rack");
                    let owned: Vec<i32> = sub
                        .owned_partitions
                        .iter()
                        .inspect(|tp| assert_eq!(tp.topic, TOPIC, "{what}"))
                        .flat_map(|tp| tp.partitions.iter().copied())
                        .collect();
                    if owned.is_empty() {
                        // Eager assignors give everything up before joining again.
                        assert_eq!(sub.generation_id, -1, "{what}: generation");
                        assert_eq!(sub.user_data.as_deref(), Some(&b""[..]), "{what}");
                    } else {
                        assert_eq!(owned, me.owned, "{what}: owned partitions");
                        assert_eq!(Some(sub.generation_id), me.owned_generation, "{what}");
                        let user_data = sub.user_data.clone().expect("sticky user data");
                        assert_eq!(
                            sticky_user_data(&user_data, &what),
                            (owned.clone(), sub.generation_id),
                            "{what}: sticky user data"
                        );
                        out.owned.push((sub.generation_id, owned));
                    }
                    by_protocol.insert(p.name.clone(), p.metadata.clone());
                }
                subscribed.insert(c.client_id.clone(), by_protocol);
            }
            (ApiKey::JoinGroup, Direction::Response) => {
                let m: JoinGroupResponse = exact(c);
                out.versions.insert(("JoinGroup", c.version));
                let prefix = format!("{}-", c.client_id);
                assert!(m.member_id.starts_with(&prefix), "{what}: {}", m.member_id);
                if m.error_code == ErrorCode::MEMBER_ID_REQUIRED {
                    // The first join only learns its member id (KIP-394).
                    assert!(me.member_id.is_empty(), "{what}");
                    assert!(m.members.is_empty(), "{what}");
                    me.member_id = m.member_id;
                    continue;
                }
                assert_eq!(m.error_code, ErrorCode::NONE, "{what}");
                assert_eq!(m.member_id, me.member_id, "{what}");
                me.generation = m.generation_id;
                let protocol = m.protocol_name.clone().expect("a chosen protocol");
                out.chosen.insert(protocol.clone());
                if m.leader == m.member_id {
                    leader_generations.insert(m.generation_id);
                    // The leader sees each member's subscription as that member sent it.
                    for member in &m.members {
                        let client = subscribed
                            .keys()
                            .find(|k| member.member_id.starts_with(&format!("{k}-")))
                            .unwrap_or_else(|| panic!("{what}: who is {}", member.member_id));
                        let sent = &subscribed[client][&protocol];
                        assert_eq!(&member.metadata, sent, "{what}: {client}'s metadata");
                        subscription(&member.metadata, &what);
                    }
                } else {
                    assert!(m.members.is_empty(), "{what}: a follower sees no members");
                }
            }
            (ApiKey::SyncGroup, Direction::Request) => {
                let m: SyncGroupRequest = exact(c);
                out.versions.insert(("SyncGroup", c.version));
                assert_eq!(m.group_id, GROUP, "{what}");
                assert_eq!(m.member_id, me.member_id, "{what}");
                assert_eq!(m.generation_id, me.generation, "{what}");
                if m.assignments.is_empty() {
                    continue;
                }
                assert!(
                    leader_generations.contains(&m.generation_id),
                    "{what}: leader"
                );
                let mut all = Vec::new();
                for a in &m.assignments {
                    let (version, body) = assignment(&a.assignment, &what);
                    out.versions.insert(("Assignment", version));
                    all.extend(partitions(&body, &what));
                    assigned.insert((m.generation_id, a.member_id.clone()), a.assignment.clone());
                }
                // No partition goes to two members.
                all.sort_unstable();
                let before = all.len();
                all.dedup();
                assert_eq!(all.len(), before, "{what}: a partition assigned twice");
                assert!(all.iter().all(|p| (0..PARTITIONS).contains(p)), "{what}");
            }
            (ApiKey::SyncGroup, Direction::Response) => {
                let m: SyncGroupResponse = exact(c);
                out.versions.insert(("SyncGroup", c.version));
                if m.error_code == ErrorCode::REBALANCE_IN_PROGRESS {
                    assert!(m.assignment.is_empty(), "{what}");
                    continue;
                }
                assert_eq!(m.error_code, ErrorCode::NONE, "{what}");
                // Exactly what the leader sent for this member in this generation.
                let sent = assigned
                    .get(&(me.generation, me.member_id.clone()))
                    .unwrap_or_else(|| panic!("{what}: nothing assigned"));
                assert_eq!(&m.assignment, sent, "{what}");
                let (_, body) = assignment(&m.assignment, &what);
                // librdkafka hands each member its own subscription's user data back.
                let own = &subscribed[&c.client_id];
                let (_, sub) = subscription(own.values().next().expect("subscribed"), &what);
                assert_eq!(body.user_data, sub.user_data, "{what}: user data echoed");
                me.owned = partitions(&body, &what);
                me.owned_generation = Some(me.generation);
                out.first
                    .entry(c.client_id.clone())
                    .or_insert_with(|| me.owned.clone());
                out.last.insert(c.client_id.clone(), me.owned.clone());
            }
            _ => unreachable!("only JoinGroup and SyncGroup are recorded"),
        }
    }

    // librdkafka's own view of the assignment agrees with the bytes.
    let seen = |key: &str| -> BTreeMap<String, Vec<i32>> {
        serde_json::from_value(s.manifest[key].clone()).expect("assignments in capture.json")
    };
    let alone = seen("assigned_alone");
    assert_eq!(
        alone["dekaf-capture-a"], out.first["dekaf-capture-a"],
        "{}",
        s.name
    );
    assert_eq!(seen("assigned_shared"), out.last, "{}", s.name);
    out
}

fn assert_common(o: &Outcome) {
    // librdkafka 2.16 against tansu: JoinGroup v5 and SyncGroup v3 on the wire, subscriptions
    // in version 3 (with rack id), assignments in version 0.
    let want: BTreeSet<(&str, i16)> = [
        ("JoinGroup", 5),
        ("SyncGroup", 3),
        ("Subscription", 3),
        ("Assignment", 0),
    ]
    .into();
    assert_eq!(o.versions, want);
    assert_eq!(o.first["dekaf-capture-a"], [0, 1, 2]);
}

fn names(list: &[&str]) -> BTreeSet<Vec<String>> {
    [list.iter().map(|s| s.to_string()).collect()].into()
}

#[test]
fn default_assignors_offer_range_then_roundrobin() {
    let o = check(&load("default"));
    assert_common(&o);
    // What a librdkafka consumer offers when left alone, in this order: a dekaf member joining
    // such a group must offer one of these to be accepted.
    assert_eq!(o.protocol_lists, names(&["range", "roundrobin"]));
    assert_eq!(o.chosen, ["range".to_string()].into());
    assert_eq!(o.last["dekaf-capture-a"], [0, 1]);
    assert_eq!(o.last["dekaf-capture-b"], [2]);
    assert!(o.owned.is_empty());
}

#[test]
fn range() {
    let o = check(&load("range"));
    assert_common(&o);
    assert_eq!(o.protocol_lists, names(&["range"]));
    // Members sorted by member id (which starts with the client id): a gets the first two.
    assert_eq!(o.last["dekaf-capture-a"], [0, 1]);
    assert_eq!(o.last["dekaf-capture-b"], [2]);
    assert!(o.owned.is_empty());
}

#[test]
fn roundrobin() {
    let o = check(&load("roundrobin"));
    assert_common(&o);
    assert_eq!(o.protocol_lists, names(&["roundrobin"]));
    assert_eq!(o.last["dekaf-capture-a"], [0, 2]);
    assert_eq!(o.last["dekaf-capture-b"], [1]);
    assert!(o.owned.is_empty());
}

#[test]
fn cooperative_sticky_names_owned_partitions() {
    let o = check(&load("cooperative-sticky"));
    assert_common(&o);
    assert_eq!(o.protocol_lists, names(&["cooperative-sticky"]));
    assert_eq!(o.last["dekaf-capture-a"], [1, 2]);
    assert_eq!(o.last["dekaf-capture-b"], [0]);
    // a rejoins owning everything (tansu's first generation is 0, Kafka's is 1), gives up
    // partition 0 in one generation, and b gets it in the next.
    assert_eq!(o.owned, [(0, vec![0, 1, 2]), (1, vec![1, 2])]);
}
