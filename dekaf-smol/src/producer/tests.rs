//! A full buffer without a broker: the producer's machine is driven by hand (delivery
//! timeouts free the buffer), and no driver runs, so that every wake-up is the machine's.

use std::future::{Future, IntoFuture};
use std::pin::pin;
use std::time::{Duration, Instant};

use dekaf_state::client::ClientMachine;
use dekaf_state::producer::{Producer as StateProducer, ProducerConfig};
use futures_lite::future::{block_on, poll_once};

use super::machine::{Inner, Machine, Shared};
use super::*;
use crate::{Config, Driver};

/// A producer whose buffer holds two records of 64 value bytes, not three, whose records
/// time out after `delivery` and wait for room at most `max_block`; and the driver it would
/// run on (kept, never run).
fn small_producer(delivery: Duration, max_block: Duration) -> (Producer, Driver<Machine>) {
    let config = ProducerConfig::default()
        .buffer_memory(250)
        .delivery_timeout(delivery)
        .max_block(max_block);
    let shared = Shared::new(
        Inner::new(StateProducer::new(config, 1).expect("valid settings")),
        Vec::new(),
    );
    let connection = Config {
        bootstrap_servers: vec!["127.0.0.1:1".into()],
        ..Config::default()
    };
    let (driver, handle) =
        Driver::new(connection, crate::glue::Machine(shared.clone())).expect("valid");
    let (_done, stopped) = async_channel::bounded(1);
    let producer = Producer {
        shared,
        handle,
        stopped,
        max_block,
    };
    (producer, driver)
}

fn record() -> ProducerRecord {
    ProducerRecord::new("t").value(vec![b'x'; 64])
}

/// What the driver does after a timer fired `after` from now.
fn time_passes(producer: &Producer, after: Duration) {
    let mut inner = producer.shared.lock();
    inner.producer.handle_timeout(Instant::now() + after);
    inner.drain_after_step();
}

fn is_pending<F: Future>(f: std::pin::Pin<&mut F>) -> bool {
    block_on(poll_once(f)).is_none()
}

#[test]
fn a_waiting_record_is_buffered_once_outcomes_free_room() {
    let (producer, _driver) = small_producer(Duration::from_secs(1), Duration::from_secs(60));
    // The topic is unknown (no broker): the first two stay in the buffer until they time out.
    let first = producer.send(record());
    let second = producer.send(record()).buffered();
    let mut third = pin!(producer.send(record()).buffered());
    let mut fourth = pin!(producer.send(record()).into_future());
    let second = block_on(second).expect("room for two");
    assert!(is_pending(third.as_mut()), "no room for the third yet");
    assert!(is_pending(fourth.as_mut()));
    assert_eq!(producer.shared.lock().producer.waiting_records(), 2);

    // The first two time out: the waiting records get in, in send order, and the futures
    // waiting for them are woken by that event alone.
    time_passes(&producer, Duration::from_secs(2));
    let third = block_on(third).expect("room once the first two failed");
    assert!(is_pending(fourth.as_mut()), "in the buffer, no outcome yet");
    assert_eq!(producer.shared.lock().producer.waiting_records(), 0);
    for d in [first, second] {
        let e = block_on(d.into_future()).unwrap_err();
        assert!(
            matches!(
                e,
                Error::Delivery {
                    error: DeliveryError::TimedOut { .. },
                    ..
                }
            ),
            "{e:?}"
        );
    }
    time_passes(&producer, Duration::from_secs(4));
    assert!(block_on(third.into_future()).is_err());
    assert!(block_on(fourth).is_err());
}

#[test]
fn a_record_without_room_within_max_block_fails_with_buffer_full() {
    let (producer, _driver) = small_producer(Duration::from_secs(600), Duration::from_secs(5));
    let _held = [producer.send(record()), producer.send(record())];
    let mut waiting = pin!(producer.send(record()).buffered());
    let mut awaited = pin!(producer.send(record()).into_future());
    assert!(is_pending(waiting.as_mut()) && is_pending(awaited.as_mut()));
    time_passes(&producer, Duration::from_secs(4));
    assert!(is_pending(waiting.as_mut()) && is_pending(awaited.as_mut()));
    time_passes(&producer, Duration::from_secs(6));
    for result in [block_on(waiting).map(|_| ()), block_on(awaited).map(|_| ())] {
        let e = result.unwrap_err();
        assert!(matches!(e, Error::Send(SendError::BufferFull)), "{e:?}");
        assert!(e.is_retriable() && !e.is_fatal());
    }
}

#[test]
fn a_delivery_dropped_while_waiting_cancels_its_record_and_flush_reports_it() {
    let (producer, _driver) = small_producer(Duration::from_secs(1), Duration::from_secs(60));
    let held = [producer.send(record()), producer.send(record())];
    // Fire and forget into a full buffer: nothing piles up, every record is cancelled.
    for _ in 0..1_000 {
        let _ = producer.send(record());
    }
    {
        let inner = producer.shared.lock();
        assert_eq!(inner.producer.waiting_records(), 0);
        assert_eq!(inner.producer.pending_records(), 2);
    }
    // A record behind a cancelled one still gets in once room frees.
    let later = producer.send(record());
    let mut flush = pin!(producer.flush());
    assert!(is_pending(flush.as_mut()));
    drop(block_on(async {
        let mut buffered = pin!(later.buffered());
        assert!(is_pending(buffered.as_mut()));
        time_passes(&producer, Duration::from_secs(2));
        buffered.await
    }));
    time_passes(&producer, Duration::from_secs(4));
    let flushed = block_on(flush);
    assert!(
        matches!(flushed, Err(Error::Send(SendError::BufferFull))),
        "{flushed:?}"
    );
    drop(held);
    let mut again = pin!(producer.flush());
    assert!(is_pending(again.as_mut()), "the driver reports it");
    producer.shared.lock().drain_after_step();
    let again = block_on(again);
    assert!(
        matches!(
            again,
            Err(Error::Delivery {
                error: DeliveryError::TimedOut { .. },
                ..
            })
        ),
        "the records later dropped with their failures: {again:?}"
    );
}
