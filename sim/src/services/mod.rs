//! Test servers started with the embedded broker, for users with no server of their own:
//! where a socket (`AT+CIPSTART`, `AT+MIPOPEN`) or an HTTP request goes when neither
//! `--resolve` nor `--direct` says otherwise. Listed in the banner and the ready file.

pub mod echo;
pub mod http;
