//! What every client machine shares with its driver: requests that are not yet bound to a
//! version, where they go, and how their answers come back.
//!
//! A machine never picks a protocol version itself: it hands out an [`Outgoing`] whose
//! [`ClientRequest`] knows the range of versions it can be written in and how to write each.
//! The driver, which has done the ApiVersions handshake with the destination broker, picks
//! the highest common version ([`ClientRequest::negotiate`]), builds the body
//! ([`ClientRequest::body`]), sends it, and returns the answer with the version it used
//! ([`Response`]).

mod machine;
mod request;

pub use machine::{BrokerAddress, ClientMachine};

pub use request::{
    BrokerId, ClientRequest, Destination, Outgoing, RequestFailed, RequestId, Response,
};
