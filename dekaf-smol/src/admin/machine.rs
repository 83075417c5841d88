//! The machine an admin client's driver owns: requests from the client's calls, and the
//! broker addresses learned from their answers.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use dekaf_state::admin::broker_addresses;
use dekaf_state::client::{BrokerAddress, BrokerId, ClientMachine, Outgoing, RequestId, Response};

use crate::glue::Link;
use crate::side::{Outcome, SideRequests};
use crate::{ConnectionEvent, Hooks};

/// Each call's requests, answered through their own channels, and an address book filled from
/// every Metadata, DescribeCluster and FindCoordinator answer that passes by, so that a call
/// can send to a partition leader or a group coordinator by node id.
#[derive(Debug, Default)]
pub(crate) struct AdminMachine {
    pub(crate) side: SideRequests,
    brokers: HashMap<BrokerId, BrokerAddress>,
}

impl AdminMachine {
    /// Learns the addresses an answer names.
    fn learn(&mut self, response: &Response) {
        for (id, address) in broker_addresses(&response.body) {
            self.brokers.insert(id, address);
        }
    }
}

impl ClientMachine for AdminMachine {
    fn poll_request(&mut self, _now: Instant) -> Option<Outgoing> {
        self.side.poll_request()
    }

    fn handle_response(&mut self, _now: Instant, id: RequestId, result: Outcome) {
        if let Ok(response) = &result {
            self.learn(response);
        }
        self.side.handle_response(id, result);
    }

    fn handle_timeout(&mut self, _now: Instant) {}

    fn poll_timeout(&self) -> Option<Instant> {
        None
    }

    fn broker_address(&self, id: BrokerId) -> Option<BrokerAddress> {
        self.brokers.get(&id).cloned()
    }
}

/// Keeps the last connection failure, for `ready`'s error when no broker answers.
pub(crate) struct AdminHooks(pub(crate) Arc<Link>);

impl Hooks<AdminMachine> for AdminHooks {
    fn connection_event(&mut self, _machine: &mut AdminMachine, event: &ConnectionEvent) {
        self.0.connection_event(event);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dekaf_proto::messages::find_coordinator::FindCoordinatorResponse;
    use dekaf_proto::messages::metadata::{MetadataResponse, MetadataResponseBroker};
    use dekaf_proto::messages::ResponseBody;
    use dekaf_state::client::{ClientRequest, Destination, RequestFailed};

    fn probe() -> ClientRequest {
        crate::side::probe_request()
    }

    #[test]
    fn addresses_are_learned_from_the_answers_that_pass_by() {
        let mut machine = AdminMachine::default();
        let now = Instant::now();
        let metadata = machine.side.submit(Destination::AnyBroker, probe());
        let coordinator = machine.side.submit(Destination::AnyBroker, probe());
        let failed = machine.side.submit(Destination::AnyBroker, probe());
        let ids: Vec<RequestId> = std::iter::from_fn(|| machine.poll_request(now))
            .map(|o| o.id)
            .collect();
        assert_eq!(ids.len(), 3);
        assert_eq!(machine.broker_address(7), None);
        machine.handle_response(
            now,
            ids[0],
            Ok(Response {
                version: 12,
                body: ResponseBody::Metadata(MetadataResponse {
                    brokers: vec![MetadataResponseBroker {
                        node_id: 7,
                        host: "leader".into(),
                        port: 9092,
                        ..Default::default()
                    }],
                    ..Default::default()
                }),
            }),
        );
        machine.handle_response(
            now,
            ids[1],
            Ok(Response {
                version: 3,
                body: ResponseBody::FindCoordinator(FindCoordinatorResponse {
                    node_id: 9,
                    host: "coordinator".into(),
                    port: 9093,
                    ..Default::default()
                }),
            }),
        );
        machine.handle_response(now, ids[2], Err(RequestFailed::TimedOut));
        assert_eq!(machine.broker_address(7).unwrap().host, "leader");
        assert_eq!(machine.broker_address(9).unwrap().port, 9093);
        // Each caller got its own answer.
        assert!(metadata.try_recv().unwrap().is_ok());
        assert!(coordinator.try_recv().unwrap().is_ok());
        assert_eq!(failed.try_recv().unwrap(), Err(RequestFailed::TimedOut));
    }
}
