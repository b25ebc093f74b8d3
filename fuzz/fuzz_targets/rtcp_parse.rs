#![no_main]
//! RTCP compound: walk every sub-packet fully, and write back what talko's writers can
//! express (SR, RR, SDES CNAME, BYE, PLI) to check it reads the same.

use libfuzzer_sys::fuzz_target;
use talko_codecs::rtcp::{self, Compound, RtcpPacket, SenderInfo};

#[path = "../../codecs/tests/rtp_corpus.rs"]
mod corpus;

fuzz_target!(|data: &[u8]| {
    corpus::walk_rtcp(data);
    let _ = rtcp::is_rtcp(data);
    let strict = Compound::parse_strict(data);
    let framed = Compound::parse_with_limit(data, usize::MAX);
    if strict.is_ok() {
        assert!(framed.is_ok());
    }
    let Ok(c) = framed else {
        return;
    };
    let mut out = vec![0u8; 2048];
    for p in c.iter().flatten() {
        match p {
            RtcpPacket::SenderReport(sr) => {
                let blocks: Vec<_> = sr.report_blocks().collect();
                let info = SenderInfo {
                    ssrc: sr.ssrc(),
                    ntp_timestamp: sr.ntp_timestamp(),
                    rtp_timestamp: sr.rtp_timestamp(),
                    packet_count: sr.packet_count(),
                    octet_count: sr.octet_count(),
                };
                let n = rtcp::write_sender_report(&mut out, &info, &blocks).expect("fits");
                let Some(Ok(RtcpPacket::SenderReport(again))) = rtcp::packets(&out[..n]).next()
                else {
                    panic!("written SR does not parse");
                };
                assert_eq!(again.ntp_timestamp(), sr.ntp_timestamp());
                assert!(again.report_blocks().eq(sr.report_blocks()));
            }
            RtcpPacket::ReceiverReport(rr) => {
                let blocks: Vec<_> = rr.report_blocks().collect();
                let n = rtcp::write_receiver_report(&mut out, rr.ssrc(), &blocks).expect("fits");
                let Some(Ok(RtcpPacket::ReceiverReport(again))) = rtcp::packets(&out[..n]).next()
                else {
                    panic!("written RR does not parse");
                };
                assert!(again.report_blocks().eq(rr.report_blocks()));
            }
            RtcpPacket::Sdes(s) => {
                for chunk in s.chunks() {
                    if let Some(cname) = chunk.cname() {
                        let n = rtcp::write_sdes_cname(&mut out, chunk.ssrc, cname).expect("fits");
                        let Some(Ok(RtcpPacket::Sdes(again))) = rtcp::packets(&out[..n]).next()
                        else {
                            panic!("written SDES does not parse");
                        };
                        let first = again.chunks().next().expect("one chunk");
                        assert_eq!(first.cname(), Some(cname));
                    }
                }
            }
            RtcpPacket::Bye(b) => {
                let ssrcs: Vec<u32> = b.ssrcs().collect();
                let n = rtcp::write_bye(&mut out, &ssrcs, b.reason()).expect("fits");
                let Some(Ok(RtcpPacket::Bye(again))) = rtcp::packets(&out[..n]).next() else {
                    panic!("written BYE does not parse");
                };
                assert!(again.ssrcs().eq(b.ssrcs()));
                assert_eq!(again.reason(), b.reason());
            }
            RtcpPacket::Nack(nack) => {
                let lost: Vec<u16> = nack.lost().collect();
                if !lost.is_empty() {
                    let n = rtcp::write_nack(&mut out, 1, 2, &lost).unwrap_or(0);
                    if n > 0 {
                        let Some(Ok(RtcpPacket::Nack(again))) = rtcp::packets(&out[..n]).next()
                        else {
                            panic!("written NACK does not parse");
                        };
                        // Every number lost in the input is lost in the output.
                        let relost: Vec<u16> = again.lost().collect();
                        assert!(lost.iter().all(|s| relost.contains(s)));
                    }
                }
            }
            _ => {}
        }
    }
});
