//! Broker-side MQTT clients: the PC tool of the guides (mqttx in seed 000), or the cloud of
//! seed 003. They log in as `root` / `luat123456` to whatever broker the modem uses.

use anyhow::{bail, Result};
use cucumber::gherkin::Step;
use cucumber::{given, then, when};
use rumqttc::QoS;

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

/// What a publish or receive step says: the client, the payload, the topic, the QoS (when the
/// step names one) and whether the message is retained.
struct Message {
    client: String,
    payload: Vec<u8>,
    topic: String,
    qos: Option<QoS>,
    retain: bool,
}

impl Message {
    /// From the step's captures: the client, the quoted payload (or nothing), the topic, the
    /// QoS, ` retained`. The payload is the quoted one, its C escapes decoded, or else the
    /// step's doc string, taken literally (JSON with quotes, for instance).
    fn of(step: &Step, captures: &[String]) -> Result<Message> {
        let [client, quoted, topic, q, retained] = captures else {
            bail!("a message step captures 5 values, not {}", captures.len());
        };
        let payload = match quoted.strip_prefix('"').and_then(|p| p.strip_suffix('"')) {
            Some(_) if step.docstring.is_some() => {
                bail!("the payload is given twice: quoted and as a doc string")
            }
            Some(p) => unescape(p)?,
            None => docstring(step)?.into_bytes(),
        };
        let qos = match q.as_str() {
            "" => None,
            n => Some(qos(n.parse()?)?),
        };
        Ok(Message {
            client: client.clone(),
            payload,
            topic: topic.clone(),
            qos,
            retain: !retained.is_empty(),
        })
    }

    fn retained(&self) -> &'static str {
        if self.retain {
            " retained"
        } else {
            ""
        }
    }
}

async fn publish(w: &mut ModemWorld, m: Message) -> Result<()> {
    ensure_client(w, &m.client).await?;
    let q = m.qos.unwrap_or(QoS::AtMostOnce);
    let t = w.timeout;
    let note = format!(
        "publish {:?} to {:?} at {q:?}{}",
        crate::device::show(&m.payload),
        m.topic,
        m.retained()
    );
    w.transcript.mqtt(&m.client, note);
    w.client(&m.client)?
        .publish(&m.topic, q, m.retain, m.payload, t)
        .await
}

/// The payload quoted (`"..."`, C escapes) or, after a `:`, as a doc string.
#[when(
    regex = r#"^client "([^"]+)" publishes (?:("(?:[^"\\]|\\.)*") )?to "([^"]+)"(?: at QoS ([0-2]))?( retained)?:?$"#
)]
#[given(
    regex = r#"^client "([^"]+)" (?:publishes|published) (?:("(?:[^"\\]|\\.)*") )?to "([^"]+)"(?: at QoS ([0-2]))?( retained)?:?$"#
)]
async fn publishes(w: &mut ModemWorld, step: &Step, captures: &[String]) -> StepResult {
    Ok(publish(w, Message::of(step, captures)?).await?)
}

async fn receive(w: &mut ModemWorld, m: Message) -> Result<()> {
    let t = w.timeout;
    let (name, topic, shown) = (&m.client, &m.topic, crate::device::show(&m.payload));
    let r = w.client(name)?.receive(topic, &m.payload, t).await?;
    w.transcript.mqtt(
        name,
        format!(
            "received {shown:?} on {topic:?} at {:?}{}",
            r.qos,
            if r.retain { " retained" } else { "" }
        ),
    );
    if let Some(want) = m.qos {
        if r.qos != want {
            bail!(
                "{name:?} received {shown:?} on {topic:?} with {:?}, expected {want:?}",
                r.qos
            );
        }
    }
    if r.retain != m.retain {
        bail!(
            "{name:?} received {shown:?} on {topic:?} with retain={}, expected retain={}",
            r.retain,
            m.retain
        );
    }
    Ok(())
}

/// The payload quoted (`"..."`, C escapes) or, after a `:`, as a doc string.
#[then(
    regex = r#"^client "([^"]+)" receives (?:("(?:[^"\\]|\\.)*") )?on "([^"]+)"(?: with QoS ([0-2]))?( retained)?:?$"#
)]
async fn receives(w: &mut ModemWorld, step: &Step, captures: &[String]) -> StepResult {
    Ok(receive(w, Message::of(step, captures)?).await?)
}
