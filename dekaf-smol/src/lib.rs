//! A Kafka client on smol, driving the `dekaf-state` machines over real sockets.
#![forbid(unsafe_code)]
#![deny(missing_docs)]
