//! Opening a connection: TCP connect, then the ApiVersions handshake.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_io::Timer;
use bytes::{Bytes, BytesMut};
use dekaf_proto::correlation::Correlator;
use dekaf_proto::frame::FrameSplitter;
use dekaf_proto::header::ResponseHeader;
use dekaf_proto::messages::{ApiVersionsRequest, ApiVersionsResponse};
use dekaf_proto::version::BrokerVersions;
use dekaf_proto::wire::Reader;
use dekaf_proto::{ApiKey, DecodeError, DecodeErrorKind, ErrorCode, Message};
use dekaf_state::client::{BrokerAddress, ClientRequest, RequestFailed, Response};
use dekaf_state::sasl::{scram_nonce, SaslClient, SaslError, SaslOutcome};
use futures_lite::{AsyncReadExt, AsyncWriteExt};

use crate::config::display_address;
use crate::sasl::random_bytes;
use crate::transport::{BoxedStream, TlsError, Transport};
use crate::{Config, Error};

/// The ApiVersions version asked first: the newest with the client software fields whose
/// answer every broker since Kafka 2.4 can write.
pub(crate) const HANDSHAKE_VERSION: i16 = 3;

/// A connection ready for requests.
pub(crate) struct Opened {
    pub stream: BoxedStream,
    pub correlator: Correlator,
    /// Holds any bytes the broker sent after the handshake answer.
    pub splitter: FrameSplitter,
    pub versions: BrokerVersions,
    /// The ApiVersions version the broker answered.
    pub handshake_version: i16,
    /// The SASL session, when the connection authenticated (for re-authentication).
    pub session: Option<Session>,
}

/// An authenticated SASL session: the machine, kept for re-authentication, and when it must
/// re-authenticate (the broker gave the session a lifetime, KIP-368).
pub(crate) struct Session {
    pub client: SaslClient,
    pub reauthenticate_at: Option<Instant>,
}

/// Opens a stream to `addr` with `transport` within the connect timeout and does the
/// ApiVersions handshake within the request timeout.
pub(crate) async fn open(
    addr: BrokerAddress,
    config: Arc<Config>,
    transport: Arc<dyn Transport>,
) -> Result<Opened, Error> {
    let label = display_address(&addr);
    let mut stream = within(config.connect_timeout, transport.connect(&addr))
        .await
        .ok_or_else(|| Error::ConnectTimeout {
            addr: label.clone(),
        })??;
    let (mut correlator, mut splitter, versions, handshake_version) = within(
        config.request_timeout,
        handshake(&mut stream, &config, &label),
    )
    .await
    .ok_or_else(|| Error::TimedOut {
        addr: label.clone(),
    })??;
    let session = match (&config.sasl, config.security_protocol.uses_sasl()) {
        (Some(sasl), true) => {
            let sasl_config = sasl.config().await.map_err(|reason| Error::Sasl {
                addr: label.clone(),
                error: SaslError::InvalidConfig {
                    mechanism: sasl.mechanism(),
                    reason: format!("no OAUTHBEARER token: {reason}"),
                },
            })?;
            let mut client = SaslClient::new(sasl_config, scram_nonce(&random_bytes::<24>()));
            let exchange = Exchange {
                stream: &mut stream,
                correlator: &mut correlator,
                splitter: &mut splitter,
                versions: &versions,
                label: &label,
            };
            within(config.request_timeout, exchange.run(&mut client))
                .await
                .ok_or_else(|| Error::TimedOut {
                    addr: label.clone(),
                })??;
            Some(client)
        }
        _ => None,
    };
    let session = session.map(|client| {
        let reauthenticate_at = client.reauthenticate_at(u32::from_le_bytes(random_bytes()));
        Session {
            client,
            reauthenticate_at,
        }
    });
    Ok(Opened {
        stream,
        correlator,
        splitter,
        versions,
        handshake_version,
        session,
    })
}

/// One SASL exchange over a connection that carries nothing else meanwhile.
struct Exchange<'a> {
    stream: &'a mut BoxedStream,
    correlator: &'a mut Correlator,
    splitter: &'a mut FrameSplitter,
    versions: &'a BrokerVersions,
    label: &'a str,
}

impl Exchange<'_> {
    /// Runs `client`'s requests until it has an outcome; fails with [`Error::Sasl`] unless
    /// it authenticated. A connection the broker closes on the SaslHandshake is a refused
    /// mechanism, not a broken connection.
    async fn run(mut self, client: &mut SaslClient) -> Result<(), Error> {
        while let Some(request) = client.poll_request() {
            let api = request.api_key();
            let answer = self.send(&request).await;
            if api == ApiKey::SaslHandshake && matches!(answer, Err(RequestFailed::Disconnected)) {
                return Err(Error::Sasl {
                    addr: self.label.to_owned(),
                    error: SaslError::ClosedOnHandshake {
                        mechanism: client.mechanism(),
                    },
                });
            }
            client.handle_response(Instant::now(), answer);
        }
        match client.outcome() {
            Some(SaslOutcome::Authenticated { session_lifetime }) => {
                tracing::debug!(
                    broker = self.label,
                    mechanism = %client.mechanism(),
                    ?session_lifetime,
                    "authenticated"
                );
                Ok(())
            }
            Some(SaslOutcome::Failed(error)) => Err(Error::Sasl {
                addr: self.label.to_owned(),
                error: error.clone(),
            }),
            // A machine that stops asking has an outcome; refuse the connection otherwise.
            None => Err(Error::Sasl {
                addr: self.label.to_owned(),
                error: SaslError::Misuse {
                    mechanism: client.mechanism(),
                    reason: "the exchange ended without an outcome",
                },
            }),
        }
    }

    /// Writes one request and reads its answer. The bodies carry credentials: never logged.
    async fn send(&mut self, request: &ClientRequest) -> Result<Response, RequestFailed> {
        let version = request
            .negotiate(self.versions)
            .map_err(RequestFailed::Unsupported)?;
        let mut buf = BytesMut::new();
        let correlation_id = self
            .correlator
            .encode_request(&request.body(version), version, &mut buf)
            .map_err(RequestFailed::Encode)?;
        if self.stream.write_all(&buf).await.is_err() {
            self.correlator.forget(correlation_id);
            return Err(RequestFailed::Disconnected);
        }
        let frame = match read_frame(self.stream, self.splitter, self.label).await {
            Ok(frame) => frame,
            Err(_) => return Err(RequestFailed::Disconnected),
        };
        let answer = self
            .correlator
            .decode_response(&frame)
            .map_err(RequestFailed::Malformed)?;
        Ok(Response {
            version: answer.request.version,
            body: answer.body,
        })
    }
}

async fn handshake(
    stream: &mut BoxedStream,
    config: &Config,
    label: &str,
) -> Result<(Correlator, FrameSplitter, BrokerVersions, i16), Error> {
    let mut correlator = Correlator::new(config.client_id.clone());
    let mut splitter = FrameSplitter::new(config.max_frame_size);
    let mut version = HANDSHAKE_VERSION;
    loop {
        let request = ApiVersionsRequest {
            client_software_name: "dekaf".into(),
            client_software_version: env!("CARGO_PKG_VERSION").into(),
            ..Default::default()
        };
        let mut buf = BytesMut::new();
        let correlation_id = correlator
            .encode(&request, version, &mut buf)
            .map_err(|e| Error::Request(e.into()))?;
        // Decoded here rather than by the correlator: the answer's body version depends on
        // its error code.
        correlator.forget(correlation_id);
        stream
            .write_all(&buf)
            .await
            .map_err(|e| crate::transport::stream_error("write", label, e))?;
        let frame = read_frame(stream, &mut splitter, label).await?;
        let malformed = |source| Error::Malformed {
            addr: label.to_owned(),
            source,
        };
        match read_answer(&frame, correlation_id, version).map_err(malformed)? {
            Answer::Versions(response) => {
                tracing::debug!(broker = label, version, "ApiVersions handshake done");
                return Ok((
                    correlator,
                    splitter,
                    BrokerVersions::from_response(&response),
                    version,
                ));
            }
            Answer::Retry(lower) => {
                tracing::debug!(
                    broker = label,
                    refused = version,
                    retry = lower,
                    "broker refused the ApiVersions version"
                );
                version = lower;
            }
            Answer::Refused(code) => {
                return Err(Error::Kafka {
                    context: "ApiVersions handshake",
                    code,
                })
            }
        }
    }
}

async fn read_frame(
    stream: &mut BoxedStream,
    splitter: &mut FrameSplitter,
    label: &str,
) -> Result<Bytes, Error> {
    let mut chunk = [0u8; 4096];
    let mut first = true;
    loop {
        let next = splitter.next_frame().map_err(|source| Error::Malformed {
            addr: label.to_owned(),
            source,
        })?;
        if let Some(frame) = next {
            return Ok(frame);
        }
        match stream.read(&mut chunk).await {
            Ok(0) => {
                return Err(Error::Closed {
                    addr: label.to_owned(),
                })
            }
            Ok(n) => {
                let read = chunk.get(..n).unwrap_or_default();
                // A TLS listener answers a plaintext client with a TLS record, whose first
                // bytes would read as a frame of hundreds of megabytes.
                if std::mem::take(&mut first) && crate::transport::looks_like_tls(read) {
                    return Err(Error::Tls {
                        addr: label.to_owned(),
                        error: TlsError::PeerSpeaksTls,
                    });
                }
                splitter.push(read);
            }
            Err(e) => return Err(crate::transport::stream_error("read", label, e)),
        }
    }
}

/// What an ApiVersions answer says.
#[derive(Debug, PartialEq)]
pub(crate) enum Answer {
    /// The broker's version ranges.
    Versions(ApiVersionsResponse),
    /// The broker does not speak the version asked; ask again in this one.
    Retry(i16),
    /// The broker refused for another reason.
    Refused(ErrorCode),
}

/// Reads the answer to an ApiVersions request sent as `correlation_id` in `version`.
///
/// The header is always v0. A broker that does not know `version` answers
/// UNSUPPORTED_VERSION with a v0 body listing its own ApiVersions range, so the error code
/// (the first field in every version) decides how the rest is read.
pub(crate) fn read_answer(
    frame: &Bytes,
    correlation_id: i32,
    version: i16,
) -> Result<Answer, DecodeError> {
    let mut r = Reader::new(frame);
    let header = ResponseHeader::decode(&mut r, 0)?;
    if header.correlation_id != correlation_id {
        return Err(DecodeError::new(
            "ResponseHeader.correlation_id",
            0,
            DecodeErrorKind::UnknownCorrelationId(header.correlation_id),
        ));
    }
    let body = frame.slice(4..);
    let code = ErrorCode(Reader::new(&body).i16("ApiVersionsResponse.error_code")?);
    if code == ErrorCode::UNSUPPORTED_VERSION && version > 0 {
        let response = ApiVersionsResponse::decode_exact(&body, 0)?;
        let theirs = response
            .api_keys
            .iter()
            .find(|k| k.api_key == ApiKey::ApiVersions.key())
            .map(|k| k.max_version);
        // Their newest version below ours, or v0 which every broker speaks.
        let lower = theirs.filter(|&v| (0..version).contains(&v)).unwrap_or(0);
        return Ok(Answer::Retry(lower));
    }
    let response = ApiVersionsResponse::decode_exact(&body, version)?;
    if response.error_code.is_ok() {
        // A range no broker could mean (damaged bytes) would otherwise stay with the
        // connection and refuse every request of that API without sending it.
        if let Some(bad) = response
            .api_keys
            .iter()
            .find(|k| k.min_version < 0 || k.max_version < k.min_version)
        {
            return Err(DecodeError::new(
                "ApiVersionsResponse.api_keys.max_version",
                0,
                DecodeErrorKind::InvalidValue(i64::from(bad.max_version)),
            ));
        }
        Ok(Answer::Versions(response))
    } else {
        Ok(Answer::Refused(response.error_code))
    }
}

/// `fut`'s output, or `None` if `limit` passes first.
pub(crate) async fn within<T>(limit: Duration, fut: impl Future<Output = T>) -> Option<T> {
    futures_lite::future::or(async { Some(fut.await) }, async {
        Timer::after(limit).await;
        None
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::BufMut;
    use dekaf_proto::messages::api_versions::ApiVersion;

    fn frame(correlation_id: i32, body: &ApiVersionsResponse, version: i16) -> Bytes {
        let mut buf = BytesMut::new();
        buf.put_i32(correlation_id);
        body.encode(&mut buf, version).unwrap();
        buf.freeze()
    }

    fn ranges(api_versions_max: i16) -> ApiVersionsResponse {
        ApiVersionsResponse {
            api_keys: vec![ApiVersion {
                api_key: ApiKey::ApiVersions.key(),
                min_version: 0,
                max_version: api_versions_max,
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    #[test]
    fn a_normal_answer_gives_the_ranges() {
        let body = ranges(4);
        assert_eq!(
            read_answer(&frame(7, &body, 3), 7, 3),
            Ok(Answer::Versions(body))
        );
    }

    #[test]
    fn unsupported_version_is_read_as_v0_and_retried_lower() {
        let refusal = |max| ApiVersionsResponse {
            error_code: ErrorCode::UNSUPPORTED_VERSION,
            ..ranges(max)
        };
        assert_eq!(
            read_answer(&frame(1, &refusal(2), 0), 1, 3),
            Ok(Answer::Retry(2))
        );
        // A range that does not help (or none at all) falls back to v0.
        assert_eq!(
            read_answer(&frame(1, &refusal(9), 0), 1, 3),
            Ok(Answer::Retry(0))
        );
        let empty = ApiVersionsResponse {
            error_code: ErrorCode::UNSUPPORTED_VERSION,
            ..Default::default()
        };
        assert_eq!(
            read_answer(&frame(1, &empty, 0), 1, 3),
            Ok(Answer::Retry(0))
        );
        // At v0 there is nothing lower to try.
        assert_eq!(
            read_answer(&frame(1, &refusal(2), 0), 1, 0),
            Ok(Answer::Refused(ErrorCode::UNSUPPORTED_VERSION))
        );
    }

    #[test]
    fn garbage_is_a_decode_error() {
        let wrong_id = read_answer(&frame(2, &ranges(4), 3), 1, 3).unwrap_err();
        assert_eq!(wrong_id.kind, DecodeErrorKind::UnknownCorrelationId(2));
        assert!(read_answer(&Bytes::from_static(&[0, 0, 0, 1, 0]), 1, 3).is_err());
        assert!(read_answer(&Bytes::from_static(&[0, 0, 0, 1, 0, 0, 9, 9, 9]), 1, 3).is_err());
        assert!(read_answer(&Bytes::new(), 1, 3).is_err());
    }

    #[test]
    fn a_range_no_broker_could_mean_is_a_decode_error() {
        for (min, max) in [(0, -1012), (3, 2), (-1, 4)] {
            let mut body = ranges(4);
            body.api_keys.push(ApiVersion {
                api_key: ApiKey::Metadata.key(),
                min_version: min,
                max_version: max,
                ..Default::default()
            });
            let e = read_answer(&frame(1, &body, 3), 1, 3).unwrap_err();
            assert_eq!(
                e.kind,
                DecodeErrorKind::InvalidValue(i64::from(max)),
                "{min}..{max}"
            );
        }
    }
}
