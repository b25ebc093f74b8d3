//! RTCP writers into caller-owned buffers, and the compound builder.
//!
//! Each writer puts one packet at the front of `out` and returns its length, always a
//! multiple of 4. None allocates; a short buffer is [`RtcpError::BufferTooSmall`].

use super::fb::{FMT_NACK, FMT_PLI};
use super::report::{ReportBlock, BLOCK_LEN};
use super::sdes::SDES_CNAME;
use super::{RtcpError, MAX_COUNT, PT_BYE, PT_PSFB, PT_RR, PT_RTPFB, PT_SDES, PT_SR, VERSION};

/// The sender info of an SR (RFC 3550 §6.4.1).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct SenderInfo {
    /// The sender's SSRC.
    pub ssrc: u32,
    /// 64-bit NTP timestamp (seconds in the high 32 bits).
    pub ntp_timestamp: u64,
    /// RTP timestamp matching the NTP timestamp.
    pub rtp_timestamp: u32,
    /// Packets sent.
    pub packet_count: u32,
    /// Payload octets sent.
    pub octet_count: u32,
}

struct W<'o> {
    out: &'o mut [u8],
    pos: usize,
}

impl<'o> W<'o> {
    /// Starts a packet: reserves the 4-byte common header.
    fn new(out: &'o mut [u8]) -> Result<Self, RtcpError> {
        let mut w = W { out, pos: 0 };
        w.zeros(4)?;
        Ok(w)
    }
    fn put(&mut self, bytes: &[u8]) -> Result<(), RtcpError> {
        let end = self.pos + bytes.len();
        self.out
            .get_mut(self.pos..end)
            .ok_or(RtcpError::BufferTooSmall)?
            .copy_from_slice(bytes);
        self.pos = end;
        Ok(())
    }
    fn u32(&mut self, v: u32) -> Result<(), RtcpError> {
        self.put(&v.to_be_bytes())
    }
    fn zeros(&mut self, n: usize) -> Result<(), RtcpError> {
        let end = self.pos + n;
        self.out
            .get_mut(self.pos..end)
            .ok_or(RtcpError::BufferTooSmall)?
            .fill(0);
        self.pos = end;
        Ok(())
    }
    /// Pads to 32 bits with zeros, fills the common header, returns the packet length.
    fn finish(mut self, count: u8, packet_type: u8) -> Result<usize, RtcpError> {
        self.zeros((4 - self.pos % 4) % 4)?;
        let words = u16::try_from(self.pos / 4 - 1).map_err(|_| RtcpError::TooLong)?;
        let [l0, l1] = words.to_be_bytes();
        let head = self
            .out
            .first_chunk_mut::<4>()
            .ok_or(RtcpError::BufferTooSmall)?;
        *head = [(VERSION << 6) | (count & 0x1F), packet_type, l0, l1];
        Ok(self.pos)
    }
}

fn block_count(blocks: &[ReportBlock]) -> Result<u8, RtcpError> {
    if blocks.len() > MAX_COUNT {
        return Err(RtcpError::TooManyItems);
    }
    Ok(blocks.len() as u8)
}

fn put_blocks(w: &mut W<'_>, blocks: &[ReportBlock]) -> Result<(), RtcpError> {
    for b in blocks {
        let bytes: [u8; BLOCK_LEN] = b.to_bytes();
        w.put(&bytes)?;
    }
    Ok(())
}

/// Writes an SR with up to 31 report blocks.
pub fn write_sender_report(
    out: &mut [u8],
    info: &SenderInfo,
    blocks: &[ReportBlock],
) -> Result<usize, RtcpError> {
    let count = block_count(blocks)?;
    let mut w = W::new(out)?;
    w.u32(info.ssrc)?;
    w.put(&info.ntp_timestamp.to_be_bytes())?;
    w.u32(info.rtp_timestamp)?;
    w.u32(info.packet_count)?;
    w.u32(info.octet_count)?;
    put_blocks(&mut w, blocks)?;
    w.finish(count, PT_SR)
}

/// Writes an RR with up to 31 report blocks.
pub fn write_receiver_report(
    out: &mut [u8],
    ssrc: u32,
    blocks: &[ReportBlock],
) -> Result<usize, RtcpError> {
    let count = block_count(blocks)?;
    let mut w = W::new(out)?;
    w.u32(ssrc)?;
    put_blocks(&mut w, blocks)?;
    w.finish(count, PT_RR)
}

/// Writes an SDES with one chunk holding one CNAME item (at most 255 bytes).
pub fn write_sdes_cname(out: &mut [u8], ssrc: u32, cname: &[u8]) -> Result<usize, RtcpError> {
    let len = u8::try_from(cname.len()).map_err(|_| RtcpError::TooLong)?;
    let mut w = W::new(out)?;
    w.u32(ssrc)?;
    w.put(&[SDES_CNAME, len])?;
    w.put(cname)?;
    // The null item ending the chunk; `finish` pads the rest to 32 bits.
    w.put(&[0])?;
    w.finish(1, PT_SDES)
}

/// Writes a BYE for up to 31 sources with an optional reason (at most 255 bytes).
pub fn write_bye(out: &mut [u8], ssrcs: &[u32], reason: Option<&[u8]>) -> Result<usize, RtcpError> {
    if ssrcs.len() > MAX_COUNT {
        return Err(RtcpError::TooManyItems);
    }
    let mut w = W::new(out)?;
    for s in ssrcs {
        w.u32(*s)?;
    }
    if let Some(reason) = reason {
        let len = u8::try_from(reason.len()).map_err(|_| RtcpError::TooLong)?;
        w.put(&[len])?;
        w.put(reason)?;
    }
    w.finish(ssrcs.len() as u8, PT_BYE)
}

/// Writes a generic NACK (RFC 4585 §6.2.1) for the `lost` sequence numbers.
///
/// Each number within 16 after the current PID joins its BLP; any other starts a new
/// (PID, BLP) pair. Given in ascending order (modulo 2^16), the pairs are minimal.
pub fn write_nack(
    out: &mut [u8],
    sender_ssrc: u32,
    media_ssrc: u32,
    lost: &[u16],
) -> Result<usize, RtcpError> {
    let (&first, rest) = lost.split_first().ok_or(RtcpError::EmptyNack)?;
    let mut w = W::new(out)?;
    w.u32(sender_ssrc)?;
    w.u32(media_ssrc)?;
    let (mut pid, mut blp) = (first, 0u16);
    for &seq in rest {
        match seq.wrapping_sub(pid) {
            0 => {}
            d @ 1..=16 => blp |= 1 << (d - 1),
            _ => {
                w.put(&pid.to_be_bytes())?;
                w.put(&blp.to_be_bytes())?;
                (pid, blp) = (seq, 0);
            }
        }
    }
    w.put(&pid.to_be_bytes())?;
    w.put(&blp.to_be_bytes())?;
    w.finish(FMT_NACK, PT_RTPFB)
}

/// Writes a picture loss indication (RFC 4585 §6.3.1).
pub fn write_pli(out: &mut [u8], sender_ssrc: u32, media_ssrc: u32) -> Result<usize, RtcpError> {
    let mut w = W::new(out)?;
    w.u32(sender_ssrc)?;
    w.u32(media_ssrc)?;
    w.finish(FMT_PLI, PT_PSFB)
}

/// Builds a compound RTCP datagram in a caller-owned buffer, one packet after another.
///
/// RFC 3550 §6.1 wants the first packet to be an SR or RR; the builder leaves that to the
/// caller (reduced-size RTCP, RFC 5506, may send feedback alone).
#[derive(Debug)]
pub struct CompoundWriter<'b> {
    out: &'b mut [u8],
    len: usize,
}

impl<'b> CompoundWriter<'b> {
    /// Starts an empty compound at the front of `out`.
    pub fn new(out: &'b mut [u8]) -> Self {
        CompoundWriter { out, len: 0 }
    }

    fn append(
        &mut self,
        write: impl FnOnce(&mut [u8]) -> Result<usize, RtcpError>,
    ) -> Result<&mut Self, RtcpError> {
        let tail = self
            .out
            .get_mut(self.len..)
            .ok_or(RtcpError::BufferTooSmall)?;
        self.len += write(tail)?;
        Ok(self)
    }

    /// Appends an SR.
    pub fn sender_report(
        &mut self,
        info: &SenderInfo,
        blocks: &[ReportBlock],
    ) -> Result<&mut Self, RtcpError> {
        self.append(|o| write_sender_report(o, info, blocks))
    }

    /// Appends an RR.
    pub fn receiver_report(
        &mut self,
        ssrc: u32,
        blocks: &[ReportBlock],
    ) -> Result<&mut Self, RtcpError> {
        self.append(|o| write_receiver_report(o, ssrc, blocks))
    }

    /// Appends an SDES with one CNAME.
    pub fn sdes_cname(&mut self, ssrc: u32, cname: &[u8]) -> Result<&mut Self, RtcpError> {
        self.append(|o| write_sdes_cname(o, ssrc, cname))
    }

    /// Appends a BYE.
    pub fn bye(&mut self, ssrcs: &[u32], reason: Option<&[u8]>) -> Result<&mut Self, RtcpError> {
        self.append(|o| write_bye(o, ssrcs, reason))
    }

    /// Appends a generic NACK.
    pub fn nack(
        &mut self,
        sender_ssrc: u32,
        media_ssrc: u32,
        lost: &[u16],
    ) -> Result<&mut Self, RtcpError> {
        self.append(|o| write_nack(o, sender_ssrc, media_ssrc, lost))
    }

    /// Appends a PLI.
    pub fn pli(&mut self, sender_ssrc: u32, media_ssrc: u32) -> Result<&mut Self, RtcpError> {
        self.append(|o| write_pli(o, sender_ssrc, media_ssrc))
    }

    /// Bytes written so far.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing has been written.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The datagram written so far.
    pub fn as_bytes(&self) -> &[u8] {
        self.out.get(..self.len).unwrap_or_default()
    }

    /// Ends the compound; returns its length.
    pub fn finish(self) -> usize {
        self.len
    }
}
