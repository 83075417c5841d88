//! The contract between a client state machine and the driver that does its IO.

use std::time::Instant;

use super::{BrokerId, Destination, Outgoing, RequestFailed, RequestId, Response};

/// A broker's address, as metadata gives it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BrokerAddress {
    /// Host name or IP address.
    pub host: String,
    /// TCP port.
    pub port: u16,
}

/// What a driver needs from any client machine (consumer, producer): requests out, answers
/// in, and one timer.
///
/// A driver loop, each time it wakes (an answer arrived, the timer fired, a user command was
/// applied):
///
/// 1. feeds what happened: [`handle_response`](Self::handle_response) for each answer or
///    failure, [`handle_disconnected`](Self::handle_disconnected) for a lost connection,
///    [`handle_timeout`](Self::handle_timeout) when the deadline passed;
/// 2. drains [`poll_request`](Self::poll_request) and sends each request to its destination
///    (connecting first if needed, with the address from
///    [`broker_address`](Self::broker_address));
/// 3. drains the machine's own events (not part of this trait);
/// 4. sleeps until [`poll_timeout`](Self::poll_timeout), an answer, or a user command.
pub trait ClientMachine {
    /// The next request to send, if any.
    fn poll_request(&mut self, now: Instant) -> Option<Outgoing>;

    /// The answer to request `id`, or why there is none. Every request handed out by
    /// `poll_request` gets exactly one call, unless it expects no response.
    fn handle_response(
        &mut self,
        now: Instant,
        id: RequestId,
        result: Result<Response, RequestFailed>,
    );

    /// A connection closed: the one that carries requests for `connection`
    /// ([`Destination::Broker`] and [`Destination::Coordinator`] of one node are two
    /// connections; [`Destination::AnyBroker`] stands for a bootstrap connection whose node id
    /// is unknown). In-flight requests on it are reported separately through
    /// `handle_response`.
    fn handle_disconnected(&mut self, now: Instant, connection: Destination) {
        let _ = (now, connection);
    }

    /// The deadline from `poll_timeout` passed.
    fn handle_timeout(&mut self, now: Instant);

    /// When `handle_timeout` must be called next, if ever.
    fn poll_timeout(&self) -> Option<Instant>;

    /// Where broker `id` listens, once metadata has named it.
    fn broker_address(&self, id: BrokerId) -> Option<BrokerAddress>;
}
