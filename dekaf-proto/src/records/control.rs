//! Control records: the transaction markers (commit, abort) of control batches.
//!
//! A control record's key is an int16 version and an int16 type; a transaction marker's value
//! is an int16 version and the int32 epoch of the transaction coordinator that wrote it.
//! KRaft also writes control records of other types (leader change, snapshot markers); they are
//! not transaction markers and are skipped here.

use bytes::Bytes;

use super::owned::OwnedRecord;
use super::record::Record;
use crate::error::{DecodeError, DecodeErrorKind};

/// Control record type of an abort marker.
const ABORT: i16 = 0;
/// Control record type of a commit marker.
const COMMIT: i16 = 1;

/// How a transaction ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ControlKind {
    /// The transaction was aborted: consumers reading committed data drop its records.
    Abort,
    /// The transaction was committed.
    Commit,
}

/// A transaction marker, the one record of a transactional control batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ControlRecord {
    /// Commit or abort.
    pub kind: ControlKind,
    /// Epoch of the transaction coordinator that wrote the marker.
    pub coordinator_epoch: i32,
}

impl ControlRecord {
    /// Reads a control batch's record: `Ok(None)` for a control record that is not a
    /// transaction marker, an error if the key or value is malformed.
    pub fn from_record(record: &Record<'_>) -> Result<Option<Self>, DecodeError> {
        Self::from_parts(record.key(), record.value())
    }

    /// Reads a control record from its key and value (see [`ControlRecord::from_record`]).
    pub fn from_parts(
        key: Option<&[u8]>,
        value: Option<&[u8]>,
    ) -> Result<Option<Self>, DecodeError> {
        let Some([kv0, kv1, kt0, kt1, ..]) = key else {
            return Err(short("ControlRecord.key", key, 4));
        };
        check_version(
            "ControlRecord.key.version",
            i16::from_be_bytes([*kv0, *kv1]),
        )?;
        let kind = match i16::from_be_bytes([*kt0, *kt1]) {
            ABORT => ControlKind::Abort,
            COMMIT => ControlKind::Commit,
            _ => return Ok(None),
        };
        let Some([vv0, vv1, e0, e1, e2, e3, ..]) = value else {
            return Err(short("ControlRecord.value", value, 6));
        };
        check_version(
            "ControlRecord.value.version",
            i16::from_be_bytes([*vv0, *vv1]),
        )?;
        Ok(Some(ControlRecord {
            kind,
            coordinator_epoch: i32::from_be_bytes([*e0, *e1, *e2, *e3]),
        }))
    }

    /// The record key: version 0 and the marker's type.
    pub fn key(&self) -> Bytes {
        let kind = match self.kind {
            ControlKind::Abort => ABORT,
            ControlKind::Commit => COMMIT,
        };
        let mut key = [0u8; 4];
        key[2..].copy_from_slice(&kind.to_be_bytes());
        Bytes::copy_from_slice(&key)
    }

    /// The record value: version 0 and the coordinator epoch.
    pub fn value(&self) -> Bytes {
        let mut value = [0u8; 6];
        value[2..].copy_from_slice(&self.coordinator_epoch.to_be_bytes());
        Bytes::copy_from_slice(&value)
    }

    /// The marker as the single record of a control batch.
    pub fn to_record(&self) -> OwnedRecord {
        OwnedRecord {
            key: Some(self.key()),
            value: Some(self.value()),
            ..OwnedRecord::default()
        }
    }
}

/// The error for a missing or too short key or value (`needed` is its minimum length).
fn short(what: &'static str, got: Option<&[u8]>, needed: usize) -> DecodeError {
    match got {
        None => DecodeError::new(what, 0, DecodeErrorKind::UnexpectedNull),
        Some(b) => DecodeError::new(
            what,
            b.len(),
            DecodeErrorKind::UnexpectedEnd {
                needed: needed.saturating_sub(b.len()),
            },
        ),
    }
}

/// Negative versions are invalid; newer ones keep version 0's leading fields, as Java reads
/// them.
fn check_version(what: &'static str, version: i16) -> Result<(), DecodeError> {
    if version < 0 {
        return Err(DecodeError::new(
            what,
            0,
            DecodeErrorKind::InvalidValue(i64::from(version)),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_round_trip_and_others_are_skipped() {
        for kind in [ControlKind::Abort, ControlKind::Commit] {
            let m = ControlRecord {
                kind,
                coordinator_epoch: -7,
            };
            let back = ControlRecord::from_parts(Some(&m.key()), Some(&m.value())).unwrap();
            assert_eq!(back, Some(m));
        }
        // A leader-change record (type 2) is not a transaction marker.
        assert_eq!(
            ControlRecord::from_parts(Some(&[0, 0, 0, 2]), Some(&[9])).unwrap(),
            None
        );
        // A newer version with extra bytes still reads.
        let m = ControlRecord::from_parts(Some(&[0, 1, 0, 1, 9]), Some(&[0, 3, 0, 0, 0, 5, 1]));
        assert_eq!(m.unwrap().unwrap().coordinator_epoch, 5);
    }

    #[test]
    fn malformed_markers_are_errors() {
        assert!(ControlRecord::from_parts(None, Some(&[0; 6])).is_err());
        assert!(ControlRecord::from_parts(Some(&[0, 0, 0]), Some(&[0; 6])).is_err());
        assert!(ControlRecord::from_parts(Some(&[0xff, 0xff, 0, 0]), Some(&[0; 6])).is_err());
        assert!(ControlRecord::from_parts(Some(&[0, 0, 0, 1]), None).is_err());
        assert!(ControlRecord::from_parts(Some(&[0, 0, 0, 1]), Some(&[0; 5])).is_err());
        assert!(
            ControlRecord::from_parts(Some(&[0, 0, 0, 1]), Some(&[0x80, 0, 0, 0, 0, 0])).is_err()
        );
    }
}
