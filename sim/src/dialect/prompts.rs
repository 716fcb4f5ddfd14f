//! Every `>` prompt of both dialects, abandoned and cancelled, in tokio's paused time: the
//! timers run as `sim.rs` runs them (a task that sleeps, then reports the id), and the clock
//! is virtual, so a 5 s timeout takes no wall-clock time and fires at exactly 5 s.

use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::dialect::rig::Rig;
use crate::dialect::DialectKind;
use crate::net::{NetEventKind, NetRequest};

/// The shared [`Rig`], its timers run by tasks that sleep in paused time.
struct Driver {
    rig: Rig,
    fired_tx: mpsc::UnboundedSender<u64>,
    fired: mpsc::UnboundedReceiver<u64>,
    start: Instant,
}

impl Driver {
    /// Starts a sleeping task for each timer the rig collected.
    fn run_timers(&mut self, text: String) -> String {
        for (id, after) in self.rig.timers.drain(..) {
            let tx = self.fired_tx.clone();
            tokio::spawn(async move {
                tokio::time::sleep(after).await;
                let _ = tx.send(id);
            });
        }
        text
    }

    fn feed(&mut self, bytes: &[u8]) -> String {
        let text = self.rig.raw(bytes);
        self.run_timers(text)
    }

    fn event(&mut self, kind: NetEventKind) -> String {
        let text = self.rig.event(kind);
        self.run_timers(text)
    }

    /// Each piece of input in turn, answered as scripted.
    #[track_caller]
    fn feeds(&mut self, script: &[(&[u8], &str)]) {
        for (bytes, answer) in script {
            assert_eq!(
                self.feed(bytes),
                *answer,
                "{:?}",
                String::from_utf8_lossy(bytes)
            );
        }
    }

    /// `command` prompts, `payload` answers `answer`, and the payload is the one publish
    /// this made.
    #[track_caller]
    fn publish_at_prompt(&mut self, command: &[u8], payload: &[u8], answer: &str) {
        let before = self.publishes().len();
        self.feeds(&[(command, "\r\n>"), (payload, answer)]);
        assert_eq!(self.publishes()[before..], [payload.to_vec()]);
    }

    /// A prompt that gets nothing: silent until 5 s, then `ERROR` at exactly 5 s; nothing is
    /// sent, and the next `AT` is a command again.
    async fn abandon(&mut self, command: &[u8], partial: &[u8]) {
        assert_eq!(self.feed(command), "\r\n>");
        assert_eq!(self.feed(partial), "");
        assert_eq!(self.until(4.999).await, "", "{command:?}: not before 5 s");
        assert_eq!(
            self.until(5.0).await,
            "\r\nERROR\r\n",
            "{command:?}: at 5 s"
        );
        assert_eq!(self.feed(b"AT\r\n"), "\r\nOK\r\n", "{command:?}: AT after");
        // Late timers of the abandoned prompt change nothing.
        assert_eq!(self.until(30.0).await, "");
    }

    /// Lets virtual time run until `at` (seconds since the driver was made), handing every
    /// timer that fires meanwhile to the engine. Returns what the modem printed.
    async fn until(&mut self, at: f64) -> String {
        tokio::time::sleep_until(self.start + Duration::from_secs_f64(at)).await;
        let mut text = String::new();
        // The timer tasks due by now run when this task yields; a bounded number of rounds.
        for _ in 0..20 {
            tokio::task::yield_now().await;
            while let Ok(id) = self.fired.try_recv() {
                let fired = self.rig.fire(id);
                text.push_str(&self.run_timers(fired));
            }
        }
        text
    }

    fn publishes(&self) -> Vec<Vec<u8>> {
        self.rig.published()
    }

    fn will(&self) -> Option<Vec<u8>> {
        self.rig.will()
    }

    /// A fresh module brought to a state by one of the rig's set-ups.
    fn ready(kind: DialectKind, setup: fn(&mut Rig)) -> Self {
        let (fired_tx, fired) = mpsc::unbounded_channel();
        Driver {
            rig: Rig::new(kind).crlf().set_up(setup),
            fired_tx,
            fired,
            start: Instant::now(),
        }
    }

    fn air780e_connected() -> Self {
        Driver::ready(DialectKind::Air780e, Rig::connected)
    }

    fn l610_called() -> Self {
        Driver::ready(DialectKind::L610, Rig::called)
    }

    fn l610_open() -> Self {
        Driver::ready(DialectKind::L610, Rig::open)
    }
}

/// A length-form publish that gets too few bytes, in each dialect: abandoned, nothing sent.
#[tokio::test(start_paused = true)]
async fn length_form_publishes_are_abandoned_after_5_s() {
    type Setup = fn() -> Driver;
    let cases: [(Setup, &[u8], &[u8]); 2] = [
        (
            Driver::air780e_connected,
            b"AT+MPUBEX=\"t\",0,0,10\r\n",
            b"abc",
        ),
        (Driver::l610_open, b"AT+MQTTPUB=1,\"t\",0,0,10\r\n", b"ab"),
    ];
    for (driver, command, partial) in cases {
        let mut d = driver();
        d.abandon(command, partial).await;
        assert!(d.publishes().is_empty(), "{:?}", d.publishes());
    }
}

#[tokio::test(start_paused = true)]
async fn a_slow_but_steady_payload_is_never_cut() {
    let mut d = Driver::air780e_connected();
    assert_eq!(d.feed(b"AT+MPUBEX=\"t\",0,0,6\r\n"), "\r\n>");
    // One byte every 4 s: 20 s in all, never 5 s without a byte.
    for (i, b) in b"abcde".iter().enumerate() {
        assert_eq!(d.until(4.0 * i as f64).await, "");
        assert_eq!(d.feed(&[*b]), "");
    }
    assert_eq!(d.until(20.0).await, "");
    assert_eq!(d.feed(b"f"), "\r\nOK\r\n");
    assert_eq!(d.publishes(), vec![b"abcdef".to_vec()]);
    assert_eq!(d.until(40.0).await, "");
}

#[tokio::test(start_paused = true)]
async fn mpubex_without_length_ends_at_ctrl_z_and_esc_cancels() {
    let mut d = Driver::air780e_connected();
    d.feeds(&[
        (b"AT+MPUBEX=\"t\",0,0\r\n", "\r\n>"),
        (b"a\r\n\0b\x1a", "\r\nOK\r\n"),
    ]);
    assert_eq!(
        d.publishes(),
        vec![b"a\r\n\0b".to_vec()],
        "without the Ctrl-Z"
    );
    d.feeds(&[
        (b"AT+MPUBEX=\"t\",0,0\r\n", "\r\n>"),
        (b"never sent\x1b", "\r\nERROR\r\n"),
        (b"AT\r\n", "\r\nOK\r\n"),
    ]);
    assert_eq!(d.publishes().len(), 1);
    // More than 4100 bytes: dropped up to the Ctrl-Z, ERROR, nothing published.
    assert_eq!(d.feed(b"AT+MPUBEX=\"t\",0,0\r\n"), "\r\n>");
    assert_eq!(d.feed(&[b'x'; 4101]), "");
    d.feeds(&[(b"\x1a", "\r\nERROR\r\n"), (b"AT\r\n", "\r\nOK\r\n")]);
    assert_eq!(d.publishes().len(), 1);
}

/// The MPUBEX page: without `<len>`, a gap of more than 5 s sends what came.
#[tokio::test(start_paused = true)]
async fn mpubex_without_length_sends_after_a_5_s_gap() {
    let mut d = Driver::air780e_connected();
    d.feeds(&[(b"AT+MPUBEX=\"t\",0,0\r\n", "\r\n>"), (b"partial", "")]);
    assert_eq!(d.until(4.999).await, "");
    assert_eq!(d.until(5.0).await, "\r\nOK\r\n");
    assert_eq!(d.publishes(), vec![b"partial".to_vec()]);
    // With nothing at all it is abandoned instead.
    assert_eq!(d.feed(b"AT+MPUBEX=\"t\",0,0\r\n"), "\r\n>");
    assert_eq!(d.until(10.0).await, "\r\nERROR\r\n");
    assert_eq!(d.feed(b"AT\r\n"), "\r\nOK\r\n");
    assert_eq!(d.publishes().len(), 1);
}

#[tokio::test(start_paused = true)]
async fn l610_gtsslfile_is_abandoned_after_5_s_and_loads_nothing() {
    let mut d = Driver::l610_called();
    d.abandon(b"AT+GTSSLFILE=\"TRUSTFILE\",100\r\n", b"-----BEGIN")
        .await;
    d.feeds(&[
        (b"AT+GTSSLVER=4\r\n", "\r\nOK\r\n"),
        (b"AT+MQTTOPEN=1,\"h\",8883,0,60\r\n", "\r\nOK\r\n"),
    ]);
    let Some(NetRequest::Open { tls: Some(tls), .. }) = d.rig.net.last().cloned() else {
        panic!("a TLS open: {:?}", d.rig.net)
    };
    assert_eq!(tls.ca_pem, None, "the abandoned file was not loaded");
}

#[tokio::test(start_paused = true)]
async fn l610_will_length_form_is_abandoned_after_5_s_and_sets_no_will() {
    let mut d = Driver::l610_called();
    d.abandon(b"AT+MQTTWILL=1,\"w\",1,0,10\r\n", b"gone").await;
    assert_eq!(d.feed(b"AT+MQTTOPEN=1,\"h\",1883,0,60\r\n"), "\r\nOK\r\n");
    assert_eq!(d.event(NetEventKind::Connected), "");
    assert_eq!(d.will(), None);
}

/// In a length form ESC and Ctrl-Z are payload like any byte (binary-safe; the manual gives
/// them only to the variable-length forms).
#[tokio::test(start_paused = true)]
async fn length_forms_take_esc_and_ctrl_z_as_payload() {
    let mut d = Driver::air780e_connected();
    d.publish_at_prompt(b"AT+MPUBEX=\"t\",0,0,3\r\n", b"\x1b\x1a\x1b", "\r\nOK\r\n");
    let mut d = Driver::l610_open();
    d.publish_at_prompt(
        b"AT+MQTTPUB=1,\"t\",0,0,2\r\n",
        b"\x1b\x1a",
        "\r\nOK\r\n\r\n+MQTTPUB: 1,1\r\n",
    );
    assert_eq!(d.until(30.0).await, "");
}

#[tokio::test(start_paused = true)]
async fn l610_will_length_form_sets_the_will_byte_for_byte() {
    let mut d = Driver::l610_called();
    let will = b"\r\n{\"state\":\"gone\"}\0\x1b";
    assert_eq!(
        d.feed(format!("AT+MQTTWILL=1,\"dev/state\",1,1,{}\r\n", will.len()).as_bytes()),
        "\r\n>"
    );
    assert_eq!(d.feed(will), "\r\nOK\r\n");
    d.feed(b"AT+MQTTOPEN=1,\"h\",1883,0,60\r\n");
    d.event(NetEventKind::Connected);
    assert_eq!(d.will(), Some(will.to_vec()));
    assert_eq!(d.until(30.0).await, "");
}
