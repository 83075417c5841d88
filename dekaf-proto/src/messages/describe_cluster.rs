//! DescribeCluster (key 60): the cluster id, the controller and the live brokers (or
//! controllers).

use crate::{message, structure, ApiKey, ErrorCode, MessageSpec};

message! {
    /// Asks a broker to describe the cluster.
    pub struct DescribeClusterRequest [MessageSpec::request(ApiKey::DescribeCluster, 0, 1)] {
        /// Also return the operations the client may perform on the cluster.
        include_cluster_authorized_operations: bool [since(0)],
        /// Which endpoints to list: 1 for brokers, 2 for controllers.
        endpoint_type: i8 [since(1)] = 1,
    }
}

message! {
    /// The cluster's identity and members.
    pub struct DescribeClusterResponse [MessageSpec::response(ApiKey::DescribeCluster, 0, 1)] {
        /// How long the broker delayed the answer for a quota, in milliseconds.
        throttle_time_ms: i32 [since(0)],
        /// Why the cluster could not be described, or `NONE`.
        error_code: ErrorCode [since(0)],
        /// The broker's explanation of the error, if any.
        error_message: Option<String> [since(0).null_since(0)],
        /// Which endpoints are listed: 1 for brokers, 2 for controllers.
        endpoint_type: i8 [since(1)] = 1,
        /// The cluster id.
        cluster_id: String [since(0)],
        /// The id of the active controller, -1 when unknown.
        controller_id: i32 [since(0)] = -1,
        /// The brokers (or controllers) of the cluster.
        brokers: Vec<DescribeClusterBroker> [since(0)],
        /// Bit set of the operations the client may perform on the cluster; `i32::MIN` when
        /// not requested.
        cluster_authorized_operations: i32 [since(0)] = i32::MIN,
    }
}

structure! {
    /// One broker (or controller) of the cluster.
    pub struct DescribeClusterBroker {
        /// Broker id.
        broker_id: i32 [since(0)],
        /// Host name to connect to.
        host: String [since(0)],
        /// Port to connect to.
        port: i32 [since(0)],
        /// The broker's rack, if it has one.
        rack: Option<String> [since(0).null_since(0)],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arbitrary::check_round_trips;

    #[test]
    fn request_round_trips() {
        check_round_trips::<DescribeClusterRequest>(64);
    }

    #[test]
    fn response_round_trips() {
        check_round_trips::<DescribeClusterResponse>(64);
    }
}
