//! The L610's command table: every command it answers, as one row each (see
//! [`crate::dialect::commands`]). `seed 002` is the L610 MQTT guide; `mqtt manual` the
//! third-party transcription of Fibocom's MQTT AT manual (module doc).
//!
//! To add a command: write its handler next to its kin (`basic.rs`, `mipcall.rs`, `mqtt.rs`,
//! ...), add a row here, a row to README's "The L610 command table", and its malformed-input rows
//! to `fixtures/malformed/l610.tsv` (`every_command_has_a_readme_row_and_malformed_rows` checks
//! the last two).

use crate::at::Form;
use crate::dialect::commands::{at, echo, row, Cmd, Echoes, FormKind};
use crate::dialect::{standard, Out};

use super::{basic, Prompted, L610};

use FormKind::{Exec, Read, Set, Test};

type Row = Cmd<L610>;

/// The table [`L610::on_command`](crate::dialect::Dialect::on_command) dispatches through.
#[rustfmt::skip]
pub(super) static COMMANDS: &[Row] = &[
    // Basic commands (ITU V.250).
    row("", &[Exec], "V.250 section 5.2.1; seed 002 section 3.3", at),
    row("E", &[Exec, Set], "V.250 section 6.2.4", echo),
    row("&W", &[Exec], "V.250 section 6.1.3", save_profile),
    row("Z", &[Exec], "V.250 section 6.1.1", restore_profile),
    row("&F", &[Exec], "V.250 section 6.1.2; seed 002 FAQ 4.1 (factory AT+CMEE=0)", factory_profile),
    row("I", &[Exec, Set], "fixtures/profiles/l610.tsv; fixtures/DIVERGENCES.md L21", |m, f, o| standard::ati(&m.cell, f, o)),
    // Device, identity and SIM.
    row("+GTRAT", &[Read, Set], "seed 002 section 3.3", |m, f, o| m.basic.gtrat(f, o)),
    row("+CFUN", &[Test, Read, Set], "seed 002 section 3.3; 27.007 section 8.2; fixtures/DIVERGENCES.md L22", cfun),
    row("+CGMI", &[Exec, Test], "fixtures/DIVERGENCES.md L21", |m, f, o| basic::identity(&m.cell, "+CGMI", f, o)),
    row("+CGMM", &[Exec, Test], "fixtures/DIVERGENCES.md L21", |m, f, o| basic::identity(&m.cell, "+CGMM", f, o)),
    row("+CGMR", &[Exec, Test], "fixtures/DIVERGENCES.md L21", |m, f, o| basic::identity(&m.cell, "+CGMR", f, o)),
    row("+CCID", &[Exec, Test, Read], "fixtures/DIVERGENCES.md L21", |m, f, o| basic::iccid(&m.cell, "+CCID", f, o)),
    row("+ICCID", &[Exec, Test, Read], "fixtures/DIVERGENCES.md L21", |m, f, o| basic::iccid(&m.cell, "+ICCID", f, o)),
    row("+CCLK", &[Test, Read, Set], "27.007 section 8.15; issue #11", |m, f, o| basic::cclk(&mut m.cell, f, o)),
    row("+CBC", &[Exec, Test], "27.007 section 8.4", |_, f, o| basic::cbc(f, o)),
    row("+CPIN", &[Test, Read], "seed 002 section 3.3", |m, f, o| standard::cpin(&m.cell, f, o)),
    row("+CIMI", &[Exec, Test, Read], "seed 002 section 3.3; fixtures/DIVERGENCES.md", |m, f, o| basic::cimi(&m.cell, f, o)),
    row("+CGSN", &[Exec, Test], "27.007 section 5.4", |m, f, o| standard::cgsn(&m.cell, f, o)),
    row("+CMEE", &[Test, Read, Set], "seed 002 FAQ 4.1; 27.007 section 9.1", |m, f, o| basic::cmee(&mut m.cell, f, o)),
    // Network service and the data call.
    row("+CSQ", &[Exec, Test, Read], "seed 002 section 3.3; 27.007 section 8.5", |m, f, o| standard::csq(&m.cell, f, o)),
    row("+COPS", &[Test, Read, Set], "seed 002 section 3.3; 27.007 section 7.3", |m, f, o| basic::cops(&m.cell, f, o)),
    row("+CREG", &[Test, Read, Set], "seed 002 section 3.3; 27.007 section 7.2", |m, f, o| m.basic.creg(&mut m.cell, "+CREG", f, o)),
    row("+CGREG", &[Test, Read, Set], "seed 002 section 3.3; 27.007 section 10.1.20", |m, f, o| m.basic.creg(&mut m.cell, "+CGREG", f, o)),
    row("+CEREG", &[Test, Read, Set], "seed 002 section 3.3; 27.007 section 10.1.22", |m, f, o| m.basic.creg(&mut m.cell, "+CEREG", f, o)),
    row("+CGATT", &[Test, Read, Set], "27.007 section 10.1.9", cgatt),
    row("+CGPADDR", &[Exec, Test, Set], "27.007 section 10.1.14", |m, f, o| basic::cgpaddr(&m.cell, &m.basic, f, o)),
    row("+CGDCONT", &[Test, Read, Set], "seed 002 sections 3.2, 3.3; 27.007 section 10.1.1", |m, f, o| m.basic.cgdcont(&mut m.cell, f, o)),
    row("+MIPCALL", &[Test, Read, Set], "seed 002 section 3.3", mipcall),
    // MQTT.
    row("+MQTTUSER", &[Test, Read, Set], "seed 002 section 3.3; mqtt manual", |m, f, o| m.mqtt.mqttuser(&m.cell, f, o)),
    row("+MQTTWILL", &[Test, Set], "seed 002 sections 3.2, 3.3; fixtures/DIVERGENCES.md L18", |m, f, o| m.pending.open_if(m.mqtt.mqttwill(f, o).map(Prompted::Will))),
    row("+MQTTOPEN", &[Test, Read, Set], "seed 002 section 3.3 (misspelt AT+MQTTOOPEN there); mqtt manual", |m, f, o| m.mqtt.mqttopen(&m.cell, m.call.is_up(), &mut m.ssl, f, o)),
    row("+MQTTSUB", &[Test, Set], "seed 002 section 3.3", |m, f, o| m.mqtt.mqttsub(&m.cell, f, o)),
    row("+MQTTUNSUB", &[Test, Set], "seed 002 section 3.3", |m, f, o| m.mqtt.mqttunsub(&m.cell, f, o)),
    row("+MQTTPUB", &[Test, Set], "seed 002 sections 3.2, 3.3", |m, f, o| m.pending.open_if(m.mqtt.mqttpub(&m.cell, f, o).map(Prompted::Publish))),
    row("+MQTTCLOSE", &[Test, Set], "seed 002 section 3.3", |m, f, o| m.mqtt.mqttclose(&m.cell, f, o)),
    // TLS.
    row("+GTSSLVER", &[Test, Read, Set], "seed 002 section 3.3", |m, f, o| m.ssl.gtsslver(f, o)),
    row("+GTSSLMODE", &[Test, Read, Set], "seed 002 section 3.2", |m, f, o| m.ssl.gtsslmode(f, o)),
    row("+GTSSLERR", &[Exec, Test, Read], "seed 002 section 3.2; fixtures/DIVERGENCES.md L16", |m, f, o| m.ssl.gtsslerr(f, o)),
    row("+GTSSLFILE", &[Test, Read, Set], "seed 002 section 3.3", |m, f, o| m.pending.open_if(m.ssl.gtsslfile(f, o).map(Prompted::SslFile))),
    // HTTP(S) (l610/http.rs): Fibocom's NL668 HTTP manual, L610 drivers; DIVERGENCES LH1-LH6.
    row("+HTTPSET", &[Test, Read, Set], "NL668 HTTP manual 1.1; L610 drivers (URL, UAGENT, CONTYPE)", |m, f, o| m.http.httpset(f, o)),
    row("+HTTPDATA", &[Test, Read, Set], "NL668 HTTP manual 1.2; L610 drivers (`>`)", httpdata),
    row("+HTTPACT", &[Test, Read, Set], "NL668 HTTP manual 1.3; L610 drivers (+HTTPRES: 1,200,); G510 capture; DIVERGENCES LH2, LH3", |m, f, o| { let ssl = &m.ssl; m.http.httpact(&m.cell, f, o, |host| ssl.options(host)) }),
    row("+HTTPREAD", &[Exec, Test, Set], "G510 capture; L610 drivers (offset, length); DIVERGENCES LH5", |m, f, o| m.http.httpread(f, o)),
    // Sockets (sim/src/dialect/l610/mip.rs cites each source; README "The L610's sockets").
    row("+MIPOPEN", &[Test, Read, Set], "tuya-l610 (a real L610's logs); RT-Thread at_socket_l610.c; OneOS l610_netconn.c; G24 manual; fixtures/DIVERGENCES.md L30", |m, f, o| m.mip.mipopen(&m.cell, m.call.is_up(), &mut m.ssl, f, o)),
    row("+MIPSEND", &[Read, Set], "tuya-l610; RT-Thread; OneOS; G610 engineer log; G24 manual; fixtures/DIVERGENCES.md L30", |m, f, o| m.pending.open_if(m.mip.mipsend(&m.cell, f, o).map(Prompted::Send))),
    row("+MIPPUSH", &[Set], "G24 manual (+MIPPUSH); fixtures/DIVERGENCES.md L30", |m, f, o| m.mip.mippush(&m.cell, f, o)),
    row("+MIPCLOSE", &[Test, Read, Set], "G610 engineer log; tuya-l610; fixtures/DIVERGENCES.md L33", |m, f, o| m.mip.mipclose(&m.cell, f, o)),
    row("+MIPDNS", &[Set], "OneOS; RT-Thread; fixtures/DIVERGENCES.md L34", |m, f, o| m.mip.mipdns(&m.cell, &m.call, f, o)),
    row("+GTSET", &[Read, Set], "IPRFMT comments of two public L610 projects; OneOS; fixtures/DIVERGENCES.md L31", |m, f, o| m.mip.gtset(f, o)),
];

/// `AT&W` (V.250 section 6.1.3).
fn save_profile(m: &mut L610, _: &Form, o: &mut Out) {
    m.saved = (m.echo, m.cell.cmee);
    o.ok()
}

/// `ATZ` (V.250 section 6.1.1).
fn restore_profile(m: &mut L610, _: &Form, o: &mut Out) {
    m.restore(m.saved, o);
    o.ok()
}

/// `AT&F` (V.250 section 6.1.2; seed 002 FAQ 4.1 (factory AT+CMEE=0)).
fn factory_profile(m: &mut L610, _: &Form, o: &mut Out) {
    m.restore((true, 0), o);
    o.ok()
}

/// `AT+CFUN` (seed 002 section 3.3; 27.007 section 8.2; fixtures/DIVERGENCES.md L22).
fn cfun(m: &mut L610, f: &Form, o: &mut Out) {
    if m.basic.cfun(&mut m.cell, f, o) {
        m.reboot(o);
    }
}

/// `AT+CGATT` (27.007 section 10.1.9).
fn cgatt(m: &mut L610, f: &Form, o: &mut Out) {
    if basic::cgatt(&mut m.cell, f, o) && m.call.drop_call(&mut m.cell) {
        o.line("+MIPCALL: 0");
        call_lost(m, o);
    }
}

/// `AT+MIPCALL` (seed 002 section 3.3).
fn mipcall(m: &mut L610, f: &Form, o: &mut Out) {
    if m.call.mipcall(&mut m.cell, f, o) {
        call_lost(m, o);
    }
}

/// The data call ended under the links: MQTT, the sockets and HTTP each tell the host.
fn call_lost(m: &mut L610, o: &mut Out) {
    m.mqtt.network_lost(o);
    m.mip.network_lost(o);
    m.http.network_lost(true, o);
}

/// `AT+HTTPDATA` (NL668 HTTP manual 1.2; L610 drivers (`>`)).
fn httpdata(m: &mut L610, f: &Form, o: &mut Out) {
    if m.http.httpdata(f, o) {
        m.pending.open(Prompted::HttpData);
    }
}

impl Echoes for L610 {
    fn echo_mut(&mut self) -> &mut bool {
        &mut self.echo
    }
}
