//! Producer settings, with the Java client's defaults where it has the same setting.

use std::time::Duration;

use dekaf_proto::records::Compression;

use crate::offset::Backoff;

/// How many replicas must have a batch before the leader answers (`acks`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Acks {
    /// The broker sends no answer: records are reported delivered once handed to the driver,
    /// without an offset. Needs idempotence off.
    None,
    /// The leader wrote the batch. Needs idempotence off.
    Leader,
    /// Every in-sync replica has the batch (the default; needed by idempotence).
    #[default]
    All,
}

impl Acks {
    /// The value of the Produce request's `acks` field.
    pub fn wire(self) -> i16 {
        match self {
            Acks::None => 0,
            Acks::Leader => 1,
            Acks::All => -1,
        }
    }
}

/// How a [`Producer`](super::Producer) batches, retries and identifies itself.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct ProducerConfig {
    /// Acknowledgements asked of the broker (`acks`, default all).
    pub acks: Acks,
    /// Codec of every batch (`compression.type`, default none).
    pub compression: Compression,
    /// How long a batch waits for more records before it is sent (`linger.ms`, default 5 ms).
    pub linger: Duration,
    /// A batch is sent once its records take this many bytes (`batch.size`, default 1 MiB,
    /// as librdkafka's: Java's 16 KiB makes a request, a sequence number and an answer per
    /// 16 KiB, and the producer several times slower); a larger record gets a batch of its
    /// own. A batch's memory grows with its records, up to this size.
    pub batch_size: usize,
    /// Largest Produce request, and so largest record, in bytes (`max.request.size`, default
    /// 1 MiB).
    pub max_request_size: usize,
    /// Bytes of records the producer holds (`buffer.memory`, default 16 MiB: sixteen full
    /// batches, more than five requests in flight keep busy; Java's 32 MiB only doubles the
    /// memory). The records' bytes and the producer's own per-record bookkeeping live in it
    /// (each record counts its largest encoded size, which covers both). When they are
    /// taken, [`send`](super::Producer::send) refuses a record and
    /// [`send_waiting`](super::Producer::send_waiting) makes it wait, at most `max_block`.
    /// A record alone in an empty buffer always gets in, whatever its size.
    pub buffer_memory: usize,
    /// How long a record given to [`send_waiting`](super::Producer::send_waiting) may wait
    /// for room in the buffer before it is refused (`max.block.ms`, default 60 s).
    pub max_block: Duration,
    /// How long a record may take from `send` to its outcome, retries included
    /// (`delivery.timeout.ms`, default 120 s).
    pub delivery_timeout: Duration,
    /// How long the broker may wait for replicas before it answers a Produce (the request's
    /// `timeout_ms`; the Java client uses `request.timeout.ms`, default 30 s).
    pub produce_timeout: Duration,
    /// Delays between retries (`retry.backoff.ms` and `retry.backoff.max.ms`).
    pub backoff: Backoff,
    /// Produce requests awaiting their answers per broker
    /// (`max.in.flight.requests.per.connection`, default 5; at most 5 with idempotence).
    pub max_in_flight: usize,
    /// Whether batches carry a producer id and sequence numbers so that retries never write
    /// a batch twice or out of order (`enable.idempotence`, default on; needs `acks` all).
    pub enable_idempotence: bool,
    /// Makes the producer transactional under this id (`transactional.id`; needs
    /// idempotence).
    pub transactional_id: Option<String>,
    /// How long a transaction may stay open before the coordinator aborts it
    /// (`transaction.timeout.ms`, default 60 s).
    pub transaction_timeout: Duration,
    /// Whether a Metadata request may create a topic the producer writes to, if the broker
    /// allows it (`allow.auto.create.topics`, default on).
    pub allow_auto_topic_creation: bool,
    /// Metadata is refreshed at least this often (`metadata.max.age.ms`, default 5 min).
    pub metadata_max_age: Duration,
    /// Chooses the partitions of records sent without one (`partitioner.class`); `None`
    /// (the default) is Java's murmur2 of the key, sticky for records without a key.
    pub partitioner: Option<super::CustomPartitioner>,
}

impl Default for ProducerConfig {
    fn default() -> Self {
        ProducerConfig {
            acks: Acks::All,
            compression: Compression::None,
            linger: Duration::from_millis(5),
            batch_size: 1024 * 1024,
            max_request_size: 1024 * 1024,
            buffer_memory: 16 * 1024 * 1024,
            max_block: Duration::from_secs(60),
            delivery_timeout: Duration::from_secs(120),
            produce_timeout: Duration::from_secs(30),
            backoff: Backoff::default(),
            max_in_flight: 5,
            enable_idempotence: true,
            transactional_id: None,
            transaction_timeout: Duration::from_secs(60),
            allow_auto_topic_creation: true,
            metadata_max_age: Duration::from_secs(300),
            partitioner: None,
        }
    }
}

/// Settings that cannot work together; the producer was not created.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// Idempotence needs `acks` all: a batch acknowledged by the leader alone may be lost
    /// and its sequence numbers with it.
    #[error("idempotence needs acks = all (turn idempotence off to use acks 0 or 1)")]
    IdempotenceNeedsAcksAll,
    /// The broker keeps the sequence numbers of the last 5 batches only.
    #[error("idempotence allows at most 5 requests in flight per broker, not {0}")]
    TooManyInFlight(usize),
    /// At least one request must be allowed in flight.
    #[error("max_in_flight must be at least 1")]
    NoInFlight,
    /// Transactions are built on idempotence.
    #[error("a transactional id needs idempotence on")]
    TransactionsNeedIdempotence,
    /// The transactional id is empty.
    #[error("the transactional id is empty")]
    EmptyTransactionalId,
    /// A size or duration is zero (or too large for the wire) where that cannot work.
    #[error("{0} is out of range")]
    OutOfRange(&'static str),
}

impl ProducerConfig {
    /// Default settings with this transactional id (idempotence and `acks` all included).
    pub fn transactional(transactional_id: impl Into<String>) -> Self {
        ProducerConfig {
            transactional_id: Some(transactional_id.into()),
            ..ProducerConfig::default()
        }
    }

    /// Sets `acks`; `Acks::None` and `Acks::Leader` need idempotence off.
    pub fn acks(mut self, acks: Acks) -> Self {
        self.acks = acks;
        self
    }

    /// Turns idempotence on or off.
    pub fn idempotence(mut self, on: bool) -> Self {
        self.enable_idempotence = on;
        self
    }

    /// Sets the codec.
    pub fn compression(mut self, codec: Compression) -> Self {
        self.compression = codec;
        self
    }

    /// Sets how long a batch waits for more records.
    pub fn linger(mut self, linger: Duration) -> Self {
        self.linger = linger;
        self
    }

    /// Sets the batch size in bytes.
    pub fn batch_size(mut self, bytes: usize) -> Self {
        self.batch_size = bytes;
        self
    }

    /// Sets the bytes of records the producer holds.
    pub fn buffer_memory(mut self, bytes: usize) -> Self {
        self.buffer_memory = bytes;
        self
    }

    /// Sets how long a record may wait for room in the buffer.
    pub fn max_block(mut self, max_block: Duration) -> Self {
        self.max_block = max_block;
        self
    }

    /// Sets the delivery timeout.
    pub fn delivery_timeout(mut self, timeout: Duration) -> Self {
        self.delivery_timeout = timeout;
        self
    }

    /// Sets the retry backoff.
    pub fn backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }

    /// Chooses the partitions of records sent without one with `partitioner`.
    pub fn partitioner(mut self, partitioner: impl super::Partitioner) -> Self {
        self.partitioner = Some(super::CustomPartitioner::new(partitioner));
        self
    }

    /// Sets how many Produce requests may await answers per broker.
    pub fn max_in_flight(mut self, max: usize) -> Self {
        self.max_in_flight = max;
        self
    }

    /// Checks that the settings work together.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.max_in_flight == 0 {
            return Err(ConfigError::NoInFlight);
        }
        if self.enable_idempotence {
            if self.acks != Acks::All {
                return Err(ConfigError::IdempotenceNeedsAcksAll);
            }
            if self.max_in_flight > 5 {
                return Err(ConfigError::TooManyInFlight(self.max_in_flight));
            }
        }
        match &self.transactional_id {
            Some(id) if id.is_empty() => return Err(ConfigError::EmptyTransactionalId),
            Some(_) if !self.enable_idempotence => {
                return Err(ConfigError::TransactionsNeedIdempotence)
            }
            _ => {}
        }
        if self.batch_size == 0 {
            return Err(ConfigError::OutOfRange("batch_size"));
        }
        if self.max_request_size == 0 || i32::try_from(self.max_request_size).is_err() {
            return Err(ConfigError::OutOfRange("max_request_size"));
        }
        if self.delivery_timeout.is_zero() {
            return Err(ConfigError::OutOfRange("delivery_timeout"));
        }
        if self.max_block.is_zero() {
            return Err(ConfigError::OutOfRange("max_block"));
        }
        let ms = |d: Duration| i32::try_from(d.as_millis()).is_ok();
        if !ms(self.produce_timeout) {
            return Err(ConfigError::OutOfRange("produce_timeout"));
        }
        if self.transaction_timeout.is_zero() || !ms(self.transaction_timeout) {
            return Err(ConfigError::OutOfRange("transaction_timeout"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_conflicts_are_named() {
        assert_eq!(ProducerConfig::default().validate(), Ok(()));
        assert_eq!(ProducerConfig::transactional("tx").validate(), Ok(()));
        assert_eq!(
            ProducerConfig::default().acks(Acks::Leader).validate(),
            Err(ConfigError::IdempotenceNeedsAcksAll)
        );
        assert_eq!(
            ProducerConfig::default()
                .acks(Acks::None)
                .idempotence(false)
                .validate(),
            Ok(())
        );
        assert_eq!(
            ProducerConfig::default().max_in_flight(6).validate(),
            Err(ConfigError::TooManyInFlight(6))
        );
        assert_eq!(
            ProducerConfig::transactional("tx")
                .idempotence(false)
                .validate(),
            Err(ConfigError::TransactionsNeedIdempotence)
        );
        assert_eq!(
            ProducerConfig::transactional("").validate(),
            Err(ConfigError::EmptyTransactionalId)
        );
    }
}
