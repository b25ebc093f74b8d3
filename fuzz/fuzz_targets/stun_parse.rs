#![no_main]
//! STUN: parse, walk every attribute, read every typed value, verify integrity (with a
//! fixed key) and fingerprint, and answer Binding requests. Every answer talko builds must
//! itself parse and verify.

use std::net::SocketAddr;

use libfuzzer_sys::fuzz_target;
use talko_codecs::stun::{
    binding_error, binding_success, verify_fingerprint, verify_integrity, BindingError,
    StunMessage, HEADER_LEN,
};

/// The RFC 5769 short-term password, so the seeds' integrity verifies.
const KEY: &[u8] = b"VOkJxbRl1RmTxUk/WvJxBt";

fuzz_target!(|data: &[u8]| {
    let Ok(msg) = StunMessage::parse(data, usize::MAX) else {
        return;
    };
    // The attribute walk covers the body exactly.
    let walked: usize = msg
        .attributes()
        .map(|a| 4 + a.value.len().next_multiple_of(4))
        .sum();
    assert_eq!(walked, data.len() - HEADER_LEN);
    let _ = (msg.class(), msg.method(), msg.transaction_id());
    let _ = (msg.username(), msg.software(), msg.realm(), msg.nonce());
    let _ = (
        msg.xor_mapped_address(),
        msg.mapped_address(),
        msg.priority(),
    );
    let _ = (
        msg.use_candidate(),
        msg.ice_controlling(),
        msg.ice_controlled(),
    );
    let _ = msg.error_code();
    let _ = msg.unknown_attributes().count() + msg.unknown_required().count();
    let _ = msg.check_comprehension();
    assert_eq!(msg.verify_integrity(KEY), verify_integrity(data, KEY));
    assert_eq!(msg.verify_fingerprint(), verify_fingerprint(data));

    if msg.is_binding_request() {
        let from: SocketAddr = "[2001:db8::7]:49152".parse().expect("a literal address");
        let mut out = [0u8; 128];
        let n = binding_success(&msg, from, KEY, &mut out).expect("a success fits 128 bytes");
        let response = StunMessage::try_from(&out[..n]).expect("our success parses");
        assert_eq!(response.transaction_id(), msg.transaction_id());
        assert_eq!(response.xor_mapped_address(), Some(from));
        assert_eq!(response.verify_integrity(KEY), Ok(()));
        assert_eq!(response.verify_fingerprint(), Ok(()));

        let mut big = vec![0u8; 70_000];
        if let Ok(n) = binding_error(&msg, BindingError::UnknownAttribute, Some(KEY), &mut big) {
            let response = StunMessage::parse(&big[..n], usize::MAX).expect("our 420 parses");
            assert!(response.unknown_attributes().eq(msg.unknown_required()));
            assert_eq!(response.verify_integrity(KEY), Ok(()));
            assert_eq!(response.verify_fingerprint(), Ok(()));
        }
    }
});
