//! What producers write to the fuzzed cluster's partition logs while consumers read, as the
//! input chooses: plain and transactional batches, commit and abort markers, compressed
//! batches, headers, and gaps as compaction leaves them.

use bytes::Bytes;
use dekaf_proto::records::{Compression, ControlKind, OwnedHeader};

use crate::log::Partition;
use crate::T0;
use dekaf_state::fuzz::Input;

/// The transactional producers that write to the logs.
const PRODUCERS: [i64; 2] = [7, 8];

/// Producers write up to three batches to `log` (of partition `name`), under `leader` in
/// leader epoch `epoch`. Record `o` has key `k{o}`, value `{name}@{o}` and timestamp
/// `T0 + 10 * o`.
pub(crate) fn write(log: &mut Partition, input: &mut Input<'_>, name: &str, leader: (i32, i32)) {
    log.lead(leader.0, leader.1);
    for _ in 0..=input.below(3) {
        write_batch(log, input, name);
    }
}

fn write_batch(log: &mut Partition, input: &mut Input<'_>, name: &str) {
    let kind = input.byte();
    if kind >= 240 && log.end < i64::MAX - 8 {
        // A gap, as compaction leaves.
        log.skip_offsets(i64::from(input.byte() % 4) + 1);
    }
    let base = log.end;
    let ts = T0.saturating_add(base.saturating_mul(10));
    let pid = *input.pick(&PRODUCERS).unwrap_or(&7);
    if (208..240).contains(&kind) && log.has_open_transaction(pid) {
        let kind = if input.bool() {
            ControlKind::Commit
        } else {
            ControlKind::Abort
        };
        log.write_marker(pid, 0, kind, ts, false);
        return;
    }
    let transactional = (160..240).contains(&kind);
    let codec = if input.chance(16) {
        *input.pick(&Compression::ALL).unwrap_or(&Compression::None)
    } else {
        Compression::None
    };
    let count = 1 + input.below(4);
    let records = (0..count)
        .map(|i| {
            let offset = base.saturating_add(i as i64);
            let headers = if input.chance(32) {
                vec![OwnedHeader::new("h", Some(Bytes::from_static(b"v")))]
            } else {
                Vec::new()
            };
            (
                ts.saturating_add(10 * i as i64),
                Some(Bytes::from(format!("k{offset}"))),
                Some(Bytes::from(format!("{name}@{offset}"))),
                headers,
            )
        })
        .collect();
    log.append_batch(records, codec, transactional.then_some(pid));
}
