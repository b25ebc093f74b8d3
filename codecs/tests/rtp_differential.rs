//! Differential tests against the `rtp` crate (0.17) as an oracle, and robustness of both
//! of talko's parsers on arbitrary bytes.
//!
//! On generated valid packets, talko's `RtpPacket` must read exactly what the generator
//! put there and agree with `rtp::packet::Packet` on header fields, CSRCs, extensions and
//! payload; our writer's output must parse identically in both. `rtp` panics on some
//! input; a panic counts as the oracle rejecting.

#[path = "rtp_corpus.rs"]
mod corpus;

use std::cell::Cell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Once;

use proptest::prelude::*;
use talko_codecs::rtp::{Extension, RtpHeader, RtpPacket};
use webrtc_util::Unmarshal;

/// Datagrams here may exceed one MTU; the limit is tested elsewhere.
const LIMIT: usize = 1 << 16;

thread_local! {
    static IN_ORACLE: Cell<bool> = const { Cell::new(false) };
}

/// Runs the oracle; `None` when it returns an error or panics. Panic messages from the
/// oracle are silenced; every other panic still reports through the default hook.
fn oracle(buf: &[u8]) -> Option<rtp::packet::Packet> {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !IN_ORACLE.with(Cell::get) {
                default(info);
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

/// Whether a one-byte extension block ends early (ID 15, or ID 0 with a length), where
/// RFC 8285 says to stop and `rtp` 0.17 instead reads on (a known oracle divergence).
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

/// Field-by-field agreement of talko's view with the oracle's packet.
fn agree(ours: &RtpPacket<'_>, theirs: &rtp::packet::Packet) -> Result<(), TestCaseError> {
    let h = &theirs.header;
    prop_assert_eq!(ours.version(), h.version);
    prop_assert_eq!(ours.padding(), h.padding);
    prop_assert_eq!(ours.extension(), h.extension);
    prop_assert_eq!(ours.marker(), h.marker);
    prop_assert_eq!(ours.payload_type(), h.payload_type);
    prop_assert_eq!(ours.sequence_number(), h.sequence_number);
    prop_assert_eq!(ours.timestamp(), h.timestamp);
    prop_assert_eq!(ours.ssrc(), h.ssrc);
    prop_assert_eq!(ours.csrcs().collect::<Vec<_>>(), h.csrc.clone());
    if stops_early(ours) {
        return Ok(());
    }
    if ours.extension() {
        prop_assert_eq!(ours.extension_profile(), Some(h.extension_profile));
        let theirs_ext: Vec<(u8, &[u8])> = h
            .extensions
            .iter()
            .map(|e| (e.id, &e.payload[..]))
            .collect();
        match h.extension_profile {
            0xBEDE | 0x1000 => {
                let ours_ext: Vec<(u8, &[u8])> =
                    ours.extensions().map(|e| (e.id, e.data)).collect();
                prop_assert_eq!(ours_ext, theirs_ext);
            }
            // `rtp` recognises only appbits 0; anything else is one opaque element.
            _ => prop_assert_eq!(
                theirs_ext,
                vec![(0, ours.extension_data().unwrap_or_default())]
            ),
        }
    }
    prop_assert_eq!(ours.payload(), &theirs.payload[..]);
    Ok(())
}

#[derive(Debug, Clone)]
enum Ext {
    None,
    OneByte(Vec<(u8, Vec<u8>)>, usize),
    TwoByte(Vec<(u8, Vec<u8>)>, usize),
    Opaque(u16, Vec<u8>),
}

#[derive(Debug, Clone)]
struct Spec {
    marker: bool,
    payload_type: u8,
    sequence_number: u16,
    timestamp: u32,
    ssrc: u32,
    csrcs: Vec<u32>,
    ext: Ext,
    payload: Vec<u8>,
    padding: u8,
}

fn ext_strategy() -> impl Strategy<Value = Ext> {
    prop_oneof![
        Just(Ext::None),
        (
            prop::collection::vec((1u8..=14, prop::collection::vec(any::<u8>(), 1..=16)), 0..6),
            0usize..4
        )
            .prop_map(|(e, pad)| Ext::OneByte(e, pad)),
        (
            prop::collection::vec((1u8..=255, prop::collection::vec(any::<u8>(), 0..40)), 0..5),
            0usize..4
        )
            .prop_map(|(e, pad)| Ext::TwoByte(e, pad)),
        (
            any::<u16>().prop_filter("not RFC 8285", |p| *p != 0xBEDE && p & 0xFFF0 != 0x1000),
            (0usize..8).prop_flat_map(|w| prop::collection::vec(any::<u8>(), w * 4))
        )
            .prop_map(|(p, d)| Ext::Opaque(p, d)),
    ]
}

fn spec_strategy() -> impl Strategy<Value = Spec> {
    (
        any::<bool>(),
        0u8..128,
        any::<u16>(),
        any::<u32>(),
        any::<u32>(),
        prop::collection::vec(any::<u32>(), 0..=15),
        ext_strategy(),
        prop::collection::vec(any::<u8>(), 0..300),
        prop_oneof![Just(0u8), 1u8..=255],
    )
        .prop_map(
            |(
                marker,
                payload_type,
                sequence_number,
                timestamp,
                ssrc,
                csrcs,
                ext,
                payload,
                padding,
            )| {
                Spec {
                    marker,
                    payload_type,
                    sequence_number,
                    timestamp,
                    ssrc,
                    csrcs,
                    ext,
                    payload,
                    padding,
                }
            },
        )
}

/// Serialises a spec by hand, independently of talko's writer. `pad_between` ID-0
/// padding bytes go before the first element.
fn build(s: &Spec) -> Vec<u8> {
    let mut b = Vec::new();
    let x = !matches!(s.ext, Ext::None);
    b.push(0x80 | (u8::from(s.padding > 0) << 5) | (u8::from(x) << 4) | s.csrcs.len() as u8);
    b.push((u8::from(s.marker) << 7) | s.payload_type);
    b.extend_from_slice(&s.sequence_number.to_be_bytes());
    b.extend_from_slice(&s.timestamp.to_be_bytes());
    b.extend_from_slice(&s.ssrc.to_be_bytes());
    for c in &s.csrcs {
        b.extend_from_slice(&c.to_be_bytes());
    }
    let (profile, mut data) = match &s.ext {
        Ext::None => (0, Vec::new()),
        Ext::OneByte(elems, pad) => {
            let mut d = vec![0u8; *pad];
            for (id, v) in elems {
                d.push((id << 4) | (v.len() - 1) as u8);
                d.extend_from_slice(v);
            }
            (0xBEDE, d)
        }
        Ext::TwoByte(elems, pad) => {
            let mut d = vec![0u8; *pad];
            for (id, v) in elems {
                d.push(*id);
                d.push(v.len() as u8);
                d.extend_from_slice(v);
            }
            (0x1000, d)
        }
        Ext::Opaque(p, d) => (*p, d.clone()),
    };
    if x {
        data.resize(data.len().div_ceil(4) * 4, 0);
        b.extend_from_slice(&profile.to_be_bytes());
        b.extend_from_slice(&((data.len() / 4) as u16).to_be_bytes());
        b.extend_from_slice(&data);
    }
    b.extend_from_slice(&s.payload);
    if s.padding > 0 {
        b.extend(std::iter::repeat_n(0, usize::from(s.padding) - 1));
        b.push(s.padding);
    }
    b
}

fn spec_elements(s: &Spec) -> Vec<(u8, Vec<u8>)> {
    match &s.ext {
        Ext::OneByte(e, _) | Ext::TwoByte(e, _) => e.clone(),
        _ => Vec::new(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn valid_packets_read_as_generated_and_agree_with_the_oracle(s in spec_strategy()) {
        let buf = build(&s);
        let ours = RtpPacket::parse_with_limit(&buf, LIMIT).expect("generated packets are valid");
        prop_assert_eq!(ours.marker(), s.marker);
        prop_assert_eq!(ours.payload_type(), s.payload_type);
        prop_assert_eq!(ours.sequence_number(), s.sequence_number);
        prop_assert_eq!(ours.timestamp(), s.timestamp);
        prop_assert_eq!(ours.ssrc(), s.ssrc);
        prop_assert_eq!(ours.csrcs().collect::<Vec<_>>(), s.csrcs.clone());
        let ext: Vec<(u8, Vec<u8>)> = ours.extensions().map(|e| (e.id, e.data.to_vec())).collect();
        prop_assert_eq!(ext, spec_elements(&s));
        prop_assert_eq!(ours.payload(), &s.payload[..]);
        prop_assert_eq!(ours.padding_len(), usize::from(s.padding));
        match oracle(&buf) {
            Some(theirs) => agree(&ours, &theirs)?,
            // The oracle must not reject a packet this well-formed.
            None => prop_assert!(false, "rtp rejected a valid packet"),
        }
    }

    #[test]
    fn writer_output_parses_identically_in_both(s in spec_strategy()) {
        let elems = spec_elements(&s);
        let exts: Vec<Extension<'_>> = elems.iter().map(|(id, d)| Extension { id: *id, data: d }).collect();
        let h = RtpHeader {
            marker: s.marker,
            payload_type: s.payload_type,
            sequence_number: s.sequence_number,
            timestamp: s.timestamp,
            ssrc: s.ssrc,
            csrcs: &s.csrcs,
            extensions: &exts,
            padding: s.padding,
        };
        let mut out = vec![0u8; h.len(s.payload.len())];
        let n = h.write(&s.payload, &mut out).expect("sized by len()");
        prop_assert_eq!(n, out.len());
        let ours = RtpPacket::parse_with_limit(&out, LIMIT).expect("writer output is valid");
        prop_assert!(ours.extensions().eq(exts.iter().copied()));
        prop_assert_eq!(ours.payload(), &s.payload[..]);
        let theirs = oracle(&out);
        prop_assert!(theirs.is_some(), "rtp rejected our writer's output");
        if let Some(theirs) = theirs {
            agree(&ours, &theirs)?;
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic_and_agree_where_both_accept(
        buf in prop::collection::vec(any::<u8>(), 0..200)
    ) {
        check_arbitrary(&buf)?;
    }

    #[test]
    fn mutated_valid_packets_never_panic_and_agree_where_both_accept(
        s in spec_strategy(),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut buf = build(&s);
        for (at, v) in flips {
            let i = at.index(buf.len());
            buf[i] = v;
        }
        let keep = cut.index(buf.len() + 1).max(buf.len() / 2);
        buf.truncate(keep);
        check_arbitrary(&buf)?;
    }
}

fn check_arbitrary(buf: &[u8]) -> Result<(), TestCaseError> {
    let ours = RtpPacket::parse_with_limit(buf, LIMIT);
    if let Ok(p) = &ours {
        corpus::walk_rtp(p);
        talko_codecs::rtp::audio_level(p, 1);
    }
    // The RTCP parser must survive the same bytes.
    corpus::walk_rtcp(buf);
    let _ = talko_codecs::rtcp::Compound::parse_strict(buf);
    if let (Ok(p), Some(theirs)) = (&ours, oracle(buf)) {
        agree(p, &theirs)?;
    }
    Ok(())
}

#[test]
fn oracle_panics_count_as_rejection() {
    // A one-byte element claiming 16 bytes at the very end of the datagram: `rtp` 0.17
    // reads past the end and panics; talko rejects it with an error.
    let buf = [
        0x90, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x0A, 0xDE, 0xAD, 0xBE, 0xEF, //
        0xBE, 0xDE, 0x00, 0x01, 0x00, 0x00, 0x00, 0x1F,
    ];
    assert!(RtpPacket::try_from(&buf[..]).is_err());
    assert!(oracle(&buf).is_none());
}
