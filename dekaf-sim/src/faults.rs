//! The faults the cluster and the network inject, each a probability per request (or a
//! switch), drawn from the cluster's seeded generator so that a run replays exactly.

use std::time::Duration;

use dekaf_proto::ErrorCode;

/// Fault rates (probabilities in [0, 1]) and switches for Kafka behaviours that vary.
///
/// The cluster draws the ones about its own answers; the drivers ([`Sim`](crate::Sim),
/// [`GroupSim`](crate::GroupSim), [`Link`](crate::Link), [`world`](crate::world)) draw the
/// ones about the network.
///
/// Build one from [`Faults::default`] (Kafka's behaviour, no fault) with struct update
/// syntax, `Faults { disconnect: 0.05, ..Faults::default() }`, so that new kinds of fault
/// added later leave the test unchanged.
#[derive(Clone, Debug)]
pub struct Faults {
    /// Network: the connection breaks before the broker sees the request (answers still on
    /// their way on that connection are lost too).
    pub disconnect: f64,
    /// Network: the broker applies the request but its answer never arrives; the client
    /// notices after its request timeout.
    pub unanswered: f64,
    /// Network: the request times out without being applied.
    pub timeout: f64,
    /// Network: the broker applies the request, then the connection drops before the answer.
    pub lost_response: f64,
    /// Network: the answer arrives up to 3 s late (and the answers behind it on its
    /// connection with it: they come back in order). [`GroupSim`](crate::GroupSim) only.
    pub delayed_response: f64,
    /// Network: the answer arrives twice (the client must take the first and ignore the
    /// second). [`GroupSim`](crate::GroupSim) only.
    pub duplicated_response: f64,
    /// Cluster: every answer of the group coordinator takes this much longer (a coordinator
    /// busy loading or writing its log). [`GroupSim`](crate::GroupSim) only.
    pub slow_coordinator: Duration,
    /// Cluster: before a request, the leader of a random partition moves to another broker.
    pub leader_move: f64,
    /// Cluster: a Produce finds its partition's leader moved away (NOT_LEADER_OR_FOLLOWER).
    pub not_leader: f64,
    /// Cluster: a coordinator request finds its coordinator moved (NOT_COORDINATOR).
    pub coordinator_moves: f64,
    /// Cluster: a group coordinator request is answered COORDINATOR_LOAD_IN_PROGRESS, a
    /// FindCoordinator COORDINATOR_NOT_AVAILABLE.
    pub load_in_progress: f64,
    /// Cluster: the transaction coordinator is busy (CONCURRENT_TRANSACTIONS).
    pub concurrent_transactions: f64,
    /// Cluster: the answer to a batch already written: NONE with the first write's offset
    /// (Kafka today) or DUPLICATE_SEQUENCE_NUMBER (older brokers).
    pub duplicate_code: ErrorCode,
    /// Cluster: a fetch answer ends with half of the next batch (as brokers cut at the size
    /// limit).
    pub partial_batch: f64,
    /// Cluster: a fetch answer has one byte of its first batch flipped (its CRC no longer
    /// matches).
    pub corrupt: f64,
    /// Cluster: a fetch answer's second batch claims a base offset one lower than its own
    /// (outside what the CRC covers), so that it overlaps the first.
    pub overlap: f64,
    /// Network: the answer is mangled — random error codes, ids, offsets and node ids (a
    /// broker that lies; the client must not panic or spin, whatever it decides).
    pub garbage: f64,
    /// Fetch answers list aborted transactions (Kafka); off, the list is always empty (tansu).
    pub list_aborted: bool,
    /// Fetch under read_committed returns data past the last stable offset too (the consumer
    /// must stop there itself).
    pub ignore_lso: bool,
    /// ListOffsets by time with no match answers offset 0, timestamp -1 (tansu) instead of
    /// Kafka's -1, -1.
    pub tansu_time_quirk: bool,
}

impl Default for Faults {
    /// No fault; every switch as Apache Kafka behaves.
    fn default() -> Self {
        Faults {
            disconnect: 0.0,
            unanswered: 0.0,
            timeout: 0.0,
            lost_response: 0.0,
            delayed_response: 0.0,
            duplicated_response: 0.0,
            slow_coordinator: Duration::ZERO,
            leader_move: 0.0,
            not_leader: 0.0,
            coordinator_moves: 0.0,
            load_in_progress: 0.0,
            concurrent_transactions: 0.0,
            duplicate_code: ErrorCode::NONE,
            partial_batch: 0.0,
            corrupt: 0.0,
            overlap: 0.0,
            garbage: 0.0,
            list_aborted: true,
            ignore_lso: false,
            tansu_time_quirk: false,
        }
    }
}

impl Faults {
    /// No fault at all (the same as [`Faults::default`]).
    pub fn none() -> Self {
        Faults::default()
    }

    /// Every network and coordinator fault at a moderate rate (no garbage, no corruption).
    pub fn chaos() -> Self {
        Faults {
            lost_response: 0.05,
            disconnect: 0.03,
            timeout: 0.01,
            not_leader: 0.03,
            coordinator_moves: 0.03,
            concurrent_transactions: 0.05,
            ..Faults::default()
        }
    }
}
