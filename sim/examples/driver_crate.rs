//! What "CI for a driver crate without hardware" looks like: a small Air780E MQTT driver, as
//! a driver crate would have it, tested against the simulator in process. The simulator and its
//! embedded broker run on the test's own tokio runtime, the UART is one end of
//! [`tokio::io::duplex`], and time is **paused**: the 60 s keepalive expiry below takes
//! milliseconds of real time, and no test waits on the machine's clock.
//!
//! `cargo test -p modem-sim --example driver_crate` runs the tests; `cargo run -p modem-sim
//! --example driver_crate` runs the demo in `main`. Copy the pattern into your crate's tests
//! with `modem-sim` as a dev-dependency.

use std::time::Duration;

use modem_sim::{fault, SimConfig, Simulator};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// The driver under test: writes commands the way drivers do (`\r\n`), reads lines, waits for
/// URCs with a timeout. Generic over the UART, as a driver crate's should be.
pub struct Air780e<S> {
    uart: S,
    pending: Vec<u8>,
}

#[derive(Debug)]
pub enum DriverError {
    Timeout(&'static str),
    Error(String),
    Io(std::io::Error),
}

impl<S: AsyncRead + AsyncWrite + Unpin> Air780e<S> {
    pub fn new(uart: S) -> Self {
        Air780e {
            uart,
            pending: Vec::new(),
        }
    }

    /// The next line the module prints (empty lines skipped), within `within`.
    pub async fn line(
        &mut self,
        within: Duration,
        what: &'static str,
    ) -> Result<String, DriverError> {
        let read = async {
            loop {
                if let Some(end) = self.pending.windows(2).position(|w| w == b"\r\n") {
                    let line: Vec<u8> = self.pending.drain(..end + 2).collect();
                    let line = String::from_utf8_lossy(&line[..end]).into_owned();
                    if !line.is_empty() {
                        return Ok(line);
                    }
                    continue;
                }
                let mut buf = [0u8; 512];
                match self.uart.read(&mut buf).await {
                    Ok(0) => return Err(DriverError::Error("UART closed".into())),
                    Ok(n) => self.pending.extend_from_slice(&buf[..n]),
                    Err(e) => return Err(DriverError::Io(e)),
                }
            }
        };
        tokio::time::timeout(within, read)
            .await
            .map_err(|_| DriverError::Timeout(what))?
    }

    /// Waits for a line starting with `prefix`, skipping others (URCs, echoes).
    pub async fn wait_for(
        &mut self,
        prefix: &'static str,
        within: Duration,
    ) -> Result<String, DriverError> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let line = self.line(left, prefix).await?;
            if line.starts_with(prefix) {
                return Ok(line);
            }
        }
    }

    /// Sends a command and waits for `OK` (an `ERROR`/`+CME ERROR` is an error).
    pub async fn at(&mut self, cmd: &str) -> Result<(), DriverError> {
        self.uart
            .write_all(format!("{cmd}\r\n").as_bytes())
            .await
            .map_err(DriverError::Io)?;
        loop {
            let line = self.line(Duration::from_secs(10), "OK").await?;
            if line == "OK" {
                return Ok(());
            }
            if line.contains("ERROR") {
                return Err(DriverError::Error(line));
            }
        }
    }

    /// Seed 000 section 6.2's connect: account, TCP, MQTT with `keepalive` seconds.
    pub async fn connect(&mut self, client_id: &str, keepalive: u16) -> Result<(), DriverError> {
        self.at(&format!(
            "AT+MCONFIG={client_id},root,luat123456,0,0,\"will/{client_id}\",\"gone\""
        ))
        .await?;
        self.at("AT+MIPSTART=\"airtest.openluat.com\",\"1883\"")
            .await?;
        let tcp = self.wait_for("CONNECT", Duration::from_secs(75)).await?;
        if tcp != "CONNECT OK" {
            return Err(DriverError::Error(tcp));
        }
        self.at(&format!("AT+MCONNECT=1,{keepalive}")).await?;
        self.wait_for("CONNACK OK", Duration::from_secs(30)).await?;
        Ok(())
    }

    pub async fn publish(&mut self, topic: &str, payload: &str) -> Result<(), DriverError> {
        self.at(&format!("AT+MPUB=\"{topic}\",0,0,\"{payload}\""))
            .await
    }
}

/// A simulated Air780E with its embedded broker, on this runtime, and the driver on the other
/// end of its UART.
async fn simulated() -> (Simulator, Air780e<tokio::io::DuplexStream>) {
    let (host, module) = tokio::io::duplex(1 << 16);
    let sim = Simulator::start_on(SimConfig::default(), module)
        .await
        .expect("the simulator starts");
    (sim, Air780e::new(host))
}

/// A client of the embedded broker, subscribed to `topic`, with its event loop polled.
async fn watch(
    sim: &Simulator,
    topic: &str,
) -> tokio::sync::mpsc::UnboundedReceiver<(String, Vec<u8>)> {
    let addr = sim.mqtt_addr().expect("the embedded broker");
    let mut opts = rumqttc::MqttOptions::new("watcher", addr.ip().to_string(), addr.port());
    opts.set_credentials("root", "luat123456");
    opts.set_keep_alive(Duration::from_secs(600));
    let (client, mut events) = rumqttc::AsyncClient::new(opts, 10);
    client
        .subscribe(topic, rumqttc::QoS::AtMostOnce)
        .await
        .expect("subscribe");
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let (subscribed, suback) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        let _client = client;
        let mut subscribed = Some(subscribed);
        while let Ok(ev) = events.poll().await {
            match ev {
                rumqttc::Event::Incoming(rumqttc::Packet::SubAck(_)) => {
                    if let Some(s) = subscribed.take() {
                        let _ = s.send(());
                    }
                }
                rumqttc::Event::Incoming(rumqttc::Packet::Publish(p)) => {
                    let _ = tx.send((p.topic.clone(), p.payload.to_vec()));
                }
                _ => {}
            }
        }
    });
    suback.await.expect("SUBACK");
    rx
}

/// The demo: connect, publish (seen at the broker), then the peer closes the link.
fn main() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .expect("a runtime");
    rt.block_on(async {
        let (sim, mut modem) = simulated().await;
        let mut seen = watch(&sim, "demo/#").await;
        modem.connect("demo", 60).await.expect("connect");
        modem.publish("demo/up", "hello").await.expect("publish");
        let (topic, payload) = seen.recv().await.expect("the broker got it");
        println!(
            "the broker got {topic}: {}",
            String::from_utf8_lossy(&payload)
        );
        sim.inject(fault::Closed).await.expect("inject");
        let line = modem
            .wait_for("CLOSED", Duration::from_secs(10))
            .await
            .expect("CLOSED");
        println!("the peer closed the link; the driver saw {line}");
        sim.shutdown().await;
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_publish_reaches_the_broker() {
        let (sim, mut modem) = simulated().await;
        let mut seen = watch(&sim, "sensors/#").await;
        modem.connect("dev1", 60).await.unwrap();
        modem.publish("sensors/t", "21.5").await.unwrap();
        let (topic, payload) = seen.recv().await.unwrap();
        assert_eq!((topic.as_str(), &payload[..]), ("sensors/t", &b"21.5"[..]));
        sim.shutdown().await;
    }

    /// The link goes silent (`blackhole`): the module's 60 s keepalive gets no PINGRESP, so
    /// the driver sees `CLOSED` (about 2 x keepalive), and the broker, hearing nothing for
    /// 1.5 x keepalive, publishes the will. Minutes of virtual time, milliseconds of real.
    #[tokio::test(start_paused = true)]
    async fn a_silent_link_expires_the_60_s_keepalive() {
        let (sim, mut modem) = simulated().await;
        let mut wills = watch(&sim, "will/#").await;
        modem.connect("dev2", 60).await.unwrap();
        let start = tokio::time::Instant::now();
        sim.inject(fault::Blackhole).await.unwrap();
        modem
            .wait_for("CLOSED", Duration::from_secs(300))
            .await
            .expect("the module gives up on its keepalive");
        let closed_after = start.elapsed();
        assert!(
            closed_after >= Duration::from_secs(60) && closed_after <= Duration::from_secs(180),
            "CLOSED after {closed_after:?} of virtual time"
        );
        let (topic, payload) = tokio::time::timeout(Duration::from_secs(300), wills.recv())
            .await
            .expect("the broker publishes the will")
            .unwrap();
        assert_eq!((topic.as_str(), &payload[..]), ("will/dev2", &b"gone"[..]));
        // After it: the driver reconnects (a new link is not blackholed).
        modem.at("AT+MIPCLOSE").await.ok();
        modem
            .connect("dev2", 60)
            .await
            .expect("the driver reconnects");
        sim.shutdown().await;
    }

    /// With registration lost the module answers `MIPSTART` with `CONNECT FAIL`; once it is
    /// back the driver connects.
    #[tokio::test(start_paused = true)]
    async fn a_lost_registration_fails_the_connect() {
        let (sim, mut modem) = simulated().await;
        sim.inject(fault::Deregister).await.unwrap();
        let err = modem.connect("dev3", 60).await.unwrap_err();
        assert!(
            matches!(&err, DriverError::Error(e) if e == "CONNECT FAIL"),
            "{err:?}"
        );
        sim.inject(fault::Register).await.unwrap();
        modem
            .connect("dev3", 60)
            .await
            .expect("back on the network");
        sim.shutdown().await;
    }
}
