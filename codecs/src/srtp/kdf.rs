//! AES counter-mode keystream and the SRTP key derivation function (RFC 3711 §4.1.1,
//! §4.3.1; RFC 6188 §5.1 for AES-256; RFC 7714 §11 for the 96-bit AEAD salt).
//!
//! Owns the expanded AES encryption key schedules used for counter mode. Never
//! allocates; never keeps a master key after derivation.

use aes::cipher::{BlockEncrypt, KeyInit};
use aes::{Aes128Enc, Aes256Enc, Block};

use super::SrtpError;

/// Blocks encrypted per call: one call covers a 256-byte payload (AES-NI pipelines 8
/// blocks at a time inside it), so a 160-byte Opus payload costs one dispatch.
const BATCH: usize = 16;

/// SRTP key derivation labels (RFC 3711 §4.3.2).
pub(crate) mod label {
    pub const RTP_ENCRYPTION: u8 = 0x00;
    pub const RTP_AUTH: u8 = 0x01;
    pub const RTP_SALT: u8 = 0x02;
    pub const RTCP_ENCRYPTION: u8 = 0x03;
    pub const RTCP_AUTH: u8 = 0x04;
    pub const RTCP_SALT: u8 = 0x05;
}

/// An AES encryption key schedule (128 or 256 bits), expanded once.
// The variants differ in key-schedule size; the whole transform sits behind one `Box` in
// the context, and boxing variants again would add a pointer chase per packet.
#[allow(clippy::large_enum_variant)]
#[derive(Clone)]
pub(crate) enum AesKey {
    /// AES-NI, where the CPU has it.
    #[cfg(target_arch = "x86_64")]
    Ni(super::ni::AesNi),
    Aes128(Aes128Enc),
    Aes256(Aes256Enc),
}

impl AesKey {
    /// Expands a 16- or 32-byte key, for AES-NI where the CPU has it.
    pub(crate) fn new(key: &[u8]) -> Result<AesKey, SrtpError> {
        #[cfg(target_arch = "x86_64")]
        if let Some(ni) = super::ni::AesNi::new(key) {
            return Ok(AesKey::Ni(ni));
        }
        Self::portable(key)
    }

    /// Expands a 16- or 32-byte key for the portable RustCrypto implementation.
    pub(crate) fn portable(key: &[u8]) -> Result<AesKey, SrtpError> {
        match key.len() {
            16 => Aes128Enc::new_from_slice(key)
                .map(AesKey::Aes128)
                .map_err(|_| SrtpError::BadKeyLength),
            32 => Aes256Enc::new_from_slice(key)
                .map(AesKey::Aes256)
                .map_err(|_| SrtpError::BadKeyLength),
            _ => Err(SrtpError::BadKeyLength),
        }
    }

    fn encrypt_blocks(&self, blocks: &mut [Block]) {
        match self {
            #[cfg(target_arch = "x86_64")]
            AesKey::Ni(c) => {
                for b in blocks {
                    let mut bytes: [u8; 16] = (*b).into();
                    c.encrypt_block(&mut bytes);
                    *b = Block::from(bytes);
                }
            }
            AesKey::Aes128(c) => c.encrypt_blocks(blocks),
            AesKey::Aes256(c) => c.encrypt_blocks(blocks),
        }
    }

    /// The AES-NI key, if this key uses it.
    #[cfg(target_arch = "x86_64")]
    pub(crate) fn ni(&self) -> Option<&super::ni::AesNi> {
        match self {
            AesKey::Ni(k) => Some(k),
            _ => None,
        }
    }

    /// XORs `data` with the AES counter-mode keystream starting at counter block `iv`;
    /// block `i` uses `iv + i` (big-endian). SRTP packets are far shorter than 2^16
    /// blocks, so this equals both the 16-bit counter of RFC 3711 §4.1.1 and the 32-bit
    /// counter of GCM for every packet talko accepts.
    pub(crate) fn apply_keystream(&self, iv: [u8; 16], data: &mut [u8]) {
        #[cfg(target_arch = "x86_64")]
        if let AesKey::Ni(c) = self {
            c.apply_keystream(iv, data);
            return;
        }
        let base = u128::from_be_bytes(iv);
        let mut counter: u128 = 0;
        for chunk in data.chunks_mut(16 * BATCH) {
            let mut blocks = [Block::default(); BATCH];
            let used = chunk.len().div_ceil(16);
            let blocks = blocks.get_mut(..used).unwrap_or_default();
            for block in blocks.iter_mut() {
                *block = Block::from(base.wrapping_add(counter).to_be_bytes());
                counter = counter.wrapping_add(1);
            }
            self.encrypt_blocks(blocks);
            for (bytes, block) in chunk.chunks_mut(16).zip(blocks.iter()) {
                for (b, k) in bytes.iter_mut().zip(block.iter()) {
                    *b ^= k;
                }
            }
        }
    }
}

/// The AES-CM PRF of RFC 3711 §4.3.3 with key derivation rate 0: fills `out` with the
/// session key/salt for `label`. The master salt (14 bytes, or 12 for AEAD suites,
/// zero-padded on the right as RFC 7714 §11 and libsrtp do) is XORed with the label at
/// byte 7, shifted left 16 bits and used as the counter-mode IV.
pub(crate) fn derive(master: &AesKey, master_salt: &[u8], label: u8, out: &mut [u8]) {
    let mut iv = [0u8; 16];
    for (i, s) in iv.iter_mut().zip(master_salt.iter().take(14)) {
        *i = *s;
    }
    iv[7] ^= label;
    out.fill(0);
    master.apply_keystream(iv, out);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::srtp::tests::hex;

    // RFC 3711 B.2: AES-CM keystream segments for session key 2B7E..4F3C, salt
    // F0F1..FCFD, SSRC 0, index 0.
    #[test]
    fn aes_cm_keystream_matches_rfc3711_b2() {
        // Both the AES-NI kernels (where the CPU has them) and the portable path.
        for make in [AesKey::new, AesKey::portable] {
            aes_cm_keystream_b2(make(&hex("2B7E151628AED2A6ABF7158809CF4F3C")).unwrap());
        }
    }

    fn aes_cm_keystream_b2(key: AesKey) {
        let iv: [u8; 16] = hex("F0F1F2F3F4F5F6F7F8F9FAFBFCFD0000").try_into().unwrap();
        let mut ks = vec![0u8; 0xff02 * 16];
        key.apply_keystream(iv, &mut ks);
        assert_eq!(&ks[..16], &hex("E03EAD0935C95E80E166B16DD92B4EB4")[..]);
        assert_eq!(&ks[16..32], &hex("D23513162B02D0F72A43A2FE4A5F97AB")[..]);
        assert_eq!(&ks[32..48], &hex("41E95B3BB0A2E8DD477901E4FCA894C0")[..]);
        let at = |block: usize| &ks[block * 16..block * 16 + 16];
        assert_eq!(at(0xfeff), &hex("EC8CDF7398607CB0F2D21675EA9EA1E4")[..]);
        assert_eq!(at(0xff00), &hex("362B7C3C6773516318A077D7FC5073AE")[..]);
        assert_eq!(at(0xff01), &hex("6A2CC3787889374FBEB4C81B17BA6C44")[..]);
    }

    // RFC 3711 B.3: key derivation from master key E1F9..4139, master salt 0EC6..ABE6.
    #[test]
    fn key_derivation_matches_rfc3711_b3() {
        let master = AesKey::new(&hex("E1F97A0D3E018BE0D64FA32C06DE4139")).unwrap();
        let salt = hex("0EC675AD498AFEEBB6960B3AABE6");
        let mut k = [0u8; 16];
        derive(&master, &salt, label::RTP_ENCRYPTION, &mut k);
        assert_eq!(&k[..], &hex("C61E7A93744F39EE10734AFE3FF7A087")[..]);
        let mut s = [0u8; 14];
        derive(&master, &salt, label::RTP_SALT, &mut s);
        assert_eq!(&s[..], &hex("30CBBC08863D8C85D49DB34A9AE1")[..]);
        let mut a = [0u8; 20];
        derive(&master, &salt, label::RTP_AUTH, &mut a);
        assert_eq!(&a[..], &hex("CEBE321F6FF7716B6FD4AB49AF256A156D38BAA4")[..]);
    }

    // RFC 6188 §7.2: AES_256_CM_PRF key derivation.
    #[test]
    fn aes256_key_derivation_matches_rfc6188_7_2() {
        let master = AesKey::new(&hex(
            "f0f04914b513f2763a1b1fa130f10e2998f6f6e43e4309d1e622a0e332b9f1b6",
        ))
        .unwrap();
        let salt = hex("3b04803de51ee7c96423ab5b78d2");
        let mut k = [0u8; 32];
        derive(&master, &salt, label::RTP_ENCRYPTION, &mut k);
        assert_eq!(
            &k[..],
            &hex("5ba1064e30ec51613cad926c5a28ef731ec7fb397f70a960653caf06554cd8c4")[..]
        );
        let mut s = [0u8; 14];
        derive(&master, &salt, label::RTP_SALT, &mut s);
        assert_eq!(&s[..], &hex("fa31791685ca444a9e07c6c64e93")[..]);
        let mut a = [0u8; 20];
        derive(&master, &salt, label::RTP_AUTH, &mut a);
        assert_eq!(&a[..], &hex("fd9c32d39ed5fbb5a9dc96b30818454d1313dc05")[..]);
    }

    #[test]
    fn keys_of_other_lengths_are_rejected() {
        assert_eq!(AesKey::new(&[0; 24]).err(), Some(SrtpError::BadKeyLength));
        assert_eq!(AesKey::new(&[]).err(), Some(SrtpError::BadKeyLength));
    }
}
