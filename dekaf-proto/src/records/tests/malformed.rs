//! Bad input gives typed errors and never a panic or an oversized allocation.

use bytes::Bytes;
use proptest::prelude::*;

use super::*;
use crate::error::DecodeErrorKind;

fn decode(bytes: Vec<u8>) -> Result<RecordBatch, crate::DecodeError> {
    RecordBatch::decode(&Bytes::from(bytes))
}

/// Reads every record; the first error, if any.
fn read_all(batch: &RecordBatch) -> Result<usize, crate::DecodeError> {
    batch.records().try_fold(0, |n, r| r.map(|_| n + 1))
}

#[test]
fn crc_mismatch_is_reported() {
    for codec in enabled_codecs() {
        let mut bytes = simple_batch(2, codec).to_vec();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        let e = decode(bytes).unwrap_err();
        assert!(matches!(e.kind, DecodeErrorKind::CrcMismatch { .. }), "{e}");
        assert_eq!(e.offset, 17);
    }
    // The leader epoch is outside the CRC: brokers rewrite it.
    let mut bytes = simple_batch(2, Compression::None).to_vec();
    bytes[12] ^= 0xff;
    assert!(decode(bytes).is_ok());
}

#[test]
fn truncated_batches_are_errors_alone_and_partial_in_a_blob() {
    let bytes = simple_batch(3, Compression::None);
    for n in 0..bytes.len() {
        let cut = bytes.slice(..n);
        assert!(RecordBatch::decode(&cut).is_err(), "{n}");
        assert!(RecordBatches::new(cut).next().is_none(), "{n}");
    }
    let e = RecordBatch::decode(&bytes.slice(..40)).unwrap_err();
    assert!(matches!(e.kind, DecodeErrorKind::UnexpectedEnd { .. }));
}

#[test]
fn trailing_bytes_after_one_batch_are_an_error() {
    let mut bytes = simple_batch(1, Compression::None).to_vec();
    bytes.push(0);
    let e = decode(bytes).unwrap_err();
    assert_eq!(e.kind, DecodeErrorKind::TrailingBytes(1));
}

#[test]
fn other_magic_and_short_lengths_are_errors() {
    let mut bytes = simple_batch(1, Compression::None).to_vec();
    bytes[16] = 1;
    assert_eq!(
        decode(bytes.clone()).unwrap_err().kind,
        DecodeErrorKind::UnsupportedMagic(1)
    );
    let e = RecordBatches::new(Bytes::from(bytes))
        .next()
        .unwrap()
        .unwrap_err();
    assert_eq!(e.kind, DecodeErrorKind::UnsupportedMagic(1));

    let mut bytes = simple_batch(1, Compression::None).to_vec();
    bytes[8..12].copy_from_slice(&48i32.to_be_bytes());
    let e = RecordBatches::new(Bytes::from(bytes))
        .next()
        .unwrap()
        .unwrap_err();
    assert!(matches!(
        e.kind,
        DecodeErrorKind::InvalidLength { length: 48, .. }
    ));
}

#[test]
fn unknown_codec_is_unsupported() {
    let mut bytes = simple_batch(1, Compression::None).to_vec();
    bytes[22] |= 5;
    reseal(&mut bytes);
    assert_eq!(
        decode(bytes).unwrap_err().kind,
        DecodeErrorKind::UnsupportedCompression(5)
    );
}

#[test]
fn lying_record_counts_are_errors() {
    let count_at = 57;
    let set_count = |n: i32| {
        let mut bytes = simple_batch(3, Compression::None).to_vec();
        bytes[count_at..count_at + 4].copy_from_slice(&n.to_be_bytes());
        reseal(&mut bytes);
        decode(bytes)
    };
    let e = read_all(&set_count(4).unwrap()).unwrap_err();
    assert!(
        matches!(e.kind, DecodeErrorKind::UnexpectedEnd { .. }),
        "{e}"
    );
    let e = read_all(&set_count(2).unwrap()).unwrap_err();
    assert!(matches!(e.kind, DecodeErrorKind::TrailingBytes(_)), "{e}");
    let e = set_count(-1).unwrap_err();
    assert_eq!(e.kind, DecodeErrorKind::InvalidValue(-1));
    assert_eq!(
        read_all(&set_count(i32::MAX).unwrap()).map_err(|e| e.what),
        Err("Record.length")
    );
}

#[test]
fn lying_record_lengths_are_errors() {
    // First record's length varint sits right after the header.
    for delta in [-2i8, -1, 1, 2, 60] {
        let mut bytes = simple_batch(2, Compression::None).to_vec();
        bytes[61] = (bytes[61] as i8).wrapping_add(delta * 2) as u8;
        reseal(&mut bytes);
        let batch = decode(bytes).unwrap();
        assert!(read_all(&batch).is_err(), "{delta}");
    }
}

#[test]
fn decompression_is_bounded() {
    let big = Bytes::from(vec![0u8; 8 << 20]);
    for codec in enabled_codecs() {
        if codec == Compression::None {
            continue;
        }
        let mut b = RecordBatchBuilder::new().compression(codec);
        b.append(0, None, Some(big.clone()), vec![]);
        let bytes = b.build().unwrap();
        assert!(bytes.len() < 1 << 20, "{codec}: {} bytes", bytes.len());
        let small = DecodeOptions::default().with_max_decompressed_size(1 << 20);
        let e = RecordBatch::decode_with(&bytes, &small).unwrap_err();
        assert!(
            matches!(e.kind, DecodeErrorKind::Decompression(_)),
            "{codec}: {e}"
        );
        assert_eq!(e.offset, 61);
        let batch = RecordBatch::decode(&bytes).unwrap();
        assert_eq!(read_all(&batch).unwrap(), 1);
    }
}

#[test]
fn garbage_compressed_payload_is_an_error() {
    for codec in enabled_codecs() {
        if codec == Compression::None {
            continue;
        }
        let mut bytes = simple_batch(2, codec).to_vec();
        for b in &mut bytes[61..] {
            *b = b.wrapping_mul(31).wrapping_add(7);
        }
        reseal(&mut bytes);
        if let Ok(batch) = decode(bytes) {
            // Snappy's raw fallback may accept some garbage; the records must not.
            assert!(read_all(&batch).is_err(), "{codec}");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        crate::fuzz_record_batches(&bytes);
        let _ = decode(bytes);
    }

    #[test]
    fn mutated_batches_never_panic(
        spec in spec(),
        edits in proptest::collection::vec((any::<proptest::sample::Index>(), any::<u8>()), 1..6),
        seal: bool,
    ) {
        let mut bytes = spec.builder().build().unwrap().to_vec();
        for (at, value) in edits {
            let i = at.index(bytes.len());
            bytes[i] = value;
        }
        // Fix the CRC half of the time, so that the record parser sees the damage.
        if seal {
            reseal(&mut bytes);
        }
        crate::fuzz_record_batches(&bytes);
        if let Ok(batch) = decode(bytes) {
            let _ = read_all(&batch);
        }
    }
}
