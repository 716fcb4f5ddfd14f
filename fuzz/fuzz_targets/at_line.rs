//! The AT line parser: framing, command parsing, parameters, escapes.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| modem_sim::fuzzing::at_line(data));
