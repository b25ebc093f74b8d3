//! Fixed SRTP/SRTCP packets through the public API: the reference packets of libsrtp's
//! `test/srtp_driver.c` (`srtp_validate`, `srtp_validate_gcm`), which start from a
//! master key and salt and so also check key derivation end to end.

use talko_codecs::srtp::{SrtpConfig, SrtpContext, SrtpError, SrtpProfile};

fn hex(s: &str) -> Vec<u8> {
    let digits: Vec<u8> = s.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    digits
        .chunks(2)
        .map(|p| u8::from_str_radix(std::str::from_utf8(p).unwrap(), 16).unwrap())
        .collect()
}

fn ctx(profile: SrtpProfile, key: &str, salt: &str) -> SrtpContext {
    SrtpContext::new(profile, &hex(key), &hex(salt), SrtpConfig::default()).unwrap()
}

/// The plaintext RTP packet of all three libsrtp validations: SSRC 0xcafebabe,
/// sequence number 0x1234, 16 bytes of 0xab.
const RTP_PLAIN: &str = "800f1234 decafbad cafebabe abababab abababab abababab abababab";
/// The plaintext RTCP packet: an SR header from SSRC 0xcafebabe and 16 bytes of 0xab.
const RTCP_PLAIN: &str = "81c8000b cafebabe abababab abababab abababab abababab";

/// Protects `plain` and checks the bytes, then unprotects `protected` with a fresh
/// receiving context and checks the plaintext.
fn check_rtp(profile: SrtpProfile, key: &str, salt: &str, protected: &str) {
    let plain = hex(RTP_PLAIN);
    let protected = hex(protected);
    let mut buf = plain.clone();
    buf.resize(plain.len() + profile.tag_len_rtp(), 0);
    let n = ctx(profile, key, salt)
        .protect_rtp(&mut buf, plain.len())
        .unwrap();
    assert_eq!(&buf[..n], &protected[..]);

    let mut buf = protected.clone();
    let n = ctx(profile, key, salt).unprotect_rtp(&mut buf).unwrap();
    assert_eq!(&buf[..n], &plain[..]);
}

/// libsrtp's reference SRTCP packets carry SRTCP index 1 (libsrtp numbers from 1;
/// RFC 3711 §3.4 and talko from 0), so one packet is protected first.
fn check_rtcp(profile: SrtpProfile, key: &str, salt: &str, protected: &str) {
    let plain = hex(RTCP_PLAIN);
    let protected = hex(protected);
    let mut sender = ctx(profile, key, salt);
    let mut first = plain.clone();
    first.resize(plain.len() + profile.rtcp_trailer_len(), 0);
    sender.protect_rtcp(&mut first, plain.len()).unwrap();
    let mut buf = plain.clone();
    buf.resize(plain.len() + profile.rtcp_trailer_len(), 0);
    let n = sender.protect_rtcp(&mut buf, plain.len()).unwrap();
    assert_eq!(&buf[..n], &protected[..]);

    let mut receiver = ctx(profile, key, salt);
    let mut buf = protected.clone();
    let n = receiver.unprotect_rtcp(&mut buf).unwrap();
    assert_eq!(&buf[..n], &plain[..]);
    let mut again = protected.clone();
    assert_eq!(
        receiver.unprotect_rtcp(&mut again),
        Err(SrtpError::Replayed)
    );
}

// libsrtp test/srtp_driver.c `srtp_validate`: AES_CM_128_HMAC_SHA1_80, master key
// e1f97a0d..4139, master salt 0ec675ad..abe6 (the RFC 3711 B.3 master key and salt).
const CM_KEY: &str = "e1f97a0d3e018be0d64fa32c06de4139";
const CM_SALT: &str = "0ec675ad498afeebb6960b3aabe6";

#[test]
fn aes_cm_128_rtp_matches_libsrtp_srtp_validate() {
    check_rtp(
        SrtpProfile::AesCm128HmacSha1_80,
        CM_KEY,
        CM_SALT,
        "800f1234 decafbad cafebabe 4e55dc4c e79978d8 8ca4d215 949d2402 b78d6acc 99ea179b 8dbb",
    );
}

#[test]
fn aes_cm_128_rtcp_matches_libsrtp_srtp_validate() {
    check_rtcp(
        SrtpProfile::AesCm128HmacSha1_80,
        CM_KEY,
        CM_SALT,
        "81c8000b cafebabe 7128035b e487b9bd bef89041 f977a5a8 80000001 993e08cd 54d6c123 0798",
    );
}

// The 32-bit tag is the first 4 bytes of the 80-bit one over the same input (RFC 3711
// §4.2); SRTCP keeps 80 bits under AES_CM_128_HMAC_SHA1_32 (RFC 5764 §4.1.2).
#[test]
fn aes_cm_128_sha1_32_truncates_the_libsrtp_tag() {
    check_rtp(
        SrtpProfile::AesCm128HmacSha1_32,
        CM_KEY,
        CM_SALT,
        "800f1234 decafbad cafebabe 4e55dc4c e79978d8 8ca4d215 949d2402 b78d6acc",
    );
    check_rtcp(
        SrtpProfile::AesCm128HmacSha1_32,
        CM_KEY,
        CM_SALT,
        "81c8000b cafebabe 7128035b e487b9bd bef89041 f977a5a8 80000001 993e08cd 54d6c123 0798",
    );
}

// libsrtp test/srtp_driver.c `srtp_validate_gcm`: AEAD_AES_128_GCM, master key
// 00010203..0e0f, master salt a0a1..aaab.
const GCM_KEY: &str = "000102030405060708090a0b0c0d0e0f";
const GCM_SALT: &str = "a0a1a2a3a4a5a6a7a8a9aaab";

#[test]
fn aead_aes_128_gcm_rtp_matches_libsrtp_srtp_validate_gcm() {
    check_rtp(
        SrtpProfile::AeadAes128Gcm,
        GCM_KEY,
        GCM_SALT,
        "800f1234 decafbad cafebabe c5002ede 04cfdd2e b91159e0 880aa06e
         d2976826 f796b201 df3131a1 27e8a392",
    );
}

#[test]
fn aead_aes_128_gcm_rtcp_matches_libsrtp_srtp_validate_gcm() {
    check_rtcp(
        SrtpProfile::AeadAes128Gcm,
        GCM_KEY,
        GCM_SALT,
        "81c8000b cafebabe c98b8b5d f0392a55 852b6c21 ac8e7025 c52c6fbe a2b3b446
         ea31123b a88ce61e 80000001",
    );
}
