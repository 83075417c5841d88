//! What a client shows about itself: snapshots of its connections, partitions, group and
//! producer, taken with `metrics()` on each client ([`Consumer::metrics`](crate::Consumer::metrics),
//! [`Producer::metrics`](crate::Producer::metrics), [`Admin::metrics`](crate::Admin::metrics)).
//!
//! A snapshot is a plain value: print it, compare two, or hand it to a metrics system. With
//! the `metrics` feature, [`ConsumerMetrics::record`] and its siblings publish the numbers
//! through the [`metrics`](https://docs.rs/metrics) facade, so that a Prometheus or
//! OpenTelemetry exporter picks them up.

use std::collections::BTreeMap;
use std::time::Duration;

use dekaf_proto::ApiKey;
use dekaf_state::metrics::Histogram;
pub use dekaf_state::metrics::LatencySummary;
use dekaf_state::offset::TopicPartition;
pub use dekaf_state::producer::FillSummary;

use crate::connection::Endpoint;

/// Where a connection is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConnectionState {
    /// Not connected (never, or closed and waiting to connect again).
    Disconnected,
    /// Being opened (TCP, TLS, the ApiVersions handshake, SASL).
    Connecting,
    /// Open and ready for requests.
    Connected,
}

/// One connection of a client: to a bootstrap server, to a broker, or to a broker as group or
/// transaction coordinator.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct BrokerMetrics {
    /// Which connection.
    pub endpoint: Endpoint,
    /// `host:port`.
    pub address: String,
    /// Where it is now.
    pub state: ConnectionState,
    /// Connections opened (handshake done), the first included.
    pub connects: u64,
    /// Open connections that closed.
    pub disconnects: u64,
    /// Attempts to connect that failed.
    pub failed_attempts: u64,
    /// Requests written and not yet answered.
    pub requests_in_flight: usize,
    /// Requests waiting for the connection.
    pub requests_queued: usize,
    /// Requests written.
    pub requests_sent: u64,
    /// Requests that failed (timed out, disconnected, not encodable, not supported).
    pub requests_failed: u64,
    /// Bytes written (requests, with their size prefix).
    pub bytes_sent: u64,
    /// Bytes of answers read.
    pub bytes_received: u64,
    /// Request latency per API, from writing the request to reading its answer.
    pub latency: BTreeMap<ApiKey, LatencySummary>,
}

/// What a connection slot counts, kept by the driver.
#[derive(Debug, Default)]
pub(crate) struct SlotStats {
    pub connects: u64,
    pub disconnects: u64,
    pub failed_attempts: u64,
    pub requests_sent: u64,
    pub requests_failed: u64,
    pub bytes_sent: u64,
    pub bytes_received: u64,
    pub latency: BTreeMap<ApiKey, Histogram>,
}

impl SlotStats {
    pub(crate) fn answered(&mut self, api: ApiKey, latency: Duration, bytes: usize) {
        self.bytes_received = self.bytes_received.saturating_add(bytes as u64);
        self.latency.entry(api).or_default().record(latency);
    }
}

/// One assigned partition of a consumer.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct PartitionMetrics {
    /// The partition.
    pub topic_partition: TopicPartition,
    /// The offset of the next record to hand out; `None` until known.
    pub position: Option<i64>,
    /// The last offset committed (or found committed) for the group; `None` when none is known.
    pub committed: Option<i64>,
    /// The high watermark as of the last fetch answer.
    pub high_watermark: Option<i64>,
    /// Records after the position (the last stable offset under read_committed); `None` until
    /// both are known.
    pub lag: Option<i64>,
    /// Offsets fetched so far (records, and transaction markers).
    pub records_fetched: u64,
    /// Record-batch bytes fetched so far.
    pub bytes_fetched: u64,
    /// Offsets fetched per second, over the last few seconds.
    pub records_per_second: f64,
    /// Bytes fetched per second, over the last few seconds.
    pub bytes_per_second: f64,
    /// Whether fetching is paused.
    pub paused: bool,
}

/// A consumer's group membership.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct GroupMetrics {
    /// The group.
    pub group_id: String,
    /// The member's state, as the group machine names it.
    pub state: String,
    /// The generation, -1 outside one.
    pub generation: i32,
    /// The member id the coordinator gave.
    pub member_id: String,
    /// Rebalances completed (the first join included).
    pub rebalances: u64,
    /// How long the last one took.
    pub last_rebalance: Option<Duration>,
    /// All rebalances together.
    pub rebalance_time: Duration,
}

/// Commits of a consumer's group offsets.
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct CommitMetrics {
    /// Commits that finished well (each `commit` call, or each of Auto mode's).
    pub succeeded: u64,
    /// Commits that failed.
    pub failed: u64,
    /// OffsetCommit requests sent (several commits may ride in one).
    pub requests: u64,
    /// How long each OffsetCommit took.
    pub latency: LatencySummary,
}

/// A snapshot of a [`Consumer`](crate::Consumer).
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ConsumerMetrics {
    /// Each assigned partition, in order.
    pub partitions: Vec<PartitionMetrics>,
    /// Each connection.
    pub brokers: Vec<BrokerMetrics>,
    /// The group, once the consumer subscribed.
    pub group: Option<GroupMetrics>,
    /// Commits, when the consumer has a group id.
    pub commits: CommitMetrics,
    /// Records handed to the application.
    pub records_consumed: u64,
    /// Records fetched and not yet handed out.
    pub records_buffered: usize,
    /// Bytes fetched and not yet handed out.
    pub bytes_buffered: usize,
}

impl ConsumerMetrics {
    /// The total lag over the partitions whose lag is known.
    pub fn total_lag(&self) -> i64 {
        self.partitions.iter().filter_map(|p| p.lag).sum()
    }
}

/// A snapshot of a [`Producer`](crate::Producer).
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ProducerMetrics {
    /// Each connection.
    pub brokers: Vec<BrokerMetrics>,
    /// Records sent with `send` so far.
    pub records_sent: u64,
    /// Records whose outcome is known: written, or failed.
    pub records_delivered: u64,
    /// Records that failed.
    pub records_failed: u64,
    /// Records sent and not yet delivered (in the buffer or in flight).
    pub records_pending: u64,
    /// Bytes of the buffer in use, out of `buffer_memory`.
    pub buffer_used: usize,
    /// The buffer's size.
    pub buffer_memory: usize,
    /// Requests written and not yet answered, over every connection (Produce and the others).
    pub requests_in_flight: usize,
    /// Failed records by the broker's error code (or by kind, for failures of the client).
    pub errors: BTreeMap<String, u64>,
    /// Records in the buffer that no request in flight carries (lingering, in retry
    /// backoff, or waiting for metadata).
    pub records_buffered: u64,
    /// Produce requests written and not yet answered.
    pub produce_requests_in_flight: usize,
    /// Batches sent (each counted once, at its first send).
    pub batches_sent: u64,
    /// Records per batch sent, on average.
    pub records_per_batch: f64,
    /// How full batches were when first sent, in percent of `batch_size` (uncompressed).
    pub batch_fill: FillSummary,
    /// How long batches waited from their first record to their first send.
    pub queue_time: LatencySummary,
    /// Batches sent again, by cause (the broker's error code, `split, too large`, or `no
    /// answer for the partition`).
    pub retries: BTreeMap<String, u64>,
}

/// A snapshot of an [`Admin`](crate::Admin) client.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct AdminMetrics {
    /// Each connection.
    pub brokers: Vec<BrokerMetrics>,
}

#[cfg(feature = "metrics")]
mod bridge {
    use super::*;

    fn record_brokers(client: &'static str, brokers: &[BrokerMetrics]) {
        for b in brokers {
            let labels = [
                ("client", client.to_string()),
                ("broker", b.address.clone()),
            ];
            metrics::gauge!("dekaf_connection_up", &labels)
                .set(f64::from(u8::from(b.state == ConnectionState::Connected)));
            metrics::counter!("dekaf_connects_total", &labels).absolute(b.connects);
            metrics::counter!("dekaf_disconnects_total", &labels).absolute(b.disconnects);
            metrics::counter!("dekaf_requests_total", &labels).absolute(b.requests_sent);
            metrics::counter!("dekaf_request_failures_total", &labels).absolute(b.requests_failed);
            metrics::counter!("dekaf_bytes_sent_total", &labels).absolute(b.bytes_sent);
            metrics::counter!("dekaf_bytes_received_total", &labels).absolute(b.bytes_received);
            metrics::gauge!("dekaf_requests_in_flight", &labels).set(b.requests_in_flight as f64);
            for (api, l) in &b.latency {
                let labels = [
                    ("client", client.to_string()),
                    ("broker", b.address.clone()),
                    ("api", api.name().to_string()),
                ];
                metrics::gauge!("dekaf_request_latency_p50_seconds", &labels)
                    .set(l.p50.as_secs_f64());
                metrics::gauge!("dekaf_request_latency_p99_seconds", &labels)
                    .set(l.p99.as_secs_f64());
            }
        }
    }

    impl ConsumerMetrics {
        /// Publishes the snapshot through the `metrics` facade (feature `metrics`): gauges
        /// and counters named `dekaf_*`, labelled by partition, broker and API.
        pub fn record(&self) {
            record_brokers("consumer", &self.brokers);
            for p in &self.partitions {
                let labels = [
                    ("topic", p.topic_partition.topic().to_string()),
                    ("partition", p.topic_partition.partition().to_string()),
                ];
                if let Some(lag) = p.lag {
                    metrics::gauge!("dekaf_consumer_lag", &labels).set(lag as f64);
                }
                if let Some(position) = p.position {
                    metrics::gauge!("dekaf_consumer_position", &labels).set(position as f64);
                }
                if let Some(committed) = p.committed {
                    metrics::gauge!("dekaf_consumer_committed", &labels).set(committed as f64);
                }
                metrics::counter!("dekaf_consumer_records_fetched_total", &labels)
                    .absolute(p.records_fetched);
                metrics::counter!("dekaf_consumer_bytes_fetched_total", &labels)
                    .absolute(p.bytes_fetched);
            }
            metrics::counter!("dekaf_consumer_records_consumed_total")
                .absolute(self.records_consumed);
            metrics::counter!("dekaf_consumer_commits_total").absolute(self.commits.succeeded);
            metrics::counter!("dekaf_consumer_commit_failures_total").absolute(self.commits.failed);
            if let Some(g) = &self.group {
                metrics::counter!("dekaf_consumer_rebalances_total").absolute(g.rebalances);
                metrics::gauge!("dekaf_consumer_generation").set(f64::from(g.generation));
            }
        }
    }

    impl ProducerMetrics {
        /// Publishes the snapshot through the `metrics` facade (feature `metrics`).
        pub fn record(&self) {
            record_brokers("producer", &self.brokers);
            metrics::counter!("dekaf_producer_records_sent_total").absolute(self.records_sent);
            metrics::counter!("dekaf_producer_records_failed_total").absolute(self.records_failed);
            metrics::gauge!("dekaf_producer_records_pending").set(self.records_pending as f64);
            metrics::gauge!("dekaf_producer_buffer_used_bytes").set(self.buffer_used as f64);
            metrics::gauge!("dekaf_producer_records_buffered").set(self.records_buffered as f64);
            metrics::gauge!("dekaf_producer_requests_in_flight")
                .set(self.produce_requests_in_flight as f64);
            metrics::counter!("dekaf_producer_batches_sent_total").absolute(self.batches_sent);
            metrics::gauge!("dekaf_producer_records_per_batch").set(self.records_per_batch);
            metrics::gauge!("dekaf_producer_batch_fill_percent", "quantile" => "mean")
                .set(self.batch_fill.mean);
            metrics::gauge!("dekaf_producer_batch_fill_percent", "quantile" => "0.5")
                .set(f64::from(self.batch_fill.p50));
            metrics::gauge!("dekaf_producer_batch_fill_percent", "quantile" => "0.99")
                .set(f64::from(self.batch_fill.p99));
            metrics::gauge!("dekaf_producer_queue_time_seconds", "quantile" => "0.5")
                .set(self.queue_time.p50.as_secs_f64());
            metrics::gauge!("dekaf_producer_queue_time_seconds", "quantile" => "0.99")
                .set(self.queue_time.p99.as_secs_f64());
            for (cause, n) in &self.retries {
                metrics::counter!("dekaf_producer_retries_total", "cause" => cause.clone())
                    .absolute(*n);
            }
            for (code, n) in &self.errors {
                metrics::counter!("dekaf_producer_errors_total", "error" => code.clone())
                    .absolute(*n);
            }
        }
    }

    impl AdminMetrics {
        /// Publishes the snapshot through the `metrics` facade (feature `metrics`).
        pub fn record(&self) {
            record_brokers("admin", &self.brokers);
        }
    }
}
