//! Broker-side MQTT clients (the "PC tool" of the guides, mqttx in seed 000) and an external
//! Mosquitto broker.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use bytes::Bytes;
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// A publish a client received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    pub topic: String,
    pub payload: Bytes,
    pub qos: QoS,
    pub retain: bool,
}

/// Acknowledgements the event loop saw, so steps wait for them instead of sleeping.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Ack {
    Conn,
    Sub,
    Pub,
    PubComp,
    Failed(String),
}

/// A connected client whose event loop runs in its own task.
pub struct MqttClient {
    pub client: AsyncClient,
    messages: mpsc::UnboundedReceiver<Received>,
    acks: mpsc::UnboundedReceiver<Ack>,
    /// Received messages skipped over while looking for another one, kept for later steps.
    seen: Vec<Received>,
    task: JoinHandle<()>,
}

impl std::fmt::Debug for MqttClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MqttClient")
            .field("seen", &self.seen)
            .finish()
    }
}

impl Drop for MqttClient {
    fn drop(&mut self) {
        self.task.abort();
    }
}

pub fn qos(n: u8) -> Result<QoS> {
    match n {
        0 => Ok(QoS::AtMostOnce),
        1 => Ok(QoS::AtLeastOnce),
        2 => Ok(QoS::ExactlyOnce),
        _ => bail!("QoS {n} does not exist (0, 1 or 2)"),
    }
}

impl MqttClient {
    /// Connects and waits for CONNACK.
    pub async fn connect(
        id: &str,
        broker: SocketAddr,
        user: &str,
        password: &str,
        timeout: Duration,
    ) -> Result<Self> {
        let mut opts = MqttOptions::new(id, broker.ip().to_string(), broker.port());
        opts.set_credentials(user, password);
        opts.set_keep_alive(Duration::from_secs(30));
        opts.set_clean_session(true);
        let (client, mut eventloop) = AsyncClient::new(opts, 64);
        let (msg_tx, messages) = mpsc::unbounded_channel();
        let (ack_tx, acks) = mpsc::unbounded_channel();
        let task = tokio::spawn(async move {
            loop {
                match eventloop.poll().await {
                    Ok(Event::Incoming(Packet::Publish(p))) => {
                        let _ = msg_tx.send(Received {
                            topic: p.topic,
                            payload: p.payload,
                            qos: p.qos,
                            retain: p.retain,
                        });
                    }
                    Ok(Event::Incoming(Packet::ConnAck(_))) => {
                        let _ = ack_tx.send(Ack::Conn);
                    }
                    Ok(Event::Incoming(Packet::SubAck(_))) => {
                        let _ = ack_tx.send(Ack::Sub);
                    }
                    Ok(Event::Incoming(Packet::PubAck(_))) => {
                        let _ = ack_tx.send(Ack::Pub);
                    }
                    Ok(Event::Incoming(Packet::PubComp(_))) => {
                        let _ = ack_tx.send(Ack::PubComp);
                    }
                    Ok(_) => {}
                    Err(e) => {
                        // A broken link ends the client: a test that needs it fails with this
                        // reason instead of silently reconnecting.
                        let _ = ack_tx.send(Ack::Failed(e.to_string()));
                        return;
                    }
                }
            }
        });
        let mut c = MqttClient {
            client,
            messages,
            acks,
            seen: Vec::new(),
            task,
        };
        c.wait_ack(Ack::Conn, timeout)
            .await
            .with_context(|| format!("MQTT client {id} connecting to {broker}"))?;
        Ok(c)
    }

    async fn wait_ack(&mut self, want: Ack, timeout: Duration) -> Result<()> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            match tokio::time::timeout_at(deadline, self.acks.recv()).await {
                Err(_) => bail!("no {want:?} within {timeout:?}"),
                Ok(None) => bail!("the client's event loop ended before {want:?}"),
                Ok(Some(Ack::Failed(e))) => bail!("the client's connection failed: {e}"),
                Ok(Some(a)) if a == want => return Ok(()),
                Ok(Some(_)) => continue,
            }
        }
    }

    /// Subscribes and waits for SUBACK, so nothing published afterwards can be missed.
    pub async fn subscribe(&mut self, filter: &str, q: QoS, timeout: Duration) -> Result<()> {
        self.client.subscribe(filter, q).await?;
        self.wait_ack(Ack::Sub, timeout)
            .await
            .with_context(|| format!("subscribing to {filter}"))
    }

    /// Publishes and, for QoS 1 and 2, waits for the broker's PUBACK/PUBCOMP.
    pub async fn publish(
        &mut self,
        topic: &str,
        q: QoS,
        retain: bool,
        payload: Vec<u8>,
        timeout: Duration,
    ) -> Result<()> {
        self.client.publish(topic, q, retain, payload).await?;
        match q {
            QoS::AtMostOnce => Ok(()),
            QoS::AtLeastOnce => self.wait_ack(Ack::Pub, timeout).await,
            QoS::ExactlyOnce => self.wait_ack(Ack::PubComp, timeout).await,
        }
        .with_context(|| format!("publishing to {topic}"))
    }

    /// The payloads received on `topic` and not yet taken by [`MqttClient::receive`].
    pub fn seen_on(&self, topic: &str) -> Vec<Vec<u8>> {
        self.seen
            .iter()
            .filter(|r| r.topic == topic)
            .map(|r| r.payload.to_vec())
            .collect()
    }

    /// Waits for a message on `topic` with `payload`; other messages are kept for later.
    pub async fn receive(
        &mut self,
        topic: &str,
        payload: &[u8],
        timeout: Duration,
    ) -> Result<Received> {
        let matches = |r: &Received| r.topic == topic && r.payload[..] == *payload;
        if let Some(i) = self.seen.iter().position(matches) {
            return Ok(self.seen.remove(i));
        }
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            match tokio::time::timeout_at(deadline, self.messages.recv()).await {
                Ok(Some(r)) if matches(&r) => return Ok(r),
                Ok(Some(r)) => self.seen.push(r),
                Ok(None) | Err(_) => {
                    let others: Vec<String> = self
                        .seen
                        .iter()
                        .map(|r| {
                            format!(
                                "{:?} on {:?} (QoS {:?}, retain {})",
                                crate::device::show(&r.payload),
                                r.topic,
                                r.qos,
                                r.retain
                            )
                        })
                        .collect();
                    return Err(anyhow!(
                        "expected {:?} on {topic:?} within {timeout:?}; received instead: {}",
                        crate::device::show(payload),
                        if others.is_empty() {
                            "nothing".to_string()
                        } else {
                            others.join(", ")
                        }
                    ));
                }
            }
        }
    }
}

/// A Mosquitto broker on a free loopback port, with a password file. Killed on drop.
pub struct Mosquitto {
    pub addr: SocketAddr,
    /// The TLS listener, when started with [`Mosquitto::start_with`].
    pub tls_addr: Option<SocketAddr>,
    child: tokio::process::Child,
    _dir: tempfile::TempDir,
}

/// A TLS listener for Mosquitto: its certificate, key, and the CA (which client certificates
/// must chain to under `require_client_cert`).
#[derive(Debug, Clone)]
pub struct MosquittoTls {
    pub ca_pem: String,
    pub cert_pem: String,
    pub key_pem: String,
    pub require_client_cert: bool,
}

impl std::fmt::Debug for Mosquitto {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mosquitto")
            .field("addr", &self.addr)
            .finish()
    }
}

impl Mosquitto {
    /// Starts `mosquitto` with `listener <port> 127.0.0.1`, `allow_anonymous false` and a
    /// password file holding `accounts`; returns once it logs that it is running.
    pub async fn start(accounts: &[(String, String)], timeout: Duration) -> Result<Mosquitto> {
        Self::start_with(accounts, timeout, None).await
    }

    /// As [`Mosquitto::start`], plus a second listener speaking TLS with `tls`'s certificates
    /// (its address in [`Mosquitto::tls_addr`]).
    pub async fn start_with(
        accounts: &[(String, String)],
        timeout: Duration,
        tls: Option<&MosquittoTls>,
    ) -> Result<Mosquitto> {
        let dir = tempfile::tempdir()?;
        let passwd: PathBuf = dir.path().join("passwd");
        write_passwords(&passwd, accounts).await?;
        let port = free_port()?;
        let conf = dir.path().join("mosquitto.conf");
        let mut text = format!(
            "listener {port} 127.0.0.1\nallow_anonymous false\npassword_file {}\npersistence false\nlog_dest stderr\nlog_type error\nlog_type warning\nlog_type notice\nlog_type information\n",
            passwd.display()
        );
        let mut tls_addr = None;
        if let Some(tls) = tls {
            let (listener, addr) = tls_listener(dir.path(), tls)?;
            text += &listener;
            tls_addr = Some(addr);
        }
        std::fs::write(&conf, text)?;
        // Running as root, mosquitto drops to the `mosquitto` user, which cannot read our
        // private temp dir; let it read the two files.
        let _ = std::fs::set_permissions(
            dir.path(),
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        );
        let _ =
            std::fs::set_permissions(&passwd, std::os::unix::fs::PermissionsExt::from_mode(0o644));
        let child = run_mosquitto(&conf, port, timeout).await?;
        Ok(Mosquitto {
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            tls_addr,
            child,
            _dir: dir,
        })
    }
}

/// A password file holding `accounts`, written by `mosquitto_passwd`.
async fn write_passwords(passwd: &std::path::Path, accounts: &[(String, String)]) -> Result<()> {
    for (i, (user, password)) in accounts.iter().enumerate() {
        let mut cmd = tokio::process::Command::new("mosquitto_passwd");
        cmd.arg("-b");
        if i == 0 {
            cmd.arg("-c");
        }
        let out = cmd
            .arg(passwd)
            .arg(user)
            .arg(password)
            .output()
            .await
            .context(
            "running mosquitto_passwd (install it: apt-get install -y mosquitto mosquitto-clients)",
        )?;
        if !out.status.success() {
            bail!(
                "mosquitto_passwd failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
    Ok(())
}

/// A free port: bind port 0, read it, release it. Another process could take it in between;
/// the startup check in [`run_mosquitto`] would then fail loudly.
fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// The configuration lines of a TLS listener with `tls`'s files (written into `dir`), and its
/// address.
fn tls_listener(dir: &std::path::Path, tls: &MosquittoTls) -> Result<(String, SocketAddr)> {
    let tls_port = free_port()?;
    let mut paths = Vec::new();
    for (name, pem) in [
        ("ca.crt", &tls.ca_pem),
        ("server.crt", &tls.cert_pem),
        ("server.key", &tls.key_pem),
    ] {
        let path = dir.join(name);
        std::fs::write(&path, pem)?;
        // Readable by the `mosquitto` user it drops to (test-only keys).
        let _ =
            std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o644));
        paths.push(path);
    }
    let text = format!(
        "listener {tls_port} 127.0.0.1\ncafile {}\ncertfile {}\nkeyfile {}\nrequire_certificate {}\n",
        paths[0].display(),
        paths[1].display(),
        paths[2].display(),
        tls.require_client_cert
    );
    Ok((text, SocketAddr::from(([127, 0, 0, 1], tls_port))))
}

/// Starts `mosquitto -c conf` and returns once it logs that it is running; its log is drained
/// after that so the pipe never fills and blocks it.
async fn run_mosquitto(
    conf: &std::path::Path,
    port: u16,
    timeout: Duration,
) -> Result<tokio::process::Child> {
    let mut child = tokio::process::Command::new("mosquitto")
        .arg("-c")
        .arg(conf)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .context(
            "starting mosquitto (install it: apt-get install -y mosquitto mosquitto-clients)",
        )?;
    let stderr = child.stderr.take().context("mosquitto stderr")?;
    let mut lines = BufReader::new(stderr).lines();
    let mut log = Vec::new();
    let ready = tokio::time::timeout(timeout, async {
        while let Ok(Some(line)) = lines.next_line().await {
            let running = line.contains(" running");
            log.push(line);
            if running {
                return true;
            }
        }
        false
    })
    .await;
    if ready != Ok(true) {
        let _ = child.start_kill();
        bail!(
            "mosquitto did not start on port {port}; it said:\n{}",
            log.join("\n")
        );
    }
    tokio::spawn(async move {
        while let Ok(Some(line)) = lines.next_line().await {
            tracing::debug!(target: "mosquitto", "{line}");
        }
    });
    Ok(child)
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}
