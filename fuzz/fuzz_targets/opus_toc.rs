#![no_main]
//! Opus packet inspection: every accepted packet obeys R1–R7 as seen from outside.

use libfuzzer_sys::fuzz_target;
use talko_codecs::opus::toc::{
    packet_samples_48k, OpusPacket, Toc, MAX_FRAMES, MAX_FRAME_LEN, MAX_PACKET_SAMPLES_48K,
};

fuzz_target!(|data: &[u8]| {
    if let Some(&byte) = data.first() {
        let toc = Toc::new(byte);
        let _ = (
            toc.mode(),
            toc.bandwidth(),
            toc.stereo(),
            toc.frame_duration(),
        );
    }
    let Ok(packet) = OpusPacket::try_from(data) else {
        assert!(packet_samples_48k(data).is_err());
        return;
    };
    let frames: Vec<&[u8]> = packet.frames().collect();
    assert_eq!(frames.len(), packet.frame_count());
    assert!((1..=MAX_FRAMES).contains(&frames.len()));
    assert!(frames.iter().all(|f| f.len() <= MAX_FRAME_LEN));
    assert!(packet.duration_samples_48k() <= MAX_PACKET_SAMPLES_48K);
    assert_eq!(packet_samples_48k(data), Ok(packet.duration_samples_48k()));
    // Frames and padding are disjoint parts of the packet, after at least the TOC byte.
    let used: usize = frames.iter().map(|f| f.len()).sum::<usize>() + packet.padding().len();
    assert!(used < data.len());
    match packet.toc().code() {
        0 => assert_eq!(used + 1, data.len()),
        1 => assert_eq!(frames[0].len(), frames[1].len()),
        _ => {}
    }
});
