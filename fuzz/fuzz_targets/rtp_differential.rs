#![no_main]
//! Differential: on bytes both talko's `RtpPacket` and `rtp` 0.17 accept, every header
//! field, CSRC, extension and the payload agree. An `rtp` panic counts as rejection.

use std::cell::Cell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Once;

use libfuzzer_sys::fuzz_target;
use talko_codecs::rtp::RtpPacket;
use webrtc_util::Unmarshal;

thread_local! {
    static IN_ORACLE: Cell<bool> = const { Cell::new(false) };
}

fn oracle(buf: &[u8]) -> Option<rtp::packet::Packet> {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        // libfuzzer's hook aborts on any panic; let the oracle's panics unwind instead.
        let fuzzer_hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !IN_ORACLE.with(Cell::get) {
                fuzzer_hook(info);
            }
        }));
    });
    IN_ORACLE.with(|f| f.set(true));
    let r = catch_unwind(AssertUnwindSafe(|| {
        rtp::packet::Packet::unmarshal(&mut &buf[..]).ok()
    }));
    IN_ORACLE.with(|f| f.set(false));
    r.ok().flatten()
}

/// A one-byte block that ends early (ID 15, or ID 0 with a length): RFC 8285 says stop,
/// `rtp` 0.17 reads on, so extensions and payload legitimately differ.
fn stops_early(p: &RtpPacket<'_>) -> bool {
    if p.extension_profile() != Some(0xBEDE) {
        return false;
    }
    let mut data = p.extension_data().unwrap_or_default();
    while let Some((&b, rest)) = data.split_first() {
        if b == 0 {
            data = rest;
            continue;
        }
        if b >> 4 == 15 || b >> 4 == 0 {
            return true;
        }
        data = rest.get(usize::from(b & 0x0F) + 1..).unwrap_or_default();
    }
    false
}

fuzz_target!(|data: &[u8]| {
    let Ok(ours) = RtpPacket::parse_with_limit(data, usize::MAX) else {
        return;
    };
    let Some(theirs) = oracle(data) else {
        return;
    };
    let h = &theirs.header;
    assert_eq!(ours.version(), h.version);
    assert_eq!(ours.padding(), h.padding);
    assert_eq!(ours.extension(), h.extension);
    assert_eq!(ours.marker(), h.marker);
    assert_eq!(ours.payload_type(), h.payload_type);
    assert_eq!(ours.sequence_number(), h.sequence_number);
    assert_eq!(ours.timestamp(), h.timestamp);
    assert_eq!(ours.ssrc(), h.ssrc);
    assert!(ours.csrcs().eq(h.csrc.iter().copied()));
    if stops_early(&ours) {
        return;
    }
    if ours.extension() {
        assert_eq!(ours.extension_profile(), Some(h.extension_profile));
        let theirs_ext = h.extensions.iter().map(|e| (e.id, &e.payload[..]));
        match h.extension_profile {
            0xBEDE | 0x1000 => assert!(ours.extensions().map(|e| (e.id, e.data)).eq(theirs_ext)),
            _ => assert!(theirs_ext.eq([(0, ours.extension_data().unwrap_or_default())])),
        }
    }
    assert_eq!(ours.payload(), &theirs.payload[..]);
});
