//! The task that writes the module's output to the host, behind a queue bounded by bytes, and
//! the `uart-fragment` fault that splits its writes.
//!
//! Two things can happen to output the host does not take at once:
//! - the host reads, but more slowly than the network delivers (a burst of `+MSUB`): past
//!   [`BACKLOG_HIGH`] queued bytes the modem's links stop reading their sockets
//!   ([`Backpressure`]) until the queue is down to [`BACKLOG_LOW`], so TCP slows the broker
//!   down, as the module's own small buffers would. Nothing is lost.
//! - the host does not read at all: a module has no flow control on its UART, its bytes are
//!   lost on the wire. When the tty takes nothing for [`HOST_STALL`], what is queued is dropped
//!   and so is everything written until the host reads again (one write waits for that). Each
//!   loss is counted ([`UartStats`]: `modem-sim status`), marked in the UART tap (the
//!   transcript `check-driver` prints), and logged at most once per 10 s.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tracing::{info, warn};

use super::faults::next_random;
use super::UartTap;
use crate::drops::DropLog;
use crate::net::link::Backpressure;
use crate::timing::Pacer;

/// Output waiting for the UART is bounded by bytes. With the links paused at [`BACKLOG_HIGH`]
/// only the module's answers to the host's own input can go past that (a host typing 10 MB
/// of garbage without reading the echo); past this, output is dropped and counted.
const UART_QUEUE_BYTES: usize = 4 << 20;

/// Queued output past which the modem's links stop reading the network...
pub(crate) const BACKLOG_HIGH: usize = 256 << 10;
/// ... until it is down to this.
pub(crate) const BACKLOG_LOW: usize = 64 << 10;

/// A tty that takes nothing for this long has a host that is not reading.
pub(crate) const HOST_STALL: Duration = Duration::from_secs(2);

/// What the UART has lost because the host was not reading.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UartStats {
    /// Module writes (an answer, a URC, a `+MSUB` with its payload) lost, whole or in part.
    pub dropped_writes: u64,
    /// Bytes lost.
    pub dropped_bytes: u64,
    /// Times the host stopped reading (the tty took nothing for 2 s with output waiting).
    pub stalls: u64,
    /// The host is not reading now.
    pub host_stalled: bool,
    /// Bytes waiting for the host now.
    pub queued_bytes: u64,
}

#[derive(Debug, Default)]
struct Shared {
    queued: AtomicUsize,
    stalled: AtomicBool,
    dropped_writes: AtomicU64,
    dropped_bytes: AtomicU64,
    stalls: AtomicU64,
    log: Mutex<DropLog>,
}

impl Shared {
    /// Counts `bytes` lost in one write, marks them in the tap and logs (rate-limited).
    fn dropped(&self, tap: &UartTap, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        self.dropped_writes.fetch_add(1, Ordering::Relaxed);
        self.dropped_bytes
            .fetch_add(bytes.len() as u64, Ordering::Relaxed);
        tap.push_dropped(bytes.len());
        let line = self.log.lock().unwrap_or_else(|e| e.into_inner()).record(1);
        if let Some((since, total)) = line {
            warn!(
                dropped = since,
                total,
                bytes_total = self.dropped_bytes.load(Ordering::Relaxed),
                "the host is not reading the UART: module output lost, as on a UART without flow control (counted in modem-sim status; one line per 10 s)"
            );
        }
    }

    fn stats(&self) -> UartStats {
        UartStats {
            dropped_writes: self.dropped_writes.load(Ordering::Relaxed),
            dropped_bytes: self.dropped_bytes.load(Ordering::Relaxed),
            stalls: self.stalls.load(Ordering::Relaxed),
            host_stalled: self.stalled.load(Ordering::Relaxed),
            queued_bytes: self.queued.load(Ordering::Relaxed) as u64,
        }
    }
}

/// The sending side of the UART writer task; the task ends when this is dropped.
pub(crate) struct UartOut {
    tx: mpsc::UnboundedSender<Vec<u8>>,
    shared: Arc<Shared>,
    tap: UartTap,
    backpressure: Backpressure,
    /// Fault `uart-fragment`: the writer splits each write into small pieces.
    fragment: Arc<AtomicBool>,
    /// `AT+IPR` rate changes, each taken by the writer at its place in the queue (marked
    /// there by an empty write).
    bauds: Arc<Mutex<std::collections::VecDeque<u32>>>,
}

impl UartOut {
    /// Starts the writer task on `wr`; the task gives `wr` back when it ends. `backpressure`
    /// is raised while the queue is long (the links stop reading); `tap` gets the losses.
    /// With `pace` (the timing profile's `pace_uart`) bytes leave at that baud rate, 8N1 (10
    /// bits a byte), in pieces of [`Pacer::PIECE`], each written once it has crossed the wire.
    pub(crate) fn spawn<W>(
        mut wr: W,
        tap: UartTap,
        backpressure: Backpressure,
        pace: Option<u32>,
    ) -> (UartOut, JoinHandle<W>)
    where
        W: AsyncWrite + Unpin + Send + 'static,
    {
        let (tx, mut rx) = mpsc::unbounded_channel::<Vec<u8>>();
        let shared = Arc::new(Shared::default());
        let fragment = Arc::new(AtomicBool::new(false));
        let bauds: Arc<Mutex<std::collections::VecDeque<u32>>> = Arc::default();
        let (w_shared, w_fragment, w_tap, w_bp, w_bauds) = (
            shared.clone(),
            fragment.clone(),
            tap.clone(),
            backpressure.clone(),
            bauds.clone(),
        );
        let writer = tokio::spawn(async move {
            let mut seed = 0x2545_F491_4F6C_DD1Du64;
            let mut pacer = pace.map(Pacer::new);
            while let Some(bytes) = rx.recv().await {
                if bytes.is_empty() {
                    // A rate change's place in the queue.
                    let rate = w_bauds
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .pop_front();
                    if let (Some(rate), Some(p)) = (rate, pacer.as_mut()) {
                        info!(rate, "UART rate changed");
                        p.baud = rate;
                    }
                    continue;
                }
                if let Some(p) = pacer
                    .as_mut()
                    .filter(|_| !w_fragment.load(Ordering::Relaxed))
                {
                    for piece in bytes.chunks(Pacer::PIECE) {
                        tokio::time::sleep_until(p.done_at(piece.len())).await;
                        write_watched(&mut wr, piece, &w_shared, &w_tap).await;
                    }
                } else if w_fragment.load(Ordering::Relaxed) {
                    if let Err(e) = write_fragmented(&mut wr, &bytes, &mut seed).await {
                        warn!(error = %e, "UART write failed");
                    }
                } else {
                    write_watched(&mut wr, &bytes, &w_shared, &w_tap).await;
                }
                let left = w_shared.queued.fetch_sub(bytes.len(), Ordering::Relaxed) - bytes.len();
                if w_shared.stalled.load(Ordering::Relaxed) {
                    // Everything queued behind the write that stalled is lost too.
                    while let Ok(b) = rx.try_recv() {
                        w_shared.dropped(&w_tap, &b);
                        w_shared.queued.fetch_sub(b.len(), Ordering::Relaxed);
                    }
                    w_bp.set(false);
                } else if left <= BACKLOG_LOW {
                    w_bp.set(false);
                }
            }
            wr
        });
        (
            UartOut {
                tx,
                shared,
                tap,
                backpressure,
                fragment,
                bauds,
            },
            writer,
        )
    }

    /// Queues `bytes` for the host. While the host is not reading, they are lost (counted),
    /// except one write that waits to see the host read again; past [`UART_QUEUE_BYTES`]
    /// too.
    pub(crate) fn send(&self, bytes: Vec<u8>) {
        let len = bytes.len();
        let queued = self.shared.queued.fetch_add(len, Ordering::Relaxed);
        let stalled = self.shared.stalled.load(Ordering::Relaxed);
        if (stalled && queued > 0) || queued + len > UART_QUEUE_BYTES {
            self.shared.queued.fetch_sub(len, Ordering::Relaxed);
            self.shared.dropped(&self.tap, &bytes);
            return;
        }
        if queued + len > BACKLOG_HIGH && !stalled {
            self.backpressure.set(true);
        }
        if self.tx.send(bytes).is_err() {
            self.shared.queued.fetch_sub(len, Ordering::Relaxed);
        }
    }

    /// `AT+IPR`: the bytes queued after this go at `rate` (when the UART is paced).
    pub(crate) fn set_baud(&self, rate: u32) {
        self.bauds
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push_back(rate);
        let _ = self.tx.send(Vec::new());
    }

    /// Fault `uart-fragment` on or off.
    pub(crate) fn set_fragment(&self, on: bool) {
        self.fragment.store(on, Ordering::Relaxed)
    }

    /// What was lost so far.
    pub(crate) fn stats(&self) -> UartStats {
        self.shared.stats()
    }
}

/// Writes `bytes`; if the tty takes nothing for [`HOST_STALL`], the rest is lost and the UART
/// is marked stalled. A write while stalled waits as long as it takes: it is the one that sees
/// the host read again.
async fn write_watched<W: AsyncWrite + Unpin>(
    wr: &mut W,
    bytes: &[u8],
    shared: &Shared,
    tap: &UartTap,
) {
    let mut rest = bytes;
    if shared.stalled.load(Ordering::Relaxed) {
        match wr.write(rest).await {
            Ok(n) if n > 0 => {
                shared.stalled.store(false, Ordering::Relaxed);
                info!(
                    lost = shared.dropped_writes.load(Ordering::Relaxed),
                    "the host reads the UART again"
                );
                rest = &rest[n..];
            }
            Ok(_) => return shared.dropped(tap, rest),
            Err(e) => {
                warn!(error = %e, "UART write failed");
                return shared.dropped(tap, rest);
            }
        }
    }
    while !rest.is_empty() {
        // Unconstrained: the write is tried first at every wake-up, whatever the task's
        // cooperative budget. Otherwise a write that the budget turned into Pending (a busy
        // runtime writing a burst) lets the timer be checked first: a simulator descheduled
        // for 2 s on a loaded machine would call a host that kept reading "stalled", and drop.
        let write = tokio::task::unconstrained(wr.write(rest));
        match tokio::time::timeout(HOST_STALL, write).await {
            Ok(Ok(n)) if n > 0 => rest = &rest[n..],
            Ok(Ok(_)) => return shared.dropped(tap, rest),
            Ok(Err(e)) => {
                warn!(error = %e, "UART write failed");
                return shared.dropped(tap, rest);
            }
            Err(_) => {
                shared.stalled.store(true, Ordering::Relaxed);
                shared.stalls.fetch_add(1, Ordering::Relaxed);
                info!("the host has not read the UART for {HOST_STALL:?}: output is lost until it reads again");
                return shared.dropped(tap, rest);
            }
        }
    }
    if let Err(e) = wr.flush().await {
        warn!(error = %e, "UART flush failed");
    }
}
/// Waits for the writer to flush what is queued (once its [`UartOut`] is dropped), but a host
/// that stopped reading must not hold up the exit: the writer may be blocked on a full buffer.
pub(crate) async fn drain<W>(mut writer: JoinHandle<W>) {
    if tokio::time::timeout(std::time::Duration::from_millis(500), &mut writer)
        .await
        .is_err()
    {
        warn!("UART output not drained at shutdown (the host is not reading)");
        writer.abort();
    }
}

/// Writes `bytes` in random pieces of 1 to 8 bytes, each flushed and a moment apart, so the
/// host's reads see them separately (fault `uart-fragment`).
async fn write_fragmented<W: AsyncWrite + Unpin>(
    wr: &mut W,
    bytes: &[u8],
    seed: &mut u64,
) -> std::io::Result<()> {
    let mut rest = bytes;
    while !rest.is_empty() {
        let n = (next_random(seed) % 8 + 1) as usize;
        let (piece, tail) = rest.split_at(n.min(rest.len()));
        wr.write_all(piece).await?;
        wr.flush().await?;
        rest = tail;
        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    /// Records each write call's size.
    #[derive(Default)]
    struct Writes(Vec<usize>, Vec<u8>);

    impl tokio::io::AsyncWrite for Writes {
        fn poll_write(
            mut self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
            buf: &[u8],
        ) -> std::task::Poll<std::io::Result<usize>> {
            self.0.push(buf.len());
            self.1.extend_from_slice(buf);
            std::task::Poll::Ready(Ok(buf.len()))
        }
        fn poll_flush(
            self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<std::io::Result<()>> {
            std::task::Poll::Ready(Ok(()))
        }
        fn poll_shutdown(
            self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<std::io::Result<()>> {
            std::task::Poll::Ready(Ok(()))
        }
    }

    /// A host that stops reading: after [`HOST_STALL`] the output is lost and counted (in the
    /// tap too), the links are not held; once it reads again, output flows again.
    #[tokio::test(start_paused = true)]
    async fn a_host_that_does_not_read_loses_output_counted_until_it_reads_again() {
        let (module, mut host) = tokio::io::duplex(1024);
        let tap = UartTap::default();
        let bp = Backpressure::default();
        let (out, _writer) = UartOut::spawn(module, tap.clone(), bp.clone(), None);
        for _ in 0..100 {
            out.send(vec![b'x'; 100]);
        }
        // Nobody reads: 1024 bytes fit in the pipe, the rest is lost after HOST_STALL.
        tokio::time::sleep(HOST_STALL * 2).await;
        let s = out.stats();
        assert!(s.host_stalled, "{s:?}");
        assert_eq!(s.stalls, 1);
        assert_eq!(s.dropped_bytes, 100 * 100 - 1024, "{s:?}");
        assert_eq!(s.queued_bytes, 0, "{s:?}");
        assert!(
            !bp.is_raised(),
            "a host that does not read must not hold the network"
        );
        let lost: usize = tap.snapshot().iter().map(|r| r.dropped).sum();
        assert_eq!(lost as u64, s.dropped_bytes);
        // More output while stalled: one write waits, the others are lost at once.
        out.send(b"probe".to_vec());
        out.send(b"lost".to_vec());
        tokio::task::yield_now().await;
        assert_eq!(out.stats().dropped_bytes, s.dropped_bytes + 4);
        // The host reads again: the pipe's 1024 bytes, then the probe; no longer stalled.
        let mut got = vec![0u8; 1024 + 5];
        host.read_exact(&mut got).await.unwrap();
        assert!(got.ends_with(b"probe"));
        tokio::task::yield_now().await;
        assert!(!out.stats().host_stalled);
        out.send(b"again".to_vec());
        let mut again = [0u8; 5];
        host.read_exact(&mut again).await.unwrap();
        assert_eq!(&again, b"again");
    }

    /// A tty that has become writable (the host read), on a runtime that polls the writer
    /// only after `HOST_STALL` and whose write then runs out of tokio's cooperative budget (a
    /// PTY's write takes part in it): the budget must not make the timer win. Before the write
    /// was unconstrained this counted a stall and lost the output of a host that kept reading
    /// (the attack table's burst once got 49,973 of 50,000 `+MSUB` on a loaded machine).
    #[tokio::test(start_paused = true)]
    async fn a_writable_tty_is_no_stall_however_late_the_writer_runs() {
        use std::sync::atomic::AtomicBool;
        use std::task::{Poll, Waker};
        #[derive(Default)]
        struct Late {
            writable: Arc<AtomicBool>,
            waker: Arc<Mutex<Option<Waker>>>,
            got: Vec<u8>,
        }
        impl tokio::io::AsyncWrite for Late {
            fn poll_write(
                mut self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                buf: &[u8],
            ) -> Poll<std::io::Result<usize>> {
                if !self.writable.load(Ordering::SeqCst) {
                    *self.waker.lock().unwrap() = Some(cx.waker().clone());
                    return Poll::Pending;
                }
                // The budget spent, as by a busy writer task (bounded: unconstrained, it
                // never runs out).
                for _ in 0..1000 {
                    match tokio::task::coop::poll_proceed(cx) {
                        Poll::Ready(r) => r.made_progress(),
                        Poll::Pending => return Poll::Pending,
                    }
                }
                self.got.extend_from_slice(buf);
                Poll::Ready(Ok(buf.len()))
            }
            fn poll_flush(
                self: std::pin::Pin<&mut Self>,
                _: &mut std::task::Context<'_>,
            ) -> Poll<std::io::Result<()>> {
                Poll::Ready(Ok(()))
            }
            fn poll_shutdown(
                self: std::pin::Pin<&mut Self>,
                _: &mut std::task::Context<'_>,
            ) -> Poll<std::io::Result<()>> {
                Poll::Ready(Ok(()))
            }
        }
        let mut tty = Late::default();
        let (writable, waker) = (tty.writable.clone(), tty.waker.clone());
        let shared = Shared::default();
        let tap = UartTap::default();
        let host = async {
            tokio::task::yield_now().await;
            // The host reads; the writer is polled again only 2.1 s later.
            writable.store(true, Ordering::SeqCst);
            if let Some(w) = waker.lock().unwrap().take() {
                w.wake();
            }
            tokio::time::advance(HOST_STALL + Duration::from_millis(100)).await;
        };
        tokio::join!(
            write_watched(&mut tty, b"+MSUB: 1\r\n", &shared, &tap),
            host
        );
        assert_eq!(
            shared.stats(),
            UartStats::default(),
            "no stall, nothing lost"
        );
        assert_eq!(tty.got, b"+MSUB: 1\r\n");
    }

    /// A host that reads, but slowly: the links are held while the queue is long, and
    /// nothing is lost.
    #[tokio::test(start_paused = true)]
    async fn a_slow_reader_raises_backpressure_and_loses_nothing() {
        let (module, mut host) = tokio::io::duplex(4096);
        let bp = Backpressure::default();
        let (out, _writer) = UartOut::spawn(module, UartTap::default(), bp.clone(), None);
        let chunk = vec![b'm'; 1000];
        let n = BACKLOG_HIGH / 1000 + 10;
        for _ in 0..n {
            out.send(chunk.clone());
        }
        assert!(bp.is_raised());
        let mut total = 0;
        let mut buf = vec![0u8; 512];
        while total < n * 1000 {
            // Slow, but well within HOST_STALL.
            tokio::time::sleep(Duration::from_millis(1)).await;
            total += host.read(&mut buf).await.unwrap();
        }
        tokio::task::yield_now().await;
        assert!(!bp.is_raised());
        assert_eq!(out.stats(), UartStats::default());
    }

    #[tokio::test(start_paused = true)]
    async fn fragments_are_small_and_varied() {
        let mut w = Writes::default();
        let data = b"\r\n+CGMR: \"AirM2M_780E_V1169_LTE_AT\"\r\n\r\nOK\r\n";
        let mut seed = 7u64;
        write_fragmented(&mut w, data, &mut seed).await.unwrap();
        assert_eq!(w.1, data);
        assert!(w.0.iter().all(|n| (1..=8).contains(n)), "{:?}", w.0);
        assert!(w.0.len() >= data.len() / 8, "{:?}", w.0);
        let sizes: std::collections::HashSet<_> = w.0.iter().collect();
        assert!(sizes.len() > 1, "always the same size: {:?}", w.0);
    }

    #[tokio::test(start_paused = true)]
    async fn fragments_carry_every_byte_in_order() {
        let (mut a, mut b) = tokio::io::duplex(1 << 16);
        let data: Vec<u8> = (0..=255u8).cycle().take(3000).collect();
        let mut seed = 1u64;
        write_fragmented(&mut a, &data, &mut seed).await.unwrap();
        drop(a);
        let mut got = Vec::new();
        b.read_to_end(&mut got).await.unwrap();
        assert_eq!(got, data);
    }
}
