//! The "limit" row of the consumer benchmark: what the broker serves to a bare fetch loop on
//! one connection, with no consumer around it. One Fetch in flight (as a client that decodes
//! an answer before asking for the next one), every partition asked for at its next offset,
//! each batch CRC-checked (and decompressed, were it compressed) by dekaf-proto, its records
//! counted from the batch header, not decoded. Records below the fetch offset (a broker
//! answers from the start of the batch holding it) are not counted twice.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use dekaf_proto::correlation::decode_typed_response;
use dekaf_proto::frame::{begin_frame, end_frame};
use dekaf_proto::header::{request_header_version, RequestHeader};
use dekaf_proto::messages::fetch::{FetchPartition, FetchTopic};
use dekaf_proto::messages::FetchRequest;
use dekaf_proto::records::RecordBatches;
use dekaf_proto::{ApiKey, Message};

use crate::consumers::Tally;

/// Fetch v12: topics by name, the newest version that needs no topic ids.
const VERSION: i16 = 12;

/// The consumer's fetch settings (dekaf-smol's defaults): up to 50 MiB per answer, 1 MiB per
/// partition, 500 ms max wait.
const MAX_BYTES: i32 = 50 * 1024 * 1024;
const PARTITION_MAX_BYTES: i32 = 1024 * 1024;
const MAX_WAIT_MS: i32 = 500;

/// The largest answer accepted.
const MAX_FRAME: usize = 256 * 1024 * 1024;

/// Reads `records` records of `topic` (partitions `0..partitions`, from offset 0).
pub fn bare_fetch(addr: &str, topic: &str, partitions: i32, records: u64) -> Result<Tally, String> {
    let mut tally = Tally::new(partitions);
    let started = Instant::now();
    let mut conn = TcpStream::connect(addr).map_err(|e| format!("connect {addr}: {e}"))?;
    conn.set_nodelay(true).map_err(|e| e.to_string())?;
    let mut next: Vec<i64> = vec![0; partitions as usize];
    let mut out = BytesMut::new();
    let mut correlation_id = 0;
    while tally.records < records {
        correlation_id += 1;
        out.clear();
        let request = FetchRequest {
            max_wait_ms: MAX_WAIT_MS,
            min_bytes: 1,
            max_bytes: MAX_BYTES,
            session_epoch: -1,
            topics: vec![FetchTopic {
                topic: topic.to_string(),
                partitions: next
                    .iter()
                    .enumerate()
                    .map(|(p, &offset)| FetchPartition {
                        partition: p as i32,
                        fetch_offset: offset,
                        partition_max_bytes: PARTITION_MAX_BYTES,
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            }],
            ..Default::default()
        };
        let at = begin_frame(&mut out);
        RequestHeader {
            api_key: ApiKey::Fetch.key(),
            api_version: VERSION,
            correlation_id,
            client_id: Some("dekaf-bench-limit".into()),
            unknown_tagged_fields: Default::default(),
        }
        .encode(&mut out, request_header_version(ApiKey::Fetch, VERSION))
        .map_err(|e| format!("encode: {e}"))?;
        request
            .encode(&mut out, VERSION)
            .map_err(|e| format!("encode: {e}"))?;
        end_frame(&mut out, at);
        conn.write_all(&out).map_err(|e| format!("send: {e}"))?;
        let frame = read_frame(&mut conn)?;
        let (id, answer) = decode_typed_response::<FetchRequest>(&frame, VERSION)
            .map_err(|e| format!("decode: {e}"))?;
        if id != correlation_id {
            return Err(format!("answer {id} to request {correlation_id}"));
        }
        if !answer.error_code.is_ok() {
            return Err(format!("fetch: {}", answer.error_code));
        }
        for t in answer.responses {
            for p in t.partitions {
                if !p.error_code.is_ok() {
                    return Err(format!("partition {}: {}", p.partition_index, p.error_code));
                }
                let Some(slot) = next.get_mut(p.partition_index as usize) else {
                    return Err(format!("unasked partition {}", p.partition_index));
                };
                for batch in RecordBatches::new(p.records.unwrap_or_default()) {
                    let batch = batch.map_err(|e| format!("batch: {e}"))?;
                    let end = batch.next_offset();
                    if end <= *slot {
                        continue;
                    }
                    let skipped = (*slot - batch.base_offset()).max(0) as u64;
                    let counted = (batch.records_count() as u64).saturating_sub(skipped);
                    if tally.records == 0 && counted > 0 {
                        tally.first = Some(started.elapsed());
                    }
                    tally.records += counted;
                    *slot = end;
                }
            }
        }
    }
    tally.elapsed = started.elapsed();
    Ok(tally)
}

/// One response frame, without its length.
fn read_frame(conn: &mut TcpStream) -> Result<Bytes, String> {
    let mut len = [0u8; 4];
    conn.read_exact(&mut len)
        .map_err(|e| format!("receive: {e}"))?;
    let len = i32::from_be_bytes(len);
    let len = usize::try_from(len)
        .ok()
        .filter(|&l| l <= MAX_FRAME)
        .ok_or_else(|| format!("answer of {len} bytes"))?;
    let mut body = vec![0u8; len];
    conn.read_exact(&mut body)
        .map_err(|e| format!("receive: {e}"))?;
    Ok(Bytes::from(body))
}
