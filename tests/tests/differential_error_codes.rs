//! dekaf's error-code table against the `kafka-protocol` crate's `ResponseError`: every code
//! must carry the same name (kafka-protocol spells it in CamelCase) and, except where Kafka's
//! Java client says otherwise, the same retriable flag.

use dekaf_proto::ErrorCode;
use kafka_protocol::ResponseError;

/// Codes whose retriable flag kafka-protocol 0.18 gets wrong, checked against Kafka's Java
/// source (`Errors.java` and the exception classes), which wins.
///
/// - 51 CONCURRENT_TRANSACTIONS: `ConcurrentTransactionsException` extends
///   `RetriableException` (since KAFKA-14417, Kafka 3.4); kafka-protocol marks it not
///   retriable.
const RETRIABLE_DISAGREEMENTS: &[i16] = &[51];

fn camel_case(name: &str) -> String {
    name.split('_')
        .map(|word| {
            let mut chars = word.chars();
            match chars.next() {
                Some(first) => first.to_string() + &chars.as_str().to_lowercase(),
                None => String::new(),
            }
        })
        .collect()
}

#[test]
fn every_code_matches_kafka_protocol() {
    for &code in ErrorCode::ALL {
        let Some(theirs) = ResponseError::try_from_code(code.0) else {
            assert_eq!(
                code,
                ErrorCode::NONE,
                "kafka-protocol treats {code:?} as success"
            );
            continue;
        };
        assert!(
            !matches!(theirs, ResponseError::Unknown(_)),
            "kafka-protocol does not know {code:?}"
        );
        assert_eq!(theirs.code(), code.0);
        assert_eq!(theirs.to_string(), camel_case(code.name()), "{code:?}");
        if RETRIABLE_DISAGREEMENTS.contains(&code.0) {
            assert_ne!(
                theirs.is_retriable(),
                code.is_retriable(),
                "{code:?} now agrees"
            );
        } else {
            assert_eq!(theirs.is_retriable(), code.is_retriable(), "{code:?}");
        }
    }
}

#[test]
fn kafka_protocol_knows_no_code_we_lack() {
    for number in -1000..=1000 {
        if let Some(theirs) = ResponseError::try_from_code(number) {
            if !matches!(theirs, ResponseError::Unknown(_)) {
                assert_ne!(ErrorCode(number).name(), "UNKNOWN", "{theirs} ({number})");
            }
        }
    }
}
