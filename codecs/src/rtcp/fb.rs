//! RTP/AVPF feedback (RFC 4585 §6): generic NACK, PLI, FIR (RFC 5104) and opaque others.
//!
//! FCI lengths are checked to be whole entries when the packet is parsed; expanding a
//! NACK into sequence numbers is lazy and never allocates.

use super::{Reader, RtcpError};

/// RTPFB FMT of the generic NACK.
pub(super) const FMT_NACK: u8 = 1;
/// PSFB FMT of picture loss indication.
pub(super) const FMT_PLI: u8 = 1;
/// PSFB FMT of full intra request.
pub(super) const FMT_FIR: u8 = 4;

/// A feedback message: the common part of RTPFB and PSFB, its FCI left opaque.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Feedback<'a> {
    /// Feedback message type (the 5-bit count field).
    pub fmt: u8,
    /// Source of the feedback.
    pub sender_ssrc: u32,
    /// Source the feedback is about.
    pub media_ssrc: u32,
    /// Feedback control information.
    pub fci: &'a [u8],
}

impl<'a> Feedback<'a> {
    pub(super) fn parse(fmt: u8, body: &'a [u8]) -> Result<Self, RtcpError> {
        let mut r = Reader(body);
        Ok(Feedback {
            fmt,
            sender_ssrc: r.u32()?,
            media_ssrc: r.u32()?,
            fci: r.0,
        })
    }
}

/// Generic NACK (RTPFB FMT 1): lost packets as (PID, BLP) pairs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Nack<'a> {
    /// Source of the feedback.
    pub sender_ssrc: u32,
    /// Source whose packets were lost.
    pub media_ssrc: u32,
    fci: &'a [u8],
}

impl<'a> Nack<'a> {
    pub(super) fn from_feedback(fb: Feedback<'a>) -> Result<Self, RtcpError> {
        if !fb.fci.len().is_multiple_of(4) {
            return Err(RtcpError::BadFci);
        }
        Ok(Nack {
            sender_ssrc: fb.sender_ssrc,
            media_ssrc: fb.media_ssrc,
            fci: fb.fci,
        })
    }

    /// The (PID, BLP) pairs: PID is lost, and bit i of BLP marks PID + i + 1 lost.
    pub fn pairs(&self) -> NackPairs<'a> {
        NackPairs(self.fci.chunks_exact(4))
    }

    /// Every lost sequence number, in the order the pairs give them.
    pub fn lost(&self) -> LostSeqs<'a> {
        LostSeqs {
            pairs: self.pairs(),
            current: None,
        }
    }
}

/// Iterator over the (PID, BLP) pairs of a [`Nack`].
#[derive(Debug, Clone)]
pub struct NackPairs<'a>(core::slice::ChunksExact<'a, u8>);

impl Iterator for NackPairs<'_> {
    type Item = (u16, u16);
    fn next(&mut self) -> Option<(u16, u16)> {
        let &[a, b, c, d] = self.0.next()?.first_chunk::<4>()?;
        Some((u16::from_be_bytes([a, b]), u16::from_be_bytes([c, d])))
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.0.size_hint()
    }
}

impl ExactSizeIterator for NackPairs<'_> {}

/// Iterator over the lost sequence numbers of a [`Nack`].
#[derive(Debug, Clone)]
pub struct LostSeqs<'a> {
    pairs: NackPairs<'a>,
    /// The pair being expanded and the BLP bits still to yield.
    current: Option<(u16, u16)>,
}

impl Iterator for LostSeqs<'_> {
    type Item = u16;
    fn next(&mut self) -> Option<u16> {
        if let Some((pid, blp)) = self.current {
            if blp != 0 {
                let bit = blp.trailing_zeros() as u16;
                self.current = Some((pid, blp & (blp - 1)));
                return Some(pid.wrapping_add(bit + 1));
            }
        }
        let (pid, blp) = self.pairs.next()?;
        self.current = Some((pid, blp));
        Some(pid)
    }
}

/// Picture loss indication (PSFB FMT 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Pli {
    /// Source of the feedback.
    pub sender_ssrc: u32,
    /// Source whose picture was lost.
    pub media_ssrc: u32,
}

/// Full intra request (PSFB FMT 4, RFC 5104 §4.3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fir<'a> {
    /// Source of the feedback.
    pub sender_ssrc: u32,
    fci: &'a [u8],
}

/// One FIR entry: the source asked for a key frame and the command sequence number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FirEntry {
    /// Source asked to send a decoder refresh point.
    pub ssrc: u32,
    /// Command sequence number.
    pub seq: u8,
}

impl<'a> Fir<'a> {
    pub(super) fn from_feedback(fb: Feedback<'a>) -> Result<Self, RtcpError> {
        if !fb.fci.len().is_multiple_of(8) {
            return Err(RtcpError::BadFci);
        }
        Ok(Fir {
            sender_ssrc: fb.sender_ssrc,
            fci: fb.fci,
        })
    }

    /// The FIR entries.
    pub fn entries(&self) -> FirEntries<'a> {
        FirEntries(self.fci.chunks_exact(8))
    }
}

/// Iterator over the entries of a [`Fir`].
#[derive(Debug, Clone)]
pub struct FirEntries<'a>(core::slice::ChunksExact<'a, u8>);

impl Iterator for FirEntries<'_> {
    type Item = FirEntry;
    fn next(&mut self) -> Option<FirEntry> {
        let &[a, b, c, d, seq, ..] = self.0.next()?.first_chunk::<8>()?;
        Some(FirEntry {
            ssrc: u32::from_be_bytes([a, b, c, d]),
            seq,
        })
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.0.size_hint()
    }
}

impl ExactSizeIterator for FirEntries<'_> {}
