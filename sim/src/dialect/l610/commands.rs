//! The L610's command table: every command it answers, as one row each (see
//! [`crate::dialect::commands`]). `seed 002` is the L610 MQTT guide; `mqtt manual` the
//! third-party transcription of Fibocom's MQTT AT manual (module doc).
//!
//! To add a command: write its handler next to its kin (`basic.rs`, `mipcall.rs`, `mqtt.rs`,
//! ...), add a row here, a row to README's "The L610 command table", and its malformed-input rows
//! to `fixtures/malformed/l610.tsv` (`every_command_has_a_readme_row_and_malformed_rows` checks
//! the last two).

use crate::at::Form;
use crate::dialect::commands::{Cmd, FormKind};
use crate::dialect::Out;

use super::{basic, Prompted, L610};

use FormKind::{Exec, Read, Set, Test};

type Row = Cmd<L610>;

/// The table [`L610::on_command`](crate::dialect::Dialect::on_command) dispatches through.
pub(super) static COMMANDS: &[Row] = &[
    // Basic commands (ITU V.250).
    Row {
        name: "",
        forms: &[Exec],
        source: "V.250 section 5.2.1; seed 002 section 3.3",
        run: |_, f, o| basic::at(f, o),
    },
    Row {
        name: "E",
        forms: &[Exec, Set],
        source: "V.250 section 6.2.4",
        run: |m, f, o| {
            basic::echo(f, o);
            if let Some(on) = o.echo_change() {
                m.echo = on;
            }
        },
    },
    Row {
        name: "&W",
        forms: &[Exec],
        source: "V.250 section 6.1.3",
        run: |m, _, o| {
            m.saved = (m.echo, m.cell.cmee);
            o.ok()
        },
    },
    Row {
        name: "Z",
        forms: &[Exec],
        source: "V.250 section 6.1.1",
        run: |m, _, o| {
            m.restore(m.saved, o);
            o.ok()
        },
    },
    Row {
        name: "&F",
        forms: &[Exec],
        source: "V.250 section 6.1.2; seed 002 FAQ 4.1 (factory AT+CMEE=0)",
        run: |m, _, o| {
            m.restore((true, 0), o);
            o.ok()
        },
    },
    Row {
        name: "I",
        forms: &[Exec, Set],
        source: "fixtures/profiles/l610.tsv; fixtures/DIVERGENCES.md L21",
        run: |m, f, o| basic::ati(&m.cell, f, o),
    },
    // Device, identity and SIM.
    Row {
        name: "+GTRAT",
        forms: &[Read, Set],
        source: "seed 002 section 3.3",
        run: |m, f, o| m.basic.gtrat(f, o),
    },
    Row {
        name: "+CFUN",
        forms: &[Test, Read, Set],
        source: "seed 002 section 3.3; 27.007 section 8.2; fixtures/DIVERGENCES.md L22",
        run: |m, f, o| {
            if m.basic.cfun(&mut m.cell, f, o) {
                m.reboot(o);
            }
        },
    },
    Row {
        name: "+CGMI",
        forms: &[Exec, Test],
        source: "fixtures/DIVERGENCES.md L21",
        run: |m, f, o| basic::identity(&m.cell, "+CGMI", f, o),
    },
    Row {
        name: "+CGMM",
        forms: &[Exec, Test],
        source: "fixtures/DIVERGENCES.md L21",
        run: |m, f, o| basic::identity(&m.cell, "+CGMM", f, o),
    },
    Row {
        name: "+CGMR",
        forms: &[Exec, Test],
        source: "fixtures/DIVERGENCES.md L21",
        run: |m, f, o| basic::identity(&m.cell, "+CGMR", f, o),
    },
    Row {
        name: "+CCID",
        forms: &[Exec, Test, Read],
        source: "fixtures/DIVERGENCES.md L21",
        run: |m, f, o| basic::iccid(&m.cell, "+CCID", f, o),
    },
    Row {
        name: "+ICCID",
        forms: &[Exec, Test, Read],
        source: "fixtures/DIVERGENCES.md L21",
        run: |m, f, o| basic::iccid(&m.cell, "+ICCID", f, o),
    },
    Row {
        name: "+CCLK",
        forms: &[Test, Read, Set],
        source: "27.007 section 8.15; issue #11",
        run: |m, f, o| basic::cclk(&mut m.cell, f, o),
    },
    Row {
        name: "+CBC",
        forms: &[Exec, Test],
        source: "27.007 section 8.4",
        run: |_, f, o| basic::cbc(f, o),
    },
    Row {
        name: "+CPIN",
        forms: &[Test, Read],
        source: "seed 002 section 3.3",
        run: |m, f, o| basic::cpin(&m.cell, f, o),
    },
    Row {
        name: "+CIMI",
        forms: &[Exec, Test, Read],
        source: "seed 002 section 3.3; fixtures/DIVERGENCES.md",
        run: |m, f, o| basic::cimi(&m.cell, f, o),
    },
    Row {
        name: "+CGSN",
        forms: &[Exec, Test],
        source: "27.007 section 5.4",
        run: |m, f, o| basic::cgsn(&m.cell, f, o),
    },
    Row {
        name: "+CMEE",
        forms: &[Test, Read, Set],
        source: "seed 002 FAQ 4.1; 27.007 section 9.1",
        run: |m, f, o| basic::cmee(&mut m.cell, f, o),
    },
    // Network service and the data call.
    Row {
        name: "+CSQ",
        forms: &[Exec, Test, Read],
        source: "seed 002 section 3.3; 27.007 section 8.5",
        run: |m, f, o| basic::csq(&m.cell, f, o),
    },
    Row {
        name: "+COPS",
        forms: &[Test, Read, Set],
        source: "seed 002 section 3.3; 27.007 section 7.3",
        run: |m, f, o| basic::cops(&m.cell, f, o),
    },
    Row {
        name: "+CREG",
        forms: &[Test, Read, Set],
        source: "seed 002 section 3.3; 27.007 section 7.2",
        run: |m, f, o| m.basic.creg(&mut m.cell, "+CREG", f, o),
    },
    Row {
        name: "+CGREG",
        forms: &[Test, Read, Set],
        source: "seed 002 section 3.3; 27.007 section 10.1.20",
        run: |m, f, o| m.basic.creg(&mut m.cell, "+CGREG", f, o),
    },
    Row {
        name: "+CEREG",
        forms: &[Test, Read, Set],
        source: "seed 002 section 3.3; 27.007 section 10.1.22",
        run: |m, f, o| m.basic.creg(&mut m.cell, "+CEREG", f, o),
    },
    Row {
        name: "+CGATT",
        forms: &[Test, Read, Set],
        source: "27.007 section 10.1.9",
        run: |m, f, o| {
            if basic::cgatt(&mut m.cell, f, o) && m.call.drop_call(&mut m.cell) {
                o.line("+MIPCALL: 0");
                m.mqtt.network_lost(o);
                m.mip.network_lost(o);
                m.http.network_lost(true, o);
            }
        },
    },
    Row {
        name: "+CGPADDR",
        forms: &[Exec, Test, Set],
        source: "27.007 section 10.1.14",
        run: |m, f, o| basic::cgpaddr(&m.cell, &m.basic, f, o),
    },
    Row {
        name: "+CGDCONT",
        forms: &[Test, Read, Set],
        source: "seed 002 sections 3.2, 3.3; 27.007 section 10.1.1",
        run: |m, f, o| m.basic.cgdcont(&mut m.cell, f, o),
    },
    Row {
        name: "+MIPCALL",
        forms: &[Test, Read, Set],
        source: "seed 002 section 3.3",
        run: |m, f, o| {
            if m.call.mipcall(&mut m.cell, f, o) {
                m.mqtt.network_lost(o);
                m.mip.network_lost(o);
                m.http.network_lost(true, o);
            }
        },
    },
    // MQTT.
    Row {
        name: "+MQTTUSER",
        forms: &[Test, Read, Set],
        source: "seed 002 section 3.3; mqtt manual",
        run: |m, f, o| m.mqtt.mqttuser(&m.cell, f, o),
    },
    Row {
        name: "+MQTTWILL",
        forms: &[Test, Set],
        source: "seed 002 sections 3.2, 3.3; fixtures/DIVERGENCES.md L18",
        run: |m, f, o| {
            let w = m.mqtt.mqttwill(&m.cell, f, o);
            m.pending.open_if(w.map(Prompted::Will))
        },
    },
    Row {
        name: "+MQTTOPEN",
        forms: &[Test, Read, Set],
        source: "seed 002 section 3.3 (misspelt AT+MQTTOOPEN there); mqtt manual",
        run: |m, f, o| m.mqtt.mqttopen(&m.cell, &m.call, &mut m.ssl, f, o),
    },
    Row {
        name: "+MQTTSUB",
        forms: &[Test, Set],
        source: "seed 002 section 3.3",
        run: |m, f, o| m.mqtt.mqttsub(&m.cell, f, o),
    },
    Row {
        name: "+MQTTUNSUB",
        forms: &[Test, Set],
        source: "seed 002 section 3.3",
        run: |m, f, o| m.mqtt.mqttunsub(&m.cell, f, o),
    },
    Row {
        name: "+MQTTPUB",
        forms: &[Test, Set],
        source: "seed 002 sections 3.2, 3.3",
        run: |m, f, o| {
            let p = m.mqtt.mqttpub(&m.cell, f, o);
            m.pending.open_if(p.map(Prompted::Publish))
        },
    },
    Row {
        name: "+MQTTCLOSE",
        forms: &[Test, Set],
        source: "seed 002 section 3.3",
        run: |m, f, o| m.mqtt.mqttclose(&m.cell, f, o),
    },
    // TLS.
    Row {
        name: "+GTSSLVER",
        forms: &[Test, Read, Set],
        source: "seed 002 section 3.3",
        run: |m, f, o| m.ssl.gtsslver(f, o),
    },
    Row {
        name: "+GTSSLMODE",
        forms: &[Test, Read, Set],
        source: "seed 002 section 3.2",
        run: |m, f, o| m.ssl.gtsslmode(f, o),
    },
    Row {
        name: "+GTSSLERR",
        forms: &[Exec, Test, Read],
        source: "seed 002 section 3.2; fixtures/DIVERGENCES.md L16",
        run: |m, f, o| m.ssl.gtsslerr(f, o),
    },
    Row {
        name: "+GTSSLFILE",
        forms: &[Test, Read, Set],
        source: "seed 002 section 3.3",
        run: gtsslfile,
    },
    // HTTP(S) (l610/http.rs): Fibocom's NL668 HTTP manual, L610 drivers; DIVERGENCES LH1-LH6.
    Row {
        name: "+HTTPSET",
        forms: &[Test, Read, Set],
        source: "NL668 HTTP manual 1.1; L610 drivers (URL, UAGENT, CONTYPE)",
        run: |m, f, o| m.http.httpset(f, o),
    },
    Row {
        name: "+HTTPDATA",
        forms: &[Test, Read, Set],
        source: "NL668 HTTP manual 1.2; L610 drivers (`>`)",
        run: |m, f, o| {
            if m.http.httpdata(f, o) {
                m.pending.open(Prompted::HttpData);
            }
        },
    },
    Row {
        name: "+HTTPACT",
        forms: &[Test, Read, Set],
        source: "NL668 HTTP manual 1.3; L610 drivers (+HTTPRES: 1,200,); G510 capture; DIVERGENCES LH2, LH3",
        run: |m, f, o| {
            let ssl = &m.ssl;
            m.http.httpact(&m.cell, f, o, |host| ssl.options(host))
        },
    },
    Row {
        name: "+HTTPREAD",
        forms: &[Exec, Test, Set],
        source: "G510 capture; L610 drivers (offset, length); DIVERGENCES LH5",
        run: |m, f, o| m.http.httpread(f, o),
    },
    // Sockets (sim/src/dialect/l610/mip.rs cites each source; README "The L610's sockets").
    Row {
        name: "+MIPOPEN",
        forms: &[Test, Read, Set],
        source: "tuya-l610 (a real L610's logs); RT-Thread at_socket_l610.c; OneOS l610_netconn.c; G24 manual; fixtures/DIVERGENCES.md L30",
        run: |m, f, o| m.mip.mipopen(&m.cell, &m.call, &mut m.ssl, f, o),
    },
    Row {
        name: "+MIPSEND",
        forms: &[Read, Set],
        source: "tuya-l610; RT-Thread; OneOS; G610 engineer log; G24 manual; fixtures/DIVERGENCES.md L30",
        run: |m, f, o| {
            let p = m.mip.mipsend(&m.cell, f, o);
            m.pending.open_if(p.map(Prompted::Send))
        },
    },
    Row {
        name: "+MIPPUSH",
        forms: &[Set],
        source: "G24 manual (+MIPPUSH); fixtures/DIVERGENCES.md L30",
        run: |m, f, o| m.mip.mippush(&m.cell, f, o),
    },
    Row {
        name: "+MIPCLOSE",
        forms: &[Test, Read, Set],
        source: "G610 engineer log; tuya-l610; fixtures/DIVERGENCES.md L33",
        run: |m, f, o| m.mip.mipclose(&m.cell, f, o),
    },
    Row {
        name: "+MIPDNS",
        forms: &[Set],
        source: "OneOS; RT-Thread; fixtures/DIVERGENCES.md L34",
        run: |m, f, o| m.mip.mipdns(&m.cell, &m.call, f, o),
    },
    Row {
        name: "+GTSET",
        forms: &[Read, Set],
        source: "IPRFMT comments of two public L610 projects; OneOS; fixtures/DIVERGENCES.md L31",
        run: |m, f, o| m.mip.gtset(f, o),
    },
];

/// `AT+GTSSLFILE`: the file its `>` prompt's bytes are for.
fn gtsslfile(m: &mut L610, form: &Form, out: &mut Out) {
    let kind = m.ssl.gtsslfile(form, out);
    m.pending.open_if(kind.map(Prompted::SslFile))
}
