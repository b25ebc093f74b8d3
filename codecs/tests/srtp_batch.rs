//! The batch paths give exactly what the one-packet paths give: the same protected
//! bytes for every suite and listener, the same results, errors and untouched buffers
//! when unprotecting — including forged, replayed and out-of-order packets and a ROC
//! change inside one batch.

use talko_codecs::srtp::{
    RtpAuthBatch, RtpProtectBatch, SrtpConfig, SrtpContext, SrtpError, SrtpProfile, MAX_TAG_LEN,
    SRTP_BATCH,
};

const LEN: usize = 172;

fn ctx(profile: SrtpProfile, seed: u8) -> SrtpContext {
    let key: Vec<u8> = (0..profile.master_key_len() as u8)
        .map(|b| b ^ seed)
        .collect();
    let salt: Vec<u8> = (0..profile.master_salt_len() as u8)
        .map(|b| b.wrapping_mul(seed))
        .collect();
    SrtpContext::new(profile, &key, &salt, SrtpConfig::default()).unwrap()
}

fn rtp(seq: u16, ssrc: u32, len: usize) -> Vec<u8> {
    let mut p = vec![0u8; len];
    p[0] = 0x80;
    p[1] = 111;
    p[2..4].copy_from_slice(&seq.to_be_bytes());
    p[4..8].copy_from_slice(&(u32::from(seq) * 960).to_be_bytes());
    p[8..12].copy_from_slice(&ssrc.to_be_bytes());
    for (i, b) in p[12..].iter_mut().enumerate() {
        *b = (i as u8) ^ (seq as u8);
    }
    p
}

/// Listeners on every suite, more than one batch holds, packets of several lengths.
#[test]
fn batch_protect_equals_one_at_a_time() {
    let profiles = SrtpProfile::ALL;
    let n = 2 * SRTP_BATCH + 5;
    let mut one: Vec<SrtpContext> = (0..n).map(|i| ctx(profiles[i % 4], i as u8)).collect();
    let mut many: Vec<SrtpContext> = (0..n).map(|i| ctx(profiles[i % 4], i as u8)).collect();
    for seq in [65534u16, 65535, 0, 1, 2] {
        let mut expected = Vec::new();
        for (i, c) in one.iter_mut().enumerate() {
            let plain = rtp(seq, 0x100 + i as u32, 40 + (i * 37) % 300);
            let mut buf = plain.clone();
            buf.resize(plain.len() + MAX_TAG_LEN, 0);
            let m = c.protect_rtp(&mut buf, plain.len()).unwrap();
            buf.truncate(m);
            expected.push((plain, buf));
        }
        let mut bufs: Vec<Vec<u8>> = expected
            .iter()
            .map(|(p, _)| {
                let mut b = p.clone();
                b.resize(p.len() + MAX_TAG_LEN, 0);
                b
            })
            .collect();
        let mut lens = vec![0; n];
        {
            let mut batch = RtpProtectBatch::new();
            for (i, (c, b)) in many.iter_mut().zip(bufs.iter_mut()).enumerate() {
                let len = expected[i].0.len();
                lens[i] = batch.push(c, b, len).unwrap();
            }
        }
        for (i, ((_, want), got)) in expected.iter().zip(bufs.iter()).enumerate() {
            assert_eq!(&got[..lens[i]], &want[..], "listener {i} seq {seq}");
        }
    }
}

#[test]
fn batch_protect_reports_the_same_errors() {
    let mut c = ctx(SrtpProfile::AesCm128HmacSha1_80, 1);
    let mut short = [0u8; 8];
    let mut no_room = rtp(1, 5, LEN);
    let mut a = rtp(1, 5, LEN + MAX_TAG_LEN);
    let mut b = rtp(1, 5, LEN + MAX_TAG_LEN);
    let mut batch = RtpProtectBatch::new();
    assert_eq!(batch.push(&mut c, &mut short, 8), Err(SrtpError::TooShort));
    assert_eq!(
        batch.push(&mut c, &mut no_room, LEN),
        Err(SrtpError::BufferTooSmall)
    );
    assert!(batch.push(&mut c, &mut a, LEN).is_ok());
    assert_eq!(batch.push(&mut c, &mut b, LEN), Err(SrtpError::Replayed));
}

/// Protects `seqs` of one sender (SSRC 9) on AES-CM-80.
fn sent(seqs: &[u16], roc: u32) -> Vec<Vec<u8>> {
    let mut tx = ctx(SrtpProfile::AesCm128HmacSha1_80, 3);
    tx.set_roc(9, roc).unwrap();
    seqs.iter()
        .map(|&s| {
            let mut b = rtp(s, 9, LEN);
            b.resize(LEN + MAX_TAG_LEN, 0);
            let n = tx.protect_rtp(&mut b, LEN).unwrap();
            b.truncate(n);
            b
        })
        .collect()
}

/// Unprotects `packets` one batch at a time and one at a time; both must agree on every
/// result and every byte.
fn both_ways(packets: &[Vec<u8>], roc: u32) -> Vec<Result<usize, SrtpError>> {
    let mut single = ctx(SrtpProfile::AesCm128HmacSha1_80, 3);
    let mut batched = ctx(SrtpProfile::AesCm128HmacSha1_80, 3);
    single.set_roc(9, roc).unwrap();
    batched.set_roc(9, roc).unwrap();
    let mut a: Vec<Vec<u8>> = packets.to_vec();
    let mut b: Vec<Vec<u8>> = packets.to_vec();
    let want: Vec<_> = a.iter_mut().map(|p| single.unprotect_rtp(p)).collect();
    let got: Vec<_> = {
        let mut auth = RtpAuthBatch::new();
        let tickets: Vec<_> = b.iter().map(|p| auth.add(&batched, p)).collect();
        let tags = auth.compute();
        b.iter_mut()
            .zip(tickets)
            .map(|(p, t)| match t {
                Some(t) => batched.unprotect_rtp_authenticated(p, &tags, t),
                None => batched.unprotect_rtp(p),
            })
            .collect()
    };
    assert_eq!(got, want);
    assert_eq!(
        a, b,
        "same bytes after unprotect (failed packets untouched)"
    );
    got
}

#[test]
fn batch_unprotect_equals_one_at_a_time_for_good_forged_and_replayed_packets() {
    let mut packets = sent(&[10, 11, 12, 13, 14, 15], 0);
    packets[2][40] ^= 1; // forged payload
    let last = packets[4].len() - 1;
    packets[4][last] ^= 0x80; // forged tag
    packets.push(packets[1].clone()); // replay inside the batch
    packets.push(packets[5].clone());
    let results = both_ways(&packets, 0);
    assert_eq!(results[0], Ok(LEN));
    assert_eq!(results[2], Err(SrtpError::BadTag));
    assert_eq!(results[4], Err(SrtpError::BadTag));
    assert_eq!(results[6], Err(SrtpError::Replayed));
}

#[test]
fn batch_unprotect_follows_a_rollover_inside_the_batch() {
    // 65534, 65535 then 0, 1 of the next ROC, with reordering around the wrap.
    let packets = sent(&[65533, 65535, 65534, 0, 2, 1], 4);
    let results = both_ways(&packets, 4);
    assert!(results.iter().all(|r| *r == Ok(LEN)), "{results:?}");
}

#[test]
fn a_ticket_does_not_vouch_for_another_buffer() {
    let packets = sent(&[1, 2], 0);
    let mut rx = ctx(SrtpProfile::AesCm128HmacSha1_80, 3);
    let mut auth = RtpAuthBatch::new();
    let t0 = auth.add(&rx, &packets[0]).unwrap();
    let tags = auth.compute();
    let mut other = packets[1].clone();
    assert_eq!(
        rx.unprotect_rtp_authenticated(&mut other, &tags, t0),
        Err(SrtpError::BadTag)
    );
    assert_eq!(other, packets[1]);
}

#[test]
fn a_full_or_gcm_batch_declines_and_the_single_path_takes_over() {
    let gcm = ctx(SrtpProfile::AeadAes128Gcm, 1);
    let mut auth = RtpAuthBatch::new();
    let p = rtp(1, 1, LEN + 16);
    assert!(auth.add(&gcm, &p).is_none());
    let cm = ctx(SrtpProfile::AesCm128HmacSha1_80, 3);
    let packets = sent(&(0..SRTP_BATCH as u16 + 1).collect::<Vec<_>>(), 0);
    let mut auth = RtpAuthBatch::new();
    let added = packets
        .iter()
        .filter(|p| auth.add(&cm, p).is_some())
        .count();
    assert_eq!(added, SRTP_BATCH);
}
