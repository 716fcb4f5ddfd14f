//! The vendor seeds' flows as data, for the tests that run them (the simulator's own, the
//! integration tests, a driver crate's): one copy of each command, answer and payload.

/// Seed 000 (the Air780E MQTT guide), section 6.2: the vendor's test server
/// `airtest.openluat.com:1883`, account `root` / `luat123456`.
pub mod seed_000 {
    /// The host's side: each command it sends, and what the module's answer to it ends with.
    pub const FLOW: [(&str, &str); 5] = [
        ("AT+MCONFIG=868488076771714,root,luat123456", "OK\r\n"),
        (
            "AT+MIPSTART=\"airtest.openluat.com\",\"1883\"",
            "CONNECT OK\r\n",
        ),
        ("AT+MCONNECT=1,60", "CONNACK OK\r\n"),
        ("AT+MSUB=\"mqtt/pub\",0", "SUBACK\r\n"),
        ("AT+MPUB=\"mqtt/sub\",0,0,\"data from 4G module\"", "OK\r\n"),
    ];
    /// The server's side: the topic the module publishes to in [`FLOW`], and the payload.
    pub const UPLINK: (&str, &[u8]) = ("mqtt/sub", b"data from 4G module");
    /// What the server then publishes to the module (QoS 0): topic and payload.
    pub const DOWNLINK: (&str, &str) = ("mqtt/pub", "data from tcp server");
    /// The URC that prints [`DOWNLINK`] on the UART.
    pub const DOWNLINK_URC: &str = "\r\n+MSUB: \"mqtt/pub\",20 byte,data from tcp server\r\n";
}
