//! `AT+CDNSGIP`: the module's DNS lookup (luatos-doc-pool
//! `doc/AT开发资料/AT_Command_Manual/docs/Command_List/TCPIP/CDNSGIP.md`; the answer line as
//! SIMCom-family captures print it, fixtures/DIVERGENCES.md S14). The name is looked up the
//! way the simulator routes connections ([`Router::lookup`](crate::net::Router::lookup)), so
//! the address it answers is one an `AT+CIPSTART` reaches.

use std::collections::BTreeMap;
use std::net::IpAddr;

use crate::at::Form;
use crate::dialect::params::args_or_syntax;
use crate::dialect::Out;
use crate::modem::CellState;
use crate::net::{LinkId, NetEvent, NetEventKind, NetRequest, HTTP_LINKS};

/// Lookup ids: above the sockets' (`cip.rs`), below HTTP's.
const DNS_LINK_BASE: LinkId = 1 << 36;
/// `<domain name>`: "不超过128个字节" (CDNSGIP.md).
const NAME_MAX: usize = 128;
/// Lookups on their way at once; more answer `ERROR` (bounded memory, an inference).
const PENDING_MAX: usize = 8;
/// `<dns error code>` 10, "GENERAL ERROR" (CDNSGIP.md): a name that does not resolve.
const GENERAL_ERROR: u8 = 10;

#[derive(Debug, Default)]
pub struct Dns {
    /// The lookups on their way, by id, with the name as the host gave it.
    pending: BTreeMap<LinkId, String>,
    next: LinkId,
}

impl Dns {
    pub fn owns(&self, link: LinkId) -> bool {
        (DNS_LINK_BASE..HTTP_LINKS).contains(&link)
    }

    /// `AT+CDNSGIP=<domain name>` -> `OK`, then `+CDNSGIP: 1,"<name>","<ip>"` or
    /// `+CDNSGIP: 0,<dns error code>` when the lookup ends (CDNSGIP.md); `AT+CDNSGIP=?` ->
    /// `OK`; a bad name (empty, over 128 bytes) or other forms -> `ERROR` (CDNSGIP.md). Without
    /// a PDP context there is no DNS server to ask: `ERROR` (S14).
    pub fn cdnsgip(&mut self, cell: &CellState, form: &Form, out: &mut Out) {
        let Some(args) = args_or_syntax(form, out, &[]) else {
            return;
        };
        let [name] = args.as_slice() else {
            return out.error();
        };
        let name = name.text();
        let fits = !name.is_empty() && name.len() <= NAME_MAX;
        if !fits || !cell.data_ready() || self.pending.len() >= PENDING_MAX {
            return out.error();
        }
        self.next += 1;
        let link = DNS_LINK_BASE + self.next;
        self.pending.insert(link, name.clone());
        out.ok();
        out.net(NetRequest::Resolve { link, host: name });
    }

    /// Power off: the lookups on their way are forgotten (their answers, should they come, are
    /// not printed); ids keep counting, so a late answer is not taken for a new lookup's.
    pub fn power_off(&mut self) -> Dns {
        Dns {
            pending: BTreeMap::new(),
            next: self.next,
        }
    }

    /// A lookup's answer.
    pub fn on_net(&mut self, ev: NetEvent, out: &mut Out) {
        let Some(name) = self.pending.remove(&ev.link) else {
            return;
        };
        match ev.kind {
            NetEventKind::Resolved(Some(ip)) => out.line(answer(&name, ip)),
            NetEventKind::Resolved(None) => out.line(format!("+CDNSGIP: 0,{GENERAL_ERROR}")),
            other => tracing::debug!(?other, "not a DNS answer"),
        }
    }
}

/// `+CDNSGIP: 1,"<name>","<ip>"`.
fn answer(name: &str, ip: IpAddr) -> String {
    format!("+CDNSGIP: 1,\"{name}\",\"{ip}\"")
}
