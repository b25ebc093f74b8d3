//! The few header fields SRTP needs: RTP header length, SSRC and sequence number; RTCP
//! sender SSRC.
//!
//! Plaintext RTP (protect) is validated by [`crate::rtp::RtpPacket`]. Ciphertext (unprotect)
//! cannot be: the padding count `RtpPacket` checks is the last byte of the *encrypted*
//! payload (and, with the tag appended, not even that), so a valid SRTP packet with the
//! P bit set would be rejected at random. For SRTP packets this module therefore reads
//! only what is in clear — version, CC, X and the extension length — and checks that
//! they lie inside the packet. Never panics, never allocates.

use crate::rtp::RtpPacket;

use super::SrtpError;

/// What SRTP needs of an RTP header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RtpFields {
    pub(crate) header_len: usize,
    pub(crate) ssrc: u32,
    pub(crate) seq: u16,
}

/// Validates a plaintext RTP packet (everything, including padding) for protection.
pub(crate) fn plaintext_rtp(pkt: &[u8]) -> Result<RtpFields, SrtpError> {
    let p = RtpPacket::parse_with_limit(pkt, usize::MAX).map_err(|e| match e {
        crate::rtp::RtpError::Truncated => SrtpError::TooShort,
        _ => SrtpError::Malformed,
    })?;
    Ok(RtpFields {
        header_len: p.header_len(),
        ssrc: p.ssrc(),
        seq: p.sequence_number(),
    })
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    let s: [u8; 2] = b.get(at..at.checked_add(2)?)?.try_into().ok()?;
    Some(u16::from_be_bytes(s))
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    let s: [u8; 4] = b.get(at..at.checked_add(4)?)?.try_into().ok()?;
    Some(u32::from_be_bytes(s))
}

/// Reads the clear header of an SRTP packet: version 2, 12 + 4·CC bytes, plus
/// 4 + 4·length when X is set, all inside `pkt`.
pub(crate) fn srtp_header(pkt: &[u8]) -> Result<RtpFields, SrtpError> {
    let b0 = *pkt.first().ok_or(SrtpError::TooShort)?;
    if pkt.len() < 12 {
        return Err(SrtpError::TooShort);
    }
    if b0 >> 6 != 2 {
        return Err(SrtpError::Malformed);
    }
    let mut len = 12 + 4 * usize::from(b0 & 0x0f);
    if b0 & 0x10 != 0 {
        let words = be16(pkt, len + 2).ok_or(SrtpError::TooShort)?;
        len += 4 + 4 * usize::from(words);
    }
    if len > pkt.len() {
        return Err(SrtpError::TooShort);
    }
    Ok(RtpFields {
        header_len: len,
        ssrc: be32(pkt, 8).ok_or(SrtpError::TooShort)?,
        seq: be16(pkt, 2).ok_or(SrtpError::TooShort)?,
    })
}

/// Length of the RTCP header SRTCP leaves in clear: the first header plus the sender SSRC.
pub(crate) const RTCP_CLEAR_LEN: usize = 8;

/// The sender SSRC of an (S)RTCP packet, after checking version 2 and the 8 clear bytes.
pub(crate) fn rtcp_ssrc(pkt: &[u8]) -> Result<u32, SrtpError> {
    let b0 = *pkt.first().ok_or(SrtpError::TooShort)?;
    let ssrc = be32(pkt, 4).ok_or(SrtpError::TooShort)?;
    if b0 >> 6 != 2 {
        return Err(SrtpError::Malformed);
    }
    Ok(ssrc)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn srtp_header_counts_csrcs_and_extension() {
        let mut p = vec![0x92, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0, 9];
        p.extend_from_slice(&[0; 8]); // 2 CSRCs
        p.extend_from_slice(&[0xBE, 0xDE, 0, 1, 0x10, 0xff, 0, 0]);
        p.extend_from_slice(&[1, 2, 3]);
        let f = srtp_header(&p).unwrap();
        assert_eq!(
            f,
            RtpFields {
                header_len: 28,
                ssrc: 9,
                seq: 7
            }
        );
    }

    #[test]
    fn srtp_header_rejects_overruns_and_bad_version() {
        assert_eq!(srtp_header(&[0x80; 11]), Err(SrtpError::TooShort));
        assert_eq!(srtp_header(&[0x40; 12]), Err(SrtpError::Malformed));
        // CC = 15 but only 12 bytes.
        assert_eq!(srtp_header(&[0x8f; 12]), Err(SrtpError::TooShort));
        // X set, extension header missing.
        assert_eq!(srtp_header(&[0x90; 14]), Err(SrtpError::TooShort));
        // X set, extension longer than the packet.
        let mut p = vec![
            0x90, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xBE, 0xDE, 0xff, 0xff,
        ];
        p.extend_from_slice(&[0; 20]);
        assert_eq!(srtp_header(&p), Err(SrtpError::TooShort));
    }

    #[test]
    fn srtp_header_ignores_the_encrypted_padding_count() {
        // P set and a last byte that would be an impossible padding count in clear.
        let mut p = vec![0xA0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 5];
        p.extend_from_slice(&[0xff; 4]);
        assert_eq!(srtp_header(&p).map(|f| f.header_len), Ok(12));
        assert_eq!(plaintext_rtp(&p), Err(SrtpError::Malformed));
    }

    #[test]
    fn rtcp_ssrc_needs_eight_bytes_and_version_2() {
        assert_eq!(rtcp_ssrc(&[0x80, 200, 0, 1, 0, 0, 0, 3]), Ok(3));
        assert_eq!(
            rtcp_ssrc(&[0x80, 200, 0, 1, 0, 0, 0]),
            Err(SrtpError::TooShort)
        );
        assert_eq!(
            rtcp_ssrc(&[0x00, 200, 0, 1, 0, 0, 0, 3]),
            Err(SrtpError::Malformed)
        );
        assert_eq!(rtcp_ssrc(&[]), Err(SrtpError::TooShort));
    }
}
