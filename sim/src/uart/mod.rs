//! The module's UART, from the wire to the [`Engine`](crate::dialect::Engine): the transports
//! ([`pty`], the TCP and RFC 2217 [`endpoint`]s; any `AsyncRead + AsyncWrite` stream goes through
//! [`Simulator::start_on`](crate::sim::Simulator::start_on)), the bounded writer task
//! (`writer`), the UART faults (`faults`) and the traffic tap ([`tap`]).

pub mod endpoint;
pub(crate) mod faults;
pub mod pty;
pub mod rfc2217;
pub mod tap;
pub(crate) mod writer;

pub use endpoint::{Line, LineSettings, Serial};
pub use pty::{Slave, Uart, UartError};
pub use tap::{UartRecord, UartTap};
pub use writer::UartStats;
