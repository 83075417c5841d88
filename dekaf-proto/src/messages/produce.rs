//! Produce (key 0): append record batches to partitions.
//!
//! The records travel as raw bytes (`Option<Bytes>`): one or more encoded record batches,
//! written and read by the record-batch code, not here.

use bytes::Bytes;

use crate::{message, structure, ApiKey, ErrorCode, MessageSpec};

message! {
    /// Appends record batches to partitions.
    ///
    /// With `acks: 0` the broker sends no response at all; the default is 0 as on the wire,
    /// so set it (-1 for all in-sync replicas, 1 for the leader only).
    pub struct ProduceRequest [MessageSpec::request(ApiKey::Produce, 3, 11)] {
        /// The transactional id, or `None` outside a transaction.
        transactional_id: Option<String> [since(3).null_since(3)],
        /// Acknowledgements required: 0 none (no response), 1 the leader, -1 every in-sync
        /// replica.
        acks: i16 [since(0)],
        /// How long the broker may wait for the acknowledgements, in milliseconds.
        timeout_ms: i32 [since(0)],
        /// The data, topic by topic.
        topic_data: Vec<TopicProduceData> [since(0)],
    }
}

structure! {
    /// The data for one topic.
    pub struct TopicProduceData {
        /// The topic name.
        name: String [since(0)],
        /// The data, partition by partition.
        partition_data: Vec<PartitionProduceData> [since(0)],
    }
}

structure! {
    /// The data for one partition.
    pub struct PartitionProduceData {
        /// The partition index.
        index: i32 [since(0)],
        /// Encoded record batches to append.
        records: Option<Bytes> [since(0).null_since(0)],
    }
}

message! {
    /// The outcome of a produce request, partition by partition.
    pub struct ProduceResponse [MessageSpec::response(ApiKey::Produce, 3, 11)] {
        /// The outcome, topic by topic.
        responses: Vec<TopicProduceResponse> [since(0)],
        /// How long the broker delayed the answer for a quota, in milliseconds.
        throttle_time_ms: i32 [since(1).ignorable()],
        /// Where to reach the new leaders named in `current_leader` of failed partitions.
        node_endpoints: Vec<NodeEndpoint> [since(10).tag(0)],
    }
}

structure! {
    /// The outcome for one topic.
    pub struct TopicProduceResponse {
        /// The topic name.
        name: String [since(0)],
        /// The outcome, partition by partition.
        partition_responses: Vec<PartitionProduceResponse> [since(0)],
    }
}

structure! {
    /// The outcome for one partition.
    pub struct PartitionProduceResponse {
        /// The partition index.
        index: i32 [since(0)],
        /// Why the append failed, or NONE.
        error_code: ErrorCode [since(0)],
        /// The offset of the first appended record.
        base_offset: i64 [since(0)],
        /// The append time the broker gave the records when the topic uses log-append time,
        /// else -1.
        log_append_time_ms: i64 [since(2).ignorable()] = -1,
        /// The partition's log start offset.
        log_start_offset: i64 [since(5).ignorable()] = -1,
        /// The records that made the broker drop the batch, by index.
        record_errors: Vec<BatchIndexAndErrorMessage> [since(8).ignorable()],
        /// A summary of why the batch was dropped.
        error_message: Option<String> [since(8).null_since(8).ignorable()],
        /// The partition's current leader, when the error says the leader moved.
        current_leader: LeaderIdAndEpoch [since(10).tag(0)],
    }
}

structure! {
    /// One record that made the broker drop its batch.
    pub struct BatchIndexAndErrorMessage {
        /// The record's index within the batch.
        batch_index: i32 [since(8)],
        /// What was wrong with it.
        batch_index_error_message: Option<String> [since(8).null_since(8)],
    }
}

structure! {
    /// A partition leader and its epoch.
    pub struct LeaderIdAndEpoch {
        /// The leader's broker id, -1 when unknown.
        leader_id: i32 [since(10)] = -1,
        /// The leader's epoch, -1 when unknown.
        leader_epoch: i32 [since(10)] = -1,
    }
}

structure! {
    /// How to reach a broker.
    pub struct NodeEndpoint {
        /// The broker id.
        node_id: i32 [since(10)],
        /// The host name.
        host: String [since(10)],
        /// The port.
        port: i32 [since(10)],
        /// The broker's rack, if it has one.
        rack: Option<String> [since(10).null_since(10)],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arbitrary::check_round_trips;
    use crate::Message;

    #[test]
    fn request_round_trips() {
        check_round_trips::<ProduceRequest>(64);
    }

    #[test]
    fn response_round_trips() {
        check_round_trips::<ProduceResponse>(64);
    }

    #[test]
    fn records_are_sliced_not_copied() {
        let req = ProduceRequest {
            acks: -1,
            topic_data: vec![TopicProduceData {
                name: "t".into(),
                partition_data: vec![PartitionProduceData {
                    index: 0,
                    records: Some(Bytes::from_static(b"batch")),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        };
        let bytes = req.to_bytes(11).unwrap();
        let back = ProduceRequest::decode_exact(&bytes, 11).unwrap();
        let records = back.topic_data[0].partition_data[0]
            .records
            .clone()
            .unwrap();
        assert_eq!(&records[..], b"batch");
        let start = records.as_ptr() as usize - bytes.as_ptr() as usize;
        assert!(start < bytes.len());
    }
}
