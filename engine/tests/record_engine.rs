//! An engine-driven recording: simulated clients (Opus, SRTP, a virtual network) talk
//! through the real engine, which feeds the recorder from its mixer tick. The files must
//! last as long as the recording was on (±20 ms), every track must be aligned with the
//! mix (a participant who left is filled with silence, a late joiner's track starts with
//! silence), and each client's tone must be in the mix and in its own track at the times
//! it talked.

mod record_common;

use std::time::Duration;

use record_common::{config, decode_file, finished, scratch};
use talko_codecs::ogg::OggOpusReader;
use talko_engine::recorder::{Recorder, RecordingEvent, RecordingFile, RecordingSpec};
use talko_engine::sim::{tone_amplitude, tone_of, Harness};
use talko_engine::{CallId, Command, EngineConfig};

// Tones are sent at amplitude 6000; codec noise of the other voices in a mix stays
// below a few hundred at a silent client's frequency.

/// Amplitudes of client `i`'s tone per 20 ms frame of `pcm` over [from, to) seconds.
fn amplitudes(pcm: &[i16], i: usize, from: f64, to: f64) -> Vec<f32> {
    let a = (from * 48_000.0) as usize;
    let b = ((to * 48_000.0) as usize).min(pcm.len());
    assert!(a < b, "window {from}..{to} s beyond {} samples", pcm.len());
    pcm[a..b]
        .chunks_exact(960)
        .map(|w| tone_amplitude(w, tone_of(i)))
        .collect()
}

/// The tone is in every frame of the window.
fn assert_present(name: &str, pcm: &[i16], i: usize, from: f64, to: f64) {
    let a = amplitudes(pcm, i, from, to)
        .into_iter()
        .fold(f32::MAX, f32::min);
    assert!(
        a > 2_500.0,
        "{name}: client {i}'s tone missing in {from}..{to} s ({a:.0})"
    );
}

/// The tone is in no frame of the window.
fn assert_absent(name: &str, pcm: &[i16], i: usize, from: f64, to: f64) {
    let a = amplitudes(pcm, i, from, to).into_iter().fold(0.0, f32::max);
    assert!(
        a < 1_000.0,
        "{name}: client {i}'s tone present in {from}..{to} s ({a:.0})"
    );
}

#[test]
fn engine_recording_is_wall_clock_true_aligned_and_holds_each_voice() {
    let dir = scratch("engine");
    let rec = Recorder::spawn(config(&dir)).expect("spawn");
    // Clients without DTX: libopus' VAD takes a pure tone for noise and would suppress
    // it. The gaps come from a participant leaving and one joining late.
    let mut h = Harness::new(EngineConfig::default(), 3, 17).expect("harness");
    h.engine.set_recorder(rec.feed());
    h.join(0).expect("join 0");
    h.join(1).expect("join 1");
    for (i, c) in h.clients.iter_mut().enumerate() {
        c.talking = i == 0;
    }
    h.run(Duration::from_secs(1), |_, _| {});

    // Recording time 0 = 1 s into the call.
    let call = h.call;
    let spec = RecordingSpec {
        mix_ogg: true,
        mix_wav: true,
        tracks: true,
        name: Some("engine-call".to_owned()),
    };
    h.engine
        .handle_command(h.now, Command::StartRecording { call, spec })
        .expect("start recording");
    h.run(Duration::from_secs(1), |_, _| {}); // rec 0–1 s: client 0
    h.clients[1].talking = true;
    h.run(Duration::from_secs(1), |_, _| {}); // rec 1–2 s: clients 0 and 1
    h.leave(0).expect("leave"); // client 0 sends nothing from here on
    h.run(Duration::from_millis(500), |_, _| {}); // rec 2–2.5 s: client 1
    h.join(2).expect("late join");
    h.clients[2].talking = true;
    h.run(Duration::from_secs(2), |_, _| {}); // rec 2.5–4.5 s: clients 1 and 2
    h.engine
        .handle_command(h.now, Command::StopRecording { call })
        .expect("stop recording");
    let events: Vec<RecordingEvent> = rec.shutdown().iter().collect();

    let file = |f: RecordingFile| {
        finished(&events, call.0, f).unwrap_or_else(|| panic!("no Finished for {f:?}: {events:?}"))
    };
    let (mix_path, mix_dur, _) = file(RecordingFile::Mix);
    let recorded = Duration::from_millis(4_500);
    assert!(
        mix_dur.abs_diff(recorded) <= Duration::from_millis(20),
        "mix lasts {mix_dur:?} for {recorded:?} of recording"
    );
    let (_, wav_dur, _) = file(RecordingFile::MixWav);
    assert!(wav_dur.abs_diff(recorded) <= Duration::from_millis(20));
    let mix_data = std::fs::read(&mix_path).expect("read mix");
    let mix_granule = OggOpusReader::new(&mix_data).expect("Ogg").last_granule();
    let mut tracks = Vec::new();
    for i in 0..3u64 {
        let (path, dur, _) = file(RecordingFile::Track { participant: i });
        assert_eq!(dur, mix_dur, "track {i} is as long as the mix");
        let data = std::fs::read(path).expect("read track");
        let r = OggOpusReader::new(&data).expect("Ogg");
        assert_eq!(
            r.last_granule(),
            mix_granule,
            "track {i} aligned with the mix"
        );
        tracks.push(decode_file(&data, false));
    }
    let mix = decode_file(&mix_data, false);

    // Margins of 0.3 s around each change cover the jitter buffer and codec transients.
    assert_present("mix", &mix, 0, 0.3, 1.9);
    assert_absent("mix", &mix, 0, 2.4, 4.4);
    assert_absent("mix", &mix, 1, 0.0, 0.7);
    assert_present("mix", &mix, 1, 1.3, 4.4);
    assert_absent("mix", &mix, 2, 0.0, 2.4);
    assert_present("mix", &mix, 2, 2.9, 4.4);

    assert_present("track 0", &tracks[0], 0, 0.3, 1.9);
    assert_absent("track 0", &tracks[0], 0, 2.4, 4.4);
    assert_absent("track 0", &tracks[0], 1, 0.0, 4.4);
    assert_present("track 1", &tracks[1], 1, 1.3, 4.4);
    assert_absent("track 1", &tracks[1], 0, 0.0, 4.4);
    // The late joiner's track: silence until it joined, then its voice.
    assert_absent("track 2", &tracks[2], 2, 0.0, 2.4);
    assert_present("track 2", &tracks[2], 2, 2.9, 4.4);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_call_in_a_later_phase_records_exactly_its_ticks_between_start_and_stop() {
    let dir = scratch("engine-phase");
    let rec = Recorder::spawn(config(&dir)).expect("spawn");
    let mut h = Harness::new(EngineConfig::default(), 4, 18).expect("harness");
    h.engine.set_recorder(rec.feed());
    // Call 1 mixes at 20 + 20n ms (phase 0), call 2 at 30 + 20n ms (phase 5).
    h.join(0).expect("join 0");
    h.join(1).expect("join 1");
    let call = CallId(2);
    h.create_call(call).expect("call 2");
    h.join_call(2, call).expect("join 2");
    h.join_call(3, call).expect("join 3");
    // Started at 1001 ms, after the period at 1000 ms began but before call 2's tick in
    // it; stopped at 2511 ms, just after call 2's tick at 2510 ms: the recording holds
    // exactly call 2's ticks from 1010 to 2510 ms, 76 frames.
    h.run(Duration::from_millis(1_001), |_, _| {});
    let spec = RecordingSpec {
        mix_ogg: true,
        mix_wav: true,
        tracks: false,
        name: Some("phase-call".to_owned()),
    };
    h.engine
        .handle_command(h.now, Command::StartRecording { call, spec })
        .expect("start recording");
    h.run(Duration::from_millis(1_510), |_, _| {});
    h.engine
        .handle_command(h.now, Command::StopRecording { call })
        .expect("stop recording");
    let events: Vec<RecordingEvent> = rec.shutdown().iter().collect();
    let (_, mix_dur, _) = finished(&events, call.0, RecordingFile::Mix)
        .unwrap_or_else(|| panic!("no Finished for the mix: {events:?}"));
    let (_, wav_dur, _) = finished(&events, call.0, RecordingFile::MixWav).expect("wav");
    assert_eq!(wav_dur, Duration::from_millis(1_520));
    // The Ogg file's duration leaves out the encoder's pre-skip (312 samples, 6.5 ms).
    assert_eq!(mix_dur, Duration::from_micros(1_520_000 - 6_500));
    let _ = std::fs::remove_dir_all(&dir);
}
