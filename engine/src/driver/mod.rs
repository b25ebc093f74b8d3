//! The mio shard driver: the engine's only contact with sockets, threads and the clock.
//!
//! Owns: one thread per shard (default one per core), each with its own UDP socket
//! (distinct ports), its own [`Engine`], a single timer at the engine's next sub-tick
//! phase boundary (the poll timeout is [`Engine::poll_timeout`]; with nothing to tick the thread blocks
//! until I/O or a command), a bounded command queue woken by a `mio::Waker`, and one
//! bounded event channel shared by all shards. [`EngineHandle`] is the control plane's
//! view: place calls, send commands, read events and statistics, shut down.
//!
//! Must never: allocate or block on a shard thread in steady state (events and full
//! sockets are counted drops, not waits), share state between shards, or contain media
//! logic (that lives in the sans-IO core).

mod histogram;
mod shard;
mod stats;

use std::collections::HashMap;
use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;

use mio::{Interest, Poll, Waker};

pub use histogram::Histogram;
pub use stats::ShardStats;

use shard::{Shard, ShardMsg, SOCKET, WAKER};
use stats::SharedStats;

use crate::{CallId, Command, Engine, EngineConfig, Event};

/// Capacity of each shard's command queue.
pub const COMMAND_QUEUE: usize = 4096;
/// Capacity of the event channel shared by all shards. Events beyond it are counted
/// drops ([`ShardStats::events_dropped`]).
pub const EVENT_QUEUE: usize = 16_384;

/// How to start the shards.
#[derive(Clone, Debug)]
pub struct DriverConfig {
    /// Address every shard socket binds to.
    pub bind_ip: IpAddr,
    /// Port of shard 0; shard `i` binds `base_port + i`. 0 = an ephemeral port per shard.
    pub base_port: u16,
    /// Number of shards; 0 = one per core.
    pub shards: usize,
    /// Configuration of each shard's engine.
    pub engine: EngineConfig,
}

impl Default for DriverConfig {
    fn default() -> Self {
        Self {
            bind_ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
            base_port: 0,
            shards: 0,
            engine: EngineConfig::default(),
        }
    }
}

/// An event from one shard's engine.
#[derive(Debug)]
pub struct ShardEvent {
    /// The shard that produced it.
    pub shard: usize,
    /// The engine event.
    pub event: Event,
}

/// Why a command could not be queued.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DriverError {
    /// No shard with that index.
    NoSuchShard,
    /// The shard's command queue is full; retry later.
    QueueFull,
    /// The shard thread has stopped.
    ShardStopped,
}

impl fmt::Display for DriverError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DriverError::NoSuchShard => "no such shard",
            DriverError::QueueFull => "shard command queue is full",
            DriverError::ShardStopped => "shard thread has stopped",
        })
    }
}

impl std::error::Error for DriverError {}

struct ShardHandle {
    addr: SocketAddr,
    commands: SyncSender<ShardMsg>,
    waker: Arc<Waker>,
    stats: Arc<SharedStats>,
    thread: Option<JoinHandle<()>>,
    calls: AtomicUsize,
}

/// The running shards. `Send + Sync`: share it (e.g. in an `Arc`) between control-plane
/// tasks. Dropping it shuts the shards down like [`EngineHandle::shutdown`].
pub struct EngineHandle {
    shards: Vec<ShardHandle>,
    events: Mutex<Receiver<ShardEvent>>,
    placement: Mutex<HashMap<CallId, usize>>,
}

impl fmt::Debug for EngineHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EngineHandle")
            .field("shards", &self.shards.len())
            .finish_non_exhaustive()
    }
}

impl EngineHandle {
    /// Binds one UDP socket per shard and starts the shard threads.
    pub fn start(config: DriverConfig) -> io::Result<EngineHandle> {
        let count = if config.shards == 0 {
            std::thread::available_parallelism().map_or(1, |n| n.get())
        } else {
            config.shards
        };
        let mut sockets = Vec::with_capacity(count);
        for index in 0..count {
            let port = if config.base_port == 0 {
                0
            } else {
                u16::try_from(index)
                    .ok()
                    .and_then(|i| config.base_port.checked_add(i))
                    .ok_or_else(|| {
                        io::Error::new(io::ErrorKind::InvalidInput, "shard port overflow")
                    })?
            };
            sockets.push(std::net::UdpSocket::bind(SocketAddr::new(
                config.bind_ip,
                port,
            ))?);
        }
        Self::start_with_sockets(config.engine, sockets)
    }

    /// Starts one shard per socket, on sockets the caller bound and tuned (e.g. larger
    /// kernel buffers with `SO_RCVBUF`, which std cannot set). The sockets are switched
    /// to non-blocking mode.
    pub fn start_with_sockets(
        engine: EngineConfig,
        sockets: Vec<std::net::UdpSocket>,
    ) -> io::Result<EngineHandle> {
        if sockets.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "at least one shard socket is needed",
            ));
        }
        let (event_tx, events) = sync_channel(EVENT_QUEUE);
        let mut handle = EngineHandle {
            shards: Vec::with_capacity(sockets.len()),
            events: Mutex::new(events),
            placement: Mutex::new(HashMap::new()),
        };
        for (index, socket) in sockets.into_iter().enumerate() {
            // On error, `handle` drops and stops the shards already started.
            let shard = start_shard(engine, index, socket, event_tx.clone())?;
            handle.shards.push(shard);
        }
        Ok(handle)
    }

    /// Number of shards.
    pub fn shards(&self) -> usize {
        self.shards.len()
    }

    /// The UDP address of shard `shard` (clients send media there).
    ///
    /// # Panics
    /// If `shard >= self.shards()`.
    pub fn shard_addr(&self, shard: usize) -> SocketAddr {
        self.shards[shard].addr
    }

    /// Chooses a shard for `call` (the one with the fewest placed calls) and remembers
    /// it; a call already placed keeps its shard.
    pub fn place_call(&self, call: CallId) -> usize {
        let mut placement = self.placement.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(&shard) = placement.get(&call) {
            return shard;
        }
        let shard = self
            .shards
            .iter()
            .enumerate()
            .min_by_key(|(_, s)| s.calls.load(Ordering::Relaxed))
            .map_or(0, |(i, _)| i);
        if let Some(s) = self.shards.get(shard) {
            s.calls.fetch_add(1, Ordering::Relaxed);
        }
        placement.insert(call, shard);
        shard
    }

    /// The shard `call` was placed on, if any.
    pub fn shard_of(&self, call: CallId) -> Option<usize> {
        let placement = self.placement.lock().unwrap_or_else(|e| e.into_inner());
        placement.get(&call).copied()
    }

    /// Queues `cmd` for shard `shard` and wakes it. Never blocks. An `EndCall` also
    /// forgets the call's placement.
    pub fn command(&self, shard: usize, cmd: Command) -> Result<(), DriverError> {
        let s = self.shards.get(shard).ok_or(DriverError::NoSuchShard)?;
        let ended = match &cmd {
            Command::EndCall { call } => Some(*call),
            _ => None,
        };
        match s.commands.try_send(ShardMsg::Command(cmd)) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => return Err(DriverError::QueueFull),
            Err(TrySendError::Disconnected(_)) => return Err(DriverError::ShardStopped),
        }
        s.waker.wake().map_err(|_| DriverError::ShardStopped)?;
        if let Some(call) = ended {
            self.forget_call(call);
        }
        Ok(())
    }

    /// Forgets where `call` was placed (done by `EndCall`; call it for a call that ended
    /// by itself, e.g. [`Event::CallEnded`] with `EndReason::Panicked`).
    pub fn forget_call(&self, call: CallId) {
        let mut placement = self.placement.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(shard) = placement.remove(&call) {
            if let Some(s) = self.shards.get(shard) {
                s.calls.fetch_sub(1, Ordering::Relaxed);
            }
        }
    }

    /// The events of every shard (one reader at a time: the receiver is behind a lock,
    /// which keeps the handle `Sync`). Read them promptly: when the channel is full,
    /// further events are dropped and counted ([`ShardStats::events_dropped`]).
    pub fn events(&self) -> MutexGuard<'_, Receiver<ShardEvent>> {
        self.events.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A snapshot of every shard's statistics (at most ~100 ms old while a shard is
    /// busy; current while it is idle).
    pub fn stats(&self) -> Vec<ShardStats> {
        self.shards.iter().map(|s| s.stats.snapshot()).collect()
    }

    /// Ends every placed call (so each produces its `CallEnded` event and clients get
    /// their last packets), stops and joins every shard thread, and returns the events
    /// still queued (the call endings among them).
    pub fn shutdown(mut self) -> Vec<ShardEvent> {
        self.stop();
        let events = self.events();
        events.try_iter().collect()
    }

    fn stop(&mut self) {
        let placed: Vec<(CallId, usize)> = {
            let mut placement = self.placement.lock().unwrap_or_else(|e| e.into_inner());
            placement.drain().collect()
        };
        for (call, shard) in placed {
            if let Some(s) = self.shards.get(shard) {
                // Blocking send: the shard is alive and draining, or gone (error ignored).
                let _ = s
                    .commands
                    .send(ShardMsg::Command(Command::EndCall { call }));
                let _ = s.waker.wake();
            }
        }
        for s in &self.shards {
            let _ = s.commands.send(ShardMsg::Shutdown);
            let _ = s.waker.wake();
        }
        for s in &mut self.shards {
            if let Some(thread) = s.thread.take() {
                // A shard that panicked outside any call has already stopped; nothing
                // more to do for it here.
                let _ = thread.join();
            }
        }
    }
}

impl Drop for EngineHandle {
    fn drop(&mut self) {
        self.stop();
    }
}

fn start_shard(
    engine_config: EngineConfig,
    index: usize,
    std_socket: std::net::UdpSocket,
    events: SyncSender<ShardEvent>,
) -> io::Result<ShardHandle> {
    std_socket.set_nonblocking(true)?;
    let addr = std_socket.local_addr()?;
    let mut socket = mio::net::UdpSocket::from_std(std_socket);
    let poll = Poll::new()?;
    poll.registry()
        .register(&mut socket, SOCKET, Interest::READABLE)?;
    let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
    let (command_tx, commands) = sync_channel(COMMAND_QUEUE);
    let stats = Arc::new(SharedStats::new(index, addr));
    let tick = engine_config.tick;
    let send_buf_len = engine_config.max_datagram;
    let shard_stats = Arc::clone(&stats);
    let thread = std::thread::Builder::new()
        .name(format!("talko-shard-{index}"))
        .spawn(move || {
            let shard = Shard {
                index,
                engine: Engine::new(engine_config),
                poll,
                socket,
                commands,
                events,
                stats: shard_stats,
                tick,
                send_buf_len,
            };
            shard.run();
        })?;
    Ok(ShardHandle {
        addr,
        commands: command_tx,
        waker,
        stats,
        thread: Some(thread),
        calls: AtomicUsize::new(0),
    })
}
