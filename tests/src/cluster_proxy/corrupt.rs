//! Damage to answers on their way to the client, on command and seeded: bytes flipped inside
//! record batches (where the batch CRC must catch them) or anywhere, frames cut short, a
//! connection closed mid-frame, length prefixes that lie.

use bytes::{Bytes, BytesMut};
use dekaf_proto::header::{response_header_version, ResponseHeader};
use dekaf_proto::messages::FetchResponse;
use dekaf_proto::wire::Reader;
use dekaf_proto::{ApiKey, Message};

use crate::rng::Rng;

/// One way to damage an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Damage {
    /// Flips one byte of a record batch in a Fetch answer, inside the part its CRC covers
    /// (attributes to the last record): a client must notice and fetch again. Only Fetch
    /// answers that carry records can take it.
    FlipRecordByte,
    /// Flips one to three bytes anywhere after the length prefix: the answer may no longer
    /// decode, or decode into other values (no Kafka client can tell those apart).
    FlipAnyByte,
    /// Cuts the body short and makes the length prefix match: the body no longer decodes.
    Truncate,
    /// Writes part of the frame, then closes the connection.
    CutConnection,
    /// A length prefix that does not match the frame: a little longer (the client reads the
    /// next answer's bytes into this one, or waits), enormous, or negative.
    LieInLength,
}

impl Damage {
    /// Every kind of damage.
    pub const ALL: [Damage; 5] = [
        Damage::FlipRecordByte,
        Damage::FlipAnyByte,
        Damage::Truncate,
        Damage::CutConnection,
        Damage::LieInLength,
    ];

    /// The damage a careful client can always tell from a good answer: CRC-covered record
    /// bytes, and frames that no longer decode.
    pub const DETECTABLE: [Damage; 4] = [
        Damage::FlipRecordByte,
        Damage::Truncate,
        Damage::CutConnection,
        Damage::LieInLength,
    ];

    /// A short name for reports.
    pub fn name(self) -> &'static str {
        match self {
            Damage::FlipRecordByte => "flip record byte",
            Damage::FlipAnyByte => "flip any byte",
            Damage::Truncate => "truncate",
            Damage::CutConnection => "cut connection",
            Damage::LieInLength => "lie in length",
        }
    }
}

/// How often and how answers are damaged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Corruption {
    /// The share of answers damaged, in thousandths (10 = 1%).
    pub per_mille: u32,
    /// The kinds to choose from; an answer gets one of those it can take.
    pub damages: Vec<Damage>,
    /// The share of Fetch answers carrying records that get `FlipRecordByte` (in
    /// thousandths), before any other damage is considered: the CRC check is exercised
    /// even when such answers are few.
    pub record_per_mille: u32,
}

impl Corruption {
    /// `per_mille` thousandths of the answers get one of `damages`.
    pub fn new(per_mille: u32, damages: &[Damage]) -> Corruption {
        Corruption {
            per_mille,
            damages: damages.to_vec(),
            record_per_mille: per_mille,
        }
    }

    /// Fetch answers with records are damaged at `per_mille` instead.
    pub fn with_record_rate(mut self, per_mille: u32) -> Corruption {
        self.record_per_mille = per_mille;
        self
    }
}

/// What the connection writes.
#[derive(Debug)]
pub(crate) enum Written {
    /// These bytes, and the connection goes on.
    Bytes(Bytes),
    /// These bytes, then the connection is closed.
    ThenClose(Bytes),
}

/// Maybe damages `frame` (length prefix included), the answer to a request of `api` at
/// `version` (when known); says which damage it did.
pub(crate) fn damage(
    rng: &mut Rng,
    corruption: &Corruption,
    api: Option<(ApiKey, i16)>,
    frame: Bytes,
) -> (Option<Damage>, Written) {
    // Fetch answers with records first, at their own rate (the dice before the decoding, so
    // that big answers are decoded only when they are to be damaged).
    if let Some((ApiKey::Fetch, version)) = api {
        if corruption.damages.contains(&Damage::FlipRecordByte)
            && rng.chance(corruption.record_per_mille)
        {
            if let Some((header_end, spans)) = record_spans(&frame, version) {
                if let Some(&(start, end)) = rng.pick(&spans) {
                    let mut bytes = BytesMut::from(&frame[..]);
                    let at = header_end + start + rng.index(end - start);
                    flip(rng, &mut bytes, at);
                    return (Some(Damage::FlipRecordByte), Written::Bytes(bytes.freeze()));
                }
            }
        }
    }
    if !rng.chance(corruption.per_mille) {
        return (None, Written::Bytes(frame));
    }
    let others: Vec<Damage> = corruption
        .damages
        .iter()
        .copied()
        .filter(|d| *d != Damage::FlipRecordByte)
        .collect();
    let Some(&damage) = rng.pick(&others) else {
        return (None, Written::Bytes(frame));
    };
    let mut bytes = BytesMut::from(&frame[..]);
    let written = match damage {
        Damage::FlipRecordByte | Damage::FlipAnyByte => {
            for _ in 0..rng.between(1, 3) {
                let at = 4 + rng.index(bytes.len().saturating_sub(4));
                flip(rng, &mut bytes, at);
            }
            Written::Bytes(bytes.freeze())
        }
        Damage::Truncate => {
            let body = bytes.len().saturating_sub(4);
            let keep = rng.index(body.max(1));
            bytes.truncate(4 + keep);
            bytes[..4].copy_from_slice(&(keep as i32).to_be_bytes());
            Written::Bytes(bytes.freeze())
        }
        Damage::CutConnection => {
            let keep = rng.index(bytes.len().max(1));
            bytes.truncate(keep);
            Written::ThenClose(bytes.freeze())
        }
        Damage::LieInLength => {
            let real = bytes.len().saturating_sub(4) as i32;
            let lie = match rng.below(3) {
                0 => real.saturating_add(rng.between(1, 64) as i32),
                1 => i32::MAX - rng.below(1000) as i32,
                _ => -(rng.between(1, 1000) as i32),
            };
            bytes[..4].copy_from_slice(&lie.to_be_bytes());
            Written::Bytes(bytes.freeze())
        }
    };
    (Some(damage), written)
}

fn flip(rng: &mut Rng, bytes: &mut BytesMut, at: usize) {
    if let Some(b) = bytes.get_mut(at) {
        *b ^= rng.between(1, 255) as u8;
    }
}

/// Where the CRC-covered parts of the record batches of a Fetch answer are: the offset of
/// the body in the frame, and spans relative to it. `None` when there are none.
fn record_spans(frame: &Bytes, version: i16) -> Option<(usize, Vec<(usize, usize)>)> {
    let inner = frame.slice(4.min(frame.len())..);
    let mut r = Reader::new(&inner);
    ResponseHeader::decode(&mut r, response_header_version(ApiKey::Fetch, version)).ok()?;
    let header_end = 4 + r.offset();
    let body = inner.slice(r.offset()..);
    let answer = FetchResponse::decode_exact(&body, version).ok()?;
    // Records are slices of `body`: find each partition's bytes in it by address.
    let base = body.as_ptr() as usize;
    let mut spans = Vec::new();
    for topic in &answer.responses {
        for p in &topic.partitions {
            let Some(records) = p.records.as_ref().filter(|r| !r.is_empty()) else {
                continue;
            };
            let start = (records.as_ptr() as usize).checked_sub(base)?;
            for (from, to) in batch_crc_spans(records) {
                spans.push((start + from, start + to));
            }
        }
    }
    (!spans.is_empty()).then_some((header_end, spans))
}

/// The CRC-covered span (attributes to the end) of each whole batch in `records`.
fn batch_crc_spans(records: &[u8]) -> Vec<(usize, usize)> {
    // base offset (8), batch length (4), leader epoch (4), magic (1), CRC (4), then the
    // covered part.
    const COVERED_FROM: usize = 21;
    let mut out = Vec::new();
    let mut at = 0usize;
    while let Some(len) = records.get(at + 8..at + 12) {
        let len = i32::from_be_bytes([len[0], len[1], len[2], len[3]]);
        let Ok(len) = usize::try_from(len) else { break };
        let end = at + 12 + len;
        if end > records.len() {
            break;
        }
        if end > at + COVERED_FROM {
            out.push((at + COVERED_FROM, end));
        }
        at = end;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_crc_covered_span_of_each_whole_batch_is_found() {
        let mut records = Vec::new();
        for len in [40i32, 30] {
            let mut batch = vec![0u8; 12 + len as usize];
            batch[8..12].copy_from_slice(&len.to_be_bytes());
            records.extend(batch);
        }
        // A partial batch at the end (as fetch answers may carry) is left alone.
        records.extend([0u8; 12]);
        records[100..104].copy_from_slice(&50i32.to_be_bytes());
        assert_eq!(batch_crc_spans(&records), [(21, 52), (73, 94)]);
    }

    #[test]
    fn no_damage_at_a_zero_rate() {
        let mut rng = Rng::new(1);
        let corruption = Corruption::new(0, &Damage::ALL).with_record_rate(0);
        let frame = Bytes::from_static(&[0, 0, 0, 2, 1, 2]);
        for _ in 0..100 {
            let (damage, written) = damage(&mut rng, &corruption, None, frame.clone());
            assert_eq!(damage, None);
            assert!(matches!(written, Written::Bytes(b) if b == frame));
        }
    }

    #[test]
    fn a_truncated_frame_has_a_length_prefix_that_matches() {
        let mut rng = Rng::new(3);
        let corruption = Corruption::new(1000, &[Damage::Truncate]);
        let frame = Bytes::from_static(&[0, 0, 0, 6, 1, 2, 3, 4, 5, 6]);
        let (damage, written) = damage(&mut rng, &corruption, None, frame);
        assert_eq!(damage, Some(Damage::Truncate));
        let Written::Bytes(b) = written else {
            panic!("a truncated frame closes nothing")
        };
        let len = i32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize;
        assert_eq!(len, b.len() - 4);
        assert!(len < 6);
    }
}
