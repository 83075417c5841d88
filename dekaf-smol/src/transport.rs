//! How bytes reach a broker: the transport seam, plaintext TCP and TLS.
//!
//! The driver opens every connection through one [`Transport`]: it asks for a byte stream to
//! a broker's address and then speaks Kafka over it (the ApiVersions handshake, SASL, the
//! requests). [`Tcp`] and [`Tls`] are the two built in, chosen from the
//! [`SecurityProtocol`](crate::SecurityProtocol); a transport of your own (a proxy, a
//! tunnel, a simulated network) plugs in with [`Config::transport`](crate::Config::transport).

use std::fmt;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;

use async_net::TcpStream;
use dekaf_state::client::BrokerAddress;
use futures_lite::{AsyncRead, AsyncWrite};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore};

use crate::config::display_address;
use crate::security::{Pem, TlsSettings};
use crate::Error;

/// A byte stream to a broker, as a [`Transport`] opens it.
pub trait BrokerStream: AsyncRead + AsyncWrite + Send + Unpin {}

impl<T: AsyncRead + AsyncWrite + Send + Unpin + ?Sized> BrokerStream for T {}

/// A boxed [`BrokerStream`].
pub type BoxedStream = Box<dyn BrokerStream>;

/// What [`Transport::connect`] returns.
pub type ConnectFuture = Pin<Box<dyn Future<Output = Result<BoxedStream, Error>> + Send>>;

/// Opens byte streams to brokers.
///
/// The driver bounds each `connect` by the connect timeout, then does Kafka's handshakes over
/// the stream. Errors should say what failed ([`Error::Io`] for a socket error,
/// [`Error::Tls`] for a TLS one); every failure is retried with the reconnect backoff.
pub trait Transport: Send + Sync + fmt::Debug + 'static {
    /// Opens a stream to `address`.
    fn connect(&self, address: &BrokerAddress) -> ConnectFuture;
}

/// Plain TCP (`PLAINTEXT` and `SASL_PLAINTEXT`), with Nagle's delay off: requests are
/// written whole.
#[derive(Clone, Copy, Debug, Default)]
pub struct Tcp;

impl Tcp {
    async fn open(address: BrokerAddress) -> Result<TcpStream, Error> {
        let label = display_address(&address);
        let stream = TcpStream::connect((address.host.as_str(), address.port))
            .await
            .map_err(|e| Error::io("connect", &label, e))?;
        stream
            .set_nodelay(true)
            .map_err(|e| Error::io("connect", &label, e))?;
        Ok(stream)
    }
}

impl Transport for Tcp {
    fn connect(&self, address: &BrokerAddress) -> ConnectFuture {
        let address = address.clone();
        Box::pin(async move { Ok(Box::new(Tcp::open(address).await?) as BoxedStream) })
    }
}

/// TLS over TCP (`SSL` and `SASL_SSL`), with rustls.
#[derive(Clone)]
pub struct Tls {
    config: Arc<ClientConfig>,
}

impl fmt::Debug for Tls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tls").finish_non_exhaustive()
    }
}

impl Tls {
    /// A TLS transport with these settings. Reads the PEM files now: a missing or malformed
    /// one is an [`Error::Config`] that names it.
    pub fn new(settings: &TlsSettings) -> Result<Tls, Error> {
        // ring builds with a C compiler alone (aws-lc-rs needs cmake). rustls deprecates it
        // only for lacking post-quantum key exchange, which no Kafka broker requires.
        #[allow(deprecated)]
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let roots = Arc::new(root_store(settings)?);
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
            .map_err(|e| Error::Config(format!("TLS: {e}")))?;
        let builder = if settings.verify_hostname {
            builder.with_root_certificates(roots)
        } else {
            let inner = WebPkiServerVerifier::builder_with_provider(roots, provider)
                .build()
                .map_err(|e| Error::Config(format!("TLS: {e}")))?;
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AnyHostname { inner }))
        };
        let config = match &settings.client_certificate {
            None => builder.with_no_client_auth(),
            Some((chain, key)) => {
                let chain = certificates(chain)?;
                let key = private_key(key)?;
                builder
                    .with_client_auth_cert(chain, key)
                    .map_err(|e| Error::Config(format!("TLS client certificate: {e}")))?
            }
        };
        Ok(Tls {
            config: Arc::new(config),
        })
    }
}

impl Transport for Tls {
    fn connect(&self, address: &BrokerAddress) -> ConnectFuture {
        let address = address.clone();
        let connector = futures_rustls::TlsConnector::from(self.config.clone());
        Box::pin(async move {
            let label = display_address(&address);
            let name = ServerName::try_from(address.host.clone()).map_err(|_| Error::Tls {
                addr: label.clone(),
                error: TlsError::Other(format!("{:?} is not a valid server name", address.host)),
            })?;
            let tcp = Tcp::open(address).await?;
            let stream = connector
                .connect(name, tcp)
                .await
                .map_err(|e| tls_error(&label, e))?;
            Ok(Box::new(stream) as BoxedStream)
        })
    }
}

/// Why a TLS connection failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// The broker's certificate is not signed by a trusted authority (add its CA with
    /// [`TlsSettings::ca_file`]).
    #[error("the broker's certificate is not signed by a trusted certificate authority")]
    UnknownIssuer,
    /// The broker's certificate does not name the host connected to.
    #[error("the broker's certificate is not valid for this host name")]
    HostnameMismatch,
    /// The broker's certificate has expired (or is not valid yet).
    #[error("the broker's certificate has expired or is not valid yet")]
    Expired,
    /// The broker's certificate was refused for another reason.
    #[error("the broker's certificate was refused: {0}")]
    BadCertificate(String),
    /// The peer does not speak TLS (a plaintext listener?).
    #[error("the peer does not speak TLS: is this a plaintext listener? ({0})")]
    NotTls(String),
    /// The peer speaks TLS where the client expected plaintext (set the security protocol to
    /// `Ssl` or `SaslSsl`).
    #[error("the broker speaks TLS: set the security protocol to SSL or SASL_SSL")]
    PeerSpeaksTls,
    /// The broker ended the handshake with an alert (e.g. it requires a client certificate).
    #[error("the broker refused the TLS handshake: {0}")]
    Refused(String),
    /// Anything else.
    #[error("{0}")]
    Other(String),
}

/// An IO error on a stream: a TLS failure when rustls is behind it (an alert the broker sent
/// after the handshake, e.g. a client certificate it requires), else a socket error.
pub(crate) fn stream_error(op: &'static str, label: &str, e: io::Error) -> Error {
    let is_tls = e
        .get_ref()
        .is_some_and(|inner| inner.downcast_ref::<rustls::Error>().is_some());
    if is_tls {
        tls_error(label, e)
    } else {
        Error::io(op, label, e)
    }
}

fn tls_error(label: &str, e: io::Error) -> Error {
    let error = match e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
    {
        Some(rustls::Error::InvalidCertificate(cert)) => match cert {
            CertificateError::UnknownIssuer => TlsError::UnknownIssuer,
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                TlsError::HostnameMismatch
            }
            CertificateError::Expired
            | CertificateError::ExpiredContext { .. }
            | CertificateError::NotValidYet
            | CertificateError::NotValidYetContext { .. } => TlsError::Expired,
            other => TlsError::BadCertificate(format!("{other:?}")),
        },
        Some(rustls::Error::AlertReceived(alert)) => TlsError::Refused(format!("{alert:?}")),
        Some(
            e @ (rustls::Error::InvalidMessage(_)
            | rustls::Error::InappropriateMessage { .. }
            | rustls::Error::InappropriateHandshakeMessage { .. }),
        ) => TlsError::NotTls(e.to_string()),
        Some(other) => TlsError::Other(other.to_string()),
        // The socket itself failed (reset, closed during the handshake).
        None => return Error::io("TLS handshake with", label, e),
    };
    Error::Tls {
        addr: label.to_owned(),
        error,
    }
}

/// The first bytes of a TLS record (handshake or alert, TLS 1.x): what a TLS listener sends
/// a client that spoke plaintext to it.
pub(crate) fn looks_like_tls(first: &[u8]) -> bool {
    matches!(first, [0x15 | 0x16, 0x03, 0x00..=0x04, ..])
}

fn pem_bytes(pem: &Pem) -> Result<Vec<u8>, Error> {
    match pem {
        Pem::Bytes(b) => Ok(b.clone()),
        Pem::File(path) => std::fs::read(path)
            .map_err(|e| Error::Config(format!("cannot read {}: {e}", path.display()))),
    }
}

fn certificates(pem: &Pem) -> Result<Vec<CertificateDer<'static>>, Error> {
    let bytes = pem_bytes(pem)?;
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<_, _>>()
        .map_err(|e| Error::Config(format!("{}: not PEM certificates: {e}", pem.describe())))?;
    if certs.is_empty() {
        return Err(Error::Config(format!(
            "{}: no certificate in it",
            pem.describe()
        )));
    }
    Ok(certs)
}

fn private_key(pem: &Pem) -> Result<PrivateKeyDer<'static>, Error> {
    let bytes = pem_bytes(pem)?;
    // The key's bytes never appear in the message.
    PrivateKeyDer::from_pem_slice(&bytes).map_err(|e| {
        Error::Config(format!(
            "{}: no PKCS#8, RSA or EC private key in it ({})",
            pem.describe(),
            match e {
                rustls::pki_types::pem::Error::NoItemsFound => "nothing found".to_owned(),
                other => format!("{other:?}").chars().take(60).collect(),
            }
        ))
    })
}

fn root_store(settings: &TlsSettings) -> Result<RootCertStore, Error> {
    let mut roots = RootCertStore::empty();
    for pem in &settings.ca_certificates {
        for cert in certificates(pem)? {
            roots
                .add(cert)
                .map_err(|e| Error::Config(format!("{}: {e}", pem.describe())))?;
        }
    }
    let native = settings
        .native_roots
        .unwrap_or(settings.ca_certificates.is_empty() && !settings.webpki_roots);
    if native {
        add_native_roots(&mut roots)?;
    }
    if settings.webpki_roots {
        add_webpki_roots(&mut roots)?;
    }
    if roots.is_empty() {
        return Err(Error::Config(
            "TLS: no certificate authority to trust (give a CA file, or enable the native-roots \
             or webpki-roots feature)"
                .into(),
        ));
    }
    Ok(roots)
}

#[cfg(feature = "native-roots")]
fn add_native_roots(roots: &mut RootCertStore) -> Result<(), Error> {
    let found = rustls_native_certs::load_native_certs();
    let (added, _ignored) = roots.add_parsable_certificates(found.certs);
    if added == 0 && !found.errors.is_empty() {
        tracing::warn!(errors = ?found.errors, "no certificate of the operating system's store");
    }
    Ok(())
}

#[cfg(not(feature = "native-roots"))]
fn add_native_roots(_: &mut RootCertStore) -> Result<(), Error> {
    Ok(())
}

#[cfg(feature = "webpki-roots")]
fn add_webpki_roots(roots: &mut RootCertStore) -> Result<(), Error> {
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    Ok(())
}

#[cfg(not(feature = "webpki-roots"))]
fn add_webpki_roots(_: &mut RootCertStore) -> Result<(), Error> {
    Err(Error::Config(
        "TLS: webpki_roots needs dekaf-smol's webpki-roots feature".into(),
    ))
}

/// Checks the certificate as usual but for the name it is valid for.
#[derive(Debug)]
struct AnyHostname {
    inner: Arc<WebPkiServerVerifier>,
}

impl ServerCertVerifier for AnyHostname {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self.inner.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        ) {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}
