//! What the commands print, as pure functions of plain rows: a table for people, JSON for
//! machines. The rows are this program's own (the library's types grow fields), so that
//! every output is tested without a broker.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::plan::{Clamp, Planned};
use crate::table::{number, render, Column};

/// One partition of a group's lag.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LagRow {
    /// The topic.
    pub topic: String,
    /// The partition.
    pub partition: i32,
    /// The committed offset, if the group has one.
    pub committed: Option<i64>,
    /// The log end offset, if it could be looked up.
    pub end: Option<i64>,
    /// End minus committed, if both are known.
    pub lag: Option<i64>,
    /// The member that owns the partition, if one does (and the broker says).
    pub owner: Option<String>,
    /// Why the committed or end offset is missing, if it is for a reason other than there
    /// being none.
    pub error: Option<String>,
}

/// A group's lag.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LagView {
    /// The group.
    pub group: String,
    /// Its state, `None` when it could not be described.
    pub state: Option<String>,
    /// Why it could not be described.
    pub description_error: Option<String>,
    /// Its partitions, by topic and partition.
    pub rows: Vec<LagRow>,
}

const LAG_COLUMNS: [Column; 6] = [
    Column::text("TOPIC"),
    Column::number("PARTITION"),
    Column::number("COMMITTED"),
    Column::number("END"),
    Column::number("LAG"),
    Column::text("OWNER"),
];

/// Each topic's total lag (of the partitions whose lag is known), by topic.
fn topic_totals(rows: &[LagRow]) -> BTreeMap<&str, i64> {
    let mut totals = BTreeMap::new();
    for row in rows {
        *totals.entry(row.topic.as_str()).or_insert(0) += row.lag.unwrap_or(0);
    }
    totals
}

/// `groups describe`: a line with the group's state, then its partitions, each topic's
/// followed by a `total` row with the topic's lag.
pub fn lag_table(view: &LagView) -> String {
    let state = match (&view.state, &view.description_error) {
        (Some(state), _) => state.clone(),
        (None, Some(e)) => format!("state unknown ({e})"),
        (None, None) => "state unknown".to_owned(),
    };
    let totals = topic_totals(&view.rows);
    let mut rows = Vec::new();
    for (i, row) in view.rows.iter().enumerate() {
        rows.push(vec![
            row.topic.clone(),
            row.partition.to_string(),
            number(row.committed),
            number(row.end),
            number(row.lag),
            row.owner.clone().unwrap_or_else(|| "-".to_owned()),
        ]);
        let last_of_topic = view
            .rows
            .get(i + 1)
            .is_none_or(|next| next.topic != row.topic);
        if last_of_topic {
            rows.push(vec![
                row.topic.clone(),
                "total".to_owned(),
                String::new(),
                String::new(),
                totals[row.topic.as_str()].to_string(),
            ]);
        }
    }
    format!(
        "group {}: {state}\n{}",
        view.group,
        render(&LAG_COLUMNS, &rows)
    )
}

/// `groups describe --json`.
pub fn lag_json(view: &LagView) -> Value {
    let totals = topic_totals(&view.rows);
    json!({
        "group": view.group,
        "state": view.state,
        "description_error": view.description_error,
        "partitions": view.rows.iter().map(|r| json!({
            "topic": r.topic,
            "partition": r.partition,
            "committed": r.committed,
            "end": r.end,
            "lag": r.lag,
            "owner": r.owner,
            "error": r.error,
        })).collect::<Vec<_>>(),
        "topics": totals.iter().map(|(topic, lag)| json!({"topic": topic, "lag": lag})).collect::<Vec<_>>(),
    })
}

/// One partition of a reset's plan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlanRow {
    /// The topic.
    pub topic: String,
    /// The partition.
    pub partition: i32,
    /// The committed offset now, if any.
    pub current: Option<i64>,
    /// The log start offset.
    pub earliest: i64,
    /// The log end offset.
    pub latest: i64,
    /// The new offset, or why the partition has none.
    pub outcome: Result<Planned, String>,
}

const PLAN_COLUMNS: [Column; 7] = [
    Column::text("TOPIC"),
    Column::number("PARTITION"),
    Column::number("CURRENT"),
    Column::number("NEW"),
    Column::number("EARLIEST"),
    Column::number("LATEST"),
    Column::text("NOTE"),
];

/// `groups reset-offsets`: each partition's committed offset and new offset, the log's
/// range, and a note when the target was clamped into it (or the partition has no plan).
pub fn plan_table(rows: &[PlanRow]) -> String {
    let rows: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            let (new, note) = match &r.outcome {
                Ok(p) => (
                    p.new.to_string(),
                    p.clamped.map(|c| c.to_string()).unwrap_or_default(),
                ),
                Err(e) => ("-".to_owned(), e.clone()),
            };
            vec![
                r.topic.clone(),
                r.partition.to_string(),
                number(r.current),
                new,
                r.earliest.to_string(),
                r.latest.to_string(),
                note,
            ]
        })
        .collect();
    render(&PLAN_COLUMNS, &rows)
}

/// `groups reset-offsets --json`.
pub fn plan_json(group: &str, executed: bool, rows: &[PlanRow]) -> Value {
    json!({
        "group": group,
        "executed": executed,
        "partitions": rows.iter().map(|r| {
            let (new, clamped, error) = match &r.outcome {
                Ok(p) => (Some(p.new), p.clamped, None),
                Err(e) => (None, None, Some(e.as_str())),
            };
            json!({
                "topic": r.topic,
                "partition": r.partition,
                "current": r.current,
                "new": new,
                "earliest": r.earliest,
                "latest": r.latest,
                "clamped": clamped.is_some(),
                "clamped_to": clamped.map(|c| match c {
                    Clamp::ToEarliest => "earliest",
                    Clamp::ToLatest => "latest",
                }),
                "error": error,
            })
        }).collect::<Vec<_>>(),
    })
}

/// A group as `groups list` shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupRow {
    /// The group.
    pub group: String,
    /// Its state, when the broker says.
    pub state: Option<String>,
    /// Its protocol type (`consumer`), empty when it has no members.
    pub protocol_type: String,
}

/// `groups list`.
pub fn groups_table(rows: &[GroupRow]) -> String {
    let columns = [
        Column::text("GROUP"),
        Column::text("STATE"),
        Column::text("PROTOCOL TYPE"),
    ];
    let rows: Vec<Vec<String>> = rows
        .iter()
        .map(|g| {
            vec![
                g.group.clone(),
                g.state.clone().unwrap_or_else(|| "-".into()),
                if g.protocol_type.is_empty() {
                    "-".into()
                } else {
                    g.protocol_type.clone()
                },
            ]
        })
        .collect();
    render(&columns, &rows)
}

/// `groups list --json`.
pub fn groups_json(rows: &[GroupRow]) -> Value {
    Value::Array(
        rows.iter()
            .map(|g| json!({"group": g.group, "state": g.state, "protocol_type": g.protocol_type}))
            .collect(),
    )
}

/// A partition as `topics describe` shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartitionRow {
    /// The topic.
    pub topic: String,
    /// The partition.
    pub partition: i32,
    /// Its leader.
    pub leader: Option<i32>,
    /// The leader's epoch.
    pub leader_epoch: Option<i32>,
    /// Its replicas.
    pub replicas: Vec<i32>,
    /// Its in-sync replicas.
    pub isr: Vec<i32>,
    /// The log start offset, if it could be looked up.
    pub start: Option<i64>,
    /// The log end offset, if it could be looked up.
    pub end: Option<i64>,
    /// What is wrong with the partition, if anything.
    pub error: Option<String>,
}

fn ids(ids: &[i32]) -> String {
    ids.iter().map(i32::to_string).collect::<Vec<_>>().join(",")
}

/// `topics describe`.
pub fn partitions_table(rows: &[PartitionRow]) -> String {
    let columns = [
        Column::text("TOPIC"),
        Column::number("PARTITION"),
        Column::number("LEADER"),
        Column::number("EPOCH"),
        Column::text("REPLICAS"),
        Column::text("ISR"),
        Column::number("START"),
        Column::number("END"),
    ];
    let rows: Vec<Vec<String>> = rows
        .iter()
        .map(|p| {
            vec![
                p.topic.clone(),
                p.partition.to_string(),
                number(p.leader.map(i64::from)),
                number(p.leader_epoch.map(i64::from)),
                ids(&p.replicas),
                ids(&p.isr),
                number(p.start),
                number(p.end),
            ]
        })
        .collect();
    render(&columns, &rows)
}

/// `topics describe --json`.
pub fn partitions_json(rows: &[PartitionRow]) -> Value {
    Value::Array(
        rows.iter()
            .map(|p| {
                json!({
                    "topic": p.topic,
                    "partition": p.partition,
                    "leader": p.leader,
                    "leader_epoch": p.leader_epoch,
                    "replicas": p.replicas,
                    "isr": p.isr,
                    "start": p.start,
                    "end": p.end,
                    "error": p.error,
                })
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(topic: &str, partition: i32, committed: Option<i64>, end: i64) -> LagRow {
        LagRow {
            topic: topic.into(),
            partition,
            committed,
            end: Some(end),
            lag: committed.map(|c| end - c),
            owner: None,
            error: None,
        }
    }

    fn view() -> LagView {
        let mut owned = row("orders", 1, Some(5), 1200);
        owned.owner = Some("dekaf-1-4f2a".into());
        LagView {
            group: "billing".into(),
            state: Some("Stable".into()),
            description_error: None,
            rows: vec![
                row("orders", 0, Some(3), 10),
                owned,
                row("payments", 0, None, 42),
            ],
        }
    }

    #[test]
    fn a_groups_lag_prints_per_partition_with_each_topics_total() {
        assert_eq!(
            lag_table(&view()),
            "\
group billing: Stable
TOPIC     PARTITION  COMMITTED   END   LAG  OWNER
orders            0          3    10     7  -
orders            1          5  1200  1195  dekaf-1-4f2a
orders        total                   1202
payments          0          -    42     -  -
payments      total                      0
"
        );
    }

    #[test]
    fn a_group_that_could_not_be_described_says_why() {
        let view = LagView {
            state: None,
            description_error: Some("127.0.0.1:9092 closed the connection".into()),
            rows: vec![],
            ..view()
        };
        assert_eq!(
            lag_table(&view),
            "group billing: state unknown (127.0.0.1:9092 closed the connection)\n\
             TOPIC  PARTITION  COMMITTED  END  LAG  OWNER\n"
        );
    }

    #[test]
    fn a_groups_lag_as_json_keeps_every_field_and_the_totals() {
        assert_eq!(
            lag_json(&view()).to_string(),
            r#"{"description_error":null,"group":"billing","partitions":[{"committed":3,"end":10,"error":null,"lag":7,"owner":null,"partition":0,"topic":"orders"},{"committed":5,"end":1200,"error":null,"lag":1195,"owner":"dekaf-1-4f2a","partition":1,"topic":"orders"},{"committed":null,"end":42,"error":null,"lag":null,"owner":null,"partition":0,"topic":"payments"}],"state":"Stable","topics":[{"lag":1202,"topic":"orders"},{"lag":0,"topic":"payments"}]}"#
        );
    }

    fn plan_rows() -> Vec<PlanRow> {
        vec![
            PlanRow {
                topic: "orders".into(),
                partition: 0,
                current: Some(40),
                earliest: 0,
                latest: 100,
                outcome: Ok(Planned {
                    new: 30,
                    clamped: None,
                }),
            },
            PlanRow {
                topic: "orders".into(),
                partition: 1,
                current: Some(5),
                earliest: 0,
                latest: 100,
                outcome: Ok(Planned {
                    new: 0,
                    clamped: Some(Clamp::ToEarliest),
                }),
            },
            PlanRow {
                topic: "orders".into(),
                partition: 12,
                current: None,
                earliest: 0,
                latest: 7,
                outcome: Err("no committed offset to shift from".into()),
            },
        ]
    }

    #[test]
    fn a_plan_prints_current_and_new_offsets_and_says_where_it_clamped() {
        assert_eq!(
            plan_table(&plan_rows()),
            "\
TOPIC   PARTITION  CURRENT  NEW  EARLIEST  LATEST  NOTE
orders          0       40   30         0     100
orders          1        5    0         0     100  clamped to earliest
orders         12        -    -         0       7  no committed offset to shift from
"
        );
    }

    #[test]
    fn a_plan_as_json_has_a_clamped_flag_and_the_end_it_clamped_to() {
        assert_eq!(
            plan_json("billing", false, &plan_rows()).to_string(),
            r#"{"executed":false,"group":"billing","partitions":[{"clamped":false,"clamped_to":null,"current":40,"earliest":0,"error":null,"latest":100,"new":30,"partition":0,"topic":"orders"},{"clamped":true,"clamped_to":"earliest","current":5,"earliest":0,"error":null,"latest":100,"new":0,"partition":1,"topic":"orders"},{"clamped":false,"clamped_to":null,"current":null,"earliest":0,"error":"no committed offset to shift from","latest":7,"new":null,"partition":12,"topic":"orders"}]}"#
        );
    }

    #[test]
    fn groups_and_partitions_print_as_tables() {
        let groups = vec![
            GroupRow {
                group: "billing".into(),
                state: Some("Stable".into()),
                protocol_type: "consumer".into(),
            },
            GroupRow {
                group: "audit".into(),
                state: None,
                protocol_type: String::new(),
            },
        ];
        assert_eq!(
            groups_table(&groups),
            "GROUP    STATE   PROTOCOL TYPE\nbilling  Stable  consumer\naudit    -       -\n"
        );
        assert_eq!(
            groups_json(&groups).to_string(),
            r#"[{"group":"billing","protocol_type":"consumer","state":"Stable"},{"group":"audit","protocol_type":"","state":null}]"#
        );
        let partitions = vec![PartitionRow {
            topic: "orders".into(),
            partition: 0,
            leader: Some(111),
            leader_epoch: Some(0),
            replicas: vec![111, 112],
            isr: vec![111],
            start: Some(0),
            end: Some(1500),
            error: None,
        }];
        assert_eq!(
            partitions_table(&partitions),
            "\
TOPIC   PARTITION  LEADER  EPOCH  REPLICAS  ISR  START   END
orders          0     111      0  111,112   111      0  1500
"
        );
    }
}
