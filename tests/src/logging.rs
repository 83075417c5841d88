//! Log lines for reading a failing run: every harness piece a test starts (a broker, a
//! proxy, a driver, a simulation helper) installs, once per test binary, a subscriber that
//! writes what `RUST_LOG` asks for, so that `RUST_LOG=dekaf_state=debug cargo test ...`
//! works for any test without each one setting logging up.

use std::sync::Once;

/// Installs a `tracing` subscriber filtered by `RUST_LOG`, once per process; does nothing
/// when `RUST_LOG` is unset or invalid, or when the test installed its own subscriber first
/// (a test that captures log lines keeps them). Lines go through the test harness's output
/// capture, so `cargo test` shows them for failing tests only (or all, with `--nocapture`).
pub fn init_logging() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let Ok(filter) = tracing_subscriber::EnvFilter::try_from_default_env() else {
            return;
        };
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_test_writer()
            .try_init();
    });
}
