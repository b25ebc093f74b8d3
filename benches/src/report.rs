//! `loadgen`'s report: what was measured, in a human-readable form and as JSON.
//!
//! Owns: the report's shape and the target checks. Must never: claim a target was met
//! when the run could not measure it (such checks say `null` / "n/a").

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

/// The whole report.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// The command line that produced it.
    pub command: String,
    /// The run's configuration.
    pub config: ConfigReport,
    /// Length of the measurement window, seconds.
    pub window_secs: f64,
    /// Per-shard figures.
    pub shards: Vec<ShardReport>,
    /// What else happened on the machine.
    pub machine: MachineReport,
    /// The load generator's own cost.
    pub loadgen: LoadgenReport,
    /// Client → engine.
    pub uplink: LinkReport,
    /// Engine → clients.
    pub downlink: LinkReport,
    /// What the checked listeners heard.
    pub audio: AudioReport,
    /// Server-added latency.
    pub latency: LatencyReport,
    /// Engine events seen during the whole run.
    pub events: BTreeMap<String, u64>,
    /// The targets, checked.
    pub targets: Vec<TargetCheck>,
}

/// The run's configuration.
#[derive(Clone, Debug, Serialize)]
pub struct ConfigReport {
    /// Rooms.
    pub rooms: usize,
    /// Participants per room.
    pub participants_per_room: usize,
    /// Talkers per room.
    pub talkers_per_room: usize,
    /// Empty calls.
    pub empty_calls: usize,
    /// Shards.
    pub shards: usize,
    /// Client threads.
    pub client_threads: usize,
    /// Warm-up seconds.
    pub warmup_secs: u64,
    /// Measured seconds.
    pub duration_secs: u64,
    /// Silent participants' packet interval.
    pub listener_packet_ms: u64,
    /// Talker audio source.
    pub signal: String,
    /// SRTP suite.
    pub srtp: String,
    /// The engine jitter buffer's minimum target, ms.
    pub engine_jitter_min_ms: u64,
    /// The engine's sub-tick phases per 20 ms period.
    pub tick_phases: u32,
    /// Cores the machine has.
    pub machine_cores: usize,
}

/// One shard's figures over the measurement window.
#[derive(Clone, Debug, Serialize)]
pub struct ShardReport {
    /// Shard index.
    pub shard: usize,
    /// Participants placed on it.
    pub participants: usize,
    /// Calls placed on it (rooms and empty calls).
    pub calls: usize,
    /// CPU time of the shard thread, seconds (from /proc).
    pub cpu_secs: f64,
    /// CPU time / wall time (1.0 = one core fully used).
    pub cpu_share: f64,
    /// Time the shard thread was runnable but waiting for a CPU / wall time: how much
    /// other load on the machine held it back.
    pub runqueue_wait_share: f64,
    /// The driver's own busy / (busy + idle) measure.
    pub busy_share: f64,
    /// Ticks run: 20 ms periods, in each of which every call with members mixes once.
    pub ticks: u64,
    /// Ticks missed: periods with a phase run after its slot had passed, or skipped.
    pub missed_ticks: u64,
    /// Of those, periods the engine skipped outright (more than 3 behind).
    pub skipped_ticks: u64,
    /// Sub-tick phase runs (only phases holding calls run).
    pub phase_runs: u64,
    /// Tick processing time (one period's phase runs summed), µs: median.
    pub tick_p50_us: f64,
    /// Tick processing time (per period), µs: 99th percentile.
    pub tick_p99_us: f64,
    /// Tick processing time (per period), µs: maximum.
    pub tick_max_us: f64,
    /// Processing time of one phase run (its calls, and sending their mixes), µs: median.
    pub phase_run_p50_us: f64,
    /// Processing time of one phase run, µs: 99th percentile.
    pub phase_run_p99_us: f64,
    /// Processing time of one phase run, µs: maximum.
    pub phase_run_max_us: f64,
    /// Datagrams received per second.
    pub datagrams_in_per_s: f64,
    /// Datagrams sent per second.
    pub datagrams_out_per_s: f64,
    /// Datagrams the shard could not send.
    pub send_drops: u64,
    /// Events dropped on a full channel.
    pub events_dropped: u64,
    /// Engine drops by reason.
    pub engine_drops: BTreeMap<String, u64>,
    /// Heap allocations by the shard thread during the window.
    pub allocations: u64,
    /// Heap frees by the shard thread during the window.
    pub frees: u64,
}

/// The machine around the run: other load, kernel-level drops.
#[derive(Clone, Debug, Serialize)]
pub struct MachineReport {
    /// 1-minute load average when measuring started.
    pub loadavg_1m_start: f64,
    /// 1-minute load average when measuring ended.
    pub loadavg_1m_end: f64,
    /// Datagrams the kernel dropped on full UDP receive buffers (whole machine).
    pub kernel_udp_rcvbuf_errors: u64,
    /// Datagrams the kernel refused on full UDP send buffers (whole machine).
    pub kernel_udp_sndbuf_errors: u64,
}

/// The load generator's own CPU.
#[derive(Clone, Debug, Serialize)]
pub struct LoadgenReport {
    /// Whole-process CPU minus the shard threads, seconds.
    pub cpu_secs: f64,
    /// The same as a share of one core.
    pub cpu_share: f64,
    /// CPU of the client threads, as a share of one core.
    pub client_threads_cpu_share: f64,
    /// Time the client threads waited for a CPU, as a share of wall time.
    pub client_threads_runqueue_wait_share: f64,
    /// Sends more than 10 ms behind schedule (the load generator was overloaded).
    pub late_sends: u64,
    /// Largest send delay behind schedule, ms.
    pub max_send_delay_ms: f64,
}

/// One direction's packet accounting.
#[derive(Clone, Debug, Serialize)]
pub struct LinkReport {
    /// What the counts cover: the uplink counts the whole run (every packet the clients
    /// sent against every datagram the shards read, after the clients stopped and the
    /// shards drained), the downlink the measurement window.
    pub span: &'static str,
    /// Packets sent.
    pub sent: u64,
    /// Packets received (and authenticated).
    pub received: u64,
    /// Packets the loss is counted against: sent (uplink), or expected from the
    /// listeners' sequence numbers (downlink: a listener's first and last packet in the
    /// window bound what it should have received).
    pub expected: u64,
    /// Loss, percent.
    pub loss_pct: f64,
    /// Packets per second.
    pub packets_per_s: f64,
    /// Authentication failures at the receiver.
    pub auth_failures: u64,
}

/// What the checked listeners heard.
#[derive(Clone, Debug, Serialize)]
pub struct AudioReport {
    /// Mix frames decoded and checked.
    pub checked_frames: u64,
    /// Frames that failed to decode.
    pub decode_errors: u64,
    /// (listener, other talker) pairs checked.
    pub pairs: u64,
    /// Pairs where the listener heard the talker.
    pub pairs_heard: u64,
    /// Frames in which a talker heard itself (must be 0).
    pub self_heard_frames: u64,
}

/// Server-added latency, ms.
#[derive(Clone, Debug, Serialize)]
pub struct LatencyReport {
    /// Method.
    pub method: &'static str,
    /// Samples.
    pub samples: u64,
    /// Rejected samples (> 500 ms: a burst onset mismatched).
    pub rejected: u64,
    /// Median, ms.
    pub p50_ms: f64,
    /// 99th percentile, ms.
    pub p99_ms: f64,
    /// Maximum, ms.
    pub max_ms: f64,
    /// Talk-start delay samples (burst onset to first heard; includes talk detection).
    pub talk_start_samples: u64,
    /// Talk-start delay median, ms.
    pub talk_start_p50_ms: f64,
    /// Talk-start delay 99th percentile, ms.
    pub talk_start_p99_ms: f64,
    /// Packets the engine measured (every packet mixed in the window).
    pub engine_samples: u64,
    /// Engine-side server-added latency (packet read off the shard's socket → the mix
    /// it went into sent), median, ms.
    pub engine_p50_ms: f64,
    /// Its 99th percentile, ms.
    pub engine_p99_ms: f64,
    /// Its maximum, ms.
    pub engine_max_ms: f64,
}

/// One target of the issue.
#[derive(Clone, Debug, Serialize)]
pub struct TargetCheck {
    /// The target.
    pub target: &'static str,
    /// What was measured.
    pub measured: String,
    /// Met (`Some(true)`), not met, or not measured by this run (`None`).
    pub pass: Option<bool>,
}

fn pct(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        100.0 * part as f64 / whole as f64
    }
}

/// Loss percentage of `received` out of `sent` (0 when nothing was sent).
pub fn loss_pct(sent: u64, received: u64) -> f64 {
    pct(sent.saturating_sub(received), sent)
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = &self.config;
        writeln!(f, "loadgen report — {}", self.command)?;
        writeln!(
            f,
            "  {} rooms × {} participants ({} talking), {} empty calls, {} shard(s), {} client thread(s), {} cores",
            c.rooms, c.participants_per_room, c.talkers_per_room, c.empty_calls, c.shards, c.client_threads, c.machine_cores
        )?;
        writeln!(
            f,
            "  signal: {}; SRTP {}; silent participants send every {} ms; engine jitter minimum {} ms, {} tick phases; window {:.1} s after {} s warm-up",
            c.signal, c.srtp, c.listener_packet_ms, c.engine_jitter_min_ms, c.tick_phases, self.window_secs, c.warmup_secs
        )?;
        writeln!(f, "shards:")?;
        for s in &self.shards {
            writeln!(
                f,
                "  #{}: {} participants, {} calls; CPU {:.1} % of a core ({:.2} s; driver busy {:.1} %; waited for a CPU {:.1} % of the time)",
                s.shard, s.participants, s.calls, 100.0 * s.cpu_share, s.cpu_secs, 100.0 * s.busy_share, 100.0 * s.runqueue_wait_share
            )?;
            writeln!(
                f,
                "      ticks (20 ms periods) {} (missed {}, of which skipped {}), tick time (all phases of a period) p50 {:.0} µs  p99 {:.0} µs  max {:.0} µs",
                s.ticks, s.missed_ticks, s.skipped_ticks, s.tick_p50_us, s.tick_p99_us, s.tick_max_us
            )?;
            writeln!(
                f,
                "      phase runs {} ({} sub-tick phases), phase run time p50 {:.0} µs  p99 {:.0} µs  max {:.0} µs",
                s.phase_runs, c.tick_phases, s.phase_run_p50_us, s.phase_run_p99_us, s.phase_run_max_us
            )?;
            writeln!(
                f,
                "      datagrams in {:.0}/s out {:.0}/s; send drops {}; events dropped {}; allocations {} frees {}",
                s.datagrams_in_per_s, s.datagrams_out_per_s, s.send_drops, s.events_dropped, s.allocations, s.frees
            )?;
            if !s.engine_drops.is_empty() {
                writeln!(f, "      engine drops: {:?}", s.engine_drops)?;
            }
        }
        let m = &self.machine;
        writeln!(
            f,
            "machine: load average {:.2} → {:.2} on {} cores; kernel UDP drops: {} receive-buffer, {} send-buffer",
            m.loadavg_1m_start, m.loadavg_1m_end, c.machine_cores, m.kernel_udp_rcvbuf_errors, m.kernel_udp_sndbuf_errors
        )?;
        let l = &self.loadgen;
        writeln!(
            f,
            "loadgen itself: CPU {:.1} % of a core ({:.2} s; client threads {:.1} %, waited for a CPU {:.1} %); late sends {}, max send delay {:.1} ms",
            100.0 * l.cpu_share, l.cpu_secs, 100.0 * l.client_threads_cpu_share, 100.0 * l.client_threads_runqueue_wait_share, l.late_sends, l.max_send_delay_ms
        )?;
        for (name, k) in [("uplink", &self.uplink), ("downlink", &self.downlink)] {
            writeln!(
                f,
                "{name} ({}): sent {} received {} of {} expected, loss {:.3} % ({:.0} packets/s, auth failures {})",
                k.span, k.sent, k.received, k.expected, k.loss_pct, k.packets_per_s, k.auth_failures
            )?;
        }
        let a = &self.audio;
        writeln!(
            f,
            "audio: {} mix frames checked ({} decode errors); talkers heard in {}/{} listener pairs; self heard in {} frames",
            a.checked_frames, a.decode_errors, a.pairs_heard, a.pairs, a.self_heard_frames
        )?;
        let t = &self.latency;
        writeln!(
            f,
            "server-added latency at the engine (packet read off the shard's socket -> the mix it went into sent): p50 {:.1} ms  p99 {:.1} ms  max {:.1} ms ({} packets mixed)",
            t.engine_p50_ms, t.engine_p99_ms, t.engine_max_ms, t.engine_samples
        )?;
        writeln!(
            f,
            "end-to-end latency at the clients (also counts the clients' own send and receive queueing): p50 {:.1} ms  p99 {:.1} ms  max {:.1} ms ({} samples, {} rejected)",
            t.p50_ms, t.p99_ms, t.max_ms, t.samples, t.rejected
        )?;
        writeln!(
            f,
            "talk-start delay (adds talk detection): p50 {:.1} ms  p99 {:.1} ms ({} samples)",
            t.talk_start_p50_ms, t.talk_start_p99_ms, t.talk_start_samples
        )?;
        writeln!(f, "  method: {}", t.method)?;
        writeln!(f, "events: {:?}", self.events)?;
        writeln!(f, "targets:")?;
        for t in &self.targets {
            let verdict = match t.pass {
                Some(true) => "MET",
                Some(false) => "NOT MET",
                None => "n/a",
            };
            writeln!(f, "  [{verdict}] {} — {}", t.target, t.measured)?;
        }
        Ok(())
    }
}
