//! Shared helpers for dekaf's cross-crate tests: the differential check against
//! `kafka-protocol`, a real broker with a small blocking client ([`broker`]) and the requests
//! tests send it most ([`ops`]), a blocking driver for any client machine ([`blocking`]), a
//! recording machine run by the dekaf-smol driver ([`driver`]), a recording proxy to put in
//! front of a broker ([`proxy`]), an independent SASL server in front of one
//! ([`sasl_front`]), a proxy that makes one broker look like a cluster and injects faults
//! ([`cluster_proxy`]) and workloads run under its faults ([`faults`]), brokers scripted
//! request by request ([`scripted`]), and a dekaf-smol group member on a task of its own
//! ([`smol_member`]). The simulated cluster the simulations run on is the `dekaf-sim` crate.

pub mod blocking;
pub mod broker;
pub mod cluster_proxy;
pub mod driver;
pub mod faults;
pub mod librdkafka;
pub mod logging;
pub mod ops;
pub mod proxy;
pub mod ready;
pub mod rng;
pub mod sasl_front;
pub mod scripted;
pub mod smol_member;
pub mod tls;

pub use broker::{Broker, Build, CallError, Client, Engine};
pub use logging::init_logging;

use bytes::{Bytes, BytesMut};
use dekaf_proto::arbitrary::Arbitrary;
use dekaf_proto::Message;
use kafka_protocol::protocol::{Decodable, Encodable};
use proptest::test_runner::{Config, TestCaseError, TestRunner};

/// Runs the differential check for every version in `versions`.
pub fn differential<M, K>(versions: std::ops::RangeInclusive<i16>, cases: u32)
where
    M: Message + Arbitrary,
    K: Encodable + Decodable,
{
    for version in versions {
        let mut runner = TestRunner::new(Config {
            cases,
            failure_persistence: None,
            ..Config::default()
        });
        let result = runner.run(&M::arbitrary(M::SPEC.cx(version)), |m| {
            let ours = m
                .to_bytes(version)
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            let mut src = ours.clone();
            let theirs = K::decode(&mut src, version).map_err(|e| {
                TestCaseError::fail(format!("kafka-protocol cannot read ours: {e}"))
            })?;
            let mut again = BytesMut::new();
            theirs
                .encode(&mut again, version)
                .map_err(|e| TestCaseError::fail(format!("kafka-protocol cannot write: {e}")))?;
            let again: Bytes = again.freeze();
            proptest::prop_assert_eq!(&again, &ours);
            let back =
                M::decode_exact(&again, version).map_err(|e| TestCaseError::fail(e.to_string()))?;
            proptest::prop_assert_eq!(back, m);
            Ok(())
        });
        if let Err(e) = result {
            panic!("{} v{version}: {e}", M::SPEC.api_key.name());
        }
    }
}

/// Our default value, written in `version`, must read back in kafka-protocol as its default
/// value, and re-encode to the same bytes. The random values of [`differential`] almost never
/// hit a default, yet defaults decide whether a tagged field is written at all.
pub fn defaults_agree<M, K>(versions: std::ops::RangeInclusive<i16>)
where
    M: Message,
    K: Encodable + Decodable + Default + PartialEq + std::fmt::Debug,
{
    for version in versions {
        let ours = M::default().to_bytes(version).unwrap();
        let theirs = K::decode(&mut ours.clone(), version).unwrap();
        assert_eq!(
            theirs,
            K::default(),
            "{} v{version}",
            M::SPEC.api_key.name()
        );
        let mut again = BytesMut::new();
        theirs.encode(&mut again, version).unwrap();
        assert_eq!(
            again.freeze(),
            ours,
            "{} v{version}",
            M::SPEC.api_key.name()
        );
    }
}
