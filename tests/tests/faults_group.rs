//! Three dekaf-smol consumers of one group on a real broker behind the cluster proxy, under a
//! seeded random schedule of faults (leaders and the coordinator moving, brokers down and
//! slow, connections dropped): no record lost, order kept, committed offsets never going back
//! (see `dekaf_tests::faults`). `DEKAF_FAULTS_SEED` repeats a run.

use dekaf_tests::faults::{self, seed_from_env, Length, Workload};
use dekaf_tests::Build;

fn run(workload: Workload, build: Build) {
    let seed = seed_from_env();
    let Some(report) = faults::run(workload, build, seed, Length::SHORT) else {
        return;
    };
    println!("{report}");
    assert!(report.passed(), "{report}");
}

#[test]
fn a_group_in_manual_mode_loses_nothing_and_keeps_order_under_faults() {
    run(Workload::GroupManual, Build::W);
}

#[test]
fn a_group_in_auto_mode_loses_nothing_and_keeps_order_under_faults() {
    run(Workload::GroupAuto, Build::W);
}
