//! SCRAM-SHA-256 and SCRAM-SHA-512 (RFC 5802, RFC 7677) as Kafka speaks them: no channel
//! binding, no authorization id, no SASLprep, and iteration counts within Kafka's bounds.
//!
//! ```text
//! client-first  n,,n=<saslname>,r=<client nonce>
//! server-first  r=<client nonce><server nonce>,s=<base64 salt>,i=<iterations>
//! client-final  c=biws,r=<nonce>,p=<base64 proof>
//! server-final  v=<base64 server signature>   (or e=<error>)
//! ```

use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256, Sha512};

use super::error::ServerMessageError;
use super::Mechanism;

/// The fewest iterations Kafka stores a SCRAM credential with; fewer would make the password
/// cheap to guess from a recorded exchange.
pub(crate) const MIN_ITERATIONS: u32 = 4096;

/// The most iterations Kafka stores a SCRAM credential with. A server asking for more is not
/// a Kafka broker, and would keep the client hashing (the driver's thread) for as long as it
/// likes.
pub(crate) const MAX_ITERATIONS: u32 = 16384;

/// Standard base64, padded when written and, like Java's decoder, with or without padding
/// when read.
pub(crate) const BASE64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// The hash function of a SCRAM mechanism.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Hash {
    Sha256,
    Sha512,
}

impl Hash {
    /// The hash of a SCRAM mechanism, `None` for the others.
    pub(crate) fn of(mechanism: Mechanism) -> Option<Hash> {
        match mechanism {
            Mechanism::ScramSha256 => Some(Hash::Sha256),
            Mechanism::ScramSha512 => Some(Hash::Sha512),
            Mechanism::Plain | Mechanism::OAuthBearer => None,
        }
    }

    /// RFC 5802's `Hi(password, salt, i)`: PBKDF2 with HMAC.
    pub(crate) fn salted_password(self, password: &[u8], salt: &[u8], iterations: u32) -> Vec<u8> {
        match self {
            Hash::Sha256 => {
                pbkdf2::pbkdf2_hmac_array::<Sha256, 32>(password, salt, iterations).to_vec()
            }
            Hash::Sha512 => {
                pbkdf2::pbkdf2_hmac_array::<Sha512, 64>(password, salt, iterations).to_vec()
            }
        }
    }

    pub(crate) fn hmac(self, key: &[u8], data: &[u8]) -> Vec<u8> {
        match self {
            Hash::Sha256 => hmac_of::<Hmac<Sha256>>(key, data)
                .finalize()
                .into_bytes()
                .to_vec(),
            Hash::Sha512 => hmac_of::<Hmac<Sha512>>(key, data)
                .finalize()
                .into_bytes()
                .to_vec(),
        }
    }

    pub(crate) fn digest(self, data: &[u8]) -> Vec<u8> {
        match self {
            Hash::Sha256 => Sha256::digest(data).to_vec(),
            Hash::Sha512 => Sha512::digest(data).to_vec(),
        }
    }

    /// Whether `tag` is `HMAC(key, data)`, compared in constant time.
    fn verify(self, key: &[u8], data: &[u8], tag: &[u8]) -> bool {
        match self {
            Hash::Sha256 => hmac_of::<Hmac<Sha256>>(key, data).verify_slice(tag).is_ok(),
            Hash::Sha512 => hmac_of::<Hmac<Sha512>>(key, data).verify_slice(tag).is_ok(),
        }
    }
}

fn hmac_of<M: Mac + hmac::digest::KeyInit>(key: &[u8], data: &[u8]) -> M {
    let mut mac =
        <M as hmac::digest::KeyInit>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(data);
    mac
}

/// RFC 5802's `saslname`: `=` and `,` escaped as `=3D` and `=2C`.
pub(crate) fn sasl_name(username: &str) -> String {
    username.replace('=', "=3D").replace(',', "=2C")
}

/// Whether `nonce` is a valid SCRAM nonce: printable ASCII without `,`.
pub(crate) fn is_valid_nonce(nonce: &str) -> bool {
    !nonce.is_empty() && nonce.bytes().all(|b| matches!(b, 0x21..=0x7e) && b != b',')
}

/// The client-first message without its GS2 header `n,,`.
pub(crate) fn client_first_bare(username: &str, nonce: &str) -> String {
    format!("n={},r={nonce}", sasl_name(username))
}

/// What the server-first message says.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct ServerFirst<'a> {
    /// The client nonce followed by the server's.
    pub(crate) nonce: &'a str,
    pub(crate) salt: Vec<u8>,
    pub(crate) iterations: u32,
}

/// Reads the server-first message and checks it against the client nonce.
pub(crate) fn parse_server_first<'a>(
    message: &'a [u8],
    client_nonce: &str,
) -> Result<ServerFirst<'a>, ServerMessageError> {
    use ServerMessageError::Malformed;
    let text = std::str::from_utf8(message)
        .map_err(|_| Malformed("the server-first message is not UTF-8"))?;
    let mut attributes = text.split(',');
    let first = attributes.next().unwrap_or_default();
    if first.starts_with("m=") {
        return Err(ServerMessageError::MandatoryExtension);
    }
    let nonce =
        attribute(Some(first), "r=").ok_or(Malformed("the server-first message has no nonce"))?;
    let salt = attribute(attributes.next(), "s=")
        .ok_or(Malformed("the server-first message has no salt"))?;
    let iterations = attribute(attributes.next(), "i=")
        .ok_or(Malformed("the server-first message has no iteration count"))?;
    // Anything after the iteration count is an extension, which a client ignores.
    if !is_valid_nonce(nonce) {
        return Err(Malformed(
            "the server nonce has characters a nonce cannot have",
        ));
    }
    if nonce.len() <= client_nonce.len() || !nonce.starts_with(client_nonce) {
        return Err(ServerMessageError::NonceMismatch);
    }
    let salt = BASE64
        .decode(salt)
        .map_err(|_| Malformed("the salt is not base64"))?;
    if iterations.is_empty() || !iterations.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Malformed("the iteration count is not a number"));
    }
    let count = iterations.parse::<u64>().unwrap_or(u64::MAX);
    let iterations = u32::try_from(count)
        .ok()
        .filter(|i| (MIN_ITERATIONS..=MAX_ITERATIONS).contains(i))
        .ok_or(ServerMessageError::IterationCount { iterations: count })?;
    Ok(ServerFirst {
        nonce,
        salt,
        iterations,
    })
}

/// The value of `attribute` if it has the name `prefix` (e.g. `r=`).
fn attribute<'a>(attribute: Option<&'a str>, prefix: &str) -> Option<&'a str> {
    attribute?.strip_prefix(prefix)
}

/// What the client keeps to check the server's signature.
pub(crate) struct ServerVerifier {
    hash: Hash,
    server_key: Vec<u8>,
    auth_message: Vec<u8>,
}

impl ServerVerifier {
    /// Whether `signature` proves that the server knows the password's server key.
    pub(crate) fn verify(&self, signature: &[u8]) -> Result<(), ServerMessageError> {
        if self
            .hash
            .verify(&self.server_key, &self.auth_message, signature)
        {
            Ok(())
        } else {
            Err(ServerMessageError::ServerSignatureMismatch)
        }
    }
}

/// The client-final message, with its proof of the password, and what checks the server's
/// answer. `server_first` is the message `parsed` was read from.
pub(crate) fn client_final(
    hash: Hash,
    password: &str,
    client_first_bare: &str,
    server_first: &[u8],
    parsed: &ServerFirst<'_>,
) -> (Vec<u8>, ServerVerifier) {
    // `biws` is base64 of the GS2 header `n,,`: no channel binding.
    let without_proof = format!("c=biws,r={}", parsed.nonce);
    let mut auth_message =
        Vec::with_capacity(client_first_bare.len() + server_first.len() + without_proof.len() + 2);
    auth_message.extend_from_slice(client_first_bare.as_bytes());
    auth_message.push(b',');
    auth_message.extend_from_slice(server_first);
    auth_message.push(b',');
    auth_message.extend_from_slice(without_proof.as_bytes());

    let salted = hash.salted_password(password.as_bytes(), &parsed.salt, parsed.iterations);
    let client_key = hash.hmac(&salted, b"Client Key");
    let stored_key = hash.digest(&client_key);
    let client_signature = hash.hmac(&stored_key, &auth_message);
    let proof: Vec<u8> = client_key
        .iter()
        .zip(&client_signature)
        .map(|(k, s)| k ^ s)
        .collect();
    let server_key = hash.hmac(&salted, b"Server Key");
    let message = format!("{without_proof},p={}", BASE64.encode(proof)).into_bytes();
    let verifier = ServerVerifier {
        hash,
        server_key,
        auth_message,
    };
    (message, verifier)
}

/// What the server-final message says.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum ServerFinal<'a> {
    /// `v=`: the server signature, to verify.
    Verifier(Vec<u8>),
    /// `e=`: the server's error.
    Error(&'a str),
}

/// Reads the server-final message.
pub(crate) fn parse_server_final(message: &[u8]) -> Result<ServerFinal<'_>, ServerMessageError> {
    use ServerMessageError::Malformed;
    let text = std::str::from_utf8(message)
        .map_err(|_| Malformed("the server-final message is not UTF-8"))?;
    let first = text.split(',').next().unwrap_or_default();
    if let Some(error) = first.strip_prefix("e=") {
        return Ok(ServerFinal::Error(error));
    }
    let signature = first
        .strip_prefix("v=")
        .ok_or(Malformed("the server-final message has no verifier"))?;
    BASE64
        .decode(signature)
        .map(ServerFinal::Verifier)
        .map_err(|_| Malformed("the server signature is not base64"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 7677, section 3.
    const RFC_NONCE: &str = "rOprNGfwEbeRWgbNEkqO";
    const RFC_SERVER_FIRST: &str =
        "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
    const RFC_CLIENT_FINAL: &str = "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
    const RFC_SERVER_FINAL: &str = "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=";

    fn rfc_client_final() -> (Vec<u8>, ServerVerifier) {
        let bare = client_first_bare("user", RFC_NONCE);
        let parsed = parse_server_first(RFC_SERVER_FIRST.as_bytes(), RFC_NONCE).unwrap();
        client_final(
            Hash::Sha256,
            "pencil",
            &bare,
            RFC_SERVER_FIRST.as_bytes(),
            &parsed,
        )
    }

    #[test]
    fn the_rfc_7677_exchange_gives_the_rfc_client_final_and_accepts_its_server_final() {
        assert_eq!(
            format!("n,,{}", client_first_bare("user", RFC_NONCE)),
            "n,,n=user,r=rOprNGfwEbeRWgbNEkqO"
        );
        let parsed = parse_server_first(RFC_SERVER_FIRST.as_bytes(), RFC_NONCE).unwrap();
        assert_eq!(parsed.iterations, 4096);
        assert_eq!(parsed.salt.len(), 16);
        let (message, verifier) = rfc_client_final();
        assert_eq!(
            std::str::from_utf8(&message).unwrap(),
            RFC_CLIENT_FINAL,
            "byte for byte"
        );
        let ServerFinal::Verifier(signature) =
            parse_server_final(RFC_SERVER_FINAL.as_bytes()).unwrap()
        else {
            panic!("a verifier");
        };
        assert_eq!(verifier.verify(&signature), Ok(()));
    }

    #[test]
    fn a_tampered_server_signature_is_refused() {
        let (_, verifier) = rfc_client_final();
        let ServerFinal::Verifier(mut signature) =
            parse_server_final(RFC_SERVER_FINAL.as_bytes()).unwrap()
        else {
            panic!("a verifier");
        };
        signature[7] ^= 1;
        assert_eq!(
            verifier.verify(&signature),
            Err(ServerMessageError::ServerSignatureMismatch)
        );
        assert_eq!(
            verifier.verify(&signature[..31]),
            Err(ServerMessageError::ServerSignatureMismatch),
            "a truncated signature"
        );
        assert_eq!(
            verifier.verify(&[]),
            Err(ServerMessageError::ServerSignatureMismatch)
        );
    }

    #[test]
    fn saslnames_escape_equals_and_comma() {
        assert_eq!(sasl_name("a=b,c"), "a=3Db=2Cc");
        assert_eq!(sasl_name("=2C"), "=3D2C");
        assert_eq!(client_first_bare("u,=", "n"), "n=u=2C=3D,r=n");
    }

    #[test]
    fn server_first_messages_that_break_the_rules_are_refused() {
        use ServerMessageError::*;
        let parse = |m: &str| parse_server_first(m.as_bytes(), "abc").map(|p| p.iterations);
        assert_eq!(parse("r=abcdef,s=c2FsdA==,i=4096"), Ok(4096));
        assert_eq!(parse("r=abcdef,s=c2FsdA,i=16384,x=ext"), Ok(16384));
        assert_eq!(parse("r=xyzdef,s=c2FsdA==,i=4096"), Err(NonceMismatch));
        assert_eq!(parse("r=abc,s=c2FsdA==,i=4096"), Err(NonceMismatch));
        assert_eq!(parse("r=ab,s=c2FsdA==,i=4096"), Err(NonceMismatch));
        assert_eq!(
            parse("r=abcdef,s=c2FsdA==,i=4095"),
            Err(IterationCount { iterations: 4095 })
        );
        assert_eq!(
            parse("r=abcdef,s=c2FsdA==,i=16385"),
            Err(IterationCount { iterations: 16385 })
        );
        assert_eq!(
            parse("r=abcdef,s=c2FsdA==,i=99999999999999999999999"),
            Err(IterationCount {
                iterations: u64::MAX
            })
        );
        assert_eq!(
            parse("m=ext,r=abcdef,s=c2FsdA==,i=4096"),
            Err(MandatoryExtension)
        );
        assert!(matches!(
            parse("r=abcdef,s=c2F*dA==,i=4096"),
            Err(Malformed(_))
        ));
        assert!(matches!(
            parse("r=abcdef,s=c2FsdA==,i=-4096"),
            Err(Malformed(_))
        ));
        assert!(matches!(parse("r=abcdef,s=c2FsdA==,i="), Err(Malformed(_))));
        assert!(matches!(parse("r=abcdef,s=c2FsdA=="), Err(Malformed(_))));
        assert!(matches!(parse("r=abcdef,i=4096"), Err(Malformed(_))));
        assert!(matches!(parse("s=c2FsdA==,i=4096"), Err(Malformed(_))));
        assert!(matches!(
            parse("r=abcd\u{e9},s=c2FsdA==,i=4096"),
            Err(Malformed(_))
        ));
        assert!(matches!(parse(""), Err(Malformed(_))));
        assert!(matches!(
            parse_server_first(b"r=abc\xff,s=,i=4096", "abc"),
            Err(Malformed(_))
        ));
    }

    #[test]
    fn server_final_messages_are_a_verifier_or_an_error() {
        assert_eq!(
            parse_server_final(b"v=AAEC,ext=1"),
            Ok(ServerFinal::Verifier(vec![0, 1, 2]))
        );
        assert_eq!(
            parse_server_final(b"e=invalid-proof"),
            Ok(ServerFinal::Error("invalid-proof"))
        );
        for bad in [&b""[..], b"x=1", b"v=!!", b"v\xff"] {
            assert!(
                matches!(
                    parse_server_final(bad),
                    Err(ServerMessageError::Malformed(_))
                ),
                "{bad:?}"
            );
        }
    }

    /// The server's side of SCRAM-SHA-512 computed here from RustCrypto's primitives alone,
    /// not from this module's helpers: the client's proof is the one the server expects, and
    /// the server's signature convinces the client.
    #[test]
    fn a_scram_sha512_exchange_agrees_with_an_independent_server() {
        let (user, password, nonce) = ("al,ice=", "p\u{e4}ssw\u{f6}rd", "Zm9vYmFyYmF6");
        let salt = b"0123456789abcdef0123456789abcdef";
        let bare = client_first_bare(user, nonce);
        assert_eq!(bare, "n=al=2Cice=3D,r=Zm9vYmFyYmF6");
        let server_first = format!(
            "r={nonce}srvNONCE,s={},i=4096",
            base64::engine::general_purpose::STANDARD.encode(salt)
        );
        let parsed = parse_server_first(server_first.as_bytes(), nonce).unwrap();
        let (client_final, verifier) = client_final(
            Hash::Sha512,
            password,
            &bare,
            server_first.as_bytes(),
            &parsed,
        );
        let client_final = String::from_utf8(client_final).unwrap();
        let (without_proof, proof) = client_final.rsplit_once(",p=").unwrap();
        assert_eq!(without_proof, format!("c=biws,r={nonce}srvNONCE"));

        // The server.
        let mac = |key: &[u8], data: &[u8]| {
            let mut m = <Hmac<Sha512> as Mac>::new_from_slice(key).unwrap();
            m.update(data);
            m.finalize().into_bytes().to_vec()
        };
        let mut salted = [0u8; 64];
        pbkdf2::pbkdf2_hmac::<Sha512>(password.as_bytes(), salt, 4096, &mut salted);
        let client_key = mac(&salted, b"Client Key");
        let stored_key = Sha512::digest(&client_key);
        let auth = format!("{bare},{server_first},{without_proof}");
        let signature = mac(&stored_key, auth.as_bytes());
        let expected: Vec<u8> = client_key
            .iter()
            .zip(&signature)
            .map(|(a, b)| a ^ b)
            .collect();
        let proof = base64::engine::general_purpose::STANDARD
            .decode(proof)
            .unwrap();
        assert_eq!(proof, expected);
        let server_signature = mac(&mac(&salted, b"Server Key"), auth.as_bytes());
        assert_eq!(verifier.verify(&server_signature), Ok(()));
    }
}
