//! An independent SASL server for the tests: `tests/scripts/sasl_front.py` (SCRAM by the
//! `scramp` package, PLAIN, OAUTHBEARER as Kafka's unsecured validator checks tokens) in front
//! of a tansu broker, authenticating clients itself and forwarding every other request.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::broker::{free_port, temp_dir};
use crate::{Broker, Build, Engine};

/// The front and the broker (build W, memory engine) behind it; both stopped when dropped.
#[derive(Debug)]
pub struct SaslFront {
    child: Child,
    addr: SocketAddr,
    stats: PathBuf,
    broker: Broker,
}

impl SaslFront {
    /// Starts a front that knows one user (`user`, `password`; an OAUTHBEARER token's `sub`
    /// must be `user`), gives sessions `lifetime_ms` (0: no limit but a token's expiry) and
    /// breaks SCRAM as `tamper` says (`signature`, `nonce`, `iterations`). `None` (after
    /// printing why) when python3 with scramp or the broker is missing outside CI.
    pub fn start(
        user: &str,
        password: &str,
        lifetime_ms: u64,
        tamper: Option<&str>,
    ) -> Option<SaslFront> {
        crate::init_logging();
        let found = Command::new("python3")
            .args(["-c", "import scramp"])
            .status()
            .is_ok_and(|s| s.success());
        if !found {
            if std::env::var_os("CI").is_some() {
                panic!("the scramp package is not installed: run `cargo xtask install`");
            }
            println!("skipped: python3 with scramp not found");
            return None;
        }
        let addr = free_port().expect("a free port");
        let broker = Broker::start_advertising(Build::W, Engine::Memory, addr)?;
        let stats = temp_dir("sasl-front").join("stats.json");
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts/sasl_front.py");
        let mut cmd = Command::new("python3");
        cmd.arg(script)
            .arg(addr.port().to_string())
            .arg(broker.addr().to_string())
            .args([user, password])
            .arg(lifetime_ms.to_string())
            .arg(&stats)
            .args(tamper)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let mut child = cmd.spawn().expect("start the SASL front");
        let mut line = String::new();
        let stdout = child.stdout.take().expect("stdout");
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("read the front");
        assert_eq!(line.trim(), "ready", "the SASL front did not start");
        Some(SaslFront {
            child,
            addr,
            stats,
            broker,
        })
    }

    /// Where clients connect (the broker advertises it too).
    pub fn bootstrap(&self) -> String {
        self.addr.to_string()
    }

    /// The broker behind the front.
    pub fn broker(&self) -> &Broker {
        &self.broker
    }

    /// Everything the front counted: connections, authenticated, reauthenticated, refused,
    /// expired, tokens, lifetimes_ms.
    pub fn stats(&self) -> serde_json::Value {
        let text = std::fs::read_to_string(&self.stats).unwrap_or_default();
        serde_json::from_str(&text).unwrap_or(serde_json::Value::Null)
    }

    /// One counter of [`stats`](Self::stats), 0 if absent.
    pub fn count(&self, what: &str) -> u64 {
        self.stats()[what].as_u64().unwrap_or(0)
    }

    /// The OAUTHBEARER tokens the front accepted, in order.
    pub fn tokens(&self) -> Vec<String> {
        self.list("tokens", |v| v.as_str().map(String::from))
    }

    /// The session lifetime the front sent with each accepted token.
    pub fn token_lifetimes(&self) -> Vec<Duration> {
        self.list("lifetimes_ms", |v| v.as_u64().map(Duration::from_millis))
    }

    fn list<T>(&self, what: &str, item: impl Fn(&serde_json::Value) -> Option<T>) -> Vec<T> {
        match &self.stats()[what] {
            serde_json::Value::Array(items) => items.iter().filter_map(item).collect(),
            _ => Vec::new(),
        }
    }
}

impl Drop for SaslFront {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
