//! One shard thread: a mio `Poll` over the shard's UDP socket and its command `Waker`,
//! driving one [`Engine`] with a single timer at the engine's next sub-tick phase
//! boundary ([`Engine::poll_timeout`]).
//!
//! Owns: the socket, the engine, the receive and send buffers, and the shard's counters.
//! Must never: allocate in steady state (buffers are boxed once at start; events leave
//! through a preallocated bounded channel with `try_send`), block on anything but the
//! poll, or let a full event channel or a full socket stall media (both are counted
//! drops). This is the only place in the engine that reads the clock.

use std::io;
use std::sync::mpsc::{Receiver, SyncSender, TryRecvError, TrySendError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::net::UdpSocket;
use mio::{Events, Poll, Token};

use super::stats::{ShardCounters, SharedStats};
use super::ShardEvent;
use crate::{Command, Datagram, Engine, Transmit};

pub(crate) const SOCKET: Token = Token(0);
pub(crate) const WAKER: Token = Token(1);

/// Datagrams read in one batch before the shard checks whether a tick is due, so a
/// flood of input cannot starve the mixer.
const RECV_BATCH: usize = 64;
/// Batches read before the shard goes back to its loop (commands, statistics) with
/// datagrams possibly still waiting: with a phase due every few milliseconds, a
/// loaded socket may never report "would block".
const RECV_BATCHES_PER_TURN: usize = 16;
/// Consecutive non-"would block" receive errors after which the shard stops reading
/// until the next readiness event.
const MAX_RECV_ERRORS: usize = 64;
/// Receive buffer: larger than any datagram the engine accepts, so oversized input is
/// seen (and dropped by the engine) rather than silently truncated to a valid size.
const RECV_BUF: usize = 2048;
/// Datagrams read before the engine handles them together ([`Engine::handle_datagrams`]).
const RECV_GROUP: usize = talko_codecs::srtp::SRTP_BATCH;
/// Datagrams built (and SRTP-protected) per [`Engine::poll_transmit_batch`].
const SEND_BATCH: usize = talko_codecs::srtp::SRTP_BATCH;
/// Ticks a late shard runs one by one before it lets the engine skip ahead.
const MAX_CATCH_UP: u32 = 3;
/// How often the counters are copied to the shared snapshot while the shard is busy.
const PUBLISH_EVERY: Duration = Duration::from_millis(100);

/// A message to a shard thread.
#[allow(clippy::large_enum_variant)] // The queue's slots are preallocated; boxing would allocate per command.
pub(crate) enum ShardMsg {
    Command(Command),
    Shutdown,
}

/// The clock, read in one place.
#[inline]
#[allow(clippy::disallowed_methods)] // The driver is the engine's only clock reader.
pub(crate) fn now() -> Instant {
    Instant::now()
}

pub(crate) struct Shard {
    pub index: usize,
    pub engine: Engine,
    pub poll: Poll,
    pub socket: UdpSocket,
    pub commands: Receiver<ShardMsg>,
    pub events: SyncSender<ShardEvent>,
    pub stats: Arc<SharedStats>,
    pub tick: Duration,
    pub send_buf_len: usize,
}

struct Io<'a> {
    socket: &'a UdpSocket,
    events: &'a SyncSender<ShardEvent>,
    shard: usize,
    /// [`SEND_BATCH`] datagram buffers of `send_stride` bytes each.
    send_buf: &'a mut [u8],
    send_stride: usize,
    sends: &'a mut [Transmit],
    counters: &'a mut ShardCounters,
    period: PeriodTimer,
}

/// Sums the phase runs of one tick period ([`Engine::ticks`] numbers them) into that
/// period's busy time, recorded when the next period starts.
#[derive(Debug, Default)]
struct PeriodTimer {
    period: u64,
    busy: Duration,
    /// The last period counted as missed (a period counts once, however many of its
    /// phases ran late).
    missed: u64,
}

impl PeriodTimer {
    fn add(&mut self, period: u64, took: Duration, counters: &mut ShardCounters) {
        if period != self.period {
            if !self.busy.is_zero() {
                counters.period_time.record_duration(self.busy);
            }
            self.period = period;
            self.busy = Duration::ZERO;
        }
        self.busy += took;
    }
}

impl Io<'_> {
    /// Sends everything the engine has queued, then forwards its events. Datagrams are
    /// built [`SEND_BATCH`] at a time so the engine protects a call's fan-out together.
    fn flush(&mut self, engine: &mut Engine) {
        let stride = self.send_stride;
        loop {
            let filled = engine.poll_transmit_batch(self.send_buf, stride, self.sends);
            if filled == 0 {
                break;
            }
            for (i, t) in self.sends.iter().take(filled).enumerate() {
                if t.len == 0 {
                    continue;
                }
                let Some(data) = self.send_buf.get(i * stride..i * stride + t.len) else {
                    self.counters.send_errors += 1;
                    continue;
                };
                match self.socket.send_to(data, t.to) {
                    Ok(n) => {
                        self.counters.datagrams_out += 1;
                        self.counters.bytes_out += n as u64;
                    }
                    // UDP: a full send buffer is a dropped datagram, never a stall.
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        self.counters.send_would_block += 1
                    }
                    Err(_) => self.counters.send_errors += 1,
                }
            }
        }
        while let Some(event) = engine.poll_event() {
            let shard = self.shard;
            match self.events.try_send(ShardEvent { shard, event }) {
                Ok(()) => self.counters.events_out += 1,
                Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                    self.counters.events_dropped += 1
                }
            }
        }
    }
}

impl Shard {
    /// Runs the shard until a shutdown message arrives or the handle is dropped.
    pub fn run(self) {
        let Shard {
            index,
            mut engine,
            mut poll,
            socket,
            commands,
            events: event_tx,
            stats,
            tick,
            send_buf_len,
        } = self;
        let mut recv_buf = vec![0u8; RECV_GROUP * RECV_BUF].into_boxed_slice();
        let send_stride = send_buf_len.max(RECV_BUF);
        let mut send_buf = vec![0u8; SEND_BATCH * send_stride].into_boxed_slice();
        let mut sends = vec![Transmit::NOTHING; SEND_BATCH].into_boxed_slice();
        let mut counters = ShardCounters::default();
        let mut poll_events = Events::with_capacity(64);
        let mut io = Io {
            socket: &socket,
            events: &event_tx,
            shard: index,
            send_buf: &mut send_buf,
            send_stride,
            sends: &mut sends,
            counters: &mut counters,
            period: PeriodTimer::default(),
        };
        let mut last_publish = now();
        let mut shutdown = false;
        // The socket was not read to "would block" (mio readiness is edge-triggered:
        // no new event comes for what is already waiting).
        let mut rx_pending = false;

        while !shutdown {
            let before = now();
            let deadline = engine.poll_timeout();
            let timeout = if rx_pending {
                Some(Duration::ZERO)
            } else {
                deadline.map(|d| d.saturating_duration_since(before))
            };
            if deadline.is_none() && !rx_pending {
                // About to block until I/O or a command: make the snapshot current.
                publish(&engine, io.counters, &stats);
                last_publish = before;
            }
            if let Err(e) = poll.poll(&mut poll_events, timeout) {
                if e.kind() != io::ErrorKind::Interrupted {
                    io.counters.recv_errors += 1;
                }
            }
            let woke = now();
            io.counters.idle += woke.saturating_duration_since(before);

            let mut readable = false;
            for ev in poll_events.iter() {
                if ev.token() == SOCKET {
                    readable = true;
                }
            }
            // Commands are cheap to check; the waker only makes sure we wake up for them.
            shutdown = drain_commands(&commands, &mut engine, &mut io);
            if readable || rx_pending {
                rx_pending = receive_all(&mut recv_buf, &mut engine, &mut io, tick);
            }
            run_due_tick(&mut engine, &mut io, tick);

            let end = now();
            io.counters.busy += end.saturating_duration_since(woke);
            if end.saturating_duration_since(last_publish) >= PUBLISH_EVERY || shutdown {
                publish(&engine, io.counters, &stats);
                last_publish = end;
            }
        }
    }
}

/// Copies the engine's counters and this thread's allocation counters (meaningful when
/// the process runs with `talko_codecs::testing::CountingAlloc`; zero otherwise) into
/// `counters`, then publishes them. Never allocates.
fn publish(engine: &Engine, counters: &mut ShardCounters, stats: &SharedStats) {
    counters.engine_drops = engine.drop_counters();
    counters.ticks = engine.ticks();
    counters.phase_runs = engine.phase_runs();
    counters.skipped_ticks = engine.missed_ticks();
    let c = talko_codecs::testing::thread_counts();
    counters.thread_allocs = c.allocs;
    counters.thread_frees = c.frees;
    stats.publish(counters);
}

/// Handles every queued command. Returns true when the shard must stop.
fn drain_commands(commands: &Receiver<ShardMsg>, engine: &mut Engine, io: &mut Io<'_>) -> bool {
    loop {
        match commands.try_recv() {
            Ok(ShardMsg::Command(cmd)) => {
                io.counters.commands += 1;
                if engine.handle_command(now(), cmd).is_err() {
                    io.counters.command_errors += 1;
                }
                io.flush(engine);
            }
            Ok(ShardMsg::Shutdown) | Err(TryRecvError::Disconnected) => {
                io.flush(engine);
                return true;
            }
            Err(TryRecvError::Empty) => return false,
        }
    }
}

/// Reads datagrams until the socket reports "would block", running a due tick between
/// batches, for at most [`RECV_BATCHES_PER_TURN`] batches. Returns true when it stopped
/// with datagrams possibly still waiting.
fn receive_all(recv_buf: &mut [u8], engine: &mut Engine, io: &mut Io<'_>, tick: Duration) -> bool {
    let mut errors = 0usize;
    let mut got = [Datagram::EMPTY; RECV_GROUP];
    for _ in 0..RECV_BATCHES_PER_TURN {
        let mut batch = 0usize;
        while batch < RECV_BATCH {
            // Read up to RECV_GROUP datagrams, then hand them over together (their SRTP
            // tags are computed side by side).
            let mut n = 0;
            let mut drained = false;
            while n < RECV_GROUP {
                let Some(slot) = recv_buf.get_mut(n * RECV_BUF..(n + 1) * RECV_BUF) else {
                    break;
                };
                match io.socket.recv_from(slot) {
                    Ok((len, from)) => {
                        errors = 0;
                        io.counters.datagrams_in += 1;
                        io.counters.bytes_in += len as u64;
                        if let Some(d) = got.get_mut(n) {
                            *d = Datagram { from, len };
                        }
                        n += 1;
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        drained = true;
                        break;
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(_) => {
                        io.counters.recv_errors += 1;
                        errors += 1;
                        if errors >= MAX_RECV_ERRORS {
                            drained = true;
                            break;
                        }
                    }
                }
            }
            if let Some(datagrams) = got.get(..n).filter(|d| !d.is_empty()) {
                engine.handle_datagrams(now(), recv_buf, RECV_BUF, datagrams);
                io.flush(engine);
            }
            batch += n;
            if drained {
                return false;
            }
        }
        run_due_tick(engine, io, tick);
    }
    true
}

/// Runs the earliest due phase, sending each call's output as soon as it has mixed (so
/// a late shard delivers late media instead of overwriting it). One phase per call:
/// the caller reads the socket before the next, so packets that arrived while this
/// phase ran reach their call before it mixes (run back to back, a late phase would
/// push them a whole tick later, which the jitter buffer counts as jitter). Times each
/// phase run and sums them per tick period. A period counts as missed once when one of
/// its phases ran a whole period late. When the shard is more than [`MAX_CATCH_UP`]
/// periods behind, the engine is handed the real time and skips ahead itself (counted
/// in its skipped ticks).
fn run_due_tick(engine: &mut Engine, io: &mut Io<'_>, tick: Duration) {
    let tick = tick.max(Duration::from_millis(1));
    if let Some(deadline) = engine.poll_timeout() {
        let start = now();
        if start < deadline {
            return;
        }
        let late = start.saturating_duration_since(deadline);
        io.counters.tick_lateness.record_duration(late);
        let at = if late >= tick * MAX_CATCH_UP {
            start
        } else {
            deadline
        };
        // Each call's mixes leave as soon as that call has mixed; then the time since
        // each packet in the mix was read is its server-added latency.
        engine.handle_timeout_with(at, |engine| {
            io.flush(engine);
            if let Some(sent_us) = engine.timeline_us(now()) {
                for r in engine.last_mixed().received_us() {
                    let us = u64::try_from(sent_us.saturating_sub(*r)).unwrap_or(0);
                    io.counters
                        .mix_latency
                        .record_duration(Duration::from_micros(us));
                }
            }
        });
        io.flush(engine);
        let took = now().saturating_duration_since(start);
        io.counters.tick_time.record_duration(took);
        let period = engine.ticks();
        io.period.add(period, took, io.counters);
        if late >= tick && io.period.missed != period {
            // This phase's slot in the period had already passed when it ran.
            io.period.missed = period;
            io.counters.missed_ticks += 1;
        }
    }
}
