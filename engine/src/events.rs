//! What the engine reports: events, statistics, counted drops and command errors.
//!
//! This module owns the output vocabulary of the core ([`Event`], [`ParticipantStats`],
//! [`DropReason`], [`DropCounters`], [`EngineError`]) and the fixed-capacity event queue.
//! Everything here is `Copy`; nothing allocates after construction.

use core::fmt;
use std::net::SocketAddr;

use crate::ids::{CallId, ParticipantId};

/// Why a datagram was dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DropReason {
    /// Not a well-formed packet of its kind (random bytes, truncated, bad fields).
    Malformed,
    /// Larger than [`crate::EngineConfig::max_datagram`].
    TooLarge,
    /// An RTP/RTCP SSRC, or a STUN username, no participant on this shard owns.
    UnknownSsrc,
    /// From a source address other than the expected or latched one.
    WrongSource,
    /// SRTP/SRTCP authentication or STUN MESSAGE-INTEGRITY failed.
    AuthFailed,
    /// An SRTP packet index already seen, or behind the replay window.
    Replayed,
    /// A protocol or payload type the engine does not handle (DTLS, other PTs).
    Unsupported,
    /// Arrived after its playout time.
    Late,
    /// A second copy of a packet already in the jitter buffer.
    Duplicate,
    /// An output or event queue was full.
    QueueFull,
}

impl DropReason {
    /// Every reason, in counter order.
    pub const ALL: [DropReason; 10] = [
        DropReason::Malformed,
        DropReason::TooLarge,
        DropReason::UnknownSsrc,
        DropReason::WrongSource,
        DropReason::AuthFailed,
        DropReason::Replayed,
        DropReason::Unsupported,
        DropReason::Late,
        DropReason::Duplicate,
        DropReason::QueueFull,
    ];

    fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for DropReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// Counted drops, per reason.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DropCounters {
    counts: [u64; DropReason::ALL.len()],
}

impl DropCounters {
    /// Counts one drop.
    pub fn count(&mut self, reason: DropReason) {
        if let Some(c) = self.counts.get_mut(reason.index()) {
            *c = c.saturating_add(1);
        }
    }

    /// Counts `n` drops.
    pub fn count_n(&mut self, reason: DropReason, n: u64) {
        if let Some(c) = self.counts.get_mut(reason.index()) {
            *c = c.saturating_add(n);
        }
    }

    /// The drops counted for `reason`.
    pub fn get(&self, reason: DropReason) -> u64 {
        self.counts.get(reason.index()).copied().unwrap_or(0)
    }

    /// All drops.
    pub fn total(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// Adds another set of counters.
    pub fn add(&mut self, other: &DropCounters) {
        for (a, b) in self.counts.iter_mut().zip(other.counts.iter()) {
            *a = a.saturating_add(*b);
        }
    }
}

/// One participant's media statistics.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ParticipantStats {
    /// Authenticated RTP packets received.
    pub packets_in: u64,
    /// Their bytes (SRTP payload as received).
    pub bytes_in: u64,
    /// RTP packets sent to the participant.
    pub packets_out: u64,
    /// Their bytes (protected).
    pub bytes_out: u64,
    /// Packets the participant sent that never arrived (RFC 3550 A.3).
    pub lost_in: i64,
    /// Interarrival jitter of what the participant sends, in milliseconds (RFC 3550 A.8).
    pub jitter_in_ms: f32,
    /// Fraction lost (0–1) the participant reports for what we send.
    pub remote_fraction_lost: f32,
    /// Cumulative loss the participant reports for what we send.
    pub remote_lost: i64,
    /// Jitter the participant reports for what we send, in milliseconds.
    pub remote_jitter_ms: f32,
    /// Round-trip time from the last report block that echoed our SR, in milliseconds.
    pub rtt_ms: Option<f32>,
    /// Datagrams of this participant dropped, per reason.
    pub drops: DropCounters,
    /// The jitter buffer's current target delay in milliseconds.
    pub jitter_target_ms: u32,
    /// Frames decoded from received packets.
    pub decoded_frames: u64,
    /// Lost frames rebuilt from the next packet's in-band FEC.
    pub fec_frames: u64,
    /// Lost frames concealed (PLC).
    pub plc_frames: u64,
    /// Frames the jitter buffer discarded to shrink its delay.
    pub accelerated_frames: u64,
}

/// Shard-wide work counters: what the ticks cost in codec calls.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WorkCounters {
    /// Tick periods run (20 ms each): a period counts once, however many of its
    /// sub-tick phases hold calls. Each active call mixes exactly once per period.
    pub ticks: u64,
    /// Tick periods skipped because `handle_timeout` came late (no call mixed in them).
    pub missed_ticks: u64,
    /// Sub-tick phase runs (each mixes the calls of one phase; up to
    /// [`crate::EngineConfig::tick_phases`] per period).
    pub phase_runs: u64,
    /// Opus decoder calls (decode, FEC and concealment).
    pub decodes: u64,
    /// Opus encoder calls (shared mixes and mix-minus).
    pub encodes: u64,
    /// Mix packets sent.
    pub packets_out: u64,
}

/// Why a call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EndReason {
    /// [`crate::Command::EndCall`].
    Ended,
    /// Processing the call panicked; the call was torn down, the shard goes on.
    Panicked,
}

/// Something the engine reports through [`crate::Engine::poll_event`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Event {
    /// The first authenticated packet (SRTP or ICE check) latched the participant's
    /// media address, or a later one moved it.
    MediaStarted {
        /// The call.
        call: CallId,
        /// The participant.
        participant: ParticipantId,
        /// The latched address.
        addr: SocketAddr,
    },
    /// The participant started talking.
    TalkingStarted {
        /// The call.
        call: CallId,
        /// The participant.
        participant: ParticipantId,
    },
    /// The participant stopped talking.
    TalkingStopped {
        /// The call.
        call: CallId,
        /// The participant.
        participant: ParticipantId,
    },
    /// Periodic statistics (every RTCP interval).
    Stats {
        /// The call.
        call: CallId,
        /// The participant.
        participant: ParticipantId,
        /// The statistics.
        stats: ParticipantStats,
    },
    /// A call ended.
    CallEnded {
        /// The call.
        call: CallId,
        /// Why.
        reason: EndReason,
    },
    /// Something failed that the caller may want to know about.
    Error {
        /// The call concerned, if any.
        call: Option<CallId>,
        /// What failed.
        error: EngineError,
    },
}

/// Why a command (or a piece of media processing) failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EngineError {
    /// No call with this id on this shard.
    UnknownCall,
    /// A call with this id already exists.
    CallExists,
    /// Every call slot is in use.
    TooManyCalls,
    /// No participant with this id in the call.
    UnknownParticipant,
    /// A participant with this id is already in the call.
    ParticipantExists,
    /// Every participant slot of the shard is in use.
    TooManyParticipants,
    /// Another participant on this shard already sends with this SSRC.
    SsrcInUse,
    /// The SRTP keys were rejected.
    Srtp(talko_codecs::srtp::SrtpError),
    /// libopus failed (creating a codec, or encoding a mix).
    Opus(talko_codecs::opus::codec::OpusError),
    /// Recording was asked for but no recorder is attached.
    NoRecorder,
}

impl fmt::Display for EngineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EngineError::UnknownCall => f.write_str("unknown call"),
            EngineError::CallExists => f.write_str("call already exists"),
            EngineError::TooManyCalls => f.write_str("no free call slot"),
            EngineError::UnknownParticipant => f.write_str("unknown participant"),
            EngineError::ParticipantExists => f.write_str("participant already in the call"),
            EngineError::TooManyParticipants => f.write_str("no free participant slot"),
            EngineError::SsrcInUse => f.write_str("SSRC already in use on this shard"),
            EngineError::Srtp(e) => write!(f, "SRTP: {e}"),
            EngineError::Opus(e) => write!(f, "Opus: {e}"),
            EngineError::NoRecorder => f.write_str("no recorder attached"),
        }
    }
}

impl std::error::Error for EngineError {}

impl From<talko_codecs::srtp::SrtpError> for EngineError {
    fn from(e: talko_codecs::srtp::SrtpError) -> Self {
        EngineError::Srtp(e)
    }
}

impl From<talko_codecs::opus::codec::OpusError> for EngineError {
    fn from(e: talko_codecs::opus::codec::OpusError) -> Self {
        EngineError::Opus(e)
    }
}

/// A bounded FIFO of events, allocated once. When full, new events are dropped and
/// counted (the driver should poll after every `handle_*`).
#[derive(Debug)]
pub(crate) struct EventQueue {
    buf: std::collections::VecDeque<Event>,
    cap: usize,
    pub(crate) dropped: u64,
}

impl EventQueue {
    pub(crate) fn with_capacity(cap: usize) -> Self {
        EventQueue {
            buf: std::collections::VecDeque::with_capacity(cap),
            cap,
            dropped: 0,
        }
    }

    pub(crate) fn push(&mut self, e: Event) {
        if self.buf.len() >= self.cap {
            self.dropped += 1;
        } else {
            self.buf.push_back(e);
        }
    }

    pub(crate) fn pop(&mut self) -> Option<Event> {
        self.buf.pop_front()
    }
}
