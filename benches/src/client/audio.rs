//! State shared by every client thread: the talkers' audio, Opus-encoded once, and the
//! send instants of the talkers' burst onsets (for the latency measurement).
//!
//! Owns: encoding at start-up and the lock-free onset table. Must never: be written on
//! a hot path except by the single talker that owns an onset slot.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::signal::{TalkerAudio, FRAME};

/// Audio shared by every client thread: each talker tag's frames, encoded once.
#[derive(Debug)]
pub struct SharedAudio {
    /// Talker audio by tag index.
    pub audio: Vec<TalkerAudio>,
    /// Encoded Opus frames by tag index.
    pub encoded: Vec<Vec<Vec<u8>>>,
    /// One encoded silent frame, sent by participants who do not talk.
    pub silence: Vec<u8>,
}

/// Why the shared audio could not be encoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EncodeError;

impl std::fmt::Display for EncodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Opus encoding of the talker audio failed")
    }
}

impl std::error::Error for EncodeError {}

impl SharedAudio {
    /// Encodes every talker's frames (Opus VoIP, 20 ms, in-band FEC) and a silent frame.
    pub fn encode(audio: Vec<TalkerAudio>, bitrate: i32) -> Result<SharedAudio, EncodeError> {
        let mut encoded = Vec::with_capacity(audio.len());
        let mut out = vec![0u8; 1500];
        let new_encoder = || -> Result<opus::Encoder, EncodeError> {
            let mut enc = opus::Encoder::new(48_000, opus::Channels::Mono, opus::Application::Voip)
                .map_err(|_| EncodeError)?;
            enc.set_bitrate(opus::Bitrate::Bits(bitrate))
                .map_err(|_| EncodeError)?;
            enc.set_inband_fec(true).map_err(|_| EncodeError)?;
            enc.set_packet_loss_perc(5).map_err(|_| EncodeError)?;
            Ok(enc)
        };
        for a in &audio {
            let mut enc = new_encoder()?;
            let mut frames = Vec::with_capacity(a.frames());
            for i in 0..a.frames() {
                let n = enc.encode(a.frame(i), &mut out).map_err(|_| EncodeError)?;
                frames.push(out.get(..n).ok_or(EncodeError)?.to_vec());
            }
            encoded.push(frames);
        }
        let mut enc = new_encoder()?;
        let zeros = [0i16; FRAME];
        let mut silence = Vec::new();
        // A few frames in, the encoder's output for silence is steady.
        for _ in 0..5 {
            let n = enc.encode(&zeros, &mut out).map_err(|_| EncodeError)?;
            silence = out.get(..n).ok_or(EncodeError)?.to_vec();
        }
        Ok(SharedAudio {
            audio,
            encoded,
            silence,
        })
    }
}

/// Send instants of talkers' burst onsets, shared by all client threads.
/// Which instant of a talker's burst a slot of [`Onsets`] holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mark {
    /// The first packet of a voiced burst.
    Onset,
    /// The first packet carrying the talker's second tag.
    Switch,
}

/// Send instants of each talker's latest burst onset and tag switch.
#[derive(Debug)]
pub struct Onsets {
    epoch: Instant,
    ns: Vec<AtomicU64>,
}

impl Onsets {
    /// A table for `talkers` talkers, timed from `epoch`.
    pub fn new(epoch: Instant, talkers: usize) -> Self {
        Self {
            epoch,
            ns: (0..2 * talkers).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    fn slot(&self, talker: usize, mark: Mark) -> Option<&AtomicU64> {
        self.ns.get(2 * talker + usize::from(mark == Mark::Switch))
    }

    fn since_epoch(&self, t: Instant) -> u64 {
        u64::try_from(t.saturating_duration_since(self.epoch).as_nanos()).unwrap_or(u64::MAX)
    }

    pub(super) fn store(&self, talker: usize, mark: Mark, t: Instant) {
        if let Some(a) = self.slot(talker, mark) {
            // +1 so that 0 keeps meaning "nothing yet".
            a.store(self.since_epoch(t) + 1, Ordering::Release);
        }
    }

    pub(super) fn latency(&self, talker: usize, mark: Mark, received: Instant) -> Option<Duration> {
        let sent = self
            .slot(talker, mark)?
            .load(Ordering::Acquire)
            .checked_sub(1)?;
        let got = self.since_epoch(received);
        got.checked_sub(sent).map(Duration::from_nanos)
    }
}
