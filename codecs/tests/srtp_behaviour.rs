//! SRTP/SRTCP behaviour through the public API: replay and rollover (RFC 3711 §3.3.2,
//! Appendix A), rekeying, tamper detection, strict SSRC handling, DTLS-SRTP keying
//! material, and the "buffer unchanged on failure" contract.

use talko_codecs::srtp::{
    Direction, DtlsRole, SrtpConfig, SrtpContext, SrtpError, SrtpProfile, MAX_TAG_LEN,
    SRTCP_TRAILER_MAX,
};

const PROFILES: [SrtpProfile; 4] = SrtpProfile::ALL;

fn key_salt(profile: SrtpProfile, seed: u8) -> (Vec<u8>, Vec<u8>) {
    let key = (0..profile.master_key_len())
        .map(|i| seed.wrapping_mul(31).wrapping_add(i as u8))
        .collect();
    let salt = (0..profile.master_salt_len())
        .map(|i| seed.wrapping_add(0x55).wrapping_add((i * 7) as u8))
        .collect();
    (key, salt)
}

fn pair_with(profile: SrtpProfile, config: SrtpConfig) -> (SrtpContext, SrtpContext) {
    let (key, salt) = key_salt(profile, 1);
    (
        SrtpContext::new(profile, &key, &salt, config).unwrap(),
        SrtpContext::new(profile, &key, &salt, config).unwrap(),
    )
}

fn pair(profile: SrtpProfile) -> (SrtpContext, SrtpContext) {
    pair_with(profile, SrtpConfig::default())
}

fn rtp(ssrc: u32, seq: u16, payload_len: usize) -> Vec<u8> {
    let mut p = vec![0x80, 111];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&(seq as u32 * 960).to_be_bytes());
    p.extend_from_slice(&ssrc.to_be_bytes());
    p.extend((0..payload_len).map(|i| (i as u8) ^ (seq as u8)));
    p
}

fn rtcp(ssrc: u32, fill: u8) -> Vec<u8> {
    // A receiver report with one report block (32 bytes).
    let mut p = vec![0x81, 201, 0, 7];
    p.extend_from_slice(&ssrc.to_be_bytes());
    p.extend(std::iter::repeat_n(fill, 24));
    p
}

fn protect(tx: &mut SrtpContext, plain: &[u8]) -> Vec<u8> {
    let mut buf = plain.to_vec();
    buf.resize(plain.len() + MAX_TAG_LEN, 0);
    let n = tx.protect_rtp(&mut buf, plain.len()).unwrap();
    buf.truncate(n);
    buf
}

fn protect_rtcp(tx: &mut SrtpContext, plain: &[u8]) -> Vec<u8> {
    let mut buf = plain.to_vec();
    buf.resize(plain.len() + SRTCP_TRAILER_MAX, 0);
    let n = tx.protect_rtcp(&mut buf, plain.len()).unwrap();
    buf.truncate(n);
    buf
}

fn unprotect(rx: &mut SrtpContext, protected: &[u8]) -> Result<Vec<u8>, SrtpError> {
    let mut buf = protected.to_vec();
    match rx.unprotect_rtp(&mut buf) {
        Ok(n) => Ok(buf[..n].to_vec()),
        Err(e) => {
            assert_eq!(buf, protected, "buffer changed by a failed unprotect ({e})");
            Err(e)
        }
    }
}

fn unprotect_rtcp(rx: &mut SrtpContext, protected: &[u8]) -> Result<Vec<u8>, SrtpError> {
    let mut buf = protected.to_vec();
    match rx.unprotect_rtcp(&mut buf) {
        Ok(n) => Ok(buf[..n].to_vec()),
        Err(e) => {
            assert_eq!(buf, protected, "buffer changed by a failed unprotect ({e})");
            Err(e)
        }
    }
}

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

// RFC 3711 §3.3.2: a duplicate is rejected, one behind the window is rejected, an
// unseen one inside the window is accepted once.
#[test]
fn replay_window_rejects_duplicates_and_old_and_accepts_unseen_late_packets() {
    for profile in PROFILES {
        let (mut tx, mut rx) = pair(profile);
        let packets: Vec<Vec<u8>> = (0..400u16)
            .map(|s| protect(&mut tx, &rtp(9, 1000 + s, 20)))
            .collect();
        // Deliver 0..=299 except 150 and 180 (lost / late).
        for (i, p) in packets.iter().enumerate().take(300) {
            if i != 150 && i != 180 {
                unprotect(&mut rx, p).unwrap();
            }
        }
        assert_eq!(unprotect(&mut rx, &packets[299]), Err(SrtpError::Replayed));
        assert_eq!(unprotect(&mut rx, &packets[250]), Err(SrtpError::Replayed));
        // 180 is 119 behind the highest (299): inside the 128-packet window.
        assert_eq!(unprotect(&mut rx, &packets[180]).unwrap(), rtp(9, 1180, 20));
        assert_eq!(unprotect(&mut rx, &packets[180]), Err(SrtpError::Replayed));
        // 150 is 149 behind: too old.
        assert_eq!(unprotect(&mut rx, &packets[150]), Err(SrtpError::TooOld));
        assert_eq!(unprotect(&mut rx, &packets[0]), Err(SrtpError::TooOld));
    }
}

#[test]
fn larger_replay_window_accepts_older_packets() {
    let config = SrtpConfig {
        replay_window: 512,
        ..SrtpConfig::default()
    };
    let (mut tx, mut rx) = pair_with(SrtpProfile::AeadAes128Gcm, config);
    let packets: Vec<Vec<u8>> = (0..600u16)
        .map(|s| protect(&mut tx, &rtp(9, s, 20)))
        .collect();
    for p in &packets[1..] {
        unprotect(&mut rx, p).unwrap();
    }
    // 0 is 599 behind: too old for 512.
    assert_eq!(unprotect(&mut rx, &packets[0]), Err(SrtpError::TooOld));
    let (mut tx, mut rx) = pair_with(SrtpProfile::AeadAes128Gcm, config);
    let packets: Vec<Vec<u8>> = (0..600u16)
        .map(|s| protect(&mut tx, &rtp(9, s, 20)))
        .collect();
    for p in &packets[200..] {
        unprotect(&mut rx, p).unwrap();
    }
    // 100 is 499 behind: inside 512.
    assert!(unprotect(&mut rx, &packets[100]).is_ok());
}

#[test]
fn srtcp_has_its_own_replay_window() {
    for profile in PROFILES {
        let (mut tx, mut rx) = pair(profile);
        let packets: Vec<Vec<u8>> = (0..200u8)
            .map(|i| protect_rtcp(&mut tx, &rtcp(3, i)))
            .collect();
        // SRTP traffic of the same SSRC does not disturb the SRTCP window.
        for seq in 0..10 {
            let p = protect(&mut tx, &rtp(3, seq, 10));
            unprotect(&mut rx, &p).unwrap();
        }
        for p in &packets[60..199] {
            unprotect_rtcp(&mut rx, p).unwrap();
        }
        assert_eq!(
            unprotect_rtcp(&mut rx, &packets[100]),
            Err(SrtpError::Replayed)
        );
        assert_eq!(
            unprotect_rtcp(&mut rx, &packets[199]).unwrap(),
            rtcp(3, 199)
        );
        assert_eq!(
            unprotect_rtcp(&mut rx, &packets[59]),
            Err(SrtpError::TooOld)
        );
        // 75 < 128 behind 199 and already seen; 72 + 128 > 199 and seen too.
        assert_eq!(
            unprotect_rtcp(&mut rx, &packets[75]),
            Err(SrtpError::Replayed)
        );
        // The E|index word is in clear: packet 0 carries index 0 with E set, after the
        // tag for AES-GCM (RFC 7714 §9.1) and before it for AES-CM (RFC 3711 §3.4).
        let p0 = &packets[0];
        let at = if profile.is_aead() {
            p0.len() - 4
        } else {
            p0.len() - profile.rtcp_trailer_len()
        };
        assert_eq!(&p0[at..at + 4], &[0x80, 0, 0, 0]);
        let p1 = &packets[1];
        assert_eq!(&p1[at..at + 4], &[0x80, 0, 0, 1]);
    }
}

/// Sends `count` packets from `first_seq` (wrapping), returns them in send order.
fn sequence(tx: &mut SrtpContext, ssrc: u32, first_seq: u16, count: usize) -> Vec<Vec<u8>> {
    (0..count)
        .map(|i| protect(tx, &rtp(ssrc, first_seq.wrapping_add(i as u16), 30)))
        .collect()
}

// RFC 3711 Appendix A: the receiver's index guess across a sequence-number wrap, with
// packets of the old ROC arriving after ones of the new ROC and the other way round.
#[test]
fn wrap_with_reordering_on_both_sides_is_decrypted() {
    for profile in PROFILES {
        let (mut tx, mut rx) = pair(profile);
        // 65530..=65535 (ROC 0) then 0..=9 (ROC 1).
        let pkts = sequence(&mut tx, 5, 65530, 16);
        assert_eq!(tx.roc(5), Some(1));
        // Arrival: new-ROC packets overtaking old ones, and old ones arriving late.
        let order = [0, 1, 7, 2, 6, 8, 3, 4, 10, 5, 9, 12, 11, 15, 13, 14];
        for &i in &order {
            let seq = 65530u16.wrapping_add(i as u16);
            assert_eq!(
                unprotect(&mut rx, &pkts[i]).unwrap(),
                rtp(5, seq, 30),
                "{profile} #{i}"
            );
        }
        assert_eq!(rx.roc(5), Some(1));
        for &i in &order {
            assert_eq!(unprotect(&mut rx, &pkts[i]), Err(SrtpError::Replayed));
        }
    }
}

#[test]
fn first_packets_after_the_wrap_arrive_before_the_last_before_it() {
    let (mut tx, mut rx) = pair(SrtpProfile::AesCm128HmacSha1_80);
    let pkts = sequence(&mut tx, 5, 65000, 1000);
    // Receive up to 65500, then 200 packets after the wrap, then the stragglers.
    for p in &pkts[..500] {
        unprotect(&mut rx, p).unwrap();
    }
    for p in &pkts[536..600] {
        unprotect(&mut rx, p).unwrap();
    }
    assert_eq!(rx.roc(5), Some(1));
    for p in &pkts[500..536] {
        unprotect(&mut rx, p).unwrap();
    }
    for p in &pkts[600..] {
        unprotect(&mut rx, p).unwrap();
    }
    assert_eq!(rx.roc(5), Some(1));
}

#[test]
fn many_wraps_keep_counting_the_roc() {
    let (mut tx, mut rx) = pair(SrtpProfile::AeadAes128Gcm);
    for i in 0..(3 * 65536 + 100u32) {
        let p = protect(&mut tx, &rtp(1, i as u16, 4));
        // Deliver one in 97 (losses), all the way.
        if i % 97 == 0 {
            unprotect(&mut rx, &p).unwrap();
        }
    }
    assert_eq!(tx.roc(1), Some(3));
    assert_eq!(rx.roc(1), Some(3));
}

// libsrtp srtp_driver.c `srtp_test_update`: rekeying keeps the rollover counter.
#[test]
fn rekey_keeps_roc_and_old_key_stops_working() {
    for profile in PROFILES {
        let (mut tx, mut rx) = pair(profile);
        for p in sequence(&mut tx, 11, 65500, 100) {
            unprotect(&mut rx, &p).unwrap();
        }
        assert_eq!((tx.roc(11), rx.roc(11)), (Some(1), Some(1)));
        let old_key_packet = protect(&mut tx, &rtp(11, 64, 30));
        let (key, salt) = key_salt(profile, 2);
        tx.update_keys(&key, &salt).unwrap();
        rx.update_keys(&key, &salt).unwrap();
        assert_eq!((tx.roc(11), rx.roc(11)), (Some(1), Some(1)));
        assert_eq!(unprotect(&mut rx, &old_key_packet), Err(SrtpError::BadTag));
        // The next packets use ROC 1 on both sides: they only decrypt if it was kept.
        for p in sequence(&mut tx, 11, 65, 10) {
            unprotect(&mut rx, &p).unwrap();
        }
        // A fresh receiver with the new key assumes ROC 0 and cannot authenticate.
        let mut fresh = SrtpContext::new(profile, &key, &salt, SrtpConfig::default()).unwrap();
        let p = protect(&mut tx, &rtp(11, 80, 30));
        assert_eq!(unprotect(&mut fresh, &p), Err(SrtpError::BadTag));
        fresh.set_roc(11, 1).unwrap();
        assert!(unprotect(&mut fresh, &p).is_ok());
        // A bad key length leaves the old keys in place.
        assert_eq!(
            tx.update_keys(&key[1..], &salt),
            Err(SrtpError::BadKeyLength)
        );
        let p = protect(&mut tx, &rtp(11, 81, 30));
        assert!(unprotect(&mut rx, &p).is_ok());
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
fn failed_packet_does_not_move_the_replay_window_or_create_a_stream() {
    let (mut tx, mut rx) = pair(SrtpProfile::AesCm128HmacSha1_80);
    let p1 = protect(&mut tx, &rtp(1, 10, 20));
    let p2 = protect(&mut tx, &rtp(1, 11, 20));
    let far = protect(&mut tx, &rtp(1, 5000, 20));
    let mut forged = far.clone();
    let last = forged.len() - 1;
    forged[last] ^= 1;
    assert_eq!(unprotect(&mut rx, &forged), Err(SrtpError::BadTag));
    assert_eq!(
        rx.stream_count(),
        0,
        "no stream for an unauthenticated SSRC"
    );
    unprotect(&mut rx, &p1).unwrap();
    assert_eq!(unprotect(&mut rx, &forged), Err(SrtpError::BadTag));
    // Had the forged packet moved the window to 5000, seq 11 would now be too old.
    unprotect(&mut rx, &p2).unwrap();
    unprotect(&mut rx, &far).unwrap();
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
