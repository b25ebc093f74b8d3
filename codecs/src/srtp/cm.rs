//! The AES-CM + HMAC-SHA1 transform (RFC 3711 §4.1.1, §4.2.1): session keys and the
//! per-packet encrypt/authenticate steps for SRTP and SRTCP.
//!
//! Owns the expanded AES key schedules, the session salts and HMAC-SHA1 states with the
//! session authentication keys already absorbed (the keyed inner and outer SHA-1 states). It
//! authenticates before it decrypts and never writes to a packet whose tag fails. It
//! knows nothing of streams, rollover counters or replay; the context decides the
//! packet index.

use super::hmac_sha1::{tags_equal, HmacSha1};
use super::kdf::{derive, label, AesKey};
use super::SrtpError;

/// Session salt length of AES-CM (112 bits).
const SALT_LEN: usize = 14;
/// Session authentication key length of HMAC-SHA1 (160 bits).
const AUTH_KEY_LEN: usize = 20;

/// The rollover counter an SRTP tag covers after the packet (RFC 3711 §4.2).
pub(crate) fn roc_bytes(index: u64) -> [u8; 4] {
    ((index >> 16) as u32).to_be_bytes()
}

/// Keys of one direction-independent half (SRTP or SRTCP).
#[derive(Clone)]
struct CmKeys {
    cipher: AesKey,
    salt: [u8; SALT_LEN],
    mac: HmacSha1,
}

impl CmKeys {
    fn from_session(key: &[u8], salt: &[u8], auth_key: &[u8]) -> Result<CmKeys, SrtpError> {
        Ok(CmKeys {
            cipher: AesKey::new(key)?,
            salt: salt.try_into().map_err(|_| SrtpError::BadKeyLength)?,
            mac: HmacSha1::new(auth_key),
        })
    }

    fn derive(
        master: &AesKey,
        master_salt: &[u8],
        key_len: usize,
        labels: [u8; 3],
    ) -> Result<CmKeys, SrtpError> {
        let mut key = [0u8; 32];
        let key = key.get_mut(..key_len).ok_or(SrtpError::BadKeyLength)?;
        let mut salt = [0u8; SALT_LEN];
        let mut auth = [0u8; AUTH_KEY_LEN];
        derive(master, master_salt, labels[0], key);
        derive(master, master_salt, labels[1], &mut auth);
        derive(master, master_salt, labels[2], &mut salt);
        let keys = CmKeys::from_session(key, &salt, &auth);
        key.fill(0);
        auth.fill(0);
        keys
    }

    /// RFC 3711 §4.1.1: IV = (k_s · 2^16) XOR (SSRC · 2^64) XOR (i · 2^16).
    fn iv(&self, ssrc: u32, index: u64) -> [u8; 16] {
        let mut iv = [0u8; 16];
        iv[4..8].copy_from_slice(&ssrc.to_be_bytes());
        iv[8..14].copy_from_slice(&index.to_be_bytes()[2..8]);
        for (i, s) in iv.iter_mut().zip(self.salt.iter()) {
            *i ^= s;
        }
        iv
    }

    /// HMAC-SHA1 over `data` followed by `suffix`.
    fn tag(&self, data: &[u8], suffix: &[u8]) -> [u8; 20] {
        self.mac.tag(data, suffix)
    }
}

/// Session keys of an AES-CM/HMAC-SHA1 profile.
#[derive(Clone)]
pub(crate) struct CmTransform {
    rtp: CmKeys,
    rtcp: CmKeys,
    rtp_tag_len: usize,
    rtcp_tag_len: usize,
}

impl CmTransform {
    /// Derives the six session keys from a master key (16 or 32 bytes) and a 14-byte
    /// master salt.
    pub(crate) fn new(
        master_key: &[u8],
        master_salt: &[u8],
        rtp_tag_len: usize,
        rtcp_tag_len: usize,
    ) -> Result<CmTransform, SrtpError> {
        if master_salt.len() != SALT_LEN {
            return Err(SrtpError::BadKeyLength);
        }
        let master = AesKey::new(master_key)?;
        let key_len = master_key.len();
        Ok(CmTransform {
            rtp: CmKeys::derive(
                &master,
                master_salt,
                key_len,
                [label::RTP_ENCRYPTION, label::RTP_AUTH, label::RTP_SALT],
            )?,
            rtcp: CmKeys::derive(
                &master,
                master_salt,
                key_len,
                [label::RTCP_ENCRYPTION, label::RTCP_AUTH, label::RTCP_SALT],
            )?,
            rtp_tag_len,
            rtcp_tag_len,
        })
    }

    /// Encrypts `pkt[hdr_len..len]` and writes the tag at `pkt[len..]`.
    /// `pkt` is exactly `len + tag` bytes.
    pub(crate) fn protect_rtp(
        &self,
        pkt: &mut [u8],
        hdr_len: usize,
        len: usize,
        ssrc: u32,
        index: u64,
    ) -> Result<(), SrtpError> {
        self.encrypt_rtp(pkt, hdr_len, len, ssrc, index)?;
        let (body, tag_out) = pkt
            .split_at_mut_checked(len)
            .ok_or(SrtpError::BufferTooSmall)?;
        let tag = self.rtp.tag(body, &roc_bytes(index));
        for (out, t) in tag_out.iter_mut().zip(tag.iter()) {
            *out = *t;
        }
        Ok(())
    }

    /// The first half of [`CmTransform::protect_rtp`]: checks every length and
    /// encrypts `pkt[hdr_len..len]`, leaving the tag room for whoever computes the tag
    /// (with [`CmTransform::rtp_mac`] over `pkt[..len]` and the ROC).
    pub(crate) fn encrypt_rtp(
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
        if tag_out.len() != self.rtp_tag_len {
            return Err(SrtpError::BufferTooSmall);
        }
        if hdr_len > body.len() {
            return Err(SrtpError::Malformed);
        }
        if let Some(payload) = body.get_mut(hdr_len..) {
            self.rtp
                .cipher
                .apply_keystream(self.rtp.iv(ssrc, index), payload);
        }
        Ok(())
    }

    /// The SRTP encryption key and the counter block of a packet, for encrypting it
    /// elsewhere (batched).
    pub(crate) fn rtp_counter(&self, ssrc: u32, index: u64) -> (&AesKey, [u8; 16]) {
        (&self.rtp.cipher, self.rtp.iv(ssrc, index))
    }

    /// The SRTP authentication key.
    pub(crate) fn rtp_mac(&self) -> &HmacSha1 {
        &self.rtp.mac
    }

    /// The SRTP tag length (10 or 4 bytes).
    pub(crate) fn rtp_tag_len(&self) -> usize {
        self.rtp_tag_len
    }

    /// Authenticates then decrypts an SRTP packet; returns the plaintext length.
    pub(crate) fn unprotect_rtp(
        &self,
        pkt: &mut [u8],
        hdr_len: usize,
        ssrc: u32,
        index: u64,
        verify: bool,
    ) -> Result<usize, SrtpError> {
        let body_len = pkt
            .len()
            .checked_sub(self.rtp_tag_len)
            .ok_or(SrtpError::TooShort)?;
        let body = pkt.get(..body_len).ok_or(SrtpError::TooShort)?;
        let tag = self.rtp.tag(body, &roc_bytes(index));
        self.unprotect_rtp_with_tag(pkt, hdr_len, ssrc, index, &tag, verify)
    }

    /// [`CmTransform::unprotect_rtp`] with the HMAC over the packet (without its tag)
    /// and the ROC already computed.
    pub(crate) fn unprotect_rtp_with_tag(
        &self,
        pkt: &mut [u8],
        hdr_len: usize,
        ssrc: u32,
        index: u64,
        computed: &[u8; 20],
        verify: bool,
    ) -> Result<usize, SrtpError> {
        let body_len = pkt
            .len()
            .checked_sub(self.rtp_tag_len)
            .ok_or(SrtpError::TooShort)?;
        let (body, tag_in) = pkt
            .split_at_mut_checked(body_len)
            .ok_or(SrtpError::TooShort)?;
        let tag = computed
            .get(..self.rtp_tag_len)
            .ok_or(SrtpError::TooShort)?;
        if verify && !tags_equal(tag, tag_in) {
            return Err(SrtpError::BadTag);
        }
        let payload = body.get_mut(hdr_len..).ok_or(SrtpError::TooShort)?;
        self.rtp
            .cipher
            .apply_keystream(self.rtp.iv(ssrc, index), payload);
        Ok(body_len)
    }

    /// Encrypts `pkt[8..len]`, appends `E=1`|index and the tag. `pkt` is exactly
    /// `len + 4 + tag` bytes.
    pub(crate) fn protect_rtcp(
        &self,
        pkt: &mut [u8],
        len: usize,
        ssrc: u32,
        index: u32,
    ) -> Result<(), SrtpError> {
        // Every length is checked before the first byte is written.
        let (body, trailer) = pkt
            .split_at_mut_checked(len)
            .ok_or(SrtpError::BufferTooSmall)?;
        let (e_index, tag_out) = trailer
            .split_at_mut_checked(4)
            .ok_or(SrtpError::BufferTooSmall)?;
        if tag_out.len() != self.rtcp_tag_len {
            return Err(SrtpError::BufferTooSmall);
        }
        if body.len() < 8 {
            return Err(SrtpError::TooShort);
        }
        if let Some(payload) = body.get_mut(8..) {
            self.rtcp
                .cipher
                .apply_keystream(self.rtcp.iv(ssrc, index as u64), payload);
        }
        e_index.copy_from_slice(&(index | 0x8000_0000).to_be_bytes());
        let tag = self.rtcp.tag(body, e_index);
        for (out, t) in tag_out.iter_mut().zip(tag.iter()) {
            *out = *t;
        }
        Ok(())
    }

    /// Where the `E`|index word of an SRTCP packet of `len` bytes starts.
    pub(crate) fn rtcp_trailer_at(&self, len: usize) -> Option<usize> {
        len.checked_sub(self.rtcp_tag_len + 4)
    }

    /// Authenticates then (if `encrypted`) decrypts an SRTCP packet; returns the RTCP
    /// length.
    pub(crate) fn unprotect_rtcp(
        &self,
        pkt: &mut [u8],
        ssrc: u32,
        index: u32,
        encrypted: bool,
        verify: bool,
    ) -> Result<usize, SrtpError> {
        let auth_len = pkt
            .len()
            .checked_sub(self.rtcp_tag_len)
            .ok_or(SrtpError::TooShort)?;
        let (authed, tag_in) = pkt
            .split_at_mut_checked(auth_len)
            .ok_or(SrtpError::TooShort)?;
        let tag = self.rtcp.tag(authed, &[]);
        let tag = tag.get(..self.rtcp_tag_len).ok_or(SrtpError::TooShort)?;
        if verify && !tags_equal(tag, tag_in) {
            return Err(SrtpError::BadTag);
        }
        let rtcp_len = auth_len.checked_sub(4).ok_or(SrtpError::TooShort)?;
        if encrypted {
            let payload = authed.get_mut(8..rtcp_len).ok_or(SrtpError::TooShort)?;
            self.rtcp
                .cipher
                .apply_keystream(self.rtcp.iv(ssrc, index as u64), payload);
        }
        Ok(rtcp_len)
    }
}
