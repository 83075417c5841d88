//! A broker made of fuzz input: for each request, an answer a broker could plausibly give —
//! the request's own topics, partitions and member ids mirrored back, with error codes,
//! offsets, epochs, assignments and record batches chosen by the input.
//!
//! It keeps a little state so that answers hang together across requests (partition counts,
//! leaders and leader epochs, log ends, generations, producer ids), and changes it now and
//! then as a cluster would.

use std::collections::{BTreeMap, BTreeSet};

use bytes::Bytes;
use dekaf_proto::messages::find_coordinator::Coordinator;
use dekaf_proto::messages::metadata::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use dekaf_proto::messages::{
    FindCoordinatorRequest, FindCoordinatorResponse, MetadataRequest, MetadataResponse,
    RequestBody, ResponseBody,
};
use dekaf_proto::wire::Uuid;
use dekaf_proto::ErrorCode;

use crate::log::Partition;
use dekaf_state::client::BrokerId;
use dekaf_state::fuzz::Input;

/// The brokers of the fuzzed cluster.
pub(crate) const BROKERS: [BrokerId; 3] = [1, 2, 3];

/// What the fake cluster remembers between answers.
#[derive(Debug)]
pub(crate) struct World {
    /// Topic names and partition counts.
    pub(crate) topics: BTreeMap<String, i32>,
    /// Leader and leader epoch per partition.
    pub(crate) leaders: BTreeMap<(String, i32), (BrokerId, i32)>,
    /// The next offset per partition, for Produce answers.
    pub(crate) log_end: BTreeMap<(String, i32), i64>,
    /// The logs consumers read, created when first asked about.
    pub(crate) logs: BTreeMap<(String, i32), Partition>,
    /// Partitions that got a fetch answer made of raw or damaged bytes: what a consumer hands
    /// out of them need not match their log.
    pub(crate) tainted: BTreeSet<(String, i32)>,
    /// Every partition is tainted (topic ids were mixed up).
    pub(crate) all_tainted: bool,
    /// The group coordinator and the transaction coordinator.
    pub(crate) coordinators: [BrokerId; 2],
    /// The classic generation or the consumer-protocol group epoch.
    pub(crate) generation: i32,
    pub(crate) next_member: u32,
    pub(crate) producer_id: i64,
    pub(crate) producer_epoch: i16,
}

impl World {
    pub(crate) fn new(topics: &[(&str, i32)]) -> Self {
        World {
            topics: topics.iter().map(|(t, n)| (t.to_string(), *n)).collect(),
            leaders: BTreeMap::new(),
            log_end: BTreeMap::new(),
            logs: BTreeMap::new(),
            tainted: BTreeSet::new(),
            all_tainted: false,
            coordinators: [1, 1],
            generation: 0,
            next_member: 0,
            producer_id: 1000,
            producer_epoch: -1,
        }
    }

    /// The leader and leader epoch of a partition (a stable default until moved).
    pub(crate) fn leader(&mut self, topic: &str, p: i32) -> (BrokerId, i32) {
        let default = BROKERS[usize::try_from(p.rem_euclid(3)).unwrap_or(0)];
        *self
            .leaders
            .entry((topic.to_string(), p))
            .or_insert((default, 0))
    }

    /// Moves a partition's leader and bumps its epoch.
    pub(crate) fn move_leader(&mut self, input: &mut Input<'_>, topic: &str, p: i32) {
        let (_, epoch) = self.leader(topic, p);
        let to = *input.pick(&BROKERS).unwrap_or(&1);
        self.leaders
            .insert((topic.to_string(), p), (to, epoch.saturating_add(1)));
    }

    /// The log of a partition, started at a small offset the input picks.
    pub(crate) fn log(&mut self, input: &mut Input<'_>, topic: &str, p: i32) -> &mut Partition {
        let (leader, _) = self.leader(topic, p);
        self.logs
            .entry((topic.to_string(), p))
            .or_insert_with(|| Partition::starting_at(leader, i64::from(input.byte() % 8)))
    }

    /// Notes an answer made of raw or damaged bytes: the partitions of a fetch get records
    /// that are not from their log; metadata that gives a topic another topic's id makes the
    /// consumer fetch one topic for the other, so no log can be trusted after it.
    pub(crate) fn taint(&mut self, request: &RequestBody, response: &ResponseBody) {
        match (request, response) {
            (RequestBody::Fetch(req), _) => {
                for t in &req.topics {
                    let name = topic_name(self, t.topic_id).unwrap_or_else(|| t.topic.clone());
                    for p in &t.partitions {
                        self.tainted.insert((name.clone(), p.partition));
                    }
                }
            }
            (_, ResponseBody::Metadata(resp)) => {
                let confused = resp.topics.iter().any(|t| {
                    t.name.as_ref().is_some_and(|name| {
                        topic_name(self, t.topic_id).is_some_and(|other| other != *name)
                    })
                });
                self.all_tainted |= confused;
            }
            _ => {}
        }
    }

    pub(crate) fn new_member_id(&mut self) -> String {
        self.next_member += 1;
        format!("member-{}", self.next_member)
    }

    /// The partitions of the known topics, some of them (by the input).
    pub(crate) fn some_partitions(&self, input: &mut Input<'_>) -> Vec<(String, i32)> {
        let mut out = Vec::new();
        for (topic, n) in &self.topics {
            for p in 0..(*n).clamp(0, 8) {
                if input.byte() < 160 {
                    out.push((topic.clone(), p));
                }
            }
        }
        if input.chance(8) {
            out.push(("fuzz-unknown".to_string(), 0));
        }
        out
    }
}

/// The id the fake cluster gives a topic: fixed per name, never zero.
pub(crate) fn topic_id(name: &str) -> Uuid {
    let mut id = [0u8; 16];
    for (i, b) in name.bytes().enumerate() {
        id[i % 16] = id[i % 16].wrapping_mul(31).wrapping_add(b);
    }
    id[15] |= 1;
    Uuid(id)
}

/// The name of a topic id, if the cluster knows the topic.
pub(crate) fn topic_name(world: &World, id: Uuid) -> Option<String> {
    world.topics.keys().find(|t| topic_id(t) == id).cloned()
}

/// An error code: mostly none, else one of `usual` for this answer, now and then any code.
pub(crate) fn code(input: &mut Input<'_>, usual: &[ErrorCode]) -> ErrorCode {
    match input.byte() {
        0..=179 => ErrorCode::NONE,
        180..=243 => input.pick(usual).copied().unwrap_or(ErrorCode::NONE),
        244..=251 => input
            .pick(ErrorCode::ALL)
            .copied()
            .unwrap_or(ErrorCode::NONE),
        _ => ErrorCode(input.u16() as i16),
    }
}

/// The code of one partition of an answer whose coordinator error (`whole`) goes on every
/// partition alike; None (now and then) leaves the partition out of the answer.
pub(crate) fn partition_code(
    input: &mut Input<'_>,
    whole: ErrorCode,
    usual: &[ErrorCode],
) -> Option<ErrorCode> {
    if input.chance(4) {
        return None;
    }
    Some(if whole.is_ok() {
        code(input, usual)
    } else {
        whole
    })
}

/// A broker's host name.
pub(crate) fn host(id: BrokerId) -> String {
    format!("broker-{id}")
}

/// A broker's port.
pub(crate) fn port(id: BrokerId) -> i32 {
    9092 + id
}

/// A plausible answer to `body`, sent in `version`; `None` for an API this broker does not
/// know (the driver then drops the connection).
pub(crate) fn answer(
    world: &mut World,
    input: &mut Input<'_>,
    body: &RequestBody,
    version: i16,
) -> Option<ResponseBody> {
    Some(match body {
        RequestBody::Metadata(r) => metadata(world, input, r, version).into(),
        RequestBody::FindCoordinator(r) => find_coordinator(world, input, r, version).into(),
        RequestBody::OffsetCommit(r) => super::groups::offset_commit(input, r).into(),
        RequestBody::OffsetFetch(r) => super::groups::offset_fetch(world, input, r, version).into(),
        RequestBody::JoinGroup(r) => super::groups::join_group(world, input, r, version).into(),
        RequestBody::SyncGroup(r) => super::groups::sync_group(world, input, r, version).into(),
        RequestBody::Heartbeat(_) => super::groups::heartbeat(input).into(),
        RequestBody::LeaveGroup(r) => super::groups::leave_group(input, r, version).into(),
        RequestBody::ConsumerGroupHeartbeat(r) => {
            super::groups::consumer_heartbeat(world, input, r).into()
        }
        RequestBody::ListOffsets(r) => super::leader::list_offsets(world, input, r, version).into(),
        RequestBody::Fetch(r) => super::leader::fetch(world, input, r, version).into(),
        RequestBody::OffsetForLeaderEpoch(r) => super::leader::epochs(world, input, r).into(),
        RequestBody::Produce(r) => super::leader::produce(world, input, r, version).into(),
        RequestBody::InitProducerId(r) => super::txns::init_producer_id(world, input, r).into(),
        RequestBody::AddPartitionsToTxn(r) => super::txns::add_partitions(input, r).into(),
        RequestBody::AddOffsetsToTxn(_) => super::txns::add_offsets(input).into(),
        RequestBody::TxnOffsetCommit(r) => super::txns::txn_offset_commit(input, r).into(),
        RequestBody::EndTxn(r) => super::txns::end_txn(world, input, r, version).into(),
        _ => return None,
    })
}

fn metadata(
    world: &mut World,
    input: &mut Input<'_>,
    req: &MetadataRequest,
    version: i16,
) -> MetadataResponse {
    // The cluster changes now and then: a topic grows, a leader moves.
    if input.chance(24) {
        if let Some(t) = input.pick(&world.topics.keys().cloned().collect::<Vec<_>>()) {
            let p = i32::from(input.byte() % 4);
            world.move_leader(input, t, p);
        }
    }
    if input.chance(8) {
        let names: Vec<String> = world.topics.keys().cloned().collect();
        if let Some(t) = input.pick(&names) {
            let n = i32::from(input.byte() % 5);
            world.topics.insert(t.clone(), n);
        }
    }
    let names: Vec<String> = match &req.topics {
        Some(ts) => ts
            .iter()
            .filter_map(|t| t.name.clone().or_else(|| topic_name(world, t.topic_id)))
            .collect(),
        None => world.topics.keys().cloned().collect(),
    };
    let mut brokers: Vec<MetadataResponseBroker> = BROKERS
        .iter()
        .map(|&id| MetadataResponseBroker {
            node_id: id,
            host: host(id),
            port: port(id),
            ..Default::default()
        })
        .collect();
    if input.chance(8) {
        brokers.remove(input.below(brokers.len()));
    }
    let topic_errors = [
        ErrorCode::UNKNOWN_TOPIC_OR_PARTITION,
        ErrorCode::LEADER_NOT_AVAILABLE,
        ErrorCode::TOPIC_AUTHORIZATION_FAILED,
        ErrorCode::INVALID_TOPIC_EXCEPTION,
    ];
    let partition_errors = [
        ErrorCode::LEADER_NOT_AVAILABLE,
        ErrorCode::NOT_LEADER_OR_FOLLOWER,
        ErrorCode::REPLICA_NOT_AVAILABLE,
    ];
    let mut topics = Vec::new();
    for name in names {
        let Some(count) = world.topics.get(&name).copied() else {
            topics.push(MetadataResponseTopic {
                error_code: ErrorCode::UNKNOWN_TOPIC_OR_PARTITION,
                name: Some(name),
                ..Default::default()
            });
            continue;
        };
        let error_code = code(input, &topic_errors);
        let mut partitions = Vec::new();
        if error_code.is_ok() {
            for p in 0..count {
                let (mut leader, epoch) = world.leader(&name, p);
                let error_code = code(input, &partition_errors);
                if !error_code.is_ok() || input.chance(8) {
                    leader = -1;
                }
                partitions.push(MetadataResponsePartition {
                    error_code,
                    partition_index: p,
                    leader_id: leader,
                    leader_epoch: if version >= 7 { epoch } else { -1 },
                    replica_nodes: BROKERS.to_vec(),
                    isr_nodes: vec![leader],
                    ..Default::default()
                });
            }
        }
        topics.push(MetadataResponseTopic {
            error_code,
            topic_id: if version >= 10 && !input.chance(8) {
                topic_id(&name)
            } else {
                Uuid::ZERO
            },
            is_internal: version >= 1 && input.chance(2),
            name: Some(name),
            partitions,
            ..Default::default()
        });
    }
    MetadataResponse {
        brokers,
        cluster_id: (version >= 2).then(|| "fuzz".to_string()),
        controller_id: if version >= 1 { 1 } else { -1 },
        topics,
        ..Default::default()
    }
}

fn find_coordinator(
    world: &mut World,
    input: &mut Input<'_>,
    req: &FindCoordinatorRequest,
    version: i16,
) -> FindCoordinatorResponse {
    let which = usize::from(req.key_type == 1);
    if input.chance(16) {
        world.coordinators[which] = *input.pick(&BROKERS).unwrap_or(&1);
    }
    let node = world.coordinators[which];
    let usual = [
        ErrorCode::COORDINATOR_NOT_AVAILABLE,
        ErrorCode::NOT_COORDINATOR,
        ErrorCode::COORDINATOR_LOAD_IN_PROGRESS,
        ErrorCode::GROUP_AUTHORIZATION_FAILED,
        ErrorCode::TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
    ];
    if version >= 4 {
        let coordinators = req
            .coordinator_keys
            .iter()
            .map(|key| {
                let error_code = code(input, &usual);
                Coordinator {
                    key: if input.chance(4) {
                        "another-key".to_string()
                    } else {
                        key.clone()
                    },
                    node_id: if error_code.is_ok() { node } else { -1 },
                    host: if error_code.is_ok() {
                        host(node)
                    } else {
                        String::new()
                    },
                    port: if error_code.is_ok() { port(node) } else { -1 },
                    error_code,
                    ..Default::default()
                }
            })
            .collect();
        FindCoordinatorResponse {
            coordinators,
            ..Default::default()
        }
    } else {
        let error_code = code(input, &usual);
        FindCoordinatorResponse {
            error_code,
            node_id: if error_code.is_ok() { node } else { -1 },
            host: if error_code.is_ok() {
                host(node)
            } else {
                String::new()
            },
            port: if error_code.is_ok() { port(node) } else { -1 },
            ..Default::default()
        }
    }
}

/// Some record bytes: garbage of a length the input chooses.
pub(crate) fn garbage(input: &mut Input<'_>) -> Bytes {
    Bytes::copy_from_slice(input.bytes(64))
}
