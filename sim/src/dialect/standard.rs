//! 27.007 commands both dialects answer alike, and the shapes of their query commands. Each
//! dialect's table row names its own sources; the rows only differ in the forms they take
//! (a form a row does not list never reaches these).

use crate::at::Form;
use crate::modem::{CellState, SimState};

use super::Out;

/// A query: `AT+X` (and `AT+X?` where the row takes it) prints `line()` and `OK`, `AT+X=?` only
/// `OK`, the set form `ERROR`.
pub fn query(form: &Form, out: &mut Out, line: impl FnOnce() -> String) {
    match form {
        Form::Exec | Form::Read => {
            out.line(line());
            out.ok()
        }
        Form::Test => out.ok(),
        Form::Set(_) => out.error(),
    }
}

/// A query of the SIM: as [`query`], but `+CME ERROR: 10` "SIM not inserted" (27.007 section
/// 9.2) while there is no ready SIM.
pub fn sim_query(cell: &CellState, form: &Form, out: &mut Out, line: impl FnOnce() -> String) {
    match form {
        Form::Exec | Form::Read if cell.sim != SimState::Ready => out.line(cell.cme(10)),
        _ => query(form, out, line),
    }
}

/// `ATI` -> the model profile's lines (`fixtures/profiles/<model>.tsv`): the Air780E's firmware
/// name (luatos-doc-pool Command_List/Base/ATI.md; seed 000 section 6.2:
/// `AirM2M_780E_V1169_LTE_AT`), the L610's manufacturer, model and revision, one per line (the
/// Fibocom family's form, fixtures/DIVERGENCES.md L21). `ATI<n>` answers the same.
pub fn ati(cell: &CellState, form: &Form, out: &mut Out) {
    match form {
        Form::Exec | Form::Set(_) => {
            cell.identity.profile.ati.iter().for_each(|l| out.line(l));
            out.ok()
        }
        _ => out.error(),
    }
}

/// `AT+CGSN` -> the bare IMEI (27.007 section 5.4; Air780E notes section 12). The L610's seed
/// 002 does not query it, but its MQTT client id defaults to it (mqtt manual transcription,
/// `AT+MQTTUSER`), so a driver may read it.
pub fn cgsn(cell: &CellState, form: &Form, out: &mut Out) {
    query(form, out, || cell.identity.imei.clone())
}

/// `AT+CPIN?` -> `+CPIN: READY` (Air780E: seed 001 first flow, seed 003 "查询卡状态"; L610:
/// seed 002 section 3.3, "READY 表示 SIM 卡被识别"); `+CME ERROR: 10` without a SIM.
pub fn cpin(cell: &CellState, form: &Form, out: &mut Out) {
    match form {
        Form::Exec => out.error(),
        _ => sim_query(cell, form, out, || "+CPIN: READY".into()),
    }
}

/// `AT+CSQ` -> `+CSQ: <rssi>,<ber>` (27.007 section 8.5; Air780E: seed 003 "查询网络信号",
/// `+CSQ: 29,99`; the L610's seed 002 section 3.3 sends the read form, `+CSQ: 25,99`, which
/// answers the same), `=?` the ranges.
pub fn csq(cell: &CellState, form: &Form, out: &mut Out) {
    match form {
        Form::Test => {
            out.line("+CSQ: (0-31,99),(0-7,99)");
            out.ok()
        }
        _ => query(form, out, || format!("+CSQ: {},{}", cell.rssi, cell.ber)),
    }
}
