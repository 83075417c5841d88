//! Tests of the offset machine through its public API, in virtual time.

mod commit;
mod delivery;
mod guide;
mod harness;
mod model;
mod seek;
mod start;
