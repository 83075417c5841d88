//! The commands the seeded world gives the group's consumers (commits, committed-offsets,
//! offsets-for-times and watermarks queries, closes), and the check that each gets exactly
//! one outcome ([`Invariant::AnsweredOnce`]): never two, and none missing once everything
//! drained, except for a process that crashed.

use std::collections::{BTreeMap, BTreeSet};

use dekaf_state::consumer::{ConsumerEvent, WatermarksId};
use dekaf_state::offset::{CommitId, Event, QueryId, TopicPartition, TopicPartitionTimestamp};

use crate::cluster::T0;
use crate::invariants::{Invariant, Violation};
use crate::{GroupSim, Member};

/// A command whose outcome is an event.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Asked {
    Commit(CommitId),
    Query(QueryId),
    Watermarks(WatermarksId),
}

/// The outcome an event is, if any.
fn answer(e: &ConsumerEvent) -> Option<Asked> {
    match e {
        ConsumerEvent::Offset(Event::CommitFinished { id, .. }) => Some(Asked::Commit(*id)),
        ConsumerEvent::Offset(
            Event::Committed { query, .. } | Event::OffsetsForTimes { query, .. },
        ) => Some(Asked::Query(*query)),
        ConsumerEvent::Watermarks { query, .. } => Some(Asked::Watermarks(*query)),
        _ => None,
    }
}

/// Every command given, by member slot.
#[derive(Default)]
pub(crate) struct Commands {
    asked: BTreeSet<(usize, Asked)>,
}

impl Commands {
    /// Gives the member in `slot` command `kind` (modulo 4) about every partition of
    /// `topic`: a commit, a committed-offsets query, an offsets-for-times query or a
    /// watermarks query. A command refused at once has nothing to answer later.
    pub(crate) fn ask(&mut self, sim: &mut GroupSim, slot: usize, kind: u8, topic: &str, n: i32) {
        let now = sim.now;
        let all = (0..n).map(|p| TopicPartition::new(topic, p));
        let c = &mut sim.member(slot).consumer;
        let asked = match kind % 4 {
            0 => c.commit(now).ok().map(Asked::Commit),
            1 => c.fetch_committed(now, all).ok().map(Asked::Query),
            2 => {
                let times = (0..n).map(|p| TopicPartitionTimestamp::new(topic, p, T0 + 50));
                c.offsets_for_times(now, times).ok().map(Asked::Query)
            }
            _ => c.query_watermarks(now, all).ok().map(Asked::Watermarks),
        };
        self.asked.extend(asked.map(|a| (slot, a)));
    }

    /// Closes the member in `slot`; the commit of the close, if any, is a command too.
    pub(crate) fn close(&mut self, sim: &mut GroupSim, slot: usize) {
        let now = sim.now;
        if let Some(id) = sim.member(slot).consumer.close(now) {
            self.asked.insert((slot, Asked::Commit(id)));
        }
    }

    /// Every outcome each member reported, by slot.
    fn answers<'a>(members: impl Iterator<Item = &'a Member>) -> BTreeMap<(usize, Asked), usize> {
        let mut n = BTreeMap::new();
        for m in members {
            for a in m.events.iter().filter_map(answer) {
                *n.entry((m.conn.slot, a)).or_default() += 1;
            }
        }
        n
    }

    /// Whether every command of a member that did not crash has its outcome.
    pub(crate) fn all_answered(&self, sim: &GroupSim) -> bool {
        let got = Commands::answers(sim.members.iter().flatten().chain(&sim.finished));
        let crashed = crashed_slots(sim);
        self.asked
            .iter()
            .all(|k| crashed.contains(&k.0) || got.contains_key(k))
    }

    /// The commands answered twice (any commit, asked or automatic), and, with `drained`,
    /// those of members that did not crash still without an outcome.
    pub(crate) fn check(
        &self,
        sim: &GroupSim,
        crashed: &[Member],
        drained: bool,
    ) -> Vec<Violation> {
        let all = sim
            .members
            .iter()
            .flatten()
            .chain(&sim.finished)
            .chain(crashed);
        let got = Commands::answers(all);
        let mut found: Vec<Violation> = got
            .iter()
            .filter(|(_, n)| **n > 1)
            .map(|((slot, a), n)| {
                Violation::new(
                    Invariant::AnsweredOnce,
                    format!("member {slot}: {a:?} answered {n} times"),
                )
            })
            .collect();
        if drained {
            let gone = crashed_slots(sim);
            let missing: Vec<String> = self
                .asked
                .iter()
                .filter(|k| !gone.contains(&k.0) && !got.contains_key(k))
                .map(|(slot, a)| format!("member {slot}: {a:?}"))
                .collect();
            if !missing.is_empty() {
                found.push(Violation::new(
                    Invariant::AnsweredOnce,
                    format!("never answered: {}", missing.join(", ")),
                ));
            }
        }
        found
    }
}

/// The slots whose process crashed: neither running nor finished.
fn crashed_slots(sim: &GroupSim) -> BTreeSet<usize> {
    let finished: BTreeSet<usize> = sim.finished.iter().map(|m| m.conn.slot).collect();
    sim.members
        .iter()
        .enumerate()
        .filter(|(slot, m)| m.is_none() && !finished.contains(slot))
        .map(|(slot, _)| slot)
        .collect()
}

#[cfg(test)]
mod tests {
    use dekaf_state::consumer::{Consumer, ConsumerConfig};

    use super::*;
    use crate::Cluster;

    fn one_member() -> (GroupSim, usize) {
        let mut cluster = Cluster::new(1, 1);
        cluster.create_topic("t", 2);
        let mut sim = GroupSim::new(cluster, "g");
        let slot = sim.add(Consumer::new(ConsumerConfig::new().with_group_id("g")));
        (sim, slot)
    }

    #[test]
    fn a_query_never_answered_breaks_answered_once_once_drained() {
        let (mut sim, slot) = one_member();
        let mut commands = Commands::default();
        commands.ask(&mut sim, slot, 1, "t", 2);
        assert!(!commands.all_answered(&sim));
        assert_eq!(commands.check(&sim, &[], false), vec![]);
        let found = commands.check(&sim, &[], true);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].invariant, Invariant::AnsweredOnce);
    }

    #[test]
    fn a_query_answered_twice_breaks_answered_once() {
        let (mut sim, slot) = one_member();
        let mut commands = Commands::default();
        commands.ask(&mut sim, slot, 3, "t", 2);
        sim.run_for(std::time::Duration::from_secs(5));
        assert!(commands.all_answered(&sim));
        assert_eq!(commands.check(&sim, &[], true), vec![]);
        let m = sim.member(slot);
        let answer = m
            .events
            .iter()
            .find(|e| super::answer(e).is_some())
            .cloned();
        m.events.extend(answer);
        let found = commands.check(&sim, &[], true);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].invariant, Invariant::AnsweredOnce);
    }

    #[test]
    fn the_commands_of_a_crashed_process_may_stay_unanswered() {
        let (mut sim, slot) = one_member();
        let mut commands = Commands::default();
        commands.ask(&mut sim, slot, 2, "t", 2);
        let crashed: Vec<Member> = sim.crash(slot).into_iter().collect();
        assert!(commands.all_answered(&sim));
        assert_eq!(commands.check(&sim, &crashed, true), vec![]);
    }
}
