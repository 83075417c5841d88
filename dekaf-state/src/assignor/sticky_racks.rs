//! Racks in the sticky assignment (Java's `AbstractStickyAssignor.RackInfo`, KIP-881): which
//! member is in which rack, which racks hold each partition's replicas, and whether to care.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::range::use_rack_aware;
use super::{Group, PartitionRacks, Tp};

/// The racks of a sticky assignment, members by rank.
pub(super) struct RackInfo<'a> {
    /// Each member's rack (by rank) when the assignment is rack-aware; all `None` otherwise.
    consumer_racks: Vec<Option<&'a str>>,
    /// The racks of each partition's replicas (known whenever a member names a rack).
    partition_racks: HashMap<Tp, BTreeSet<&'a str>>,
    /// For each partition, how many members sit in the racks of its replicas (whenever a
    /// member names a rack).
    consumers_by_partition: HashMap<Tp, usize>,
}

impl<'a> RackInfo<'a> {
    /// Reads the members' racks (an empty rack counts as none, as in Java) and the replica
    /// racks of every partition of `group`; rank `r` is member `order[r]`.
    pub(super) fn new(group: &Group<'a>, order: &[usize], racks: &'a PartitionRacks) -> Self {
        let ranked: Vec<Option<&'a str>> = order
            .iter()
            .map(|&m| {
                group.members[m]
                    .input
                    .rack_id
                    .as_deref()
                    .filter(|r| !r.is_empty())
            })
            .collect();
        let mut per_rack: BTreeMap<&str, usize> = BTreeMap::new();
        for rack in ranked.iter().flatten() {
            *per_rack.entry(rack).or_default() += 1;
        }
        let mut partition_racks = HashMap::new();
        if !per_rack.is_empty() {
            for (t, p) in group.all_partitions() {
                let name = group.topics[t].0;
                let set: BTreeSet<&str> = racks
                    .get(&(name.to_owned(), p))
                    .map(|r| r.iter().map(String::as_str).collect())
                    .unwrap_or_default();
                partition_racks.insert((t, p), set);
            }
        }
        let consumers_by_partition = partition_racks
            .iter()
            .map(|(tp, set)| (*tp, set.iter().filter_map(|r| per_rack.get(r)).sum()))
            .collect();
        let consumer_set: BTreeSet<&str> = per_rack.keys().copied().collect();
        let all: BTreeSet<&str> = partition_racks.values().flatten().copied().collect();
        let each: Vec<BTreeSet<&str>> = partition_racks.values().cloned().collect();
        let aware = use_rack_aware(&consumer_set, &all, &each);
        RackInfo {
            consumer_racks: if aware {
                ranked
            } else {
                vec![None; order.len()]
            },
            partition_racks,
            consumers_by_partition,
        }
    }

    /// Whether the assignment is rack-aware.
    pub(super) fn is_aware(&self) -> bool {
        self.consumer_racks.iter().any(Option::is_some)
    }

    /// Whether member `r` has a rack that holds no replica of `tp`.
    pub(super) fn mismatch(&self, r: usize, tp: Tp) -> bool {
        match self.consumer_racks.get(r).copied().flatten() {
            None => false,
            Some(rack) => self
                .partition_racks
                .get(&tp)
                .is_none_or(|set| !set.contains(rack)),
        }
    }

    /// Orders partitions by how many members sit in their replicas' racks, fewest first
    /// (stable), so that the scarce ones are placed first.
    pub(super) fn sort_partitions(&self, partitions: &mut [Tp]) {
        if !self.consumers_by_partition.is_empty() {
            partitions.sort_by_key(|tp| self.consumers_by_partition.get(tp).copied().unwrap_or(0));
        }
    }

    /// The index in `members` (ranks), starting at `first` and wrapping, of the first member
    /// whose rack holds a replica of `tp`.
    pub(super) fn next_rack_member<'m>(
        &self,
        tp: Tp,
        members: impl ExactSizeIterator<Item = &'m usize> + Clone,
        first: usize,
    ) -> Option<usize> {
        let racks = self.partition_racks.get(&tp).filter(|s| !s.is_empty())?;
        let list: Vec<usize> = members.copied().collect();
        let n = list.len();
        (0..n).map(|i| (first + i) % n).find(|&i| {
            self.consumer_racks
                .get(list[i])
                .copied()
                .flatten()
                .is_some_and(|rack| racks.contains(rack))
        })
    }
}
