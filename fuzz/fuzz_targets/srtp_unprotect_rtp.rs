#![no_main]
//! SRTP unprotect on arbitrary packets with a fixed key. Input: one control byte
//! (bits 0-1 profile, bit 2 strict SSRC mode, bit 3 check tags) then packets framed
//! as a 2-byte big-endian length and the bytes. With tag checks off (the fuzzing-only
//! switch) the fuzzer reaches the ROC guess, replay window and decryption. Checks: no
//! panic, a failed packet leaves the buffer unchanged, a success returns the packet
//! minus the tag, any packet talko protects unprotects back to itself, and the batch
//! paths (`RtpAuthBatch`, `RtpProtectBatch`, in groups of up to 16) give exactly the
//! results and bytes of the one-at-a-time paths.

use libfuzzer_sys::fuzz_target;
use talko_codecs::srtp::{
    RtpAuthBatch, RtpProtectBatch, SrtpConfig, SrtpContext, SrtpProfile, MAX_TAG_LEN, SRTP_BATCH,
};

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

    let mut packets: Vec<&[u8]> = Vec::new();
    while rest.len() >= 2 {
        let len = usize::from(u16::from_be_bytes([rest[0], rest[1]]));
        let take = len.min(rest.len() - 2);
        packets.push(&rest[2..2 + take]);
        rest = &rest[2 + take..];
    }

    let mut unprotected = Vec::new();
    let mut protected = Vec::new();
    for &packet in &packets {
        let mut buf = packet.to_vec();
        let r = rx.unprotect_rtp(&mut buf);
        match r {
            Ok(n) => assert_eq!(n + profile.tag_len_rtp(), packet.len()),
            Err(_) => assert_eq!(buf, packet, "failed unprotect changed the buffer"),
        }
        unprotected.push((r, buf));

        // The same bytes as plaintext: whatever talko protects must come back.
        let mut buf = packet.to_vec();
        buf.resize(packet.len() + MAX_TAG_LEN, 0);
        let r = tx.protect_rtp(&mut buf, packet.len());
        match r {
            Ok(n) => {
                assert_eq!(n, packet.len() + profile.tag_len_rtp());
                buf.truncate(n);
                let mut back = buf.clone();
                let m = tx_rx
                    .unprotect_rtp(&mut back)
                    .expect("own packet unprotects");
                assert_eq!(&back[..m], packet);
            }
            Err(_) => assert_eq!(
                &buf[..packet.len()],
                packet,
                "failed protect changed the buffer"
            ),
        }
        protected.push((r, buf));
    }

    // The batch paths, in groups, against the results above.
    let mut rx_batch = context(profile, strict);
    rx_batch.set_fuzzing_skip_auth(!check_tags);
    let mut tx_batch = context(profile, strict);
    for (group, (want_un, want_pro)) in packets.chunks(SRTP_BATCH).zip(
        unprotected
            .chunks(SRTP_BATCH)
            .zip(protected.chunks(SRTP_BATCH)),
    ) {
        let mut bufs: Vec<Vec<u8>> = group.iter().map(|p| p.to_vec()).collect();
        let mut auth = RtpAuthBatch::new();
        let tickets: Vec<_> = bufs.iter().map(|b| auth.add(&rx_batch, b)).collect();
        let tags = auth.compute();
        for ((buf, ticket), (want_r, want_buf)) in bufs.iter_mut().zip(tickets).zip(want_un) {
            let r = match ticket {
                Some(t) => rx_batch.unprotect_rtp_authenticated(buf, &tags, t),
                None => rx_batch.unprotect_rtp(buf),
            };
            assert_eq!(&r, want_r, "batch unprotect result");
            assert_eq!(buf, want_buf, "batch unprotect bytes");
        }

        let mut bufs: Vec<Vec<u8>> = group
            .iter()
            .map(|p| {
                let mut b = p.to_vec();
                b.resize(p.len() + MAX_TAG_LEN, 0);
                b
            })
            .collect();
        let mut results = Vec::new();
        {
            let mut batch = RtpProtectBatch::new();
            for (buf, p) in bufs.iter_mut().zip(group) {
                results.push(batch.push(&mut tx_batch, buf, p.len()));
            }
        }
        for ((r, buf), (want_r, want_buf)) in results.iter().zip(bufs.iter_mut()).zip(want_pro) {
            assert_eq!(r, want_r, "batch protect result");
            if let Ok(n) = r {
                buf.truncate(*n);
            }
            assert_eq!(
                &buf[..want_buf.len().min(buf.len())],
                &want_buf[..want_buf.len().min(buf.len())],
                "batch protect bytes"
            );
        }
    }
});
