//! Differential tests against `webrtc-srtp`, an independent implementation: for every
//! profile it supports, random RTP and RTCP packets protected by talko are byte-for-byte
//! what `webrtc-srtp` produces, `webrtc-srtp` unprotects talko's packets and talko
//! unprotects `webrtc-srtp`'s.

use proptest::prelude::*;
use talko_codecs::srtp::{SrtpConfig, SrtpContext, SrtpProfile, MAX_TAG_LEN, SRTCP_TRAILER_MAX};
use webrtc_srtp::context::Context;
use webrtc_srtp::protection_profile::ProtectionProfile;

fn oracle_profile(p: SrtpProfile) -> ProtectionProfile {
    match p {
        SrtpProfile::AesCm128HmacSha1_80 => ProtectionProfile::Aes128CmHmacSha1_80,
        SrtpProfile::AesCm128HmacSha1_32 => ProtectionProfile::Aes128CmHmacSha1_32,
        SrtpProfile::AeadAes128Gcm => ProtectionProfile::AeadAes128Gcm,
        SrtpProfile::AeadAes256Gcm => ProtectionProfile::AeadAes256Gcm,
    }
}

#[derive(Debug, Clone)]
struct RtpShape {
    csrcs: Vec<u32>,
    /// One RFC 8285 one-byte element: (id 1..=14, data 1..=16 bytes).
    extension: Option<(u8, Vec<u8>)>,
    marker: bool,
    payload_type: u8,
    timestamp: u32,
    payload: Vec<u8>,
}

fn rtp_shape() -> impl Strategy<Value = RtpShape> {
    (
        proptest::collection::vec(any::<u32>(), 0..4),
        proptest::option::of((1u8..=14, proptest::collection::vec(any::<u8>(), 1..=16))),
        any::<bool>(),
        0u8..128,
        any::<u32>(),
        proptest::collection::vec(any::<u8>(), 0..300),
    )
        .prop_map(
            |(csrcs, extension, marker, payload_type, timestamp, payload)| RtpShape {
                csrcs,
                extension,
                marker,
                payload_type,
                timestamp,
                payload,
            },
        )
}

fn build_rtp(shape: &RtpShape, ssrc: u32, seq: u16) -> Vec<u8> {
    let x = u8::from(shape.extension.is_some()) << 4;
    let mut p = vec![
        0x80 | x | shape.csrcs.len() as u8,
        (u8::from(shape.marker) << 7) | shape.payload_type,
    ];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&shape.timestamp.to_be_bytes());
    p.extend_from_slice(&ssrc.to_be_bytes());
    for c in &shape.csrcs {
        p.extend_from_slice(&c.to_be_bytes());
    }
    if let Some((id, data)) = &shape.extension {
        let mut ext = vec![(id << 4) | (data.len() as u8 - 1)];
        ext.extend_from_slice(data);
        while ext.len() % 4 != 0 {
            ext.push(0);
        }
        p.extend_from_slice(&[0xBE, 0xDE]);
        p.extend_from_slice(&((ext.len() / 4) as u16).to_be_bytes());
        p.extend_from_slice(&ext);
    }
    p.extend_from_slice(&shape.payload);
    p
}

fn build_rtcp(ssrc: u32, body: &[u8]) -> Vec<u8> {
    // A receiver report: header, sender SSRC, then whole 32-bit words of body.
    let words = body.len() / 4;
    let mut p = vec![0x80, 201];
    p.extend_from_slice(&(words as u16 + 1).to_be_bytes());
    p.extend_from_slice(&ssrc.to_be_bytes());
    p.extend_from_slice(&body[..words * 4]);
    p
}

fn keys(profile: SrtpProfile, material: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let k = profile.master_key_len();
    let s = profile.master_salt_len();
    (material[..k].to_vec(), material[k..k + s].to_vec())
}

fn profile_strategy() -> impl Strategy<Value = SrtpProfile> {
    prop::sample::select(SrtpProfile::ALL.to_vec())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn srtp_agrees_with_webrtc_srtp_byte_for_byte(
        profile in profile_strategy(),
        material in proptest::collection::vec(any::<u8>(), 44),
        ssrc in any::<u32>(),
        // Half the cases start just before a sequence-number wrap (ROC 0 -> 1).
        first_seq in prop_oneof![any::<u16>(), 65_524u16..=65_535],
        shapes in proptest::collection::vec(rtp_shape(), 1..12),
    ) {
        let (key, salt) = keys(profile, &material);
        let cfg = SrtpConfig::default();
        let mut talko_tx = SrtpContext::new(profile, &key, &salt, cfg).unwrap();
        let mut talko_rx = SrtpContext::new(profile, &key, &salt, cfg).unwrap();
        let mut oracle_tx = Context::new(&key, &salt, oracle_profile(profile), None, None).unwrap();
        let mut oracle_rx = Context::new(&key, &salt, oracle_profile(profile), None, None).unwrap();

        for (i, shape) in shapes.iter().enumerate() {
            let seq = first_seq.wrapping_add(i as u16);
            let plain = build_rtp(shape, ssrc, seq);

            let mut buf = plain.clone();
            buf.resize(plain.len() + MAX_TAG_LEN, 0);
            let n = talko_tx.protect_rtp(&mut buf, plain.len()).unwrap();
            let ours = buf[..n].to_vec();
            let theirs = oracle_tx.encrypt_rtp(&plain).unwrap();
            prop_assert_eq!(&ours[..], &theirs[..], "protected bytes differ");

            // webrtc-srtp opens talko's packet...
            let opened = oracle_rx.decrypt_rtp(&ours).unwrap();
            prop_assert_eq!(&opened[..], &plain[..]);
            // ...and talko opens webrtc-srtp's.
            let mut buf = theirs.to_vec();
            let m = talko_rx.unprotect_rtp(&mut buf).unwrap();
            prop_assert_eq!(&buf[..m], &plain[..]);
        }
    }

    #[test]
    fn srtcp_agrees_with_webrtc_srtp_byte_for_byte(
        profile in profile_strategy(),
        material in proptest::collection::vec(any::<u8>(), 44),
        ssrc in any::<u32>(),
        bodies in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..200), 1..8),
    ) {
        let (key, salt) = keys(profile, &material);
        let cfg = SrtpConfig::default();
        let mut talko_tx = SrtpContext::new(profile, &key, &salt, cfg).unwrap();
        let mut talko_rx = SrtpContext::new(profile, &key, &salt, cfg).unwrap();
        let mut oracle_tx = Context::new(&key, &salt, oracle_profile(profile), None, None).unwrap();
        let mut oracle_rx = Context::new(&key, &salt, oracle_profile(profile), None, None).unwrap();

        // webrtc-srtp numbers SRTCP from 1, talko (RFC 3711 §3.4) from 0: spend index 0.
        let mut spare = build_rtcp(ssrc, &[]);
        let n = spare.len();
        spare.resize(n + SRTCP_TRAILER_MAX, 0);
        talko_tx.protect_rtcp(&mut spare, n).unwrap();

        for body in &bodies {
            let plain = build_rtcp(ssrc, body);
            let mut buf = plain.clone();
            buf.resize(plain.len() + SRTCP_TRAILER_MAX, 0);
            let n = talko_tx.protect_rtcp(&mut buf, plain.len()).unwrap();
            let ours = buf[..n].to_vec();
            let theirs = oracle_tx.encrypt_rtcp(&plain).unwrap();
            prop_assert_eq!(&ours[..], &theirs[..], "protected bytes differ");

            let opened = oracle_rx.decrypt_rtcp(&ours).unwrap();
            prop_assert_eq!(&opened[..], &plain[..]);
            let mut buf = theirs.to_vec();
            let m = talko_rx.unprotect_rtcp(&mut buf).unwrap();
            prop_assert_eq!(&buf[..m], &plain[..]);
        }
    }
}
