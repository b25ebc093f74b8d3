//! WAV (RIFF/WAVE PCM) recording: a 48 kHz, 16-bit, mono writer on `hound`, and the
//! header repair a crash-cut file needs.
//!
//! This module owns the WAV format decisions (rate, width, channels) and the header
//! arithmetic of [`repair_plan`]. It must never read a clock or panic on a malformed
//! header: bad bytes give a [`WavError`].

use core::fmt;
use std::io::{Seek, Write};

/// Sample rate of talko's WAV recordings.
pub const SAMPLE_RATE: u32 = 48_000;
/// Bits per sample.
pub const BITS_PER_SAMPLE: u16 = 16;
/// Channels.
pub const CHANNELS: u16 = 1;

/// Why writing or repairing a WAV file failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WavError {
    /// The output failed.
    Io(std::io::ErrorKind),
    /// The file would exceed the 4 GiB RIFF limit.
    TooLong,
    /// The header is not RIFF/WAVE or has no `data` chunk where it should.
    BadHeader,
    /// The writer failed earlier or was finished.
    WriterClosed,
    /// hound rejected the format or a sample.
    Format,
}

impl fmt::Display for WavError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WavError::Io(kind) => write!(f, "wav: write failed: {kind}"),
            WavError::TooLong => f.write_str("wav: file would exceed 4 GiB"),
            WavError::BadHeader => f.write_str("wav: not a RIFF/WAVE header with a data chunk"),
            WavError::WriterClosed => f.write_str("wav: writer already finished or failed"),
            WavError::Format => f.write_str("wav: format or sample rejected"),
        }
    }
}

impl std::error::Error for WavError {}

impl From<hound::Error> for WavError {
    fn from(e: hound::Error) -> Self {
        match e {
            hound::Error::IoError(io) => WavError::Io(io.kind()),
            _ => WavError::Format,
        }
    }
}

/// The RIFF/WAVE spec talko records with.
pub fn spec() -> hound::WavSpec {
    hound::WavSpec {
        channels: CHANNELS,
        sample_rate: SAMPLE_RATE,
        bits_per_sample: BITS_PER_SAMPLE,
        sample_format: hound::SampleFormat::Int,
    }
}

/// Largest data chunk: the RIFF size field is 32 bits and counts the header too.
const MAX_DATA_BYTES: u64 = u32::MAX as u64 - 64;

/// Writes 48 kHz 16-bit mono PCM. [`flush`](Self::flush) rewrites the header sizes, so a
/// file flushed once a second is a valid WAV up to its last flush whatever happens next.
///
/// hound's writer keeps one sample buffer that [`write_samples`](Self::write_samples)
/// reuses; give it a buffered `W` (e.g. `BufWriter<File>`): hound does not buffer.
pub struct WavWriter<W: Write + Seek> {
    inner: Option<hound::WavWriter<W>>,
    samples: u64,
}

impl<W: Write + Seek> WavWriter<W> {
    /// Writes the header to `out` (positioned at 0).
    pub fn new(out: W) -> Result<WavWriter<W>, WavError> {
        Ok(WavWriter {
            inner: Some(hound::WavWriter::new(out, spec())?),
            samples: 0,
        })
    }

    /// Appends samples.
    pub fn write_samples(&mut self, pcm: &[i16]) -> Result<(), WavError> {
        if (self.samples + pcm.len() as u64) * 2 > MAX_DATA_BYTES {
            return Err(WavError::TooLong);
        }
        let inner = self.inner.as_mut().ok_or(WavError::WriterClosed)?;
        let Ok(count) = u32::try_from(pcm.len()) else {
            return Err(WavError::TooLong);
        };
        let mut w = inner.get_i16_writer(count);
        for &s in pcm {
            // The writer was sized for exactly `pcm.len()` samples.
            w.write_sample(s);
        }
        match w.flush() {
            Ok(()) => {
                self.samples += pcm.len() as u64;
                Ok(())
            }
            Err(e) => {
                self.inner = None;
                Err(e.into())
            }
        }
    }

    /// Appends `count` zero samples.
    pub fn write_silence(&mut self, mut count: usize) -> Result<(), WavError> {
        const ZEROS: [i16; 960] = [0; 960];
        while count > 0 {
            let n = count.min(ZEROS.len());
            self.write_samples(ZEROS.get(..n).unwrap_or(&[]))?;
            count -= n;
        }
        Ok(())
    }

    /// Rewrites the header for the samples written so far and flushes the output.
    pub fn flush(&mut self) -> Result<(), WavError> {
        let inner = self.inner.as_mut().ok_or(WavError::WriterClosed)?;
        let r = inner.flush();
        if r.is_err() {
            self.inner = None;
        }
        Ok(r?)
    }

    /// Writes the final header and flushes.
    pub fn finish(mut self) -> Result<(), WavError> {
        let inner = self.inner.take().ok_or(WavError::WriterClosed)?;
        Ok(inner.finalize()?)
    }

    /// Samples written so far.
    pub fn samples(&self) -> u64 {
        self.samples
    }

    /// File size so far: hound's 44-byte PCM header plus the data.
    pub fn bytes(&self) -> u64 {
        44 + 2 * self.samples
    }
}

/// The header fields to rewrite so that a crash-cut WAV file of `file_len` bytes, whose
/// first bytes are `head`, covers every whole sample it holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WavRepair {
    /// New value of the RIFF chunk size (at offset 4).
    pub riff_size: u32,
    /// Offset of the `data` chunk's size field.
    pub data_size_offset: u64,
    /// New value of the `data` chunk size.
    pub data_size: u32,
    /// Bytes to keep (a trailing half sample is cut).
    pub keep_len: u64,
    /// Whether the header already says exactly this.
    pub already_valid: bool,
}

/// Plans the header repair. `head` must hold the header up to the `data` chunk's payload
/// (a few hundred bytes are plenty).
pub fn repair_plan(head: &[u8], file_len: u64) -> Result<WavRepair, WavError> {
    let u32_at = |at: usize| -> Result<u32, WavError> {
        let b = head.get(at..at + 4).ok_or(WavError::BadHeader)?;
        Ok(u32::from_le_bytes(
            b.try_into().map_err(|_| WavError::BadHeader)?,
        ))
    };
    if head.get(..4) != Some(b"RIFF") || head.get(8..12) != Some(b"WAVE") {
        return Err(WavError::BadHeader);
    }
    let mut at = 12usize;
    loop {
        let id = head.get(at..at + 4).ok_or(WavError::BadHeader)?;
        let size = u32_at(at + 4)?;
        if id == b"data" {
            let data_start = at as u64 + 8;
            let data_len = file_len
                .checked_sub(data_start)
                .ok_or(WavError::BadHeader)?
                .min(MAX_DATA_BYTES)
                & !1;
            let keep_len = data_start + data_len;
            let riff_size = u32::try_from(keep_len - 8).map_err(|_| WavError::TooLong)?;
            let data_size = u32::try_from(data_len).map_err(|_| WavError::TooLong)?;
            return Ok(WavRepair {
                riff_size,
                data_size_offset: at as u64 + 4,
                data_size,
                keep_len,
                already_valid: size == data_size && u32_at(4)? == riff_size,
            });
        }
        // Chunks are padded to an even length.
        let skip = usize::try_from(size).map_err(|_| WavError::BadHeader)?;
        at = at
            .checked_add(8 + skip + (skip & 1))
            .ok_or(WavError::BadHeader)?;
    }
}
