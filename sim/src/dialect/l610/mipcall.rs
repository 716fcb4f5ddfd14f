//! `AT+MIPCALL`: the L610's data call. The host must make it before any MQTT command (seed 002
//! section 3.2: "先等模块注册上网络以后，用 AT+MIPCALL 向网络请求 IP").

use std::net::Ipv4Addr;

use crate::at::Form;
use crate::dialect::Out;
use crate::modem::CellState;
use crate::timing::Step;

use super::{num_in, set_args, CME_NOT_ALLOWED};

/// The data call: the address the network gave, if any.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Call {
    ip: Option<Ipv4Addr>,
}

impl Call {
    pub fn is_up(&self) -> bool {
        self.ip.is_some()
    }

    /// `AT+MIPCALL?` -> `+MIPCALL: 0` without a call, `+MIPCALL: 1,<ip>` with one (seed 002
    /// section 3.3; the log prints `+MIPCALL: 1,104.48.68`, the address it got one line
    /// earlier with its first octet lost: fixtures/DIVERGENCES.md).
    ///
    /// `AT+MIPCALL=1[,"<apn>"[,"<user>","<pwd>"]]` -> `OK`, then `+MIPCALL: <ip>` (seed 002
    /// section 3.3; section 3.2: "此命令是异步命令, 回复 OK 不表示执行结束"). The URC follows the `OK` after
    /// the timing profile's `mipcall` delay (at once under `fast`: in the same write). Without radio or
    /// attach the call ends with `+MIPCALL: 0`, one of the endings section 3.2 lists. A second
    /// call while one is up is refused ("在命令结束前，向模块重复发命令会报错").
    ///
    /// `AT+MIPCALL=0` -> `OK`, then `+MIPCALL: 0` (seed 002 section 3.3, "释放 IP").
    ///
    /// Returns whether a call the host had was just released (its MQTT clients then break).
    pub fn mipcall(&mut self, cell: &mut CellState, form: &Form, out: &mut Out) -> bool {
        match form {
            Form::Read => {
                match self.ip {
                    Some(ip) => out.line(format!("+MIPCALL: 1,{ip}")),
                    None => out.line("+MIPCALL: 0"),
                }
                out.ok();
                false
            }
            Form::Test => {
                out.line("+MIPCALL: (0-1)");
                out.ok();
                false
            }
            Form::Set(_) => {
                let Some(args) = set_args(form) else {
                    out.error();
                    return false;
                };
                let (Some(op), true) = (num_in(args.first(), 0..=1), args.len() <= 4) else {
                    out.error();
                    return false;
                };
                if op == 1 {
                    if self.ip.is_some() {
                        out.line(cell.cme(CME_NOT_ALLOWED));
                        return false;
                    }
                    if let Some(apn) = args.get(1).filter(|a| !a.is_empty()) {
                        cell.apn.name = apn.text();
                    }
                    out.ok();
                    // The URC comes once the network answers: the profile's `mipcall` delay.
                    if cell.can_activate() {
                        self.ip = Some(cell.identity.ip);
                        cell.pdp_active = true;
                        let ip = cell.identity.ip;
                        out.later(Step::Mipcall, |o| o.line(format!("+MIPCALL: {ip}")));
                    } else {
                        tracing::info!("data call failed: the module is not attached");
                        out.later(Step::Mipcall, |o| o.line("+MIPCALL: 0"));
                    }
                    false
                } else if self.drop_call(cell) {
                    out.ok();
                    out.line("+MIPCALL: 0");
                    true
                } else {
                    out.line(cell.cme(CME_NOT_ALLOWED));
                    false
                }
            }
            Form::Exec => {
                out.error();
                false
            }
        }
    }

    /// Ends the call; returns whether there was one.
    pub fn drop_call(&mut self, cell: &mut CellState) -> bool {
        cell.pdp_active = false;
        self.ip.take().is_some()
    }
}
