//! Benchmark tables as JSON under `target/bench/`, so that runs can be compared.

use std::fmt::Write as _;
use std::path::PathBuf;

/// A JSON value of a report.
pub enum Value {
    Int(i64),
    Float(f64),
    Str(String),
    /// JSON text already (an array of objects).
    Raw(String),
}

/// A JSON object of `fields`, in order.
pub fn object(fields: &[(&str, Value)]) -> String {
    let mut out = String::from("{");
    for (i, (name, value)) in fields.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let _ = write!(out, "{}:", quote(name));
        match value {
            Value::Int(v) => {
                let _ = write!(out, "{v}");
            }
            Value::Float(v) if v.is_finite() => {
                let _ = write!(out, "{v}");
            }
            Value::Float(_) => out.push_str("null"),
            Value::Str(s) => out.push_str(&quote(s)),
            Value::Raw(s) => out.push_str(s),
        }
    }
    out.push('}');
    out
}

fn quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Writes `json` to `target/bench/NAME` (the target directory this program was built in)
/// and returns the path.
pub fn write(name: &str, json: &str) -> Result<PathBuf, String> {
    let exe = std::env::current_exe().map_err(|e| format!("current exe: {e}"))?;
    // target/release/dekaf-bench -> target
    let target = exe
        .parent()
        .and_then(|p| p.parent())
        .ok_or_else(|| format!("no target directory above {}", exe.display()))?;
    let dir = target.join("bench");
    std::fs::create_dir_all(&dir).map_err(|e| format!("create {}: {e}", dir.display()))?;
    let path = dir.join(name);
    std::fs::write(&path, format!("{json}\n"))
        .map_err(|e| format!("write {}: {e}", path.display()))?;
    Ok(path)
}
