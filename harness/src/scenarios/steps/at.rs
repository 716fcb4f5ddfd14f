//! The host side of the UART: starting a module, sending AT lines, expecting answers.
//!
//! `"..."` around an AT line or an expected line is taken greedily up to the last quote, so a
//! command with quotes inside needs no escaping: `When the host sends "AT+MSUB="mqtt/pub",0"`.

use cucumber::gherkin::Step;
use cucumber::{given, then, when};

use super::params::Payload;
use super::{docstring, unescape, StepResult};
use crate::device::Compare;
use crate::engine::log::{Entry, Log};
use crate::world::ModemWorld;

/// An Air780E-family module (the model: `Given the module is ...`, or `features --model`) or
/// the Fibocom L610 (seed 002). "just powered on" leaves its power-on lines (the L610's boot
/// URCs) for the scenario to read; otherwise they are waited for and the line synchronised
/// with `AT` first.
#[given(
    regex = r#"^a simulated (Air780E|L610)( using Mosquitto)?( just powered on)?(?: whose broker also accepts "([^"]*)" with password "([^"]*)")?$"#
)]
async fn simulated(
    w: &mut ModemWorld,
    dialect: String,
    mosquitto: String,
    fresh: String,
    user: String,
    password: String,
) -> StepResult {
    let dialect: modem_sim::dialect::DialectKind =
        dialect.parse().map_err(|e: String| anyhow::anyhow!(e))?;
    let extra = if user.is_empty() {
        vec![]
    } else {
        vec![(user, password)]
    };
    Ok(
        w.start_as(dialect, !mosquitto.is_empty(), extra, fresh.is_empty())
            .await?,
    )
}

/// Which member of the family the next `Given a simulated ...` starts, at which firmware, and
/// what its clock shows at power-on (UTC): `Given the module is an "air780ep" with firmware
/// "V1007" whose clock reads "2024/08/23,06:52:50"`.
#[given(
    regex = r#"^the module is an? "([^"]+)"(?: with firmware "([^"]+)")?(?: whose clock reads "([^"]+)")?$"#
)]
async fn the_module_is(
    w: &mut ModemWorld,
    model: String,
    firmware: String,
    time: String,
) -> StepResult {
    w.model.model = Some(model);
    w.model.firmware = (!firmware.is_empty()).then_some(firmware);
    if !time.is_empty() {
        let t = modem_sim::modem::Civil::parse(&time)
            .ok_or_else(|| anyhow::anyhow!("`{time}` is not a time such as 2024/08/23,06:52:50"))?;
        w.model.time = Some(t.to_unix());
    }
    let dialect = modem_sim::modem::profile::dialect_of(w.model.model.as_deref().unwrap_or(""))
        .unwrap_or_default();
    w.model.profile(dialect).map_err(|e| anyhow::anyhow!(e))?;
    Ok(())
}

/// The embedded broker as `modem-sim --allow-anonymous` runs it: a driver that never sends
/// `AT+MCONFIG` connects with the module's default configuration (DIVERGENCES A25).
#[given(regex = r"^a simulated Air780E whose broker allows anonymous clients$")]
async fn simulated_anonymous(w: &mut ModemWorld) -> StepResult {
    w.allow_anonymous = true;
    Ok(w.start(false, vec![]).await?)
}

/// Raw bytes after a `>` prompt (an L610 `AT+MQTTPUB=<id>,<topic>,<qos>,<retain>,<len>` or
/// `AT+GTSSLFILE`): sent as they are, without a line end.
#[when(expr = "the host sends the data {payload}")]
async fn host_sends_data(w: &mut ModemWorld, data: Payload) -> StepResult {
    Ok(w.device()?.send_data(&data.0).await?)
}

#[when(regex = r#"^the host sends "(.*)"$"#)]
async fn host_sends(w: &mut ModemWorld, line: String) -> StepResult {
    Ok(w.send_command(&line).await?)
}

#[then(regex = r#"^the modem (?:answers|says) "(.*)"$"#)]
async fn modem_says(w: &mut ModemWorld, line: String) -> StepResult {
    Ok(w.expect(&line).await?)
}

/// A line whose rest changes from run to run (the clock in `+NITZ: ...`): only its start is
/// compared.
#[then(regex = r#"^the modem says a line starting with "(.*)"$"#)]
async fn modem_says_starting(w: &mut ModemWorld, start: String) -> StepResult {
    let t = w.timeout;
    Ok(w.device()?.expect_as(&start, Compare::Start, t).await?)
}

/// A log excerpt as printed in the guides: `AT` lines are sent, the others awaited in order.
#[when(regex = r"^the host runs:$")]
#[given(regex = r"^the host (?:has run|runs):$")]
async fn host_runs(w: &mut ModemWorld, step: &Step) -> StepResult {
    Ok(w.run_log(&docstring(step)?).await?)
}

/// Lines the module prints by itself (URCs), in order.
#[then(regex = r"^the modem says:$")]
async fn modem_says_block(w: &mut ModemWorld, step: &Step) -> StepResult {
    let log = Log::parse("the doc string", &docstring(step)?)?;
    if let Some(line) = log.lines.iter().find_map(|l| match &l.entry {
        Entry::Send(line) => Some(line),
        _ => None,
    }) {
        return Err(anyhow::anyhow!("`the modem says:` only awaits lines; {line:?} looks like a host command (use `the host runs:`)").into());
    }
    Ok(w.run_lines(log.lines).await?)
}

/// Several command lines in one write, so the module reads them together (before any network
/// event can come between them).
#[when(regex = r"^the host sends in one write:$")]
async fn host_sends_together(w: &mut ModemWorld, step: &Step) -> StepResult {
    let text = docstring(step)?;
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    w.device()?.send_lines(&lines).await?;
    Ok(())
}

/// `AT+MPUBEX=<topic>,<qos>,<retain>,<len>`, the `>` prompt, then the raw payload.
#[when(
    regex = r#"^the host publishes with AT\+MPUBEX to "([^"]*)" at QoS ([0-2])( retained)? the payload "((?:[^"\\]|\\.)*)"$"#
)]
async fn host_mpubex(
    w: &mut ModemWorld,
    topic: String,
    qos: u8,
    retained: String,
    payload: String,
) -> StepResult {
    let payload = unescape(&payload)?;
    let retain = u8::from(!retained.is_empty());
    w.send_command(&format!(
        "AT+MPUBEX=\"{topic}\",{qos},{retain},{}",
        payload.len()
    ))
    .await?;
    w.expect(">").await?;
    w.device()?.send_data(&payload).await?;
    Ok(())
}

/// A received message, its payload read by length (it may hold CR, LF, NUL).
#[then(regex = r#"^the modem receives on "([^"]*)" the payload "((?:[^"\\]|\\.)*)"$"#)]
async fn modem_receives(w: &mut ModemWorld, topic: String, payload: String) -> StepResult {
    let payload = unescape(&payload)?;
    let t = w.timeout;
    let m = w.device()?.read_msub(t).await?;
    if m.topic != topic || m.payload != payload {
        return Err(anyhow::anyhow!(
            "expected a message on {topic:?} with {:?}, got one on {:?} with {:?}",
            crate::device::show(&payload),
            m.topic,
            crate::device::show(&m.payload)
        )
        .into());
    }
    Ok(())
}
