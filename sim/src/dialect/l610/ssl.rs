//! `AT+GTSSL*`: the L610's TLS settings (seed 002 sections 3.2 and 3.3, the certificate part of
//! the log). A TLS `AT+MQTTOPEN` turns them into dialect-neutral [`TlsOptions`] for the same
//! rustls link the Air780E's `AT+SSLMIPSTART` uses.

use crate::at::Form;
use crate::dialect::params::number_setting;
use crate::dialect::Out;

use super::{num_in, set_args};
use crate::tls::{TlsOptions, TlsVersion, Verify};

/// `AT+GTSSLERR?` codes. No source gives the module's numbering, so these are ours
/// (fixtures/DIVERGENCES.md): 0 none; the rest name what failed.
pub mod err {
    pub const NONE: i32 = 0;
    /// The server's certificate was not accepted (unknown CA, wrong name, expired).
    pub const SERVER_CERT: i32 = 1;
    /// `AT+GTSSLVER` asks for SSL 3.0, TLS 1.0 or TLS 1.1, which the simulator cannot speak.
    pub const VERSION: i32 = 2;
    /// A file loaded with `AT+GTSSLFILE` is not a usable certificate or key.
    pub const BAD_FILE: i32 = 3;
    /// `AT+GTSSLMODE=1` without a `TRUSTFILE` to verify against.
    pub const NO_TRUST: i32 = 4;
    /// Any other handshake failure (the server refused our certificate, closed, timed out).
    pub const HANDSHAKE: i32 = 5;
}

/// Largest file `AT+GTSSLFILE` takes. The guide loads 1220, 1679 and 1758 bytes; no source
/// gives the limit, so it is generous for a chain in PEM (fixtures/DIVERGENCES.md).
pub const SSL_FILE_MAX: u32 = 8192;

/// Which file an `AT+GTSSLFILE` loads. In the guide's naming (seed 002 section 3.3 comments):
/// CAFILE is the client certificate, KEYFILE its key, TRUSTFILE the root CA.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    Ca,
    Key,
    Trust,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ssl {
    /// `AT+GTSSLVER`: 1 SSL 3.0, 2 TLS 1.0, 3 TLS 1.1, 4 TLS 1.2.
    version: u8,
    /// `AT+GTSSLMODE`: 1 verifies the server's certificate.
    verify: bool,
    client_cert: Option<Vec<u8>>,
    client_key: Option<Vec<u8>>,
    trust: Option<Vec<u8>>,
    /// `AT+GTSSLERR?`: the last TLS error, 0 for none.
    last_error: i32,
}

impl Default for Ssl {
    fn default() -> Self {
        Ssl {
            // Seed 002 section 3.3: the first `AT+GTSSLVER?` prints 2.
            version: 2,
            // No source shows the default; 0 lets the guide's log (which never sets it) reach a
            // server whatever its certificate (fixtures/DIVERGENCES.md).
            verify: false,
            client_cert: None,
            client_key: None,
            trust: None,
            last_error: 0,
        }
    }
}

impl Ssl {
    /// `AT+GTSSLVER?` -> `+GTSSLVER: <n>`; `AT+GTSSLVER=<1..4>` -> `OK` (seed 002 section 3.3:
    /// "1=SSL3.0; 2=TLS1.0; 3=TLS1.1; 4=TLS1.2").
    pub fn gtsslver(&mut self, form: &Form, out: &mut Out) {
        if let Some(v) = number_setting(form, out, "+GTSSLVER", 1..=4, self.version.into()) {
            self.version = v as u8;
        }
    }

    /// `AT+GTSSLMODE=<0|1>` -> `OK`: whether to verify the server's certificate (seed 002
    /// section 3.2, "设置是否需要验证服务端的证书"). Read form `+GTSSLMODE: <n>`.
    pub fn gtsslmode(&mut self, form: &Form, out: &mut Out) {
        if let Some(m) = number_setting(form, out, "+GTSSLMODE", 0..=1, self.verify.into()) {
            self.verify = m == 1;
        }
    }

    /// `AT+GTSSLERR?` -> `+GTSSLERR: <n>`, the last TLS error, 0 when none (seed 002 section
    /// 3.2, "获取 SSL 错误码"; the read form as drivers parse it, fixtures/DIVERGENCES.md).
    pub fn gtsslerr(&mut self, form: &Form, out: &mut Out) {
        match form {
            Form::Read | Form::Exec => {
                out.line(format!("+GTSSLERR: {}", self.last_error));
                out.ok()
            }
            Form::Test => out.ok(),
            Form::Set(_) => out.error(),
        }
    }

    /// `AT+GTSSLFILE="CAFILE"|"KEYFILE"|"TRUSTFILE",<len>` -> `>`, then exactly `<len>` raw
    /// bytes, then `OK` (seed 002 section 3.3, "加载客户端证书" / "加载客户端密钥" /
    /// "加载根 CA 证书"). Returns the file the prompted bytes are for. The prompt is abandoned
    /// with `ERROR` after 5 s without a byte (fixtures/DIVERGENCES.md A24).
    pub fn gtsslfile(&mut self, form: &Form, out: &mut Out) -> Option<FileKind> {
        // `AT+GTSSLFILE?`: each file and its length, 0 when not loaded (a public project's
        // record of a real L610 after power loss reads `GTSSLFILE: TRUSTFILE,0`;
        // fixtures/DIVERGENCES.md L21).
        if *form == Form::Read {
            let len = |f: &Option<Vec<u8>>| f.as_ref().map_or(0, Vec::len);
            out.line(format!("+GTSSLFILE: CAFILE,{}", len(&self.client_cert)));
            out.line(format!("+GTSSLFILE: KEYFILE,{}", len(&self.client_key)));
            out.line(format!("+GTSSLFILE: TRUSTFILE,{}", len(&self.trust)));
            out.ok();
            return None;
        }
        if *form == Form::Test {
            out.line("+GTSSLFILE: (\"CAFILE\",\"KEYFILE\",\"TRUSTFILE\"),(1-8192)");
            out.ok();
            return None;
        }
        let args = set_args(form);
        let Some([name, len]) = args.as_deref() else {
            out.error();
            return None;
        };
        let kind = match name.text().to_ascii_uppercase().as_str() {
            "CAFILE" => FileKind::Ca,
            "KEYFILE" => FileKind::Key,
            "TRUSTFILE" => FileKind::Trust,
            _ => {
                out.error();
                return None;
            }
        };
        let Some(len) = num_in(Some(len), 1..=SSL_FILE_MAX) else {
            out.error();
            return None;
        };
        out.raw(b"\r\n>");
        out.prompt(
            crate::dialect::Prompt::Exact(len as usize),
            super::mqtt::PROMPT_IDLE,
        );
        Some(kind)
    }

    /// The bytes of an `AT+GTSSLFILE`: stored as they came, `OK`.
    pub fn file_data(&mut self, kind: FileKind, data: Vec<u8>, out: &mut Out) {
        tracing::debug!(?kind, len = data.len(), "TLS file loaded");
        match kind {
            FileKind::Ca => self.client_cert = Some(data),
            FileKind::Key => self.client_key = Some(data),
            FileKind::Trust => self.trust = Some(data),
        }
        out.ok()
    }

    /// What a TLS `AT+MQTTOPEN` to `host` asks of the link, or the `AT+GTSSLERR` code when the
    /// settings cannot work. CAFILE and KEYFILE are presented when the server asks for a
    /// client certificate; TRUSTFILE verifies the server under `AT+GTSSLMODE=1`.
    pub fn options(&self, host: &str) -> Result<TlsOptions, i32> {
        if self.version != 4 {
            return Err(err::VERSION);
        }
        if self.verify && self.trust.is_none() {
            return Err(err::NO_TRUST);
        }
        Ok(TlsOptions {
            ca_pem: self.trust.clone(),
            client_cert_pem: self.client_cert.clone(),
            client_key_pem: self.client_key.clone(),
            verify: if self.verify {
                Verify::Peer
            } else {
                Verify::None
            },
            server_name: host.to_string(),
            versions: (TlsVersion::Tls12, TlsVersion::Tls12),
        })
    }

    /// [`Ssl::options`] for a link about to open (`link` names it in the log): when the
    /// settings cannot work, `None`, the code kept for `AT+GTSSLERR?`, and the caller answers
    /// that the link failed.
    pub fn open_options(&mut self, link: &str, host: &str) -> Option<TlsOptions> {
        match self.options(host) {
            Ok(options) => Some(options),
            Err(code) => {
                tracing::warn!(link, %host, code, settings = %self.summary(), "TLS settings cannot work");
                self.set_error(code);
                None
            }
        }
    }

    /// Records why the last TLS open failed (0 after a success).
    pub fn set_error(&mut self, code: i32) {
        self.last_error = code;
    }

    /// Classifies a failed TLS connect for `AT+GTSSLERR?`.
    pub fn error_for(reason: &str) -> i32 {
        let r = reason.to_ascii_lowercase();
        if r.contains("not valid pem") || r.contains("holds no") || r.contains("its key") {
            err::BAD_FILE
        } else if r.contains("invalid peer certificate") {
            // rustls' verdict on the server's chain or name (an alert *from* the server, such
            // as CertificateRequired, is a refused handshake instead).
            err::SERVER_CERT
        } else {
            err::HANDSHAKE
        }
    }

    /// A one-line summary for logs: which settings a TLS open would use.
    pub fn summary(&self) -> String {
        let len = |f: &Option<Vec<u8>>| f.as_ref().map_or(0, Vec::len);
        format!(
            "version {} verify {} client cert {} B, key {} B, trust {} B",
            self.version,
            u8::from(self.verify),
            len(&self.client_cert),
            len(&self.client_key),
            len(&self.trust)
        )
    }
}
