//! Helpers shared by the recorder tests.
#![allow(dead_code)] // each test binary uses a different subset

use std::path::{Path, PathBuf};
use std::sync::mpsc::Receiver;
use std::time::Duration;

use talko_engine::recorder::{RecorderConfig, RecordingEvent, RecordingFile};

/// A fresh, empty directory under the system temp dir.
pub fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("talko-rec-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

pub fn config(dir: &Path) -> RecorderConfig {
    RecorderConfig {
        dir: dir.to_path_buf(),
        name_template: "call-{call}".to_owned(),
        ring_capacity: 1024,
        flush_interval: Duration::from_millis(200),
        wav: true,
        tracks: true,
    }
}

/// Collects events until `pred` holds for the list, or panics after `timeout`.
pub fn wait_events(
    events: &Receiver<RecordingEvent>,
    seen: &mut Vec<RecordingEvent>,
    timeout: Duration,
    pred: impl Fn(&[RecordingEvent]) -> bool,
) {
    let step = Duration::from_millis(20);
    let mut waited = Duration::ZERO;
    while !pred(seen) {
        match events.recv_timeout(step) {
            Ok(e) => seen.push(e),
            Err(_) => {
                waited += step;
                assert!(
                    waited < timeout,
                    "timed out waiting; events so far: {seen:#?}"
                );
            }
        }
    }
}

/// The `Finished` event for `file` of `call`, if any.
pub fn finished(
    seen: &[RecordingEvent],
    call: u64,
    file: RecordingFile,
) -> Option<(PathBuf, Duration, u64)> {
    seen.iter().find_map(|e| match e {
        RecordingEvent::Finished {
            call: c,
            file: f,
            path,
            duration,
            bytes,
        } if *c == call && *f == file => Some((path.clone(), *duration, *bytes)),
        _ => None,
    })
}

/// A sine tone of `freq` Hz, 20 ms, continuing from `tick`.
pub fn tone_frame(freq: f32, tick: u64, amp: f32) -> [i16; 960] {
    let mut out = [0i16; 960];
    for (i, s) in out.iter_mut().enumerate() {
        let t = (tick as f32 * 960.0 + i as f32) / 48_000.0;
        *s = (amp * (2.0 * std::f32::consts::PI * freq * t).sin()) as i16;
    }
    out
}

/// Goertzel power of `freq` in `x` (48 kHz).
pub fn goertzel(x: &[i16], freq: f32) -> f32 {
    let w = 2.0 * std::f32::consts::PI * freq / 48_000.0;
    let c = 2.0 * w.cos();
    let (mut s1, mut s2) = (0.0f32, 0.0f32);
    for &v in x {
        let s = f32::from(v) + c * s1 - s2;
        s2 = s1;
        s1 = s;
    }
    (s1 * s1 + s2 * s2 - c * s1 * s2) / (x.len() as f32).powi(2)
}

/// Decodes every packet of an Ogg Opus file and drops the pre-skip.
pub fn decode_file(data: &[u8], unfinished: bool) -> Vec<i16> {
    let r = if unfinished {
        talko_codecs::ogg::OggOpusReader::new_unfinished(data)
    } else {
        talko_codecs::ogg::OggOpusReader::new(data)
    }
    .expect("valid Ogg Opus");
    let mut dec = talko_codecs::opus::codec::Decoder::mono().expect("decoder");
    let mut pcm = Vec::new();
    let mut buf = [0i16; 5760];
    for p in r.packets() {
        let n = dec.decode(&p.data, &mut buf, false).expect("decode");
        pcm.extend_from_slice(&buf[..n]);
    }
    pcm.split_off(usize::from(r.head().pre_skip).min(pcm.len()))
}

/// Finds a media tool; fails loudly when missing unless TALKO_SKIP_MEDIA_TOOLS=1.
pub fn media_tool(name: &str) -> Option<PathBuf> {
    if std::env::var("TALKO_SKIP_MEDIA_TOOLS").as_deref() == Ok("1") {
        return None;
    }
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(name))
            .find(|p| p.is_file())
    });
    assert!(
        found.is_some(),
        "`{name}` is not installed: install opus-tools and sox (scripts/setup does), \
         or set TALKO_SKIP_MEDIA_TOOLS=1"
    );
    found
}

/// Runs a tool, asserting success; returns stdout + stderr.
pub fn run_tool(tool: &Path, args: &[&str]) -> String {
    let out = std::process::Command::new(tool)
        .args(args)
        .output()
        .expect("run tool");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "{} {:?} failed:\n{text}",
        tool.display(),
        args
    );
    text
}

/// Runs a tool that may exit non-zero; returns (success, stdout + stderr).
pub fn run_tool_status(tool: &Path, args: &[&str]) -> (bool, String) {
    let out = std::process::Command::new(tool)
        .args(args)
        .output()
        .expect("run tool");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}
