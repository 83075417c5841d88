//! The consumer as a member of its group: subscribing, and running the rebalance hooks on the
//! application's task.
//!
//! The machine reports rebalances as events; the driver (or the application's task, before
//! it takes records) queues a hook per event. The hooks run one at a time, in order, inside
//! `recv` and its siblings: a hook's future is kept in the shared state between polls, so a
//! `recv` that is dropped half-way leaves it for the next one. After an `on_revoked` returns
//! the machine hears `rebalance_done` (unless more revocations are queued): only then does
//! it finish the revocation (Auto mode commits) and let the member rejoin. Records are taken
//! only when no hook is due, under the same lock as the check, so that a revocation is never
//! confirmed by taking records before its hook ran.

use std::task::{Context, Poll};
use std::time::Instant;

use dekaf_state::group::{GroupMetadata, MemberState};
use dekaf_state::offset::TopicPartition;

use super::machine::{HookState, Inner, Shared};
use super::rebalance::HookKind;
use super::Consumer;
use crate::Error;

/// Whether the consumer holds a subscription (its partitions come from the group).
pub(crate) fn is_subscribed(inner: &Inner) -> bool {
    inner
        .consumer
        .group()
        .is_some_and(|g| g.subscription().is_some())
}

impl Consumer {
    /// Joins the group (the builder's `group_id`) with a subscription to `topics`, replacing
    /// any earlier subscription. Partitions arrive once the group has settled, and move
    /// between members as they come and go; the [`RebalanceListener`](super::RebalanceListener)
    /// hears each change. An empty list unsubscribes.
    ///
    /// Fails with [`Error::Subscribe`] without a group id and with [`Error::Usage`] while
    /// partitions are assigned by hand.
    pub fn subscribe<I, S>(&self, topics: I) -> Result<(), Error>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let topics: Vec<String> = topics.into_iter().map(Into::into).collect();
        self.subscribe_with(|inner, now| inner.consumer.subscribe(now, topics))
    }

    /// Joins the group with a subscription to every topic whose whole name matches `pattern`
    /// (`regex-lite` syntax, e.g. `orders-.*`; internal topics never match). Topics created
    /// later join the subscription when metadata is next refreshed
    /// ([`metadata_max_age`](super::ConsumerBuilder::metadata_max_age)), and the group
    /// rebalances.
    pub fn subscribe_pattern(&self, pattern: &str) -> Result<(), Error> {
        self.subscribe_with(|inner, now| inner.consumer.subscribe_pattern(now, pattern))
    }

    fn subscribe_with(
        &self,
        f: impl FnOnce(&mut Inner, Instant) -> Result<(), dekaf_state::consumer::SubscribeError>,
    ) -> Result<(), Error> {
        {
            let mut inner = self.lock_running()?;
            if !is_subscribed(&inner) && !inner.consumer.assignment().is_empty() {
                return Err(Error::Usage(
                    "subscribe while partitions are assigned by hand: assign none first",
                ));
            }
            f(&mut inner, Instant::now())?;
        }
        self.nudge();
        Ok(())
    }

    /// Gives the subscription up: [`on_revoked`](super::RebalanceListener::on_revoked) runs
    /// for the partitions held (now, before this returns), Auto mode commits them, and the
    /// member leaves the group. The consumer can subscribe or assign again afterwards.
    pub async fn unsubscribe(&self) -> Result<(), Error> {
        {
            let mut inner = self.lock_running()?;
            inner.consumer.unsubscribe(Instant::now());
        }
        self.nudge();
        futures_lite::future::poll_fn(|cx| self.poll_hooks(cx)).await
    }

    /// Group id, generation, member id and group instance id, as a transactional producer
    /// sends them with the consumed offsets; `None` until the consumer subscribed. The
    /// generation is -1 while the member is not in one.
    pub fn group_metadata(&self) -> Option<GroupMetadata> {
        self.shared.lock().consumer.group_metadata()
    }

    /// Where this member is in its group: joining, syncing, stable in a generation, leaving;
    /// `None` until the consumer subscribed.
    ///
    /// A group has settled when every member is [`Stable`](MemberState::Stable) in the same
    /// generation ([`group_metadata`](Self::group_metadata)) and holds what the assignor
    /// gives it there. An assignment of the expected size alone does not show that: a member
    /// may already be rejoining. A cooperative rebalance that moves partitions takes two
    /// generations (the first revokes, the second assigns).
    pub fn member_state(&self) -> Option<MemberState> {
        self.shared.lock().consumer.member_state()
    }

    /// Runs the rebalance hooks due, one at a time; ready when none is left.
    pub(crate) fn poll_hooks(&self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        loop {
            let mut inner = self.shared.lock();
            if inner.stopped || inner.consumer.is_closed() {
                return Poll::Ready(Ok(()));
            }
            inner.drain_events();
            let (mut future, kind) = match std::mem::replace(&mut inner.hook, HookState::Idle) {
                HookState::Running(thread) => {
                    inner.hook = HookState::Running(thread);
                    if thread == std::thread::current().id() {
                        // Only the hook itself can ask while its own poll is under way.
                        return Poll::Ready(Err(Error::Usage(
                            "records cannot be received inside a rebalance hook",
                        )));
                    }
                    inner.wait_for_records(cx.waker());
                    return Poll::Pending;
                }
                HookState::Parked { future, kind } => (future, kind),
                HookState::Idle => match inner.rebalances.pop_front() {
                    None => return Poll::Ready(Ok(())),
                    Some((kind, partitions)) => {
                        tracing::debug!(?kind, ?partitions, "rebalance hook");
                        let listener = self.listener.clone();
                        let consumer = self.alias();
                        let future: super::rebalance::HookFuture<'static> = Box::pin(async move {
                            listener.call(&consumer, kind, &partitions).await;
                        });
                        (future, kind)
                    }
                },
            };
            inner.hook = HookState::Running(std::thread::current().id());
            drop(inner);
            let unwinding = ResetOnUnwind(&self.shared);
            let poll = future.as_mut().poll(cx);
            std::mem::forget(unwinding);
            let mut inner = self.shared.lock();
            match poll {
                Poll::Pending => {
                    if inner.stopped {
                        inner.hook = HookState::Idle;
                    } else {
                        inner.hook = HookState::Parked { future, kind };
                    }
                    // Another task may have to take the hook over if this one goes away.
                    inner.wake_readers();
                    return Poll::Pending;
                }
                Poll::Ready(()) => {
                    inner.hook = HookState::Idle;
                    if kind == HookKind::Revoked {
                        inner.drain_events();
                        let more = inner
                            .rebalances
                            .iter()
                            .any(|(k, _)| *k == HookKind::Revoked);
                        if !more {
                            // Asking for records (or unsubscribing) says the application is
                            // done with what it received: Auto mode commits it with the
                            // revocation, so the next owner does not read it again.
                            let now = Instant::now();
                            inner.consumer.release(now);
                            inner.consumer.rebalance_done(now);
                        }
                    }
                    inner.wake_readers();
                    drop(inner);
                    self.nudge();
                }
            }
        }
    }

    /// Before closing: the hooks still due, then the revocation (or loss) of what is held.
    pub(crate) async fn close_hooks(&self) {
        if futures_lite::future::poll_fn(|cx| self.poll_hooks(cx))
            .await
            .is_err()
        {
            return;
        }
        let due = {
            let inner = self.shared.lock();
            if inner.stopped || inner.consumer.is_closed() || !is_subscribed(&inner) {
                return;
            }
            let revoking = inner.consumer.revoking();
            let held: Vec<TopicPartition> = inner
                .consumer
                .assignment()
                .into_iter()
                .filter(|tp| !revoking.contains(tp))
                .collect();
            let stable = inner.consumer.group().is_some_and(|g| g.is_stable());
            let kind = if stable {
                HookKind::Revoked
            } else {
                HookKind::Lost
            };
            (!held.is_empty()).then_some((kind, held))
        };
        if let Some((kind, partitions)) = due {
            self.listener.call(self, kind, &partitions).await;
        }
    }
}

/// Puts the hook state back to idle if polling a hook panics (the hook is lost with it).
struct ResetOnUnwind<'a>(&'a Shared);

impl Drop for ResetOnUnwind<'_> {
    fn drop(&mut self) {
        self.0.lock().hook = HookState::Idle;
    }
}
