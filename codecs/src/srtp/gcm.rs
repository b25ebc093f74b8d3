//! The AEAD AES-GCM transform (RFC 7714): session keys and the per-packet
//! seal/open steps for SRTP (§8) and SRTCP (§9).
//!
//! Owns the AES-GCM key schedules (AES round keys and the GHASH key, computed once)
//! and the 96-bit session salts. It verifies the tag before decrypting and leaves a
//! packet that fails byte-for-byte as it came. It knows nothing of streams, rollover
//! counters or replay.

use aes_gcm::aead::AeadInPlace;
use aes_gcm::{Aes128Gcm, Aes256Gcm, KeyInit, Nonce, Tag};

use super::kdf::{derive, label, AesKey};
use super::SrtpError;

/// AEAD session salt length (96 bits).
const SALT_LEN: usize = 12;
/// AES-GCM tag length used by SRTP (RFC 7714 §14.2).
pub(crate) const TAG_LEN: usize = 16;
/// Longest AAD or payload the AES-NI path takes: far beyond any datagram, and short
/// enough that the 32-bit GCM counter (and our 64-bit addition) never wraps.
#[cfg(target_arch = "x86_64")]
const MAX_DATA: usize = 1 << 20;

// The variants differ in key-schedule size; the whole transform sits behind one `Box` in
// the context, and boxing variants again would add a pointer chase per packet.
#[allow(clippy::large_enum_variant)]
#[derive(Clone)]
enum Aead {
    Aes128(Aes128Gcm),
    Aes256(Aes256Gcm),
}

/// The AES-NI/PCLMULQDQ kernels' keys: counter mode and GHASH with eight key powers.
#[cfg(target_arch = "x86_64")]
#[derive(Clone, Copy)]
struct NiGcm {
    aes: super::ni::AesNi,
    ghash: super::ni::Ghash,
}

#[cfg(target_arch = "x86_64")]
impl NiGcm {
    fn new(key: &[u8]) -> Option<NiGcm> {
        let aes = super::ni::AesNi::new(key)?;
        let mut h = [0u8; 16];
        aes.encrypt_block(&mut h);
        Some(NiGcm {
            aes,
            ghash: super::ni::Ghash::new(&h)?,
        })
    }

    fn seal(&self, iv: &[u8; 12], aad: &[u8], data: &mut [u8]) -> [u8; TAG_LEN] {
        super::ni::gcm_seal(&self.aes, &self.ghash, iv, aad, data)
    }

    fn open(
        &self,
        iv: &[u8; 12],
        aad: &[u8],
        data: &mut [u8],
        tag: &[u8],
        verify: bool,
    ) -> Result<(), SrtpError> {
        let tag: &[u8; TAG_LEN] = tag.try_into().map_err(|_| SrtpError::TooShort)?;
        if super::ni::gcm_open(&self.aes, &self.ghash, iv, aad, data, tag, verify) || !verify {
            Ok(())
        } else {
            Err(SrtpError::BadTag)
        }
    }
}

#[derive(Clone)]
struct GcmKeys {
    aead: Aead,
    #[cfg(target_arch = "x86_64")]
    ni: Option<NiGcm>,
    salt: [u8; SALT_LEN],
    /// The bare cipher, so a fuzzing build can decrypt without a valid tag.
    #[cfg(feature = "fuzzing")]
    ctr: AesKey,
}

impl GcmKeys {
    fn from_session(key: &[u8], salt: &[u8]) -> Result<GcmKeys, SrtpError> {
        let aead = match key.len() {
            16 => {
                Aead::Aes128(Aes128Gcm::new_from_slice(key).map_err(|_| SrtpError::BadKeyLength)?)
            }
            32 => {
                Aead::Aes256(Aes256Gcm::new_from_slice(key).map_err(|_| SrtpError::BadKeyLength)?)
            }
            _ => return Err(SrtpError::BadKeyLength),
        };
        Ok(GcmKeys {
            aead,
            #[cfg(target_arch = "x86_64")]
            ni: NiGcm::new(key),
            salt: salt.try_into().map_err(|_| SrtpError::BadKeyLength)?,
            #[cfg(feature = "fuzzing")]
            ctr: AesKey::new(key)?,
        })
    }

    fn derive(
        master: &AesKey,
        master_salt: &[u8],
        key_len: usize,
        labels: [u8; 2],
    ) -> Result<GcmKeys, SrtpError> {
        let mut key = [0u8; 32];
        let key = key.get_mut(..key_len).ok_or(SrtpError::BadKeyLength)?;
        let mut salt = [0u8; SALT_LEN];
        derive(master, master_salt, labels[0], key);
        derive(master, master_salt, labels[1], &mut salt);
        let keys = GcmKeys::from_session(key, &salt);
        key.fill(0);
        keys
    }

    fn seal(&self, iv: &[u8; 12], aad: &[u8], data: &mut [u8]) -> Result<Tag, SrtpError> {
        #[cfg(target_arch = "x86_64")]
        if let Some(ni) = &self.ni {
            if data.len() > MAX_DATA || aad.len() > MAX_DATA {
                return Err(SrtpError::Malformed);
            }
            return Ok(Tag::from(ni.seal(iv, aad, data)));
        }
        let nonce = Nonce::from_slice(iv);
        match &self.aead {
            Aead::Aes128(c) => c.encrypt_in_place_detached(nonce, aad, data),
            Aead::Aes256(c) => c.encrypt_in_place_detached(nonce, aad, data),
        }
        // Only a packet over GCM's 2^36-byte limit fails, before anything is written.
        .map_err(|_| SrtpError::Malformed)
    }

    fn open(
        &self,
        iv: &[u8; 12],
        aad: &[u8],
        data: &mut [u8],
        tag: &[u8],
        verify: bool,
    ) -> Result<(), SrtpError> {
        #[cfg(target_arch = "x86_64")]
        if let Some(ni) = &self.ni {
            if data.len() > MAX_DATA || aad.len() > MAX_DATA {
                return Err(SrtpError::BadTag);
            }
            return ni.open(iv, aad, data, tag, verify);
        }
        let nonce = Nonce::from_slice(iv);
        let tag: [u8; TAG_LEN] = tag.try_into().map_err(|_| SrtpError::TooShort)?;
        let tag = Tag::from(tag);
        let opened = match &self.aead {
            Aead::Aes128(c) => c.decrypt_in_place_detached(nonce, aad, data, &tag),
            Aead::Aes256(c) => c.decrypt_in_place_detached(nonce, aad, data, &tag),
        };
        match opened {
            Ok(()) => Ok(()),
            Err(_) if !verify => {
                self.decrypt_unverified(iv, data);
                Ok(())
            }
            Err(_) => Err(SrtpError::BadTag),
        }
    }

    /// GCM's keystream starts at counter block `IV || 2` (NIST SP 800-38D §7.1).
    #[cfg(feature = "fuzzing")]
    fn decrypt_unverified(&self, iv: &[u8; 12], data: &mut [u8]) {
        let mut block = [0u8; 16];
        block[..12].copy_from_slice(iv);
        block[15] = 2;
        self.ctr.apply_keystream(block, data);
    }

    #[cfg(not(feature = "fuzzing"))]
    fn decrypt_unverified(&self, _iv: &[u8; 12], _data: &mut [u8]) {}
}

fn xor_salt(mut iv: [u8; 12], salt: &[u8; SALT_LEN]) -> [u8; 12] {
    for (i, s) in iv.iter_mut().zip(salt.iter()) {
        *i ^= s;
    }
    iv
}

/// RFC 7714 §8.1: IV = salt XOR (0x0000 || SSRC || ROC || SEQ).
fn rtp_iv(salt: &[u8; SALT_LEN], ssrc: u32, index: u64) -> [u8; 12] {
    let mut iv = [0u8; 12];
    iv[2..6].copy_from_slice(&ssrc.to_be_bytes());
    iv[6..12].copy_from_slice(&index.to_be_bytes()[2..8]);
    xor_salt(iv, salt)
}

/// RFC 7714 §9.1: IV = salt XOR (0x0000 || SSRC || 0x0000 || 0 || SRTCP index).
fn rtcp_iv(salt: &[u8; SALT_LEN], ssrc: u32, index: u32) -> [u8; 12] {
    let mut iv = [0u8; 12];
    iv[2..6].copy_from_slice(&ssrc.to_be_bytes());
    iv[8..12].copy_from_slice(&index.to_be_bytes());
    xor_salt(iv, salt)
}

/// Session keys of an AEAD_AES_128_GCM / AEAD_AES_256_GCM profile.
#[derive(Clone)]
pub(crate) struct GcmTransform {
    rtp: GcmKeys,
    rtcp: GcmKeys,
}

impl GcmTransform {
    /// Derives SRTP and SRTCP session keys and salts (RFC 7714 §11: the AES-CM PRF of
    /// RFC 3711 with the 96-bit master salt).
    pub(crate) fn new(master_key: &[u8], master_salt: &[u8]) -> Result<GcmTransform, SrtpError> {
        if master_salt.len() != SALT_LEN {
            return Err(SrtpError::BadKeyLength);
        }
        let master = AesKey::new(master_key)?;
        let key_len = master_key.len();
        Ok(GcmTransform {
            rtp: GcmKeys::derive(
                &master,
                master_salt,
                key_len,
                [label::RTP_ENCRYPTION, label::RTP_SALT],
            )?,
            rtcp: GcmKeys::derive(
                &master,
                master_salt,
                key_len,
                [label::RTCP_ENCRYPTION, label::RTCP_SALT],
            )?,
        })
    }

    /// Builds a transform from a session key and salt directly (same for SRTP and
    /// SRTCP), for checking the RFC 7714 §16/§17 vectors.
    #[cfg(test)]
    pub(crate) fn from_session(key: &[u8], salt: &[u8]) -> Result<GcmTransform, SrtpError> {
        let keys = GcmKeys::from_session(key, salt)?;
        Ok(GcmTransform {
            rtp: keys.clone(),
            rtcp: keys,
        })
    }

    /// Seals `pkt[hdr_len..len]` with the header as AAD and writes the tag at
    /// `pkt[len..]`. `pkt` is exactly `len + 16` bytes.
    pub(crate) fn protect_rtp(
        &self,
        pkt: &mut [u8],
        hdr_len: usize,
        len: usize,
        ssrc: u32,
        index: u64,
    ) -> Result<(), SrtpError> {
        // Every length is checked before the first byte is written.
        let (body, tag_out) = pkt
            .split_at_mut_checked(len)
            .ok_or(SrtpError::BufferTooSmall)?;
        if tag_out.len() != TAG_LEN {
            return Err(SrtpError::BufferTooSmall);
        }
        let (header, payload) = body
            .split_at_mut_checked(hdr_len)
            .ok_or(SrtpError::Malformed)?;
        let tag = self
            .rtp
            .seal(&rtp_iv(&self.rtp.salt, ssrc, index), header, payload)?;
        tag_out.copy_from_slice(&tag);
        Ok(())
    }

    /// Verifies and opens an SRTP packet; returns the plaintext length.
    pub(crate) fn unprotect_rtp(
        &self,
        pkt: &mut [u8],
        hdr_len: usize,
        ssrc: u32,
        index: u64,
        verify: bool,
    ) -> Result<usize, SrtpError> {
        let body_len = pkt.len().checked_sub(TAG_LEN).ok_or(SrtpError::TooShort)?;
        let (body, tag) = pkt
            .split_at_mut_checked(body_len)
            .ok_or(SrtpError::TooShort)?;
        let (header, payload) = body
            .split_at_mut_checked(hdr_len)
            .ok_or(SrtpError::TooShort)?;
        self.rtp.open(
            &rtp_iv(&self.rtp.salt, ssrc, index),
            header,
            payload,
            tag,
            verify,
        )?;
        Ok(body_len)
    }

    /// Seals `pkt[8..len]` with AAD = header || E|index, then writes the tag and the
    /// `E=1`|index word. `pkt` is exactly `len + 16 + 4` bytes.
    pub(crate) fn protect_rtcp(
        &self,
        pkt: &mut [u8],
        len: usize,
        ssrc: u32,
        index: u32,
    ) -> Result<(), SrtpError> {
        let e_index = (index | 0x8000_0000).to_be_bytes();
        // Every length is checked before the first byte is written.
        let (body, trailer) = pkt
            .split_at_mut_checked(len)
            .ok_or(SrtpError::BufferTooSmall)?;
        let (tag_out, e_out) = trailer
            .split_at_mut_checked(TAG_LEN)
            .ok_or(SrtpError::BufferTooSmall)?;
        if e_out.len() != 4 {
            return Err(SrtpError::BufferTooSmall);
        }
        let (header, payload) = body.split_at_mut_checked(8).ok_or(SrtpError::TooShort)?;
        let mut aad = [0u8; 12];
        aad[..8].copy_from_slice(header);
        aad[8..].copy_from_slice(&e_index);
        let tag = self
            .rtcp
            .seal(&rtcp_iv(&self.rtcp.salt, ssrc, index), &aad, payload)?;
        tag_out.copy_from_slice(&tag);
        e_out.copy_from_slice(&e_index);
        Ok(())
    }

    /// Where the `E`|index word of an SRTCP packet of `len` bytes starts.
    pub(crate) fn rtcp_trailer_at(&self, len: usize) -> Option<usize> {
        len.checked_sub(4)
    }

    /// Verifies and (if `encrypted`) opens an SRTCP packet; returns the RTCP length.
    pub(crate) fn unprotect_rtcp(
        &self,
        pkt: &mut [u8],
        ssrc: u32,
        index: u32,
        encrypted: bool,
        verify: bool,
    ) -> Result<usize, SrtpError> {
        let total = pkt.len();
        let rtcp_len = total.checked_sub(TAG_LEN + 4).ok_or(SrtpError::TooShort)?;
        let iv = rtcp_iv(&self.rtcp.salt, ssrc, index);
        if encrypted {
            let (body, rest) = pkt
                .split_at_mut_checked(rtcp_len)
                .ok_or(SrtpError::TooShort)?;
            let (tag, e_index) = rest.split_at_checked(TAG_LEN).ok_or(SrtpError::TooShort)?;
            let (header, payload) = body.split_at_mut_checked(8).ok_or(SrtpError::TooShort)?;
            let mut aad = [0u8; 12];
            aad[..8].copy_from_slice(header);
            aad.get_mut(8..)
                .ok_or(SrtpError::TooShort)?
                .copy_from_slice(e_index);
            self.rtcp.open(&iv, &aad, payload, tag, verify)?;
        } else {
            // RFC 7714 §9.2: unencrypted SRTCP authenticates the whole packet and the
            // E|index word as AAD. Rotate the word in front of the tag so the AAD is
            // contiguous, and rotate back whatever the outcome.
            let tail = pkt.get_mut(rtcp_len..).ok_or(SrtpError::TooShort)?;
            tail.rotate_right(4);
            let (aad, tag) = pkt
                .split_at_mut_checked(rtcp_len + 4)
                .ok_or(SrtpError::TooShort)?;
            let opened = self.rtcp.open(&iv, aad, &mut [], tag, verify);
            if let Some(tail) = pkt.get_mut(rtcp_len..) {
                tail.rotate_left(4);
            }
            opened?;
        }
        Ok(rtcp_len)
    }
}
