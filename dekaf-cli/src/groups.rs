//! `dekaf groups ...`: list, describe (lag), reset-offsets, delete-offsets, delete.

use std::collections::{BTreeMap, BTreeSet};

use dekaf_smol::admin::{AdminError, GroupFilter, GroupOffsetsQuery, OffsetQuery};
use dekaf_smol::{Admin, Error, ErrorCode, IsolationLevel, OffsetAndMetadata, TopicPartition};
use serde_json::json;

use crate::cli::{GroupsCommand, ResetArgs, ResetTo, TopicSelection};
use crate::plan::{plan, Position, Target};
use crate::view::{self, GroupRow, LagRow, LagView, PlanRow};
use crate::{Context, Failure};

/// Runs a `groups` command.
pub async fn run(cx: &Context, command: GroupsCommand) -> Result<(), Failure> {
    let admin = cx.settings.admin().await?;
    match command {
        GroupsCommand::List => list(cx, &admin).await,
        GroupsCommand::Describe { group } => describe(cx, &admin, &group).await,
        GroupsCommand::ResetOffsets(args) => reset(cx, &admin, args).await,
        GroupsCommand::DeleteOffsets { group, topic } => {
            delete_offsets(cx, &admin, &group, &topic).await
        }
        GroupsCommand::Delete { groups } => delete(cx, &admin, &groups).await,
    }
}

async fn list(cx: &Context, admin: &Admin) -> Result<(), Failure> {
    let listings = admin.list_groups(GroupFilter::all()).await?;
    let rows: Vec<GroupRow> = listings
        .groups
        .iter()
        .map(|g| GroupRow {
            group: g.group_id.clone(),
            state: g.state.as_ref().map(|s| s.name().to_owned()),
            protocol_type: g.protocol_type.clone(),
        })
        .collect();
    if cx.json {
        cx.print_json(&view::groups_json(&rows))?;
    } else {
        cx.print(&view::groups_table(&rows))?;
    }
    partial(
        listings
            .errors
            .iter()
            .map(|(broker, e)| format!("broker {broker} could not list its groups: {e}")),
    )
}

async fn describe(cx: &Context, admin: &Admin, group: &str) -> Result<(), Failure> {
    let lag = admin
        .group_lag(group, IsolationLevel::ReadUncommitted)
        .await
        .map_err(|e| Failure::failed(format!("group {group}: {e}")))?;
    let view = LagView {
        group: lag.group_id.clone(),
        state: lag.state.as_ref().map(|s| s.name().to_owned()),
        description_error: lag.description_error.as_ref().map(ToString::to_string),
        rows: lag
            .partitions
            .iter()
            .map(|p| LagRow {
                topic: p.partition.topic().to_owned(),
                partition: p.partition.partition(),
                committed: p.committed.as_ref().map(|c| c.offset),
                end: p.end_offset,
                lag: p.lag,
                owner: p.owner.clone(),
                error: p.error.as_ref().map(ToString::to_string),
            })
            .collect(),
    };
    if cx.json {
        cx.print_json(&view::lag_json(&view))?;
    } else {
        cx.print(&view::lag_table(&view))?;
    }
    partial(view.rows.iter().filter_map(|r| {
        r.error
            .as_ref()
            .map(|e| format!("{}:{}: {e}", r.topic, r.partition))
    }))
}

/// The partitions `selections` name, each checked against the topic's metadata: an unknown
/// topic or a partition the topic does not have fails the command.
async fn resolve(
    admin: &Admin,
    selections: &[TopicSelection],
) -> Result<Vec<TopicPartition>, Failure> {
    let names: BTreeSet<&str> = selections.iter().map(|s| s.topic.as_str()).collect();
    let described = admin.describe_topics(names.iter().copied()).await?;
    let mut out = BTreeSet::new();
    for selection in selections {
        let topic = &selection.topic;
        let description = match described.get(topic) {
            Some(Ok(d)) => d,
            Some(Err(e)) => return Err(Failure::failed(format!("topic {topic}: {e}"))),
            None => return Err(Failure::failed(format!("topic {topic}: no answer"))),
        };
        let existing: BTreeSet<i32> = description.partitions.iter().map(|p| p.partition).collect();
        match &selection.partitions {
            None => out.extend(
                existing
                    .iter()
                    .map(|&p| TopicPartition::new(topic.as_str(), p)),
            ),
            Some(asked) => {
                for &p in asked {
                    if !existing.contains(&p) {
                        return Err(Failure::failed(format!(
                            "topic {topic} has no partition {p} (it has {} partitions)",
                            existing.len()
                        )));
                    }
                    out.insert(TopicPartition::new(topic.as_str(), p));
                }
            }
        }
    }
    Ok(out.into_iter().collect())
}

/// The group's committed offsets of `partitions` (all it has, for `None`).
async fn committed(
    admin: &Admin,
    group: &str,
    partitions: Option<Vec<TopicPartition>>,
) -> Result<BTreeMap<TopicPartition, Option<i64>>, Failure> {
    let query = match partitions {
        None => GroupOffsetsQuery::all(group),
        Some(partitions) => GroupOffsetsQuery::partitions(group, partitions),
    };
    let mut listed = admin.list_group_offsets([query]).await?;
    let offsets = listed
        .remove(group)
        .unwrap_or(Err(AdminError::Missing))
        .map_err(|e| Failure::failed(format!("group {group}: committed offsets: {e}")))?;
    offsets
        .into_iter()
        .map(|(tp, result)| match result {
            Ok(offset) => Ok((tp, offset.map(|o| o.offset))),
            Err(e) if e.code() == Some(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION) => Ok((tp, None)),
            Err(e) => Err(Failure::failed(format!("{tp}: committed offset: {e}"))),
        })
        .collect()
}

/// One offset lookup for each of `partitions`; any failure fails the command.
async fn offsets(
    admin: &Admin,
    partitions: &[TopicPartition],
    query: OffsetQuery,
) -> Result<BTreeMap<TopicPartition, dekaf_smol::admin::ListedOffset>, Failure> {
    let found = admin
        .list_offsets(
            partitions.iter().map(|tp| (tp.clone(), query)),
            IsolationLevel::ReadUncommitted,
        )
        .await?;
    found
        .into_iter()
        .map(|(tp, result)| {
            result
                .map(|listed| (tp.clone(), listed))
                .map_err(|e| Failure::failed(format!("{tp}: looking up offsets: {e}")))
        })
        .collect()
}

/// Refuses when the group has members: they would overwrite what the reset writes. A group
/// that does not exist yet has none.
async fn check_no_members(admin: &Admin, group: &str) -> Result<(), Failure> {
    let mut described = admin.describe_groups([group]).await?;
    match described.remove(group).unwrap_or(Err(AdminError::Missing)) {
        Ok(d) if d.members.is_empty() => Ok(()),
        Ok(d) => {
            let ids: Vec<&str> = d.members.iter().map(|m| m.member_id.as_str()).collect();
            Err(Failure::failed(format!(
                "group {group} has {} active member(s) ({}): stop its consumers before resetting its offsets",
                ids.len(),
                ids.join(", ")
            )))
        }
        Err(e) if e.code() == Some(ErrorCode::GROUP_ID_NOT_FOUND) => Ok(()),
        Err(e) => Err(Failure::failed(format!(
            "group {group} could not be described, so whether it has members is unknown: {e}"
        ))),
    }
}

/// The milliseconds since the Unix epoch of the time a time-based reset asks for.
fn reset_time(to: &ResetTo) -> Result<Option<i64>, Failure> {
    if let Some(ms) = to.to_datetime {
        return Ok(Some(ms));
    }
    let Some(span) = to.by_duration else {
        return Ok(None);
    };
    let now = jiff::Timestamp::now().to_zoned(jiff::tz::TimeZone::UTC);
    now.checked_sub(span)
        .map(|then| Some(then.timestamp().as_millisecond()))
        .map_err(|e| Failure::Usage(format!("--by-duration {span}: {e}")))
}

async fn reset(cx: &Context, admin: &Admin, args: ResetArgs) -> Result<(), Failure> {
    let group = args.group.as_str();
    let at_time = reset_time(&args.to)?;
    let (partitions, current) = if args.scope.all_topics {
        let current = committed(admin, group, None).await?;
        if current.is_empty() {
            return Err(Failure::failed(format!(
                "group {group} has no committed offsets: name the topics with --topic"
            )));
        }
        (current.keys().cloned().collect::<Vec<_>>(), current)
    } else {
        let partitions = resolve(admin, &args.scope.topic).await?;
        let current = committed(admin, group, Some(partitions.clone())).await?;
        (partitions, current)
    };
    check_no_members(admin, group).await?;
    let earliest = offsets(admin, &partitions, OffsetQuery::Earliest).await?;
    let latest = offsets(admin, &partitions, OffsetQuery::Latest).await?;
    let by_time = match at_time {
        Some(ms) => Some(offsets(admin, &partitions, OffsetQuery::Timestamp(ms)).await?),
        None => None,
    };
    let rows: Vec<PlanRow> = partitions
        .iter()
        .map(|tp| {
            let position = Position {
                current: current.get(tp).copied().flatten(),
                earliest: earliest[tp].offset,
                latest: latest[tp].offset,
            };
            let to = &args.to;
            let target = if to.to_earliest {
                Target::Earliest
            } else if to.to_latest {
                Target::Latest
            } else if let Some(n) = to.to_offset {
                Target::Offset(n)
            } else if let Some(n) = to.shift_by {
                Target::ShiftBy(n)
            } else if let Some(found) = &by_time {
                // No record that recent: Kafka answers offset -1, tansu offset 0 with
                // timestamp -1.
                let listed = &found[tp];
                Target::AtTime(
                    (listed.offset >= 0 && listed.timestamp >= 0).then_some(listed.offset),
                )
            } else {
                Target::Current
            };
            PlanRow {
                topic: tp.topic().to_owned(),
                partition: tp.partition(),
                current: position.current,
                earliest: position.earliest,
                latest: position.latest,
                outcome: plan(position, target).map_err(|e| e.to_string()),
            }
        })
        .collect();
    let unplanned = rows.iter().filter(|r| r.outcome.is_err()).count();
    let print_plan = |executed: bool| {
        if cx.json {
            cx.print_json(&view::plan_json(group, executed, &rows))
        } else {
            cx.print(&view::plan_table(&rows))
        }
    };
    if unplanned > 0 {
        print_plan(false)?;
        return Err(Failure::failed(format!(
            "{unplanned} partition(s) have no plan: nothing changed"
        )));
    }
    if !args.execute {
        print_plan(false)?;
        eprintln!("dry run: nothing changed; run again with --execute to apply this plan");
        return Ok(());
    }
    let new_offsets = rows.iter().filter_map(|r| {
        let planned = r.outcome.as_ref().ok()?;
        Some((
            TopicPartition::new(r.topic.as_str(), r.partition),
            OffsetAndMetadata::new(planned.new),
        ))
    });
    let applied = match admin.alter_group_offsets(group, new_offsets).await {
        Ok(applied) => applied,
        Err(Error::Admin(e @ AdminError::GroupNotEmpty { .. })) => {
            return Err(Failure::failed(e.to_string()))
        }
        Err(e) => return Err(Failure::failed(format!("group {group}: {e}"))),
    };
    print_plan(true)?;
    let failed: Vec<String> = applied
        .iter()
        .filter_map(|(tp, r)| r.as_ref().err().map(|e| format!("{tp}: {e}")))
        .collect();
    if failed.is_empty() {
        eprintln!(
            "group {group}: committed offsets of {} partition(s) reset",
            applied.len()
        );
    }
    partial(failed)
}

async fn delete_offsets(
    cx: &Context,
    admin: &Admin,
    group: &str,
    selection: &TopicSelection,
) -> Result<(), Failure> {
    let partitions = resolve(admin, std::slice::from_ref(selection)).await?;
    let deleted = admin
        .delete_group_offsets(group, partitions)
        .await
        .map_err(|e| Failure::failed(format!("group {group}: {e}")))?;
    let errors: Vec<String> = deleted
        .iter()
        .filter_map(|(tp, r)| r.as_ref().err().map(|e| format!("{tp}: {e}")))
        .collect();
    if cx.json {
        cx.print_json(&json!({
            "group": group,
            "partitions": deleted.iter().map(|(tp, r)| json!({
                "topic": tp.topic(),
                "partition": tp.partition(),
                "error": r.as_ref().err().map(ToString::to_string),
            })).collect::<Vec<_>>(),
        }))?;
    } else {
        let done = deleted.values().filter(|r| r.is_ok()).count();
        cx.print(&format!(
            "group {group}: committed offsets of {done} partition(s) deleted\n"
        ))?;
    }
    partial(errors)
}

async fn delete(cx: &Context, admin: &Admin, groups: &[String]) -> Result<(), Failure> {
    let deleted = admin.delete_groups(groups.iter().cloned()).await?;
    if cx.json {
        cx.print_json(&serde_json::Value::Array(
            deleted
                .iter()
                .map(|(g, r)| json!({"group": g, "error": r.as_ref().err().map(ToString::to_string)}))
                .collect(),
        ))?;
    } else {
        let text: String = deleted
            .iter()
            .filter(|(_, r)| r.is_ok())
            .map(|(g, _)| format!("group {g} deleted\n"))
            .collect();
        cx.print(&text)?;
    }
    partial(
        deleted
            .iter()
            .filter_map(|(g, r)| r.as_ref().err().map(|e| format!("group {g}: {e}"))),
    )
}

/// Done when nothing failed; otherwise each failure on a line of its own on standard error
/// and exit code 1.
pub fn partial(failures: impl IntoIterator<Item = String>) -> Result<(), Failure> {
    let failures: Vec<String> = failures.into_iter().collect();
    if failures.is_empty() {
        return Ok(());
    }
    for f in &failures {
        eprintln!("dekaf: error: {f}");
    }
    Err(Failure::Failed(None))
}
