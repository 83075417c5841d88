//! What happens to each request at a broker of the pretended cluster: forwarded unchanged,
//! forwarded with its refused partitions taken out (their refusals merged into the answer),
//! answered by the proxy itself (a refusal), or swallowed; and what is done to the answer
//! that comes back.

use std::sync::Mutex;

use bytes::{BufMut, Bytes, BytesMut};
use dekaf_proto::header::{response_header_version, RequestHeader, ResponseHeader};
use dekaf_proto::messages::{
    DescribeClusterResponse, FetchRequest, FetchResponse, FindCoordinatorResponse,
    JoinGroupResponse, ListOffsetsRequest, ListOffsetsResponse, MetadataResponse,
    OffsetCommitResponse, ProduceRequest, ProduceResponse, RequestBody, ResponseBody,
    TxnOffsetCommitResponse,
};
use dekaf_proto::wire::{Reader, Uuid};
use dekaf_proto::{ApiKey, Message};

use super::answers::{self, Endpoints, Refused};
use super::commits::{stale_commit, trace_commit};
use super::model::{CoordinatorKind, Model, PartitionCheck};
use super::rewrite;

/// What to do with one request.
#[derive(Debug)]
pub(crate) enum Decision {
    /// Nothing: the broker does not answer (a blackhole).
    Swallow,
    /// Answer at once with `frame` (length prefix included); nothing goes to the broker.
    Answer { plan: Plan, frame: Bytes },
    /// Send `frame` (length prefix included) to the broker; its answer goes through `plan`.
    /// With `then_drop`, the connection is closed once the request is written.
    Forward {
        frame: Bytes,
        plan: Plan,
        then_drop: bool,
    },
    /// Close the connection (Kafka's answer to a refused produce with acks=0).
    Close,
}

/// What the answer to a forwarded request needs.
#[derive(Debug)]
pub(crate) struct Plan {
    pub(crate) correlation_id: i32,
    /// The API and version, when the header could be read.
    pub(crate) api: Option<(ApiKey, i16)>,
    /// False for a produce with acks=0.
    pub(crate) expects_answer: bool,
    rewrite: Rewrite,
}

#[derive(Debug)]
enum Rewrite {
    None,
    Metadata,
    FindCoordinator {
        kind: CoordinatorKind,
        key: String,
    },
    DescribeCluster,
    /// An offset commit traced at this index of the model's commits.
    Commit(usize),
    /// A JoinGroup of this group: its answer tells the member's generation.
    JoinGroup(String),
    Produce(Vec<Refused>),
    Fetch(Vec<Refused>),
    ListOffsets(Vec<Refused>),
}

fn prefixed(frame: &[u8]) -> Bytes {
    let mut out = BytesMut::with_capacity(frame.len() + 4);
    out.put_i32(frame.len() as i32);
    out.put_slice(frame);
    out.freeze()
}

/// The request's header bytes followed by a new body.
fn with_body(frame: &Bytes, body_at: usize, body: &RequestBody, version: i16) -> Option<Bytes> {
    let mut inner = BytesMut::from(frame.get(..body_at)?);
    body.encode(&mut inner, version).ok()?;
    Some(prefixed(&inner))
}

/// Decides what broker `broker` (an index) does with `frame` (a request without its length
/// prefix) that came on connection `conn`.
pub(crate) fn decide(model: &mut Model, broker: usize, conn: usize, frame: &Bytes) -> Decision {
    if model.brokers[broker].down.is_some() {
        model.stats.bump("request swallowed");
        return Decision::Swallow;
    }
    let mut r = Reader::new(frame);
    let forward_raw = |plan: Plan| Decision::Forward {
        frame: prefixed(frame),
        plan,
        then_drop: false,
    };
    let Ok(header) = RequestHeader::decode(&mut r) else {
        return forward_raw(Plan {
            correlation_id: frame
                .get(4..8)
                .map_or(0, |b| i32::from_be_bytes([b[0], b[1], b[2], b[3]])),
            api: None,
            expects_answer: true,
            rewrite: Rewrite::None,
        });
    };
    let body_at = r.offset();
    let Some(api) = ApiKey::from_key(header.api_key) else {
        return forward_raw(Plan {
            correlation_id: header.correlation_id,
            api: None,
            expects_answer: true,
            rewrite: Rewrite::None,
        });
    };
    let version = header.api_version;
    let plan = |rewrite| Plan {
        correlation_id: header.correlation_id,
        api: Some((api, version)),
        expects_answer: true,
        rewrite,
    };
    let inspected = matches!(
        api,
        ApiKey::Produce
            | ApiKey::Fetch
            | ApiKey::ListOffsets
            | ApiKey::FindCoordinator
            | ApiKey::JoinGroup
            | ApiKey::SyncGroup
            | ApiKey::Heartbeat
            | ApiKey::LeaveGroup
            | ApiKey::OffsetCommit
            | ApiKey::OffsetFetch
            | ApiKey::DescribeGroups
            | ApiKey::TxnOffsetCommit
            | ApiKey::InitProducerId
            | ApiKey::AddPartitionsToTxn
            | ApiKey::AddOffsetsToTxn
            | ApiKey::EndTxn
    );
    let body = if inspected {
        RequestBody::decode(api, version, &mut r).ok()
    } else {
        None
    };
    let mut decision = match (api, body) {
        (ApiKey::Metadata, _) => forward_raw(plan(Rewrite::Metadata)),
        (ApiKey::DescribeCluster, _) => forward_raw(plan(Rewrite::DescribeCluster)),
        (ApiKey::FindCoordinator, Some(RequestBody::FindCoordinator(req))) => {
            forward_raw(plan(Rewrite::FindCoordinator {
                kind: CoordinatorKind::from_key_type(req.key_type),
                key: req.key,
            }))
        }
        (ApiKey::Produce, Some(RequestBody::Produce(req))) => {
            produce(model, broker, frame, body_at, plan(Rewrite::None), req)
        }
        (ApiKey::Fetch, Some(RequestBody::Fetch(req))) => {
            fetch(model, broker, frame, body_at, plan(Rewrite::None), req)
        }
        (ApiKey::ListOffsets, Some(RequestBody::ListOffsets(req))) => {
            list_offsets(model, broker, frame, body_at, plan(Rewrite::None), req)
        }
        (_, Some(body)) => match coordinator_key(&body, version) {
            Some((kind, key, may_load)) => {
                let check = model
                    .check_coordinator(broker, kind, &key, may_load)
                    .or_else(|| stale_commit(model, &key, &body));
                let traced = trace_commit(model, broker, conn, &key, &body, check);
                let rewrite = match (&body, traced) {
                    (RequestBody::JoinGroup(_), _) => Rewrite::JoinGroup(key.clone()),
                    (_, Some(index)) => Rewrite::Commit(index),
                    _ => Rewrite::None,
                };
                match check {
                    None => forward_raw(plan(rewrite)),
                    Some(code) => {
                        match answers::coordinator_refusal(&body, version, code)
                            .and_then(|a| answers::frame(header.correlation_id, api, version, &a))
                        {
                            Some(frame) => {
                                model.stats.bump(format!("{} {}", api.name(), code.name()));
                                Decision::Answer {
                                    plan: plan(Rewrite::None),
                                    frame,
                                }
                            }
                            None => forward_raw(plan(Rewrite::None)),
                        }
                    }
                }
            }
            None => forward_raw(plan(Rewrite::None)),
        },
        _ => forward_raw(plan(Rewrite::None)),
    };
    if let Decision::Forward { then_drop, .. } = &mut decision {
        model.stats.bump(format!("forwarded {}", api.name()));
        let armed = model.brokers[broker].drop_next;
        let hit = match armed {
            Some(None) => api != ApiKey::ApiVersions,
            Some(Some(wanted)) => wanted == api,
            None => false,
        };
        if hit {
            model.brokers[broker].drop_next = None;
            *then_drop = true;
            model
                .stats
                .bump(format!("connection dropped after {}", api.name()));
            model.note(format!(
                "broker {}: connection dropped after a {} request was written",
                Model::id(broker),
                api.name()
            ));
        }
    }
    decision
}

/// The coordinator a request must reach: kind, key, and whether a coordinator still loading
/// answers it with COORDINATOR_LOAD_IN_PROGRESS (Kafka answers heartbeats normally then).
fn coordinator_key(body: &RequestBody, version: i16) -> Option<(CoordinatorKind, String, bool)> {
    use CoordinatorKind::{Group, Transaction};
    Some(match body {
        RequestBody::JoinGroup(r) => (Group, r.group_id.clone(), true),
        RequestBody::SyncGroup(r) => (Group, r.group_id.clone(), true),
        RequestBody::Heartbeat(r) => (Group, r.group_id.clone(), false),
        RequestBody::LeaveGroup(r) => (Group, r.group_id.clone(), true),
        RequestBody::OffsetCommit(r) => (Group, r.group_id.clone(), true),
        RequestBody::OffsetFetch(r) if version >= 8 => {
            (Group, r.groups.first()?.group_id.clone(), true)
        }
        RequestBody::OffsetFetch(r) => (Group, r.group_id.clone(), true),
        RequestBody::DescribeGroups(r) => (Group, r.groups.first()?.clone(), false),
        RequestBody::TxnOffsetCommit(r) => (Group, r.group_id.clone(), true),
        RequestBody::InitProducerId(r) => (Transaction, r.transactional_id.clone()?, true),
        RequestBody::AddPartitionsToTxn(r) => (Transaction, r.transactional_id.clone(), true),
        RequestBody::AddOffsetsToTxn(r) => (Transaction, r.transactional_id.clone(), true),
        RequestBody::EndTxn(r) => (Transaction, r.transactional_id.clone(), true),
        _ => return None,
    })
}

fn endpoints(model: &Model) -> Endpoints {
    model
        .brokers
        .iter()
        .enumerate()
        .map(|(i, b)| (Model::id(i), b.addr))
        .collect()
}

fn refuse(
    model: &mut Model,
    api: ApiKey,
    refused: &mut Vec<Refused>,
    topic: &str,
    topic_id: Uuid,
    partition: i32,
    check: PartitionCheck,
) -> bool {
    let PartitionCheck::Refused {
        code,
        leader,
        epoch,
    } = check
    else {
        return false;
    };
    model.stats.bump(format!("{} {}", api.name(), code.name()));
    refused.push(Refused {
        topic: topic.to_string(),
        topic_id,
        partition,
        code,
        leader,
        epoch,
    });
    true
}

/// A partition request with its refused partitions taken out.
struct Split {
    /// The request that is left.
    body: RequestBody,
    /// Where its body starts in the original frame.
    body_at: usize,
    refused: Vec<Refused>,
    /// Whether any partition is left to forward.
    kept_any: bool,
    /// Whether a kept partition was changed (its epoch), so the body must be written again.
    changed: bool,
}

/// What becomes of a partition request once its refused partitions are taken out.
fn split(model: &Model, frame: &Bytes, mut plan: Plan, split: Split) -> Decision {
    let Split {
        body,
        body_at,
        refused,
        kept_any,
        changed,
    } = split;
    let Some((api, version)) = plan.api else {
        return Decision::Close;
    };
    if refused.is_empty() {
        let frame = if changed {
            with_body(frame, body_at, &body, version).unwrap_or_else(|| prefixed(frame))
        } else {
            prefixed(frame)
        };
        return Decision::Forward {
            frame,
            plan,
            then_drop: false,
        };
    }
    if !plan.expects_answer {
        return Decision::Close;
    }
    if !kept_any {
        let endpoints = endpoints(model);
        let answer = match api {
            ApiKey::Produce => {
                let mut a = ProduceResponse::default();
                answers::merge_produce(&mut a, &refused, version, &endpoints);
                ResponseBody::Produce(a)
            }
            ApiKey::Fetch => {
                let mut a = FetchResponse::default();
                answers::merge_fetch(&mut a, &refused, version, &endpoints);
                ResponseBody::Fetch(a)
            }
            _ => {
                let mut a = ListOffsetsResponse::default();
                answers::merge_list_offsets(&mut a, &refused);
                ResponseBody::ListOffsets(a)
            }
        };
        return match answers::frame(plan.correlation_id, api, version, &answer) {
            Some(frame) => Decision::Answer { plan, frame },
            None => Decision::Close,
        };
    }
    let Some(frame) = with_body(frame, body_at, &body, version) else {
        return Decision::Close;
    };
    plan.rewrite = match api {
        ApiKey::Produce => Rewrite::Produce(refused),
        ApiKey::Fetch => Rewrite::Fetch(refused),
        _ => Rewrite::ListOffsets(refused),
    };
    Decision::Forward {
        frame,
        plan,
        then_drop: false,
    }
}

fn produce(
    model: &mut Model,
    broker: usize,
    frame: &Bytes,
    body_at: usize,
    mut plan: Plan,
    mut req: ProduceRequest,
) -> Decision {
    plan.expects_answer = req.acks != 0;
    let mut refused = Vec::new();
    for topic in &mut req.topic_data {
        let name = topic.name.clone();
        topic.partition_data.retain(|p| {
            let check = model.check_partition(broker, &name, p.index, -1);
            !refuse(
                model,
                ApiKey::Produce,
                &mut refused,
                &name,
                Uuid::ZERO,
                p.index,
                check,
            )
        });
    }
    req.topic_data.retain(|t| !t.partition_data.is_empty());
    let kept_any = !req.topic_data.is_empty();
    split(
        model,
        frame,
        plan,
        Split {
            body: RequestBody::Produce(req),
            body_at,
            refused,
            kept_any,
            changed: false,
        },
    )
}

fn fetch(
    model: &mut Model,
    broker: usize,
    frame: &Bytes,
    body_at: usize,
    plan: Plan,
    mut req: FetchRequest,
) -> Decision {
    let mut refused = Vec::new();
    let mut changed = false;
    let by_id = plan.api.is_some_and(|(_, v)| v >= 13);
    for topic in &mut req.topics {
        let name = if by_id {
            model.topic_name(&topic.topic_id)
        } else {
            Some(topic.topic.clone())
        };
        let Some(name) = name else { continue };
        let id = if by_id { topic.topic_id } else { Uuid::ZERO };
        topic.partitions.retain_mut(|p| {
            let check = model.check_partition(broker, &name, p.partition, p.current_leader_epoch);
            if let PartitionCheck::Led { upstream_epoch } = check {
                if p.current_leader_epoch >= 0 && p.current_leader_epoch != upstream_epoch {
                    p.current_leader_epoch = upstream_epoch;
                    changed = true;
                }
            }
            !refuse(
                model,
                ApiKey::Fetch,
                &mut refused,
                &name,
                id,
                p.partition,
                check,
            )
        });
    }
    req.topics.retain(|t| !t.partitions.is_empty());
    let kept_any = !req.topics.is_empty();
    split(
        model,
        frame,
        plan,
        Split {
            body: RequestBody::Fetch(req),
            body_at,
            refused,
            kept_any,
            changed,
        },
    )
}

fn list_offsets(
    model: &mut Model,
    broker: usize,
    frame: &Bytes,
    body_at: usize,
    plan: Plan,
    mut req: ListOffsetsRequest,
) -> Decision {
    let mut refused = Vec::new();
    let mut changed = false;
    for topic in &mut req.topics {
        let name = topic.name.clone();
        topic.partitions.retain_mut(|p| {
            let check =
                model.check_partition(broker, &name, p.partition_index, p.current_leader_epoch);
            if let PartitionCheck::Led { upstream_epoch } = check {
                if p.current_leader_epoch >= 0 && p.current_leader_epoch != upstream_epoch {
                    p.current_leader_epoch = upstream_epoch;
                    changed = true;
                }
            }
            !refuse(
                model,
                ApiKey::ListOffsets,
                &mut refused,
                &name,
                Uuid::ZERO,
                p.partition_index,
                check,
            )
        });
    }
    req.topics.retain(|t| !t.partitions.is_empty());
    let kept_any = !req.topics.is_empty();
    split(
        model,
        frame,
        plan,
        Split {
            body: RequestBody::ListOffsets(req),
            body_at,
            refused,
            kept_any,
            changed,
        },
    )
}

impl Plan {
    /// The frame to send the client for the broker's answer `frame` (without its length
    /// prefix): rewritten or merged as planned, or as it came when it cannot be read.
    pub(crate) fn finish(&self, model: &Mutex<Model>, frame: Bytes) -> Bytes {
        if matches!(self.rewrite, Rewrite::None) {
            return prefixed(&frame);
        }
        self.rewrite(model, &frame)
            .unwrap_or_else(|| prefixed(&frame))
    }

    fn rewrite(&self, model: &Mutex<Model>, frame: &Bytes) -> Option<Bytes> {
        let (api, version) = self.api?;
        let mut r = Reader::new(frame);
        let header = ResponseHeader::decode(&mut r, response_header_version(api, version)).ok()?;
        let body = frame.slice(r.offset()..);
        let mut model = model.lock().unwrap_or_else(|e| e.into_inner());
        let answer = match &self.rewrite {
            Rewrite::None => return None,
            Rewrite::JoinGroup(group) => {
                let a = JoinGroupResponse::decode_exact(&body, version).ok()?;
                if a.error_code.is_ok() {
                    model.joined(group, &a.member_id, a.generation_id);
                }
                return None;
            }
            Rewrite::Commit(index) => {
                let codes: Vec<String> = match api {
                    ApiKey::OffsetCommit => OffsetCommitResponse::decode_exact(&body, version)
                        .ok()?
                        .topics
                        .iter()
                        .flat_map(|t| t.partitions.iter().map(|p| p.error_code.name().to_string()))
                        .collect(),
                    _ => TxnOffsetCommitResponse::decode_exact(&body, version)
                        .ok()?
                        .topics
                        .iter()
                        .flat_map(|t| t.partitions.iter().map(|p| p.error_code.name().to_string()))
                        .collect(),
                };
                let at = model.elapsed();
                if let Some(trace) = model.commits.get_mut(*index) {
                    trace.outcome =
                        format!("answered at {:.3}s: {}", at.as_secs_f64(), codes.join(" "));
                }
                // The answer goes on as it came.
                return None;
            }
            Rewrite::Metadata => {
                let mut a = MetadataResponse::decode_exact(&body, version).ok()?;
                rewrite::metadata(&mut model, &mut a);
                ResponseBody::Metadata(a)
            }
            Rewrite::FindCoordinator { kind, key } => {
                let mut a = FindCoordinatorResponse::decode_exact(&body, version).ok()?;
                rewrite::find_coordinator(&mut model, &mut a, *kind, key, version);
                ResponseBody::FindCoordinator(a)
            }
            Rewrite::DescribeCluster => {
                let mut a = DescribeClusterResponse::decode_exact(&body, version).ok()?;
                rewrite::describe_cluster(&model, &mut a);
                ResponseBody::DescribeCluster(a)
            }
            Rewrite::Produce(refused) => {
                let mut a = ProduceResponse::decode_exact(&body, version).ok()?;
                answers::merge_produce(&mut a, refused, version, &endpoints(&model));
                ResponseBody::Produce(a)
            }
            Rewrite::Fetch(refused) => {
                let mut a = FetchResponse::decode_exact(&body, version).ok()?;
                answers::merge_fetch(&mut a, refused, version, &endpoints(&model));
                ResponseBody::Fetch(a)
            }
            Rewrite::ListOffsets(refused) => {
                let mut a = ListOffsetsResponse::decode_exact(&body, version).ok()?;
                answers::merge_list_offsets(&mut a, refused);
                ResponseBody::ListOffsets(a)
            }
        };
        drop(model);
        answers::frame(header.correlation_id, api, version, &answer)
    }
}
