//! Helpers shared by the SRTP integration tests: deterministic keys, packet builders,
//! and protect/unprotect wrappers that check the "buffer unchanged on failure" rule.

// Each test crate uses a different subset of these helpers.
#![allow(dead_code)]

use talko_codecs::srtp::{
    SrtpConfig, SrtpContext, SrtpError, SrtpProfile, MAX_TAG_LEN, SRTCP_TRAILER_MAX,
};

pub const PROFILES: [SrtpProfile; 4] = SrtpProfile::ALL;

pub fn key_salt(profile: SrtpProfile, seed: u8) -> (Vec<u8>, Vec<u8>) {
    let key = (0..profile.master_key_len())
        .map(|i| seed.wrapping_mul(31).wrapping_add(i as u8))
        .collect();
    let salt = (0..profile.master_salt_len())
        .map(|i| seed.wrapping_add(0x55).wrapping_add((i * 7) as u8))
        .collect();
    (key, salt)
}

pub fn pair_with(profile: SrtpProfile, config: SrtpConfig) -> (SrtpContext, SrtpContext) {
    let (key, salt) = key_salt(profile, 1);
    (
        SrtpContext::new(profile, &key, &salt, config).unwrap(),
        SrtpContext::new(profile, &key, &salt, config).unwrap(),
    )
}

pub fn pair(profile: SrtpProfile) -> (SrtpContext, SrtpContext) {
    pair_with(profile, SrtpConfig::default())
}

pub fn rtp(ssrc: u32, seq: u16, payload_len: usize) -> Vec<u8> {
    let mut p = vec![0x80, 111];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&(seq as u32 * 960).to_be_bytes());
    p.extend_from_slice(&ssrc.to_be_bytes());
    p.extend((0..payload_len).map(|i| (i as u8) ^ (seq as u8)));
    p
}

pub fn rtcp(ssrc: u32, fill: u8) -> Vec<u8> {
    // A receiver report with one report block (32 bytes).
    let mut p = vec![0x81, 201, 0, 7];
    p.extend_from_slice(&ssrc.to_be_bytes());
    p.extend(std::iter::repeat_n(fill, 24));
    p
}

pub fn protect(tx: &mut SrtpContext, plain: &[u8]) -> Vec<u8> {
    let mut buf = plain.to_vec();
    buf.resize(plain.len() + MAX_TAG_LEN, 0);
    let n = tx.protect_rtp(&mut buf, plain.len()).unwrap();
    buf.truncate(n);
    buf
}

pub fn protect_rtcp(tx: &mut SrtpContext, plain: &[u8]) -> Vec<u8> {
    let mut buf = plain.to_vec();
    buf.resize(plain.len() + SRTCP_TRAILER_MAX, 0);
    let n = tx.protect_rtcp(&mut buf, plain.len()).unwrap();
    buf.truncate(n);
    buf
}

pub fn unprotect(rx: &mut SrtpContext, protected: &[u8]) -> Result<Vec<u8>, SrtpError> {
    let mut buf = protected.to_vec();
    match rx.unprotect_rtp(&mut buf) {
        Ok(n) => Ok(buf[..n].to_vec()),
        Err(e) => {
            assert_eq!(buf, protected, "buffer changed by a failed unprotect ({e})");
            Err(e)
        }
    }
}

pub fn unprotect_rtcp(rx: &mut SrtpContext, protected: &[u8]) -> Result<Vec<u8>, SrtpError> {
    let mut buf = protected.to_vec();
    match rx.unprotect_rtcp(&mut buf) {
        Ok(n) => Ok(buf[..n].to_vec()),
        Err(e) => {
            assert_eq!(buf, protected, "buffer changed by a failed unprotect ({e})");
            Err(e)
        }
    }
}

/// Sends `count` packets from `first_seq` (wrapping), returns them in send order.
pub fn sequence(tx: &mut SrtpContext, ssrc: u32, first_seq: u16, count: usize) -> Vec<Vec<u8>> {
    (0..count)
        .map(|i| protect(tx, &rtp(ssrc, first_seq.wrapping_add(i as u16), 30)))
        .collect()
}
