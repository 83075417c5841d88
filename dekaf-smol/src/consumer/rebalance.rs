//! Rebalance hooks: what the application runs when its group gives it partitions or takes
//! them away.

use std::future::Future;
use std::pin::Pin;

use dekaf_state::offset::TopicPartition;

use super::Consumer;

/// The application's part in a rebalance of its group (Java's `ConsumerRebalanceListener`).
///
/// Give one to [`ConsumerBuilder::rebalance_listener`](super::ConsumerBuilder::rebalance_listener).
/// Its hooks run on the application's task, inside [`Consumer::recv`],
/// [`recv_batch`](Consumer::recv_batch) and the record stream (and in
/// [`unsubscribe`](Consumer::unsubscribe) and [`close`](Consumer::close)), before any record
/// is handed out after the change; none runs while the application is not asking for records.
/// Each hook gets the consumer, so that it can `commit().await`, `commit_offsets`, `seek`,
/// look up `committed` offsets or a `position`, and the partitions concerned. Every method
/// has a default that does nothing; implement those you need, as `async fn`s:
///
/// ```no_run
/// use dekaf_smol::{Consumer, OffsetCommitMode, RebalanceListener, TopicPartition};
///
/// /// Manual mode: commits what was processed before partitions go to another member.
/// struct CommitOnRevoke;
///
/// impl RebalanceListener for CommitOnRevoke {
///     async fn on_revoked(&self, consumer: &Consumer, partitions: &[TopicPartition]) {
///         if let Err(e) = consumer.commit().await {
///             eprintln!("commit before giving up {partitions:?} failed: {e}");
///         }
///     }
/// }
///
/// # async fn example() -> Result<(), dekaf_smol::Error> {
/// let consumer = Consumer::builder()
///     .bootstrap_servers("localhost:9092")
///     .group_id("my-group")
///     .offset_commit_mode(OffsetCommitMode::Manual)
///     .rebalance_listener(CommitOnRevoke)
///     .build()
///     .await?;
/// consumer.subscribe(["my-topic"])?;
/// # Ok(()) }
/// ```
///
/// Order and guarantees:
/// - [`on_revoked`](Self::on_revoked) runs while the partitions are still assigned (no
///   record of them is handed out any more) and before the member rejoins its group: until
///   it returns, nobody else can own them. A commit made in it is what the next owner starts
///   from. When it returns, Auto mode commits what was processed of them, then the member
///   goes on with the rebalance. Auto mode commits so without any listener too.
/// - [`on_lost`](Self::on_lost) runs for partitions taken away without that chance (the
///   member's session or generation expired, it exceeded the max poll interval, a revocation
///   was not finished within the rebalance timeout): another member may own them already,
///   so nothing of them is committed and a commit of them would be refused.
/// - [`on_assigned`](Self::on_assigned) runs after each rebalance, with the partitions added
///   (possibly none). They are assigned already: their committed offsets are being looked
///   up, and a `seek` here (to offsets kept elsewhere, say) decides where reading starts.
///
/// Should the group take partitions away while `on_revoked` still runs for them (it did not
/// return within the rebalance timeout), they are lost: `on_lost` follows, a commit of them is
/// refused, and the member rejoins without waiting for the hook.
///
/// A hook must not receive records itself (`recv` fails with [`Error::Usage`](crate::Error)
/// there). A hook that takes longer than the max poll interval makes the member leave the
/// group, as a slow application would.
///
/// For hooks that need no `.await`, a closure taking the consumer and a [`Rebalance`] is a
/// listener too:
///
/// ```no_run
/// use dekaf_smol::{Consumer, Rebalance};
///
/// # async fn example() -> Result<(), dekaf_smol::Error> {
/// let consumer = Consumer::builder()
///     .bootstrap_servers("localhost:9092")
///     .group_id("my-group")
///     .rebalance_listener(|_: &Consumer, change: Rebalance<'_>| println!("{change:?}"))
///     .build()
///     .await?;
/// # Ok(()) }
/// ```
pub trait RebalanceListener: Send + Sync + 'static {
    /// `partitions` were added to the consumer's assignment (possibly none: this runs after
    /// every rebalance). Reading starts at their committed offsets unless the hook seeks.
    fn on_assigned(
        &self,
        consumer: &Consumer,
        partitions: &[TopicPartition],
    ) -> impl Future<Output = ()> + Send {
        let _ = (consumer, partitions);
        async {}
    }

    /// `partitions` are being taken away: commit what must be committed now. Not called when
    /// there are none.
    fn on_revoked(
        &self,
        consumer: &Consumer,
        partitions: &[TopicPartition],
    ) -> impl Future<Output = ()> + Send {
        let _ = (consumer, partitions);
        async {}
    }

    /// `partitions` were taken away without a chance to commit; another member may own them
    /// already. Not called when there are none.
    fn on_lost(
        &self,
        consumer: &Consumer,
        partitions: &[TopicPartition],
    ) -> impl Future<Output = ()> + Send {
        let _ = (consumer, partitions);
        async {}
    }
}

/// The listener of a consumer given none: every hook does nothing (Auto mode still commits
/// what was processed of revoked partitions).
#[derive(Clone, Copy, Debug, Default)]
pub struct NoopListener;

impl RebalanceListener for NoopListener {}

/// A change of the consumer's assignment, as a closure listener receives it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Rebalance<'a> {
    /// See [`RebalanceListener::on_assigned`].
    Assigned(&'a [TopicPartition]),
    /// See [`RebalanceListener::on_revoked`].
    Revoked(&'a [TopicPartition]),
    /// See [`RebalanceListener::on_lost`].
    Lost(&'a [TopicPartition]),
}

impl Rebalance<'_> {
    /// The partitions concerned.
    pub fn partitions(&self) -> &[TopicPartition] {
        match self {
            Rebalance::Assigned(p) | Rebalance::Revoked(p) | Rebalance::Lost(p) => p,
        }
    }
}

/// A closure is a listener whose hooks run at once, without awaiting anything.
impl<F> RebalanceListener for F
where
    F: Fn(&Consumer, Rebalance<'_>) + Send + Sync + 'static,
{
    fn on_assigned(
        &self,
        consumer: &Consumer,
        partitions: &[TopicPartition],
    ) -> impl Future<Output = ()> + Send {
        self(consumer, Rebalance::Assigned(partitions));
        async {}
    }

    fn on_revoked(
        &self,
        consumer: &Consumer,
        partitions: &[TopicPartition],
    ) -> impl Future<Output = ()> + Send {
        self(consumer, Rebalance::Revoked(partitions));
        async {}
    }

    fn on_lost(
        &self,
        consumer: &Consumer,
        partitions: &[TopicPartition],
    ) -> impl Future<Output = ()> + Send {
        self(consumer, Rebalance::Lost(partitions));
        async {}
    }
}

/// Which hook.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum HookKind {
    Assigned,
    Revoked,
    Lost,
}

/// A hook's future, boxed so that the consumer can keep it between polls.
pub(crate) type HookFuture<'a> = Pin<Box<dyn Future<Output = ()> + Send + 'a>>;

/// [`RebalanceListener`] behind a pointer.
pub(crate) trait DynListener: Send + Sync {
    fn call<'a>(
        &'a self,
        consumer: &'a Consumer,
        kind: HookKind,
        partitions: &'a [TopicPartition],
    ) -> HookFuture<'a>;
}

impl<L: RebalanceListener> DynListener for L {
    fn call<'a>(
        &'a self,
        consumer: &'a Consumer,
        kind: HookKind,
        partitions: &'a [TopicPartition],
    ) -> HookFuture<'a> {
        match kind {
            HookKind::Assigned => Box::pin(self.on_assigned(consumer, partitions)),
            HookKind::Revoked => Box::pin(self.on_revoked(consumer, partitions)),
            HookKind::Lost => Box::pin(self.on_lost(consumer, partitions)),
        }
    }
}
