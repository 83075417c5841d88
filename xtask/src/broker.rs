//! A tansu broker for the demo: memory or SQLite engine, a free loopback port, killed when
//! dropped; or build C requiring SASL authentication, behind a TLS terminator.

use std::fs::File;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long the broker may take to answer its first request.
const STARTUP_DEADLINE: Duration = Duration::from_secs(30);

/// Where the broker keeps its data.
pub enum Engine {
    /// In memory (both builds).
    Memory,
    /// A SQLite file in a fresh directory, removed when the broker stops (build C only).
    Sqlite,
}

/// A running broker.
pub struct Broker {
    child: Child,
    addr: SocketAddr,
    log: PathBuf,
    /// The SQLite engine's directory, if any.
    data: Option<PathBuf>,
}

/// A loopback address whose port was free a moment ago.
pub fn free_port() -> Result<SocketAddr, String> {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .map_err(|e| format!("no free port: {e}"))
}

impl Broker {
    /// Starts `binary` with `engine` and waits until it answers ApiVersions.
    pub fn start(binary: &Path, engine: Engine) -> Result<Broker, String> {
        let addr = free_port()?;
        let data = match engine {
            Engine::Memory => None,
            Engine::Sqlite => Some(sqlite_dir(addr)?),
        };
        Broker::launch(binary, addr, addr, data, &[])
    }

    /// Starts build C (`binary`) on SQLite requiring SASL authentication (SCRAM-SHA-512, as
    /// tansu offers it), advertising `advertised` (a TLS terminator in front of it): the
    /// `users` are created on a plain broker first, which is then restarted on the same port
    /// and database with `--authentication`.
    pub fn start_authenticating(
        binary: &Path,
        users: &[(&str, &str)],
        advertised: SocketAddr,
    ) -> Result<Broker, String> {
        let addr = free_port()?;
        let data = sqlite_dir(addr)?;
        let plain = Broker::launch(binary, addr, advertised, Some(data.clone()), &[])?;
        for (name, password) in users {
            let out = Command::new(binary)
                .args(["user", "create", "--broker", &format!("tcp://{addr}")])
                .args([name, password])
                .stdin(Stdio::null())
                .output()
                .map_err(|e| format!("tansu user create: {e}"))?;
            if !out.status.success() {
                return Err(format!(
                    "tansu user create {name}: {}\n{}",
                    String::from_utf8_lossy(&out.stderr),
                    plain.log()
                ));
            }
        }
        plain.stop_keeping_data();
        Broker::launch(binary, addr, advertised, Some(data), &["--authentication"])
    }

    /// Starts `binary` listening on `addr`, advertising `advertised`, on SQLite in `data`
    /// (memory without), and waits until it answers ApiVersions.
    fn launch(
        binary: &Path,
        addr: SocketAddr,
        advertised: SocketAddr,
        data: Option<PathBuf>,
        extra: &[&str],
    ) -> Result<Broker, String> {
        let tag = format!("{}-{}", std::process::id(), addr.port());
        let log = std::env::temp_dir().join(format!("dekaf-demo-broker-{tag}.log"));
        let out = File::create(&log).map_err(|e| format!("create {}: {e}", log.display()))?;
        let err = out.try_clone().map_err(|e| e.to_string())?;
        let mut cmd = Command::new(binary);
        cmd.arg("broker")
            .args(["--listener-url", &format!("tcp://{addr}")])
            .args(["--advertised-listener-url", &format!("tcp://{advertised}")])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err);
        match &data {
            None => {
                cmd.args(["--storage-engine", "memory://tansu/"]);
            }
            // tansu takes the path after `sqlite://` relative to its working directory.
            Some(dir) => {
                cmd.args(["--storage-engine", "sqlite://tansu.db"])
                    .current_dir(dir);
            }
        }
        let child = cmd
            .spawn()
            .map_err(|e| format!("spawn {}: {e}", binary.display()))?;
        let mut broker = Broker {
            child,
            addr,
            log,
            data,
        };
        broker.wait_ready()?;
        Ok(broker)
    }

    /// Stops the broker, leaving its database for the next one.
    fn stop_keeping_data(mut self) {
        self.data = None;
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Its output so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn wait_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + STARTUP_DEADLINE;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("the broker exited with {status}:\n{}", self.log()));
            }
            if answers_api_versions(self.addr) {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Err(format!(
            "the broker did not answer on {} within {STARTUP_DEADLINE:?}:\n{}",
            self.addr,
            self.log()
        ))
    }
}

/// A fresh directory for a SQLite database.
fn sqlite_dir(addr: SocketAddr) -> Result<PathBuf, String> {
    let tag = format!("{}-{}", std::process::id(), addr.port());
    let dir = std::env::temp_dir().join(format!("dekaf-demo-sqlite-{tag}"));
    std::fs::create_dir_all(&dir).map_err(|e| format!("create {}: {e}", dir.display()))?;
    Ok(dir)
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.log);
        if let Some(dir) = &self.data {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// Sends ApiVersions v0 (written out by hand: this crate has no protocol code) and waits for a
/// response frame with the same correlation id.
fn answers_api_versions(addr: SocketAddr) -> bool {
    let attempt = || -> std::io::Result<bool> {
        let mut stream = TcpStream::connect_timeout(&addr, Duration::from_millis(200))?;
        stream.set_read_timeout(Some(Duration::from_secs(2)))?;
        // size 10 | api key 18 | version 0 | correlation id 1 | client id null
        stream.write_all(&[0, 0, 0, 10, 0, 18, 0, 0, 0, 0, 0, 1, 0xff, 0xff])?;
        let mut head = [0u8; 8];
        stream.read_exact(&mut head)?;
        Ok(head[4..8] == [0, 0, 0, 1])
    };
    attempt().unwrap_or(false)
}
