//! General commands of the Air780E: identity, SIM, registration, PDP, settings.

use crate::at::Form;
use crate::dialect::Out;
use crate::modem::{CellState, BAUD_RATES};

use crate::at::Arg;
use crate::dialect::params::{one_number, registration, setting};
use crate::dialect::standard::{query, sim_query};

use super::{num_in, number_setting, set_args};

/// `AT+CGMR` -> `+CGMR: "<firmware>"` (luatos-doc-pool Command_List/Base/CGMR.md:
/// `+CGMR: "AirM2M_780EP_V1007_LTE_AT"`; notes section 12).
pub fn cgmr(cell: &CellState, form: &Form, out: &mut Out) {
    query(form, out, || {
        format!("+CGMR: \"{}\"", cell.identity.profile.revision())
    })
}

/// `AT+CGMI` -> `+CGMI: "AirM2M"` (luatos-doc-pool Command_List/Base/CGMI.md).
pub fn cgmi(cell: &CellState, form: &Form, out: &mut Out) {
    query(form, out, || {
        format!("+CGMI: \"{}\"", cell.identity.profile.cgmi)
    })
}

/// `AT+CGMM` -> `+CGMM: "Air780EP"` (luatos-doc-pool Command_List/Base/CGMM.md).
pub fn cgmm(cell: &CellState, form: &Form, out: &mut Out) {
    query(form, out, || {
        format!("+CGMM: \"{}\"", cell.identity.profile.cgmm)
    })
}

/// `AT+CIMI` -> the bare IMSI (luatos-doc-pool Command_List/Base/CIMI.md:
/// `460001841426414`); `+CME ERROR: 10` without a SIM (27.007 section 9.2).
pub fn cimi(cell: &CellState, form: &Form, out: &mut Out) {
    sim_query(cell, form, out, || cell.identity.imsi.clone())
}

/// `AT+ICCID` -> `+ICCID: <iccid>`; `AT+CCID` -> the bare ICCID (luatos-doc-pool
/// Command_List/Base/ICCID.md; the SIM guide public/20240906_any_sim.md logs
/// `+ICCID: 898604981022C0254186`). `+CME ERROR: 10` without a SIM.
pub fn iccid(cell: &CellState, prefixed: bool, form: &Form, out: &mut Out) {
    let iccid = &cell.identity.iccid;
    if prefixed {
        sim_query(cell, form, out, || format!("+ICCID: {iccid}"))
    } else {
        sim_query(cell, form, out, || iccid.clone())
    }
}

/// `AT+CCLK?` -> `+CCLK: "yy/MM/dd,hh:mm:ss+zz"`; `AT+CCLK="<time>"` sets the clock
/// (luatos-doc-pool Command_List/Configuration/CCLK.md: `+CCLK: "18/08/01,12:12:58+00"`). The
/// clock runs in UTC; the zone given to the set form is printed back as given (the page sets
/// `+32` and reads `+32`) and not applied.
pub fn cclk(cell: &mut CellState, form: &Form, out: &mut Out) {
    match form {
        Form::Read => {
            let now = cell.clock.now();
            let zone = cell.clock.zone.clone();
            out.line(now.fill(&format!(
                "+CCLK: \"{{YY}}/{{MM}}/{{DD}},{{hh}}:{{mm}}:{{ss}}{zone}\""
            )));
            out.ok()
        }
        Form::Test => out.ok(),
        Form::Set(_) => match set_args(form).as_deref() {
            Some([t]) if t.quoted => match crate::modem::Civil::parse(&t.text()) {
                Some(c) if t.text().len() >= 17 => {
                    cell.clock.set(c);
                    cell.clock.zone = zone_of(&t.text());
                    out.ok()
                }
                _ => out.error(),
            },
            _ => out.error(),
        },
        Form::Exec => out.error(),
    }
}

/// The `±zz` zone at the end of a `"yy/MM/dd,hh:mm:ss±zz"` time, as given (`+00` without one).
pub fn zone_of(t: &str) -> String {
    match t.rfind(['+', '-']) {
        Some(i) if i >= 17 && t[i + 1..].bytes().all(|b| b.is_ascii_digit()) && t.len() > i + 1 => {
            t[i..].to_string()
        }
        _ => "+00".into(),
    }
}

/// `AT+CBC` -> `+CBC: <mV>` (luatos-doc-pool Command_List/Device_control/CBC.md); the
/// simulated battery reads 3800 mV. `AT+CBC?`/`AT+CBC=<on>,<off>`: the power-on and power-off
/// detection voltages.
pub fn cbc(radio: &mut Radio, form: &Form, out: &mut Out) {
    match form {
        Form::Exec => {
            out.line("+CBC: 3800");
            out.ok()
        }
        Form::Read => {
            out.line(format!("+CBC: {},{}", radio.cbc.0, radio.cbc.1));
            out.ok()
        }
        Form::Test => out.ok(),
        Form::Set(_) => match set_args(form).as_deref() {
            Some([on, off]) => match (num_in(Some(on), 0..=5000), num_in(Some(off), 0..=5000)) {
                (Some(on), Some(off)) => {
                    radio.cbc = (on, off);
                    out.ok()
                }
                _ => out.error(),
            },
            _ => out.error(),
        },
    }
}

/// `AT+CSCLK=<0..3>`, `AT+CSCLK?` -> `+CSCLK: <n>` (luatos-doc-pool
/// Command_List/Device_control/CSCLK.md). Sleep is not simulated: the UART always answers.
pub fn csclk(radio: &mut Radio, form: &Form, out: &mut Out) {
    if let Some(n) = number_setting(form, out, "+CSCLK", 0..=3, u32::from(radio.csclk)) {
        radio.csclk = n as u8;
    }
}

/// `AT+CSDT=<mode>[,<level>]`, `AT+CSDT?` -> `+CSDT: <mode>,<level>`, `AT+CSDT=?` ->
/// `+CSDT: (0,1)` (luatos-doc-pool Command_List/Device_control/CSDT.md; the SIM guide
/// public/20240906_any_sim.md enables it with `AT+CSDT=1` before pulling the card). The
/// `sim-removed`/`sim-inserted` faults print the guide's URCs whatever the switch says.
pub fn csdt(radio: &mut Radio, form: &Form, out: &mut Out) {
    match form {
        Form::Read => {
            out.line(format!("+CSDT: {},{}", radio.csdt.0, radio.csdt.1));
            out.ok()
        }
        Form::Test => {
            out.line("+CSDT: (0,1)");
            out.ok()
        }
        Form::Set(_) => match set_args(form).as_deref() {
            Some([m]) => match num_in(Some(m), 0..=1) {
                Some(m) => {
                    radio.csdt = (m as u8, 1);
                    out.ok()
                }
                None => out.error(),
            },
            Some([m, l]) => match (num_in(Some(m), 0..=1), num_in(Some(l), 0..=1)) {
                (Some(m), Some(l)) => {
                    radio.csdt = (m as u8, l as u8);
                    out.ok()
                }
                _ => out.error(),
            },
            _ => out.error(),
        },
        Form::Exec => out.error(),
    }
}

/// The radio-side settings the basic commands keep beyond [`CellState`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Radio {
    /// `AT+CFUN`: 1 full, 0 minimum, 4 flight mode.
    pub cfun: u8,
    /// `AT+CSDT=<mode>,<level>`.
    pub csdt: (u8, u8),
    /// `AT+CSCLK`.
    pub csclk: u8,
    /// `AT+CBC=<power-on mV>,<power-off mV>`.
    pub cbc: (u32, u32),
    /// `AT+COPS` `<format>`: 0 long name, 1 short, 2 numeric.
    pub cops_format: u8,
    /// `AT+WAKETIM`: seconds idle before sleep.
    pub waketim: u32,
    /// `AT*RTIME`, `AT*SIMAUTO`.
    pub rtime: u32,
    pub simauto: u32,
}

impl Default for Radio {
    fn default() -> Self {
        Radio {
            cfun: 1,
            csdt: (0, 1),
            csclk: 0,
            cbc: (3300, 3200),
            cops_format: 2,
            waketim: 1,
            rtime: 2,
            simauto: 0,
        }
    }
}

/// `AT+COPS?` -> `+COPS: 0,<format>,"<oper>",7` (luatos-doc-pool
/// Command_List/Network_service/COPS.md: `+COPS: 0,2,"46001",7`, then after `AT+COPS=3,1`
/// `+COPS: 0,1,"UNICOM",7`); `+COPS: 0` while not registered (27.007 section 7.3). The
/// simulated network is China Mobile's (the IMSI's 460 04). `AT+COPS=?` lists it.
pub fn cops(cell: &CellState, radio: &mut Radio, form: &Form, out: &mut Out) {
    match form {
        Form::Read if cell.registered() => {
            let oper = ["CHINA MOBILE", "CMCC", "46000"][usize::from(radio.cops_format)];
            out.line(format!("+COPS: 0,{},\"{oper}\",7", radio.cops_format));
            out.ok()
        }
        Form::Read => {
            out.line("+COPS: 0");
            out.ok()
        }
        Form::Test => {
            out.line("+COPS: (2,\"CHINA MOBILE\",\"CMCC\",\"46000\",7),,(0,1,2,3,4),(0,1,2)");
            out.ok()
        }
        Form::Set(_) => match set_args(form).as_deref() {
            Some([m, rest @ ..]) if rest.len() <= 3 => {
                let Some(mode) = num_in(Some(m), 0..=4) else {
                    return out.error();
                };
                let format = match rest.first() {
                    Some(f) => match num_in(Some(f), 0..=2) {
                        Some(f) => Some(f as u8),
                        None => return out.error(),
                    },
                    None => None,
                };
                if matches!(mode, 1 | 4) && rest.len() < 2 {
                    return out.error();
                }
                if let Some(f) = format {
                    radio.cops_format = f;
                }
                out.ok()
            }
            _ => out.error(),
        },
        Form::Exec => out.error(),
    }
}

/// `AT+CREG?`/`AT+CGREG?`/`AT+CEREG?` -> `+CGREG: <n>,<stat>` (seed 000 section 6.2:
/// `+CGREG: 0,1`), with `<n>`=2 `+CREG: 2,1,"1863","0183db22",7` (luatos-doc-pool
/// Command_List/Network_service/CREG.md, CEREG.md, GPRS/CGREG.md); `=<n>` sets the URC mode.
pub fn creg(cell: &mut CellState, prefix: &str, form: &Form, out: &mut Out) {
    // The test forms as the family prints them: CREG.md `+CREG:(0,1,2,3)` (a V1165 capture
    // of CEREG has the blank: NETG `+CEREG: (0,1,2,3,4,5)`), CGREG 0..2. Modes above 2 report
    // like 2 (the cell) here: the reject causes and PSM timers they add are not simulated.
    let syntax = match prefix {
        "+CREG" => (3, "(0,1,2,3)"),
        "+CEREG" => (5, "(0,1,2,3,4,5)"),
        _ => (2, "(0-2)"),
    };
    registration(cell, prefix, syntax, form, out)
}

/// `AT+CESQ` -> `+CESQ: 99,99,255,255,<rsrq>,<rsrp>` (NETG's V1165 capture:
/// `+CESQ: 99,99,255,255,22,48`; 27.007 section 8.69). RSRP follows the signal (`2 * rssi - 10`,
/// so the default 29 prints the capture's 48); unknown signal prints 255s.
pub fn cesq(cell: &CellState, form: &Form, out: &mut Out) {
    match form {
        Form::Exec => {
            let (rsrq, rsrp) = match cell.rssi {
                99 => (255, 255),
                r => (22, (2 * u32::from(r)).saturating_sub(10).min(97)),
            };
            out.line(format!("+CESQ: 99,99,255,255,{rsrq},{rsrp}"));
            out.ok()
        }
        Form::Test => {
            out.line("+CESQ: (0-63,99),(0-7,99),(0-96,255),(0-49,255),(0-34,255),(0-97,255)");
            out.ok()
        }
        _ => out.error(),
    }
}

/// `AT+WAKETIM?` -> `+WAKETIM:<s>` (no blank), `AT+WAKETIM=<s>` -> `OK`: the idle seconds before
/// sleep (luatos-doc-pool Command_List/Device_control/CSCLK.md's examples: `+WAKETIM:1`).
pub fn waketim(radio: &mut Radio, form: &Form, out: &mut Out) {
    let read = || format!("+WAKETIM:{}", radio.waketim);
    if let Some(n) = setting(form, out, read, None, |n| num_in(Some(n), 1..=3600)) {
        radio.waketim = n;
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
    if !registered && one_number(form, 1..=1).is_some() {
        return out.line(cell.cme(30));
    }
    // Command_List/GPRS/CGATT.md prints the test form as a range.
    if *form == Form::Test {
        out.line("+CGATT: (0-1)");
        return out.ok();
    }
    if let Some(a) = number_setting(form, out, "+CGATT", 0..=1, u32::from(cell.attached)) {
        cell.attached = a == 1;
        cell.pdp_active = cell.can_activate();
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
            out.line(format!("+CPNETAPN: 2,{},0", apn_fields(cell)));
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
    let list: Vec<String> = BAUD_RATES.iter().map(u32::to_string).collect();
    let test = format!("+IPR: ({}),()", list.join(","));
    let read = || format!("+IPR: {}", cell.baud);
    let valid = |rate: &Arg| rate.number().filter(|r| BAUD_RATES.contains(r));
    if let Some(r) = setting(form, out, read, Some(&test), valid) {
        cell.baud = r;
        if r != 0 {
            out.baud(r);
        }
    }
}

/// The APN, user and password as `AT+CSTT?` and `AT+CPNETAPN?` print them: `"<apn>","<user>","<pwd>"`.
pub fn apn_fields(cell: &CellState) -> String {
    let a = &cell.apn;
    format!("\"{}\",\"{}\",\"{}\"", a.name, a.user, a.password)
}
