//! Multi-member tests of the group machine: real `GroupMembership` and `OffsetManager`
//! machines, composed as a consumer composes them, against an in-memory coordinator that
//! follows Kafka's classic rules, in virtual time.

mod prop;
mod scenarios;
mod sim;
