//! The general sticky builder, for groups whose members subscribe to different topics (Java's
//! `GeneralAssignmentBuilder`, rack-aware as Java's since KIP-881).
//!
//! 1. Keep every partition with its current owner while the owner still subscribes to its
//!    topic and, when the assignment is rack-aware, while the owner's rack holds a replica of
//!    it (a member without a rack keeps what it owns). Unlike Java, dekaf keeps the result of
//!    taking partitions away for their racks only when that leaves fewer partitions outside
//!    their member's rack (see [`assign`]).
//! 2. Give each partition without owner to the least loaded member subscribed to its topic.
//!    Rack-aware, a first pass gives each one to the least loaded such member whose rack holds
//!    a replica (or that has no rack); what finds none goes to the least loaded subscriber in
//!    a second pass.
//! 3. Set aside what cannot move: topics with a single subscriber, and members that hold every
//!    partition they could and only partitions of such topics.
//! 4. While the assignment is not balanced, move partitions from their owner to the least loaded
//!    member that can take them (or back to a previous owner from an older generation), first
//!    only the partitions placed in step 2, then all of them. A move that would undo an earlier
//!    move between the same two members of the same topic swaps for that partition instead, so
//!    partitions do not shuffle back and forth. Java looks for a less loaded member in the
//!    partition's racks first, but either way moves the partition to the least loaded
//!    subscriber, so racks change nothing here.
//! 5. If the moves did not make the assignment more balanced (by the sum of the differences in
//!    partition counts over all pairs of members), undo them.
//!
//! Without racks, or when every partition has a replica in every member's rack, steps 1 and 2
//! are those of the builder without racks and so is the result.
//!
//! Members are identified by rank (their position in member id order); topics by index (their
//! position in name order). The number of moves is bounded (far above what balancing needs) so
//! that no input can keep the builder busy.

use std::collections::{BTreeSet, HashMap};

use super::java::{self, HashLayout};
use super::sticky_racks::RackInfo;
use super::Tp;

/// What the general builder starts from, by member rank.
#[derive(Clone)]
pub(super) struct GeneralInput<'a> {
    /// Partition count of each topic.
    pub(super) counts: Vec<i32>,
    /// Java's hash code of each topic's name.
    pub(super) topic_hashes: Vec<i32>,
    /// The existing topics each member subscribes to.
    pub(super) subscriptions: Vec<&'a BTreeSet<usize>>,
    /// The partitions each member owns now, conflicts settled.
    pub(super) current: Vec<Vec<Tp>>,
    /// The owner of a partition in an older generation, where one claims it.
    pub(super) previous: HashMap<Tp, usize>,
    /// Members' racks (by rank) and partitions' replica racks; not aware when racks play no
    /// part.
    pub(super) racks: &'a RackInfo<'a>,
}

/// Runs the general builder; returns each member's partitions by rank.
///
/// Rack-aware, the builder runs twice: as Java's, taking owned partitions away from members
/// outside their racks, and keeping every owned partition (racks still guide where unowned
/// partitions go). The first result is kept only if it leaves fewer partitions outside their
/// member's rack. Java always keeps the first; where balance forces partitions outside their
/// racks, that can move them around in every rebalance without end (each follow-up rebalance
/// takes them away again), where dekaf's group settles.
pub(super) fn assign(input: GeneralInput<'_>) -> Vec<Vec<Tp>> {
    let racks = input.racks;
    let result = |builder: Builder<'_>| -> Vec<Vec<Tp>> {
        builder
            .assignment
            .into_iter()
            .map(|set| set.into_iter().collect())
            .collect()
    };
    if !racks.is_aware() {
        return result(Builder::run(input, true));
    }
    let moved = Builder::run(input.clone(), true);
    let kept = Builder::run(input, false);
    if moved.misplaced() < kept.misplaced() {
        result(moved)
    } else {
        result(kept)
    }
}

struct Builder<'a> {
    counts: Vec<i32>,
    subscriptions: Vec<&'a BTreeSet<usize>>,
    previous: HashMap<Tp, usize>,
    racks: &'a RackInfo<'a>,
    /// Members subscribed to each topic.
    topic_members: Vec<Vec<usize>>,
    /// The most partitions each member could hold (all partitions of its topics).
    max_size: Vec<usize>,
    assignment: Vec<BTreeSet<Tp>>,
    owner: HashMap<Tp, usize>,
    /// Members that take part in balancing, by (partition count, rank): least loaded first.
    by_load: BTreeSet<(usize, usize)>,
    participating: Vec<bool>,
    movements: Movements,
    /// Set when a member lost a partition because it no longer subscribes to its topic.
    revocation_required: bool,
    /// Whether the assignment was balanced when last checked, until the next move.
    balanced: Option<bool>,
    /// A bound on moves, so that no input can keep the builder busy for long.
    moves_left: usize,
}

impl<'a> Builder<'a> {
    fn new(input: GeneralInput<'a>) -> Self {
        let n = input.subscriptions.len();
        let mut topic_members = vec![Vec::new(); input.counts.len()];
        for (r, topics) in input.subscriptions.iter().enumerate() {
            for &t in topics.iter() {
                if let Some(list) = topic_members.get_mut(t) {
                    list.push(r);
                }
            }
        }
        let count =
            |t: usize| usize::try_from(input.counts.get(t).copied().unwrap_or(0)).unwrap_or(0);
        let max_size = input
            .subscriptions
            .iter()
            .map(|topics| topics.iter().map(|&t| count(t)).sum())
            .collect();
        let total: usize = (0..input.counts.len()).map(count).sum();
        Builder {
            counts: input.counts,
            subscriptions: input.subscriptions,
            previous: input.previous,
            racks: input.racks,
            topic_members,
            max_size,
            assignment: input
                .current
                .into_iter()
                .map(|owned| owned.into_iter().collect())
                .collect(),
            owner: HashMap::new(),
            by_load: BTreeSet::new(),
            participating: vec![true; n],
            movements: Movements::new(input.topic_hashes),
            revocation_required: false,
            balanced: None,
            moves_left: total.saturating_mul(n + 1).saturating_add(1024),
        }
    }

    fn size(&self, r: usize) -> usize {
        self.assignment[r].len()
    }

    fn subscribes(&self, r: usize, t: usize) -> bool {
        self.subscriptions[r].contains(&t)
    }

    /// Builds the assignment of `input`; with `rack_moves`, owned partitions outside their
    /// owner's rack are taken away (step 1) when the assignment is rack-aware.
    fn run(input: GeneralInput<'a>, rack_moves: bool) -> Self {
        let mut builder = Builder::new(input);
        builder.build(rack_moves);
        builder
    }

    /// The number of assigned partitions without a replica in their member's rack.
    fn misplaced(&self) -> usize {
        self.assignment
            .iter()
            .enumerate()
            .map(|(r, set)| set.iter().filter(|&&tp| self.racks.mismatch(r, tp)).count())
            .sum()
    }

    fn build(&mut self, rack_moves: bool) {
        let n = self.assignment.len();
        // Step 1: keep what is still valid (and, rack-aware, in the owner's rack).
        for r in 0..n {
            let before = self.assignment[r].len();
            let subscriptions = self.subscriptions[r];
            let racks = self.racks;
            self.assignment[r].retain(|&tp| {
                subscriptions.contains(&tp.0) && !(rack_moves && racks.mismatch(r, tp))
            });
            if self.assignment[r].len() != before {
                self.revocation_required = true;
            }
            for &tp in &self.assignment[r] {
                self.owner.insert(tp, r);
            }
        }
        // Topics with fewer potential members first, as Java sorts them.
        let mut topics: Vec<usize> = (0..self.counts.len()).collect();
        topics.sort_by_key(|&t| (self.topic_members[t].len(), t));
        let mut all: Vec<Tp> = topics
            .iter()
            .flat_map(|&t| (0..self.counts[t]).map(move |p| (t, p)))
            .collect();
        let mut unassigned: Vec<Tp> = all
            .iter()
            .copied()
            .filter(|tp| !self.owner.contains_key(tp))
            .collect();
        self.by_load = (0..n).map(|r| (self.size(r), r)).collect();
        let initializing = self.by_load.last().is_none_or(|&(size, _)| size == 0);

        // Step 2: place partitions without owner, rack-aware within racks first.
        let mut to_place = unassigned.clone();
        if self.racks.is_aware() {
            to_place.retain(|&tp| !self.place(tp, true));
        }
        for &tp in &to_place {
            self.place(tp, false);
        }

        // Step 3: set aside what cannot move.
        let fixed_topic = |t: usize| self.topic_members[t].len() < 2;
        all.retain(|tp| !fixed_topic(tp.0));
        unassigned.retain(|tp| !fixed_topic(tp.0));
        for r in 0..n {
            if !self.can_participate(r) {
                self.participating[r] = false;
                self.by_load.remove(&(self.size(r), r));
            }
        }

        // Step 4: balance.
        let before = self.assignment.clone();
        let before_owner = self.owner.clone();
        if !self.revocation_required {
            // Java ignores whether this pass moved anything when deciding to undo (step 5).
            self.reassign_until_balanced(&unassigned);
        }
        let moved = self.reassign_until_balanced(&all);

        // Step 5: keep the moves only if they helped.
        if !initializing
            && moved
            && self.balance_score(&self.assignment) >= self.balance_score(&before)
        {
            self.assignment = before;
            self.owner = before_owner;
        }
    }

    /// Whether member `r` could gain or lose a partition.
    fn can_participate(&self, r: usize) -> bool {
        self.size(r) < self.max_size[r]
            || self.assignment[r]
                .iter()
                .any(|tp| self.topic_members[tp.0].len() >= 2)
    }

    /// Gives `tp`, which has no owner, to the least loaded member subscribed to its topic (with
    /// `same_rack`: and whose rack, if it has one, holds a replica). Returns whether one was
    /// found.
    fn place(&mut self, tp: Tp, same_rack: bool) -> bool {
        let target = self
            .by_load
            .iter()
            .map(|&(_, r)| r)
            .find(|&r| self.subscribes(r, tp.0) && !(same_rack && self.racks.mismatch(r, tp)));
        if let Some(r) = target {
            self.give(tp, r);
        }
        target.is_some()
    }

    /// Gives a partition without owner to member `r`.
    fn give(&mut self, tp: Tp, r: usize) {
        self.by_load.remove(&(self.size(r), r));
        self.assignment[r].insert(tp);
        self.owner.insert(tp, r);
        self.by_load.insert((self.size(r), r));
        self.balanced = None;
    }

    /// Moves partitions of `partitions`, in order and over and over, until the assignment is
    /// balanced or no move helps. Returns whether anything moved.
    fn reassign_until_balanced(&mut self, partitions: &[Tp]) -> bool {
        let mut moved = false;
        loop {
            let mut modified = false;
            for &tp in partitions {
                if self.moves_left == 0 || self.is_balanced() {
                    break;
                }
                let Some(&current) = self.owner.get(&tp) else {
                    continue;
                };
                let current_size = self.size(current);
                // Back to the owner of an older generation if it is much less loaded. Java does
                // not check that it still subscribes to the topic; dekaf does, so a partition
                // never goes to a member that did not ask for it.
                if let Some(&previous) = self.previous.get(&tp) {
                    if self.participating[previous]
                        && self.subscribes(previous, tp.0)
                        && current_size > self.size(previous) + 1
                    {
                        self.reassign(tp, previous);
                        moved = true;
                        modified = true;
                        continue;
                    }
                }
                let better_exists = self.topic_members[tp.0]
                    .iter()
                    .any(|&other| current_size > self.size(other) + 1);
                if better_exists {
                    let target = self
                        .by_load
                        .iter()
                        .map(|&(_, r)| r)
                        .find(|&r| self.subscribes(r, tp.0));
                    if let Some(target) = target {
                        self.reassign(tp, target);
                        moved = true;
                        modified = true;
                    }
                }
            }
            if !modified || self.moves_left == 0 {
                return moved;
            }
        }
    }

    /// Moves `tp` (or, to avoid undoing an earlier move, an equivalent partition) to `target`.
    fn reassign(&mut self, tp: Tp, target: usize) {
        // Counted even when nothing moves, so the balancing loop always ends.
        self.moves_left = self.moves_left.saturating_sub(1);
        let Some(&current) = self.owner.get(&tp) else {
            return;
        };
        let actual = self.movements.partition_to_move(tp, current, target);
        let Some(&from) = self.owner.get(&actual) else {
            return;
        };
        if from == target {
            return;
        }
        self.by_load.remove(&(self.size(from), from));
        self.by_load.remove(&(self.size(target), target));
        self.movements.record(actual, from, target);
        self.assignment[from].remove(&actual);
        self.assignment[target].insert(actual);
        self.owner.insert(actual, target);
        for r in [from, target] {
            if self.participating[r] {
                self.by_load.insert((self.size(r), r));
            }
        }
        self.balanced = None;
    }

    /// Balanced: the loads of participating members differ by at most one, or no member below
    /// its maximum could take a partition of its topics from a member holding two or more
    /// partitions more than it.
    fn is_balanced(&mut self) -> bool {
        if let Some(balanced) = self.balanced {
            return balanced;
        }
        let balanced = self.compute_balanced();
        self.balanced = Some(balanced);
        balanced
    }

    fn compute_balanced(&self) -> bool {
        let (Some(&(min, _)), Some(&(max, _))) = (self.by_load.first(), self.by_load.last()) else {
            return true;
        };
        if min + 1 >= max {
            return true;
        }
        // For each topic: the largest load among the owners of its partitions, which owner that
        // is, and the largest load among the other owners.
        let mut heaviest: Vec<Option<(usize, usize, usize)>> = vec![None; self.counts.len()];
        for (&(t, _), &o) in &self.owner {
            let load = self.size(o);
            let Some(slot) = heaviest.get_mut(t) else {
                continue;
            };
            *slot = Some(match *slot {
                None => (load, o, 0),
                Some((best, best_owner, second)) if o == best_owner => (best, best_owner, second),
                Some((best, _, _)) if load > best => (load, o, best),
                Some((best, best_owner, second)) => (best, best_owner, second.max(load)),
            });
        }
        for &(load, r) in &self.by_load {
            if load == self.max_size[r] {
                continue;
            }
            for &t in self.subscriptions[r].iter() {
                let other = match heaviest.get(t).copied().flatten() {
                    Some((best, best_owner, second)) => {
                        if best_owner == r {
                            second
                        } else {
                            best
                        }
                    }
                    None => 0,
                };
                if load + 1 < other {
                    return false;
                }
            }
        }
        true
    }

    /// The sum, over all pairs of participating members, of the difference of their loads.
    fn balance_score(&self, assignment: &[BTreeSet<Tp>]) -> usize {
        let mut loads: Vec<usize> = (0..assignment.len())
            .filter(|&r| self.participating[r])
            .map(|r| assignment[r].len())
            .collect();
        loads.sort_unstable();
        let mut score = 0;
        let mut below = 0;
        for (i, &load) in loads.iter().enumerate() {
            score += load * i - below;
            below += load;
        }
        score
    }
}

/// The partition moves made while balancing, to avoid moving partitions of a topic back and
/// forth between two members (Java's `PartitionMovements`).
struct Movements {
    /// Java's hash code of each topic's name, to lay out sets of partitions as Java does.
    topic_hashes: Vec<i32>,
    /// Each moved partition with (first owner, current owner).
    by_partition: HashMap<Tp, (usize, usize)>,
    /// The moved partitions of each topic by (first owner, current owner), each set laid out
    /// like Java's `HashSet` so that "any element" is the one Java picks.
    by_topic: HashMap<usize, HashMap<(usize, usize), HashLayout<Tp>>>,
}

impl Movements {
    fn new(topic_hashes: Vec<i32>) -> Self {
        Movements {
            topic_hashes,
            by_partition: HashMap::new(),
            by_topic: HashMap::new(),
        }
    }

    fn remove(&mut self, tp: Tp) -> Option<(usize, usize)> {
        let pair = self.by_partition.remove(&tp)?;
        if let Some(topic) = self.by_topic.get_mut(&tp.0) {
            if let Some(set) = topic.get_mut(&pair) {
                set.remove(tp);
                if set.is_empty() {
                    topic.remove(&pair);
                }
            }
            if topic.is_empty() {
                self.by_topic.remove(&tp.0);
            }
        }
        Some(pair)
    }

    fn add(&mut self, tp: Tp, pair: (usize, usize)) {
        let topic_hash = self.topic_hashes.get(tp.0).copied().unwrap_or(0);
        self.by_partition.insert(tp, pair);
        self.by_topic
            .entry(tp.0)
            .or_default()
            .entry(pair)
            .or_insert_with(HashLayout::new)
            .insert(tp, java::topic_partition_hash(topic_hash, tp.1));
    }

    /// Records that `tp` moved from `from` to `to`; a partition moving back to its first owner
    /// is no longer a move.
    fn record(&mut self, tp: Tp, from: usize, to: usize) {
        match self.remove(tp) {
            Some((first, _)) if first == to => {}
            Some((first, _)) => self.add(tp, (first, to)),
            None => self.add(tp, (from, to)),
        }
    }

    /// The partition to move when `tp` should go from `from` to `to`: if a partition of the same
    /// topic earlier moved the other way (from `to` to where `tp` first was), moving that one
    /// back undoes a move instead of making a new one.
    fn partition_to_move(&self, tp: Tp, from: usize, to: usize) -> Tp {
        let Some(topic) = self.by_topic.get(&tp.0) else {
            return tp;
        };
        let from = self.by_partition.get(&tp).map_or(from, |&(first, _)| first);
        topic
            .get(&(to, from))
            .and_then(HashLayout::first)
            .unwrap_or(tp)
    }
}
