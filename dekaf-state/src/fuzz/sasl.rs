//! The SASL target: the parsers of the broker's SCRAM and OAUTHBEARER messages fed raw bytes,
//! and the [`SaslClient`] driven through a run of answers — from a broker that knows the
//! credentials (a small SCRAM server included), damaged ones, error codes, broken requests,
//! answers of the wrong API, re-authentications.
//!
//! The machine must never panic, hand out a request while one is in flight or after its
//! outcome, stall without an outcome, end a run twice, write a request it cannot encode, or
//! show the password or token in an outcome's `Debug` or `Display`.

use std::collections::BTreeSet;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use dekaf_proto::messages::{
    HeartbeatResponse, RequestBody, ResponseBody, SaslAuthenticateResponse, SaslHandshakeResponse,
};
use dekaf_proto::{ApiKey, ErrorCode};

use super::input::Input;
use crate::client::{ClientRequest, RequestFailed, Response};
use crate::sasl::scram::{self, Hash, BASE64};
use crate::sasl::{Mechanism, SaslClient, SaslConfig, SaslError, SaslOutcome};

use base64::Engine;

/// The credentials of the fuzzed runs; no outcome may show the password or the token.
pub(crate) const USER: &str = "fuzz,us=r";
pub(crate) const PASSWORD: &str = "pa55-word-never-shown";
pub(crate) const TOKEN: &str = "token-never-shown.x.";
const NONCES: [&str; 2] = ["fyko+d2lbbFgONRv9qkxdawL", "3rfcNHYJY1ZVvWVs7j"];
const SALT: &[u8] = b"fuzz-salt-16byte";
const ITERATIONS: u32 = 4096;
const MAX_ACTIONS: usize = 64;

/// The configuration of `mechanism`'s runs.
pub(crate) fn config(mechanism: Mechanism) -> SaslConfig {
    match mechanism {
        Mechanism::Plain => SaslConfig::plain(USER, PASSWORD),
        Mechanism::ScramSha256 => SaslConfig::scram_sha256(USER, PASSWORD),
        Mechanism::ScramSha512 => SaslConfig::scram_sha512(USER, PASSWORD),
        _ => SaslConfig::oauthbearer(TOKEN).extension("traceId", "fuzz"),
    }
}

/// What the driver does next.
#[derive(Clone, Debug)]
pub(crate) enum Action {
    /// Answers the request in flight as a broker that knows the credentials, in a version
    /// picked by `version`, with the session lifetime `lifetime_ms`.
    Accept { version: u8, lifetime_ms: i64 },
    /// Answers as a broker that refuses the credentials: SASL_AUTHENTICATION_FAILED, or the
    /// mechanism's own error (`e=` for SCRAM's final message, the RFC 7628 JSON for
    /// OAUTHBEARER).
    Refuse { version: u8 },
    /// Answers like `Accept`, with byte `at` of the broker's SASL bytes flipped by `xor`.
    Tamper { version: u8, at: u16, xor: u8 },
    /// Answers with this error code, message and bytes (and, for a handshake, mechanisms).
    Answer {
        version: u8,
        code: i16,
        message: Option<String>,
        auth_bytes: Vec<u8>,
        mechanisms: Vec<String>,
        lifetime_ms: i64,
    },
    /// The request gets no answer.
    Fail(RequestFailed),
    /// The answer of another API.
    WrongApi,
    /// Asks for re-authentication, with the run's mechanism or another one.
    Reauthenticate { same_mechanism: bool },
}

/// Runs `data`: its first byte picks a parser or the machine, the rest is their input.
pub(crate) fn run(data: &[u8]) -> BTreeSet<String> {
    let (&selector, rest) = data.split_first().unwrap_or((&0, &[]));
    let mut found = BTreeSet::new();
    match selector % 4 {
        0 => {
            if let Err(e) = scram::parse_server_first(rest, NONCES[0]) {
                found.insert(format!("server-first: {e}"));
            }
        }
        1 => match scram::parse_server_final(rest) {
            Ok(scram::ServerFinal::Verifier(signature)) => {
                let verified = rfc_verifier().verify(&signature).is_ok();
                found.insert(format!("server-final verified: {verified}"));
            }
            Ok(scram::ServerFinal::Error(_)) => {
                found.insert("server-final error".to_string());
            }
            Err(e) => {
                found.insert(format!("server-final: {e}"));
            }
        },
        2 => {
            if let Ok(error) = crate::sasl::parse_oauthbearer_error(rest) {
                found.insert(format!("oauthbearer status {}", error.status.len().min(3)));
            }
        }
        _ => {
            let mut input = Input::new(rest);
            let mechanism = Mechanism::ALL[input.below(Mechanism::ALL.len())];
            let mut actions = Vec::new();
            while !input.is_empty() && actions.len() < MAX_ACTIONS {
                actions.push(action(&mut input));
            }
            found = drive(mechanism, &actions);
        }
    }
    found
}

/// The verifier of RFC 7677's example exchange (computed once: PBKDF2 is slow on purpose).
fn rfc_verifier() -> &'static scram::ServerVerifier {
    static VERIFIER: OnceLock<scram::ServerVerifier> = OnceLock::new();
    VERIFIER.get_or_init(|| {
        let (nonce, server_first) = (
            "rOprNGfwEbeRWgbNEkqO",
            "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
        );
        let parsed = scram::parse_server_first(server_first.as_bytes(), nonce)
            .expect("RFC 7677's server-first message");
        let bare = scram::client_first_bare("user", nonce);
        scram::client_final(
            Hash::Sha256,
            "pencil",
            &bare,
            server_first.as_bytes(),
            &parsed,
        )
        .1
    })
}

fn action(input: &mut Input<'_>) -> Action {
    let codes = [
        0,
        ErrorCode::UNSUPPORTED_SASL_MECHANISM.0,
        ErrorCode::ILLEGAL_SASL_STATE.0,
        ErrorCode::SASL_AUTHENTICATION_FAILED.0,
        ErrorCode::NETWORK_EXCEPTION.0,
        -1,
    ];
    match input.byte() % 8 {
        0..=2 => Action::Accept {
            version: input.byte(),
            lifetime_ms: input.i64_interesting(),
        },
        3 if input.bool() => Action::Refuse {
            version: input.byte(),
        },
        3 => Action::Tamper {
            version: input.byte(),
            at: input.u16(),
            xor: input.byte() | 1,
        },
        4 => {
            let code = match input.pick(&codes) {
                Some(&code) if !input.chance(16) => code,
                _ => input.u16() as i16,
            };
            let message = input
                .bool()
                .then(|| String::from_utf8_lossy(input.bytes(64)).into_owned());
            let auth_bytes = input.bytes(256).to_vec();
            let names = [
                "PLAIN",
                "SCRAM-SHA-256",
                "SCRAM-SHA-512",
                "OAUTHBEARER",
                "GSSAPI",
            ];
            let mechanisms = names
                .iter()
                .filter(|_| input.bool())
                .map(|m| m.to_string())
                .collect();
            Action::Answer {
                version: input.byte(),
                code,
                message,
                auth_bytes,
                mechanisms,
                lifetime_ms: input.i64_interesting(),
            }
        }
        5 => Action::Fail(match input.below(3) {
            0 => RequestFailed::Disconnected,
            1 => RequestFailed::TimedOut,
            _ => RequestFailed::Broker(ErrorCode(input.u16() as i16)),
        }),
        6 => Action::WrongApi,
        _ => Action::Reauthenticate {
            same_mechanism: !input.chance(32),
        },
    }
}

/// Drives one connection's [`SaslClient`] through `actions`, then answers as an accepting
/// broker until the run in progress ends. Panics when the machine breaks a promise; returns
/// what the runs reached.
pub(crate) fn drive(mechanism: Mechanism, actions: &[Action]) -> BTreeSet<String> {
    // The one real clock reading: every later time is this plus virtual time.
    #[allow(clippy::disallowed_methods)]
    let mut now = Instant::now();
    let mut found = BTreeSet::new();
    let mut client = SaslClient::new(config(mechanism), NONCES[0]);
    let mut broker = Broker::new(mechanism);
    let mut in_flight: Option<ClientRequest> = None;
    let (mut runs, mut outcomes) = (1usize, 0usize);
    let finish = Action::Accept {
        version: 2,
        lifetime_ms: 0,
    };
    // Past the actions, a broker that accepts answers until the run ends.
    let tail = std::iter::repeat_n(&finish, 8);
    for (i, action) in actions.iter().chain(tail).enumerate() {
        if i >= actions.len() && client.outcome().is_some() {
            break;
        }
        if client.outcome().is_none() && in_flight.is_none() {
            in_flight = client.poll_request();
            assert!(in_flight.is_some(), "a run without outcome stalls");
            assert!(client.poll_request().is_none(), "two requests at once");
        }
        let before = client.outcome().cloned();
        match action {
            Action::Reauthenticate { same_mechanism } => {
                let other = Mechanism::ALL
                    .into_iter()
                    .find(|&m| m != mechanism)
                    .unwrap_or(mechanism);
                let wanted = if *same_mechanism { mechanism } else { other };
                let allowed = matches!(before, Some(SaslOutcome::Authenticated { .. }))
                    && wanted == mechanism;
                let result = client.reauthenticate(config(wanted), NONCES[runs % 2]);
                assert_eq!(result.is_ok(), allowed, "{result:?}");
                if allowed {
                    runs += 1;
                    broker = Broker::new(mechanism);
                    found.insert("reauthenticating".to_string());
                } else {
                    assert_eq!(
                        client.outcome(),
                        before.as_ref(),
                        "a refused command changes nothing"
                    );
                }
                continue;
            }
            _ => {
                let Some(request) = in_flight.take() else {
                    // Nothing in flight: the run is over and a late answer changes nothing.
                    client.handle_response(now, answer(&mut broker, None, action));
                    assert_eq!(
                        client.outcome(),
                        before.as_ref(),
                        "an answer after the outcome"
                    );
                    continue;
                };
                let result = answer(&mut broker, Some(&request), action);
                now += Duration::from_millis(3);
                client.handle_response(now, result);
            }
        }
        if let Some(outcome) = client.outcome() {
            if before.is_none() {
                outcomes += 1;
                check_outcome(outcome, &mut found);
                assert!(
                    client.poll_request().is_none(),
                    "a request after the outcome"
                );
            }
        }
    }
    // The driver closes the connection of a run still under way: it ends too.
    if in_flight.take().is_some() {
        client.handle_response(now, Err(RequestFailed::Disconnected));
        if let Some(outcome) = client.outcome() {
            outcomes += 1;
            check_outcome(outcome, &mut found);
        }
    }
    assert!(client.outcome().is_some(), "the run never ended");
    assert_eq!(outcomes, runs, "one outcome per run");
    found
}

fn check_outcome(outcome: &SaslOutcome, found: &mut BTreeSet<String>) {
    let shown = format!("{outcome:?} {outcome:?}");
    let displayed = match outcome {
        SaslOutcome::Failed(error) => error.to_string(),
        SaslOutcome::Authenticated { .. } => String::new(),
    };
    for secret in [PASSWORD, TOKEN] {
        assert!(
            !shown.contains(secret) && !displayed.contains(secret),
            "a secret in {shown} / {displayed}"
        );
    }
    found.insert(match outcome {
        SaslOutcome::Authenticated { session_lifetime } => {
            format!("authenticated, lifetime {}", session_lifetime.is_some())
        }
        SaslOutcome::Failed(error) => format!("failed: {}", kind(error)),
    });
}

/// The variant of `error`, for the features a run reached.
fn kind(error: &SaslError) -> String {
    let debug = format!("{error:?}");
    debug
        .split(|c: char| !c.is_alphanumeric())
        .next()
        .unwrap_or_default()
        .to_string()
}

/// The driver's answer to `request` (`None`: to nothing) as `action` says.
fn answer(
    broker: &mut Broker,
    request: Option<&ClientRequest>,
    action: &Action,
) -> Result<Response, RequestFailed> {
    let (lo, hi) = request.map_or((0, 2), |r| r.versions());
    let pick = |v: u8| lo + i16::from(v) % (hi - lo + 1).max(1);
    let api = request.map_or(ApiKey::SaslAuthenticate, |r| r.api_key());
    let sent = request.map(|r| {
        for version in lo..=hi {
            let mut buf = BytesMut::new();
            r.body(version)
                .encode(&mut buf, version)
                .expect("the machine writes every version it offers");
        }
        r.body(hi)
    });
    match action {
        Action::Fail(failure) => Err(failure.clone()),
        Action::WrongApi => Ok(Response {
            version: 0,
            body: ResponseBody::Heartbeat(HeartbeatResponse::default()),
        }),
        Action::Accept {
            version,
            lifetime_ms,
        } => Ok(broker.answer(pick(*version), sent.as_ref(), *lifetime_ms, Answer::Accept)),
        Action::Refuse { version } => {
            Ok(broker.answer(pick(*version), sent.as_ref(), 0, Answer::Refuse))
        }
        Action::Tamper { version, at, xor } => Ok(broker.answer(
            pick(*version),
            sent.as_ref(),
            3_600_000,
            Answer::Tamper(*at, *xor),
        )),
        Action::Answer {
            version,
            code,
            message,
            auth_bytes,
            mechanisms,
            lifetime_ms,
        } => {
            // A broker that echoes a secret puts it in the outcome itself: the check is that
            // the machine never does, so the broker's text here holds none.
            let mechanisms = mechanisms
                .iter()
                .filter(|m| !has_secret(m.as_bytes()))
                .cloned()
                .collect();
            let message = message.clone().filter(|m| !has_secret(m.as_bytes()));
            let auth_bytes = if has_secret(auth_bytes) {
                Vec::new()
            } else {
                auth_bytes.clone()
            };
            let body = if api == ApiKey::SaslHandshake {
                ResponseBody::SaslHandshake(SaslHandshakeResponse {
                    error_code: ErrorCode(*code),
                    mechanisms,
                    ..Default::default()
                })
            } else {
                ResponseBody::SaslAuthenticate(SaslAuthenticateResponse {
                    error_code: ErrorCode(*code),
                    error_message: message,
                    auth_bytes: Bytes::from(auth_bytes),
                    session_lifetime_ms: *lifetime_ms,
                    ..Default::default()
                })
            };
            Ok(Response {
                version: pick(*version),
                body,
            })
        }
        Action::Reauthenticate { .. } => Err(RequestFailed::Disconnected),
    }
}

/// Whether `bytes` hold the password or the token.
fn has_secret(bytes: &[u8]) -> bool {
    [PASSWORD, TOKEN]
        .iter()
        .any(|secret| bytes.windows(secret.len()).any(|w| w == secret.as_bytes()))
}

/// How the broker answers.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Answer {
    Accept,
    Refuse,
    Tamper(u16, u8),
}

/// A broker that knows the credentials: it accepts the right ones (a SCRAM server that
/// checks the proof and signs) and refuses others.
struct Broker {
    mechanism: Mechanism,
    /// SCRAM: the client-first-bare and server-first messages of the exchange.
    scram: Option<(String, String)>,
}

impl Broker {
    fn new(mechanism: Mechanism) -> Self {
        Broker {
            mechanism,
            scram: None,
        }
    }

    fn answer(
        &mut self,
        version: i16,
        request: Option<&RequestBody>,
        lifetime_ms: i64,
        how: Answer,
    ) -> Response {
        let body = match request {
            Some(RequestBody::SaslHandshake(_)) => {
                ResponseBody::SaslHandshake(SaslHandshakeResponse {
                    error_code: ErrorCode::NONE,
                    mechanisms: Mechanism::ALL
                        .iter()
                        .map(|m| m.name().to_string())
                        .collect(),
                    ..Default::default()
                })
            }
            Some(RequestBody::SaslAuthenticate(request)) => {
                let (code, mut bytes) = if how == Answer::Refuse {
                    self.refuse(&request.auth_bytes)
                } else {
                    self.authenticate(&request.auth_bytes)
                };
                if let Answer::Tamper(at, xor) = how {
                    let at = usize::from(at) % bytes.len().max(1);
                    if let Some(b) = bytes.get_mut(at) {
                        *b ^= xor;
                    }
                }
                let message = (!code.is_ok()).then(|| "refused".to_string());
                ResponseBody::SaslAuthenticate(SaslAuthenticateResponse {
                    error_code: code,
                    error_message: message,
                    auth_bytes: Bytes::from(bytes),
                    session_lifetime_ms: lifetime_ms,
                    ..Default::default()
                })
            }
            _ => ResponseBody::SaslAuthenticate(SaslAuthenticateResponse {
                error_code: ErrorCode::ILLEGAL_SASL_STATE,
                ..Default::default()
            }),
        };
        Response { version, body }
    }

    /// A refusal of the client's SASL bytes.
    fn refuse(&mut self, sent: &[u8]) -> (ErrorCode, Vec<u8>) {
        let refused = (ErrorCode::SASL_AUTHENTICATION_FAILED, Vec::new());
        match self.mechanism {
            Mechanism::ScramSha256 | Mechanism::ScramSha512 if sent.starts_with(b"c=") => {
                (ErrorCode::NONE, b"e=invalid-proof".to_vec())
            }
            Mechanism::OAuthBearer if sent.starts_with(b"n,,") => {
                let error = r#"{"status":"invalid_token","scope":"kafka"}"#;
                (ErrorCode::NONE, error.as_bytes().to_vec())
            }
            _ => refused,
        }
    }

    /// The answer to the client's SASL bytes.
    fn authenticate(&mut self, sent: &[u8]) -> (ErrorCode, Vec<u8>) {
        let refused = (ErrorCode::SASL_AUTHENTICATION_FAILED, Vec::new());
        match self.mechanism {
            Mechanism::Plain => {
                let expected = format!("\0{USER}\0{PASSWORD}");
                if sent == expected.as_bytes() {
                    (ErrorCode::NONE, Vec::new())
                } else {
                    refused
                }
            }
            Mechanism::ScramSha256 | Mechanism::ScramSha512 => {
                let hash = Hash::of(self.mechanism).unwrap_or(Hash::Sha256);
                let Ok(text) = std::str::from_utf8(sent) else {
                    return refused;
                };
                if let Some(bare) = text.strip_prefix("n,,") {
                    let Some(nonce) = bare.split(",r=").nth(1) else {
                        return refused;
                    };
                    let server_first = format!(
                        "r={nonce}srv-n0nce,s={},i={ITERATIONS}",
                        BASE64.encode(SALT)
                    );
                    self.scram = Some((bare.to_string(), server_first.clone()));
                    return (ErrorCode::NONE, server_first.into_bytes());
                }
                let (Some((bare, server_first)), Some((without_proof, proof))) =
                    (&self.scram, text.rsplit_once(",p="))
                else {
                    return refused;
                };
                let salted = salted_password(hash);
                let auth = format!("{bare},{server_first},{without_proof}");
                let stored_key = hash.digest(&hash.hmac(salted, b"Client Key"));
                let signature = hash.hmac(&stored_key, auth.as_bytes());
                let client_key: Vec<u8> = BASE64
                    .decode(proof)
                    .unwrap_or_default()
                    .iter()
                    .zip(&signature)
                    .map(|(p, s)| p ^ s)
                    .collect();
                if hash.digest(&client_key) != stored_key {
                    return refused;
                }
                let server_signature =
                    hash.hmac(&hash.hmac(salted, b"Server Key"), auth.as_bytes());
                let verifier = format!("v={}", BASE64.encode(server_signature));
                (ErrorCode::NONE, verifier.into_bytes())
            }
            _ => {
                let expected = format!("n,,\u{1}auth=Bearer {TOKEN}\u{1}traceId=fuzz\u{1}\u{1}");
                if sent == expected.as_bytes() {
                    (ErrorCode::NONE, Vec::new())
                } else if sent == b"\x01" {
                    refused
                } else {
                    let error = r#"{"status":"invalid_token","scope":"kafka"}"#;
                    (ErrorCode::NONE, error.as_bytes().to_vec())
                }
            }
        }
    }
}

/// The broker's salted password, computed once per hash.
fn salted_password(hash: Hash) -> &'static [u8] {
    static SHA256: OnceLock<Vec<u8>> = OnceLock::new();
    static SHA512: OnceLock<Vec<u8>> = OnceLock::new();
    let cell = match hash {
        Hash::Sha256 => &SHA256,
        Hash::Sha512 => &SHA512,
    };
    cell.get_or_init(|| hash.salted_password(PASSWORD.as_bytes(), SALT, ITERATIONS))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use proptest::strategy::ValueTree;
    use proptest::test_runner::{Config, RngSeed, TestRunner};

    fn config() -> Config {
        Config {
            cases: 256,
            failure_persistence: None,
            rng_seed: RngSeed::Fixed(0x5A5E),
            ..Config::default()
        }
    }

    /// A machine run (selector 3): a mechanism byte, then actions that are mostly "accept"
    /// (zero bytes) with some random ones.
    fn machine_input() -> impl Strategy<Value = Vec<u8>> {
        (
            any::<u8>(),
            proptest::collection::vec((any::<u8>(), 0u8..3), 0..96),
        )
            .prop_map(|(mechanism, rest)| {
                let mut data = vec![3, mechanism];
                data.extend(
                    rest.into_iter()
                        .map(|(b, keep)| if keep == 0 { b } else { 0 }),
                );
                data
            })
    }

    /// Rewrites the committed seeds of the `sasl` fuzz target (`fuzz/corpus/sasl/seed-*`):
    /// messages for each parser, and machine runs that reach something new.
    #[test]
    #[ignore = "rewrites the committed seed inputs"]
    fn write_seeds() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/sasl");
        std::fs::create_dir_all(&dir).unwrap();
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if name.starts_with("seed-") {
                std::fs::remove_file(&path).unwrap();
            }
        }
        let with = |selector: u8, message: &[u8]| [&[selector][..], message].concat();
        let messages: [(&str, Vec<u8>); 6] = [
            (
                "server-first",
                with(0, format!("r={}srv,s=QSXCR+Q6sek8bf92,i=4096,x=y", NONCES[0]).as_bytes()),
            ),
            ("server-first-extension", with(0, b"m=ext,r=a,s=QQ==,i=1")),
            (
                "server-final",
                with(1, b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="),
            ),
            ("server-final-error", with(1, b"e=invalid-proof")),
            (
                "oauthbearer-error",
                with(
                    2,
                    br#"{"status":"invalid_token", "scope":"a b", "openid-configuration":"https://x/y"}"#,
                ),
            ),
            (
                "oauthbearer-escapes",
                with(2, br#" {"n":-1.5e3,"b":true,"status":"\u00e9\ud83d\ude00\n"} "#),
            ),
        ];
        for (name, data) in messages {
            std::fs::write(dir.join(format!("seed-{name}")), data).unwrap();
        }
        let mut runner = TestRunner::new(config());
        let mut seen = BTreeSet::new();
        let mut kept = 0;
        for _ in 0..2000 {
            let data = machine_input().new_tree(&mut runner).unwrap().current();
            let found = run(&data);
            if found.is_subset(&seen) {
                continue;
            }
            seen.extend(found);
            std::fs::write(dir.join(format!("seed-machine-{kept}")), &data).unwrap();
            kept += 1;
            if kept == 16 {
                break;
            }
        }
        println!("sasl: {kept} machine seeds reaching {seen:#?}");
    }

    proptest! {
        #![proptest_config(config())]

        #[test]
        fn the_sasl_target_survives_arbitrary_input(
            data in prop_oneof![proptest::collection::vec(any::<u8>(), 0..512), machine_input()],
        ) {
            run(&data);
        }
    }
}
