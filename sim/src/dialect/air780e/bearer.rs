//! The PDP context and the TCP/IP stack's bearer: `AT+CGDCONT`, `AT+CGACT`, `AT+CGPADDR`, and
//! the single-link state machine of `AT+CSTT`, `AT+CIICR`, `AT+CIFSR`, `AT+CIPSHUT`,
//! `AT+CIPSTATUS`, `AT+CIPMUX` (luatos-doc-pool Command_List/TCPIP/状态机.md: each command
//! moves the state, `AT+CIPSHUT` goes back to `IP INITIAL` from any state).

use crate::at::Form;
use crate::dialect::params::{cgpaddr_line, number_setting, one_number};
use crate::dialect::Out;
use crate::modem::{CellState, Cip};

use super::{num_in, set_args};

/// The TCP/IP settings beyond [`CellState`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Bearer {
    /// `AT+CIPMUX=1`.
    pub mux: bool,
    /// `AT+CGDCONT` contexts other than 1 (cid, type, APN); context 1 is the default bearer,
    /// whose APN is [`CellState::apn`].
    pub contexts: Vec<(u32, String, String)>,
    /// Context 1's PDP type.
    pub type1: Option<String>,
    /// `AT+CIPQSEND`, `AT+CIPSSL`, `AT+CIPMODE`: 0/1 switches of the TCP/IP stack.
    pub switches: [u8; 3],
}

/// The PDP types `AT+CGDCONT=?` lists (luatos-doc-pool Command_List/GPRS/CGDCONT.md).
const PDP_TYPES: &[&str] = &["IP", "IPV6", "IPV4V6", "NON-IP", "PPP"];

/// `+CME ERROR: 3`: the command is not allowed in this state (public/780EP_AT_TCP应用指南.md
/// section 3: a second `AT+CSTT` answers `+CME ERROR: 3`).
const NOT_ALLOWED: u16 = 3;

impl Bearer {
    /// `AT+CSTT[=<apn>[,<user>[,<pwd>]]]` -> `OK`, only in `IP INITIAL`, then `IP START`
    /// (luatos-doc-pool Command_List/TCPIP/CSTT.md); in any other state `+CME ERROR: 3`
    /// (public/780EP_AT_TCP应用指南.md: the same command twice). Bare `AT+CSTT` takes the APN
    /// the network gave (seed 003 "配置网络"). Read: `+CSTT: "<apn>","<user>","<pwd>"`; test:
    /// `+CSTT: "APN","USER","PWD"`.
    pub fn cstt(&mut self, cell: &mut CellState, form: &Form, out: &mut Out) {
        match form {
            Form::Read => {
                out.line(format!("+CSTT: {}", super::basic::apn_fields(cell)));
                out.ok()
            }
            Form::Test => {
                out.line("+CSTT: \"APN\",\"USER\",\"PWD\"");
                out.ok()
            }
            Form::Exec | Form::Set(_) => {
                let args = match form {
                    Form::Set(_) => match set_args(form) {
                        Some(a) if (1..=3).contains(&a.len()) => Some(a),
                        _ => return out.error(),
                    },
                    _ => None,
                };
                if let Some(args) = &args {
                    let too_long = [128, 32, 32]
                        .iter()
                        .zip(args.iter())
                        .any(|(max, a)| a.bytes.len() > *max);
                    if too_long {
                        return out.error();
                    }
                }
                if cell.cip != Cip::Initial {
                    return out.line(cell.cme(NOT_ALLOWED));
                }
                if let Some(args) = args {
                    // An empty APN means the one the network gave (CSTT.md note 2).
                    if !args[0].bytes.is_empty() {
                        cell.apn.name = args[0].text();
                    }
                    cell.apn.user = args.get(1).map(|a| a.text()).unwrap_or_default();
                    cell.apn.password = args.get(2).map(|a| a.text()).unwrap_or_default();
                }
                cell.cip = Cip::Start;
                out.ok()
            }
        }
    }

    /// `AT+CIICR` -> `OK`: activates the context, only in `IP START` (CSTT.md, 状态机.md), then
    /// `IP GPRSACT`; in another state `+CME ERROR: 3`; without the network `+CME ERROR: 30`
    /// (27.007 section 9.2; fixtures/DIVERGENCES.md F2).
    pub fn ciicr(&mut self, cell: &mut CellState, form: &Form, out: &mut Out) {
        match form {
            Form::Exec if cell.cip != Cip::Start => out.line(cell.cme(NOT_ALLOWED)),
            Form::Exec if cell.can_activate() => {
                cell.pdp_active = true;
                cell.cip = Cip::GprsAct;
                out.ok()
            }
            Form::Exec => out.line(cell.cme(30)),
            Form::Test => out.ok(),
            _ => out.error(),
        }
    }

    /// `AT+CIFSR` -> the bare IP address and no `OK` (luatos-doc-pool
    /// Command_List/TCPIP/使用方法举例.md: `010.083.172.111`; notes section 12), then
    /// `IP STATUS`. `ERROR` before `AT+CIICR` and after `AT+CIPSHUT` (使用方法举例.md).
    pub fn cifsr(&mut self, cell: &mut CellState, form: &Form, out: &mut Out) {
        match form {
            Form::Exec if matches!(cell.cip, Cip::GprsAct | Cip::Status) && cell.pdp_active => {
                cell.cip = Cip::Status;
                out.line(cell.identity.ip.to_string())
            }
            Form::Exec => out.error(),
            Form::Test => out.ok(),
            _ => out.error(),
        }
    }

    /// `AT+CIPSHUT` -> `SHUT OK`, back to `IP INITIAL` from any state (使用方法举例.md,
    /// 状态机.md); the caller closes the sockets first. The MQTT link (`AT+MIPSTART`) is not
    /// the TCP/IP stack's: it stays.
    pub fn cipshut(&mut self, cell: &mut CellState, form: &Form, out: &mut Out) {
        match form {
            Form::Exec => {
                cell.cip = Cip::Initial;
                out.line("SHUT OK")
            }
            Form::Test => out.ok(),
            _ => out.error(),
        }
    }

    /// The state `AT+CIPSTATUS` and a failed `AT+MIPSTART` print (MIPSTART.md: `STATE:<state>`
    /// before `CONNECT FAIL`).
    pub fn state(&self, cell: &CellState, mqtt_connected: bool) -> &'static str {
        if mqtt_connected && !self.mux {
            return "CONNECT OK";
        }
        if cell.cip != Cip::Initial && !cell.pdp_active {
            return Cip::PdpDeact.as_str();
        }
        cell.cip.as_str()
    }

    /// `AT+CIPMUX=<0|1>`, only in `IP INITIAL` (luatos-doc-pool Command_List/TCPIP/CIPMUX.md;
    /// otherwise `+CME ERROR: 3`); read `+CIPMUX: <n>`, test `+CIPMUX: (0,1)`.
    pub fn cipmux(&mut self, cell: &CellState, form: &Form, out: &mut Out) {
        if cell.cip != Cip::Initial && one_number(form, 0..=1).is_some() {
            return out.line(cell.cme(NOT_ALLOWED));
        }
        if let Some(n) = number_setting(form, out, "+CIPMUX", 0..=1, u32::from(self.mux)) {
            self.mux = n == 1;
        }
    }

    /// `AT+CGDCONT=<cid>[,<type>[,<apn>]]` -> `OK`; `AT+CGDCONT?` ->
    /// `+CGDCONT: 1,"IP","<apn>","<ip>",0,0` per context; `AT+CGDCONT=?` the manual's four lines
    /// (luatos-doc-pool Command_List/GPRS/CGDCONT.md: `+CGDCONT: 1,"IP","xz01.njm2mapn",
    /// "10.173.90.29",0,0`). Context 1 is the default bearer the network activated at
    /// registration, so its address is the module's while it is active (`0.0.0.0` otherwise).
    pub fn cgdcont(&mut self, cell: &mut CellState, form: &Form, out: &mut Out) {
        match form {
            Form::Read => self.cgdcont_read(cell, out),
            Form::Test => {
                for line in [
                    "+CGDCONT: (1-15),\"IP\",,,,,(0),(0,2),(0),(0),(0,1),(0),(0,1),(0)",
                    "+CGDCONT: (1-15),\"IPV6\",,,,,(0),(0,2),(0),(0),(0,1),(0),(0),(0)",
                    "+CGDCONT: (1-15),\"IPV4V6\",,,,,(0),(0,2),(0),(0),(0,1),(0),(0,1),(0)",
                    "+CGDCONT: (1-15),\"Non-IP\",,,,,(0),(0,2),(0),(0),(0,1),(0),(0),(0),(0,1)",
                ] {
                    out.line(line);
                }
                out.ok()
            }
            Form::Set(_) => self.cgdcont_set(cell, form, out),
            Form::Exec => out.error(),
        }
    }

    /// `AT+CGDCONT?`: context 1 (the default bearer) and the others defined.
    fn cgdcont_read(&self, cell: &CellState, out: &mut Out) {
        let ip = if cell.pdp_active {
            cell.identity.ip.to_string()
        } else {
            "0.0.0.0".into()
        };
        let t1 = self.type1.clone().unwrap_or_else(|| "IP".into());
        // The Air780EP V1007 prints four fields (public/20240722_air780ep_at_onenet.md:
        // `+CGDCONT: 1,"IP","cmiot","10.126.200.230"`); the manual page six.
        let tail = if cell.identity.profile.cgdcont_fields == 4 {
            ""
        } else {
            ",0,0"
        };
        out.line(format!(
            "+CGDCONT: 1,\"{t1}\",\"{}\",\"{ip}\"{tail}",
            cell.apn.name
        ));
        for (cid, ty, apn) in &self.contexts {
            out.line(format!(
                "+CGDCONT: {cid},\"{ty}\",\"{apn}\",\"0.0.0.0\"{tail}"
            ));
        }
        out.ok()
    }

    /// `AT+CGDCONT=<cid>[,<type>[,<apn>[,<addr>[,<d_comp>[,<h_comp>]]]]]`.
    fn cgdcont_set(&mut self, cell: &mut CellState, form: &Form, out: &mut Out) {
        let Some(args) = set_args(form) else {
            return out.error();
        };
        if args.is_empty() || args.len() > 6 {
            return out.error();
        }
        let Some(cid) = num_in(args.first(), 1..=15) else {
            return out.error();
        };
        let ty = args.get(1).map(|a| a.text()).unwrap_or_else(|| "IP".into());
        if !PDP_TYPES.contains(&ty.to_ascii_uppercase().as_str()) {
            return out.error();
        }
        let apn = args.get(2).map(|a| a.text()).unwrap_or_default();
        if apn.len() > 99 {
            return out.error();
        }
        // d_comp and h_comp: the manual lists 0..2 for both.
        if args
            .iter()
            .skip(4)
            .any(|a| num_in(Some(a), 0..=2).is_none())
        {
            return out.error();
        }
        if cid == 1 {
            if !apn.is_empty() {
                cell.apn.name = apn;
            }
            self.type1 = Some(ty);
        } else if args.len() == 1 {
            // `AT+CGDCONT=<cid>` alone undefines the context (27.007 section 10.1.1).
            self.contexts.retain(|c| c.0 != cid);
        } else {
            self.contexts.retain(|c| c.0 != cid);
            self.contexts.push((cid, ty, apn));
            self.contexts.sort();
        }
        out.ok()
    }

    /// `AT+CGACT?` -> `+CGACT: 1,<state>` per context; `AT+CGACT=<state>,<cid>` -> `OK`
    /// (luatos-doc-pool Command_List/GPRS/CGACT.md; CGPADDR.md's example: `+CGACT: 1,1`).
    /// Activating needs the network (`+CME ERROR: 30` without it). Returns `true` when the host
    /// deactivated context 1, whose links then end.
    pub fn cgact(&mut self, cell: &mut CellState, form: &Form, out: &mut Out) -> bool {
        match form {
            Form::Read => {
                out.line(format!("+CGACT: 1,{}", u8::from(cell.pdp_active)));
                for (cid, _, _) in &self.contexts {
                    out.line(format!("+CGACT: {cid},0"));
                }
                out.ok();
            }
            Form::Test => {
                out.line("+CGACT: (0,1)");
                out.ok();
            }
            Form::Set(_) => match set_args(form).as_deref() {
                Some([state, rest @ ..]) if rest.len() <= 1 => {
                    let Some(state) = num_in(Some(state), 0..=1) else {
                        out.error();
                        return false;
                    };
                    let cid = match rest.first() {
                        Some(c) => match num_in(Some(c), 1..=15) {
                            Some(c) => c,
                            None => {
                                out.error();
                                return false;
                            }
                        },
                        None => 1,
                    };
                    if cid != 1 && !self.contexts.iter().any(|c| c.0 == cid) {
                        out.error();
                        return false;
                    }
                    if cid == 1 {
                        if state == 1 {
                            if !cell.can_activate() {
                                out.line(cell.cme(30));
                                return false;
                            }
                            cell.pdp_active = true;
                        } else if cell.pdp_active {
                            cell.pdp_active = false;
                            out.ok();
                            return true;
                        }
                    }
                    out.ok();
                }
                _ => out.error(),
            },
            Form::Exec => out.error(),
        }
        false
    }

    /// `AT+CGPADDR=<cid>` -> `+CGPADDR: <cid>,"<ip>"`; `AT+CGPADDR` every context;
    /// `AT+CGPADDR=?` -> `+CGPADDR: (1)` (luatos-doc-pool Command_List/GPRS/CGPADDR.md:
    /// `+CGPADDR: 1,"10.162.229.248"`). A context without an address prints `+CGPADDR: <cid>`
    /// (27.007 section 10.1.14; the manual says only that nothing can be shown).
    pub fn cgpaddr(&mut self, cell: &CellState, form: &Form, out: &mut Out) {
        let line = |cid: u32| cgpaddr_line(cell, cid);
        match form {
            Form::Exec => {
                out.line(line(1));
                for (cid, _, _) in &self.contexts {
                    out.line(line(*cid));
                }
                out.ok()
            }
            Form::Test => {
                let mut cids = vec!["1".to_string()];
                cids.extend(self.contexts.iter().map(|c| c.0.to_string()));
                out.line(format!("+CGPADDR: ({})", cids.join(",")));
                out.ok()
            }
            Form::Set(_) => match set_args(form).as_deref() {
                Some([c]) => match num_in(Some(c), 1..=15) {
                    Some(cid) if cid == 1 || self.contexts.iter().any(|x| x.0 == cid) => {
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
}

impl Bearer {
    /// `AT+CIPQSEND=<0|1|2>` (0 and 2: `SEND OK` once sent; 1: `DATA ACCEPT:<len>` at once;
    /// CIPQSEND.md: test `+CIPQSEND: (0,1,2)`), `AT+CIPSSL=<0|1>` (TLS on `AT+CIPSTART`,
    /// CIPSSL.md), `AT+CIPMODE=<0|1>` (transparent mode; "此命令只有在IP INITIAL状态下才能进行
    /// 设置", CIPMODE.md: elsewhere `+CME ERROR: 3`) -> `OK`; read `+<NAME>: <n>`
    /// (luatos-doc-pool Command_List/TCPIP/使用方法举例.md sends `AT+CIPQSEND=1`,
    /// `AT+CIPSSL=1`; public/780EP_AT_TCP应用指南.md section 3 `AT+CIPMODE=0`).
    pub fn switch(&mut self, cell: &CellState, prefix: &str, form: &Form, out: &mut Out) {
        let (i, max) = match prefix {
            "+CIPQSEND" => (0, 2),
            "+CIPSSL" => (1, 1),
            _ => (2, 1),
        };
        if i == 0 && *form == Form::Test {
            out.line("+CIPQSEND: (0,1,2)");
            return out.ok();
        }
        if i == 2 && cell.cip != Cip::Initial && one_number(form, 0..=1).is_some() {
            return out.line(cell.cme(NOT_ALLOWED));
        }
        if let Some(n) = number_setting(form, out, prefix, 0..=max, u32::from(self.switches[i])) {
            self.switches[i] = n as u8;
        }
    }

    /// `AT+CIPQSEND`'s mode.
    pub fn qsend(&self) -> u8 {
        self.switches[0]
    }

    /// `AT+CIPSSL=1`.
    pub fn ssl(&self) -> bool {
        self.switches[1] == 1
    }

    /// `AT+CIPMODE=1`.
    pub fn transparent(&self) -> bool {
        self.switches[2] == 1
    }
}
