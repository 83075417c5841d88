//! A running count with its rate on standard error, for people watching a long command; silent
//! when standard error is not a terminal (a script's log stays clean).

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

/// How often the line is redrawn at most.
const EVERY: Duration = Duration::from_millis(250);

/// Counts records and shows `N records (R/s)` on one redrawn line.
#[derive(Debug)]
pub struct Progress {
    what: &'static str,
    shown: bool,
    count: u64,
    started: Instant,
    drawn: Option<Instant>,
}

impl Progress {
    /// A counter of `what` ("records produced"), shown when standard error is a terminal.
    pub fn new(what: &'static str) -> Progress {
        Progress {
            what,
            shown: std::io::stderr().is_terminal(),
            count: 0,
            started: Instant::now(),
            drawn: None,
        }
    }

    /// Hidden also when standard output is a terminal: records printed there would be
    /// mixed with the line.
    pub fn unless_stdout_is_a_terminal(mut self) -> Progress {
        self.shown &= !std::io::stdout().is_terminal();
        self
    }

    /// Counts `n` more and redraws the line when it is due.
    pub fn add(&mut self, n: u64) {
        self.count += n;
        if !self.shown {
            return;
        }
        let now = Instant::now();
        if self.drawn.is_none_or(|t| now.duration_since(t) >= EVERY) {
            self.drawn = Some(now);
            self.draw(now);
        }
    }

    /// How many were counted.
    pub fn count(&self) -> u64 {
        self.count
    }

    fn draw(&self, now: Instant) {
        let secs = now.duration_since(self.started).as_secs_f64();
        let rate = if secs > 0.0 {
            self.count as f64 / secs
        } else {
            0.0
        };
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "\r\x1b[K{} {} ({rate:.0}/s)", self.count, self.what);
        let _ = err.flush();
    }

    /// Draws the final count and ends the line (when shown).
    pub fn finish(&self) {
        if self.shown && self.count > 0 {
            self.draw(Instant::now());
            eprintln!();
        }
    }
}
