//! Speech level and talk detection of one participant.
//!
//! This module owns the level of a 20 ms frame in −dBov (RFC 6464's scale: 0 loudest,
//! 127 silence), taken from the RFC 6464 extension when the sender includes it and
//! computed from decoded PCM otherwise, and the talk detector: talking starts after
//! [`START_FRAMES`] loud frames and stops after [`STOP_FRAMES`] quiet ones (hysteresis
//! in level and in time). It must never allocate or look at anything but one frame.

/// Level (−dBov) at or below which a frame counts as loud (talk start).
pub const START_DBOV: u8 = 45;
/// Level (−dBov) above which a frame counts as quiet (talk stop).
pub const STOP_DBOV: u8 = 55;
/// Consecutive loud frames that start talking (40 ms).
pub const START_FRAMES: u16 = 2;
/// Consecutive quiet frames that stop talking (600 ms).
pub const STOP_FRAMES: u16 = 30;
/// The RFC 6464 silence level.
pub const SILENCE_DBOV: u8 = 127;

/// The RMS level of `pcm` in −dBov (0–127), as RFC 6464 defines it.
pub fn dbov(pcm: &[i16]) -> u8 {
    if pcm.is_empty() {
        return SILENCE_DBOV;
    }
    let sum: f64 = pcm.iter().map(|&s| f64::from(s) * f64::from(s)).sum();
    let rms = (sum / pcm.len() as f64).sqrt() / 32768.0;
    if rms <= 0.0 {
        return SILENCE_DBOV;
    }
    let db = -20.0 * rms.log10();
    db.clamp(0.0, 127.0) as u8
}

/// A talk-state change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TalkChange {
    /// Talking started with this frame.
    Started,
    /// Talking stopped with this frame.
    Stopped,
}

/// The talk detector and a smoothed loudness for speaker selection.
#[derive(Debug, Clone, Copy)]
pub struct Vad {
    talking: bool,
    loud_run: u16,
    quiet_run: u16,
    /// Smoothed linear loudness (0–1) used to rank speakers.
    loudness: f32,
}

impl Default for Vad {
    fn default() -> Self {
        Vad::new()
    }
}

impl Vad {
    /// A detector in the "not talking" state.
    pub const fn new() -> Self {
        Vad {
            talking: false,
            loud_run: 0,
            quiet_run: 0,
            loudness: 0.0,
        }
    }

    /// Whether the participant is talking.
    pub fn talking(&self) -> bool {
        self.talking
    }

    /// The smoothed loudness (0 silence, 1 full scale).
    pub fn loudness(&self) -> f32 {
        self.loudness
    }

    /// Feeds one frame's level (−dBov); returns a talk-state change, if any.
    pub fn push(&mut self, level_dbov: u8) -> Option<TalkChange> {
        let linear = 10f32.powf(-f32::from(level_dbov.min(SILENCE_DBOV)) / 20.0);
        // Fast attack, slow release: a speaker keeps its rank through short pauses.
        let k = if linear > self.loudness { 0.5 } else { 0.05 };
        self.loudness += (linear - self.loudness) * k;
        if level_dbov <= START_DBOV {
            self.loud_run = self.loud_run.saturating_add(1);
        } else {
            self.loud_run = 0;
        }
        if level_dbov > STOP_DBOV {
            self.quiet_run = self.quiet_run.saturating_add(1);
        } else {
            self.quiet_run = 0;
        }
        if !self.talking && self.loud_run >= START_FRAMES {
            self.talking = true;
            return Some(TalkChange::Started);
        }
        if self.talking && self.quiet_run >= STOP_FRAMES {
            self.talking = false;
            return Some(TalkChange::Stopped);
        }
        None
    }

    /// Feeds a frame with no audio (the sender is silent).
    pub fn push_silence(&mut self) -> Option<TalkChange> {
        self.push(SILENCE_DBOV)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_scale_square_is_zero_dbov_and_silence_is_127() {
        assert_eq!(dbov(&[32767, -32768, 32767, -32768]), 0);
        assert_eq!(dbov(&[0; 960]), SILENCE_DBOV);
        assert_eq!(dbov(&[]), SILENCE_DBOV);
        // A -20 dBFS square wave.
        assert_eq!(dbov(&[3277, -3277, 3277, -3277]), 19);
    }

    #[test]
    fn talking_needs_two_loud_frames_and_thirty_quiet_ones_to_stop() {
        let mut v = Vad::new();
        assert_eq!(v.push(20), None);
        assert_eq!(v.push(20), Some(TalkChange::Started));
        for _ in 0..29 {
            assert_eq!(v.push(80), None);
        }
        // A level between the thresholds neither starts nor stops.
        assert_eq!(v.push(50), None);
        for _ in 0..29 {
            assert_eq!(v.push(90), None);
        }
        assert_eq!(v.push(90), Some(TalkChange::Stopped));
        assert!(!v.talking());
    }

    #[test]
    fn a_single_click_does_not_start_talking() {
        let mut v = Vad::new();
        for _ in 0..10 {
            assert_eq!(v.push(10), None);
            assert_eq!(v.push(100), None);
        }
        assert!(!v.talking());
    }
}
