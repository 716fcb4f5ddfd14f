//! What the engine asks its owner to carry out: bytes for the UART, network requests, timers, a
//! new baud rate. Its own module, below the dialects, the faults and the timing profiles, which
//! all speak it, so that none of them imports another to name it.

use crate::net::NetRequest;

/// Something the engine's owner must carry out.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Bytes for the UART.
    Uart(Vec<u8>),
    Net(NetRequest),
    /// Call [`Engine::timer`](crate::dialect::Engine::timer) with `id` once `after` has passed (a prompt's input timeout,
    /// for instance). A dialect ignores ids it no longer waits for, so timers are never
    /// cancelled.
    Timer {
        id: u64,
        after: std::time::Duration,
    },
    /// The UART's rate changes (`AT+IPR`), from the bytes after this on: the output before it
    /// (the command's `OK`) still goes at the old rate.
    Baud(u32),
}
