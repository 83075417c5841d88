//! What a partition's log tells about its records: the record at an offset, the offset for a
//! timestamp, and whether a producer's transaction is open.

use dekaf_proto::records::Compression;
use dekaf_sim::{Cluster, Txn, T0};

const TOPIC: &str = "t";

fn cluster() -> Cluster {
    let mut cluster = Cluster::new(1, 1);
    cluster.create_topic(TOPIC, 1);
    cluster
}

#[test]
fn record_at_gives_data_records_but_not_markers_or_offsets_past_the_end() {
    let mut cluster = cluster();
    cluster.append(TOPIC, 0, 2, Compression::None, None);
    cluster.append(TOPIC, 0, 2, Compression::None, Some(7));
    cluster.end_txn(7, false);
    let part = cluster.partition(TOPIC, 0);
    assert_eq!(
        part.end, 5,
        "two plain records, two in a transaction, a marker"
    );
    for offset in 0..4 {
        let record = part.record_at(offset).expect("a data record");
        assert_eq!(record.offset, offset);
        assert_eq!(
            record.value.as_deref(),
            Some(format!("t/0/{offset}").as_bytes())
        );
    }
    assert_eq!(part.record_at(1).map(|r| r.txn), Some(Txn::None));
    assert_eq!(part.record_at(2).map(|r| r.txn), Some(Txn::Aborted));
    assert!(part.record_at(4).is_none(), "offset 4 is the abort marker");
    assert!(part.record_at(5).is_none(), "offset 5 is past the end");
    assert!(part.record_at(-1).is_none());
}

#[test]
fn offset_for_time_finds_the_first_record_as_recent_from_the_log_start() {
    let mut cluster = cluster();
    cluster.append(TOPIC, 0, 5, Compression::None, None);
    let part = cluster.partition(TOPIC, 0);
    assert_eq!(part.offset_for_time(T0), Some((0, T0)));
    assert_eq!(part.offset_for_time(T0 + 15), Some((2, T0 + 20)));
    assert_eq!(
        part.offset_for_time(T0 + 41),
        None,
        "no record is that recent"
    );
    cluster.delete_records(TOPIC, 0, 3);
    let part = cluster.partition(TOPIC, 0);
    assert_eq!(
        part.offset_for_time(T0),
        Some((3, T0 + 30)),
        "records below the log start are not found"
    );
}

#[test]
fn a_producer_has_an_open_transaction_from_its_first_record_to_its_marker() {
    let mut cluster = cluster();
    assert!(!cluster.partition(TOPIC, 0).has_open_transaction(7));
    cluster.append(TOPIC, 0, 1, Compression::None, Some(7));
    let part = cluster.partition(TOPIC, 0);
    assert!(part.has_open_transaction(7));
    assert!(
        !part.has_open_transaction(8),
        "another producer's is not open"
    );
    cluster.end_txn(7, true);
    assert!(!cluster.partition(TOPIC, 0).has_open_transaction(7));
}
