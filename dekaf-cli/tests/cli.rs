//! The `dekaf` binary against tansu: every command run as a process, its output read (JSON
//! parsed), what it changed checked with the library's admin client and with librdkafka.

#[macro_use]
#[allow(unreachable_pub, missing_docs)]
#[path = "../../dekaf-smol/examples/common/mod.rs"]
mod common;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{create_topic, fill_one_by_one, now_millis, unique, wait_for};
use dekaf_smol::admin::{GroupOffsetsQuery, OffsetQuery};
use dekaf_smol::{
    Admin, AutoOffsetReset, Consumer, IsolationLevel, OffsetCommitMode, TopicPartition,
};
use dekaf_tests::smol_member::{until, Member, SharedLog};
use dekaf_tests::{librdkafka, Broker, Build, Engine};
use serde_json::Value;

type Result<T = ()> = common::Result<T>;

/// How long a test waits for any one thing.
const WAIT: Duration = Duration::from_secs(30);

/// How long one run of the binary may take.
const RUN_LIMIT: Duration = Duration::from_secs(120);

/// What a run of the binary gave.
#[derive(Debug)]
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    /// The standard output as JSON.
    fn json(&self) -> Result<Value> {
        serde_json::from_str(&self.stdout).map_err(|e| {
            format!("not JSON ({e}): {:?}\nstderr: {}", self.stdout, self.stderr).into()
        })
    }

    /// Fails unless the exit code is 0.
    fn ok(self) -> Result<Run> {
        check!(self.code == 0, "exit code {}: {}", self.code, self.stderr);
        Ok(self)
    }
}

/// Runs `dekaf -b BOOTSTRAP ARGS...` with `input` on its standard input; kills it and fails
/// after [`RUN_LIMIT`].
fn dekaf_with_input(bootstrap: &str, args: &[&str], input: &[u8]) -> Result<Run> {
    dekaf_with_env(bootstrap, args, input, &[])
}

/// Runs `dekaf -b BOOTSTRAP ARGS...` with `input` on its standard input and `env` set (the
/// `DEKAF_*` variables of the test's own environment removed); kills it and fails after
/// [`RUN_LIMIT`].
fn dekaf_with_env(
    bootstrap: &str,
    args: &[&str],
    input: &[u8],
    env: &[(&str, &str)],
) -> Result<Run> {
    let mut command = Command::new(env!("CARGO_BIN_EXE_dekaf"));
    for var in [
        "DEKAF_BOOTSTRAP",
        "DEKAF_CLIENT_ID",
        "DEKAF_SECURITY_PROTOCOL",
        "DEKAF_SASL_MECHANISM",
        "DEKAF_SASL_USERNAME",
        "DEKAF_SASL_PASSWORD",
        "DEKAF_SSL_CA_FILE",
        "DEKAF_SSL_CERT_FILE",
        "DEKAF_SSL_KEY_FILE",
    ] {
        command.env_remove(var);
    }
    let mut child = command
        .envs(env.iter().copied())
        .arg("--bootstrap-server")
        .arg(bootstrap)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let mut stdin = child.stdin.take().ok_or("stdin")?;
    let input = input.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let mut stdout = child.stdout.take().ok_or("stdout")?;
    let mut stderr = child.stderr.take().ok_or("stderr")?;
    let out = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = stdout.read_to_end(&mut s);
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = stderr.read_to_end(&mut s);
        s
    });
    let deadline = Instant::now() + RUN_LIMIT;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("dekaf {args:?} still running after {RUN_LIMIT:?}").into());
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let _ = writer.join();
    let run = Run {
        code: status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.join().unwrap_or_default()).into_owned(),
        stderr: String::from_utf8_lossy(&err.join().unwrap_or_default()).into_owned(),
    };
    Ok(run)
}

/// Runs `dekaf -b BOOTSTRAP ARGS...` with nothing on its standard input.
fn dekaf(bootstrap: &str, args: &[&str]) -> Result<Run> {
    dekaf_with_input(bootstrap, args, b"")
}

/// Runs `test` against a fresh broker of `build` with `engine` (skipped when not installed).
fn on<F, Fut>(build: Build, engine: Engine, name: &str, test: F)
where
    F: FnOnce(Build, String) -> Fut,
    Fut: std::future::Future<Output = Result>,
{
    let Some(broker) = Broker::start(build, engine) else {
        return;
    };
    if let Err(e) = smol::block_on(test(build, broker.addr().to_string())) {
        panic!(
            "{name} on {build}: {e}\n--- broker log ---\n{}",
            broker.log()
        );
    }
}

async fn admin(bootstrap: &str) -> Result<Admin> {
    Ok(Admin::builder()
        .bootstrap_servers(bootstrap)
        .request_timeout(Duration::from_secs(10))
        .build()
        .await?)
}

fn tp(topic: &str, partition: i32) -> TopicPartition {
    TopicPartition::new(topic, partition)
}

/// The group's committed offsets, by partition.
async fn committed(admin: &Admin, group: &str) -> Result<BTreeMap<TopicPartition, i64>> {
    let mut listed = admin
        .list_group_offsets([GroupOffsetsQuery::all(group)])
        .await?;
    let mut out = BTreeMap::new();
    for (tp, result) in listed.remove(group).ok_or("no result for the group")?? {
        if let Some(o) = result? {
            out.insert(tp, o.offset);
        }
    }
    Ok(out)
}

/// Each partition's earliest and latest offsets.
async fn log_range(admin: &Admin, topic: &str, partitions: i32) -> Result<Vec<(i64, i64)>> {
    let mut out = Vec::new();
    for p in 0..partitions {
        let mut range = Vec::new();
        for q in [OffsetQuery::Earliest, OffsetQuery::Latest] {
            let found = admin
                .list_offsets([(tp(topic, p), q)], IsolationLevel::ReadUncommitted)
                .await?;
            range.push(found[&tp(topic, p)].clone()?.offset);
        }
        out.push((range[0], range[1]));
    }
    Ok(out)
}

/// `partitions` partitions of `topic`, each with `n` records, one batch each (tansu's
/// memory engine answers "latest" per batch), a second apart ending a minute ago. Returns
/// the timestamps.
async fn filled(bootstrap: &str, topic: &str, partitions: i32, n: i64) -> Result<Vec<i64>> {
    create_topic(bootstrap, topic, partitions).await?;
    let base = now_millis() - 60_000 - n * 1_000;
    let times: Vec<i64> = (0..n).map(|i| base + i * 1_000).collect();
    for p in 0..partitions {
        fill_one_by_one(bootstrap, topic, p, 0, &times).await?;
    }
    Ok(times)
}

/// The plan's new offset of each partition, from `reset-offsets --json`.
fn planned(plan: &Value) -> Result<BTreeMap<i32, i64>> {
    let mut out = BTreeMap::new();
    for row in plan["partitions"].as_array().ok_or("no partitions")? {
        out.insert(
            row["partition"].as_i64().ok_or("partition")? as i32,
            row["new"]
                .as_i64()
                .ok_or_else(|| format!("no new offset: {row}"))?,
        );
    }
    Ok(out)
}

/// The group's committed offsets of `topic`, by partition number.
fn by_partition(offsets: &BTreeMap<TopicPartition, i64>, topic: &str) -> BTreeMap<i32, i64> {
    offsets
        .iter()
        .filter(|(tp, _)| tp.topic() == topic)
        .map(|(tp, o)| (tp.partition(), *o))
        .collect()
}

/// The first offset printed of each partition by `consume --format '%p %o'`.
fn first_offsets(stdout: &str) -> Result<BTreeMap<i32, i64>> {
    let mut out = BTreeMap::new();
    for line in stdout.lines() {
        let (p, o) = line.split_once(' ').ok_or_else(|| format!("{line:?}"))?;
        out.entry(p.parse()?).or_insert(o.parse()?);
    }
    Ok(out)
}

// ----- every command -----

#[test]
fn every_command_runs_through_the_binary_with_tables_and_json() {
    on(Build::W, Engine::Memory, "commands", |_, b| async move {
        let b = b.as_str();
        let (topic, group) = (unique("cli-cmd"), unique("cli-cmd-g"));

        let cluster = dekaf(b, &["cluster", "--json"])?.ok()?.json()?;
        check!(
            cluster["brokers"][0]["id"] == 111 && cluster["controller"] == 111,
            "{cluster}"
        );
        let table = dekaf(b, &["cluster"])?.ok()?.stdout;
        check!(
            table.contains("ID  HOST") && table.contains("111"),
            "{table}"
        );

        let created = dekaf(b, &["topics", "create", &topic, "-p", "3", "--json"])?
            .ok()?
            .json()?;
        check!(
            created[0]["topic"] == topic.as_str() && created[0]["error"].is_null(),
            "{created}"
        );
        let again = dekaf(b, &["topics", "create", &topic, "-p", "3"])?;
        check!(
            again.code == 1 && again.stderr.contains("TOPIC_ALREADY_EXISTS"),
            "{again:?}"
        );
        let listed = dekaf(b, &["topics", "list", "--json"])?.ok()?.json()?;
        check!(
            listed.as_array().is_some_and(|ts| ts
                .iter()
                .any(|t| t["topic"] == topic.as_str() && t["partitions"] == 3)),
            "{listed}"
        );
        let described = dekaf(b, &["topics", "describe", &topic, "--json"])?
            .ok()?
            .json()?;
        check!(
            described.as_array().map(Vec::len) == Some(3) && described[2]["leader"] == 111,
            "{described}"
        );

        let lines = "a:1\nb:2\nc:3\n";
        let produced = dekaf_with_input(
            b,
            &["produce", &topic, "-K", ":", "-p", "1", "--json"],
            lines.as_bytes(),
        )?
        .ok()?
        .json()?;
        check!(produced["records"] == 3, "{produced}");
        let consumed = dekaf(b, &["consume", &topic, "-g", &group, "-e", "--json"])?.ok()?;
        let records: Vec<Value> = consumed
            .stdout
            .lines()
            .map(serde_json::from_str)
            .collect::<std::result::Result<_, _>>()?;
        let kv: Vec<(String, String)> = records
            .iter()
            .map(|r| {
                (
                    r["key"].as_str().unwrap_or("").to_owned(),
                    r["value"].as_str().unwrap_or("").to_owned(),
                )
            })
            .collect();
        check!(
            kv == [
                ("a".into(), "1".into()),
                ("b".into(), "2".into()),
                ("c".into(), "3".into())
            ] && records
                .iter()
                .all(|r| r["partition"] == 1 && r["topic"] == topic.as_str()),
            "{records:?}"
        );

        // The consumer committed what it printed.
        let groups = dekaf(b, &["groups", "list", "--json"])?.ok()?.json()?;
        check!(
            groups
                .as_array()
                .is_some_and(|gs| gs.iter().any(|g| g["group"] == group.as_str())),
            "{groups}"
        );
        let lag = dekaf(b, &["groups", "describe", &group, "--json"])?
            .ok()?
            .json()?;
        let row = lag["partitions"]
            .as_array()
            .and_then(|rows| rows.iter().find(|r| r["partition"] == 1))
            .ok_or_else(|| format!("{lag}"))?;
        check!(
            row["committed"] == 3 && row["lag"].as_i64().is_some(),
            "{lag}"
        );
        let table = dekaf(b, &["groups", "describe", &group])?.ok()?.stdout;
        check!(
            table.starts_with(&format!("group {group}: "))
                && table.contains("TOPIC")
                && table.contains("total"),
            "{table}"
        );

        let plan = dekaf(
            b,
            &[
                "groups",
                "reset-offsets",
                &group,
                "--topic",
                &format!("{topic}:1"),
                "--to-earliest",
            ],
        )?
        .ok()?;
        check!(
            plan.stdout.starts_with("TOPIC") && plan.stderr.contains("dry run"),
            "{plan:?}"
        );

        // tansu does not support OffsetDelete: said plainly, exit code 1.
        let deleted = dekaf(b, &["groups", "delete-offsets", &group, "--topic", &topic])?;
        check!(
            deleted.code == 1 && deleted.stderr.contains("does not support"),
            "{deleted:?}"
        );
        let deleted = dekaf(b, &["groups", "delete", &group, "--json"])?
            .ok()?
            .json()?;
        check!(
            deleted[0]["group"] == group.as_str() && deleted[0]["error"].is_null(),
            "{deleted}"
        );

        let deleted = dekaf(b, &["topics", "delete", &topic])?.ok()?;
        check!(deleted.stdout.contains("deleted"), "{deleted:?}");
        Ok(())
    });
}

#[test]
fn produce_and_consume_round_trip_keys_headers_and_formats() {
    on(Build::W, Engine::Memory, "round trip", |_, b| async move {
        let b = b.as_str();
        let topic = unique("cli-trip");
        create_topic(b, &topic, 2).await?;
        let input = "user-1::hello\nno separator here\nuser-2::a::b\n::empty key\n";
        dekaf_with_input(
            b,
            &[
                "produce",
                &topic,
                "--key-separator",
                "::",
                "--partition",
                "0",
                "-H",
                "trace=abc",
            ],
            input.as_bytes(),
        )?
        .ok()?;
        let out = dekaf(
            b,
            &[
                "consume",
                &topic,
                "--partition",
                "0",
                "-e",
                "--format",
                "%t|%p|%o|%k|%v|%h\\t%%",
            ],
        )?
        .ok()?;
        let want: String = [
            "0|user-1|hello",
            "1||no separator here",
            "2|user-2|a::b",
            "3||empty key",
        ]
        .iter()
        .map(|l| {
            let (o, rest) = l.split_once('|').unwrap_or_default();
            format!("{topic}|0|{o}|{rest}|trace=abc\t%\n")
        })
        .collect();
        check!(out.stdout == want, "got {:?}\nwant {want:?}", out.stdout);

        // From an offset, and at most N.
        let out = dekaf(
            b,
            &[
                "consume", &topic, "-p", "0", "--from", "2", "-n", "1", "-f", "%o %v",
            ],
        )?
        .ok()?;
        check!(out.stdout == "2 a::b\n", "{out:?}");
        // From a time after every record, or from the end: nothing, and -e ends it. (On a
        // topic written one record per batch: tansu's memory engine answers "latest" per
        // batch.)
        let spaced = unique("cli-trip-spaced");
        let times = filled(b, &spaced, 1, 4).await?;
        let later = jiff::Timestamp::from_millisecond(now_millis() + 3_600_000)?.to_string();
        for from in [later.as_str(), "end"] {
            let out = dekaf(b, &["consume", &spaced, "--from", from, "-e"])?.ok()?;
            check!(out.stdout.is_empty(), "--from {from}: {out:?}");
        }
        let at = jiff::Timestamp::from_millisecond(times[2])?.to_string();
        let out = dekaf(b, &["consume", &spaced, "--from", &at, "-e", "-f", "%o"])?.ok()?;
        check!(
            !out.stdout.is_empty() && out.stdout.lines().all(|o| o.parse::<i64>().is_ok()),
            "{out:?}"
        );
        // The timestamp printed is the record's.
        let out = dekaf(b, &["consume", &topic, "-p", "0", "-n", "1", "-f", "%T"])?.ok()?;
        let ts: i64 = out.stdout.trim().parse()?;
        check!((now_millis() - ts).abs() < 600_000, "{ts}");

        // Lines without a separator option are values with null keys, spread over partitions.
        dekaf_with_input(b, &["produce", &topic], b"x\ny\n")?.ok()?;
        let out = dekaf(b, &["consume", &topic, "-e", "--json"])?.ok()?;
        let values: Vec<Value> = out
            .stdout
            .lines()
            .map(serde_json::from_str)
            .collect::<std::result::Result<_, _>>()?;
        check!(values.len() == 6, "{values:?}");
        check!(
            values
                .iter()
                .filter(|v| v["value"] == "x" || v["value"] == "y")
                .all(|v| v["key"].is_null()),
            "{values:?}"
        );
        Ok(())
    });
}

// ----- resets -----

#[test]
fn a_reset_to_a_datetime_or_a_duration_lands_where_list_offsets_by_timestamp_finds() {
    // Build C with SQLite: its ListOffsets by timestamp is right per record.
    let engine = Engine::Sqlite(dekaf_tests::broker::temp_dir("cli-time"));
    on(Build::C, engine, "reset to a time", |_, b| async move {
        let b = b.as_str();
        let admin = admin(b).await?;
        let topic = unique("cli-time");
        let times = filled(b, &topic, 2, 6).await?;
        for (at, label) in [
            (times[3], "exactly a record's time"),
            (times[3] - 500, "between two records"),
        ] {
            // A fresh group each time: build C with SQLite cannot describe a stored group
            // (pinned below).
            let group = unique("cli-time-g");
            let datetime = jiff::Timestamp::from_millisecond(at)?.to_string();
            let want: BTreeMap<i32, i64> = {
                let found = admin
                    .list_offsets(
                        (0..2).map(|p| (tp(&topic, p), OffsetQuery::Timestamp(at))),
                        IsolationLevel::ReadUncommitted,
                    )
                    .await?;
                found
                    .into_iter()
                    .map(|(tp, r)| Ok((tp.partition(), r?.offset)))
                    .collect::<Result<_>>()?
            };
            check!(
                want == BTreeMap::from([(0, 3), (1, 3)]),
                "{label}: list_offsets found {want:?}"
            );
            let plan = dekaf(
                b,
                &[
                    "groups",
                    "reset-offsets",
                    &group,
                    "--topic",
                    &topic,
                    "--to-datetime",
                    &datetime,
                    "--json",
                ],
            )?
            .ok()?
            .json()?;
            check!(
                planned(&plan)? == want,
                "{label}: plan {plan}, list_offsets {want:?}"
            );
            check!(plan["executed"] == false, "{plan}");
            let after = committed(&admin, &group).await?;
            check!(after.is_empty(), "a dry run committed: {after:?}");
            let done = dekaf(
                b,
                &[
                    "groups",
                    "reset-offsets",
                    &group,
                    "--topic",
                    &topic,
                    "--to-datetime",
                    &datetime,
                    "--execute",
                    "--json",
                ],
            )?
            .ok()?
            .json()?;
            check!(
                done["executed"] == true && planned(&done)? == want,
                "{done}"
            );
            check!(
                by_partition(&committed(&admin, &group).await?, &topic) == want,
                "committed after --execute"
            );

            // Once stored, the group cannot be described on this build (the broker closes the
            // connection), so whether it has members is unknown: the reset is refused.
            let refused = dekaf(
                b,
                &[
                    "groups",
                    "reset-offsets",
                    &group,
                    "--topic",
                    &topic,
                    "--to-earliest",
                    "--execute",
                ],
            )?;
            check!(
                refused.code == 1 && refused.stderr.contains("could not be described"),
                "{refused:?}"
            );
            check!(
                by_partition(&committed(&admin, &group).await?, &topic) == want,
                "changed by a refusal"
            );
        }
        // A duration is counted back from now: an hour ago is before every record; half-way
        // between two records 10 s apart leaves 5 s either way for the time the run takes.
        let spaced = unique("cli-time-spaced");
        create_topic(b, &spaced, 1).await?;
        let base = now_millis() - 100_000;
        let times: Vec<i64> = (0..6).map(|i| base + i * 10_000).collect();
        fill_one_by_one(b, &spaced, 0, 0, &times).await?;
        let between = now_millis() - (times[3] + 5_000);
        for (duration, expected) in [
            ("PT1H".to_owned(), 0),
            (format!("PT{}S", between / 1000), 4),
        ] {
            let group = unique("cli-time-d");
            let back = duration
                .parse::<jiff::Span>()?
                .total(jiff::Unit::Millisecond)? as i64;
            let found = admin
                .list_offsets(
                    [(tp(&spaced, 0), OffsetQuery::Timestamp(now_millis() - back))],
                    IsolationLevel::ReadUncommitted,
                )
                .await?;
            let want = found[&tp(&spaced, 0)].clone()?.offset;
            check!(want == expected, "{duration}: list_offsets found {want}");
            let plan = dekaf(
                b,
                &[
                    "groups",
                    "reset-offsets",
                    &group,
                    "--topic",
                    &spaced,
                    "--by-duration",
                    &duration,
                    "--json",
                ],
            )?
            .ok()?
            .json()?;
            check!(
                planned(&plan)?.get(&0) == Some(&want),
                "{duration}: {plan} vs {want}"
            );
        }
        Ok(())
    });
}

#[test]
fn a_reset_is_refused_while_a_consumer_is_in_the_group_and_changes_nothing() {
    on(
        Build::W,
        Engine::Memory,
        "refused reset",
        |_, b| async move {
            let bs = b.as_str();
            let admin = admin(bs).await?;
            let (topic, group) = (unique("cli-busy"), unique("cli-busy-g"));
            filled(bs, &topic, 2, 5).await?;
            let consumer = Consumer::builder()
                .bootstrap_servers(bs)
                .group_id(&group)
                .offset_commit_mode(OffsetCommitMode::Manual)
                .auto_offset_reset(AutoOffsetReset::Earliest)
                .session_timeout(Duration::from_secs(6))
                .heartbeat_interval(Duration::from_secs(1))
                .build()
                .await?;
            consumer.subscribe([topic.as_str()])?;
            let member = Member::start(consumer, SharedLog::default(), true);
            until(WAIT, "the member holds both partitions", || {
                member.assignment().len() == 2
            })
            .await?;
            let all_read = BTreeMap::from([(tp(&topic, 0), 5), (tp(&topic, 1), 5)]);
            wait_for(WAIT, "the member committed everything", || {
                let (admin, group, want) = (&admin, &group, &all_read);
                async move { Ok((committed(admin, group).await? == *want).then_some(())) }
            })
            .await?;

            for execute in [false, true] {
                let mut args = vec![
                    "groups",
                    "reset-offsets",
                    &group,
                    "--topic",
                    &topic,
                    "--to-earliest",
                ];
                if execute {
                    args.push("--execute");
                }
                let refused = dekaf(bs, &args)?;
                check!(
                    refused.code == 1
                        && refused.stderr.starts_with("dekaf: error: ")
                        && refused.stderr.contains("active member")
                        && refused.stderr.lines().count() == 1
                        && refused.stdout.is_empty(),
                    "{refused:?}"
                );
                check!(
                    committed(&admin, &group).await? == all_read,
                    "the refusal changed offsets"
                );
            }

            member.close().await?;
            let done = dekaf(
                bs,
                &[
                    "groups",
                    "reset-offsets",
                    &group,
                    "--topic",
                    &topic,
                    "--to-earliest",
                    "--execute",
                    "--json",
                ],
            )?
            .ok()?
            .json()?;
            check!(
                planned(&done)? == BTreeMap::from([(0, 0), (1, 0)]),
                "{done}"
            );
            check!(
                committed(&admin, &group).await?
                    == BTreeMap::from([(tp(&topic, 0), 0), (tp(&topic, 1), 0)]),
                "not reset"
            );
            Ok(())
        },
    );
}

#[test]
fn after_a_reset_dekaf_and_librdkafka_consumers_of_the_group_start_at_the_new_offsets() {
    if !librdkafka::available() {
        return;
    }
    on(
        Build::W,
        Engine::Memory,
        "start after reset",
        |_, b| async move {
            let bs = b.as_str();
            let admin = admin(bs).await?;
            let (topic, group) = (unique("cli-start"), unique("cli-start-g"));
            filled(bs, &topic, 2, 10).await?;
            dekaf(
                bs,
                &[
                    "groups",
                    "reset-offsets",
                    &group,
                    "--topic",
                    &format!("{topic}:0"),
                    "--to-offset",
                    "3",
                    "--execute",
                ],
            )?
            .ok()?;
            let shifted = dekaf(
                bs,
                &[
                    "groups",
                    "reset-offsets",
                    &group,
                    "--topic",
                    &format!("{topic}:1"),
                    "--to-latest",
                    "--execute",
                ],
            )?
            .ok()?;
            check!(shifted.stdout.contains("10"), "{shifted:?}");
            let back = dekaf(
                bs,
                &[
                    "groups",
                    "reset-offsets",
                    &group,
                    "--topic",
                    &format!("{topic}:1"),
                    "--shift-by",
                    "-3",
                    "--execute",
                    "--json",
                ],
            )?
            .ok()?
            .json()?;
            let want = BTreeMap::from([(0, 3), (1, 7)]);
            check!(planned(&back)? == BTreeMap::from([(1, 7)]), "{back}");
            check!(
                by_partition(&committed(&admin, &group).await?, &topic) == want,
                "committed"
            );

            // librdkafka first: it commits nothing.
            let out =
                librdkafka::script("lag_interop.py", &["--first", bs, &group, &topic, "0", "1"]);
            let report: Value = serde_json::from_str(out.trim())?;
            check!(
                report["first"]["0"] == 3 && report["first"]["1"] == 7,
                "librdkafka started at {report}"
            );
            check!(
                by_partition(&committed(&admin, &group).await?, &topic) == want,
                "librdkafka committed"
            );

            // Then dekaf's consumer, which commits what it prints.
            let out = dekaf(
                bs,
                &[
                    "consume", &topic, "--group", &group, "-e", "--format", "%p %o",
                ],
            )?
            .ok()?;
            check!(
                first_offsets(&out.stdout)? == want,
                "dekaf started at {:?}",
                out.stdout
            );
            check!(out.stdout.lines().count() == 7 + 3, "{:?}", out.stdout);
            check!(
                by_partition(&committed(&admin, &group).await?, &topic)
                    == BTreeMap::from([(0, 10), (1, 10)]),
                "dekaf's consumer did not commit what it printed"
            );
            Ok(())
        },
    );
}

#[test]
fn groups_describe_shows_the_committed_offsets_and_lag_librdkafka_reports() {
    if !librdkafka::available() {
        return;
    }
    for (build, engine) in [
        (Build::W, Engine::Memory),
        (
            Build::C,
            Engine::Sqlite(dekaf_tests::broker::temp_dir("cli-lag")),
        ),
    ] {
        on(build, engine, "lag", |build, b| async move {
            let bs = b.as_str();
            let (topic, group) = (unique("cli-lag"), unique("cli-lag-g"));
            filled(bs, &topic, 3, 10).await?;
            let (theirs, report) =
                librdkafka_member(bs, &group, &topic, &[(0, 3), (1, 5), (2, 10)])?;
            let lag = dekaf(bs, &["groups", "describe", &group, "--json"])?
                .ok()?
                .json()?;
            let rows = lag["partitions"].as_array().ok_or("no partitions")?;
            check!(rows.len() == 3, "{lag}");
            for row in rows {
                let r = &report["partitions"][row["partition"].to_string()];
                let (committed, high) = (r["committed"].as_i64(), r["high"].as_i64());
                check!(
                    row["committed"].as_i64() == committed
                        && row["end"].as_i64() == high
                        && row["lag"].as_i64() == high.zip(committed).map(|(h, c)| h - c),
                    "dekaf {row}, librdkafka {r}"
                );
            }
            check!(lag["topics"][0]["lag"] == 7 + 5, "{lag}");
            match build {
                Build::W => check!(lag["state"] == "Stable", "{lag}"),
                // DescribeGroups closes the connection on build C with SQLite: the lag comes
                // without the state, and says why.
                Build::C => check!(
                    lag["state"].is_null() && lag["description_error"].is_string(),
                    "{lag}"
                ),
            }
            // The table has the same numbers, right-aligned under their headings.
            let table = dekaf(bs, &["groups", "describe", &group])?.ok()?.stdout;
            let state = if build == Build::W {
                "Stable".to_owned()
            } else {
                lag["description_error"]
                    .as_str()
                    .map(|e| format!("state unknown ({e})"))
                    .unwrap_or_default()
            };
            let t = |s: &str| format!("{s:<w$}", w = topic.len());
            let want = format!(
                "group {group}: {state}\n\
                 {}  PARTITION  COMMITTED  END  LAG  OWNER\n\
                 {}          0          3   10    7  -\n\
                 {}          1          5   10    5  -\n\
                 {}          2         10   10    0  -\n\
                 {}      total                   12\n",
                t("TOPIC"),
                t(&topic),
                t(&topic),
                t(&topic),
                t(&topic)
            );
            check!(table == want, "got\n{table}\nwant\n{want}");
            theirs.close()?;
            Ok(())
        });
    }
}

// ----- bad input -----

#[test]
fn bad_input_is_refused_with_a_clear_message_and_changes_nothing() {
    on(Build::W, Engine::Memory, "bad input", |_, b| async move {
        let bs = b.as_str();
        let admin = admin(bs).await?;
        let (topic, group) = (unique("cli-bad"), unique("cli-bad-g"));
        filled(bs, &topic, 2, 5).await?;
        dekaf(
            bs,
            &[
                "groups",
                "reset-offsets",
                &group,
                "--topic",
                &topic,
                "--to-offset",
                "2",
                "--execute",
            ],
        )?
        .ok()?;
        let before = committed(&admin, &group).await?;
        let range = log_range(&admin, &topic, 2).await?;
        check!(range == [(0, 5), (0, 5)], "{range:?}");
        let unchanged = || async {
            check!(
                committed(&admin, &group).await? == before,
                "committed offsets changed"
            );
            check!(
                log_range(&admin, &topic, 2).await? == range,
                "the log changed"
            );
            Result::Ok(())
        };
        let unknown_topic = unique("cli-bad-nothing");
        let reset = |extra: &[&str]| {
            let mut args = vec!["groups", "reset-offsets", group.as_str()];
            args.extend_from_slice(extra);
            args.into_iter().map(str::to_owned).collect::<Vec<_>>()
        };
        let with_topic = format!("{topic}:1,7");
        let cases: Vec<(Vec<String>, i32, &str)> = vec![
            (
                vec!["groups".into(), "describe".into(), unique("cli-bad-nobody")],
                1,
                "GROUP_ID_NOT_FOUND",
            ),
            (
                reset(&["--topic", &unknown_topic, "--to-earliest", "--execute"]),
                1,
                "UNKNOWN_TOPIC_OR_PARTITION",
            ),
            (
                reset(&["--topic", &with_topic, "--to-earliest", "--execute"]),
                1,
                "has no partition 7",
            ),
            (
                reset(&[
                    "--topic",
                    &topic,
                    "--to-datetime",
                    "next tuesday",
                    "--execute",
                ]),
                2,
                "RFC 3339",
            ),
            (
                reset(&["--topic", &topic, "--by-duration", "an hour", "--execute"]),
                2,
                "ISO 8601",
            ),
            (
                reset(&[
                    "--topic",
                    &topic,
                    "--to-earliest",
                    "--to-latest",
                    "--execute",
                ]),
                2,
                "cannot be used with",
            ),
            (reset(&["--topic", &topic, "--execute"]), 2, "required"),
            (
                reset(&[
                    "--all-topics",
                    "--topic",
                    &topic,
                    "--to-latest",
                    "--execute",
                ]),
                2,
                "cannot be used with",
            ),
            (
                vec!["consume".into(), unknown_topic.clone(), "-e".into()],
                1,
                "UNKNOWN_TOPIC_OR_PARTITION",
            ),
            (
                vec![
                    "consume".into(),
                    topic.clone(),
                    "-p".into(),
                    "9".into(),
                    "-e".into(),
                ],
                1,
                "has no partition 9",
            ),
            (
                vec![
                    "consume".into(),
                    topic.clone(),
                    "--format".into(),
                    "%x".into(),
                ],
                2,
                "unknown escape %x",
            ),
            (
                vec![
                    "consume".into(),
                    topic.clone(),
                    "-g".into(),
                    group.clone(),
                    "--from".into(),
                    "3".into(),
                ],
                2,
                "--group",
            ),
        ];
        for (args, code, says) in &cases {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let run = dekaf(bs, &args)?;
            check!(
                run.code == *code && run.stderr.contains(says) && run.stderr.contains("error"),
                "{args:?}: want exit {code} saying {says:?}, got {run:?}"
            );
            if *code == 1 {
                let first = run.stderr.lines().next().unwrap_or_default();
                check!(first.starts_with("dekaf: error: "), "{args:?}: {run:?}");
            }
            unchanged().await?;
        }

        // A shift past either end is clamped, and the plan says so.
        for (by, new, end, word) in [
            ("-100", 0, "earliest", "clamped to earliest"),
            ("+100", 5, "latest", "clamped to latest"),
        ] {
            let plan = dekaf(
                bs,
                &[
                    "groups",
                    "reset-offsets",
                    &group,
                    "--topic",
                    &topic,
                    "--shift-by",
                    by,
                    "--json",
                ],
            )?
            .ok()?
            .json()?;
            for row in plan["partitions"].as_array().ok_or("partitions")? {
                check!(
                    row["new"] == new
                        && row["clamped"] == true
                        && row["clamped_to"] == end
                        && row["current"] == 2,
                    "{row}"
                );
            }
            let table = dekaf(
                bs,
                &[
                    "groups",
                    "reset-offsets",
                    &group,
                    "--topic",
                    &topic,
                    "--shift-by",
                    by,
                ],
            )?
            .ok()?;
            check!(
                table.stdout.lines().skip(1).all(|l| l.ends_with(word)),
                "{table:?}"
            );
            unchanged().await?;
        }
        let done = dekaf(
            bs,
            &[
                "groups",
                "reset-offsets",
                &group,
                "--topic",
                &topic,
                "--shift-by=-100",
                "--execute",
            ],
        )?
        .ok()?;
        check!(done.stdout.contains("clamped to earliest"), "{done:?}");
        check!(
            committed(&admin, &group).await?
                == BTreeMap::from([(tp(&topic, 0), 0), (tp(&topic, 1), 0)]),
            "a clamped shift did not apply"
        );
        Ok(())
    });
}

/// librdkafka's member of a group (`tests/scripts/lag_interop.py`), with its report once it
/// committed `targets`.
fn librdkafka_member(
    bootstrap: &str,
    group: &str,
    topic: &str,
    targets: &[(i32, i64)],
) -> Result<(LibrdkafkaMember, Value)> {
    use std::io::BufRead;
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/scripts/lag_interop.py");
    let mut child = Command::new("python3")
        .arg(script)
        .args([bootstrap, group, topic])
        .args(targets.iter().map(|(p, o)| format!("{p}={o}")))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()?;
    let mut out = std::io::BufReader::new(child.stdout.take().ok_or("stdout")?);
    let mut line = String::new();
    out.read_line(&mut line)?;
    let report = serde_json::from_str(&line).map_err(|e| format!("{e}: {line:?}"))?;
    Ok((LibrdkafkaMember { child, out }, report))
}

/// A librdkafka member, waiting to be told to close.
struct LibrdkafkaMember {
    child: std::process::Child,
    out: std::io::BufReader<std::process::ChildStdout>,
}

impl LibrdkafkaMember {
    /// Tells it to close and waits until it left the group.
    fn close(mut self) -> Result {
        use std::io::BufRead;
        self.child
            .stdin
            .as_mut()
            .ok_or("stdin")?
            .write_all(b"close\n")?;
        let mut line = String::new();
        self.out.read_line(&mut line)?;
        check!(line.contains("closed"), "{line:?}");
        self.child.wait()?;
        Ok(())
    }
}

impl Drop for LibrdkafkaMember {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ----- security -----

#[test]
fn sasl_settings_come_from_options_and_the_password_from_the_environment() {
    const USER: &str = "carol";
    const PASSWORD: &str = "carol-secret-5d1e";
    let Some(broker) = Broker::start_authenticating(
        dekaf_tests::broker::temp_dir("cli-sasl"),
        &[(USER, PASSWORD)],
        None,
    ) else {
        return;
    };
    let b = broker.addr().to_string();
    let sasl = [
        "--security-protocol",
        "SASL_PLAINTEXT",
        "--sasl-mechanism",
        "SCRAM-SHA-512",
        "--sasl-username",
        USER,
    ];
    let run = || -> Result {
        let topic = unique("cli-sasl");
        let with = |args: &[&str], input: &[u8], password: &str| {
            let all: Vec<&str> = sasl.iter().chain(args).copied().collect();
            dekaf_with_env(&b, &all, input, &[("DEKAF_SASL_PASSWORD", password)])
        };
        with(&["topics", "create", &topic], b"", PASSWORD)?.ok()?;
        with(&["produce", &topic, "-K", "="], b"k=v\n", PASSWORD)?.ok()?;
        let out = with(&["consume", &topic, "-e", "-f", "%k %v"], b"", PASSWORD)?.ok()?;
        check!(out.stdout == "k v\n", "{out:?}");

        // The same settings from the environment alone.
        let env = [
            ("DEKAF_SECURITY_PROTOCOL", "sasl_plaintext"),
            ("DEKAF_SASL_MECHANISM", "SCRAM-SHA-512"),
            ("DEKAF_SASL_USERNAME", USER),
            ("DEKAF_SASL_PASSWORD", PASSWORD),
        ];
        let listed = dekaf_with_env(&b, &["topics", "list", "--json"], b"", &env)?
            .ok()?
            .json()?;
        check!(listed.to_string().contains(&topic), "{listed}");

        let refused = with(&["cluster"], b"", "wrong")?;
        check!(
            refused.code == 1
                && refused.stderr.starts_with("dekaf: error: ")
                && refused.stderr.contains("SASL")
                && refused.stderr.lines().count() == 1,
            "{refused:?}"
        );
        let all: Vec<&str> = sasl.iter().chain(&["cluster"]).copied().collect();
        let no_password = dekaf_with_env(&b, &all, b"", &[])?;
        check!(
            no_password.code == 2 && no_password.stderr.contains("DEKAF_SASL_PASSWORD"),
            "{no_password:?}"
        );
        Ok(())
    };
    if let Err(e) = run() {
        panic!("SASL: {e}\n--- broker log ---\n{}", broker.log());
    }
}

#[test]
fn tls_with_a_ca_file_and_a_client_certificate_and_an_untrusted_broker_refused() {
    use dekaf_tests::tls::{tunnel_port, Certs, ClientAuth, Stunnel};
    let certs = Certs::make();
    let port = tunnel_port();
    let Some(broker) = Broker::start_advertising(Build::W, Engine::Memory, port) else {
        return;
    };
    let Some(tunnel) = Stunnel::start(
        &certs,
        &certs.server,
        port,
        broker.addr(),
        ClientAuth::Required,
    ) else {
        return;
    };
    let b = tunnel.addr().to_string();
    let path = |p: &std::path::Path| p.to_string_lossy().into_owned();
    let (ca, cert, key) = (
        path(&certs.ca),
        path(&certs.client.cert),
        path(&certs.client.key),
    );
    let run = || -> Result {
        let topic = unique("cli-tls");
        let tls = [
            "--security-protocol",
            "SSL",
            "--ssl-ca-file",
            &ca,
            "--ssl-cert-file",
            &cert,
            "--ssl-key-file",
            &key,
        ];
        let with = |args: &[&str]| {
            let all: Vec<&str> = tls.iter().chain(args).copied().collect();
            dekaf(&b, &all)
        };
        with(&["topics", "create", &topic, "-p", "2"])?.ok()?;
        let described = with(&["topics", "describe", &topic, "--json"])?
            .ok()?
            .json()?;
        check!(described.as_array().map(Vec::len) == Some(2), "{described}");

        // A CA that did not sign the broker's certificate: refused at once, on one line.
        let other = path(&certs.other_ca);
        let untrusted = dekaf(
            &b,
            &[
                "--security-protocol",
                "SSL",
                "--ssl-ca-file",
                &other,
                "cluster",
            ],
        )?;
        check!(
            untrusted.code == 1
                && untrusted.stderr.starts_with("dekaf: error: TLS")
                && untrusted.stderr.lines().count() == 1,
            "{untrusted:?}"
        );
        // A certificate without its key is a usage error.
        let half = dekaf(&b, &["--ssl-cert-file", &cert, "cluster"])?;
        check!(half.code == 2, "{half:?}");
        Ok(())
    };
    if let Err(e) = run() {
        panic!(
            "TLS: {e}\n--- stunnel ---\n{}\n--- broker ---\n{}",
            tunnel.log(),
            broker.log()
        );
    }
}
