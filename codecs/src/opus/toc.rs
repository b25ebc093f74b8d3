//! Opus packet inspection without decoding (RFC 6716 §3): the TOC byte, the frame count,
//! every frame's bytes, padding, and the packet's duration.
//!
//! This module owns the framing rules R1–R7 of RFC 6716 §3.4 and rejects every packet
//! that breaks one, with a [`OpusPacketError`] naming the rule. It must never decode
//! audio, allocate, or panic: [`OpusPacket`] is a borrowed view validated once by
//! `TryFrom<&[u8]>`, with the frame lengths held in a fixed array of [`MAX_FRAMES`]
//! (120 ms of 2.5 ms frames); its accessors cannot fail.

use core::fmt;
use core::time::Duration;

/// The most frames one packet can carry: 120 ms of 2.5 ms CELT frames (RFC 6716 §3.2.5).
pub const MAX_FRAMES: usize = 48;
/// The longest frame in bytes (RFC 6716 §3.2.1, R2).
pub const MAX_FRAME_LEN: usize = 1275;
/// The longest packet in 48 kHz samples: 120 ms (RFC 6716 §3.2.5, R5).
pub const MAX_PACKET_SAMPLES_48K: u32 = 5760;

/// The coding mode a TOC configuration selects (RFC 6716 §3.1, Table 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mode {
    /// SILK-only (configurations 0–11).
    Silk,
    /// SILK and CELT together (configurations 12–15).
    Hybrid,
    /// CELT-only (configurations 16–31).
    Celt,
}

/// The audio bandwidth a TOC configuration selects (RFC 6716 §2, Table 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Bandwidth {
    /// 4 kHz audio bandwidth, 8 kHz effective sample rate.
    Narrow,
    /// 6 kHz, 12 kHz effective sample rate.
    Medium,
    /// 8 kHz, 16 kHz effective sample rate.
    Wide,
    /// 12 kHz, 24 kHz effective sample rate.
    SuperWide,
    /// 20 kHz, 48 kHz effective sample rate.
    Full,
}

impl Bandwidth {
    /// The effective sample rate of this bandwidth in Hz.
    pub fn sample_rate(self) -> u32 {
        match self {
            Bandwidth::Narrow => 8_000,
            Bandwidth::Medium => 12_000,
            Bandwidth::Wide => 16_000,
            Bandwidth::SuperWide => 24_000,
            Bandwidth::Full => 48_000,
        }
    }
}

/// The table-of-contents byte that starts every Opus packet (RFC 6716 §3.1).
///
/// Every byte value is a valid TOC, so this cannot fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Toc(u8);

impl Toc {
    /// Wraps a TOC byte.
    pub const fn new(byte: u8) -> Toc {
        Toc(byte)
    }

    /// The raw byte.
    pub const fn byte(self) -> u8 {
        self.0
    }

    /// The configuration number 0–31 (bits 7–3).
    pub const fn config(self) -> u8 {
        self.0 >> 3
    }

    /// Whether the frames are stereo (bit 2).
    pub const fn stereo(self) -> bool {
        self.0 & 0x04 != 0
    }

    /// The frame-count code 0–3 (bits 1–0): 0 one frame, 1 two equal frames, 2 two
    /// frames of different sizes, 3 an arbitrary number of frames.
    pub const fn code(self) -> u8 {
        self.0 & 0x03
    }

    /// The coding mode.
    pub const fn mode(self) -> Mode {
        match self.config() {
            0..=11 => Mode::Silk,
            12..=15 => Mode::Hybrid,
            _ => Mode::Celt,
        }
    }

    /// The audio bandwidth.
    pub const fn bandwidth(self) -> Bandwidth {
        match self.config() {
            0..=3 | 16..=19 => Bandwidth::Narrow,
            4..=7 => Bandwidth::Medium,
            8..=11 | 20..=23 => Bandwidth::Wide,
            12 | 13 | 24..=27 => Bandwidth::SuperWide,
            _ => Bandwidth::Full,
        }
    }

    /// The duration of one frame in samples at 48 kHz (the RTP clock of Opus, RFC 7587):
    /// 120 (2.5 ms), 240, 480, 960, 1920 or 2880 (60 ms).
    pub const fn frame_samples_48k(self) -> u32 {
        let config = self.config();
        match self.mode() {
            // SILK: 10, 20, 40, 60 ms.
            Mode::Silk => match config % 4 {
                0 => 480,
                1 => 960,
                2 => 1920,
                _ => 2880,
            },
            // Hybrid: 10, 20 ms.
            Mode::Hybrid => {
                if config.is_multiple_of(2) {
                    480
                } else {
                    960
                }
            }
            // CELT: 2.5, 5, 10, 20 ms.
            Mode::Celt => 120 << (config % 4),
        }
    }

    /// The duration of one frame.
    pub const fn frame_duration(self) -> Duration {
        // 48 kHz: one sample is 62_500 / 3 ns; every frame size is a multiple of 3 samples.
        Duration::from_micros(self.frame_samples_48k() as u64 * 1000 / 48)
    }
}

/// Why a byte string is not a valid Opus packet (RFC 6716 §3.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OpusPacketError {
    /// No bytes at all (R1).
    Empty,
    /// A frame longer than 1275 bytes (R2).
    FrameTooLong,
    /// Code 1 with an odd number of bytes after the TOC (R3).
    OddCbrLength,
    /// Code 3 CBR whose frame bytes do not divide evenly by the frame count (R6).
    UnevenCbrLength,
    /// Code 3 with a frame count of 0 (R5).
    BadCode3Count,
    /// More than 120 ms of audio in one packet (R5).
    TooLong,
    /// A frame-count byte, frame length or frame that runs past the end (R4, R7).
    Truncated,
    /// Code 3 padding that runs past the end of the packet (R6, R7).
    BadPadding,
}

impl fmt::Display for OpusPacketError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            OpusPacketError::Empty => "empty Opus packet",
            OpusPacketError::FrameTooLong => "Opus frame longer than 1275 bytes",
            OpusPacketError::OddCbrLength => "Opus code 1 packet with an odd payload length",
            OpusPacketError::UnevenCbrLength => {
                "Opus code 3 CBR payload not divisible by the frame count"
            }
            OpusPacketError::BadCode3Count => "Opus code 3 packet with a frame count of 0",
            OpusPacketError::TooLong => "Opus packet longer than 120 ms",
            OpusPacketError::Truncated => "Opus frame or frame length past the end of the packet",
            OpusPacketError::BadPadding => "Opus padding past the end of the packet",
        })
    }
}

impl std::error::Error for OpusPacketError {}

/// A validated Opus packet: its TOC and the position of every frame.
///
/// Frames are contiguous after the header, so the view keeps only where they start and
/// each one's length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpusPacket<'a> {
    packet: &'a [u8],
    toc: Toc,
    count: u8,
    vbr: bool,
    frames_start: usize,
    padding_len: usize,
    lens: [u16; MAX_FRAMES],
}

impl<'a> OpusPacket<'a> {
    /// The TOC byte.
    pub fn toc(&self) -> Toc {
        self.toc
    }

    /// How many frames the packet carries (1–48).
    pub fn frame_count(&self) -> usize {
        usize::from(self.count)
    }

    /// Whether frames may differ in length (code 2, or code 3 with the VBR flag).
    pub fn is_vbr(&self) -> bool {
        self.vbr
    }

    /// The frames in order. A frame of length 0 is a DTX or lost frame (RFC 6716 §3.2.1).
    pub fn frames(&self) -> Frames<'a> {
        Frames {
            rest: self.packet.get(self.frames_start..).unwrap_or_default(),
            lens: self.lens,
            next: 0,
            count: self.count,
        }
    }

    /// The length of every frame, in order.
    pub fn frame_lens(&self) -> &[u16] {
        self.lens.get(..self.frame_count()).unwrap_or_default()
    }

    /// The code 3 padding bytes at the end of the packet (empty when there are none).
    pub fn padding(&self) -> &'a [u8] {
        let start = self.packet.len().saturating_sub(self.padding_len);
        self.packet.get(start..).unwrap_or_default()
    }

    /// The whole packet.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.packet
    }

    /// The packet's duration in 48 kHz samples (at most 5760, 120 ms).
    pub fn duration_samples_48k(&self) -> u32 {
        self.toc.frame_samples_48k() * u32::from(self.count)
    }

    /// The packet's duration.
    pub fn duration(&self) -> Duration {
        self.toc.frame_duration() * u32::from(self.count)
    }
}

/// The duration of a valid Opus packet in 48 kHz samples; the counterpart of libopus's
/// `opus_packet_get_nb_samples` at 48 kHz, but checking the whole packet (R1–R7).
pub fn packet_samples_48k(packet: &[u8]) -> Result<u32, OpusPacketError> {
    OpusPacket::try_from(packet).map(|p| p.duration_samples_48k())
}

/// Reads a frame length (RFC 6716 §3.2.1): one byte 0–251, or two bytes `b0 + 4·b1` when
/// the first is 252–255. Returns the length and the remaining bytes.
fn frame_len(bytes: &[u8]) -> Result<(u16, &[u8]), OpusPacketError> {
    match bytes {
        [b0 @ 0..=251, rest @ ..] => Ok((u16::from(*b0), rest)),
        [b0, b1, rest @ ..] => Ok((u16::from(*b0) + 4 * u16::from(*b1), rest)),
        _ => Err(OpusPacketError::Truncated),
    }
}

fn checked_frame_len(len: usize) -> Result<u16, OpusPacketError> {
    if len > MAX_FRAME_LEN {
        return Err(OpusPacketError::FrameTooLong);
    }
    u16::try_from(len).map_err(|_| OpusPacketError::FrameTooLong)
}

impl<'a> TryFrom<&'a [u8]> for OpusPacket<'a> {
    type Error = OpusPacketError;

    /// Validates the packet against R1–R7 of RFC 6716 §3.4.
    fn try_from(packet: &'a [u8]) -> Result<Self, Self::Error> {
        let (&toc_byte, after_toc) = packet.split_first().ok_or(OpusPacketError::Empty)?;
        let toc = Toc(toc_byte);
        let mut lens = [0u16; MAX_FRAMES];
        let mut padding_len = 0;
        let mut vbr = false;
        let (count, frames): (u8, &[u8]) = match toc.code() {
            0 => {
                lens[0] = checked_frame_len(after_toc.len())?;
                (1, after_toc)
            }
            1 => {
                if after_toc.len() % 2 != 0 {
                    return Err(OpusPacketError::OddCbrLength);
                }
                let each = checked_frame_len(after_toc.len() / 2)?;
                lens[0] = each;
                lens[1] = each;
                (2, after_toc)
            }
            2 => {
                vbr = true;
                let (first, frames) = frame_len(after_toc)?;
                let second = frames
                    .len()
                    .checked_sub(usize::from(first))
                    .ok_or(OpusPacketError::Truncated)?;
                lens[0] = first;
                lens[1] = checked_frame_len(second)?;
                (2, frames)
            }
            _ => {
                let (&count_byte, mut rest) =
                    after_toc.split_first().ok_or(OpusPacketError::Truncated)?;
                let count = count_byte & 0x3F;
                if count == 0 {
                    return Err(OpusPacketError::BadCode3Count);
                }
                if toc.frame_samples_48k() * u32::from(count) > MAX_PACKET_SAMPLES_48K {
                    return Err(OpusPacketError::TooLong);
                }
                if count_byte & 0x40 != 0 {
                    // Padding length: bytes of 255 add 254 and continue; the first byte
                    // below 255 adds itself and ends the length.
                    loop {
                        let (&p, after) = rest.split_first().ok_or(OpusPacketError::BadPadding)?;
                        rest = after;
                        padding_len += if p == 255 { 254 } else { usize::from(p) };
                        if p != 255 {
                            break;
                        }
                    }
                }
                let data_len = rest
                    .len()
                    .checked_sub(padding_len)
                    .ok_or(OpusPacketError::BadPadding)?;
                let count_us = usize::from(count);
                if count_byte & 0x80 != 0 {
                    vbr = true;
                    // M-1 frame lengths, then the frames; the last takes what is left.
                    let mut remaining = data_len;
                    for len in lens.iter_mut().take(count_us - 1) {
                        let (l, after) = frame_len(rest)?;
                        remaining = remaining
                            .checked_sub(rest.len() - after.len())
                            .and_then(|r| r.checked_sub(usize::from(l)))
                            .ok_or(OpusPacketError::Truncated)?;
                        rest = after;
                        *len = l;
                    }
                    if let Some(last) = lens.get_mut(count_us - 1) {
                        *last = checked_frame_len(remaining)?;
                    }
                } else {
                    if data_len % count_us != 0 {
                        return Err(OpusPacketError::UnevenCbrLength);
                    }
                    let each = checked_frame_len(data_len / count_us)?;
                    for len in lens.iter_mut().take(count_us) {
                        *len = each;
                    }
                }
                (count, rest)
            }
        };
        Ok(OpusPacket {
            packet,
            toc,
            count,
            vbr,
            frames_start: packet.len() - frames.len(),
            padding_len,
            lens,
        })
    }
}

/// The frames of an [`OpusPacket`], in order.
#[derive(Debug, Clone)]
pub struct Frames<'a> {
    rest: &'a [u8],
    lens: [u16; MAX_FRAMES],
    next: u8,
    count: u8,
}

impl<'a> Iterator for Frames<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        if self.next >= self.count {
            return None;
        }
        let len = *self.lens.get(usize::from(self.next))?;
        let (frame, rest) = self.rest.split_at_checked(usize::from(len))?;
        self.rest = rest;
        self.next += 1;
        Some(frame)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = usize::from(self.count.saturating_sub(self.next));
        (left, Some(left))
    }
}

impl ExactSizeIterator for Frames<'_> {}
