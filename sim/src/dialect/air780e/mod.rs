//! The Luat/AirM2M Air780E AT dialect (firmware `AirM2M_780E_V1169_LTE_AT`, the one seed 000
//! was written against).
//!
//! Sources, cited per command as `seed NNN section`:
//! - 000: `../shared/seeds/000_9b6cf5a5b5e7ba55.txt`, the Air780E MQTT guide;
//! - 001: `001_ebc5b6bd41dca159.txt`, the Air780E/Air724 MQTT flow and FAQ;
//! - 003: `003_481181ca8cc328e4.txt`, the Air724 family against a cloud platform;
//! - notes: `fixtures/air780e-manual-notes.md`, what the family's manual and public logs add.
//!
//! Where the sources disagree, `fixtures/DIVERGENCES.md` records the choice.

mod basic;
mod fs;
mod mqtt;
mod ssl;

use crate::at::Command;
use crate::modem::{CellState, Fault, Identity};
use crate::net::NetEvent;

use super::{Dialect, Out};

/// `ATI` (seed 000 section 6.2).
pub const FIRMWARE: &str = "AirM2M_780E_V1169_LTE_AT";

pub struct Air780e {
    cell: CellState,
    mqtt: mqtt::Mqtt,
    fs: fs::Fs,
    ssl: ssl::Ssl,
}

impl Air780e {
    pub fn new(identity: Identity) -> Self {
        Air780e {
            cell: CellState::new(identity),
            mqtt: mqtt::Mqtt::default(),
            fs: fs::Fs::default(),
            ssl: ssl::Ssl::default(),
        }
    }
}

impl Dialect for Air780e {
    fn on_command(&mut self, cmd: Command, out: &mut Out) {
        let Command { name, form } = cmd;
        let cell = &mut self.cell;
        let mqtt = &mut self.mqtt;
        match name.as_str() {
            "" => basic::at(&form, out),
            "E" => basic::echo(&form, out),
            "I" => basic::ati(&form, out),
            "+CGMR" => basic::cgmr(&form, out),
            "+CGSN" => basic::cgsn(cell, &form, out),
            "+CPIN" => basic::cpin(cell, &form, out),
            "+CSQ" => basic::csq(cell, &form, out),
            "+CGREG" => basic::creg(cell, "+CGREG", &form, out),
            "+CEREG" => basic::creg(cell, "+CEREG", &form, out),
            "+CGATT" => basic::cgatt(cell, &form, out),
            "+CSTT" => basic::cstt(cell, &form, out),
            "+CIICR" => basic::ciicr(cell, &form, out),
            "+CIFSR" => basic::cifsr(cell, &form, out),
            "+CPNETAPN" => basic::cpnetapn(cell, &form, out),
            "+CMEE" => basic::cmee(cell, &form, out),
            "+IPR" => basic::ipr(cell, &form, out),
            "+MCONFIG" => mqtt.mconfig(cell, &form, out),
            "+MIPSTART" => mqtt.mipstart(cell, &form, out),
            "+SSLMIPSTART" => {
                let (ssl, fs) = (&self.ssl, &self.fs);
                mqtt.sslmipstart(cell, &form, out, |host| ssl.tls_options(fs, host))
            }
            "+SSLCFG" => self.ssl.sslcfg(&form, out),
            "+FSCREATE" => self.fs.fscreate(&form, out),
            "+FSWRITE" => self.fs.fswrite(&form, out),
            "+FSREAD" => self.fs.fsread(&form, out),
            "+FSDEL" => self.fs.fsdel(&form, out),
            "+FSFLSIZE" => self.fs.fsflsize(&form, out),
            "+FSLS" => self.fs.fsls(&form, out),
            "+MCONNECT" => mqtt.mconnect(cell, &form, out),
            "+MSUB" => mqtt.msub(cell, &form, out),
            "+MUNSUB" => mqtt.munsub(cell, &form, out),
            "+MPUB" => mqtt.mpub(cell, &form, out),
            "+MPUBEX" => mqtt.mpubex(cell, &form, out),
            "+MQTTMSGSET" => mqtt.mqttmsgset(&form, out),
            "+MQTTMSGGET" => mqtt.mqttmsgget(&form, out),
            "+MQTTSTATU" => mqtt.mqttstatu(&form, out),
            "+MQTTMODE" => mqtt.mqttmode(&form, out),
            "+MDISCONNECT" => mqtt.mdisconnect(cell, &form, out),
            "+MIPCLOSE" => mqtt.mipclose(cell, &form, out),
            _ => {
                tracing::debug!(%name, "unknown command");
                out.error()
            }
        }
    }

    fn on_data(&mut self, data: Vec<u8>, out: &mut Out) {
        if self.fs.wants_data() {
            return self.fs.on_data(data, out);
        }
        self.mqtt.on_data(&self.cell, data, out)
    }

    fn on_prompt_abandoned(&mut self, _why: crate::dialect::Abandoned, out: &mut Out) {
        // Only AT+MPUBEX opens an engine-timed prompt (AT+FSWRITE times itself).
        self.mqtt.abandon_pubex(out)
    }

    fn on_timer(&mut self, id: u64, out: &mut Out) {
        if id == PDN_BACK_TIMER {
            // The network accepts the context again; the module activates its default bearer
            // by itself (an LTE module has one while attached), so `MIPSTART` works again.
            tracing::info!("PDP context can be activated again");
            self.cell.pdp_barred = false;
            self.cell.pdp_active = self.cell.can_activate();
            return;
        }
        self.fs.on_timer(id, out)
    }

    fn on_net(&mut self, ev: NetEvent, out: &mut Out) {
        self.mqtt.on_net(ev, out)
    }

    fn on_fault(&mut self, fault: &Fault, out: &mut Out) {
        let cell = &mut self.cell;
        match fault {
            // Seed 001 PDN flow: `+CGEV: NW PDN DEACT 1`, the link is gone without `CLOSED`, and
            // `AT+MIPCLOSE` answers `OK`. The module re-activates the default bearer on its
            // own once the network allows it: at once by default (the recovery in the same log
            // reconnects at once), or after `back_after`, until when `MIPSTART` gets
            // `CONNECT FAIL`.
            Fault::PdnDeact { back_after } => {
                out.line("+CGEV: NW PDN DEACT 1");
                self.mqtt.network_lost(out);
                if back_after.is_zero() {
                    cell.pdp_active = cell.can_activate();
                } else {
                    cell.pdp_active = false;
                    cell.pdp_barred = true;
                    out.timer(PDN_BACK_TIMER, *back_after);
                }
            }
            // Seed 000 FAQ 3 (drops from weak coverage or a lost registration): the
            // registration URCs the host asked for, and the default bearer goes with the
            // registration, shown as in seed 001's PDN flow (fixtures/DIVERGENCES.md).
            Fault::Deregister | Fault::SimRemoved => {
                if *fault == Fault::SimRemoved {
                    cell.sim = crate::modem::SimState::Absent;
                }
                let had_bearer = cell.pdp_active;
                let mut urcs = Vec::new();
                cell.set_registration(crate::modem::RegStatus::NotRegistered, &mut urcs);
                urcs.iter().for_each(|u| out.line(u));
                if had_bearer {
                    out.line("+CGEV: NW PDN DEACT 1");
                }
                self.mqtt.network_lost(out);
            }
            Fault::Register | Fault::SimInserted => {
                if *fault == Fault::SimInserted {
                    cell.sim = crate::modem::SimState::Ready;
                }
                if cell.sim != crate::modem::SimState::Ready {
                    tracing::info!("no SIM: the module cannot register");
                    return;
                }
                let mut urcs = Vec::new();
                cell.set_registration(crate::modem::RegStatus::Home, &mut urcs);
                urcs.iter().for_each(|u| out.line(u));
                cell.pdp_active = cell.can_activate();
            }
            Fault::Signal(n) => cell.rssi = *n,
            // These enter below the dialect (the socket, the broker, the UART); the module
            // sees their consequences as network events, or never.
            Fault::Closed
            | Fault::Reset
            | Fault::Blackhole
            | Fault::KickIdle(_)
            | Fault::Latency(_)
            | Fault::UartFragment(_)
            | Fault::UartGarbage(_)
            | Fault::UrcInResponse => {}
        }
    }
}

/// The timer that ends a `pdn-deact SECS` (the file system's timers count up from 1).
const PDN_BACK_TIMER: u64 = u64::MAX;

use super::params::{num_in, number_setting, set_args};

#[cfg(test)]
mod tests;
