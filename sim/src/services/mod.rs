//! Embedded test services a modem's links reach when the user names no server of their own,
//! started next to the embedded broker: the HTTP test server ([`http`]).

pub mod http;
