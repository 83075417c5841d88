//! A broker killed with SIGKILL while an idempotent producer writes and a consumer group
//! reads, then started again on the same port and database (tansu build C, SQLite): the
//! clients recover by themselves (nobody rebuilds them), the idempotent producer writes no
//! record twice, every record it was told is written is there, in send order per partition,
//! the consumer reads every record, and the group's committed offsets survive. The time each
//! client took to recover is printed. The short form of the `restart` fault workload (see
//! `dekaf_tests::faults`); `cargo xtask soak --workload restart` kills up to three times per
//! run with new seeds. `DEKAF_FAULTS_SEED` repeats a run.

use dekaf_tests::faults::{self, seed_from_env, Length, Workload};
use dekaf_tests::Build;

#[test]
fn clients_recover_from_a_broker_killed_and_restarted() {
    let seed = seed_from_env();
    let Some(report) = faults::run(Workload::Restart, Build::C, seed, Length::SHORT) else {
        return;
    };
    println!("{report}");
    assert!(report.passed(), "{report}");
}
