//! Recorder basics: files and events per call, the zero-allocation feed, counted drops
//! that still keep the duration true, and misuse reported as events.

mod record_common;

use std::time::Duration;

use record_common::{config, finished, scratch, tone_frame, wait_events};
use talko_codecs::ogg::OggOpusReader;
use talko_codecs::opus::codec::Encoder;
use talko_codecs::testing::{thread_counts, CountingAlloc};
use talko_engine::recorder::{
    Recorder, RecorderError, RecordingEvent, RecordingFile, RecordingSpec,
};

#[global_allocator]
static A: CountingAlloc = CountingAlloc;

fn all_files() -> RecordingSpec {
    RecordingSpec {
        mix_ogg: true,
        mix_wav: true,
        tracks: true,
        name: None,
    }
}

fn count_finished(seen: &[RecordingEvent]) -> usize {
    seen.iter()
        .filter(|e| matches!(e, RecordingEvent::Finished { .. }))
        .count()
}

#[test]
fn mix_wav_and_late_joiner_track_cover_the_whole_call() {
    let dir = scratch("basic");
    let rec = Recorder::spawn(config(&dir)).expect("spawn");
    let mut feed = rec.feed();
    let mut enc = Encoder::voip_mono().expect("encoder");
    let mut packet = [0u8; 1500];
    feed.start(7, &all_files(), 100);
    for tick in 100..350u64 {
        let pcm = tone_frame(440.0, tick, 6000.0);
        let n = enc.encode(&pcm, &mut packet).expect("encode");
        feed.mix_frame(7, tick, Some(&packet[..n]), Some(&pcm));
        if (150..250).contains(&tick) {
            feed.track_packet(7, 42, tick, &packet[..n]);
        }
        if tick % 50 == 0 {
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    feed.stop(7, 350);
    let mut seen = Vec::new();
    wait_events(rec.events(), &mut seen, Duration::from_secs(10), |s| {
        count_finished(s) == 3
    });
    let started = seen
        .iter()
        .filter(|e| matches!(e, RecordingEvent::Started { call: 7, .. }))
        .count();
    assert_eq!(started, 3, "{seen:#?}");

    let (mix_path, mix_dur, mix_bytes) = finished(&seen, 7, RecordingFile::Mix).expect("mix");
    assert_eq!(mix_path, dir.join("call-7.opus"));
    let data = std::fs::read(&mix_path).expect("read mix");
    assert_eq!(data.len() as u64, mix_bytes);
    let r = OggOpusReader::new(&data).expect("finished Ogg");
    assert_eq!(r.last_granule(), 250 * 960);
    assert_eq!(mix_dur, Duration::from_micros(5_000_000 - 6_500));

    let (track_path, track_dur, _) =
        finished(&seen, 7, RecordingFile::Track { participant: 42 }).expect("track");
    assert_eq!(track_path, dir.join("call-7-p42.opus"));
    let track = OggOpusReader::new(&std::fs::read(&track_path).expect("read")).expect("Ogg");
    // Leading silence from the call's start, trailing silence to its stop.
    assert_eq!(track.last_granule(), 250 * 960);
    assert_eq!(track_dur, mix_dur);

    let (wav_path, wav_dur, wav_bytes) = finished(&seen, 7, RecordingFile::MixWav).expect("wav");
    let wav = hound::WavReader::open(&wav_path).expect("valid WAV");
    assert_eq!(wav.duration(), 250 * 960);
    assert_eq!(wav_dur, Duration::from_secs(5));
    assert_eq!(wav_bytes, 44 + 2 * 250 * 960);

    let leftovers: Vec<_> = std::fs::read_dir(&dir)
        .expect("dir")
        .filter_map(Result::ok)
        .filter(|e| e.path().extension().is_some_and(|x| x == "part"))
        .collect();
    assert!(leftovers.is_empty(), "part files left: {leftovers:?}");
    drop(feed);
    rec.shutdown();
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn feeding_allocates_nothing_in_steady_state() {
    let dir = scratch("alloc");
    let rec = Recorder::spawn(config(&dir)).expect("spawn");
    let mut feed = rec.feed();
    let mut enc = Encoder::voip_mono().expect("encoder");
    let mut packet = [0u8; 1500];
    let pcm = tone_frame(300.0, 0, 5000.0);
    let n = enc.encode(&pcm, &mut packet).expect("encode");
    let opus = &packet[..n];
    let spec = all_files();
    feed.start(1, &spec, 0);
    feed.start(2, &spec, 0);
    // Warm up: the first frames through the channels may set up lazily.
    for tick in 0..50u64 {
        feed.mix_frame(1, tick, Some(opus), Some(&pcm));
        feed.track_packet(1, 10, tick, opus);
    }
    std::thread::sleep(Duration::from_millis(100));
    let before = thread_counts();
    for tick in 50..5050u64 {
        for call in [1, 2] {
            feed.mix_frame(call, tick, Some(opus), Some(&pcm));
            feed.track_packet(call, 10, tick, opus);
            feed.track_packet(call, 11, tick, opus);
        }
        if tick % 100 == 0 {
            std::thread::sleep(Duration::from_millis(2));
        }
    }
    let used = thread_counts().since(before);
    assert_eq!(
        used.allocs, 0,
        "the feed allocated on the media thread: {used:?}"
    );
    feed.stop(1, 5050);
    feed.stop(2, 5050);
    let mut seen = Vec::new();
    wait_events(rec.events(), &mut seen, Duration::from_secs(30), |s| {
        count_finished(s) == 8
    });
    drop(feed);
    rec.shutdown();
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_full_ring_drops_frames_counts_them_and_keeps_the_duration_true() {
    let dir = scratch("drops");
    let mut cfg = config(&dir);
    cfg.ring_capacity = 4;
    let rec = Recorder::spawn(cfg).expect("spawn");
    let mut feed = rec.feed();
    let mut enc = Encoder::voip_mono().expect("encoder");
    let mut packet = [0u8; 1500];
    let pcm = tone_frame(500.0, 0, 5000.0);
    let n = enc.encode(&pcm, &mut packet).expect("encode");
    let spec = RecordingSpec {
        mix_ogg: true,
        ..RecordingSpec::default()
    };
    feed.start(3, &spec, 1000);
    let before = thread_counts();
    // Far faster than real time, into a ring of 4: many frames cannot be handed over.
    for tick in 1000..4000u64 {
        feed.mix_frame(3, tick, Some(&packet[..n]), None);
        for p in 0..4 {
            feed.track_packet(3, p, tick, &packet[..n]);
        }
    }
    assert_eq!(
        thread_counts().since(before).allocs,
        0,
        "dropping allocated"
    );
    let dropped = feed.dropped_frames();
    assert!(dropped > 0, "expected drops with a ring of 4");
    assert_eq!(rec.dropped_frames(), dropped);
    feed.stop(3, 4000);
    let mut seen = Vec::new();
    wait_events(rec.events(), &mut seen, Duration::from_secs(10), |s| {
        finished(s, 3, RecordingFile::Mix).is_some()
    });
    let reported: u64 = seen
        .iter()
        .filter_map(|e| match e {
            RecordingEvent::Dropped { call: 3, frames } => Some(*frames),
            _ => None,
        })
        .sum();
    assert_eq!(reported, dropped, "every drop is reported for its call");
    let (path, duration, _) = finished(&seen, 3, RecordingFile::Mix).expect("mix");
    assert_eq!(
        duration,
        Duration::from_millis(60_000) - Duration::from_micros(6_500)
    );
    let r = OggOpusReader::new(&std::fs::read(path).expect("read")).expect("Ogg");
    assert_eq!(r.last_granule(), 3000 * 960);
    drop(feed);
    rec.shutdown();
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn starting_twice_or_stopping_an_unknown_call_is_an_error_event() {
    let dir = scratch("misuse");
    let rec = Recorder::spawn(config(&dir)).expect("spawn");
    let mut feed = rec.feed();
    let spec = RecordingSpec {
        mix_ogg: true,
        name: Some("../../etc/escape".to_owned()),
        ..RecordingSpec::default()
    };
    feed.start(5, &spec, 0);
    feed.start(5, &spec, 3);
    feed.stop(6, 10);
    feed.stop(5, 10);
    let mut seen = Vec::new();
    wait_events(rec.events(), &mut seen, Duration::from_secs(10), |s| {
        finished(s, 5, RecordingFile::Mix).is_some()
            && s.iter()
                .filter(|e| matches!(e, RecordingEvent::Error { .. }))
                .count()
                == 2
    });
    let errors: Vec<RecorderError> = seen
        .iter()
        .filter_map(|e| match e {
            RecordingEvent::Error { error, .. } => Some(*error),
            _ => None,
        })
        .collect();
    assert_eq!(
        errors,
        vec![RecorderError::AlreadyRecording, RecorderError::NotRecording]
    );
    // The name cannot leave the recording directory.
    let (path, duration, _) = finished(&seen, 5, RecordingFile::Mix).expect("mix");
    assert_eq!(path.parent(), Some(dir.as_path()));
    assert_eq!(duration, Duration::from_micros(200_000 - 6_500));
    drop(feed);
    rec.shutdown();
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn shutdown_finishes_recordings_still_running() {
    let dir = scratch("shutdown");
    let rec = Recorder::spawn(config(&dir)).expect("spawn");
    let mut feed = rec.feed();
    let spec = all_files();
    feed.start(9, &spec, 0);
    for tick in 0..100u64 {
        feed.mix_frame(9, tick, None, None);
    }
    drop(feed);
    let events = rec.shutdown();
    let seen: Vec<_> = events.try_iter().collect();
    let (_, duration, _) = finished(&seen, 9, RecordingFile::MixWav).expect("wav finished");
    assert_eq!(duration, Duration::from_secs(2));
    assert!(
        finished(&seen, 9, RecordingFile::Mix).is_some(),
        "{seen:#?}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_call_recorded_twice_gets_a_second_file_and_never_overwrites_the_first() {
    let dir = scratch("restart");
    let rec = Recorder::spawn(config(&dir)).expect("spawn");
    let mut feed = rec.feed();
    let spec = RecordingSpec {
        mix_ogg: true,
        ..RecordingSpec::default()
    };
    feed.start(4, &spec, 0);
    for tick in 0..50u64 {
        feed.mix_frame(4, tick, None, None);
    }
    feed.stop(4, 50);
    feed.start(4, &spec, 100);
    for tick in 100..125u64 {
        feed.mix_frame(4, tick, None, None);
    }
    feed.stop(4, 125);
    let mut seen = Vec::new();
    wait_events(rec.events(), &mut seen, Duration::from_secs(10), |s| {
        count_finished(s) == 2
    });
    let files: Vec<(std::path::PathBuf, Duration)> = seen
        .iter()
        .filter_map(|e| match e {
            RecordingEvent::Finished { path, duration, .. } => Some((path.clone(), *duration)),
            _ => None,
        })
        .collect();
    assert_eq!(files[0].0, dir.join("call-4.opus"));
    assert_eq!(files[1].0, dir.join("call-4-1.opus"));
    assert_eq!(files[0].1, Duration::from_micros(1_000_000 - 6_500));
    assert_eq!(files[1].1, Duration::from_micros(500_000 - 6_500));
    drop(feed);
    rec.shutdown();
    let _ = std::fs::remove_dir_all(&dir);
}
