//! dekaf-state's `blocking_driver` example — a driver of its own over blocking sockets, the
//! reference for embedding the machines — run against both tansu builds, its output checked.

#[allow(dead_code, unreachable_pub, missing_docs)]
#[path = "../../dekaf-state/examples/blocking_driver.rs"]
mod blocking_driver;

use dekaf_tests::broker::temp_dir;
use dekaf_tests::{Broker, Build, Engine};

#[test]
fn the_blocking_driver_example_produces_consumes_commits_and_restarts_at_the_commit() {
    for build in Build::ALL {
        let engine = match build {
            Build::W => Engine::Memory,
            Build::C => Engine::Sqlite(temp_dir("blocking-driver")),
        };
        let Some(broker) = Broker::start(build, engine) else {
            continue;
        };
        let mut out = Vec::new();
        let result = blocking_driver::run(&broker.addr().to_string(), &mut out);
        let out = String::from_utf8_lossy(&out);
        if let Err(e) = result {
            panic!(
                "blocking_driver on {build}: {e}\n{out}\n--- broker log ---\n{}",
                broker.log()
            );
        }
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 4, "{out}");
        assert!(
            lines[0].starts_with("created topic blocking-driver-")
                && lines[0].ends_with(" with 2 partitions"),
            "{out}"
        );
        assert_eq!(lines[1], "produced 20 records, 10 to each partition");
        let commits: usize = lines[2]
            .strip_prefix(
                "consumed 20 records in order; committed offset 10 on each partition, commits made: ",
            )
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("unexpected line: {}", lines[2]));
        assert!((1..=20).contains(&commits), "{out}");
        assert_eq!(lines[3], "a new consumer of the group starts at [10, 10]");
    }
}
