//! How the cluster answers reads: Fetch, ListOffsets and OffsetForLeaderEpoch, with Kafka's
//! leadership and leader-epoch checks, high watermark, last stable offset, aborted
//! transactions, OFFSET_OUT_OF_RANGE and size limits.

use bytes::Bytes;
use dekaf_proto::messages::fetch::{AbortedTransaction, FetchableTopicResponse, PartitionData};
use dekaf_proto::messages::list_offsets::{ListOffsetsPartitionResponse, ListOffsetsTopicResponse};
use dekaf_proto::messages::offset_for_leader_epoch::{
    EpochEndOffset, OffsetForLeaderEpochResponse, OffsetForLeaderTopicResult,
};
use dekaf_proto::messages::{
    FetchRequest, FetchResponse, ListOffsetsRequest, ListOffsetsResponse,
    OffsetForLeaderEpochRequest,
};
use dekaf_proto::wire::Uuid;
use dekaf_proto::ErrorCode;

use crate::log::Partition;
use crate::Cluster;

impl Cluster {
    pub(crate) fn offset_for_leader_epoch(
        &mut self,
        broker: i32,
        req: &OffsetForLeaderEpochRequest,
        _version: i16,
    ) -> OffsetForLeaderEpochResponse {
        let mut topics = Vec::new();
        for t in &req.topics {
            let mut partitions = Vec::new();
            for p in &t.partitions {
                let mut out = EpochEndOffset {
                    partition: p.partition,
                    ..Default::default()
                };
                match self.leader_check(broker, &t.topic, p.partition, p.current_leader_epoch) {
                    Err(code) => out.error_code = code,
                    Ok(_) => {
                        let (e, end) = self.epoch_end(&t.topic, p.partition, p.leader_epoch);
                        out.leader_epoch = e;
                        out.end_offset = end;
                    }
                }
                partitions.push(out);
            }
            topics.push(OffsetForLeaderTopicResult {
                topic: t.topic.clone(),
                partitions,
                ..Default::default()
            });
        }
        OffsetForLeaderEpochResponse {
            topics,
            ..Default::default()
        }
    }

    /// Checks leadership and the current leader epoch the request carries.
    pub(crate) fn leader_check(
        &self,
        broker: i32,
        topic: &str,
        p: i32,
        epoch: i32,
    ) -> Result<&Partition, ErrorCode> {
        let t = self
            .topics
            .get(topic)
            .ok_or(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION)?;
        let part = t
            .partitions
            .get(usize::try_from(p).map_err(|_| ErrorCode::UNKNOWN_TOPIC_OR_PARTITION)?)
            .ok_or(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION)?;
        if part.leader != broker {
            return Err(ErrorCode::NOT_LEADER_OR_FOLLOWER);
        }
        if epoch >= 0 && epoch < part.leader_epoch {
            return Err(ErrorCode::FENCED_LEADER_EPOCH);
        }
        if epoch > part.leader_epoch {
            return Err(ErrorCode::UNKNOWN_LEADER_EPOCH);
        }
        Ok(part)
    }

    pub(crate) fn list_offsets(
        &mut self,
        broker: i32,
        req: &ListOffsetsRequest,
        version: i16,
    ) -> ListOffsetsResponse {
        let read_committed = version >= 2 && req.isolation_level == 1;
        let quirk = self.faults.tansu_time_quirk;
        let topics = req
            .topics
            .iter()
            .map(|t| ListOffsetsTopicResponse {
                name: t.name.clone(),
                partitions: t
                    .partitions
                    .iter()
                    .map(|p| {
                        let epoch = if version >= 4 {
                            p.current_leader_epoch
                        } else {
                            -1
                        };
                        let mut out = ListOffsetsPartitionResponse {
                            partition_index: p.partition_index,
                            ..Default::default()
                        };
                        match self.leader_check(broker, &t.name, p.partition_index, epoch) {
                            Err(code) => out.error_code = code,
                            Ok(part) => {
                                let (offset, timestamp) = match p.timestamp {
                                    -2 => (part.log_start, -1),
                                    -1 if read_committed => (part.last_stable_offset(), -1),
                                    -1 => (part.end, -1),
                                    ts => part.offset_for_time(ts).unwrap_or(if quirk {
                                        (0, -1)
                                    } else {
                                        (-1, -1)
                                    }),
                                };
                                out.offset = offset;
                                out.timestamp = timestamp;
                                out.leader_epoch =
                                    if version >= 4 { part.leader_epoch } else { -1 };
                            }
                        }
                        out
                    })
                    .collect(),
                ..Default::default()
            })
            .collect();
        ListOffsetsResponse {
            topics,
            ..Default::default()
        }
    }

    pub(crate) fn fetch(&mut self, broker: i32, req: &FetchRequest, version: i16) -> FetchResponse {
        *self.fetches.entry(broker).or_default() += 1;
        if req.session_id != 0 {
            // The model keeps no fetch sessions: Kafka's answer to a session it does not know.
            return FetchResponse {
                error_code: ErrorCode::FETCH_SESSION_ID_NOT_FOUND,
                ..Default::default()
            };
        }
        let read_committed = req.isolation_level == 1;
        let mut responses = Vec::new();
        for t in &req.topics {
            let name = if version >= 13 {
                self.topics
                    .iter()
                    .find(|(_, x)| x.id == t.topic_id)
                    .map(|(n, _)| n.clone())
            } else {
                Some(t.topic.clone())
            };
            let mut partitions = Vec::new();
            for p in &t.partitions {
                let mut out = PartitionData {
                    partition_index: p.partition,
                    ..Default::default()
                };
                let Some(name) = &name else {
                    out.error_code = ErrorCode::UNKNOWN_TOPIC_ID;
                    partitions.push(out);
                    continue;
                };
                let epoch = if version >= 9 {
                    p.current_leader_epoch
                } else {
                    -1
                };
                let cut = self.chance(self.faults.partial_batch);
                let corrupt = self.chance(self.faults.corrupt);
                let overlap = self.chance(self.faults.overlap);
                let list_aborted = self.faults.list_aborted;
                let ignore_lso = self.faults.ignore_lso;
                let preferred = if version >= 11 {
                    self.preferred_read_replica(
                        broker,
                        (name, p.partition),
                        p.fetch_offset,
                        &req.rack_id,
                    )
                } else {
                    None
                };
                let follower_end = self.follower_end(broker, name, p.partition);
                match self.read_check(broker, name, p.partition, epoch) {
                    Err(code) => out.error_code = code,
                    Ok(part) if preferred.is_some() => {
                        // Kafka's leader names the replica and sends no records.
                        out.high_watermark = part.end;
                        out.last_stable_offset = part.last_stable_offset();
                        out.log_start_offset = if version >= 5 { part.log_start } else { -1 };
                        out.preferred_read_replica = preferred.unwrap_or(-1);
                        out.records = Some(Bytes::new());
                    }
                    Ok(part) => {
                        // A follower serves up to the high watermark, or its own log end
                        // when it lags.
                        let end = follower_end.map_or(part.end, |e| e.min(part.end));
                        out.high_watermark = end;
                        out.last_stable_offset = part.last_stable_offset().min(end);
                        out.log_start_offset = if version >= 5 { part.log_start } else { -1 };
                        let last = if version >= 12 {
                            p.last_fetched_epoch
                        } else {
                            -1
                        };
                        let diverging = (last >= 0)
                            .then(|| part.epoch_end(last))
                            .filter(|(e, end)| *e != last || *end < p.fetch_offset);
                        if let Some((e, end)) = diverging {
                            out.diverging_epoch.epoch = e;
                            out.diverging_epoch.end_offset = end;
                            out.records = Some(Bytes::new());
                        } else if p.fetch_offset < part.log_start || p.fetch_offset > end {
                            out.error_code = ErrorCode::OFFSET_OUT_OF_RANGE;
                            out.records = None;
                        } else {
                            let limit = if read_committed && !ignore_lso {
                                part.last_stable_offset().min(end)
                            } else {
                                end
                            };
                            let (mut data, upper, next, first_len) = part.read(
                                p.fetch_offset,
                                limit,
                                usize::try_from(p.partition_max_bytes).unwrap_or(0),
                            );
                            if cut {
                                if let Some(b) = next {
                                    data.extend_from_slice(&b[..b.len() / 2]);
                                }
                            }
                            if overlap {
                                if let Some(base) = data.get_mut(first_len..first_len + 8) {
                                    let mut eight = [0u8; 8];
                                    eight.copy_from_slice(base);
                                    let lowered = i64::from_be_bytes(eight) - 1;
                                    base.copy_from_slice(&lowered.to_be_bytes());
                                }
                            }
                            if corrupt && data.len() > 61 {
                                // The last byte of the first batch, inside what its CRC covers.
                                if let Some(byte) = data.get_mut(first_len.saturating_sub(1)) {
                                    *byte ^= 0x5a;
                                }
                            }
                            out.records = Some(data.freeze());
                            out.aborted_transactions = Some(if read_committed && list_aborted {
                                part.aborted_between(p.fetch_offset, upper)
                                    .into_iter()
                                    .map(|(producer_id, first_offset)| AbortedTransaction {
                                        producer_id,
                                        first_offset,
                                        ..Default::default()
                                    })
                                    .collect()
                            } else {
                                Vec::new()
                            });
                        }
                    }
                }
                partitions.push(out);
            }
            responses.push(FetchableTopicResponse {
                topic: if version <= 12 {
                    t.topic.clone()
                } else {
                    String::new()
                },
                topic_id: if version >= 13 {
                    t.topic_id
                } else {
                    Uuid::ZERO
                },
                partitions,
                ..Default::default()
            });
        }
        FetchResponse {
            responses,
            ..Default::default()
        }
    }
}
