//! The cluster the proxy pretends to be: its brokers and their faults, who leads each
//! partition (with the proxy's own leader epochs), who coordinates each group and
//! transactional id, and the counts of what it injected.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use dekaf_proto::wire::Uuid;
use dekaf_proto::{ApiKey, ErrorCode};

use super::commits::CommitTrace;
use super::corrupt::Corruption;
use crate::rng::{hash, Rng};

/// A broker id of the pretended cluster.
pub type BrokerId = i32;

/// The id of the proxy's first broker; the others follow.
pub const FIRST_BROKER_ID: BrokerId = 1;

/// What a coordinator coordinates (FindCoordinator's key type).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CoordinatorKind {
    /// A consumer group (key type 0).
    Group,
    /// A transactional id (key type 1).
    Transaction,
}

impl CoordinatorKind {
    /// The kind FindCoordinator's `key_type` names.
    pub fn from_key_type(key_type: i8) -> CoordinatorKind {
        if key_type == 1 {
            CoordinatorKind::Transaction
        } else {
            CoordinatorKind::Group
        }
    }
}

impl fmt::Display for CoordinatorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CoordinatorKind::Group => f.write_str("group"),
            CoordinatorKind::Transaction => f.write_str("transaction"),
        }
    }
}

/// How a broker is down.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Down {
    /// Its port refuses connections and its open connections are closed (a crashed broker).
    Refuse,
    /// It accepts connections and never answers: requests are swallowed, answers on the way
    /// are dropped (a network partition). Its connections are closed when it comes back.
    Blackhole,
}

/// One broker of the pretended cluster.
#[derive(Debug)]
pub(crate) struct BrokerState {
    pub(crate) addr: SocketAddr,
    pub(crate) down: Option<Down>,
    /// Added before each answer is written.
    pub(crate) delay: Duration,
    /// Armed by `drop_after_request`: the next forwarded request (of this API, if one is
    /// named) closes its connection once written.
    pub(crate) drop_next: Option<Option<ApiKey>>,
}

#[derive(Debug, Clone)]
struct Partition {
    /// Index into `brokers`.
    leader: usize,
    /// The proxy's epoch, the one clients see.
    epoch: i32,
    /// The broker's own epoch, the one forwarded requests carry.
    upstream_epoch: i32,
    /// Former leaders that left the partition's replicas (a reassignment): they answer
    /// NOT_LEADER_OR_FOLLOWER whatever the epoch, where a former leader still a follower
    /// fences an old epoch first (FENCED_LEADER_EPOCH).
    gone: Vec<usize>,
}

#[derive(Debug, Clone, Copy)]
struct Coordinator {
    broker: usize,
    /// Requests still to answer COORDINATOR_LOAD_IN_PROGRESS after a move.
    loading: u32,
}

/// What a partition request meets at a broker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PartitionCheck {
    /// The proxy has not seen the partition in a Metadata answer: forward it as it is.
    Unknown,
    /// The broker leads it; forward with the broker's own epoch.
    Led { upstream_epoch: i32 },
    /// Refuse it with this code; the leader is `leader` at `epoch`.
    Refused {
        code: ErrorCode,
        leader: BrokerId,
        epoch: i32,
    },
}

/// Counts of what the proxy did, by what it was ("Produce NOT_LEADER_OR_FOLLOWER",
/// "connection refused", "corrupt: flip record byte", ...).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats(pub BTreeMap<String, u64>);

impl Stats {
    /// Adds one to `what`.
    pub fn bump(&mut self, what: impl Into<String>) {
        *self.0.entry(what.into()).or_default() += 1;
    }

    /// How many times `what` happened.
    pub fn count(&self, what: &str) -> u64 {
        self.0.get(what).copied().unwrap_or(0)
    }

    /// The sum of the counts whose name starts with `prefix`.
    pub fn count_prefix(&self, prefix: &str) -> u64 {
        self.0
            .iter()
            .filter(|(k, _)| k.starts_with(prefix))
            .map(|(_, v)| v)
            .sum()
    }
}

impl Stats {
    /// The counts of faults and refusals only (not of requests forwarded).
    pub fn injected(&self) -> Stats {
        Stats(
            self.0
                .iter()
                .filter(|(k, _)| !k.starts_with("forwarded ") && *k != "connection accepted")
                .map(|(k, v)| (k.clone(), *v))
                .collect(),
        )
    }

    /// The counts of requests forwarded to the real broker, by API, and of connections.
    pub fn traffic(&self) -> Stats {
        Stats(
            self.0
                .iter()
                .filter(|(k, _)| k.starts_with("forwarded ") || *k == "connection accepted")
                .map(|(k, v)| (k.clone(), *v))
                .collect(),
        )
    }
}

impl fmt::Display for Stats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for (what, n) in &self.0 {
            if !first {
                f.write_str(", ")?;
            }
            first = false;
            write!(f, "{what} ×{n}")?;
        }
        if first {
            f.write_str("nothing")?;
        }
        Ok(())
    }
}

/// The whole pretended cluster.
#[derive(Debug)]
pub(crate) struct Model {
    seed: u64,
    pub(crate) brokers: Vec<BrokerState>,
    partitions: BTreeMap<(String, i32), Partition>,
    topic_ids: HashMap<Uuid, String>,
    coordinators: BTreeMap<(CoordinatorKind, String), Coordinator>,
    pub(crate) rng: Rng,
    pub(crate) corruption: Option<Corruption>,
    pub(crate) stats: Stats,
    pub(crate) started: Instant,
    /// Every fault injected, with the time since the proxy started.
    pub(crate) log: Vec<String>,
    /// Every offset commit seen.
    pub(crate) commits: Vec<CommitTrace>,
    /// Per group, the newest generation its JoinGroup answers gave.
    generations: BTreeMap<String, i32>,
    /// Per group and member id, the generation of the member's last JoinGroup answer.
    member_generations: BTreeMap<(String, String), i32>,
    /// Whether commits of an older generation are refused (ILLEGAL_GENERATION).
    pub(crate) fence_stale_commits: bool,
}

impl Model {
    pub(crate) fn new(seed: u64, addrs: Vec<SocketAddr>) -> Model {
        Model {
            seed,
            brokers: addrs
                .into_iter()
                .map(|addr| BrokerState {
                    addr,
                    down: None,
                    delay: Duration::ZERO,
                    drop_next: None,
                })
                .collect(),
            partitions: BTreeMap::new(),
            topic_ids: HashMap::new(),
            coordinators: BTreeMap::new(),
            rng: Rng::new(seed),
            corruption: None,
            stats: Stats::default(),
            started: Instant::now(),
            log: Vec::new(),
            commits: Vec::new(),
            generations: BTreeMap::new(),
            member_generations: BTreeMap::new(),
            fence_stale_commits: true,
        }
    }

    pub(crate) fn id(index: usize) -> BrokerId {
        FIRST_BROKER_ID + index as BrokerId
    }

    pub(crate) fn index(&self, id: BrokerId) -> Option<usize> {
        let i = usize::try_from(id - FIRST_BROKER_ID).ok()?;
        (i < self.brokers.len()).then_some(i)
    }

    pub(crate) fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    pub(crate) fn note(&mut self, what: String) {
        let at = self.started.elapsed().as_secs_f64();
        self.log.push(format!("{at:7.3}s {what}"));
    }

    /// Where the seed puts a name first: the same place whatever was seen before.
    fn home(&self, what: &str) -> usize {
        (hash(self.seed, what.as_bytes()) % self.brokers.len() as u64) as usize
    }

    /// Takes in a partition from a Metadata answer; returns its leader and epoch.
    pub(crate) fn learn_partition(
        &mut self,
        topic: &str,
        partition: i32,
        upstream_epoch: i32,
    ) -> (BrokerId, i32) {
        let home = self.home(&format!("partition {topic}-{partition}"));
        let p = self
            .partitions
            .entry((topic.to_string(), partition))
            .or_insert(Partition {
                leader: home,
                epoch: upstream_epoch.max(0),
                upstream_epoch,
                gone: Vec::new(),
            });
        p.upstream_epoch = upstream_epoch;
        (Model::id(p.leader), p.epoch)
    }

    pub(crate) fn learn_topic_id(&mut self, id: Uuid, name: &str) {
        if !id.is_zero() {
            self.topic_ids.insert(id, name.to_string());
        }
    }

    pub(crate) fn topic_name(&self, id: &Uuid) -> Option<String> {
        self.topic_ids.get(id).cloned()
    }

    /// The leader and epoch of a partition the proxy knows.
    pub(crate) fn leader(&self, topic: &str, partition: i32) -> Option<(BrokerId, i32)> {
        self.partitions
            .get(&(topic.to_string(), partition))
            .map(|p| (Model::id(p.leader), p.epoch))
    }

    /// The replicas of a partition: every broker but the former leaders that left it,
    /// leader first.
    pub(crate) fn replicas(&self, topic: &str, partition: i32) -> Vec<BrokerId> {
        let Some(p) = self.partitions.get(&(topic.to_string(), partition)) else {
            return Vec::new();
        };
        let mut ids = vec![Model::id(p.leader)];
        ids.extend(
            (0..self.brokers.len())
                .filter(|b| *b != p.leader && !p.gone.contains(b))
                .map(Model::id),
        );
        ids
    }

    /// The partitions the proxy knows, in order.
    pub(crate) fn partitions(&self) -> Vec<(String, i32)> {
        self.partitions.keys().cloned().collect()
    }

    /// Moves a partition's leadership to `to` (another broker when `None`), raising its
    /// epoch; the old and new leader and the new epoch.
    pub(crate) fn move_leader(
        &mut self,
        topic: &str,
        partition: i32,
        to: Option<BrokerId>,
    ) -> Option<(BrokerId, BrokerId, i32)> {
        let n = self.brokers.len();
        let to = match to {
            Some(id) => Some(self.index(id)?),
            None => None,
        };
        let pick = self.rng.index(n.saturating_sub(1).max(1));
        let leaves = self.rng.chance(500);
        let p = self.partitions.get_mut(&(topic.to_string(), partition))?;
        let old = p.leader;
        p.leader = to.unwrap_or(if n > 1 { (old + 1 + pick) % n } else { old });
        p.epoch += 1;
        let new = p.leader;
        p.gone.retain(|b| *b != new);
        let leaves = leaves && old != new;
        if leaves {
            p.gone.push(old);
        }
        let epoch = p.epoch;
        self.note(format!(
            "leader of {topic}-{partition}: broker {} -> {} (epoch {epoch}){}",
            Model::id(old),
            Model::id(new),
            if leaves {
                "; the old one leaves its replicas"
            } else {
                ""
            }
        ));
        Some((Model::id(old), Model::id(new), epoch))
    }

    /// How a request for a partition with the client's `epoch` (-1: none given) fares at
    /// `broker`: Kafka's order — a broker that is no replica refuses, a replica checks the
    /// epoch first, then the leadership.
    pub(crate) fn check_partition(
        &self,
        broker: usize,
        topic: &str,
        partition: i32,
        epoch: i32,
    ) -> PartitionCheck {
        let Some(p) = self.partitions.get(&(topic.to_string(), partition)) else {
            return PartitionCheck::Unknown;
        };
        let refused = |code| PartitionCheck::Refused {
            code,
            leader: Model::id(p.leader),
            epoch: p.epoch,
        };
        if p.gone.contains(&broker) {
            return refused(ErrorCode::NOT_LEADER_OR_FOLLOWER);
        }
        if epoch >= 0 && epoch < p.epoch {
            return refused(ErrorCode::FENCED_LEADER_EPOCH);
        }
        if p.leader != broker {
            return refused(ErrorCode::NOT_LEADER_OR_FOLLOWER);
        }
        if epoch > p.epoch {
            return refused(ErrorCode::UNKNOWN_LEADER_EPOCH);
        }
        PartitionCheck::Led {
            upstream_epoch: p.upstream_epoch,
        }
    }

    /// The coordinator of `key` (placed by the seed on first sight).
    pub(crate) fn coordinator(&mut self, kind: CoordinatorKind, key: &str) -> BrokerId {
        let home = self.home(&format!("{kind} coordinator {key}"));
        let c = self
            .coordinators
            .entry((kind, key.to_string()))
            .or_insert(Coordinator {
                broker: home,
                loading: 0,
            });
        Model::id(c.broker)
    }

    /// Moves the coordinator of `key` to `to` (another broker when `None`); the new one
    /// answers its first `loading` requests with COORDINATOR_LOAD_IN_PROGRESS.
    pub(crate) fn move_coordinator(
        &mut self,
        kind: CoordinatorKind,
        key: &str,
        to: Option<BrokerId>,
        loading: u32,
    ) -> Option<(BrokerId, BrokerId)> {
        let n = self.brokers.len();
        let to = match to {
            Some(id) => Some(self.index(id)?),
            None => None,
        };
        self.coordinator(kind, key);
        let pick = self.rng.index(n.saturating_sub(1).max(1));
        let c = self.coordinators.get_mut(&(kind, key.to_string()))?;
        let old = c.broker;
        c.broker = to.unwrap_or(if n > 1 { (old + 1 + pick) % n } else { old });
        c.loading = loading;
        let new = c.broker;
        self.note(format!(
            "{kind} coordinator of {key}: broker {} -> {} (loading for {loading} requests)",
            Model::id(old),
            Model::id(new)
        ));
        Some((Model::id(old), Model::id(new)))
    }

    /// Whether `broker` may serve a coordinator request for `key`: `None` to forward it, or
    /// the code to answer (NOT_COORDINATOR, COORDINATOR_LOAD_IN_PROGRESS when `may_load`).
    pub(crate) fn check_coordinator(
        &mut self,
        broker: usize,
        kind: CoordinatorKind,
        key: &str,
        may_load: bool,
    ) -> Option<ErrorCode> {
        self.coordinator(kind, key);
        let c = self.coordinators.get_mut(&(kind, key.to_string()))?;
        if c.broker != broker {
            return Some(ErrorCode::NOT_COORDINATOR);
        }
        if may_load && c.loading > 0 {
            c.loading -= 1;
            return Some(ErrorCode::COORDINATOR_LOAD_IN_PROGRESS);
        }
        None
    }

    /// A JoinGroup answer gave `member` of `group` `generation`.
    pub(crate) fn joined(&mut self, group: &str, member: &str, generation: i32) {
        let newest = self
            .generations
            .entry(group.to_string())
            .or_insert(generation);
        *newest = (*newest).max(generation);
        self.member_generations
            .insert((group.to_string(), member.to_string()), generation);
    }

    /// The newest generation of `group` seen, if any.
    pub(crate) fn generation(&self, group: &str) -> Option<i32> {
        self.generations.get(group).copied()
    }

    /// The generation of `member`'s last JoinGroup answer in `group`, if any.
    pub(crate) fn member_generation(&self, group: &str, member: &str) -> Option<i32> {
        self.member_generations
            .get(&(group.to_string(), member.to_string()))
            .copied()
    }

    /// The coordinators the proxy placed so far.
    pub(crate) fn coordinators(&self) -> Vec<(CoordinatorKind, String)> {
        self.coordinators.keys().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model(n: u16) -> Model {
        let addrs = (0..n)
            .map(|i| SocketAddr::from(([127, 0, 0, 1], 9000 + i)))
            .collect();
        Model::new(7, addrs)
    }

    #[test]
    fn a_partition_is_placed_by_its_name_and_the_seed_alone() {
        let mut a = model(3);
        let mut b = model(3);
        b.learn_partition("other", 0, 0);
        assert_eq!(a.learn_partition("t", 4, 0), b.learn_partition("t", 4, 0));
    }

    #[test]
    fn a_stale_epoch_is_fenced_even_at_the_leader_and_a_newer_one_is_unknown() {
        let mut m = model(3);
        let (leader, epoch) = m.learn_partition("t", 0, 0);
        let at = m.index(leader).unwrap();
        assert_eq!(
            m.check_partition(at, "t", 0, epoch),
            PartitionCheck::Led { upstream_epoch: 0 }
        );
        let (_, new, new_epoch) = m.move_leader("t", 0, None).unwrap();
        assert_ne!(new, leader);
        assert_eq!(new_epoch, epoch + 1);
        let at_new = m.index(new).unwrap();
        let code = |check| match check {
            PartitionCheck::Refused { code, .. } => code,
            other => panic!("not refused: {other:?}"),
        };
        assert_eq!(
            code(m.check_partition(at_new, "t", 0, epoch)),
            ErrorCode::FENCED_LEADER_EPOCH
        );
        assert_eq!(
            code(m.check_partition(at, "t", 0, -1)),
            ErrorCode::NOT_LEADER_OR_FOLLOWER
        );
        // At the old leader, an old epoch is fenced if it is still a replica, refused as
        // not led if it left.
        let expected = if m.replicas("t", 0).contains(&leader) {
            ErrorCode::FENCED_LEADER_EPOCH
        } else {
            ErrorCode::NOT_LEADER_OR_FOLLOWER
        };
        assert_eq!(code(m.check_partition(at, "t", 0, epoch)), expected);
        assert_eq!(
            code(m.check_partition(at_new, "t", 0, new_epoch + 1)),
            ErrorCode::UNKNOWN_LEADER_EPOCH
        );
        assert_eq!(m.check_partition(at, "u", 0, -1), PartitionCheck::Unknown);
    }

    #[test]
    fn a_moved_coordinator_loads_for_as_many_requests_as_told_but_not_for_heartbeats() {
        let mut m = model(3);
        let old = m.coordinator(CoordinatorKind::Group, "g");
        let (_, new) = m
            .move_coordinator(CoordinatorKind::Group, "g", None, 2)
            .unwrap();
        let (old, new) = (m.index(old).unwrap(), m.index(new).unwrap());
        let check = |m: &mut Model, at, may_load| {
            m.check_coordinator(at, CoordinatorKind::Group, "g", may_load)
        };
        assert_eq!(check(&mut m, old, true), Some(ErrorCode::NOT_COORDINATOR));
        assert_eq!(check(&mut m, new, false), None);
        assert_eq!(
            check(&mut m, new, true),
            Some(ErrorCode::COORDINATOR_LOAD_IN_PROGRESS)
        );
        assert_eq!(
            check(&mut m, new, true),
            Some(ErrorCode::COORDINATOR_LOAD_IN_PROGRESS)
        );
        assert_eq!(check(&mut m, new, true), None);
    }
}
