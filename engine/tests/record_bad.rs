//! Bad conditions: a full disk, an unwritable directory and a file deleted under the
//! writer each give a clear error event; the feed keeps working, the recorder thread
//! keeps serving other recordings, nothing panics.
//!
//! How the conditions are made real:
//! - full disk: the recording directory is a 256 KiB tmpfs (`mount -t tmpfs`), so writes
//!   fail with the kernel's ENOSPC; and, needing no privileges, a child process under
//!   `ulimit -f` (256 KiB per file), where writes fail with EFBIG;
//! - unwritable directory: `chmod 0500` — but root ignores mode bits, so when a probe
//!   shows the directory is still writable, it is replaced by a read-only tmpfs (EROFS);
//! - deleted file: the `.part` file is unlinked while the recorder writes it.
//!
//! Mounting needs root (CAP_SYS_ADMIN); without it the full-disk test falls back to the
//! file-size limit and says so.

mod record_common;

use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use record_common::{config, finished, scratch, tone_frame, wait_events};
use talko_codecs::opus::codec::Encoder;
use talko_engine::recorder::{
    Recorder, RecorderError, RecorderFeed, RecordingEvent, RecordingFile, RecordingSpec,
};

/// Unmounts a tmpfs mounted by a test, even when the test fails.
struct Mount(PathBuf);

impl Mount {
    fn tmpfs(dir: &Path, options: &str) -> io::Result<Mount> {
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", options, "tmpfs"])
            .arg(dir)
            .output()?;
        if out.status.success() {
            Ok(Mount(dir.to_path_buf()))
        } else {
            Err(io::Error::other(
                String::from_utf8_lossy(&out.stderr).into_owned(),
            ))
        }
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

fn errors(seen: &[RecordingEvent]) -> Vec<(u64, Option<RecordingFile>, RecorderError)> {
    seen.iter()
        .filter_map(|e| match e {
            RecordingEvent::Error {
                call, file, error, ..
            } => Some((*call, *file, *error)),
            _ => None,
        })
        .collect()
}

/// Feeds `ticks` ticks of a tone to `call` (mix and one participant's track).
fn feed_ticks(feed: &mut RecorderFeed, call: u64, ticks: std::ops::Range<u64>, pace: bool) {
    let mut enc = Encoder::voip_mono().expect("encoder");
    let mut packet = [0u8; 1500];
    for tick in ticks {
        let pcm = tone_frame(440.0, tick, 6000.0);
        let n = enc.encode(&pcm, &mut packet).expect("encode");
        feed.mix_frame(call, tick, Some(&packet[..n]), Some(&pcm));
        feed.track_packet(call, 1, tick, &packet[..n]);
        if pace && tick % 10 == 0 {
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

fn mix_only() -> RecordingSpec {
    RecordingSpec {
        mix_ogg: true,
        ..RecordingSpec::default()
    }
}

/// After a failure, the same recorder still records a call to completion.
fn still_records(rec: &Recorder, feed: &mut RecorderFeed, seen: &mut Vec<RecordingEvent>) {
    feed.start(1000, &mix_only(), 0);
    feed_ticks(feed, 1000, 0..50, false);
    feed.stop(1000, 50);
    wait_events(rec.events(), seen, Duration::from_secs(10), |s| {
        finished(s, 1000, RecordingFile::Mix).is_some()
    });
}

/// Records into `dir` until a write fails with `expected`; checks the error event, then
/// frees the space and checks that the same recorder records another call.
fn out_of_space_scenario(dir: &Path, expected: io::ErrorKind) {
    let rec = Recorder::spawn(config(dir)).expect("spawn");
    let mut feed = rec.feed();
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
    // 10 s of WAV is 960 KB: far beyond the 256 KiB available.
    feed_ticks(&mut feed, 1, 0..500, true);
    let mut seen = Vec::new();
    wait_events(rec.events(), &mut seen, Duration::from_secs(10), |s| {
        errors(s).iter().any(|e| e.1 == Some(RecordingFile::MixWav))
    });
    let errs = errors(&seen);
    assert!(
        errs.contains(&(
            1,
            Some(RecordingFile::MixWav),
            RecorderError::Write(expected)
        )),
        "{errs:?}"
    );
    // The feed never blocked or panicked; the stop finishes what still can be finished.
    feed.stop(1, 500);
    // Free the space: the recorder serves the next recording normally.
    for entry in std::fs::read_dir(dir).expect("dir").flatten() {
        let _ = std::fs::remove_file(entry.path());
    }
    still_records(&rec, &mut feed, &mut seen);
    drop(feed);
    rec.shutdown();
}

const FSIZE_CHILD_ENV: &str = "TALKO_RECORD_FSIZE_CHILD";
const FSIZE_TEST: &str = "a_file_size_limit_stops_the_file_with_a_file_too_large_error";
const FSIZE_PASSED: &str = "FSIZE-SCENARIO-PASSED";

/// Runs [`out_of_space_scenario`] in a child process under `ulimit -f 512` (256 KiB per
/// file, enforced by the kernel with EFBIG; SIGXFSZ is ignored so the write fails
/// instead of killing the process). Needs no privileges.
fn run_under_file_size_limit() {
    let dir = scratch("fsize");
    let exe = std::env::current_exe().expect("test binary");
    let out = Command::new("sh")
        .arg("-c")
        .arg(r#"trap '' XFSZ; ulimit -f 512 && exec "$0" "$@""#)
        .arg(exe)
        .args(["--exact", FSIZE_TEST, "--nocapture", "--test-threads=1"])
        .env(FSIZE_CHILD_ENV, &dir)
        .output()
        .expect("run the child under sh");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && text.contains(FSIZE_PASSED),
        "file-size-limited child failed:\n{text}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_full_disk_stops_the_file_with_a_storage_full_error() {
    let dir = scratch("full");
    match Mount::tmpfs(&dir, "size=256k") {
        Ok(mount) => {
            out_of_space_scenario(&dir, io::ErrorKind::StorageFull);
            drop(mount);
        }
        Err(e) => {
            // Not root: the kernel's file-size limit makes writes fail the same way.
            eprintln!("cannot mount a 256 KiB tmpfs ({e}); using a file-size limit instead");
            run_under_file_size_limit();
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_file_size_limit_stops_the_file_with_a_file_too_large_error() {
    if let Some(dir) = std::env::var_os(FSIZE_CHILD_ENV) {
        out_of_space_scenario(Path::new(&dir), io::ErrorKind::FileTooLarge);
        println!("{FSIZE_PASSED}");
        return;
    }
    run_under_file_size_limit();
}

#[test]
fn an_unwritable_directory_gives_create_errors_and_no_files() {
    let dir = scratch("readonly");
    let rec = Recorder::spawn(config(&dir)).expect("spawn");
    let mut feed = rec.feed();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o500)).expect("chmod");
    let probe = dir.join("probe");
    let mut _mount = None;
    if std::fs::write(&probe, b"x").is_ok() {
        // Root ignores mode bits: make the directory a read-only file system instead.
        let _ = std::fs::remove_file(&probe);
        _mount =
            Some(Mount::tmpfs(&dir, "ro,size=64k").unwrap_or_else(|e| {
                panic!("running as root but cannot mount a read-only tmpfs: {e}")
            }));
    }
    feed.start(
        2,
        &RecordingSpec {
            mix_ogg: true,
            mix_wav: true,
            tracks: true,
            name: None,
        },
        0,
    );
    feed_ticks(&mut feed, 2, 0..100, false);
    feed.stop(2, 100);
    let mut seen = Vec::new();
    wait_events(rec.events(), &mut seen, Duration::from_secs(10), |s| {
        errors(s).len() >= 3
    });
    let errs = errors(&seen);
    let denied = |e: &RecorderError| {
        matches!(
            e,
            RecorderError::Create(io::ErrorKind::PermissionDenied)
                | RecorderError::Create(io::ErrorKind::ReadOnlyFilesystem)
        )
    };
    for file in [
        RecordingFile::Mix,
        RecordingFile::MixWav,
        RecordingFile::Track { participant: 1 },
    ] {
        assert!(
            errs.iter()
                .any(|(c, f, e)| *c == 2 && *f == Some(file) && denied(e)),
            "{file:?}: {errs:?}"
        );
    }
    // One error per file, not one per frame.
    assert_eq!(errs.len(), 3, "{errs:?}");
    assert!(
        !seen
            .iter()
            .any(|e| matches!(e, RecordingEvent::Started { .. })),
        "{seen:?}"
    );
    // Writable again: recording works.
    drop(_mount);
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).expect("chmod");
    still_records(&rec, &mut feed, &mut seen);
    drop(feed);
    rec.shutdown();
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_file_deleted_while_recording_is_reported_and_the_others_go_on() {
    let dir = scratch("deleted");
    let rec = Recorder::spawn(config(&dir)).expect("spawn");
    let mut feed = rec.feed();
    feed.start(
        3,
        &RecordingSpec {
            mix_ogg: true,
            mix_wav: true,
            tracks: false,
            name: None,
        },
        0,
    );
    feed_ticks(&mut feed, 3, 0..50, true);
    let mut seen = Vec::new();
    wait_events(rec.events(), &mut seen, Duration::from_secs(10), |s| {
        s.iter()
            .filter(|e| matches!(e, RecordingEvent::Started { .. }))
            .count()
            == 2
    });
    let part = dir.join("call-3.opus.part");
    std::fs::remove_file(&part).expect("unlink the file being written");
    // Within a flush interval (200 ms here) the recorder notices.
    feed_ticks(&mut feed, 3, 50..150, true);
    wait_events(rec.events(), &mut seen, Duration::from_secs(10), |s| {
        !errors(s).is_empty()
    });
    assert_eq!(
        errors(&seen),
        vec![(3, Some(RecordingFile::Mix), RecorderError::FileDeleted)]
    );
    feed.stop(3, 150);
    wait_events(rec.events(), &mut seen, Duration::from_secs(10), |s| {
        finished(s, 3, RecordingFile::MixWav).is_some()
    });
    // The WAV is whole; the deleted file is neither recreated nor reported finished.
    let (_, wav_dur, _) = finished(&seen, 3, RecordingFile::MixWav).expect("wav");
    assert_eq!(wav_dur, Duration::from_secs(3));
    assert!(finished(&seen, 3, RecordingFile::Mix).is_none());
    assert!(!part.exists() && !dir.join("call-3.opus").exists());
    still_records(&rec, &mut feed, &mut seen);
    drop(feed);
    rec.shutdown();
    let _ = std::fs::remove_dir_all(&dir);
}
