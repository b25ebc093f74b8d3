//! RTCP for one participant: receive statistics (RFC 3550 A.3, A.8), the SR/RR we send
//! and what the reports we receive say (loss, jitter, round-trip time).
//!
//! This module owns the arithmetic of RTCP statistics and the building and reading of
//! compound reports through `talko_codecs::rtcp`. Its NTP clock is the engine's own
//! timeline (the engine never reads a wall clock): round-trip times stay exact because
//! they only compare our own timestamps with their echo. It must never allocate.

use talko_codecs::rtcp::{CompoundWriter, Packets, ReportBlock, RtcpPacket, SenderInfo};

/// Receive statistics of one incoming RTP stream.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct RxStats {
    started: bool,
    base_seq: u32,
    max_seq: u16,
    cycles: u32,
    received: u64,
    expected_prior: u64,
    received_prior: u64,
    /// Interarrival jitter in RTP units (48 kHz), scaled by 16 (RFC 3550 A.8).
    jitter_q4: u32,
    last_transit: Option<i64>,
}

impl RxStats {
    /// Accounts one authenticated packet that arrived at `now_us`.
    pub(crate) fn on_packet(&mut self, seq: u16, ts: u32, now_us: i64) {
        if !self.started {
            self.started = true;
            self.base_seq = u32::from(seq);
            self.max_seq = seq;
        } else {
            let delta = seq.wrapping_sub(self.max_seq);
            if delta != 0 && delta < 0x8000 {
                if seq < self.max_seq {
                    self.cycles = self.cycles.wrapping_add(1 << 16);
                }
                self.max_seq = seq;
            }
        }
        self.received += 1;
        // Transit in RTP units: arrival (48 kHz) minus the RTP timestamp, wrapping.
        let arrival = now_us.wrapping_mul(48) / 1_000;
        let transit = arrival.wrapping_sub(i64::from(ts));
        if let Some(prev) = self.last_transit {
            let d = (transit.wrapping_sub(prev)).unsigned_abs() % (1 << 32);
            let d = d as i64;
            let j = i64::from(self.jitter_q4);
            self.jitter_q4 = (j + d - ((j + 8) >> 4)).clamp(0, i64::from(u32::MAX)) as u32;
        }
        self.last_transit = Some(transit);
    }

    fn extended_max(&self) -> u32 {
        self.cycles.wrapping_add(u32::from(self.max_seq))
    }

    /// Packets lost so far (may be negative with duplicates).
    pub(crate) fn cumulative_lost(&self) -> i64 {
        if !self.started {
            return 0;
        }
        let expected = i64::from(self.extended_max().wrapping_sub(self.base_seq)) + 1;
        expected - self.received as i64
    }

    /// Jitter in RTP units.
    pub(crate) fn jitter(&self) -> u32 {
        self.jitter_q4 >> 4
    }

    /// The report block about this stream, advancing the "prior" counters.
    pub(crate) fn report_block(
        &mut self,
        ssrc: u32,
        last_sr: Option<(u32, i64)>,
        now_us: i64,
    ) -> Option<ReportBlock> {
        if !self.started {
            return None;
        }
        let expected = u64::from(self.extended_max().wrapping_sub(self.base_seq)) + 1;
        let expected_interval = expected.saturating_sub(self.expected_prior);
        let received_interval = self.received.saturating_sub(self.received_prior);
        self.expected_prior = expected;
        self.received_prior = self.received;
        let lost_interval = expected_interval.saturating_sub(received_interval);
        let fraction = (lost_interval << 8)
            .checked_div(expected_interval)
            .map_or(0, |f| f.min(255) as u8);
        let (lsr, dlsr) = match last_sr {
            Some((lsr, at_us)) => {
                // DLSR in units of 1/65536 s.
                let d = ((now_us - at_us).max(0) as u64 * 65_536 / 1_000_000) as u32;
                (lsr, d)
            }
            None => (0, 0),
        };
        Some(ReportBlock {
            ssrc,
            fraction_lost: fraction,
            cumulative_lost: self.cumulative_lost().clamp(-(1 << 23), (1 << 23) - 1) as i32,
            highest_seq: self.extended_max(),
            jitter: self.jitter(),
            lsr,
            dlsr,
        })
    }
}

/// Our NTP time (RFC 3550 §4) for `now_us` on the engine timeline.
pub(crate) fn ntp(now_us: i64) -> u64 {
    let us = now_us.max(0) as u64;
    let secs = us / 1_000_000;
    let frac = ((us % 1_000_000) << 32) / 1_000_000;
    // Start the timeline at an arbitrary, non-zero NTP era second.
    ((secs + 0x8000_0000) << 32) | frac
}

/// The middle 32 bits of an NTP timestamp (LSR, RFC 3550 §6.4.1).
pub(crate) fn ntp_mid(ntp: u64) -> u32 {
    (ntp >> 16) as u32
}

/// What we send and receive on one participant's stream.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ReportInput {
    pub ssrc_out: u32,
    pub ssrc_in: u32,
    pub rtp_ts: u32,
    pub packets_sent: u64,
    pub octets_sent: u64,
}

/// Writes our compound report (SR, or RR when we have sent nothing, plus SDES CNAME).
pub(crate) fn write_report(
    out: &mut [u8],
    input: &ReportInput,
    block: Option<ReportBlock>,
    now_us: i64,
) -> Option<usize> {
    let blocks_arr = [block.unwrap_or_default()];
    let blocks: &[ReportBlock] = if block.is_some() { &blocks_arr } else { &[] };
    let mut w = CompoundWriter::new(out);
    if input.packets_sent > 0 {
        let info = SenderInfo {
            ssrc: input.ssrc_out,
            ntp_timestamp: ntp(now_us),
            rtp_timestamp: input.rtp_ts,
            packet_count: input.packets_sent as u32,
            octet_count: input.octets_sent as u32,
        };
        w.sender_report(&info, blocks).ok()?;
    } else {
        w.receiver_report(input.ssrc_out, blocks).ok()?;
    }
    w.sdes_cname(input.ssrc_out, b"talko").ok()?;
    let _ = input.ssrc_in;
    Some(w.finish())
}

/// What a received compound report told us.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct Received {
    /// Middle bits of the sender's NTP time, if it was an SR.
    pub sr_ntp_mid: Option<u32>,
    /// The block about our stream: fraction lost (0–1), cumulative lost, jitter (ms).
    pub block: Option<(f32, i64, f32)>,
    /// Round-trip time in ms, when the block echoed one of our SRs.
    pub rtt_ms: Option<f32>,
}

/// Reads a received (already unprotected) compound report.
pub(crate) fn read_report(packets: Packets<'_>, our_ssrc: u32, now_us: i64) -> Received {
    let mut r = Received::default();
    let now_mid = ntp_mid(ntp(now_us));
    let use_block = |b: ReportBlock, r: &mut Received| {
        if b.ssrc != our_ssrc {
            return;
        }
        r.block = Some((
            f32::from(b.fraction_lost) / 256.0,
            i64::from(b.cumulative_lost),
            b.jitter as f32 / 48.0,
        ));
        if b.lsr != 0 {
            let rtt = now_mid.wrapping_sub(b.lsr).wrapping_sub(b.dlsr);
            if rtt < 0x8000_0000 {
                r.rtt_ms = Some(rtt as f32 * 1000.0 / 65_536.0);
            }
        }
    };
    for p in packets {
        match p {
            Ok(RtcpPacket::SenderReport(sr)) => {
                r.sr_ntp_mid = Some(ntp_mid(sr.ntp_timestamp()));
                for b in sr.report_blocks() {
                    use_block(b, &mut r);
                }
            }
            Ok(RtcpPacket::ReceiverReport(rr)) => {
                for b in rr.report_blocks() {
                    use_block(b, &mut r);
                }
            }
            Ok(_) => {}
            Err(_) => break,
        }
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loss_is_counted_across_sequence_wrap() {
        let mut rx = RxStats::default();
        let mut t = 0;
        for seq in (65_530u16..=65_535).chain(0..10) {
            if seq == 2 || seq == 65_533 {
                continue;
            }
            rx.on_packet(seq, u32::from(seq) * 960, t);
            t += 20_000;
        }
        assert_eq!(rx.cumulative_lost(), 2);
        let b = rx.report_block(7, None, t).unwrap();
        assert_eq!(b.highest_seq, (1 << 16) + 9);
        assert_eq!(b.fraction_lost, (2 * 256 / 16) as u8);
    }

    #[test]
    fn steady_arrivals_have_no_jitter_and_jittered_ones_do() {
        let mut rx = RxStats::default();
        for i in 0..100u32 {
            rx.on_packet(i as u16, i * 960, i64::from(i) * 20_000);
        }
        assert_eq!(rx.jitter(), 0);
        for i in 100..300u32 {
            let wobble = if i % 2 == 0 { 10_000 } else { 0 };
            rx.on_packet(i as u16, i * 960, i64::from(i) * 20_000 + wobble);
        }
        // 10 ms alternating delay: |D| = 480 units each packet.
        assert!(rx.jitter() > 300, "{}", rx.jitter());
    }

    #[test]
    fn rtt_comes_from_the_echoed_sender_report() {
        let mut buf = [0u8; 256];
        let input = ReportInput {
            ssrc_out: 1,
            ssrc_in: 2,
            rtp_ts: 0,
            packets_sent: 10,
            octets_sent: 1000,
        };
        let sent_at = 1_000_000;
        let n = write_report(&mut buf, &input, None, sent_at).unwrap();
        // The peer reads our SR ...
        let seen = read_report(talko_codecs::rtcp::packets(&buf[..n]), 2, sent_at + 20_000);
        let lsr = seen.sr_ntp_mid.unwrap();
        // ... holds it 100 ms and answers; the network takes 30 ms each way.
        let mut rx = RxStats::default();
        rx.on_packet(1, 0, 0);
        let block = rx
            .report_block(1, Some((lsr, sent_at + 30_000)), sent_at + 130_000)
            .unwrap();
        let input2 = ReportInput {
            ssrc_out: 2,
            ssrc_in: 1,
            rtp_ts: 0,
            packets_sent: 0,
            octets_sent: 0,
        };
        let n = write_report(&mut buf, &input2, Some(block), sent_at + 130_000).unwrap();
        let got = read_report(talko_codecs::rtcp::packets(&buf[..n]), 1, sent_at + 160_000);
        let rtt = got.rtt_ms.unwrap();
        assert!((rtt - 60.0).abs() < 1.0, "rtt {rtt}");
    }
}
