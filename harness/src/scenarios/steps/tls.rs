//! TLS: how the broker's TLS side is set up before the module starts, and certificates written
//! into the module's file system with `AT+FSWRITE` (seed 000 sections 6.3 and 6.4).
//!
//! The broker set-up steps come before `Given a simulated Air780E`, which reads them.

use std::path::PathBuf;

use anyhow::{anyhow, Context};
use cucumber::{given, when};
use modem_sim::tls::pki::{Pki, PkiOptions};

use super::params::{Payload, Quoted};
use super::{send_after_prompt, StepResult};
use crate::world::ModemWorld;

/// The repository's committed test PKI.
fn certs_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../certs")
}

#[given(regex = r"^the broker's TLS listener requires client certificates$")]
async fn requires_client_certs(w: &mut ModemWorld) -> StepResult {
    w.tls.require_client_cert = true;
    Ok(())
}

/// A fresh PKI whose server certificate ran out: it chains to the fresh CA, so only its dates
/// are wrong.
#[given(regex = r"^the broker's TLS certificate expired in (\d{4})$")]
async fn expired_cert(w: &mut ModemWorld, year: i32) -> StepResult {
    let pki = Pki::generate(&PkiOptions {
        server_validity: ((year - 1, 1, 1), (year, 1, 1)),
        ca_name: "modem-sim scenario CA (expired server)".into(),
        ..PkiOptions::default()
    })?;
    w.tls.pki = Some(pki);
    Ok(())
}

/// A fresh PKI whose server certificate names only `name`.
#[given(expr = "the broker's TLS certificate is for {quoted} only")]
async fn cert_for_other_name(w: &mut ModemWorld, name: Quoted) -> StepResult {
    let pki = Pki::generate(&PkiOptions {
        server_names: vec![name.0],
        ca_name: "modem-sim scenario CA (other name)".into(),
        ..PkiOptions::default()
    })?;
    w.tls.pki = Some(pki);
    Ok(())
}

/// `AT+FSWRITE="<name>",0,<len>,15`, the `>` prompt, the bytes, `OK`: the way seed 000
/// sections 6.3/6.4 write each certificate, with the real length of what is written.
async fn fswrite(w: &mut ModemWorld, name: &str, bytes: &[u8]) -> anyhow::Result<()> {
    let command = format!("AT+FSWRITE=\"{name}\",0,{},15", bytes.len());
    send_after_prompt(w, &command, bytes).await
}

#[when(regex = r#"^the host writes "([^"]+)" from certs/([A-Za-z0-9._-]+) with AT\+FSWRITE$"#)]
async fn write_from_certs(w: &mut ModemWorld, name: String, file: String) -> StepResult {
    let path = certs_dir().join(&file);
    let bytes = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
    Ok(fswrite(w, &name, &bytes).await?)
}

/// The CA of the broker's TLS listener (the committed one, or the scenario's).
#[when(expr = "the host writes {quoted} from the broker's CA with AT+FSWRITE")]
async fn write_broker_ca(w: &mut ModemWorld, name: Quoted) -> StepResult {
    let ca = w.broker_pki().ca_cert;
    Ok(fswrite(w, &name.0, ca.as_bytes()).await?)
}

/// A CA made for this step alone: it signed nothing the broker holds.
#[when(expr = "the host writes {quoted} from an unrelated CA with AT+FSWRITE")]
async fn write_unrelated_ca(w: &mut ModemWorld, name: Quoted) -> StepResult {
    let pki = Pki::generate(&PkiOptions {
        ca_name: "an unrelated CA".into(),
        ..PkiOptions::default()
    })?;
    Ok(fswrite(w, &name.0, pki.ca_cert.as_bytes()).await?)
}

#[when(expr = "the host writes {quoted} holding {payload} with AT+FSWRITE")]
async fn write_bytes(w: &mut ModemWorld, name: Quoted, bytes: Payload) -> StepResult {
    Ok(fswrite(w, &name.0, &bytes.0).await?)
}

/// Raw bytes on the UART, no line end (data after a `>` prompt).
#[when(expr = "the host sends the bytes {payload}")]
async fn send_bytes(w: &mut ModemWorld, bytes: Payload) -> StepResult {
    let bytes = bytes.0;
    if bytes.is_empty() {
        return Err(anyhow!("no bytes to send").into());
    }
    w.device()?.send_data(&bytes).await?;
    Ok(())
}

/// `AT+GTSSLFILE="<KIND>",<len>`, the `>` prompt, the bytes, `OK`: how seed 002 section 3.3
/// loads the L610's certificates, with the real length of what is loaded.
async fn gtsslfile(w: &mut ModemWorld, kind: &str, bytes: &[u8]) -> anyhow::Result<()> {
    let command = format!("AT+GTSSLFILE=\"{kind}\",{}", bytes.len());
    send_after_prompt(w, &command, bytes).await
}

#[when(
    regex = r#"^the host loads "(CAFILE|KEYFILE|TRUSTFILE)" from certs/([A-Za-z0-9._-]+) with AT\+GTSSLFILE$"#
)]
async fn load_from_certs(w: &mut ModemWorld, kind: String, file: String) -> StepResult {
    let path = certs_dir().join(&file);
    let bytes = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
    Ok(gtsslfile(w, &kind, &bytes).await?)
}

/// A root CA made for this step alone: it signed nothing the broker holds.
#[when(regex = r#"^the host loads "TRUSTFILE" from an unrelated CA with AT\+GTSSLFILE$"#)]
async fn load_unrelated_trust(w: &mut ModemWorld) -> StepResult {
    let pki = Pki::generate(&PkiOptions {
        ca_name: "an unrelated CA".into(),
        ..PkiOptions::default()
    })?;
    Ok(gtsslfile(w, "TRUSTFILE", pki.ca_cert.as_bytes()).await?)
}
