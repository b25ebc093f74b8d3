#![no_main]
//! RTP view: parse any bytes, walk every accessor and extension, and when the packet is
//! one talko's writer can express, write it back and check it reads the same.

use libfuzzer_sys::fuzz_target;
use talko_codecs::rtp::{audio_level, rewrite_header, Extension, RtpHeader, RtpPacket};

#[path = "../../codecs/tests/rtp_corpus.rs"]
mod corpus;

fuzz_target!(|data: &[u8]| {
    let _ = RtpPacket::try_from(data);
    let Ok(p) = RtpPacket::parse_with_limit(data, usize::MAX) else {
        return;
    };
    corpus::walk_rtp(&p);
    for id in 0..=15 {
        let _ = audio_level(&p, id);
    }
    assert!(p.header_len() + p.payload().len() + p.padding_len() == data.len());

    let mut copy = data.to_vec();
    rewrite_header(&mut copy, 1, 2, 3).expect("a parsed packet can be rewritten");
    let q = RtpPacket::parse_with_limit(&copy, usize::MAX).expect("rewrite keeps it valid");
    assert_eq!((q.ssrc(), q.sequence_number(), q.timestamp()), (1, 2, 3));
    assert_eq!(q.payload(), p.payload());

    // Re-encode unless the extension profile is one the writer does not produce.
    if matches!(p.extension_profile(), Some(x) if x != 0xBEDE && x & 0xFFF0 != 0x1000) {
        return;
    }
    let csrcs: Vec<u32> = p.csrcs().collect();
    let exts: Vec<Extension<'_>> = p.extensions().collect();
    let h = RtpHeader {
        marker: p.marker(),
        payload_type: p.payload_type(),
        sequence_number: p.sequence_number(),
        timestamp: p.timestamp(),
        ssrc: p.ssrc(),
        csrcs: &csrcs,
        extensions: &exts,
        padding: p.padding_len() as u8,
    };
    let mut out = vec![0u8; h.len(p.payload().len())];
    let n = h
        .write(p.payload(), &mut out)
        .expect("parsed fields are writable");
    let r = RtpPacket::parse_with_limit(&out[..n], usize::MAX).expect("writer output parses");
    assert_eq!(r.marker(), p.marker());
    assert_eq!(r.payload_type(), p.payload_type());
    assert_eq!(r.sequence_number(), p.sequence_number());
    assert_eq!(r.timestamp(), p.timestamp());
    assert_eq!(r.ssrc(), p.ssrc());
    assert!(r.csrcs().eq(p.csrcs()));
    assert!(r.extensions().eq(p.extensions()));
    assert_eq!(r.payload(), p.payload());
    assert_eq!(r.padding_len(), p.padding_len());
});
