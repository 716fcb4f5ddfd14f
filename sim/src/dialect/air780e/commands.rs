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
use crate::dialect::commands::{at, echo, row, Cmd, Echoes, FormKind, ALL};
use crate::dialect::{standard, Out};

use super::{basic, number_setting, Air780e, Prompted};

use FormKind::{Exec, Read, Set, Test};

type Row = Cmd<Air780e>;

/// The table [`Air780e::on_command`](crate::dialect::Dialect::on_command) dispatches through.
#[rustfmt::skip]
pub(super) static COMMANDS: &[Row] = &[
    // Basic commands (ITU V.250).
    row("", &[Exec], "V.250 section 5.2.1; seed 000 section 6.2", at),
    row("E", &[Exec, Set], "V.250 section 6.2.4", echo),
    row("I", &[Exec, Set], "MAN Base/ATI.md; seed 000 section 6.2", |m, f, o| standard::ati(&m.cell, f, o)),
    row("&W", &[Exec, Set], "V.250 section 6.1.3; notes section 12 (`;&W`)", |m, f, o| m.profile_cmd("&W", f, o)),
    row("Z", &[Exec, Set], "V.250 section 6.1.1", |m, f, o| m.profile_cmd("Z", f, o)),
    row("&F", &[Exec, Set], "V.250 section 6.1.2", |m, f, o| m.profile_cmd("&F", f, o)),
    // Identity and SIM.
    row("+CGMR", &[Exec, Test], "MAN Base/CGMR.md; notes section 12", |m, f, o| basic::cgmr(&m.cell, f, o)),
    row("+CGMI", &[Exec, Test], "MAN Base/CGMI.md", |m, f, o| basic::cgmi(&m.cell, f, o)),
    row("+CGMM", &[Exec, Test], "MAN Base/CGMM.md", |m, f, o| basic::cgmm(&m.cell, f, o)),
    row("+CGSN", &[Exec, Test], "notes section 12", |m, f, o| standard::cgsn(&m.cell, f, o)),
    row("+CIMI", &[Exec, Test], "MAN Base/CIMI.md", |m, f, o| basic::cimi(&m.cell, f, o)),
    row("+ICCID", &[Exec, Test], "MAN Base/ICCID.md; public/20240906_any_sim.md", |m, f, o| basic::iccid(&m.cell, true, f, o)),
    row("+CCID", &[Exec, Test], "MAN Base/ICCID.md", |m, f, o| basic::iccid(&m.cell, false, f, o)),
    row("+CPIN", &[Test, Read], "seed 001 first flow; seed 003", |m, f, o| standard::cpin(&m.cell, f, o)),
    // Device control.
    row("+CCLK", &[Test, Read, Set], "MAN Configuration/CCLK.md", |m, f, o| basic::cclk(&mut m.cell, f, o)),
    row("+CBC", ALL, "MAN Device_control/CBC.md", |m, f, o| basic::cbc(&mut m.radio, f, o)),
    row("+CSCLK", &[Test, Read, Set], "MAN Device_control/CSCLK.md", |m, f, o| basic::csclk(&mut m.radio, f, o)),
    row("+CSDT", &[Test, Read, Set], "MAN Device_control/CSDT.md; public/20240906_any_sim.md", |m, f, o| basic::csdt(&mut m.radio, f, o)),
    row("+WAKETIM", &[Test, Read, Set], "MAN Device_control/CSCLK.md (examples)", |m, f, o| basic::waketim(&mut m.radio, f, o)),
    row("*RTIME", &[Test, Read, Set], "MAN Device_control/RTIME.md; CSCLK.md's third example", |m, f, o| if let Some(n) = number_setting(f, o, "*RTIME", 0..=3600, m.radio.rtime) { m.radio.rtime = n }),
    row("*SIMAUTO", &[Test, Read, Set], "MAN Device_control/SIMAUTO.md; the SIM guide", |m, f, o| if let Some(n) = number_setting(f, o, "*SIMAUTO", 0..=1, m.radio.simauto) { m.radio.simauto = n }),
    row("+CFUN", &[Test, Read, Set], "MAN Device_control/CFUN.md", |m, f, o| m.cfun(f, o)),
    row("+RESET", &[Exec, Test], "public/780EP_AT_TCP应用指南.md FAQ 6; fixtures/profiles/air780e.tsv (V1161, V1010)", reset),
    row("+CMEE", &[Test, Read, Set], "27.007 section 9.1", |m, f, o| basic::cmee(&mut m.cell, f, o)),
    row("+IPR", &[Test, Read, Set], "notes section 12", |m, f, o| basic::ipr(&mut m.cell, f, o)),
    // Network service.
    row("+CSQ", &[Exec, Test], "seed 003; MAN Network_service/CSQ.md", |m, f, o| standard::csq(&m.cell, f, o)),
    row("+CESQ", &[Exec, Test], "NETG's V1165 capture; 27.007 section 8.69", |m, f, o| basic::cesq(&m.cell, f, o)),
    row("+CREG", &[Test, Read, Set], "MAN Network_service/CREG.md; seed 000 section 6.2", |m, f, o| basic::creg(&mut m.cell, "+CREG", f, o)),
    row("+CGREG", &[Test, Read, Set], "MAN GPRS/CGREG.md; seed 000 section 6.2", |m, f, o| basic::creg(&mut m.cell, "+CGREG", f, o)),
    row("+CEREG", &[Test, Read, Set], "MAN Network_service/CEREG.md", |m, f, o| basic::creg(&mut m.cell, "+CEREG", f, o)),
    row("+COPS", &[Test, Read, Set], "MAN Network_service/COPS.md", |m, f, o| basic::cops(&m.cell, &mut m.radio, f, o)),
    row("+CPNETAPN", &[Test, Read, Set], "seed 000 section 7", |m, f, o| basic::cpnetapn(&mut m.cell, f, o)),
    // GPRS and the TCP/IP bearer.
    row("+CGATT", &[Test, Read, Set], "MAN GPRS/CGATT.md; seed 000 section 6.2", |m, f, o| basic::cgatt(&mut m.cell, f, o)),
    row("+CGDCONT", &[Test, Read, Set], "MAN GPRS/CGDCONT.md", |m, f, o| m.bearer.cgdcont(&mut m.cell, f, o)),
    row("+CGACT", &[Test, Read, Set], "MAN GPRS/CGACT.md", cgact),
    row("+CGPADDR", &[Exec, Test, Set], "MAN GPRS/CGPADDR.md", |m, f, o| m.bearer.cgpaddr(&m.cell, f, o)),
    row("+CSTT", ALL, "MAN TCPIP/CSTT.md; public/780EP_AT_TCP应用指南.md", |m, f, o| m.bearer.cstt(&mut m.cell, f, o)),
    row("+CIICR", &[Exec, Test], "MAN TCPIP/CSTT.md, 状态机.md", |m, f, o| m.bearer.ciicr(&mut m.cell, f, o)),
    row("+CIFSR", &[Exec, Test], "MAN TCPIP/使用方法举例.md; notes section 12", |m, f, o| m.bearer.cifsr(&mut m.cell, f, o)),
    row("+CIPSHUT", &[Exec, Test], "MAN TCPIP/使用方法举例.md, 状态机.md", cipshut),
    row("+CIPSTATUS", &[Exec, Test, Set], "MAN TCPIP/CIPSTATUS.md, 使用方法举例.md", |m, f, o| m.sockets.cipstatus(&m.cell, &m.bearer, m.mqtt.tcp_up(), f, o)),
    row("+CIPMUX", &[Test, Read, Set], "MAN TCPIP/CIPMUX.md", |m, f, o| m.bearer.cipmux(&m.cell, f, o)),
    row("+CIPQSEND", &[Test, Read, Set], "MAN TCPIP/CIPQSEND.md, 使用方法举例.md", |m, f, o| m.bearer.switch(&m.cell, "+CIPQSEND", f, o)),
    row("+CIPSSL", &[Test, Read, Set], "MAN TCPIP/CIPSSL.md, 使用方法举例.md", |m, f, o| m.bearer.switch(&m.cell, "+CIPSSL", f, o)),
    row("+CIPMODE", &[Test, Read, Set], "MAN TCPIP/CIPMODE.md, 使用方法举例.md", |m, f, o| m.bearer.switch(&m.cell, "+CIPMODE", f, o)),
    // The TCP/IP stack's sockets (cip.rs).
    row("+CIPSTART", &[Test, Set], "MAN TCPIP/CIPSTART.md, 使用方法举例.md; public/780EP_AT_TCP应用指南.md", cipstart),
    row("+CIPSEND", ALL, "MAN TCPIP/CIPSEND.md, CIPQSEND.md, 使用方法举例.md", |m, f, o| m.pending.open_if(m.sockets.cipsend(&m.cell, &m.bearer, f, o).map(Prompted::Send))),
    row("+CIPCLOSE", &[Exec, Test, Set], "MAN TCPIP/CIPCLOSE.md, 使用方法举例.md", |m, f, o| m.sockets.cipclose(&m.bearer, f, o)),
    row("+CIPHEAD", &[Test, Read, Set], "MAN TCPIP/CIPHEAD.md, 使用方法举例.md (单链接非透传时接收数据)", |m, f, o| m.sockets.switch("+CIPHEAD", f, o)),
    row("+CIPSRIP", &[Test, Read, Set], "MAN TCPIP/CIPSRIP.md", |m, f, o| m.sockets.switch("+CIPSRIP", f, o)),
    row("+CIPSHOWTP", &[Test, Read, Set], "MAN TCPIP/使用方法举例.md (单链接非透传时接收数据)", |m, f, o| m.sockets.switch("+CIPSHOWTP", f, o)),
    row("+CIPRXF", &[Test, Read, Set], "MAN TCPIP/CIPRXF.md; public/780EP_AT_TCP应用指南.md FAQ 10", |m, f, o| m.sockets.switch("+CIPRXF", f, o)),
    row("+CIPSPRT", &[Test, Read, Set], "MAN TCPIP/CIPSPRT.md", |m, f, o| m.sockets.cipsprt(f, o)),
    row("O", &[Exec], "MAN TCPIP/ATO.md, 使用方法举例.md (透明传输应用1)", |m, f, o| m.sockets.ato(f, o)),
    row("+CIPACK", &[Exec, Test, Set], "MAN TCPIP/CIPACK.md; SIM800-family captures (DIVERGENCES S12)", |m, f, o| m.sockets.cipack(&m.bearer, f, o)),
    row("+CIPCCFG", &[Test, Read, Set], "MAN TCPIP/CIPCCFG.md (DIVERGENCES S13)", |m, f, o| m.sockets.cipccfg(&m.cell, &m.bearer, f, o)),
    row("+CDNSGIP", &[Test, Set], "MAN TCPIP/CDNSGIP.md; SIMCom-family captures (DIVERGENCES S14)", |m, f, o| m.dns.cdnsgip(&m.cell, f, o)),
    // MQTT.
    row("+MCONFIG", &[Test, Set], "seed 000 section 6.2; notes section 1", |m, f, o| m.mqtt.mconfig(&m.cell, f, o)),
    row("+MIPSTART", &[Test, Set], "seed 000 sections 6.2, 8.1; MAN MQTT/MIPSTART.md; notes section 2", |m, f, o| m.mqtt.mipstart(&m.cell, m.bearer.state(&m.cell, false), f, o)),
    row("+SSLMIPSTART", &[Test, Set], "seed 000 sections 6.2-6.4; notes section 2", sslmipstart),
    row("+MCONNECT", &[Test, Set], "seed 003; notes section 3", |m, f, o| m.mqtt.mconnect(&m.cell, f, o)),
    row("+MSUB", &[Test, Set], "seed 000 section 6.2; notes section 4", |m, f, o| m.mqtt.msub(&m.cell, f, o)),
    row("+MUNSUB", &[Test, Set], "notes section 4", |m, f, o| m.mqtt.munsub(&m.cell, f, o)),
    row("+MPUB", &[Test, Set], "seed 001 first flow; seed 000 section 8.1 note 4", |m, f, o| m.mqtt.mpub(&m.cell, f, o)),
    row("+MPUBEX", &[Test, Set], "notes section 6 (the family's MPUBEX page)", |m, f, o| m.pending.open_if(m.mqtt.mpubex(&m.cell, f, o).map(Prompted::Publish))),
    row("+MQTTMSGSET", &[Test, Read, Set], "seed 001 receive flow; seed 000 FAQ 14; notes section 7", |m, f, o| m.mqtt.mqttmsgset(f, o)),
    row("+MQTTMSGGET", &[Exec, Test, Read], "seed 001 receive flow", |m, f, o| m.mqtt.mqttmsgget(f, o)),
    row("+MQTTSTATU", &[Exec, Test], "seed 003; notes section 8", |m, f, o| m.mqtt.mqttstatu(f, o)),
    row("+MQTTMODE", &[Test, Read, Set], "notes section 9", |m, f, o| m.mqtt.mqttmode(f, o)),
    row("+MDISCONNECT", &[Exec, Test], "seed 000 section 6.2, FAQ 11; seed 001 FAQ 2", |m, f, o| m.mqtt.mdisconnect(&m.cell, f, o)),
    row("+MIPCLOSE", &[Exec, Test], "seed 001 passive-close and PDN flows", |m, f, o| m.mqtt.mipclose(&m.cell, f, o)),
    // TLS and the file system.
    row("+SSLCFG", &[Test, Set], "seed 000 sections 6.3, 6.4", |m, f, o| m.ssl.sslcfg(f, o)),
    row("+FSCREATE", &[Test, Set], "seed 000 sections 6.3, 6.4", |m, f, o| m.fs.fscreate(f, o)),
    row("+FSWRITE", &[Test, Set], "seed 000 sections 6.3, 6.4", |m, f, o| m.pending.open_if(m.fs.fswrite(f, o).map(Prompted::Write))),
    row("+FSREAD", &[Test, Set], "the family's manual (fs.rs module doc)", |m, f, o| m.fs.fsread(f, o)),
    row("+FSDEL", &[Test, Set], "inferred: fixtures/DIVERGENCES.md A19", |m, f, o| m.fs.fsdel(f, o)),
    row("+FSFLSIZE", &[Test, Set], "inferred: fixtures/DIVERGENCES.md A19", |m, f, o| m.fs.fsflsize(f, o)),
    row("+FSLS", &[Exec, Test, Set], "inferred: fixtures/DIVERGENCES.md A19", |m, f, o| m.fs.fsls(f, o)),
    row("+FSMKDIR", &[Test, Set], "MAN FS/FSMKDIR.md, FS/使用方法举例.md (DIVERGENCES A35)", |m, f, o| m.fs.fsmkdir(f, o)),
    row("+FSRMDIR", &[Test, Set], "MAN FS/FSRMDIR.md, FS/使用方法举例.md (DIVERGENCES A35)", |m, f, o| m.fs.fsrmdir(f, o)),
    row("+FSMEM", &[Exec, Test], "MAN FS/FSMEM.md, FS/使用方法举例.md (DIVERGENCES A35)", |m, f, o| m.fs.fsmem(f, o)),
    // HTTP(S) and its bearer (air780e/http.rs; MAN = ...Command_List/HTTP/).
    row("+SAPBR", &[Test, Set], "MAN HTTP/使用方法举例.md; public/20240722_air780ep_at_aliyun.md capture", |m, f, o| m.http.sapbr(&m.cell, f, o)),
    row("+HTTPINIT", &[Exec, Test], "MAN HTTP/使用方法举例.md; DIVERGENCES H1", |m, f, o| m.http.httpinit(f, o)),
    row("+HTTPTERM", &[Exec, Test], "MAN HTTP/HTTPTERM.md, 使用方法举例.md; DIVERGENCES H1", |m, f, o| m.http.httpterm(f, o)),
    row("+HTTPPARA", &[Test, Read, Set], "MAN HTTP/HTTPPARA.md; the Aliyun capture (unquoted URL, USER_DEFINED)", |m, f, o| m.http.httppara(f, o)),
    row("+HTTPDATA", &[Test, Set], "MAN HTTP/HTTPDATA.md; the Aliyun capture (DOWNLOAD); DIVERGENCES H7", |m, f, o| m.pending.open_if(m.http.httpdata(f, o).map(Prompted::Body))),
    row("+HTTPSSL", &[Test, Read, Set], "MAN HTTP/HTTPSSL.md; DIVERGENCES H6", |m, f, o| m.http.httpssl(f, o)),
    row("+HTTPACTION", &[Test, Set], "MAN HTTP/HTTPACTION.md; the Aliyun capture; DIVERGENCES H3, H5", httpaction),
    row("+HTTPREAD", &[Exec, Test, Set], "MAN HTTP/HTTPREAD.md; the Aliyun capture; DIVERGENCES H2", |m, f, o| m.http.httpread(f, o)),
    row("+HTTPHEAD", &[Exec, Test], "MAN HTTP/HTTPHEAD.md, 使用方法举例.md; DIVERGENCES H4, H8", |m, f, o| m.http.httphead(f, o)),
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

/// `AT+CGACT` (MAN GPRS/CGACT.md).
fn cgact(m: &mut Air780e, f: &Form, o: &mut Out) {
    if m.bearer.cgact(&mut m.cell, f, o) {
        m.mqtt.network_lost(o);
        m.http.network_lost(true, o);
        m.sockets.network_lost(o);
    }
}

/// `AT+CIPSHUT` (MAN TCPIP/使用方法举例.md, 状态机.md).
fn cipshut(m: &mut Air780e, f: &Form, o: &mut Out) {
    if *f == Form::Exec {
        m.sockets.shut(o);
    }
    m.bearer.cipshut(&mut m.cell, f, o)
}

/// `AT+CIPSTART` (MAN TCPIP/CIPSTART.md, 使用方法举例.md; public/780EP_AT_TCP应用指南.md).
fn cipstart(m: &mut Air780e, f: &Form, o: &mut Out) {
    let (ssl, fs) = (&m.ssl, &m.fs);
    m.sockets
        .cipstart(&mut m.cell, &m.bearer, f, o, |ctx, host| {
            ssl.tls_options_ctx(ctx, fs, host)
        })
}

/// `AT+SSLMIPSTART` (seed 000 sections 6.2-6.4; notes section 2).
fn sslmipstart(m: &mut Air780e, f: &Form, o: &mut Out) {
    let state = m.bearer.state(&m.cell, false);
    let (ssl, fs) = (&m.ssl, &m.fs);
    m.mqtt
        .sslmipstart(&m.cell, state, f, o, |host| ssl.tls_options(fs, host))
}

/// `AT+HTTPACTION` (MAN HTTP/HTTPACTION.md; the Aliyun capture; DIVERGENCES H3, H5).
fn httpaction(m: &mut Air780e, f: &Form, o: &mut Out) {
    let (ssl, fs) = (&m.ssl, &m.fs);
    m.http.httpaction(&m.cell, f, o, |host| {
        ssl.tls_options_ctx(super::http::SSL_CONTEXT, fs, host)
    })
}

impl Echoes for Air780e {
    fn echo_mut(&mut self) -> &mut bool {
        &mut self.echo
    }
}
