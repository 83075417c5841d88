//! OAUTHBEARER (RFC 7628, KIP-255): the client sends a bearer token; the broker accepts it
//! with an empty answer, or sends an RFC 7628 error (JSON), which the client acknowledges
//! with a lone `\x01` before the broker fails the exchange.

use std::time::{Duration, SystemTime};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

use super::error::ServerMessageError;

/// RFC 7628's separator between the parts of a message.
const SEPARATOR: char = '\u{1}';

/// What the client answers to the broker's error: a lone separator.
pub(crate) const ACKNOWLEDGE_ERROR: &[u8] = b"\x01";

/// `n,,\x01auth=Bearer <token>[\x01key=value...]\x01\x01`, as Kafka's Java client writes it.
pub(crate) fn initial_response(token: &str, extensions: &[(String, String)]) -> Vec<u8> {
    let mut out = format!("n,,{SEPARATOR}auth=Bearer {token}");
    for (key, value) in extensions {
        out.push(SEPARATOR);
        out.push_str(key);
        out.push('=');
        out.push_str(value);
    }
    out.push(SEPARATOR);
    out.push(SEPARATOR);
    out.into_bytes()
}

/// The broker's RFC 7628 error.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct ServerError {
    pub(crate) status: String,
    pub(crate) scope: Option<String>,
    pub(crate) openid_configuration: Option<String>,
}

/// Reads the broker's error: a JSON object with a string `status` and optional string
/// `scope` and `openid-configuration` (other members, of any scalar type, are skipped).
pub(crate) fn parse_server_error(message: &[u8]) -> Result<ServerError, ServerMessageError> {
    let text = std::str::from_utf8(message)
        .map_err(|_| ServerMessageError::Malformed("the OAUTHBEARER error is not UTF-8"))?;
    let members = json::flat_object(text).map_err(ServerMessageError::Malformed)?;
    let mut error = ServerError {
        status: String::new(),
        scope: None,
        openid_configuration: None,
    };
    let mut status = None;
    for (key, value) in members {
        match key.as_str() {
            "status" => status = value,
            "scope" => error.scope = value,
            "openid-configuration" => error.openid_configuration = value,
            _ => {}
        }
    }
    error.status = status.ok_or(ServerMessageError::Malformed(
        "the OAUTHBEARER error has no status",
    ))?;
    Ok(error)
}

/// An unsecured JSON Web Token as Kafka's `OAuthBearerUnsecuredLoginCallbackHandler` makes
/// them, for brokers configured with Kafka's unsecured validator (development and tests
/// only: anyone can write one). Header `{"alg":"none"}`; claims `sub`, `iat`, `exp` (in whole
/// seconds since the epoch) and, when `scope` is not empty, `scope` as an array; both parts
/// base64url without padding, and an empty signature after the last `.`.
pub fn unsecured_jwt(
    subject: &str,
    issued_at: SystemTime,
    lifetime: Duration,
    scope: &[&str],
) -> String {
    let iat = issued_at
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let exp = iat.saturating_add(lifetime.as_secs());
    let mut claims = format!(
        r#"{{"sub":{},"iat":{iat},"exp":{exp}"#,
        json::string(subject)
    );
    if !scope.is_empty() {
        let scope: Vec<String> = scope.iter().map(|s| json::string(s)).collect();
        claims.push_str(&format!(r#","scope":[{}]"#, scope.join(",")));
    }
    claims.push('}');
    format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"none"}"#),
        URL_SAFE_NO_PAD.encode(claims)
    )
}

/// Just enough JSON for RFC 7628 errors and unsecured tokens.
mod json {
    /// `s` as a JSON string.
    pub(super) fn string(s: &str) -> String {
        let mut out = String::with_capacity(s.len() + 2);
        out.push('"');
        for c in s.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                c if u32::from(c) < 0x20 => out.push_str(&format!("\\u{:04x}", u32::from(c))),
                c => out.push(c),
            }
        }
        out.push('"');
        out
    }

    type Members = Vec<(String, Option<String>)>;

    /// The members of a JSON object whose values are scalars: strings as `Some`, numbers,
    /// booleans and null as `None`. Nested arrays and objects are refused.
    pub(super) fn flat_object(text: &str) -> Result<Members, &'static str> {
        let mut p = Parser { text, pos: 0 };
        let mut members = Vec::new();
        p.skip_whitespace();
        p.expect(b'{')?;
        p.skip_whitespace();
        if !p.eat(b'}') {
            loop {
                p.skip_whitespace();
                let key = p.string()?;
                p.skip_whitespace();
                p.expect(b':')?;
                p.skip_whitespace();
                let value = p.scalar()?;
                members.push((key, value));
                p.skip_whitespace();
                if p.eat(b',') {
                    continue;
                }
                p.expect(b'}')?;
                break;
            }
        }
        p.skip_whitespace();
        if p.pos != text.len() {
            return Err("the OAUTHBEARER error has text after its JSON object");
        }
        Ok(members)
    }

    struct Parser<'a> {
        text: &'a str,
        pos: usize,
    }

    const NOT_JSON: &str = "the OAUTHBEARER error is not a flat JSON object";

    impl Parser<'_> {
        fn peek(&self) -> Option<u8> {
            self.text.as_bytes().get(self.pos).copied()
        }

        fn eat(&mut self, b: u8) -> bool {
            let found = self.peek() == Some(b);
            if found {
                self.pos += 1;
            }
            found
        }

        fn expect(&mut self, b: u8) -> Result<(), &'static str> {
            if self.eat(b) {
                Ok(())
            } else {
                Err(NOT_JSON)
            }
        }

        fn skip_whitespace(&mut self) {
            while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
                self.pos += 1;
            }
        }

        fn scalar(&mut self) -> Result<Option<String>, &'static str> {
            match self.peek() {
                Some(b'"') => self.string().map(Some),
                Some(b'-' | b'0'..=b'9') => {
                    let rest = &self.text.as_bytes()[self.pos..];
                    let len = rest
                        .iter()
                        .take_while(|b| matches!(b, b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9'))
                        .count();
                    self.pos += len;
                    Ok(None)
                }
                _ => {
                    for literal in ["true", "false", "null"] {
                        if self.text[self.pos..].starts_with(literal) {
                            self.pos += literal.len();
                            return Ok(None);
                        }
                    }
                    Err(NOT_JSON)
                }
            }
        }

        fn string(&mut self) -> Result<String, &'static str> {
            self.expect(b'"')?;
            let mut out = String::new();
            loop {
                let start = self.pos;
                let rest = &self.text.as_bytes()[start..];
                let run = rest
                    .iter()
                    .take_while(|&&b| b != b'"' && b != b'\\' && b >= 0x20)
                    .count();
                // The run ends at an ASCII byte (or the end), so it ends on a char boundary.
                out.push_str(&self.text[start..start + run]);
                self.pos += run;
                match self.peek() {
                    Some(b'"') => {
                        self.pos += 1;
                        return Ok(out);
                    }
                    Some(b'\\') => {
                        self.pos += 1;
                        out.push(self.escape()?);
                    }
                    _ => return Err(NOT_JSON),
                }
            }
        }

        fn escape(&mut self) -> Result<char, &'static str> {
            let c = self.peek().ok_or(NOT_JSON)?;
            self.pos += 1;
            Ok(match c {
                b'"' => '"',
                b'\\' => '\\',
                b'/' => '/',
                b'b' => '\u{8}',
                b'f' => '\u{c}',
                b'n' => '\n',
                b'r' => '\r',
                b't' => '\t',
                b'u' => {
                    let high = self.hex4()?;
                    if (0xd800..0xdc00).contains(&high) && self.text[self.pos..].starts_with("\\u")
                    {
                        self.pos += 2;
                        let low = self.hex4()?;
                        if (0xdc00..0xe000).contains(&low) {
                            let code = 0x10000 + ((high - 0xd800) << 10) + (low - 0xdc00);
                            return Ok(char::from_u32(code).unwrap_or('\u{fffd}'));
                        }
                        return Ok('\u{fffd}');
                    }
                    char::from_u32(high).unwrap_or('\u{fffd}')
                }
                _ => return Err(NOT_JSON),
            })
        }

        fn hex4(&mut self) -> Result<u32, &'static str> {
            let digits = self.text.get(self.pos..self.pos + 4).ok_or(NOT_JSON)?;
            if !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(NOT_JSON);
            }
            self.pos += 4;
            u32::from_str_radix(digits, 16).map_err(|_| NOT_JSON)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_initial_response_carries_the_token_and_extensions_between_separators() {
        assert_eq!(
            initial_response("abc.def.", &[]),
            b"n,,\x01auth=Bearer abc.def.\x01\x01"
        );
        let extensions = [
            ("traceId".to_string(), "123".to_string()),
            ("logicalCluster".to_string(), "lkc-1".to_string()),
        ];
        assert_eq!(
            initial_response("t", &extensions),
            b"n,,\x01auth=Bearer t\x01traceId=123\x01logicalCluster=lkc-1\x01\x01"
        );
    }

    #[test]
    fn an_unsecured_jwt_is_two_base64url_json_parts_and_an_empty_signature() {
        let at = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let jwt = unsecured_jwt("al\"ice", at, Duration::from_secs(3600), &["read", "write"]);
        assert!(jwt.ends_with('.'));
        let parts: Vec<&str> = jwt.split('.').collect();
        assert_eq!(parts.len(), 3, "{jwt}");
        assert_eq!(parts[2], "");
        assert!(!jwt.contains('='), "no padding");
        let part = |i: usize| String::from_utf8(URL_SAFE_NO_PAD.decode(parts[i]).unwrap()).unwrap();
        assert_eq!(part(0), r#"{"alg":"none"}"#);
        assert_eq!(
            part(1),
            r#"{"sub":"al\"ice","iat":1700000000,"exp":1700003600,"scope":["read","write"]}"#
        );
        let plain = unsecured_jwt("bob", at, Duration::from_secs(60), &[]);
        let claims = plain.split('.').nth(1).unwrap();
        assert_eq!(
            URL_SAFE_NO_PAD.decode(claims).unwrap(),
            br#"{"sub":"bob","iat":1700000000,"exp":1700000060}"#
        );
        // The token is one a configuration accepts.
        assert!(super::super::SaslConfig::oauthbearer(jwt).check().is_ok());
    }

    #[test]
    fn the_broker_error_json_gives_status_scope_and_openid_configuration() {
        // As Kafka's OAuthBearerSaslServer writes it.
        let kafka = br#"{"status":"invalid_token", "scope":"a b", "openid-configuration":"https://x/.well-known"}"#;
        assert_eq!(
            parse_server_error(kafka),
            Ok(ServerError {
                status: "invalid_token".into(),
                scope: Some("a b".into()),
                openid_configuration: Some("https://x/.well-known".into()),
            })
        );
        let escaped = br#" { "n" : -1.5e3, "b": true, "z": null, "status" : "a\"\\\/\n\u00e9\ud83d\ude00" } "#;
        assert_eq!(
            parse_server_error(escaped).unwrap().status,
            "a\"\\/\n\u{e9}\u{1f600}"
        );
        for bad in [
            &b""[..],
            b"{}",
            br#"{"scope":"x"}"#,
            br#"{"status":1}"#,
            br#"{"status":"x""#,
            br#"{"status":"x"} x"#,
            br#"{"status":["x"]}"#,
            br#"{"status":"\q"}"#,
            br#"{"status":"\u12"}"#,
            b"{\"status\":\"a\nb\"}",
            b"{\"status\":\"\xff\"}",
            br#"{"status" "x"}"#,
            br#"{"status":"x",}"#,
        ] {
            assert!(
                parse_server_error(bad).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
        // A lone surrogate reads as the replacement character, never a panic.
        assert_eq!(
            parse_server_error(br#"{"status":"\ud800x\udc00"}"#)
                .unwrap()
                .status,
            "\u{fffd}x\u{fffd}"
        );
    }
}
