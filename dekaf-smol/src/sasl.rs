//! SASL settings (`sasl.mechanism`, `sasl.jaas.config`, the OAUTHBEARER token callback) and
//! the randomness the SASL machine takes from its driver.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use dekaf_state::sasl::{Mechanism, SaslConfig, Secret};

/// An OAUTHBEARER token and how long it is valid.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct OAuthToken {
    /// The token (a JWT, for most identity providers); prints as `***`.
    pub value: Secret,
    /// How long it stays valid from now.
    pub lifetime: Duration,
}

impl OAuthToken {
    /// A token valid for `lifetime` from now.
    pub fn new(value: impl Into<Secret>, lifetime: Duration) -> Self {
        OAuthToken {
            value: value.into(),
            lifetime,
        }
    }
}

/// What [`TokenProvider::token`] returns: the token, or why there is none (a message for the
/// error the connection then fails with; it must not contain the token).
pub type TokenFuture = Pin<Box<dyn Future<Output = Result<OAuthToken, String>> + Send>>;

/// Supplies OAUTHBEARER tokens: the application's side of its identity provider. Asked for
/// a token on every new connection and before every re-authentication.
///
/// A plain function or closure returning `Result<OAuthToken, String>` is a provider;
/// implement the trait for one that must wait (an HTTP call to the identity provider).
pub trait TokenProvider: Send + Sync + 'static {
    /// A valid token.
    fn token(&self) -> TokenFuture;
}

impl<F> TokenProvider for F
where
    F: Fn() -> Result<OAuthToken, String> + Send + Sync + 'static,
{
    fn token(&self) -> TokenFuture {
        let token = self();
        Box::pin(async move { token })
    }
}

/// SASL settings: the mechanism and its credentials, used when the
/// [`SecurityProtocol`](crate::SecurityProtocol) is `SaslPlaintext` or `SaslSsl`.
///
/// ```
/// use dekaf_smol::SaslSettings;
///
/// let confluent_cloud = SaslSettings::plain("API_KEY", "API_SECRET");
/// let msk = SaslSettings::scram_sha512("alice", "alice-secret");
/// # let _ = (confluent_cloud, msk);
/// ```
#[derive(Clone)]
pub struct SaslSettings {
    config: SaslConfig,
    provider: Option<Arc<dyn TokenProvider>>,
}

impl SaslSettings {
    /// PLAIN: a user name and password sent as they are (use it over TLS only).
    pub fn plain(username: impl Into<String>, password: impl Into<Secret>) -> Self {
        SaslSettings::from_config(SaslConfig::plain(username, password))
    }

    /// SCRAM-SHA-256: the password never crosses the wire.
    pub fn scram_sha256(username: impl Into<String>, password: impl Into<Secret>) -> Self {
        SaslSettings::from_config(SaslConfig::scram_sha256(username, password))
    }

    /// SCRAM-SHA-512: the password never crosses the wire.
    pub fn scram_sha512(username: impl Into<String>, password: impl Into<Secret>) -> Self {
        SaslSettings::from_config(SaslConfig::scram_sha512(username, password))
    }

    /// OAUTHBEARER with tokens from `provider`, asked on every new connection and before
    /// every re-authentication.
    pub fn oauthbearer(provider: impl TokenProvider) -> Self {
        SaslSettings {
            config: SaslConfig::oauthbearer(""),
            provider: Some(Arc::new(provider)),
        }
    }

    /// Any configuration of the SASL machine (e.g. OAUTHBEARER with SASL extensions and a
    /// fixed token).
    pub fn from_config(config: SaslConfig) -> Self {
        SaslSettings {
            config,
            provider: None,
        }
    }

    /// The mechanism.
    pub fn mechanism(&self) -> Mechanism {
        self.config.mechanism()
    }

    /// The machine's configuration for a new run: with a fresh token when a provider gives
    /// them.
    pub(crate) async fn config(&self) -> Result<SaslConfig, String> {
        let Some(provider) = &self.provider else {
            return Ok(self.config.clone());
        };
        let token = provider.token().await?;
        Ok(self.config.clone().with_token(token.value))
    }

    /// Checks the settings before anything connects.
    pub(crate) fn check(&self) -> Result<(), crate::Error> {
        if self.provider.is_some() {
            return Ok(());
        }
        self.config
            .check()
            .map_err(|e| crate::Error::Config(format!("SASL: {e}")))
    }
}

impl fmt::Debug for SaslSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SaslSettings")
            .field("config", &self.config)
            .field("token_provider", &self.provider.is_some())
            .finish()
    }
}

impl PartialEq for SaslSettings {
    fn eq(&self, other: &Self) -> bool {
        self.config == other.config
            && match (&self.provider, &other.provider) {
                (None, None) => true,
                (Some(a), Some(b)) => Arc::ptr_eq(a, b),
                _ => false,
            }
    }
}

impl Eq for SaslSettings {}

/// Random bytes from the operating system, through the TLS library's source (no other
/// dependency): the SCRAM nonce must be unpredictable.
pub(crate) fn random_bytes<const N: usize>() -> [u8; N] {
    let mut buf = [0u8; N];
    #[allow(deprecated)]
    let provider = rustls::crypto::ring::default_provider();
    if provider.secure_random.fill(&mut buf).is_err() {
        // No OS randomness: still unique per call, never a constant.
        let seed = crate::config::fresh_seed().to_le_bytes();
        for (i, b) in buf.iter_mut().enumerate() {
            *b = seed[i % seed.len()] ^ (i as u8);
        }
    }
    buf
}
