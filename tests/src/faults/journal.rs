//! What the consumers of a workload received, in the order they received it, checked as it
//! comes:
//!
//! - within one assignment of a partition to a member, records come in offset order with no
//!   gap (the topics have no transactions and no compaction, so offsets are consecutive);
//! - a member that starts reading a partition (after an assignment, a revocation or a loss)
//!   starts no further than the partition's frontier — one past the highest offset any
//!   member was handed — so that no record is skipped;
//! - a member receives only records of partitions it holds.
//!
//! The frontier also bounds the committed offsets the workloads observe: a group never
//! commits past what it handed out.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use bytes::Bytes;
use dekaf_smol::TopicPartition;

/// A hook call, as a member's listener saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Hook {
    Assigned,
    Revoked,
    Lost,
}

/// One hook call: when (seconds since the proxy started), which member (index, member id,
/// generation), what, for which partitions.
#[derive(Debug, Clone)]
pub(crate) struct HookCall {
    pub(crate) at: f64,
    pub(crate) member: usize,
    pub(crate) member_id: String,
    pub(crate) generation: i32,
    pub(crate) hook: Hook,
    pub(crate) partitions: Vec<TopicPartition>,
}

#[derive(Debug)]
pub(crate) struct Journal {
    /// Times count from here (the proxy's start).
    started: Instant,
    /// Per partition, one past the highest offset handed out.
    frontier: BTreeMap<TopicPartition, i64>,
    /// Per member and partition, the offset due next within the current assignment.
    expect: BTreeMap<(usize, TopicPartition), i64>,
    /// Every record received: how many times, and its value.
    pub(crate) received: BTreeMap<(TopicPartition, i64), (u32, Bytes)>,
    /// Every hook call.
    pub(crate) hooks: Vec<HookCall>,
    /// Errors the members' `recv_batch` returned, by their text's first words.
    pub(crate) errors: BTreeMap<String, u32>,
    pub(crate) violations: Vec<String>,
    pub(crate) deliveries: u64,
}

/// A journal shared by the members of a workload.
pub(crate) type Shared = Arc<Mutex<Journal>>;

/// An empty journal whose times count from `started`.
pub(crate) fn new(started: Instant) -> Shared {
    Arc::new(Mutex::new(Journal {
        started,
        frontier: BTreeMap::new(),
        expect: BTreeMap::new(),
        received: BTreeMap::new(),
        hooks: Vec::new(),
        errors: BTreeMap::new(),
        violations: Vec::new(),
        deliveries: 0,
    }))
}

pub(crate) fn lock(journal: &Shared) -> MutexGuard<'_, Journal> {
    journal.lock().unwrap_or_else(|e| e.into_inner())
}

impl Journal {
    /// Member `member`, holding the partitions `held` (or any, when `None`), received `tp`
    /// at `offset`.
    pub(crate) fn record(
        &mut self,
        member: usize,
        held: Option<&[TopicPartition]>,
        tp: &TopicPartition,
        offset: i64,
        value: Bytes,
    ) {
        self.deliveries += 1;
        if held.is_some_and(|h| !h.contains(tp)) {
            self.violations.push(format!(
                "member {member} received {tp}@{offset} while holding {:?}",
                held.unwrap_or_default()
            ));
        }
        let frontier = self.frontier.get(tp).copied().unwrap_or(0);
        match self.expect.get(&(member, tp.clone())) {
            Some(&due) if offset != due => self.violations.push(format!(
                "member {member}: {tp}@{offset} came where {tp}@{due} was due (within one \
                 assignment: {})",
                if offset > due { "a gap" } else { "a repeat" }
            )),
            Some(_) => {}
            None if offset > frontier => self.violations.push(format!(
                "member {member} started {tp} at {offset}, past everything handed out so far \
                 ({frontier}): records skipped"
            )),
            None => {}
        }
        self.expect.insert((member, tp.clone()), offset + 1);
        self.frontier.insert(tp.clone(), frontier.max(offset + 1));
        let entry = self
            .received
            .entry((tp.clone(), offset))
            .or_insert((0, value.clone()));
        if entry.1 != value {
            self.violations.push(format!(
                "{tp}@{offset} was received with two different values"
            ));
        }
        entry.0 += 1;
    }

    /// Member `member` (member id and generation as its consumer has them) ran `hook` for
    /// `partitions`: a new assignment starts for each.
    pub(crate) fn hook(
        &mut self,
        member: usize,
        group: Option<dekaf_smol::GroupMetadata>,
        hook: Hook,
        partitions: &[TopicPartition],
    ) {
        for tp in partitions {
            self.expect.remove(&(member, tp.clone()));
        }
        let group = group.unwrap_or_else(|| dekaf_smol::GroupMetadata::new(""));
        self.hooks.push(HookCall {
            at: self.started.elapsed().as_secs_f64(),
            member,
            member_id: group.member_id,
            generation: group.generation_id,
            hook,
            partitions: partitions.to_vec(),
        });
    }

    /// The hook calls that concern `tp`, one line each.
    pub(crate) fn history(&self, tp: &TopicPartition) -> Vec<String> {
        self.hooks
            .iter()
            .filter(|h| h.partitions.contains(tp))
            .map(|h| {
                format!(
                    "{:7.3}s member {} ({:?}, generation {}): {:?}",
                    h.at, h.member, h.member_id, h.generation, h.hook
                )
            })
            .collect()
    }

    /// One past the highest offset of `tp` handed out (0 before any).
    pub(crate) fn frontier(&self, tp: &TopicPartition) -> i64 {
        self.frontier.get(tp).copied().unwrap_or(0)
    }

    /// A member's `recv_batch` failed with `error`.
    pub(crate) fn error(&mut self, error: &dekaf_smol::Error) {
        *self.errors.entry(error_kind(error)).or_default() += 1;
    }

    /// How many records were received more than once (a group's at-least-once redeliveries).
    pub(crate) fn redelivered(&self) -> usize {
        self.received.values().filter(|(n, _)| *n > 1).count()
    }
}

/// An error's text with its numbers (ports, offsets) and its parenthesised details blanked,
/// to count errors by kind.
pub(crate) fn error_kind(error: &dekaf_smol::Error) -> String {
    let mut out = String::new();
    let mut depth = 0usize;
    for c in error.to_string().chars() {
        match c {
            '(' => {
                depth += 1;
                if depth == 1 {
                    out.push_str("(…)");
                }
                continue;
            }
            ')' => {
                depth = depth.saturating_sub(1);
                continue;
            }
            _ if depth > 0 => continue,
            _ => {}
        }
        if c.is_ascii_digit() {
            if !out.ends_with('#') {
                out.push('#');
            }
        } else {
            out.push(c);
        }
    }
    out
}
