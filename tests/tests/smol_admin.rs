//! dekaf-smol's `Admin` against tansu: every call, each item with its own result, a group's
//! offsets refused while a consumer is in it and taken up by the next consumer, a group's lag
//! as librdkafka sees it, TLS, and each place where tansu answers otherwise than Kafka
//! (pinned here, listed in docs/DESIGN.md).

#[macro_use]
#[allow(unreachable_pub, missing_docs)]
#[path = "../../dekaf-smol/examples/common/mod.rs"]
mod common;

use dekaf_tests::ready::BuildReady;
use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::Duration;

use common::{create_topic, fill, fill_one_by_one, now_millis, unique, wait_for, within};
use dekaf_proto::messages::delete_groups::DeletableGroupResult;
use dekaf_proto::messages::metadata::MetadataResponseBroker;
use dekaf_proto::messages::offset_commit::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use dekaf_proto::messages::{
    DeleteGroupsRequest, DeleteGroupsResponse, FindCoordinatorResponse, MetadataResponse,
    OffsetCommitRequest,
};
use dekaf_proto::ApiKey;
use dekaf_proto::Message;
use dekaf_smol::admin::{
    AdminError, AlterConfigOp, AlterOptions, ConfigResource, ConfigResourceKind, ConfigSource,
    GroupFilter, GroupOffsetsQuery, GroupState, NewPartitions, NewTopic, OffsetQuery,
};
use dekaf_smol::{
    Admin, AutoOffsetReset, Consumer, Error, ErrorCode, IsolationLevel, OffsetAndMetadata,
    OffsetCommitMode, SecurityProtocol, TlsSettings, TopicPartition,
};
use dekaf_tests::broker::temp_dir;
use dekaf_tests::proxy::Proxy;
use dekaf_tests::scripted::{fake, Conn};
use dekaf_tests::smol_member::{until, Member, SharedLog};
use dekaf_tests::tls::{tunnel_port, Certs, ClientAuth, Stunnel};
use dekaf_tests::{librdkafka, Broker, Build, Engine};

type Result<T = ()> = common::Result<T>;

/// How long a test waits for any one thing.
const WAIT: Duration = Duration::from_secs(30);

/// tansu's one node id.
const NODE: i32 = 111;

fn engine(build: Build) -> Engine {
    match build {
        Build::W => Engine::Memory,
        Build::C => Engine::Sqlite(temp_dir("smol-admin")),
    }
}

/// Runs `test` against a fresh broker of `build` (skipped when it is not installed).
fn on<F, Fut>(build: Build, name: &str, test: F)
where
    F: FnOnce(Build, String) -> Fut,
    Fut: std::future::Future<Output = Result>,
{
    let Some(broker) = Broker::start(build, engine(build)) else {
        return;
    };
    if let Err(e) = smol::block_on(test(build, broker.addr().to_string())) {
        panic!(
            "{name} on {build}: {e}\n--- broker log ---\n{}",
            broker.log()
        );
    }
}

/// Runs `test` against a fresh broker of each build.
fn on_both<F, Fut>(name: &str, test: F)
where
    F: Fn(Build, String) -> Fut,
    Fut: std::future::Future<Output = Result>,
{
    for build in Build::ALL {
        on(build, name, &test);
    }
}

async fn admin(bootstrap: &str) -> Result<Admin> {
    Ok(Admin::builder()
        .bootstrap_servers(bootstrap)
        .client_id("dekaf-admin-test")
        .request_timeout(Duration::from_secs(10))
        .connect_timeout(Duration::from_secs(10))
        .build()
        .await?)
}

fn tp(topic: &str, partition: i32) -> TopicPartition {
    TopicPartition::new(topic, partition)
}

/// The broker's code in an item's error.
fn code<T: std::fmt::Debug>(result: &std::result::Result<T, AdminError>) -> Option<ErrorCode> {
    result.as_ref().err().and_then(AdminError::code)
}

/// A consumer of `group` in Manual mode, starting from the earliest offset.
fn consumer(bootstrap: &str, group: &str) -> dekaf_smol::ConsumerBuilder {
    Consumer::builder()
        .bootstrap_servers(bootstrap)
        .group_id(group)
        .client_id("dekaf-admin-member")
        .offset_commit_mode(OffsetCommitMode::Manual)
        .auto_offset_reset(AutoOffsetReset::Earliest)
        .session_timeout(Duration::from_secs(6))
        .heartbeat_interval(Duration::from_secs(1))
}

/// A subscribed member of `group` that commits after each batch, once it holds every
/// partition of `topic` (`partitions` of them).
async fn member(bootstrap: &str, group: &str, topic: &str, partitions: i32) -> Result<Member> {
    let c = consumer(bootstrap, group).build().await?;
    c.subscribe([topic])?;
    let member = Member::start(c, SharedLog::default(), true);
    let all: BTreeSet<TopicPartition> = (0..partitions).map(|p| tp(topic, p)).collect();
    until(WAIT, "the member holds every partition", || {
        member.assignment() == all
    })
    .await?;
    Ok(member)
}

/// The committed offsets of `group`, by partition.
async fn committed(admin: &Admin, group: &str) -> Result<BTreeMap<TopicPartition, i64>> {
    let mut listed = admin
        .list_group_offsets([GroupOffsetsQuery::all(group)])
        .await?;
    let offsets = listed.remove(group).ok_or("no result for the group")??;
    let mut out = BTreeMap::new();
    for (tp, result) in offsets {
        if let Some(offset) = result? {
            out.insert(tp, offset.offset);
        }
    }
    Ok(out)
}

// ----- topics -----

#[test]
fn topics_are_created_listed_described_and_deleted_each_with_its_own_result() {
    // Build W only: on build C deleting a topic can make others vanish (docs/DESIGN.md).
    on(Build::W, "topics", |_, bootstrap| async move {
        let admin = admin(&bootstrap).await?;
        let (a, b, c) = (unique("admin-a"), unique("admin-b"), unique("admin-c"));
        let unknown = unique("admin-unknown");
        let created = admin
            .create_topics(
                [
                    NewTopic::new(&a, 3)
                        .replication_factor(1)
                        .config("retention.ms", "123456"),
                    NewTopic::new(&b, 1),
                ],
                AlterOptions::apply(),
            )
            .await?;
        let new_a = created[&a].as_ref().map_err(|e| format!("{a}: {e}"))?;
        check!(
            new_a.partitions == Some(3)
                && new_a.replication_factor == Some(1)
                && new_a.topic_id.is_some(),
            "{new_a:?}"
        );
        check!(created[&b].is_ok(), "{created:?}");

        // One topic refused, the other created: each has its own result.
        let again = admin
            .create_topics(
                [NewTopic::new(&a, 3), NewTopic::new(&c, 2)],
                AlterOptions::apply(),
            )
            .await?;
        check!(
            code(&again[&a]) == Some(ErrorCode::TOPIC_ALREADY_EXISTS),
            "{again:?}"
        );
        check!(again[&c].is_ok(), "{again:?}");
        // The single-topic shorthand says the same as an error.
        let e = admin
            .create_topic(NewTopic::new(&a, 1))
            .await
            .expect_err("a topic created twice");
        check!(
            e.error_code() == Some(ErrorCode::TOPIC_ALREADY_EXISTS),
            "{e}"
        );

        let listed = admin.list_topics(false).await?;
        let names: BTreeSet<&str> = listed.iter().map(|t| t.name.as_str()).collect();
        check!(
            names.contains(a.as_str()) && names.contains(b.as_str()) && names.contains(c.as_str()),
            "{names:?}"
        );
        let listed_a = listed.iter().find(|t| t.name == a).ok_or("a is listed")?;
        check!(
            listed_a.partitions == 3
                && !listed_a.is_internal
                && listed_a.topic_id == new_a.topic_id,
            "{listed_a:?}"
        );
        check!(
            admin.list_topics(true).await?.len() >= listed.len(),
            "internal topics come on top"
        );

        let described = admin
            .describe_topics([a.as_str(), unknown.as_str()])
            .await?;
        let d = described[&a].as_ref().map_err(|e| e.to_string())?;
        check!(d.partitions.len() == 3, "{d:?}");
        for (i, p) in d.partitions.iter().enumerate() {
            check!(
                p.partition == i as i32
                    && p.leader == Some(NODE)
                    && p.leader_epoch.is_some()
                    && p.replicas == [NODE]
                    && p.isr == [NODE]
                    && p.error.is_none(),
                "{p:?}"
            );
        }
        check!(
            code(&described[&unknown]) == Some(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION),
            "{described:?}"
        );
        // Describing never creates a topic.
        let names: Vec<String> = admin
            .list_topics(false)
            .await?
            .into_iter()
            .map(|t| t.name)
            .collect();
        check!(!names.contains(&unknown), "{unknown} was created");

        let deleted = admin.delete_topics([b.as_str(), unknown.as_str()]).await?;
        check!(deleted[&b].is_ok(), "{deleted:?}");
        check!(
            code(&deleted[&unknown]) == Some(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION),
            "{deleted:?}"
        );
        let names: Vec<String> = admin
            .list_topics(false)
            .await?
            .into_iter()
            .map(|t| t.name)
            .collect();
        check!(
            !names.contains(&b) && names.contains(&a),
            "after the deletion: {names:?}"
        );
        Ok(())
    });
}

#[test]
fn validating_a_topic_creation_creates_the_topic_on_tansu() {
    // Kafka creates nothing when asked to validate only; both tansu builds create the topic.
    on_both("validate only", |build, bootstrap| async move {
        let admin = admin(&bootstrap).await?;
        let topic = unique("admin-validate");
        let validated = admin
            .create_topics([NewTopic::new(&topic, 2)], AlterOptions::validate_only())
            .await?;
        check!(validated[&topic].is_ok(), "{validated:?}");
        let names: Vec<String> = admin
            .list_topics(false)
            .await?
            .into_iter()
            .map(|t| t.name)
            .collect();
        check!(
            names.contains(&topic),
            "{build} no longer creates a validated topic: pin Kafka's behaviour"
        );
        Ok(())
    });
}

#[test]
fn partition_growth_and_offset_deletion_are_typed_unsupported_errors_on_tansu() {
    // Neither build advertises CreatePartitions or OffsetDelete: nothing is sent, and each
    // item says the broker lacks the API.
    on_both("unsupported", |_, bootstrap| async move {
        let admin = admin(&bootstrap).await?;
        let topic = unique("admin-grow");
        create_topic(&bootstrap, &topic, 1).await?;
        let grown = admin
            .create_partitions(
                [NewPartitions::increase_to(&topic, 3)],
                AlterOptions::apply(),
            )
            .await?;
        match &grown[&topic] {
            Err(AdminError::Unsupported(e)) => {
                check!(
                    e.api == ApiKey::CreatePartitions && e.broker.is_none(),
                    "{e:?}"
                );
            }
            other => return Err(format!("create_partitions: {other:?}").into()),
        }
        let described = admin.describe_topics([topic.as_str()]).await?;
        let partitions = described[&topic].as_ref().map(|d| d.partitions.len());
        check!(partitions == Ok(1), "{described:?}");

        let group = unique("admin-grow-g");
        let deleted = admin.delete_group_offsets(&group, [tp(&topic, 0)]).await;
        match deleted {
            Err(Error::Admin(e @ AdminError::Unsupported(_))) => {
                check!(e.is_unsupported() && !e.is_retriable(), "{e:?}");
                check!(
                    e.to_string() == "the broker does not support OffsetDelete",
                    "{e}"
                );
            }
            other => return Err(format!("delete_group_offsets: {other:?}").into()),
        }
        Ok(())
    });
}

// ----- configurations and the cluster -----

#[test]
fn configurations_are_described_and_changed_per_resource() {
    on_both("configs", |build, bootstrap| async move {
        let admin = admin(&bootstrap).await?;
        let topic = unique("admin-configs");
        let unknown = unique("admin-configs-unknown");
        admin
            .create_topics(
                [NewTopic::new(&topic, 1).config("retention.ms", "123456")],
                AlterOptions::apply(),
            )
            .await?
            .remove(&topic)
            .ok_or("no result")??;
        let resource = ConfigResource::topic(&topic);
        let not_a_node = ConfigResource {
            kind: ConfigResourceKind::Broker,
            name: "first".into(),
        };
        let described = admin
            .describe_configs([
                resource.clone(),
                ConfigResource::topic(&unknown),
                ConfigResource::broker(NODE),
                not_a_node.clone(),
            ])
            .await?;
        let entries = described[&resource].as_ref().map_err(|e| e.to_string())?;
        // Kafka lists every entry of the topic, this one with the source TOPIC_CONFIG; tansu
        // lists only the entries set, each with the source DEFAULT_CONFIG.
        let names: Vec<&str> = entries.iter().map(|e| e.name.as_str()).collect();
        check!(names == ["retention.ms"], "{entries:?}");
        let retention = &entries[0];
        check!(
            retention.value.as_deref() == Some("123456")
                && retention.source == ConfigSource::Default
                && !retention.is_read_only
                && !retention.is_sensitive,
            "{retention:?}"
        );
        check!(
            matches!(described[&not_a_node], Err(AdminError::Invalid(_))),
            "{described:?}"
        );
        // An unknown topic and the broker's own settings: build C refuses both with
        // UNKNOWN_TOPIC_OR_PARTITION, build W describes both as empty (Kafka: the first
        // refused, the second described).
        for other in [
            ConfigResource::topic(&unknown),
            ConfigResource::broker(NODE),
        ] {
            let result = &described[&other];
            match build {
                Build::C => check!(
                    code(result) == Some(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION),
                    "{other}: {result:?}"
                ),
                Build::W => check!(
                    result.as_ref().is_ok_and(|e| e.is_empty()),
                    "{other}: {result:?}"
                ),
            }
        }

        let changed = admin
            .incremental_alter_configs(
                [
                    (
                        resource.clone(),
                        vec![AlterConfigOp::set("retention.ms", "1000")],
                    ),
                    (
                        ConfigResource::topic(&unknown),
                        vec![AlterConfigOp::set("retention.ms", "1000")],
                    ),
                    (not_a_node.clone(), vec![AlterConfigOp::set("x", "y")]),
                ],
                AlterOptions::apply(),
            )
            .await?;
        check!(changed[&resource].is_ok(), "{changed:?}");
        check!(
            matches!(changed[&not_a_node], Err(AdminError::Invalid(_))),
            "{changed:?}"
        );
        // Kafka refuses to configure an unknown topic; tansu says it did.
        check!(
            changed[&ConfigResource::topic(&unknown)].is_ok(),
            "{changed:?}"
        );
        let value = |described: &BTreeMap<
            ConfigResource,
            std::result::Result<Vec<dekaf_smol::admin::ConfigEntry>, AdminError>,
        >| {
            described[&resource].as_ref().ok().and_then(|entries| {
                entries
                    .iter()
                    .find(|e| e.name == "retention.ms")
                    .and_then(|e| e.value.clone())
            })
        };
        let after = admin.describe_configs([resource.clone()]).await?;
        check!(value(&after).as_deref() == Some("1000"), "{after:?}");

        // Kafka changes nothing when asked to validate only; tansu makes the change.
        let validated = admin
            .incremental_alter_configs(
                [(
                    resource.clone(),
                    vec![AlterConfigOp::set("retention.ms", "5")],
                )],
                AlterOptions::validate_only(),
            )
            .await?;
        check!(validated[&resource].is_ok(), "{validated:?}");
        let after = admin.describe_configs([resource.clone()]).await?;
        check!(
            value(&after).as_deref() == Some("5"),
            "{build} no longer applies a validated change: {after:?}"
        );
        Ok(())
    });
}

#[test]
fn the_cluster_is_described() {
    on_both("cluster", |_, bootstrap| async move {
        let admin = admin(&bootstrap).await?;
        let cluster = admin.describe_cluster().await?;
        check!(
            cluster.cluster_id.as_deref() == Some("tansu_cluster")
                && cluster.controller == Some(NODE),
            "{cluster:?}"
        );
        let [broker] = cluster.brokers.as_slice() else {
            return Err(format!("one broker expected: {cluster:?}").into());
        };
        check!(
            broker.id == NODE && format!("{}:{}", broker.host, broker.port) == bootstrap,
            "{broker:?}"
        );
        Ok(())
    });
}

#[test]
fn the_cluster_is_described_from_metadata_by_a_broker_without_describe_cluster() {
    let (addr, broker) = fake(|listener| {
        let mut conn = Conn::accept(&listener);
        conn.handshake(&[(ApiKey::ApiVersions, 0, 4), (ApiKey::Metadata, 0, 12)]);
        let answer = MetadataResponse {
            brokers: vec![MetadataResponseBroker {
                node_id: 5,
                host: "broker-five".into(),
                port: 9092,
                rack: Some("r1".into()),
                ..Default::default()
            }],
            cluster_id: Some("scripted".into()),
            controller_id: 5,
            ..Default::default()
        };
        let mut asked = Vec::new();
        while let Some((header, _)) = conn.request() {
            asked.push(header.api_key);
            conn.respond(&header, &answer);
        }
        asked
    });
    let cluster = smol::block_on(async {
        let admin = admin(&addr.to_string()).await.expect("built");
        admin.describe_cluster().await.expect("described")
    });
    check_cluster(&cluster);
    // The fallback alone (build() sends nothing): DescribeCluster itself was never sent.
    let asked = broker.join().expect("the scripted broker");
    assert_eq!(asked, [ApiKey::Metadata.key()]);
}

fn check_cluster(cluster: &dekaf_smol::admin::ClusterDescription) {
    assert_eq!(cluster.cluster_id.as_deref(), Some("scripted"));
    assert_eq!(cluster.controller, Some(5));
    let [b] = cluster.brokers.as_slice() else {
        panic!("{cluster:?}");
    };
    assert_eq!(
        (b.id, b.host.as_str(), b.port, b.rack.as_deref()),
        (5, "broker-five", 9092, Some("r1"))
    );
}

// ----- groups -----

#[test]
fn groups_are_listed_described_and_deleted() {
    on(Build::W, "groups", |_, bootstrap| async move {
        let admin = admin(&bootstrap).await?;
        let (topic, group) = (unique("admin-groups"), unique("admin-groups-g"));
        let unknown = unique("admin-groups-unknown");
        create_topic(&bootstrap, &topic, 2).await?;
        let member = member(&bootstrap, &group, &topic, 2).await?;
        let member_id = member
            .consumer
            .group_metadata()
            .ok_or("subscribed")?
            .member_id;
        // tansu lists only the groups that committed offsets (Kafka lists every group).
        let listed = admin.list_groups(GroupFilter::all()).await?;
        check!(
            !listed.groups.iter().any(|g| g.group_id == group),
            "tansu now lists groups without offsets: {listed:?}"
        );
        for p in 0..2 {
            fill(&bootstrap, &topic, p, 0, 1).await?;
        }
        let read: BTreeMap<TopicPartition, i64> = [(tp(&topic, 0), 1), (tp(&topic, 1), 1)]
            .into_iter()
            .collect();
        wait_for(WAIT, "the member committed", || {
            let admin = &admin;
            let (group, want) = (&group, &read);
            async move { Ok((committed(admin, group).await? == *want).then_some(())) }
        })
        .await?;

        let listed = admin.list_groups(GroupFilter::all()).await?;
        check!(listed.errors.is_empty(), "{listed:?}");
        let ours = listed
            .groups
            .iter()
            .find(|g| g.group_id == group)
            .ok_or("the group is listed")?;
        // Kafka says "Stable"; tansu lists every group as "Unknown".
        check!(
            ours.protocol_type == "consumer"
                && ours.state == Some(GroupState::Other("Unknown".into()))
                && ours.group_type.as_deref() == Some("classic"),
            "{ours:?}"
        );
        // tansu ignores the state filter (Kafka would leave this Stable group out).
        let empty_only = admin
            .list_groups(GroupFilter::all().state(GroupState::Empty))
            .await?;
        check!(
            empty_only.groups.iter().any(|g| g.group_id == group),
            "{empty_only:?}"
        );

        let described = admin
            .describe_groups([group.as_str(), unknown.as_str()])
            .await?;
        let d = described[&group].as_ref().map_err(|e| e.to_string())?;
        let ids: Vec<&str> = d.members.iter().map(|m| m.member_id.as_str()).collect();
        check!(
            d.state == GroupState::Stable && d.coordinator == NODE && ids == [member_id.as_str()],
            "{d:?}"
        );
        // Kafka describes each member's client id, host and assignment, and the group's
        // assignor; tansu sends the member id alone.
        let m = &d.members[0];
        check!(
            m.client_id.is_empty()
                && m.host.is_empty()
                && m.assignment.is_empty()
                && d.protocol.is_empty(),
            "tansu now describes members: {d:?}"
        );
        // Kafka describes an unknown group as Dead (GROUP_ID_NOT_FOUND here); tansu's build W
        // as Empty.
        let u = described[&unknown].as_ref().map_err(|e| e.to_string())?;
        check!(
            u.state == GroupState::Empty && u.members.is_empty(),
            "{u:?}"
        );

        // Kafka refuses to delete a group with members (NON_EMPTY_GROUP); build W deletes it,
        // and an unknown group too (Kafka: GROUP_ID_NOT_FOUND).
        let deleted = admin
            .delete_groups([group.as_str(), unknown.as_str()])
            .await?;
        check!(
            deleted[&group].is_ok() && deleted[&unknown].is_ok(),
            "tansu now refuses: {deleted:?}"
        );
        let listed = admin.list_groups(GroupFilter::all()).await?;
        check!(
            !listed.groups.iter().any(|g| g.group_id == group),
            "{listed:?}"
        );
        // The member's commits may fail once its group is gone; its close still ends.
        let _ = within(WAIT, "the member's close", member.close()).await?;
        Ok(())
    });
}

#[test]
fn a_coordinator_that_is_not_available_yet_is_looked_up_again() {
    let (addr, broker) = fake(|listener| {
        let port = listener.local_addr().expect("bound").port();
        let table = [
            (ApiKey::ApiVersions, 0, 4),
            (ApiKey::Metadata, 0, 12),
            (ApiKey::FindCoordinator, 0, 3),
            (ApiKey::DeleteGroups, 0, 2),
        ];
        let mut bootstrap = Conn::accept(&listener);
        bootstrap.handshake(&table);
        let mut asked = Vec::new();
        let mut lookups = 0;
        while lookups < 2 {
            let (header, _) = bootstrap.request().expect("a request");
            asked.push(header.api_key);
            if header.api_key == ApiKey::FindCoordinator.key() {
                lookups += 1;
                let answer = if lookups == 1 {
                    FindCoordinatorResponse {
                        error_code: ErrorCode::COORDINATOR_NOT_AVAILABLE,
                        node_id: -1,
                        ..Default::default()
                    }
                } else {
                    FindCoordinatorResponse {
                        node_id: 1,
                        host: "127.0.0.1".into(),
                        port: i32::from(port),
                        ..Default::default()
                    }
                };
                bootstrap.respond(&header, &answer);
            } else {
                bootstrap.respond(&header, &MetadataResponse::default());
            }
        }
        // The coordinator's own connection.
        let mut coordinator = Conn::accept(&listener);
        coordinator.handshake(&table);
        let (header, body) = coordinator.request().expect("DeleteGroups");
        asked.push(header.api_key);
        let request =
            DeleteGroupsRequest::decode_exact(&body, header.api_version).expect("decodes");
        coordinator.respond(
            &header,
            &DeleteGroupsResponse {
                results: request
                    .groups_names
                    .into_iter()
                    .map(|group_id| DeletableGroupResult {
                        group_id,
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            },
        );
        asked
    });
    let deleted = smol::block_on(async {
        let admin = admin(&addr.to_string()).await.expect("built");
        admin.delete_groups(["g"]).await.expect("an answer")
    });
    assert_eq!(deleted["g"], Ok(()));
    let asked = broker.join().expect("the scripted broker");
    let key = |api: ApiKey| api.key();
    assert_eq!(
        asked,
        [
            key(ApiKey::FindCoordinator),
            key(ApiKey::FindCoordinator),
            key(ApiKey::DeleteGroups)
        ]
    );
}

#[test]
fn the_offsets_of_several_groups_travel_in_one_offset_fetch_from_v8() {
    let Ok(listener) = Proxy::bind() else {
        panic!("no port for the proxy");
    };
    let advertised = listener.local_addr().expect("bound");
    let Some(broker) = Broker::start_advertising(Build::W, Engine::Memory, advertised) else {
        return;
    };
    let proxy = Proxy::start(listener, broker.addr(), &[ApiKey::OffsetFetch]);
    let bootstrap = proxy.addr().to_string();
    let run = async {
        let admin = admin(&bootstrap).await?;
        let topic = unique("admin-fetch-batch");
        create_topic(&bootstrap, &topic, 2).await?;
        let groups: Vec<String> = (0..3)
            .map(|i| unique(&format!("admin-fetch-{i}")))
            .collect();
        for (i, group) in (0i64..).zip(&groups) {
            let altered = admin
                .alter_group_offsets(group, [(tp(&topic, 0), OffsetAndMetadata::new(i))])
                .await?;
            check!(altered.values().all(|r| r.is_ok()), "{altered:?}");
        }
        let before = proxy.frames().len();
        let listed = admin
            .list_group_offsets(vec![
                GroupOffsetsQuery::all(&groups[0]),
                GroupOffsetsQuery::partitions(&groups[1], [tp(&topic, 0), tp(&topic, 1)]),
                GroupOffsetsQuery::all(&groups[2]),
            ])
            .await?;
        for (i, group) in (0i64..).zip(&groups) {
            let offsets = listed[group]
                .as_ref()
                .map_err(|e| format!("{group}: {e}"))?;
            let at = offsets[&tp(&topic, 0)]
                .as_ref()
                .map(|o| o.as_ref().map(|o| o.offset));
            check!(at == Ok(Some(i)), "{group}: {offsets:?}");
        }
        check!(
            listed[&groups[1]]
                .as_ref()
                .map(|o| o.get(&tp(&topic, 1)).cloned())
                == Ok(Some(Ok(None))),
            "{listed:?}"
        );
        let requests: Vec<_> = proxy.frames()[before..]
            .iter()
            .filter(|f| f.direction == dekaf_tests::proxy::Direction::Request)
            .cloned()
            .collect();
        check!(
            requests.len() == 1,
            "{} OffsetFetch requests",
            requests.len()
        );
        let version = requests[0].api_version;
        let request = <dekaf_proto::messages::OffsetFetchRequest as Message>::decode_exact(
            &requests[0].body(),
            version,
        )?;
        check!(
            version >= 8 && request.groups.len() == 3,
            "v{version}: {request:?}"
        );
        Result::Ok(())
    };
    if let Err(e) = smol::block_on(run) {
        panic!(
            "one OffsetFetch per coordinator: {e}\n--- broker log ---\n{}",
            broker.log()
        );
    }
}

#[test]
fn a_coordinator_without_offset_fetch_v8_is_asked_for_each_group_on_its_own() {
    use dekaf_proto::messages::offset_fetch::{
        OffsetFetchResponsePartition, OffsetFetchResponseTopic,
    };
    use dekaf_proto::messages::{OffsetFetchRequest, OffsetFetchResponse};
    let table = [
        (ApiKey::ApiVersions, 0, 4),
        (ApiKey::Metadata, 0, 12),
        (ApiKey::FindCoordinator, 0, 3),
        (ApiKey::OffsetFetch, 0, 7),
    ];
    let (addr, broker) = fake(move |listener| {
        let port = listener.local_addr().expect("bound").port();
        let mut bootstrap = Conn::accept(&listener);
        bootstrap.handshake(&table);
        // Any broker's questions, on a thread of their own: the coordinator is found here.
        let any = std::thread::spawn(move || {
            while let Some((header, _)) = bootstrap.request() {
                if header.api_key == ApiKey::FindCoordinator.key() {
                    bootstrap.respond(
                        &header,
                        &FindCoordinatorResponse {
                            node_id: 1,
                            host: "127.0.0.1".into(),
                            port: i32::from(port),
                            ..Default::default()
                        },
                    );
                } else {
                    bootstrap.respond(&header, &MetadataResponse::default());
                }
            }
        });
        let mut coordinator = Conn::accept(&listener);
        coordinator.handshake(&table);
        let mut asked = Vec::new();
        while let Some((header, body)) = coordinator.request() {
            let request =
                OffsetFetchRequest::decode_exact(&body, header.api_version).expect("decodes");
            let offset = if request.group_id == "g" { 3 } else { 5 };
            asked.push((
                header.api_version,
                request.group_id.clone(),
                request.groups.len(),
            ));
            coordinator.respond(
                &header,
                &OffsetFetchResponse {
                    topics: vec![OffsetFetchResponseTopic {
                        name: "t".into(),
                        partitions: vec![OffsetFetchResponsePartition {
                            partition_index: 0,
                            committed_offset: offset,
                            ..Default::default()
                        }],
                        ..Default::default()
                    }],
                    ..Default::default()
                },
            );
        }
        let _ = any.join();
        asked
    });
    let listed = smol::block_on(async {
        let admin = admin(&addr.to_string()).await.expect("built");
        let listed = admin
            .list_group_offsets([GroupOffsetsQuery::all("g"), GroupOffsetsQuery::all("h")])
            .await
            .expect("an answer");
        admin.close();
        listed
    });
    let offset = |g: &str| {
        listed[g]
            .as_ref()
            .ok()
            .and_then(|o| o.get(&tp("t", 0)).cloned())
    };
    assert_eq!(
        offset("g"),
        Some(Ok(Some(OffsetAndMetadata::new(3)))),
        "{listed:?}"
    );
    assert_eq!(
        offset("h"),
        Some(Ok(Some(OffsetAndMetadata::new(5)))),
        "{listed:?}"
    );
    let mut asked = broker.join().expect("the scripted broker");
    asked.sort();
    assert_eq!(asked, [(7, "g".to_owned(), 0), (7, "h".to_owned(), 0)]);
}

#[test]
fn build_c_closes_the_connection_when_asked_to_describe_a_stored_group() {
    // Build C (SQLite) cannot read back a group it stored (its log: "invalid type: string,
    // expected struct GroupDetail") and closes the connection; it says GROUP_ID_NOT_FOUND
    // for an unknown group, as Kafka 4 does.
    on(Build::C, "build C groups", |_, bootstrap| async move {
        let admin = admin(&bootstrap).await?;
        let (topic, group) = (unique("admin-c"), unique("admin-c-g"));
        let unknown = unique("admin-c-unknown");
        create_topic(&bootstrap, &topic, 1).await?;
        let described = admin.describe_groups([unknown.as_str()]).await?;
        check!(
            code(&described[&unknown]) == Some(ErrorCode::GROUP_ID_NOT_FOUND),
            "{described:?}"
        );
        admin
            .alter_group_offsets(&group, [(tp(&topic, 0), OffsetAndMetadata::new(0))])
            .await?
            .remove(&tp(&topic, 0))
            .ok_or("no result")??;
        let described = admin.describe_groups([group.as_str()]).await?;
        check!(
            matches!(
                described[&group],
                Err(AdminError::Request(
                    dekaf_state::client::RequestFailed::Disconnected
                ))
            ),
            "{described:?}"
        );
        // Listing still works, deleting too; an unknown group is refused.
        let listed = admin.list_groups(GroupFilter::all()).await?;
        check!(
            listed.groups.iter().any(|g| g.group_id == group),
            "{listed:?}"
        );
        let deleted = admin
            .delete_groups([group.as_str(), unknown.as_str()])
            .await?;
        check!(deleted[&group].is_ok(), "{deleted:?}");
        check!(
            code(&deleted[&unknown]) == Some(ErrorCode::GROUP_ID_NOT_FOUND),
            "{deleted:?}"
        );
        Ok(())
    });
}

#[test]
fn a_groups_offsets_are_refused_while_a_consumer_is_in_it_and_taken_up_after() {
    on(Build::W, "alter offsets", |_, bootstrap| async move {
        let admin = admin(&bootstrap).await?;
        let (topic, group) = (unique("admin-alter"), unique("admin-alter-g"));
        create_topic(&bootstrap, &topic, 2).await?;
        for p in 0..2 {
            fill(&bootstrap, &topic, p, 0, 10).await?;
        }
        let all_read: BTreeMap<TopicPartition, i64> = [(tp(&topic, 0), 10), (tp(&topic, 1), 10)]
            .into_iter()
            .collect();
        let member = member(&bootstrap, &group, &topic, 2).await?;
        let member_id = member
            .consumer
            .group_metadata()
            .ok_or("subscribed")?
            .member_id;
        wait_for(WAIT, "the member committed everything", || {
            let admin = &admin;
            let (group, want) = (&group, &all_read);
            async move { Ok((committed(admin, group).await? == *want).then_some(())) }
        })
        .await?;

        let new_offsets = [
            (
                tp(&topic, 0),
                OffsetAndMetadata::new(3).with_metadata("from-admin"),
            ),
            (tp(&topic, 1), OffsetAndMetadata::new(7)),
        ];
        let refused = admin.alter_group_offsets(&group, new_offsets.clone()).await;
        match &refused {
            Err(Error::Admin(AdminError::GroupNotEmpty {
                group: g,
                members,
                code: None,
            })) => check!(
                g == &group && members.as_slice() == [member_id.as_str()],
                "{refused:?}"
            ),
            other => return Err(format!("altered with a member in the group: {other:?}").into()),
        }
        let e = refused.unwrap_err();
        check!(
            e.is_retriable() && e.to_string().contains(&member_id),
            "{e}"
        );
        check!(
            committed(&admin, &group).await? == all_read,
            "the refusal changed offsets"
        );
        // The coordinator refuses such a commit from outside the group too, as Kafka does
        // (UNKNOWN_MEMBER_ID; read as GroupNotEmpty when it answers the admin's commit, should
        // a member join between the check and the commit).
        let mut raw = dekaf_tests::Client::connect(bootstrap.parse()?)?;
        let outside = raw.call(
            &OffsetCommitRequest {
                group_id: group.clone(),
                generation_id_or_member_epoch: -1,
                topics: vec![OffsetCommitRequestTopic {
                    name: topic.clone(),
                    partitions: vec![OffsetCommitRequestPartition {
                        partition_index: 0,
                        committed_offset: 3,
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                ..Default::default()
            },
            9,
        );
        check!(
            outside.topics[0].partitions[0].error_code == ErrorCode::UNKNOWN_MEMBER_ID,
            "{outside:?}"
        );
        check!(
            committed(&admin, &group).await? == all_read,
            "the refused commit changed offsets"
        );

        within(WAIT, "the member's close", member.close()).await??;
        let altered = admin.alter_group_offsets(&group, new_offsets).await?;
        check!(
            altered.len() == 2 && altered.values().all(|r| r.is_ok()),
            "{altered:?}"
        );
        let mut listed = admin
            .list_group_offsets([GroupOffsetsQuery::partitions(
                &group,
                [tp(&topic, 0), tp(&topic, 1), tp(&topic, 2)],
            )])
            .await?;
        let offsets = listed.remove(&group).ok_or("no result")??;
        let at = |p: i32| offsets[&tp(&topic, p)].clone();
        check!(
            at(0)
                .as_ref()
                .ok()
                .and_then(|o| o.as_ref())
                .map(|o| o.offset)
                == Some(3)
                && at(1)
                    .as_ref()
                    .ok()
                    .and_then(|o| o.as_ref())
                    .map(|o| o.offset)
                    == Some(7),
            "{offsets:?}"
        );
        // Kafka keeps the metadata; tansu drops it.
        check!(
            at(0).ok().flatten().and_then(|o| o.metadata).is_none(),
            "tansu now keeps commit metadata: {offsets:?}"
        );
        // A partition the topic does not have has no committed offset.
        check!(
            code(&at(2)) == Some(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION) || at(2) == Ok(None),
            "{offsets:?}"
        );

        // The next consumer of the group starts exactly there.
        let next = consumer(&bootstrap, &group).build().await?;
        next.subscribe([topic.as_str()])?;
        let next = Member::start(next, SharedLog::default(), false);
        until(WAIT, "the next member reads both partitions", || {
            !next.offsets(&tp(&topic, 0)).is_empty() && !next.offsets(&tp(&topic, 1)).is_empty()
        })
        .await?;
        let first = |p: i32| next.offsets(&tp(&topic, p)).first().copied();
        check!(
            first(0) == Some(3) && first(1) == Some(7),
            "the next member started at {:?} and {:?}",
            first(0),
            first(1)
        );
        within(WAIT, "the next member's close", next.close()).await??;
        Ok(())
    });
}

// ----- offsets -----

#[test]
fn offsets_are_looked_up_per_partition_from_each_leader() {
    // Build C (SQLite): its ListOffsets answers are right per record (build W's "latest" is
    // per batch).
    on(Build::C, "list offsets", |_, bootstrap| async move {
        let admin = admin(&bootstrap).await?;
        let topic = unique("admin-offsets");
        let unknown = unique("admin-offsets-unknown");
        create_topic(&bootstrap, &topic, 2).await?;
        let base = now_millis() - 60_000;
        let times: Vec<i64> = (0..5).map(|i| base + i * 1_000).collect();
        fill_one_by_one(&bootstrap, &topic, 0, 0, &times).await?;

        let found = admin
            .list_offsets(
                [
                    (tp(&topic, 0), OffsetQuery::Earliest),
                    (tp(&topic, 1), OffsetQuery::Latest),
                    (tp(&topic, 7), OffsetQuery::Latest),
                    (tp(&topic, -1), OffsetQuery::Latest),
                    (tp(&unknown, 0), OffsetQuery::Latest),
                ],
                IsolationLevel::ReadUncommitted,
            )
            .await?;
        let offset = |tp: &TopicPartition| found[tp].as_ref().ok().map(|l| l.offset);
        check!(
            offset(&tp(&topic, 0)) == Some(0) && offset(&tp(&topic, 1)) == Some(0),
            "{found:?}"
        );
        let beyond = &found[&tp(&topic, 7)];
        check!(
            code(beyond) == Some(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION)
                && beyond
                    .as_ref()
                    .unwrap_err()
                    .to_string()
                    .contains("has 2 partitions"),
            "{beyond:?}"
        );
        check!(
            matches!(found[&tp(&topic, -1)], Err(AdminError::Invalid(_))),
            "{found:?}"
        );
        check!(
            code(&found[&tp(&unknown, 0)]) == Some(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION),
            "{found:?}"
        );

        for (query, isolation, want) in [
            (OffsetQuery::Latest, IsolationLevel::ReadUncommitted, 5),
            (OffsetQuery::Latest, IsolationLevel::ReadCommitted, 5),
            (
                OffsetQuery::Timestamp(times[2]),
                IsolationLevel::ReadUncommitted,
                2,
            ),
            (
                OffsetQuery::Timestamp(times[2] - 1),
                IsolationLevel::ReadUncommitted,
                2,
            ),
        ] {
            let found = admin
                .list_offsets([(tp(&topic, 0), query)], isolation)
                .await?;
            let got = found[&tp(&topic, 0)].as_ref().map(|l| l.offset);
            check!(got == Ok(want), "{query:?} {isolation:?}: {got:?}");
        }

        // Kafka answers the largest timestamp (v7+); tansu closes the connection. The other
        // partition's lookup, sent before it, keeps its answer.
        let found = admin
            .list_offsets(
                [
                    (tp(&topic, 0), OffsetQuery::MaxTimestamp),
                    (tp(&topic, 1), OffsetQuery::Earliest),
                ],
                IsolationLevel::ReadUncommitted,
            )
            .await?;
        check!(
            matches!(
                found[&tp(&topic, 0)],
                Err(AdminError::Request(
                    dekaf_state::client::RequestFailed::Disconnected
                ))
            ),
            "{found:?}"
        );
        check!(
            found[&tp(&topic, 1)].as_ref().map(|l| l.offset) == Ok(0),
            "{found:?}"
        );
        Ok(())
    });
}

#[test]
fn the_lookups_of_one_leader_travel_in_one_request() {
    let Ok(listener) = Proxy::bind() else {
        panic!("no port for the proxy");
    };
    let advertised = listener.local_addr().expect("bound");
    let Some(broker) = Broker::start_advertising(Build::W, Engine::Memory, advertised) else {
        return;
    };
    let proxy = Proxy::start(listener, broker.addr(), &[ApiKey::ListOffsets]);
    let bootstrap = proxy.addr().to_string();
    let run = async {
        let admin = admin(&bootstrap).await?;
        let topic = unique("admin-batch");
        create_topic(&bootstrap, &topic, 3).await?;
        let found = admin
            .list_offsets(
                (0..3).map(|p| (tp(&topic, p), OffsetQuery::Earliest)),
                IsolationLevel::ReadUncommitted,
            )
            .await?;
        check!(found.values().all(|r| r.is_ok()), "{found:?}");
        let requests: Vec<_> = proxy
            .frames()
            .into_iter()
            .filter(|f| f.direction == dekaf_tests::proxy::Direction::Request)
            .collect();
        check!(
            requests.len() == 1,
            "{} ListOffsets requests",
            requests.len()
        );
        let version = requests[0].api_version;
        let body = requests[0].body();
        let request =
            <dekaf_proto::messages::ListOffsetsRequest as dekaf_proto::Message>::decode_exact(
                &body, version,
            )?;
        check!(
            request.topics.len() == 1 && request.topics[0].partitions.len() == 3,
            "{request:?}"
        );
        Result::Ok(())
    };
    if let Err(e) = smol::block_on(run) {
        panic!(
            "one request per leader: {e}\n--- broker log ---\n{}",
            broker.log()
        );
    }
}

/// librdkafka's member of a group (`scripts/lag_interop.py`), waiting to be told to close.
struct LibrdkafkaMember {
    child: Child,
    out: BufReader<ChildStdout>,
}

impl LibrdkafkaMember {
    /// Starts it; returns it with its report once it committed `targets`.
    fn start(
        bootstrap: &str,
        group: &str,
        topic: &str,
        targets: &[(i32, i64)],
    ) -> Result<(LibrdkafkaMember, serde_json::Value)> {
        let script =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/lag_interop.py");
        let mut child = Command::new("python3")
            .arg(script)
            .args([bootstrap, group, topic])
            .args(targets.iter().map(|(p, o)| format!("{p}={o}")))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()?;
        let mut out = BufReader::new(child.stdout.take().ok_or("stdout")?);
        let mut line = String::new();
        out.read_line(&mut line)?;
        let report = serde_json::from_str(&line).map_err(|e| format!("{e}: {line:?}"))?;
        Ok((LibrdkafkaMember { child, out }, report))
    }

    /// Tells it to close and waits until it left the group.
    fn close(mut self) -> Result {
        self.child
            .stdin
            .as_mut()
            .ok_or("stdin")?
            .write_all(b"close\n")?;
        let mut line = String::new();
        self.out.read_line(&mut line)?;
        check!(line.contains("closed"), "{line:?}");
        self.child.wait()?;
        Ok(())
    }
}

impl Drop for LibrdkafkaMember {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn a_groups_lag_agrees_with_what_librdkafka_reports() {
    if !librdkafka::available() {
        return;
    }
    on_both("lag", |build, bootstrap| async move {
        let admin = admin(&bootstrap).await?;
        let (topic, group) = (unique("admin-lag"), unique("admin-lag-g"));
        create_topic(&bootstrap, &topic, 3).await?;
        // One record per batch: build W's "latest" is right then too.
        let times: Vec<i64> = (0..10).map(|i| now_millis() + i).collect();
        for p in 0..3 {
            fill_one_by_one(&bootstrap, &topic, p, 0, &times).await?;
        }
        let targets = [(0, 3), (1, 5), (2, 10)];
        let (theirs, report) = LibrdkafkaMember::start(&bootstrap, &group, &topic, &targets)?;
        let member_id = report["member"].as_str().unwrap_or_default().to_owned();

        let agrees = |lag: &dekaf_smol::admin::GroupLag| -> Result {
            check!(lag.partitions.len() == 3, "{lag:?}");
            for row in &lag.partitions {
                let r = &report["partitions"][row.partition.partition().to_string()];
                let committed = row.committed.as_ref().map(|c| c.offset);
                check!(
                    committed == r["committed"].as_i64()
                        && row.end_offset == r["high"].as_i64()
                        && row.lag
                            == Some(r["high"].as_i64().unwrap_or(-1) - committed.unwrap_or(0))
                        && row.error.is_none(),
                    "{}: dekaf {row:?}, librdkafka {r}",
                    row.partition
                );
            }
            Ok(())
        };
        let lag = admin
            .group_lag(&group, IsolationLevel::ReadUncommitted)
            .await?;
        agrees(&lag)?;
        match build {
            // Described, but without assignments: owners unknown (Kafka names them).
            Build::W => check!(
                lag.state == Some(GroupState::Stable)
                    && lag.description_error.is_none()
                    && lag.partitions.iter().all(|r| r.owner.is_none())
                    && !member_id.is_empty(),
                "{lag:?}"
            ),
            // Not described at all (the connection closes): the lag comes without owners.
            Build::C => check!(
                lag.state.is_none() && lag.description_error.is_some(),
                "{lag:?}"
            ),
        }
        let lags: Vec<Option<i64>> = lag.partitions.iter().map(|r| r.lag).collect();
        check!(lags == [Some(7), Some(5), Some(0)], "{lags:?}");

        theirs.close()?;
        // After librdkafka left, the committed offsets still tell the lag.
        agrees(
            &admin
                .group_lag(&group, IsolationLevel::ReadCommitted)
                .await?,
        )?;
        Ok(())
    });
}

// ----- bad input -----

#[test]
fn bad_input_gives_each_item_its_own_typed_error() {
    on_both("bad input", |_, bootstrap| async move {
        let admin = admin(&bootstrap).await?;
        let topic = unique("admin-bad");
        let (unknown_topic, unknown_group) = (unique("admin-bad-topic"), unique("admin-bad-g"));
        let group = unique("admin-bad-fresh");
        create_topic(&bootstrap, &topic, 2).await?;

        let altered = admin
            .alter_group_offsets(
                &group,
                [
                    (tp(&topic, 0), OffsetAndMetadata::new(1)),
                    (tp(&topic, 1), OffsetAndMetadata::new(-5)),
                    (tp(&topic, 9), OffsetAndMetadata::new(1)),
                    (tp(&unknown_topic, 0), OffsetAndMetadata::new(1)),
                ],
            )
            .await?;
        check!(altered[&tp(&topic, 0)].is_ok(), "{altered:?}");
        check!(
            matches!(altered[&tp(&topic, 1)], Err(AdminError::Invalid(_))),
            "{altered:?}"
        );
        for bad in [tp(&topic, 9), tp(&unknown_topic, 0)] {
            check!(
                code(&altered[&bad]) == Some(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION),
                "{bad}: {altered:?}"
            );
        }
        check!(
            committed(&admin, &group).await? == BTreeMap::from([(tp(&topic, 0), 1)]),
            "only the good partition was committed"
        );

        // A group nobody used: no offsets (Kafka cannot tell it from an empty group), and no
        // lag to report.
        let listed = admin
            .list_group_offsets([GroupOffsetsQuery::all(&unknown_group)])
            .await?;
        check!(
            listed[&unknown_group].as_ref().is_ok_and(|o| o.is_empty()),
            "{listed:?}"
        );
        let lag = admin
            .group_lag(&unknown_group, IsolationLevel::ReadUncommitted)
            .await;
        check!(
            matches!(&lag, Err(e) if e.error_code() == Some(ErrorCode::GROUP_ID_NOT_FOUND)),
            "{lag:?}"
        );

        let described = admin
            .describe_topics([topic.as_str(), unknown_topic.as_str()])
            .await?;
        check!(described[&topic].is_ok(), "{described:?}");
        check!(
            code(&described[&unknown_topic]) == Some(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION),
            "{described:?}"
        );
        Ok(())
    });
}

// ----- TLS -----

#[test]
fn an_admin_client_works_through_tls_and_refuses_an_untrusted_broker_at_build() {
    let certs = Certs::make();
    let port = tunnel_port();
    let Some(broker) = Broker::start_advertising(Build::W, Engine::Memory, port) else {
        return;
    };
    let Some(tunnel) = Stunnel::start(&certs, &certs.server, port, broker.addr(), ClientAuth::None)
    else {
        return;
    };
    let tls = tunnel.addr().to_string();
    let run = async {
        let admin = Admin::builder()
            .bootstrap_servers(&tls)
            .security_protocol(SecurityProtocol::Ssl)
            .tls(TlsSettings::new().ca_file(&certs.ca))
            .build()
            .await?;
        let topic = unique("admin-tls");
        admin
            .create_topic(NewTopic::new(&topic, 2).replication_factor(1))
            .await?;
        // To a leader by node id, and to a group coordinator: both through the terminator.
        let found = admin
            .list_offsets(
                [(tp(&topic, 1), OffsetQuery::Latest)],
                IsolationLevel::ReadUncommitted,
            )
            .await?;
        check!(found[&tp(&topic, 1)].is_ok(), "{found:?}");
        let group = unique("admin-tls-g");
        let altered = admin
            .alter_group_offsets(&group, [(tp(&topic, 0), OffsetAndMetadata::new(0))])
            .await?;
        check!(altered[&tp(&topic, 0)].is_ok(), "{altered:?}");

        let untrusted = Admin::builder()
            .bootstrap_servers(&tls)
            .security_protocol(SecurityProtocol::Ssl)
            .connect_timeout(Duration::from_secs(20))
            .build_ready(Duration::from_secs(20))
            .await;
        match untrusted {
            Err(e @ Error::Tls { .. }) => check!(!e.is_retriable(), "{e}"),
            other => return Err(format!("built against an untrusted broker: {other:?}").into()),
        }
        Result::Ok(())
    };
    if let Err(e) = smol::block_on(run) {
        panic!(
            "admin over TLS: {e}\n--- stunnel ---\n{}\n--- broker ---\n{}",
            tunnel.log(),
            broker.log()
        );
    }
}
