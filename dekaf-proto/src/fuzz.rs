//! The bodies of the fuzz targets in `fuzz/`, kept in the crate so that the committed corpus
//! also replays as ordinary tests on a stable toolchain.
//!
//! Each function takes arbitrary bytes and panics only when this crate has a bug: decoding
//! bad input must fail with an error, and whatever decodes must encode and decode again to the
//! same bytes.

use bytes::{Bytes, BytesMut};

use crate::frame::FrameSplitter;
use crate::messages::{RequestBody, ResponseBody};
use crate::wire::Reader;
use crate::ApiKey;

/// Feeds `data[1..]` to a [`FrameSplitter`] in chunks sized by `data[0]`, which also sets the
/// largest accepted frame, and checks that every byte pushed comes out in a frame (after its
/// length prefix) or is still buffered.
pub fn fuzz_frames(data: &[u8]) {
    let Some((&seed, stream)) = data.split_first() else {
        return;
    };
    let max = 1 + usize::from(seed) * 16;
    let step = usize::from(seed % 31) + 1;
    let mut splitter = FrameSplitter::new(max);
    let (mut pushed, mut consumed) = (0, 0);
    for chunk in stream.chunks(step) {
        splitter.push(chunk);
        pushed += chunk.len();
        loop {
            match splitter.next_frame() {
                Ok(Some(frame)) => {
                    assert!(frame.len() <= max, "frame above the maximum");
                    let prefix = stream.get(consumed..consumed + 4).map(|p| p.to_vec());
                    let len = u32::try_from(frame.len()).unwrap_or(u32::MAX);
                    assert_eq!(prefix, Some(len.to_be_bytes().to_vec()), "length prefix");
                    let body = stream.get(consumed + 4..consumed + 4 + frame.len());
                    assert_eq!(body, Some(&frame[..]), "frame bytes");
                    consumed += 4 + frame.len();
                }
                Ok(None) => break,
                // A bad length prefix: the connection would be closed here.
                Err(_) => return,
            }
        }
        assert_eq!(
            consumed + splitter.buffered(),
            pushed,
            "bytes lost or invented"
        );
    }
}

/// Decodes `data[4..]` as the response body of the API numbered by `data[0..2]` at the version
/// in `data[2..4]` (both big-endian), and checks that a decoded body survives encode and decode.
pub fn fuzz_response(data: &[u8]) {
    round_trip::<ResponseBody>(data, "response");
}

/// Like [`fuzz_response`] for request bodies.
pub fn fuzz_request(data: &[u8]) {
    round_trip::<RequestBody>(data, "request");
}

/// A message body the fuzzers decode and encode again: requests and responses alike.
trait Body: Sized {
    fn decode_body(api: ApiKey, version: i16, r: &mut Reader<'_>) -> Result<Self, String>;
    fn encode_body(&self, buf: &mut BytesMut, version: i16) -> Result<(), String>;
}

impl Body for RequestBody {
    fn decode_body(api: ApiKey, version: i16, r: &mut Reader<'_>) -> Result<Self, String> {
        RequestBody::decode(api, version, r).map_err(|e| e.to_string())
    }
    fn encode_body(&self, buf: &mut BytesMut, version: i16) -> Result<(), String> {
        self.encode(buf, version).map_err(|e| e.to_string())
    }
}

impl Body for ResponseBody {
    fn decode_body(api: ApiKey, version: i16, r: &mut Reader<'_>) -> Result<Self, String> {
        ResponseBody::decode(api, version, r).map_err(|e| e.to_string())
    }
    fn encode_body(&self, buf: &mut BytesMut, version: i16) -> Result<(), String> {
        self.encode(buf, version).map_err(|e| e.to_string())
    }
}

/// Decodes a fuzz input as a `B`; a decoded body must encode, decode again to the end of its
/// bytes, and encode to the same bytes.
fn round_trip<B: Body>(data: &[u8], what: &str) {
    let Some((api, version, body)) = split(data) else {
        return;
    };
    let Ok(decoded) = B::decode_body(api, version, &mut Reader::new(&body)) else {
        return;
    };
    let encode = |b: &B| {
        let mut buf = BytesMut::new();
        b.encode_body(&mut buf, version)
            .unwrap_or_else(|e| panic!("{api} v{version}: a decoded {what} must encode: {e}"));
        buf.freeze()
    };
    let first = encode(&decoded);
    let mut r = Reader::new(&first);
    let again = B::decode_body(api, version, &mut r)
        .unwrap_or_else(|e| panic!("{api} v{version}: an encoded {what} must decode: {e}"));
    assert!(
        r.is_empty(),
        "{api} v{version}: bytes left after re-decoding"
    );
    assert_eq!(
        first,
        encode(&again),
        "{api} v{version}: encoding is not stable"
    );
}

/// The API key, version and body of a fuzz input: two big-endian i16s, then the body.
fn split(data: &[u8]) -> Option<(ApiKey, i16, Bytes)> {
    let key = i16::from_be_bytes(data.get(0..2)?.try_into().ok()?);
    let version = i16::from_be_bytes(data.get(2..4)?.try_into().ok()?);
    Some((
        ApiKey::from_key(key)?,
        version,
        Bytes::copy_from_slice(data.get(4..)?),
    ))
}

/// The input [`fuzz_request`] and [`fuzz_response`] read: `body` for `api` at `version`.
pub fn message_input(api: ApiKey, version: i16, body: &[u8]) -> Vec<u8> {
    let mut input = Vec::with_capacity(4 + body.len());
    input.extend_from_slice(&api.key().to_be_bytes());
    input.extend_from_slice(&version.to_be_bytes());
    input.extend_from_slice(body);
    input
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::messages::{ApiVersionsRequest, ApiVersionsResponse};
    use crate::Message;
    use proptest::prelude::*;

    #[test]
    fn valid_messages_pass() {
        for version in 0..=4 {
            let body = ApiVersionsRequest::default().to_bytes(version).unwrap();
            fuzz_request(&message_input(ApiKey::ApiVersions, version, &body));
            let body = ApiVersionsResponse::default().to_bytes(version).unwrap();
            fuzz_response(&message_input(ApiKey::ApiVersions, version, &body));
        }
    }

    proptest! {
        #[test]
        fn arbitrary_inputs_never_panic(data: Vec<u8>) {
            fuzz_frames(&data);
            fuzz_request(&data);
            fuzz_response(&data);
        }
    }
}
