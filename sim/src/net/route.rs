//! Where a host named in `AT+MIPSTART` really goes. Tests talk only to loopback, so nothing
//! named in a vendor log (`airtest.openluat.com`) is ever looked up in DNS.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

/// A `HOST:PORT` pair.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HostPort {
    pub host: String,
    pub port: u16,
}

impl fmt::Display for HostPort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

impl FromStr for HostPort {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (host, port) = s
            .rsplit_once(':')
            .ok_or_else(|| format!("`{s}` is not HOST:PORT (for example 127.0.0.1:1883)"))?;
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() {
            return Err(format!(
                "`{s}` has no host (write HOST:PORT, for example 127.0.0.1:1883)"
            ));
        }
        let port = port
            .parse::<u16>()
            .ok()
            .filter(|p| *p != 0)
            .ok_or_else(|| format!("`{port}` in `{s}` is not a port number from 1 to 65535"))?;
        Ok(HostPort {
            host: host.to_string(),
            port,
        })
    }
}

impl HostPort {
    /// Parses `mqtt://HOST:PORT` (or a bare `HOST:PORT`), as `--broker` takes it.
    pub fn from_mqtt_url(url: &str) -> Result<Self, String> {
        let rest = match url.split_once("://") {
            Some(("mqtt" | "tcp", rest)) => rest,
            Some((scheme, _)) => {
                return Err(format!(
                    "unsupported scheme `{scheme}://` in `{url}`: use mqtt://HOST:PORT"
                ));
            }
            None => url,
        };
        rest.trim_end_matches('/').parse()
    }

    /// Parses `mqtts://HOST:PORT` (or a bare `HOST:PORT`), as `--tls-broker` takes it.
    pub fn from_mqtts_url(url: &str) -> Result<Self, String> {
        let rest = match url.split_once("://") {
            Some(("mqtts" | "ssl" | "tls", rest)) => rest,
            Some((scheme, _)) => {
                return Err(format!(
                    "unsupported scheme `{scheme}://` in `{url}`: use mqtts://HOST:PORT"
                ));
            }
            None => url,
        };
        rest.trim_end_matches('/').parse()
    }
}

/// The routing table: per-name overrides first (`--resolve`), then the one broker that takes
/// every plain connection (`--broker`, or the embedded broker) or every TLS connection
/// (`--tls-broker`, or the embedded broker's TLS listener).
#[derive(Debug, Clone, Default)]
pub struct Router {
    pub resolve: HashMap<String, HostPort>,
    pub default_plain: Option<HostPort>,
    pub default_tls: Option<HostPort>,
    /// `--direct`: a socket or HTTP connection to a name not in `--resolve` goes to the host
    /// and port the AT command names (DNS for names). Off by default, so that tests and vendor
    /// logs stay on loopback.
    pub direct: bool,
    /// Where raw TCP sockets go by default: the embedded TCP echo service.
    pub default_tcp: Option<HostPort>,
    /// Where raw UDP sockets go by default: the embedded UDP echo service.
    pub default_udp: Option<HostPort>,
    /// The embedded HTTP test server (plain and TLS listeners): where an HTTP request goes
    /// when `--resolve` does not name its host and `direct` is off.
    pub default_http: Option<HostPort>,
    pub default_https: Option<HostPort>,
}

impl Router {
    /// Where a connection to `host` (as named in the AT command) goes; `tls` picks the TLS
    /// default. The port in the AT command does not matter: every plain connection goes to the
    /// one plain broker, every TLS connection to the TLS one.
    pub fn route(&self, host: &str, tls: bool) -> Option<HostPort> {
        if let Some(to) = self.resolve.get(&host.to_ascii_lowercase()) {
            return Some(to.clone());
        }
        if tls {
            self.default_tls.clone()
        } else {
            self.default_plain.clone()
        }
    }
}

impl Router {
    /// Where a socket or HTTP connection to `host:port` (as named in the AT command) goes:
    /// `--resolve` wins (by name, or by the very address and port a name resolves to, which
    /// `AT+CDNSGIP` answers), then with `--direct` the host and port as named, then `default`
    /// (an embedded service). `None`: nowhere (the connect fails).
    pub fn route_service(
        &self,
        host: &str,
        port: u16,
        default: Option<&HostPort>,
    ) -> Option<HostPort> {
        if let Some(to) = self.resolve.get(&host.to_ascii_lowercase()) {
            return Some(to.clone());
        }
        if let Some(to) = self
            .resolve
            .values()
            .find(|t| t.host == host && t.port == port)
        {
            return Some(to.clone());
        }
        if self.direct {
            return Some(HostPort {
                host: host.to_string(),
                port,
            });
        }
        default.cloned()
    }

    /// The host a DNS lookup of `name` answers with (`AT+CDNSGIP`), the way sockets are
    /// routed: `--resolve`'s target, an address as itself, the name itself under `--direct`
    /// (for the system's DNS), else the embedded TCP echo service's address (where a socket to
    /// the name goes). `None`: a name nothing routes.
    pub fn lookup(&self, name: &str) -> Option<String> {
        if let Some(to) = self.resolve.get(&name.to_ascii_lowercase()) {
            return Some(to.host.clone());
        }
        if self.direct || name.parse::<std::net::IpAddr>().is_ok() {
            return Some(name.to_string());
        }
        self.default_tcp.as_ref().map(|t| t.host.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn services_resolve_then_direct_then_default() {
        let echo: HostPort = "127.0.0.1:7000".parse().unwrap();
        let mut r = Router::default();
        assert_eq!(r.route_service("60.166.18.9", 7500, None), None);
        assert_eq!(
            r.route_service("60.166.18.9", 7500, Some(&echo)),
            Some(echo.clone())
        );
        r.direct = true;
        assert_eq!(
            r.route_service("60.166.18.9", 7500, Some(&echo)).unwrap(),
            "60.166.18.9:7500".parse().unwrap()
        );
        r.resolve
            .insert("tcplab.openluat.com".into(), "127.0.0.1:9".parse().unwrap());
        assert_eq!(
            r.route_service("TCPLAB.openluat.com", 57513, Some(&echo))
                .unwrap()
                .port,
            9
        );
    }

    #[test]
    fn lookup_answers_where_a_socket_to_the_name_goes() {
        let mut r = Router::default();
        assert_eq!(r.lookup("nowhere.example"), None);
        assert_eq!(r.lookup("10.1.2.3").as_deref(), Some("10.1.2.3"));
        r.default_tcp = Some("127.0.0.2:7000".parse().unwrap());
        assert_eq!(r.lookup("nowhere.example").as_deref(), Some("127.0.0.2"));
        let lab: HostPort = "127.0.0.3:9000".parse().unwrap();
        r.resolve.insert("tcplab.openluat.com".into(), lab.clone());
        assert_eq!(
            r.lookup("TCPLAB.openluat.com").as_deref(),
            Some("127.0.0.3")
        );
        // A connection to the answered address and port reaches the resolved target, not the
        // echo service; another port on it does not.
        assert_eq!(r.route_service("127.0.0.3", 9000, None), Some(lab));
        assert_eq!(r.route_service("127.0.0.3", 9001, None), None);
        r.direct = true;
        assert_eq!(r.lookup("example.com").as_deref(), Some("example.com"));
    }

    #[test]
    fn resolve_beats_the_default_broker() {
        let mut r = Router {
            default_plain: Some("127.0.0.1:1000".parse().unwrap()),
            ..Default::default()
        };
        r.resolve.insert(
            "airtest.openluat.com".into(),
            "127.0.0.1:2000".parse().unwrap(),
        );
        assert_eq!(r.route("AIRTEST.openluat.com", false).unwrap().port, 2000);
        assert_eq!(r.route("lbsmqtt.airm2m.com", false).unwrap().port, 1000);
        // TLS has its own default, and --resolve still wins.
        assert_eq!(r.route("lbsmqtt.airm2m.com", true), None);
        r.default_tls = Some("127.0.0.1:3000".parse().unwrap());
        assert_eq!(r.route("lbsmqtt.airm2m.com", true).unwrap().port, 3000);
        assert_eq!(r.route("airtest.openluat.com", true).unwrap().port, 2000);
        assert!(HostPort::from_mqtts_url("mqtts://127.0.0.1:8883").is_ok());
        assert!(HostPort::from_mqtts_url("mqtt://127.0.0.1:8883").is_err());
    }

    #[test]
    fn urls() {
        assert_eq!(
            HostPort::from_mqtt_url("mqtt://127.0.0.1:1883")
                .unwrap()
                .port,
            1883
        );
        assert_eq!(HostPort::from_mqtt_url("[::1]:1883").unwrap().host, "::1");
        assert!(HostPort::from_mqtt_url("http://x:1").is_err());
        assert!(HostPort::from_mqtt_url("mqtt://x").is_err());
        assert!(HostPort::from_mqtt_url("mqtt://x:0").is_err());
    }
}
