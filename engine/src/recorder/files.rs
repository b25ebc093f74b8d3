//! One recording file each: an Ogg Opus or WAV writer on a `.part` file, positioned in
//! 48 kHz samples, with deletion detection and the final rename.

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use talko_codecs::ogg::{OggError, OggOpusWriter, OpusHead, OpusTags};
use talko_codecs::wav::{WavError, WavWriter};

use super::{RecorderError, RecordingFile};

/// Suffix of files being written.
pub(crate) const PART_SUFFIX: &str = "part";

/// Name attempts before giving up on a free file name.
const NAME_ATTEMPTS: usize = 1000;

/// A created `.part` file and the final path it will get.
struct Created {
    file: File,
    part: PathBuf,
    path: PathBuf,
}

/// Creates `<dir>/<stem>[-n].<ext>.part`, choosing the first `n` for which neither the
/// final nor the part file exists. Never overwrites anything.
fn create_part(dir: &Path, stem: &str, ext: &str) -> Result<Created, (PathBuf, RecorderError)> {
    let mut last = dir.join(format!("{stem}.{ext}"));
    for n in 0..NAME_ATTEMPTS {
        let name = if n == 0 {
            format!("{stem}.{ext}")
        } else {
            format!("{stem}-{n}.{ext}")
        };
        let path = dir.join(&name);
        let part = dir.join(format!("{name}.{PART_SUFFIX}"));
        last = path.clone();
        if path.symlink_metadata().is_ok() {
            continue;
        }
        match OpenOptions::new().write(true).create_new(true).open(&part) {
            Ok(file) => return Ok(Created { file, part, path }),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err((path, RecorderError::Create(e.kind()))),
        }
    }
    Err((last, RecorderError::Create(io::ErrorKind::AlreadyExists)))
}

pub(crate) fn samples_to_duration(samples: u64) -> Duration {
    Duration::from_secs(samples / 48_000)
        + Duration::from_nanos((samples % 48_000) * 1_000_000_000 / 48_000)
}

/// Whether the file behind `probe` has been unlinked.
fn deleted(probe: &File) -> bool {
    probe.metadata().map(|m| m.nlink() == 0).unwrap_or(false)
}

fn finish_rename(part: &Path, path: &Path, probe: &File) -> Result<u64, RecorderError> {
    if deleted(probe) {
        return Err(RecorderError::FileDeleted);
    }
    let bytes = probe.metadata().map(|m| m.len()).unwrap_or(0);
    // A final name taken meanwhile is never overwritten: keep the part file then.
    if path.symlink_metadata().is_ok() {
        return Err(RecorderError::Finish(io::ErrorKind::AlreadyExists));
    }
    std::fs::rename(part, path).map_err(|e| {
        if e.kind() == io::ErrorKind::NotFound {
            RecorderError::FileDeleted
        } else {
            RecorderError::Finish(e.kind())
        }
    })?;
    Ok(bytes)
}

fn ogg_error(e: OggError) -> RecorderError {
    match e {
        OggError::Io(kind) => RecorderError::Write(kind),
        _ => RecorderError::Write(io::ErrorKind::InvalidData),
    }
}

fn wav_error(e: WavError) -> RecorderError {
    match e {
        WavError::Io(kind) => RecorderError::Write(kind),
        WavError::TooLong => RecorderError::TooLong,
        _ => RecorderError::Write(io::ErrorKind::InvalidData),
    }
}

/// How finishing a file went.
pub(crate) type Finished = Result<Done, (PathBuf, RecorderError)>;

/// A finished file.
pub(crate) struct Done {
    pub path: PathBuf,
    pub duration: Duration,
    pub bytes: u64,
}

/// An Ogg Opus file being recorded.
pub(crate) struct OggOut {
    w: OggOpusWriter<File>,
    /// Granule position when a page last went out: pages never hold more than a second.
    page_start: u64,
    probe: File,
    part: PathBuf,
    pub path: PathBuf,
    pub kind: RecordingFile,
}

impl OggOut {
    pub fn create(
        dir: &Path,
        stem: &str,
        kind: RecordingFile,
        serial: u32,
        comments: &[&str],
    ) -> Result<OggOut, (PathBuf, RecorderError)> {
        let c = create_part(dir, stem, "opus")?;
        let probe = c
            .file
            .try_clone()
            .map_err(|e| (c.path.clone(), RecorderError::Create(e.kind())))?;
        let tags = OpusTags {
            vendor: "talko",
            comments,
        };
        let w = OggOpusWriter::new(c.file, serial, OpusHead::new(1, 48_000), &tags)
            .map_err(|e| (c.path.clone(), ogg_error(e)))?;
        Ok(OggOut {
            w,
            page_start: 0,
            probe,
            part: c.part,
            path: c.path,
            kind,
        })
    }

    /// Samples written so far (the position in the recording).
    pub fn samples(&self) -> u64 {
        self.w.granule()
    }

    /// Appends a packet; an invalid packet is replaced by `filler` (same position).
    pub fn write(&mut self, packet: &[u8], filler: &[u8]) -> Result<(), RecorderError> {
        match self.w.write_packet(packet) {
            Ok(_) => {}
            Err(OggError::BadPacket | OggError::PacketTooLarge) => {
                self.w.write_packet(filler).map_err(ogg_error)?;
            }
            Err(e) => return Err(ogg_error(e)),
        }
        self.page_by_duration()
    }

    /// Writes `filler` (a 20 ms packet) until the position reaches `target` samples.
    pub fn fill_to(&mut self, target: u64, filler: &[u8]) -> Result<(), RecorderError> {
        while self.samples() + 960 <= target {
            self.w.write_packet(filler).map_err(ogg_error)?;
            self.page_by_duration()?;
        }
        Ok(())
    }

    /// Emits the page once it holds a second of audio, whatever the wall clock says
    /// (recordings fed faster than real time, long gaps filled at once).
    fn page_by_duration(&mut self) -> Result<(), RecorderError> {
        if self.w.granule() >= self.page_start + 48_000 {
            self.w.flush_page().map_err(ogg_error)?;
            self.page_start = self.w.granule();
        }
        Ok(())
    }

    pub fn flush(&mut self) -> Result<(), RecorderError> {
        if deleted(&self.probe) {
            return Err(RecorderError::FileDeleted);
        }
        self.page_start = self.w.granule();
        self.w.flush_page().map_err(ogg_error)
    }

    pub fn finish(self) -> Finished {
        let OggOut {
            w,
            probe,
            part,
            path,
            ..
        } = self;
        let duration = samples_to_duration(w.duration_samples());
        if let Err(e) = w.finish() {
            return Err((path, ogg_error(e)));
        }
        match finish_rename(&part, &path, &probe) {
            Ok(bytes) => Ok(Done {
                path,
                duration,
                bytes,
            }),
            Err(e) => Err((path, e)),
        }
    }
}

/// A WAV file being recorded.
pub(crate) struct WavOut {
    w: WavWriter<BufWriter<File>>,
    probe: File,
    part: PathBuf,
    pub path: PathBuf,
}

impl WavOut {
    pub fn create(dir: &Path, stem: &str) -> Result<WavOut, (PathBuf, RecorderError)> {
        let c = create_part(dir, stem, "wav")?;
        let probe = c
            .file
            .try_clone()
            .map_err(|e| (c.path.clone(), RecorderError::Create(e.kind())))?;
        let mut w = WavWriter::new(BufWriter::with_capacity(64 * 1024, c.file))
            .map_err(|e| (c.path.clone(), wav_error(e)))?;
        // Put a valid (empty) header on disk right away.
        w.flush().map_err(|e| (c.path.clone(), wav_error(e)))?;
        Ok(WavOut {
            w,
            probe,
            part: c.part,
            path: c.path,
        })
    }

    pub fn samples(&self) -> u64 {
        self.w.samples()
    }

    pub fn write(&mut self, pcm: &[i16]) -> Result<(), RecorderError> {
        self.w.write_samples(pcm).map_err(wav_error)
    }

    /// Writes zeros until the position reaches `target` samples.
    pub fn fill_to(&mut self, target: u64) -> Result<(), RecorderError> {
        let missing = target.saturating_sub(self.samples());
        let missing = usize::try_from(missing).map_err(|_| RecorderError::TooLong)?;
        self.w.write_silence(missing).map_err(wav_error)
    }

    pub fn flush(&mut self) -> Result<(), RecorderError> {
        if deleted(&self.probe) {
            return Err(RecorderError::FileDeleted);
        }
        self.w.flush().map_err(wav_error)
    }

    pub fn finish(self) -> Finished {
        let WavOut {
            w,
            probe,
            part,
            path,
        } = self;
        let duration = samples_to_duration(w.samples());
        if let Err(e) = w.finish() {
            return Err((path, wav_error(e)));
        }
        match finish_rename(&part, &path, &probe) {
            Ok(bytes) => Ok(Done {
                path,
                duration,
                bytes,
            }),
            Err(e) => Err((path, e)),
        }
    }
}
