//! Call recording, off the media path (DESIGN.md §3 "recorder").
//!
//! A [`Recorder`] owns one recorder thread that writes, per recorded call, the full mix as
//! Ogg Opus (the mixer's shared packets, never re-encoded), optionally the mix as WAV, and
//! optionally one Ogg Opus track per participant (their received packets, never
//! transcoded). Media threads talk to it only through a [`RecorderFeed`]: a pool of
//! preallocated frames that circulates between the feed and the recorder over bounded
//! channels, used with `try_recv`/`try_send` only. A feed never blocks and never
//! allocates in steady state; when the pool or the ring is exhausted it counts a drop and
//! the recorder fills the gap, so the call is never stalled by the disk.
//!
//! Everything is positioned by the engine's 20 ms tick, not by packet arrival: ticks
//! without audio (DTX, loss, drops, mutes, participants who joined late) are filled with
//! a silent Opus frame (or zero PCM), so a recording lasts exactly as long as the call and
//! every track is sample-aligned with the mix from the call's start tick.
//!
//! Files are written as `<name>.opus.part` / `.wav.part` and renamed when finished. Ogg
//! pages and the WAV header are flushed every `flush_interval` (at most a second), so a
//! crash leaves a playable `.part` file; [`Recorder::recover`] (run by
//! [`Recorder::spawn`]) finalizes such files (end-of-stream page, WAV sizes) and renames
//! them.
//!
//! This module must never block or allocate on a media thread (feed side), never panic on
//! I/O failure (every failure is a [`RecordingEvent::Error`]), and never read the clock on
//! the feed side.

mod feed;
mod files;
mod recover;
mod worker;

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

pub use feed::RecorderFeed;
pub use recover::RecoveredFile;

use feed::Msg;

/// Samples of one 20 ms tick at 48 kHz.
pub const TICK_SAMPLES: usize = 960;
/// Duration of one tick.
pub const TICK: Duration = Duration::from_millis(20);
/// The largest Opus packet a feed frame holds (one datagram's worth).
pub const MAX_FRAME_OPUS: usize = 1500;
/// Extra ring slots kept for start/stop messages beyond `ring_capacity` frames.
pub const CONTROL_RESERVE: usize = 256;

/// How and where to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecorderConfig {
    /// Directory of the recordings (created if missing).
    pub dir: PathBuf,
    /// File name template: `{call}` (call id), `{start}` (Unix seconds when recording
    /// started), `{tick}` (the engine tick it started at). A spec's `name` replaces it.
    pub name_template: String,
    /// Frames each feed preallocates, and frames the ring holds in flight.
    pub ring_capacity: usize,
    /// How often Ogg pages and the WAV header go to disk (clamped to at most 1 s).
    pub flush_interval: Duration,
    /// Whether WAV recordings of the mix are allowed.
    pub wav: bool,
    /// Whether per-participant tracks are allowed.
    pub tracks: bool,
}

impl Default for RecorderConfig {
    fn default() -> Self {
        RecorderConfig {
            dir: PathBuf::from("recordings"),
            name_template: "{call}-{start}".to_owned(),
            ring_capacity: 2048,
            flush_interval: Duration::from_secs(1),
            wav: true,
            tracks: true,
        }
    }
}

/// What to record of one call (the engine's `StartRecording` command carries it).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct RecordingSpec {
    /// The full mix as Ogg Opus.
    pub mix_ogg: bool,
    /// The full mix as WAV (if the configuration allows WAV).
    pub mix_wav: bool,
    /// One Ogg Opus track per participant (if the configuration allows tracks).
    pub tracks: bool,
    /// File name stem instead of the configured template (sanitised to one path component).
    pub name: Option<String>,
}

/// Which file of a recording an event is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RecordingFile {
    /// The full mix, Ogg Opus.
    Mix,
    /// The full mix, WAV.
    MixWav,
    /// One participant's received audio, Ogg Opus.
    Track {
        /// The participant.
        participant: u64,
    },
}

/// What went wrong with a recording.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecorderError {
    /// The file could not be created (unwritable or missing directory, ...).
    Create(io::ErrorKind),
    /// Writing or flushing failed (full disk, I/O error); the file stays as `.part`
    /// holding what reached the disk, and start-up recovery finalizes it.
    Write(io::ErrorKind),
    /// The file was deleted while being recorded. Recording of that file stops (writing
    /// on to an unlinked inode would only waste disk); the call's other files go on.
    FileDeleted,
    /// Finishing (final page or header, rename) failed.
    Finish(io::ErrorKind),
    /// The WAV file reached the 4 GiB RIFF limit; that file stops.
    TooLong,
    /// A start for a call that is already recording (ignored).
    AlreadyRecording,
    /// A stop for a call that is not recording (ignored).
    NotRecording,
    /// An unfinished file found at start-up could not be repaired; it is left as is.
    Unrecoverable,
}

impl fmt::Display for RecorderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecorderError::Create(k) => write!(f, "recording file could not be created: {k}"),
            RecorderError::Write(k) => write!(f, "recording write failed: {k}"),
            RecorderError::FileDeleted => f.write_str("recording file was deleted while recording"),
            RecorderError::Finish(k) => write!(f, "recording could not be finished: {k}"),
            RecorderError::TooLong => f.write_str("WAV recording reached the 4 GiB limit"),
            RecorderError::AlreadyRecording => f.write_str("call is already recording"),
            RecorderError::NotRecording => f.write_str("call is not recording"),
            RecorderError::Unrecoverable => f.write_str("unfinished recording cannot be repaired"),
        }
    }
}

impl std::error::Error for RecorderError {}

/// What the recorder reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordingEvent {
    /// A file was created and is being written.
    Started {
        /// The call.
        call: u64,
        /// Which file.
        file: RecordingFile,
        /// Where it will be once finished (it is written as `<path>.part` until then).
        path: PathBuf,
    },
    /// A file was finished and renamed to `path`.
    Finished {
        /// The call.
        call: u64,
        /// Which file.
        file: RecordingFile,
        /// The finished file.
        path: PathBuf,
        /// Playable duration.
        duration: Duration,
        /// File size.
        bytes: u64,
    },
    /// Something failed; the engine and the other files are unaffected.
    Error {
        /// The call (0 for start-up recovery).
        call: u64,
        /// Which file, when the failure concerns one.
        file: Option<RecordingFile>,
        /// The file's path, when known.
        path: Option<PathBuf>,
        /// What failed.
        error: RecorderError,
    },
    /// Frames the feed could not hand over (ring full): the recording has silence there.
    Dropped {
        /// The call.
        call: u64,
        /// Frames dropped since the last report.
        frames: u64,
    },
    /// An unfinished file left by a crash was finalized at start-up.
    Recovered {
        /// The finalized file.
        path: PathBuf,
        /// Its playable duration.
        duration: Duration,
        /// Its size.
        bytes: u64,
    },
}

/// Counters shared by the feeds and the recorder thread.
#[derive(Debug, Default)]
pub(crate) struct Shared {
    /// Frames in the ring (sent, not yet received).
    pub queued: AtomicUsize,
    /// Frames dropped by all feeds.
    pub dropped: AtomicU64,
    /// Frames the recorder thread took in.
    pub received: AtomicU64,
    /// Feeds handed out (each gets its own frame pool).
    pub feeds: AtomicUsize,
}

/// The recorder: its thread, its ring and its events.
pub struct Recorder {
    tx: SyncSender<Msg>,
    events: Receiver<RecordingEvent>,
    thread: Option<JoinHandle<()>>,
    shared: Arc<Shared>,
    ring_capacity: usize,
}

impl Recorder {
    /// Creates the directory, finalizes recordings a crash left unfinished there (each
    /// reported as [`RecordingEvent::Recovered`] or an error event), and starts the
    /// recorder thread.
    pub fn spawn(mut config: RecorderConfig) -> io::Result<Recorder> {
        config.flush_interval = config.flush_interval.min(Duration::from_secs(1));
        config.ring_capacity = config.ring_capacity.max(1);
        std::fs::create_dir_all(&config.dir)?;
        let (event_tx, events) = mpsc::channel();
        for outcome in recover::recover_dir(&config.dir)? {
            let event = match outcome {
                Ok(file) => RecordingEvent::Recovered {
                    path: file.path,
                    duration: file.duration,
                    bytes: file.bytes,
                },
                Err((path, error)) => RecordingEvent::Error {
                    call: 0,
                    file: None,
                    path: Some(path),
                    error,
                },
            };
            let _ = event_tx.send(event);
        }
        let ring_capacity = config.ring_capacity;
        let (tx, rx) = mpsc::sync_channel(ring_capacity + CONTROL_RESERVE);
        let shared = Arc::new(Shared::default());
        let worker = worker::Worker::new(config, rx, event_tx, Arc::clone(&shared));
        let thread = std::thread::Builder::new()
            .name("talko-recorder".to_owned())
            .spawn(move || worker.run())?;
        Ok(Recorder {
            tx,
            events,
            thread: Some(thread),
            shared,
            ring_capacity,
        })
    }

    /// A new producer for one media (shard) thread, with its own pool of
    /// `ring_capacity` preallocated frames. Allocates; call at set-up, not per tick.
    pub fn feed(&self) -> RecorderFeed {
        let home = self.shared.feeds.fetch_add(1, Ordering::Relaxed);
        RecorderFeed::new(
            home,
            self.tx.clone(),
            Arc::clone(&self.shared),
            self.ring_capacity,
        )
    }

    /// Recording events. Unbounded: drain it regularly.
    pub fn events(&self) -> &Receiver<RecordingEvent> {
        &self.events
    }

    /// Frames dropped by all feeds so far (ring or pool exhausted, oversized packets).
    pub fn dropped_frames(&self) -> u64 {
        self.shared.dropped.load(Ordering::Relaxed)
    }

    /// Frames handed over by the feeds and not yet taken in by the recorder thread (ring
    /// occupancy; at `ring_capacity` the feeds drop).
    pub fn queued_frames(&self) -> usize {
        self.shared.queued.load(Ordering::Relaxed)
    }

    /// Finishes every recording still running (as if stopped at its last tick), stops
    /// the thread and waits for it. Events stay readable through the returned receiver.
    pub fn shutdown(mut self) -> Receiver<RecordingEvent> {
        let _ = self.tx.send(Msg::Shutdown);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        let (_, dummy) = mpsc::channel();
        std::mem::replace(&mut self.events, dummy)
    }

    /// Finalizes the unfinished recordings (`*.part`) in `dir`: cuts a torn last page,
    /// marks the last Ogg page end-of-stream, fixes the WAV sizes, and renames each file
    /// to its final name. Returns one outcome per file.
    pub fn recover(dir: &Path) -> io::Result<Vec<Result<RecoveredFile, (PathBuf, RecorderError)>>> {
        recover::recover_dir(dir)
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        if let Some(t) = self.thread.take() {
            let _ = self.tx.send(Msg::Shutdown);
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn feed_and_recorder_can_move_to_other_threads() {
        fn send<T: Send>() {}
        send::<super::RecorderFeed>();
        send::<super::Recorder>();
        send::<super::RecordingEvent>();
    }
}
