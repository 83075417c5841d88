//! Writes the records the consumers read, with dekaf-smol's producer: big batches, sent
//! without waiting for each, then flushed.

use dekaf_smol::{Admin, NewTopic, Producer, ProducerRecord};

/// Records sent between two flushes (bounds what waits in the producer's queue).
const WINDOW: u64 = 100_000;

/// Creates `topic` with `partitions`.
pub fn create_topic(addr: &str, topic: &str, partitions: i32) -> Result<(), String> {
    futures_lite::future::block_on(async {
        let admin = Admin::connect(addr)
            .await
            .map_err(|e| format!("admin: {e}"))?;
        admin
            .create_topic(NewTopic::new(topic, partitions))
            .await
            .map_err(|e| format!("create topic {topic}: {e}"))
    })
}

/// Creates `topic` with `partitions` and writes `records` values of `value_bytes` each, spread
/// evenly over the partitions.
pub fn fill(
    addr: &str,
    topic: &str,
    partitions: i32,
    records: u64,
    value_bytes: usize,
) -> Result<(), String> {
    futures_lite::future::block_on(async {
        let admin = Admin::connect(addr)
            .await
            .map_err(|e| format!("admin: {e}"))?;
        admin
            .create_topic(NewTopic::new(topic, partitions))
            .await
            .map_err(|e| format!("create topic: {e}"))?;
        let producer = Producer::builder()
            .bootstrap_servers(addr)
            .batch_size(1024 * 1024)
            .max_request_size(8 * 1024 * 1024)
            .build()
            .await
            .map_err(|e| format!("producer: {e}"))?;
        let value: &'static [u8] = vec![b'x'; value_bytes].leak();
        let mut sent = 0;
        while sent < records {
            let end = (sent + WINDOW).min(records);
            for i in sent..end {
                let partition = (i % partitions as u64) as i32;
                let record = ProducerRecord::new(topic).partition(partition).value(value);
                // Sent whether or not its outcome is awaited; the flush below waits for all.
                drop(producer.send(record));
            }
            producer.flush().await.map_err(|e| format!("flush: {e}"))?;
            sent = end;
        }
        producer.close().await.map_err(|e| format!("close: {e}"))
    })
}
