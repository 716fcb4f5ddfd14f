//! Broker-side MQTT clients: the PC tool of the guides (mqttx in seed 000), or the cloud of
//! seed 003. They log in as `root` / `luat123456` to whatever broker the modem uses.

use anyhow::{bail, Result};
use cucumber::gherkin::Step;
use cucumber::{given, then, when};

use super::params::Quoted;
use super::{docstring, unescape, StepResult};
use crate::mqtt::{qos, MqttClient};
use crate::world::ModemWorld;

async fn ensure_client(w: &mut ModemWorld, name: &str) -> Result<()> {
    if !w.clients.contains_key(name) {
        let addr = w.broker_addr().await?;
        let id = format!("harness-{name}-{}", std::process::id());
        let (user, password) = w.broker_credentials();
        let c = MqttClient::connect(&id, addr, &user, &password, w.timeout).await?;
        w.transcript.mqtt(name, format!("connect as {id}"));
        w.clients.insert(name.to_string(), c);
    }
    Ok(())
}

#[given(expr = "an MQTT client {quoted}")]
async fn client(w: &mut ModemWorld, name: Quoted) -> StepResult {
    Ok(ensure_client(w, &name.0).await?)
}

#[given(regex = r#"^an MQTT client "([^"]+)" subscribed to "([^"]+)"(?: at QoS ([0-2]))?$"#)]
#[given(regex = r#"^(?:an MQTT )?client "([^"]+)" subscribes to "([^"]+)"(?: at QoS ([0-2]))?$"#)]
#[when(regex = r#"^(?:an MQTT )?client "([^"]+)" subscribes to "([^"]+)"(?: at QoS ([0-2]))?$"#)]
async fn subscribed(w: &mut ModemWorld, name: String, filter: String, q: String) -> StepResult {
    ensure_client(w, &name).await?;
    let q = qos(q.parse().unwrap_or(0))?;
    let t = w.timeout;
    w.transcript
        .mqtt(&name, format!("subscribe {filter:?} at {q:?}"));
    Ok(w.client(&name)?.subscribe(&filter, q, t).await?)
}

async fn publish(
    w: &mut ModemWorld,
    name: &str,
    payload: Vec<u8>,
    topic: &str,
    q: &str,
    retained: &str,
) -> Result<()> {
    ensure_client(w, name).await?;
    let q = qos(q.parse().unwrap_or(0))?;
    let t = w.timeout;
    w.transcript.mqtt(
        name,
        format!(
            "publish {:?} to {topic:?} at {q:?}{}",
            crate::device::show(&payload),
            if retained.is_empty() { "" } else { " retained" }
        ),
    );
    w.client(name)?
        .publish(topic, q, !retained.is_empty(), payload, t)
        .await
}

#[when(
    regex = r#"^client "([^"]+)" publishes "((?:[^"\\]|\\.)*)" to "([^"]+)"(?: at QoS ([0-2]))?( retained)?$"#
)]
#[given(
    regex = r#"^client "([^"]+)" (?:publishes|published) "((?:[^"\\]|\\.)*)" to "([^"]+)"(?: at QoS ([0-2]))?( retained)?$"#
)]
async fn publishes(
    w: &mut ModemWorld,
    name: String,
    payload: String,
    topic: String,
    q: String,
    retained: String,
) -> StepResult {
    Ok(publish(w, &name, unescape(&payload)?, &topic, &q, &retained).await?)
}

/// The payload as a doc string, taken literally (JSON with quotes, for instance).
#[when(regex = r#"^client "([^"]+)" publishes to "([^"]+)"(?: at QoS ([0-2]))?( retained)?:$"#)]
async fn publishes_doc(
    w: &mut ModemWorld,
    name: String,
    topic: String,
    q: String,
    retained: String,
    step: &Step,
) -> StepResult {
    let payload = docstring(step)?.into_bytes();
    Ok(publish(w, &name, payload, &topic, &q, &retained).await?)
}

pub(crate) async fn receive(
    w: &mut ModemWorld,
    name: &str,
    payload: Vec<u8>,
    topic: &str,
    q: &str,
    retained: &str,
) -> Result<()> {
    let t = w.timeout;
    let r = w.client(name)?.receive(topic, &payload, t).await?;
    w.transcript.mqtt(
        name,
        format!(
            "received {:?} on {topic:?} at {:?}{}",
            crate::device::show(&payload),
            r.qos,
            if r.retain { " retained" } else { "" }
        ),
    );
    if !q.is_empty() {
        let want = qos(q.parse().unwrap_or(0))?;
        if r.qos != want {
            bail!(
                "{name:?} received {:?} on {topic:?} with {:?}, expected {want:?}",
                crate::device::show(&payload),
                r.qos
            );
        }
    }
    let want_retain = !retained.is_empty();
    if r.retain != want_retain {
        bail!(
            "{name:?} received {:?} on {topic:?} with retain={}, expected retain={}",
            crate::device::show(&payload),
            r.retain,
            !retained.is_empty()
        );
    }
    Ok(())
}

#[then(
    regex = r#"^client "([^"]+)" receives "((?:[^"\\]|\\.)*)" on "([^"]+)"(?: with QoS ([0-2]))?( retained)?$"#
)]
async fn receives(
    w: &mut ModemWorld,
    name: String,
    payload: String,
    topic: String,
    q: String,
    retained: String,
) -> StepResult {
    Ok(receive(w, &name, unescape(&payload)?, &topic, &q, &retained).await?)
}

#[then(regex = r#"^client "([^"]+)" receives on "([^"]+)"(?: with QoS ([0-2]))?( retained)?:$"#)]
async fn receives_doc(
    w: &mut ModemWorld,
    name: String,
    topic: String,
    q: String,
    retained: String,
    step: &Step,
) -> StepResult {
    let payload = docstring(step)?.into_bytes();
    Ok(receive(w, &name, payload, &topic, &q, &retained).await?)
}
