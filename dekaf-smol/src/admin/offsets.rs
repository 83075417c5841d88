//! Offsets of partitions, asked of each partition's leader.

use std::collections::{BTreeMap, BTreeSet};

use dekaf_state::admin::{self as plan, ListOffsetsPlan};
use dekaf_state::client::{BrokerId, Destination};
use dekaf_state::consumer::IsolationLevel;
use dekaf_state::offset::{ListedOffset, TopicPartition};

use super::{Admin, OffsetQuery, PartitionResults};
use crate::Error;

impl Admin {
    /// Looks up offsets: each partition's earliest or latest offset, the offset (and
    /// timestamp) of its record with the largest timestamp, or its first offset at or after
    /// a time. The lookups go to each partition's leader, one request per leader; the
    /// largest-timestamp ones in requests of their own, after the others. `isolation` decides
    /// what "latest" means: the log end offset, or the last stable offset under
    /// read_committed.
    pub async fn list_offsets(
        &self,
        lookups: impl IntoIterator<Item = (TopicPartition, OffsetQuery)>,
        isolation: IsolationLevel,
    ) -> Result<PartitionResults<ListedOffset>, Error> {
        let asked: BTreeMap<TopicPartition, OffsetQuery> = lookups.into_iter().collect();
        if asked.is_empty() {
            return Ok(BTreeMap::new());
        }
        let topics: BTreeSet<String> = asked.keys().map(|tp| tp.topic().to_owned()).collect();
        let outcome = self
            .send(
                Destination::AnyBroker,
                plan::metadata_request(topics.into_iter().collect()),
            )
            .await?;
        let metadata = match plan::read_metadata(outcome) {
            Ok(metadata) => metadata,
            Err(e) => return Ok(asked.into_keys().map(|tp| (tp, Err(e.clone()))).collect()),
        };
        let ListOffsetsPlan {
            batches,
            max_timestamp_batches,
            refused,
            ..
        } = plan::plan_list_offsets(&metadata, &asked);
        let mut out: PartitionResults<ListedOffset> =
            refused.into_iter().map(|(tp, e)| (tp, Err(e))).collect();
        // A broker that cannot answer a largest-timestamp lookup may close the connection
        // (tansu does), failing whatever else is in flight on it: those go last.
        for wave in [batches, max_timestamp_batches] {
            out.extend(self.list_offsets_wave(wave, isolation).await?);
        }
        Ok(out)
    }

    /// Sends one ListOffsets request per leader at once and reads every answer.
    async fn list_offsets_wave(
        &self,
        batches: BTreeMap<BrokerId, Vec<(TopicPartition, OffsetQuery)>>,
        isolation: IsolationLevel,
    ) -> Result<PartitionResults<ListedOffset>, Error> {
        let mut asked = Vec::new();
        let mut requests = Vec::new();
        for (leader, lookups) in batches {
            asked.push(lookups.iter().map(|(tp, _)| tp.clone()).collect::<Vec<_>>());
            requests.push((
                Destination::Broker(leader),
                plan::list_offsets_request(&lookups, isolation),
            ));
        }
        let outcomes = self.send_all(requests).await?;
        let mut out = BTreeMap::new();
        for (partitions, outcome) in asked.iter().zip(outcomes) {
            out.extend(plan::read_list_offsets(partitions, outcome));
        }
        Ok(out)
    }
}
