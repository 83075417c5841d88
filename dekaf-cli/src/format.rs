//! How `consume --format` prints a record: `%` escapes for the record's parts, `\` escapes
//! for characters that are awkward on a command line.

use std::fmt;
use std::str::FromStr;

/// What `--format` accepts, as `consume --help` shows it.
pub const HELP: &str = "\
How to print each record, followed by a newline. Escapes:
  %t topic        %p partition     %o offset
  %k key          %v value         %T timestamp (ms since the Unix epoch)
  %h headers (key=value, separated by commas)
  %% a percent sign   \\n newline   \\t tab   \\\\ backslash
A null key or value prints as nothing; bytes that are not UTF-8 print as U+FFFD.";

/// One piece of a format.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Piece {
    Text(String),
    Topic,
    Partition,
    Offset,
    Key,
    Value,
    Timestamp,
    Headers,
}

/// A parsed `--format`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Format(Vec<Piece>);

/// The parts of a record a format prints.
#[derive(Clone, Copy, Debug)]
pub struct Parts<'a> {
    /// The topic.
    pub topic: &'a str,
    /// The partition.
    pub partition: i32,
    /// The offset.
    pub offset: i64,
    /// The key, `None` when null.
    pub key: Option<&'a [u8]>,
    /// The value, `None` when null.
    pub value: Option<&'a [u8]>,
    /// The timestamp, ms since the Unix epoch.
    pub timestamp: i64,
    /// The headers, in order: key and value (`None` when null).
    pub headers: &'a [(&'a [u8], Option<&'a [u8]>)],
}

/// A format that does not parse: what is wrong with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FormatError(String);

impl fmt::Display for FormatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for FormatError {}

impl FromStr for Format {
    type Err = FormatError;

    fn from_str(s: &str) -> Result<Format, FormatError> {
        let mut pieces = Vec::new();
        let mut text = String::new();
        let mut chars = s.chars();
        while let Some(c) = chars.next() {
            let piece = match c {
                '%' => match chars.next() {
                    Some('t') => Piece::Topic,
                    Some('p') => Piece::Partition,
                    Some('o') => Piece::Offset,
                    Some('k') => Piece::Key,
                    Some('v') => Piece::Value,
                    Some('T') => Piece::Timestamp,
                    Some('h') => Piece::Headers,
                    Some('%') => {
                        text.push('%');
                        continue;
                    }
                    Some(other) => {
                        return Err(FormatError(format!(
                            "unknown escape %{other} (known: %t %p %o %k %v %T %h %%)"
                        )))
                    }
                    None => return Err(FormatError("a lone % at the end".into())),
                },
                '\\' => {
                    text.push(match chars.next() {
                        Some('n') => '\n',
                        Some('t') => '\t',
                        Some('\\') => '\\',
                        Some(other) => {
                            return Err(FormatError(format!(
                                "unknown escape \\{other} (known: \\n \\t \\\\)"
                            )))
                        }
                        None => return Err(FormatError("a lone \\ at the end".into())),
                    });
                    continue;
                }
                c => {
                    text.push(c);
                    continue;
                }
            };
            if !text.is_empty() {
                pieces.push(Piece::Text(std::mem::take(&mut text)));
            }
            pieces.push(piece);
        }
        if !text.is_empty() {
            pieces.push(Piece::Text(text));
        }
        Ok(Format(pieces))
    }
}

impl Format {
    /// Appends the record, as the format says, and a newline to `out`.
    pub fn write(&self, parts: &Parts<'_>, out: &mut Vec<u8>) {
        for piece in &self.0 {
            match piece {
                Piece::Text(t) => out.extend_from_slice(t.as_bytes()),
                Piece::Topic => out.extend_from_slice(parts.topic.as_bytes()),
                Piece::Partition => out.extend_from_slice(parts.partition.to_string().as_bytes()),
                Piece::Offset => out.extend_from_slice(parts.offset.to_string().as_bytes()),
                Piece::Key => lossy(parts.key.unwrap_or_default(), out),
                Piece::Value => lossy(parts.value.unwrap_or_default(), out),
                Piece::Timestamp => out.extend_from_slice(parts.timestamp.to_string().as_bytes()),
                Piece::Headers => {
                    for (i, (key, value)) in parts.headers.iter().enumerate() {
                        if i > 0 {
                            out.push(b',');
                        }
                        lossy(key, out);
                        if let Some(value) = value {
                            out.push(b'=');
                            lossy(value, out);
                        }
                    }
                }
            }
        }
        out.push(b'\n');
    }
}

/// Appends `bytes` as UTF-8, invalid sequences as U+FFFD.
fn lossy(bytes: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(String::from_utf8_lossy(bytes).as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn print(format: &str, parts: &Parts<'_>) -> String {
        let mut out = Vec::new();
        format.parse::<Format>().unwrap().write(parts, &mut out);
        String::from_utf8(out).unwrap()
    }

    const HEADERS: &[(&[u8], Option<&[u8]>)] = &[(b"trace", Some(b"abc")), (b"flag", None)];

    const RECORD: Parts<'static> = Parts {
        topic: "orders",
        partition: 2,
        offset: 41,
        key: Some(b"user-7"),
        value: Some(b"hello"),
        timestamp: 1_764_579_600_000,
        headers: HEADERS,
    };

    #[test]
    fn every_escape_prints_its_part() {
        assert_eq!(
            print("%t|%p|%o|%k|%v|%T|%h", &RECORD),
            "orders|2|41|user-7|hello|1764579600000|trace=abc,flag\n"
        );
        assert_eq!(print("%k\\t%v\\n100%%", &RECORD), "user-7\thello\n100%\n");
        assert_eq!(print("a\\\\b", &RECORD), "a\\b\n");
    }

    #[test]
    fn null_parts_print_as_nothing_and_bad_utf8_as_the_replacement_character() {
        let parts = Parts {
            key: None,
            value: Some(&[b'a', 0xff, b'b']),
            headers: &[],
            ..RECORD
        };
        assert_eq!(print("[%k][%v][%h]", &parts), "[][a\u{fffd}b][]\n");
    }

    #[test]
    fn unknown_or_unfinished_escapes_are_refused_with_what_is_known() {
        let e = "%x".parse::<Format>().unwrap_err().to_string();
        assert!(e.contains("%x") && e.contains("%v"), "{e}");
        assert!("100%".parse::<Format>().is_err());
        assert!("\\q".parse::<Format>().is_err());
        assert!("end\\".parse::<Format>().is_err());
    }
}
