//! A fleet: N simulated modems in one process, each with its own PTY, engine and MQTT sessions,
//! all sharing one broker (the first modem's embedded one, or `--broker`). This is what a backend
//! team load-tests an IoT platform with: many devices speaking the real dialect, one process.

use std::path::{Path, PathBuf};

use crate::net::HostPort;
use crate::sim::{ReadyInfo, SimConfig, SimError, Simulator};
use crate::uart::Serial;

/// The most modems one fleet on PTYs may have: Linux allows 4096 PTYs by default
/// (`/proc/sys/kernel/pty/max`), shared with every terminal on the machine.
pub const MAX_COUNT: usize = 4000;

/// The most modems one fleet over TCP (`--serial tcp-listen://...`) may have: one port each
/// above the first, so at most the ports there are; memory and descriptors bound it first.
pub const MAX_TCP_COUNT: usize = 60_000;

#[derive(Debug, thiserror::Error)]
pub enum FleetError {
    #[error("{}{source}", if *.count > 1 { format!("modem {index} of {count}: ") } else { String::new() })]
    Modem {
        index: usize,
        count: usize,
        source: SimError,
    },
    #[error("--imei {0} is not a number, so distinct IMEIs cannot be derived from it for a fleet")]
    Imei(String),
    #[error("--serial: {0}")]
    Serial(String),
    #[error("--count {0}: at most {MAX_COUNT} modems on PTYs (/proc/sys/kernel/pty/max); use --serial tcp-listen://HOST:PORT for more")]
    TooManyPtys(usize),
}

/// N running simulators. Modem 0 owns the embedded broker (when there is one); the others send
/// every plain and TLS connection to it.
pub struct Fleet {
    sims: Vec<Simulator>,
}

/// Modem `index`'s IMEI: the base plus `index`, same width, so every modem (and the L610's
/// default client id, which is the IMEI) is distinct.
pub fn imei_for(base: &str, index: usize) -> Result<String, FleetError> {
    if index == 0 {
        return Ok(base.to_string());
    }
    let n: u64 = base
        .parse()
        .map_err(|_| FleetError::Imei(base.to_string()))?;
    let width = base.len();
    Ok(format!("{:0width$}", n + index as u64))
}

/// Modem `index`'s `--link`: `PATH-index` in a fleet, `PATH` itself for a single modem.
pub fn link_for(base: &Path, index: usize, count: usize) -> PathBuf {
    if count == 1 {
        return base.to_path_buf();
    }
    let mut s = base.as_os_str().to_os_string();
    s.push(format!("-{index}"));
    PathBuf::from(s)
}

impl Fleet {
    /// Starts `count` modems from `cfg` (its `link` and IMEI are derived per modem, see
    /// [`link_for`] and [`imei_for`]). A failure stops the ones already started.
    pub async fn start(cfg: SimConfig, count: usize) -> Result<Fleet, FleetError> {
        let count = count.max(1);
        let serials = (0..count)
            .map(|i| cfg.serial.for_index(i))
            .collect::<Result<Vec<_>, _>>()
            .map_err(FleetError::Serial)?;
        Self::start_each(cfg, serials).await
    }

    /// Starts one modem per endpoint in `serials`, modem i on `serials[i]`, as [`start`](Self::start)
    /// does otherwise.
    pub async fn start_each(cfg: SimConfig, serials: Vec<Serial>) -> Result<Fleet, FleetError> {
        let count = serials.len().max(1);
        let ptys = serials.iter().filter(|s| **s == Serial::Pty).count();
        if ptys > MAX_COUNT {
            return Err(FleetError::TooManyPtys(ptys));
        }
        // Checked before anything starts, so a bad --imei leaves nothing half started.
        let imeis = (0..count)
            .map(|i| imei_for(&cfg.identity.imei, i))
            .collect::<Result<Vec<_>, _>>()?;
        let mut sims: Vec<Simulator> = Vec::with_capacity(count);
        for (index, imei) in imeis.into_iter().enumerate() {
            let mut c = cfg.clone();
            c.link = cfg.link.as_deref().map(|l| link_for(l, index, count));
            // Each modem has its own control socket, named like the links (PATH-0..N-1).
            c.control = cfg.control.as_deref().map(|p| link_for(p, index, count));
            c.identity.imei = imei;
            // Each modem draws its own delays, repeatably.
            c.seed = cfg.seed.wrapping_add(index as u64);
            if let Some(s) = serials.get(index) {
                c.serial = s.clone();
            }
            if let Some(first) = sims.first() {
                // Share modem 0's embedded broker (plain and TLS), or the --broker it uses.
                if let Some(a) = first.mqtt_addr() {
                    c.broker = Some(HostPort {
                        host: a.ip().to_string(),
                        port: a.port(),
                    });
                }
                // ... and its echo service.
                if let (Some(t), Some(u)) = (first.tcp_echo_addr(), first.udp_echo_addr()) {
                    let hp = |a: std::net::SocketAddr| HostPort {
                        host: a.ip().to_string(),
                        port: a.port(),
                    };
                    c.echo = Some((hp(t), hp(u)));
                }
                if let (None, Some(a)) = (&cfg.tls_broker, first.mqtts_addr()) {
                    c.tls_broker = Some(HostPort {
                        host: a.ip().to_string(),
                        port: a.port(),
                    });
                }
            }
            match Simulator::start(c).await {
                Ok(s) => sims.push(s),
                Err(source) => {
                    Fleet { sims }.shutdown().await;
                    return Err(FleetError::Modem {
                        index,
                        count,
                        source,
                    });
                }
            }
        }
        Ok(Fleet { sims })
    }

    pub fn len(&self) -> usize {
        self.sims.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sims.is_empty()
    }

    pub fn modems(&self) -> &[Simulator] {
        &self.sims
    }

    /// Modem 0's ready info (its `mqtt`/`mqtts` are the shared broker's). The `--ready-file`
    /// adds `ttys` and `links` for the whole fleet.
    pub fn ready_info(&self) -> Option<ReadyInfo> {
        self.sims.first().map(Simulator::ready_info)
    }

    pub fn ttys(&self) -> Vec<String> {
        self.sims
            .iter()
            .map(|s| s.tty().display().to_string())
            .collect()
    }

    /// Every modem's UART endpoint (`pty` or the TCP endpoint with its port).
    pub fn serials(&self) -> Vec<String> {
        self.sims.iter().map(|s| s.serial().to_string()).collect()
    }

    pub fn links(&self) -> Vec<String> {
        self.sims
            .iter()
            .filter_map(|s| s.link().map(|l| l.display().to_string()))
            .collect()
    }

    /// Stops every modem (their links are removed), modem 0 (the broker's owner) last.
    pub async fn shutdown(mut self) {
        while let Some(s) = self.sims.pop() {
            s.shutdown().await;
        }
    }
}

/// Raises the soft open-files limit to the hard one: each modem holds a PTY pair (or a listener
/// and its host's connection) and its sessions' sockets (both ends when the broker is
/// embedded), about 5 descriptors, so 1000
/// modems need more than the usual soft limit of 1024. Raised to the kernel's ceiling where
/// we may. Returns the new soft limit.
pub fn raise_nofile_limit() -> Result<u64, nix::Error> {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE)?;
    // With CAP_SYS_RESOURCE (root) the hard limit itself can go up to the kernel's
    // /proc/sys/fs/nr_open: a 10,000-modem fleet over TCP needs about 50,000.
    let ceiling = std::fs::read_to_string("/proc/sys/fs/nr_open")
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok())
        .unwrap_or(hard);
    if ceiling > hard && setrlimit(Resource::RLIMIT_NOFILE, ceiling, ceiling).is_ok() {
        return Ok(ceiling);
    }
    if soft < hard {
        setrlimit(Resource::RLIMIT_NOFILE, hard, hard)?;
    }
    Ok(hard.max(soft))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn imeis_are_distinct_and_keep_their_width() {
        assert_eq!(imei_for("868488076771714", 0).unwrap(), "868488076771714");
        assert_eq!(imei_for("868488076771714", 7).unwrap(), "868488076771721");
        assert_eq!(imei_for("000000000000001", 1).unwrap(), "000000000000002");
        assert!(imei_for("abc", 1).is_err());
        assert_eq!(imei_for("abc", 0).unwrap(), "abc");
    }

    #[test]
    fn links_get_an_index_only_in_a_fleet() {
        let p = Path::new("/tmp/ttyM");
        assert_eq!(link_for(p, 0, 1), PathBuf::from("/tmp/ttyM"));
        assert_eq!(link_for(p, 0, 3), PathBuf::from("/tmp/ttyM-0"));
        assert_eq!(link_for(p, 2, 3), PathBuf::from("/tmp/ttyM-2"));
    }

    /// Two modems in one process share modem 0's embedded broker: the second has no broker of
    /// its own, and both have their own PTY.
    #[tokio::test]
    async fn a_fleet_shares_one_broker() {
        let fleet = Fleet::start(SimConfig::default(), 3).await.unwrap();
        assert_eq!(fleet.len(), 3);
        assert!(fleet.modems()[0].mqtt_addr().is_some());
        assert!(fleet.modems()[1].mqtt_addr().is_none());
        let ttys = fleet.ttys();
        assert_eq!(ttys.len(), 3);
        assert_ne!(ttys[0], ttys[1]);
        assert_ne!(ttys[1], ttys[2]);
        fleet.shutdown().await;
    }
}
