//! RTCP compound parsing and writers: field values, one test per bad-input class, and a
//! round trip for every writer and for the compound builder.

use talko_codecs::rtcp::{
    self, is_rtcp, write_bye, write_nack, write_pli, write_receiver_report, write_sdes_cname,
    write_sender_report, Compound, CompoundWriter, ReportBlock, RtcpError, RtcpPacket, SenderInfo,
    MAX_DATAGRAM,
};

fn all(buf: &[u8]) -> Vec<Result<RtcpPacket<'_>, RtcpError>> {
    rtcp::packets(buf).collect()
}

fn only(buf: &[u8]) -> RtcpPacket<'_> {
    let mut v = all(buf);
    assert_eq!(v.len(), 1, "one packet expected");
    v.remove(0).expect("valid packet")
}

const BLOCK: ReportBlock = ReportBlock {
    ssrc: 0x5566_7788,
    fraction_lost: 25,
    cumulative_lost: -2,
    highest_seq: 0x0001_1000,
    jitter: 32,
    lsr: 0xB803_C000,
    dlsr: 0x0001_8000,
};

// RFC 3550 §6.4.1 SR layout followed by an §6.5 SDES CNAME, as browsers send them.
#[test]
fn sender_report_and_sdes_fields_are_read_from_rfc_3550_positions() {
    let buf = [
        0x81, 0xC8, 0x00, 0x0C, 0x11, 0x22, 0x33, 0x44, //
        0xE9, 0x4B, 0x3B, 0x80, 0x40, 0x00, 0x00, 0x00, //
        0x00, 0x01, 0xE2, 0x40, 0x00, 0x00, 0x00, 0x64, //
        0x00, 0x00, 0x3E, 0x80, //
        0x55, 0x66, 0x77, 0x88, 0x19, 0xFF, 0xFF, 0xFE, //
        0x00, 0x01, 0x10, 0x00, 0x00, 0x00, 0x00, 0x20, //
        0xB8, 0x03, 0xC0, 0x00, 0x00, 0x01, 0x80, 0x00, //
        0x81, 0xCA, 0x00, 0x05, 0x11, 0x22, 0x33, 0x44, //
        0x01, 0x0A, b't', b'a', b'l', b'k', b'o', b'@', b'h', b'o', //
        b's', b't', 0x00, 0x00, 0x00, 0x00,
    ];
    let c = Compound::parse_strict(&buf).expect("valid compound");
    let mut it = c.iter();
    let Some(Ok(RtcpPacket::SenderReport(sr))) = it.next() else {
        panic!("SR first");
    };
    assert_eq!(sr.ssrc(), 0x1122_3344);
    assert_eq!(sr.ntp_timestamp(), 0xE94B_3B80_4000_0000);
    assert_eq!(sr.rtp_timestamp(), 123_456);
    assert_eq!(sr.packet_count(), 100);
    assert_eq!(sr.octet_count(), 16_000);
    assert_eq!(sr.report_count(), 1);
    assert_eq!(sr.report_blocks().collect::<Vec<_>>(), vec![BLOCK]);
    assert!(sr.profile_extension().is_empty());
    let Some(Ok(RtcpPacket::Sdes(sdes))) = it.next() else {
        panic!("SDES second");
    };
    assert_eq!(sdes.chunk_count(), 1);
    let chunk = sdes.chunks().next().expect("one chunk");
    assert_eq!(chunk.ssrc, 0x1122_3344);
    assert_eq!(chunk.cname(), Some(&b"talko@host"[..]));
    assert_eq!(chunk.items().count(), 1);
    assert!(it.next().is_none());
}

#[test]
fn cumulative_lost_is_a_24_bit_signed_value() {
    for lost in [0, 1, -1, 0x7F_FFFF, -0x80_0000, 1234, -1234] {
        let b = ReportBlock {
            cumulative_lost: lost,
            ..BLOCK
        };
        let mut out = [0u8; 64];
        let n = write_receiver_report(&mut out, 9, &[b]).expect("fits");
        let RtcpPacket::ReceiverReport(rr) = only(&out[..n]) else {
            panic!("RR");
        };
        assert_eq!(
            rr.report_blocks().next().map(|b| b.cumulative_lost),
            Some(lost)
        );
    }
    // Out of range saturates instead of wrapping.
    let b = ReportBlock {
        cumulative_lost: 0x0100_0000,
        ..BLOCK
    };
    let mut out = [0u8; 64];
    let n = write_receiver_report(&mut out, 9, &[b]).expect("fits");
    let RtcpPacket::ReceiverReport(rr) = only(&out[..n]) else {
        panic!("RR");
    };
    assert_eq!(
        rr.report_blocks().next().map(|b| b.cumulative_lost),
        Some(0x7F_FFFF)
    );
}

// RFC 4585 §6.2.1: PID lost, bit i of BLP marks PID + i + 1 lost.
#[test]
fn nack_expands_pid_and_blp_into_lost_sequence_numbers() {
    let buf = [
        0x81, 0xCD, 0x00, 0x04, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, //
        0x00, 0x64, 0x00, 0x05, 0xFF, 0xFF, 0x80, 0x00,
    ];
    let RtcpPacket::Nack(n) = only(&buf) else {
        panic!("NACK");
    };
    assert_eq!(n.sender_ssrc, 0x1122_3344);
    assert_eq!(n.media_ssrc, 0x5566_7788);
    assert_eq!(
        n.pairs().collect::<Vec<_>>(),
        vec![(100, 5), (0xFFFF, 0x8000)]
    );
    // 0xFFFF + 16 wraps to 15.
    assert_eq!(
        n.lost().collect::<Vec<_>>(),
        vec![100, 101, 103, 0xFFFF, 15]
    );
}

#[test]
fn feedback_packets_are_told_apart_by_type_and_fmt() {
    let buf = [
        0x80, 0xC9, 0x00, 0x01, 0x11, 0x22, 0x33, 0x44, //
        0x81, 0xCE, 0x00, 0x02, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, //
        0x84, 0xCE, 0x00, 0x04, 0x11, 0x22, 0x33, 0x44, 0x00, 0x00, 0x00, 0x00, //
        0x55, 0x66, 0x77, 0x88, 0x07, 0x00, 0x00, 0x00, //
        0x8F, 0xCE, 0x00, 0x03, 0x11, 0x22, 0x33, 0x44, 0x00, 0x00, 0x00, 0x00, //
        b'R', b'E', b'M', b'B', //
        0x8F, 0xCD, 0x00, 0x03, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, //
        0x00, 0x01, 0x00, 0x02, //
        0x80, 0xCF, 0x00, 0x02, 0x11, 0x22, 0x33, 0x44, 0x04, 0x00, 0x00, 0x00, //
        0x83, 0xCC, 0x00, 0x03, 0x11, 0x22, 0x33, 0x44, b't', b'a', b'l', b'k', //
        0xCA, 0xFE, 0xBA, 0xBE, //
        0x85, 0xC3, 0x00, 0x01, 0x01, 0x02, 0x03, 0x04,
    ];
    let v: Vec<_> = all(&buf).into_iter().map(|p| p.expect("valid")).collect();
    assert_eq!(v.len(), 8);
    assert!(matches!(v[0], RtcpPacket::ReceiverReport(_)));
    assert!(matches!(
        v[1],
        RtcpPacket::Pli(p) if p.sender_ssrc == 0x1122_3344 && p.media_ssrc == 0x5566_7788
    ));
    let RtcpPacket::Fir(fir) = v[2] else {
        panic!("FIR");
    };
    assert_eq!(fir.sender_ssrc, 0x1122_3344);
    let e: Vec<_> = fir.entries().map(|e| (e.ssrc, e.seq)).collect();
    assert_eq!(e, vec![(0x5566_7788, 7)]);
    assert!(matches!(v[3], RtcpPacket::PayloadFeedback(f) if f.fmt == 15 && f.fci == b"REMB"));
    assert!(matches!(
        v[4],
        RtcpPacket::TransportFeedback(f) if f.fmt == 15 && f.fci == [0, 1, 0, 2]
    ));
    assert!(matches!(v[5], RtcpPacket::Xr(x) if x.ssrc == 0x1122_3344 && x.blocks.len() == 4));
    assert!(matches!(
        v[6],
        RtcpPacket::App(a) if a.subtype == 3 && &a.name == b"talk" && a.data == [0xCA, 0xFE, 0xBA, 0xBE]
    ));
    assert!(matches!(
        v[7],
        RtcpPacket::Unknown {
            packet_type: 195,
            count: 5,
            body: [1, 2, 3, 4]
        }
    ));
    assert_eq!(v[7].packet_type(), 195);
}

#[test]
fn only_the_last_packet_may_be_padded() {
    let last_padded = [
        0x80, 0xC9, 0x00, 0x01, 0x11, 0x22, 0x33, 0x44, //
        0xA1, 0xCB, 0x00, 0x02, 0x11, 0x22, 0x33, 0x44, 0x00, 0x00, 0x00, 0x04,
    ];
    let c = Compound::try_from(&last_padded[..]).expect("valid");
    let v: Vec<_> = c.iter().collect();
    let Ok(RtcpPacket::Bye(bye)) = v[1] else {
        panic!("BYE");
    };
    assert_eq!(bye.ssrcs().collect::<Vec<_>>(), vec![0x1122_3344]);
    assert_eq!(bye.reason(), None);

    let first_padded = [
        0xA0, 0xC9, 0x00, 0x02, 0x11, 0x22, 0x33, 0x44, 0x00, 0x00, 0x00, 0x04, //
        0x81, 0xCB, 0x00, 0x01, 0x11, 0x22, 0x33, 0x44,
    ];
    assert_eq!(
        Compound::try_from(&first_padded[..]),
        Err(RtcpError::PaddingNotLast)
    );
    assert_eq!(
        all(&first_padded).last(),
        Some(&Err(RtcpError::PaddingNotLast))
    );
}

#[test]
fn pad_count_zero_or_past_the_packet_is_rejected() {
    for last in [0x00, 0x09] {
        let buf = [0xA0, 0xC9, 0x00, 0x01, 0x11, 0x22, 0x33, last];
        assert_eq!(Compound::try_from(&buf[..]), Err(RtcpError::BadPadding));
    }
}

#[test]
fn header_under_4_bytes_is_truncated() {
    for n in 1..4 {
        let buf = [0x80, 0xC9, 0x00, 0x01];
        assert_eq!(Compound::try_from(&buf[..n]), Err(RtcpError::Truncated));
    }
    assert_eq!(Compound::try_from(&[][..]), Err(RtcpError::Empty));
    assert_eq!(all(&[]).len(), 0);
}

#[test]
fn version_other_than_2_is_rejected() {
    for b0 in [0x00, 0x40, 0xC0] {
        let buf = [b0, 0xC9, 0x00, 0x01, 0x11, 0x22, 0x33, 0x44];
        assert_eq!(Compound::try_from(&buf[..]), Err(RtcpError::BadVersion));
    }
}

#[test]
fn length_larger_than_the_datagram_is_rejected() {
    let buf = [
        0x80, 0xC9, 0x00, 0x01, 0x11, 0x22, 0x33, 0x44, //
        0x81, 0xCB, 0x00, 0x02, 0x11, 0x22, 0x33, 0x44,
    ];
    assert_eq!(Compound::try_from(&buf[..]), Err(RtcpError::LengthOverrun));
    let v = all(&buf);
    assert!(v[0].is_ok());
    assert_eq!(v[1], Err(RtcpError::LengthOverrun));
    assert_eq!(v.len(), 2);
    // Trailing bytes shorter than a header are refused too.
    let mut trailing = buf[..8].to_vec();
    trailing.extend_from_slice(&[0x80, 0xC9]);
    assert_eq!(Compound::try_from(&trailing[..]), Err(RtcpError::Truncated));
}

#[test]
fn report_count_larger_than_the_packet_holds_is_rejected() {
    // RR with RC 2 and one block.
    let mut out = [0u8; 128];
    let n = write_receiver_report(&mut out, 7, &[BLOCK]).expect("fits");
    out[0] = (out[0] & !0x1F) | 2;
    assert_eq!(all(&out[..n]), vec![Err(RtcpError::ReportCountOverrun)]);
    assert_eq!(
        Compound::parse_strict(&out[..n]),
        Err(RtcpError::ReportCountOverrun)
    );
    // The framing is fine, so the lenient walk continues past it.
    let c = Compound::try_from(&out[..n]).expect("framing valid");
    assert_eq!(c.iter().count(), 1);
    // SR with RC 31 and no blocks.
    let n = write_sender_report(&mut out, &SenderInfo::default(), &[]).expect("fits");
    out[0] |= 0x1F;
    assert_eq!(all(&out[..n]), vec![Err(RtcpError::ReportCountOverrun)]);
}

#[test]
fn sdes_item_past_its_chunk_is_rejected() {
    let past_end = [
        0x81, 0xCA, 0x00, 0x02, 0x11, 0x22, 0x33, 0x44, 0x01, 0x0A, b'a', b'b',
    ];
    assert_eq!(all(&past_end), vec![Err(RtcpError::SdesItemOverrun)]);
    let no_terminator = [
        0x81, 0xCA, 0x00, 0x02, 0x11, 0x22, 0x33, 0x44, 0x01, 0x02, b'a', b'b',
    ];
    assert_eq!(all(&no_terminator), vec![Err(RtcpError::SdesItemOverrun)]);
    let missing_chunk = [
        0x82, 0xCA, 0x00, 0x02, 0x11, 0x22, 0x33, 0x44, 0x01, 0x01, b'a', 0x00,
    ];
    assert_eq!(
        all(&missing_chunk),
        vec![Err(RtcpError::SourceCountOverrun)]
    );
}

#[test]
fn bye_reason_longer_than_the_packet_is_rejected() {
    let buf = [
        0x81, 0xCB, 0x00, 0x02, 0x11, 0x22, 0x33, 0x44, 0x08, b'a', b'b', b'c',
    ];
    assert_eq!(all(&buf), vec![Err(RtcpError::ByeReasonOverrun)]);
    let too_many_sources = [0x9F, 0xCB, 0x00, 0x01, 0x11, 0x22, 0x33, 0x44];
    assert_eq!(
        all(&too_many_sources),
        vec![Err(RtcpError::SourceCountOverrun)]
    );
}

#[test]
fn datagram_over_the_configured_maximum_is_rejected() {
    let mut buf = vec![0u8; MAX_DATAGRAM + 4];
    // RR then an APP filling the rest.
    buf[..8].copy_from_slice(&[0x80, 0xC9, 0x00, 0x01, 0, 0, 0, 1]);
    let words = ((buf.len() - 8) / 4 - 1) as u16;
    buf[8..12].copy_from_slice(&[0x80, 0xCC, (words >> 8) as u8, words as u8]);
    assert_eq!(Compound::try_from(&buf[..]), Err(RtcpError::TooLarge));
    assert!(Compound::parse_with_limit(&buf, 2000).is_ok());
}

#[test]
fn strict_compound_must_start_with_sr_or_rr() {
    let mut out = [0u8; 64];
    let n = write_bye(&mut out, &[1], None).expect("fits");
    assert!(Compound::try_from(&out[..n]).is_ok());
    assert_eq!(
        Compound::parse_strict(&out[..n]),
        Err(RtcpError::NotCompound)
    );
}

#[test]
fn is_rtcp_looks_at_version_and_packet_type() {
    assert!(is_rtcp(&[0x80, 200]));
    assert!(is_rtcp(&[0x81, 223]));
    assert!(!is_rtcp(&[0x80, 191]));
    assert!(!is_rtcp(&[0x80, 0x6F]));
    assert!(!is_rtcp(&[0x40, 200]));
    assert!(!is_rtcp(&[0x80]));
}

#[test]
fn sender_report_writer_round_trips() {
    let info = SenderInfo {
        ssrc: 0xDEAD_BEEF,
        ntp_timestamp: 0xE94B_3B80_4000_0000,
        rtp_timestamp: 960_000,
        packet_count: 500,
        octet_count: 80_000,
    };
    let blocks: Vec<ReportBlock> = (0..31)
        .map(|i| ReportBlock {
            ssrc: i,
            cumulative_lost: i as i32 - 15,
            ..BLOCK
        })
        .collect();
    let mut out = [0u8; 1024];
    let n = write_sender_report(&mut out, &info, &blocks).expect("fits");
    assert_eq!(n, 28 + 31 * 24);
    let RtcpPacket::SenderReport(sr) = only(&out[..n]) else {
        panic!("SR");
    };
    assert_eq!(sr.ssrc(), info.ssrc);
    assert_eq!(sr.ntp_timestamp(), info.ntp_timestamp);
    assert_eq!(sr.rtp_timestamp(), info.rtp_timestamp);
    assert_eq!(sr.packet_count(), info.packet_count);
    assert_eq!(sr.octet_count(), info.octet_count);
    assert_eq!(sr.report_blocks().collect::<Vec<_>>(), blocks);
    let too_many = vec![BLOCK; 32];
    assert_eq!(
        write_sender_report(&mut out, &info, &too_many),
        Err(RtcpError::TooManyItems)
    );
}

#[test]
fn receiver_report_writer_round_trips() {
    let mut out = [0u8; 128];
    let n = write_receiver_report(&mut out, 0x0102_0304, &[BLOCK, BLOCK]).expect("fits");
    assert_eq!(n, 8 + 48);
    let RtcpPacket::ReceiverReport(rr) = only(&out[..n]) else {
        panic!("RR");
    };
    assert_eq!(rr.ssrc(), 0x0102_0304);
    assert_eq!(rr.report_count(), 2);
    assert_eq!(rr.report_blocks().collect::<Vec<_>>(), vec![BLOCK, BLOCK]);
}

#[test]
fn sdes_cname_writer_round_trips_every_length() {
    let name = [b'x'; 255];
    let mut out = [0u8; 300];
    for len in [0, 1, 2, 3, 4, 5, 10, 254, 255] {
        let n = write_sdes_cname(&mut out, 77, &name[..len]).expect("fits");
        assert_eq!(n % 4, 0);
        let RtcpPacket::Sdes(s) = only(&out[..n]) else {
            panic!("SDES");
        };
        let chunks: Vec<_> = s.chunks().collect();
        assert_eq!(chunks.len(), 1);
        assert_eq!(chunks[0].ssrc, 77);
        assert_eq!(chunks[0].cname(), Some(&name[..len]));
    }
    assert_eq!(
        write_sdes_cname(&mut out, 77, &[b'x'; 256]),
        Err(RtcpError::TooLong)
    );
}

#[test]
fn bye_writer_round_trips_with_and_without_reason() {
    let mut out = [0u8; 400];
    for reason in [
        None,
        Some(&b""[..]),
        Some(&b"shutting down"[..]),
        Some(&[b'r'; 255][..]),
    ] {
        let n = write_bye(&mut out, &[1, 2, 3], reason).expect("fits");
        assert_eq!(n % 4, 0);
        let RtcpPacket::Bye(b) = only(&out[..n]) else {
            panic!("BYE");
        };
        assert_eq!(b.ssrcs().collect::<Vec<_>>(), vec![1, 2, 3]);
        assert_eq!(b.reason(), reason);
    }
    assert_eq!(
        write_bye(&mut out, &[0; 32], None),
        Err(RtcpError::TooManyItems)
    );
}

#[test]
fn nack_writer_packs_lost_sequence_numbers_into_pid_blp_pairs() {
    let mut out = [0u8; 128];
    let lost = [100, 101, 103, 116, 117, 300, 65535, 0, 15];
    let n = write_nack(&mut out, 1, 2, &lost).expect("fits");
    let RtcpPacket::Nack(nack) = only(&out[..n]) else {
        panic!("NACK");
    };
    assert_eq!(nack.sender_ssrc, 1);
    assert_eq!(nack.media_ssrc, 2);
    assert_eq!(
        nack.pairs().collect::<Vec<_>>(),
        vec![
            (100, 0b1000_0000_0000_0101),
            (117, 0),
            (300, 0),
            (65535, 0b1000_0000_0000_0001)
        ]
    );
    assert_eq!(nack.lost().collect::<Vec<_>>(), lost);
    assert_eq!(write_nack(&mut out, 1, 2, &[]), Err(RtcpError::EmptyNack));
}

#[test]
fn pli_writer_round_trips() {
    let mut out = [0u8; 12];
    let n = write_pli(&mut out, 5, 6).expect("fits");
    assert_eq!(n, 12);
    assert!(
        matches!(only(&out[..n]), RtcpPacket::Pli(p) if p.sender_ssrc == 5 && p.media_ssrc == 6)
    );
}

#[test]
fn writers_report_a_short_buffer() {
    let mut out = [0u8; 64];
    for short in 0..56 {
        assert_eq!(
            write_receiver_report(&mut out[..short], 1, &[BLOCK, BLOCK]),
            Err(RtcpError::BufferTooSmall)
        );
    }
    for short in 0..12 {
        assert_eq!(
            write_pli(&mut out[..short], 1, 2),
            Err(RtcpError::BufferTooSmall)
        );
        assert_eq!(
            write_nack(&mut out[..short + 4], 1, 2, &[1]),
            Err(RtcpError::BufferTooSmall)
        );
    }
}

#[test]
fn compound_writer_builds_a_strictly_valid_compound() {
    let mut out = [0u8; 1500];
    let mut w = CompoundWriter::new(&mut out);
    assert!(w.is_empty());
    w.sender_report(
        &SenderInfo {
            ssrc: 10,
            ..SenderInfo::default()
        },
        &[BLOCK],
    )
    .and_then(|w| w.sdes_cname(10, b"talko"))
    .and_then(|w| w.nack(10, 20, &[5, 6, 7]))
    .and_then(|w| w.pli(10, 20))
    .and_then(|w| w.receiver_report(10, &[]))
    .and_then(|w| w.bye(&[10], Some(b"bye")))
    .expect("fits");
    let n = w.len();
    assert_eq!(w.as_bytes().len(), n);
    assert_eq!(w.finish(), n);
    let c = Compound::parse_strict(&out[..n]).expect("strictly valid");
    let types: Vec<u8> = c.iter().map(|p| p.expect("valid").packet_type()).collect();
    assert_eq!(types, vec![200, 202, 205, 206, 201, 203]);
}

#[test]
fn compound_writer_stops_cleanly_when_the_buffer_is_full() {
    let mut out = [0u8; 40];
    let mut w = CompoundWriter::new(&mut out);
    w.receiver_report(1, &[]).expect("8 bytes fit");
    assert_eq!(
        w.sdes_cname(1, b"a-long-enough-cname-to-overflow")
            .map(|_| ()),
        Err(RtcpError::BufferTooSmall)
    );
    // What was written before stays a valid compound.
    let n = w.len();
    assert_eq!(n, 8);
    assert!(Compound::parse_strict(&out[..n]).is_ok());
}

#[test]
fn errors_describe_themselves() {
    let e: Box<dyn std::error::Error> = Box::new(RtcpError::ByeReasonOverrun);
    assert!(e.to_string().contains("BYE"));
}
