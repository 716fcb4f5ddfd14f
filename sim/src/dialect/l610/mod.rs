//! The Fibocom L610 AT dialect, as seed 002 (`../shared/seeds/002_4143183515b497ac.txt`, the
//! L610 "standard MQTT" application guide) shows it.
//!
//! Sources, cited per command:
//! - `seed 002 section 3.2`: the guide's command table (expected answers, timeouts);
//! - `seed 002 section 3.3`: the guide's test log (the exact text; verbatim copy in
//!   `fixtures/seed-logs/002-3.3-test-log.log`);
//! - `seed 002 FAQ 4.x`: the guide's FAQ;
//! - `mqtt manual (third-party transcription)`: the syntax tables of "FIBOCOM L610 Series AT
//!   Commands_MQTT V1.0.2" as a public driver project transcribed them (parameter ranges, the
//!   optional client id string, `+MQTTBREAK` causes, CME 700-704). Not the vendor's own text:
//!   every choice resting on it is a row in `fixtures/DIVERGENCES.md`.
//!
//! How the L610 differs from the Air780E: echo on (both), `ERROR` without a reason until
//! `AT+CMEE=1|2` (FAQ 4.1), a data call the host must make (`AT+MIPCALL=1`), MQTT results as
//! URCs with a status (`+MQTTOPEN: 1,1`), two MQTT clients (ids 1 and 2), `+MQTTMSG` for
//! incoming messages, and TLS set up with `AT+GTSSL*`.

mod basic;
mod commands;
mod http;
mod mip;
mod mipcall;
mod mqtt;
mod ssl;

use crate::at::Command;
use crate::fault::{Fault, PdnDeact, Signal};
use crate::modem::{CellState, Identity};
use crate::net::NetEvent;

use super::{Dialect, DialectKind, Out};

/// What the bytes after a `>` prompt are for.
#[derive(Debug, Clone, PartialEq)]
enum Prompted {
    /// The payload of a length-form `AT+MQTTPUB`.
    Publish(mqtt::PendingPublish),
    /// The contents of an `AT+GTSSLFILE`.
    SslFile(ssl::FileKind),
    /// The payload of a length-form `AT+MQTTWILL`.
    Will(mqtt::PendingWill),
    /// The bytes of an `AT+MIPSEND`.
    Send(mip::PendingSend),
    /// The body of an `AT+HTTPDATA`.
    HttpData,
}

pub struct L610 {
    cell: CellState,
    /// Settings of the basic commands that the Air780E's [`CellState`] has no field for.
    basic: basic::Basic,
    call: mipcall::Call,
    mqtt: mqtt::Mqtt,
    mip: mip::Mip,
    ssl: ssl::Ssl,
    http: http::Http,
    pending: super::pending::Pending<Prompted>,
    /// The echo setting, mirrored from the framer for `AT&W`.
    echo: bool,
    /// What `AT&W` saved: echo and `AT+CMEE` (V.250 section 6.1.3).
    saved: (bool, u8),
}

impl L610 {
    pub fn new(mut identity: Identity) -> Self {
        identity.profile = super::own_profile(DialectKind::L610, identity.profile);
        let mut cell = CellState::new(identity);
        // Seed 002 FAQ 4.1: errors are a bare `ERROR` until the host sends `AT+CMEE=1|2`.
        cell.cmee = 0;
        // Seed 002 section 3.3: `+CSQ: 25,99`.
        cell.rssi = 25;
        // Seed 002 section 3.3: `AT+MIPCALL?` answers `+MIPCALL: 0` until the host makes the
        // data call; the context is not up at power-on.
        cell.pdp_active = false;
        L610 {
            cell,
            basic: basic::Basic::default(),
            call: mipcall::Call::default(),
            mqtt: mqtt::Mqtt::default(),
            mip: mip::Mip::default(),
            ssl: ssl::Ssl::default(),
            http: http::Http::default(),
            pending: Default::default(),
            echo: true,
            saved: (true, 0),
        }
    }
}

impl L610 {
    /// Power off and on, or a reset: the links end without DISCONNECT and without a URC,
    /// every setting is lost (the L610 keeps no `AT+GTSSL*` setting over power loss either: a
    /// public project's record of a real L610, fixtures/DIVERGENCES.md L21), and the power-on
    /// URCs follow.
    fn reboot(&mut self, out: &mut Out) {
        tracing::info!("module restarts");
        self.mqtt.power_off(out);
        self.mip.power_off(out);
        self.http.network_lost(false, out);
        out.cancel_data();
        out.set_echo(true);
        let identity = self.cell.identity.clone();
        let mqtt = std::mem::take(&mut self.mqtt);
        let mip = std::mem::take(&mut self.mip);
        let saved = self.saved;
        *self = L610::new(identity);
        self.mqtt = mqtt;
        self.mip = mip;
        self.saved = saved;
        self.restore(saved, out);
        self.boot(out);
    }

    fn restore(&mut self, (echo, cmee): (bool, u8), out: &mut Out) {
        self.echo = echo;
        out.set_echo(echo);
        self.cell.cmee = cmee;
    }
}

impl Dialect for L610 {
    /// Seed 002 section 3.3: "开机主动上报" `AT command ready`, then `+SIM READY` once the SIM is
    /// read (the profile's boot lines, `fixtures/profiles/l610.tsv`). Both reach the host
    /// before its first command (see fixtures/DIVERGENCES.md).
    fn boot(&mut self, out: &mut Out) {
        let now = self.cell.clock.now();
        for l in &self.cell.identity.profile.boot {
            if let crate::modem::BootLine::Line(l) = l.render(&now) {
                out.line(l);
            }
        }
    }

    /// Through the command table, `commands::COMMANDS`. Unknown names answer `ERROR`,
    /// seed 002 section 3.3's misprint `AT+MQTTOOPEN` among them.
    fn on_command(&mut self, cmd: Command, out: &mut Out) {
        super::commands::dispatch(commands::COMMANDS, self, cmd, out)
    }

    fn on_data(&mut self, data: Vec<u8>, out: &mut Out) {
        match self.pending.take() {
            Some(Prompted::Publish(p)) => self.mqtt.publish_data(&self.cell, p, data, out),
            Some(Prompted::SslFile(kind)) => self.ssl.file_data(kind, data, out),
            Some(Prompted::Will(w)) => self.mqtt.will_data(w, data, out),
            Some(Prompted::Send(p)) => self.mip.send_data(p, data, out),
            Some(Prompted::HttpData) => self.http.data(data, out),
            None => {
                tracing::warn!(
                    len = data.len(),
                    "prompted data with nothing waiting for it"
                );
                out.error()
            }
        }
    }

    /// A `>` prompt that got no byte for `mqtt::PROMPT_IDLE`: nothing is published, set or
    /// loaded, `ERROR` (fixtures/DIVERGENCES.md A24).
    fn on_prompt_abandoned(&mut self, why: super::Abandoned, out: &mut Out) {
        self.pending.abandon(why, out)
    }

    fn on_net(&mut self, ev: NetEvent, out: &mut Out) {
        if mip::Mip::owns(ev.link) {
            return self.mip.on_net(&mut self.ssl, ev, out);
        }
        if self.http.owns(ev.link) {
            return self.http.on_net(ev, out);
        }
        self.mqtt.on_net(&self.cell, &mut self.ssl, ev, out)
    }

    fn on_timer(&mut self, id: u64, _out: &mut Out) {
        if id == PDN_BACK_TIMER {
            // The network accepts a data call again; the host makes it (`AT+MIPCALL=1`).
            tracing::info!("PDP context can be activated again");
            self.cell.pdp_barred = false;
        }
    }

    fn on_fault(&mut self, fault: &Fault, out: &mut Out) {
        let cell = &mut self.cell;
        match fault {
            // The network drops the PDP context: the L610 reports the data call as gone with
            // the same URC `AT+MIPCALL=0` ends with (seed 002 section 3.3), and every MQTT
            // client on it breaks (fixtures/DIVERGENCES.md). Until `back_after` has passed a
            // new `AT+MIPCALL=1` ends with `+MIPCALL: 0`.
            Fault::PdnDeact(PdnDeact { back_after }) => {
                if self.call.drop_call(cell) {
                    out.line("+MIPCALL: 0");
                }
                self.mqtt.network_lost(out);
                self.mip.network_lost(out);
                self.http.network_lost(true, out);
                if !back_after.is_zero() {
                    cell.pdp_barred = true;
                    out.timer(PDN_BACK_TIMER, *back_after);
                }
            }
            // Seed 002 FAQ 4.4 (drops: check signal and registration first): the registration
            // URCs the host asked for, then the call and its clients go as on `pdn-deact`.
            Fault::Deregister(_) | Fault::SimRemoved(_) => {
                if matches!(fault, Fault::SimRemoved(_)) {
                    cell.sim = crate::modem::SimState::Absent;
                }
                let mut urcs = Vec::new();
                cell.set_registration(crate::modem::RegStatus::NotRegistered, &mut urcs);
                urcs.iter().for_each(|u| out.line(u));
                if self.call.drop_call(cell) {
                    out.line("+MIPCALL: 0");
                }
                self.mqtt.network_lost(out);
                self.mip.network_lost(out);
                self.http.network_lost(true, out);
            }
            Fault::Register(_) | Fault::SimInserted(_) => {
                if matches!(fault, Fault::SimInserted(_))
                    && cell.sim != crate::modem::SimState::Ready
                {
                    cell.sim = crate::modem::SimState::Ready;
                    // Seed 002 section 3.3: the URC the module prints once it has read the SIM.
                    out.line("+SIM READY");
                }
                if cell.sim != crate::modem::SimState::Ready {
                    tracing::info!("no SIM: the module cannot register");
                    return;
                }
                let mut urcs = Vec::new();
                cell.set_registration(crate::modem::RegStatus::Home, &mut urcs);
                urcs.iter().for_each(|u| out.line(u));
            }
            Fault::Signal(Signal(n)) => cell.rssi = *n,
            Fault::PowerCycle(_) | Fault::WatchdogReset(_) => self.reboot(out),
            // The others enter below the dialect (the socket, the broker, the UART); the module
            // sees their consequences as network events, or never.
            _ => {}
        }
    }
}

/// The timer that ends a `pdn-deact SECS`.
const PDN_BACK_TIMER: u64 = u64::MAX;

use super::params::{num_in, set_args};

/// `+CME ERROR: 3` (27.007 section 9.2, "operation not allowed"): a valid command in a state
/// that does not allow it. A bare `ERROR` under the default `AT+CMEE=0` (seed 002 FAQ 4.1).
const CME_NOT_ALLOWED: u16 = 3;

#[cfg(test)]
mod tests;

#[cfg(test)]
mod mip_tests;
