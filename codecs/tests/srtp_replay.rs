//! SRTP/SRTCP replay protection and rollover through the public API: the replay window
//! (RFC 3711 §3.3.2) for SRTP and SRTCP, the index guess across sequence-number wraps
//! with reordering (RFC 3711 Appendix A), rekeying that keeps the ROC, and state that
//! only moves for authenticated packets.

mod srtp_support;

use srtp_support::*;
use talko_codecs::srtp::{SrtpConfig, SrtpContext, SrtpError, SrtpProfile};

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
