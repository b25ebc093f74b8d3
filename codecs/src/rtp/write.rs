//! Writing RTP packets into caller-owned buffers, and rewriting headers in place.
//!
//! Never allocates; a buffer too short is an error, never a partial write that panics.

use super::{
    Extension, RtpError, FIXED_HEADER_LEN, MAX_CSRCS, PROFILE_ONE_BYTE, PROFILE_TWO_BYTE, VERSION,
};

/// Everything needed to write an RTP header (RFC 3550 §5.1).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RtpHeader<'h> {
    /// The M bit.
    pub marker: bool,
    /// Payload type, 0–127.
    pub payload_type: u8,
    /// Sequence number.
    pub sequence_number: u16,
    /// RTP timestamp.
    pub timestamp: u32,
    /// Synchronisation source.
    pub ssrc: u32,
    /// Contributing sources, at most 15.
    pub csrcs: &'h [u32],
    /// Header extension elements: written in the RFC 8285 one-byte form when every ID is
    /// 1–14 and every element 1–16 bytes, else in the two-byte form (IDs 1–255, 0–255
    /// bytes). Empty: no header extension.
    pub extensions: &'h [Extension<'h>],
    /// Padding bytes appended after the payload (0: none; the last one holds the count).
    pub padding: u8,
}

fn fits_one_byte(e: &Extension<'_>) -> bool {
    (1..=14).contains(&e.id) && (1..=16).contains(&e.data.len())
}

impl RtpHeader<'_> {
    fn one_byte(&self) -> bool {
        self.extensions.iter().all(fits_one_byte)
    }

    /// Length of the extension element area before rounding to 32-bit words.
    fn ext_elements_len(&self) -> usize {
        let per = if self.one_byte() { 1 } else { 2 };
        self.extensions.iter().map(|e| per + e.data.len()).sum()
    }

    /// Bytes of header extension including its 4-byte header (0 when there is none).
    fn ext_len(&self) -> usize {
        if self.extensions.is_empty() {
            0
        } else {
            4 + self.ext_elements_len().div_ceil(4) * 4
        }
    }

    /// Header length: fixed part, CSRCs and extension.
    pub fn header_len(&self) -> usize {
        FIXED_HEADER_LEN + 4 * self.csrcs.len() + self.ext_len()
    }

    /// Total packet length for a payload of `payload_len` bytes.
    pub fn len(&self, payload_len: usize) -> usize {
        self.header_len() + payload_len + usize::from(self.padding)
    }

    /// Writes header, `payload` and padding to the front of `out`; returns the length.
    pub fn write(&self, payload: &[u8], out: &mut [u8]) -> Result<usize, RtpError> {
        if self.csrcs.len() > MAX_CSRCS {
            return Err(RtpError::TooManyCsrcs);
        }
        if self.payload_type > 0x7F {
            return Err(RtpError::BadPayloadType);
        }
        let one_byte = self.one_byte();
        if !one_byte
            && self
                .extensions
                .iter()
                .any(|e| e.id == 0 || e.data.len() > 255)
        {
            return Err(RtpError::BadExtension);
        }
        let ext_words = self.ext_elements_len().div_ceil(4);
        let ext_words = u16::try_from(ext_words).map_err(|_| RtpError::BadExtension)?;
        let total = self.len(payload.len());
        let out = out.get_mut(..total).ok_or(RtpError::BufferTooSmall)?;
        let mut w = Writer { out, pos: 0 };

        let mut b0 = (VERSION << 6) | self.csrcs.len() as u8;
        if self.padding > 0 {
            b0 |= 0x20;
        }
        if !self.extensions.is_empty() {
            b0 |= 0x10;
        }
        w.put(&[b0, (u8::from(self.marker) << 7) | self.payload_type])?;
        w.put(&self.sequence_number.to_be_bytes())?;
        w.put(&self.timestamp.to_be_bytes())?;
        w.put(&self.ssrc.to_be_bytes())?;
        for c in self.csrcs {
            w.put(&c.to_be_bytes())?;
        }
        if !self.extensions.is_empty() {
            let profile = if one_byte {
                PROFILE_ONE_BYTE
            } else {
                PROFILE_TWO_BYTE
            };
            w.put(&profile.to_be_bytes())?;
            w.put(&ext_words.to_be_bytes())?;
            let start = w.pos;
            for e in self.extensions {
                if one_byte {
                    // `fits_one_byte` holds: id ≤ 14 and 1 ≤ len ≤ 16.
                    w.put(&[(e.id << 4) | (e.data.len() - 1) as u8])?;
                } else {
                    w.put(&[e.id, e.data.len() as u8])?;
                }
                w.put(e.data)?;
            }
            let written = w.pos - start;
            w.zeros(usize::from(ext_words) * 4 - written)?;
        }
        w.put(payload)?;
        if self.padding > 0 {
            w.zeros(usize::from(self.padding) - 1)?;
            w.put(&[self.padding])?;
        }
        Ok(w.pos)
    }
}

struct Writer<'o> {
    out: &'o mut [u8],
    pos: usize,
}

impl Writer<'_> {
    fn put(&mut self, bytes: &[u8]) -> Result<(), RtpError> {
        let end = self.pos + bytes.len();
        self.out
            .get_mut(self.pos..end)
            .ok_or(RtpError::BufferTooSmall)?
            .copy_from_slice(bytes);
        self.pos = end;
        Ok(())
    }

    fn zeros(&mut self, n: usize) -> Result<(), RtpError> {
        let end = self.pos + n;
        self.out
            .get_mut(self.pos..end)
            .ok_or(RtpError::BufferTooSmall)?
            .fill(0);
        self.pos = end;
        Ok(())
    }
}

/// Rewrites SSRC, sequence number and timestamp of the RTP packet in `buf` in place, as a
/// forwarder does per listener. Checks only the fixed header (length and version).
pub fn rewrite_header(
    buf: &mut [u8],
    ssrc: u32,
    sequence_number: u16,
    timestamp: u32,
) -> Result<(), RtpError> {
    let (head, _) = buf
        .split_first_chunk_mut::<FIXED_HEADER_LEN>()
        .ok_or(RtpError::Truncated)?;
    if head[0] >> 6 != VERSION {
        return Err(RtpError::BadVersion);
    }
    let [s0, s1] = sequence_number.to_be_bytes();
    let [t0, t1, t2, t3] = timestamp.to_be_bytes();
    let [c0, c1, c2, c3] = ssrc.to_be_bytes();
    head[2..].copy_from_slice(&[s0, s1, t0, t1, t2, t3, c0, c1, c2, c3]);
    Ok(())
}
