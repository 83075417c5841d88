//! Configurations: DescribeConfigs and IncrementalAlterConfigs, and where each resource's
//! request must go.

use std::collections::BTreeMap;

use dekaf_proto::messages::describe_configs::{
    DescribeConfigsResource, DescribeConfigsResourceResult,
};
use dekaf_proto::messages::incremental_alter_configs::{AlterConfigsResource, AlterableConfig};
use dekaf_proto::messages::{
    DescribeConfigsRequest, IncrementalAlterConfigsRequest, RequestBody, ResponseBody,
};
use dekaf_proto::ApiKey;

use super::{answer, fan_out, AdminError, Outcome};
use super::{AlterConfigOp, ConfigEntry, ConfigResource, ConfigSource, ConfigSynonym, ConfigType};
use crate::client::{BrokerId, ClientRequest};

/// Resources by the broker that must answer for them (`None`: any broker).
pub type ResourceRoutes<T> = BTreeMap<Option<BrokerId>, Vec<(ConfigResource, T)>>;

/// The resources of one call, split by the broker that must answer for them: a broker's own
/// settings go to that broker (`Some(id)`), topics to any broker (`None`). A broker resource
/// whose name is not a node id is refused at once.
pub fn route_resources<T>(
    items: impl IntoIterator<Item = (ConfigResource, T)>,
) -> (ResourceRoutes<T>, BTreeMap<ConfigResource, AdminError>) {
    let mut routes: ResourceRoutes<T> = BTreeMap::new();
    let mut refused = BTreeMap::new();
    for (resource, t) in items {
        match resource.broker_id() {
            Ok(broker) => routes.entry(broker).or_default().push((resource, t)),
            Err(e) => {
                refused.insert(resource, e);
            }
        }
    }
    (routes, refused)
}

/// DescribeConfigs for every key of `resources` (v0–v4), with synonyms from v1 and the
/// entries' documentation from v3.
pub fn describe_configs_request(resources: Vec<ConfigResource>) -> ClientRequest {
    ClientRequest::new(ApiKey::DescribeConfigs, 0, 4, move |v| {
        RequestBody::DescribeConfigs(DescribeConfigsRequest {
            resources: resources
                .iter()
                .map(|r| DescribeConfigsResource {
                    resource_type: r.kind.wire(),
                    resource_name: r.name.clone(),
                    configuration_keys: None,
                    ..Default::default()
                })
                .collect(),
            include_synonyms: v >= 1,
            include_documentation: v >= 3,
            ..Default::default()
        })
    })
}

fn entry(c: &DescribeConfigsResourceResult, version: i16) -> ConfigEntry {
    // Version 0 only says whether the value is the default.
    let source = if version == 0 && c.is_default {
        ConfigSource::Default
    } else {
        ConfigSource::from_wire(c.config_source)
    };
    ConfigEntry {
        name: c.name.clone(),
        value: c.value.clone(),
        source,
        is_default: source == ConfigSource::Default,
        is_read_only: c.read_only,
        is_sensitive: c.is_sensitive,
        synonyms: c
            .synonyms
            .iter()
            .map(|s| ConfigSynonym {
                name: s.name.clone(),
                value: s.value.clone(),
                source: ConfigSource::from_wire(s.source),
            })
            .collect(),
        config_type: ConfigType::from_wire(c.config_type),
        documentation: c.documentation.clone().filter(|d| !d.is_empty()),
    }
}

/// One outcome per resource asked, from a DescribeConfigs answer: its entries, by name.
pub fn read_describe_configs(
    asked: &[ConfigResource],
    outcome: Outcome,
) -> BTreeMap<ConfigResource, Result<Vec<ConfigEntry>, AdminError>> {
    let (resp, version) = match answer(outcome, |b| match b {
        ResponseBody::DescribeConfigs(r) => Some(r),
        _ => None,
    }) {
        Ok(answer) => answer,
        Err(e) => return fan_out(asked.iter().cloned(), e),
    };
    let mut out = fan_out(asked.iter().cloned(), AdminError::Missing);
    for result in &resp.results {
        let Some((_, slot)) = out
            .iter_mut()
            .find(|(r, _)| r.kind.wire() == result.resource_type && r.name == result.resource_name)
        else {
            continue;
        };
        *slot = AdminError::code_with(result.error_code, &result.error_message).map(|()| {
            let mut entries: Vec<ConfigEntry> =
                result.configs.iter().map(|c| entry(c, version)).collect();
            entries.sort_by(|a, b| a.name.cmp(&b.name));
            entries
        });
    }
    out
}

/// IncrementalAlterConfigs for `changes` (v0–v1).
pub fn alter_configs_request(
    changes: Vec<(ConfigResource, Vec<AlterConfigOp>)>,
    validate_only: bool,
) -> ClientRequest {
    ClientRequest::new(ApiKey::IncrementalAlterConfigs, 0, 1, move |_| {
        RequestBody::IncrementalAlterConfigs(IncrementalAlterConfigsRequest {
            resources: changes
                .iter()
                .map(|(r, ops)| AlterConfigsResource {
                    resource_type: r.kind.wire(),
                    resource_name: r.name.clone(),
                    configs: ops
                        .iter()
                        .map(|op| AlterableConfig {
                            name: op.name.clone(),
                            config_operation: op.op.wire(),
                            value: op.value.clone(),
                            ..Default::default()
                        })
                        .collect(),
                    ..Default::default()
                })
                .collect(),
            validate_only,
            ..Default::default()
        })
    })
}

/// One outcome per resource asked, from an IncrementalAlterConfigs answer.
pub fn read_alter_configs(
    asked: &[ConfigResource],
    outcome: Outcome,
) -> BTreeMap<ConfigResource, Result<(), AdminError>> {
    let resp = match answer(outcome, |b| match b {
        ResponseBody::IncrementalAlterConfigs(r) => Some(r),
        _ => None,
    }) {
        Ok((r, _)) => r,
        Err(e) => return fan_out(asked.iter().cloned(), e),
    };
    let mut out = fan_out(asked.iter().cloned(), AdminError::Missing);
    for r in &resp.responses {
        if let Some((_, slot)) = out
            .iter_mut()
            .find(|(a, _)| a.kind.wire() == r.resource_type && a.name == r.resource_name)
        {
            *slot = AdminError::code_with(r.error_code, &r.error_message);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::Response;
    use dekaf_proto::messages::describe_configs::{DescribeConfigsResult, DescribeConfigsSynonym};
    use dekaf_proto::messages::incremental_alter_configs::AlterConfigsResourceResponse;
    use dekaf_proto::messages::{DescribeConfigsResponse, IncrementalAlterConfigsResponse};
    use dekaf_proto::ErrorCode;

    use super::super::tests::writes_in_every_version;

    #[test]
    fn every_request_writes_in_every_version_of_its_range() {
        writes_in_every_version(&describe_configs_request(vec![
            ConfigResource::topic("t"),
            ConfigResource::broker(1),
        ]));
        writes_in_every_version(&alter_configs_request(
            vec![(
                ConfigResource::topic("t"),
                vec![
                    AlterConfigOp::set("retention.ms", "1000"),
                    AlterConfigOp::delete("cleanup.policy"),
                ],
            )],
            true,
        ));
    }

    #[test]
    fn broker_resources_go_to_their_broker_and_topics_anywhere() {
        let (routes, refused) = route_resources([
            (ConfigResource::topic("a"), ()),
            (ConfigResource::broker(3), ()),
            (ConfigResource::topic("b"), ()),
            (ConfigResource::broker_logger(3), ()),
            (
                ConfigResource {
                    kind: super::super::ConfigResourceKind::Broker,
                    name: "three".into(),
                },
                (),
            ),
        ]);
        assert_eq!(routes[&None].len(), 2);
        assert_eq!(routes[&Some(3)].len(), 2);
        assert_eq!(refused.len(), 1);
        assert!(matches!(
            refused.values().next(),
            Some(AdminError::Invalid(_))
        ));
    }

    #[test]
    fn entries_say_where_their_values_come_from_in_every_version() {
        let answer = |version: i16| {
            Ok(Response {
                version,
                body: ResponseBody::DescribeConfigs(DescribeConfigsResponse {
                    results: vec![
                        DescribeConfigsResult {
                            resource_type: 2,
                            resource_name: "t".into(),
                            configs: vec![DescribeConfigsResourceResult {
                                name: "retention.ms".into(),
                                value: Some("100".into()),
                                is_default: version == 0,
                                config_source: if version == 0 { -1 } else { 5 },
                                synonyms: vec![DescribeConfigsSynonym {
                                    name: "log.retention.ms".into(),
                                    value: None,
                                    source: 4,
                                    ..Default::default()
                                }],
                                config_type: 5,
                                ..Default::default()
                            }],
                            ..Default::default()
                        },
                        DescribeConfigsResult {
                            error_code: ErrorCode::UNKNOWN_TOPIC_OR_PARTITION,
                            error_message: Some("no such topic".into()),
                            resource_type: 2,
                            resource_name: "gone".into(),
                            ..Default::default()
                        },
                    ],
                    ..Default::default()
                }),
            })
        };
        let asked = [
            ConfigResource::topic("t"),
            ConfigResource::topic("gone"),
            ConfigResource::broker(1),
        ];
        for version in [0, 4] {
            let out = read_describe_configs(&asked, answer(version));
            let entries = out[&asked[0]].as_ref().unwrap();
            assert_eq!(entries[0].source, ConfigSource::Default, "v{version}");
            assert!(entries[0].is_default);
            assert_eq!(entries[0].config_type, ConfigType::Long);
            assert_eq!(entries[0].synonyms[0].source, ConfigSource::StaticBroker);
            let gone = out[&asked[1]].as_ref().unwrap_err();
            assert_eq!(gone.code(), Some(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION));
            assert_eq!(out[&asked[2]], Err(AdminError::Missing));
        }
    }

    #[test]
    fn alterations_are_answered_per_resource() {
        let asked = [ConfigResource::topic("t"), ConfigResource::topic("u")];
        let out = read_alter_configs(
            &asked,
            Ok(Response {
                version: 1,
                body: ResponseBody::IncrementalAlterConfigs(IncrementalAlterConfigsResponse {
                    responses: vec![
                        AlterConfigsResourceResponse {
                            resource_type: 2,
                            resource_name: "t".into(),
                            ..Default::default()
                        },
                        AlterConfigsResourceResponse {
                            error_code: ErrorCode::INVALID_CONFIG,
                            resource_type: 2,
                            resource_name: "u".into(),
                            ..Default::default()
                        },
                    ],
                    ..Default::default()
                }),
            }),
        );
        assert_eq!(out[&asked[0]], Ok(()));
        assert_eq!(
            out[&asked[1]].as_ref().unwrap_err().code(),
            Some(ErrorCode::INVALID_CONFIG)
        );
    }
}
