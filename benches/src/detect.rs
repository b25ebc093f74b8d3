//! Tag detection in decoded audio: which talkers' tones a 20 ms frame contains.
//!
//! Owns: the Goertzel amplitude estimate and the presence threshold.
//! Must never: allocate per frame.

use std::f32::consts::PI;

use crate::signal::{SAMPLE_RATE, TAG_AMPLITUDE};

/// A tag counts as present when its amplitude reaches this fraction of the amplitude it
/// was sent with (the mixer's limiter and the codec may lower it somewhat).
pub const PRESENT_FRACTION: f32 = 0.3;

/// Amplitude (fraction of full scale) of the `freq_hz` component of `frame`, by the
/// Goertzel algorithm.
pub fn tone_amplitude(frame: &[i16], freq_hz: f32) -> f32 {
    if frame.is_empty() {
        return 0.0;
    }
    let n = frame.len() as f32;
    let coeff = 2.0 * (2.0 * PI * freq_hz / SAMPLE_RATE as f32).cos();
    let (mut s1, mut s2) = (0.0f32, 0.0f32);
    for &x in frame {
        let s = f32::from(x) / 32768.0 + coeff * s1 - s2;
        s2 = s1;
        s1 = s;
    }
    let power = (s1 * s1 + s2 * s2 - coeff * s1 * s2).max(0.0);
    2.0 * power.sqrt() / n
}

/// Whether `frame` carries the tag at `freq_hz`.
pub fn tag_present(frame: &[i16], freq_hz: f32) -> bool {
    tone_amplitude(frame, freq_hz) >= PRESENT_FRACTION * TAG_AMPLITUDE
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amplitude_of_a_pure_tone_is_measured() {
        let f = 2800.0;
        let frame: Vec<i16> = (0..960)
            .map(|n| ((2.0 * PI * f * n as f32 / 48_000.0).sin() * 0.25 * 32767.0) as i16)
            .collect();
        let a = tone_amplitude(&frame, f);
        assert!((a - 0.25).abs() < 0.01, "{a}");
        assert!(tone_amplitude(&frame, 3200.0) < 0.005);
    }
}
