//! The engine's configuration and the description of a participant.
//!
//! This module owns the knobs ([`EngineConfig`], [`OpusSettings`], [`JitterConfig`]) and
//! what the control plane tells the engine about a participant ([`ParticipantSpec`],
//! [`SrtpKeys`], [`IceCredentials`]). It must never hold runtime state.

use std::net::SocketAddr;
use std::time::Duration;

pub use talko_codecs::srtp::SrtpProfile;

/// Opus encoder settings used for every mix the engine encodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpusSettings {
    /// Target bitrate in bits per second.
    pub bitrate: i32,
    /// Encoder complexity 0–10.
    pub complexity: i32,
    /// In-band forward error correction.
    pub fec: bool,
    /// Discontinuous transmission.
    pub dtx: bool,
    /// Expected packet loss in percent (sizes the FEC data).
    pub expected_loss_pct: i32,
}

impl Default for OpusSettings {
    fn default() -> Self {
        OpusSettings {
            bitrate: 32_000,
            complexity: 5,
            fec: true,
            dtx: false,
            expected_loss_pct: 10,
        }
    }
}

/// The adaptive jitter buffer's bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JitterConfig {
    /// The smallest playout delay (the target on a clean network).
    pub min_target: Duration,
    /// The largest playout delay, whatever the measured jitter.
    pub max_target: Duration,
    /// How long a jitter peak keeps the target up once it stops.
    pub peak_hold: Duration,
}

impl Default for JitterConfig {
    fn default() -> Self {
        JitterConfig {
            min_target: Duration::from_millis(20),
            max_target: Duration::from_millis(200),
            peak_hold: Duration::from_millis(2_000),
        }
    }
}

/// The largest [`EngineConfig::tick_phases`].
pub const MAX_TICK_PHASES: u32 = 64;

/// Everything an engine shard is sized and tuned with.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EngineConfig {
    /// Preallocated call slots.
    pub max_calls: usize,
    /// Preallocated participant slots for the whole shard.
    pub max_participants: usize,
    /// The mixer tick (20 ms; the Opus frame size of every mix).
    pub tick: Duration,
    /// Sub-tick phases the shard's tick period is divided into (clamped to
    /// 1..=[`MAX_TICK_PHASES`]). Each call is placed in one phase when it gets its first
    /// member (the least loaded one) and mixes at that phase's offset in every period,
    /// so the calls of a shard do not all wait for each other's encodes. 1 = every call
    /// ticks on the period boundary.
    pub tick_phases: u32,
    /// How many of the loudest speakers are mixed (each gets a mix-minus encode).
    pub loudest_n: usize,
    /// Opus encoder settings.
    pub opus: OpusSettings,
    /// The largest datagram accepted or produced.
    pub max_datagram: usize,
    /// How often each participant gets an RTCP report.
    pub rtcp_interval: Duration,
    /// Jitter buffer bounds.
    pub jitter: JitterConfig,
    /// SRTP replay window in packets.
    pub srtp_replay_window: usize,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            max_calls: 1_024,
            max_participants: 1_024,
            tick: Duration::from_millis(20),
            tick_phases: 10,
            loudest_n: 3,
            opus: OpusSettings::default(),
            max_datagram: 1_500,
            rtcp_interval: Duration::from_secs(5),
            jitter: JitterConfig::default(),
            srtp_replay_window: 128,
        }
    }
}

/// SRTP master keys for one direction of one participant.
#[derive(Clone, PartialEq, Eq)]
pub struct SrtpKeys {
    /// The negotiated protection profile.
    pub profile: SrtpProfile,
    /// The master key (16 bytes for the AES-128 profiles).
    pub master_key: Vec<u8>,
    /// The master salt (14 bytes for AES-CM, 12 for AES-GCM).
    pub master_salt: Vec<u8>,
}

impl std::fmt::Debug for SrtpKeys {
    // Keys never appear in logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SrtpKeys")
            .field("profile", &self.profile)
            .finish_non_exhaustive()
    }
}

/// ICE-lite credentials for one participant (RFC 8445 §2.5).
#[derive(Clone, PartialEq, Eq)]
pub struct IceCredentials {
    /// Our username fragment (first half of a check's USERNAME).
    pub local_ufrag: String,
    /// Our password (the MESSAGE-INTEGRITY key of checks sent to us).
    pub local_pwd: String,
    /// The client's username fragment (second half of USERNAME).
    pub remote_ufrag: String,
}

impl std::fmt::Debug for IceCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IceCredentials")
            .field("local_ufrag", &self.local_ufrag)
            .field("remote_ufrag", &self.remote_ufrag)
            .finish_non_exhaustive()
    }
}

/// What the engine needs to know about a participant joining a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParticipantSpec {
    /// SSRC the client sends with.
    pub ssrc_in: u32,
    /// SSRC the engine sends to this client with.
    pub ssrc_out: u32,
    /// Keys to unprotect what the client sends.
    pub srtp_in: SrtpKeys,
    /// Keys to protect what the engine sends to the client.
    pub srtp_out: SrtpKeys,
    /// If set, only this source address may be latched.
    pub expected_addr: Option<SocketAddr>,
    /// The Opus payload type (e.g. 111).
    pub payload_type: u8,
    /// The RFC 6464 one-byte extension id, if negotiated.
    pub audio_level_ext_id: Option<u8>,
    /// ICE-lite credentials, if the client runs ICE.
    pub ice: Option<IceCredentials>,
}
