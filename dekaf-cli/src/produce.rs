//! `dekaf produce`: each line of standard input becomes a record.

use std::io::BufRead;

use dekaf_smol::ProducerRecord;
use serde_json::json;

use crate::cli::ProduceArgs;
use crate::progress::Progress;
use crate::{Context, Failure};

/// Runs `produce`: reads lines until standard input ends, sends each as it comes (waiting
/// only when the producer's buffer is full), then waits until every record is written.
pub async fn run(cx: &Context, args: ProduceArgs) -> Result<(), Failure> {
    let producer = cx.settings.producer().build().await?;
    producer.ready(cx.settings.ready_timeout()).await?;
    let mut progress = Progress::new("records produced");
    let stdin = std::io::stdin();
    let mut input = stdin.lock();
    let mut line = Vec::new();
    let mut sent = Ok(());
    loop {
        line.clear();
        if input.read_until(b'\n', &mut line)? == 0 {
            break;
        }
        if line.last() == Some(&b'\n') {
            line.pop();
        }
        let record = to_record(&args, &line);
        let delivery = producer.send(record);
        let outcome = if args.sync {
            delivery.await.map(drop)
        } else {
            delivery.buffered().await.map(drop)
        };
        if let Err(e) = outcome {
            sent = Err(Failure::failed(format!(
                "record {}: {e}",
                progress.count() + 1
            )));
            break;
        }
        progress.add(1);
    }
    let flushed = producer.flush().await;
    progress.finish();
    let closed = producer.close().await;
    sent?;
    flushed?;
    closed?;
    if cx.json {
        cx.print_json(&json!({"topic": args.topic, "records": progress.count()}))?;
    }
    Ok(())
}

/// The record a line of input makes: split into key and value at the first separator when
/// there is one.
fn to_record(args: &ProduceArgs, line: &[u8]) -> ProducerRecord {
    let mut record = ProducerRecord::new(args.topic.as_str());
    let split = args
        .key_separator
        .as_deref()
        .filter(|s| !s.is_empty())
        .and_then(|sep| find(line, sep.as_bytes()).map(|at| (at, sep.len())));
    record = match split {
        Some((at, len)) => record
            .key(line[..at].to_vec())
            .value(line[at + len..].to_vec()),
        None => record.value(line.to_vec()),
    };
    if let Some(p) = args.partition {
        record = record.partition(p);
    }
    for (k, v) in &args.header {
        record = record.header(k.as_str(), v.clone().into_bytes());
    }
    record
}

/// Where `needle` first occurs in `haystack`.
fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_separator_splits_at_its_first_occurrence() {
        assert_eq!(find(b"k:v:w", b":"), Some(1));
        assert_eq!(find(b"key::value", b"::"), Some(3));
        assert_eq!(find(b"no separator", b":"), None);
        assert_eq!(find(b"", b":"), None);
    }
}
