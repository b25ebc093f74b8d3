//! RTP (RFC 3550) packets with RFC 8285 header extensions.
//!
//! Owns the borrowed packet view [`RtpPacket`], validated once by its constructor, the
//! header writer [`RtpHeader`], the in-place forwarding rewrite [`rewrite_header`] and
//! the RFC 6464 audio-level helper [`audio_level`].
//!
//! This module must never allocate, panic on input, or copy a payload: every length is
//! checked against the datagram in [`RtpPacket::parse_with_limit`], after which the
//! accessors cannot fail.
//!
//! ```
//! use talko_codecs::rtp::{audio_level, Extension, RtpHeader, RtpPacket};
//!
//! let level = [Extension { id: 1, data: &[0x80 | 30] }];
//! let header = RtpHeader {
//!     payload_type: 111,
//!     sequence_number: 7,
//!     timestamp: 960,
//!     ssrc: 0x1234,
//!     extensions: &level,
//!     ..RtpHeader::default()
//! };
//! let mut buf = [0u8; 1500];
//! let n = header.write(b"opus", &mut buf)?;
//!
//! let packet = RtpPacket::try_from(&buf[..n])?;
//! assert_eq!(packet.sequence_number(), 7);
//! assert_eq!(packet.payload(), b"opus");
//! assert_eq!(audio_level(&packet, 1).map(|l| l.level_dbov), Some(30));
//! # Ok::<(), talko_codecs::rtp::RtpError>(())
//! ```

mod ext;
mod write;

use core::fmt;

pub use ext::{audio_level, AudioLevel, Extension, Extensions};
pub use write::{rewrite_header, RtpHeader};

/// The largest datagram [`RtpPacket::try_from`] accepts: an Ethernet MTU.
pub const MAX_DATAGRAM: usize = 1500;
/// Length of the fixed RTP header (without CSRCs or extension).
pub const FIXED_HEADER_LEN: usize = 12;
/// The only RTP version talko speaks.
pub const VERSION: u8 = 2;
/// At most 15 CSRCs fit the 4-bit CC field.
pub const MAX_CSRCS: usize = 15;
/// RFC 8285 one-byte header extension profile.
pub const PROFILE_ONE_BYTE: u16 = 0xBEDE;
/// RFC 8285 two-byte header extension profile (the low 4 bits are "appbits").
pub const PROFILE_TWO_BYTE: u16 = 0x1000;

/// What was wrong with an RTP packet, or why one could not be written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RtpError {
    /// Shorter than the 12-byte fixed header.
    Truncated,
    /// The version field is not 2.
    BadVersion,
    /// The CSRC list runs past the end of the datagram.
    CsrcOverrun,
    /// The header extension (its 4-byte header or its declared length) runs past the end.
    ExtensionOverrun,
    /// An RFC 8285 extension element runs past the end of the extension block.
    ExtensionElementOverrun,
    /// The padding count is 0 or larger than what follows the header.
    BadPadding,
    /// The datagram is larger than the configured maximum.
    TooLarge,
    /// The output buffer is too short for the packet being written.
    BufferTooSmall,
    /// Writer: more than 15 CSRCs.
    TooManyCsrcs,
    /// Writer: payload type above 127.
    BadPayloadType,
    /// Writer: an extension ID or length that neither RFC 8285 form can carry, or an
    /// extension block over 65535 words.
    BadExtension,
}

impl fmt::Display for RtpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            RtpError::Truncated => "RTP packet shorter than the fixed header",
            RtpError::BadVersion => "RTP version is not 2",
            RtpError::CsrcOverrun => "RTP CSRC list runs past the datagram",
            RtpError::ExtensionOverrun => "RTP header extension runs past the datagram",
            RtpError::ExtensionElementOverrun => {
                "RTP header extension element runs past the extension block"
            }
            RtpError::BadPadding => "RTP padding count is 0 or larger than the payload",
            RtpError::TooLarge => "RTP datagram over the configured maximum",
            RtpError::BufferTooSmall => "output buffer too small for the RTP packet",
            RtpError::TooManyCsrcs => "more than 15 CSRCs",
            RtpError::BadPayloadType => "RTP payload type above 127",
            RtpError::BadExtension => "RTP header extension cannot be encoded",
        };
        f.write_str(s)
    }
}

impl std::error::Error for RtpError {}

/// A validated, borrowed view of one RTP packet.
///
/// Built only by [`RtpPacket::try_from`] or [`RtpPacket::parse_with_limit`], which check
/// every length; afterwards no accessor can fail or panic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtpPacket<'a> {
    buf: &'a [u8],
    fixed: [u8; FIXED_HEADER_LEN],
    /// Fixed header + CSRCs + extension. At most 12 + 60 + 4 + 4 * 65535, fits a `u32`.
    header_len: u32,
    /// Padding bytes at the end, the last one included (0 when P is clear).
    padding_len: u8,
}

impl<'a> TryFrom<&'a [u8]> for RtpPacket<'a> {
    type Error = RtpError;

    /// Parses with the default limit [`MAX_DATAGRAM`].
    #[inline]
    fn try_from(buf: &'a [u8]) -> Result<Self, RtpError> {
        RtpPacket::parse_with_limit(buf, MAX_DATAGRAM)
    }
}

impl<'a> RtpPacket<'a> {
    /// Validates `buf` as one RTP packet no longer than `max_datagram` bytes.
    ///
    /// Checks the version, that CSRCs, the header extension and every RFC 8285 element
    /// lie inside the datagram, and that the padding count is between 1 and the number of
    /// bytes after the header.
    #[inline]
    pub fn parse_with_limit(buf: &'a [u8], max_datagram: usize) -> Result<Self, RtpError> {
        if buf.len() > max_datagram {
            return Err(RtpError::TooLarge);
        }
        let (head, _) = buf
            .split_first_chunk::<FIXED_HEADER_LEN>()
            .ok_or(RtpError::Truncated)?;
        let fixed = *head;
        let b0 = fixed[0];
        if b0 >> 6 != VERSION {
            return Err(RtpError::BadVersion);
        }
        let cc = usize::from(b0 & 0x0F);
        let mut pos = FIXED_HEADER_LEN + 4 * cc;
        if pos > buf.len() {
            return Err(RtpError::CsrcOverrun);
        }
        if b0 & 0x10 != 0 {
            let (&[p0, p1, w0, w1], rest) = buf
                .get(pos..)
                .and_then(<[u8]>::split_first_chunk::<4>)
                .ok_or(RtpError::ExtensionOverrun)?;
            let len = 4 * usize::from(u16::from_be_bytes([w0, w1]));
            let data = rest.get(..len).ok_or(RtpError::ExtensionOverrun)?;
            ext::validate(u16::from_be_bytes([p0, p1]), data)?;
            pos += 4 + len;
        }
        let mut padding_len = 0;
        if b0 & 0x20 != 0 {
            let count = *buf.last().ok_or(RtpError::BadPadding)?;
            if count == 0 || usize::from(count) > buf.len() - pos {
                return Err(RtpError::BadPadding);
            }
            padding_len = count;
        }
        Ok(RtpPacket {
            buf,
            fixed,
            header_len: u32::try_from(pos).map_err(|_| RtpError::TooLarge)?,
            padding_len,
        })
    }

    /// Offset of the extension data, after the 4-byte extension header.
    #[inline]
    fn ext_start(&self) -> usize {
        FIXED_HEADER_LEN + 4 * self.csrc_count() + 4
    }

    /// The version field (always 2 for a parsed packet).
    #[inline]
    pub fn version(&self) -> u8 {
        self.fixed[0] >> 6
    }
    /// The P bit.
    #[inline]
    pub fn padding(&self) -> bool {
        self.fixed[0] & 0x20 != 0
    }
    /// The X bit.
    #[inline]
    pub fn extension(&self) -> bool {
        self.fixed[0] & 0x10 != 0
    }
    /// The M bit.
    #[inline]
    pub fn marker(&self) -> bool {
        self.fixed[1] & 0x80 != 0
    }
    /// The 7-bit payload type.
    #[inline]
    pub fn payload_type(&self) -> u8 {
        self.fixed[1] & 0x7F
    }
    /// The sequence number.
    #[inline]
    pub fn sequence_number(&self) -> u16 {
        u16::from_be_bytes([self.fixed[2], self.fixed[3]])
    }
    /// The RTP timestamp.
    #[inline]
    pub fn timestamp(&self) -> u32 {
        u32::from_be_bytes([self.fixed[4], self.fixed[5], self.fixed[6], self.fixed[7]])
    }
    /// The synchronisation source.
    #[inline]
    pub fn ssrc(&self) -> u32 {
        u32::from_be_bytes([self.fixed[8], self.fixed[9], self.fixed[10], self.fixed[11]])
    }
    /// The CC field: how many CSRCs follow the fixed header.
    #[inline]
    pub fn csrc_count(&self) -> usize {
        usize::from(self.fixed[0] & 0x0F)
    }
    /// The contributing sources, read lazily from the datagram.
    #[inline]
    pub fn csrcs(&self) -> Csrcs<'a> {
        let end = FIXED_HEADER_LEN + 4 * self.csrc_count();
        Csrcs(
            self.buf
                .get(FIXED_HEADER_LEN..end)
                .unwrap_or_default()
                .chunks_exact(4),
        )
    }
    /// The header extension's profile (`0xBEDE`, `0x100x` or another), if X is set.
    #[inline]
    pub fn extension_profile(&self) -> Option<u16> {
        if self.extension() {
            let at = self.ext_start() - 4;
            let &[p0, p1] = self.buf.get(at..)?.first_chunk::<2>()?;
            Some(u16::from_be_bytes([p0, p1]))
        } else {
            None
        }
    }
    /// The raw header extension data (after the profile and length words), if X is set.
    #[inline]
    pub fn extension_data(&self) -> Option<&'a [u8]> {
        if self.extension() {
            self.buf.get(self.ext_start()..self.header_len())
        } else {
            None
        }
    }
    /// The RFC 8285 elements of the header extension. Empty when X is not set or the
    /// profile is neither one-byte nor two-byte.
    #[inline]
    pub fn extensions(&self) -> Extensions<'a> {
        match (self.extension_profile(), self.extension_data()) {
            (Some(profile), Some(data)) => Extensions::new(profile, data),
            _ => Extensions::empty(),
        }
    }
    /// Bytes before the payload: fixed header, CSRCs and header extension.
    #[inline]
    pub fn header_len(&self) -> usize {
        self.header_len as usize
    }
    /// The payload, without padding.
    #[inline]
    pub fn payload(&self) -> &'a [u8] {
        self.buf
            .get(self.header_len()..self.buf.len() - self.padding_len())
            .unwrap_or_default()
    }
    /// Number of padding bytes at the end (0 when P is clear).
    #[inline]
    pub fn padding_len(&self) -> usize {
        usize::from(self.padding_len)
    }
    /// The whole datagram.
    #[inline]
    pub fn as_bytes(&self) -> &'a [u8] {
        self.buf
    }
}

/// Iterator over the CSRCs of an [`RtpPacket`].
#[derive(Debug, Clone)]
pub struct Csrcs<'a>(core::slice::ChunksExact<'a, u8>);

impl Iterator for Csrcs<'_> {
    type Item = u32;
    fn next(&mut self) -> Option<u32> {
        let c = self.0.next()?;
        Some(u32::from_be_bytes([
            *c.first()?,
            *c.get(1)?,
            *c.get(2)?,
            *c.get(3)?,
        ]))
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.0.size_hint()
    }
}

impl ExactSizeIterator for Csrcs<'_> {}
