//! An idempotent dekaf-smol producer on a real broker behind the cluster proxy, under a
//! seeded random schedule of faults (leaders moving, brokers down and slow, connections
//! dropped after a Produce was written): every record written once, in order (see
//! `dekaf_tests::faults`). `DEKAF_FAULTS_SEED` repeats a run.

use dekaf_tests::faults::{self, seed_from_env, Length, Workload};
use dekaf_tests::Build;

fn run(build: Build) {
    let seed = seed_from_env();
    let Some(report) = faults::run(Workload::Idempotent, build, seed, Length::SHORT) else {
        return;
    };
    println!("{report}");
    assert!(report.passed(), "{report}");
}

#[test]
fn an_idempotent_producer_writes_each_record_once_in_order_under_faults_on_build_w() {
    run(Build::W);
}

#[test]
fn an_idempotent_producer_writes_each_record_once_in_order_under_faults_on_build_c() {
    run(Build::C);
}
