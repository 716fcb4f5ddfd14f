//! The embedded echo service: a TCP listener that sends back every byte it reads, and a UDP
//! socket that sends back every datagram to where it came from (RFC 862's echo, on any port).
//! A raw socket the host opens to a name nobody routed lands here, so a driver's socket code
//! can be tried without a server.

use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::task::JoinHandle;
use tracing::{debug, info};

/// The most the echo holds per TCP connection: it reads at most this, then writes it all back
/// before reading more, so a client that never reads stalls itself, not the service's memory.
const CHUNK: usize = 16 * 1024;

/// A running echo service; it stops when dropped.
#[derive(Debug)]
pub struct EchoService {
    tcp: SocketAddr,
    udp: SocketAddr,
    tasks: Vec<JoinHandle<()>>,
}

impl EchoService {
    /// Listens for TCP and binds UDP on `bind`'s address (port 0: any free ports; a fixed port
    /// is used for both).
    pub async fn start(bind: SocketAddr) -> std::io::Result<EchoService> {
        let listener = TcpListener::bind(bind).await?;
        let tcp = listener.local_addr()?;
        let sock = UdpSocket::bind(bind).await?;
        let udp = sock.local_addr()?;
        info!(%tcp, %udp, "echo service listening");
        let tasks = vec![
            tokio::spawn(accept(listener)),
            tokio::spawn(echo_datagrams(sock)),
        ];
        Ok(EchoService { tcp, udp, tasks })
    }

    pub fn tcp_addr(&self) -> SocketAddr {
        self.tcp
    }

    pub fn udp_addr(&self) -> SocketAddr {
        self.udp
    }
}

impl Drop for EchoService {
    fn drop(&mut self) {
        self.tasks.iter().for_each(JoinHandle::abort);
    }
}

async fn accept(listener: TcpListener) {
    let mut conns = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    debug!(%peer, "echo: TCP connection");
                    conns.spawn(echo_stream(stream));
                }
                Err(e) => {
                    debug!(error = %e, "echo: accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
            },
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
}

async fn echo_stream(mut stream: TcpStream) {
    let mut buf = vec![0u8; CHUNK];
    loop {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                if stream.write_all(&buf[..n]).await.is_err() {
                    return;
                }
            }
        }
    }
}

async fn echo_datagrams(sock: UdpSocket) {
    let mut buf = vec![0u8; 65536];
    loop {
        match sock.recv_from(&mut buf).await {
            Ok((n, from)) => {
                let _ = sock.send_to(&buf[..n], from).await;
            }
            // An ICMP error about an earlier reply: nothing to do.
            Err(e) => debug!(error = %e, "echo: UDP receive error"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn echoes_tcp_bytes_and_udp_datagrams() {
        let echo = EchoService::start("127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        let mut c = TcpStream::connect(echo.tcp_addr()).await.unwrap();
        let data: Vec<u8> = (0..=255u8).cycle().take(40_000).collect();
        let (mut rd, mut wr) = c.split();
        let (_, got) = tokio::join!(wr.write_all(&data), async {
            let mut got = vec![0u8; data.len()];
            rd.read_exact(&mut got).await.unwrap();
            got
        });
        assert_eq!(got, data);

        let u = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        u.send_to(b"\x00dgram\xff", echo.udp_addr()).await.unwrap();
        let mut b = [0u8; 64];
        let (n, from) = u.recv_from(&mut b).await.unwrap();
        assert_eq!((&b[..n], from), (&b"\x00dgram\xff"[..], echo.udp_addr()));
    }
}
