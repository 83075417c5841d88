//! Security settings: the protocol (`security.protocol`) and TLS (`ssl.*`).

use std::fmt;
use std::path::PathBuf;

/// How a client talks to the brokers (Kafka's `security.protocol`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SecurityProtocol {
    /// Plain TCP, no authentication (the default).
    #[default]
    Plaintext,
    /// TLS, with a client certificate when [`TlsSettings`] has one (mTLS).
    Ssl,
    /// SASL authentication over plain TCP.
    SaslPlaintext,
    /// SASL authentication over TLS (what managed clusters ask for).
    SaslSsl,
}

impl SecurityProtocol {
    /// Whether connections are TLS.
    pub fn uses_tls(self) -> bool {
        matches!(self, SecurityProtocol::Ssl | SecurityProtocol::SaslSsl)
    }

    /// Whether connections authenticate with SASL.
    pub fn uses_sasl(self) -> bool {
        matches!(
            self,
            SecurityProtocol::SaslPlaintext | SecurityProtocol::SaslSsl
        )
    }
}

impl fmt::Display for SecurityProtocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SecurityProtocol::Plaintext => "PLAINTEXT",
            SecurityProtocol::Ssl => "SSL",
            SecurityProtocol::SaslPlaintext => "SASL_PLAINTEXT",
            SecurityProtocol::SaslSsl => "SASL_SSL",
        })
    }
}

/// PEM data: a file read when the client is built, or the bytes themselves.
///
/// `Debug` shows the path, or only the size of the bytes: a private key never appears in logs.
#[derive(Clone, PartialEq, Eq)]
pub enum Pem {
    /// A file of PEM blocks.
    File(PathBuf),
    /// PEM blocks in memory.
    Bytes(Vec<u8>),
}

impl fmt::Debug for Pem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Pem::File(path) => f.debug_tuple("File").field(path).finish(),
            Pem::Bytes(b) => write!(f, "Bytes(<{} bytes>)", b.len()),
        }
    }
}

impl Pem {
    /// Where it comes from, for error messages.
    pub(crate) fn describe(&self) -> String {
        match self {
            Pem::File(path) => path.display().to_string(),
            Pem::Bytes(b) => format!("PEM bytes ({} bytes)", b.len()),
        }
    }
}

/// TLS settings (Kafka's `ssl.*`), used when the [`SecurityProtocol`] is `Ssl` or `SaslSsl`.
///
/// Which certificate authorities are trusted: the CA certificates given
/// ([`ca_file`](Self::ca_file), [`ca_pem`](Self::ca_pem)), plus the operating system's store
/// ([`native_roots`](Self::native_roots); on by default when no CA certificate is given and
/// the `native-roots` feature is on) and Mozilla's roots compiled in
/// ([`webpki_roots`](Self::webpki_roots), the `webpki-roots` feature). The broker's
/// certificate must name the host the client connects to (the address in the bootstrap list
/// or the broker's advertised host; an IP address is checked as an IP address). TLS 1.2 and
/// 1.3.
///
/// ```
/// use dekaf_smol::TlsSettings;
///
/// let tls = TlsSettings::new()
///     .ca_file("/etc/kafka/ca.pem")
///     .client_certificate_files("/etc/kafka/client.pem", "/etc/kafka/client.key");
/// # let _ = tls;
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct TlsSettings {
    /// Certificate authorities to trust, besides the stores below.
    pub ca_certificates: Vec<Pem>,
    /// Trust the operating system's store; `None`: only when no CA certificate is given.
    pub native_roots: Option<bool>,
    /// Trust Mozilla's roots, compiled in (needs the `webpki-roots` feature).
    pub webpki_roots: bool,
    /// A certificate chain and its private key (PKCS#8, RSA or EC) for brokers that ask for
    /// one (mTLS).
    pub client_certificate: Option<(Pem, Pem)>,
    /// Whether the broker's certificate must name the host connected to (default true).
    pub verify_hostname: bool,
}

impl Default for TlsSettings {
    fn default() -> Self {
        TlsSettings {
            ca_certificates: Vec::new(),
            native_roots: None,
            webpki_roots: false,
            client_certificate: None,
            verify_hostname: true,
        }
    }
}

impl TlsSettings {
    /// The defaults: the operating system's roots, hostname verification on.
    pub fn new() -> Self {
        TlsSettings::default()
    }

    /// Trusts the certificate authorities in this PEM file (`ssl.ca.location`).
    pub fn ca_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.ca_certificates.push(Pem::File(path.into()));
        self
    }

    /// Trusts the certificate authorities in these PEM bytes.
    pub fn ca_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.ca_certificates.push(Pem::Bytes(pem.into()));
        self
    }

    /// Whether to trust the operating system's store as well (default: only without CA
    /// certificates of your own).
    pub fn native_roots(mut self, on: bool) -> Self {
        self.native_roots = Some(on);
        self
    }

    /// Whether to trust Mozilla's roots, compiled in (the `webpki-roots` feature).
    pub fn webpki_roots(mut self, on: bool) -> Self {
        self.webpki_roots = on;
        self
    }

    /// Presents this certificate chain and private key (PEM files) when the broker asks for
    /// one (mTLS).
    pub fn client_certificate_files(
        mut self,
        certificate: impl Into<PathBuf>,
        key: impl Into<PathBuf>,
    ) -> Self {
        self.client_certificate = Some((Pem::File(certificate.into()), Pem::File(key.into())));
        self
    }

    /// Presents this certificate chain and private key (PEM bytes) when the broker asks for
    /// one (mTLS).
    pub fn client_certificate_pem(
        mut self,
        certificate: impl Into<Vec<u8>>,
        key: impl Into<Vec<u8>>,
    ) -> Self {
        self.client_certificate = Some((Pem::Bytes(certificate.into()), Pem::Bytes(key.into())));
        self
    }

    /// Accepts a broker certificate that does not name the host connected to. The certificate
    /// must still be valid and signed by a trusted authority, but anyone holding *any* such
    /// certificate can then pose as the broker: for test clusters only.
    pub fn danger_skip_hostname_verification(mut self) -> Self {
        self.verify_hostname = false;
        self
    }
}
