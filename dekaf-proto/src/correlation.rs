//! Matching responses to the requests they answer.

use std::collections::HashMap;

use bytes::{Bytes, BytesMut};

use crate::error::{DecodeError, DecodeErrorKind, EncodeError};
use crate::frame::{begin_frame, end_frame};
use crate::header::{
    request_header_version, response_header_version, RequestHeader, ResponseHeader,
};
use crate::messages::{RequestBody, ResponseBody};
use crate::wire::Reader;
use crate::{ApiKey, Message, Request};

/// A request waiting for its response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InFlight {
    /// The API of the request.
    pub api_key: ApiKey,
    /// The version it was sent in (the response comes back in the same one).
    pub version: i16,
}

/// One connection's correlation ids: assigns them to outgoing requests, remembers the API and
/// version of each request in flight, and decodes each response with the right header and
/// body version.
#[derive(Debug, Default)]
pub struct Correlator {
    client_id: Option<String>,
    next_id: i32,
    in_flight: HashMap<i32, InFlight>,
}

/// A decoded response and the request it answers.
#[derive(Debug, Clone, PartialEq)]
pub struct CorrelatedResponse {
    /// The correlation id shared by the request and the response.
    pub correlation_id: i32,
    /// The API and version of the request.
    pub request: InFlight,
    /// The response body.
    pub body: ResponseBody,
}

impl Correlator {
    /// A correlator that puts `client_id` in every request header.
    pub fn new(client_id: Option<String>) -> Self {
        Correlator {
            client_id,
            next_id: 0,
            in_flight: HashMap::new(),
        }
    }

    /// How many requests await a response.
    pub fn in_flight(&self) -> usize {
        self.in_flight.len()
    }

    /// Appends a complete frame (length, header, body) for `body` at `version` to `buf` and
    /// returns its correlation id.
    pub fn encode_request(
        &mut self,
        body: &RequestBody,
        version: i16,
        buf: &mut BytesMut,
    ) -> Result<i32, EncodeError> {
        self.encode_with(body.api_key(), version, buf, |buf| {
            body.encode(buf, version)
        })
    }

    /// Like [`encode_request`](Self::encode_request) for one typed request.
    pub fn encode<R: Request>(
        &mut self,
        body: &R,
        version: i16,
        buf: &mut BytesMut,
    ) -> Result<i32, EncodeError> {
        self.encode_with(R::SPEC.api_key, version, buf, |buf| {
            body.encode(buf, version)
        })
    }

    fn encode_with(
        &mut self,
        api_key: ApiKey,
        version: i16,
        buf: &mut BytesMut,
        body: impl FnOnce(&mut BytesMut) -> Result<(), EncodeError>,
    ) -> Result<i32, EncodeError> {
        let correlation_id = self.next_id;
        let header = RequestHeader {
            api_key: api_key.key(),
            api_version: version,
            correlation_id,
            client_id: self.client_id.clone(),
            unknown_tagged_fields: Default::default(),
        };
        let start = buf.len();
        let at = begin_frame(buf);
        let written = header
            .encode(buf, request_header_version(api_key, version))
            .and_then(|()| body(buf));
        if let Err(e) = written {
            buf.truncate(start);
            return Err(e);
        }
        end_frame(buf, at);
        self.next_id = self.next_id.wrapping_add(1).max(0);
        self.in_flight
            .insert(correlation_id, InFlight { api_key, version });
        Ok(correlation_id)
    }

    /// Registers a request sent without this correlator (fire-and-forget requests such as
    /// acks=0 produces must not be registered at all).
    pub fn forget(&mut self, correlation_id: i32) -> Option<InFlight> {
        self.in_flight.remove(&correlation_id)
    }

    /// Decodes one response frame (without its length prefix).
    ///
    /// An id that matches no request in flight is an error and leaves the map unchanged; a
    /// body that fails to decode is an error and the request is no longer in flight.
    pub fn decode_response(&mut self, frame: &Bytes) -> Result<CorrelatedResponse, DecodeError> {
        let mut r = Reader::new(frame);
        let correlation_id = r.i32("ResponseHeader.correlation_id")?;
        let request = self.in_flight.remove(&correlation_id).ok_or_else(|| {
            DecodeError::new(
                "ResponseHeader.correlation_id",
                0,
                DecodeErrorKind::UnknownCorrelationId(correlation_id),
            )
        })?;
        let mut r = Reader::new(frame);
        ResponseHeader::decode(
            &mut r,
            response_header_version(request.api_key, request.version),
        )?;
        let body = ResponseBody::decode(request.api_key, request.version, &mut r)?;
        r.finish(request.api_key.name())?;
        Ok(CorrelatedResponse {
            correlation_id,
            request,
            body,
        })
    }
}

/// Decodes a typed response frame for a request sent at `version`, checking nothing but the
/// header's shape. For tests and tools that keep one request in flight.
pub fn decode_typed_response<R: Request>(
    frame: &Bytes,
    version: i16,
) -> Result<(i32, R::Response), DecodeError> {
    let mut r = Reader::new(frame);
    let header = ResponseHeader::decode(&mut r, response_header_version(R::SPEC.api_key, version))?;
    let body = R::Response::decode(&mut r, version)?;
    r.finish(R::SPEC.api_key.name())?;
    Ok((header.correlation_id, body))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::FrameSplitter;
    use crate::messages::{api_versions::ApiVersion, ApiVersionsRequest, ApiVersionsResponse};
    use bytes::BufMut;

    fn response_frame(correlation_id: i32, body: &ApiVersionsResponse, version: i16) -> Bytes {
        let mut buf = BytesMut::new();
        ResponseHeader {
            correlation_id,
            ..Default::default()
        }
        .encode(
            &mut buf,
            response_header_version(ApiKey::ApiVersions, version),
        );
        body.encode(&mut buf, version).unwrap();
        buf.freeze()
    }

    #[test]
    fn responses_are_matched_by_id() {
        let mut c = Correlator::new(Some("dekaf".into()));
        let mut out = BytesMut::new();
        let a = c
            .encode(&ApiVersionsRequest::default(), 3, &mut out)
            .unwrap();
        let b = c
            .encode(&ApiVersionsRequest::default(), 0, &mut out)
            .unwrap();
        assert_ne!(a, b);
        assert_eq!(c.in_flight(), 2);

        // Both frames are well formed.
        let mut s = FrameSplitter::default();
        s.push(&out);
        assert!(s.next_frame().unwrap().is_some());
        assert!(s.next_frame().unwrap().is_some());

        let body = ApiVersionsResponse {
            api_keys: vec![ApiVersion {
                api_key: 18,
                min_version: 0,
                max_version: 4,
                ..Default::default()
            }],
            ..Default::default()
        };
        // Answered out of order, each with its own version.
        let rb = c.decode_response(&response_frame(b, &body, 0)).unwrap();
        assert_eq!(rb.request.version, 0);
        assert_eq!(rb.body, ResponseBody::ApiVersions(body.clone()));
        let ra = c.decode_response(&response_frame(a, &body, 3)).unwrap();
        assert_eq!(ra.request.version, 3);
        assert_eq!(c.in_flight(), 0);
    }

    #[test]
    fn unknown_id_is_a_typed_error() {
        let mut c = Correlator::new(None);
        let mut frame = BytesMut::new();
        frame.put_i32(42);
        let e = c.decode_response(&frame.freeze()).unwrap_err();
        assert_eq!(e.kind, DecodeErrorKind::UnknownCorrelationId(42));
    }
}
