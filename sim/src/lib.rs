//! modem-sim: a software Air780E (and later L610) cellular modem on a pseudo-TTY whose MQTT
//! commands open real MQTT 3.1.1 sessions.
//!
//! Layers, from the wire in: [`uart`] (the PTY), [`at`] (framing and parsing), [`dialect`]
//! (what the module answers), [`modem`] (cellular state), [`net`] (TCP + MQTT links, raw
//! sockets), [`broker`] (the embedded broker), [`services`] (the embedded echo service). [`sim`] puts them together; [`fleet`] runs many in one process.

pub mod at;
pub mod broker;
pub mod control;
pub mod dialect;
pub mod drops;
pub mod fault;
pub mod fleet;
#[doc(hidden)]
pub mod fuzzing;
pub mod modem;
pub mod net;
pub mod services;
pub mod sim;
pub mod timing;
pub mod tls;
pub mod uart;

pub use fault::{Fault, InjectError, Injector, Request, Trigger};
pub use sim::{SimConfig, Simulator};
