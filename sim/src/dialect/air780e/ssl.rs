//! `AT+SSLCFG`: the SSL contexts. `AT+SSLMIPSTART` uses context 88 (seed 000 sections 6.3 and
//! 6.4; notes section 2); `AT+CIPSTART` after `AT+CIPSSL=1` uses 0 with one link and the link
//! number with several; FTP uses 34 and HTTP 153 (luatos-doc-pool
//! `Command_List/TCPIP/SSLCFG.md`, `<n>`: "0~5,34,88,153").
//!
//! The settings name files written with `AT+FSWRITE`; the files are read when the link opens,
//! so a certificate rewritten after `AT+SSLCFG` is the one used, and a missing or broken file
//! shows up as `CONNECT FAIL` then, never as a panic.

use std::collections::BTreeMap;

use crate::at::{Arg, Form};
use crate::dialect::params::args_or_syntax;
use crate::dialect::Out;
use crate::net::{TlsOptions, TlsVersion, Verify};

use super::fs::Fs;

/// The context the MQTT commands use (seed 000 sections 6.3/6.4).
pub const CONTEXT: u32 = 88;

/// The context ids SSLCFG.md lists: 0-5 (TCP links), 34 (FTP), 88 (MQTT), 153 (HTTP).
fn valid_context(n: u32) -> bool {
    matches!(n, 0..=5 | 34 | 88 | 153)
}

/// One context's settings.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct Context {
    cacert: Option<String>,
    clientcert: Option<String>,
    clientkey: Option<String>,
    /// 0: no verification, 1: the server (seed 000 section 6.3, "只对服务器认证"), 2: both ways
    /// (section 6.4, "双向认证").
    seclevel: u8,
    hostname: Option<String>,
    /// The page's other keys (sslversion, ciphersuite, ignorelocaltime, negotiatetimeout,
    /// clientrandom, premaster, verifymode): remembered and printed back, no effect on the
    /// handshake (rustls offers TLS 1.2 with its own suites: fixtures/DIVERGENCES.md A18).
    other: BTreeMap<&'static str, String>,
}

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Ssl {
    contexts: BTreeMap<u32, Context>,
}

/// The text settings, by key.
fn text_key(key: &str) -> bool {
    matches!(key, "cacert" | "clientcert" | "clientkey" | "hostname")
}

/// The keys SSLCFG.md lists besides the files, the level and the host name, with a check of
/// their value.
type Check = fn(&str) -> bool;

const OTHER_KEYS: &[(&str, Check)] = &[
    ("sslversion", |v| matches!(v, "0" | "1" | "2" | "3" | "4")),
    ("ciphersuite", |v| {
        let h = v
            .strip_prefix("0X")
            .or_else(|| v.strip_prefix("0x"))
            .unwrap_or(v);
        !h.is_empty() && h.len() <= 4 && h.bytes().all(|b| b.is_ascii_hexdigit())
    }),
    ("ignorelocaltime", |v| matches!(v, "0" | "1")),
    ("negotiatetimeout", |v| {
        v.parse::<u32>().is_ok_and(|n| (10..=300).contains(&n))
    }),
    ("clientrandom", |v| {
        matches!(v.len(), 56 | 64) && v.bytes().all(|b| b.is_ascii_hexdigit())
    }),
    ("premaster", |v| !v.is_empty() && v.len() <= 255),
    ("verifymode", |v| matches!(v, "0" | "1")),
];

impl Context {
    fn slot(&mut self, key: &str) -> Option<&mut Option<String>> {
        match key {
            "cacert" => Some(&mut self.cacert),
            "clientcert" => Some(&mut self.clientcert),
            "clientkey" => Some(&mut self.clientkey),
            "hostname" => Some(&mut self.hostname),
            _ => None,
        }
    }

    /// `AT+SSLCFG="<key>",<n>[,<value>]` on context `n`: `value` `None` queries, empty erases,
    /// else sets (see [`Ssl::sslcfg`] for the sources).
    fn configure(&mut self, n: u32, key: &str, value: Option<&Arg>, out: &mut Out) {
        let c = self;
        match (key, value) {
            ("seclevel", None) => {
                out.line(format!("+SSLCFG: \"seclevel\",{n},{}", c.seclevel));
                out.ok()
            }
            ("seclevel", Some(v)) if v.is_empty() => {
                c.seclevel = 0;
                out.ok()
            }
            ("seclevel", Some(v)) => match v.number().filter(|l| *l <= 2) {
                Some(l) => {
                    c.seclevel = l as u8;
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
                        out.line(format!("+SSLCFG: \"{k}\",{n},\"{v}\""));
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
            (k, value) => {
                let Some(&(name, valid)) = OTHER_KEYS.iter().find(|(name, _)| *name == k) else {
                    return out.error();
                };
                match value {
                    None => {
                        let v = c.other.get(name).cloned().unwrap_or_default();
                        out.line(format!("+SSLCFG: \"{name}\",{n},{v}"));
                        out.ok()
                    }
                    Some(v) if v.is_empty() => {
                        c.other.remove(name);
                        out.ok()
                    }
                    Some(v) if valid(&v.text()) => {
                        c.other.insert(name, v.text());
                        out.ok()
                    }
                    Some(_) => out.error(),
                }
            }
        }
    }
}

impl Ssl {
    /// `AT+SSLCFG="<key>",<n>,<value>` sets (seed 000 sections 6.3/6.4: `"cacert",88,"ca.crt"`,
    /// `"seclevel",88,1`; 使用方法举例.md: `"cacert",0,"ca.crt"`, `"ciphersuite",0,0X0035`);
    /// `AT+SSLCFG="<key>",<n>` queries, answering `+SSLCFG: "<key>",<n>,<value>`;
    /// `AT+SSLCFG="<key>",<n>,` (trailing comma) erases (SSLCFG.md: "<n>后一定要有逗号").
    /// Keys: cacert, clientcert, clientkey (file names), seclevel (0..2), hostname (the name
    /// the server certificate must carry, instead of the host in the connect command), and the
    /// page's others, remembered only. `<n>`: 0-5, 34, 88, 153 (SSLCFG.md).
    pub fn sslcfg(&mut self, form: &Form, out: &mut Out) {
        let Some(args) = args_or_syntax(
            form,
            out,
            &[
                "+SSLCFG: \"cacert\",(0-88),<file>",
                "+SSLCFG: \"clientcert\",(0-88),<file>",
                "+SSLCFG: \"clientkey\",(0-88),<file>",
                "+SSLCFG: \"seclevel\",(0-88),(0-2)",
                "+SSLCFG: \"hostname\",(0-88),<name>",
            ],
        ) else {
            return;
        };
        let (Some(key), Some(ctx)) = (args.first(), args.get(1)) else {
            return out.error();
        };
        let key = key.text().to_ascii_lowercase();
        let Some(n) = ctx.number().filter(|n| valid_context(*n)) else {
            return out.error();
        };
        if args.len() > 3 {
            return out.error();
        }
        self.contexts
            .entry(n)
            .or_default()
            .configure(n, &key, args.get(2), out)
    }

    /// What `AT+SSLMIPSTART=<host>,...` asks of the link (context 88).
    pub fn tls_options(&self, fs: &Fs, host: &str) -> TlsOptions {
        self.tls_options_ctx(CONTEXT, fs, host)
    }

    /// What a connect on context `ctx` asks of the link. The module speaks TLS 1.2 at most
    /// (its suites are TLS 1.2 ones, seed 000 FAQ 7), so the link offers TLS 1.2 only.
    pub fn tls_options_ctx(&self, ctx: u32, fs: &Fs, host: &str) -> TlsOptions {
        let none = Context::default();
        let c = self.contexts.get(&ctx).unwrap_or(&none);
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
