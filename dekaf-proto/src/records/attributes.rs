//! The batch `attributes` int16: compression codec, timestamp type and flags.

use std::fmt;

/// The codec that compresses a batch's records (attribute bits 0-2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Compression {
    /// Records are stored as they are.
    #[default]
    None,
    /// gzip (feature `gzip`).
    Gzip,
    /// snappy; written with Java's xerial framing, read framed or raw (feature `snappy`).
    Snappy,
    /// lz4 frame format (feature `lz4`).
    Lz4,
    /// zstd (feature `zstd`).
    Zstd,
}

impl Compression {
    /// Every codec Kafka defines, in id order.
    pub const ALL: [Compression; 5] = [
        Compression::None,
        Compression::Gzip,
        Compression::Snappy,
        Compression::Lz4,
        Compression::Zstd,
    ];

    /// The codec's id in the attribute bits.
    pub fn id(self) -> u8 {
        match self {
            Compression::None => 0,
            Compression::Gzip => 1,
            Compression::Snappy => 2,
            Compression::Lz4 => 3,
            Compression::Zstd => 4,
        }
    }

    /// The codec with this id, if Kafka defines one.
    pub fn from_id(id: u8) -> Option<Self> {
        Self::ALL.get(usize::from(id)).copied()
    }

    /// The codec's name as Kafka's `compression.type` spells it.
    pub fn name(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Gzip => "gzip",
            Compression::Snappy => "snappy",
            Compression::Lz4 => "lz4",
            Compression::Zstd => "zstd",
        }
    }

    /// Whether this build can compress and decompress with the codec (its cargo feature is on).
    pub fn is_enabled(self) -> bool {
        match self {
            Compression::None => true,
            Compression::Gzip => cfg!(feature = "gzip"),
            Compression::Snappy => cfg!(feature = "snappy"),
            Compression::Lz4 => cfg!(feature = "lz4"),
            Compression::Zstd => cfg!(feature = "zstd"),
        }
    }
}

impl fmt::Display for Compression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What a batch's timestamps mean (attribute bit 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum TimestampType {
    /// Set by the producer when it created each record.
    #[default]
    CreateTime,
    /// Set by the broker when it appended the batch; every record then carries the batch's
    /// `max_timestamp`.
    LogAppendTime,
}

const COMPRESSION_MASK: i16 = 0x07;
const TIMESTAMP_TYPE: i16 = 1 << 3;
const TRANSACTIONAL: i16 = 1 << 4;
const CONTROL: i16 = 1 << 5;
const DELETE_HORIZON: i16 = 1 << 6;

/// A batch's `attributes` field, bit by bit. Unknown bits are kept as they are.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct BatchAttributes(pub i16);

impl BatchAttributes {
    /// The raw codec id (bits 0-2); see [`Compression::from_id`].
    pub fn compression_id(self) -> u8 {
        (self.0 & COMPRESSION_MASK) as u8
    }

    /// The codec, if the id is one Kafka defines.
    pub fn compression(self) -> Option<Compression> {
        Compression::from_id(self.compression_id())
    }

    /// What the batch's timestamps mean.
    pub fn timestamp_type(self) -> TimestampType {
        if self.0 & TIMESTAMP_TYPE != 0 {
            TimestampType::LogAppendTime
        } else {
            TimestampType::CreateTime
        }
    }

    /// Whether the batch belongs to a transaction.
    pub fn is_transactional(self) -> bool {
        self.0 & TRANSACTIONAL != 0
    }

    /// Whether the batch holds control records (transaction markers) rather than user data.
    pub fn is_control(self) -> bool {
        self.0 & CONTROL != 0
    }

    /// Whether compaction set `base_timestamp` to the time its tombstones may be removed.
    pub fn has_delete_horizon(self) -> bool {
        self.0 & DELETE_HORIZON != 0
    }

    /// These attributes with the codec replaced.
    pub fn with_compression(self, c: Compression) -> Self {
        BatchAttributes((self.0 & !COMPRESSION_MASK) | i16::from(c.id()))
    }

    /// These attributes with the timestamp type replaced.
    pub fn with_timestamp_type(self, t: TimestampType) -> Self {
        self.with_bit(TIMESTAMP_TYPE, t == TimestampType::LogAppendTime)
    }

    /// These attributes with the transactional flag set or cleared.
    pub fn with_transactional(self, on: bool) -> Self {
        self.with_bit(TRANSACTIONAL, on)
    }

    /// These attributes with the control flag set or cleared.
    pub fn with_control(self, on: bool) -> Self {
        self.with_bit(CONTROL, on)
    }

    /// These attributes with the delete-horizon flag set or cleared.
    pub fn with_delete_horizon(self, on: bool) -> Self {
        self.with_bit(DELETE_HORIZON, on)
    }

    fn with_bit(self, bit: i16, on: bool) -> Self {
        BatchAttributes(if on { self.0 | bit } else { self.0 & !bit })
    }
}

impl fmt::Debug for BatchAttributes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BatchAttributes")
            .field("compression_id", &self.compression_id())
            .field("timestamp_type", &self.timestamp_type())
            .field("transactional", &self.is_transactional())
            .field("control", &self.is_control())
            .field("delete_horizon", &self.has_delete_horizon())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bits_are_where_kafka_puts_them() {
        let a = BatchAttributes::default()
            .with_compression(Compression::Zstd)
            .with_timestamp_type(TimestampType::LogAppendTime)
            .with_transactional(true)
            .with_control(true)
            .with_delete_horizon(true);
        assert_eq!(a.0, 0b111_1100);
        assert_eq!(a.compression(), Some(Compression::Zstd));
        let b = a.with_control(false).with_compression(Compression::Gzip);
        assert_eq!(b.0, 0b101_1001);
        assert!(!b.is_control() && b.is_transactional() && b.has_delete_horizon());
        assert_eq!(BatchAttributes(7).compression(), None);
        for c in Compression::ALL {
            assert_eq!(Compression::from_id(c.id()), Some(c));
        }
    }
}
