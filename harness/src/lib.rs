//! modem-harness
