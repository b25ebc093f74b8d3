//! Per-shard statistics: counted on the shard thread, published for the control plane.
//!
//! Owns: [`ShardCounters`] (plain fields, touched only by the shard thread) and the shared
//! snapshot behind a `Mutex` that [`EngineHandle::stats`](super::EngineHandle::stats)
//! reads. Must never: allocate on the shard thread (publishing copies fixed-size data
//! into a preallocated slot), or block the shard thread for longer than one copy.

use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::Duration;

use super::histogram::Histogram;
use crate::DropCounters;

/// Everything the shard thread counts. `Copy`, fixed size: publishing is a memcpy.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct ShardCounters {
    pub ticks: u64,
    pub phase_runs: u64,
    pub missed_ticks: u64,
    pub skipped_ticks: u64,
    /// Time to run one due phase: `handle_timeout` plus sending what it produced.
    pub tick_time: Histogram,
    /// The phase run times of one tick period, summed.
    pub period_time: Histogram,
    /// How late the shard woke for a tick, beyond the deadline.
    pub tick_lateness: Histogram,
    /// Server-added latency: from reading a packet off the socket to having sent the
    /// mix it went into, per packet mixed.
    pub mix_latency: Histogram,
    pub busy: Duration,
    pub idle: Duration,
    pub datagrams_in: u64,
    pub bytes_in: u64,
    pub datagrams_out: u64,
    pub bytes_out: u64,
    pub send_would_block: u64,
    pub send_errors: u64,
    pub recv_errors: u64,
    pub events_out: u64,
    pub events_dropped: u64,
    pub commands: u64,
    pub command_errors: u64,
    pub engine_drops: DropCounters,
    pub thread_allocs: u64,
    pub thread_frees: u64,
}

/// A snapshot of one shard's statistics.
#[derive(Clone, Copy, Debug)]
pub struct ShardStats {
    /// Shard index.
    pub shard: usize,
    /// The shard's UDP address.
    pub addr: SocketAddr,
    /// Mixer tick periods (20 ms) the engine ran; every call with members mixes once
    /// per period, in its sub-tick phase.
    pub ticks: u64,
    /// Sub-tick phase runs (up to `tick_phases` per period: only phases holding calls run).
    pub phase_runs: u64,
    /// Periods in which a phase ran after its slot had passed (woke a whole period late
    /// or more), each counted once; 0 when everything ran on time. Periods skipped
    /// outright are counted in `skipped_ticks`, not here.
    pub missed_ticks: u64,
    /// Periods the engine skipped outright because it was too far behind to catch up.
    pub skipped_ticks: u64,
    /// Processing time of one phase run (`handle_timeout` plus sending its output):
    /// median. With one phase, a phase run is the whole tick.
    pub tick_p50: Duration,
    /// Processing time of one phase run: 99th percentile.
    pub tick_p99: Duration,
    /// Processing time of one phase run: maximum.
    pub tick_max: Duration,
    /// Busy time of one tick period (its phase runs summed): median.
    pub period_p50: Duration,
    /// Busy time of one tick period: 99th percentile.
    pub period_p99: Duration,
    /// Busy time of one tick period: maximum.
    pub period_max: Duration,
    /// Lateness of the tick wake-up beyond its deadline: 99th percentile.
    pub tick_late_p99: Duration,
    /// Lateness of the tick wake-up: maximum.
    pub tick_late_max: Duration,
    /// Time spent working (everything outside the blocking poll).
    pub busy: Duration,
    /// Time spent blocked in poll.
    pub idle: Duration,
    /// Datagrams received.
    pub datagrams_in: u64,
    /// Bytes received.
    pub bytes_in: u64,
    /// Datagrams sent.
    pub datagrams_out: u64,
    /// Bytes sent.
    pub bytes_out: u64,
    /// Datagrams dropped because the socket's send buffer was full.
    pub send_would_block: u64,
    /// Datagrams dropped because sending failed for another reason.
    pub send_errors: u64,
    /// Receive errors other than "would block".
    pub recv_errors: u64,
    /// Events delivered to the event channel.
    pub events_out: u64,
    /// Events dropped because the event channel was full or closed.
    pub events_dropped: u64,
    /// Commands handled.
    pub commands: u64,
    /// Commands the engine rejected (each also produced an error event, if room).
    pub command_errors: u64,
    /// The engine's counted drops by reason.
    pub engine_drops: DropCounters,
    /// The full phase-run-time histogram, in nanoseconds.
    pub tick_time: Histogram,
    /// The full per-period busy-time histogram, in nanoseconds.
    pub period_time: Histogram,
    /// Server-added latency, in nanoseconds: for every packet mixed, from the shard
    /// reading it off its socket to the mix it went into having been sent.
    pub mix_latency: Histogram,
    /// Allocations made by the shard thread so far, as counted by
    /// `talko_codecs::testing::CountingAlloc` when it is the global allocator (0 otherwise).
    pub thread_allocs: u64,
    /// Frees made by the shard thread so far (same source as `thread_allocs`).
    pub thread_frees: u64,
}

impl ShardStats {
    /// Fraction of wall time the shard thread was busy (0.0..=1.0).
    pub fn busy_fraction(&self) -> f64 {
        let total = self.busy + self.idle;
        if total.is_zero() {
            0.0
        } else {
            self.busy.as_secs_f64() / total.as_secs_f64()
        }
    }
}

/// The slot the shard thread publishes into and the handle reads from.
#[derive(Debug)]
pub(crate) struct SharedStats {
    shard: usize,
    addr: SocketAddr,
    slot: Mutex<ShardCounters>,
}

impl SharedStats {
    pub fn new(shard: usize, addr: SocketAddr) -> Self {
        Self {
            shard,
            addr,
            slot: Mutex::new(ShardCounters::default()),
        }
    }

    /// Copies `counters` into the shared slot. Never allocates; a poisoned lock is
    /// recovered (the data is plain counters).
    pub fn publish(&self, counters: &ShardCounters) {
        let mut slot = self.slot.lock().unwrap_or_else(|e| e.into_inner());
        *slot = *counters;
    }

    pub fn snapshot(&self) -> ShardStats {
        let c = *self.slot.lock().unwrap_or_else(|e| e.into_inner());
        ShardStats {
            shard: self.shard,
            addr: self.addr,
            ticks: c.ticks,
            phase_runs: c.phase_runs,
            missed_ticks: c.missed_ticks,
            skipped_ticks: c.skipped_ticks,
            tick_p50: c.tick_time.quantile_duration(0.5),
            tick_p99: c.tick_time.quantile_duration(0.99),
            tick_max: c.tick_time.max_duration(),
            period_p50: c.period_time.quantile_duration(0.5),
            period_p99: c.period_time.quantile_duration(0.99),
            period_max: c.period_time.max_duration(),
            tick_late_p99: c.tick_lateness.quantile_duration(0.99),
            tick_late_max: c.tick_lateness.max_duration(),
            busy: c.busy,
            idle: c.idle,
            datagrams_in: c.datagrams_in,
            bytes_in: c.bytes_in,
            datagrams_out: c.datagrams_out,
            bytes_out: c.bytes_out,
            send_would_block: c.send_would_block,
            send_errors: c.send_errors,
            recv_errors: c.recv_errors,
            events_out: c.events_out,
            events_dropped: c.events_dropped,
            commands: c.commands,
            command_errors: c.command_errors,
            engine_drops: c.engine_drops,
            tick_time: c.tick_time,
            period_time: c.period_time,
            mix_latency: c.mix_latency,
            thread_allocs: c.thread_allocs,
            thread_frees: c.thread_frees,
        }
    }
}
