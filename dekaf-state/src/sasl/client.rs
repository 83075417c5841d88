//! The SASL exchange of one connection: SaslHandshake, then SaslAuthenticate until the
//! mechanism is done, then one outcome.

use std::fmt;
use std::time::{Duration, Instant};

use bytes::Bytes;
use dekaf_proto::messages::{
    ResponseBody, SaslAuthenticateRequest, SaslAuthenticateResponse, SaslHandshakeRequest,
    SaslHandshakeResponse,
};
use dekaf_proto::{ApiKey, ErrorCode};

use super::config::Credentials;
use super::error::SaslError;
use super::{oauthbearer, plain, scram, session, Mechanism, SaslConfig};
use crate::client::{ClientRequest, RequestFailed, Response};

/// How a run of [`SaslClient`] ended.
#[derive(Clone, Debug, PartialEq)]
pub enum SaslOutcome {
    /// The broker accepted the credentials.
    Authenticated {
        /// How long the session lasts before the client must re-authenticate on this
        /// connection (KIP-368; SaslAuthenticate v1 and later), `None` for as long as the
        /// connection lives.
        session_lifetime: Option<Duration>,
    },
    /// The exchange failed; the driver closes the connection.
    Failed(SaslError),
}

/// The SASL client of one connection: a state machine that writes SaslHandshake (v1) and
/// SaslAuthenticate (v0–v2) requests and reads their answers, without IO.
///
/// A driver runs one on each new connection, after ApiVersions and before any other request
/// (Kafka answers nothing else on a SASL listener until the client has authenticated).
///
/// - Getters: [`mechanism`](Self::mechanism), [`outcome`](Self::outcome),
///   [`reauthenticate_at`](Self::reauthenticate_at).
/// - Output: [`poll_request`](Self::poll_request) — the next request, once per answer.
/// - Input: [`handle_response`](Self::handle_response) — its answer, or why there is none.
/// - Command: [`reauthenticate`](Self::reauthenticate) — a new run on the authenticated
///   connection (KIP-368).
///
/// The driver alternates: `poll_request`, send it (negotiating its version with
/// [`ClientRequest::negotiate`]), `handle_response` with the answer, until
/// [`outcome`](Self::outcome) is `Some`. Then `poll_request` returns `None` until the next
/// `reauthenticate`. A run has exactly one outcome, and a failed one leaves the connection
/// useless: the driver closes it.
///
/// Requests carry the credentials: a driver must not log their bodies.
pub struct SaslClient {
    mechanism: Mechanism,
    /// The credentials, for the run under way only.
    config: Option<SaslConfig>,
    nonce: String,
    step: Step,
    exchange: Exchange,
    outcome: Option<SaslOutcome>,
    authenticated_at: Option<Instant>,
}

/// Where the run is.
enum Step {
    /// SaslHandshake to send.
    Handshake,
    /// SaslHandshake in flight.
    AwaitingHandshake,
    /// SaslAuthenticate to send with these bytes.
    Authenticate(Bytes),
    /// SaslAuthenticate in flight.
    AwaitingAuthenticate,
    /// The run has its outcome.
    Done,
}

/// What the mechanism waits for from the broker.
enum Exchange {
    /// The broker's answer to the first message.
    First,
    /// SCRAM: the server-final message.
    ScramFinal(scram::ServerVerifier),
    /// OAUTHBEARER: the broker's final answer after its error, which the client
    /// acknowledged.
    OAuthBearerFailed(oauthbearer::ServerError),
}

/// What the mechanism does next.
enum Next {
    Send(Vec<u8>),
    Done,
}

impl fmt::Debug for SaslClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SaslClient")
            .field("mechanism", &self.mechanism)
            .field("outcome", &self.outcome)
            .finish_non_exhaustive()
    }
}

impl SaslClient {
    /// A client that authenticates with `config`. `nonce` is the SCRAM client nonce
    /// (ignored by the other mechanisms): the driver makes a fresh one from at least 18
    /// bytes of the operating system's random number generator for every run, e.g. with
    /// [`scram_nonce`](super::scram_nonce) (RFC 5802 asks for a fresh, unpredictable nonce
    /// in every exchange).
    ///
    /// A configuration that [`check`](SaslConfig::check) refuses (or a SCRAM nonce that is
    /// empty or has a character other than printable ASCII without `,`) ends the run at once:
    /// [`SaslOutcome::Failed`] with [`SaslError::InvalidConfig`], and no request.
    pub fn new(config: SaslConfig, nonce: impl Into<String>) -> Self {
        let mut client = SaslClient {
            mechanism: config.mechanism(),
            config: None,
            nonce: String::new(),
            step: Step::Done,
            exchange: Exchange::First,
            outcome: None,
            authenticated_at: None,
        };
        client.start(config, nonce.into());
        client
    }

    /// The mechanism.
    pub fn mechanism(&self) -> Mechanism {
        self.mechanism
    }

    /// How the current run ended, `None` while it is under way.
    pub fn outcome(&self) -> Option<&SaslOutcome> {
        self.outcome.as_ref()
    }

    /// When to re-authenticate the session of the last successful run, if it has a lifetime:
    /// the time its answer was handled plus
    /// [`reauthentication_delay`](super::reauthentication_delay)`(lifetime, random)`.
    pub fn reauthenticate_at(&self, random: u32) -> Option<Instant> {
        let Some(SaslOutcome::Authenticated {
            session_lifetime: Some(lifetime),
        }) = &self.outcome
        else {
            return None;
        };
        let at = self.authenticated_at?;
        at.checked_add(session::reauthentication_delay(*lifetime, random))
    }

    /// Starts a new run on a connection whose last run authenticated: SaslHandshake again,
    /// then SaslAuthenticate, as KIP-368 has it. `config` (same mechanism; an OAUTHBEARER
    /// token may be a fresh one) and `nonce` are as for [`new`](Self::new).
    ///
    /// Refused with [`SaslError::Misuse`], leaving the machine as it was, when the last run
    /// has not authenticated or `config` has another mechanism (Kafka requires the same). The
    /// old session stays valid until it expires; until this run's outcome the driver sends
    /// no other request on the connection (answers to earlier ones may still arrive).
    pub fn reauthenticate(
        &mut self,
        config: SaslConfig,
        nonce: impl Into<String>,
    ) -> Result<(), SaslError> {
        let misuse = |reason| SaslError::Misuse {
            mechanism: self.mechanism,
            reason,
        };
        if !matches!(self.outcome, Some(SaslOutcome::Authenticated { .. })) {
            return Err(misuse(
                "re-authentication needs a connection whose last exchange authenticated",
            ));
        }
        if config.mechanism() != self.mechanism {
            return Err(misuse(
                "re-authentication must use the mechanism of the first authentication",
            ));
        }
        self.outcome = None;
        self.start(config, nonce.into());
        Ok(())
    }

    /// The next request to send, if any: one at a time, the next only after
    /// [`handle_response`](Self::handle_response) got the answer to the last.
    pub fn poll_request(&mut self) -> Option<ClientRequest> {
        match std::mem::replace(&mut self.step, Step::Done) {
            Step::Handshake => {
                self.step = Step::AwaitingHandshake;
                let mechanism = self.mechanism.name();
                Some(ClientRequest::new(ApiKey::SaslHandshake, 1, 1, move |_| {
                    SaslHandshakeRequest {
                        mechanism: mechanism.to_string(),
                        ..Default::default()
                    }
                    .into()
                }))
            }
            Step::Authenticate(auth_bytes) => {
                self.step = Step::AwaitingAuthenticate;
                Some(ClientRequest::new(
                    ApiKey::SaslAuthenticate,
                    0,
                    2,
                    move |_| {
                        SaslAuthenticateRequest {
                            auth_bytes: auth_bytes.clone(),
                            ..Default::default()
                        }
                        .into()
                    },
                ))
            }
            other => {
                self.step = other;
                None
            }
        }
    }

    /// The answer to the request [`poll_request`](Self::poll_request) returned last, or why
    /// there is none. Ignored once the run has its outcome; an answer with no request in
    /// flight ends the run with [`SaslError::Misuse`].
    pub fn handle_response(&mut self, now: Instant, result: Result<Response, RequestFailed>) {
        if self.outcome.is_some() {
            return;
        }
        let step = std::mem::replace(&mut self.step, Step::Done);
        let next = match (step, result) {
            (Step::AwaitingHandshake | Step::AwaitingAuthenticate, Err(source)) => {
                Err(SaslError::Transport {
                    mechanism: self.mechanism,
                    source,
                })
            }
            (Step::AwaitingHandshake, Ok(response)) => match response.body {
                ResponseBody::SaslHandshake(answer) => self.handle_handshake(answer),
                other => Err(self.unexpected(ApiKey::SaslHandshake, other.api_key())),
            },
            (Step::AwaitingAuthenticate, Ok(response)) => match response.body {
                ResponseBody::SaslAuthenticate(answer) => {
                    self.handle_authenticate(now, response.version, answer)
                }
                other => Err(self.unexpected(ApiKey::SaslAuthenticate, other.api_key())),
            },
            (Step::Handshake | Step::Authenticate(_) | Step::Done, _) => Err(SaslError::Misuse {
                mechanism: self.mechanism,
                reason: "an answer arrived with no SASL request in flight",
            }),
        };
        match next {
            Ok(Some(auth_bytes)) => self.step = Step::Authenticate(Bytes::from(auth_bytes)),
            Ok(None) => {}
            Err(error) => self.finish(SaslOutcome::Failed(error)),
        }
    }

    /// Sets up a run: checks the configuration and queues SaslHandshake.
    fn start(&mut self, config: SaslConfig, nonce: String) {
        self.exchange = Exchange::First;
        self.authenticated_at = None;
        let checked = config.check().and_then(|()| {
            let bad_nonce = scram::Hash::of(self.mechanism).is_some() && !scram::is_valid_nonce(&nonce);
            if bad_nonce {
                return Err(SaslError::InvalidConfig {
                    mechanism: self.mechanism,
                    reason: "the SCRAM nonce is empty or has a character other than printable ASCII without `,`".to_string(),
                });
            }
            Ok(())
        });
        match checked {
            Ok(()) => {
                self.config = Some(config);
                self.nonce = nonce;
                self.step = Step::Handshake;
            }
            Err(error) => self.finish(SaslOutcome::Failed(error)),
        }
    }

    /// Ends the run, forgetting the credentials.
    fn finish(&mut self, outcome: SaslOutcome) {
        self.step = Step::Done;
        self.config = None;
        self.nonce.clear();
        self.exchange = Exchange::First;
        self.outcome = Some(outcome);
    }

    fn unexpected(&self, expected: ApiKey, got: ApiKey) -> SaslError {
        SaslError::UnexpectedResponse {
            mechanism: self.mechanism,
            expected,
            got,
        }
    }

    /// The handshake's answer: the mechanism's first message, or why not.
    fn handle_handshake(
        &mut self,
        answer: SaslHandshakeResponse,
    ) -> Result<Option<Vec<u8>>, SaslError> {
        let mechanism = self.mechanism;
        let unsupported = |offered| SaslError::UnsupportedMechanism {
            wanted: mechanism,
            offered,
        };
        match answer.error_code {
            ErrorCode::NONE => {
                // Kafka lists the enabled mechanisms; accepting one it does not list is an
                // answer to trust no further than the list.
                let listed = answer.mechanisms.iter().any(|m| m == mechanism.name());
                if !answer.mechanisms.is_empty() && !listed {
                    return Err(unsupported(answer.mechanisms));
                }
            }
            ErrorCode::UNSUPPORTED_SASL_MECHANISM => return Err(unsupported(answer.mechanisms)),
            ErrorCode::ILLEGAL_SASL_STATE => {
                return Err(SaslError::IllegalState {
                    mechanism,
                    message: None,
                })
            }
            code => {
                return Err(SaslError::Broker {
                    mechanism,
                    code,
                    message: None,
                })
            }
        }
        let Some(config) = &self.config else {
            return Err(SaslError::Misuse {
                mechanism,
                reason: "the run has no credentials",
            });
        };
        let first = match config.credentials() {
            Credentials::Password { username, password } => match scram::Hash::of(mechanism) {
                Some(_) => {
                    let bare = scram::client_first_bare(username, &self.nonce);
                    format!("n,,{bare}").into_bytes()
                }
                None => plain::initial_response(username, password.expose()),
            },
            Credentials::Token { token } => {
                oauthbearer::initial_response(token.expose(), config.extensions())
            }
        };
        Ok(Some(first))
    }

    /// An answer to SaslAuthenticate: the mechanism's next message, the end of the run, or
    /// why it failed.
    fn handle_authenticate(
        &mut self,
        now: Instant,
        version: i16,
        answer: SaslAuthenticateResponse,
    ) -> Result<Option<Vec<u8>>, SaslError> {
        let exchange = std::mem::replace(&mut self.exchange, Exchange::First);
        if !answer.error_code.is_ok() {
            return Err(self.refused(exchange, answer.error_code, answer.error_message));
        }
        match self.next(exchange, &answer.auth_bytes)? {
            Next::Send(bytes) => Ok(Some(bytes)),
            Next::Done => {
                let lifetime = answer.session_lifetime_ms;
                let session_lifetime = (version >= 1 && lifetime > 0)
                    .then(|| Duration::from_millis(lifetime.unsigned_abs()));
                self.authenticated_at = Some(now);
                self.finish(SaslOutcome::Authenticated { session_lifetime });
                Ok(None)
            }
        }
    }

    /// What the mechanism does with the broker's bytes, after an answer without error.
    fn next(&mut self, exchange: Exchange, auth_bytes: &[u8]) -> Result<Next, SaslError> {
        let mechanism = self.mechanism;
        let server = |problem| SaslError::ServerMessage { mechanism, problem };
        match (mechanism, exchange) {
            // Kafka's PLAIN server answers with nothing to read.
            (Mechanism::Plain, _) => Ok(Next::Done),
            (Mechanism::ScramSha256 | Mechanism::ScramSha512, Exchange::First) => {
                let Some((hash, config)) = scram::Hash::of(mechanism).zip(self.config.as_ref())
                else {
                    return Err(SaslError::Misuse {
                        mechanism,
                        reason: "the run has no credentials",
                    });
                };
                let Credentials::Password { username, password } = config.credentials() else {
                    return Err(SaslError::Misuse {
                        mechanism,
                        reason: "SCRAM needs a user name and password",
                    });
                };
                let parsed = scram::parse_server_first(auth_bytes, &self.nonce).map_err(server)?;
                let bare = scram::client_first_bare(username, &self.nonce);
                let (message, verifier) =
                    scram::client_final(hash, password.expose(), &bare, auth_bytes, &parsed);
                self.exchange = Exchange::ScramFinal(verifier);
                Ok(Next::Send(message))
            }
            (_, Exchange::ScramFinal(verifier)) => {
                match scram::parse_server_final(auth_bytes).map_err(server)? {
                    scram::ServerFinal::Verifier(signature) => {
                        verifier.verify(&signature).map_err(server)?;
                        Ok(Next::Done)
                    }
                    scram::ServerFinal::Error(error) => Err(SaslError::ServerError {
                        mechanism,
                        error: error.to_string(),
                    }),
                }
            }
            (Mechanism::OAuthBearer, Exchange::First) => {
                if auth_bytes.is_empty() {
                    return Ok(Next::Done);
                }
                let error = oauthbearer::parse_server_error(auth_bytes).map_err(server)?;
                self.exchange = Exchange::OAuthBearerFailed(error);
                Ok(Next::Send(oauthbearer::ACKNOWLEDGE_ERROR.to_vec()))
            }
            // The broker should have failed the exchange after its error; it did not, but the
            // token was rejected all the same.
            (_, Exchange::OAuthBearerFailed(error)) => Err(token_rejected(error, None)),
        }
    }

    /// The error for an answer with an error code.
    fn refused(&self, exchange: Exchange, code: ErrorCode, message: Option<String>) -> SaslError {
        let mechanism = self.mechanism;
        match (code, exchange) {
            (ErrorCode::SASL_AUTHENTICATION_FAILED, Exchange::OAuthBearerFailed(error)) => {
                token_rejected(error, message)
            }
            (ErrorCode::SASL_AUTHENTICATION_FAILED, _) => {
                SaslError::AuthenticationFailed { mechanism, message }
            }
            (ErrorCode::ILLEGAL_SASL_STATE, _) => SaslError::IllegalState { mechanism, message },
            (ErrorCode::UNSUPPORTED_SASL_MECHANISM, _) => SaslError::UnsupportedMechanism {
                wanted: mechanism,
                offered: Vec::new(),
            },
            (code, _) => SaslError::Broker {
                mechanism,
                code,
                message,
            },
        }
    }
}

fn token_rejected(error: oauthbearer::ServerError, message: Option<String>) -> SaslError {
    SaslError::TokenRejected {
        status: error.status,
        scope: error.scope,
        openid_configuration: error.openid_configuration,
        message,
    }
}
