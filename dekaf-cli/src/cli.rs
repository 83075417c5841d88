//! The command line: every command, option and its help.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::format::{self, Format};

/// A command line for Kafka: consumer groups (lag, offset resets), topics, the cluster, and a
/// consumer and producer for debugging.
///
/// Exit codes: 0 done; 1 refused, failed, or done only in part; 2 the command line is wrong.
#[derive(Debug, Parser)]
#[command(name = "dekaf", version, max_term_width = 100)]
pub struct Cli {
    /// How to reach the cluster.
    #[command(flatten)]
    pub connection: Connection,
    /// Print data as JSON (one document; `consume` prints one object per line).
    #[arg(long, global = true)]
    pub json: bool,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// How to reach the cluster: where, as whom, and how securely.
#[derive(Debug, Args)]
pub struct Connection {
    /// Brokers to start from: host:port, several separated by commas.
    #[arg(
        short = 'b',
        long,
        env = "DEKAF_BOOTSTRAP",
        default_value = "localhost:9092",
        global = true
    )]
    pub bootstrap_server: String,
    /// Sent with every request, for the brokers' logs and quotas.
    #[arg(long, env = "DEKAF_CLIENT_ID", default_value = "dekaf", global = true)]
    pub client_id: String,
    /// How long any one request may take, in seconds.
    #[arg(long, default_value_t = 30, value_name = "SECONDS", global = true)]
    pub timeout: u64,
    /// How to talk to the brokers.
    #[arg(
        long,
        value_enum,
        env = "DEKAF_SECURITY_PROTOCOL",
        default_value = "PLAINTEXT",
        ignore_case = true,
        global = true
    )]
    pub security_protocol: Protocol,
    /// The SASL mechanism (with SASL_PLAINTEXT or SASL_SSL). The password is read from the
    /// environment variable DEKAF_SASL_PASSWORD, never from the command line.
    #[arg(
        long,
        value_enum,
        env = "DEKAF_SASL_MECHANISM",
        ignore_case = true,
        global = true
    )]
    pub sasl_mechanism: Option<SaslMechanism>,
    /// The SASL user name.
    #[arg(long, env = "DEKAF_SASL_USERNAME", global = true)]
    pub sasl_username: Option<String>,
    /// A PEM file of certificate authorities to trust (with SSL or SASL_SSL), instead of the
    /// system's store.
    #[arg(long, env = "DEKAF_SSL_CA_FILE", value_name = "PEM", global = true)]
    pub ssl_ca_file: Option<PathBuf>,
    /// The client certificate (PEM), for brokers that ask for one (mutual TLS).
    #[arg(
        long,
        env = "DEKAF_SSL_CERT_FILE",
        value_name = "PEM",
        requires = "ssl_key_file",
        global = true
    )]
    pub ssl_cert_file: Option<PathBuf>,
    /// The client certificate's private key (PEM).
    #[arg(
        long,
        env = "DEKAF_SSL_KEY_FILE",
        value_name = "PEM",
        requires = "ssl_cert_file",
        global = true
    )]
    pub ssl_key_file: Option<PathBuf>,
}

/// Kafka's `security.protocol`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Protocol {
    /// Plain TCP.
    #[value(name = "PLAINTEXT")]
    Plaintext,
    /// TLS.
    #[value(name = "SSL")]
    Ssl,
    /// SASL over plain TCP.
    #[value(name = "SASL_PLAINTEXT")]
    SaslPlaintext,
    /// SASL over TLS.
    #[value(name = "SASL_SSL")]
    SaslSsl,
}

/// A SASL mechanism that takes a user name and a password.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum SaslMechanism {
    /// The password as it is (use it over TLS only).
    #[value(name = "PLAIN")]
    Plain,
    /// SCRAM with SHA-256.
    #[value(name = "SCRAM-SHA-256")]
    ScramSha256,
    /// SCRAM with SHA-512.
    #[value(name = "SCRAM-SHA-512")]
    ScramSha512,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Consumer groups: list, describe (lag), reset and delete offsets, delete.
    #[command(subcommand)]
    Groups(GroupsCommand),
    /// Topics: list, describe, create, delete.
    #[command(subcommand)]
    Topics(TopicsCommand),
    /// The cluster: its id, controller and brokers.
    Cluster,
    /// Print records of a topic.
    #[command(after_help = format::HELP)]
    Consume(ConsumeArgs),
    /// Write each line of standard input to a topic as a record.
    Produce(ProduceArgs),
}

/// `dekaf groups ...`.
#[derive(Debug, Subcommand)]
pub enum GroupsCommand {
    /// The groups of the cluster, with their state.
    List,
    /// A group's committed offset, end offset, lag and owner per partition, with each topic's
    /// total lag.
    Describe {
        /// The group.
        group: String,
    },
    /// Move a group's committed offsets. Prints the plan (committed offset → new offset per
    /// partition) and changes nothing unless --execute is given. Refused while the group has
    /// members: stop its consumers first.
    ResetOffsets(ResetArgs),
    /// Remove a group's committed offsets of a topic (its consumers then start that topic
    /// from their auto.offset.reset).
    DeleteOffsets {
        /// The group.
        group: String,
        /// The topic, or some of its partitions: TOPIC or TOPIC:P,P...
        #[arg(long, value_parser = parse_topic_partitions, value_name = "TOPIC[:P,P..]")]
        topic: TopicSelection,
    },
    /// Delete groups with their committed offsets (refused while a group has members).
    Delete {
        /// The groups.
        #[arg(required = true)]
        groups: Vec<String>,
    },
}

/// `dekaf groups reset-offsets ...`.
#[derive(Debug, Args)]
pub struct ResetArgs {
    /// The group.
    pub group: String,
    /// Which partitions.
    #[command(flatten)]
    pub scope: ResetScope,
    /// Where to.
    #[command(flatten)]
    pub to: ResetTo,
    /// Apply the plan (without it, nothing changes).
    #[arg(long)]
    pub execute: bool,
}

/// The partitions a reset moves.
#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub struct ResetScope {
    /// A topic (all its partitions) or some of its partitions: TOPIC or TOPIC:P,P... May be
    /// repeated.
    #[arg(long, value_parser = parse_topic_partitions, value_name = "TOPIC[:P,P..]")]
    pub topic: Vec<TopicSelection>,
    /// Every partition the group has a committed offset for.
    #[arg(long)]
    pub all_topics: bool,
}

/// Where a reset moves each partition: exactly one of these.
#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub struct ResetTo {
    /// To the start of the log.
    #[arg(long)]
    pub to_earliest: bool,
    /// To the end of the log.
    #[arg(long)]
    pub to_latest: bool,
    /// To this offset (clamped to the log's range).
    #[arg(long, value_name = "OFFSET")]
    pub to_offset: Option<i64>,
    /// From the committed offset by this many records, back when negative (clamped to the
    /// log's range).
    #[arg(long, value_name = "±N", allow_negative_numbers = true)]
    pub shift_by: Option<i64>,
    /// To the first record at or after this time, RFC 3339 (2026-12-01T09:00:00Z); the end
    /// of the log when no record is that recent.
    #[arg(long, value_name = "DATETIME", value_parser = parse_datetime)]
    pub to_datetime: Option<i64>,
    /// To the first record at or after this long ago, ISO 8601 (PT1H, P1DT12H).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub by_duration: Option<jiff::Span>,
    /// Where the group is now (a partition without a committed offset: the end of the log).
    #[arg(long)]
    pub to_current: bool,
}

/// `dekaf topics ...`.
#[derive(Debug, Subcommand)]
pub enum TopicsCommand {
    /// The topics, with their partition counts.
    List {
        /// Also the cluster's internal topics.
        #[arg(long)]
        internal: bool,
    },
    /// Each partition's leader, replicas, in-sync replicas and offsets.
    Describe {
        /// The topics.
        #[arg(required = true)]
        topics: Vec<String>,
    },
    /// Create topics.
    Create {
        /// The topics.
        #[arg(required = true)]
        topics: Vec<String>,
        /// How many partitions each gets.
        #[arg(long, short = 'p', default_value_t = 1)]
        partitions: i32,
        /// How many copies of each partition (-1: the broker's default).
        #[arg(long, short = 'r', default_value_t = -1, allow_negative_numbers = true)]
        replication_factor: i16,
        /// A topic setting, NAME=VALUE (cleanup.policy=compact); may be repeated.
        #[arg(long, value_parser = parse_key_value, value_name = "NAME=VALUE")]
        config: Vec<(String, String)>,
    },
    /// Delete topics, with their records.
    Delete {
        /// The topics.
        #[arg(required = true)]
        topics: Vec<String>,
    },
}

/// `dekaf consume ...`.
#[derive(Debug, Args)]
pub struct ConsumeArgs {
    /// The topic.
    pub topic: String,
    /// Read as a member of this group: from its committed offsets, committing what is
    /// printed. Without it, nothing is committed.
    #[arg(long, short = 'g')]
    pub group: Option<String>,
    /// Where to start: beginning, end, an offset, or an RFC 3339 datetime. With --group,
    /// only for partitions without a committed offset (beginning or end).
    #[arg(long, default_value = "beginning", value_parser = parse_start)]
    pub from: Start,
    /// Stop after this many records.
    #[arg(short = 'n', long = "count", value_name = "N")]
    pub count: Option<u64>,
    /// Only this partition.
    #[arg(long, short = 'p')]
    pub partition: Option<i32>,
    /// Stop at the end of the log instead of waiting for new records.
    #[arg(short = 'e', long)]
    pub exit_at_end: bool,
    /// How to print each record (see below).
    #[arg(long, short = 'f', default_value = "%v")]
    pub format: Format,
}

/// Where `consume` starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Start {
    /// The start of the log.
    Beginning,
    /// The end of the log: only new records.
    End,
    /// This offset.
    Offset(i64),
    /// The first record at or after this time (ms since the Unix epoch).
    Time(i64),
}

/// `dekaf produce ...`.
#[derive(Debug, Args)]
pub struct ProduceArgs {
    /// The topic.
    pub topic: String,
    /// Split each line at the first occurrence of this into key and value (a line without it
    /// has a null key).
    #[arg(long, short = 'K', value_name = "SEPARATOR")]
    pub key_separator: Option<String>,
    /// Write every record to this partition (by default: by key, else spread).
    #[arg(long, short = 'p')]
    pub partition: Option<i32>,
    /// A header added to every record, KEY=VALUE; may be repeated.
    #[arg(long, short = 'H', value_parser = parse_key_value, value_name = "KEY=VALUE")]
    pub header: Vec<(String, String)>,
    /// Wait until each record is written before reading the next line (slow; each record
    /// then travels in a batch of its own).
    #[arg(long)]
    pub sync: bool,
}

/// A topic and, optionally, some of its partitions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TopicSelection {
    /// The topic.
    pub topic: String,
    /// The partitions; `None` for all of them.
    pub partitions: Option<Vec<i32>>,
}

/// `TOPIC` or `TOPIC:P,P..`.
pub fn parse_topic_partitions(s: &str) -> Result<TopicSelection, String> {
    let (topic, partitions) = match s.split_once(':') {
        None => (s, None),
        Some((topic, list)) => {
            let partitions = list
                .split(',')
                .map(|p| {
                    p.trim()
                        .parse::<i32>()
                        .ok()
                        .filter(|p| *p >= 0)
                        .ok_or_else(|| format!("{p:?} is not a partition number"))
                })
                .collect::<Result<Vec<i32>, String>>()?;
            (topic, Some(partitions))
        }
    };
    if topic.is_empty() {
        return Err("the topic name is empty".into());
    }
    Ok(TopicSelection {
        topic: topic.to_owned(),
        partitions,
    })
}

/// An RFC 3339 datetime, as ms since the Unix epoch.
pub fn parse_datetime(s: &str) -> Result<i64, String> {
    s.parse::<jiff::Timestamp>()
        .map(|t| t.as_millisecond())
        .map_err(|e| format!("not an RFC 3339 datetime such as 2026-12-01T09:00:00Z: {e}"))
}

/// An ISO 8601 duration (PT1H); must not be negative.
pub fn parse_duration(s: &str) -> Result<jiff::Span, String> {
    let span = s
        .parse::<jiff::Span>()
        .map_err(|e| format!("not an ISO 8601 duration such as PT1H or P1DT12H: {e}"))?;
    if span.is_negative() {
        return Err("a duration back in time is given without a sign: PT1H".into());
    }
    Ok(span)
}

/// `NAME=VALUE`.
pub fn parse_key_value(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .filter(|(k, _)| !k.is_empty())
        .ok_or_else(|| format!("{s:?} is not NAME=VALUE"))
}

/// `beginning`, `end`, an offset or an RFC 3339 datetime.
pub fn parse_start(s: &str) -> Result<Start, String> {
    match s {
        "beginning" => Ok(Start::Beginning),
        "end" => Ok(Start::End),
        _ => {
            if let Ok(offset) = s.parse::<i64>() {
                return if offset >= 0 {
                    Ok(Start::Offset(offset))
                } else {
                    Err("offsets start at 0".into())
                };
            }
            parse_datetime(s).map(Start::Time).map_err(|_| {
                format!("{s:?} is not beginning, end, an offset or an RFC 3339 datetime")
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn a_topic_selection_names_all_partitions_or_some() {
        assert_eq!(
            parse_topic_partitions("orders"),
            Ok(TopicSelection {
                topic: "orders".into(),
                partitions: None
            })
        );
        assert_eq!(
            parse_topic_partitions("orders:0,2").map(|s| s.partitions),
            Ok(Some(vec![0, 2]))
        );
        assert!(parse_topic_partitions("orders:x").is_err());
        assert!(parse_topic_partitions("orders:-1").is_err());
        assert!(parse_topic_partitions(":1").is_err());
    }

    #[test]
    fn datetimes_and_durations_follow_rfc_3339_and_iso_8601() {
        assert_eq!(parse_datetime("1970-01-01T00:00:01Z"), Ok(1000));
        assert_eq!(parse_datetime("1970-01-01T01:00:01+01:00"), Ok(1000));
        assert!(parse_datetime("yesterday").is_err());
        assert!(parse_duration("PT1H").is_ok());
        assert!(parse_duration("P1DT12H").is_ok());
        assert!(parse_duration("an hour").is_err());
        assert!(parse_duration("-PT1H").is_err());
    }

    #[test]
    fn a_start_is_a_word_an_offset_or_a_datetime() {
        assert_eq!(parse_start("beginning"), Ok(Start::Beginning));
        assert_eq!(parse_start("end"), Ok(Start::End));
        assert_eq!(parse_start("42"), Ok(Start::Offset(42)));
        assert_eq!(parse_start("1970-01-01T00:00:02Z"), Ok(Start::Time(2000)));
        assert!(parse_start("-3").is_err());
        assert!(parse_start("soon").is_err());
    }

    #[test]
    fn a_reset_takes_exactly_one_target_and_one_scope() {
        let parse = |args: &[&str]| {
            Cli::try_parse_from(
                ["dekaf", "groups", "reset-offsets", "g"]
                    .iter()
                    .chain(args)
                    .copied(),
            )
        };
        assert!(parse(&["--topic", "t", "--to-earliest"]).is_ok());
        assert!(parse(&["--topic", "t", "--shift-by", "-5"]).is_ok());
        let both = parse(&["--topic", "t", "--to-earliest", "--to-latest"]).unwrap_err();
        assert_eq!(both.exit_code(), 2);
        assert!(parse(&["--topic", "t"]).is_err());
        assert!(parse(&["--to-latest"]).is_err());
        assert!(parse(&["--topic", "t", "--all-topics", "--to-latest"]).is_err());
    }
}
