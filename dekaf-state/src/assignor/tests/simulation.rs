//! A simulation of the cooperative protocol: members join, leave, crash and restart, topics
//! grow; after each change the group rebalances (with follow-up rebalances while members
//! revoke). Checks that a partition is never given to a member while another one owns it, and
//! that every partition has exactly one owner once the group settles.

use proptest::collection::vec;
use proptest::prelude::*;

use super::*;

const TOPICS: [&str; 3] = ["orders", "payments", "audit"];

#[derive(Debug, Clone)]
enum Event {
    /// A member joins with a subscription mask.
    Join(u8),
    /// A member closes: it revokes everything and leaves.
    Leave(usize),
    /// A member's session expires: its partitions are lost with it.
    Crash(usize),
    /// A member restarts under the same id (static membership) owning nothing.
    Restart(usize),
    /// A topic gets more partitions.
    Grow(usize, i32),
}

fn event() -> impl Strategy<Value = Event> {
    prop_oneof![
        3 => any::<u8>().prop_map(Event::Join),
        1 => any::<usize>().prop_map(Event::Leave),
        1 => any::<usize>().prop_map(Event::Crash),
        1 => any::<usize>().prop_map(Event::Restart),
        1 => (0..TOPICS.len(), 1..4i32).prop_map(|(t, n)| Event::Grow(t, n)),
    ]
}

#[derive(Debug, Clone)]
struct Member {
    id: String,
    topics: Vec<String>,
    owned: BTreeSet<(String, i32)>,
    generation: Option<i32>,
}

struct Group {
    members: Vec<Member>,
    topics: BTreeMap<String, i32>,
    generation: i32,
    next_id: usize,
}

impl Group {
    fn join(&mut self, mask: u8, same_topics: bool) {
        let mask = if same_topics { 0b111 } else { mask };
        let mut topics: Vec<String> = (0..TOPICS.len())
            .filter(|t| mask & (1 << t) != 0)
            .map(|t| TOPICS[t].to_owned())
            .collect();
        if topics.is_empty() {
            topics.push(TOPICS[0].to_owned());
        }
        // Varied ids so that members are visited in varied orders.
        let id = format!(
            "{}-{}",
            ["consumer", "c", "x"][self.next_id % 3],
            self.next_id
        );
        self.next_id += 1;
        self.members.push(Member {
            id,
            topics,
            owned: BTreeSet::new(),
            generation: None,
        });
    }

    /// One rebalance; returns whether some member revoked a partition (and so rejoins).
    fn rebalance(&mut self) -> bool {
        self.generation += 1;
        let subscriptions: Vec<MemberSubscription> = self
            .members
            .iter()
            .map(|m| MemberSubscription {
                member_id: m.id.clone(),
                topics: m.topics.clone(),
                owned_partitions: m.owned.iter().cloned().collect(),
                generation: m.generation,
                user_data: CooperativeStickyAssignor
                    .subscription_user_data(m.generation.unwrap_or(-1)),
                ..Default::default()
            })
            .collect();
        let out = CooperativeStickyAssignor.assign(&subscriptions, &self.topics);

        // Members apply their assignments at different moments, so a partition a member gains
        // must be owned by nobody else already.
        for m in &self.members {
            for tp in &out[&m.id] {
                if m.owned.contains(tp) {
                    continue;
                }
                for other in &self.members {
                    assert!(
                        other.id == m.id || !other.owned.contains(tp),
                        "{tp:?} given to {} while {} owns it",
                        m.id,
                        other.id
                    );
                }
            }
        }
        let mut revoked = false;
        for m in &mut self.members {
            let assigned: BTreeSet<(String, i32)> = out[&m.id].iter().cloned().collect();
            revoked |= !m.owned.is_subset(&assigned);
            m.owned = assigned;
            m.generation = Some(self.generation);
        }
        let mut all = BTreeSet::new();
        for m in &self.members {
            for tp in &m.owned {
                assert!(all.insert(tp.clone()), "{tp:?} owned twice");
            }
        }
        revoked
    }

    fn settle(&mut self) {
        let mut rounds = 0;
        while self.rebalance() {
            rounds += 1;
            assert!(rounds <= 5, "group does not settle");
        }
        // Settled: every partition of a subscribed topic has exactly one owner.
        let subscribed: BTreeSet<&String> = self.members.iter().flat_map(|m| &m.topics).collect();
        let expected: BTreeSet<(String, i32)> = self
            .topics
            .iter()
            .filter(|(t, _)| subscribed.contains(t))
            .flat_map(|(t, n)| (0..*n).map(move |p| (t.clone(), p)))
            .collect();
        let owned: BTreeSet<(String, i32)> = self
            .members
            .iter()
            .flat_map(|m| m.owned.iter().cloned())
            .collect();
        assert_eq!(owned, expected);
    }
}

fn run(initial: &[u8], events: &[Event], same_topics: bool) {
    let mut group = Group {
        members: Vec::new(),
        topics: TOPICS.iter().map(|t| ((*t).to_owned(), 4)).collect(),
        generation: 0,
        next_id: 0,
    };
    for &mask in initial {
        group.join(mask, same_topics);
    }
    group.settle();
    for e in events {
        let n = group.members.len();
        match *e {
            Event::Join(mask) => group.join(mask, same_topics),
            Event::Leave(i) | Event::Crash(i) if n > 0 => {
                group.members.remove(i % n);
            }
            Event::Restart(i) if n > 0 => {
                let m = &mut group.members[i % n];
                m.owned.clear();
                m.generation = None;
            }
            Event::Grow(t, more) => {
                if let Some(count) = group.topics.get_mut(TOPICS[t]) {
                    *count += more;
                }
            }
            _ => continue,
        }
        group.settle();
    }
}

#[test]
fn members_join_one_by_one_and_leave() {
    let events: Vec<Event> = (0..5)
        .map(|_| Event::Join(0b111))
        .chain([
            Event::Leave(0),
            Event::Crash(2),
            Event::Grow(1, 3),
            Event::Restart(1),
        ])
        .collect();
    run(&[0b111], &events, true);
    run(&[0b001], &events, false);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn cooperative_rebalances_never_share_a_partition(
        initial in vec(any::<u8>(), 1..4),
        events in vec(event(), 1..15),
        same_topics in any::<bool>(),
    ) {
        run(&initial, &events, same_topics);
    }
}
