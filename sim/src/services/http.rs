//! The embedded HTTP test server: what an `AT+HTTPACTION` reaches when the user names no
//! server of their own (hyper 1.x, HTTP/1.1, a plain and a TLS listener).
//!
//! Routes (any method unless said):
//! - `/` : a short text listing the routes.
//! - `/echo` : 200; the body is the request as received: request line, header lines (names
//!   lower case, as hyper keeps them), an empty line, then the request body byte for byte.
//! - `/status/<code>` : that status (100..=599 excluding 1xx, which HTTP/1.1 cannot end on),
//!   the reason phrase as the body.
//! - `/bytes/<n>` : 200; `n` bytes (at most [`MAX_BYTES`]), byte `i` is `i % 256`.
//! - `/slow/<n>?delay_ms=<d>` : 200; the same `n` bytes in up to 16 chunks, `d` ms (default
//!   100, at most 10000) before each.
//!
//! Request bodies are capped at [`MAX_BYTES`] (larger: 413), connections at
//! [`MAX_CONNECTIONS`], and a client gets 30 s to send its head.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{combinators::BoxBody, BodyExt, Full, Limited, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;
use tracing::{debug, info, warn};

/// The largest request body taken and the largest `/bytes/<n>`.
pub const MAX_BYTES: usize = 1 << 20;
/// Connections served at once per listener; more wait in the accept queue.
pub const MAX_CONNECTIONS: usize = 256;
const HEADER_TIMEOUT: Duration = Duration::from_secs(30);

type Body = BoxBody<Bytes, Infallible>;

/// A running listener; stopped when dropped.
#[derive(Debug)]
pub struct HttpServer {
    addr: SocketAddr,
    task: JoinHandle<()>,
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl HttpServer {
    /// Listens on `bind` (port 0: any free port); with `tls`, every connection handshakes
    /// first.
    pub async fn start(
        bind: SocketAddr,
        tls: Option<Arc<rustls::ServerConfig>>,
    ) -> std::io::Result<HttpServer> {
        let listener = TcpListener::bind(bind).await?;
        let addr = listener.local_addr()?;
        let tls = tls.map(TlsAcceptor::from);
        info!(%addr, tls = tls.is_some(), "embedded HTTP server listening");
        let task = tokio::spawn(serve(listener, tls));
        Ok(HttpServer { addr, task })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }
}

async fn serve(listener: TcpListener, tls: Option<TlsAcceptor>) {
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let Ok(permit) = slots.clone().acquire_owned().await else {
            return;
        };
        let (stream, peer) = match listener.accept().await {
            Ok(s) => s,
            Err(e) => {
                warn!(error = %e, "embedded HTTP server: accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let tls = tls.clone();
        tokio::spawn(async move {
            let _permit = permit;
            match tls {
                None => connection(TokioIo::new(stream), peer).await,
                Some(acceptor) => match acceptor.accept(stream).await {
                    Ok(s) => connection(TokioIo::new(s), peer).await,
                    Err(e) => debug!(%peer, error = %e, "embedded HTTPS: handshake failed"),
                },
            }
        });
    }
}

async fn connection<I>(io: I, peer: SocketAddr)
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT)
        .serve_connection(io, service_fn(handle));
    if let Err(e) = conn.await {
        debug!(%peer, error = %e, "embedded HTTP connection ended");
    }
}

fn full(status: StatusCode, body: impl Into<Bytes>) -> Response<Body> {
    let mut r = Response::new(Full::new(body.into()).boxed());
    *r.status_mut() = status;
    r
}

/// The pattern `/bytes/<n>` and `/slow/<n>` send.
pub fn pattern(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i % 256) as u8).collect()
}

async fn handle(req: Request<Incoming>) -> Result<Response<Body>, Infallible> {
    let (parts, body) = req.into_parts();
    let body = match Limited::new(body, MAX_BYTES).collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) => {
            debug!(error = %e, "embedded HTTP: request body refused");
            return Ok(full(
                StatusCode::PAYLOAD_TOO_LARGE,
                "request body too large\n",
            ));
        }
    };
    let path = parts.uri.path();
    info!(method = %parts.method, uri = %parts.uri, body = body.len(), "embedded HTTP request");
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    let resp = match segs.as_slice() {
        [""] => full(
            StatusCode::OK,
            "modem-sim test server: /echo, /status/<code>, /bytes/<n>, /slow/<n>?delay_ms=<d>\n",
        ),
        ["echo"] => {
            let mut out = format!(
                "{} {} {:?}\r\n",
                parts.method,
                parts
                    .uri
                    .path_and_query()
                    .map(|p| p.as_str())
                    .unwrap_or("/"),
                parts.version
            )
            .into_bytes();
            crate::net::http::end_head(&mut out, &parts.headers);
            out.extend_from_slice(&body);
            full(StatusCode::OK, out)
        }
        ["status", code] => match code
            .parse::<u16>()
            .ok()
            .filter(|c| (200..=599).contains(c))
            .and_then(|c| StatusCode::from_u16(c).ok())
        {
            Some(s) => full(s, s.canonical_reason().unwrap_or("").to_string()),
            None => full(StatusCode::BAD_REQUEST, "status must be 200..599\n"),
        },
        ["bytes", n] => match n.parse::<usize>().ok().filter(|n| *n <= MAX_BYTES) {
            Some(n) => full(StatusCode::OK, pattern(n)),
            None => full(StatusCode::BAD_REQUEST, "n must be 0..1048576\n"),
        },
        ["slow", n] => {
            let delay = parts
                .uri
                .query()
                .unwrap_or("")
                .split('&')
                .find_map(|kv| kv.strip_prefix("delay_ms="))
                .map(|d| d.parse::<u64>().ok().filter(|d| *d <= 10_000));
            match (n.parse::<usize>().ok().filter(|n| *n <= MAX_BYTES), delay) {
                (Some(n), None | Some(Some(_))) => {
                    let delay = Duration::from_millis(delay.flatten().unwrap_or(100));
                    slow(n, delay)
                }
                _ => full(
                    StatusCode::BAD_REQUEST,
                    "n must be 0..1048576, delay_ms 0..10000\n",
                ),
            }
        }
        _ => full(StatusCode::NOT_FOUND, "no such route\n"),
    };
    Ok(resp)
}

fn slow(n: usize, delay: Duration) -> Response<Body> {
    let data = Bytes::from(pattern(n));
    let chunk = n.div_ceil(16).max(1);
    let chunks: Vec<Bytes> = (0..n)
        .step_by(chunk)
        .map(|i| data.slice(i..(i + chunk).min(n)))
        .collect();
    let stream = futures::stream::iter(chunks).then(move |c| async move {
        tokio::time::sleep(delay).await;
        Ok::<_, Infallible>(Frame::data(c))
    });
    let mut r = Response::new(BodyExt::boxed(StreamBody::new(stream)));
    r.headers_mut()
        .insert(hyper::header::CONTENT_LENGTH, n.into());
    r
}

use futures::StreamExt;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::http::{run, HttpRequest, Method};
    use crate::net::{link::Latency, NetEventKind};

    async fn get(addr: SocketAddr, method: Method, path: &str, body: &[u8]) -> NetEventKind {
        let (_tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let (etx, mut erx) = tokio::sync::mpsc::unbounded_channel();
        let req = HttpRequest {
            method,
            url: format!("http://example.com{path}"),
            headers: vec![("User-Agent".into(), "AM_MODULE".into())],
            body: Bytes::copy_from_slice(body),
            tls: None,
            timeout: Duration::from_secs(30),
        };
        let target = crate::net::HostPort {
            host: addr.ip().to_string(),
            port: addr.port(),
        };
        run(1, target, req, rx, etx, Latency::default()).await;
        erx.recv().await.unwrap().kind
    }

    /// The module's client against the embedded server, both hyper: every route answers as
    /// documented, byte for byte.
    #[tokio::test]
    async fn routes() {
        let s = HttpServer::start(([127, 0, 0, 1], 0).into(), None)
            .await
            .unwrap();
        let a = s.local_addr();
        let NetEventKind::HttpDone(r) = get(a, Method::Get, "/bytes/1000", b"").await else {
            panic!()
        };
        assert_eq!((r.status, r.body.to_vec()), (200, pattern(1000)));
        let NetEventKind::HttpDone(r) = get(a, Method::Get, "/status/404", b"").await else {
            panic!()
        };
        assert_eq!((r.status, &r.body[..]), (404, &b"Not Found"[..]));
        let body: Vec<u8> = (0..=255u8).rev().chain(*b"\r\n\x1a\x1b\0").collect();
        let NetEventKind::HttpDone(r) = get(a, Method::Post, "/echo?x=1", &body).await else {
            panic!()
        };
        assert_eq!(r.status, 200);
        assert!(r.body.starts_with(b"POST /echo?x=1 HTTP/1.1\r\n"), "{r:?}");
        assert!(r.body.ends_with(&body));
        let text = String::from_utf8_lossy(&r.body);
        assert!(text.contains("host: example.com\r\n"), "{text}");
        assert!(text.contains("user-agent: AM_MODULE\r\n"), "{text}");
        assert!(text.contains(&format!("content-length: {}\r\n", body.len())));
        let NetEventKind::HttpDone(r) = get(a, Method::Get, "/slow/100?delay_ms=1", b"").await
        else {
            panic!()
        };
        assert_eq!(r.body.to_vec(), pattern(100));
        assert!(r.head.starts_with(b"HTTP/1.1 200 OK\r\n"));
        let NetEventKind::HttpDone(r) = get(a, Method::Get, "/nope", b"").await else {
            panic!()
        };
        assert_eq!(r.status, 404);
        let NetEventKind::HttpDone(r) = get(a, Method::Head, "/bytes/10", b"").await else {
            panic!()
        };
        assert_eq!((r.status, r.body.len()), (200, 0));
    }
}
