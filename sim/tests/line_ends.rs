//! Issue 10 through the real binary and its PTY, the way drivers talk: every prompt and payload
//! path with `\r\n`, `\r` and `\n` line ends, binary payloads checked byte for byte at a real
//! `mosquitto_sub` (or read back from the module), echo on, and the next command answered
//! normally. Also the defaults real drivers rely on: `AT+MCONNECT` without `AT+MCONFIG`, long
//! L610 client ids, the L610 will length form.

use std::path::Path;

#[path = "support/process.rs"]
#[allow(dead_code)]
mod process;
use process::{
    binary, diff_at, mosquitto_sub, next_publish, watcher, Mosquitto, Port, SimProcess, EOLS, ROOT,
};

impl Port {
    /// `AT` ended by `eol` is answered `OK` and nothing else: no stray payload byte was left
    /// to be glued onto it, and (echo on) the terminator is echoed before the answer.
    fn at_ok(&mut self, eol: &str) {
        assert_eq!(
            self.line("AT", eol, "OK\r\n"),
            format!("AT{eol}\r\nOK\r\n"),
            "eol {eol:?}"
        );
    }

    /// `cmd` ended by `eol` is echoed and prompts `>`; `data` after it gets `OK` and then
    /// `done` (`""`: nothing); then `AT` is answered `OK` alone.
    fn prompted(&mut self, cmd: &str, eol: &str, data: &[u8], done: &str) {
        let echoed = self.line(cmd, eol, "\r\n>");
        assert_eq!(echoed, format!("{cmd}{eol}\r\n>"), "eol {eol:?}");
        self.send(data);
        let answer = self.until(&format!("OK\r\n{done}"));
        assert_eq!(answer, format!("\r\nOK\r\n{done}"), "eol {eol:?}");
        self.at_ok(eol);
    }
}

/// `len` random bytes holding LF, CR, NUL, `>`, ESC, Ctrl-Z and `OK\r\n`. After a `\r\n` or a
/// bare `\n` line end the payload starts with LF, which must arrive; after a lone `\r` the
/// module would swallow it (DIVERGENCES A23), so that payload starts with another byte. It
/// ends with LF.
fn binary_payload(seed: u64, len: usize, eol: &str) -> Vec<u8> {
    let mut p = binary(seed, len, eol);
    p[len - 1] = b'\n';
    p
}

/// Starts `mosquitto_sub -N -C 1` on `topic` (it gets the retained message at once) and
/// returns the payload bytes it printed, exactly (`-N`: no newline added).
fn mosquitto_sub_one(mosquitto: &Mosquitto, account: Option<(&str, &str)>, topic: &str) -> Vec<u8> {
    let mqtt = mosquitto.addr.to_string();
    let sub = mosquitto_sub(&mqtt, account, topic, &["-C", "1", "-N", "-W", "30"]);
    let out = sub.wait_with_output().unwrap();
    assert!(out.status.success(), "mosquitto_sub on {topic}: {out:?}");
    out.stdout
}

/// AT+MPUBEX of 2,048 random bytes, retained, with each line end, through a real Mosquitto:
/// `mosquitto_sub` prints exactly those bytes, and the next `AT` answers `OK`.
#[test]
fn mpubex_binary_payloads_arrive_byte_identical_with_every_line_end() {
    let mosquitto = Mosquitto::start();
    let sim = SimProcess::spawn(&["--broker", &mosquitto.url()]);
    let mut port = sim.port();
    port.at_ok("\r\n");
    port.ok("AT+MCONFIG=\"eol-test\",root,luat123456");
    port.line("AT+MIPSTART=\"h\",1883", "\r\n", "CONNECT OK\r\n");
    port.line("AT+MCONNECT=1,60", "\r\n", "CONNACK OK\r\n");
    let mpubex = |name: &str| format!("AT+MPUBEX=\"eol/{name}\",1,1,2048");
    retained_with_each_line_end(&mut port, &mosquitto, (0, 2048), mpubex, "\r\nPUBACK\r\n");
}

/// With each line end: `len` binary bytes (seeds from `seed`) published retained to
/// `eol/<name>` by `cmd(name)` (echoed, prompted; then `OK` and `done`): `mosquitto_sub`
/// prints exactly those bytes.
fn retained_with_each_line_end(
    port: &mut Port,
    mosquitto: &Mosquitto,
    (seed, len): (u64, usize),
    cmd: impl Fn(&str) -> String,
    done: &str,
) {
    for (i, (name, eol)) in EOLS.iter().enumerate() {
        let payload = binary_payload(seed + i as u64, len, eol);
        port.prompted(&cmd(name), eol, &payload, done);
        let got = mosquitto_sub_one(mosquitto, ROOT, &format!("eol/{name}"));
        assert!(got == payload, "eol {name}: {}", diff_at(&got, &payload));
    }
}

/// AT+FSWRITE of 2,048 random bytes with each line end, then AT+FSREAD: the same bytes.
#[test]
fn fswrite_then_fsread_is_byte_identical_with_every_line_end() {
    let sim = SimProcess::spawn(&[]);
    let mut port = sim.port();
    port.at_ok("\r\n");
    for (i, (name, eol)) in EOLS.iter().enumerate() {
        let data = binary_payload(10 + i as u64, 2048, eol);
        port.line(&format!("AT+FSCREATE=\"{name}.bin\""), eol, "OK\r\n");
        let cmd = format!("AT+FSWRITE=\"{name}.bin\",0,2048,15");
        port.prompted(&cmd, eol, &data, "");
        let cmd = format!("AT+FSREAD=\"{name}.bin\",0,10240,0");
        port.send(format!("{cmd}{eol}").as_bytes());
        let mut want = format!("{cmd}{eol}\r\n").into_bytes();
        want.extend_from_slice(&data);
        want.extend_from_slice(b"\r\n\r\nOK\r\n");
        let got = port.read_bytes(want.len());
        assert!(got == want, "eol {name}: {}", diff_at(&got, &want));
        port.at_ok(eol);
    }
}

/// The L610's length-form AT+MQTTPUB, 1,024 random bytes (its limit), with each line end.
#[test]
fn l610_mqttpub_length_form_is_byte_identical_with_every_line_end() {
    let mosquitto = Mosquitto::start();
    let (_sim, mut port) = SimProcess::l610(&["--broker", &mosquitto.url()]);
    port.at_ok("\r\n");
    port.ok("AT+MQTTUSER=1,\"root\",\"luat123456\",\"l610-eol\"");
    let open = "AT+MQTTOPEN=1,\"h\",1883,0,60";
    port.line(open, "\r\n", "+MQTTOPEN: 1,1\r\n");
    let mqttpub = |name: &str| format!("AT+MQTTPUB=1,\"eol/{name}\",1,1,1024");
    let done = "\r\n+MQTTPUB: 1,1\r\n";
    retained_with_each_line_end(&mut port, &mosquitto, (20, 1024), mqttpub, done);
}

/// AT+GTSSLFILE with each line end, then a TLS AT+MQTTOPEN that verifies the broker with that
/// file. The PEM is sent without its final newline, so a byte lost at either end breaks it.
#[test]
fn l610_gtsslfile_then_a_verified_tls_open_with_every_line_end() {
    let certs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../certs");
    let ca = std::fs::read(certs.join("ca.crt")).unwrap();
    let ca = ca.trim_ascii_end().to_vec();
    assert!(ca.ends_with(b"-----END CERTIFICATE-----"));
    for (name, eol) in EOLS {
        let sim = SimProcess::spawn(&["--dialect", "l610"]);
        let mut port = sim.port();
        port.at_ok(eol);
        port.line("AT+GTSSLVER=4", eol, "OK\r\n");
        port.line("AT+GTSSLMODE=1", eol, "OK\r\n");
        let cmd = format!("AT+GTSSLFILE=\"TRUSTFILE\",{}", ca.len());
        port.prompted(&cmd, eol, &ca, "");
        port.line("AT+MIPCALL=1", eol, "+MIPCALL: 10.104.48.68\r\n");
        port.line("AT+MQTTUSER=1,\"root\",\"luat123456\"", eol, "OK\r\n");
        let open = "AT+MQTTOPEN=1,\"g510.mqtt.iot.bj.baidubce.com\",8883,0,60";
        let out = port.line(open, eol, "+MQTTOPEN: 1,");
        let result = port.read_bytes(3);
        assert_eq!(result, b"1\r\n", "eol {name}: {out:?}");
        port.line("AT+GTSSLERR?", eol, "OK\r\n");
        port.at_ok(eol);
    }
}

/// AT+MIPSTART then AT+MCONNECT with no AT+MCONFIG: CONNACK OK from a Mosquitto with
/// `allow_anonymous true`, which sees the IMEI as the client id and no user name (DIVERGENCES
/// A25). Each line end.
#[test]
fn mconnect_without_mconfig_connects_anonymously_as_the_imei() {
    let mosquitto = Mosquitto::anonymous();
    for (i, (name, eol)) in EOLS.iter().enumerate() {
        let imei = format!("86848807677171{i}");
        let sim = SimProcess::spawn(&["--imei", &imei, "--broker", &mosquitto.url()]);
        let mut port = sim.port();
        port.at_ok(eol);
        let start = "AT+MIPSTART=\"lbsmqtt.airm2m.com\",\"1884\"";
        port.line(start, eol, "CONNECT OK\r\n");
        assert_eq!(
            port.line("AT+MCONNECT=1,60", eol, "CONNACK OK\r\n"),
            format!("AT+MCONNECT=1,60{eol}\r\nOK\r\n\r\nCONNACK OK\r\n"),
            "eol {name}"
        );
        let line = mosquitto.logged(&format!(" as {imei} "));
        assert!(line.contains("New client connected"), "{line}");
        assert!(!line.contains(" u'"), "no user name: {line}");
        // The session works: a retained publish reaches mosquitto_sub.
        let publish = format!("AT+MPUB=\"anon/{name}\",0,1,\"hello\"");
        port.line(&publish, eol, "OK\r\n");
        let got = mosquitto_sub_one(&mosquitto, None, &format!("anon/{name}"));
        assert_eq!(got, b"hello");
        port.at_ok(eol);
    }
}

/// The L610 connects with a 55-byte client id and a 40-byte user name (issue 10's logged real
/// runs), sets its will with the length form (binary, with each line end), opens, and is
/// killed: the broker publishes that will, byte for byte.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn l610_long_client_id_and_will_length_form_fire_on_kill() {
    for (i, (name, eol)) in EOLS.iter().enumerate() {
        let mosquitto = Mosquitto::anonymous();
        let topic = format!("aws/things/dev-{name}/status");
        let watcher_id = format!("watcher-{name}");
        let qos = rumqttc::QoS::AtLeastOnce;
        let (_client, mut ev) = watcher(mosquitto.addr, &watcher_id, &topic, qos).await;

        let client_id = format!("{}-{name}", "c".repeat(55 - 1 - name.len()));
        assert_eq!(client_id.len(), 55);
        let user = "u".repeat(40);
        let will = binary_payload(30 + i as u64, 300, eol);
        let url = mosquitto.url();
        let (eol, will2, topic2, id2) = (
            eol.to_string(),
            will.clone(),
            topic.clone(),
            client_id.clone(),
        );
        let sim = tokio::task::spawn_blocking(move || {
            let sim = SimProcess::spawn(&["--dialect", "l610", "--broker", &url]);
            let mut port = sim.port();
            port.at_ok(&eol);
            port.line("AT+MIPCALL=1", &eol, "+MIPCALL: 10.104.48.68\r\n");
            let account = format!("AT+MQTTUSER=1,\"{user}\",\"pw\",\"{id2}\"");
            port.line(&account, &eol, "OK\r\n");
            let cmd = format!("AT+MQTTWILL=1,\"{topic2}\",1,0,{}", will2.len());
            port.prompted(&cmd, &eol, &will2, "");
            port.line("AT+MQTTOPEN=1,\"h\",1883,1,60", &eol, "+MQTTOPEN: 1,1\r\n");
            sim
        })
        .await
        .unwrap();
        let line = mosquitto.logged(&format!(" as {client_id} "));
        assert!(line.contains(&format!("u'{}'", "u".repeat(40))), "{line}");
        sim.signal(nix::sys::signal::Signal::SIGKILL);
        // The will is published.
        let got = next_publish(&mut ev, &topic).await;
        let why = diff_at(&got.payload, &will);
        assert!(got.payload[..] == will[..], "eol {name}: {why}");
        assert_eq!(got.qos, rumqttc::QoS::AtLeastOnce);
        drop(sim);
    }
}

/// `--allow-anonymous`: the embedded broker lets the default configuration in; without the
/// flag it refuses it (no user name) and the module prints `CLOSED` (A5).
#[test]
fn allow_anonymous_lets_the_default_configuration_into_the_embedded_broker() {
    for (flag, answer) in [(true, "CONNACK OK\r\n"), (false, "CLOSED\r\n")] {
        let args: &[&str] = if flag { &["--allow-anonymous"] } else { &[] };
        let sim = SimProcess::spawn(args);
        let mut port = sim.port();
        port.at_ok("\r\n");
        port.line("AT+MIPSTART=\"h\",1883", "\r\n", "CONNECT OK\r\n");
        let out = port.line("AT+MCONNECT=1,60", "\r\n", answer);
        assert_eq!(out, format!("AT+MCONNECT=1,60\r\n\r\nOK\r\n\r\n{answer}"));
        port.at_ok("\r\n");
    }
}
