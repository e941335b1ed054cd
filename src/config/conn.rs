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

/// libpq's `sslnegotiation` (PostgreSQL 17): how a TLS session starts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SslNegotiation {
    /// Ask with an SSLRequest first and start the handshake after the server's `S`: every
    /// server version understands it, at the cost of one round trip.
    #[default]
    Postgres,
    /// Send the TLS ClientHello at once. A server older than 17 reads it as a malformed
    /// startup packet and hangs up, so it is only ever asked for.
    Direct,
}

impl SslNegotiation {
    pub fn as_str(self) -> &'static str {
        match self {
            SslNegotiation::Postgres => "postgres",
            SslNegotiation::Direct => "direct",
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

/// One entry of the host list: a host name, an IP address, or a unix socket directory
/// (starts with `/`), with its port.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostPort {
    pub host: String,
    pub port: u16,
}

impl HostPort {
    pub fn new(host: impl Into<String>, port: u16) -> Self {
        HostPort {
            host: host.into(),
            port,
        }
    }

    pub fn is_socket(&self) -> bool {
        self.host.starts_with('/')
    }

    /// `db:5432`, `[::1]:5433`, `/run/postgresql:5432`: how logs and errors name one server.
    pub fn label(&self) -> String {
        if self.host.contains(':') && !self.is_socket() {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

/// libpq's `target_session_attrs`: which server of the host list a session may stay on.
/// The two `Prefer…` modes past libpq's own exist for pgjdbc's `preferPrimary` and
/// `preferSecondary`, which libpq has no word for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TargetSessionAttrs {
    #[default]
    Any,
    /// `transaction_read_only` is off.
    ReadWrite,
    /// `transaction_read_only` is on.
    ReadOnly,
    /// Not in recovery.
    Primary,
    /// In recovery.
    Standby,
    /// A standby if the list holds one that answers, else any server.
    PreferStandby,
    /// pgjdbc's `preferPrimary`: a read-write server if one answers, else any.
    PreferReadWrite,
    /// pgjdbc's `preferSecondary`: a read-only server if one answers, else any.
    PreferReadOnly,
}

impl TargetSessionAttrs {
    /// libpq's spelling; the pgjdbc-only modes get names in the same style.
    pub fn as_str(self) -> &'static str {
        match self {
            TargetSessionAttrs::Any => "any",
            TargetSessionAttrs::ReadWrite => "read-write",
            TargetSessionAttrs::ReadOnly => "read-only",
            TargetSessionAttrs::Primary => "primary",
            TargetSessionAttrs::Standby => "standby",
            TargetSessionAttrs::PreferStandby => "prefer-standby",
            TargetSessionAttrs::PreferReadWrite => "prefer-read-write",
            TargetSessionAttrs::PreferReadOnly => "prefer-read-only",
        }
    }
}

/// Everything needed to open one session. Built by `config`, consumed by `pg::connect`.
#[derive(Clone, PartialEq, Eq)]
pub struct ConnSettings {
    /// Tried in this order, as libpq does; never empty once resolved.
    pub hosts: Vec<HostPort>,
    pub user: String,
    pub password: Option<Secret>,
    pub dbname: String,
    pub sslmode: SslMode,
    /// `Direct` only with `sslmode` require, verify-ca or verify-full (checked in `config`).
    pub sslnegotiation: SslNegotiation,
    pub sslrootcert: Option<RootCerts>,
    pub sslcert: Option<PathBuf>,
    pub sslkey: Option<PathBuf>,
    /// Already cut to 63 bytes.
    pub application_name: String,
    /// One connection attempt to one host.
    pub connect_timeout: Duration,
    /// libpq `options` (`PGOPTIONS`), e.g. `-c search_path=app`.
    pub options: Option<String>,
    pub target_session_attrs: TargetSessionAttrs,
    /// `SCHEMAGATE_INIT_SQL` (Flyway's `initSql`): run on every session right after it
    /// opens, before anything else. May hold a secret (`SET ROLE … PASSWORD`): never shown.
    pub init_sql: Option<String>,
}

impl ConnSettings {
    /// The first host of the list: the host, when only one is given.
    pub fn host(&self) -> &str {
        self.hosts.first().map_or("", |h| h.host.as_str())
    }

    /// The first host's port.
    pub fn port(&self) -> u16 {
        self.hosts.first().map_or(5432, |h| h.port)
    }

    /// `postgres://app:***@db:5432/app?sslmode=prefer`: what logs and errors show of the
    /// target; every host of a list, `postgres://app:***@a:5432,b:5433/app?…`.
    pub fn redacted_url(&self) -> String {
        let pw = if self.password.is_some() { ":***" } else { "" };
        let authority: Vec<String> = self
            .hosts
            .iter()
            .map(|h| {
                if h.is_socket() {
                    // A socket directory cannot sit in the authority part; libpq reads it
                    // from the query's `host`, which then names every host.
                    format!(":{}", h.port)
                } else {
                    h.label()
                }
            })
            .collect();
        let mut url = format!(
            "postgres://{}{}@{}/{}?sslmode={}",
            self.user,
            pw,
            authority.join(","),
            self.dbname,
            self.sslmode.as_str()
        );
        // Shown only when asked for: a failure that direct negotiation explains must say so.
        if self.sslnegotiation != SslNegotiation::Postgres {
            url.push_str("&sslnegotiation=");
            url.push_str(self.sslnegotiation.as_str());
        }
        if self.target_session_attrs != TargetSessionAttrs::Any {
            url.push_str("&target_session_attrs=");
            url.push_str(self.target_session_attrs.as_str());
        }
        if self.hosts.iter().any(HostPort::is_socket) {
            let hosts: Vec<&str> = self.hosts.iter().map(|h| h.host.as_str()).collect();
            url.push_str("&host=");
            url.push_str(&hosts.join(","));
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
            hosts: vec![HostPort::new("db", 5432)],
            user: "app".into(),
            password: Some(Secret::new("s3cr3t")),
            dbname: "app".into(),
            sslmode: SslMode::Prefer,
            sslnegotiation: SslNegotiation::Postgres,
            sslrootcert: None,
            sslcert: None,
            sslkey: None,
            application_name: "schemagate/pod-1".into(),
            connect_timeout: Duration::from_secs(10),
            options: None,
            target_session_attrs: TargetSessionAttrs::Any,
            init_sql: None,
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
        assert_eq!((c.host(), c.port()), ("db", 5432));
    }

    #[test]
    fn redacted_url_shows_every_host() {
        let mut c = sample();
        c.hosts = vec![
            HostPort::new("a", 5432),
            HostPort::new("b", 5433),
            HostPort::new("::1", 5434),
        ];
        c.target_session_attrs = TargetSessionAttrs::Primary;
        assert_eq!(
            c.redacted_url(),
            "postgres://app:***@a:5432,b:5433,[::1]:5434/app?sslmode=prefer&target_session_attrs=primary"
        );
        c.hosts = vec![HostPort::new("/run/pg", 5432), HostPort::new("b", 5433)];
        c.target_session_attrs = TargetSessionAttrs::Any;
        assert_eq!(
            c.redacted_url(),
            "postgres://app:***@:5432,b:5433/app?sslmode=prefer&host=/run/pg,b"
        );
        assert_eq!(c.hosts[0].label(), "/run/pg:5432");
    }

    #[test]
    fn redacted_url_names_direct_negotiation_only() {
        let mut c = sample();
        c.sslmode = SslMode::Require;
        c.sslnegotiation = SslNegotiation::Direct;
        assert_eq!(
            c.redacted_url(),
            "postgres://app:***@db:5432/app?sslmode=require&sslnegotiation=direct"
        );
    }
}
