//! The task that writes the module's output to the host, behind a queue bounded by bytes, and
//! the `uart-fragment` fault that splits its writes.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tracing::warn;

use super::faults::next_random;
use crate::timing::Pacer;

/// Output waiting for the UART is bounded by bytes: far more than any burst a reading host can
/// produce (10,000 `+MSUB`s are about 0.5 MB), so nothing is lost while the host reads; and a
/// host that never reads cannot grow our memory past it. Past it, output is dropped with a
/// warning, as a real UART without flow control would lose it.
const UART_QUEUE_BYTES: usize = 16 << 20;

/// What the writer task is given, in order.
enum Chunk {
    Bytes(Vec<u8>),
    /// `AT+IPR`: the bytes after this go at the new rate.
    Baud(u32),
}

/// The sending side of the UART writer task; the task ends when this is dropped.
pub(crate) struct UartOut {
    tx: mpsc::UnboundedSender<Chunk>,
    queued: Arc<AtomicUsize>,
    /// Fault `uart-fragment`: the writer splits each write into small pieces.
    fragment: Arc<AtomicBool>,
}

impl UartOut {
    /// Starts the writer task on `wr`; the task gives `wr` back when it ends. With `pace`
    /// (the timing profile's `pace_uart`), bytes leave at that baud rate, 8N1 (10 bits a
    /// byte), in pieces of [`Pacer::PIECE`], each written when it has crossed the wire.
    pub(crate) fn spawn<W>(mut wr: W, pace: Option<u32>) -> (UartOut, JoinHandle<W>)
    where
        W: AsyncWrite + Unpin + Send + 'static,
    {
        let (tx, mut rx) = mpsc::unbounded_channel::<Chunk>();
        let queued = Arc::new(AtomicUsize::new(0));
        let fragment = Arc::new(AtomicBool::new(false));
        let (writer_queued, writer_fragment) = (queued.clone(), fragment.clone());
        let writer = tokio::spawn(async move {
            let mut seed = 0x2545_F491_4F6C_DD1Du64;
            let mut pacer = pace.map(Pacer::new);
            while let Some(chunk) = rx.recv().await {
                let bytes = match chunk {
                    Chunk::Baud(rate) => {
                        if let Some(p) = pacer.as_mut() {
                            tracing::info!(rate, "UART rate changed");
                            p.baud = rate;
                        }
                        continue;
                    }
                    Chunk::Bytes(b) => b,
                };
                let written = if writer_fragment.load(Ordering::Relaxed) {
                    write_fragmented(&mut wr, &bytes, &mut seed).await
                } else if let Some(p) = pacer.as_mut() {
                    write_paced(&mut wr, &bytes, p).await
                } else {
                    wr.write_all(&bytes).await
                };
                if let Err(e) = written {
                    warn!(error = %e, "UART write failed");
                }
                writer_queued.fetch_sub(bytes.len(), Ordering::Relaxed);
            }
            wr
        });
        (
            UartOut {
                tx,
                queued,
                fragment,
            },
            writer,
        )
    }

    /// Queues `bytes` for the host, or drops them (with a warning) past [`UART_QUEUE_BYTES`].
    pub(crate) fn send(&self, bytes: Vec<u8>) {
        let len = bytes.len();
        if self.queued.fetch_add(len, Ordering::Relaxed) + len > UART_QUEUE_BYTES {
            self.queued.fetch_sub(len, Ordering::Relaxed);
            warn!(len, "the host is not reading the UART: output dropped");
        } else if self.tx.send(Chunk::Bytes(bytes)).is_err() {
            self.queued.fetch_sub(len, Ordering::Relaxed);
        }
    }

    /// `AT+IPR`: the bytes queued after this go at `rate` (when the UART is paced).
    pub(crate) fn set_baud(&self, rate: u32) {
        let _ = self.tx.send(Chunk::Baud(rate));
    }

    /// Fault `uart-fragment` on or off.
    pub(crate) fn set_fragment(&self, on: bool) {
        self.fragment.store(on, Ordering::Relaxed)
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

/// Writes `bytes` at the pacer's rate: each piece once it has crossed the wire.
async fn write_paced<W: AsyncWrite + Unpin>(
    wr: &mut W,
    bytes: &[u8],
    pacer: &mut Pacer,
) -> std::io::Result<()> {
    for piece in bytes.chunks(Pacer::PIECE) {
        tokio::time::sleep_until(pacer.done_at(piece.len())).await;
        wr.write_all(piece).await?;
    }
    Ok(())
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
