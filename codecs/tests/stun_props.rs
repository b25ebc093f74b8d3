//! STUN properties: no allocation over the seed corpus, no panic on arbitrary bytes,
//! and writer → parser round trips on generated values.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::Path;

use proptest::prelude::*;
use talko_codecs::stun::{
    binding_error, binding_success, BindingError, Class, Method, StunMessage, StunWriter,
};
use talko_codecs::testing::{thread_counts, CountingAlloc};

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

fn corpus() -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/seeds/stun_parse");
    let mut files: Vec<Vec<u8>> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| std::fs::read(entry.unwrap().path()).unwrap())
        .collect();
    assert!(files.len() >= 4, "the RFC 5769 vectors are seeds");
    // Every prefix and a bit flip of each seed: the bad paths must not allocate either.
    let mut variants = Vec::new();
    for f in &files {
        for len in 0..f.len() {
            variants.push(f[..len].to_vec());
        }
        for i in 0..f.len() {
            let mut g = f.clone();
            g[i] ^= 0x10;
            variants.push(g);
        }
    }
    files.extend(variants);
    files
}

/// Everything a receiver does with a datagram: parse, walk, read, verify, answer.
fn exercise(datagram: &[u8], out: &mut [u8]) -> usize {
    let Ok(msg) = StunMessage::try_from(datagram) else {
        return 0;
    };
    let mut seen = msg.attributes().map(|a| a.value.len()).sum::<usize>();
    seen += msg.username().map_or(0, str::len);
    seen += msg.software().map_or(0, str::len);
    seen += msg
        .error_code()
        .map_or(0, |(c, r)| usize::from(c) + r.len());
    seen += msg.unknown_required().count() + msg.unknown_attributes().count();
    seen += usize::from(msg.xor_mapped_address().is_some());
    seen += usize::from(msg.verify_integrity(b"VOkJxbRl1RmTxUk/WvJxBt").is_ok());
    seen += usize::from(msg.verify_fingerprint().is_ok());
    let from = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(203, 0, 113, 9)), 4000);
    seen += binding_success(&msg, from, b"local", out).unwrap_or(0);
    seen += binding_error(&msg, BindingError::UnknownAttribute, Some(b"local"), out).unwrap_or(0);
    seen
}

#[test]
fn parsing_verifying_and_answering_the_corpus_allocates_nothing() {
    let corpus = corpus();
    let mut out = [0u8; 1500];
    let mut accepted = 0;
    let before = thread_counts();
    for datagram in &corpus {
        accepted += usize::from(exercise(datagram, &mut out) > 0);
    }
    let used = thread_counts().since(before);
    assert_eq!(used.allocs, 0, "{used:?}");
    assert!(accepted >= 9, "only {accepted} datagrams parsed");
}

fn socket_addr() -> impl Strategy<Value = SocketAddr> {
    prop_oneof![
        (any::<[u8; 4]>(), any::<u16>())
            .prop_map(|(ip, port)| SocketAddr::new(IpAddr::V4(Ipv4Addr::from(ip)), port)),
        (any::<[u8; 16]>(), any::<u16>())
            .prop_map(|(ip, port)| SocketAddr::new(IpAddr::V6(Ipv6Addr::from(ip)), port)),
    ]
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let mut out = [0u8; 512];
        exercise(&bytes, &mut out);
    }

    #[test]
    fn a_valid_header_with_arbitrary_attributes_never_panics(
        body in proptest::collection::vec(any::<u8>(), 0..64).prop_map(|mut b| {
            b.truncate(b.len() / 4 * 4);
            b
        }),
        tid in any::<[u8; 12]>(),
    ) {
        let mut m = vec![0x00, 0x01];
        m.extend_from_slice(&(body.len() as u16).to_be_bytes());
        m.extend_from_slice(&[0x21, 0x12, 0xA4, 0x42]);
        m.extend_from_slice(&tid);
        m.extend_from_slice(&body);
        let mut out = [0u8; 512];
        exercise(&m, &mut out);
    }

    #[test]
    fn built_messages_parse_back_identically(
        tid in any::<[u8; 12]>(),
        username in "[a-zA-Z0-9+/]{1,32}:[a-zA-Z0-9+/]{1,32}",
        priority in any::<u32>(),
        tiebreaker in any::<u64>(),
        controlling in any::<bool>(),
        use_candidate in any::<bool>(),
        addr in socket_addr(),
        key in proptest::collection::vec(any::<u8>(), 0..64),
    ) {
        let mut buf = [0u8; 256];
        let mut w = StunWriter::new(&mut buf, Class::Request, Method::Binding, tid)
            .username(&username)
            .priority(priority)
            .xor_mapped_address(addr);
        w = if controlling { w.ice_controlling(tiebreaker) } else { w.ice_controlled(tiebreaker) };
        if use_candidate {
            w = w.use_candidate();
        }
        let len = w.message_integrity(&key).fingerprint().finish().unwrap();
        let msg = StunMessage::try_from(&buf[..len]).unwrap();
        prop_assert_eq!(msg.transaction_id(), tid);
        prop_assert_eq!(msg.username(), Some(username.as_str()));
        prop_assert_eq!(msg.priority(), Some(priority));
        prop_assert_eq!(msg.xor_mapped_address(), Some(addr));
        prop_assert_eq!(msg.ice_controlling(), controlling.then_some(tiebreaker));
        prop_assert_eq!(msg.ice_controlled(), (!controlling).then_some(tiebreaker));
        prop_assert_eq!(msg.use_candidate(), use_candidate);
        prop_assert_eq!(msg.verify_integrity(&key), Ok(()));
        prop_assert_eq!(msg.verify_fingerprint(), Ok(()));

        let mut out = [0u8; 128];
        let n = binding_success(&msg, addr, &key, &mut out).unwrap();
        let response = StunMessage::try_from(&out[..n]).unwrap();
        prop_assert_eq!(response.class(), Class::Success);
        prop_assert_eq!(response.transaction_id(), tid);
        prop_assert_eq!(response.xor_mapped_address(), Some(addr));
        prop_assert_eq!(response.verify_integrity(&key), Ok(()));
        prop_assert_eq!(response.verify_fingerprint(), Ok(()));
    }

    #[test]
    fn any_single_bit_flip_is_caught_by_fingerprint_or_parse(bit in 0usize..(92 * 8)) {
        let mut buf = [0u8; 128];
        let len = StunWriter::new(&mut buf, Class::Request, Method::Binding, [7; 12])
            .username("abcd:efgh")
            .priority(0x6e7f_1eff)
            .use_candidate()
            .ice_controlling(1)
            .message_integrity(b"password")
            .fingerprint()
            .finish()
            .unwrap();
        prop_assume!(bit < len * 8);
        buf[bit / 8] ^= 1 << (bit % 8);
        let caught = match StunMessage::try_from(&buf[..len]) {
            Err(_) => true,
            Ok(m) => m.verify_fingerprint().is_err() || m.verify_integrity(b"password").is_err(),
        };
        prop_assert!(caught);
    }
}
