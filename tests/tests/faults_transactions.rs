//! Consume-transform-produce in transactions with dekaf-smol on tansu build W behind the
//! cluster proxy, under a seeded random schedule of faults (leaders and both coordinators
//! moving, brokers down and slow, connections dropped after EndTxn and the like): under
//! read_committed each input record's transform exactly once, each transaction all or
//! nothing (see `dekaf_tests::faults`). `DEKAF_FAULTS_SEED` repeats a run.

use dekaf_tests::faults::{self, seed_from_env, Length, Workload};
use dekaf_tests::Build;

#[test]
fn consume_transform_produce_is_exactly_once_under_faults() {
    let seed = seed_from_env();
    let Some(report) = faults::run(Workload::Transactions, Build::W, seed, Length::SHORT) else {
        return;
    };
    println!("{report}");
    assert!(report.passed(), "{report}");
}
