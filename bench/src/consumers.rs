//! The consumers measured, each run in a process of its own: the same work for each (assign
//! every partition from offset 0, no commits, stop after exactly the records asked for, check
//! offsets and count bytes on the way).

use std::time::{Duration, Instant};

/// How long one consumer may take before the run is called failed.
const DEADLINE: Duration = Duration::from_secs(120);

/// Ends this process with an error once [`DEADLINE`] has passed, so that a consumer that
/// stops receiving fails the run instead of hanging it, without a clock read per record.
pub fn watchdog() {
    std::thread::spawn(|| {
        std::thread::sleep(DEADLINE);
        eprintln!("dekaf-bench: the consumer did not finish within {DEADLINE:?}");
        std::process::exit(2);
    });
}

/// What one consumer saw.
pub struct Tally {
    pub records: u64,
    pub bytes: u64,
    /// Records whose offset was not the one after the previous record of its partition.
    pub gaps: u64,
    pub elapsed: Duration,
    /// When the first record arrived, after the start.
    pub first: Option<Duration>,
    next: Vec<i64>,
}

impl Tally {
    pub fn new(partitions: i32) -> Self {
        Tally {
            records: 0,
            bytes: 0,
            gaps: 0,
            elapsed: Duration::ZERO,
            first: None,
            next: vec![0; partitions.max(1) as usize],
        }
    }

    #[inline]
    fn see(&mut self, started: Instant, partition: i32, offset: i64, key: usize, value: usize) {
        if self.records == 0 {
            self.first = Some(started.elapsed());
        }
        self.records += 1;
        self.bytes += (key + value) as u64;
        match self.next.get_mut(partition as usize) {
            Some(next) if *next == offset => *next = offset + 1,
            Some(next) => {
                self.gaps += 1;
                *next = offset + 1;
            }
            None => self.gaps += 1,
        }
    }
}

/// How dekaf-smol's consumer hands records out in a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DekafMode {
    /// One record per `next().await` of the `Stream`.
    Stream,
    /// `recv_batch(BATCH)`.
    Batch,
}

/// The most records one `recv_batch` returns in [`DekafMode::Batch`].
pub const BATCH: usize = 1024;

/// dekaf-smol's consumer, its driver on a thread of its own (the default).
pub fn dekaf(
    addr: &str,
    topic: &str,
    partitions: i32,
    records: u64,
    mode: DekafMode,
) -> Result<Tally, String> {
    use dekaf_smol::{Consumer, TopicPartition, TopicPartitionOffset};
    use futures_lite::StreamExt;

    futures_lite::future::block_on(async {
        let mut tally = Tally::new(partitions);
        let started = Instant::now();
        let mut consumer = Consumer::builder()
            .bootstrap_servers(addr)
            .build()
            .await
            .map_err(|e| format!("build: {e}"))?;
        let tps: Vec<TopicPartition> = (0..partitions)
            .map(|p| TopicPartition::new(topic, p))
            .collect();
        consumer
            .assign(tps.clone())
            .map_err(|e| format!("assign: {e}"))?;
        for tp in tps {
            consumer
                .seek(TopicPartitionOffset::at(tp, 0))
                .map_err(|e| format!("seek: {e}"))?;
        }
        while tally.records < records {
            match mode {
                DekafMode::Stream => {
                    let record = consumer
                        .next()
                        .await
                        .ok_or("the consumer stopped")?
                        .map_err(|e| format!("recv: {e}"))?;
                    tally.see(
                        started,
                        record.partition(),
                        record.offset(),
                        record.key().map_or(0, <[u8]>::len),
                        record.value().map_or(0, <[u8]>::len),
                    );
                }
                DekafMode::Batch => {
                    let want = (records - tally.records).min(BATCH as u64) as usize;
                    let batch = consumer
                        .recv_batch(want)
                        .await
                        .map_err(|e| format!("recv_batch: {e}"))?;
                    for record in &batch {
                        tally.see(
                            started,
                            record.partition(),
                            record.offset(),
                            record.key().map_or(0, <[u8]>::len),
                            record.value().map_or(0, <[u8]>::len),
                        );
                    }
                }
            }
        }
        tally.elapsed = started.elapsed();
        drop(consumer);
        Ok(tally)
    })
}

/// librdkafka's consumer through the rdkafka crate's `BaseConsumer`, polled for one message
/// at a time; its own defaults otherwise (prefetch queue and fetch sizes), but for the
/// backoff of a full prefetch queue.
pub fn rdkafka(addr: &str, topic: &str, partitions: i32, records: u64) -> Result<Tally, String> {
    use rdkafka::config::ClientConfig;
    use rdkafka::consumer::{BaseConsumer, Consumer};
    use rdkafka::{Message, Offset, TopicPartitionList};

    let mut tally = Tally::new(partitions);
    let started = Instant::now();
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", addr)
        .set("group.id", "dekaf-bench")
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        // librdkafka waits this long (1 s by default) before fetching a partition whose
        // prefetch queue went over its thresholds, which tansu's 5.5 MB answers do at once:
        // with the default it spends much of a run waiting.
        .set("fetch.queue.backoff.ms", "0");
    // More librdkafka settings for experiments: `DEKAF_BENCH_RDKAFKA=key=value,key=value`.
    if let Ok(extra) = std::env::var("DEKAF_BENCH_RDKAFKA") {
        for kv in extra.split(',').filter(|kv| !kv.is_empty()) {
            let (key, value) = kv
                .split_once('=')
                .ok_or_else(|| format!("DEKAF_BENCH_RDKAFKA: {kv:?} is not key=value"))?;
            config.set(key, value);
        }
    }
    let consumer: BaseConsumer = config.create().map_err(|e| format!("create: {e}"))?;
    let mut tpl = TopicPartitionList::new();
    for p in 0..partitions {
        tpl.add_partition_offset(topic, p, Offset::Offset(0))
            .map_err(|e| format!("partition list: {e}"))?;
    }
    consumer.assign(&tpl).map_err(|e| format!("assign: {e}"))?;
    while tally.records < records {
        match consumer.poll(Duration::from_millis(100)) {
            None => {}
            Some(Ok(m)) => tally.see(
                started,
                m.partition(),
                m.offset(),
                m.key().map_or(0, <[u8]>::len),
                m.payload().map_or(0, <[u8]>::len),
            ),
            Some(Err(e)) => return Err(format!("poll: {e}")),
        }
    }
    tally.elapsed = started.elapsed();
    drop(consumer);
    Ok(tally)
}

/// This process's peak resident set size in bytes (`VmHWM`), 0 where it cannot be read.
pub fn peak_rss() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

/// CPU time this process used so far (user and system, all threads, those ended included),
/// to the microsecond: `/proc/self/stat` counts in 10 ms ticks, too coarse for a run of a
/// fraction of a second.
pub fn cpu_time() -> Duration {
    // SAFETY: getrusage writes one plain struct that is zeroed before.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        if libc::getrusage(libc::RUSAGE_SELF, &mut usage) != 0 {
            return Duration::ZERO;
        }
        usage
    };
    let micros = |t: libc::timeval| t.tv_sec as u64 * 1_000_000 + t.tv_usec as u64;
    Duration::from_micros(micros(usage.ru_utime) + micros(usage.ru_stime))
}
