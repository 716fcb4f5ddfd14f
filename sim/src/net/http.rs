//! The module's HTTP client: one request per task, HTTP/1.1 by hyper over the routed TCP
//! stream (and rustls when the URL or the dialect asks for TLS).
//!
//! The dialects describe a request in [`HttpRequest`] (method, URL as the host typed it,
//! headers, body) and get back one [`NetEventKind::HttpDone`] or [`NetEventKind::HttpFailed`]
//! for its link id. Faults reach a running request as they reach MQTT links: through the
//! [`LinkCmd`] channel the request registers with [`super::link::Links`].

use std::os::fd::{AsRawFd, BorrowedFd, RawFd};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_rustls::TlsConnector;
use tracing::{info, warn};

use super::link::{Latency, LinkCmd, CONNECT_TIMEOUT};
use super::{HostPort, LinkId, NetEvent, NetEventKind, TlsOptions};

/// The largest response body kept (the Air780E's LSAT builds buffer 130048 bytes for
/// `AT+HTTPDATA`; the manual gives no response limit). A bigger body is
/// [`HttpError::TooLarge`] (the module's "602 No memory").
pub const MAX_BODY: usize = 1 << 20;

/// An HTTP method as the AT commands number them (`AT+HTTPACTION=<0|1|2|3>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
    Head,
    Delete,
}

impl Method {
    fn as_http(self) -> http::Method {
        match self {
            Method::Get => http::Method::GET,
            Method::Post => http::Method::POST,
            Method::Head => http::Method::HEAD,
            Method::Delete => http::Method::DELETE,
        }
    }
}

/// What a module asks of one HTTP exchange.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpRequest {
    pub method: Method,
    /// The URL as set over AT: `http://`, `https://` or no scheme (then `http://`).
    pub url: String,
    /// Extra header lines (`User-Agent`, `Content-Type`, the host's own), in order.
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
    /// TLS for the connection (an `https://` URL, or the dialect's HTTPS switch).
    pub tls: Option<TlsOptions>,
    /// The whole exchange, connect to last body byte (`AT+HTTPPARA="TIMEOUT"`).
    pub timeout: Duration,
}

/// Where a URL points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub https: bool,
    pub host: String,
    pub port: u16,
    /// Path and query, `/` at least.
    pub path: String,
}

/// Splits a URL as the modules take it (`http://host:port/path`, `https://host/path`, or
/// `host/path` with no scheme) with the `http` crate's URI parser. `None`: not a URL.
pub fn parse_url(url: &str) -> Option<Target> {
    let full = if url.contains("://") {
        url.to_string()
    } else {
        format!("http://{url}")
    };
    let uri: http::Uri = full.parse().ok()?;
    let https = match uri.scheme_str()? {
        s if s.eq_ignore_ascii_case("http") => false,
        s if s.eq_ignore_ascii_case("https") => true,
        _ => return None,
    };
    let host = uri.host()?.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() {
        return None;
    }
    let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
    let path = uri
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| "/".into());
    Some(Target {
        https,
        host: host.to_string(),
        port,
        path,
    })
}

/// A finished exchange.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpResponse {
    pub status: u16,
    /// The status line and header lines as received (names as hyper keeps them, lower case),
    /// each ended by CR LF, then the empty line.
    pub head: Bytes,
    pub body: Bytes,
}

/// Why an exchange gave no response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HttpError {
    /// The URL does not parse, or a header is not valid HTTP.
    BadRequest(String),
    /// No route for the host (the module's DNS failure).
    NoRoute,
    /// The TCP connect failed or timed out.
    Connect(String),
    /// The TLS configuration or handshake failed.
    Tls(String),
    /// The peer closed (or fault `closed`) before the response was complete.
    Closed(String),
    /// The connection was reset (fault `reset`).
    Reset,
    /// No complete response within the request's timeout.
    Timeout,
    /// The peer did not speak HTTP.
    Protocol(String),
    /// The body is larger than [`MAX_BODY`].
    TooLarge,
}

/// Runs one exchange against `target` and reports it on `events`.
pub async fn run(
    link: LinkId,
    target: HostPort,
    req: HttpRequest,
    mut commands: mpsc::UnboundedReceiver<LinkCmd>,
    events: mpsc::UnboundedSender<NetEvent>,
    latency: Latency,
) {
    let timeout = req.timeout;
    let deadline = tokio::time::Instant::now() + timeout;
    let mut seed = link ^ 0x9e37_79b9_7f4a_7c15;
    // The socket's descriptor, for fault `reset` (set once connected).
    let fd = std::sync::Arc::new(std::sync::atomic::AtomicI32::new(-1));
    // Boxed so it can be dropped (closing the socket) before the outcome is reported.
    let mut exchange = Box::pin(exchange(&target, &req, &latency, seed, fd.clone()));
    let mut blackholed = false;
    let outcome = loop {
        tokio::select! {
            r = exchange.as_mut(), if !blackholed => break r,
            _ = tokio::time::sleep_until(deadline) => break Err(HttpError::Timeout),
            cmd = commands.recv() => match cmd {
                // The modem gave up on it (`AT+HTTPTERM`, a new request): nothing to report.
                Some(LinkCmd::Close) | None => {
                    info!(link, "HTTP request abandoned");
                    return;
                }
                Some(LinkCmd::PeerClose) => break Err(HttpError::Closed("fault closed".into())),
                Some(LinkCmd::Reset) => {
                    let raw: RawFd = fd.load(std::sync::atomic::Ordering::Relaxed);
                    if raw >= 0 {
                        // SAFETY: the socket is owned by `exchange`, which is alive until it
                        // is dropped below; SO_LINGER 0 makes that drop an RST.
                        let sock = unsafe { BorrowedFd::borrow_raw(raw) };
                        let _ = socket2::SockRef::from(&sock).set_linger(Some(Duration::ZERO));
                    }
                    break Err(HttpError::Reset);
                }
                // Nothing moves any more; the request times out.
                Some(LinkCmd::Blackhole) => blackholed = true,
                Some(LinkCmd::Mqtt(_)) | Some(LinkCmd::Send(_)) => {}
            },
        }
    };
    drop(exchange);
    let kind = match outcome {
        Ok(resp) => {
            latency.wait(&mut seed).await;
            info!(link, %target, status = resp.status, head = resp.head.len(), body = resp.body.len(), "HTTP response");
            NetEventKind::HttpDone(resp)
        }
        Err(e) => {
            info!(link, %target, error = ?e, "HTTP request failed");
            NetEventKind::HttpFailed(e)
        }
    };
    let _ = events.send(NetEvent { link, kind });
}

async fn exchange(
    target: &HostPort,
    req: &HttpRequest,
    latency: &Latency,
    mut seed: u64,
    fd: std::sync::Arc<std::sync::atomic::AtomicI32>,
) -> Result<HttpResponse, HttpError> {
    let url = parse_url(&req.url).ok_or_else(|| HttpError::BadRequest(req.url.clone()))?;
    let tls = req
        .tls
        .as_ref()
        .map(|o| {
            let config = crate::tls::client_config(o)?;
            let name = crate::tls::server_name(&o.server_name)?;
            Ok::<_, crate::tls::TlsError>((TlsConnector::from(Arc::new(config)), name))
        })
        .transpose()
        .map_err(|e| HttpError::Tls(e.to_string()))?;
    let request = build(req, &url)?;
    let connect = TcpStream::connect((target.host.as_str(), target.port));
    let stream = match tokio::time::timeout(CONNECT_TIMEOUT, connect).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => return Err(HttpError::Connect(e.to_string())),
        Err(_) => return Err(HttpError::Connect("timed out".into())),
    };
    let _ = stream.set_nodelay(true);
    fd.store(stream.as_raw_fd(), std::sync::atomic::Ordering::Relaxed);
    info!(%target, url = %req.url, method = ?req.method, body = req.body.len(), tls = tls.is_some(), "HTTP connected");
    latency.wait(&mut seed).await;
    match tls {
        None => send(stream, request).await,
        Some((connector, name)) => {
            let s = tokio::time::timeout(CONNECT_TIMEOUT, connector.connect(name, stream))
                .await
                .map_err(|_| HttpError::Tls("handshake timed out".into()))?
                .map_err(|e| HttpError::Tls(e.to_string()))?;
            send(s, request).await
        }
    }
}

/// The request as hyper takes it; header values the host typed that are not valid HTTP are
/// refused here, before anything is sent.
fn build(req: &HttpRequest, url: &Target) -> Result<http::Request<Full<Bytes>>, HttpError> {
    let default_port = if url.https { 443 } else { 80 };
    let host = match (url.host.contains(':'), url.port == default_port) {
        (false, true) => url.host.clone(),
        (false, false) => format!("{}:{}", url.host, url.port),
        (true, true) => format!("[{}]", url.host),
        (true, false) => format!("[{}]:{}", url.host, url.port),
    };
    let mut b = http::Request::builder()
        .method(req.method.as_http())
        .uri(&url.path)
        .header(http::header::HOST, host);
    for (name, value) in &req.headers {
        b = b.header(name.as_str(), value.as_str());
    }
    if req.method == Method::Post || !req.body.is_empty() {
        b = b.header(http::header::CONTENT_LENGTH, req.body.len());
    }
    b.body(Full::new(req.body.clone()))
        .map_err(|e| HttpError::BadRequest(e.to_string()))
}

async fn send<S>(io: S, request: http::Request<Full<Bytes>>) -> Result<HttpResponse, HttpError>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::Builder::new()
        .title_case_headers(true)
        .handshake::<_, Full<Bytes>>(TokioIo::new(io))
        .await
        .map_err(|e| HttpError::Protocol(e.to_string()))?;
    let conn = async move {
        if let Err(e) = conn.await {
            tracing::debug!(error = %e, "HTTP connection ended");
        }
    };
    let exchange = async move {
        let resp = sender.send_request(request).await.map_err(classify)?;
        let (parts, body) = resp.into_parts();
        let body = Limited::new(body, MAX_BODY)
            .collect()
            .await
            .map_err(|e| match e.downcast::<hyper::Error>() {
                Ok(e) => classify(*e),
                Err(_) => HttpError::TooLarge,
            })?
            .to_bytes();
        let mut head = format!(
            "{:?} {} {}\r\n",
            parts.version,
            parts.status.as_u16(),
            parts.status.canonical_reason().unwrap_or("")
        )
        .into_bytes();
        end_head(&mut head, &parts.headers);
        Ok(HttpResponse {
            status: parts.status.as_u16(),
            head: head.into(),
            body,
        })
    };
    // The connection is driven in this task (not spawned), so dropping the exchange on a fault
    // closes the socket at once. When the connection ends first, the exchange learns why from
    // its own side (a complete body, or an error).
    tokio::pin!(exchange);
    tokio::pin!(conn);
    let mut conn_done = false;
    loop {
        tokio::select! {
            biased;
            r = &mut exchange => return r,
            _ = &mut conn, if !conn_done => conn_done = true,
        }
    }
}

fn classify(e: hyper::Error) -> HttpError {
    if e.is_incomplete_message() || e.is_canceled() || e.is_closed() {
        HttpError::Closed(e.to_string())
    } else if e.is_parse() || e.is_parse_status() {
        HttpError::Protocol(e.to_string())
    } else {
        warn!(error = %e, "HTTP exchange failed");
        HttpError::Closed(e.to_string())
    }
}

/// Ends an HTTP/1.1 head: each header as `name: value` CRLF, as it came, then the empty line.
pub(crate) fn end_head(head: &mut Vec<u8>, headers: &http::HeaderMap) {
    for (name, value) in headers {
        head.extend_from_slice(name.as_str().as_bytes());
        head.extend_from_slice(b": ");
        head.extend_from_slice(value.as_bytes());
        head.extend_from_slice(b"\r\n");
    }
    head.extend_from_slice(b"\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_as_the_modules_take_them() {
        let t = parse_url("airtest.openluat.com").unwrap();
        assert_eq!(
            (t.https, t.host.as_str(), t.port, t.path.as_str()),
            (false, "airtest.openluat.com", 80, "/")
        );
        let t = parse_url("https://iot-auth.cn-shanghai.aliyuncs.com/auth/devicename").unwrap();
        assert_eq!(
            (t.https, t.port, t.path.as_str()),
            (true, 443, "/auth/devicename")
        );
        let t = parse_url("http://127.0.0.1:8000/a/b?x=1&y=2").unwrap();
        assert_eq!((t.port, t.path.as_str()), (8000, "/a/b?x=1&y=2"));
        assert!(parse_url("ftp://x/y").is_none());
        assert!(parse_url("http://").is_none());
        assert!(parse_url("http://a b/").is_none());
    }
}
