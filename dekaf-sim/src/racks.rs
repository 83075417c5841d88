//! Racks and replica sets: which brokers hold a partition, and which of them a consumer in a
//! given rack reads from (KIP-392). Followers hold the leader's log and serve reads up to the
//! high watermark; the model keeps one log per partition, so a follower is never behind.

use dekaf_proto::ErrorCode;

use crate::log::Partition;
use crate::Cluster;

impl Cluster {
    /// Gives a broker a rack (`broker.rack`).
    pub fn set_rack(&mut self, broker: i32, rack: &str) {
        self.racks.insert(broker, rack.to_string());
    }

    /// Sets a partition's replica set. The leader is kept among them (first if it was
    /// missing), and unknown brokers are left out.
    pub fn set_replicas(&mut self, topic: &str, p: i32, replicas: &[i32]) {
        let Some(leader) = self.get(topic, p).map(|part| part.leader) else {
            return;
        };
        let mut set: Vec<i32> = Vec::new();
        if !replicas.contains(&leader) {
            set.push(leader);
        }
        for &b in replicas {
            if self.brokers.contains(&b) && !set.contains(&b) {
                set.push(b);
            }
        }
        self.replicas.insert((topic.to_string(), p), set);
    }

    /// Takes a broker down (requests to it fail, metadata leaves it out) or brings it back.
    pub fn set_down(&mut self, broker: i32, down: bool) {
        if down {
            self.down.insert(broker);
        } else {
            self.down.remove(&broker);
        }
    }

    /// Makes a follower's log end at `end` for one partition (it lags, or lost records): it
    /// serves reads only below it, answers OFFSET_OUT_OF_RANGE past it, and is not named to
    /// read from at offsets it does not have. `None` catches it up again.
    pub fn set_follower_end(&mut self, topic: &str, p: i32, broker: i32, end: Option<i64>) {
        let key = (topic.to_string(), p, broker);
        match end {
            Some(end) => {
                self.follower_ends.insert(key, end);
            }
            None => {
                self.follower_ends.remove(&key);
            }
        }
    }

    /// Where a follower's log ends when it lags; `None` for the leader and caught-up ones.
    pub(crate) fn follower_end(&self, broker: i32, topic: &str, p: i32) -> Option<i64> {
        let leader = self.get(topic, p)?.leader;
        if leader == broker {
            return None;
        }
        self.follower_ends
            .get(&(topic.to_string(), p, broker))
            .copied()
    }

    /// A partition's replicas: the set given, else its leader alone.
    pub(crate) fn replicas_of(&self, topic: &str, p: i32, leader: i32) -> Vec<i32> {
        match self.replicas.get(&(topic.to_string(), p)) {
            Some(set) if set.contains(&leader) => set.clone(),
            Some(set) => std::iter::once(leader).chain(set.iter().copied()).collect(),
            None => vec![leader],
        }
    }

    /// What the leader `broker` answers as `preferred_read_replica` to a consumer in `rack`
    /// fetching at `offset`, as Kafka's `RackAwareReplicaSelector` does: a live replica in
    /// the consumer's rack that holds the offset; none when the leader is in that rack itself,
    /// when no replica is, or when the consumer gave no rack. Only the leader names one.
    pub(crate) fn preferred_read_replica(
        &self,
        broker: i32,
        (topic, p): (&str, i32),
        offset: i64,
        rack: &str,
    ) -> Option<i32> {
        if rack.is_empty() {
            return None;
        }
        let leader = self.get(topic, p)?.leader;
        if leader != broker || self.racks.get(&leader).is_some_and(|r| r == rack) {
            return None;
        }
        self.replicas_of(topic, p, leader).into_iter().find(|b| {
            !self.down.contains(b)
                && self.racks.get(b).is_some_and(|r| r == rack)
                && self
                    .follower_end(*b, topic, p)
                    .is_none_or(|end| end >= offset)
        })
    }

    /// Checks that `broker` may serve a read of the partition: its leader, or a live follower
    /// in its replica set; either checks the current leader epoch the request carries.
    pub(crate) fn read_check(
        &self,
        broker: i32,
        topic: &str,
        p: i32,
        epoch: i32,
    ) -> Result<&Partition, ErrorCode> {
        let leader = self.get(topic, p).map(|part| part.leader);
        let follower = leader.is_some_and(|l| {
            l != broker
                && !self.down.contains(&broker)
                && self.replicas_of(topic, p, l).contains(&broker)
        });
        match leader {
            Some(l) if follower => self.leader_check(l, topic, p, epoch),
            _ => self.leader_check(broker, topic, p, epoch),
        }
    }
}
