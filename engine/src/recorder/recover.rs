//! Start-up recovery: finalizes the `.part` files a crash left in the recording
//! directory (Ogg: cut a torn page, mark the last page end-of-stream; WAV: cut a torn
//! sample, fix the RIFF and data sizes) and renames them to their final names.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use talko_codecs::ogg::{repair, OggOpusReader};
use talko_codecs::wav;

use super::files::{samples_to_duration, PART_SUFFIX};
use super::RecorderError;

/// A recording finalized by recovery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecoveredFile {
    /// Its final path.
    pub path: PathBuf,
    /// Playable duration.
    pub duration: Duration,
    /// Size after repair.
    pub bytes: u64,
}

/// Outcome per `.part` file in `dir`.
pub(crate) type Outcome = Result<RecoveredFile, (PathBuf, RecorderError)>;

pub(crate) fn recover_dir(dir: &Path) -> io::Result<Vec<Outcome>> {
    let mut outcomes = Vec::new();
    let mut parts: Vec<PathBuf> = fs::read_dir(dir)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == PART_SUFFIX) && p.is_file())
        .collect();
    parts.sort();
    for part in parts {
        let Some(final_path) = part.file_stem().map(|s| dir.join(s)) else {
            continue;
        };
        let is_ogg = final_path.extension().is_some_and(|e| e == "opus");
        let is_wav = final_path.extension().is_some_and(|e| e == "wav");
        let r = if is_ogg {
            recover_ogg(&part)
        } else if is_wav {
            recover_wav(&part)
        } else {
            continue;
        };
        outcomes.push(match r {
            Ok(duration) => finalize_name(&part, &final_path, duration),
            Err(e) => Err((part, e)),
        });
    }
    Ok(outcomes)
}

fn finalize_name(part: &Path, final_path: &Path, duration: Duration) -> Outcome {
    // Never overwrite a finished recording: pick a free name.
    let mut target = final_path.to_path_buf();
    let stem = final_path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("recording");
    let ext = final_path
        .extension()
        .and_then(|s| s.to_str())
        .unwrap_or("");
    let mut n = 0;
    while target.symlink_metadata().is_ok() {
        n += 1;
        if n > 1000 {
            return Err((
                part.to_path_buf(),
                RecorderError::Finish(io::ErrorKind::AlreadyExists),
            ));
        }
        target = final_path.with_file_name(format!("{stem}-recovered-{n}.{ext}"));
    }
    fs::rename(part, &target).map_err(|e| (part.to_path_buf(), RecorderError::Finish(e.kind())))?;
    let bytes = fs::metadata(&target).map(|m| m.len()).unwrap_or(0);
    Ok(RecoveredFile {
        path: target,
        duration,
        bytes,
    })
}

fn io_err(e: io::Error) -> RecorderError {
    RecorderError::Finish(e.kind())
}

fn recover_ogg(part: &Path) -> Result<Duration, RecorderError> {
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .open(part)
        .map_err(io_err)?;
    let mut data = Vec::new();
    file.read_to_end(&mut data).map_err(io_err)?;
    let plan = repair::plan(&data).map_err(|_| RecorderError::Unrecoverable)?;
    let (offset, len) = plan.last_page;
    let mut page = data
        .get(offset..offset + len)
        .ok_or(RecorderError::Unrecoverable)?
        .to_vec();
    if !plan.already_finished {
        repair::mark_eos(&mut page).map_err(|_| RecorderError::Unrecoverable)?;
    }
    let keep = data
        .get_mut(..plan.keep_len)
        .ok_or(RecorderError::Unrecoverable)?;
    if let Some(dst) = keep.get_mut(offset..offset + len) {
        dst.copy_from_slice(&page);
    }
    // Check the result before touching the file.
    let reader = OggOpusReader::new(keep).map_err(|_| RecorderError::Unrecoverable)?;
    file.set_len(plan.keep_len as u64).map_err(io_err)?;
    file.seek(SeekFrom::Start(offset as u64)).map_err(io_err)?;
    file.write_all(&page).map_err(io_err)?;
    file.sync_all().map_err(io_err)?;
    Ok(reader.duration())
}

fn recover_wav(part: &Path) -> Result<Duration, RecorderError> {
    let mut file: File = OpenOptions::new()
        .read(true)
        .write(true)
        .open(part)
        .map_err(io_err)?;
    let len = file.metadata().map_err(io_err)?.len();
    let mut head = vec![0u8; 4096];
    let mut filled = 0;
    while filled < head.len() {
        let n = file
            .read(head.get_mut(filled..).unwrap_or(&mut []))
            .map_err(io_err)?;
        if n == 0 {
            break;
        }
        filled += n;
    }
    head.truncate(filled);
    let plan = wav::repair_plan(&head, len).map_err(|_| RecorderError::Unrecoverable)?;
    if !plan.already_valid {
        file.set_len(plan.keep_len).map_err(io_err)?;
        file.seek(SeekFrom::Start(4)).map_err(io_err)?;
        file.write_all(&plan.riff_size.to_le_bytes())
            .map_err(io_err)?;
        file.seek(SeekFrom::Start(plan.data_size_offset))
            .map_err(io_err)?;
        file.write_all(&plan.data_size.to_le_bytes())
            .map_err(io_err)?;
        file.sync_all().map_err(io_err)?;
    }
    Ok(samples_to_duration(u64::from(plan.data_size) / 2))
}
