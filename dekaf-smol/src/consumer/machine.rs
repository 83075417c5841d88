//! The consumer machine as the driver sees it, shared with the API behind one lock, and the
//! hook that hands the machine's events to whoever awaits them.
//!
//! The driver task and the application's tasks both reach the machine: the driver to feed it
//! answers and take its requests, the application for records, getters and commands. Getters
//! and commands that need no answer from a broker run on the caller's side under the lock and
//! return at once; the caller then wakes the driver ([`Shared::nudge`]) so that it sends
//! whatever the command made due. Commands answered by a broker (commit, committed offsets,
//! offsets for times, watermarks) leave a channel keyed by their id; the driver's
//! [`after_step`](crate::Hooks::after_step) hook drains the machine's events and completes them.

use std::collections::{HashMap, VecDeque};
use std::task::Waker;
use std::time::Instant;

use async_channel::Sender;
use dekaf_state::consumer::{Consumer as StateConsumer, ConsumerEvent, Watermarks, WatermarksId};
use dekaf_state::group::{GroupEvent, LeaveReason};
use dekaf_state::offset::{CommitError, CommitPolicy, Event, LookupError, QueryId, TopicPartition};

use super::rebalance::{HookFuture, HookKind};

use crate::glue::{self, ClientState};
use crate::side::SideRequests;
use crate::{Error, Handle};

/// Errors kept for `recv` at most; older ones are dropped (and logged) beyond that.
const MAX_QUEUED_ERRORS: usize = 1024;

/// Records a group member takes between two wake-ups of the driver at most (the group
/// machine may have something to send after a poll: a rejoin, a confirmed revocation).
const TAKES_PER_NUDGE: usize = 256;

/// Takes between two reads of the clock at most, when nothing taken needs the exact time (see
/// [`Inner::take_time`]).
const TAKES_PER_CLOCK_READ: u32 = 16;

/// The answer to a watermarks query.
pub(crate) type WatermarksResult = Result<Vec<(TopicPartition, Watermarks)>, LookupError>;

/// What the driver and the API share.
pub(crate) type Shared = glue::Shared<Inner>;

/// The machine the driver owns: the shared consumer, locked for each call.
pub(crate) type Machine = glue::Machine<Inner>;

/// The machine and the waiters of its answers.
#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) consumer: StateConsumer,
    pub(crate) side: SideRequests,
    pub(crate) commits: HashMap<dekaf_state::offset::CommitId, Sender<Result<(), CommitError>>>,
    /// Committed-offsets and offsets-for-times queries (their ids share one space).
    pub(crate) queries: HashMap<QueryId, Sender<Event>>,
    pub(crate) watermarks: HashMap<WatermarksId, Sender<WatermarksResult>>,
    /// Problems for the application, handed out by `recv` before records.
    pub(crate) errors: VecDeque<Error>,
    /// Tasks waiting for records.
    pub(crate) readers: Vec<Waker>,
    /// An answer, timeout or disconnection was fed since the last hook call.
    pub(crate) fed: bool,
    /// Set by `close` and on drop: stop the driver once the machine's close is complete.
    pub(crate) stop_when_closed: Option<Handle<Machine>>,
    /// The driver has stopped: nothing will be answered any more.
    pub(crate) stopped: bool,
    /// Records taken since the driver was last woken for them.
    takes: usize,
    /// Reused by every take, so that taking one record allocates nothing.
    pub(crate) taken: Vec<dekaf_state::consumer::ConsumerRecord>,
    /// The time last read for a take, and how many takes used it.
    take_clock: Option<(Instant, u32)>,
    /// Auto mode commits after every record or every N records: each take may make one due.
    commits_per_record: bool,
    /// Rebalance hooks due, in order, not started yet.
    pub(crate) rebalances: VecDeque<(HookKind, Vec<TopicPartition>)>,
    /// The hook under way.
    pub(crate) hook: HookState,
}

/// Where the rebalance hook under way is.
pub(crate) enum HookState {
    /// None is under way.
    Idle,
    /// Started and waiting to be polled again.
    Parked {
        future: HookFuture<'static>,
        kind: HookKind,
    },
    /// Being polled right now, on this thread.
    Running(std::thread::ThreadId),
}

impl std::fmt::Debug for HookState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HookState::Idle => f.write_str("Idle"),
            HookState::Parked { kind, .. } => write!(f, "Parked({kind:?})"),
            HookState::Running(t) => write!(f, "Running({t:?})"),
        }
    }
}

impl Inner {
    pub(crate) fn new(consumer: StateConsumer) -> Inner {
        let commits_per_record = matches!(
            consumer.config().offsets.effective_policy(),
            CommitPolicy::EveryRecord | CommitPolicy::EveryNRecords(_)
        );
        Inner {
            consumer,
            side: SideRequests::default(),
            commits: HashMap::new(),
            queries: HashMap::new(),
            watermarks: HashMap::new(),
            errors: VecDeque::new(),
            readers: Vec::new(),
            fed: false,
            stop_when_closed: None,
            stopped: false,
            takes: 0,
            taken: Vec::new(),
            take_clock: None,
            commits_per_record,
            rebalances: VecDeque::new(),
            hook: HookState::Idle,
        }
    }

    /// Counts `n` records taken; true when the driver should be woken for them: the machine
    /// says a fetch may be due, a commit may be (per-record policies), or a group member took
    /// many records. Waking it for every record would cost a thread switch each.
    pub(crate) fn took(&mut self, n: usize) -> bool {
        self.takes += n;
        let many = self.takes >= TAKES_PER_NUDGE;
        let due = self.consumer.take_fetch_due()
            || self.commits_per_record
            || (many && self.consumer.group().is_some());
        if due || many {
            self.takes = 0;
        }
        due
    }

    /// The time to give the machine when taking records. Per-record commits and group members
    /// need it exact (commit deadlines, the max poll interval); otherwise it only dates the
    /// backoff after a corrupt batch, and reading the clock for every record costs about as
    /// much as taking one: it is read again every few takes, and after every wait.
    pub(crate) fn take_time(&mut self) -> Instant {
        if self.commits_per_record || self.consumer.group().is_some() {
            return Instant::now();
        }
        match &mut self.take_clock {
            Some((at, uses)) if *uses < TAKES_PER_CLOCK_READ => {
                *uses += 1;
                *at
            }
            _ => {
                let now = Instant::now();
                self.take_clock = Some((now, 1));
                now
            }
        }
    }

    /// Nothing was ready: the next take reads the clock.
    pub(crate) fn waited(&mut self) {
        self.take_clock = None;
    }

    /// Wakes every task waiting for records.
    pub(crate) fn wake_readers(&mut self) {
        for waker in self.readers.drain(..) {
            waker.wake();
        }
    }

    /// Registers a task waiting for records.
    pub(crate) fn wait_for_records(&mut self, waker: &Waker) {
        if !self.readers.iter().any(|w| w.will_wake(waker)) {
            self.readers.push(waker.clone());
        }
    }

    /// Queues an error for `recv`.
    fn push_error(&mut self, error: Error) {
        if self.errors.len() >= MAX_QUEUED_ERRORS {
            if let Some(old) = self.errors.pop_front() {
                tracing::warn!(error = %old, "consumer error dropped: too many not taken");
            }
        }
        self.errors.push_back(error);
    }

    /// Hands each event of the machine to its waiter, or to `recv`.
    fn dispatch(&mut self, event: ConsumerEvent) {
        match event {
            ConsumerEvent::Offset(Event::CommitFinished { id, origin, result }) => {
                match self.commits.remove(&id) {
                    Some(tx) => {
                        let _ = tx.try_send(result);
                    }
                    None => {
                        if let Err(e) = result {
                            tracing::warn!(commit = %id, ?origin, error = %e, "commit failed");
                        }
                    }
                }
            }
            ConsumerEvent::Offset(
                event @ (Event::Committed { .. } | Event::OffsetsForTimes { .. }),
            ) => {
                let query = match &event {
                    Event::Committed { query, .. } | Event::OffsetsForTimes { query, .. } => *query,
                    _ => return,
                };
                if let Some(tx) = self.queries.remove(&query) {
                    let _ = tx.try_send(event);
                }
            }
            ConsumerEvent::Offset(Event::PositionFailed { partition, error }) => {
                self.push_error(Error::Position { partition, error });
            }
            ConsumerEvent::Watermarks { query, result } => {
                if let Some(tx) = self.watermarks.remove(&query) {
                    let _ = tx.try_send(result);
                }
            }
            ConsumerEvent::Fetch { partition, error } => {
                self.push_error(Error::Fetch { partition, error });
            }
            ConsumerEvent::Metadata(problem) => self.push_error(Error::Metadata(problem)),
            ConsumerEvent::RequestFailed { api, error } => {
                tracing::warn!(%api, %error, "request failed for good");
                self.push_error(Error::Request(error));
            }
            ConsumerEvent::Rebalance(event) => self.on_rebalance(event),
            other => tracing::debug!(event = ?other, "consumer event"),
        }
    }

    /// Queues the hook a rebalance event calls for, or the error it means for the
    /// application.
    fn on_rebalance(&mut self, event: GroupEvent) {
        match event {
            GroupEvent::Assigned(ps) => self.rebalances.push_back((HookKind::Assigned, ps)),
            GroupEvent::Revoked(ps) => self.rebalances.push_back((HookKind::Revoked, ps)),
            GroupEvent::Lost(ps) => {
                // A revocation not started yet is a loss now: the hook for it would commit
                // partitions another member may own.
                for (kind, queued) in self.rebalances.iter_mut() {
                    if *kind == HookKind::Revoked {
                        queued.retain(|tp| !ps.contains(tp));
                    }
                }
                self.rebalances
                    .retain(|(kind, queued)| *kind != HookKind::Revoked || !queued.is_empty());
                self.rebalances.push_back((HookKind::Lost, ps));
            }
            GroupEvent::Left(LeaveReason::MaxPollExceeded) => {
                let interval = self.consumer.config().group.max_poll_interval;
                tracing::warn!(
                    ?interval,
                    "no records were asked for within the max poll interval: the member left \
                     its group; it rejoins when records are asked for again"
                );
                self.push_error(Error::MaxPollIntervalExceeded { interval });
            }
            GroupEvent::Failed(error) => {
                tracing::warn!(%error, "the group member stopped");
                self.push_error(Error::Group(error));
            }
            _ => {}
        }
    }

    /// Hands the machine's events out: to their waiters, to `recv`, to the rebalance hooks.
    pub(crate) fn drain_events(&mut self) {
        while let Some(event) = self.consumer.poll_event() {
            self.dispatch(event);
        }
    }

    /// Whether a rebalance hook is due or under way.
    pub(crate) fn hooks_pending(&self) -> bool {
        !self.rebalances.is_empty() || !matches!(self.hook, HookState::Idle)
    }

    /// After each driver step: events out, readers woken, the driver stopped once closed.
    fn drain_after_step(&mut self) {
        let errors_before = self.errors.len();
        let hooks_before = self.rebalances.len();
        self.drain_events();
        // Only what came from outside can make records appear: commands run by the API
        // (which wakes its own readers when it must) do not wake them in a loop.
        if std::mem::take(&mut self.fed)
            || self.errors.len() != errors_before
            || self.rebalances.len() != hooks_before
        {
            self.wake_readers();
        }
        if self.consumer.is_close_complete() {
            if let Some(handle) = self.stop_when_closed.take() {
                handle.shutdown();
            }
        }
    }

    /// Forgets the hooks due and the one under way (its future holds the consumer's state:
    /// kept, it would keep that state alive). The hook's future is returned, to be dropped
    /// once the lock is released: dropping it runs the application's code.
    #[must_use = "drop the hook after releasing the lock"]
    pub(crate) fn clear_hooks(&mut self) -> Option<HookFuture<'static>> {
        self.rebalances.clear();
        match std::mem::replace(&mut self.hook, HookState::Idle) {
            HookState::Parked { future, .. } => Some(future),
            running @ HookState::Running(_) => {
                self.hook = running;
                None
            }
            HookState::Idle => None,
        }
    }

    /// The driver stopped: every waiter learns it (their senders are dropped).
    #[must_use = "drop the hook after releasing the lock"]
    pub(crate) fn stop(&mut self) -> Option<HookFuture<'static>> {
        self.stopped = true;
        self.commits.clear();
        self.queries.clear();
        self.watermarks.clear();
        self.stop_when_closed = None;
        let hook = self.clear_hooks();
        self.wake_readers();
        hook
    }
}

impl ClientState for Inner {
    type Machine = StateConsumer;
    type Leftover = Option<HookFuture<'static>>;

    fn machine(&mut self) -> &mut StateConsumer {
        &mut self.consumer
    }

    fn machine_ref(&self) -> &StateConsumer {
        &self.consumer
    }

    fn side(&mut self) -> &mut SideRequests {
        &mut self.side
    }

    fn fed(&mut self) {
        self.fed = true;
    }

    fn after_step(&mut self) {
        self.drain_after_step();
    }

    fn connection_closed(&mut self, reason: &Error) {
        // A failure no retry fixes (credentials or a certificate refused) comes out of
        // `recv`, at most one waiting at a time; the driver keeps trying.
        if !reason.is_retriable() && self.errors.is_empty() {
            self.errors.push_back(reason.clone());
            self.wake_readers();
        }
    }

    fn stop(&mut self) -> Option<HookFuture<'static>> {
        Inner::stop(self)
    }
}
