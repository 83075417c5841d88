//! The producer's memory is bounded by `buffer_memory`: sending many records, each
//! `send(r).buffered().await` and then dropped, with one `flush` at the end, grows the
//! process's resident memory by at most `buffer_memory` and a fixed overhead, however many
//! records go through.
//!
//! Measured as the peak resident set size (`VmHWM`, what users see), reset after a warm-up
//! through `/proc/self/clear_refs`: a binary of its own, so that no other test's memory
//! counts. Linux only. The broker is paused (SIGSTOP) until the buffer is full, so that the
//! bound is reached whatever the speed of either side; a record refused after `max_block`
//! says that it is.

#[macro_use]
#[allow(unreachable_pub, missing_docs)]
#[path = "../../dekaf-smol/examples/common/mod.rs"]
mod common;

use common::{create_topic, unique};
use std::time::Duration;

use dekaf_smol::producer::SendError;
use dekaf_smol::{Error, Producer, ProducerRecord};
use dekaf_tests::{Broker, Build, Engine};

const MIB: usize = 1024 * 1024;

/// The producer's buffer in this test.
const BUFFER: usize = 8 * MIB;

/// What the process may grow by besides the buffer: the requests being written (a copy of
/// at most `max_request_size` per request in flight, 5) and the allocator's slack.
const FIXED: usize = 16 * MIB;

/// Records sent: with 100-byte values, some 5 times what the buffer holds.
const RECORDS: usize = 300_000;

/// Sends `signal` to process `pid`.
fn signal(signal: &str, pid: u32) {
    let status = std::process::Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(pid.to_string())
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -{signal} {pid}: {status}");
}

/// A field of `/proc/self/status`, in bytes.
fn status_bytes(field: &str) -> usize {
    let status = std::fs::read_to_string("/proc/self/status").expect("read /proc/self/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<usize>().ok())
        .map(|kb| kb * 1024)
        .unwrap_or_else(|| panic!("no {field} in /proc/self/status"))
}

#[test]
fn a_producer_sending_many_records_stays_within_its_buffer_memory() {
    if !cfg!(target_os = "linux") {
        return;
    }
    let Some(broker) = Broker::start(Build::W, Engine::Memory) else {
        return;
    };
    let addr = broker.addr().to_string();
    let pid = broker.pid();
    let result = smol::block_on(async {
        let topic = unique("memory");
        create_topic(&addr, &topic, 1).await?;
        let producer = Producer::builder()
            .bootstrap_servers(&addr)
            .buffer_memory(BUFFER)
            .max_block(Duration::from_millis(200))
            .build()
            .await?;
        let value = bytes::Bytes::from(vec![b'x'; 100]);
        // Warm up: connections, metadata, the allocator's arenas.
        for _ in 0..10_000 {
            let _ = producer
                .send(ProducerRecord::new(&topic).value(value.clone()))
                .buffered()
                .await?;
        }
        producer.flush().await?;

        // From here on, the peak counts from the current resident size.
        std::fs::write("/proc/self/clear_refs", "5")?;
        let base = status_bytes("VmRSS:");
        // A value of its own per record, as an application's would be.
        let record = || ProducerRecord::new(&topic).value(vec![b'x'; 100]);
        signal("STOP", pid);
        let mut sent = 0;
        loop {
            match producer.send(record()).buffered().await {
                Ok(_) => sent += 1,
                Err(Error::Send(SendError::BufferFull)) => break,
                Err(e) => {
                    signal("CONT", pid);
                    return Err(e.into());
                }
            }
            if sent > RECORDS {
                signal("CONT", pid);
                return Err(format!("{sent} records entered a buffer of {BUFFER} bytes").into());
            }
        }
        signal("CONT", pid);
        for _ in sent..RECORDS {
            let _ = producer.send(record()).buffered().await?;
        }
        producer.flush().await?;
        let peak = status_bytes("VmHWM:");
        producer.close().await?;
        common::Result::Ok((base, peak))
    });
    let (base, peak) = match result {
        Ok(r) => r,
        Err(e) => panic!("{e}\n--- broker log ---\n{}", broker.log()),
    };
    let grown = peak.saturating_sub(base);
    println!(
        "resident {:.1} MiB before, peak {:.1} MiB: grew {:.1} MiB for a buffer of {} MiB",
        base as f64 / MIB as f64,
        peak as f64 / MIB as f64,
        grown as f64 / MIB as f64,
        BUFFER / MIB
    );
    assert!(
        grown <= BUFFER + FIXED,
        "the producer's process grew by {:.1} MiB sending {RECORDS} records with a buffer of {} MiB \
         (allowed: the buffer and {} MiB)",
        grown as f64 / MIB as f64,
        BUFFER / MIB,
        FIXED / MIB
    );
}
