//! Sans-IO Kafka client state machines.
//!
//! Nothing here reads a clock, opens a socket or spawns a task: time arrives as a `now`
//! argument, and requests and events leave as values for a driver to carry out.
#![forbid(unsafe_code)]
#![deny(missing_docs)]
pub mod assignor;
