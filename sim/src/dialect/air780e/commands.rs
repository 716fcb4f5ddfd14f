//! The Air780E's command table: every command it answers, as one row each (see
//! [`crate::dialect::commands`]). `MAN` is luatos-doc-pool
//! `doc/AT开发资料/AT_Command_Manual/docs/Command_List/`; `notes` is
//! `fixtures/air780e-manual-notes.md`; `seed NNN` the vendor seeds (module doc).
//!
//! To add a command: write its handler next to its kin (`basic.rs`, `bearer.rs`, `mqtt.rs`,
//! ...), add a row here, a row to README's "The Air780E command table", and its malformed-input
//! rows to `fixtures/malformed/air780e.tsv` (`every_command_has_a_readme_row_and_malformed_rows`
//! checks the last two).

use crate::at::Form;
use crate::dialect::commands::{Cmd, FormKind, ALL};
use crate::dialect::Out;

use super::{basic, number_setting, Air780e, Prompted};

use FormKind::{Exec, Read, Set, Test};

type Row = Cmd<Air780e>;

/// The table [`Air780e::on_command`](crate::dialect::Dialect::on_command) dispatches through.
pub(super) static COMMANDS: &[Row] = &[
    // Basic commands (ITU V.250).
    Row {
        name: "",
        forms: &[Exec],
        source: "V.250 section 5.2.1; seed 000 section 6.2",
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
        name: "I",
        forms: &[Exec, Set],
        source: "MAN Base/ATI.md; seed 000 section 6.2",
        run: |m, f, o| basic::ati(&m.cell, f, o),
    },
    Row {
        name: "&W",
        forms: &[Exec, Set],
        source: "V.250 section 6.1.3; notes section 12 (`;&W`)",
        run: |m, f, o| m.profile_cmd("&W", f, o),
    },
    Row {
        name: "Z",
        forms: &[Exec, Set],
        source: "V.250 section 6.1.1",
        run: |m, f, o| m.profile_cmd("Z", f, o),
    },
    Row {
        name: "&F",
        forms: &[Exec, Set],
        source: "V.250 section 6.1.2",
        run: |m, f, o| m.profile_cmd("&F", f, o),
    },
    // Identity and SIM.
    Row {
        name: "+CGMR",
        forms: &[Exec, Test],
        source: "MAN Base/CGMR.md; notes section 12",
        run: |m, f, o| basic::cgmr(&m.cell, f, o),
    },
    Row {
        name: "+CGMI",
        forms: &[Exec, Test],
        source: "MAN Base/CGMI.md",
        run: |m, f, o| basic::cgmi(&m.cell, f, o),
    },
    Row {
        name: "+CGMM",
        forms: &[Exec, Test],
        source: "MAN Base/CGMM.md",
        run: |m, f, o| basic::cgmm(&m.cell, f, o),
    },
    Row {
        name: "+CGSN",
        forms: &[Exec, Test],
        source: "notes section 12",
        run: |m, f, o| basic::cgsn(&m.cell, f, o),
    },
    Row {
        name: "+CIMI",
        forms: &[Exec, Test],
        source: "MAN Base/CIMI.md",
        run: |m, f, o| basic::cimi(&m.cell, f, o),
    },
    Row {
        name: "+ICCID",
        forms: &[Exec, Test],
        source: "MAN Base/ICCID.md; public/20240906_any_sim.md",
        run: |m, f, o| basic::iccid(&m.cell, true, f, o),
    },
    Row {
        name: "+CCID",
        forms: &[Exec, Test],
        source: "MAN Base/ICCID.md",
        run: |m, f, o| basic::iccid(&m.cell, false, f, o),
    },
    Row {
        name: "+CPIN",
        forms: &[Test, Read],
        source: "seed 001 first flow; seed 003",
        run: |m, f, o| basic::cpin(&m.cell, f, o),
    },
    // Device control.
    Row {
        name: "+CCLK",
        forms: &[Test, Read, Set],
        source: "MAN Configuration/CCLK.md",
        run: |m, f, o| basic::cclk(&mut m.cell, f, o),
    },
    Row {
        name: "+CBC",
        forms: ALL,
        source: "MAN Device_control/CBC.md",
        run: |m, f, o| basic::cbc(&mut m.radio, f, o),
    },
    Row {
        name: "+CSCLK",
        forms: &[Test, Read, Set],
        source: "MAN Device_control/CSCLK.md",
        run: |m, f, o| basic::csclk(&mut m.radio, f, o),
    },
    Row {
        name: "+CSDT",
        forms: &[Test, Read, Set],
        source: "MAN Device_control/CSDT.md; public/20240906_any_sim.md",
        run: |m, f, o| basic::csdt(&mut m.radio, f, o),
    },
    Row {
        name: "+WAKETIM",
        forms: &[Test, Read, Set],
        source: "MAN Device_control/CSCLK.md (examples)",
        run: |m, f, o| basic::waketim(&mut m.radio, f, o),
    },
    Row {
        name: "*RTIME",
        forms: &[Test, Read, Set],
        source: "MAN Device_control/RTIME.md; CSCLK.md's third example",
        run: |m, f, o| {
            if let Some(n) = number_setting(f, o, "*RTIME", 0..=3600, m.radio.rtime) {
                m.radio.rtime = n;
            }
        },
    },
    Row {
        name: "*SIMAUTO",
        forms: &[Test, Read, Set],
        source: "MAN Device_control/SIMAUTO.md; the SIM guide",
        run: |m, f, o| {
            if let Some(n) = number_setting(f, o, "*SIMAUTO", 0..=1, m.radio.simauto) {
                m.radio.simauto = n;
            }
        },
    },
    Row {
        name: "+CFUN",
        forms: &[Test, Read, Set],
        source: "MAN Device_control/CFUN.md",
        run: |m, f, o| m.cfun(f, o),
    },
    Row {
        name: "+RESET",
        forms: &[Exec, Test],
        source:
            "public/780EP_AT_TCP应用指南.md FAQ 6; fixtures/profiles/air780e.tsv (V1161, V1010)",
        run: reset,
    },
    Row {
        name: "+CMEE",
        forms: &[Test, Read, Set],
        source: "27.007 section 9.1",
        run: |m, f, o| basic::cmee(&mut m.cell, f, o),
    },
    Row {
        name: "+IPR",
        forms: &[Test, Read, Set],
        source: "notes section 12",
        run: |m, f, o| basic::ipr(&mut m.cell, f, o),
    },
    // Network service.
    Row {
        name: "+CSQ",
        forms: &[Exec, Test],
        source: "seed 003; MAN Network_service/CSQ.md",
        run: |m, f, o| basic::csq(&m.cell, f, o),
    },
    Row {
        name: "+CESQ",
        forms: &[Exec, Test],
        source: "NETG's V1165 capture; 27.007 section 8.69",
        run: |m, f, o| basic::cesq(&m.cell, f, o),
    },
    Row {
        name: "+CREG",
        forms: &[Test, Read, Set],
        source: "MAN Network_service/CREG.md; seed 000 section 6.2",
        run: |m, f, o| basic::creg(&mut m.cell, "+CREG", f, o),
    },
    Row {
        name: "+CGREG",
        forms: &[Test, Read, Set],
        source: "MAN GPRS/CGREG.md; seed 000 section 6.2",
        run: |m, f, o| basic::creg(&mut m.cell, "+CGREG", f, o),
    },
    Row {
        name: "+CEREG",
        forms: &[Test, Read, Set],
        source: "MAN Network_service/CEREG.md",
        run: |m, f, o| basic::creg(&mut m.cell, "+CEREG", f, o),
    },
    Row {
        name: "+COPS",
        forms: &[Test, Read, Set],
        source: "MAN Network_service/COPS.md",
        run: |m, f, o| basic::cops(&m.cell, &mut m.radio, f, o),
    },
    Row {
        name: "+CPNETAPN",
        forms: &[Test, Read, Set],
        source: "seed 000 section 7",
        run: |m, f, o| basic::cpnetapn(&mut m.cell, f, o),
    },
    // GPRS and the TCP/IP bearer.
    Row {
        name: "+CGATT",
        forms: &[Test, Read, Set],
        source: "MAN GPRS/CGATT.md; seed 000 section 6.2",
        run: |m, f, o| basic::cgatt(&mut m.cell, f, o),
    },
    Row {
        name: "+CGDCONT",
        forms: &[Test, Read, Set],
        source: "MAN GPRS/CGDCONT.md",
        run: |m, f, o| m.bearer.cgdcont(&mut m.cell, f, o),
    },
    Row {
        name: "+CGACT",
        forms: &[Test, Read, Set],
        source: "MAN GPRS/CGACT.md",
        run: |m, f, o| {
            if m.bearer.cgact(&mut m.cell, f, o) {
                m.mqtt.network_lost(o);
                m.http.network_lost(true, o);
                m.sockets.network_lost(o);
            }
        },
    },
    Row {
        name: "+CGPADDR",
        forms: &[Exec, Test, Set],
        source: "MAN GPRS/CGPADDR.md",
        run: |m, f, o| m.bearer.cgpaddr(&m.cell, f, o),
    },
    Row {
        name: "+CSTT",
        forms: ALL,
        source: "MAN TCPIP/CSTT.md; public/780EP_AT_TCP应用指南.md",
        run: |m, f, o| m.bearer.cstt(&mut m.cell, f, o),
    },
    Row {
        name: "+CIICR",
        forms: &[Exec, Test],
        source: "MAN TCPIP/CSTT.md, 状态机.md",
        run: |m, f, o| m.bearer.ciicr(&mut m.cell, f, o),
    },
    Row {
        name: "+CIFSR",
        forms: &[Exec, Test],
        source: "MAN TCPIP/使用方法举例.md; notes section 12",
        run: |m, f, o| m.bearer.cifsr(&mut m.cell, f, o),
    },
    Row {
        name: "+CIPSHUT",
        forms: &[Exec, Test],
        source: "MAN TCPIP/使用方法举例.md, 状态机.md",
        run: |m, f, o| {
            if *f == Form::Exec {
                m.sockets.shut(o);
            }
            m.bearer.cipshut(&mut m.cell, f, o)
        },
    },
    Row {
        name: "+CIPSTATUS",
        forms: &[Exec, Test, Set],
        source: "MAN TCPIP/CIPSTATUS.md, 使用方法举例.md",
        run: |m, f, o| {
            m.sockets
                .cipstatus(&m.cell, &m.bearer, m.mqtt.tcp_up(), f, o)
        },
    },
    Row {
        name: "+CIPMUX",
        forms: &[Test, Read, Set],
        source: "MAN TCPIP/CIPMUX.md",
        run: |m, f, o| m.bearer.cipmux(&m.cell, f, o),
    },
    Row {
        name: "+CIPQSEND",
        forms: &[Test, Read, Set],
        source: "MAN TCPIP/CIPQSEND.md, 使用方法举例.md",
        run: |m, f, o| m.bearer.switch(&m.cell, "+CIPQSEND", f, o),
    },
    Row {
        name: "+CIPSSL",
        forms: &[Test, Read, Set],
        source: "MAN TCPIP/CIPSSL.md, 使用方法举例.md",
        run: |m, f, o| m.bearer.switch(&m.cell, "+CIPSSL", f, o),
    },
    Row {
        name: "+CIPMODE",
        forms: &[Test, Read, Set],
        source: "MAN TCPIP/CIPMODE.md, 使用方法举例.md",
        run: |m, f, o| m.bearer.switch(&m.cell, "+CIPMODE", f, o),
    },
    // The TCP/IP stack's sockets (cip.rs).
    Row {
        name: "+CIPSTART",
        forms: &[Test, Set],
        source: "MAN TCPIP/CIPSTART.md, 使用方法举例.md; public/780EP_AT_TCP应用指南.md",
        run: |m, f, o| {
            let (ssl, fs) = (&m.ssl, &m.fs);
            m.sockets
                .cipstart(&mut m.cell, &m.bearer, f, o, |ctx, host| {
                    ssl.tls_options_ctx(ctx, fs, host)
                })
        },
    },
    Row {
        name: "+CIPSEND",
        forms: ALL,
        source: "MAN TCPIP/CIPSEND.md, CIPQSEND.md, 使用方法举例.md",
        run: |m, f, o| {
            let p = m.sockets.cipsend(&m.cell, &m.bearer, f, o);
            m.pending.open_if(p.map(Prompted::Send))
        },
    },
    Row {
        name: "+CIPCLOSE",
        forms: &[Exec, Test, Set],
        source: "MAN TCPIP/CIPCLOSE.md, 使用方法举例.md",
        run: |m, f, o| m.sockets.cipclose(&m.bearer, f, o),
    },
    Row {
        name: "+CIPHEAD",
        forms: &[Test, Read, Set],
        source: "MAN TCPIP/CIPHEAD.md, 使用方法举例.md (单链接非透传时接收数据)",
        run: |m, f, o| m.sockets.switch("+CIPHEAD", f, o),
    },
    Row {
        name: "+CIPSRIP",
        forms: &[Test, Read, Set],
        source: "MAN TCPIP/CIPSRIP.md",
        run: |m, f, o| m.sockets.switch("+CIPSRIP", f, o),
    },
    Row {
        name: "+CIPSHOWTP",
        forms: &[Test, Read, Set],
        source: "MAN TCPIP/使用方法举例.md (单链接非透传时接收数据)",
        run: |m, f, o| m.sockets.switch("+CIPSHOWTP", f, o),
    },
    Row {
        name: "+CIPRXF",
        forms: &[Test, Read, Set],
        source: "MAN TCPIP/CIPRXF.md; public/780EP_AT_TCP应用指南.md FAQ 10",
        run: |m, f, o| m.sockets.switch("+CIPRXF", f, o),
    },
    Row {
        name: "+CIPSPRT",
        forms: &[Test, Read, Set],
        source: "MAN TCPIP/CIPSPRT.md",
        run: |m, f, o| m.sockets.cipsprt(f, o),
    },
    Row {
        name: "O",
        forms: &[Exec],
        source: "MAN TCPIP/ATO.md, 使用方法举例.md (透明传输应用1)",
        run: |m, f, o| m.sockets.ato(f, o),
    },
    // MQTT.
    Row {
        name: "+MCONFIG",
        forms: &[Test, Set],
        source: "seed 000 section 6.2; notes section 1",
        run: |m, f, o| m.mqtt.mconfig(&m.cell, f, o),
    },
    Row {
        name: "+MIPSTART",
        forms: &[Test, Set],
        source: "seed 000 sections 6.2, 8.1; MAN MQTT/MIPSTART.md; notes section 2",
        run: |m, f, o| {
            let state = m.bearer.state(&m.cell, false);
            m.mqtt.mipstart(&m.cell, state, f, o)
        },
    },
    Row {
        name: "+SSLMIPSTART",
        forms: &[Test, Set],
        source: "seed 000 sections 6.2-6.4; notes section 2",
        run: |m, f, o| {
            let state = m.bearer.state(&m.cell, false);
            let (ssl, fs) = (&m.ssl, &m.fs);
            m.mqtt
                .sslmipstart(&m.cell, state, f, o, |host| ssl.tls_options(fs, host))
        },
    },
    Row {
        name: "+MCONNECT",
        forms: &[Test, Set],
        source: "seed 003; notes section 3",
        run: |m, f, o| m.mqtt.mconnect(&m.cell, f, o),
    },
    Row {
        name: "+MSUB",
        forms: &[Test, Set],
        source: "seed 000 section 6.2; notes section 4",
        run: |m, f, o| m.mqtt.msub(&m.cell, f, o),
    },
    Row {
        name: "+MUNSUB",
        forms: &[Test, Set],
        source: "notes section 4",
        run: |m, f, o| m.mqtt.munsub(&m.cell, f, o),
    },
    Row {
        name: "+MPUB",
        forms: &[Test, Set],
        source: "seed 001 first flow; seed 000 section 8.1 note 4",
        run: |m, f, o| m.mqtt.mpub(&m.cell, f, o),
    },
    Row {
        name: "+MPUBEX",
        forms: &[Test, Set],
        source: "notes section 6 (the family's MPUBEX page)",
        run: |m, f, o| {
            let p = m.mqtt.mpubex(&m.cell, f, o);
            m.pending.open_if(p.map(Prompted::Publish))
        },
    },
    Row {
        name: "+MQTTMSGSET",
        forms: &[Test, Read, Set],
        source: "seed 001 receive flow; seed 000 FAQ 14; notes section 7",
        run: |m, f, o| m.mqtt.mqttmsgset(f, o),
    },
    Row {
        name: "+MQTTMSGGET",
        forms: &[Exec, Test, Read],
        source: "seed 001 receive flow",
        run: |m, f, o| m.mqtt.mqttmsgget(f, o),
    },
    Row {
        name: "+MQTTSTATU",
        forms: &[Exec, Test],
        source: "seed 003; notes section 8",
        run: |m, f, o| m.mqtt.mqttstatu(f, o),
    },
    Row {
        name: "+MQTTMODE",
        forms: &[Test, Read, Set],
        source: "notes section 9",
        run: |m, f, o| m.mqtt.mqttmode(f, o),
    },
    Row {
        name: "+MDISCONNECT",
        forms: &[Exec, Test],
        source: "seed 000 section 6.2, FAQ 11; seed 001 FAQ 2",
        run: |m, f, o| m.mqtt.mdisconnect(&m.cell, f, o),
    },
    Row {
        name: "+MIPCLOSE",
        forms: &[Exec, Test],
        source: "seed 001 passive-close and PDN flows",
        run: |m, f, o| m.mqtt.mipclose(&m.cell, f, o),
    },
    // TLS and the file system.
    Row {
        name: "+SSLCFG",
        forms: &[Test, Set],
        source: "seed 000 sections 6.3, 6.4",
        run: |m, f, o| m.ssl.sslcfg(f, o),
    },
    Row {
        name: "+FSCREATE",
        forms: &[Test, Set],
        source: "seed 000 sections 6.3, 6.4",
        run: |m, f, o| m.fs.fscreate(f, o),
    },
    Row {
        name: "+FSWRITE",
        forms: &[Test, Set],
        source: "seed 000 sections 6.3, 6.4",
        run: |m, f, o| {
            let w = m.fs.fswrite(f, o);
            m.pending.open_if(w.map(Prompted::Write))
        },
    },
    Row {
        name: "+FSREAD",
        forms: &[Test, Set],
        source: "the family's manual (fs.rs module doc)",
        run: |m, f, o| m.fs.fsread(f, o),
    },
    Row {
        name: "+FSDEL",
        forms: &[Test, Set],
        source: "inferred: fixtures/DIVERGENCES.md A19",
        run: |m, f, o| m.fs.fsdel(f, o),
    },
    Row {
        name: "+FSFLSIZE",
        forms: &[Test, Set],
        source: "inferred: fixtures/DIVERGENCES.md A19",
        run: |m, f, o| m.fs.fsflsize(f, o),
    },
    Row {
        name: "+FSLS",
        forms: &[Exec, Test, Set],
        source: "inferred: fixtures/DIVERGENCES.md A19",
        run: |m, f, o| m.fs.fsls(f, o),
    },
    // HTTP(S) and its bearer (air780e/http.rs; MAN = ...Command_List/HTTP/).
    Row {
        name: "+SAPBR",
        forms: &[Test, Set],
        source: "MAN HTTP/使用方法举例.md; public/20240722_air780ep_at_aliyun.md capture",
        run: |m, f, o| m.http.sapbr(&m.cell, f, o),
    },
    Row {
        name: "+HTTPINIT",
        forms: &[Exec, Test],
        source: "MAN HTTP/使用方法举例.md; DIVERGENCES H1",
        run: |m, f, o| m.http.httpinit(f, o),
    },
    Row {
        name: "+HTTPTERM",
        forms: &[Exec, Test],
        source: "MAN HTTP/HTTPTERM.md, 使用方法举例.md; DIVERGENCES H1",
        run: |m, f, o| m.http.httpterm(f, o),
    },
    Row {
        name: "+HTTPPARA",
        forms: &[Test, Read, Set],
        source: "MAN HTTP/HTTPPARA.md; the Aliyun capture (unquoted URL, USER_DEFINED)",
        run: |m, f, o| m.http.httppara(f, o),
    },
    Row {
        name: "+HTTPDATA",
        forms: &[Test, Set],
        source: "MAN HTTP/HTTPDATA.md; the Aliyun capture (DOWNLOAD); DIVERGENCES H7",
        run: |m, f, o| {
            let b = m.http.httpdata(f, o);
            m.pending.open_if(b.map(Prompted::Body))
        },
    },
    Row {
        name: "+HTTPSSL",
        forms: &[Test, Read, Set],
        source: "MAN HTTP/HTTPSSL.md; DIVERGENCES H6",
        run: |m, f, o| m.http.httpssl(f, o),
    },
    Row {
        name: "+HTTPACTION",
        forms: &[Test, Set],
        source: "MAN HTTP/HTTPACTION.md; the Aliyun capture; DIVERGENCES H3, H5",
        run: |m, f, o| {
            let (ssl, fs) = (&m.ssl, &m.fs);
            m.http.httpaction(&m.cell, f, o, |host| {
                ssl.tls_options_ctx(super::http::SSL_CONTEXT, fs, host)
            })
        },
    },
    Row {
        name: "+HTTPREAD",
        forms: &[Exec, Test, Set],
        source: "MAN HTTP/HTTPREAD.md; the Aliyun capture; DIVERGENCES H2",
        run: |m, f, o| m.http.httpread(f, o),
    },
    Row {
        name: "+HTTPHEAD",
        forms: &[Exec, Test],
        source: "MAN HTTP/HTTPHEAD.md, 使用方法举例.md; DIVERGENCES H4, H8",
        run: |m, f, o| m.http.httphead(f, o),
    },
];

/// `AT+RESET` -> `OK`, then the power-on lines (luatos-doc-pool public/780EP_AT_TCP应用指南.md
/// FAQ 6 and the family's logs, fixtures/profiles/air780e.tsv, V1161 and V1010 rows).
fn reset(m: &mut Air780e, form: &Form, out: &mut Out) {
    match form {
        Form::Exec => {
            out.ok();
            m.restart(out)
        }
        Form::Test => out.ok(),
        _ => out.error(),
    }
}
