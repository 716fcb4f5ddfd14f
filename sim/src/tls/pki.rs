//! The test PKI: a CA, a server certificate for every host name the seeds connect to, and a
//! client certificate, made with rcgen. `modem-sim certs --out certs/` writes a fresh one;
//! the one committed in the repository's `certs/` is compiled in ([`Pki::embedded`]) so the
//! binary serves TLS from any directory. Test-only: the keys are public.

use std::path::{Path, PathBuf};

use rcgen::{
    date_time_ymd, BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose,
};

/// The names the server certificate is valid for: loopback, and the hosts of the seeds'
/// `AT+MIPSTART`/`AT+SSLMIPSTART` lines (seed 000, seed 001, seed 002), which the simulator
/// routes to its own listener.
pub const SERVER_NAMES: &[&str] = &[
    "localhost",
    "127.0.0.1",
    "airtest.openluat.com",
    "lbsmqtt.airm2m.com",
    "g510.mqtt.iot.bj.baidubce.com",
];

/// The committed certificates' validity: long enough that CI never sees them expire.
pub const NOT_BEFORE: (i32, u8, u8) = (2025, 1, 1);
pub const NOT_AFTER: (i32, u8, u8) = (2049, 12, 31);

/// One generated PKI, every item in PEM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pki {
    pub ca_cert: String,
    pub server_cert: String,
    pub server_key: String,
    pub client_cert: String,
    pub client_key: String,
}

/// What to put in the server certificate (tests make broken ones on purpose).
#[derive(Debug, Clone)]
pub struct PkiOptions {
    pub server_names: Vec<String>,
    /// Validity of the server certificate, as (year, month, day).
    pub server_validity: ((i32, u8, u8), (i32, u8, u8)),
    /// The CA's common name, so two generated PKIs are told apart in logs.
    pub ca_name: String,
}

impl Default for PkiOptions {
    fn default() -> Self {
        PkiOptions {
            server_names: SERVER_NAMES.iter().map(|s| s.to_string()).collect(),
            server_validity: (NOT_BEFORE, NOT_AFTER),
            ca_name: "modem-sim test CA".into(),
        }
    }
}

/// The file names `write` uses (the names seed 000 section 6.4 writes to the module).
pub const FILES: [&str; 5] = [
    "ca.crt",
    "server.crt",
    "server.key",
    "client.crt",
    "client.key",
];

impl Pki {
    /// A new PKI with fresh ECDSA P-256 keys.
    pub fn generate(opts: &PkiOptions) -> Result<Pki, rcgen::Error> {
        let mut ca = CertificateParams::new(Vec::<String>::new())?;
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.distinguished_name
            .push(DnType::CommonName, opts.ca_name.clone());
        ca.distinguished_name
            .push(DnType::OrganizationName, "modem-sim (test only)");
        ca.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        ca.not_before = date_time_ymd(NOT_BEFORE.0, NOT_BEFORE.1, NOT_BEFORE.2);
        ca.not_after = date_time_ymd(NOT_AFTER.0, NOT_AFTER.1, NOT_AFTER.2);
        let ca_key = KeyPair::generate()?;
        let ca_cert = ca.self_signed(&ca_key)?;
        let issuer = Issuer::new(ca, ca_key);

        let mut server = CertificateParams::new(opts.server_names.clone())?;
        server.distinguished_name.push(
            DnType::CommonName,
            opts.server_names.first().cloned().unwrap_or_default(),
        );
        server.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        server.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        server.use_authority_key_identifier_extension = true;
        let ((y0, m0, d0), (y1, m1, d1)) = opts.server_validity;
        server.not_before = date_time_ymd(y0, m0, d0);
        server.not_after = date_time_ymd(y1, m1, d1);
        let server_key = KeyPair::generate()?;
        let server_cert = server.signed_by(&server_key, &issuer)?;

        let mut client = CertificateParams::new(Vec::<String>::new())?;
        client
            .distinguished_name
            .push(DnType::CommonName, "868488076771714");
        client.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        client.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        client.use_authority_key_identifier_extension = true;
        client.not_before = date_time_ymd(NOT_BEFORE.0, NOT_BEFORE.1, NOT_BEFORE.2);
        client.not_after = date_time_ymd(NOT_AFTER.0, NOT_AFTER.1, NOT_AFTER.2);
        let client_key = KeyPair::generate()?;
        let client_cert = client.signed_by(&client_key, &issuer)?;

        Ok(Pki {
            ca_cert: ca_cert.pem(),
            server_cert: server_cert.pem(),
            server_key: server_key.serialize_pem(),
            client_cert: client_cert.pem(),
            client_key: client_key.serialize_pem(),
        })
    }

    /// The PKI committed in the repository's `certs/`, compiled in.
    pub fn embedded() -> Pki {
        Pki {
            ca_cert: include_str!("../../../certs/ca.crt").into(),
            server_cert: include_str!("../../../certs/server.crt").into(),
            server_key: include_str!("../../../certs/server.key").into(),
            client_cert: include_str!("../../../certs/client.crt").into(),
            client_key: include_str!("../../../certs/client.key").into(),
        }
    }

    /// Where the committed `certs/` directory is, if this binary runs where it was built.
    pub fn embedded_dir() -> Option<PathBuf> {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../certs");
        let dir = dir.canonicalize().ok()?;
        let on_disk = std::fs::read_to_string(dir.join("ca.crt")).ok()?;
        (on_disk == Pki::embedded().ca_cert).then_some(dir)
    }

    fn items(&self) -> [&str; 5] {
        [
            &self.ca_cert,
            &self.server_cert,
            &self.server_key,
            &self.client_cert,
            &self.client_key,
        ]
    }

    /// Writes the five files ([`FILES`]) into `dir` (created if missing); returns their paths.
    /// Errors name the file or directory that could not be written.
    pub fn write(&self, dir: &Path) -> std::io::Result<Vec<PathBuf>> {
        let named = |path: &Path, e: std::io::Error| {
            std::io::Error::new(e.kind(), format!("cannot write {}: {e}", path.display()))
        };
        std::fs::create_dir_all(dir).map_err(|e| named(dir, e))?;
        FILES
            .iter()
            .zip(self.items())
            .map(|(name, pem)| {
                let path = dir.join(name);
                std::fs::write(&path, pem).map_err(|e| named(&path, e))?;
                Ok(path)
            })
            .collect()
    }
}
