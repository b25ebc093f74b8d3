#![no_main]
//! The demultiplexer feeding every parser: classify a datagram, hand it to the parser of
//! its kind, and check that what a parser accepts was classified as that parser's kind.

use libfuzzer_sys::fuzz_target;
use talko_codecs::demux::{classify, Kind};
use talko_codecs::opus::toc::OpusPacket;
use talko_codecs::rtcp;
use talko_codecs::rtp::RtpPacket;
use talko_codecs::stun::{Method, StunMessage};

fuzz_target!(|data: &[u8]| {
    let kind = classify(data);
    match kind {
        Kind::Stun => {
            if let Ok(msg) = StunMessage::try_from(data) {
                let _ = msg.verify_fingerprint();
            }
        }
        Kind::Rtp => {
            if let Ok(packet) = RtpPacket::try_from(data) {
                if let Ok(opus) = OpusPacket::try_from(packet.payload()) {
                    let _ = opus.frames().count();
                }
            }
        }
        Kind::Rtcp => {
            for packet in rtcp::packets(data) {
                if packet.is_err() {
                    break;
                }
            }
        }
        Kind::Dtls | Kind::Other => {}
    }
    // Every Binding message (types 0x0001, 0x0011, 0x0101, 0x0111) is classified STUN.
    if let Ok(msg) = StunMessage::parse(data, usize::MAX) {
        if msg.method() == Method::Binding {
            assert_eq!(kind, Kind::Stun);
        }
    }
    // Every RTP packet whose second byte is not an RTCP type is classified RTP.
    if RtpPacket::try_from(data).is_ok() {
        let second = data.get(1).copied().unwrap_or_default();
        let want = if (192..=223).contains(&second) {
            Kind::Rtcp
        } else {
            Kind::Rtp
        };
        assert_eq!(kind, want);
    }
});
