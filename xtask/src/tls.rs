//! TLS for the demo: a certificate authority and a broker certificate made at run time with
//! the `openssl` command (a dependency of Debian's stunnel4, which `cargo xtask install`
//! installs), and stunnel terminating TLS in front of tansu, which cannot itself.

use std::fs::{self, File};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long stunnel may take to listen.
const STARTUP_DEADLINE: Duration = Duration::from_secs(20);

/// The CA the clients trust, and the broker's certificate for 127.0.0.1 and localhost.
pub struct Certs {
    /// The certificate authority's certificate (PEM).
    pub ca: PathBuf,
    /// The broker's certificate, signed by the CA (PEM).
    pub server_cert: PathBuf,
    /// Its private key (PEM).
    pub server_key: PathBuf,
}

/// The CA: a self-signed certificate that may sign others, and nothing else.
const CA_CONFIG: &str = "\
[req]
distinguished_name = dn
prompt = no
x509_extensions = ca
[dn]
CN = dekaf demo CA
[ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
";

/// The broker: a TLS server certificate naming the loopback address the clients dial.
const SERVER_CONFIG: &str = "\
[req]
distinguished_name = dn
prompt = no
[dn]
CN = localhost
[server]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1, DNS:localhost
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
";

/// ECDSA P-256 keys: fast to make, and what rustls and stunnel both take.
const NEW_KEY: [&str; 4] = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"];

impl Certs {
    /// Makes the CA and the broker's certificate in `dir`.
    pub fn make(dir: &Path) -> Result<Certs, String> {
        let write = |name: &str, text: &str| {
            let path = dir.join(name);
            fs::write(&path, text).map_err(|e| format!("write {}: {e}", path.display()))?;
            Ok::<_, String>(path)
        };
        write("ca.cnf", CA_CONFIG)?;
        write("server.cnf", SERVER_CONFIG)?;
        openssl(
            dir,
            &["req", "-x509", "-new", "-config", "ca.cnf"],
            &[
                "-nodes", "-days", "2", "-keyout", "ca.key", "-out", "ca.pem",
            ],
        )?;
        openssl(
            dir,
            &["req", "-new", "-config", "server.cnf"],
            &["-nodes", "-keyout", "server.key", "-out", "server.csr"],
        )?;
        openssl(
            dir,
            &["x509", "-req", "-in", "server.csr", "-CA", "ca.pem"],
            &[
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-days",
                "2",
                "-extfile",
                "server.cnf",
                "-extensions",
                "server",
                "-out",
                "server.pem",
            ],
        )?;
        Ok(Certs {
            ca: dir.join("ca.pem"),
            server_cert: dir.join("server.pem"),
            server_key: dir.join("server.key"),
        })
    }
}

/// Runs `openssl` in `dir` with `head`, a new key for `req`, then `tail`.
fn openssl(dir: &Path, head: &[&str], tail: &[&str]) -> Result<(), String> {
    let mut cmd = Command::new("openssl");
    cmd.args(head);
    if head.first() == Some(&"req") {
        cmd.args(NEW_KEY);
    }
    let out = cmd
        .args(tail)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run openssl ({e}): run `cargo xtask install`"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "openssl {}: {}",
            head.join(" "),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// The stunnel binary, if installed.
pub fn stunnel_binary() -> Option<PathBuf> {
    ["/usr/bin/stunnel4", "/usr/bin/stunnel"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
}

/// stunnel accepting TLS on `accept` and forwarding plaintext to the broker; stopped when
/// dropped.
pub struct Stunnel {
    child: Child,
    log: PathBuf,
}

impl Stunnel {
    /// Starts `binary` on `accept`, presenting the broker's certificate, forwarding to
    /// `target`; its configuration and log go to `dir`. Waits until it listens.
    pub fn start(
        binary: &Path,
        certs: &Certs,
        accept: SocketAddr,
        target: SocketAddr,
        dir: &Path,
    ) -> Result<Stunnel, String> {
        let conf = dir.join("stunnel.conf");
        let log = dir.join("stunnel.log");
        let text = format!(
            "foreground = yes\npid =\n[kafka]\naccept = {accept}\nconnect = {target}\n\
             cert = {}\nkey = {}\n",
            certs.server_cert.display(),
            certs.server_key.display()
        );
        fs::write(&conf, text).map_err(|e| format!("write {}: {e}", conf.display()))?;
        let out = File::create(&log).map_err(|e| format!("create {}: {e}", log.display()))?;
        let err = out.try_clone().map_err(|e| e.to_string())?;
        let child = Command::new(binary)
            .arg(&conf)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .map_err(|e| format!("spawn {}: {e}", binary.display()))?;
        let mut tunnel = Stunnel { child, log };
        let deadline = Instant::now() + STARTUP_DEADLINE;
        loop {
            if TcpStream::connect_timeout(&accept, Duration::from_millis(200)).is_ok() {
                return Ok(tunnel);
            }
            if let Ok(Some(status)) = tunnel.child.try_wait() {
                return Err(format!("stunnel exited with {status}:\n{}", tunnel.log()));
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "stunnel did not listen on {accept} within {STARTUP_DEADLINE:?}:\n{}",
                    tunnel.log()
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
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
