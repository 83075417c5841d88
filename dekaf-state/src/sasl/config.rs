//! What a connection authenticates with: the mechanism and its credentials.

use std::fmt;

use super::error::SaslError;

/// A SASL mechanism Kafka brokers offer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Mechanism {
    /// `PLAIN` (RFC 4616): user name and password in the clear; use it over TLS only.
    Plain,
    /// `SCRAM-SHA-256` (RFC 5802, RFC 7677): the password never leaves the client.
    ScramSha256,
    /// `SCRAM-SHA-512` (RFC 5802): like SCRAM-SHA-256 with SHA-512.
    ScramSha512,
    /// `OAUTHBEARER` (RFC 7628, KIP-255): a bearer token from an OAuth provider.
    OAuthBearer,
}

impl Mechanism {
    /// Every mechanism, in the order above.
    pub const ALL: [Mechanism; 4] = [
        Mechanism::Plain,
        Mechanism::ScramSha256,
        Mechanism::ScramSha512,
        Mechanism::OAuthBearer,
    ];

    /// The name SaslHandshake carries, e.g. `SCRAM-SHA-512`.
    pub const fn name(self) -> &'static str {
        match self {
            Mechanism::Plain => "PLAIN",
            Mechanism::ScramSha256 => "SCRAM-SHA-256",
            Mechanism::ScramSha512 => "SCRAM-SHA-512",
            Mechanism::OAuthBearer => "OAUTHBEARER",
        }
    }

    /// The mechanism of a SaslHandshake name (exact, upper case), if dekaf implements it.
    pub fn from_name(name: &str) -> Option<Mechanism> {
        Mechanism::ALL.into_iter().find(|m| m.name() == name)
    }
}

impl fmt::Display for Mechanism {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A password or token: `Debug` and `Display` print `***`, so that it shows in no log line
/// or error message.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps `value`.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret itself, for the one place that must send it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Secret(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Secret(value.to_string())
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// The mechanism of a connection and its credentials. Build one with [`plain`](Self::plain),
/// [`scram_sha256`](Self::scram_sha256), [`scram_sha512`](Self::scram_sha512) or
/// [`oauthbearer`](Self::oauthbearer); [`check`](Self::check) says early whether
/// [`SaslClient`](super::SaslClient) will accept it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SaslConfig {
    mechanism: Mechanism,
    credentials: Credentials,
    extensions: Vec<(String, String)>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Credentials {
    Password { username: String, password: Secret },
    Token { token: Secret },
}

impl SaslConfig {
    /// `PLAIN` with `username` and `password` (both non-empty, without NUL characters).
    pub fn plain(username: impl Into<String>, password: impl Into<Secret>) -> Self {
        Self::password(Mechanism::Plain, username, password)
    }

    /// `SCRAM-SHA-256` with `username` (non-empty) and `password`. Like Kafka's Java client,
    /// dekaf sends the password as UTF-8 without SASLprep normalization.
    pub fn scram_sha256(username: impl Into<String>, password: impl Into<Secret>) -> Self {
        Self::password(Mechanism::ScramSha256, username, password)
    }

    /// `SCRAM-SHA-512` with `username` (non-empty) and `password`.
    pub fn scram_sha512(username: impl Into<String>, password: impl Into<Secret>) -> Self {
        Self::password(Mechanism::ScramSha512, username, password)
    }

    /// `OAUTHBEARER` with a token the application got from its OAuth provider (or from
    /// [`unsecured_jwt`](super::unsecured_jwt) for a broker that accepts unsecured tokens).
    /// The token is an RFC 6750 `b64token`: letters, digits and `-._~+/`, then optional `=`.
    pub fn oauthbearer(token: impl Into<Secret>) -> Self {
        SaslConfig {
            mechanism: Mechanism::OAuthBearer,
            credentials: Credentials::Token {
                token: token.into(),
            },
            extensions: Vec::new(),
        }
    }

    /// Adds a SASL extension (KIP-342) to an `OAUTHBEARER` configuration: `key` is letters
    /// only and not `auth`, `value` printable ASCII, space, tab, CR or LF. Extensions of other
    /// mechanisms are refused by [`check`](Self::check).
    pub fn extension(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.extensions.push((key.into(), value.into()));
        self
    }

    /// The same `OAUTHBEARER` configuration (extensions kept) with another token: a fresh one
    /// for a new connection or a re-authentication. Other mechanisms are returned unchanged.
    pub fn with_token(mut self, token: impl Into<Secret>) -> Self {
        if let Credentials::Token { token: old } = &mut self.credentials {
            *old = token.into();
        }
        self
    }

    fn password(
        mechanism: Mechanism,
        username: impl Into<String>,
        password: impl Into<Secret>,
    ) -> Self {
        SaslConfig {
            mechanism,
            credentials: Credentials::Password {
                username: username.into(),
                password: password.into(),
            },
            extensions: Vec::new(),
        }
    }

    /// The mechanism.
    pub fn mechanism(&self) -> Mechanism {
        self.mechanism
    }

    /// Whether the credentials can be sent with the mechanism; the error, an
    /// [`SaslError::InvalidConfig`], never quotes the password or token.
    pub fn check(&self) -> Result<(), SaslError> {
        let invalid = |reason: &str| SaslError::InvalidConfig {
            mechanism: self.mechanism,
            reason: reason.to_string(),
        };
        match &self.credentials {
            Credentials::Password { username, password } => {
                if username.is_empty() {
                    return Err(invalid("the user name is empty"));
                }
                if !self.extensions.is_empty() {
                    return Err(invalid("only OAUTHBEARER carries SASL extensions"));
                }
                if self.mechanism == Mechanism::Plain {
                    if password.expose().is_empty() {
                        return Err(invalid("the password is empty"));
                    }
                    if username.contains('\0') || password.expose().contains('\0') {
                        return Err(invalid(
                            "the user name or password contains a NUL character",
                        ));
                    }
                }
                Ok(())
            }
            Credentials::Token { token } => {
                let extensions = &self.extensions;
                if !is_b64token(token.expose()) {
                    return Err(invalid(
                        "the token is empty or has characters a bearer token cannot have",
                    ));
                }
                for (i, (key, value)) in extensions.iter().enumerate() {
                    if key.is_empty() || !key.bytes().all(|b| b.is_ascii_alphabetic()) {
                        return Err(invalid("an extension key is not made of letters only"));
                    }
                    if key == "auth" {
                        return Err(invalid("the extension key `auth` is reserved"));
                    }
                    if extensions[..i].iter().any(|(k, _)| k == key) {
                        return Err(SaslError::InvalidConfig {
                            mechanism: self.mechanism,
                            reason: format!("extension `{key}` is given twice"),
                        });
                    }
                    let allowed = |b: u8| matches!(b, 0x21..=0x7e | b' ' | b'\t' | b'\r' | b'\n');
                    if value.is_empty() || !value.bytes().all(allowed) {
                        return Err(SaslError::InvalidConfig {
                            mechanism: self.mechanism,
                            reason: format!("the value of extension `{key}` is empty or has characters an extension cannot have"),
                        });
                    }
                }
                Ok(())
            }
        }
    }

    pub(crate) fn credentials(&self) -> &Credentials {
        &self.credentials
    }

    pub(crate) fn extensions(&self) -> &[(String, String)] {
        &self.extensions
    }
}

/// RFC 6750: `1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`.
fn is_b64token(token: &str) -> bool {
    let body = token.trim_end_matches('=');
    !body.is_empty()
        && body
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~+/".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mechanism_names_round_trip() {
        for m in Mechanism::ALL {
            assert_eq!(Mechanism::from_name(m.name()), Some(m));
        }
        assert_eq!(Mechanism::from_name("scram-sha-256"), None);
        assert_eq!(Mechanism::from_name("GSSAPI"), None);
    }

    #[test]
    fn check_refuses_what_cannot_be_sent() {
        assert!(SaslConfig::plain("u", "p").check().is_ok());
        assert!(SaslConfig::plain("", "p").check().is_err());
        assert!(SaslConfig::plain("u", "").check().is_err());
        assert!(SaslConfig::plain("u\0x", "p").check().is_err());
        assert!(SaslConfig::scram_sha256("u", "").check().is_ok());
        assert!(SaslConfig::scram_sha512("", "p").check().is_err());
        assert!(SaslConfig::plain("u", "p")
            .extension("a", "b")
            .check()
            .is_err());
        assert!(SaslConfig::oauthbearer("abc.def.").check().is_ok());
        assert!(SaslConfig::oauthbearer("abc==").check().is_ok());
        assert!(SaslConfig::oauthbearer("").check().is_err());
        assert!(SaslConfig::oauthbearer("a b").check().is_err());
        assert!(SaslConfig::oauthbearer("a\u{1}b").check().is_err());
        let token = || SaslConfig::oauthbearer("t");
        assert!(token().extension("traceId", "x y\t1").check().is_ok());
        assert!(token().extension("auth", "x").check().is_err());
        assert!(token().extension("a1", "x").check().is_err());
        assert!(token().extension("a", "").check().is_err());
        assert!(token().extension("a", "\u{1}").check().is_err());
        assert!(token()
            .extension("a", "1")
            .extension("a", "2")
            .check()
            .is_err());
    }
}
