//! Requests a client sends for itself, next to its machine's: the probe of each client's
//! `ready()`, which checks that a broker answers, and each admin call's requests.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use async_channel::{Receiver, Sender};
use async_io::Timer;
use dekaf_proto::messages::{MetadataRequest, RequestBody};
use dekaf_proto::ApiKey;
use dekaf_state::client::{
    ClientRequest, Destination, Outgoing, RequestFailed, RequestId, Response,
};
use dekaf_state::offset::{Backoff, Rng};

use crate::Error;

/// What a side request came back with.
pub(crate) type Outcome = Result<Response, RequestFailed>;

/// A queue of requests, each answered through its own channel.
///
/// Ids count down from `u64::MAX`, so they never meet those of a machine counting up from 0.
#[derive(Debug)]
pub(crate) struct SideRequests {
    next: u64,
    outbox: VecDeque<Outgoing>,
    waiters: HashMap<RequestId, Sender<Outcome>>,
}

impl Default for SideRequests {
    fn default() -> Self {
        SideRequests {
            next: u64::MAX,
            outbox: VecDeque::new(),
            waiters: HashMap::new(),
        }
    }
}

impl SideRequests {
    /// Queues `request` (one that expects an answer); the receiver gets its outcome.
    pub(crate) fn submit(
        &mut self,
        destination: Destination,
        request: ClientRequest,
    ) -> Receiver<Outcome> {
        let (tx, rx) = async_channel::bounded(1);
        self.submit_to(destination, request, tx);
        rx
    }

    /// Queues `request` (one that expects an answer); `answer` gets its outcome.
    pub(crate) fn submit_to(
        &mut self,
        destination: Destination,
        request: ClientRequest,
        answer: Sender<Outcome>,
    ) {
        let id = RequestId(self.next);
        self.next -= 1;
        self.waiters.insert(id, answer);
        self.outbox.push_back(Outgoing {
            id,
            destination,
            request,
        });
    }

    /// The next request to send.
    pub(crate) fn poll_request(&mut self) -> Option<Outgoing> {
        self.outbox.pop_front()
    }

    /// Whether `id` names a side request.
    pub(crate) fn owns(&self, id: RequestId) -> bool {
        self.waiters.contains_key(&id)
    }

    /// Passes the outcome of side request `id` to its waiter.
    pub(crate) fn handle_response(&mut self, id: RequestId, result: Outcome) {
        if let Some(tx) = self.waiters.remove(&id) {
            // The caller may have stopped waiting.
            let _ = tx.try_send(result);
        }
    }
}

/// A Metadata request for no topic: cheap, and answered by any broker that works.
pub(crate) fn probe_request() -> ClientRequest {
    ClientRequest::new(ApiKey::Metadata, 1, 12, |_| {
        RequestBody::Metadata(MetadataRequest {
            topics: Some(Vec::new()),
            ..Default::default()
        })
    })
}

/// Fails at once, as Java's client does, when the name of no bootstrap server resolves: that
/// is a configuration error, not a broker that is down. A resolver that does not answer
/// within `timeout` proves nothing, and the check passes.
pub(crate) async fn check_resolvable(servers: &[String], timeout: Duration) -> Result<(), Error> {
    let mut failures = Vec::new();
    for server in servers {
        let address = crate::config::parse_address(server)?;
        let lookup = async_net::resolve((address.host.as_str(), address.port));
        let lookup = futures_lite::future::or(async { Some(lookup.await) }, async {
            Timer::after(timeout).await;
            None
        });
        match lookup.await {
            Some(Ok(found)) if found.is_empty() => failures.push(format!("{server}: no address")),
            Some(Err(e)) => failures.push(format!("{server}: {e}")),
            Some(Ok(_)) | None => return Ok(()),
        }
    }
    Err(Error::Config(format!(
        "no bootstrap server's name resolves ({})",
        failures.join("; ")
    )))
}

/// Sends probes (through `submit`) until one is answered, retrying with a backoff; fails with
/// [`Error::NoBrokerAvailable`] once `timeout` has passed, and at once with a connection
/// failure no retry can fix. `last_error` gives the last connection failure seen, for the
/// error's cause.
pub(crate) async fn wait_for_broker(
    servers: &[String],
    timeout: Duration,
    submit: impl Fn() -> Result<Receiver<Outcome>, Error>,
    last_error: impl Fn() -> Option<Error>,
) -> Result<(), Error> {
    let started = Instant::now();
    let deadline = crate::connection::later(started, timeout);
    let backoff = Backoff {
        initial: Duration::from_millis(50),
        max: Duration::from_secs(1),
        jitter: 0.2,
    };
    let mut rng = Rng::new(crate::config::fresh_seed());
    let mut attempt = 0;
    let mut failed = None;
    loop {
        let answer = submit()?;
        let outcome = futures_lite::future::or(async { Some(answer.recv().await) }, async {
            Timer::at(deadline).await;
            None
        })
        .await;
        match outcome {
            Some(Ok(Ok(_))) => return Ok(()),
            Some(Ok(Err(e))) => failed = Some(Error::Request(e)),
            Some(Err(_)) => return Err(Error::Shutdown),
            None => {}
        }
        // A failure no retry can fix (a certificate refused, credentials refused): say so now
        // rather than after the timeout.
        if let Some(e) = last_error().filter(|e| !e.is_retriable()) {
            return Err(e);
        }
        let now = Instant::now();
        if now >= deadline {
            // The first attempt's own connect timeout ends with ours: give it a moment to say
            // why it failed, so that the error carries the cause.
            let grace = crate::connection::later(now, timeout.min(Duration::from_secs(1)) / 4);
            while last_error().is_none() && failed.is_none() && Instant::now() < grace {
                Timer::after(Duration::from_millis(20)).await;
            }
            return Err(Error::NoBrokerAvailable {
                servers: servers.join(","),
                waited: now.duration_since(started),
                last_error: last_error().or(failed).map(Box::new),
            });
        }
        let pause = backoff.delay(attempt, &mut rng);
        attempt = attempt.saturating_add(1);
        Timer::at(crate::connection::later(now, pause).min(deadline)).await;
    }
}
