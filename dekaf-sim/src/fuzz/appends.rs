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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_log_started_late_with_gaps_and_a_new_leader_keeps_offsets_and_epochs() {
        let mut log = Partition::starting_at(1, 5);
        assert_eq!((log.log_start, log.end), (5, 5));
        log.skip_offsets(3);
        assert_eq!(log.end, 8, "the gap moves the end");
        log.lead(2, 4);
        log.lead(3, 2);
        assert_eq!(log.leader_epoch, 4, "an older epoch does not take over");
        assert_eq!(log.epochs, vec![(0, 5), (4, 8)]);
        assert_eq!(log.epoch_end(0), (0, 8));
    }

    #[test]
    fn written_records_hold_their_name_and_offset_and_a_timestamp_by_offset() {
        // Plain batches of up to four records, no gaps, no compression.
        let data = [2u8, 0, 0, 0, 3, 0, 0, 0, 0, 0, 1, 0, 0];
        let mut log = Partition::starting_at(1, 2);
        write(&mut log, &mut Input::new(&data), "t-0", (1, 3));
        assert!(log.end > 2, "something was written");
        for offset in 2..log.end {
            let record = log.record_at(offset).expect("no gaps were asked for");
            assert_eq!(
                record.value.as_deref(),
                Some(format!("t-0@{offset}").as_bytes())
            );
            assert_eq!(record.key.as_deref(), Some(format!("k{offset}").as_bytes()));
            assert_eq!(record.timestamp, T0 + 10 * offset);
            assert_eq!(record.txn, crate::Txn::None);
        }
        assert_eq!(log.leader_epoch, 3, "written under the leader's epoch");
    }
}
