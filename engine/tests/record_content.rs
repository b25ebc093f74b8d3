//! Content check: a call of known tones — participant A at 440 Hz for ticks 0–150, B at
//! 880 Hz for ticks 100–300 (relative to the call's start) — is recorded as mix (Ogg and
//! WAV) and tracks; decoding the files, a Goertzel detector finds each tone exactly where
//! it was played, and nowhere else.

mod record_common;

use std::time::Duration;

use record_common::{config, decode_file, finished, goertzel, scratch, tone_frame, wait_events};
use talko_codecs::opus::codec::Encoder;
use talko_engine::recorder::{Recorder, RecordingEvent, RecordingFile, RecordingSpec};

const START: u64 = 5_000;
const A: (f32, u64, u64) = (440.0, 0, 150);
const B: (f32, u64, u64) = (880.0, 100, 300);
const STOP: u64 = 300;
const AMP: f32 = 6000.0;
/// Normalised Goertzel power of a full-amplitude tone: (AMP/2)².
const PRESENT: f32 = AMP * AMP / 4.0;

fn playing(p: (f32, u64, u64), tick: u64) -> bool {
    tick >= p.1 && tick < p.2
}

/// Power of `freq` in the 20 ms window of `tick` (relative to the call's start).
fn power_at(pcm: &[i16], tick: u64, freq: f32) -> f32 {
    let a = (tick * 960) as usize;
    pcm.get(a..a + 960).map_or(0.0, |w| goertzel(w, freq))
}

/// Checks, tick by tick (sparing 3 ticks around each on/off edge for codec transients),
/// that `freq` is present exactly while `p` plays (`expect_tone`) or never.
fn check(name: &str, pcm: &[i16], p: (f32, u64, u64), expect_tone: bool) {
    assert!(pcm.len() >= (STOP as usize - 1) * 960, "{name}: too short");
    let mut checked = 0;
    for tick in 0..STOP - 1 {
        let near_edge = tick.abs_diff(p.1) <= 3 || tick.abs_diff(p.2) <= 3;
        if near_edge {
            continue;
        }
        let power = power_at(pcm, tick, p.0);
        if expect_tone && playing(p, tick) {
            assert!(
                power > PRESENT / 4.0,
                "{name}: {} Hz missing at tick {tick} ({power:.0})",
                p.0
            );
        } else {
            assert!(
                power < PRESENT / 100.0,
                "{name}: {} Hz present at tick {tick} ({power:.0})",
                p.0
            );
        }
        checked += 1;
    }
    assert!(checked > 250);
}

/// The first tick at which `freq` appears.
fn onset(pcm: &[i16], freq: f32) -> Option<u64> {
    (0..STOP).find(|&t| power_at(pcm, t, freq) > PRESENT / 4.0)
}

#[test]
fn each_tone_is_in_the_files_at_the_right_times() {
    let dir = scratch("content");
    let rec = Recorder::spawn(config(&dir)).expect("spawn");
    let mut feed = rec.feed();
    let mut enc_a = Encoder::voip_mono().expect("encoder");
    let mut enc_b = Encoder::voip_mono().expect("encoder");
    let mut enc_mix = Encoder::voip_mono().expect("encoder");
    let mut buf = [0u8; 1500];
    feed.start(
        11,
        &RecordingSpec {
            mix_ogg: true,
            mix_wav: true,
            tracks: true,
            name: None,
        },
        START,
    );
    for t in 0..STOP {
        let tick = START + t;
        let mut mix = [0i16; 960];
        for (id, p, enc) in [(1u64, A, &mut enc_a), (2, B, &mut enc_b)] {
            if !playing(p, t) {
                continue; // DTX: nothing sent, nothing mixed
            }
            let pcm = tone_frame(p.0, t, AMP);
            let n = enc.encode(&pcm, &mut buf).expect("encode");
            feed.track_packet(11, id, tick, &buf[..n]);
            for (m, s) in mix.iter_mut().zip(pcm) {
                *m = m.saturating_add(s);
            }
        }
        // The mixer's shared packet: the sum, encoded once.
        let n = enc_mix.encode(&mix, &mut buf).expect("encode");
        feed.mix_frame(11, tick, Some(&buf[..n]), Some(&mix));
    }
    feed.stop(11, START + STOP);
    let mut seen = Vec::new();
    wait_events(rec.events(), &mut seen, Duration::from_secs(10), |s| {
        s.iter()
            .filter(|e| matches!(e, RecordingEvent::Finished { .. }))
            .count()
            == 4
    });
    let read = |file| {
        let (path, _, _) = finished(&seen, 11, file).expect("finished");
        std::fs::read(path).expect("read")
    };

    let mix = decode_file(&read(RecordingFile::Mix), false);
    check("mix", &mix, A, true);
    check("mix", &mix, B, true);
    assert_eq!(
        onset(&mix, 880.0),
        Some(B.1),
        "B starts at its tick in the mix"
    );

    let (wav_path, _, _) = finished(&seen, 11, RecordingFile::MixWav).expect("wav");
    let wav: Vec<i16> = hound::WavReader::open(wav_path)
        .expect("wav")
        .samples::<i16>()
        .map(|s| s.expect("sample"))
        .collect();
    check("wav", &wav, A, true);
    check("wav", &wav, B, true);
    assert_eq!(onset(&wav, 880.0), Some(B.1));

    let a = decode_file(&read(RecordingFile::Track { participant: 1 }), false);
    check("track A", &a, A, true);
    check("track A", &a, B, false);
    let b = decode_file(&read(RecordingFile::Track { participant: 2 }), false);
    check("track B", &b, B, true);
    check("track B", &b, A, false);
    // B joined late: its track is silent until its tick, then aligned with the mix.
    assert_eq!(
        onset(&b, 880.0),
        Some(B.1),
        "B starts at its tick in its track"
    );
    assert_eq!(a.len(), mix.len());
    assert_eq!(b.len(), mix.len());
    drop(feed);
    rec.shutdown();
    let _ = std::fs::remove_dir_all(&dir);
}
