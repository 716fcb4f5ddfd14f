//! `AT+SSLCFG`: the SSL context `AT+SSLMIPSTART` uses (context 88, seed 000 sections 6.3 and
//! 6.4; notes section 2).
//!
//! The settings name files written with `AT+FSWRITE`; the files are read when the link opens,
//! so a certificate rewritten after `AT+SSLCFG` is the one used, and a missing or broken file
//! shows up as `CONNECT FAIL` then, never as a panic.

use crate::at::{Arg, Form};
use crate::dialect::Out;
use crate::net::{TlsOptions, TlsVersion, Verify};

use super::fs::Fs;
use super::set_args;

/// The context the MQTT commands use (seed 000 sections 6.3/6.4).
pub const CONTEXT: u32 = 88;

/// The contexts `AT+SSLCFG` takes: 88 for MQTT, 153 for HTTPS (luatos-doc-pool
/// Command_List/HTTP/使用方法举例.md: "在HTTPS链接下为153").
pub const CONTEXTS: [u32; 2] = [CONTEXT, super::http::SSL_CONTEXT];

/// Every context's settings.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Ssl {
    contexts: std::collections::BTreeMap<u32, Ctx>,
}

/// One context's settings.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct Ctx {
    cacert: Option<String>,
    clientcert: Option<String>,
    clientkey: Option<String>,
    /// 0: no verification, 1: the server (seed 000 section 6.3, "只对服务器认证"), 2: both ways
    /// (section 6.4, "双向认证").
    seclevel: u8,
    hostname: Option<String>,
}

/// The text settings, by key.
fn text_key(key: &str) -> bool {
    matches!(key, "cacert" | "clientcert" | "clientkey" | "hostname")
}

impl Ctx {
    fn slot(&mut self, key: &str) -> Option<&mut Option<String>> {
        match key {
            "cacert" => Some(&mut self.cacert),
            "clientcert" => Some(&mut self.clientcert),
            "clientkey" => Some(&mut self.clientkey),
            "hostname" => Some(&mut self.hostname),
            _ => None,
        }
    }
}

impl Ssl {
    /// `AT+SSLCFG="<key>",88,<value>` sets (seed 000 sections 6.3/6.4: `"cacert",88,"ca.crt"`,
    /// `"seclevel",88,1`); `AT+SSLCFG="<key>",88` queries, answering
    /// `+SSLCFG: "<key>",88,<value>`; `AT+SSLCFG="<key>",88,` (trailing comma) erases. Keys:
    /// cacert, clientcert, clientkey (file names), seclevel (0..2), hostname (the name the
    /// server certificate must carry, instead of the host in `AT+SSLMIPSTART`). The query and
    /// erase forms are not in the seeds; their shape follows the family's other `<key>,<ctx>`
    /// commands (fixtures/DIVERGENCES.md).
    pub fn sslcfg(&mut self, form: &Form, out: &mut Out) {
        if *form == Form::Test {
            out.line("+SSLCFG: \"cacert\",(0-88),<file>");
            out.line("+SSLCFG: \"clientcert\",(0-88),<file>");
            out.line("+SSLCFG: \"clientkey\",(0-88),<file>");
            out.line("+SSLCFG: \"seclevel\",(0-88),(0-2)");
            out.line("+SSLCFG: \"hostname\",(0-88),<name>");
            return out.ok();
        }
        let Some(args) = set_args(form) else {
            return out.error();
        };
        let (Some(key), Some(ctx)) = (args.first(), args.get(1)) else {
            return out.error();
        };
        let key = key.text().to_ascii_lowercase();
        let Some(ctx) = ctx.number().filter(|c| CONTEXTS.contains(c)) else {
            return out.error();
        };
        if args.len() > 3 {
            return out.error();
        }
        let c = self.contexts.entry(ctx).or_default();
        match (key.as_str(), args.get(2)) {
            ("seclevel", None) => {
                out.line(format!("+SSLCFG: \"seclevel\",{ctx},{}", c.seclevel));
                out.ok()
            }
            ("seclevel", Some(v)) if v.is_empty() => {
                c.seclevel = 0;
                out.ok()
            }
            ("seclevel", Some(v)) => match v.number().filter(|n| *n <= 2) {
                Some(n) => {
                    c.seclevel = n as u8;
                    out.ok()
                }
                None => out.error(),
            },
            (k, value) if text_key(k) => {
                let Some(slot) = c.slot(k) else {
                    return out.error();
                };
                match value {
                    None => {
                        let v = slot.clone().unwrap_or_default();
                        out.line(format!("+SSLCFG: \"{k}\",{ctx},\"{v}\""));
                        out.ok()
                    }
                    Some(v) if v.is_empty() => {
                        *slot = None;
                        out.ok()
                    }
                    Some(v) => match valid_value(v) {
                        Some(v) => {
                            *slot = Some(v);
                            out.ok()
                        }
                        None => out.error(),
                    },
                }
            }
            _ => out.error(),
        }
    }

    /// What `AT+SSLMIPSTART=<host>,...` asks of the link. The module speaks TLS 1.2 at most
    /// (its suites are TLS 1.2 ones, seed 000 FAQ 7), so the link offers TLS 1.2 only.
    pub fn tls_options(&self, fs: &Fs, host: &str) -> TlsOptions {
        self.tls_options_of(CONTEXT, fs, host)
    }

    /// What a link configured by context `ctx` asks for (153: HTTPS).
    pub fn tls_options_of(&self, ctx: u32, fs: &Fs, host: &str) -> TlsOptions {
        let c = self.contexts.get(&ctx).cloned().unwrap_or_default();
        let file =
            |name: &Option<String>| name.as_deref().and_then(|n| fs.read(n)).map(<[u8]>::to_vec);
        let mutual = c.seclevel == 2;
        TlsOptions {
            ca_pem: file(&c.cacert),
            client_cert_pem: if mutual { file(&c.clientcert) } else { None },
            client_key_pem: if mutual { file(&c.clientkey) } else { None },
            verify: if c.seclevel >= 1 {
                Verify::Peer
            } else {
                Verify::None
            },
            server_name: c.hostname.clone().unwrap_or_else(|| host.to_string()),
            versions: (TlsVersion::Tls12, TlsVersion::Tls12),
        }
    }
}

fn valid_value(v: &Arg) -> Option<String> {
    let t = v.text();
    (!t.is_empty() && t.len() <= 255).then_some(t)
}
