//! `dekaf`: a command line for Kafka on the dekaf client — consumer groups (lag, offset
//! resets), topics, the cluster, and a consumer and producer for debugging.
//!
//! Every command that prints data prints a table (or the records) by default and JSON with
//! `--json`. Exit codes: 0 done; 1 refused, failed or done only in part; 2 the command line
//! is wrong. Errors go to standard error on one line, `dekaf: error: ...`.

mod cli;
mod connect;
mod consume;
mod format;
mod groups;
mod plan;
mod produce;
mod progress;
mod table;
mod topics;
mod view;

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;

use cli::{Cli, Command};
use connect::Settings;

/// Why a command did not do (all of) its job, and so which exit code it ends with.
#[derive(Debug)]
pub enum Failure {
    /// The command line asks for something impossible: exit code 2.
    Usage(String),
    /// Refused, failed, or done only in part: exit code 1. The message, if any, is printed
    /// (what was done has been printed already).
    Failed(Option<String>),
}

impl Failure {
    /// A failure with a message.
    pub fn failed(message: impl Into<String>) -> Failure {
        Failure::Failed(Some(message.into()))
    }
}

impl From<dekaf_smol::Error> for Failure {
    fn from(e: dekaf_smol::Error) -> Failure {
        Failure::failed(e.to_string())
    }
}

impl From<std::io::Error> for Failure {
    fn from(e: std::io::Error) -> Failure {
        Failure::failed(e.to_string())
    }
}

/// What every command gets: the settings, and whether to print JSON.
#[derive(Clone, Debug)]
pub struct Context {
    /// How to connect.
    pub settings: Settings,
    /// Print JSON instead of tables.
    pub json: bool,
}

impl Context {
    /// Prints `text` to standard output (a closed pipe is not an error).
    pub fn print(&self, text: &str) -> Result<(), Failure> {
        let mut out = std::io::stdout().lock();
        match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
            Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
            _ => Ok(()),
        }
    }

    /// Prints a JSON document on a line of its own.
    pub fn print_json(&self, value: &serde_json::Value) -> Result<(), Failure> {
        self.print(&format!("{value:#}\n"))
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = Settings::from_args(&cli.connection).and_then(|settings| {
        let cx = Context {
            settings,
            json: cli.json,
        };
        futures_lite::future::block_on(run(&cx, cli.command))
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Usage(message)) => {
            eprintln!("dekaf: error: {message}");
            ExitCode::from(2)
        }
        Err(Failure::Failed(message)) => {
            if let Some(message) = message {
                eprintln!("dekaf: error: {}", one_line(&message));
            }
            ExitCode::from(1)
        }
    }
}

/// Runs one command.
async fn run(cx: &Context, command: Command) -> Result<(), Failure> {
    match command {
        Command::Groups(command) => groups::run(cx, command).await,
        Command::Topics(command) => topics::run(cx, command).await,
        Command::Cluster => topics::cluster(cx).await,
        Command::Consume(args) => consume::run(cx, args).await,
        Command::Produce(args) => produce::run(cx, args).await,
    }
}

/// An error message on one line: line breaks become "; ".
fn one_line(message: &str) -> String {
    message
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("; ")
}
