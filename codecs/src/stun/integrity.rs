//! MESSAGE-INTEGRITY (HMAC-SHA1, RFC 8489 §14.5) and FINGERPRINT (CRC-32 XOR
//! 0x5354554e, RFC 8489 §14.7): computing them for the writer and verifying them for
//! the reader.
//!
//! Both cover the message up to their own attribute with the header's length field
//! rewritten as if that attribute ended the message. The bytes are fed to the hash in
//! pieces so nothing is copied or allocated. Integrity is compared in constant time.

use hmac::{Hmac, Mac};
use sha1::Sha1;
use subtle::ConstantTimeEq;

use super::{StunError, StunMessage, HEADER_LEN, INTEGRITY_LEN};

/// FINGERPRINT is the CRC-32 of the message XORed with this ("STUN").
pub const FINGERPRINT_XOR: u32 = 0x5354_554E;

/// The header's length field when the message ends `attr_len` bytes after `attr_at`.
fn adjusted_length(attr_at: usize, attr_len: usize) -> Option<[u8; 2]> {
    let len = (attr_at + 4 + attr_len).checked_sub(HEADER_LEN)?;
    u16::try_from(len).ok().map(u16::to_be_bytes)
}

/// HMAC-SHA1 over `msg[..mi_at]` with the length field covering MESSAGE-INTEGRITY.
pub(super) fn compute_integrity(msg: &[u8], mi_at: usize, key: &[u8]) -> Option<[u8; 20]> {
    let len = adjusted_length(mi_at, INTEGRITY_LEN)?;
    let mut mac = Hmac::<Sha1>::new_from_slice(key).ok()?;
    mac.update(msg.get(..2)?);
    mac.update(&len);
    mac.update(msg.get(4..mi_at)?);
    Some(mac.finalize().into_bytes().into())
}

/// CRC-32 over `msg[..fp_at]` with the length field covering FINGERPRINT, XOR "STUN".
pub(super) fn compute_fingerprint(msg: &[u8], fp_at: usize) -> Option<u32> {
    let len = adjusted_length(fp_at, 4)?;
    let mut crc = crc32fast::Hasher::new();
    crc.update(msg.get(..2)?);
    crc.update(&len);
    crc.update(msg.get(4..fp_at)?);
    Some(crc.finalize() ^ FINGERPRINT_XOR)
}

pub(super) fn check_integrity(msg: &[u8], mi_at: usize, key: &[u8]) -> Result<(), StunError> {
    let expected = compute_integrity(msg, mi_at, key).ok_or(StunError::BadIntegrity)?;
    let value_at = mi_at + 4;
    let received = msg
        .get(value_at..value_at + INTEGRITY_LEN)
        .ok_or(StunError::BadIntegrity)?;
    if bool::from(expected.as_slice().ct_eq(received)) {
        Ok(())
    } else {
        Err(StunError::BadIntegrity)
    }
}

pub(super) fn check_fingerprint(msg: &[u8], fp_at: usize) -> Result<(), StunError> {
    let expected = compute_fingerprint(msg, fp_at).ok_or(StunError::BadFingerprint)?;
    let value_at = fp_at + 4;
    let received = msg
        .get(value_at..value_at + 4)
        .and_then(|v| <[u8; 4]>::try_from(v).ok())
        .ok_or(StunError::BadFingerprint)?;
    if expected == u32::from_be_bytes(received) {
        Ok(())
    } else {
        Err(StunError::BadFingerprint)
    }
}

/// Parses `msg` (with no size limit) and verifies its FINGERPRINT.
pub fn verify_fingerprint(msg: &[u8]) -> Result<(), StunError> {
    StunMessage::parse(msg, usize::MAX)?.verify_fingerprint()
}

/// Parses `msg` (with no size limit) and verifies its MESSAGE-INTEGRITY under a
/// short-term credential `key` (the ICE password, RFC 8489 §9.1.1), in constant time.
pub fn verify_integrity(msg: &[u8], key: &[u8]) -> Result<(), StunError> {
    StunMessage::parse(msg, usize::MAX)?.verify_integrity(key)
}
