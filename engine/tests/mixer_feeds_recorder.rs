//! The mixer feeds the recorder: the shared mix's Opus packets (no extra encode) and
//! PCM, and each participant's played packets, for exactly the recorded ticks.

use std::path::PathBuf;
use std::time::Duration;

use talko_engine::recorder::{
    Recorder, RecorderConfig, RecordingEvent, RecordingFile, RecordingSpec,
};
use talko_engine::sim::{tone_amplitude, tone_of, Harness};
use talko_engine::{Command, EngineConfig, EngineError};

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("talko-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// The samples of a 16-bit mono WAV file.
fn wav_samples(bytes: &[u8]) -> Vec<i16> {
    let at = bytes
        .windows(4)
        .position(|w| w == b"data")
        .expect("a data chunk");
    bytes[at + 8..]
        .chunks_exact(2)
        .map(|c| i16::from_le_bytes([c[0], c[1]]))
        .collect()
}

#[test]
fn recording_gets_the_shared_mix_and_tracks_for_the_recorded_time() {
    let dir = temp_dir("mixrec");
    let recorder = Recorder::spawn(RecorderConfig {
        dir: dir.clone(),
        ..RecorderConfig::default()
    })
    .unwrap();
    let mut h = Harness::new(EngineConfig::default(), 3, 5).unwrap();
    let spec = RecordingSpec {
        mix_ogg: true,
        mix_wav: true,
        tracks: true,
        name: Some("call".to_owned()),
    };
    assert_eq!(
        h.engine.handle_command(
            h.now,
            Command::StartRecording {
                call: h.call,
                spec: spec.clone()
            }
        ),
        Err(EngineError::NoRecorder)
    );
    h.engine.set_recorder(recorder.feed());
    for i in 0..3 {
        h.join(i).unwrap();
        h.clients[i].talking = i < 2;
    }
    h.run(Duration::from_secs(1), |_, _| {});
    let call = h.call;
    h.engine
        .handle_command(h.now, Command::StartRecording { call, spec })
        .unwrap();
    h.run(Duration::from_secs(3), |_, _| {});
    h.engine
        .handle_command(h.now, Command::StopRecording { call })
        .unwrap();
    let events: Vec<RecordingEvent> = recorder.shutdown().iter().collect();

    let finished = |want: RecordingFile| {
        events
            .iter()
            .find_map(|e| match e {
                RecordingEvent::Finished {
                    file,
                    path,
                    duration,
                    ..
                } if *file == want => Some((path.clone(), *duration)),
                _ => None,
            })
            .unwrap_or_else(|| panic!("no Finished for {want:?} in {events:?}"))
    };
    let (_, mix_len) = finished(RecordingFile::Mix);
    assert!(
        mix_len.abs_diff(Duration::from_secs(3)) <= Duration::from_millis(60),
        "mix lasts {mix_len:?}"
    );
    for p in 0..3 {
        let (_, len) = finished(RecordingFile::Track { participant: p });
        assert!(len.abs_diff(Duration::from_secs(3)) <= Duration::from_millis(60));
    }
    // The WAV mix holds both talkers and not the silent one.
    let (wav, _) = finished(RecordingFile::MixWav);
    let pcm = wav_samples(&std::fs::read(&wav).unwrap());
    let mid = &pcm[pcm.len() / 2..pcm.len() / 2 + 960];
    assert!(tone_amplitude(mid, tone_of(0)) > 1_500.0);
    assert!(tone_amplitude(mid, tone_of(1)) > 1_500.0);
    assert!(tone_amplitude(mid, tone_of(2)) < 300.0);
    let _ = std::fs::remove_dir_all(&dir);
}
