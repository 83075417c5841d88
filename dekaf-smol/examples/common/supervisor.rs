//! What the exactly-once examples share: a program that is its own supervisor. Run without a
//! role, it starts itself again as a worker (the same executable, `DEKAF_ROLE=worker`), kills
//! each worker with SIGKILL at a random moment once it has started working (received its
//! first records), and finally lets one worker finish.
//!
//! A worker says it has started working by printing a line that begins with [`READY`].

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::Result;

/// The variable that makes the program a worker.
pub const ROLE: &str = "DEKAF_ROLE";

/// How a worker's line saying that it has started working (received its first records)
/// begins.
pub const READY: &str = "  worker";

/// How long a worker may take to start working.
const START_LIMIT: Duration = Duration::from_secs(60);

/// Whether this process is a worker.
pub fn is_worker() -> bool {
    std::env::var(ROLE).is_ok_and(|r| r == "worker")
}

/// A worker setting the supervisor passed in the environment.
pub fn setting(name: &str) -> Result<String> {
    std::env::var(name).map_err(|_| format!("{name} is not set").into())
}

/// How many workers are killed: `DEKAF_KILLS`, default 10.
pub fn kills() -> usize {
    std::env::var("DEKAF_KILLS")
        .ok()
        .and_then(|k| k.parse().ok())
        .unwrap_or(10)
}

/// A small random number generator (xorshift), seeded from the clock: kills land at
/// different moments on each run.
pub struct Dice(u64);

impl Dice {
    /// Seeded from the clock and the process id.
    pub fn new() -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64);
        Dice((nanos ^ (u64::from(std::process::id()) << 32)) | 1)
    }

    /// A number in `0..n` (n at least 1).
    pub fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n.max(1)
    }
}

/// This program again, as a worker, with `env` set.
fn worker(env: &[(&str, String)]) -> Result<Command> {
    let mut cmd = Command::new(std::env::current_exe()?);
    cmd.env(ROLE, "worker");
    for (k, v) in env {
        cmd.env(k, v);
    }
    Ok(cmd)
}

/// What the killing did.
#[derive(Debug, Default)]
pub struct Kills {
    /// Workers killed while they ran.
    pub killed: usize,
    /// Workers that had finished the work before their kill came.
    pub finished_first: usize,
}

/// Starts `count` workers one after the other and kills each with SIGKILL a random time
/// below `max_life` after it started working (a worker that finishes first ends the
/// killing).
pub async fn kill_workers(
    env: &[(&str, String)],
    count: usize,
    max_life: Duration,
    dice: &mut Dice,
) -> Result<Kills> {
    let mut kills = Kills::default();
    for _ in 0..count {
        let life = Duration::from_millis(dice.below(max_life.as_millis() as u64 + 1));
        let mut child = worker(env)?.stdout(Stdio::piped()).spawn()?;
        let ready = forward_stdout(&mut child);
        let mut deadline = None;
        let start_by = Instant::now() + START_LIMIT;
        let ended = loop {
            if let Some(status) = child.try_wait()? {
                break Some(status);
            }
            if deadline.is_none() && ready.try_recv().is_ok() {
                deadline = Some(Instant::now() + life);
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                break None;
            }
            if deadline.is_none() && Instant::now() >= start_by {
                kill(&mut child)?;
                return Err(format!("a worker did not start within {START_LIMIT:?}").into());
            }
            smol::Timer::after(Duration::from_millis(2)).await;
        };
        match ended {
            None => {
                // SIGKILL on Unix: no destructor, no flush, no goodbye to the broker.
                kill(&mut child)?;
                kills.killed += 1;
            }
            Some(status) if status.success() => {
                kills.finished_first += 1;
                break;
            }
            Some(status) => return Err(format!("a worker failed on its own: {status}").into()),
        }
    }
    Ok(kills)
}

/// Copies the worker's output to ours; the receiver hears when it started working.
fn forward_stdout(child: &mut Child) -> mpsc::Receiver<()> {
    let (tx, rx) = mpsc::channel();
    if let Some(out) = child.stdout.take() {
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                let mut stdout = std::io::stdout().lock();
                let _ = writeln!(stdout, "{line}");
                let _ = stdout.flush();
                if line.starts_with(READY) {
                    let _ = tx.send(());
                }
            }
        });
    }
    rx
}

fn kill(child: &mut Child) -> Result {
    child.kill()?;
    child.wait()?;
    Ok(())
}

/// Runs one worker to its end (at most `limit`); fails unless it exits successfully.
pub async fn finish(env: &[(&str, String)], limit: Duration) -> Result {
    let mut child = worker(env)?.spawn()?;
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait()? {
            if status.success() {
                return Ok(());
            }
            return Err(format!("the last worker failed: {status}").into());
        }
        if Instant::now() >= deadline {
            kill(&mut child)?;
            return Err(format!("the last worker did not finish within {limit:?}").into());
        }
        smol::Timer::after(Duration::from_millis(20)).await;
    }
}
