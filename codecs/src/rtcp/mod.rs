//! RTCP (RFC 3550 §6, RFC 4585) compound packets.
//!
//! Owns the borrowed views of every RTCP packet talko reads ([`RtcpPacket`]), the
//! iterator over a compound datagram ([`packets`], [`Compound`]), and the writers
//! ([`write_sender_report`] … [`CompoundWriter`]).
//!
//! Must never allocate, panic on input, or read past a sub-packet: each sub-packet's
//! length (32-bit words − 1) is checked against the datagram before its body is looked
//! at, and every count inside a body is checked against that body.
//!
//! ```
//! use talko_codecs::rtcp::{Compound, CompoundWriter, RtcpPacket, SenderInfo};
//!
//! let mut buf = [0u8; 1500];
//! let mut w = CompoundWriter::new(&mut buf);
//! w.sender_report(&SenderInfo { ssrc: 1, ..SenderInfo::default() }, &[])?
//!     .sdes_cname(1, b"alice@talko")?;
//! let n = w.finish();
//!
//! let compound = Compound::parse_strict(&buf[..n])?;
//! for packet in compound.iter() {
//!     if let RtcpPacket::Sdes(sdes) = packet? {
//!         let chunk = sdes.chunks().next().expect("one chunk");
//!         assert_eq!(chunk.cname(), Some(&b"alice@talko"[..]));
//!     }
//! }
//! # Ok::<(), talko_codecs::rtcp::RtcpError>(())
//! ```

mod bye;
mod fb;
mod report;
mod sdes;
mod write;

use core::fmt;

pub use bye::{Bye, Ssrcs};
pub use fb::{Feedback, Fir, FirEntries, FirEntry, LostSeqs, Nack, NackPairs, Pli};
pub use report::{ReceiverReport, ReportBlock, ReportBlocks, SenderReport};
pub use sdes::{Sdes, SdesChunk, SdesChunks, SdesItem, SdesItems, SDES_CNAME};
pub use write::{
    write_bye, write_nack, write_pli, write_receiver_report, write_sdes_cname, write_sender_report,
    CompoundWriter, SenderInfo,
};

/// The largest datagram [`Compound::try_from`] accepts: an Ethernet MTU.
pub const MAX_DATAGRAM: usize = 1500;
/// The only RTCP version talko speaks.
pub const VERSION: u8 = 2;
/// At most 31 report blocks or sources fit the 5-bit count field.
pub const MAX_COUNT: usize = 31;

/// Sender report.
pub const PT_SR: u8 = 200;
/// Receiver report.
pub const PT_RR: u8 = 201;
/// Source description.
pub const PT_SDES: u8 = 202;
/// Goodbye.
pub const PT_BYE: u8 = 203;
/// Application-defined.
pub const PT_APP: u8 = 204;
/// Transport-layer feedback (RFC 4585).
pub const PT_RTPFB: u8 = 205;
/// Payload-specific feedback (RFC 4585).
pub const PT_PSFB: u8 = 206;
/// Extended report (RFC 3611).
pub const PT_XR: u8 = 207;

/// What was wrong with an RTCP datagram, or why one could not be written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RtcpError {
    /// Shorter than a header, or than the fixed part of its packet type.
    Truncated,
    /// The version field is not 2.
    BadVersion,
    /// The length field runs past the end of the datagram.
    LengthOverrun,
    /// The padding count is 0 or larger than the packet body.
    BadPadding,
    /// A padded sub-packet that is not the last of the compound.
    PaddingNotLast,
    /// The report count needs more bytes than the packet holds.
    ReportCountOverrun,
    /// The source/chunk count needs more bytes than the packet holds.
    SourceCountOverrun,
    /// An SDES item (or its chunk's terminator) runs past the end of the packet.
    SdesItemOverrun,
    /// The BYE reason runs past the end of the packet.
    ByeReasonOverrun,
    /// Feedback control information that is not a whole number of entries.
    BadFci,
    /// Strict compound: the first packet is not SR or RR.
    NotCompound,
    /// The datagram holds no packet.
    Empty,
    /// The datagram is larger than the configured maximum.
    TooLarge,
    /// Writer: the output buffer is too short.
    BufferTooSmall,
    /// Writer: more than 31 report blocks or sources.
    TooManyItems,
    /// Writer: a CNAME or BYE reason over 255 bytes, or a packet over 65536 words.
    TooLong,
    /// Writer: a NACK with no lost packet.
    EmptyNack,
}

impl fmt::Display for RtcpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            RtcpError::Truncated => "RTCP packet truncated",
            RtcpError::BadVersion => "RTCP version is not 2",
            RtcpError::LengthOverrun => "RTCP length runs past the datagram",
            RtcpError::BadPadding => "RTCP padding count is 0 or larger than the packet",
            RtcpError::PaddingNotLast => "RTCP padding on a packet that is not the last",
            RtcpError::ReportCountOverrun => "RTCP report count larger than the packet holds",
            RtcpError::SourceCountOverrun => "RTCP source count larger than the packet holds",
            RtcpError::SdesItemOverrun => "RTCP SDES item runs past its packet",
            RtcpError::ByeReasonOverrun => "RTCP BYE reason runs past its packet",
            RtcpError::BadFci => "RTCP feedback FCI is not a whole number of entries",
            RtcpError::NotCompound => "RTCP compound does not start with SR or RR",
            RtcpError::Empty => "RTCP datagram is empty",
            RtcpError::TooLarge => "RTCP datagram over the configured maximum",
            RtcpError::BufferTooSmall => "output buffer too small for the RTCP packet",
            RtcpError::TooManyItems => "more than 31 RTCP report blocks or sources",
            RtcpError::TooLong => "RTCP value or packet too long to encode",
            RtcpError::EmptyNack => "NACK without a lost packet",
        };
        f.write_str(s)
    }
}

impl std::error::Error for RtcpError {}

/// One RTCP packet of a compound datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RtcpPacket<'a> {
    /// SR (200).
    SenderReport(SenderReport<'a>),
    /// RR (201).
    ReceiverReport(ReceiverReport<'a>),
    /// SDES (202).
    Sdes(Sdes<'a>),
    /// BYE (203).
    Bye(Bye<'a>),
    /// APP (204).
    App(App<'a>),
    /// RTPFB FMT 1: generic NACK (RFC 4585 §6.2.1).
    Nack(Nack<'a>),
    /// RTPFB with another FMT, left opaque.
    TransportFeedback(Feedback<'a>),
    /// PSFB FMT 1: picture loss indication (RFC 4585 §6.3.1).
    Pli(Pli),
    /// PSFB FMT 4: full intra request (RFC 5104 §4.3.1).
    Fir(Fir<'a>),
    /// PSFB with another FMT, left opaque.
    PayloadFeedback(Feedback<'a>),
    /// XR (207), left opaque.
    Xr(Xr<'a>),
    /// Any other packet type, left opaque.
    Unknown {
        /// The packet type byte.
        packet_type: u8,
        /// The 5-bit count/format field.
        count: u8,
        /// The body after the 4-byte header, without padding.
        body: &'a [u8],
    },
}

impl RtcpPacket<'_> {
    /// The packet type byte this packet was read from.
    pub fn packet_type(&self) -> u8 {
        match self {
            RtcpPacket::SenderReport(_) => PT_SR,
            RtcpPacket::ReceiverReport(_) => PT_RR,
            RtcpPacket::Sdes(_) => PT_SDES,
            RtcpPacket::Bye(_) => PT_BYE,
            RtcpPacket::App(_) => PT_APP,
            RtcpPacket::Nack(_) | RtcpPacket::TransportFeedback(_) => PT_RTPFB,
            RtcpPacket::Pli(_) | RtcpPacket::Fir(_) | RtcpPacket::PayloadFeedback(_) => PT_PSFB,
            RtcpPacket::Xr(_) => PT_XR,
            RtcpPacket::Unknown { packet_type, .. } => *packet_type,
        }
    }
}

/// APP (204): application-defined packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct App<'a> {
    /// The 5-bit subtype.
    pub subtype: u8,
    /// Source of the packet.
    pub ssrc: u32,
    /// Four ASCII characters naming the application.
    pub name: [u8; 4],
    /// Application-dependent data.
    pub data: &'a [u8],
}

/// XR (207): extended report, blocks left opaque.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Xr<'a> {
    /// Source of the packet.
    pub ssrc: u32,
    /// The report blocks, unparsed.
    pub blocks: &'a [u8],
}

/// The 4-byte common header of one sub-packet.
#[derive(Debug, Clone, Copy)]
struct Header {
    padded: bool,
    count: u8,
    packet_type: u8,
}

/// Cuts the first sub-packet off `buf`: its header, its body without padding, the rest.
fn split_packet(buf: &[u8]) -> Result<(Header, &[u8], &[u8]), RtcpError> {
    let (&[b0, pt, l0, l1], after) = buf.split_first_chunk::<4>().ok_or(RtcpError::Truncated)?;
    if b0 >> 6 != VERSION {
        return Err(RtcpError::BadVersion);
    }
    let total = (usize::from(u16::from_be_bytes([l0, l1])) + 1) * 4;
    let (body, rest) = after
        .split_at_checked(total - 4)
        .ok_or(RtcpError::LengthOverrun)?;
    let padded = b0 & 0x20 != 0;
    let body = if padded {
        let pad = usize::from(*body.last().ok_or(RtcpError::BadPadding)?);
        if pad == 0 || pad > body.len() {
            return Err(RtcpError::BadPadding);
        }
        body.get(..body.len() - pad).ok_or(RtcpError::BadPadding)?
    } else {
        body
    };
    let header = Header {
        padded,
        count: b0 & 0x1F,
        packet_type: pt,
    };
    Ok((header, body, rest))
}

/// A big-endian reader over a body; every short read is [`RtcpError::Truncated`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct Reader<'a>(pub(crate) &'a [u8]);

impl<'a> Reader<'a> {
    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8], RtcpError> {
        let (a, b) = self.0.split_at_checked(n).ok_or(RtcpError::Truncated)?;
        self.0 = b;
        Ok(a)
    }
    pub(crate) fn array<const N: usize>(&mut self) -> Result<[u8; N], RtcpError> {
        let (a, b) = self
            .0
            .split_first_chunk::<N>()
            .ok_or(RtcpError::Truncated)?;
        self.0 = b;
        Ok(*a)
    }
    pub(crate) fn u8(&mut self) -> Result<u8, RtcpError> {
        Ok(u8::from_be_bytes(self.array()?))
    }
    pub(crate) fn u32(&mut self) -> Result<u32, RtcpError> {
        Ok(u32::from_be_bytes(self.array()?))
    }
    pub(crate) fn u64(&mut self) -> Result<u64, RtcpError> {
        Ok(u64::from_be_bytes(self.array()?))
    }
}

/// Reads the body of one sub-packet according to its type.
fn parse_body<'a>(h: Header, body: &'a [u8]) -> Result<RtcpPacket<'a>, RtcpError> {
    Ok(match h.packet_type {
        PT_SR => RtcpPacket::SenderReport(SenderReport::parse(h.count, body)?),
        PT_RR => RtcpPacket::ReceiverReport(ReceiverReport::parse(h.count, body)?),
        PT_SDES => RtcpPacket::Sdes(Sdes::parse(h.count, body)?),
        PT_BYE => RtcpPacket::Bye(Bye::parse(h.count, body)?),
        PT_APP => {
            let mut r = Reader(body);
            RtcpPacket::App(App {
                subtype: h.count,
                ssrc: r.u32()?,
                name: r.array()?,
                data: r.0,
            })
        }
        PT_RTPFB => {
            let fb = Feedback::parse(h.count, body)?;
            if fb.fmt == fb::FMT_NACK {
                RtcpPacket::Nack(Nack::from_feedback(fb)?)
            } else {
                RtcpPacket::TransportFeedback(fb)
            }
        }
        PT_PSFB => {
            let fb = Feedback::parse(h.count, body)?;
            match fb.fmt {
                fb::FMT_PLI => RtcpPacket::Pli(Pli {
                    sender_ssrc: fb.sender_ssrc,
                    media_ssrc: fb.media_ssrc,
                }),
                fb::FMT_FIR => RtcpPacket::Fir(Fir::from_feedback(fb)?),
                _ => RtcpPacket::PayloadFeedback(fb),
            }
        }
        PT_XR => {
            let mut r = Reader(body);
            RtcpPacket::Xr(Xr {
                ssrc: r.u32()?,
                blocks: r.0,
            })
        }
        packet_type => RtcpPacket::Unknown {
            packet_type,
            count: h.count,
            body,
        },
    })
}

/// Iterates over the sub-packets of `buf` without validating the datagram first.
///
/// A framing error (bad version, length or padding) is yielded once and ends the walk; a
/// malformed body is yielded as an error and the walk continues with the next packet.
pub fn packets(buf: &[u8]) -> Packets<'_> {
    Packets { rest: buf }
}

/// Iterator over the sub-packets of an RTCP datagram; see [`packets`].
#[derive(Debug, Clone)]
pub struct Packets<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for Packets<'a> {
    type Item = Result<RtcpPacket<'a>, RtcpError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        match split_packet(self.rest) {
            Ok((h, body, rest)) => {
                if h.padded && !rest.is_empty() {
                    self.rest = &[];
                    return Some(Err(RtcpError::PaddingNotLast));
                }
                self.rest = rest;
                Some(parse_body(h, body))
            }
            Err(e) => {
                self.rest = &[];
                Some(Err(e))
            }
        }
    }
}

/// A compound RTCP datagram whose framing has been validated: every sub-packet has
/// version 2, a length inside the datagram, and only the last one is padded.
///
/// Iterating yields each sub-packet, or the error in its body (a report count, SDES
/// item or BYE reason that does not fit); those cannot stop the walk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Compound<'a> {
    buf: &'a [u8],
}

impl<'a> TryFrom<&'a [u8]> for Compound<'a> {
    type Error = RtcpError;

    /// Validates framing with the default limit [`MAX_DATAGRAM`].
    fn try_from(buf: &'a [u8]) -> Result<Self, RtcpError> {
        Compound::parse_with_limit(buf, MAX_DATAGRAM)
    }
}

impl<'a> Compound<'a> {
    /// Validates the framing of `buf`, rejecting datagrams over `max_datagram` bytes.
    pub fn parse_with_limit(buf: &'a [u8], max_datagram: usize) -> Result<Self, RtcpError> {
        if buf.len() > max_datagram {
            return Err(RtcpError::TooLarge);
        }
        if buf.is_empty() {
            return Err(RtcpError::Empty);
        }
        let mut rest = buf;
        while !rest.is_empty() {
            let (h, _, next) = split_packet(rest)?;
            if h.padded && !next.is_empty() {
                return Err(RtcpError::PaddingNotLast);
            }
            rest = next;
        }
        Ok(Compound { buf })
    }

    /// As [`Compound::try_from`], and also requires the RFC 3550 §6.1 compound shape:
    /// the first packet is SR or RR, and every body parses.
    pub fn parse_strict(buf: &'a [u8]) -> Result<Self, RtcpError> {
        let c = Compound::try_from(buf)?;
        match buf.get(1) {
            Some(&PT_SR) | Some(&PT_RR) => {}
            _ => return Err(RtcpError::NotCompound),
        }
        for p in c.iter() {
            p?;
        }
        Ok(c)
    }

    /// The sub-packets, in order.
    pub fn iter(&self) -> Packets<'a> {
        packets(self.buf)
    }

    /// The whole datagram.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.buf
    }
}

impl<'a> IntoIterator for Compound<'a> {
    type Item = Result<RtcpPacket<'a>, RtcpError>;
    type IntoIter = Packets<'a>;
    fn into_iter(self) -> Packets<'a> {
        self.iter()
    }
}

impl<'a> IntoIterator for &Compound<'a> {
    type Item = Result<RtcpPacket<'a>, RtcpError>;
    type IntoIter = Packets<'a>;
    fn into_iter(self) -> Packets<'a> {
        self.iter()
    }
}

/// RFC 5761 §4: whether a datagram already known to be RTP or RTCP (first byte 128–191)
/// is RTCP, judged by its second byte being a packet type 192–223.
pub fn is_rtcp(buf: &[u8]) -> bool {
    match buf {
        [b0, pt, ..] => b0 >> 6 == VERSION && (192..=223).contains(pt),
        _ => false,
    }
}
