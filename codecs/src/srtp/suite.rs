//! The SRTP protection profiles talko speaks and their parameters (RFC 3711, RFC 5764
//! §4.1.2, RFC 7714 §14.2). Pure data: no keys, no state.

/// An SRTP protection profile, as negotiated by DTLS-SRTP (RFC 5764, RFC 7714).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SrtpProfile {
    /// `SRTP_AES128_CM_HMAC_SHA1_80` (0x0001): AES-128 counter mode, 80-bit HMAC-SHA1 tag.
    AesCm128HmacSha1_80,
    /// `SRTP_AES128_CM_HMAC_SHA1_32` (0x0002): as above with a 32-bit SRTP tag (SRTCP
    /// keeps 80 bits, RFC 5764 §4.1.2).
    AesCm128HmacSha1_32,
    /// `SRTP_AEAD_AES_128_GCM` (0x0007, RFC 7714): AES-128-GCM, 16-byte tag.
    AeadAes128Gcm,
    /// `SRTP_AEAD_AES_256_GCM` (0x0008, RFC 7714): AES-256-GCM, 16-byte tag.
    AeadAes256Gcm,
}

impl SrtpProfile {
    /// Every profile, in order of preference (strongest first) for offering.
    pub const ALL: [SrtpProfile; 4] = [
        SrtpProfile::AeadAes256Gcm,
        SrtpProfile::AeadAes128Gcm,
        SrtpProfile::AesCm128HmacSha1_80,
        SrtpProfile::AesCm128HmacSha1_32,
    ];

    /// The profile with this DTLS-SRTP protection profile id, if talko supports it.
    pub fn from_dtls_id(id: u16) -> Option<SrtpProfile> {
        match id {
            0x0001 => Some(SrtpProfile::AesCm128HmacSha1_80),
            0x0002 => Some(SrtpProfile::AesCm128HmacSha1_32),
            0x0007 => Some(SrtpProfile::AeadAes128Gcm),
            0x0008 => Some(SrtpProfile::AeadAes256Gcm),
            _ => None,
        }
    }

    /// The DTLS-SRTP protection profile id (RFC 5764 §4.1.2, RFC 7714 §14.2).
    pub fn dtls_id(self) -> u16 {
        match self {
            SrtpProfile::AesCm128HmacSha1_80 => 0x0001,
            SrtpProfile::AesCm128HmacSha1_32 => 0x0002,
            SrtpProfile::AeadAes128Gcm => 0x0007,
            SrtpProfile::AeadAes256Gcm => 0x0008,
        }
    }

    /// Master key length in bytes.
    pub fn master_key_len(self) -> usize {
        match self {
            SrtpProfile::AeadAes256Gcm => 32,
            _ => 16,
        }
    }

    /// Master salt length in bytes (112 bits for AES-CM, 96 bits for AES-GCM).
    pub fn master_salt_len(self) -> usize {
        if self.is_aead() {
            12
        } else {
            14
        }
    }

    /// Bytes appended to an SRTP packet.
    pub fn tag_len_rtp(self) -> usize {
        match self {
            SrtpProfile::AesCm128HmacSha1_80 => 10,
            SrtpProfile::AesCm128HmacSha1_32 => 4,
            SrtpProfile::AeadAes128Gcm | SrtpProfile::AeadAes256Gcm => 16,
        }
    }

    /// Tag bytes appended to an SRTCP packet (after the 4-byte `E`|index word for
    /// AES-CM, before it for AES-GCM).
    pub fn tag_len_rtcp(self) -> usize {
        match self {
            SrtpProfile::AesCm128HmacSha1_80 | SrtpProfile::AesCm128HmacSha1_32 => 10,
            SrtpProfile::AeadAes128Gcm | SrtpProfile::AeadAes256Gcm => 16,
        }
    }

    /// Total bytes SRTCP appends to an RTCP packet: the `E`|index word plus the tag.
    pub fn rtcp_trailer_len(self) -> usize {
        4 + self.tag_len_rtcp()
    }

    /// Whether this is an AEAD (AES-GCM) profile.
    pub fn is_aead(self) -> bool {
        matches!(
            self,
            SrtpProfile::AeadAes128Gcm | SrtpProfile::AeadAes256Gcm
        )
    }

    /// Bytes of DTLS exporter output this profile needs (RFC 5764 §4.2):
    /// two keys and two salts.
    pub fn keying_material_len(self) -> usize {
        2 * (self.master_key_len() + self.master_salt_len())
    }
}

impl std::fmt::Display for SrtpProfile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SrtpProfile::AesCm128HmacSha1_80 => "AES_CM_128_HMAC_SHA1_80",
            SrtpProfile::AesCm128HmacSha1_32 => "AES_CM_128_HMAC_SHA1_32",
            SrtpProfile::AeadAes128Gcm => "AEAD_AES_128_GCM",
            SrtpProfile::AeadAes256Gcm => "AEAD_AES_256_GCM",
        })
    }
}
