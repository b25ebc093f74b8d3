//! The libopus wrapper (`talko_codecs::opus::codec`) allocates only when a codec is
//! created: encoding, decoding, FEC, concealment and every setter allocate nothing.

use talko_codecs::opus::codec::{Decoder, Encoder, FRAME_SAMPLES, MAX_PACKET};
use talko_codecs::testing::{thread_counts, CountingAlloc};

#[global_allocator]
static A: CountingAlloc = CountingAlloc;

#[test]
fn encode_decode_fec_conceal_and_settings_allocate_nothing() {
    let mut enc = Encoder::voip_mono().unwrap();
    let mut dec = Decoder::mono().unwrap();
    let mut pcm = [0i16; FRAME_SAMPLES];
    let mut out = [0i16; FRAME_SAMPLES];
    let mut pkt = [0u8; MAX_PACKET];
    let before = thread_counts();
    enc.set_bitrate(24_000).unwrap();
    enc.set_complexity(7).unwrap();
    enc.set_fec(true).unwrap();
    enc.set_dtx(true).unwrap();
    enc.set_packet_loss_pct(15).unwrap();
    let lookahead = enc.lookahead().unwrap();
    let mut bytes = 0;
    for f in 0..500usize {
        for (i, s) in pcm.iter_mut().enumerate() {
            let t = (f * FRAME_SAMPLES + i) as f32 / 48_000.0;
            *s = (7_000.0 * (2.0 * std::f32::consts::PI * 523.0 * t).sin()) as i16;
        }
        let n = enc.encode(&pcm, &mut pkt).unwrap();
        bytes += n;
        match f % 10 {
            3 => assert_eq!(dec.conceal(&mut out).unwrap(), FRAME_SAMPLES),
            5 => assert_eq!(dec.decode_fec(&pkt[..n], &mut out).unwrap(), FRAME_SAMPLES),
            _ => assert_eq!(
                dec.decode(&pkt[..n], &mut out, false).unwrap(),
                FRAME_SAMPLES
            ),
        }
    }
    assert!(dec.decode(&[0xFB, 0], &mut out, false).is_err());
    let used = thread_counts().since(before);
    assert_eq!((used.allocs, used.frees), (0, 0), "{used:?}");
    assert!(lookahead > 0 && bytes > 500 * 20);
}
