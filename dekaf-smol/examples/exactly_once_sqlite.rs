//! Exactly once, Kafka to a database: the consumer's offsets live in the database, written in
//! the same SQLite transaction as the rows they account for. Rows and offsets are committed
//! together or not at all, so a worker killed at any moment leaves nothing half done: on
//! start (assignment) the next worker seeks to the offsets stored in the database — not to
//! Kafka's committed offsets, which it never uses — and the table holds each record exactly
//! once.
//!
//! The program is its own supervisor: it fills an input topic, starts itself again as a
//! worker and kills it with SIGKILL at a random moment, `DEKAF_KILLS` times (default 10), lets
//! a last worker finish, then checks the table.
//!
//! `DEKAF_BOOTSTRAP=127.0.0.1:9092 cargo run -p dekaf-smol --example exactly_once_sqlite`

#[macro_use]
#[path = "common/mod.rs"]
mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use common::supervisor::{self, Dice, READY};
use common::{create_topic, fill, recv_for, unique, value, Result};
use dekaf_smol::{AutoOffsetReset, Consumer, ConsumerRecord, TopicPartition, TopicPartitionOffset};
use rusqlite::{params, Connection};

/// Input partitions.
const PARTITIONS: i32 = 3;

/// Records per database transaction at most, and the time "processing" them takes: a worker
/// gets through about 100 records in the time a killed worker lives on average.
const BATCH: usize = 10;
const WORK: Duration = Duration::from_millis(10);

/// The longest a killed worker lives (a kill may land before it even started).
const MAX_LIFE: Duration = Duration::from_millis(300);

/// Records per input partition for `kills` kills: more than the killed workers get through.
fn records(kills: usize) -> i64 {
    100 + 40 * kills as i64
}

/// Runs as the supervisor, or as a worker when started by one.
pub fn main() -> std::process::ExitCode {
    if supervisor::is_worker() {
        return common::main("exactly_once_sqlite worker", worker);
    }
    common::main("exactly_once_sqlite", run)
}

/// The tables: the records, and per partition the next offset to read. No uniqueness
/// constraint on the records, so that a duplicate would show instead of failing an insert.
const SCHEMA: &str = "
    CREATE TABLE IF NOT EXISTS records (
        topic TEXT NOT NULL, partition INTEGER NOT NULL, offset INTEGER NOT NULL,
        value BLOB
    );
    CREATE TABLE IF NOT EXISTS offsets (
        topic TEXT NOT NULL, partition INTEGER NOT NULL, next_offset INTEGER NOT NULL,
        PRIMARY KEY (topic, partition)
    );
";

fn open(path: &str) -> Result<Connection> {
    let db = Connection::open(path)?;
    // WAL: a killed writer's unfinished transaction is rolled back on the next open.
    db.pragma_update(None, "journal_mode", "WAL")?;
    db.execute_batch(SCHEMA)?;
    Ok(db)
}

/// The offsets stored with the rows: where to resume each partition.
fn stored_offsets(db: &Connection, topic: &str) -> Result<BTreeMap<i32, i64>> {
    let mut query = db.prepare("SELECT partition, next_offset FROM offsets WHERE topic = ?1")?;
    let rows = query.query_map(params![topic], |row| Ok((row.get(0)?, row.get(1)?)))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// The rows of a batch and the offsets after it, in one database transaction.
fn store(db: &mut Connection, batch: &[ConsumerRecord]) -> Result {
    let tx = db.transaction()?;
    {
        let mut insert = tx.prepare_cached(
            "INSERT INTO records (topic, partition, offset, value) VALUES (?1, ?2, ?3, ?4)",
        )?;
        let mut next = tx.prepare_cached(
            "INSERT INTO offsets (topic, partition, next_offset) VALUES (?1, ?2, ?3)
             ON CONFLICT (topic, partition) DO UPDATE SET next_offset = excluded.next_offset",
        )?;
        for r in batch {
            insert.execute(params![r.topic(), r.partition(), r.offset(), r.value()])?;
            next.execute(params![r.topic(), r.partition(), r.offset() + 1])?;
        }
    }
    tx.commit()?;
    Ok(())
}

/// The worker: seek to the offsets the database holds, then per batch one database
/// transaction holding the rows and the offsets after them.
async fn worker(bootstrap: String) -> Result {
    let input = supervisor::setting("DEKAF_EO_INPUT")?;
    let mut db = open(&supervisor::setting("DEKAF_EO_DB")?)?;

    // No group id: the offsets are the database's business, Kafka commits nothing.
    let consumer = Consumer::builder()
        .bootstrap_servers(&bootstrap)
        .auto_offset_reset(AutoOffsetReset::Earliest)
        .build()
        .await?;
    let partitions: Vec<_> = (0..PARTITIONS)
        .map(|p| TopicPartition::new(input.as_str(), p))
        .collect();
    consumer.assign(partitions.clone())?;
    // On assignment: resume where the database says, whatever Kafka thinks.
    let stored = stored_offsets(&db, &input)?;
    for tp in partitions {
        match stored.get(&tp.partition()) {
            Some(&next) => consumer.seek(TopicPartitionOffset::at(tp, next))?,
            None => consumer.seek_to_beginning([tp])?,
        }
    }
    let resumed_at: Vec<i64> = (0..PARTITIONS)
        .map(|p| stored.get(&p).copied().unwrap_or(0))
        .collect();

    let mut announced = false;
    while !common::at_end(&consumer) {
        let batch = recv_for(&consumer, BATCH, Duration::from_millis(200)).await?;
        if batch.is_empty() {
            continue;
        }
        if !std::mem::replace(&mut announced, true) {
            // Tells the supervisor that work has started: the kill comes from now on.
            println!("{READY} {}: resumed at {resumed_at:?}", std::process::id());
        }
        // The work of real processing; a kill often lands here, before the rows are stored.
        smol::Timer::after(WORK).await;
        store(&mut db, &batch)?;
    }
    consumer.close().await?;
    Ok(())
}

/// Runs the example against the broker at `bootstrap`.
pub async fn run(bootstrap: String) -> Result {
    let input = unique("eo-sqlite-input");
    create_topic(&bootstrap, &input, PARTITIONS).await?;
    let kills = supervisor::kills();
    let records = records(kills);
    for p in 0..PARTITIONS {
        fill(&bootstrap, &input, p, 0, records).await?;
    }
    let dir = scratch_dir()?;
    let path = dir.join("exactly_once.db");
    let env = [
        ("DEKAF_BOOTSTRAP", bootstrap.clone()),
        ("DEKAF_EO_INPUT", input.clone()),
        ("DEKAF_EO_DB", path.to_string_lossy().into_owned()),
    ];
    println!(
        "exactly_once_sqlite: {} input records into {}; {kills} workers killed with SIGKILL at random moments, then one runs to the end",
        i64::from(PARTITIONS) * records,
        path.display()
    );
    let mut dice = Dice::new();
    let done = supervisor::kill_workers(&env, kills, MAX_LIFE, &mut dice).await?;
    supervisor::finish(&env, Duration::from_secs(120)).await?;
    println!(
        "  {} workers killed mid-way, {} finished before their kill",
        done.killed, done.finished_first
    );

    let db = open(&path.to_string_lossy())?;
    let mut query = db.prepare("SELECT partition, offset, value FROM records ORDER BY rowid")?;
    let rows = query.query_map([], |row| {
        Ok((
            row.get::<_, i32>(0)?,
            row.get::<_, i64>(1)?,
            row.get::<_, Option<Vec<u8>>>(2)?,
        ))
    })?;
    let mut per_partition: BTreeMap<i32, Vec<Row>> = BTreeMap::new();
    for row in rows {
        let (p, offset, value) = row?;
        per_partition.entry(p).or_default().push((offset, value));
    }
    for p in 0..PARTITIONS {
        let got = per_partition.remove(&p).unwrap_or_default();
        let want: Vec<_> = (0..records)
            .map(|i| (i, Some(value(p, i).into_bytes())))
            .collect();
        check!(
            got == want,
            "partition {p}: the table holds {} rows for {} records (each once, in order, expected)",
            got.len(),
            want.len()
        );
    }
    let stored = stored_offsets(&db, &input)?;
    check!(
        (0..PARTITIONS).all(|p| stored.get(&p) == Some(&records)),
        "stored offsets {stored:?}, not {records} each"
    );
    println!(
        "  the table holds each of the {} records exactly once, in order; the stored offsets are at the end",
        i64::from(PARTITIONS) * records
    );
    drop(query);
    drop(db);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// A row of the table: offset and value.
type Row = (i64, Option<Vec<u8>>);

/// A fresh directory for the database.
fn scratch_dir() -> Result<PathBuf> {
    let dir = std::env::temp_dir().join(unique("dekaf-exactly-once-sqlite"));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
