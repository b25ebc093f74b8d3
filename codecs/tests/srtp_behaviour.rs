//! SRTP/SRTCP behaviour through the public API: round trips on every profile, tamper
//! detection, strict SSRC handling, error classes, DTLS-SRTP keying material, and the
//! "buffer unchanged on failure" contract. Replay and rollover are in `srtp_replay.rs`.

mod srtp_support;

use srtp_support::*;
use talko_codecs::srtp::{
    Direction, DtlsRole, SrtpConfig, SrtpContext, SrtpError, SrtpProfile, MAX_TAG_LEN,
    SRTCP_TRAILER_MAX,
};

#[test]
fn round_trip_every_profile_rtp_and_rtcp() {
    for profile in PROFILES {
        let (mut tx, mut rx) = pair(profile);
        for seq in 0..50u16 {
            let plain = rtp(7, seq, 160);
            let protected = protect(&mut tx, &plain);
            assert_eq!(protected.len(), plain.len() + profile.tag_len_rtp());
            assert_ne!(&protected[12..plain.len()], &plain[12..], "{profile}");
            assert_eq!(unprotect(&mut rx, &protected).unwrap(), plain, "{profile}");

            let plain = rtcp(7, seq as u8);
            let protected = protect_rtcp(&mut tx, &plain);
            assert_eq!(protected.len(), plain.len() + profile.rtcp_trailer_len());
            assert_eq!(
                unprotect_rtcp(&mut rx, &protected).unwrap(),
                plain,
                "{profile}"
            );
        }
    }
}

// Any single changed byte of a protected packet (header, payload, tag, SRTCP
// trailer) makes unprotect fail and leaves the buffer unchanged.
#[test]
fn flipping_any_byte_of_a_protected_packet_fails() {
    for profile in PROFILES {
        for strict in [false, true] {
            let config = SrtpConfig {
                strict_ssrc: strict,
                ..SrtpConfig::default()
            };
            let (mut tx, _) = pair_with(profile, config);
            tx.add_stream(0x1234_5678).unwrap();
            let mut plain = rtp(0x1234_5678, 4242, 60);
            plain[0] |= 0x01; // one CSRC
            plain.splice(12..12, [1, 2, 3, 4]);
            let good = protect(&mut tx, &plain);
            let good_rtcp = protect_rtcp(&mut tx, &rtcp(0x1234_5678, 9));
            for (packet, is_rtcp) in [(&good, false), (&good_rtcp, true)] {
                for at in 0..packet.len() {
                    for mask in [0x01u8, 0x80, 0xff] {
                        let (_, mut rx) = pair_with(profile, config);
                        rx.add_stream(0x1234_5678).unwrap();
                        let mut bad = packet.clone();
                        bad[at] ^= mask;
                        let result = if is_rtcp {
                            unprotect_rtcp(&mut rx, &bad)
                        } else {
                            unprotect(&mut rx, &bad)
                        };
                        assert!(
                            result.is_err(),
                            "{profile} rtcp={is_rtcp} byte {at} ^ {mask:#x}"
                        );
                    }
                }
                let (_, mut rx) = pair_with(profile, config);
                rx.add_stream(0x1234_5678).unwrap();
                let ok = if is_rtcp {
                    unprotect_rtcp(&mut rx, packet)
                } else {
                    unprotect(&mut rx, packet)
                };
                assert!(ok.is_ok());
            }
        }
    }
}

#[test]
fn strict_mode_rejects_unknown_ssrcs_and_non_strict_is_bounded() {
    let strict = SrtpConfig {
        strict_ssrc: true,
        max_streams: 2,
        ..SrtpConfig::default()
    };
    let (mut tx, mut rx) = pair_with(SrtpProfile::AeadAes256Gcm, strict);
    let mut buf = rtp(77, 1, 10);
    let n = buf.len();
    buf.resize(n + 16, 0);
    assert_eq!(tx.protect_rtp(&mut buf, n), Err(SrtpError::UnknownSsrc));
    tx.add_stream(77).unwrap();
    let p = protect(&mut tx, &rtp(77, 1, 10));
    assert_eq!(unprotect(&mut rx, &p), Err(SrtpError::UnknownSsrc));
    rx.add_stream(77).unwrap();
    assert!(unprotect(&mut rx, &p).is_ok());
    let c = protect_rtcp(&mut tx, &rtcp(77, 1));
    assert!(unprotect_rtcp(&mut rx, &c).is_ok());
    let mut other = rtcp(78, 1);
    let n = other.len();
    other.resize(n + 20, 0);
    assert_eq!(tx.protect_rtcp(&mut other, n), Err(SrtpError::UnknownSsrc));

    let loose = SrtpConfig {
        max_streams: 2,
        ..SrtpConfig::default()
    };
    let (mut tx, mut rx) = pair_with(SrtpProfile::AesCm128HmacSha1_32, loose);
    let a = protect(&mut tx, &rtp(1, 1, 10));
    let b = protect(&mut tx, &rtp(2, 1, 10));
    let mut buf = rtp(3, 1, 10);
    let n = buf.len();
    buf.resize(n + 16, 0);
    assert_eq!(tx.protect_rtp(&mut buf, n), Err(SrtpError::TooManyStreams));
    unprotect(&mut rx, &a).unwrap();
    unprotect(&mut rx, &b).unwrap();
    let mut tx3 = pair_with(SrtpProfile::AesCm128HmacSha1_32, loose).0;
    let c = protect(&mut tx3, &rtp(3, 1, 10));
    assert_eq!(unprotect(&mut rx, &c), Err(SrtpError::TooManyStreams));
    assert!(rx.remove_stream(1));
    assert!(unprotect(&mut rx, &c).is_ok());
}

#[test]
fn sender_refuses_to_reuse_a_packet_index() {
    let (mut tx, _) = pair(SrtpProfile::AesCm128HmacSha1_80);
    protect(&mut tx, &rtp(1, 10, 20));
    let mut buf = rtp(1, 10, 20);
    let n = buf.len();
    buf.resize(n + 10, 0);
    let before = buf.clone();
    assert_eq!(tx.protect_rtp(&mut buf, n), Err(SrtpError::Replayed));
    assert_eq!(buf, before);
}

#[test]
fn errors_name_what_was_wrong() {
    let p = SrtpProfile::AesCm128HmacSha1_80;
    let (key, salt) = key_salt(p, 1);
    let cfg = SrtpConfig::default();
    assert_eq!(
        SrtpContext::new(p, &key[1..], &salt, cfg).err(),
        Some(SrtpError::BadKeyLength)
    );
    assert_eq!(
        SrtpContext::new(p, &key, &salt[1..], cfg).err(),
        Some(SrtpError::BadKeyLength)
    );
    let gcm_salt = vec![0; 12];
    assert_eq!(
        SrtpContext::new(SrtpProfile::AeadAes256Gcm, &key, &gcm_salt, cfg).err(),
        Some(SrtpError::BadKeyLength)
    );
    for bad in [
        SrtpConfig {
            replay_window: 64,
            ..cfg
        },
        SrtpConfig {
            replay_window: 4096,
            ..cfg
        },
        SrtpConfig {
            max_streams: 0,
            ..cfg
        },
    ] {
        assert_eq!(
            SrtpContext::new(p, &key, &salt, bad).err(),
            Some(SrtpError::BadConfig)
        );
    }

    let (mut tx, mut rx) = pair(p);
    // No room for the tag.
    let mut buf = rtp(1, 1, 20);
    let n = buf.len();
    assert_eq!(tx.protect_rtp(&mut buf, n), Err(SrtpError::BufferTooSmall));
    assert_eq!(
        tx.protect_rtp(&mut buf, n + 1),
        Err(SrtpError::BufferTooSmall)
    );
    assert_eq!(
        tx.protect_rtcp(&mut rtcp(1, 1), 32),
        Err(SrtpError::BufferTooSmall)
    );
    // Too short.
    assert_eq!(
        tx.protect_rtp(&mut [0x80; 30], 11),
        Err(SrtpError::TooShort)
    );
    assert_eq!(rx.unprotect_rtp(&mut [0x80; 11]), Err(SrtpError::TooShort));
    assert_eq!(
        rx.unprotect_rtp(&mut rtp(1, 1, 9)),
        Err(SrtpError::TooShort)
    );
    assert_eq!(rx.unprotect_rtcp(&mut [0x80; 21]), Err(SrtpError::TooShort));
    assert_eq!(
        tx.protect_rtcp(&mut [0x80; 40], 7),
        Err(SrtpError::TooShort)
    );
    // Not version 2.
    let mut v1 = rtp(1, 1, 40);
    v1[0] = 0x40;
    assert_eq!(rx.unprotect_rtp(&mut v1.clone()), Err(SrtpError::Malformed));
    assert_eq!(tx.protect_rtp(&mut v1, 30), Err(SrtpError::Malformed));
    let mut c = rtcp(1, 1);
    c[0] = 0x01;
    assert_eq!(rx.unprotect_rtcp(&mut c), Err(SrtpError::Malformed));
    for e in [
        SrtpError::TooShort,
        SrtpError::BadTag,
        SrtpError::Replayed,
        SrtpError::TooOld,
    ] {
        assert!(!e.to_string().is_empty());
    }
}

// RFC 5764 §4.2: client key | server key | client salt | server salt.
#[test]
fn dtls_keying_material_pairs_client_outbound_with_server_inbound() {
    for profile in PROFILES {
        let material: Vec<u8> = (0..profile.keying_material_len() as u8).collect();
        let cfg = SrtpConfig::default();
        let make = |role, dir| {
            SrtpContext::from_dtls_keying_material(profile, &material, role, dir, cfg).unwrap()
        };
        let mut client_out = make(DtlsRole::Client, Direction::Outbound);
        let mut server_in = make(DtlsRole::Server, Direction::Inbound);
        let mut server_out = make(DtlsRole::Server, Direction::Outbound);
        let mut client_in = make(DtlsRole::Client, Direction::Inbound);
        let mut client_in_wrong = make(DtlsRole::Client, Direction::Outbound);

        let p = protect(&mut client_out, &rtp(1, 1, 40));
        assert_eq!(unprotect(&mut server_in, &p).unwrap(), rtp(1, 1, 40));
        let q = protect(&mut server_out, &rtp(2, 1, 40));
        assert_eq!(unprotect(&mut client_in, &q).unwrap(), rtp(2, 1, 40));
        assert_eq!(unprotect(&mut client_in_wrong, &q), Err(SrtpError::BadTag));

        // The client's outbound context is the one built from the first key and salt.
        let k = profile.master_key_len();
        let s = profile.master_salt_len();
        let mut direct =
            SrtpContext::new(profile, &material[..k], &material[2 * k..2 * k + s], cfg).unwrap();
        assert!(unprotect(&mut direct, &p).is_ok());

        assert_eq!(
            SrtpContext::from_dtls_keying_material(
                profile,
                &material[1..],
                DtlsRole::Client,
                Direction::Inbound,
                cfg
            )
            .err(),
            Some(SrtpError::BadKeyLength)
        );
    }
}

#[test]
fn profiles_carry_their_dtls_ids_and_lengths() {
    for profile in PROFILES {
        assert_eq!(SrtpProfile::from_dtls_id(profile.dtls_id()), Some(profile));
        assert!(profile.tag_len_rtp() <= MAX_TAG_LEN);
        assert!(profile.rtcp_trailer_len() <= SRTCP_TRAILER_MAX);
    }
    assert_eq!(SrtpProfile::AesCm128HmacSha1_80.dtls_id(), 0x0001);
    assert_eq!(SrtpProfile::AesCm128HmacSha1_32.dtls_id(), 0x0002);
    assert_eq!(SrtpProfile::AeadAes128Gcm.dtls_id(), 0x0007);
    assert_eq!(SrtpProfile::AeadAes256Gcm.dtls_id(), 0x0008);
    assert_eq!(SrtpProfile::from_dtls_id(0x0005), None);
    assert_eq!(SrtpProfile::AesCm128HmacSha1_32.tag_len_rtcp(), 10);
    assert_eq!(SrtpProfile::AeadAes256Gcm.keying_material_len(), 88);
    assert_eq!(SrtpProfile::AesCm128HmacSha1_80.keying_material_len(), 60);
}

#[test]
fn rtp_with_csrcs_extension_and_padding_round_trips_and_keeps_header_clear() {
    for profile in PROFILES {
        let (mut tx, mut rx) = pair(profile);
        let mut p = vec![0xB2, 0x6f, 0, 9, 0, 0, 0, 1, 0, 0, 0, 42];
        p.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 2]); // 2 CSRCs
        p.extend_from_slice(&[0xBE, 0xDE, 0, 1, 0x10, 0x7f, 0, 0]); // audio level
        p.extend_from_slice(&[9; 37]);
        p.extend_from_slice(&[0, 0, 3]); // 3 bytes of padding
        let protected = protect(&mut tx, &p);
        assert_eq!(
            &protected[..28],
            &p[..28],
            "{profile}: header stays in clear"
        );
        assert_eq!(unprotect(&mut rx, &protected).unwrap(), p);
    }
}

#[test]
fn contexts_can_move_between_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<SrtpContext>();
    assert_send_sync::<SrtpError>();
}
