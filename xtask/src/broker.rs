//! A tansu broker for the demo: memory or SQLite engine, a free loopback port, killed when
//! dropped.

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

impl Broker {
    /// Starts `binary` with `engine` and waits until it answers ApiVersions.
    pub fn start(binary: &Path, engine: Engine) -> Result<Broker, String> {
        let addr = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .and_then(|l| l.local_addr())
            .map_err(|e| format!("no free port: {e}"))?;
        let tag = format!("{}-{}", std::process::id(), addr.port());
        let log = std::env::temp_dir().join(format!("dekaf-demo-broker-{tag}.log"));
        let out = File::create(&log).map_err(|e| format!("create {}: {e}", log.display()))?;
        let err = out.try_clone().map_err(|e| e.to_string())?;
        let url = format!("tcp://{addr}");
        let mut cmd = Command::new(binary);
        cmd.arg("broker")
            .args(["--listener-url", &url, "--advertised-listener-url", &url])
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err);
        let data = match engine {
            Engine::Memory => {
                cmd.args(["--storage-engine", "memory://tansu/"]);
                None
            }
            Engine::Sqlite => {
                // tansu takes the path after `sqlite://` relative to its working directory.
                let dir = std::env::temp_dir().join(format!("dekaf-demo-sqlite-{tag}"));
                std::fs::create_dir_all(&dir)
                    .map_err(|e| format!("create {}: {e}", dir.display()))?;
                cmd.args(["--storage-engine", "sqlite://tansu.db"])
                    .current_dir(&dir);
                Some(dir)
            }
        };
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
