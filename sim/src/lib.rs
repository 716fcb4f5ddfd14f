//! modem-sim: a software Luat/AirM2M **Air780E** or Fibocom **L610** cellular modem whose MQTT
//! commands open real MQTT 3.1.1 sessions (plain or TLS) to a real broker: one embedded in the
//! process by default. Its UART is a PTY, a TCP endpoint, or any byte stream you hand it, so a
//! driver crate can test against it in process, with tokio's paused time.
//!
//! The public surface: [`Simulator`] (started from a [`SimConfig`]), the [`Fault`]s it injects
//! (each one a small type in [`fault`]: `sim.inject(fault::Closed)`), the dialect it speaks ([`DialectKind`]),
//! the embedded [`Broker`], and the pure [`Engine`] (bytes in, bytes and network requests out).
//!
//! ```
//! use modem_sim::{fault, SimConfig, Simulator};
//! use tokio::io::{AsyncReadExt, AsyncWriteExt};
//!
//! /// Reads from the UART until `needle`, returning what came.
//! async fn until(uart: &mut tokio::io::DuplexStream, needle: &str) -> String {
//!     let mut seen = Vec::new();
//!     let mut buf = [0u8; 256];
//!     while !String::from_utf8_lossy(&seen).contains(needle) {
//!         let n = uart.read(&mut buf).await.unwrap();
//!         assert!(n > 0, "the modem closed its UART");
//!         seen.extend_from_slice(&buf[..n]);
//!     }
//!     String::from_utf8(seen).unwrap()
//! }
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() {
//! // The host's end of the UART, and the module's: no PTY, no hardware.
//! let (mut host, module) = tokio::io::duplex(4096);
//! let sim = Simulator::start_on(SimConfig::default(), module).await.unwrap();
//!
//! host.write_all(b"AT+CSQ\r\n").await.unwrap();
//! assert!(until(&mut host, "OK\r\n").await.contains("+CSQ: 29,0\r\n"));
//!
//! // A fault: the signal drops. The module reports what the network does.
//! sim.inject(fault::Signal(5)).await.unwrap();
//! host.write_all(b"AT+CSQ\r\n").await.unwrap();
//! assert!(until(&mut host, "OK\r\n").await.contains("+CSQ: 5,0\r\n"));
//!
//! // The same, as `modem-sim inject` and the control socket spell it.
//! sim.inject("signal 31".parse::<modem_sim::Fault>().unwrap()).await.unwrap();
//! sim.shutdown().await;
//! # }
//! ```
//!
//! A whole driver crate's test (connect, publish, a 60 s keepalive expiring in milliseconds)
//! is in `sim/examples/driver_crate.rs`.
//!
//! Layers, from the wire in: [`uart`] (PTY, TCP, RFC 2217, any stream), [`at`] (framing and
//! parsing), [`dialect`] (what the module answers), [`modem`] (cellular state), [`net`] (TCP +
//! MQTT links, raw sockets), [`broker`] (the embedded broker), [`services`] (the embedded echo
//! service), [`fault`] (the fault table and injector). [`sim`] puts them together; `fleet`
//! runs many in one process.

pub mod at;
pub mod broker;
#[doc(hidden)]
pub mod control;
pub mod dialect;
pub(crate) mod drops;
pub mod effect;
pub mod fault;
#[doc(hidden)]
pub mod fleet;
#[doc(hidden)]
pub mod fuzzing;
pub mod modem;
pub mod net;
#[doc(hidden)]
pub mod seeds;
pub mod services;
pub mod sim;
pub mod timing;
pub mod tls;
pub mod uart;

pub use broker::{Broker, BrokerConfig};
pub use dialect::{DialectKind, Engine};
pub use fault::{Fault, InjectError, Injector, Request, Trigger};
pub use sim::{SimConfig, SimError, Simulator};
