//! HTTP over AT (issue 16 item 6): the host POSTs a random binary body, the way the drivers do
//! on each module, and reads the answer back with `AT+HTTPREAD`. Against the embedded HTTP test
//! server's `/echo` route (any host name goes there unless `--resolve` says otherwise), whose
//! body is the request as received, the body must come back byte for byte.
//!
//! - Air780E (HTTP/HTTPDATA.md, HTTPACTION.md, HTTPREAD.md of the vendor's manual):
//!   `AT+HTTPPARA="URL","<url>"`, `AT+HTTPDATA=<n>,<ms>`, `DOWNLOAD`, the bytes, `OK`,
//!   `AT+HTTPACTION=1`, `OK`, `+HTTPACTION: 1,<status>,<len>`.
//! - L610 (sim/src/dialect/l610/http.rs and its sources): `AT+HTTPSET="URL","<url>"`,
//!   `AT+HTTPDATA=<n>`, `>`, the bytes, `OK`, `AT+HTTPACT=1`, `OK`, `+HTTP: 1`,
//!   `+HTTPRES: 1,<status>,<len>`.
//!
//! The payload is [`random_payload`]'s: every byte value.

use anyhow::anyhow;
use cucumber::{then, when};

use super::payload::random_payload;
use super::StepResult;
use crate::device::show;
use crate::world::ModemWorld;

/// POSTs `n` random bytes as the drivers of the module whose request command the step names
/// do: the Air780E's `AT+HTTPACTION` (the body after `DOWNLOAD`) or the L610's `AT+HTTPACT`
/// (the body after `>`; `+HTTP: 1` before the result).
#[when(
    regex = r#"^the host POSTs (\d+) random bytes to "([^"]+)" with AT\+(HTTPACTION|HTTPACT), status (\d+)$"#
)]
async fn post(
    w: &mut ModemWorld,
    n: usize,
    url: String,
    action: String,
    status: u16,
) -> StepResult {
    let payload = random_payload(n, w.eol);
    let air780e = action == "HTTPACTION";
    let (set_url, data, prompt, answer) = if air780e {
        let answer = format!("+HTTPACTION: 1,{status},{{}}");
        (
            "HTTPPARA",
            format!("AT+HTTPDATA={n},10000"),
            "DOWNLOAD",
            answer,
        )
    } else {
        let answer = format!("+HTTPRES: 1,{status},{{}}");
        ("HTTPSET", format!("AT+HTTPDATA={n}"), ">", answer)
    };
    w.send_command(&format!("AT+{set_url}=\"URL\",\"{url}\""))
        .await?;
    w.expect("OK").await?;
    w.send_command(&data).await?;
    w.expect(prompt).await?;
    w.device()?.send_data(&payload).await?;
    w.expect("OK").await?;
    w.send_command(&format!("AT+{action}=1")).await?;
    w.expect("OK").await?;
    if !air780e {
        w.expect("+HTTP: 1").await?;
    }
    w.expect(&answer).await?;
    w.payload = payload;
    Ok(())
}

/// `AT+HTTPREAD` prints the response; the random bytes the host POSTed must be in it, whole
/// and unchanged (the `/echo` body ends with the request body), followed by the final `OK` or
/// the end of the data.
#[then(regex = r"^AT\+HTTPREAD gives back the random bytes$")]
async fn httpread_random(w: &mut ModemWorld) -> StepResult {
    let payload = w.payload.clone();
    if payload.is_empty() {
        return Err(anyhow!("no random payload was POSTed before this step").into());
    }
    w.send_command("AT+HTTPREAD").await?;
    let deadline = tokio::time::Instant::now() + w.timeout;
    if let Err(got) = w.device()?.expect_raw(&payload, deadline).await? {
        return Err(anyhow!(
            "AT+HTTPREAD did not give the {} bytes POSTed; it printed {} bytes: {}",
            payload.len(),
            got.len(),
            show(&got[..got.len().min(200)])
        )
        .into());
    }
    Ok(())
}
