//! TLS for the database session: libpq's `sslmode` meanings on rustls with the ring provider.
//!
//! | sslmode | no `sslrootcert` | `sslrootcert` = file | `sslrootcert=system` |
//! |---|---|---|---|
//! | `disable` | no TLS | no TLS | no TLS |
//! | `prefer` | TLS if offered, not verified | TLS if offered, chain verified | error |
//! | `require` | TLS, not verified | TLS, chain verified (verify-ca) | error |
//! | `verify-ca` | error | TLS, chain verified | error |
//! | `verify-full` | error | TLS, chain and host name | TLS, chain and host name |
//!
//! As in libpq, a root certificate file turns on chain verification in every TLS mode, and
//! `sslrootcert=system` is accepted only with `verify-full` (libpq 16), because the public web
//! PKI vouches for a name, not for a database: without the host-name check anyone holding any
//! publicly signed certificate would pass. A unix-socket host never uses TLS (libpq ignores
//! `sslmode` there too). Every error names the file and says what to do.

use std::fs;
use std::path::Path;
use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};

use crate::config::conn::{ConnSettings, RootCerts, SslMode, SslNegotiation};
use crate::core::outcome::{Failure, FailureKind};

/// The ALPN protocol name PostgreSQL 17 registered for its wire protocol.
const ALPN_POSTGRESQL: &[u8] = b"postgresql";

/// How much of the server's identity a session checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Verification {
    /// Encrypted, but anyone in the path could present a certificate (`prefer`, `require`).
    None,
    /// The chain leads to a trusted root; the host name is not checked (`verify-ca`).
    Chain,
    /// Chain and host name (`verify-full`).
    ChainAndName,
}

/// A rustls client configuration and what it verifies.
pub(crate) struct TlsSetup {
    pub config: ClientConfig,
    pub verification: Verification,
}

/// The rustls configuration for `conn`, or `None` when no session may use TLS
/// (`sslmode=disable`, or only unix-socket hosts; in a list that mixes both, the caller
/// leaves TLS off for the socket hosts). Errors are `Config` failures that name the
/// setting or file at fault.
pub fn client_config(conn: &ConnSettings) -> Result<Option<ClientConfig>, Failure> {
    Ok(setup(conn)?.map(|s| s.config))
}

/// Like [`client_config`], and says what the configuration verifies.
pub(crate) fn setup(conn: &ConnSettings) -> Result<Option<TlsSetup>, Failure> {
    if conn.sslmode == SslMode::Disable || conn.hosts.iter().all(|h| h.is_socket()) {
        return Ok(None);
    }
    let check = check(conn.sslmode, conn.sslrootcert.as_ref())?;
    // Explicit, so that no other crate's choice of process-default provider (or the lack of
    // one) can change what this binary negotiates; aws-lc is not linked at all.
    let provider = Arc::new(provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| Failure::new(FailureKind::Internal, format!("rustls: {e}")))?;
    let verification = check.verification();
    let builder = match check {
        Check::Nothing => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(UnverifiedServer { provider })),
        Check::Chain(roots) => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(ChainOnly {
                inner: webpki_verifier(roots, provider)?,
            })),
        Check::ChainAndName(roots) => {
            builder.with_webpki_verifier(webpki_verifier(roots, provider)?)
        }
    };

    let mut config = match (&conn.sslcert, &conn.sslkey) {
        (None, None) => builder.with_no_client_auth(),
        (Some(cert), Some(key)) => {
            let chain = load_client_certs(cert)?;
            let private_key = load_key(key)?;
            builder
                .with_client_auth_cert(chain, private_key)
                .map_err(|e| {
                    config_error(format!(
                        "sslcert {} and sslkey {} cannot be used together: {e}; check that the key belongs to the certificate",
                        cert.display(),
                        key.display()
                    ))
                })?
        }
        (Some(cert), None) => {
            return Err(config_error(format!(
                "sslcert {} is set but sslkey is not; a client certificate needs its private key (PGSSLKEY)",
                cert.display()
            )));
        }
        (None, Some(key)) => {
            return Err(config_error(format!(
                "sslkey {} is set but sslcert is not; a private key needs its client certificate (PGSSLCERT)",
                key.display()
            )));
        }
    };
    if conn.sslnegotiation == SslNegotiation::Direct {
        // PostgreSQL 17 refuses a direct handshake that does not name its protocol by ALPN,
        // so that a TLS terminator for another service cannot be talked into relaying it.
        // The SSLRequest path keeps the ClientHello it always had.
        config.alpn_protocols = vec![ALPN_POSTGRESQL.to_vec()];
    }
    Ok(Some(TlsSetup {
        config,
        verification,
    }))
}

/// ring's provider with P-256 as the first key-exchange group. rustls sends a key share for its
/// first group only, and a server that cannot use it answers with a HelloRetryRequest: one
/// more round trip on every connection. PostgreSQL up to 17 gives OpenSSL its
/// `ssl_ecdh_curve` alone, prime256v1 unless changed, so ring's default order (X25519 first)
/// pays that round trip against a server left at its defaults (psql does too). PostgreSQL 18's
/// `ssl_groups` default, X25519:prime256v1, takes the P-256 share as sent. X25519 and P-384
/// stay offered for servers set to use them.
fn provider() -> CryptoProvider {
    use rustls::crypto::ring::kx_group::{SECP256R1, SECP384R1, X25519};
    CryptoProvider {
        kx_groups: vec![SECP256R1, X25519, SECP384R1],
        ..rustls::crypto::ring::default_provider()
    }
}

/// What `sslmode` and `sslrootcert` ask to verify, with the roots to verify against.
#[derive(Debug, PartialEq, Eq)]
enum Check<'a> {
    Nothing,
    Chain(&'a RootCerts),
    ChainAndName(&'a RootCerts),
}

impl Check<'_> {
    fn verification(&self) -> Verification {
        match self {
            Check::Nothing => Verification::None,
            Check::Chain(_) => Verification::Chain,
            Check::ChainAndName(_) => Verification::ChainAndName,
        }
    }
}

/// The table in this module's header, for the TLS modes.
fn check(mode: SslMode, roots: Option<&RootCerts>) -> Result<Check<'_>, Failure> {
    match (mode, roots) {
        (SslMode::VerifyFull, Some(roots)) => Ok(Check::ChainAndName(roots)),
        (_, Some(RootCerts::System)) => Err(config_error(format!(
            "sslrootcert=system needs sslmode=verify-full, not {}: the public roots vouch for a host name, so only a host-name check makes them mean something (libpq 16 has the same rule)",
            mode.as_str()
        ))),
        (SslMode::VerifyCa | SslMode::VerifyFull, None) => Err(config_error(format!(
            "sslmode={} needs sslrootcert: the PEM file of the CA that signed the server's certificate (PGSSLROOTCERT), or sslrootcert=system for a publicly signed one",
            mode.as_str()
        ))),
        (_, Some(roots)) => Ok(Check::Chain(roots)),
        (_, None) => Ok(Check::Nothing),
    }
}

fn webpki_verifier(
    roots: &RootCerts,
    provider: Arc<CryptoProvider>,
) -> Result<Arc<WebPkiServerVerifier>, Failure> {
    let store = match roots {
        RootCerts::File(path) => load_roots(path)?,
        RootCerts::System => RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        },
    };
    WebPkiServerVerifier::builder_with_provider(Arc::new(store), provider)
        .build()
        .map_err(|e| config_error(format!("sslrootcert: cannot build a verifier from it: {e}")))
}

fn config_error(message: String) -> Failure {
    Failure::new(FailureKind::Config, message)
}

fn read(setting: &str, path: &Path) -> Result<Vec<u8>, Failure> {
    fs::read(path)
        .map_err(|e| config_error(format!("{setting} {}: cannot read it: {e}", path.display())))
}

fn load_roots(path: &Path) -> Result<RootCertStore, Failure> {
    let pem = read("sslrootcert", path)?;
    let mut roots = RootCertStore::empty();
    for (n, cert) in CertificateDer::pem_slice_iter(&pem).enumerate() {
        let cert = cert.map_err(|e| {
            config_error(format!(
                "sslrootcert {}: not valid PEM: {e}",
                path.display()
            ))
        })?;
        roots.add(cert).map_err(|e| {
            config_error(format!(
                "sslrootcert {}: certificate #{} cannot be a trust root: {e}",
                path.display(),
                n + 1
            ))
        })?;
    }
    if roots.is_empty() {
        return Err(config_error(format!(
            "sslrootcert {}: holds no certificate (no -----BEGIN CERTIFICATE----- block)",
            path.display()
        )));
    }
    Ok(roots)
}

fn load_client_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, Failure> {
    let pem = read("sslcert", path)?;
    let chain = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| config_error(format!("sslcert {}: not valid PEM: {e}", path.display())))?;
    if chain.is_empty() {
        return Err(config_error(format!(
            "sslcert {}: holds no certificate (no -----BEGIN CERTIFICATE----- block)",
            path.display()
        )));
    }
    Ok(chain)
}

fn load_key(path: &Path) -> Result<PrivateKeyDer<'static>, Failure> {
    let pem = read("sslkey", path)?;
    PrivateKeyDer::from_pem_slice(&pem).map_err(|e| {
        config_error(format!(
            "sslkey {}: no usable private key ({e}); expected an unencrypted PKCS#8, PKCS#1 or SEC1 PEM key",
            path.display()
        ))
    })
}

/// `prefer`/`require` without a root certificate: encryption without identity, as libpq.
/// The handshake signature is still checked, so the peer at least holds the key of the
/// certificate it sent (which channel binding in SCRAM then ties to the password exchange).
#[derive(Debug)]
struct UnverifiedServer {
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for UnverifiedServer {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// `verify-ca`: the full webpki check, minus the host name. `WebPkiServerVerifier` checks the
/// chain (trust anchor, validity dates, key usage, revocation) before the name, so a
/// name-class error means everything else passed; any other error stands.
#[derive(Debug)]
struct ChainOnly {
    inner: Arc<WebPkiServerVerifier>,
}

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self.inner.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        ) {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::conn::{HostPort, Secret};
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
    use std::path::PathBuf;
    use std::time::Duration;

    fn conn(sslmode: SslMode, sslrootcert: Option<RootCerts>) -> ConnSettings {
        ConnSettings {
            hosts: vec![HostPort::new("localhost", 5432)],
            user: "app".into(),
            password: Some(Secret::new("s3cr3t")),
            dbname: "app".into(),
            sslmode,
            sslnegotiation: SslNegotiation::Postgres,
            sslrootcert,
            sslcert: None,
            sslkey: None,
            application_name: "schemagate/test".into(),
            connect_timeout: Duration::from_secs(10),
            options: None,
            target_session_attrs: Default::default(),
            init_sql: None,
        }
    }

    struct Pki {
        dir: tempfile::TempDir,
        ca: CertifiedIssuer<'static, KeyPair>,
    }

    impl Pki {
        fn new(name: &str) -> Pki {
            let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
            params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            params
                .distinguished_name
                .push(rcgen::DnType::CommonName, name);
            let ca = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
            Pki {
                dir: tempfile::tempdir().unwrap(),
                ca,
            }
        }
        fn write(&self, name: &str, contents: &str) -> PathBuf {
            let path = self.dir.path().join(name);
            fs::write(&path, contents).unwrap();
            path
        }
        fn ca_file(&self) -> PathBuf {
            self.write("ca.pem", &self.ca.pem())
        }
        /// A leaf signed by this CA, as (cert DER, cert PEM, key PEM).
        fn leaf(&self, name: &str) -> (CertificateDer<'static>, String, String) {
            let key = KeyPair::generate().unwrap();
            let cert = CertificateParams::new(vec![name.to_string()])
                .unwrap()
                .signed_by(&key, &self.ca)
                .unwrap();
            (cert.der().clone(), cert.pem(), key.serialize_pem())
        }
    }

    fn config_message(result: Result<Option<TlsSetup>, Failure>) -> String {
        match result {
            Err(f) => {
                assert_eq!(f.kind, FailureKind::Config, "{}", f.message);
                f.message
            }
            Ok(_) => panic!("expected a config failure"),
        }
    }

    #[test]
    fn disable_and_unix_sockets_use_no_tls() {
        assert!(
            client_config(&conn(SslMode::Disable, None))
                .unwrap()
                .is_none()
        );
        let mut c = conn(SslMode::VerifyFull, Some(RootCerts::System));
        c.hosts = vec![HostPort::new("/var/run/postgresql", 5432)];
        assert!(client_config(&c).unwrap().is_none());
        c.hosts.push(HostPort::new("db", 5432));
        assert!(
            client_config(&c).unwrap().is_some(),
            "a TCP host in the list"
        );
    }

    #[test]
    fn verification_follows_libpq() {
        let file = Some(RootCerts::File("/x".into()));
        let sys = Some(RootCerts::System);
        use SslMode::*;
        use Verification as V;
        for (mode, roots, want) in [
            (Prefer, None, Some(V::None)),
            (Require, None, Some(V::None)),
            (Prefer, file.clone(), Some(V::Chain)),
            (Require, file.clone(), Some(V::Chain)),
            (VerifyCa, file.clone(), Some(V::Chain)),
            (VerifyFull, file.clone(), Some(V::ChainAndName)),
            (VerifyFull, sys.clone(), Some(V::ChainAndName)),
            (VerifyCa, None, None),
            (VerifyFull, None, None),
            (VerifyCa, sys.clone(), None),
            (Require, sys.clone(), None),
            (Prefer, sys.clone(), None),
        ] {
            let got = check(mode, roots.as_ref()).ok().map(|c| c.verification());
            assert_eq!(got, want, "{mode:?} {roots:?}");
        }
    }

    #[test]
    fn only_direct_negotiation_names_the_protocol_by_alpn() {
        let mut c = conn(SslMode::Require, None);
        let s = setup(&c).unwrap().unwrap();
        assert!(s.config.alpn_protocols.is_empty());
        c.sslnegotiation = SslNegotiation::Direct;
        let s = setup(&c).unwrap().unwrap();
        assert_eq!(s.config.alpn_protocols, [b"postgresql".to_vec()]);
    }

    #[test]
    fn unverified_modes_build_and_say_so() {
        let s = setup(&conn(SslMode::Prefer, None)).unwrap().unwrap();
        assert_eq!(s.verification, Verification::None);
        let s = setup(&conn(SslMode::Require, None)).unwrap().unwrap();
        assert_eq!(s.verification, Verification::None);
    }

    #[test]
    fn system_roots_build_for_verify_full() {
        let s = setup(&conn(SslMode::VerifyFull, Some(RootCerts::System)))
            .unwrap()
            .unwrap();
        assert_eq!(s.verification, Verification::ChainAndName);
    }

    #[test]
    fn verify_modes_without_roots_say_what_to_set() {
        let m = config_message(setup(&conn(SslMode::VerifyCa, None)));
        assert!(m.contains("sslrootcert"), "{m}");
        let m = config_message(setup(&conn(SslMode::Require, Some(RootCerts::System))));
        assert!(m.contains("verify-full"), "{m}");
    }

    #[test]
    fn root_file_problems_name_the_file() {
        let pki = Pki::new("test CA");
        let missing = pki.dir.path().join("nope.pem");
        let m = config_message(setup(&conn(
            SslMode::VerifyFull,
            Some(RootCerts::File(missing.clone())),
        )));
        assert!(m.contains(&missing.display().to_string()), "{m}");
        assert!(m.contains("cannot read"), "{m}");

        let empty = pki.write("empty.pem", "");
        let m = config_message(setup(&conn(
            SslMode::VerifyFull,
            Some(RootCerts::File(empty.clone())),
        )));
        assert!(m.contains(&empty.display().to_string()) && m.contains("no certificate"));

        let key_only = pki.write("key.pem", &KeyPair::generate().unwrap().serialize_pem());
        let m = config_message(setup(&conn(
            SslMode::VerifyCa,
            Some(RootCerts::File(key_only)),
        )));
        assert!(m.contains("no certificate"), "{m}");

        let bad = pki.write(
            "bad.pem",
            "-----BEGIN CERTIFICATE-----\n!!!not base64!!!\n-----END CERTIFICATE-----\n",
        );
        let m = config_message(setup(&conn(
            SslMode::VerifyCa,
            Some(RootCerts::File(bad.clone())),
        )));
        assert!(
            m.contains(&bad.display().to_string()) && m.contains("PEM"),
            "{m}"
        );

        let truncated = pki.write("cut.pem", &pki.ca.pem()[..100]);
        let m = config_message(setup(&conn(
            SslMode::VerifyCa,
            Some(RootCerts::File(truncated)),
        )));
        assert!(m.contains("PEM"), "{m}");
    }

    #[test]
    fn a_root_file_may_hold_several_certificates() {
        let pki = Pki::new("test CA");
        let other = Pki::new("other CA");
        let both = pki.write("both.pem", &format!("{}\n{}", pki.ca.pem(), other.ca.pem()));
        let s = setup(&conn(SslMode::VerifyFull, Some(RootCerts::File(both))))
            .unwrap()
            .unwrap();
        assert_eq!(s.verification, Verification::ChainAndName);
    }

    #[test]
    fn client_certificate_files_are_checked() {
        let pki = Pki::new("test CA");
        let (_, cert_pem, key_pem) = pki.leaf("app");
        let cert = pki.write("client.crt", &cert_pem);
        let key = pki.write("client.key", &key_pem);

        let mut c = conn(SslMode::VerifyFull, Some(RootCerts::File(pki.ca_file())));
        c.sslcert = Some(cert.clone());
        c.sslkey = Some(key.clone());
        assert!(setup(&c).unwrap().is_some());

        c.sslkey = None;
        let m = config_message(setup(&c));
        assert!(m.contains("sslkey") && m.contains(&cert.display().to_string()));

        c.sslkey = Some(pki.write("garbage.key", "not a key"));
        let m = config_message(setup(&c));
        assert!(
            m.contains("garbage.key") && m.contains("private key"),
            "{m}"
        );

        let (_, _, other_key) = pki.leaf("other");
        c.sslkey = Some(pki.write("other.key", &other_key));
        let m = config_message(setup(&c));
        assert!(m.contains("cannot be used together"), "{m}");

        c.sslcert = Some(pki.dir.path().join("missing.crt"));
        let m = config_message(setup(&c));
        assert!(
            m.contains("missing.crt") && m.contains("cannot read"),
            "{m}"
        );
    }

    fn webpki(pki: &Pki) -> Arc<WebPkiServerVerifier> {
        let mut roots = RootCertStore::empty();
        roots.add(pki.ca.der().clone()).unwrap();
        WebPkiServerVerifier::builder_with_provider(
            Arc::new(roots),
            Arc::new(rustls::crypto::ring::default_provider()),
        )
        .build()
        .unwrap()
    }

    fn verify(
        v: &dyn ServerCertVerifier,
        cert: &CertificateDer<'_>,
        host: &str,
    ) -> Result<(), rustls::Error> {
        let name = ServerName::try_from(host.to_string()).unwrap();
        v.verify_server_cert(cert, &[], &name, &[], UnixTime::now())
            .map(|_| ())
    }

    #[test]
    fn verify_ca_ignores_the_name_but_not_the_chain() {
        let pki = Pki::new("test CA");
        let stranger = Pki::new("stranger CA");
        let (other_host, _, _) = pki.leaf("other.example");
        let (foreign, _, _) = stranger.leaf("localhost");

        let full = webpki(&pki);
        let ca_only = ChainOnly {
            inner: full.clone(),
        };
        assert!(matches!(
            verify(full.as_ref(), &other_host, "localhost"),
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. }
            ))
        ));
        assert!(verify(&ca_only, &other_host, "localhost").is_ok());
        assert!(matches!(
            verify(&ca_only, &foreign, "localhost"),
            Err(rustls::Error::InvalidCertificate(
                CertificateError::UnknownIssuer
            ))
        ));
        assert!(verify(full.as_ref(), &pki.leaf("localhost").0, "localhost").is_ok());
    }
}
