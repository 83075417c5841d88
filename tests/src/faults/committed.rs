//! A group's committed offsets, sampled straight at the broker all along a run: they must
//! never go back, nor past a bound (what the group handed out, or the end of the input).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use async_channel::Sender;
use dekaf_smol::{Consumer, TopicPartition};

use super::within;

/// What the observer saw.
#[derive(Debug, Default)]
pub(crate) struct Observed {
    /// The last committed offset seen per partition.
    pub(crate) last: BTreeMap<TopicPartition, i64>,
    pub(crate) samples: u64,
    pub(crate) violations: Vec<String>,
    /// The partitions with a violation.
    pub(crate) troubled: BTreeSet<TopicPartition>,
    /// Per partition, every change seen: when (seconds since `started`) and the offset.
    pub(crate) seen: BTreeMap<TopicPartition, Vec<String>>,
}

/// The highest offset a partition may have committed at the moment it is asked.
pub(crate) type Bound = Box<dyn Fn(&TopicPartition) -> i64 + Send>;

/// A running observer.
pub(crate) struct Observer {
    stop: Sender<()>,
    task: smol::Task<Consumer>,
    observed: Arc<Mutex<Observed>>,
}

impl Observer {
    /// Samples the committed offsets of `tps` in `group` at `bootstrap` every 250 ms; times
    /// in its reports count from `started`.
    pub(crate) async fn start(
        bootstrap: &str,
        group: &str,
        tps: Vec<TopicPartition>,
        bound: Bound,
        started: Instant,
    ) -> Result<Observer, String> {
        let consumer = Consumer::builder()
            .bootstrap_servers(bootstrap)
            .group_id(group)
            .build()
            .await
            .map_err(|e| format!("observer: {e}"))?;
        let observed = Arc::new(Mutex::new(Observed::default()));
        let (stop, stopped) = async_channel::bounded::<()>(1);
        let o = observed.clone();
        let task = smol::spawn(async move {
            while stopped.try_recv().is_err() {
                let sample = within(
                    Duration::from_secs(10),
                    consumer.committed_many(tps.clone()),
                );
                if let Some(Ok(committed)) = sample.await {
                    let at = started.elapsed().as_secs_f64();
                    let mut o = o.lock().unwrap_or_else(|e| e.into_inner());
                    o.samples += 1;
                    for (tp, c) in committed {
                        let Some(offset) = c.map(|c| c.offset) else {
                            continue;
                        };
                        let before = o.last.get(&tp).copied().unwrap_or(-1);
                        if offset != before {
                            o.seen
                                .entry(tp.clone())
                                .or_default()
                                .push(format!("{at:7.3}s {offset}"));
                        }
                        if offset < before {
                            o.violations.push(format!(
                                "{tp}: committed offset went back from {before} to {offset} \
                                 (seen at {at:.3}s)"
                            ));
                            o.troubled.insert(tp.clone());
                        }
                        // Asked after the sample: the bound can only have grown since.
                        let most = bound(&tp);
                        if offset > most {
                            o.violations.push(format!(
                                "{tp}: committed {offset}, past {most} (seen at {at:.3}s)"
                            ));
                            o.troubled.insert(tp.clone());
                        }
                        o.last.insert(tp, offset);
                    }
                }
                smol::Timer::after(Duration::from_millis(250)).await;
            }
            consumer
        });
        Ok(Observer {
            stop,
            task,
            observed,
        })
    }

    /// What was seen so far.
    pub(crate) fn observed(&self) -> MutexGuard<'_, Observed> {
        self.observed.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Stops sampling, closes the consumer, and returns what was seen.
    pub(crate) async fn stop(self) -> Observed {
        let _ = self.stop.try_send(());
        if let Some(consumer) = within(Duration::from_secs(30), self.task).await {
            let _ = within(Duration::from_secs(30), consumer.close()).await;
        }
        let mut o = self.observed.lock().unwrap_or_else(|e| e.into_inner());
        std::mem::take(&mut *o)
    }
}
