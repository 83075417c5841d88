//! Mixed groups on tansu (build W): a dekaf-smol consumer and a librdkafka consumer (the
//! `confluent-kafka` Python package, `scripts/group_member.py`) subscribed to one 4-partition
//! topic, for each assignor both speak (`range`, `roundrobin`, `cooperative-sticky`), led once
//! by each client.
//!
//! Each case: the first member joins alone and reads everything; the second joins (the first
//! stays the leader: it is the one that joined first); the partitions are split completely and
//! disjointly, and each member receives only records of the partitions it holds; then the
//! leader leaves and the other takes its partitions over from the committed offsets. Both
//! commit each batch (each record, for librdkafka) and again when partitions are revoked, so
//! every record is received exactly once over the whole run.
//!
//! Needs `python3` with `confluent_kafka` (`cargo xtask install`); skipped without it, except
//! in CI.

#[macro_use]
#[allow(unreachable_pub, missing_docs)]
#[path = "../../dekaf-smol/examples/common/mod.rs"]
mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{create_topic, fill, unique, within};
use dekaf_smol::{AutoOffsetReset, Consumer, OffsetCommitMode, TopicPartition};
use dekaf_tests::broker::temp_dir;
use dekaf_tests::smol_member::{lock, until, Hook, Member, Recorder, SharedLog};
use dekaf_tests::{librdkafka, Broker, Build, Engine};

type Result<T = ()> = common::Result<T>;

const WAIT: Duration = Duration::from_secs(60);
const PARTITIONS: i32 = 4;

/// One JoinGroup answer librdkafka logged.
#[derive(Clone, Debug)]
struct Join {
    generation: i64,
    protocol: String,
    leader: String,
    member: String,
}

/// What the librdkafka member reported.
#[derive(Debug, Default)]
struct PyLog {
    assignment: BTreeSet<i32>,
    records: Vec<(i32, i64)>,
    joins: Vec<Join>,
    hooks: Vec<(String, Vec<i32>)>,
    errors: Vec<String>,
    violations: Vec<String>,
    closed: bool,
}

/// The librdkafka member: a Python process, its commands in, its events out.
struct PyMember {
    child: Child,
    stdin: Option<ChildStdin>,
    log: Arc<Mutex<PyLog>>,
    stderr: std::path::PathBuf,
}

fn plock(log: &Arc<Mutex<PyLog>>) -> std::sync::MutexGuard<'_, PyLog> {
    log.lock().unwrap_or_else(|e| e.into_inner())
}

impl PyMember {
    fn start(bootstrap: &str, group: &str, topic: &str, assignor: &str) -> PyMember {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/group_member.py");
        let stderr = temp_dir("group-member").join("stderr.log");
        let mut child = Command::new("python3")
            .arg(script)
            .args([bootstrap, group, topic, assignor])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&stderr).expect("stderr file"))
            .spawn()
            .expect("run python3");
        let stdout = child.stdout.take().expect("stdout");
        let log = Arc::new(Mutex::new(PyLog::default()));
        let l = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                let Ok(v) = serde_json::from_str::<serde_json::Value>(&line) else {
                    plock(&l).errors.push(format!("not JSON: {line}"));
                    continue;
                };
                let ints = |key: &str| -> Vec<i32> {
                    v[key]
                        .as_array()
                        .map(|a| {
                            a.iter()
                                .filter_map(|x| x.as_i64())
                                .map(|x| x as i32)
                                .collect()
                        })
                        .unwrap_or_default()
                };
                let text = |key: &str| v[key].as_str().unwrap_or_default().to_string();
                let mut log = plock(&l);
                match v["event"].as_str().unwrap_or_default() {
                    "record" => log.records.push((
                        v["partition"].as_i64().unwrap_or(-1) as i32,
                        v["offset"].as_i64().unwrap_or(-1),
                    )),
                    e @ ("assigned" | "revoked" | "lost") => {
                        log.assignment = ints("assignment").into_iter().collect();
                        log.hooks.push((e.to_string(), ints("partitions")));
                    }
                    "join" => log.joins.push(Join {
                        generation: v["generation"].as_i64().unwrap_or(-1),
                        protocol: text("protocol"),
                        leader: text("leader"),
                        member: text("member"),
                    }),
                    "error" => log.errors.push(text("message")),
                    "violation" => log.violations.push(text("message")),
                    "closed" => log.closed = true,
                    other => log.errors.push(format!("unknown event {other}: {line}")),
                }
            }
        });
        let stdin = child.stdin.take();
        PyMember {
            child,
            stdin,
            log,
            stderr,
        }
    }

    /// The partitions it holds, by its last hook.
    fn assignment(&self, topic: &str) -> BTreeSet<TopicPartition> {
        plock(&self.log)
            .assignment
            .iter()
            .map(|p| TopicPartition::new(topic, *p))
            .collect()
    }

    fn records(&self) -> usize {
        plock(&self.log).records.len()
    }

    /// Its member id and the leader of the last generation it joined.
    fn last_join(&self) -> Option<Join> {
        plock(&self.log)
            .joins
            .iter()
            .rev()
            .find(|j| j.generation >= 0 && !j.leader.is_empty())
            .cloned()
    }

    /// Asks it to close (it leaves the group) and waits for the process to end.
    async fn close(&mut self) -> Result {
        if let Some(mut stdin) = self.stdin.take() {
            writeln!(stdin, "close")?;
        }
        let log = self.log.clone();
        until(WAIT, "librdkafka's close", || plock(&log).closed).await?;
        let _ = self.child.wait();
        Ok(())
    }

    fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }
}

impl Drop for PyMember {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Which client joins first (and so leads the group), and later leaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum First {
    Dekaf,
    Librdkafka,
}

async fn fill_all(bootstrap: &str, topic: &str, first: i64, n: i64) -> Result {
    for p in 0..PARTITIONS {
        fill(bootstrap, topic, p, first, n).await?;
    }
    Ok(())
}

async fn start_dekaf(
    bootstrap: &str,
    group: &str,
    topic: &str,
    assignor: &str,
    log: &SharedLog,
) -> Result<Member> {
    let consumer = Consumer::builder()
        .bootstrap_servers(bootstrap)
        .group_id(group)
        .client_id("dekaf-member")
        .offset_commit_mode(OffsetCommitMode::Manual)
        .auto_offset_reset(AutoOffsetReset::Earliest)
        .session_timeout(Duration::from_secs(6))
        .heartbeat_interval(Duration::from_secs(1))
        .rebalance_timeout(Duration::from_secs(20))
        .assignors([assignor])
        .rebalance_listener(Recorder::new(log.clone(), true))
        .build()
        .await?;
    consumer.subscribe([topic])?;
    Ok(Member::start(consumer, log.clone(), true))
}

/// Each partition's records `0..end` were received exactly once over both members.
fn exactly_once(dekaf: &SharedLog, py: &PyMember, topic: &str, end: i64) -> Result {
    let mut got: BTreeMap<i32, Vec<i64>> = BTreeMap::new();
    for (tp, offset, _) in &lock(dekaf).records {
        check!(tp.topic() == topic, "dekaf received {tp}");
        got.entry(tp.partition()).or_default().push(*offset);
    }
    for (p, offset) in &plock(&py.log).records {
        got.entry(*p).or_default().push(*offset);
    }
    for p in 0..PARTITIONS {
        let mut offsets = got.remove(&p).unwrap_or_default();
        offsets.sort_unstable();
        check!(
            offsets == (0..end).collect::<Vec<_>>(),
            "partition {p}: received {offsets:?}, not 0..{end} once each"
        );
    }
    Ok(())
}

/// Neither member received a record of a partition it did not hold, nor lost partitions.
fn check_logs(dlog: &SharedLog, py: &PyMember) -> Result {
    let d = lock(dlog);
    check!(d.violations.is_empty(), "dekaf: {:?}", d.violations);
    let p = plock(&py.log);
    check!(p.violations.is_empty(), "librdkafka: {:?}", p.violations);
    check!(
        !d.hooks.iter().any(|h| matches!(h, Hook::Lost(_))),
        "dekaf lost partitions: {:?}",
        d.hooks
    );
    check!(
        !p.hooks.iter().any(|(e, _)| e == "lost"),
        "librdkafka lost partitions: {:?}",
        p.hooks
    );
    Ok(())
}

async fn mixed(bootstrap: &str, assignor: &str, first: First) -> Result {
    let (topic, group) = (unique("mixed"), unique(&format!("mixed-{assignor}")));
    create_topic(bootstrap, &topic, PARTITIONS).await?;
    fill_all(bootstrap, &topic, 0, 10).await?;
    let all: BTreeSet<TopicPartition> = (0..PARTITIONS)
        .map(|p| TopicPartition::new(topic.as_str(), p))
        .collect();
    let dlog = SharedLog::default();
    let dekaf_count = || lock(&dlog).records.len();

    // The first member joins alone, and so leads; the second joins once it has read all.
    let (dekaf, mut py) = match first {
        First::Dekaf => {
            let d = start_dekaf(bootstrap, &group, &topic, assignor, &dlog).await?;
            until(WAIT, "dekaf alone holds all and read 40", || {
                d.assignment() == all && dekaf_count() == 40
            })
            .await?;
            let py = PyMember::start(bootstrap, &group, &topic, assignor);
            (d, py)
        }
        First::Librdkafka => {
            let py = PyMember::start(bootstrap, &group, &topic, assignor);
            until(WAIT, "librdkafka alone holds all and read 40", || {
                py.assignment(&topic) == all && py.records() == 40
            })
            .await?;
            let d = start_dekaf(bootstrap, &group, &topic, assignor, &dlog).await?;
            (d, py)
        }
    };
    let result = async {
        until(WAIT, "the two members split the partitions", || {
            let (x, y) = (dekaf.assignment(), py.assignment(&topic));
            !x.is_empty() && !y.is_empty() && x.is_disjoint(&y) && (&x | &y) == all
        })
        .await?;
        let join = py
            .last_join()
            .ok_or("librdkafka logged no JoinGroup answer")?;
        check!(
            join.protocol == assignor,
            "the group runs {:?}, not {assignor}",
            join.protocol
        );
        let dekaf_id = dekaf
            .consumer
            .group_metadata()
            .map(|m| m.member_id)
            .unwrap_or_default();
        let leader = match first {
            First::Dekaf => dekaf_id.clone(),
            First::Librdkafka => join.member.clone(),
        };
        check!(
            join.leader == leader,
            "{first:?} joined first and should lead: leader {}, dekaf {dekaf_id}, librdkafka {}",
            join.leader,
            join.member
        );
        if assignor != "cooperative-sticky" {
            check!(
                dekaf.assignment().len() == 2,
                "{assignor} splits 4 partitions 2/2: dekaf has {:?}",
                dekaf.assignment()
            );
        }
        fill_all(bootstrap, &topic, 10, 10).await?;
        until(WAIT, "80 records over both", || {
            dekaf_count() + py.records() == 80
        })
        .await?;
        let split_dekaf = dekaf.assignment();
        for (tp, offset, _) in lock(&dlog).records.iter().skip(40) {
            if first == First::Dekaf && !split_dekaf.contains(tp) {
                // Read before the split, when dekaf held everything.
                check!(*offset < 10, "dekaf read {tp}@{offset} after the split");
            }
        }

        // The leader leaves; the other takes its partitions over from the committed offsets.
        let dekaf = match first {
            First::Dekaf => {
                within(WAIT, "dekaf's close", dekaf.close()).await??;
                until(WAIT, "librdkafka takes all", || {
                    py.assignment(&topic) == all
                })
                .await?;
                None
            }
            First::Librdkafka => {
                py.close().await?;
                until(WAIT, "dekaf takes all", || dekaf.assignment() == all).await?;
                Some(dekaf)
            }
        };
        fill_all(bootstrap, &topic, 20, 10).await?;
        until(WAIT, "120 records over both", || {
            dekaf_count() + plock(&py.log).records.len() == 120
        })
        .await?;
        exactly_once(&dlog, &py, &topic, 30)?;
        check_logs(&dlog, &py)?;
        match dekaf {
            Some(d) => within(WAIT, "dekaf's close", d.close()).await??,
            None => py.close().await?,
        }
        Ok(())
    }
    .await;
    if result.is_err() {
        eprintln!("--- librdkafka ---\n{:#?}\n{}", plock(&py.log), py.stderr());
        eprintln!("--- dekaf ---\n{:#?}", lock(&dlog));
    }
    result
}

fn run(assignor: &str, first: First) {
    if !librdkafka::available() {
        return;
    }
    let Some(broker) = Broker::start(Build::W, Engine::Memory) else {
        return;
    };
    let result = smol::block_on(mixed(&broker.addr().to_string(), assignor, first));
    if let Err(e) = result {
        panic!(
            "{assignor}, {first:?} first: {e}\n--- broker log ---\n{}",
            broker.log()
        );
    }
}

#[test]
fn range_led_by_dekaf_which_leaves() {
    run("range", First::Dekaf);
}

#[test]
fn range_led_by_librdkafka_which_leaves() {
    run("range", First::Librdkafka);
}

#[test]
fn roundrobin_led_by_dekaf_which_leaves() {
    run("roundrobin", First::Dekaf);
}

#[test]
fn roundrobin_led_by_librdkafka_which_leaves() {
    run("roundrobin", First::Librdkafka);
}

#[test]
fn cooperative_sticky_led_by_dekaf_which_leaves() {
    run("cooperative-sticky", First::Dekaf);
}

#[test]
fn cooperative_sticky_led_by_librdkafka_which_leaves() {
    run("cooperative-sticky", First::Librdkafka);
}
