//! What every top-level request and response has in common.

use bytes::{Bytes, BytesMut};

use crate::error::{DecodeError, DecodeErrorKind, EncodeError};
use crate::field::{Cx, Field};
use crate::wire::Reader;
use crate::ApiKey;

/// Whether a message is a request or a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageKind {
    /// Sent by a client.
    Request,
    /// Sent back by a broker.
    Response,
}

/// The facts that tie a message type to the protocol: its API, direction and version range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MessageSpec {
    /// The API the message belongs to.
    pub api_key: ApiKey,
    /// Request or response.
    pub kind: MessageKind,
    /// The lowest version this crate encodes and decodes.
    pub min_version: i16,
    /// The highest version this crate encodes and decodes.
    pub max_version: i16,
}

impl MessageSpec {
    /// A request of `api_key` in versions `min..=max`.
    pub const fn request(api_key: ApiKey, min_version: i16, max_version: i16) -> Self {
        MessageSpec {
            api_key,
            kind: MessageKind::Request,
            min_version,
            max_version,
        }
    }

    /// A response of `api_key` in versions `min..=max`.
    pub const fn response(api_key: ApiKey, min_version: i16, max_version: i16) -> Self {
        MessageSpec {
            kind: MessageKind::Response,
            ..Self::request(api_key, min_version, max_version)
        }
    }

    /// Whether `version` is in this crate's range for the message.
    pub const fn supports(&self, version: i16) -> bool {
        self.min_version <= version && version <= self.max_version
    }

    /// The encoding context of the whole message at `version`.
    pub const fn cx(&self, version: i16) -> Cx {
        Cx::new(version, self.api_key.is_flexible(version))
    }
}

/// A top-level request or response body, encodable and decodable in every version of its range.
pub trait Message: Field + Default + Clone + std::fmt::Debug + PartialEq {
    /// The API, direction and version range.
    const SPEC: MessageSpec;

    /// Appends the body, encoded in `version`, to `buf`.
    fn encode(&self, buf: &mut BytesMut, version: i16) -> Result<(), EncodeError> {
        if !Self::SPEC.supports(version) {
            return Err(EncodeError::UnsupportedVersion {
                api: Self::SPEC.api_key.name(),
                version,
            });
        }
        self.write(buf, Self::SPEC.cx(version), Self::SPEC.api_key.name())
    }

    /// Reads a body of `version` from `r`, leaving what follows it.
    fn decode(r: &mut Reader<'_>, version: i16) -> Result<Self, DecodeError> {
        if !Self::SPEC.supports(version) {
            return Err(r.error(
                Self::SPEC.api_key.name(),
                DecodeErrorKind::UnsupportedVersion {
                    api: Self::SPEC.api_key.name(),
                    version,
                },
            ));
        }
        Self::read(r, Self::SPEC.cx(version), Self::SPEC.api_key.name())
    }

    /// Decodes a body of `version` that must fill all of `src`.
    fn decode_exact(src: &Bytes, version: i16) -> Result<Self, DecodeError> {
        let mut r = Reader::new(src);
        let m = Self::decode(&mut r, version)?;
        r.finish(Self::SPEC.api_key.name())?;
        Ok(m)
    }

    /// Encodes the body in `version` into a fresh buffer.
    fn to_bytes(&self, version: i16) -> Result<Bytes, EncodeError> {
        let mut buf = BytesMut::new();
        self.encode(&mut buf, version)?;
        Ok(buf.freeze())
    }
}

/// A request, and the response type a broker answers it with.
pub trait Request: Message {
    /// The body of the answer.
    type Response: Message;
}
