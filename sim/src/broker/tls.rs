//! The broker's TLS listener: rustls in front of [`Broker::serve`]. One-way or mutual TLS is
//! the [`rustls::ServerConfig`]'s business (see [`crate::tls::server_config`]).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tracing::info;

use super::{accept_until, Broker, Inner};

/// A client that opens TCP and never finishes its handshake is dropped after this long.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

impl Broker {
    /// Binds a TLS listener whose sessions join this broker; returns its address. It stops
    /// with the broker, and starts again with it on [`restart`](Broker::restart).
    pub async fn start_tls(
        &self,
        bind: SocketAddr,
        config: rustls::ServerConfig,
    ) -> std::io::Result<SocketAddr> {
        let config = Arc::new(config);
        let addr = listen(&self.inner(), bind, config.clone()).await?;
        *self.shared.tls.lock().expect("tls lock") = Some((addr, config));
        Ok(addr)
    }
}

/// Binds `bind` and serves TLS sessions into the run `inner` until it stops.
pub(super) async fn listen(
    inner: &Arc<Inner>,
    bind: SocketAddr,
    config: Arc<rustls::ServerConfig>,
) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind(bind).await?;
    let addr = listener.local_addr()?;
    let acceptor = TlsAcceptor::from(config);
    let shutdown = inner.shutdown.subscribe();
    let guard = inner.task_guard.lock().expect("guard lock").clone();
    let inner = inner.clone();
    info!(%addr, "MQTT over TLS listening");
    tokio::spawn(async move {
        let _guard = guard;
        accept_until(listener, shutdown, "TLS", |stream, peer| {
            let acceptor = acceptor.clone();
            let inner = inner.clone();
            tokio::spawn(async move {
                match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                    Ok(Ok(tls)) => inner.serve(tls, format!("tls:{peer}")),
                    Ok(Err(e)) => info!(%peer, error = %e, "TLS handshake refused"),
                    Err(_) => info!(%peer, "TLS handshake timed out"),
                }
            });
        })
        .await;
        info!(%addr, "MQTT over TLS listener closed");
    });
    Ok(addr)
}
