//! Test audio for simulated talkers: a generated speech-like signal (voiced bursts with
//! a pitch contour, syllable rhythm and pauses) or a WAV file, each talker tagged with
//! its own steady tone while it speaks. The tag switches to a second tone of the
//! talker's [`SWITCH_AFTER_FRAMES`] frames into every burst: the first mix frame that
//! carries the second tone times one packet's trip through the mixer, with the talker
//! already selected as a speaker.
//!
//! Owns: signal synthesis, the tag-frequency plan, per-frame voicing and RFC 6464 levels.
//! Must never: produce two talkers with the same tag, or put speech energy in the tag
//! band (harmonics stop below [`SPEECH_BAND_TOP_HZ`]), so a listener can tell who it hears.

use std::f32::consts::PI;
use std::fmt;
use std::path::Path;

/// Sample rate of everything here.
pub const SAMPLE_RATE: u32 = 48_000;
/// Samples per 20 ms frame.
pub const FRAME: usize = 960;
/// Speech-like harmonics stay below this frequency.
pub const SPEECH_BAND_TOP_HZ: f32 = 2_000.0;
/// Lowest tag frequency; tags are spaced [`TAG_SPACING_HZ`] apart (multiples of 50 Hz,
/// so each falls exactly on a bin of a 960-sample analysis).
pub const TAG_BASE_HZ: f32 = 2_400.0;
/// Spacing between tags; a talker's switch tag sits half-way to the next talker's.
pub const TAG_SPACING_HZ: f32 = 800.0;
/// Most talkers per room that get distinct tags (2.4 kHz .. 6.8 kHz).
pub const MAX_TAGGED_TALKERS: usize = 6;
/// Frames into a burst at which the tag switches to the talker's second tone.
pub const SWITCH_AFTER_FRAMES: usize = 10;
/// Opus look-ahead of one `voip_mono` encoder at 48 kHz (2.5 ms + 4 ms of delay
/// compensation): decoded sample `n` of a packet stream is input sample `n - 312`.
pub const OPUS_LOOKAHEAD_SAMPLES: usize = 312;
/// How far before its frame boundary the tag switches: the look-ahead of the talker's
/// encoder plus that of the engine's mix encoder. The switch then reaches a listener's
/// decoded audio exactly at the start of the mix built from the first switched packet,
/// so detecting it adds neither codec delay nor a frame of detection delay to the
/// latency measured from that packet's send instant.
pub const SWITCH_LEAD_SAMPLES: usize = 2 * OPUS_LOOKAHEAD_SAMPLES;
/// Tag amplitude, as a fraction of full scale.
pub const TAG_AMPLITUDE: f32 = 0.08;
/// Peak amplitude of the speech-like part.
const SPEECH_AMPLITUDE: f32 = 0.22;

/// The tag frequency of the `k`-th talker of a room (first part of each burst).
pub fn tag_frequency(k: usize) -> f32 {
    TAG_BASE_HZ + TAG_SPACING_HZ * (k % MAX_TAGGED_TALKERS) as f32
}

/// The `k`-th talker's second tag (from [`SWITCH_AFTER_FRAMES`] into each burst on).
pub fn switch_frequency(k: usize) -> f32 {
    tag_frequency(k) + TAG_SPACING_HZ / 2.0
}

/// For each frame: true when it is past the switch point of its burst.
fn switched(voiced: &[bool]) -> Vec<bool> {
    let mut run = 0usize;
    voiced
        .iter()
        .map(|&v| {
            run = if v { run + 1 } else { 0 };
            run > SWITCH_AFTER_FRAMES
        })
        .collect()
}

/// A talker's audio, cut into 20 ms frames.
#[derive(Clone, Debug)]
pub struct TalkerAudio {
    /// `frames * FRAME` samples.
    pub samples: Vec<i16>,
    /// Whether the talker speaks in each frame (the tag is on exactly then).
    pub voiced: Vec<bool>,
    /// RFC 6464 level (0 = loudest, 127 = silence) of each frame, in -dBov.
    pub levels: Vec<u8>,
    /// Whether each voiced frame carries the second tag (past the switch point).
    pub switched: Vec<bool>,
    /// The talker's tag frequency.
    pub tag_hz: f32,
    /// The talker's second tag.
    pub switch_hz: f32,
}

impl TalkerAudio {
    /// Number of frames.
    pub fn frames(&self) -> usize {
        self.voiced.len()
    }

    /// Samples of frame `i` (wrapping).
    pub fn frame(&self, i: usize) -> &[i16] {
        let n = self.frames().max(1);
        let start = (i % n) * FRAME;
        self.samples.get(start..start + FRAME).unwrap_or(&[])
    }

    /// True when frame `i` starts a voiced burst after silence.
    pub fn is_onset(&self, i: usize) -> bool {
        let n = self.frames();
        if n == 0 {
            return false;
        }
        let cur = self.voiced.get(i % n).copied().unwrap_or(false);
        let prev = self.voiced.get((i + n - 1) % n).copied().unwrap_or(false);
        cur && !prev
    }

    /// True when frame `i` is the first of its burst with the second tag.
    pub fn is_switch(&self, i: usize) -> bool {
        let n = self.frames();
        if n == 0 {
            return false;
        }
        let cur = self.switched.get(i % n).copied().unwrap_or(false);
        let prev = self.switched.get((i + n - 1) % n).copied().unwrap_or(false);
        cur && !prev
    }
}

/// A small deterministic PRNG (xorshift64*), so runs are reproducible from a seed.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator from `seed` (any value).
    pub fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `lo..hi` (returns `lo` when empty).
    pub fn range(&mut self, lo: usize, hi: usize) -> usize {
        if hi <= lo {
            return lo;
        }
        lo + (self.next_u64() % (hi - lo) as u64) as usize
    }

    /// Uniform in `0.0..1.0`.
    pub fn unit(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32
    }
}

/// Generates `frames` frames of speech-like audio for talker `k` of a room: bursts of
/// 0.6–2 s made of syllables (4–6 Hz rhythm, moving formants) on a pitch contour with
/// declination, separated by 0.3–1 s pauses; the tag tone sounds during every burst.
/// Bursts and pauses are whole frames, so onsets fall on frame boundaries.
pub fn speech_like(k: usize, frames: usize, seed: u64) -> TalkerAudio {
    let mut rng = Rng::new(seed ^ ((k as u64 + 1) << 32));
    let mut voiced = Vec::with_capacity(frames);
    // Start with a short, talker-dependent pause so onsets of a room's talkers differ.
    let mut f = 0usize;
    let first_pause = 5 + rng.range(0, 25);
    while f < frames {
        let pause = if f == 0 {
            first_pause
        } else {
            rng.range(15, 50)
        };
        voiced.extend(std::iter::repeat_n(false, pause.min(frames - f)));
        f += pause;
        if f >= frames {
            break;
        }
        let burst = rng.range(30, 100);
        voiced.extend(std::iter::repeat_n(true, burst.min(frames - f)));
        f += burst;
    }
    voiced.truncate(frames);

    let tag_hz = tag_frequency(k);
    let switch_hz = switch_frequency(k);
    let switched = switched(&voiced);
    let base_f0 = 95.0 + 23.0 * (k % 6) as f32 + 10.0 * rng.unit();
    let sr = SAMPLE_RATE as f32;
    let mut samples = Vec::with_capacity(frames * FRAME);
    let mut f0_phase = 0.0f32;
    let mut tag_phase = 0.0f32;
    let mut burst_t = 0.0f32;
    let syllable_hz = 4.0 + 2.0 * rng.unit();
    let mut formants = (600.0f32, 1400.0f32);
    let mut next_formant_change = 0usize;
    for (fi, &v) in voiced.iter().enumerate() {
        if !v {
            burst_t = 0.0;
            samples.extend(std::iter::repeat_n(0i16, FRAME));
            continue;
        }
        if fi >= next_formant_change {
            formants = (350.0 + 450.0 * rng.unit(), 1000.0 + 900.0 * rng.unit());
            next_formant_change = fi + rng.range(8, 14);
        }
        let starts = fi == 0 || !voiced.get(fi - 1).copied().unwrap_or(false);
        let second = switched.get(fi).copied().unwrap_or(false);
        let switch_next = !second && switched.get(fi + 1).copied().unwrap_or(false);
        let ends = !voiced.get(fi + 1).copied().unwrap_or(false);
        for n in 0..FRAME {
            let early = switch_next && n >= FRAME - SWITCH_LEAD_SAMPLES;
            let freq = if second || early { switch_hz } else { tag_hz };
            let t = burst_t;
            // Pitch contour: declination plus a slow intonation wave.
            let f0 = base_f0
                * (1.0 - 0.08 * (t / 2.0).min(1.0))
                * (1.0 + 0.12 * (2.0 * PI * 0.8 * t).sin());
            f0_phase = (f0_phase + 2.0 * PI * f0 / sr) % (2.0 * PI);
            let mut x = 0.0f32;
            let mut h = 1usize;
            while (h as f32) * f0 < SPEECH_BAND_TOP_HZ && h <= 16 {
                let hf = h as f32 * f0;
                let w1 = 1.0 / (1.0 + ((hf - formants.0) / 150.0).powi(2));
                let w2 = 0.6 / (1.0 + ((hf - formants.1) / 200.0).powi(2));
                x += (w1 + w2 + 0.05) * (h as f32 * f0_phase).sin() / (h as f32).sqrt();
                h += 1;
            }
            // Syllable envelope, never fully closed inside a burst.
            let env = 0.35 + 0.65 * (0.5 - 0.5 * (2.0 * PI * syllable_hz * t).cos());
            // 2.5 ms ramps at burst edges avoid clicks.
            let ramp_len = 120.0;
            let mut edge = 1.0f32;
            if starts {
                edge = edge.min(n as f32 / ramp_len);
            }
            if ends {
                edge = edge.min((FRAME - 1 - n) as f32 / ramp_len);
            }
            let edge = edge.clamp(0.0, 1.0);
            tag_phase = (tag_phase + 2.0 * PI * freq / sr) % (2.0 * PI);
            let y = edge * (SPEECH_AMPLITUDE * 0.5 * env * x + TAG_AMPLITUDE * tag_phase.sin());
            samples.push((y.clamp(-1.0, 1.0) * 32767.0) as i16);
            burst_t += 1.0 / sr;
        }
    }
    let levels = frame_levels(&samples);
    TalkerAudio {
        samples,
        voiced,
        levels,
        switched,
        tag_hz,
        switch_hz,
    }
}

/// Why a WAV file could not be used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WavError {
    /// The file could not be opened or parsed.
    Unreadable,
    /// The file holds no samples.
    Empty,
}

impl fmt::Display for WavError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            WavError::Unreadable => "WAV file could not be read",
            WavError::Empty => "WAV file holds no audio",
        })
    }
}

impl std::error::Error for WavError {}

/// Reads a WAV file as 48 kHz mono (first channel, linear resampling), scaled to at most
/// half of full scale.
pub fn read_wav(path: &Path) -> Result<Vec<f32>, WavError> {
    let mut reader = hound::WavReader::open(path).map_err(|_| WavError::Unreadable)?;
    let spec = reader.spec();
    let channels = usize::from(spec.channels.max(1));
    let raw: Vec<f32> = match spec.sample_format {
        hound::SampleFormat::Float => reader
            .samples::<f32>()
            .step_by(channels)
            .collect::<Result<_, _>>()
            .map_err(|_| WavError::Unreadable)?,
        hound::SampleFormat::Int => {
            let scale = 1.0 / (1i64 << (spec.bits_per_sample.clamp(1, 32) - 1)) as f32;
            reader
                .samples::<i32>()
                .step_by(channels)
                .map(|s| s.map(|v| v as f32 * scale))
                .collect::<Result<_, _>>()
                .map_err(|_| WavError::Unreadable)?
        }
    };
    if raw.is_empty() || spec.sample_rate == 0 {
        return Err(WavError::Empty);
    }
    let ratio = spec.sample_rate as f64 / SAMPLE_RATE as f64;
    let out_len = (raw.len() as f64 / ratio) as usize;
    let mut out = Vec::with_capacity(out_len);
    for i in 0..out_len {
        let pos = i as f64 * ratio;
        let j = pos as usize;
        let frac = (pos - j as f64) as f32;
        let a = raw.get(j).copied().unwrap_or(0.0);
        let b = raw.get(j + 1).copied().unwrap_or(a);
        out.push(a + (b - a) * frac);
    }
    let peak = out.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    if peak > 0.0 {
        let g = 0.5 / peak;
        out.iter_mut().for_each(|v| *v *= g);
    }
    Ok(out)
}

/// Talker `k`'s audio from a WAV signal: the recording starting at a talker-dependent
/// offset, voiced where its frame level is within 30 dB of the loudest frame, with the
/// talker's tag added on voiced frames. The speech band above [`SPEECH_BAND_TOP_HZ`] is
/// not removed, so tags may see some leakage from the recording itself.
pub fn from_wav(wav: &[f32], k: usize, frames: usize) -> TalkerAudio {
    let len = wav.len().max(1);
    let offset = (k * len / MAX_TAGGED_TALKERS.max(1)) / FRAME * FRAME;
    let mut pcm: Vec<f32> = (0..frames * FRAME)
        .map(|i| wav.get((offset + i) % len).copied().unwrap_or(0.0))
        .collect();
    let rms: Vec<f32> = pcm
        .chunks(FRAME)
        .map(|c| (c.iter().map(|v| v * v).sum::<f32>() / FRAME as f32).sqrt())
        .collect();
    let loudest = rms.iter().fold(0.0f32, |m, v| m.max(*v));
    let voiced: Vec<bool> = rms
        .iter()
        .map(|r| *r > loudest * 0.0316 && *r > 1e-4)
        .collect();
    let tag_hz = tag_frequency(k);
    let switch_hz = switch_frequency(k);
    let switched = switched(&voiced);
    let mut phase = 0.0f32;
    for (fi, chunk) in pcm.chunks_mut(FRAME).enumerate() {
        let on = voiced.get(fi).copied().unwrap_or(false);
        let second = switched.get(fi).copied().unwrap_or(false);
        let switch_next = !second && switched.get(fi + 1).copied().unwrap_or(false);
        for (n, s) in chunk.iter_mut().enumerate() {
            let early = switch_next && n >= FRAME - SWITCH_LEAD_SAMPLES;
            let freq = if second || early { switch_hz } else { tag_hz };
            phase = (phase + 2.0 * PI * freq / SAMPLE_RATE as f32) % (2.0 * PI);
            if on {
                *s = *s * 0.6 + TAG_AMPLITUDE * phase.sin();
            } else {
                *s *= 0.6;
            }
        }
    }
    let samples: Vec<i16> = pcm
        .iter()
        .map(|v| (v.clamp(-1.0, 1.0) * 32767.0) as i16)
        .collect();
    let levels = frame_levels(&samples);
    TalkerAudio {
        samples,
        voiced,
        levels,
        switched,
        tag_hz,
        switch_hz,
    }
}

/// RFC 6464 levels (-dBov, 0..=127) of each 20 ms frame.
pub fn frame_levels(samples: &[i16]) -> Vec<u8> {
    samples.chunks(FRAME).map(level_dbov).collect()
}

/// RFC 6464 level of one frame: -dBov of its RMS, where 0 dBov is a full-scale square
/// wave's RMS; clamped to 0..=127.
pub fn level_dbov(frame: &[i16]) -> u8 {
    if frame.is_empty() {
        return 127;
    }
    let mean_sq = frame
        .iter()
        .map(|&s| f64::from(s) * f64::from(s))
        .sum::<f64>()
        / frame.len() as f64;
    if mean_sq <= 0.0 {
        return 127;
    }
    let db = 10.0 * (mean_sq / (32767.0f64 * 32767.0)).log10();
    (-db).round().clamp(0.0, 127.0) as u8
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::tone_amplitude;

    #[test]
    fn talkers_have_distinct_tags_and_pauses() {
        let a = speech_like(0, 500, 7);
        let b = speech_like(1, 500, 7);
        assert_ne!(a.tag_hz, b.tag_hz);
        assert_eq!(a.samples.len(), 500 * FRAME);
        let voiced = a.voiced.iter().filter(|v| **v).count();
        assert!(voiced > 150 && voiced < 450, "voiced frames {voiced}");
        assert!((0..500).any(|i| a.is_onset(i)));
    }

    #[test]
    fn voiced_frames_carry_the_tag_and_silent_frames_do_not() {
        let a = speech_like(2, 300, 1);
        let mut switches = 0;
        for i in 0..300 {
            let (on, off) = if a.switched[i] {
                (a.switch_hz, a.tag_hz)
            } else {
                (a.tag_hz, a.switch_hz)
            };
            let amp = tone_amplitude(a.frame(i), on);
            let not_now = tone_amplitude(a.frame(i), off);
            let other = tone_amplitude(a.frame(i), tag_frequency(3));
            switches += usize::from(a.is_switch(i));
            let interior = a.voiced[i]
                && !a.is_onset(i)
                && !a.is_switch(i)
                && !a.is_switch(i + 1)
                && a.voiced.get(i + 1) == Some(&true);
            if interior {
                assert!(amp > 0.8 * TAG_AMPLITUDE, "frame {i}: tag amplitude {amp}");
                assert!(
                    not_now < 0.1 * TAG_AMPLITUDE,
                    "frame {i}: other tag {not_now}"
                );
                assert!(
                    other < 0.1 * TAG_AMPLITUDE,
                    "frame {i}: other talker {other}"
                );
            } else if !a.voiced[i] {
                assert!(amp < 1e-3);
                assert_eq!(a.levels[i], 127);
            }
        }
        let onsets = (0..300).filter(|&i| a.is_onset(i)).count();
        assert!(
            switches > 0 && switches <= onsets,
            "{switches} switches, {onsets} onsets"
        );
    }

    #[test]
    fn the_switch_leads_its_frame_by_both_encoders_look_ahead() {
        let mut enc = talko_codecs::opus::codec::Encoder::voip_mono().unwrap();
        assert_eq!(enc.lookahead().unwrap(), OPUS_LOOKAHEAD_SAMPLES as i32);
        let a = speech_like(1, 400, 3);
        let i = (1..400).find(|&i| a.is_switch(i)).expect("a switch");
        let before = a.frame(i - 1);
        let (head, tail) = before.split_at(FRAME - SWITCH_LEAD_SAMPLES);
        assert!(tone_amplitude(head, a.switch_hz) < 0.1 * TAG_AMPLITUDE);
        assert!(tone_amplitude(tail, a.switch_hz) > 0.8 * TAG_AMPLITUDE);
        assert!(tone_amplitude(tail, a.tag_hz) < 0.1 * TAG_AMPLITUDE);
    }

    #[test]
    fn level_of_full_scale_is_zero_and_of_silence_is_127() {
        assert_eq!(level_dbov(&[32767; FRAME]), 0);
        assert_eq!(level_dbov(&[0; FRAME]), 127);
        let half: Vec<i16> = vec![16384; FRAME];
        assert_eq!(level_dbov(&half), 6);
    }
}
