//! PLAIN (RFC 4616): one message, the user name and password in the clear.

/// `authzid NUL authcid NUL passwd` with an empty authorization id: Kafka authorizes the
/// user named by the credentials.
pub(crate) fn initial_response(username: &str, password: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(2 + username.len() + password.len());
    out.push(0);
    out.extend_from_slice(username.as_bytes());
    out.push(0);
    out.extend_from_slice(password.as_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_initial_response_is_nul_user_nul_password() {
        assert_eq!(initial_response("alice", "s3cr=t,"), b"\0alice\0s3cr=t,");
        assert_eq!(initial_response("ünï", "p"), "\0ünï\0p".as_bytes());
    }
}
