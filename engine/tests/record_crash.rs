//! Crash safety: a process recording a call in real time is killed with SIGKILL; its
//! files must play up to their last second (talko's reader, `opusinfo`, `opusdec` and
//! `sox`), and the next recorder start-up must finalize them.
//!
//! The test re-executes its own binary in "child" mode (selected by an environment
//! variable) so that the killed process is a real recorder process.

mod record_common;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use record_common::{
    config, decode_file, goertzel, media_tool, run_tool, run_tool_status, scratch, tone_frame,
};
use talko_codecs::ogg::OggOpusReader;
use talko_codecs::opus::codec::Encoder;
use talko_engine::recorder::{Recorder, RecordingEvent, RecordingSpec};

const CHILD_ENV: &str = "TALKO_RECORD_CRASH_CHILD";
const TEST_NAME: &str = "sigkill_mid_call_leaves_playable_files_that_start_up_finalizes";
/// Ticks the parent waits for before killing (6 s of call).
const KILL_AFTER_TICK: u64 = 300;
/// What a crash may lose: the flush interval (1 s), the held-back last packet and some
/// scheduling slack.
const MAX_LOSS: Duration = Duration::from_millis(1300);

/// Child mode: record call 1 in real time until killed (or 60 s). The child plays a
/// media thread, so it paces itself by the wall clock.
#[allow(clippy::disallowed_methods)]
fn child(dir: &Path) {
    let mut cfg = config(dir);
    cfg.flush_interval = Duration::from_secs(1);
    let rec = Recorder::spawn(cfg).expect("spawn");
    let mut feed = rec.feed();
    let mut enc = Encoder::voip_mono().expect("encoder");
    let mut packet = [0u8; 1500];
    feed.start(
        1,
        &RecordingSpec {
            mix_ogg: true,
            mix_wav: true,
            tracks: true,
            name: None,
        },
        0,
    );
    let t0 = Instant::now();
    let mut out = std::io::stdout();
    for tick in 0..3000u64 {
        let pcm = tone_frame(440.0, tick, 8000.0);
        let n = enc.encode(&pcm, &mut packet).expect("encode");
        feed.mix_frame(1, tick, Some(&packet[..n]), Some(&pcm));
        feed.track_packet(1, 5, tick, &packet[..n]);
        // Report after feeding: everything up to this tick was handed to the recorder.
        let _ = writeln!(out, "TICK {tick}");
        let _ = out.flush();
        let next = t0 + Duration::from_millis(20 * (tick + 1));
        std::thread::sleep(next.saturating_duration_since(Instant::now()));
    }
}

/// Kills the child if the test fails before it does.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn copy_as(src: &Path, name: &str) -> PathBuf {
    let dst = src.with_file_name(name);
    std::fs::copy(src, &dst).expect("copy for the media tools");
    dst
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

#[test]
fn sigkill_mid_call_leaves_playable_files_that_start_up_finalizes() {
    if let Some(dir) = std::env::var_os(CHILD_ENV) {
        child(Path::new(&dir));
        return;
    }
    let dir = scratch("crash");
    let exe = std::env::current_exe().expect("test binary");
    let child = Command::new(exe)
        .args(["--exact", TEST_NAME, "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, &dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn child");
    let mut child = KillOnDrop(child);
    let stdout = child.0.stdout.take().expect("child stdout");
    let mut last_tick = None;
    for line in BufReader::new(stdout).lines() {
        let line = line.expect("child output");
        if let Some(t) = line.strip_prefix("TICK ") {
            let t: u64 = t.trim().parse().expect("tick number");
            last_tick = Some(t);
            if t >= KILL_AFTER_TICK {
                break;
            }
        }
    }
    // Child::kill is SIGKILL on Unix: no destructor, no flush, no finish runs.
    child.0.kill().expect("SIGKILL");
    let status = child.0.wait().expect("reap");
    assert!(!status.success(), "the child was killed");
    let last_tick = last_tick.expect("child reported progress");
    assert!(
        last_tick >= KILL_AFTER_TICK,
        "child stopped early at {last_tick}"
    );
    let fed = Duration::from_millis(20 * (last_tick + 1));

    // 1. The unfinished files are there and play up to their last second.
    let mix_part = dir.join("call-1.opus.part");
    let track_part = dir.join("call-1-p5.opus.part");
    let wav_part = dir.join("call-1.wav.part");
    let mut durations = Vec::new();
    for part in [&mix_part, &track_part] {
        let data = std::fs::read(part).expect("unfinished Ogg file exists");
        assert!(OggOpusReader::new(&data).is_err(), "no EOS after a crash");
        let r = OggOpusReader::new_unfinished(&data).expect("readable up to the crash");
        let got = r.duration();
        assert!(
            got + MAX_LOSS >= fed,
            "{}: {:.3}s recorded of {:.3}s fed",
            part.display(),
            secs(got),
            secs(fed)
        );
        assert!(got <= fed + Duration::from_secs(2), "more than was fed?");
        // The tone is there right up to the end of what was recorded.
        let pcm = decode_file(&data, true);
        let tail = &pcm[pcm.len().saturating_sub(24_000)..];
        assert!(
            goertzel(tail, 440.0) > 50.0 * goertzel(tail, 1000.0),
            "440 Hz tone in the last half second"
        );
        durations.push(got);
    }
    let wav_data = std::fs::read(&wav_part).expect("unfinished WAV exists");
    let wav_reader = hound::WavReader::new(std::io::Cursor::new(&wav_data)).expect("valid header");
    let wav_dur = Duration::from_secs_f64(f64::from(wav_reader.duration()) / 48_000.0);
    assert!(
        wav_dur + MAX_LOSS >= fed,
        "WAV header covers {wav_dur:?} of {fed:?}"
    );

    // 2. The same files through opus-tools and sox.
    if let (Some(opusinfo), Some(opusdec), Some(soxi), Some(sox)) = (
        media_tool("opusinfo"),
        media_tool("opusdec"),
        media_tool("soxi"),
        media_tool("sox"),
    ) {
        let ogg = copy_as(&mix_part, "crash-copy.opus");
        let ogg = ogg.to_str().expect("utf-8 path");
        // opusinfo exits 1 on a stream without EOS ("normal for live streams"); that
        // must be its only complaint.
        let (_, info) = run_tool_status(&opusinfo, &[ogg]);
        assert!(info.contains("Playback length"), "{info}");
        let complaints: Vec<&str> = info
            .lines()
            .filter(|l| l.contains("WARNING") || l.contains("ERROR"))
            .collect();
        assert_eq!(
            complaints,
            vec!["WARNING: EOS not set on stream 1 (normal for live streams)"],
            "{info}"
        );
        let decoded = dir.join("crash-decoded.wav");
        let decoded = decoded.to_str().expect("utf-8 path");
        run_tool(&opusdec, &["--quiet", ogg, decoded]);
        let samples: u64 = run_tool(&soxi, &["-s", decoded])
            .trim()
            .parse()
            .expect("samples");
        let tools_dur = Duration::from_secs_f64(samples as f64 / 48_000.0);
        assert!(
            tools_dur + MAX_LOSS >= fed,
            "opusdec decoded {tools_dur:?} of {fed:?}"
        );
        let wav = copy_as(&wav_part, "crash-copy.wav");
        let wav = wav.to_str().expect("utf-8 path");
        let samples: u64 = run_tool(&soxi, &["-s", wav])
            .trim()
            .parse()
            .expect("samples");
        assert!(Duration::from_secs_f64(samples as f64 / 48_000.0) + MAX_LOSS >= fed);
        // sox decodes the whole file without complaint.
        let stat = run_tool(&sox, &[wav, "-n", "stat"]);
        assert!(stat.contains("Maximum amplitude"), "{stat}");
        for f in ["crash-copy.opus", "crash-copy.wav", "crash-decoded.wav"] {
            let _ = std::fs::remove_file(dir.join(f));
        }
    }

    // 3. Start-up recovery finalizes all three files.
    let rec = Recorder::spawn(config(&dir)).expect("spawn after crash");
    let recovered: Vec<(PathBuf, Duration)> = rec
        .events()
        .try_iter()
        .map(|e| match e {
            RecordingEvent::Recovered { path, duration, .. } => (path, duration),
            other => panic!("unexpected event at start-up: {other:?}"),
        })
        .collect();
    assert_eq!(recovered.len(), 3, "{recovered:?}");
    for (path, duration) in &recovered {
        assert!(path.symlink_metadata().is_ok(), "{} exists", path.display());
        assert!(
            *duration + MAX_LOSS >= fed,
            "{}: {duration:?}",
            path.display()
        );
    }
    for (part, final_name, before) in [
        (&mix_part, "call-1.opus", durations[0]),
        (&track_part, "call-1-p5.opus", durations[1]),
    ] {
        assert!(!part.exists(), "{} renamed", part.display());
        let data = std::fs::read(dir.join(final_name)).expect("finalized file");
        let r = OggOpusReader::new(&data).expect("a complete Ogg Opus file now");
        assert!(r.is_finished());
        assert_eq!(r.duration(), before, "recovery keeps every readable page");
        if let Some(opusinfo) = media_tool("opusinfo") {
            let info = run_tool(&opusinfo, &[dir.join(final_name).to_str().expect("utf-8")]);
            assert!(!info.contains("WARNING"), "{info}");
        }
    }
    let wav = hound::WavReader::open(dir.join("call-1.wav")).expect("finalized WAV");
    let samples = u64::from(wav.duration());
    assert_eq!(
        std::fs::metadata(dir.join("call-1.wav"))
            .expect("meta")
            .len(),
        44 + 2 * samples
    );
    assert!(Duration::from_secs_f64(samples as f64 / 48_000.0) >= wav_dur);
    rec.shutdown();
    let _ = std::fs::remove_dir_all(&dir);
}
