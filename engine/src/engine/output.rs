//! The output half of [`Engine`]: queued sends become datagrams in the caller's buffer.
//!
//! A mix packet is copied once from the call's shared (or mix-minus) encode, re-headed
//! for the listener (`rewrite_header`: SSRC, sequence number, timestamp; payload type)
//! and SRTP-protected in place; RTCP reports are written and SRTCP-protected; STUN
//! answers are copied. Must never allocate or encode.

use talko_codecs::rtp::rewrite_header;
use talko_codecs::srtp::RtpProtectBatch;

use super::{Engine, Transmit};
use crate::rtcp_stats::{self, ReportInput};
use crate::tx::{Pending, Source};

impl Engine {
    /// Writes the next queued datagram into `out` (at least `max_datagram` bytes) and says
    /// where to send it; `None` when nothing is queued. Drain after every `handle_*`.
    pub fn poll_transmit(&mut self, out: &mut [u8]) -> Option<Transmit> {
        while let Some(p) = self.tx.pop() {
            if let Some(t) = self.build(p, out, None) {
                return Some(t);
            }
        }
        None
    }

    /// [`Engine::poll_transmit`] for up to `sends.len()` datagrams at once: datagram `i`
    /// is written at `space[i * stride..]` (`stride` at least `max_datagram`) and
    /// described by `sends[i]`; returns how many entries were filled. An entry with
    /// `len == 0` is a queued send that could no longer be built (its participant left):
    /// nothing to send. The media packets of the batch — the shared mix re-headed for
    /// each listener — are SRTP-protected together ([`RtpProtectBatch`]: their AES-CM
    /// tags computed side by side), which is where a large call spends most of its
    /// send time.
    pub fn poll_transmit_batch(
        &mut self,
        space: &mut [u8],
        stride: usize,
        sends: &mut [Transmit],
    ) -> usize {
        let mut batch = RtpProtectBatch::new();
        let mut filled = 0;
        for (buf, send) in space.chunks_exact_mut(stride.max(1)).zip(sends.iter_mut()) {
            let Some(p) = self.tx.pop() else {
                break;
            };
            *send = self
                .build(p, buf, Some(&mut batch))
                .unwrap_or(Transmit::NOTHING);
            filled += 1;
        }
        // Finishing the batch writes the pending tags before `space` is released.
        batch.finish();
        filled
    }

    /// Writes one queued send into `out`. With `batch`, a media packet's SRTP tag is
    /// left to the batch (written when it finishes).
    pub(super) fn build<'b>(
        &mut self,
        p: Pending,
        out: &'b mut [u8],
        batch: Option<&mut RtpProtectBatch<'b>>,
    ) -> Option<Transmit> {
        match p {
            Pending::Media {
                part,
                call,
                source,
                seq,
                ts,
                to,
            } => {
                let c = self.calls.get(call as usize)?.as_ref()?;
                let m = c.mixing.as_deref()?;
                let pkt = match source {
                    Source::Shared => m.shared.packet()?,
                    Source::Speaker(s) => m.speakers.get(usize::from(s))?.packet()?,
                };
                let p = self.parts.get_mut(part as usize)?.as_mut()?;
                let dst = out.get_mut(..pkt.len())?;
                dst.copy_from_slice(pkt);
                rewrite_header(dst, p.ssrc_out, seq, ts).ok()?;
                if let Some(b) = dst.get_mut(1) {
                    *b = (*b & 0x80) | p.payload_type;
                }
                let len = pkt.len();
                let n = match batch {
                    Some(batch) => batch.push(&mut p.srtp_out, out, len).ok()?,
                    None => p.srtp_out.protect_rtp(out, len).ok()?,
                };
                p.stats.packets_out += 1;
                p.stats.bytes_out += n as u64;
                Some(Transmit { to, len: n })
            }
            Pending::Rtcp {
                part,
                to,
                at_us: now_us,
                rtp_ts,
            } => {
                let p = self.parts.get_mut(part as usize)?.as_mut()?;
                let input = ReportInput {
                    ssrc_out: p.ssrc_out,
                    ssrc_in: p.ssrc_in,
                    rtp_ts,
                    packets_sent: p.stats.packets_out,
                    octets_sent: p.stats.bytes_out,
                };
                let block = p.rx.report_block(p.ssrc_in, p.last_sr, now_us);
                let room = out
                    .len()
                    .saturating_sub(talko_codecs::srtp::SRTCP_TRAILER_MAX);
                let len = rtcp_stats::write_report(out.get_mut(..room)?, &input, block, now_us)?;
                let n = p.srtp_out.protect_rtcp(out, len).ok()?;
                Some(Transmit { to, len: n })
            }
            Pending::Raw { idx, len, to } => {
                let src = self.tx.raw(idx)?.get(..len)?;
                out.get_mut(..len)?.copy_from_slice(src);
                Some(Transmit { to, len })
            }
        }
    }
}
