//! [`Harness`]: an engine, a [`SimNet`] and [`SimClient`]s stepped in virtual time.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use talko_codecs::opus::codec::FRAME_SAMPLES;

use super::{ClientConfig, SimClient, SimNet, NET_BUF};
use crate::config::ParticipantSpec;
use crate::events::Event;
use crate::{CallId, Command, Engine, EngineConfig, EngineError, ParticipantId};

/// Datagrams handed over per [`Engine::handle_datagrams`] and drained per
/// [`Engine::poll_transmit_batch`] call.
const OUTPUT_BATCH: usize = talko_codecs::srtp::SRTP_BATCH;

/// An engine, a network and clients in one virtual-time loop.
pub struct Harness {
    /// The engine under test.
    pub engine: Engine,
    /// The network.
    pub net: SimNet,
    /// The clients, by index.
    pub clients: Vec<SimClient>,
    /// Which clients are in the call (and send/receive).
    pub joined: Vec<bool>,
    /// The virtual now.
    pub now: Instant,
    start: Instant,
    /// The engine's address.
    pub server: SocketAddr,
    /// Events seen (capacity reserved up front; drain it in long runs).
    pub events: Vec<Event>,
    /// The call the clients join by default ([`Harness::join`]).
    pub call: CallId,
    /// The call each client joins or joined.
    calls_of: Vec<CallId>,
    /// When set, every datagram the engine sends: (virtual µs since the start, to).
    /// Off by default; [`Harness::log_sends`] turns it on with room reserved.
    pub sends: Option<Vec<(i64, SocketAddr)>>,
    next_send: Vec<Instant>,
    next_play: Vec<Instant>,
    next_report: Vec<Instant>,
    buf: Box<[u8; NET_BUF]>,
    /// When set (the default), datagrams reach the engine through
    /// [`Engine::handle_datagrams`] and its output is drained with
    /// [`Engine::poll_transmit_batch`] (as the driver does), else one datagram at a time
    /// ([`Engine::handle_datagram`], [`Engine::poll_transmit`]).
    pub batched: bool,
    in_buf: Box<[u8]>,
    in_meta: Box<[crate::Datagram]>,
    batch_buf: Box<[u8]>,
    batch_sends: Box<[crate::Transmit]>,
    /// When set, the bytes of every datagram the engine sends, in order (for
    /// comparing output paths; off by default).
    pub sent_bytes: Option<Vec<Vec<u8>>>,
    /// Called with (client index, frame) for every frame a client plays.
    frames: u64,
}

impl std::fmt::Debug for Harness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Harness")
            .field("clients", &self.clients.len())
            .field("frames", &self.frames)
            .finish_non_exhaustive()
    }
}

impl Harness {
    /// `n` clients (not yet joined) and an engine with `config`, on a fixed virtual
    /// start time; the call exists.
    pub fn new(config: EngineConfig, n: usize, seed: u64) -> Result<Harness, EngineError> {
        Harness::with_clients(config, (0..n).map(ClientConfig::new), seed)
    }

    /// Like [`Harness::new`] with explicit client configurations.
    pub fn with_clients(
        config: EngineConfig,
        clients: impl IntoIterator<Item = ClientConfig>,
        seed: u64,
    ) -> Result<Harness, EngineError> {
        let server = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 1, 0, 1)), 3478);
        let clients: Vec<SimClient> = clients
            .into_iter()
            .map(SimClient::new)
            .collect::<Result<_, _>>()?;
        let n = clients.len();
        // A fixed start so runs are reproducible in every respect but `Instant`'s origin.
        #[allow(clippy::disallowed_methods)] // the one clock read: the virtual origin
        let start = Instant::now();
        let mut engine = Engine::new(config);
        let call = CallId(1);
        engine.handle_command(start, Command::CreateCall { call })?;
        let mut next_send = Vec::with_capacity(n);
        let mut next_play = Vec::with_capacity(n);
        let mut next_report = Vec::with_capacity(n);
        for i in 0..n {
            // Clients are not aligned with the engine's tick or with each other.
            next_send.push(start + Duration::from_micros(1_700 * i as u64 % 20_000));
            next_play.push(start + Duration::from_micros(3_100 * i as u64 % 20_000 + 500));
            next_report.push(start + Duration::from_millis(2_500 + 97 * i as u64));
        }
        Ok(Harness {
            engine,
            net: SimNet::new(server, seed, 8 * n + 4_096),
            clients,
            joined: vec![false; n],
            now: start,
            start,
            server,
            events: Vec::with_capacity(1 << 16),
            call,
            calls_of: vec![call; n],
            sends: None,
            next_send,
            next_play,
            next_report,
            buf: Box::new([0; NET_BUF]),
            batched: true,
            in_buf: vec![0; OUTPUT_BATCH * NET_BUF].into_boxed_slice(),
            in_meta: vec![crate::Datagram::EMPTY; OUTPUT_BATCH].into_boxed_slice(),
            batch_buf: vec![0; OUTPUT_BATCH * NET_BUF].into_boxed_slice(),
            batch_sends: vec![crate::Transmit::NOTHING; OUTPUT_BATCH].into_boxed_slice(),
            sent_bytes: None,
            frames: 0,
        })
    }

    /// Microseconds since the start.
    pub fn now_us(&self) -> i64 {
        i64::try_from(self.now.saturating_duration_since(self.start).as_micros()).unwrap_or(0)
    }

    /// Logs every datagram the engine sends from now on into [`Harness::sends`], with
    /// room for `capacity` entries reserved (later ones are not logged).
    pub fn log_sends(&mut self, capacity: usize) {
        self.sends = Some(Vec::with_capacity(capacity));
    }

    /// Creates another call on the engine (clients join it with [`Harness::join_call`]).
    pub fn create_call(&mut self, call: CallId) -> Result<(), EngineError> {
        self.engine
            .handle_command(self.now, Command::CreateCall { call })
    }

    /// Adds client `i` to the harness's call.
    pub fn join(&mut self, i: usize) -> Result<(), EngineError> {
        let call = self.call;
        self.join_call(i, call)
    }

    /// Adds client `i` to `call`.
    pub fn join_call(&mut self, i: usize, call: CallId) -> Result<(), EngineError> {
        if let Some(c) = self.calls_of.get_mut(i) {
            *c = call;
        }
        let spec = self
            .clients
            .get(i)
            .map(|c| c.spec(None))
            .ok_or(EngineError::UnknownParticipant)?;
        self.join_spec(i, spec)
    }

    /// Adds client `i` to its call (the harness's, unless [`Harness::join_call`] named
    /// another) with an explicit spec.
    pub fn join_spec(&mut self, i: usize, spec: ParticipantSpec) -> Result<(), EngineError> {
        let call = self.calls_of.get(i).copied().unwrap_or(self.call);
        self.engine.handle_command(
            self.now,
            Command::AddParticipant {
                call,
                participant: ParticipantId(i as u64),
                spec,
            },
        )?;
        if let Some(j) = self.joined.get_mut(i) {
            *j = true;
        }
        Ok(())
    }

    /// Removes client `i` from its call.
    pub fn leave(&mut self, i: usize) -> Result<(), EngineError> {
        let call = self.calls_of.get(i).copied().unwrap_or(self.call);
        self.engine.handle_command(
            self.now,
            Command::RemoveParticipant {
                call,
                participant: ParticipantId(i as u64),
            },
        )?;
        if let Some(j) = self.joined.get_mut(i) {
            *j = false;
        }
        Ok(())
    }

    /// Sends a raw datagram to the engine from `from` (for bad-input tests).
    pub fn inject(&mut self, from: SocketAddr, data: &[u8]) {
        let server = self.server;
        self.net.send(self.now, from, server, data);
    }

    fn drain_engine(&mut self) {
        if self.batched {
            loop {
                let filled = self.engine.poll_transmit_batch(
                    &mut self.batch_buf,
                    NET_BUF,
                    &mut self.batch_sends,
                );
                if filled == 0 {
                    break;
                }
                for i in 0..filled {
                    let Some(t) = self.batch_sends.get(i).copied().filter(|t| t.len > 0) else {
                        continue;
                    };
                    let at = i * NET_BUF;
                    if let Some(b) = self.batch_buf.get(at..at + t.len) {
                        self.net.send(self.now, self.server, t.to, b);
                        if let Some(log) = self.sent_bytes.as_mut() {
                            log.push(b.to_vec());
                        }
                    }
                    self.log_send(t.to);
                }
            }
        } else {
            while let Some(t) = self.engine.poll_transmit(&mut self.buf[..]) {
                if let Some(b) = self.buf.get(..t.len) {
                    self.net.send(self.now, self.server, t.to, b);
                    if let Some(log) = self.sent_bytes.as_mut() {
                        log.push(b.to_vec());
                    }
                }
                self.log_send(t.to);
            }
        }
        while let Some(e) = self.engine.poll_event() {
            if self.events.len() < self.events.capacity() {
                self.events.push(e);
            }
        }
    }

    /// Hands the first `n` collected datagrams to the engine in one call.
    fn deliver_batch(&mut self, n: usize) {
        if let Some(meta) = self.in_meta.get(..n) {
            self.engine
                .handle_datagrams(self.now, &mut self.in_buf, NET_BUF, meta);
        }
        self.drain_engine();
    }

    fn log_send(&mut self, to: SocketAddr) {
        if let Some(log) = self.sends.as_mut().filter(|l| l.len() < l.capacity()) {
            let at = i64::try_from(self.now.saturating_duration_since(self.start).as_micros())
                .unwrap_or(0);
            log.push((at, to));
        }
    }

    /// Advances virtual time by `d` in 1 ms steps; `on_frame(i, pcm)` sees every frame
    /// client `i` plays.
    pub fn run(&mut self, d: Duration, mut on_frame: impl FnMut(usize, &[i16; FRAME_SAMPLES])) {
        let end = self.now + d;
        let step = Duration::from_millis(1);
        while self.now < end {
            self.now += step;
            let now = self.now;
            let now_us = self.now_us();
            // Clients send.
            for i in 0..self.clients.len() {
                let due = self.next_send.get(i).is_some_and(|t| *t <= now);
                if !due {
                    continue;
                }
                if let Some(t) = self.next_send.get_mut(i) {
                    *t += Duration::from_millis(20);
                }
                if !self.joined.get(i).copied().unwrap_or(false) {
                    continue;
                }
                let Some(c) = self.clients.get_mut(i) else {
                    continue;
                };
                if let Some(len) = c.next_packet(&mut self.buf[..]) {
                    let from = c.addr;
                    if let Some(b) = self.buf.get(..len) {
                        self.net.send(now, from, self.server, b);
                    }
                }
                // Every 5 s, a receiver report.
                if self.next_report.get(i).is_some_and(|t| *t <= now) {
                    if let Some(t) = self.next_report.get_mut(i) {
                        *t += Duration::from_secs(5);
                    }
                    if let Some(len) = c.report(now_us, &mut self.buf[..]) {
                        let from = c.addr;
                        if let Some(b) = self.buf.get(..len) {
                            self.net.send(now, from, self.server, b);
                        }
                    }
                }
            }
            // The network delivers.
            let mut queued = 0;
            while let Some((from, to, len)) = self.net.recv(now, &mut self.buf[..]) {
                if to == self.server && self.batched {
                    // Collected and handed over together, as the driver does.
                    let at = queued * NET_BUF;
                    if let (Some(dst), Some(src), Some(d)) = (
                        self.in_buf.get_mut(at..at + len),
                        self.buf.get(..len),
                        self.in_meta.get_mut(queued),
                    ) {
                        dst.copy_from_slice(src);
                        *d = crate::Datagram { from, len };
                        queued += 1;
                    }
                    if queued == OUTPUT_BATCH {
                        self.deliver_batch(queued);
                        queued = 0;
                    }
                } else if to == self.server {
                    if let Some(b) = self.buf.get_mut(..len) {
                        self.engine.handle_datagram(now, from, b);
                    }
                    self.drain_engine();
                } else if let Some(c) = self.clients.iter_mut().find(|c| c.addr == to) {
                    if let Some(b) = self.buf.get_mut(..len) {
                        c.receive(now_us, b);
                    }
                }
            }
            if queued > 0 {
                self.deliver_batch(queued);
            }
            // The engine ticks.
            if self.engine.poll_timeout().is_some_and(|t| t <= now) {
                self.engine.handle_timeout(now);
                self.drain_engine();
            }
            // Clients play.
            for i in 0..self.clients.len() {
                let due = self.next_play.get(i).is_some_and(|t| *t <= now);
                if !due {
                    continue;
                }
                if let Some(t) = self.next_play.get_mut(i) {
                    *t += Duration::from_millis(20);
                }
                if let Some(c) = self.clients.get_mut(i) {
                    if let Some(pcm) = c.play(now_us) {
                        self.frames += 1;
                        on_frame(i, pcm);
                    }
                }
            }
        }
    }
}
