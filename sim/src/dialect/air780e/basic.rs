//! General commands of the Air780E: identity, SIM, registration, PDP, settings.

use crate::at::Form;
use crate::dialect::Out;
use crate::modem::{CellState, BAUD_RATES};

use super::{num_in, number_setting, set_args, FIRMWARE};

pub use crate::dialect::v250::{at, echo};

/// `ATI` -> the firmware name (seed 000 section 6.2: `AirM2M_780E_V1169_LTE_AT`).
pub fn ati(form: &Form, out: &mut Out) {
    match form {
        Form::Exec | Form::Set(_) => {
            out.line(FIRMWARE);
            out.ok()
        }
        _ => out.error(),
    }
}

/// `AT+CGMR` -> `+CGMR: "<firmware>"` (notes section 12).
pub fn cgmr(form: &Form, out: &mut Out) {
    match form {
        Form::Exec => {
            out.line(format!("+CGMR: \"{FIRMWARE}\""));
            out.ok()
        }
        Form::Test => out.ok(),
        _ => out.error(),
    }
}

/// `AT+CGSN` -> the bare IMEI (notes section 12).
pub fn cgsn(cell: &CellState, form: &Form, out: &mut Out) {
    match form {
        Form::Exec => {
            out.line(&cell.identity.imei);
            out.ok()
        }
        Form::Test => out.ok(),
        _ => out.error(),
    }
}

/// `AT+CPIN?` -> `+CPIN: READY` (seed 001 first flow; seed 003 "查询卡状态").
pub fn cpin(cell: &CellState, form: &Form, out: &mut Out) {
    match form {
        Form::Read if cell.sim == crate::modem::SimState::Ready => {
            out.line("+CPIN: READY");
            out.ok()
        }
        Form::Read => out.line(cell.cme(10)),
        Form::Test => out.ok(),
        _ => out.error(),
    }
}

/// `AT+CSQ` -> `+CSQ: <rssi>,<ber>` (seed 003 "查询网络信号": `+CSQ: 29,99`).
pub fn csq(cell: &CellState, form: &Form, out: &mut Out) {
    match form {
        Form::Exec => {
            out.line(format!("+CSQ: {},{}", cell.rssi, cell.ber));
            out.ok()
        }
        Form::Test => {
            out.line("+CSQ: (0-31,99),(0-7,99)");
            out.ok()
        }
        _ => out.error(),
    }
}

/// `AT+CGREG?`/`AT+CEREG?` -> `+CGREG: <n>,<stat>` (seed 000 section 6.2: `+CGREG: 0,1`), and
/// the `=<n>` URC mode setting (27.007 sections 10.1.20, 10.1.22).
pub fn creg(cell: &mut CellState, prefix: &str, form: &Form, out: &mut Out) {
    if *form == Form::Read {
        let mode = if prefix == "+CGREG" {
            cell.cgreg_mode
        } else {
            cell.cereg_mode
        };
        out.line(format!("{prefix}: {},{}", mode, cell.reg as u8));
        return out.ok();
    }
    if let Some(n) = number_setting(form, out, prefix, 0..=2, 0) {
        *(if prefix == "+CGREG" {
            &mut cell.cgreg_mode
        } else {
            &mut cell.cereg_mode
        }) = n as u8;
    }
}

/// `AT+CGATT?` -> `+CGATT: 1` (seed 000 section 6.2, seed 001, seed 003).
/// Attaching without registration fails with `+CME ERROR: 30` "no network service" (27.007
/// section 9.2).
pub fn cgatt(cell: &mut CellState, form: &Form, out: &mut Out) {
    let registered = matches!(
        cell.reg,
        crate::modem::RegStatus::Home | crate::modem::RegStatus::Roaming
    );
    if !registered && matches!(set_args(form).as_deref(), Some([a]) if a.number() == Some(1)) {
        return out.line(cell.cme(30));
    }
    if let Some(a) = number_setting(form, out, "+CGATT", 0..=1, u32::from(cell.attached)) {
        cell.attached = a == 1;
        cell.pdp_active = cell.can_activate();
    }
}

/// `AT+CSTT[="apn","user","pwd"]` -> `OK` (seed 003 "配置网络": bare `AT+CSTT` answers `OK`).
pub fn cstt(cell: &mut CellState, form: &Form, out: &mut Out) {
    match form {
        Form::Exec => out.ok(),
        Form::Read => {
            let a = &cell.apn;
            out.line(format!(
                "+CSTT: \"{}\",\"{}\",\"{}\"",
                a.name, a.user, a.password
            ));
            out.ok()
        }
        Form::Test => out.ok(),
        Form::Set(_) => match set_args(form).as_deref() {
            Some(args @ ([_] | [_, _] | [_, _, _])) => {
                cell.apn.name = args[0].text();
                cell.apn.user = args.get(1).map(|a| a.text()).unwrap_or_default();
                cell.apn.password = args.get(2).map(|a| a.text()).unwrap_or_default();
                out.ok()
            }
            _ => out.error(),
        },
    }
}

/// `AT+CIICR` -> `OK` (seed 003 "激活网络"): activates the PDP context.
pub fn ciicr(cell: &mut CellState, form: &Form, out: &mut Out) {
    match form {
        Form::Exec if cell.can_activate() => {
            cell.pdp_active = true;
            out.ok()
        }
        Form::Exec => out.line(cell.cme(30)),
        Form::Test => out.ok(),
        _ => out.error(),
    }
}

/// `AT+CIFSR` -> the bare IP address and no `OK`, as on the SIM800-style TCP stack these
/// modules copy (notes section 12).
pub fn cifsr(cell: &CellState, form: &Form, out: &mut Out) {
    match form {
        Form::Exec if cell.pdp_active => out.line(cell.identity.ip.to_string()),
        Form::Exec => out.error(),
        Form::Test => out.ok(),
        _ => out.error(),
    }
}

/// `AT+CPNETAPN=<mode>,"<apn>","<user>","<pwd>",<auth>` (seed 000 section 7: private-network
/// SIM cards).
pub fn cpnetapn(cell: &mut CellState, form: &Form, out: &mut Out) {
    match form {
        Form::Set(_) => match set_args(form).as_deref() {
            Some([mode, apn, user, pwd, auth])
                if num_in(Some(mode), 0..=2).is_some() && num_in(Some(auth), 0..=3).is_some() =>
            {
                cell.apn.name = apn.text();
                cell.apn.user = user.text();
                cell.apn.password = pwd.text();
                out.ok()
            }
            Some([mode]) if num_in(Some(mode), 0..=2).is_some() => out.ok(),
            _ => out.error(),
        },
        Form::Read => {
            let a = &cell.apn;
            out.line(format!(
                "+CPNETAPN: 2,\"{}\",\"{}\",\"{}\",0",
                a.name, a.user, a.password
            ));
            out.ok()
        }
        Form::Test => out.ok(),
        Form::Exec => out.error(),
    }
}

/// `AT+CMEE=<0|1|2>` (27.007 section 9.1; seed 002 FAQ 4.1 describes the same modes).
pub fn cmee(cell: &mut CellState, form: &Form, out: &mut Out) {
    if let Some(n) = number_setting(form, out, "+CMEE", 0..=2, cell.cmee.into()) {
        cell.cmee = n as u8;
    }
}

/// `AT+IPR=<rate>` (notes section 12: read form `+IPR: <rate>`). The new rate applies after
/// the `OK` (which still goes at the old one); under a timing profile that paces the UART
/// (`realistic`) the bytes then cross at it, both ways. `0` (auto-baud) keeps the rate.
pub fn ipr(cell: &mut CellState, form: &Form, out: &mut Out) {
    match form {
        Form::Read => {
            out.line(format!("+IPR: {}", cell.baud));
            out.ok()
        }
        Form::Test => {
            let list: Vec<String> = BAUD_RATES.iter().map(u32::to_string).collect();
            out.line(format!("+IPR: ({}),()", list.join(",")));
            out.ok()
        }
        Form::Set(_) => match set_args(form).as_deref() {
            Some([rate]) => match rate.number().filter(|r| BAUD_RATES.contains(r)) {
                Some(r) => {
                    cell.baud = r;
                    out.ok();
                    if r != 0 {
                        out.baud(r);
                    }
                }
                None => out.error(),
            },
            _ => out.error(),
        },
        Form::Exec => out.error(),
    }
}
