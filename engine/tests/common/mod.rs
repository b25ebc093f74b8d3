//! Shared helpers of the engine's integration tests: what each simulated client heard.
#![allow(dead_code)] // each test binary uses a subset

use talko_codecs::opus::codec::FRAME_SAMPLES;
use talko_engine::sim::{tone_amplitude, tone_of};

/// A tone counts as present in a frame above this amplitude (clients send 6000).
pub const PRESENT: f32 = 1_500.0;

/// Per listener, per tone: frames in which the tone was present, and frames seen.
#[derive(Debug, Clone)]
pub struct Hearing {
    pub n: usize,
    pub present: Vec<Vec<u32>>,
    pub frames: Vec<u32>,
}

impl Hearing {
    pub fn new(n: usize) -> Hearing {
        Hearing {
            n,
            present: vec![vec![0; n]; n],
            frames: vec![0; n],
        }
    }

    pub fn record(&mut self, listener: usize, pcm: &[i16; FRAME_SAMPLES]) {
        self.frames[listener] += 1;
        for t in 0..self.n {
            if tone_amplitude(pcm, tone_of(t)) > PRESENT {
                self.present[listener][t] += 1;
            }
        }
    }

    /// Fraction of the listener's frames (or of `expected_frames` if larger) in which
    /// tone `t` was present.
    pub fn fraction(&self, listener: usize, t: usize, expected_frames: u32) -> f32 {
        let frames = self.frames[listener].max(expected_frames).max(1);
        self.present[listener][t] as f32 / frames as f32
    }

    /// Asserts that `listener` heard exactly the tones in `expected` (most frames) and
    /// none of the others (almost no frames).
    pub fn assert_heard(
        &self,
        listener: usize,
        expected: &[usize],
        expected_frames: u32,
        what: &str,
    ) {
        for t in 0..self.n {
            let f = self.fraction(listener, t, expected_frames);
            if expected.contains(&t) {
                assert!(
                    f >= 0.8,
                    "{what}: listener {listener} heard tone {t} in only {:.0} % of frames ({:?})",
                    f * 100.0,
                    self
                );
            } else {
                assert!(
                    f <= 0.05,
                    "{what}: listener {listener} heard tone {t} in {:.0} % of frames",
                    f * 100.0
                );
            }
        }
    }
}
