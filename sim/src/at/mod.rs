//! The AT layer: framing (bytes -> lines and prompted data), command parsing, payload escapes.
//! Pure: no I/O here.

pub mod command;
pub mod escape;
pub mod framer;

pub use command::{parse_line, render, split_args, Arg, Command, Form, ParseError};
pub use framer::{Cancel, Frame, Framer};
