//! Groups and their committed offsets, through each group's coordinator.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use async_io::Timer;
use dekaf_state::admin::{self as plan, AdminError};
use dekaf_state::client::{BrokerId, ClientRequest, Destination};
use dekaf_state::consumer::IsolationLevel;
use dekaf_state::offset::{OffsetAndMetadata, TopicPartition, TopicPartitionOffset};

use super::{
    Admin, GroupDescription, GroupFilter, GroupLag, GroupListings, GroupOffsetsQuery, GroupResults,
    OffsetQuery, PartitionResults,
};
use crate::side::Outcome;
use crate::Error;

/// How many times a group's request goes to its coordinator before a moved or unreachable
/// coordinator is reported.
const COORDINATOR_ATTEMPTS: u32 = 3;

impl Admin {
    /// Runs a coordinator request for each of `groups`: finds each group's coordinator,
    /// sends the requests `plan` writes for the groups of each coordinator (each request with
    /// the groups it carries), reads each group's outcome with `read`, and goes again for the
    /// groups whose coordinator moved or could not be reached, up to
    /// [`COORDINATOR_ATTEMPTS`] times in all.
    async fn on_coordinators<T>(
        &self,
        groups: BTreeSet<String>,
        plan: impl Fn(&[String]) -> Vec<(Vec<String>, ClientRequest)>,
        read: impl Fn(&[String], BrokerId, Outcome) -> GroupResults<T>,
    ) -> Result<GroupResults<T>, Error> {
        let mut done: GroupResults<T> = BTreeMap::new();
        let mut pending: Vec<String> = groups.into_iter().collect();
        for attempt in 1..=COORDINATOR_ATTEMPTS {
            if pending.is_empty() {
                break;
            }
            if attempt > 1 {
                Timer::after(Duration::from_millis(100) * 2u32.pow(attempt - 2)).await;
            }
            let last = attempt == COORDINATOR_ATTEMPTS;
            let mut again = Vec::new();
            let found = self
                .send_all(
                    pending
                        .iter()
                        .map(|g| (Destination::AnyBroker, plan::find_coordinator_request(g))),
                )
                .await?;
            let mut by_coordinator: BTreeMap<BrokerId, Vec<String>> = BTreeMap::new();
            for (group, outcome) in pending.drain(..).zip(found) {
                match plan::read_find_coordinator(&group, outcome) {
                    Ok(id) => by_coordinator.entry(id).or_default().push(group),
                    Err(e) if e.is_coordinator_error() && !last => again.push(group),
                    Err(e) => {
                        done.insert(group, Err(e));
                    }
                }
            }
            let mut sent = Vec::new();
            let mut requests = Vec::new();
            for (&coordinator, groups) in &by_coordinator {
                for (carried, request) in plan(groups) {
                    sent.push((coordinator, carried));
                    requests.push((Destination::Coordinator(coordinator), request));
                }
            }
            let outcomes = self.send_all(requests).await?;
            for ((coordinator, carried), outcome) in sent.into_iter().zip(outcomes) {
                for (group, result) in read(&carried, coordinator, outcome) {
                    match result {
                        Err(e) if e.is_coordinator_error() && !last => again.push(group),
                        result => {
                            done.insert(group, result);
                        }
                    }
                }
            }
            pending = again;
        }
        Ok(done)
    }

    /// The groups of the whole cluster (each broker lists those it coordinates), those
    /// `filter` lets through. A broker that could not list its groups is named in
    /// [`GroupListings::errors`].
    pub async fn list_groups(&self, filter: GroupFilter) -> Result<GroupListings, Error> {
        let outcome = self
            .send(Destination::AnyBroker, plan::brokers_request())
            .await?;
        let metadata = plan::read_metadata(outcome)?;
        let brokers: Vec<BrokerId> = metadata.brokers.iter().map(|b| b.node_id).collect();
        let request = plan::list_groups_request(&filter);
        let outcomes = self
            .send_all(
                brokers
                    .iter()
                    .map(|&id| (Destination::Broker(id), request.clone())),
            )
            .await?;
        let mut listings = GroupListings::default();
        for (id, outcome) in brokers.into_iter().zip(outcomes) {
            match plan::read_list_groups(outcome) {
                Ok(groups) => listings.groups.extend(groups),
                Err(e) => {
                    listings.errors.insert(id, e);
                }
            }
        }
        listings.groups.sort_by(|a, b| a.group_id.cmp(&b.group_id));
        listings.groups.dedup_by(|a, b| a.group_id == b.group_id);
        Ok(listings)
    }

    /// Each group's state, protocol and members, with each member's client id, host and
    /// assignment (decoded from the consumer protocol). A group that does not exist is a
    /// GROUP_ID_NOT_FOUND error of its own.
    pub async fn describe_groups<I, S>(
        &self,
        groups: I,
    ) -> Result<GroupResults<GroupDescription>, Error>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let groups: BTreeSet<String> = groups.into_iter().map(Into::into).collect();
        self.on_coordinators(
            groups,
            |gs| vec![(gs.to_vec(), plan::describe_groups_request(gs.to_vec()))],
            plan::read_describe_groups,
        )
        .await
    }

    /// Deletes groups with their committed offsets; a group that still has members is
    /// refused (NON_EMPTY_GROUP), a group that does not exist too (GROUP_ID_NOT_FOUND).
    pub async fn delete_groups<I, S>(&self, groups: I) -> Result<GroupResults<()>, Error>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let groups: BTreeSet<String> = groups.into_iter().map(Into::into).collect();
        self.on_coordinators(
            groups,
            |gs| vec![(gs.to_vec(), plan::delete_groups_request(gs.to_vec()))],
            |gs, _, outcome| plan::read_delete_groups(gs, outcome),
        )
        .await
    }

    /// The committed offsets of each group asked, with their metadata and leader epoch: of
    /// the partitions named, or of every partition the group has one for. A partition asked
    /// that has no committed offset is `Ok(None)`; a group without any has none (not an
    /// error: Kafka cannot tell such a group from one that does not exist).
    ///
    /// The groups of one coordinator travel in one request where it supports OffsetFetch v8
    /// (the groups array); where it does not, each group is asked on its own.
    pub async fn list_group_offsets(
        &self,
        queries: impl IntoIterator<Item = GroupOffsetsQuery>,
    ) -> Result<GroupResults<PartitionResults<Option<OffsetAndMetadata>>>, Error> {
        let queries: BTreeMap<String, Option<Vec<TopicPartition>>> = queries
            .into_iter()
            .map(|q| (q.group_id, q.partitions))
            .collect();
        let of = |groups: &[String]| -> Vec<(String, Option<Vec<TopicPartition>>)> {
            groups
                .iter()
                .map(|g| (g.clone(), queries.get(g).cloned().flatten()))
                .collect()
        };
        let mut done = self
            .on_coordinators(
                queries.keys().cloned().collect(),
                |gs| match gs {
                    [one] => vec![(gs.to_vec(), one_group_fetch(one, &queries))],
                    _ => vec![(gs.to_vec(), plan::offset_fetch_groups_request(&of(gs)))],
                },
                |gs, _, outcome| match gs {
                    [one] => read_one_group_fetch(one, &queries, outcome),
                    _ => plan::read_offset_fetch_groups(&of(gs), outcome),
                },
            )
            .await?;
        // A coordinator without v8 cannot carry a batch: one request per group instead.
        let again: BTreeSet<String> = done
            .iter()
            .filter(|(_, r)| r.as_ref().is_err_and(AdminError::is_unsupported))
            .map(|(g, _)| g.clone())
            .collect();
        if !again.is_empty() {
            let one_by_one = self
                .on_coordinators(
                    again,
                    |gs| {
                        gs.iter()
                            .map(|g| (vec![g.clone()], one_group_fetch(g, &queries)))
                            .collect()
                    },
                    |gs, _, outcome| read_one_group_fetch(&gs[0], &queries, outcome),
                )
                .await?;
            done.extend(one_by_one);
        }
        Ok(done)
    }

    /// Sets `group`'s committed offsets, as a consumer of the group restarting would find
    /// them. Only a group without members can be changed: with members, nothing is changed
    /// and the call fails with [`AdminError::GroupNotEmpty`] naming them (checked with
    /// DescribeGroups first; a coordinator that refuses the commit for membership reasons
    /// gives the same error). A partition that does not exist (checked with Metadata first)
    /// or an offset below 0 is refused for that partition alone.
    pub async fn alter_group_offsets(
        &self,
        group: &str,
        offsets: impl IntoIterator<Item = (TopicPartition, OffsetAndMetadata)>,
    ) -> Result<PartitionResults<()>, Error> {
        let mut refused: PartitionResults<()> = BTreeMap::new();
        let mut commit: BTreeMap<TopicPartition, OffsetAndMetadata> = BTreeMap::new();
        for (tp, offset) in offsets {
            if offset.offset < 0 {
                let why = format!("{tp} at {}: offsets start at 0", offset.offset);
                refused.insert(tp, Err(AdminError::Invalid(why)));
            } else {
                commit.insert(tp, offset);
            }
        }
        if commit.is_empty() {
            return Ok(refused);
        }
        // Partitions that do not exist are refused here: some brokers (tansu's build W) would
        // store offsets for them.
        let topics: BTreeSet<String> = commit.keys().map(|tp| tp.topic().to_owned()).collect();
        let outcome = self
            .send(
                Destination::AnyBroker,
                plan::metadata_request(topics.into_iter().collect()),
            )
            .await?;
        let unknown = match plan::read_metadata(outcome) {
            Ok(metadata) => plan::unknown_partitions(&metadata, commit.keys()),
            Err(e) => commit.keys().map(|tp| (tp.clone(), e.clone())).collect(),
        };
        for (tp, e) in unknown {
            commit.remove(&tp);
            refused.insert(tp, Err(e));
        }
        if commit.is_empty() {
            return Ok(refused);
        }
        let mut described = self.describe_groups([group]).await?;
        let description = described.remove(group).unwrap_or(Err(AdminError::Missing));
        plan::check_group_empty(group, description.as_ref())?;
        let asked: Vec<TopicPartition> = commit.keys().cloned().collect();
        let commit: Vec<TopicPartitionOffset> = commit
            .into_iter()
            .map(|(topic_partition, offset)| TopicPartitionOffset {
                topic_partition,
                offset,
            })
            .collect();
        let mut committed = self
            .on_coordinators(
                BTreeSet::from([group.to_owned()]),
                |gs| {
                    vec![(
                        gs.to_vec(),
                        plan::offset_commit_request(&gs[0], commit.clone()),
                    )]
                },
                |gs, _, outcome| {
                    BTreeMap::from([(
                        gs[0].clone(),
                        plan::read_offset_commit(&gs[0], &asked, outcome),
                    )])
                },
            )
            .await?;
        let mut out = committed
            .remove(group)
            .unwrap_or(Err(AdminError::Missing))?;
        out.extend(refused);
        Ok(out)
    }

    /// Removes `group`'s committed offsets of `partitions` (OffsetDelete): a consumer of the
    /// group then starts those partitions from its `auto_offset_reset`. A partition of a
    /// topic the group's members subscribe to is refused (GROUP_SUBSCRIBED_TO_TOPIC). A
    /// refusal of the whole group (unknown, or a broker without OffsetDelete:
    /// [`AdminError::Unsupported`]) fails the call.
    pub async fn delete_group_offsets(
        &self,
        group: &str,
        partitions: impl IntoIterator<Item = TopicPartition>,
    ) -> Result<PartitionResults<()>, Error> {
        let partitions: Vec<TopicPartition> = partitions.into_iter().collect();
        if partitions.is_empty() {
            return Ok(BTreeMap::new());
        }
        let mut deleted = self
            .on_coordinators(
                BTreeSet::from([group.to_owned()]),
                |gs| {
                    vec![(
                        gs.to_vec(),
                        plan::offset_delete_request(&gs[0], &partitions),
                    )]
                },
                |gs, _, outcome| {
                    BTreeMap::from([(
                        gs[0].clone(),
                        plan::read_offset_delete(&partitions, outcome),
                    )])
                },
            )
            .await?;
        Ok(deleted.remove(group).unwrap_or(Err(AdminError::Missing))?)
    }

    /// How far `group` is behind, per partition: every partition it has a committed offset
    /// for or a member owns, with the committed offset, the end offset (the log end offset,
    /// or the last stable offset under [`IsolationLevel::ReadCommitted`]), the lag and the
    /// owning member. A group that cannot be described still gets its lag, without owners
    /// ([`GroupLag::description_error`] says why). A group with neither members nor committed
    /// offsets fails the call with GROUP_ID_NOT_FOUND.
    pub async fn group_lag(
        &self,
        group: &str,
        isolation: IsolationLevel,
    ) -> Result<GroupLag, Error> {
        let mut described = self.describe_groups([group]).await?;
        let description = described.remove(group).unwrap_or(Err(AdminError::Missing));
        let mut listed = self
            .list_group_offsets([GroupOffsetsQuery::all(group)])
            .await?;
        let committed = listed.remove(group).unwrap_or(Err(AdminError::Missing))?;
        let partitions = plan::lag_partitions(group, description.as_ref(), &committed)?;
        let ends = self
            .list_offsets(
                partitions.into_iter().map(|tp| (tp, OffsetQuery::Latest)),
                isolation,
            )
            .await?;
        Ok(plan::group_lag(
            group,
            description.as_ref(),
            &committed,
            &ends,
        ))
    }
}

/// OffsetFetch of one group, in any version the coordinator has.
fn one_group_fetch(
    group: &str,
    queries: &BTreeMap<String, Option<Vec<TopicPartition>>>,
) -> ClientRequest {
    plan::offset_fetch_request(group, queries.get(group).and_then(|p| p.as_deref()))
}

/// The answer to [`one_group_fetch`].
fn read_one_group_fetch(
    group: &str,
    queries: &BTreeMap<String, Option<Vec<TopicPartition>>>,
    outcome: Outcome,
) -> GroupResults<PartitionResults<Option<OffsetAndMetadata>>> {
    let partitions = queries.get(group).and_then(|p| p.as_deref());
    BTreeMap::from([(
        group.to_owned(),
        plan::read_offset_fetch(group, partitions, outcome),
    )])
}
