//! The modem task: one simulated module's event loop over any byte stream. Each event source
//! (control, UART input, network, link-fault deadline, timers) has its own method; the UART's
//! writer and faults are in [`crate::uart`].

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadHalf, WriteHalf};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tracing::{debug, warn};

use crate::dialect::{Effect, Engine};
use crate::fault::inject::{Control, LINK_FAULT_WAIT};
use crate::fault::trigger::Armed;
use crate::fault::{Fault, Site};
use crate::net::link::{LinkCmd, Links};
use crate::net::{LinkId, NetEvent, Router};
use crate::timing::Pacer;
use crate::uart::faults::UartFaults;
use crate::uart::writer::{self, UartOut};
use crate::uart::UartTap;

/// One modem's engine, links and UART over the stream `S` (a PTY, a socket, a `duplex`).
pub(crate) struct ModemTask<S> {
    engine: Engine,
    links: Links,
    tap: UartTap,
    rd: ReadHalf<S>,
    /// The host closed the stream: no more input, output is still queued (and lost).
    rd_eof: bool,
    buf: Vec<u8>,
    /// Under a pacing profile the host's bytes are taken at the baud rate, a piece at a time
    /// (the rest waits in the PTY; a host writing faster blocks once its buffer is full).
    rx_pacer: Option<Pacer>,
    out: UartOut,
    writer: JoinHandle<WriteHalf<S>>,
    uart_faults: UartFaults,
    net_rx: mpsc::UnboundedReceiver<NetEvent>,
    timer_tx: mpsc::UnboundedSender<u64>,
    timer_rx: mpsc::UnboundedReceiver<u64>,
    self_control: mpsc::UnboundedSender<Control>,
    control: mpsc::UnboundedReceiver<Control>,
    /// `closed`/`reset` faults waiting for their links to report the end, with a deadline.
    link_faults: Vec<(Vec<LinkId>, oneshot::Sender<()>)>,
    link_fault_deadline: Option<tokio::time::Instant>,
    /// Faults waiting for a protocol event; when it happens they go round the control channel.
    armed: Armed,
}

impl<S> ModemTask<S>
where
    S: AsyncRead + AsyncWrite + Send + 'static,
{
    pub(crate) fn new(
        stream: S,
        engine: Engine,
        router: Router,
        tap: UartTap,
        self_control: mpsc::UnboundedSender<Control>,
        control: mpsc::UnboundedReceiver<Control>,
    ) -> Self {
        let (net_tx, net_rx) = mpsc::unbounded_channel();
        let (timer_tx, timer_rx) = mpsc::unbounded_channel::<u64>();
        let (rd, wr) = tokio::io::split(stream);
        let links = Links::new(router, net_tx);
        let pace = engine.pace_uart().then_some(crate::timing::DEFAULT_BAUD);
        let (out, writer) = UartOut::spawn(wr, tap.clone(), links.backpressure.clone(), pace);
        ModemTask {
            engine,
            links,
            tap,
            rd,
            rd_eof: false,
            buf: vec![0u8; 4096],
            rx_pacer: pace.map(Pacer::new),
            out,
            writer,
            uart_faults: UartFaults::default(),
            net_rx,
            timer_tx,
            timer_rx,
            self_control,
            control,
            link_faults: Vec::new(),
            link_fault_deadline: None,
            armed: Armed::default(),
        }
    }

    /// Boots the module and runs it until `shutdown`.
    pub(crate) async fn run(mut self, mut shutdown: oneshot::Receiver<()>) {
        let fx = self.engine.boot();
        self.apply(fx);
        loop {
            let deadline = self.link_fault_deadline;
            let read_len = match self.rx_pacer {
                Some(_) => Pacer::PIECE,
                None => self.buf.len(),
            };
            tokio::select! {
                // Control first: a triggered fault, sent to ourselves while handling an event,
                // takes effect before whatever the host sends next.
                biased;
                _ = &mut shutdown => break,
                Some(c) = self.control.recv() => self.on_control(c),
                read = self.rd.read(&mut self.buf[..read_len]), if !self.rd_eof => self.on_uart(read).await,
                Some(ev) = self.net_rx.recv() => self.on_net(ev),
                _ = tokio::time::sleep_until(deadline.unwrap_or_else(tokio::time::Instant::now)), if deadline.is_some() => self.on_link_deadline(),
                Some(id) = self.timer_rx.recv() => self.on_timer(id),
            }
        }
        let ModemTask {
            links, out, writer, ..
        } = self;
        drop(links);
        drop(out);
        writer::drain(writer).await;
    }

    fn on_control(&mut self, c: Control) {
        match c {
            Control::Arm(f, trigger, done) => {
                self.armed.arm(trigger, f);
                let _ = done.send(());
            }
            Control::Fault(f, done) => self.on_fault(f, done),
            Control::Status(reply) => {
                let _ = reply.send(self.out.stats());
            }
        }
    }

    /// A fault enters where its unit says ([`crate::fault::Unit::enter`]); what the module
    /// shows goes out first, then the links are told (a `closed`/`reset` answers `done` once
    /// each link it hit has reported its end).
    fn on_fault(&mut self, f: Fault, done: oneshot::Sender<()>) {
        let mut at = Site::new(
            &mut self.engine,
            &mut self.links,
            &mut self.out,
            &mut self.uart_faults,
        );
        f.enter(&mut at);
        let (effects, link_cmds) = at.finish();
        let fx = self.uart_faults.unsolicited(effects);
        self.apply(fx);
        let closing = link_cmds.iter().any(|c| !matches!(c, LinkCmd::Blackhole));
        let ids: Vec<LinkId> = link_cmds
            .into_iter()
            .flat_map(|c| self.links.fault_all(c))
            .collect();
        if ids.is_empty() {
            if closing {
                tracing::info!(fault = %f, "no open link: nothing to close");
            }
            let _ = done.send(());
            return;
        }
        debug!(?ids, fault = %f, "waiting for the links to end");
        self.link_faults.push((ids, done));
        self.link_fault_deadline = Some(tokio::time::Instant::now() + LINK_FAULT_WAIT);
    }

    async fn on_uart(&mut self, read: std::io::Result<usize>) {
        match read {
            Ok(0) => {
                // A PTY never ends while we hold its slave open; any other stream has lost
                // its host: the module runs on, deaf, as with its UART unplugged.
                warn!("the host closed the UART stream");
                self.rd_eof = true;
            }
            Ok(n) => {
                if let Some(p) = self.rx_pacer.as_mut() {
                    // The bytes are the module's once they have crossed the wire.
                    tokio::time::sleep_until(p.done_at(n)).await;
                }
                let input = &self.buf[..n];
                debug!(input = %String::from_utf8_lossy(input).escape_debug(), "uart ->");
                self.tap.push(true, input);
                let fx = self.uart_faults.answer(self.engine.feed(input));
                let due = self.armed.on_requests(&fx);
                self.apply(fx);
                self.fire(due);
            }
            Err(e) => {
                warn!(error = %e, "UART read failed");
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
        }
    }

    fn on_net(&mut self, ev: NetEvent) {
        let ended = matches!(
            ev.kind,
            crate::net::NetEventKind::Closed(_)
                | crate::net::NetEventKind::ConnectFailed(_)
                | crate::net::NetEventKind::HttpDone(_)
                | crate::net::NetEventKind::HttpFailed(_)
        )
        .then_some(ev.link);
        let connack = matches!(
            ev.kind,
            crate::net::NetEventKind::ConnAck(crate::net::ConnectReturnCode::Success)
        );
        let fx = self.uart_faults.unsolicited(self.engine.net_event(ev));
        let mut due = self.armed.on_requests(&fx);
        self.apply(fx);
        if connack {
            due.extend(self.armed.on_connack());
        }
        self.fire(due);
        if let Some(link) = ended {
            self.link_ended(link);
        }
    }

    /// A link reported its end: the faults that waited only for it are applied.
    fn link_ended(&mut self, link: LinkId) {
        for (waiting, _) in &mut self.link_faults {
            waiting.retain(|l| *l != link);
        }
        let (applied, waiting): (Vec<_>, Vec<_>) =
            self.link_faults.drain(..).partition(|(w, _)| w.is_empty());
        self.link_faults = waiting;
        for (_, done) in applied {
            let _ = done.send(());
        }
        if self.link_faults.is_empty() {
            self.link_fault_deadline = None;
        }
    }

    fn on_link_deadline(&mut self) {
        warn!("links did not report a fault in time");
        for (_, done) in self.link_faults.drain(..) {
            let _ = done.send(());
        }
        self.link_fault_deadline = None;
    }

    fn on_timer(&mut self, id: u64) {
        let fx = self.uart_faults.unsolicited(self.engine.timer(id));
        self.apply(fx)
    }

    /// Carries out the engine's effects: UART output (through the UART faults and the tap),
    /// network requests, timers.
    fn apply(&mut self, effects: Vec<Effect>) {
        for e in effects {
            match e {
                Effect::Uart(bytes) => {
                    let bytes = self.uart_faults.noise(bytes);
                    self.tap.push(false, &bytes);
                    debug!(out = %String::from_utf8_lossy(&bytes).escape_debug(), "uart <-");
                    self.out.send(bytes);
                }
                Effect::Net(req) => self.links.handle(req),
                Effect::Baud(rate) => {
                    self.out.set_baud(rate);
                    if let Some(p) = self.rx_pacer.as_mut() {
                        p.baud = rate;
                    }
                }
                Effect::Timer { id, after } => {
                    // tokio time, so tests with paused time see the timer fire at once.
                    let tx = self.timer_tx.clone();
                    tokio::spawn(async move {
                        tokio::time::sleep(after).await;
                        let _ = tx.send(id);
                    });
                }
            }
        }
    }

    /// Triggered faults go round the control channel, ahead of the host's next input.
    fn fire(&self, due: Vec<Fault>) {
        for f in due {
            tracing::info!(fault = %f, "triggered fault fires");
            let (done, _) = oneshot::channel();
            let _ = self.self_control.send(Control::Fault(f, done));
        }
    }
}
