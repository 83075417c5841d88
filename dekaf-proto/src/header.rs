//! Request and response headers, whose version follows from the API and its version.

use bytes::{BufMut, BytesMut};

use crate::error::{DecodeError, DecodeErrorKind, EncodeError};
use crate::field::{Cx, Field, TaggedFields};
use crate::wire::Reader;
use crate::ApiKey;

/// The header in front of every request.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RequestHeader {
    /// The API of the body, as its number (kept raw so any key can be carried).
    pub api_key: i16,
    /// The version of the body.
    pub api_version: i16,
    /// Chosen by the client; the broker echoes it in the response.
    pub correlation_id: i32,
    /// The client's name for logs and quotas.
    pub client_id: Option<String>,
    /// Tagged fields of header v2 this crate does not know.
    pub unknown_tagged_fields: TaggedFields,
}

/// The request header version for `api_key` at `version`: 2 where the body is flexible, else 1.
pub fn request_header_version(api_key: ApiKey, version: i16) -> i16 {
    if api_key.is_flexible(version) {
        2
    } else {
        1
    }
}

/// The response header version for `api_key` at `version`: 1 where the body is flexible,
/// else 0. ApiVersions responses always use 0, so that a client that asked with a version the
/// broker does not know can still read the answer.
pub fn response_header_version(api_key: ApiKey, version: i16) -> i16 {
    if api_key.is_flexible(version) && api_key != ApiKey::ApiVersions {
        1
    } else {
        0
    }
}

impl RequestHeader {
    /// Appends the header in `header_version` (1 or 2).
    pub fn encode(&self, buf: &mut BytesMut, header_version: i16) -> Result<(), EncodeError> {
        buf.put_i16(self.api_key);
        buf.put_i16(self.api_version);
        buf.put_i32(self.correlation_id);
        // The client id stays a classic nullable string even in header v2.
        self.client_id.write(
            buf,
            Cx::new(header_version, false).with_nullable(true),
            "RequestHeader.client_id",
        )?;
        if header_version >= 2 {
            crate::field::write_tagged(buf, &[], &self.unknown_tagged_fields);
        }
        Ok(())
    }

    /// Reads a request header, choosing its version from the api key and version it starts with.
    pub fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let at = r.offset();
        let api_key = r.i16("RequestHeader.api_key")?;
        let api_version = r.i16("RequestHeader.api_version")?;
        let correlation_id = r.i32("RequestHeader.correlation_id")?;
        let key = ApiKey::from_key(api_key).ok_or_else(|| {
            DecodeError::new(
                "RequestHeader.api_key",
                at,
                DecodeErrorKind::UnknownApiKey(api_key),
            )
        })?;
        let header_version = request_header_version(key, api_version);
        let client_id = Option::<String>::read(
            r,
            Cx::new(header_version, false).with_nullable(true),
            "RequestHeader.client_id",
        )?;
        let mut unknown_tagged_fields = TaggedFields::default();
        if header_version >= 2 {
            read_unknown_tags(r, &mut unknown_tagged_fields, "RequestHeader tagged fields")?;
        }
        Ok(RequestHeader {
            api_key,
            api_version,
            correlation_id,
            client_id,
            unknown_tagged_fields,
        })
    }
}

/// The header in front of every response.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ResponseHeader {
    /// The correlation id of the request this answers.
    pub correlation_id: i32,
    /// Tagged fields of header v1 this crate does not know.
    pub unknown_tagged_fields: TaggedFields,
}

impl ResponseHeader {
    /// Appends the header in `header_version` (0 or 1).
    pub fn encode(&self, buf: &mut BytesMut, header_version: i16) {
        buf.put_i32(self.correlation_id);
        if header_version >= 1 {
            crate::field::write_tagged(buf, &[], &self.unknown_tagged_fields);
        }
    }

    /// Reads a response header of `header_version` (0 or 1).
    pub fn decode(r: &mut Reader<'_>, header_version: i16) -> Result<Self, DecodeError> {
        let correlation_id = r.i32("ResponseHeader.correlation_id")?;
        let mut unknown_tagged_fields = TaggedFields::default();
        if header_version >= 1 {
            read_unknown_tags(
                r,
                &mut unknown_tagged_fields,
                "ResponseHeader tagged fields",
            )?;
        }
        Ok(ResponseHeader {
            correlation_id,
            unknown_tagged_fields,
        })
    }
}

fn read_unknown_tags(
    r: &mut Reader<'_>,
    into: &mut TaggedFields,
    what: &'static str,
) -> Result<(), DecodeError> {
    for _ in 0..crate::field::read_tagged_count(r, what)? {
        let (tag, sub) = crate::field::read_tagged_field(r, what)?;
        let mut sub = sub;
        let n = sub.remaining();
        into.0.push((tag, sub.bytes(n, what)?));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    #[test]
    fn header_versions_follow_flexibility() {
        assert_eq!(request_header_version(ApiKey::Fetch, 11), 1);
        assert_eq!(request_header_version(ApiKey::Fetch, 12), 2);
        assert_eq!(response_header_version(ApiKey::Fetch, 12), 1);
        assert_eq!(response_header_version(ApiKey::ApiVersions, 3), 0);
        assert_eq!(request_header_version(ApiKey::ApiVersions, 3), 2);
    }

    #[test]
    fn request_header_round_trips() {
        for version in [0, 3] {
            let h = RequestHeader {
                api_key: ApiKey::ApiVersions.key(),
                api_version: version,
                correlation_id: 7,
                client_id: Some("dekaf".into()),
                unknown_tagged_fields: TaggedFields::default(),
            };
            let mut buf = BytesMut::new();
            h.encode(
                &mut buf,
                request_header_version(ApiKey::ApiVersions, version),
            )
            .unwrap();
            let bytes = Bytes::from(buf);
            let mut r = Reader::new(&bytes);
            assert_eq!(RequestHeader::decode(&mut r).unwrap(), h);
            assert!(r.is_empty());
        }
    }
}
