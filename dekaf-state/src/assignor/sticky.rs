//! The sticky assignment shared by the sticky assignors (Java's `AbstractStickyAssignor`).
//!
//! Goals, in order: a balanced assignment, then as few partitions moved away from their current
//! owners as possible. Two builders do the work, as in Java:
//!
//! - When every member subscribes to the same topics, the *constrained* builder: each member
//!   keeps up to its quota (`partitions / members`, rounded down or up) of what it owns, the
//!   rest is dealt round robin to the members below quota. The result is balanced within one.
//! - Otherwise the *general* builder ([`super::sticky_general`]): keep every valid ownership,
//!   give each unowned partition to the least loaded member that can take it (rack-aware: the
//!   least loaded one in a rack holding a replica, where there is one), then move partitions
//!   from the most to the least loaded members while that improves the balance.
//!
//! Where Java's choice depends on the iteration order of a `HashMap` (which member, among
//! several that own more than their quota, keeps the extra partition; which previous owner
//! counts when two of the same generation claim a partition), dekaf reproduces that order (see
//! [`super::java`]), so the same members in the same JoinGroup order get the same assignment.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};

use super::sticky_general::{self, GeneralInput};
use super::sticky_racks::RackInfo;
use super::{java, Group, PartitionRacks, Tp};

/// The result of a sticky assignment, per member in [`Group::members`] order.
pub(super) struct StickyOutcome {
    /// The partitions of each member.
    pub(super) assignment: Vec<Vec<Tp>>,
    /// Partitions given to a member (the value, a [`Group::members`] index) while some other
    /// member may still own them, when the builder knows (the constrained builder); `None` when
    /// they must be worked out from the members' claims (the general builder).
    pub(super) transferring: Option<BTreeMap<Tp, usize>>,
}

/// A member's generation as the sticky assignment sees it.
#[derive(Debug, Clone, Copy)]
pub(super) struct MemberGeneration {
    /// The generation of the member's owned partitions, from the subscription's field or the
    /// assignor's user data; -1 if unknown.
    pub(super) owned: i32,
    /// The subscription's generation field alone; -1 if absent.
    pub(super) field: i32,
}

impl Default for MemberGeneration {
    fn default() -> Self {
        MemberGeneration {
            owned: -1,
            field: -1,
        }
    }
}

/// Computes the sticky assignment of `group`, given each member's generation, indexed like
/// [`Group::members`], and the racks of the partitions' replicas.
pub(super) fn assign(
    group: &Group<'_>,
    generations: &[MemberGeneration],
    racks: &PartitionRacks,
) -> StickyOutcome {
    let n = group.members.len();
    if n == 0 {
        return StickyOutcome {
            assignment: Vec::new(),
            transferring: Some(BTreeMap::new()),
        };
    }
    // Work in "rank" space: rank r is the r-th member in member id order, the order of Java's
    // sorted collections of members.
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| java::cmp_str(group.members[a].id(), group.members[b].id()));
    let mut rank_of = vec![0; n];
    for (r, &m) in order.iter().enumerate() {
        rank_of[m] = r;
    }
    // The order in which Java walks its hash map of members.
    let ids: Vec<&str> = group.members.iter().map(|m| m.id()).collect();
    let visit: Vec<usize> = java::string_map_order(&ids)
        .into_iter()
        .map(|m| rank_of[m])
        .collect();
    let generation = |r: usize| generations.get(order[r]).map_or(-1, |g| g.owned);

    let claims = resolve_claims(group, &order, &visit, generations);

    let first = &group.members[order[0]].raw_topics;
    let all_equal = order.iter().all(|&m| &group.members[m].raw_topics == first);

    let racks = RackInfo::new(group, &order, racks);
    let (by_rank, transferring) = if all_equal {
        let (assignment, transferring) = constrained(group, claims, &visit, &racks);
        (assignment, Some(transferring))
    } else {
        let max_generation = (0..n).map(generation).fold(-1, i32::max);
        let previous = previous_owners(group, &order, &visit, &generation, max_generation);
        let input = GeneralInput {
            counts: group.topics.iter().map(|t| t.1).collect(),
            topic_hashes: group
                .topics
                .iter()
                .map(|t| java::string_hash(t.0))
                .collect(),
            subscriptions: order.iter().map(|&m| &group.members[m].topics).collect(),
            current: claims.owned,
            previous,
            racks: &racks,
        };
        (sticky_general::assign(input), None)
    };

    let mut assignment = vec![Vec::new(); n];
    for (r, partitions) in by_rank.into_iter().enumerate() {
        assignment[order[r]] = partitions;
    }
    let transferring = transferring.map(|t| t.into_iter().map(|(tp, r)| (tp, order[r])).collect());
    StickyOutcome {
        assignment,
        transferring,
    }
}

/// Who owns what once conflicting claims are settled.
struct Claims {
    /// The partitions each member (by rank) keeps claiming.
    owned: Vec<Vec<Tp>>,
    /// Partitions two members claimed in the same generation along the way.
    contested: HashSet<Tp>,
}

/// Settles the members' ownership claims, visiting members (by rank) in `visit` order as Java
/// does: the first claimant of a partition holds it; a later claimant with a higher generation
/// takes it over, one with the same generation voids the claim (nobody holds it, and it is
/// marked contested), one with a lower generation is ignored. In the end the highest generation
/// wins and a tie at the top leaves the partition to nobody; a tie lower down only marks it.
///
/// Like Java, the generation a later claimant is compared with is the holder's subscription
/// field (`-1` when the holder sent its generation in the user data only).
fn resolve_claims(
    group: &Group<'_>,
    order: &[usize],
    visit: &[usize],
    generations: &[MemberGeneration],
) -> Claims {
    let n = order.len();
    let generation = |r: usize| generations.get(order[r]).copied().unwrap_or_default();
    let mut owned: Vec<Vec<Tp>> = vec![Vec::new(); n];
    let mut holder: HashMap<Tp, usize> = HashMap::new();
    let mut contested = HashSet::new();
    for &r in visit {
        let mine = generation(r).owned;
        for &tp in &group.members[order[r]].owned {
            let Some(&other) = holder.get(&tp) else {
                owned[r].push(tp);
                holder.insert(tp, r);
                continue;
            };
            let theirs = generation(other).field;
            match mine.cmp(&theirs) {
                std::cmp::Ordering::Equal => {
                    contested.insert(tp);
                    owned[other].retain(|x| *x != tp);
                    holder.insert(tp, r);
                }
                std::cmp::Ordering::Greater => {
                    owned[other].retain(|x| *x != tp);
                    owned[r].push(tp);
                    holder.insert(tp, r);
                }
                std::cmp::Ordering::Less => {}
            }
        }
    }
    Claims { owned, contested }
}

/// The previous owner (by rank) of each partition claimed by a member from an older generation
/// than the newest one in the group: the claimant with the highest such generation, the first
/// visited on a tie. The general builder moves a partition back there when that helps the
/// balance.
fn previous_owners(
    group: &Group<'_>,
    order: &[usize],
    visit: &[usize],
    generation: &dyn Fn(usize) -> i32,
    max_generation: i32,
) -> HashMap<Tp, usize> {
    let mut previous: HashMap<Tp, (usize, i32)> = HashMap::new();
    for &r in visit {
        let g = generation(r);
        if g >= max_generation {
            continue;
        }
        for &tp in &group.members[order[r]].owned {
            match previous.get(&tp) {
                Some(&(_, existing)) if existing >= g => {}
                _ => {
                    previous.insert(tp, (r, g));
                }
            }
        }
    }
    previous.into_iter().map(|(tp, (r, _))| (tp, r)).collect()
}

/// The constrained builder, for groups whose members all subscribe to the same topics, visiting
/// members (by rank) in `visit` order. Returns the assignment by rank and the partitions handed
/// to a new owner while another member may still hold them.
fn constrained(
    group: &Group<'_>,
    claims: Claims,
    visit: &[usize],
    racks: &RackInfo<'_>,
) -> (Vec<Vec<Tp>>, BTreeMap<Tp, usize>) {
    let n = claims.owned.len();
    let total: usize = group
        .topics
        .iter()
        .map(|t| usize::try_from(t.1).unwrap_or(0))
        .sum();
    let min_quota = total / n;
    let max_quota = total.div_ceil(n);
    let expected_over_min = total % n;
    let mut over_min = 0;

    let mut assignment: Vec<Vec<Tp>> = vec![Vec::new(); n];
    let mut assigned: HashSet<Tp> = HashSet::new();
    let mut maybe_revoked: HashMap<Tp, usize> = HashMap::new();
    let mut under_min: Vec<usize> = Vec::new();
    let mut at_min: VecDeque<usize> = VecDeque::new();

    // Step 1: each member keeps what it owns, up to its quota. Java keeps the lowest partition
    // numbers first, across topics. The first members visited may keep one above the minimum.
    let mut owned_by_rank = claims.owned;
    for &r in visit {
        let mut owned = std::mem::take(&mut owned_by_rank[r]);
        // Java drops contested partitions here even from a member that took them over with a
        // higher generation afterwards.
        owned.retain(|tp| !claims.contested.contains(tp));
        // Rack-aware, a member keeps only what has a replica in its rack; the rest may go to
        // others, after it revoked them.
        owned.retain(|&tp| {
            let mismatch = racks.mismatch(r, tp);
            if mismatch {
                maybe_revoked.insert(tp, r);
            }
            !mismatch
        });
        owned.sort_by_key(|&(t, p)| (p, t));
        let keep = if owned.len() < min_quota {
            under_min.push(r);
            owned.len()
        } else if owned.len() >= max_quota && over_min < expected_over_min {
            over_min += 1;
            if over_min == expected_over_min {
                // Nobody else may go above the minimum now.
                at_min.clear();
            }
            max_quota
        } else {
            if over_min < expected_over_min {
                at_min.push_back(r);
            }
            min_quota
        };
        for &tp in &owned[keep..] {
            maybe_revoked.insert(tp, r);
        }
        owned.truncate(keep);
        assigned.extend(owned.iter().copied());
        assignment[r] = owned;
    }

    // Step 2: deal the rest round robin, first to members under the minimum, then one each to
    // members at the minimum until enough members have the maximum.
    let mut unassigned: Vec<Tp> = group
        .all_partitions()
        .filter(|tp| !assigned.contains(tp))
        .collect();
    under_min.sort_unstable();
    at_min.make_contiguous().sort_unstable();
    racks.sort_partitions(&mut unassigned);
    let mut transferring = BTreeMap::new();
    let mut give = |assignment: &mut Vec<Vec<Tp>>, tp: Tp, r: usize| {
        assignment[r].push(tp);
        let claimed_elsewhere = maybe_revoked.get(&tp).is_some_and(|&owner| owner != r);
        if claimed_elsewhere || claims.contested.contains(&tp) {
            transferring.insert(tp, r);
        }
    };
    if racks.is_aware() {
        // Rack-aware first: deal, round robin within each partition's racks, to members
        // under the minimum, else to members at the minimum; what finds nobody waits.
        let mut next = 0;
        unassigned.retain(|&tp| {
            let mut to = None;
            if let Some(mut i) = racks.next_rack_member(tp, under_min.iter(), next) {
                let r = under_min[i];
                let count = assignment[r].len() + 1;
                if count >= min_quota {
                    under_min.remove(i);
                    if count < max_quota && over_min < expected_over_min {
                        at_min.push_back(r);
                    }
                } else {
                    i += 1;
                }
                next = if under_min.is_empty() {
                    0
                } else {
                    i % under_min.len()
                };
                to = Some(r);
            } else if let Some(i) = racks.next_rack_member(tp, at_min.iter(), 0) {
                let r = at_min[i];
                if assignment[r].len() + 1 == max_quota {
                    at_min.remove(i);
                    // Java counts these too late: once enough members hold the maximum, the
                    // others at the minimum must stay there, or a member below it finds no
                    // partition left.
                    over_min += 1;
                    if over_min == expected_over_min {
                        at_min.clear();
                    }
                }
                to = Some(r);
            }
            match to {
                Some(r) => {
                    give(&mut assignment, tp, r);
                    false
                }
                None => true,
            }
        });
    }
    let mut cursor = 0;
    for tp in unassigned {
        let (r, from_under) = if cursor < under_min.len() {
            cursor += 1;
            (under_min[cursor - 1], true)
        } else if !under_min.is_empty() {
            cursor = 1;
            (under_min[0], true)
        } else if let Some(r) = at_min.pop_front() {
            (r, false)
        } else {
            // Cannot happen: the quotas add up to the partition count. Leaving the partition
            // out is safer than overloading someone.
            break;
        };
        give(&mut assignment, tp, r);
        // A member reaching the minimum waits, behind those already there, for one more;
        // one reaching the maximum is done.
        if assignment[r].len() == min_quota {
            if from_under {
                cursor -= 1;
                under_min.remove(cursor);
            }
            at_min.push_back(r);
        }
    }
    (assignment, transferring)
}
