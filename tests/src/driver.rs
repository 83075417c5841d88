//! A [`ClientMachine`] that sends what a test asks and records what comes back, and a client
//! that runs it under the dekaf-smol driver.
//!
//! Every wait has a deadline: a test that would hang fails instead.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::time::{Duration, Instant};

use async_channel::{Receiver, Sender};
use dekaf_proto::messages::metadata::MetadataRequestTopic;
use dekaf_proto::messages::{
    create_topics::CreatableTopic, delete_topics::DeleteTopicState, fetch::FetchPartition,
    fetch::FetchTopic, ApiVersionsRequest, CreateTopicsRequest, DeleteTopicsRequest, FetchRequest,
    MetadataRequest, RequestBody, ResponseBody,
};
use dekaf_proto::ApiKey;
use dekaf_smol::{Config, ConnectionEvent, Driver, Handle, Hooks};
use dekaf_state::client::{
    BrokerAddress, BrokerId, ClientMachine, ClientRequest, Destination, Outgoing, RequestFailed,
    RequestId, Response,
};

/// How long a test waits for any one thing before it fails.
pub const WAIT: Duration = Duration::from_secs(20);

/// What a request came back with.
pub type Outcome = Result<Response, RequestFailed>;

/// Sends the requests it is given, learns broker addresses from Metadata answers, records
/// everything.
#[derive(Debug, Default)]
pub struct Recorder {
    next_id: u64,
    outbox: VecDeque<Outgoing>,
    waiters: HashMap<RequestId, Sender<Outcome>>,
    /// Broker addresses from the last Metadata answer (or set by the test).
    pub brokers: HashMap<BrokerId, BrokerAddress>,
    /// Every answer, in the order the driver reported them.
    pub answered: Vec<(RequestId, Outcome)>,
    /// Every `handle_disconnected`.
    pub disconnected: Vec<Destination>,
    timer: Option<(Instant, Sender<Instant>)>,
}

impl Recorder {
    /// Queues `request` for `destination`; the receiver gets its outcome.
    pub fn submit(
        &mut self,
        destination: Destination,
        request: ClientRequest,
    ) -> (RequestId, Receiver<Outcome>) {
        let id = RequestId(self.next_id);
        self.next_id += 1;
        let (tx, rx) = async_channel::bounded(1);
        if request.expects_response() {
            self.waiters.insert(id, tx);
        }
        self.outbox.push_back(Outgoing {
            id,
            destination,
            request,
        });
        (id, rx)
    }

    /// Asks for `handle_timeout` at `at`; the receiver gets the `now` it was called with.
    pub fn set_timer(&mut self, at: Instant) -> Receiver<Instant> {
        let (tx, rx) = async_channel::bounded(1);
        self.timer = Some((at, tx));
        rx
    }
}

impl ClientMachine for Recorder {
    fn poll_request(&mut self, _: Instant) -> Option<Outgoing> {
        self.outbox.pop_front()
    }

    fn handle_response(&mut self, _: Instant, id: RequestId, result: Outcome) {
        if let Ok(Response {
            body: ResponseBody::Metadata(m),
            ..
        }) = &result
        {
            for b in &m.brokers {
                if let Ok(port) = u16::try_from(b.port) {
                    let address = BrokerAddress {
                        host: b.host.clone(),
                        port,
                    };
                    self.brokers.insert(b.node_id, address);
                }
            }
        }
        if let Some(tx) = self.waiters.remove(&id) {
            let _ = tx.try_send(result.clone());
        }
        self.answered.push((id, result));
    }

    fn handle_disconnected(&mut self, _: Instant, connection: Destination) {
        self.disconnected.push(connection);
    }

    fn handle_timeout(&mut self, now: Instant) {
        if let Some((at, tx)) = self.timer.take() {
            if at <= now {
                let _ = tx.try_send(now);
            } else {
                self.timer = Some((at, tx));
            }
        }
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.timer.as_ref().map(|(at, _)| *at)
    }

    fn broker_address(&self, id: BrokerId) -> Option<BrokerAddress> {
        self.brokers.get(&id).cloned()
    }
}

/// Forwards connection events to the test.
struct Forward(Sender<ConnectionEvent>);

impl Hooks<Recorder> for Forward {
    fn connection_event(&mut self, _: &mut Recorder, event: &ConnectionEvent) {
        let _ = self.0.try_send(event.clone());
    }
}

/// A [`Recorder`] running under the driver on smol's global executor.
pub struct TestClient {
    /// Commands the machine.
    pub handle: Handle<Recorder>,
    events: Receiver<ConnectionEvent>,
    task: smol::Task<Recorder>,
}

impl TestClient {
    /// Starts the driver with `config`.
    pub fn start(config: Config) -> TestClient {
        crate::init_logging();
        let (driver, handle) = Driver::new(config, Recorder::default()).expect("valid config");
        let (tx, events) = async_channel::unbounded();
        let task = smol::spawn(driver.with_hooks(Forward(tx)).run());
        TestClient {
            handle,
            events,
            task,
        }
    }

    /// Submits a request and returns its id and where its outcome arrives.
    pub async fn submit(
        &self,
        destination: Destination,
        request: ClientRequest,
    ) -> (RequestId, Receiver<Outcome>) {
        self.handle
            .call(move |m: &mut Recorder, _| m.submit(destination, request))
            .await
            .expect("driver running")
    }

    /// Sends a request and waits for its outcome.
    pub async fn request(&self, destination: Destination, request: ClientRequest) -> Outcome {
        let (_, rx) = self.submit(destination, request).await;
        outcome(&rx).await
    }

    /// The next connection event.
    pub async fn event(&self) -> ConnectionEvent {
        within(WAIT, self.events.recv())
            .await
            .expect("no connection event in time")
            .expect("driver running")
    }

    /// A connection event if one is already there.
    pub fn try_event(&self) -> Option<ConnectionEvent> {
        self.events.try_recv().ok()
    }

    /// Runs `f` on the machine.
    pub async fn inspect<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Recorder) -> R + Send + 'static,
    ) -> R {
        self.handle
            .call(move |m: &mut Recorder, _| f(m))
            .await
            .expect("driver running")
    }

    /// Returns once requests submitted before are written to their (open) connections: a
    /// command runs only after the requests of the commands that completed before it.
    pub async fn barrier(&self) {
        self.inspect(|_| ()).await;
    }

    /// Stops the driver and returns the machine.
    pub async fn stop(self) -> Recorder {
        self.handle.shutdown();
        within(WAIT, self.task)
            .await
            .expect("driver did not stop in time")
    }
}

/// Waits for an outcome, failing the test after [`WAIT`].
pub async fn outcome(rx: &Receiver<Outcome>) -> Outcome {
    within(WAIT, rx.recv())
        .await
        .expect("no answer in time")
        .expect("request dropped without an outcome")
}

/// `fut`'s output, or `None` if `limit` passes first.
pub async fn within<T>(limit: Duration, fut: impl Future<Output = T>) -> Option<T> {
    futures_lite::future::or(async { Some(fut.await) }, async {
        async_io::Timer::after(limit).await;
        None
    })
    .await
}

/// ApiVersions in any version.
pub fn api_versions() -> ClientRequest {
    ClientRequest::new(ApiKey::ApiVersions, 0, 4, |_| {
        RequestBody::ApiVersions(ApiVersionsRequest {
            client_software_name: "dekaf-tests".into(),
            client_software_version: "1".into(),
            ..Default::default()
        })
    })
}

/// Metadata for `topics` (all topics if `None`), without creating any.
pub fn metadata(topics: Option<Vec<String>>) -> ClientRequest {
    ClientRequest::new(ApiKey::Metadata, 1, 12, move |_| {
        RequestBody::Metadata(MetadataRequest {
            topics: topics.as_ref().map(|names| {
                names
                    .iter()
                    .map(|n| MetadataRequestTopic {
                        name: Some(n.clone()),
                        ..Default::default()
                    })
                    .collect()
            }),
            allow_auto_topic_creation: false,
            ..Default::default()
        })
    })
}

/// CreateTopics for one topic.
pub fn create_topic(name: &str, partitions: i32) -> ClientRequest {
    let name = name.to_owned();
    ClientRequest::new(ApiKey::CreateTopics, 2, 7, move |_| {
        RequestBody::CreateTopics(CreateTopicsRequest {
            topics: vec![CreatableTopic {
                name: name.clone(),
                num_partitions: partitions,
                replication_factor: 1,
                ..Default::default()
            }],
            timeout_ms: 10_000,
            ..Default::default()
        })
    })
}

/// DeleteTopics for one topic, by name in every version.
pub fn delete_topic(name: &str) -> ClientRequest {
    let name = name.to_owned();
    ClientRequest::new(ApiKey::DeleteTopics, 1, 6, move |v| {
        let mut request = DeleteTopicsRequest {
            timeout_ms: 10_000,
            ..Default::default()
        };
        if v >= 6 {
            request.topics = vec![DeleteTopicState {
                name: Some(name.clone()),
                ..Default::default()
            }];
        } else {
            request.topic_names = vec![name.clone()];
        }
        RequestBody::DeleteTopics(request)
    })
}

/// Fetch of partition 0 of `topic` from `offset`, waiting up to `max_wait` for a byte
/// (versions 4 to 12, which name topics rather than give their ids).
pub fn fetch(topic: &str, offset: i64, max_wait: Duration) -> ClientRequest {
    let topic = topic.to_owned();
    let max_wait_ms = i32::try_from(max_wait.as_millis()).unwrap_or(i32::MAX);
    ClientRequest::new(ApiKey::Fetch, 4, 12, move |_| {
        RequestBody::Fetch(FetchRequest {
            max_wait_ms,
            min_bytes: 1,
            topics: vec![FetchTopic {
                topic: topic.clone(),
                partitions: vec![FetchPartition {
                    partition: 0,
                    fetch_offset: offset,
                    partition_max_bytes: 1024 * 1024,
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        })
    })
}
