//! Each benchmark's table, printed as Markdown and written as JSON under `target/bench/`, so
//! that runs can be compared. No serde: the few shapes needed are written by hand.

use std::fmt::{self, Write as _};
use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

/// A JSON value.
#[derive(Clone, Debug)]
pub enum Json {
    Null,
    Num(f64),
    Str(String),
    Arr(Vec<Json>),
    Obj(Vec<(String, Json)>),
}

impl From<f64> for Json {
    fn from(v: f64) -> Self {
        if v.is_finite() {
            Json::Num(v)
        } else {
            Json::Null
        }
    }
}

impl From<u64> for Json {
    fn from(v: u64) -> Self {
        Json::Num(v as f64)
    }
}

impl From<&str> for Json {
    fn from(v: &str) -> Self {
        Json::Str(v.to_string())
    }
}

impl From<String> for Json {
    fn from(v: String) -> Self {
        Json::Str(v)
    }
}

impl fmt::Display for Json {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Json::Null => f.write_str("null"),
            Json::Num(v) if v.fract() == 0.0 && v.abs() < 1e15 => write!(f, "{}", *v as i64),
            Json::Num(v) => write!(f, "{v}"),
            Json::Str(s) => {
                f.write_char('"')?;
                for c in s.chars() {
                    match c {
                        '"' => f.write_str("\\\"")?,
                        '\\' => f.write_str("\\\\")?,
                        '\n' => f.write_str("\\n")?,
                        c if (c as u32) < 0x20 => write!(f, "\\u{:04x}", c as u32)?,
                        c => f.write_char(c)?,
                    }
                }
                f.write_char('"')
            }
            Json::Arr(items) => {
                f.write_char('[')?;
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_char(',')?;
                    }
                    write!(f, "{item}")?;
                }
                f.write_char(']')
            }
            Json::Obj(fields) => {
                f.write_char('{')?;
                for (i, (k, v)) in fields.iter().enumerate() {
                    if i > 0 {
                        f.write_char(',')?;
                    }
                    write!(f, "{}:{v}", Json::Str(k.clone()))?;
                }
                f.write_char('}')
            }
        }
    }
}

/// One cell: what the Markdown table shows, and the value the JSON holds.
pub struct Cell {
    shown: String,
    value: Json,
}

impl Cell {
    /// Text, shown and stored as is.
    pub fn text(s: impl Into<String>) -> Cell {
        let s = s.into();
        Cell {
            shown: s.clone(),
            value: Json::Str(s),
        }
    }

    /// A number, shown as `shown` and stored as `value`.
    pub fn num(value: f64, shown: impl Into<String>) -> Cell {
        Cell {
            shown: shown.into(),
            value: value.into(),
        }
    }
}

/// A benchmark's results: a title, a note on how they were measured, and rows.
pub struct Table {
    name: &'static str,
    title: String,
    columns: Vec<&'static str>,
    rows: Vec<Vec<Cell>>,
    settings: Vec<(String, Json)>,
}

impl Table {
    /// An empty table, written to `target/bench/{name}.json`.
    pub fn new(name: &'static str, title: impl Into<String>, columns: &[&'static str]) -> Table {
        Table {
            name,
            title: title.into(),
            columns: columns.to_vec(),
            rows: Vec::new(),
            settings: Vec::new(),
        }
    }

    /// Records a setting of the run in the JSON (records, rounds, ...).
    pub fn setting(&mut self, key: &str, value: impl Into<Json>) {
        self.settings.push((key.to_string(), value.into()));
    }

    /// Adds a row, one cell per column.
    pub fn row(&mut self, cells: Vec<Cell>) {
        debug_assert_eq!(cells.len(), self.columns.len());
        self.rows.push(cells);
    }

    /// Prints the table as Markdown and writes the JSON file; says where on standard error.
    pub fn finish(&self) -> Result<(), String> {
        let mut out = format!("\n{}\n\n| {} |\n|", self.title, self.columns.join(" | "));
        out.push_str(&"---|".repeat(self.columns.len()));
        for row in &self.rows {
            out.push_str("\n|");
            for cell in row {
                let _ = write!(out, " {} |", cell.shown);
            }
        }
        println!("{out}");
        let path = self.write()?;
        eprintln!("written to {}", path.display());
        Ok(())
    }

    fn write(&self) -> Result<PathBuf, String> {
        let rows = self
            .rows
            .iter()
            .map(|row| {
                Json::Obj(
                    self.columns
                        .iter()
                        .zip(row)
                        .map(|(c, cell)| (c.to_string(), cell.value.clone()))
                        .collect(),
                )
            })
            .collect();
        let unix = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let json = Json::Obj(vec![
            ("benchmark".into(), self.name.into()),
            ("title".into(), self.title.clone().into()),
            ("unix_time".into(), unix.into()),
            ("machine".into(), machine()),
            ("settings".into(), Json::Obj(self.settings.clone())),
            ("rows".into(), Json::Arr(rows)),
        ]);
        write(self.name, &json)
    }
}

/// Writes `json` to `target/bench/NAME.json` and returns the path.
pub fn write(name: &str, json: &Json) -> Result<PathBuf, String> {
    let dir = out_dir()?;
    std::fs::create_dir_all(&dir).map_err(|e| format!("create {}: {e}", dir.display()))?;
    let path = dir.join(format!("{name}.json"));
    std::fs::write(&path, format!("{json}\n"))
        .map_err(|e| format!("write {}: {e}", path.display()))?;
    Ok(path)
}

/// `target/bench/`: next to the `release` directory this program runs from (the xtask builds
/// it in the workspace's target directory), or `DEKAF_BENCH_OUT`.
fn out_dir() -> Result<PathBuf, String> {
    if let Some(dir) = std::env::var_os("DEKAF_BENCH_OUT") {
        return Ok(PathBuf::from(dir));
    }
    let exe = std::env::current_exe().map_err(|e| format!("current exe: {e}"))?;
    exe.parent()
        .and_then(|release| release.parent())
        .map(|target| target.join("bench"))
        .ok_or_else(|| format!("no target directory above {}", exe.display()))
}

/// The machine and its load when the table was written: CPU model, cores, load averages.
pub fn machine() -> Json {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .and_then(|l| l.split_once(':'))
        .map_or(String::new(), |(_, m)| m.trim().to_string());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get() as u64);
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let load: Vec<Json> = load
        .split_whitespace()
        .take(3)
        .filter_map(|v| v.parse::<f64>().ok())
        .map(Json::from)
        .collect();
    Json::Obj(vec![
        ("cpu".into(), model.into()),
        ("cores".into(), cores.into()),
        ("loadavg".into(), Json::Arr(load)),
    ])
}

/// The median of `values` (the upper one of an even count); 0 for none.
pub fn median(mut values: Vec<f64>) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

#[cfg(test)]
mod tests {
    use super::Json;

    #[test]
    fn json_is_written_with_escapes_and_integers() {
        let j = Json::Obj(vec![
            ("a\"b".into(), Json::Num(3.0)),
            ("c".into(), Json::Arr(vec![Json::Num(0.5), Json::Null])),
            ("d".into(), "x\ny".into()),
        ]);
        assert_eq!(j.to_string(), r#"{"a\"b":3,"c":[0.5,null],"d":"x\ny"}"#);
        assert_eq!(Json::from(f64::NAN).to_string(), "null");
    }
}
