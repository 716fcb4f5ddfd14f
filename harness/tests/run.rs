//! `modem-harness run`: the @hardware scenarios against a simulator's tty treated as an
//! external device with a plain Mosquitto, and against a poor fake device that must fail.

mod common;

use common::{harness, output_args, run_air780e_args, FakeDevice};
use modem_harness::mqtt::Mosquitto;
use modem_sim::net::HostPort;
use modem_sim::sim::{BrokerSetup, SimConfig, Simulator};

const ACCOUNT: (&str, &str) = ("hw-user", "hw-secret");

async fn mosquitto() -> Mosquitto {
    Mosquitto::start(
        &[(ACCOUNT.0.to_string(), ACCOUNT.1.to_string())],
        std::time::Duration::from_secs(10),
    )
    .await
    .expect("mosquitto (apt-get install mosquitto mosquitto-clients)")
}

/// A simulator that knows only Mosquitto `m`; the rest as `cfg` says.
async fn simulator(m: &Mosquitto, cfg: SimConfig) -> Simulator {
    Simulator::start(SimConfig {
        broker: BrokerSetup::External(HostPort {
            host: "127.0.0.1".into(),
            port: m.addr.port(),
        }),
        ..cfg
    })
    .await
    .unwrap()
}

/// `modem-harness run --port <port> --dialect air780e` against Mosquitto `m` with our
/// account, then `rest` (options and the features).
async fn run_air780e(port: &str, m: &Mosquitto, rest: &[&str]) -> (i32, String) {
    let broker = format!("mqtt://{}", m.addr);
    let mut args = run_air780e_args(port, &broker);
    args.extend_from_slice(&["--mqtt-user", ACCOUNT.0, "--mqtt-password", ACCOUNT.1]);
    args.extend_from_slice(rest);
    harness(&args).await
}

/// The summary's last line: at least 14 scenarios passed and none failed.
fn assert_at_least_14_passed(out: &str) {
    let last = out.lines().rfind(|l| l.ends_with(" failed")).unwrap_or("");
    let passed: usize = last.split(' ').next().unwrap_or("0").parse().unwrap_or(0);
    assert!(passed >= 14 && last.ends_with(" 0 failed"), "{last}\n{out}");
}

/// `--port socket://...` and `rfc2217://...`: the simulator's UART over TCP.
async fn run_over_url(scheme: &str) {
    let m = mosquitto().await;
    let serial = format!("{scheme}://127.0.0.1:0").parse().unwrap();
    let sim = simulator(
        &m,
        SimConfig {
            serial,
            ..SimConfig::default()
        },
    )
    .await;
    let url = sim.serial().host_url().unwrap();
    assert!(
        url.starts_with(&format!(
            "{}://127.0.0.1:",
            if scheme == "tcp-listen" {
                "socket"
            } else {
                scheme
            }
        )),
        "{url}"
    );
    let (code, out) = run_air780e(&url, &m, &["features"]).await;
    assert_eq!(code, 0, "{out}");
    assert_at_least_14_passed(&out);
    if scheme == "rfc2217" {
        assert_eq!(
            sim.line().baud,
            Some(115_200),
            "the harness set --baud over RFC 2217"
        );
    }
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_passes_against_the_simulator_over_socket_url() {
    run_over_url("tcp-listen").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_passes_against_the_simulator_over_rfc2217_url() {
    run_over_url("rfc2217").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_passes_against_the_simulator_tty_with_mosquitto() {
    let m = mosquitto().await;
    // The simulator only knows Mosquitto: the scenarios' vendor accounts work only because
    // `run` rewrites them to --mqtt-user / --mqtt-password.
    let sim = simulator(&m, SimConfig::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let junit = dir.path().join("junit.xml");
    let tr = dir.path().join("tr");
    let args = [
        &["--baud", "115200"][..],
        &output_args(&junit, &tr),
        &["features"],
    ]
    .concat();
    let (code, out) = run_air780e(sim.tty().to_str().unwrap(), &m, &args).await;
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("seed-001-mqtt-flows.feature:") && out.contains("(@sim: needs the simulator"),
        "@sim scenarios are left out with a reason: {out}"
    );
    // Every scenario is classified: @hardware, or @sim with its reason (or written for the
    // other module); none is left out for want of a tag.
    assert!(!out.contains("not tagged @hardware"), "{out}");
    assert_at_least_14_passed(&out);
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(xml.contains("<testcase"), "{xml}");
    // Each scenario's transcript, with the host rewritten to Mosquitto's address.
    let logs: Vec<String> = std::fs::read_dir(&tr)
        .unwrap()
        .flatten()
        .filter(|e| {
            let n = e.file_name().to_string_lossy().into_owned();
            n.starts_with("seed-000-air780e-mqtt-guide-") && n.ends_with(".log")
        })
        .map(|e| std::fs::read_to_string(e.path()).unwrap())
        .collect();
    let log = logs
        .iter()
        .find(|l| l.contains("mqttx"))
        .unwrap_or_else(|| panic!("a transcript of seed 000 section 6.2 in {}", tr.display()));
    assert!(
        log.contains(&format!("AT+MIPSTART=\"127.0.0.1\",\"{}\"", m.addr.port()))
            && log.contains(&format!("{},{}", ACCOUNT.0, ACCOUNT.1)),
        "{log}"
    );
    assert!(
        log.contains("// mqtt mqttx: received \"data from 4G module\""),
        "{log}"
    );
    sim.shutdown().await;
}

/// A module that knows the basics but answers ERROR to every MQTT command.
fn poor_answer(cmd: &str) -> String {
    let upper = cmd.to_ascii_uppercase();
    if upper.starts_with("AT+M") {
        "\r\nERROR\r\n".into()
    } else if upper == "AT+CPIN?" {
        "\r\n+CPIN: READY\r\n\r\nOK\r\n".into()
    } else if upper == "AT+CGATT?" {
        "\r\n+CGATT: 1\r\n\r\nOK\r\n".into()
    } else if upper == "AT+CSQ" {
        "\r\n+CSQ: 29,99\r\n\r\nOK\r\n".into()
    } else {
        "\r\nOK\r\n".into()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_fails_against_a_poor_device_and_shows_what_it_said() {
    let m = mosquitto().await;
    let dev = FakeDevice::start(poor_answer);
    let dir = tempfile::tempdir().unwrap();
    let junit = dir.path().join("junit.xml");
    let (code, out) = run_air780e(
        dev.path().to_str().unwrap(),
        &m,
        &[
            "--junit",
            junit.to_str().unwrap(),
            "--transcripts",
            dir.path().join("tr").to_str().unwrap(),
            // Seed 003's scenarios are tagged @model-air724ug.
            "--model",
            "air724ug",
            "features/seed-003-thingscloud.feature",
        ],
    )
    .await;
    assert_eq!(code, 1, "{out}");
    // The network check passes; every MQTT scenario fails on the device's ERROR.
    assert!(out.contains("1 passed, 4 failed"), "{out}");
    let report = &out[out.find("==== divergence report").expect(&out)..];
    assert!(
        report.contains("--- features/seed-003-thingscloud.feature:")
            && report.contains("seed section: @seed-003 @section-mqtt-connect"),
        "the scenario's source: {report}"
    );
    assert!(
        report.contains("expected the modem to say `OK`, but it said `ERROR`"),
        "expected and actual: {report}"
    );
    assert!(
        report.contains("-> AT+MCONFIG=thingscloud,hw-user,hw-secret")
            && report.contains("<- ERROR"),
        "the transcript's last lines: {report}"
    );
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(xml.contains("<failure"), "{xml}");
}
