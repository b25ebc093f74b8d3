//! The output limiter of one mix.
//!
//! This module owns turning a floating-point sum of voices into 16-bit PCM without
//! clipping artefacts or integer wrap-around: a peak limiter with instant attack (the
//! gain drops to exactly what keeps the loudest sample under [`CEILING`]) and a smooth
//! release, followed by a saturating conversion as a last guard. It must never allocate
//! or keep more than one gain value of state.

/// The highest output magnitude the limiter aims for (about −1.7 dBFS, leaving room
/// for the overshoot of lossy coding so decoders do not clip).
pub const CEILING: f32 = 27_000.0;
/// Per-sample release towards unity gain (about 50 ms at 48 kHz).
const RELEASE: f32 = 1.0 / 2_400.0;

/// A peak limiter.
#[derive(Debug, Clone, Copy)]
pub struct Limiter {
    gain: f32,
}

impl Default for Limiter {
    fn default() -> Self {
        Limiter::new()
    }
}

impl Limiter {
    /// A limiter at unity gain.
    pub const fn new() -> Self {
        Limiter { gain: 1.0 }
    }

    /// The current gain (1 = untouched).
    pub fn gain(&self) -> f32 {
        self.gain
    }

    /// Limits `input` (a sum of voices, in i16 units) into `out`.
    pub fn process(&mut self, input: &[f32], out: &mut [i16]) {
        for (x, y) in input.iter().zip(out.iter_mut()) {
            let mag = x.abs();
            let needed = if mag > CEILING { CEILING / mag } else { 1.0 };
            self.gain = (self.gain + (1.0 - self.gain) * RELEASE).min(needed);
            let v = x * self.gain;
            // `as` saturates for floats (and maps NaN to 0): never wraps.
            *y = v.clamp(-32_768.0, 32_767.0) as i16;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quiet_input_passes_untouched() {
        let mut l = Limiter::new();
        let input: Vec<f32> = (0..960)
            .map(|i| ((i % 200) as f32 - 100.0) * 50.0)
            .collect();
        let mut out = vec![0i16; 960];
        l.process(&input, &mut out);
        for (x, y) in input.iter().zip(&out) {
            assert_eq!(*x as i16, *y);
        }
    }

    #[test]
    fn three_full_scale_voices_never_clip_or_wrap() {
        let mut l = Limiter::new();
        let input: Vec<f32> = (0..4800)
            .map(|i| 3.0 * 32_000.0 * (i as f32 * 0.05).sin())
            .collect();
        let mut out = vec![0i16; 4800];
        l.process(&input, &mut out);
        for (x, y) in input.iter().zip(&out) {
            assert!(f32::from(y.unsigned_abs()) <= CEILING + 1.0, "{y}");
            // The sign is preserved: no wrap-around.
            assert!(*x == 0.0 || (*x > 0.0) == (*y >= 0), "{x} -> {y}");
        }
        assert!(l.gain() < 0.5);
    }

    #[test]
    fn gain_recovers_after_a_peak() {
        let mut l = Limiter::new();
        let mut out = [0i16; 1];
        l.process(&[100_000.0], &mut out);
        assert!(l.gain() < 0.3);
        let quiet = vec![100.0f32; 48_000];
        let mut out = vec![0i16; 48_000];
        l.process(&quiet, &mut out);
        assert!(l.gain() > 0.99);
        assert!(f32::from(out[47_999]) > 98.0);
    }
}
