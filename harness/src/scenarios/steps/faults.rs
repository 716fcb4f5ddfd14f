//! Faults from the seed flows: the server dropping the link, a server that kicks links which do
//! not authenticate in time, and the network deactivating the PDP context.

use anyhow::anyhow;
use cucumber::{given, when};
use modem_sim::Fault;

use super::params::Quoted;
use super::{duration, StepResult};
use crate::world::ModemWorld;

/// Seed 001 "连接被动断开": the TCP link is closed by the far end.
#[when(regex = r"^the broker drops the modem's connection$")]
async fn broker_drops(w: &mut ModemWorld) -> StepResult {
    let id = w
        .modem_client_id
        .clone()
        .ok_or_else(|| anyhow!("no AT+MCONFIG sent yet: which client id should be dropped?"))?;
    let broker = w
        .sim()?
        .broker()
        .ok_or_else(|| anyhow!("dropping a connection needs the embedded broker"))?;
    w.transcript.fault(format!("broker drops client {id}"));
    if !broker.kick_client(&id) {
        return Err(anyhow::anyhow!("the embedded broker has no client {id:?} to drop").into());
    }
    Ok(())
}

/// Seed 003: the cloud waits 5 s for MQTT CONNECT after the TCP connect, then closes the link.
/// Scenarios use a shorter time so they stay fast.
#[given(
    regex = r"^the server closes TCP links that send no MQTT CONNECT within (\d+) ?(ms|milliseconds?|s|seconds?)$"
)]
#[when(
    regex = r"^the server closes TCP links that send no MQTT CONNECT within (\d+) ?(ms|milliseconds?|s|seconds?)$"
)]
async fn connect_timeout(w: &mut ModemWorld, n: u64, unit: String) -> StepResult {
    let broker = w
        .sim()?
        .broker()
        .ok_or_else(|| anyhow!("a CONNECT timeout needs the embedded broker"))?;
    let d = duration(n, &unit);
    broker.set_connect_timeout(Some(d));
    w.transcript
        .fault(format!("broker closes links without CONNECT after {d:?}"));
    Ok(())
}

/// Seed 001 "PDP被动去激活".
#[when(regex = r"^the network deactivates the PDP context$")]
async fn pdn_deact(w: &mut ModemWorld) -> StepResult {
    w.transcript.fault("network deactivates the PDP context");
    w.sim()?.inject(Fault::PDN_DEACT).await?;
    Ok(())
}

/// Any fault of the control channel's list, in its text form (`closed`, `pdn-deact 3600`,
/// `signal 7`, `reset on publish 2`, ...): recorded, time-stamped, in the transcript beside the AT traffic, then
/// applied; the step ends once the fault's consequences are queued for the UART.
#[when(expr = "the fault {quoted} is injected")]
#[given(expr = "the fault {quoted} is injected")]
async fn inject(w: &mut ModemWorld, fault: Quoted) -> StepResult {
    let req: modem_sim::Request = fault.0.parse()?;
    w.transcript.fault(req.to_string());
    w.sim()?.request(req).await?;
    Ok(())
}
