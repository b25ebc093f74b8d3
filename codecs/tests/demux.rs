//! RFC 7983 demultiplexing: every first-byte value, the RFC 5761 RTCP range, minimum
//! sizes, and dispatch of the seed corpus to the matching parser without allocating.

use std::path::Path;

use proptest::prelude::*;
use talko_codecs::demux::{
    classify, Kind, DTLS_RECORD_HEADER_LEN, RTCP_MIN_LEN, RTP_HEADER_LEN, STUN_HEADER_LEN,
};
use talko_codecs::stun::StunMessage;
use talko_codecs::testing::{thread_counts, CountingAlloc};

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

/// The kind RFC 7983 §7 gives a first byte, for a datagram long enough for any header and
/// a second byte that is not an RTCP packet type.
fn expected(first: u8) -> Kind {
    match first {
        0..=3 => Kind::Stun,
        20..=63 => Kind::Dtls,
        128..=191 => Kind::Rtp,
        _ => Kind::Other,
    }
}

// RFC 7983 §7
#[test]
fn every_first_byte_value_maps_to_its_range() {
    for first in 0..=255u8 {
        let mut datagram = [0u8; 64];
        datagram[0] = first;
        datagram[1] = 111; // an Opus dynamic payload type
        assert_eq!(classify(&datagram), expected(first), "first byte {first}");
    }
}

#[test]
fn range_boundaries_are_exact() {
    let kind = |first: u8| {
        classify(&[
            first, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        ])
    };
    assert_eq!(kind(3), Kind::Stun);
    assert_eq!(kind(4), Kind::Other);
    assert_eq!(kind(16), Kind::Other); // ZRTP
    assert_eq!(kind(19), Kind::Other);
    assert_eq!(kind(20), Kind::Dtls);
    assert_eq!(kind(63), Kind::Dtls);
    assert_eq!(kind(64), Kind::Other); // TURN channel
    assert_eq!(kind(127), Kind::Other);
    assert_eq!(kind(128), Kind::Rtp);
    assert_eq!(kind(191), Kind::Rtp);
    assert_eq!(kind(192), Kind::Other);
}

// RFC 5761 §4
#[test]
fn rtcp_is_told_apart_from_rtp_by_the_second_byte() {
    for second in 0..=255u8 {
        let datagram = [0x80, second, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1];
        let want = if (192..=223).contains(&second) {
            Kind::Rtcp
        } else {
            Kind::Rtp
        };
        assert_eq!(classify(&datagram), want, "second byte {second}");
    }
    // With the marker bit: PT 72–95 with M=1 is 200–223 and reads as RTCP, which is why
    // RFC 5761 forbids those payload types for RTP.
    assert_eq!(classify(&[0x80, 0x80 | 72, 0, 0, 0, 0, 0, 0]), Kind::Rtcp);
    assert_eq!(
        classify(&[0x80, 0x80 | 111, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
        Kind::Rtp
    );
}

#[test]
fn datagrams_shorter_than_their_header_are_other() {
    assert_eq!(classify(&[]), Kind::Other);
    let cases = [
        (0x00, 0x01, STUN_HEADER_LEN, Kind::Stun),
        (22, 0xFE, DTLS_RECORD_HEADER_LEN, Kind::Dtls),
        (0x80, 111, RTP_HEADER_LEN, Kind::Rtp),
        (0x81, 201, RTCP_MIN_LEN, Kind::Rtcp),
    ];
    for (first, second, min, kind) in cases {
        let mut datagram = vec![0u8; min];
        datagram[0] = first;
        datagram[1] = second;
        assert_eq!(classify(&datagram), kind);
        for len in 0..min {
            assert_eq!(
                classify(&datagram[..len]),
                Kind::Other,
                "{kind:?}, {len} bytes"
            );
        }
    }
    // A lone RTP/RTCP first byte has no second byte to decide by.
    assert_eq!(classify(&[0x80]), Kind::Other);
}

fn seeds(target: &str) -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/seeds")
        .join(target);
    std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| std::fs::read(entry.unwrap().path()).unwrap())
        .collect()
}

#[test]
fn the_seed_corpus_covers_every_kind_and_stun_seeds_parse() {
    let corpus = seeds("demux");
    for kind in [Kind::Stun, Kind::Dtls, Kind::Rtp, Kind::Rtcp, Kind::Other] {
        assert!(
            corpus.iter().any(|d| classify(d) == kind),
            "no {kind:?} seed"
        );
    }
    for d in corpus.iter().chain(&seeds("stun_parse")) {
        if classify(d) == Kind::Stun {
            assert!(StunMessage::try_from(d.as_slice()).is_ok());
        }
    }
}

#[test]
fn classifying_and_dispatching_the_corpus_allocates_nothing() {
    let mut corpus = seeds("demux");
    corpus.extend(seeds("stun_parse"));
    corpus.extend(seeds("opus_toc"));
    let mut counts = [0usize; 5];
    let before = thread_counts();
    for d in &corpus {
        let kind = classify(d);
        counts[kind as usize] += 1;
        if kind == Kind::Stun {
            counts[0] += usize::from(StunMessage::try_from(d.as_slice()).is_ok());
        }
    }
    let used = thread_counts().since(before);
    assert_eq!(used.allocs, 0, "{used:?}");
    assert!(counts.iter().all(|&c| c > 0), "{counts:?}");
}

proptest! {
    #[test]
    fn classification_depends_only_on_the_first_two_bytes_and_length(
        bytes in proptest::collection::vec(any::<u8>(), 0..64),
    ) {
        let kind = classify(&bytes);
        let mut masked = bytes.clone();
        for b in masked.iter_mut().skip(2) {
            *b = 0;
        }
        prop_assert_eq!(classify(&masked), kind);
        if kind != Kind::Other {
            prop_assert!(bytes.len() >= RTCP_MIN_LEN);
        }
    }
}
