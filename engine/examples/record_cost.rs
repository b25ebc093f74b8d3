//! What recording costs: the recorder thread's CPU time and the bytes written per
//! call-minute.
//!
//! ```text
//! cargo run --release -p talko-engine --example record_cost -- [calls] [minutes] [participants] [wav]
//! ```
//! (defaults: 20 calls, 10 minutes each, 4 participants, WAV off). Each call records the
//! mix as Ogg Opus and one track per participant (optionally the WAV mix too) from
//! real libopus packets of a speech-like signal; every participant talks about half of
//! the time (the rest is filled as silence, as DTX would leave it). The feed runs as fast
//! as the recorder keeps up; the recorder thread's CPU time is read from
//! `/proc/self/task/<tid>/schedstat` (nanoseconds on CPU), so the figure is CPU per
//! call-minute whatever the speed.

use std::path::Path;
use std::time::Duration;

use talko_codecs::opus::codec::Encoder;
use talko_engine::recorder::{
    Recorder, RecorderConfig, RecordingEvent, RecordingFile, RecordingSpec,
};

/// CPU nanoseconds of this process's thread named `name`, from schedstat.
fn thread_cpu_ns(name: &str) -> Option<u64> {
    for task in std::fs::read_dir("/proc/self/task").ok()?.flatten() {
        let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
        if comm.trim_end() == name {
            let stat = std::fs::read_to_string(task.path().join("schedstat")).ok()?;
            return stat.split_whitespace().next()?.parse().ok();
        }
    }
    None
}

/// 20 ms frames of a speech-like signal: a few formant-ish tones with a syllable-rate
/// envelope and some noise, so packet sizes vary as with voice.
fn speechlike_packets(n: usize) -> Vec<Vec<u8>> {
    let mut enc = Encoder::voip_mono().expect("encoder");
    let mut out = [0u8; 1500];
    let mut seed = 0x1234_5678u32;
    (0..n)
        .map(|f| {
            let mut pcm = [0i16; 960];
            for (k, s) in pcm.iter_mut().enumerate() {
                let t = (f * 960 + k) as f32 / 48_000.0;
                let env = 0.5 + 0.5 * (2.0 * std::f32::consts::PI * 4.0 * t).sin();
                let pitch = 140.0 + 30.0 * (2.0 * std::f32::consts::PI * 0.7 * t).sin();
                let voice: f32 = [1.0f32, 2.0, 3.0, 5.0, 8.0]
                    .iter()
                    .map(|h| (2.0 * std::f32::consts::PI * pitch * h * t).sin() / h)
                    .sum();
                seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                let noise = (seed >> 16) as f32 / 65_536.0 - 0.5;
                *s = (env * (4_000.0 * voice + 600.0 * noise)) as i16;
            }
            let len = enc.encode(&pcm, &mut out).expect("encode");
            out[..len].to_vec()
        })
        .collect()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |i: usize, default: u64| args.get(i).and_then(|a| a.parse().ok()).unwrap_or(default);
    let calls = arg(1, 20);
    let minutes = arg(2, 10);
    let participants = arg(3, 4);
    let wav = args.get(4).is_some_and(|a| a == "wav");
    let dir = std::env::temp_dir().join(format!("talko-record-cost-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let rec = Recorder::spawn(RecorderConfig {
        dir: dir.clone(),
        name_template: "cost-{call}".to_owned(),
        ring_capacity: 4096,
        flush_interval: Duration::from_secs(1),
        wav,
        tracks: true,
    })
    .expect("spawn recorder");
    let mut feed = rec.feed();
    let packets = speechlike_packets(500);
    let pcm = [0i16; 960];
    let spec = RecordingSpec {
        mix_ogg: true,
        mix_wav: wav,
        tracks: true,
        name: None,
    };
    let ticks = minutes * 60 * 50;
    for call in 0..calls {
        feed.start(call, &spec, 0);
    }
    let cpu_before = thread_cpu_ns("talko-recorder").expect("recorder thread in /proc");
    for tick in 0..ticks {
        for call in 0..calls {
            let i = ((tick + call * 37) % packets.len() as u64) as usize;
            feed.mix_frame(call, tick, Some(&packets[i]), wav.then_some(&pcm[..]));
            for p in 0..participants {
                // Talk spells of 3 s, alternating per participant.
                if (tick / 150 + p + call) % 2 == 0 {
                    let j = (i + p as usize * 101) % packets.len();
                    feed.track_packet(call, p, tick, &packets[j]);
                }
            }
        }
        while rec.queued_frames() > 3000 {
            std::thread::sleep(Duration::from_micros(200));
        }
    }
    for call in 0..calls {
        feed.stop(call, ticks);
    }
    drop(feed);
    // Wait until every call is finished, then read the CPU before shutting down.
    let files_per_call = 1 + participants + u64::from(wav);
    let mut finished = 0;
    let mut bytes = [0u64; 3];
    while finished < calls * files_per_call {
        match rec.events().recv_timeout(Duration::from_secs(60)) {
            Ok(RecordingEvent::Finished { file, bytes: b, .. }) => {
                finished += 1;
                let k = match file {
                    RecordingFile::Mix => 0,
                    RecordingFile::MixWav => 1,
                    RecordingFile::Track { .. } => 2,
                };
                bytes[k] += b;
            }
            Ok(RecordingEvent::Error { error, .. }) => panic!("recording failed: {error}"),
            Ok(_) => {}
            Err(e) => panic!("no Finished event: {e}"),
        }
    }
    let cpu = thread_cpu_ns("talko-recorder").expect("recorder thread") - cpu_before;
    let dropped = rec.dropped_frames();
    rec.shutdown();
    let call_minutes = (calls * minutes) as f64;
    println!(
        "recorded {calls} calls x {minutes} min, {participants} tracks each{}, {dropped} frames dropped",
        if wav { ", WAV on" } else { "" }
    );
    println!(
        "recorder thread CPU: {:.1} ms per call-minute ({:.3} % of one core per live call)",
        cpu as f64 / 1e6 / call_minutes,
        cpu as f64 / 1e9 / (call_minutes * 60.0) * 100.0
    );
    println!(
        "bytes per call-minute: mix Ogg {:.0} KB, tracks {:.0} KB ({:.0} KB each), WAV {:.0} KB",
        bytes[0] as f64 / 1e3 / call_minutes,
        bytes[2] as f64 / 1e3 / call_minutes,
        bytes[2] as f64 / 1e3 / call_minutes / participants.max(1) as f64,
        bytes[1] as f64 / 1e3 / call_minutes,
    );
    remove(&dir);
}

fn remove(dir: &Path) {
    let _ = std::fs::remove_dir_all(dir);
}
