//! dekaf-smol's producer and consumer on a real broker behind the cluster proxy while it
//! damages answers (record bytes, truncated and cut frames, lying lengths, bytes flipped
//! anywhere): no panic, no hang, no damaged record handed out, and every record exactly as
//! produced once the damage stops (see `dekaf_tests::faults`). `DEKAF_FAULTS_SEED` repeats a
//! run.

use dekaf_tests::faults::{self, seed_from_env, Length, Workload};
use dekaf_tests::Build;

fn run(build: Build) {
    let seed = seed_from_env();
    let Some(report) = faults::run(Workload::Corruption, build, seed, Length::SHORT) else {
        return;
    };
    println!("{report}");
    assert!(report.passed(), "{report}");
}

#[test]
fn damaged_answers_never_reach_the_application_and_the_clients_recover_on_build_w() {
    run(Build::W);
}
