//! The last UART traffic, both ways, kept for reports.

/// The last UART traffic, both ways, for reports (`modem-harness check-driver` shows it
/// around a failure). Bounded: the oldest records go first.
#[derive(Debug, Clone, Default)]
pub struct UartTap(std::sync::Arc<std::sync::Mutex<std::collections::VecDeque<UartRecord>>>);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UartRecord {
    pub at: std::time::Instant,
    /// Written by the host (`true`) or by the module.
    pub from_host: bool,
    pub bytes: Vec<u8>,
}

/// How many writes the tap keeps.
const TAP_RECORDS: usize = 4000;

impl UartTap {
    pub(crate) fn push(&self, from_host: bool, bytes: &[u8]) {
        let mut q = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if q.len() == TAP_RECORDS {
            q.pop_front();
        }
        q.push_back(UartRecord {
            at: std::time::Instant::now(),
            from_host,
            bytes: bytes.to_vec(),
        });
    }

    /// What was recorded, oldest first.
    pub fn snapshot(&self) -> Vec<UartRecord> {
        let q = self.0.lock().unwrap_or_else(|e| e.into_inner());
        q.iter().cloned().collect()
    }
}
