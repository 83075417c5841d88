//! Offset commits at the coordinator: refused when they belong to an older generation of
//! their group, as Kafka's coordinator refuses them (tansu build C stores any commit), and
//! written down one by one, for the diagnosis of a run whose committed offsets misbehave.

use std::fmt;
use std::time::Duration;

use dekaf_proto::messages::RequestBody;
use dekaf_proto::{ApiKey, ErrorCode};

use super::model::{BrokerId, Model};

/// One offset commit (OffsetCommit or TxnOffsetCommit) as the proxy saw it, for the
/// diagnosis of a run whose committed offsets misbehaved.
#[derive(Debug, Clone)]
pub(crate) struct CommitTrace {
    /// Since the proxy started.
    pub(crate) at: Duration,
    pub(crate) conn: usize,
    pub(crate) broker: BrokerId,
    pub(crate) api: ApiKey,
    pub(crate) member: String,
    pub(crate) generation: i32,
    /// The generation of the member's last JoinGroup answer, and the group's newest, then.
    pub(crate) known: (Option<i32>, Option<i32>),
    pub(crate) offsets: Vec<(String, i32, i64)>,
    /// Refused by the proxy, forwarded, then the broker's codes once answered.
    pub(crate) outcome: String,
}

impl fmt::Display for CommitTrace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let offsets: Vec<String> = self
            .offsets
            .iter()
            .map(|(t, p, o)| format!("{t}-{p}={o}"))
            .collect();
        let gen = |g: Option<i32>| g.map_or("none".to_string(), |g| g.to_string());
        write!(
            f,
            "{:7.3}s conn {} broker {} {} member {:?} generation {} (its last join: {}, the \
             group's newest: {}): {} -> {}",
            self.at.as_secs_f64(),
            self.conn,
            self.broker,
            self.api.name(),
            self.member,
            self.generation,
            gen(self.known.0),
            gen(self.known.1),
            offsets.join(" "),
            self.outcome
        )
    }
}

/// ILLEGAL_GENERATION for a member's commit of a generation older than the group's newest,
/// as Kafka's coordinator answers (tansu stores any commit): a member that missed a
/// rebalance learns it, instead of moving the committed offset of a partition that is no
/// longer its own.
pub(crate) fn stale_commit(model: &Model, group: &str, body: &RequestBody) -> Option<ErrorCode> {
    let generation = match body {
        RequestBody::OffsetCommit(r) => r.generation_id_or_member_epoch,
        RequestBody::TxnOffsetCommit(r) => r.generation_id,
        _ => return None,
    };
    let newest = model.generation(group)?;
    (model.fence_stale_commits && generation >= 0 && generation < newest)
        .then_some(ErrorCode::ILLEGAL_GENERATION)
}

/// Writes an offset commit down; its index in the model's commits when it is one.
pub(crate) fn trace_commit(
    model: &mut Model,
    broker: usize,
    conn: usize,
    group: &str,
    body: &RequestBody,
    refused: Option<ErrorCode>,
) -> Option<usize> {
    let (api, member, generation, offsets) = match body {
        RequestBody::OffsetCommit(r) => (
            ApiKey::OffsetCommit,
            r.member_id.clone(),
            r.generation_id_or_member_epoch,
            r.topics
                .iter()
                .flat_map(|t| {
                    t.partitions
                        .iter()
                        .map(|p| (t.name.clone(), p.partition_index, p.committed_offset))
                })
                .collect::<Vec<_>>(),
        ),
        RequestBody::TxnOffsetCommit(r) => (
            ApiKey::TxnOffsetCommit,
            r.member_id.clone(),
            r.generation_id,
            r.topics
                .iter()
                .flat_map(|t| {
                    t.partitions
                        .iter()
                        .map(|p| (t.name.clone(), p.partition_index, p.committed_offset))
                })
                .collect::<Vec<_>>(),
        ),
        _ => return None,
    };
    let known = (
        model.member_generation(group, &member),
        model.generation(group),
    );
    model.commits.push(CommitTrace {
        at: model.elapsed(),
        conn,
        broker: Model::id(broker),
        api,
        member,
        generation,
        known,
        offsets,
        outcome: match refused {
            Some(code) => format!("refused by the proxy: {}", code.name()),
            None => "forwarded, not answered".into(),
        },
    });
    Some(model.commits.len() - 1)
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;

    use dekaf_proto::messages::OffsetCommitRequest;

    use super::*;

    #[test]
    fn a_commit_of_an_older_generation_is_illegal_once_a_newer_one_joined() {
        let mut model = Model::new(1, vec![SocketAddr::from(([127, 0, 0, 1], 9000))]);
        let commit = |generation| {
            RequestBody::OffsetCommit(OffsetCommitRequest {
                group_id: "g".into(),
                generation_id_or_member_epoch: generation,
                member_id: "m".into(),
                ..Default::default()
            })
        };
        // Nothing known of the group yet: forwarded.
        assert_eq!(stale_commit(&model, "g", &commit(0)), None);
        model.joined("g", "m", 3);
        assert_eq!(
            stale_commit(&model, "g", &commit(2)),
            Some(ErrorCode::ILLEGAL_GENERATION)
        );
        assert_eq!(stale_commit(&model, "g", &commit(3)), None);
        // A consumer without membership (assign) commits with generation -1.
        assert_eq!(stale_commit(&model, "g", &commit(-1)), None);
        model.fence_stale_commits = false;
        assert_eq!(stale_commit(&model, "g", &commit(2)), None);
    }
}
