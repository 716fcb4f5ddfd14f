//! General commands of the L610: echo, radio, SIM, registration, APN, signal, errors. Every
//! answer is the one seed 002 section 3.3's log prints.

use crate::at::Form;
use crate::dialect::params::{cgpaddr_line, number_setting, one_number, registration};
use crate::dialect::standard::{query, sim_query};
use crate::dialect::Out;
use crate::modem::CellState;

use super::{num_in, set_args};

/// What the basic commands remember beyond [`CellState`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Basic {
    /// `AT+GTRAT=<mode>[,<pref1>[,<pref2>]]`.
    gtrat: Vec<u32>,
    pub cfun: u32,
    /// `AT+CGDCONT` contexts: cid, PDP type, APN.
    pub contexts: Vec<(u32, String, String)>,
}

impl Default for Basic {
    fn default() -> Self {
        Basic {
            // Seed 002 section 3.3 sets 6,3,2 ("LTE 优先"); nothing shows the factory value, so
            // the read form starts from the one the guide recommends.
            gtrat: vec![6, 3, 2],
            cfun: 1,
            contexts: vec![(1, "IP".into(), String::new())],
        }
    }
}

impl Basic {
    /// `AT+GTRAT=6,3,2` -> `OK` (seed 002 section 3.3, "搜网顺序 LTE 优先"). The read form prints
    /// the stored values as `+GTRAT: 6,3,2`.
    pub fn gtrat(&mut self, form: &Form, out: &mut Out) {
        match form {
            Form::Read => {
                let v: Vec<String> = self.gtrat.iter().map(u32::to_string).collect();
                out.line(format!("+GTRAT: {}", v.join(",")));
                out.ok()
            }
            Form::Set(_) => match set_args(form) {
                Some(args) if (1..=3).contains(&args.len()) => {
                    let v: Option<Vec<u32>> =
                        args.iter().map(|a| num_in(Some(a), 0..=20)).collect();
                    match v {
                        Some(v) => {
                            self.gtrat = v;
                            out.ok()
                        }
                        None => out.error(),
                    }
                }
                _ => out.error(),
            },
            Form::Test | Form::Exec => out.error(),
        }
    }

    /// `AT+CFUN=1` -> `OK` (seed 002 section 3.3, "设置工作模式是正常工作模式"); `AT+CFUN?` ->
    /// `+CFUN: <n>` (27.007 section 8.2). 0 and 4 turn the radio off: registration is lost and
    /// `AT+MIPCALL=1` fails until `AT+CFUN=1`.
    /// Returns `true` when the command restarts the module: `AT+CFUN=1,1`, or `AT+CFUN=15`
    /// (the Fibocom family's reset; fixtures/DIVERGENCES.md L22). `OK` comes first.
    pub fn cfun(&mut self, cell: &mut CellState, form: &Form, out: &mut Out) -> bool {
        match form {
            Form::Read => {
                out.line(format!("+CFUN: {}", self.cfun));
                out.ok()
            }
            Form::Set(_) => match set_args(form).as_deref() {
                Some([n]) | Some([n, _]) => {
                    let rst = match set_args(form).as_deref() {
                        Some([_, r]) => num_in(Some(r), 0..=1),
                        _ => Some(0),
                    };
                    match (num_in(Some(n), 0..=15), rst) {
                        (Some(15), Some(0)) | (Some(1), Some(1)) => {
                            out.ok();
                            return true;
                        }
                        (Some(n @ (0 | 1 | 4)), Some(_)) => {
                            self.cfun = n;
                            let on = n == 1;
                            cell.reg = if on {
                                crate::modem::RegStatus::Home
                            } else {
                                crate::modem::RegStatus::NotRegistered
                            };
                            cell.attached = on;
                            out.ok()
                        }
                        _ => out.error(),
                    }
                }
                _ => out.error(),
            },
            Form::Test => {
                out.line("+CFUN: (0,1,4,15),(0,1)");
                out.ok()
            }
            Form::Exec => out.error(),
        }
        false
    }

    /// `AT+CGDCONT=1,"IP","cmnet"` -> `OK` (seed 002 sections 3.2 and 3.3: "建议先设置 APN"). The
    /// read form lists the contexts as `+CGDCONT: <cid>,"<type>","<apn>"` (27.007 section
    /// 10.1.1). The APN is the one `AT+MIPCALL=1` activates.
    pub fn cgdcont(&mut self, cell: &mut CellState, form: &Form, out: &mut Out) {
        match form {
            Form::Read => {
                for (cid, ty, apn) in &self.contexts {
                    out.line(format!("+CGDCONT: {cid},\"{ty}\",\"{apn}\""));
                }
                out.ok()
            }
            Form::Set(_) => {
                let Some(args) = set_args(form) else {
                    return out.error();
                };
                let Some(cid) = num_in(args.first(), 1..=8) else {
                    return out.error();
                };
                let ty = args.get(1).map(|a| a.text()).unwrap_or_else(|| "IP".into());
                if !["IP", "IPV6", "IPV4V6"].contains(&ty.to_ascii_uppercase().as_str()) {
                    return out.error();
                }
                let apn = args.get(2).map(|a| a.text()).unwrap_or_default();
                if apn.len() > 99 {
                    return out.error();
                }
                if cid == 1 {
                    cell.apn.name = apn.clone();
                }
                self.contexts.retain(|c| c.0 != cid);
                self.contexts.push((cid, ty, apn));
                self.contexts.sort();
                out.ok()
            }
            Form::Test => {
                out.line("+CGDCONT: (1-8),\"IP\",,");
                out.ok()
            }
            Form::Exec => out.error(),
        }
    }

    /// `AT+CREG?`, `AT+CGREG?`, `AT+CEREG?` -> `+CREG: 0,1` etc. (seed 002 section 3.3: "1 或 5
    /// 可用"); `=<n>` sets the URC mode (27.007 sections 7.2, 10.1.20, 10.1.22).
    pub fn creg(&mut self, cell: &mut CellState, prefix: &str, form: &Form, out: &mut Out) {
        registration(cell, prefix, (2, "(0-2)"), form, out)
    }
}

/// `AT+CIMI?` -> `+CIMI: 460046616008063` (seed 002 section 3.3). 27.007 section 5.6 has
/// `AT+CIMI` print the bare IMSI; the guide's log uses the read form and gets a prefixed line,
/// so both forms print `+CIMI: <imsi>` (fixtures/DIVERGENCES.md).
pub fn cimi(cell: &CellState, form: &Form, out: &mut Out) {
    sim_query(cell, form, out, || format!("+CIMI: {}", cell.identity.imsi))
}

/// `AT+COPS?` -> `+COPS: 0,0,"CHINA MOBILE",7` (seed 002 section 3.3: "7 表示 4G"). Without
/// registration: `+COPS: 0` (27.007 section 7.3).
pub fn cops(cell: &CellState, form: &Form, out: &mut Out) {
    match form {
        Form::Read if cell.reg as u8 == 1 || cell.reg as u8 == 5 => {
            out.line("+COPS: 0,0,\"CHINA MOBILE\",7");
            out.ok()
        }
        Form::Read => {
            out.line("+COPS: 0");
            out.ok()
        }
        // Automatic selection is the only mode a simulated network needs.
        Form::Set(_) => match set_args(form).as_deref() {
            Some([m, ..]) if num_in(Some(m), 0..=4).is_some() => out.ok(),
            _ => out.error(),
        },
        Form::Test => {
            out.line("+COPS: (2,\"CHINA MOBILE\",\"CMCC\",\"46000\",7),,(0-4),(0-2)");
            out.ok()
        }
        Form::Exec => out.error(),
    }
}

/// `AT+CMEE=<0|1|2>` (seed 002 FAQ 4.1: 1 gives the error code, 2 the reason as text; the
/// default is 0, a bare `ERROR`). Read form `+CMEE: <n>` (27.007 section 9.1).
pub fn cmee(cell: &mut CellState, form: &Form, out: &mut Out) {
    if let Some(n) = number_setting(form, out, "+CMEE", 0..=2, cell.cmee.into()) {
        cell.cmee = n as u8;
    }
}

/// `AT+CGMI`, `AT+CGMM`, `AT+CGMR` -> `+CGMI: "Fibocom"`, `+CGMM: "L610"`,
/// `+CGMR: "<revision>"` (the Fibocom family's quoted form, fixtures/DIVERGENCES.md L21).
pub fn identity(cell: &CellState, prefix: &str, form: &Form, out: &mut Out) {
    let p = &cell.identity.profile;
    let value = match prefix {
        "+CGMI" => p.cgmi.as_str(),
        "+CGMM" => p.cgmm.as_str(),
        _ => p.revision(),
    };
    query(form, out, || format!("{prefix}: \"{value}\""))
}

/// `AT+CCID` / `AT+ICCID` -> `+CCID: <iccid>` / `+ICCID: <iccid>` (27.007-style prefix, as the
/// L610 prints its other SIM answers, `+CIMI: ...`; fixtures/DIVERGENCES.md L21). `ERROR` (or
/// `+CME ERROR: 10`) without a SIM.
pub fn iccid(cell: &CellState, prefix: &str, form: &Form, out: &mut Out) {
    sim_query(cell, form, out, || {
        format!("{prefix}: {}", cell.identity.iccid)
    })
}

/// `AT+CCLK?` -> `+CCLK: "26/07/20,06:51:36+00"` (the L610's format, issue #11; 27.007 section
/// 8.15); `AT+CCLK="yy/MM/dd,hh:mm:ss+zz"` sets the clock (UTC: the zone is not applied).
/// The same command and format as the Air780E's, so one implementation serves both.
pub fn cclk(cell: &mut CellState, form: &Form, out: &mut Out) {
    crate::dialect::air780e::cclk(cell, form, out)
}

/// `AT+CBC` -> `+CBC: 0,80` (27.007 section 8.4: `<bcs>` 0 powered by the battery, `<bcl>`
/// charge in percent; no L610 log shows it).
pub fn cbc(form: &Form, out: &mut Out) {
    match form {
        Form::Exec => {
            out.line("+CBC: 0,80");
            out.ok()
        }
        Form::Test => {
            out.line("+CBC: (0-3),(0-100)");
            out.ok()
        }
        _ => out.error(),
    }
}

/// `AT+CGATT?` -> `+CGATT: <0|1>`; `AT+CGATT=<0|1>` -> `OK` (27.007 section 10.1.9). Attaching
/// needs registration (`+CME ERROR: 30`). Returns `true` when a detach ended the data call.
pub fn cgatt(cell: &mut CellState, form: &Form, out: &mut Out) -> bool {
    if !cell.registered() && one_number(form, 1..=1).is_some() {
        out.line(cell.cme(30));
        return false;
    }
    match number_setting(form, out, "+CGATT", 0..=1, u32::from(cell.attached)) {
        Some(n) => {
            cell.attached = n == 1;
            // A detach ends the data call.
            n == 0
        }
        None => false,
    }
}

/// `AT+CGPADDR=<cid>` -> `+CGPADDR: <cid>,"<ip>"`; bare `AT+CGPADDR` every defined context
/// (27.007 section 10.1.14). The address is the data call's (`AT+MIPCALL=1`); a context
/// without one prints `+CGPADDR: <cid>`.
pub fn cgpaddr(cell: &CellState, basic: &Basic, form: &Form, out: &mut Out) {
    let line = |cid: u32| cgpaddr_line(cell, cid);
    match form {
        Form::Exec => {
            for (cid, _, _) in &basic.contexts {
                out.line(line(*cid));
            }
            out.ok()
        }
        Form::Test => {
            let cids: Vec<String> = basic.contexts.iter().map(|c| c.0.to_string()).collect();
            out.line(format!("+CGPADDR: ({})", cids.join(",")));
            out.ok()
        }
        Form::Set(_) => match set_args(form).as_deref() {
            Some([c]) => match num_in(Some(c), 1..=8) {
                Some(cid) if basic.contexts.iter().any(|x| x.0 == cid) => {
                    out.line(line(cid));
                    out.ok()
                }
                _ => out.error(),
            },
            _ => out.error(),
        },
        Form::Read => out.error(),
    }
}
