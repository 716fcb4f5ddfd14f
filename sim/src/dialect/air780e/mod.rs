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
mod bearer;
mod cip;
mod commands;
mod dns;

pub use basic::{cclk, zone_of};
mod fs;
mod http;
mod mqtt;
mod ssl;

use crate::at::Command;
use crate::fault::{Fault, PdnDeact, Signal};
use crate::modem::{BootLine, CellState, Cip, Identity, RegStatus, SimState};
use crate::net::NetEvent;

use super::{Dialect, DialectKind, Out};

/// `ATI` of the default model (seed 000 section 6.2).
pub const FIRMWARE: &str = "AirM2M_780E_V1169_LTE_AT";

/// The settings `AT&W` saves and a power-on restores (V.250 section 6.1.3; the family's manual
/// names `AT+IPR=<rate>;&W` and `AT+CSDT=<mode>;&W` as the way to keep a setting over power
/// off: notes section 12, luatos-doc-pool Command_List/Device_control/CSDT.md). Everything
/// else (MQTT, the bearer, the clock) is RAM and lost.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Settings {
    echo: bool,
    cmee: u8,
    creg_mode: u8,
    cgreg_mode: u8,
    cereg_mode: u8,
    baud: u32,
    csclk: u8,
    csdt: (u8, u8),
}

impl Settings {
    fn factory() -> Settings {
        let cell = CellState::new(Identity::default());
        let radio = basic::Radio::default();
        Settings {
            echo: true,
            cmee: cell.cmee,
            creg_mode: cell.creg_mode,
            cgreg_mode: cell.cgreg_mode,
            cereg_mode: cell.cereg_mode,
            baud: cell.baud,
            csclk: radio.csclk,
            csdt: radio.csdt,
        }
    }
}

/// What the bytes after a `>` prompt are for.
#[derive(Debug)]
enum Prompted {
    /// The bytes of an `AT+FSWRITE`.
    Write(fs::PendingWrite),
    /// The payload of an `AT+MPUBEX`.
    Publish(mqtt::PendingPubex),
    /// The data of an `AT+CIPSEND`.
    Send(cip::PendingSend),
    /// The body of an `AT+HTTPDATA`.
    Body(http::PendingBody),
}

pub struct Air780e {
    cell: CellState,
    radio: basic::Radio,
    bearer: bearer::Bearer,
    sockets: cip::Sockets,
    dns: dns::Dns,
    mqtt: mqtt::Mqtt,
    fs: fs::Fs,
    ssl: ssl::Ssl,
    http: http::Http,
    pending: super::pending::Pending<Prompted>,
    /// The echo setting (`ATE`), mirrored from the framer so `AT&W` can save it.
    echo: bool,
    /// What `AT&W` saved.
    saved: Settings,
}

impl Air780e {
    pub fn new(mut identity: Identity) -> Self {
        identity.profile = super::own_profile(DialectKind::Air780e, identity.profile);
        Air780e {
            cell: CellState::new(identity),
            radio: basic::Radio::default(),
            bearer: bearer::Bearer::default(),
            sockets: cip::Sockets::default(),
            dns: dns::Dns::default(),
            mqtt: mqtt::Mqtt::default(),
            fs: fs::Fs::default(),
            ssl: ssl::Ssl::default(),
            http: http::Http::default(),
            pending: Default::default(),
            echo: true,
            saved: Settings::factory(),
        }
    }

    fn settings(&self) -> Settings {
        Settings {
            echo: self.echo,
            cmee: self.cell.cmee,
            creg_mode: self.cell.creg_mode,
            cgreg_mode: self.cell.cgreg_mode,
            cereg_mode: self.cell.cereg_mode,
            baud: self.cell.baud,
            csclk: self.radio.csclk,
            csdt: self.radio.csdt,
        }
    }

    fn apply(&mut self, s: &Settings, out: &mut Out) {
        self.echo = s.echo;
        out.set_echo(s.echo);
        self.cell.cmee = s.cmee;
        self.cell.creg_mode = s.creg_mode;
        self.cell.cgreg_mode = s.cgreg_mode;
        self.cell.cereg_mode = s.cereg_mode;
        self.cell.baud = s.baud;
        self.radio.csclk = s.csclk;
        self.radio.csdt = s.csdt;
    }

    /// Power off and on (or a reset): links end without DISCONNECT, RAM is lost, the file
    /// system (flash) and the `AT&W` profile stay, and the power-on lines follow.
    fn reboot(&mut self, out: &mut Out) {
        self.reboot_after(&[], out)
    }

    /// A reset the module does itself (`AT+RESET`, `AT+CFUN=1,1`): the profile's `down` lines
    /// first (V1165 detaches, twice).
    fn restart(&mut self, out: &mut Out) {
        let down = self.cell.identity.profile.down.clone();
        self.reboot_after(&down, out)
    }

    fn reboot_after(&mut self, down: &[BootLine], out: &mut Out) {
        tracing::info!("module restarts");
        self.print(down, out);
        self.mqtt.power_off(out);
        self.http.network_lost(false, out);
        self.sockets.power_off(out);
        out.cancel_data();
        let saved = self.saved.clone();
        let identity = self.cell.identity.clone();
        let fs = std::mem::take(&mut self.fs);
        let mqtt = std::mem::take(&mut self.mqtt);
        let sockets = std::mem::take(&mut self.sockets);
        let dns = self.dns.power_off();
        *self = Air780e::new(identity);
        self.dns = dns;
        self.fs = fs;
        self.mqtt = mqtt;
        self.sockets = sockets;
        self.saved = saved.clone();
        self.apply(&saved, out);
        self.boot(out);
    }

    /// Prints profile lines with the clock filled in.
    fn print(&self, lines: &[BootLine], out: &mut Out) {
        let now = self.cell.clock.now();
        for l in lines {
            match l.render(&now) {
                // The mask ROM's banner, newline-less: the logs print its `\n` as two
                // characters (fixtures/DIVERGENCES.md A32).
                BootLine::Raw(b) => out.raw(&b),
                BootLine::Line(l) => out.line(l),
            }
        }
    }

    /// The radio comes up (power-on, `AT+CFUN=1`, a SIM inserted): registered, attached, the
    /// default bearer active, and the profile's lines.
    fn radio_on(&mut self, lines: &[BootLine], out: &mut Out) {
        let mut urcs = Vec::new();
        self.cell.set_registration(RegStatus::Home, &mut urcs);
        self.cell.attached = true;
        self.cell.pdp_active = self.cell.can_activate();
        self.print(lines, out);
        urcs.iter().for_each(|u| out.line(u));
    }

    /// The radio goes down (`AT+CFUN=0|4`, the SIM pulled): registration, attach and the
    /// default bearer go, and with them the link (no `CLOSED`: seed 001 PDN flow). `detach`
    /// prints `+CGEV: ME DETACH` (the issue's `AT+CFUN=0` sequence).
    fn radio_off(&mut self, detach: bool, out: &mut Out) {
        let mut urcs = Vec::new();
        self.cell
            .set_registration(RegStatus::NotRegistered, &mut urcs);
        self.cell.attached = false;
        self.cell.pdp_active = false;
        if self.cell.cip != Cip::Initial {
            self.cell.cip = Cip::PdpDeact;
        }
        urcs.iter().for_each(|u| out.line(u));
        if detach {
            out.line("+CGEV: ME DETACH");
        }
        self.mqtt.network_lost(out);
        self.http.network_lost(true, out);
        self.sockets.network_lost(out);
    }

    /// `AT+CFUN=<0|1|4>[,<rst>]` (luatos-doc-pool Command_List/Device_control/CFUN.md):
    /// 0 and 4 answer `OK` then `+CGEV: ME DETACH`, and registration, attach and the context go
    /// with their links; 1 brings the radio back with the power-on lines from `^MODE` on;
    /// `AT+CFUN=1,1` restarts the module ("被用来主动重启模块"). Read `+CFUN: <n>`, test
    /// `+CFUN: (0,1,4),(0,1)`.
    fn cfun(&mut self, form: &crate::at::Form, out: &mut Out) {
        use crate::at::Form;
        match form {
            Form::Read => {
                out.line(format!("+CFUN: {}", self.radio.cfun));
                out.ok()
            }
            Form::Test => {
                out.line("+CFUN: (0,1,4),(0,1)");
                out.ok()
            }
            Form::Set(_) => {
                let args = set_args(form);
                let (fun, rst) = match args.as_deref() {
                    Some([f]) => (num_in(Some(f), 0..=4), Some(0)),
                    Some([f, r]) => (num_in(Some(f), 0..=4), num_in(Some(r), 0..=1)),
                    _ => (None, None),
                };
                let (Some(fun @ (0 | 1 | 4)), Some(rst)) = (fun, rst) else {
                    return out.error();
                };
                out.ok();
                if rst == 1 {
                    return self.restart(out);
                }
                let was = self.radio.cfun;
                self.radio.cfun = fun as u8;
                match (was, fun) {
                    (1, 0 | 4) if self.cell.attached => self.radio_off(true, out),
                    (0 | 4, 1) if self.cell.sim == SimState::Ready => {
                        let lines = self.cell.identity.profile.radio_on.clone();
                        self.radio_on(&lines, out)
                    }
                    _ => {}
                }
            }
            Form::Exec => out.error(),
        }
    }

    /// `AT&W` saves the settings, `ATZ` restores the saved ones, `AT&F` the factory ones
    /// (V.250 sections 6.1.1-6.1.3; the manual's `;&W` notes, see [`Settings`]).
    fn profile_cmd(&mut self, name: &str, form: &crate::at::Form, out: &mut Out) {
        use crate::at::Form;
        if !matches!(form, Form::Exec) && *form != Form::Set(b"0".to_vec()) {
            return out.error();
        }
        match name {
            "&W" => self.saved = self.settings(),
            "Z" => {
                let s = self.saved.clone();
                self.apply(&s, out)
            }
            _ => self.apply(&Settings::factory(), out),
        }
        out.ok()
    }
}

impl Dialect for Air780e {
    /// The power-on lines of the model profile (`fixtures/profiles/air780e.tsv`: `RDY`,
    /// `^MODE: 17,17`, `+E_UTRAN Service`, `+CGEV: ME PDN ACT 1,0`, `+NITZ: <time>` for the
    /// default Air780E V1169, seed 000 section 6.3).
    fn boot(&mut self, out: &mut Out) {
        let lines = self.cell.identity.profile.boot.clone();
        // It registers anew: the registration URCs the saved profile asks for follow.
        self.cell.reg = RegStatus::NotRegistered;
        if self.cell.sim == SimState::Ready {
            self.radio_on(&lines, out);
        } else {
            self.print(&lines[..lines.len().min(1)], out);
        }
    }

    /// Through the command table, `commands::COMMANDS`.
    fn on_command(&mut self, cmd: Command, out: &mut Out) {
        super::commands::dispatch(commands::COMMANDS, self, cmd, out)
    }

    fn on_data(&mut self, data: Vec<u8>, out: &mut Out) {
        match self.pending.take() {
            Some(Prompted::Write(w)) => self.fs.write_data(w, data, out),
            Some(Prompted::Publish(p)) => self.mqtt.pubex_data(&self.cell, p, data, out),
            Some(Prompted::Send(p)) => self.sockets.send_data(&self.bearer, p, data, out),
            Some(Prompted::Body(_)) => self.http.body_data(data, out),
            // The session dropped while the payload was on its way.
            None => out.line(self.cell.cme(mqtt::CME_MQTT)),
        }
    }

    /// `AT+MPUBEX` and `AT+CIPSEND` open engine-timed prompts (`AT+FSWRITE` times itself):
    /// abandoned, nothing is sent, `ERROR`.
    fn on_prompt_abandoned(&mut self, why: crate::dialect::Abandoned, out: &mut Out) {
        self.pending.abandon(why, out)
    }

    fn on_transparent(&mut self, data: Vec<u8>, out: &mut Out) {
        self.sockets.on_transparent(data, out)
    }

    fn on_escape(&mut self, out: &mut Out) {
        self.sockets.on_escape(out)
    }

    fn on_timer(&mut self, id: u64, out: &mut Out) {
        if id == SIM_DETACH_TIMER {
            if self.cell.sim == SimState::Absent {
                out.line("+CGEV: ME DETACH");
            }
            return;
        }
        if id == PDN_BACK_TIMER {
            // The network accepts the context again; the module activates its default bearer
            // by itself (an LTE module has one while attached), so `MIPSTART` works again.
            tracing::info!("PDP context can be activated again");
            self.cell.pdp_barred = false;
            self.cell.pdp_active = self.cell.can_activate();
            return;
        }
        // `AT+FSWRITE`'s and `AT+HTTPDATA`'s own input times, if their prompt still waits.
        match self.pending.get() {
            Some(Prompted::Write(w)) if w.timer == id => {
                if let Some(Prompted::Write(w)) = self.pending.take() {
                    self.fs.timed_out(w, out)
                }
            }
            Some(Prompted::Body(b)) if b.timer == id => {
                self.pending.take();
                self.http.timed_out(out)
            }
            _ => {}
        }
    }

    fn on_net(&mut self, ev: NetEvent, out: &mut Out) {
        if self.http.owns(ev.link) {
            return self.http.on_net(ev, out);
        }
        if self.dns.owns(ev.link) {
            return self.dns.on_net(ev, out);
        }
        if self.sockets.owns(ev.link) {
            return self.sockets.on_net(&self.bearer, &self.cell, ev, out);
        }
        self.mqtt.on_net(ev, out)
    }

    fn on_fault(&mut self, fault: &Fault, out: &mut Out) {
        match fault {
            Fault::PdnDeact(PdnDeact { back_after }) => self.pdn_deact(*back_after, out),
            Fault::Deregister(_) => self.deregister(out),
            Fault::SimRemoved(_) => self.sim_removed(out),
            Fault::SimInserted(_) => self.sim_inserted(out),
            Fault::Register(_) => self.register(out),
            Fault::Signal(Signal(n)) => self.cell.rssi = *n,
            Fault::PowerCycle(_) | Fault::WatchdogReset(_) => self.reboot(out),
            // The others enter below the dialect (the socket, the broker, the UART); the module
            // sees their consequences as network events, or never.
            _ => {}
        }
    }
}

/// The faults that reach the dialect, one unit each.
impl Air780e {
    /// Seed 001 PDN flow: `+CGEV: NW PDN DEACT 1`, the link is gone without `CLOSED`, and
    /// `AT+MIPCLOSE` answers `OK`. The module re-activates the default bearer on its own once
    /// the network allows it: at once by default (the recovery in the same log reconnects at
    /// once), or after `back_after`, until when `MIPSTART` gets `CONNECT FAIL`.
    fn pdn_deact(&mut self, back_after: std::time::Duration, out: &mut Out) {
        out.line("+CGEV: NW PDN DEACT 1");
        self.mqtt.network_lost(out);
        self.http.network_lost(true, out);
        // The TCP/IP stack's links go with the context, and the module says so
        // (public/780EP_AT_TCP应用指南.md section 3 and FAQ 5: `+PDP: DEACT`; then
        // `AT+CIPSHUT` before a new `AT+CIPSTART`: DIVERGENCES S6).
        if self.sockets.network_lost(out) {
            out.line("+PDP: DEACT");
        }
        let cell = &mut self.cell;
        if cell.cip != Cip::Initial {
            cell.cip = Cip::PdpDeact;
        }
        if back_after.is_zero() {
            cell.pdp_active = cell.can_activate();
        } else {
            cell.pdp_active = false;
            cell.pdp_barred = true;
            out.timer(PDN_BACK_TIMER, back_after);
        }
    }

    /// Seed 000 FAQ 3 (drops from weak coverage or a lost registration): the registration URCs
    /// the host asked for, and the default bearer goes with the registration, shown as in seed
    /// 001's PDN flow (fixtures/DIVERGENCES.md).
    fn deregister(&mut self, out: &mut Out) {
        let had_bearer = self.cell.pdp_active;
        let mut urcs = Vec::new();
        self.cell
            .set_registration(RegStatus::NotRegistered, &mut urcs);
        urcs.iter().for_each(|u| out.line(u));
        if had_bearer {
            out.line("+CGEV: NW PDN DEACT 1");
        }
        self.mqtt.network_lost(out);
        self.http.network_lost(true, out);
        if self.sockets.network_lost(out) && had_bearer {
            out.line("+PDP: DEACT");
        }
    }

    /// Fault `register`: registered again, the default bearer back if the network allows it.
    fn register(&mut self, out: &mut Out) {
        let cell = &mut self.cell;
        if cell.sim != SimState::Ready || self.radio.cfun != 1 {
            tracing::info!("no SIM or radio off: the module cannot register");
            return;
        }
        let mut urcs = Vec::new();
        cell.set_registration(RegStatus::Home, &mut urcs);
        urcs.iter().for_each(|u| out.line(u));
        cell.pdp_active = cell.can_activate();
    }

    /// Fault `sim-removed`: the SIM guides' hot-plug lines, per firmware
    /// (fixtures/profiles/air780e.tsv: V1165 prints `^MODE: 0,0`, `+NO Service`,
    /// `+CGEV: NW PDN DEACT 1`, `+CGEV: ME DETACH`, `+CPIN: SIM REMOVED 0`; the 780EP V1007
    /// only the last), then the registration URCs the host asked for. Registration, attach and
    /// the bearer go.
    fn sim_removed(&mut self, out: &mut Out) {
        let cell = &mut self.cell;
        if cell.sim == SimState::Absent {
            return;
        }
        cell.sim = SimState::Absent;
        let lines = cell.identity.profile.sim_out.clone();
        self.print(&lines, out);
        self.radio_off(false, out);
        // SIMG's capture prints `+CGEV: ME DETACH` again about 10 s later.
        if lines.contains(&BootLine::Line("+CGEV: ME DETACH".into())) {
            out.timer(SIM_DETACH_TIMER, std::time::Duration::from_secs(10));
        }
    }

    /// Fault `sim-inserted`: the profile's lines if the radio is on.
    fn sim_inserted(&mut self, out: &mut Out) {
        if self.cell.sim == SimState::Ready {
            return;
        }
        self.cell.sim = SimState::Ready;
        if self.radio.cfun == 1 {
            let lines = self.cell.identity.profile.sim_in.clone();
            self.radio_on(&lines, out);
        } else {
            out.line("+CPIN: READY 0");
        }
    }
}

/// The timer that ends a `pdn-deact SECS` (the file system's timers count up from 1).
const PDN_BACK_TIMER: u64 = u64::MAX;
/// The timer of the second `+CGEV: ME DETACH` after a SIM removal.
const SIM_DETACH_TIMER: u64 = u64::MAX - 1;

use super::params::{num_in, number_setting, set_args};

#[cfg(test)]
mod cip_tests;
#[cfg(test)]
mod tests;
