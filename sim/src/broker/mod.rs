//! Embedded MQTT 3.1.1 broker. Placeholder with the agreed API; the real one lands from the
//! `broker` branch.
use std::net::SocketAddr;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct BrokerConfig {
    pub bind: SocketAddr,
    pub accounts: Vec<(String, String)>,
    pub allow_anonymous: bool,
    pub connect_timeout: Option<Duration>,
    pub max_packet_size: usize,
}

impl Default for BrokerConfig {
    fn default() -> Self {
        BrokerConfig {
            bind: ([127, 0, 0, 1], 0).into(),
            accounts: vec![("root".into(), "luat123456".into())],
            allow_anonymous: false,
            connect_timeout: Some(Duration::from_secs(10)),
            max_packet_size: 1 << 20,
        }
    }
}

#[derive(Clone)]
pub struct Broker {
    addr: SocketAddr,
}

impl Broker {
    pub async fn start(cfg: BrokerConfig) -> std::io::Result<Broker> {
        Ok(Broker { addr: cfg.bind })
    }
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }
    pub fn kick_client(&self, _id: &str) -> bool {
        false
    }
    pub fn set_connect_timeout(&self, _t: Option<Duration>) {}
    pub async fn shutdown(self) {}
}
