//! Counting what the simulator drops on purpose.
//!
//! Some losses are the behaviour being simulated: a module has no flow control on its UART, so
//! output the host does not read is lost; a broker drops QoS 0 messages for a client whose
//! queue is full (Mosquitto's `max_queued_messages`). Nothing is lost silently: each loss is
//! counted (the counters are in `modem-sim status` and the transcripts), and logged, at most
//! one line per [`DropLog::INTERVAL`] per place, so a flood of drops cannot flood the log.

use std::time::Duration;

use tokio::time::Instant;

/// Rate limit for the log lines about drops at one place.
#[derive(Debug, Default)]
pub struct DropLog {
    last_line: Option<Instant>,
    total: u64,
    unreported: u64,
}

impl DropLog {
    /// At most one line per this interval.
    pub const INTERVAL: Duration = Duration::from_secs(10);

    /// Counts `n` more drops. Returns `Some((since_last_line, total))` when a log line is due
    /// now: at the first drop, then at the first drop after each interval.
    pub fn record(&mut self, n: u64) -> Option<(u64, u64)> {
        self.total += n;
        self.unreported += n;
        let now = Instant::now();
        match self.last_line {
            Some(t) if now.duration_since(t) < Self::INTERVAL => None,
            _ => {
                self.last_line = Some(now);
                Some((std::mem::take(&mut self.unreported), self.total))
            }
        }
    }

    /// Everything counted so far (the tests read it; the modem's counters may).
    #[cfg_attr(not(test), allow(dead_code))]
    pub fn total(&self) -> u64 {
        self.total
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn one_line_per_interval_with_the_counts() {
        let mut log = DropLog::default();
        assert_eq!(log.record(1), Some((1, 1)));
        for _ in 0..999 {
            assert_eq!(log.record(1), None);
        }
        tokio::time::advance(DropLog::INTERVAL).await;
        assert_eq!(log.record(2), Some((1001, 1002)));
        assert_eq!(log.record(1), None);
        assert_eq!(log.total(), 1003);
    }
}
