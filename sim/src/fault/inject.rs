//! Fault injection into a running modem: the [`Injector`] handle (in process, and behind the
//! control socket) and the messages it sends the modem task.

use tokio::sync::mpsc;
use tracing::warn;

use super::{Fault, Layer, Request, Trigger};
use crate::broker::Broker;

/// Why a fault could not be applied.
#[derive(Debug, thiserror::Error)]
pub enum InjectError {
    #[error("`{0}` needs the embedded broker, and this simulator routes to --broker")]
    NeedsBroker(Fault),
    #[error("the simulator has stopped")]
    Stopped,
    #[error("`{0}` takes effect in the broker: it can fire now or after a delay, not on a protocol event")]
    Trigger(Fault),
}

/// What the modem task is asked by its injector.
pub(crate) enum Control {
    /// A fault, and who to tell once its consequences are queued for the UART and the network.
    Fault(Fault, tokio::sync::oneshot::Sender<()>),
    /// A fault to fire on a protocol event; `done` once armed.
    Arm(Fault, Trigger, tokio::sync::oneshot::Sender<()>),
    /// The UART's counters, for `modem-sim status`.
    Status(tokio::sync::oneshot::Sender<crate::uart::UartStats>),
}

/// What `modem-sim status` (the control socket's `status` request) reports: what was lost on
/// purpose and why, and what waits.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Status {
    /// Output the host did not read (a module has no flow control: it is lost).
    pub uart: crate::uart::UartStats,
    /// The embedded broker's counters; `None` with `--broker`.
    pub broker: Option<crate::broker::BrokerStats>,
}

/// How long a fault on the links may take to show (each link reporting `Closed`) before
/// `inject` returns anyway: a link that was ending by itself never reports the fault.
pub(crate) const LINK_FAULT_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// A handle that injects faults into a running simulator; clones share it. The control socket
/// serves one; [`Simulator::injector`](crate::Simulator::injector) gives one to in-process code.
#[derive(Clone)]
pub struct Injector {
    pub(crate) control: mpsc::UnboundedSender<Control>,
    pub(crate) broker: Option<Broker>,
}

impl Injector {
    /// Applies a fault; returns once its consequences are queued for the UART (for `closed`
    /// and `reset`: once every link has reported its end to the modem). Logged with tracing.
    pub async fn inject(&self, fault: impl Into<Fault>) -> Result<(), InjectError> {
        self.request(Request {
            fault: fault.into(),
            trigger: Trigger::Now,
        })
        .await
    }

    /// Applies a fault now, or arms it for its trigger (returning once armed: `after` counts
    /// from now, and the protocol events from the next one).
    pub async fn request(&self, req: Request) -> Result<(), InjectError> {
        let Request { fault, trigger } = req;
        match trigger {
            Trigger::Now => {}
            Trigger::After(d) => {
                if self.control.is_closed() {
                    return Err(InjectError::Stopped);
                }
                tracing::info!(%fault, after = ?d, "fault armed");
                let me = self.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(d).await;
                    if let Err(e) = me.apply_now(fault).await {
                        warn!(error = %e, "a delayed fault could not be applied");
                    }
                });
                return Ok(());
            }
            trigger => {
                if fault.layer() == Layer::Broker {
                    // Applied by this handle, not the modem task: only `now` or `after`.
                    return Err(InjectError::Trigger(fault));
                }
                tracing::info!(%fault, ?trigger, "fault armed");
                let (done, armed) = tokio::sync::oneshot::channel();
                self.control
                    .send(Control::Arm(fault, trigger, done))
                    .map_err(|_| InjectError::Stopped)?;
                return armed.await.map_err(|_| InjectError::Stopped);
            }
        }
        self.apply_now(fault).await
    }

    /// The counters: output lost because the host was not reading, the broker's drops.
    pub async fn status(&self) -> Result<Status, InjectError> {
        let (reply, rx) = tokio::sync::oneshot::channel();
        self.control
            .send(Control::Status(reply))
            .map_err(|_| InjectError::Stopped)?;
        let uart = rx.await.map_err(|_| InjectError::Stopped)?;
        Ok(Status {
            uart,
            broker: self.broker.as_ref().map(Broker::stats),
        })
    }

    async fn apply_now(&self, fault: Fault) -> Result<(), InjectError> {
        tracing::info!(%fault, "fault injected");
        if fault.layer() == Layer::Broker {
            let broker = self
                .broker
                .as_ref()
                .ok_or_else(|| InjectError::NeedsBroker(fault.clone()))?;
            fault.enter_broker(broker);
            return Ok(());
        }
        let (done, applied) = tokio::sync::oneshot::channel();
        self.control
            .send(Control::Fault(fault, done))
            .map_err(|_| InjectError::Stopped)?;
        applied.await.map_err(|_| InjectError::Stopped)
    }
}
