//! Choosing the version of each API to speak with a broker.

use std::collections::HashMap;

use thiserror::Error;

use crate::messages::{supported_versions, ApiVersionsResponse};
use crate::ApiKey;

/// No version of an API is supported by both sides.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("no common version of {api}: broker supports {broker:?}, dekaf supports {ours:?}")]
pub struct UnsupportedVersion {
    /// The API.
    pub api: ApiKey,
    /// The broker's range, `None` if it does not offer the API.
    pub broker: Option<(i16, i16)>,
    /// This crate's range, `None` if it does not implement the API.
    pub ours: Option<(i16, i16)>,
}

/// The API version ranges a broker advertised in its ApiVersions answer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BrokerVersions {
    ranges: HashMap<i16, (i16, i16)>,
}

impl BrokerVersions {
    /// Takes the ranges from an ApiVersions response.
    pub fn from_response(response: &ApiVersionsResponse) -> Self {
        let ranges = response
            .api_keys
            .iter()
            .map(|k| (k.api_key, (k.min_version, k.max_version)))
            .collect();
        BrokerVersions { ranges }
    }

    /// The broker's range for `api`, if it offers it.
    pub fn range(&self, api: ApiKey) -> Option<(i16, i16)> {
        self.ranges.get(&api.key()).copied()
    }

    /// The highest version of `api` both the broker and this crate support.
    pub fn pick(&self, api: ApiKey) -> Result<i16, UnsupportedVersion> {
        self.pick_within(api, supported_versions(api))
    }

    /// The highest version of `api` within `ours` that the broker supports.
    pub fn pick_within(
        &self,
        api: ApiKey,
        ours: Option<(i16, i16)>,
    ) -> Result<i16, UnsupportedVersion> {
        let broker = self.range(api);
        let err = || UnsupportedVersion { api, broker, ours };
        let ((blo, bhi), (olo, ohi)) = (broker.ok_or_else(err)?, ours.ok_or_else(err)?);
        let (lo, hi) = (blo.max(olo), bhi.min(ohi));
        if lo <= hi {
            Ok(hi)
        } else {
            Err(err())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::messages::api_versions::ApiVersion;

    fn broker(ranges: &[(ApiKey, i16, i16)]) -> BrokerVersions {
        BrokerVersions::from_response(&ApiVersionsResponse {
            api_keys: ranges
                .iter()
                .map(|&(k, lo, hi)| ApiVersion {
                    api_key: k.key(),
                    min_version: lo,
                    max_version: hi,
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        })
    }

    #[test]
    fn picks_the_highest_common_version() {
        let b = broker(&[(ApiKey::ApiVersions, 0, 9)]);
        assert_eq!(b.pick(ApiKey::ApiVersions), Ok(4));
        let b = broker(&[(ApiKey::ApiVersions, 0, 2)]);
        assert_eq!(b.pick(ApiKey::ApiVersions), Ok(2));
    }

    #[test]
    fn disjoint_or_missing_ranges_are_typed_errors() {
        let b = broker(&[(ApiKey::ApiVersions, 5, 9)]);
        let e = b.pick(ApiKey::ApiVersions).unwrap_err();
        assert_eq!(e.broker, Some((5, 9)));
        assert_eq!(e.ours, Some((0, 4)));
        assert!(b.pick(ApiKey::Fetch).is_err());
        assert!(broker(&[(ApiKey::LeaderAndIsr, 0, 7)])
            .pick(ApiKey::LeaderAndIsr)
            .is_err());
    }
}
