//! TLS in front of a broker for the tests: certificates made at test time (rcgen), and Debian's
//! stunnel as an independent TLS terminator (tansu does not terminate TLS itself).

use std::fs::{self, File};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose,
};

use crate::broker::{free_port, temp_dir};

/// PEM files of one certificate and its key.
#[derive(Debug, Clone)]
pub struct Pair {
    /// The certificate.
    pub cert: PathBuf,
    /// Its private key (PKCS#8).
    pub key: PathBuf,
}

/// Every certificate the TLS tests use, written under one directory.
#[derive(Debug, Clone)]
pub struct Certs {
    /// The directory.
    pub dir: PathBuf,
    /// The certificate authority the clients trust.
    pub ca: PathBuf,
    /// A certificate authority nobody trusts.
    pub other_ca: PathBuf,
    /// The broker's: for 127.0.0.1 and localhost, signed by `ca`.
    pub server: Pair,
    /// A broker certificate signed by `ca` for another host name.
    pub wrong_host: Pair,
    /// A broker certificate signed by `ca` that expired in 2020.
    pub expired: Pair,
    /// A broker certificate for 127.0.0.1 signed by `other_ca`.
    pub untrusted: Pair,
    /// A client certificate signed by `ca`, for mTLS.
    pub client: Pair,
}

fn ca_params(name: &str) -> CertificateParams {
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    params.distinguished_name.push(DnType::CommonName, name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params
}

fn leaf(
    dir: &Path,
    name: &str,
    names: &[&str],
    issuer: &CertifiedIssuer<'_, KeyPair>,
    expired: bool,
) -> Pair {
    let mut params =
        CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>())
            .expect("leaf params");
    params.distinguished_name.push(DnType::CommonName, name);
    if expired {
        params.not_before = rcgen::date_time_ymd(2019, 1, 1);
        params.not_after = rcgen::date_time_ymd(2020, 1, 1);
    }
    let key = KeyPair::generate().expect("key");
    let cert = params.signed_by(&key, issuer).expect("sign");
    let pair = Pair {
        cert: dir.join(format!("{name}.pem")),
        key: dir.join(format!("{name}.key")),
    };
    fs::write(&pair.cert, cert.pem()).expect("write certificate");
    fs::write(&pair.key, key.serialize_pem()).expect("write key");
    pair
}

impl Certs {
    /// Makes the certificates in a new temporary directory.
    pub fn make() -> Certs {
        let dir = temp_dir("tls");
        let ca = CertifiedIssuer::self_signed(
            ca_params("dekaf test CA"),
            KeyPair::generate().expect("key"),
        )
        .expect("CA");
        let other = CertifiedIssuer::self_signed(
            ca_params("untrusted CA"),
            KeyPair::generate().expect("key"),
        )
        .expect("CA");
        let ca_path = dir.join("ca.pem");
        let other_path = dir.join("other-ca.pem");
        fs::write(&ca_path, ca.pem()).expect("write CA");
        fs::write(&other_path, other.pem()).expect("write CA");
        let local = ["127.0.0.1", "localhost"];
        Certs {
            server: leaf(&dir, "server", &local, &ca, false),
            wrong_host: leaf(&dir, "wrong-host", &["broker.example.com"], &ca, false),
            expired: leaf(&dir, "expired", &local, &ca, true),
            untrusted: leaf(&dir, "untrusted", &local, &other, false),
            client: leaf(&dir, "client", &["dekaf-client"], &ca, false),
            ca: ca_path,
            other_ca: other_path,
            dir,
        }
    }
}

/// How a [`Stunnel`] treats client certificates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    /// None asked for.
    None,
    /// One signed by the CA is required (mTLS).
    Required,
}

/// stunnel accepting TLS on a loopback port and forwarding plaintext to `target`; stopped when
/// dropped.
#[derive(Debug)]
pub struct Stunnel {
    child: Child,
    addr: SocketAddr,
    log: PathBuf,
}

/// The stunnel binary, if installed (`cargo xtask install` installs Debian's stunnel4).
pub fn stunnel_binary() -> Option<PathBuf> {
    ["/usr/bin/stunnel4", "/usr/bin/stunnel"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
}

impl Stunnel {
    /// Starts stunnel on `accept` (a free loopback port), presenting `server`, forwarding to
    /// `target`. `None` (after printing why) when stunnel is missing outside CI; a panic in CI.
    pub fn start(
        certs: &Certs,
        server: &Pair,
        accept: SocketAddr,
        target: SocketAddr,
        auth: ClientAuth,
    ) -> Option<Stunnel> {
        crate::init_logging();
        let Some(binary) = stunnel_binary() else {
            if std::env::var_os("CI").is_some() {
                panic!("stunnel4 is not installed: run `cargo xtask install`");
            }
            println!("skipped: stunnel4 not found");
            return None;
        };
        let name = format!("stunnel-{}", accept.port());
        let conf = certs.dir.join(format!("{name}.conf"));
        let log = certs.dir.join(format!("{name}.log"));
        let mut text = format!(
            "foreground = yes\npid =\ndebug = 5\n[kafka]\naccept = {accept}\nconnect = {target}\n\
             cert = {}\nkey = {}\n",
            server.cert.display(),
            server.key.display()
        );
        if auth == ClientAuth::Required {
            text.push_str(&format!(
                "verifyChain = yes\nrequireCert = yes\nCAfile = {}\n",
                certs.ca.display()
            ));
        }
        fs::write(&conf, text).expect("write stunnel.conf");
        let out = File::create(&log).expect("stunnel log");
        let err = out.try_clone().expect("stunnel log");
        let child = Command::new(binary)
            .arg(&conf)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .expect("spawn stunnel");
        let mut tunnel = Stunnel {
            child,
            addr: accept,
            log,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if TcpStream::connect_timeout(&accept, Duration::from_millis(200)).is_ok() {
                return Some(tunnel);
            }
            if let Ok(Some(status)) = tunnel.child.try_wait() {
                panic!("stunnel exited with {status}:\n{}", tunnel.log());
            }
            if Instant::now() > deadline {
                panic!("stunnel did not listen on {accept}:\n{}", tunnel.log());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Where it accepts TLS.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// What it logged.
    pub fn log(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Stunnel {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A loopback address for a terminator whose port was free a moment ago.
pub fn tunnel_port() -> SocketAddr {
    free_port().expect("a free port")
}
