//! Steady-state SRTP/SRTCP protect and unprotect allocate nothing: the counting global
//! allocator sees zero allocations over thousands of packets on every profile.

use talko_codecs::srtp::{SrtpConfig, SrtpContext, SrtpProfile, MAX_TAG_LEN, SRTCP_TRAILER_MAX};
use talko_codecs::testing::{thread_counts, CountingAlloc};

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

const PACKETS: u32 = 5_000;

#[test]
fn protect_and_unprotect_allocate_nothing_per_packet() {
    for profile in SrtpProfile::ALL {
        let key = vec![7u8; profile.master_key_len()];
        let salt = vec![9u8; profile.master_salt_len()];
        let config = SrtpConfig {
            max_streams: 4,
            ..SrtpConfig::default()
        };
        let mut tx = SrtpContext::new(profile, &key, &salt, config).unwrap();
        let mut rx = SrtpContext::new(profile, &key, &salt, config).unwrap();
        let mut rtp = [0u8; 172 + MAX_TAG_LEN];
        let mut rtcp = [0u8; 32 + SRTCP_TRAILER_MAX];

        // Counted from the very first packet: stream creation uses the preallocated
        // table, so not even the first packet of an SSRC may allocate.
        let before = thread_counts();
        let mut checksum = 0u64;
        for i in 0..PACKETS {
            let seq = (i as u16).wrapping_add(60_000); // crosses a wrap
            let ssrc = 0x1000 + (i % 3);
            rtp[..12].copy_from_slice(&[0x80, 111, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
            rtp[2..4].copy_from_slice(&seq.to_be_bytes());
            rtp[8..12].copy_from_slice(&ssrc.to_be_bytes());
            rtp[12..172].fill(i as u8);
            let n = tx.protect_rtp(&mut rtp, 172).unwrap();
            let m = rx.unprotect_rtp(&mut rtp[..n]).unwrap();
            assert_eq!(m, 172);
            checksum += u64::from(rtp[171]);

            rtcp[..8].copy_from_slice(&[0x81, 201, 0, 7, 0, 0, 0x10, 0]);
            rtcp[8..32].fill(i as u8);
            let n = tx.protect_rtcp(&mut rtcp, 32).unwrap();
            let m = rx.unprotect_rtcp(&mut rtcp[..n]).unwrap();
            assert_eq!(m, 32);
        }
        let used = thread_counts().since(before);
        assert_eq!(used.allocs, 0, "{profile}: {used:?} over {PACKETS} packets");
        assert_eq!(
            checksum,
            (0..PACKETS).map(|i| u64::from(i as u8)).sum::<u64>()
        );
    }
}

/// The batch paths (many listeners' contexts protected together, received packets
/// authenticated together) allocate nothing either.
#[test]
fn batched_protect_and_authenticate_allocate_nothing() {
    use talko_codecs::srtp::{RtpAuthBatch, RtpProtectBatch};
    const LISTENERS: usize = 20;
    for profile in SrtpProfile::ALL {
        let ctx = |i: usize| {
            let key = vec![i as u8; profile.master_key_len()];
            let salt = vec![9u8; profile.master_salt_len()];
            SrtpContext::new(profile, &key, &salt, SrtpConfig::default()).unwrap()
        };
        let mut tx: Vec<SrtpContext> = (0..LISTENERS).map(ctx).collect();
        let mut rx: Vec<SrtpContext> = (0..LISTENERS).map(ctx).collect();
        let mut bufs = vec![[0u8; 172 + MAX_TAG_LEN]; LISTENERS];
        let mut lens = [0usize; LISTENERS];
        let before = thread_counts();
        for i in 0..PACKETS / 10 {
            let mut batch = RtpProtectBatch::new();
            for ((c, buf), len) in tx.iter_mut().zip(bufs.iter_mut()).zip(lens.iter_mut()) {
                buf[..12].copy_from_slice(&[0x80, 111, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5]);
                buf[2..4].copy_from_slice(&(i as u16).to_be_bytes());
                buf[12..172].fill(i as u8);
                *len = batch.push(c, buf, 172).unwrap();
            }
            batch.finish();
            for (chunk_rx, (chunk_bufs, chunk_lens)) in
                rx.chunks_mut(8).zip(bufs.chunks_mut(8).zip(lens.chunks(8)))
            {
                let mut auth = RtpAuthBatch::new();
                let tickets: [_; 8] = core::array::from_fn(|_| None);
                let mut tickets = tickets;
                for ((c, buf), (len, t)) in chunk_rx
                    .iter()
                    .zip(chunk_bufs.iter())
                    .zip(chunk_lens.iter().zip(tickets.iter_mut()))
                {
                    *t = auth.add(c, &buf[..*len]);
                }
                let tags = auth.compute();
                for ((c, buf), (len, t)) in chunk_rx
                    .iter_mut()
                    .zip(chunk_bufs.iter_mut())
                    .zip(chunk_lens.iter().zip(tickets.iter()))
                {
                    let n = match t {
                        Some(t) => c.unprotect_rtp_authenticated(&mut buf[..*len], &tags, *t),
                        None => c.unprotect_rtp(&mut buf[..*len]),
                    };
                    assert_eq!(n, Ok(172), "{profile}");
                    assert_eq!(buf[171], i as u8);
                }
            }
        }
        let used = thread_counts().since(before);
        assert_eq!(used.allocs, 0, "{profile}: {used:?}");
    }
}
