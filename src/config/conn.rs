//! The resolved connection target: the one value every adapter connects with, and its redacted form.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

/// A password. Its `Debug` and `Display` print `***`, so a stray `{:?}` cannot leak it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }
    /// The real value, for the wire only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// libpq's `sslmode`, with libpq's meanings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SslMode {
    Disable,
    /// Try TLS without verifying; fall back to plaintext if the server refuses TLS.
    Prefer,
    /// TLS, not verified (unless a root certificate is given, as libpq does: then verify-ca).
    Require,
    /// TLS, chain verified against the root certificates, host name not checked.
    VerifyCa,
    /// TLS, chain and host name verified.
    VerifyFull,
}

impl SslMode {
    pub fn as_str(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }
}

/// Where trusted root certificates come from (`sslrootcert`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RootCerts {
    /// A PEM file, usually a mounted Secret.
    File(PathBuf),
    /// `sslrootcert=system`: the built-in web PKI roots.
    System,
}

/// Everything needed to open one session. Built by `config`, consumed by `pg::connect`.
#[derive(Clone, PartialEq, Eq)]
pub struct ConnSettings {
    /// Host name, IP address, or a unix socket directory (starts with `/`).
    pub host: String,
    pub port: u16,
    pub user: String,
    pub password: Option<Secret>,
    pub dbname: String,
    pub sslmode: SslMode,
    pub sslrootcert: Option<RootCerts>,
    pub sslcert: Option<PathBuf>,
    pub sslkey: Option<PathBuf>,
    /// Already cut to 63 bytes.
    pub application_name: String,
    /// One connection attempt.
    pub connect_timeout: Duration,
    /// libpq `options` (`PGOPTIONS`), e.g. `-c search_path=app`.
    pub options: Option<String>,
}

impl ConnSettings {
    /// `postgres://app:***@db:5432/app?sslmode=prefer`: what logs and errors show of the target.
    pub fn redacted_url(&self) -> String {
        let pw = if self.password.is_some() { ":***" } else { "" };
        let host = if self.host.starts_with('/') {
            // A socket directory cannot sit in the authority part; libpq puts it in the query.
            String::new()
        } else if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        let mut url = format!(
            "postgres://{}{}@{}:{}/{}?sslmode={}",
            self.user,
            pw,
            host,
            self.port,
            self.dbname,
            self.sslmode.as_str()
        );
        if self.host.starts_with('/') {
            url.push_str("&host=");
            url.push_str(&self.host);
        }
        url
    }
}

impl fmt::Debug for ConnSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted_url())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> ConnSettings {
        ConnSettings {
            host: "db".into(),
            port: 5432,
            user: "app".into(),
            password: Some(Secret::new("s3cr3t")),
            dbname: "app".into(),
            sslmode: SslMode::Prefer,
            sslrootcert: None,
            sslcert: None,
            sslkey: None,
            application_name: "schemagate/pod-1".into(),
            connect_timeout: Duration::from_secs(10),
            options: None,
        }
    }

    #[test]
    fn redacted_url_hides_the_password_and_debug_uses_it() {
        let c = sample();
        assert_eq!(
            c.redacted_url(),
            "postgres://app:***@db:5432/app?sslmode=prefer"
        );
        assert!(!format!("{c:?}").contains("s3cr3t"));
    }
}
