//! A consumer to be killed: Manual mode, it processes records of partition 0 of a topic in
//! order, commits once after `COMMIT_AFTER` records, keeps processing up to `TOTAL` records
//! without committing again, says so on stdout, and waits forever for its `kill -9`.
//!
//! `crash_consumer BOOTSTRAP TOPIC GROUP COMMIT_AFTER TOTAL`
//!
//! Stdout, one line each: `processed OFFSET`, `committed OFFSET`, then `idle`.

use std::io::Write;
use std::process::ExitCode;

use dekaf_smol::{AutoOffsetReset, Consumer, OffsetCommitMode, TopicPartition};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [bootstrap, topic, group, commit_after, total] = args.as_slice() else {
        eprintln!("usage: crash_consumer BOOTSTRAP TOPIC GROUP COMMIT_AFTER TOTAL");
        return ExitCode::FAILURE;
    };
    let (Ok(commit_after), Ok(total)) = (commit_after.parse::<i64>(), total.parse::<i64>()) else {
        eprintln!("COMMIT_AFTER and TOTAL are numbers");
        return ExitCode::FAILURE;
    };
    let result = smol::block_on(async {
        let consumer = Consumer::builder()
            .bootstrap_servers(bootstrap)
            .group_id(group)
            .offset_commit_mode(OffsetCommitMode::Manual)
            .auto_offset_reset(AutoOffsetReset::Earliest)
            .build()
            .await?;
        consumer.assign([TopicPartition::new(topic.as_str(), 0)])?;
        let mut out = std::io::stdout();
        for _ in 0..total {
            let record = consumer.recv().await?;
            // "Processing" is telling the test, which keeps the record.
            writeln!(out, "processed {}", record.offset())?;
            out.flush()?;
            if record.offset() + 1 == commit_after {
                consumer.commit().await?;
                writeln!(out, "committed {commit_after}")?;
                out.flush()?;
            }
        }
        writeln!(out, "idle")?;
        out.flush()?;
        futures_lite::future::pending::<()>().await;
        Ok::<(), Box<dyn std::error::Error>>(())
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("crash_consumer: {e}");
            ExitCode::FAILURE
        }
    }
}
