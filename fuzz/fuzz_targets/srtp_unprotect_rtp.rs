#![no_main]
//! SRTP unprotect on arbitrary packets with a fixed key. Input: one control byte
//! (bits 0-1 profile, bit 2 strict SSRC mode, bit 3 check tags) then packets framed
//! as a 2-byte big-endian length and the bytes. With tag checks off (the fuzzing-only
//! switch) the fuzzer reaches the ROC guess, replay window and decryption. Checks: no
//! panic, a failed packet leaves the buffer unchanged, a success returns the packet
//! minus the tag, and any packet talko protects unprotects back to itself.

use libfuzzer_sys::fuzz_target;
use talko_codecs::srtp::{SrtpConfig, SrtpContext, SrtpProfile, MAX_TAG_LEN};

/// libsrtp's `srtp_validate` / `srtp_validate_gcm` master keys, so the committed seeds
/// include packets that authenticate.
fn context(profile: SrtpProfile, strict: bool) -> SrtpContext {
    let (key, salt): (&[u8], &[u8]) = if profile.is_aead() {
        (
            &[
                0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22,
                23, 24, 25, 26, 27, 28, 29, 30, 31,
            ][..profile.master_key_len()],
            &[
                0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xab,
            ],
        )
    } else {
        (
            &[
                0xe1, 0xf9, 0x7a, 0x0d, 0x3e, 0x01, 0x8b, 0xe0, 0xd6, 0x4f, 0xa3, 0x2c, 0x06, 0xde,
                0x41, 0x39,
            ],
            &[
                0x0e, 0xc6, 0x75, 0xad, 0x49, 0x8a, 0xfe, 0xeb, 0xb6, 0x96, 0x0b, 0x3a, 0xab, 0xe6,
            ],
        )
    };
    let config = SrtpConfig {
        max_streams: 4,
        replay_window: 128,
        strict_ssrc: strict,
    };
    let mut ctx = SrtpContext::new(profile, key, salt, config).expect("fixed key is valid");
    if strict {
        ctx.add_stream(0xcafe_babe).expect("room for one stream");
    }
    ctx
}

fuzz_target!(|data: &[u8]| {
    let Some((&control, mut rest)) = data.split_first() else {
        return;
    };
    let profile = SrtpProfile::ALL[usize::from(control & 3)];
    let strict = control & 4 != 0;
    let check_tags = control & 8 != 0;
    let mut rx = context(profile, strict);
    rx.set_fuzzing_skip_auth(!check_tags);
    let mut tx = context(profile, strict);
    let mut tx_rx = context(profile, strict);

    while rest.len() >= 2 {
        let len = usize::from(u16::from_be_bytes([rest[0], rest[1]]));
        let take = len.min(rest.len() - 2);
        let packet = &rest[2..2 + take];
        rest = &rest[2 + take..];

        let mut buf = packet.to_vec();
        match rx.unprotect_rtp(&mut buf) {
            Ok(n) => assert_eq!(n + profile.tag_len_rtp(), packet.len()),
            Err(_) => assert_eq!(buf, packet, "failed unprotect changed the buffer"),
        }

        // The same bytes as plaintext: whatever talko protects must come back.
        let mut buf = packet.to_vec();
        buf.resize(packet.len() + MAX_TAG_LEN, 0);
        match tx.protect_rtp(&mut buf, packet.len()) {
            Ok(n) => {
                assert_eq!(n, packet.len() + profile.tag_len_rtp());
                buf.truncate(n);
                let m = tx_rx
                    .unprotect_rtp(&mut buf)
                    .expect("own packet unprotects");
                assert_eq!(&buf[..m], packet);
            }
            Err(_) => assert_eq!(
                &buf[..packet.len()],
                packet,
                "failed protect changed the buffer"
            ),
        }
    }
});
