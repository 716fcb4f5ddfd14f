//! TLS for the modem's links and the embedded broker's TLS listener, with rustls (ring).
//!
//! The dialects describe what a module asks for in dialect-neutral [`TlsOptions`] (the PEM bytes
//! it holds, how much it verifies, the name it expects); [`client_config`] turns them into a
//! rustls configuration when the link opens. Everything that comes from the host (certificates
//! written over the UART) is parsed here and every failure is a [`TlsError`], which the link
//! reports as a failed connect: the modem never panics on a bad certificate.

pub mod pki;

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, ServerConfig, SignatureScheme};

/// How much of the server a client checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Verify {
    /// Nothing: any certificate is accepted (the handshake's signatures are still checked).
    #[default]
    None,
    /// The chain against the configured CA and the name against [`TlsOptions::server_name`].
    Peer,
}

/// A TLS protocol version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum TlsVersion {
    Tls12,
    Tls13,
}

/// What a module asks of one TLS link, independent of the AT dialect that configured it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsOptions {
    /// PEM bytes of the CA certificate(s) the server's chain must lead to (with [`Verify::Peer`]).
    pub ca_pem: Option<Vec<u8>>,
    /// PEM bytes of the client certificate (chain) presented when the server asks for one.
    pub client_cert_pem: Option<Vec<u8>>,
    /// PEM bytes of the client certificate's private key (PKCS#1, PKCS#8 or SEC1).
    pub client_key_pem: Option<Vec<u8>>,
    pub verify: Verify,
    /// The name sent as SNI and checked against the server certificate: a DNS name or an IP.
    pub server_name: String,
    /// The lowest and highest protocol versions offered.
    pub versions: (TlsVersion, TlsVersion),
}

impl TlsOptions {
    /// No verification, TLS 1.2 and 1.3, nothing presented: the least a client can ask.
    pub fn insecure(server_name: impl Into<String>) -> Self {
        TlsOptions {
            ca_pem: None,
            client_cert_pem: None,
            client_key_pem: None,
            verify: Verify::None,
            server_name: server_name.into(),
            versions: (TlsVersion::Tls12, TlsVersion::Tls13),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("the {what} is not valid PEM: {detail}")]
    BadPem { what: &'static str, detail: String },
    #[error("the {what} holds no certificate")]
    NoCertificate { what: &'static str },
    #[error("the {what} holds no private key")]
    NoKey { what: &'static str },
    #[error("verification needs a CA certificate, and none is configured")]
    NoCa,
    #[error("a client certificate needs its key (and the key its certificate)")]
    HalfClientIdentity,
    #[error("`{0}` is neither a DNS name nor an IP address")]
    BadServerName(String),
    #[error("no TLS version between {0:?} and {1:?}")]
    NoVersion(TlsVersion, TlsVersion),
    #[error(transparent)]
    Rustls(#[from] rustls::Error),
    #[error("{0}")]
    Verifier(String),
}

/// The crypto provider everything here uses: ring, passed explicitly so nothing depends on a
/// process-wide default being installed.
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Installs ring as the process default for code that asks rustls for it (rumqttc clients in
/// tests, for instance). Idempotent.
pub fn install_default_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Every certificate in `pem`, in order.
pub fn parse_certs(
    pem: &[u8],
    what: &'static str,
) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::BadPem {
            what,
            detail: e.to_string(),
        })?;
    if certs.is_empty() {
        return Err(TlsError::NoCertificate { what });
    }
    Ok(certs)
}

/// The first private key in `pem`.
pub fn parse_key(pem: &[u8], what: &'static str) -> Result<PrivateKeyDer<'static>, TlsError> {
    PrivateKeyDer::from_pem_slice(pem).map_err(|e| match e {
        rustls::pki_types::pem::Error::NoItemsFound => TlsError::NoKey { what },
        e => TlsError::BadPem {
            what,
            detail: e.to_string(),
        },
    })
}

fn roots(pem: &[u8], what: &'static str) -> Result<RootCertStore, TlsError> {
    let mut roots = RootCertStore::empty();
    for cert in parse_certs(pem, what)? {
        roots.add(cert)?;
    }
    Ok(roots)
}

fn versions(
    (lo, hi): (TlsVersion, TlsVersion),
) -> Result<Vec<&'static rustls::SupportedProtocolVersion>, TlsError> {
    let all = [
        (TlsVersion::Tls12, &rustls::version::TLS12),
        (TlsVersion::Tls13, &rustls::version::TLS13),
    ];
    let v: Vec<_> = all
        .iter()
        .filter(|(t, _)| (lo..=hi).contains(t))
        .map(|(_, v)| *v)
        .collect();
    if v.is_empty() {
        return Err(TlsError::NoVersion(lo, hi));
    }
    Ok(v)
}

/// The name to send and verify, as rustls wants it.
pub fn server_name(name: &str) -> Result<ServerName<'static>, TlsError> {
    ServerName::try_from(name.to_string()).map_err(|_| TlsError::BadServerName(name.to_string()))
}

/// The rustls client configuration for `opts`.
pub fn client_config(opts: &TlsOptions) -> Result<ClientConfig, TlsError> {
    let provider = provider();
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&versions(opts.versions)?)?;
    let builder = match opts.verify {
        Verify::None => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnyServer(provider))),
        Verify::Peer => {
            let ca = opts.ca_pem.as_deref().ok_or(TlsError::NoCa)?;
            builder.with_root_certificates(roots(ca, "CA certificate")?)
        }
    };
    let config = match (&opts.client_cert_pem, &opts.client_key_pem) {
        (Some(cert), Some(key)) => builder.with_client_auth_cert(
            parse_certs(cert, "client certificate")?,
            parse_key(key, "client key")?,
        )?,
        (None, None) => builder.with_no_client_auth(),
        _ => return Err(TlsError::HalfClientIdentity),
    };
    Ok(config)
}

/// The rustls server configuration of a TLS listener: its certificate chain and key, and, for
/// mutual TLS, the CA whose client certificates it requires.
pub fn server_config(
    cert_pem: &[u8],
    key_pem: &[u8],
    require_client_ca: Option<&[u8]>,
) -> Result<ServerConfig, TlsError> {
    let provider = provider();
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(rustls::ALL_VERSIONS)?;
    let builder = match require_client_ca {
        None => builder.with_no_client_auth(),
        Some(ca) => {
            let verifier = WebPkiClientVerifier::builder_with_provider(
                Arc::new(roots(ca, "client CA certificate")?),
                provider,
            )
            .build()
            .map_err(|e| TlsError::Verifier(e.to_string()))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    Ok(builder.with_single_cert(
        parse_certs(cert_pem, "server certificate")?,
        parse_key(key_pem, "server key")?,
    )?)
}

/// The handshake-signature checks of a [`ServerCertVerifier`] whose `.0` is its
/// [`CryptoProvider`]: each method calls the `rustls::crypto` function of its name with the
/// provider's algorithms.
macro_rules! signature_checks {
    ($($check:ident),*) => {$(
        fn $check(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            $check(message, cert, dss, &self.0.signature_verification_algorithms)
        }
    )*};
}

/// `seclevel 0`: any server certificate will do. The handshake signatures are still verified,
/// so the peer must hold the key of the certificate it shows.
#[derive(Debug)]
struct AcceptAnyServer(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAnyServer {
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

    signature_checks!(verify_tls12_signature, verify_tls13_signature);

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests;
