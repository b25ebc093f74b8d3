//! Sender and receiver reports (RFC 3550 §6.4) and their report blocks.
//!
//! The constructors check the report count against the body; the block iterators then
//! read fixed 24-byte slices and can neither fail nor read past the packet.

use super::{Reader, RtcpError};

/// Length of one report block.
pub(crate) const BLOCK_LEN: usize = 24;
/// Length of the SR sender info after the SSRC.
const SENDER_INFO_LEN: usize = 20;

/// One reception report block (RFC 3550 §6.4.1).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct ReportBlock {
    /// The source this block reports on.
    pub ssrc: u32,
    /// Fraction lost since the previous report, in 1/256.
    pub fraction_lost: u8,
    /// Cumulative number of packets lost: a 24-bit signed value (duplicates can make it
    /// negative). Writers clamp to −8388608..=8388607.
    pub cumulative_lost: i32,
    /// Extended highest sequence number received.
    pub highest_seq: u32,
    /// Interarrival jitter, in timestamp units.
    pub jitter: u32,
    /// Middle 32 bits of the NTP timestamp of the last SR received (LSR).
    pub lsr: u32,
    /// Delay since that SR, in 1/65536 s (DLSR).
    pub dlsr: u32,
}

impl ReportBlock {
    fn read(b: &[u8; BLOCK_LEN]) -> ReportBlock {
        let word = |i: usize| {
            let mut w = [0u8; 4];
            if let Some(s) = b.get(i..i + 4) {
                w.copy_from_slice(s);
            }
            u32::from_be_bytes(w)
        };
        let lost = word(4);
        // Sign-extend the low 24 bits.
        let cumulative_lost = ((lost << 8) as i32) >> 8;
        ReportBlock {
            ssrc: word(0),
            fraction_lost: (lost >> 24) as u8,
            cumulative_lost,
            highest_seq: word(8),
            jitter: word(12),
            lsr: word(16),
            dlsr: word(20),
        }
    }

    /// Encodes the block into its 24 wire bytes.
    pub(crate) fn to_bytes(self) -> [u8; BLOCK_LEN] {
        let lost = self.cumulative_lost.clamp(-0x80_0000, 0x7F_FFFF) as u32 & 0x00FF_FFFF;
        let words = [
            self.ssrc,
            (u32::from(self.fraction_lost) << 24) | lost,
            self.highest_seq,
            self.jitter,
            self.lsr,
            self.dlsr,
        ];
        let mut out = [0u8; BLOCK_LEN];
        for (dst, w) in out.chunks_exact_mut(4).zip(words) {
            dst.copy_from_slice(&w.to_be_bytes());
        }
        out
    }
}

/// Iterator over the report blocks of an SR or RR.
#[derive(Debug, Clone)]
pub struct ReportBlocks<'a>(core::slice::ChunksExact<'a, u8>);

impl Iterator for ReportBlocks<'_> {
    type Item = ReportBlock;
    fn next(&mut self) -> Option<ReportBlock> {
        let c = self.0.next()?;
        Some(ReportBlock::read(c.first_chunk::<BLOCK_LEN>()?))
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.0.size_hint()
    }
}

impl ExactSizeIterator for ReportBlocks<'_> {}

/// Cuts `count` report blocks off `r`, or [`RtcpError::ReportCountOverrun`].
fn blocks<'a>(count: u8, r: &mut Reader<'a>) -> Result<&'a [u8], RtcpError> {
    r.take(usize::from(count) * BLOCK_LEN)
        .map_err(|_| RtcpError::ReportCountOverrun)
}

/// SR (200): sender info and report blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SenderReport<'a> {
    ssrc: u32,
    ntp: u64,
    rtp_timestamp: u32,
    packet_count: u32,
    octet_count: u32,
    blocks: &'a [u8],
    extension: &'a [u8],
}

impl<'a> SenderReport<'a> {
    pub(super) fn parse(count: u8, body: &'a [u8]) -> Result<Self, RtcpError> {
        let mut r = Reader(body);
        let ssrc = r.u32()?;
        if r.0.len() < SENDER_INFO_LEN {
            return Err(RtcpError::Truncated);
        }
        let ntp = r.u64()?;
        let rtp_timestamp = r.u32()?;
        let packet_count = r.u32()?;
        let octet_count = r.u32()?;
        let blocks = blocks(count, &mut r)?;
        Ok(SenderReport {
            ssrc,
            ntp,
            rtp_timestamp,
            packet_count,
            octet_count,
            blocks,
            extension: r.0,
        })
    }

    /// The sender's SSRC.
    pub fn ssrc(&self) -> u32 {
        self.ssrc
    }
    /// The 64-bit NTP timestamp (seconds in the high 32 bits).
    pub fn ntp_timestamp(&self) -> u64 {
        self.ntp
    }
    /// The RTP timestamp matching the NTP timestamp.
    pub fn rtp_timestamp(&self) -> u32 {
        self.rtp_timestamp
    }
    /// Packets sent.
    pub fn packet_count(&self) -> u32 {
        self.packet_count
    }
    /// Payload octets sent.
    pub fn octet_count(&self) -> u32 {
        self.octet_count
    }
    /// Number of report blocks.
    pub fn report_count(&self) -> usize {
        self.blocks.len() / BLOCK_LEN
    }
    /// The report blocks.
    pub fn report_blocks(&self) -> ReportBlocks<'a> {
        ReportBlocks(self.blocks.chunks_exact(BLOCK_LEN))
    }
    /// Profile-specific extension after the blocks (usually empty).
    pub fn profile_extension(&self) -> &'a [u8] {
        self.extension
    }
}

/// RR (201): report blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReceiverReport<'a> {
    ssrc: u32,
    blocks: &'a [u8],
    extension: &'a [u8],
}

impl<'a> ReceiverReport<'a> {
    pub(super) fn parse(count: u8, body: &'a [u8]) -> Result<Self, RtcpError> {
        let mut r = Reader(body);
        let ssrc = r.u32()?;
        let blocks = blocks(count, &mut r)?;
        Ok(ReceiverReport {
            ssrc,
            blocks,
            extension: r.0,
        })
    }

    /// The reporter's SSRC.
    pub fn ssrc(&self) -> u32 {
        self.ssrc
    }
    /// Number of report blocks.
    pub fn report_count(&self) -> usize {
        self.blocks.len() / BLOCK_LEN
    }
    /// The report blocks.
    pub fn report_blocks(&self) -> ReportBlocks<'a> {
        ReportBlocks(self.blocks.chunks_exact(BLOCK_LEN))
    }
    /// Profile-specific extension after the blocks (usually empty).
    pub fn profile_extension(&self) -> &'a [u8] {
        self.extension
    }
}
