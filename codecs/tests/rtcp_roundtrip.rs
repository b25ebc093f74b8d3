//! Property tests: every RTCP writer's output, for any input it accepts, reads back as
//! what was written, and a compound of them is strictly valid.

use proptest::prelude::*;
use talko_codecs::rtcp::{
    self, write_bye, write_nack, write_receiver_report, write_sdes_cname, write_sender_report,
    Compound, CompoundWriter, ReportBlock, RtcpPacket, SenderInfo,
};

fn block() -> impl Strategy<Value = ReportBlock> {
    (
        any::<u32>(),
        any::<u8>(),
        -0x80_0000i32..=0x7F_FFFF,
        any::<u32>(),
        any::<u32>(),
        any::<u32>(),
        any::<u32>(),
    )
        .prop_map(
            |(ssrc, fraction_lost, cumulative_lost, highest_seq, jitter, lsr, dlsr)| ReportBlock {
                ssrc,
                fraction_lost,
                cumulative_lost,
                highest_seq,
                jitter,
                lsr,
                dlsr,
            },
        )
}

fn sender_info() -> impl Strategy<Value = SenderInfo> {
    (
        any::<u32>(),
        any::<u64>(),
        any::<u32>(),
        any::<u32>(),
        any::<u32>(),
    )
        .prop_map(
            |(ssrc, ntp_timestamp, rtp_timestamp, packet_count, octet_count)| SenderInfo {
                ssrc,
                ntp_timestamp,
                rtp_timestamp,
                packet_count,
                octet_count,
            },
        )
}

fn one(buf: &[u8]) -> RtcpPacket<'_> {
    let mut it = rtcp::packets(buf);
    let p = it.next().expect("a packet").expect("valid");
    assert!(it.next().is_none());
    p
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

    #[test]
    fn sender_reports_read_back_as_written(
        info in sender_info(),
        blocks in prop::collection::vec(block(), 0..=31),
    ) {
        let mut out = [0u8; 1024];
        let n = write_sender_report(&mut out, &info, &blocks).expect("fits");
        prop_assert_eq!(n, 28 + 24 * blocks.len());
        let RtcpPacket::SenderReport(sr) = one(&out[..n]) else {
            return Err(TestCaseError::fail("not an SR"));
        };
        prop_assert_eq!(sr.ssrc(), info.ssrc);
        prop_assert_eq!(sr.ntp_timestamp(), info.ntp_timestamp);
        prop_assert_eq!(sr.rtp_timestamp(), info.rtp_timestamp);
        prop_assert_eq!(sr.packet_count(), info.packet_count);
        prop_assert_eq!(sr.octet_count(), info.octet_count);
        prop_assert_eq!(sr.report_blocks().collect::<Vec<_>>(), blocks);
    }

    #[test]
    fn receiver_reports_read_back_as_written(
        ssrc in any::<u32>(),
        blocks in prop::collection::vec(block(), 0..=31),
    ) {
        let mut out = [0u8; 1024];
        let n = write_receiver_report(&mut out, ssrc, &blocks).expect("fits");
        let RtcpPacket::ReceiverReport(rr) = one(&out[..n]) else {
            return Err(TestCaseError::fail("not an RR"));
        };
        prop_assert_eq!(rr.ssrc(), ssrc);
        prop_assert_eq!(rr.report_blocks().collect::<Vec<_>>(), blocks);
    }

    #[test]
    fn sdes_cname_and_bye_read_back_as_written(
        ssrc in any::<u32>(),
        cname in prop::collection::vec(any::<u8>(), 0..=255),
        ssrcs in prop::collection::vec(any::<u32>(), 0..=31),
        reason in prop::option::of(prop::collection::vec(any::<u8>(), 0..=255)),
    ) {
        let mut out = [0u8; 1024];
        let n = write_sdes_cname(&mut out, ssrc, &cname).expect("fits");
        let RtcpPacket::Sdes(s) = one(&out[..n]) else {
            return Err(TestCaseError::fail("not SDES"));
        };
        let chunk = s.chunks().next().expect("one chunk");
        prop_assert_eq!(chunk.ssrc, ssrc);
        prop_assert_eq!(chunk.cname(), Some(&cname[..]));

        let n = write_bye(&mut out, &ssrcs, reason.as_deref()).expect("fits");
        let RtcpPacket::Bye(b) = one(&out[..n]) else {
            return Err(TestCaseError::fail("not BYE"));
        };
        prop_assert_eq!(b.ssrcs().collect::<Vec<_>>(), ssrcs);
        prop_assert_eq!(b.reason(), reason.as_deref());
    }

    #[test]
    fn nack_reports_exactly_the_lost_set(
        start in any::<u16>(),
        gaps in prop::collection::vec(1u16..40, 1..60),
    ) {
        // Ascending (modulo 2^16) lost sequence numbers, as a receiver finds them.
        let mut lost = vec![start];
        for g in gaps {
            let next = lost.last().copied().unwrap_or(start).wrapping_add(g);
            lost.push(next);
        }
        let mut out = [0u8; 1024];
        let n = write_nack(&mut out, 1, 2, &lost).expect("fits");
        let RtcpPacket::Nack(nack) = one(&out[..n]) else {
            return Err(TestCaseError::fail("not a NACK"));
        };
        let mut got: Vec<u16> = nack.lost().collect();
        let mut want = lost.clone();
        got.sort_unstable();
        want.sort_unstable();
        want.dedup();
        prop_assert_eq!(got, want);
        // Every pair covers a PID and the next 16 numbers: never more pairs than needed.
        prop_assert!(nack.pairs().len() <= lost.len());
        for (pid, _) in nack.pairs() {
            prop_assert!(lost.contains(&pid));
        }
    }

    #[test]
    fn compounds_of_every_writer_are_strictly_valid(
        info in sender_info(),
        blocks in prop::collection::vec(block(), 0..=3),
        cname in prop::collection::vec(any::<u8>(), 0..=40),
        lost in prop::collection::vec(any::<u16>(), 1..10),
        reason in prop::option::of(prop::collection::vec(any::<u8>(), 0..=20)),
    ) {
        let mut out = [0u8; 1500];
        let mut w = CompoundWriter::new(&mut out);
        w.sender_report(&info, &blocks)
            .and_then(|w| w.sdes_cname(info.ssrc, &cname))
            .and_then(|w| w.nack(info.ssrc, 9, &lost))
            .and_then(|w| w.pli(info.ssrc, 9))
            .and_then(|w| w.bye(&[info.ssrc], reason.as_deref()))
            .expect("fits");
        let n = w.finish();
        let c = Compound::parse_strict(&out[..n]).expect("strictly valid");
        let types: Vec<u8> = c.iter().map(|p| p.map(|p| p.packet_type())).collect::<Result<_, _>>().expect("valid");
        prop_assert_eq!(types, vec![200, 202, 205, 206, 203]);
    }
}
