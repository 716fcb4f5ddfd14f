//! The I/O side of the [`Router`]'s [`Effects`]: each live link's wake-up and close signal,
//! and the wake-up of held publishers. The router decides; this carries it out.

use std::collections::HashMap;
use std::sync::Arc;

use tokio::sync::{oneshot, Notify};

use super::router::{CloseReason, Effects, Router};

/// The router and the signals of the links it knows, under one lock.
pub(crate) struct Hub {
    pub(crate) router: Router,
    links: HashMap<u64, Signals>,
    /// Woken when a congested link drains or goes away: held publishers look again.
    drained: Arc<Notify>,
}

/// How the hub reaches one link's task.
struct Signals {
    /// Packets wait for it in the router.
    wake: Arc<Notify>,
    /// Close it (taken over, kicked).
    kill: Option<oneshot::Sender<CloseReason>>,
}

/// What a link's task listens to.
pub(crate) struct LinkIo {
    pub(crate) wake: Arc<Notify>,
    pub(crate) kill: oneshot::Receiver<CloseReason>,
}

impl Hub {
    pub(crate) fn new(router: Router) -> Hub {
        Hub {
            router,
            links: HashMap::new(),
            drained: Arc::new(Notify::new()),
        }
    }

    /// Notified whenever a congested link drains or goes away.
    pub(crate) fn drained(&self) -> Arc<Notify> {
        self.drained.clone()
    }

    /// The signals of a new connection.
    pub(crate) fn register(&mut self, conn_id: u64) -> LinkIo {
        let wake = Arc::new(Notify::new());
        let (kill, kill_rx) = oneshot::channel();
        self.links.insert(
            conn_id,
            Signals {
                wake: wake.clone(),
                kill: Some(kill),
            },
        );
        LinkIo {
            wake,
            kill: kill_rx,
        }
    }

    /// The connection ended.
    pub(crate) fn deregister(&mut self, conn_id: u64) {
        self.links.remove(&conn_id);
    }

    /// Carries out what the router decided; returns the links a publisher must wait for.
    pub(crate) fn apply(&mut self, fx: Effects) -> Vec<(u64, u64)> {
        for conn_id in &fx.ready {
            if let Some(s) = self.links.get(conn_id) {
                s.wake.notify_one();
            }
        }
        for (conn_id, reason) in fx.close {
            if let Some(kill) = self.links.get_mut(&conn_id).and_then(|s| s.kill.take()) {
                let _ = kill.send(reason);
            }
        }
        if fx.drained {
            self.drained.notify_waiters();
        }
        fx.congested
    }
}
