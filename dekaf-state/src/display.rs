//! Values written for people, for error messages and logs.

use std::fmt;
use std::time::Duration;

/// A duration as a person writes it: `250 ms`, `10 s`, `1.5 s`, `5 min`, rounded to what
/// matters at its size (an error says "within 10 s", not "within 10.000100257s").
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct HumanDuration(pub Duration);

impl fmt::Display for HumanDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = self.0;
        let ms = d.as_millis();
        if ms < 1 {
            return write!(f, "{} µs", d.as_micros());
        }
        if ms < 1_000 {
            return write!(f, "{ms} ms");
        }
        let secs = d.as_secs_f64();
        if secs < 60.0 {
            // One decimal when it says something: 1.5 s, 10 s.
            let tenths = (secs * 10.0).round() / 10.0;
            return if tenths.fract() == 0.0 {
                write!(f, "{tenths:.0} s")
            } else {
                write!(f, "{tenths:.1} s")
            };
        }
        let mins = secs / 60.0;
        if mins < 60.0 {
            let tenths = (mins * 10.0).round() / 10.0;
            return if tenths.fract() == 0.0 {
                write!(f, "{tenths:.0} min")
            } else {
                write!(f, "{tenths:.1} min")
            };
        }
        write!(f, "{:.1} h", mins / 60.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_people_write_them() {
        let cases = [
            (Duration::from_micros(300), "300 µs"),
            (Duration::from_millis(250), "250 ms"),
            (Duration::from_nanos(10_000_100_257), "10 s"),
            (Duration::from_millis(1_500), "1.5 s"),
            (Duration::from_secs(300), "5 min"),
            (Duration::from_secs(90), "1.5 min"),
            (Duration::from_secs(7_200), "2.0 h"),
        ];
        for (d, want) in cases {
            assert_eq!(HumanDuration(d).to_string(), want);
        }
    }
}

/// Every error text reads as a sentence: no `Some(..)`, no raw `Debug` durations or states.
#[cfg(test)]
mod error_texts {
    use std::time::Duration;

    use dekaf_proto::ErrorCode;

    use crate::group::ConfigError;
    use crate::offset::{CommitError, LookupError, OffsetError, TopicPartition};
    use crate::producer::{TransactionError, TransactionState, TxnOperation};

    fn plain(text: String) -> String {
        for debug in ["Some(", "None", "s)", "InTransaction", "00000"] {
            assert!(!text.contains(debug), "{debug:?} in {text:?}");
        }
        text
    }

    #[test]
    fn errors_print_values_as_people_read_them() {
        let tp = TopicPartition::new("t", 0);
        let text = plain(
            OffsetError::NotConsumed {
                partition: tp.clone(),
                offset: 12,
                position: Some(10),
            }
            .to_string(),
        );
        assert!(text.contains("beyond the position 10"), "{text}");
        let text = plain(
            OffsetError::NotConsumed {
                partition: tp,
                offset: 12,
                position: None,
            }
            .to_string(),
        );
        assert!(text.contains("has none yet"), "{text}");
        let text = plain(
            CommitError::Timeout {
                last_error: Some(ErrorCode::REBALANCE_IN_PROGRESS),
            }
            .to_string(),
        );
        assert!(text.contains("REBALANCE_IN_PROGRESS (27)"), "{text}");
        plain(CommitError::Timeout { last_error: None }.to_string());
        plain(LookupError::Timeout { last_error: None }.to_string());
        plain(ConfigError::Timeout(Duration::from_nanos(1_000_000_007)).to_string());
        let text = plain(
            TransactionError::InvalidState {
                operation: TxnOperation::Commit,
                state: TransactionState::InTransaction,
            }
            .to_string(),
        );
        assert!(text.contains("in a transaction"), "{text}");
    }
}

/// Items written one after the other, separated by commas (`t-0, t-1`), for logs.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Listed<I>(pub(crate) I);

impl<I> fmt::Display for Listed<I>
where
    I: Clone + IntoIterator,
    I::Item: fmt::Display,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, item) in self.0.clone().into_iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{item}")?;
        }
        Ok(())
    }
}
