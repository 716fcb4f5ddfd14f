//! The last UART traffic, both ways, kept for reports.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

/// The last UART traffic, both ways, for reports (`modem-harness check-driver` shows it
/// around a failure). Bounded by bytes: the oldest records go first.
#[derive(Debug, Clone, Default)]
pub struct UartTap(Arc<Mutex<Records>>);

#[derive(Debug, Default)]
struct Records {
    records: VecDeque<UartRecord>,
    bytes: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UartRecord {
    pub at: std::time::Instant,
    /// Written by the host (`true`) or by the module.
    pub from_host: bool,
    pub bytes: Vec<u8>,
    /// Not traffic but a loss: this many bytes of the module's output, recorded earlier, never
    /// reached the host because it was not reading (`bytes` is empty).
    pub dropped: usize,
}

/// How many bytes of traffic the tap keeps (a record larger than this keeps its end).
pub const TAP_BYTES: usize = 256 << 10;
/// How many records, at most (each costs a few dozen bytes besides its traffic).
const TAP_RECORDS: usize = 4000;

impl UartTap {
    pub(crate) fn push(&self, from_host: bool, bytes: &[u8]) {
        let keep = &bytes[bytes.len().saturating_sub(TAP_BYTES)..];
        self.record(UartRecord {
            at: std::time::Instant::now(),
            from_host,
            bytes: keep.to_vec(),
            dropped: 0,
        });
    }

    /// Marks `n` bytes of the module's output as lost (the host was not reading). Consecutive
    /// losses add up in one record.
    pub(crate) fn push_dropped(&self, n: usize) {
        let mut q = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(last) = q.records.back_mut() {
            if last.dropped > 0 {
                last.dropped += n;
                return;
            }
        }
        drop(q);
        self.record(UartRecord {
            at: std::time::Instant::now(),
            from_host: false,
            bytes: Vec::new(),
            dropped: n,
        });
    }

    fn record(&self, r: UartRecord) {
        let mut q = self.0.lock().unwrap_or_else(|e| e.into_inner());
        q.bytes += r.bytes.len();
        q.records.push_back(r);
        while q.records.len() > TAP_RECORDS || q.bytes > TAP_BYTES {
            match q.records.pop_front() {
                Some(old) => q.bytes -= old.bytes.len(),
                None => break,
            }
        }
    }

    /// What was recorded, oldest first.
    pub fn snapshot(&self) -> Vec<UartRecord> {
        let q = self.0.lock().unwrap_or_else(|e| e.into_inner());
        q.records.iter().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_by_bytes_and_records_and_losses_add_up() {
        let tap = UartTap::default();
        for _ in 0..100 {
            tap.push(true, &[b'x'; 10_000]);
        }
        let kept: usize = tap.snapshot().iter().map(|r| r.bytes.len()).sum();
        assert!(kept <= TAP_BYTES, "{kept}");
        assert!(kept > TAP_BYTES - 10_000, "{kept}");
        tap.push(false, &[b'y'; 10 << 20]);
        let snap = tap.snapshot();
        assert_eq!(snap.len(), 1);
        assert_eq!(snap[0].bytes.len(), TAP_BYTES);
        tap.push_dropped(5);
        tap.push_dropped(7);
        let snap = tap.snapshot();
        assert_eq!(snap.last().unwrap().dropped, 12);
        for _ in 0..10_000 {
            tap.push(true, b"AT\r");
        }
        assert_eq!(tap.snapshot().len(), TAP_RECORDS);
    }
}
