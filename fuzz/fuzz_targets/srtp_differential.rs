#![no_main]
//! Differential: packets talko protects must be exactly what webrtc-srtp produces and
//! must unprotect with webrtc-srtp to the original. Input: one control byte (bits 0-1
//! profile), 44 bytes of key material, a 2-byte first sequence number, then RTP and
//! RTCP packets framed as a 1-byte kind, a 2-byte length and the bytes. RTP packets get
//! consecutive sequence numbers and one SSRC (so both sides agree on the rollover
//! counter); packets either implementation's parser reads differently are skipped.

use libfuzzer_sys::fuzz_target;
use talko_codecs::rtp::RtpPacket;
use talko_codecs::srtp::{SrtpConfig, SrtpContext, SrtpProfile, MAX_TAG_LEN, SRTCP_TRAILER_MAX};
use webrtc_srtp::context::Context;
use webrtc_srtp::protection_profile::ProtectionProfile;
use webrtc_util::marshal::Unmarshal;

const SSRC: u32 = 0x1234_5678;

fn oracle_profile(p: SrtpProfile) -> ProtectionProfile {
    match p {
        SrtpProfile::AesCm128HmacSha1_80 => ProtectionProfile::Aes128CmHmacSha1_80,
        SrtpProfile::AesCm128HmacSha1_32 => ProtectionProfile::Aes128CmHmacSha1_32,
        SrtpProfile::AeadAes128Gcm => ProtectionProfile::AeadAes128Gcm,
        SrtpProfile::AeadAes256Gcm => ProtectionProfile::AeadAes256Gcm,
    }
}

/// An RTP packet shaped by `raw`: byte 0 gives the CSRC count (bits 0-3), whether to
/// add a one-byte header extension (bit 4) and the marker (bit 7); byte 1 the payload
/// type; with an extension, byte 2 the number of elements (0-3) and then per element
/// one byte choosing its ID (1-14) and length (1-16) followed by its data; the rest is
/// payload.
fn canonical_rtp(raw: &[u8], seq: u16) -> Vec<u8> {
    let (b0, b1) = (raw[0], raw[1]);
    let mut rest = &raw[2..];
    let cc = usize::from(b0 & 0x0f).min(rest.len() / 4);
    let mut out = vec![0x80 | cc as u8, (b0 & 0x80) | (b1 & 0x7f)];
    out.extend_from_slice(&seq.to_be_bytes());
    out.extend_from_slice(&[0x5e, 0xed, 0, 0]);
    out.extend_from_slice(&SSRC.to_be_bytes());
    out.extend_from_slice(&rest[..4 * cc]);
    rest = &rest[4 * cc..];
    if b0 & 0x10 != 0 {
        if let Some((&count, tail)) = rest.split_first() {
            rest = tail;
            let mut ext = Vec::new();
            for _ in 0..count % 4 {
                let Some((&spec, tail)) = rest.split_first() else {
                    break;
                };
                let id = 1 + spec % 14;
                let len = (1 + usize::from(spec >> 4)).min(tail.len());
                if len == 0 {
                    break;
                }
                ext.push((id << 4) | (len as u8 - 1));
                ext.extend_from_slice(&tail[..len]);
                rest = &tail[len..];
            }
            while ext.len() % 4 != 0 {
                ext.push(0);
            }
            out[0] |= 0x10;
            out.extend_from_slice(&[0xBE, 0xDE]);
            out.extend_from_slice(&((ext.len() / 4) as u16).to_be_bytes());
            out.extend_from_slice(&ext);
        }
    }
    out.extend_from_slice(rest);
    out
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 47 {
        return;
    }
    let profile = SrtpProfile::ALL[usize::from(data[0] & 3)];
    let material = &data[1..45];
    let mut seq = u16::from_be_bytes([data[45], data[46]]);
    let mut rest = &data[47..];
    let key = &material[..profile.master_key_len()];
    let salt =
        &material[profile.master_key_len()..profile.master_key_len() + profile.master_salt_len()];

    let mut talko = SrtpContext::new(profile, key, salt, SrtpConfig::default()).expect("valid key");
    let mut oracle_tx =
        Context::new(key, salt, oracle_profile(profile), None, None).expect("valid key");
    let mut oracle_rx =
        Context::new(key, salt, oracle_profile(profile), None, None).expect("valid key");
    // webrtc-srtp numbers SRTCP from 1, talko from 0: spend talko's index 0.
    let mut spare = [
        0x80, 201, 0, 1, 0x12, 0x34, 0x56, 0x78, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0,
    ];
    talko
        .protect_rtcp(&mut spare, 8)
        .expect("room for the trailer");

    while rest.len() >= 3 {
        let kind = rest[0];
        let len = usize::from(u16::from_be_bytes([rest[1], rest[2]]));
        let take = len.min(rest.len() - 3);
        let mut plain = rest[3..3 + take].to_vec();
        rest = &rest[3 + take..];
        if plain.len() < 12 {
            continue;
        }
        if kind & 1 == 0 {
            // RTP: consecutive sequence numbers, one SSRC, and header extensions rebuilt
            // in canonical RFC 8285 one-byte form: rtp 0.17 (the oracle's parser) panics
            // on some extension blocks talko accepts, and the fuzzer must not stop there.
            plain = canonical_rtp(&plain, seq);
            let Ok(ours_view) = RtpPacket::parse_with_limit(&plain, usize::MAX) else {
                continue;
            };
            let header_len = ours_view.header_len();
            let Ok(theirs_view) = rtp::header::Header::unmarshal(&mut &plain[..]) else {
                continue;
            };
            if webrtc_util::marshal::MarshalSize::marshal_size(&theirs_view) != header_len {
                continue; // the oracle would encrypt from a different offset
            }
            let mut buf = plain.clone();
            buf.resize(plain.len() + MAX_TAG_LEN, 0);
            let n = talko
                .protect_rtp(&mut buf, plain.len())
                .expect("fresh index protects");
            seq = seq.wrapping_add(1);
            let theirs = oracle_tx.encrypt_rtp(&plain).expect("oracle protects");
            assert_eq!(&buf[..n], &theirs[..], "SRTP bytes differ");
            let opened = oracle_rx
                .decrypt_rtp(&buf[..n])
                .expect("oracle opens talko's packet");
            assert_eq!(&opened[..], &plain[..]);
        } else {
            // RTCP: version 2, no padding, a receiver report type (keeps the oracle's
            // header parser happy), one sender SSRC.
            plain[0] = 0x80 | (plain[0] & 0x1f);
            plain[1] = 201;
            plain[4..8].copy_from_slice(&SSRC.to_be_bytes());
            let mut buf = plain.clone();
            buf.resize(plain.len() + SRTCP_TRAILER_MAX, 0);
            let n = talko.protect_rtcp(&mut buf, plain.len()).expect("protects");
            let theirs = oracle_tx.encrypt_rtcp(&plain).expect("oracle protects");
            assert_eq!(&buf[..n], &theirs[..], "SRTCP bytes differ");
            let opened = oracle_rx
                .decrypt_rtcp(&buf[..n])
                .expect("oracle opens talko's packet");
            assert_eq!(&opened[..], &plain[..]);
        }
    }
});
