//! `dekaf topics ...` and `dekaf cluster`.

use dekaf_smol::admin::{AlterOptions, NewTopic, OffsetQuery};
use dekaf_smol::{IsolationLevel, TopicPartition};
use serde_json::json;

use crate::cli::TopicsCommand;
use crate::groups::partial;
use crate::table::{render, Column};
use crate::view::{self, PartitionRow};
use crate::{Context, Failure};

/// Runs a `topics` command.
pub async fn run(cx: &Context, command: TopicsCommand) -> Result<(), Failure> {
    let admin = cx.settings.admin().await?;
    match command {
        TopicsCommand::List { internal } => {
            let topics = admin.list_topics(internal).await?;
            if cx.json {
                cx.print_json(&serde_json::Value::Array(
                    topics
                        .iter()
                        .map(|t| {
                            json!({
                                "topic": t.name,
                                "partitions": t.partitions,
                                "internal": t.is_internal,
                            })
                        })
                        .collect(),
                ))
            } else {
                let rows: Vec<Vec<String>> = topics
                    .iter()
                    .map(|t| vec![t.name.clone(), t.partitions.to_string()])
                    .collect();
                cx.print(&render(
                    &[Column::text("TOPIC"), Column::number("PARTITIONS")],
                    &rows,
                ))
            }
        }
        TopicsCommand::Describe { topics } => {
            let described = admin.describe_topics(topics.iter().cloned()).await?;
            let mut failures = Vec::new();
            let mut rows = Vec::new();
            for topic in &topics {
                match described.get(topic) {
                    Some(Ok(d)) => rows.extend(d.partitions.iter().map(|p| PartitionRow {
                        topic: topic.clone(),
                        partition: p.partition,
                        leader: p.leader,
                        leader_epoch: p.leader_epoch,
                        replicas: p.replicas.clone(),
                        isr: p.isr.clone(),
                        start: None,
                        end: None,
                        error: p.error.map(|c| c.to_string()),
                    })),
                    Some(Err(e)) => failures.push(format!("topic {topic}: {e}")),
                    None => failures.push(format!("topic {topic}: no answer")),
                }
            }
            let partitions: Vec<TopicPartition> = rows
                .iter()
                .map(|r| TopicPartition::new(r.topic.as_str(), r.partition))
                .collect();
            for (query, is_start) in [(OffsetQuery::Earliest, true), (OffsetQuery::Latest, false)] {
                let found = admin
                    .list_offsets(
                        partitions.iter().map(|tp| (tp.clone(), query)),
                        IsolationLevel::ReadUncommitted,
                    )
                    .await?;
                for row in &mut rows {
                    let tp = TopicPartition::new(row.topic.as_str(), row.partition);
                    if let Some(Ok(listed)) = found.get(&tp) {
                        if is_start {
                            row.start = Some(listed.offset);
                        } else {
                            row.end = Some(listed.offset);
                        }
                    }
                }
            }
            if cx.json {
                cx.print_json(&view::partitions_json(&rows))?;
            } else {
                cx.print(&view::partitions_table(&rows))?;
            }
            partial(failures)
        }
        TopicsCommand::Create {
            topics,
            partitions,
            replication_factor,
            config,
        } => {
            let new = topics.iter().map(|name| {
                config.iter().fold(
                    NewTopic::new(name.as_str(), partitions).replication_factor(replication_factor),
                    |t, (k, v)| t.config(k.as_str(), v.as_str()),
                )
            });
            let created = admin.create_topics(new, AlterOptions::apply()).await?;
            report(cx, "created", &created)
        }
        TopicsCommand::Delete { topics } => {
            let deleted = admin.delete_topics(topics.iter().cloned()).await?;
            report(cx, "deleted", &deleted)
        }
    }
}

/// Prints what happened to each topic; exit code 1 when any was refused.
fn report<T>(
    cx: &Context,
    done: &str,
    results: &std::collections::BTreeMap<String, Result<T, dekaf_smol::AdminError>>,
) -> Result<(), Failure> {
    if cx.json {
        cx.print_json(&serde_json::Value::Array(
            results
                .iter()
                .map(|(t, r)| json!({"topic": t, "error": r.as_ref().err().map(ToString::to_string)}))
                .collect(),
        ))?;
    } else {
        let text: String = results
            .iter()
            .filter(|(_, r)| r.is_ok())
            .map(|(t, _)| format!("topic {t} {done}\n"))
            .collect();
        cx.print(&text)?;
    }
    partial(
        results
            .iter()
            .filter_map(|(t, r)| r.as_ref().err().map(|e| format!("topic {t}: {e}"))),
    )
}

/// `dekaf cluster`.
pub async fn cluster(cx: &Context) -> Result<(), Failure> {
    let admin = cx.settings.admin().await?;
    let cluster = admin.describe_cluster().await?;
    if cx.json {
        return cx.print_json(&json!({
            "cluster_id": cluster.cluster_id,
            "controller": cluster.controller,
            "brokers": cluster.brokers.iter().map(|b| json!({
                "id": b.id,
                "host": b.host,
                "port": b.port,
                "rack": b.rack,
            })).collect::<Vec<_>>(),
        }));
    }
    let rows: Vec<Vec<String>> = cluster
        .brokers
        .iter()
        .map(|b| {
            vec![
                b.id.to_string(),
                b.host.clone(),
                b.port.to_string(),
                b.rack.clone().unwrap_or_else(|| "-".into()),
                if Some(b.id) == cluster.controller {
                    "yes".into()
                } else {
                    String::new()
                },
            ]
        })
        .collect();
    cx.print(&format!(
        "cluster {}\n{}",
        cluster.cluster_id.as_deref().unwrap_or("(no id)"),
        render(
            &[
                Column::number("ID"),
                Column::text("HOST"),
                Column::number("PORT"),
                Column::text("RACK"),
                Column::text("CONTROLLER"),
            ],
            &rows
        )
    ))
}
