//! `client_rack` against tansu, a single broker without racks: a consumer that names its rack
//! sends it in every Fetch (v11+) and in its group subscription (v3), and consumes as any
//! other: the broker names no other replica, so everything comes from the leader.

#[macro_use]
#[allow(unreachable_pub, missing_docs, unused_macros)]
#[path = "../../dekaf-smol/examples/common/mod.rs"]
mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::{create_topic, fill, unique, within};
use dekaf_smol::{AutoOffsetReset, Consumer, Error, TopicPartition};
use dekaf_tests::broker::temp_dir;
use dekaf_tests::{Broker, Build, Engine};

const WAIT: Duration = Duration::from_secs(30);

fn engine(build: Build) -> Engine {
    match build {
        Build::W => Engine::Memory,
        Build::C => Engine::Sqlite(temp_dir("smol-rack")),
    }
}

#[test]
fn a_group_member_with_a_rack_consumes_every_record_once_in_order_from_a_broker_without_racks() {
    for build in Build::ALL {
        let Some(broker) = Broker::start(build, engine(build)) else {
            continue;
        };
        let bootstrap = broker.addr().to_string();
        let result: common::Result = smol::block_on(async {
            let (topic, group) = (unique("rack"), unique("rack-group"));
            create_topic(&bootstrap, &topic, 2).await?;
            for p in 0..2 {
                fill(&bootstrap, &topic, p, 0, 10).await?;
            }
            let consumer = Consumer::builder()
                .bootstrap_servers(&bootstrap)
                .group_id(&group)
                .client_rack("rack-a")
                .auto_offset_reset(AutoOffsetReset::Earliest)
                .build()
                .await?;
            consumer.subscribe([topic.as_str()])?;
            let got = within(WAIT, "20 records", async {
                let mut got: BTreeMap<TopicPartition, Vec<i64>> = BTreeMap::new();
                while got.values().map(Vec::len).sum::<usize>() < 20 {
                    for r in consumer.recv_batch(20).await? {
                        got.entry(r.topic_partition().clone())
                            .or_default()
                            .push(r.offset());
                    }
                }
                Ok::<_, Error>(got)
            })
            .await??;
            for p in 0..2 {
                let tp = TopicPartition::new(topic.as_str(), p);
                check!(
                    got.get(&tp) == Some(&(0..10).collect::<Vec<i64>>()),
                    "{tp}: {:?}",
                    got.get(&tp)
                );
            }
            consumer.close().await?;
            Ok(())
        });
        if let Err(e) = result {
            panic!("on {build}: {e}");
        }
    }
}
