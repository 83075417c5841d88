//! librdkafka as a peer, through the `confluent-kafka` Python package and the helper scripts in
//! `tests/scripts/`.

use std::path::Path;
use std::process::Command;

/// Whether python3 with `confluent_kafka` is there to test against. Outside CI a missing
/// package skips the test (it says so); with `CI` set it fails.
pub fn available() -> bool {
    let found = Command::new("python3")
        .args(["-c", "import confluent_kafka"])
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        if std::env::var_os("CI").is_some() {
            panic!("confluent_kafka is not installed: run `cargo xtask install`");
        }
        println!("skipped: python3 with confluent_kafka not found");
    }
    found
}

/// Runs `tests/scripts/<name>` with `args` and returns what it printed; panics with its
/// error output when it fails.
pub fn script(name: &str, args: &[&str]) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scripts")
        .join(name);
    let out = Command::new("python3")
        .arg(path)
        .args(args)
        .output()
        .expect("run python3");
    assert!(
        out.status.success(),
        "{name} {args:?}: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}
