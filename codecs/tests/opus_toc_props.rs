//! Opus packet inspection against libopus (`opus_packet_parse` and the TOC queries, via
//! the `opus` crate), plus no-allocation and no-panic properties.

use std::path::Path;

use proptest::prelude::*;
use talko_codecs::opus::toc::{Bandwidth, OpusPacket, Toc};
use talko_codecs::testing::{thread_counts, CountingAlloc};

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

fn seeds() -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/seeds/opus_toc");
    let files: Vec<Vec<u8>> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| std::fs::read(entry.unwrap().path()).unwrap())
        .collect();
    assert!(files.len() >= 6);
    files
}

/// What libopus makes of a packet: `(frame offsets, frame lengths)`, or `None` when it
/// rejects the packet.
fn libopus(packet: &[u8]) -> Option<Vec<(usize, usize)>> {
    if packet.is_empty() {
        return None;
    }
    let parsed = opus::packet::parse(packet).ok()?;
    let base = packet.as_ptr() as usize;
    Some(
        parsed
            .frames
            .iter()
            .map(|f| (f.as_ptr() as usize - base, f.len()))
            .collect(),
    )
}

fn talko(packet: &[u8]) -> Option<Vec<(usize, usize)>> {
    let parsed = OpusPacket::try_from(packet).ok()?;
    let base = packet.as_ptr() as usize;
    Some(
        parsed
            .frames()
            .map(|f| (f.as_ptr() as usize - base, f.len()))
            .collect(),
    )
}

#[test]
fn every_seed_agrees_with_libopus() {
    for seed in seeds() {
        let ours = talko(&seed);
        assert!(ours.is_some(), "seed {seed:02x?} is a valid packet");
        assert_eq!(ours, libopus(&seed));
    }
}

#[test]
fn inspecting_the_seeds_and_their_prefixes_allocates_nothing() {
    let seeds = seeds();
    let mut prefixes = Vec::new();
    for s in &seeds {
        for len in 0..=s.len() {
            prefixes.push(s[..len].to_vec());
        }
    }
    let mut total = 0usize;
    let before = thread_counts();
    for p in &prefixes {
        if let Ok(packet) = OpusPacket::try_from(p.as_slice()) {
            total += packet.frames().map(<[u8]>::len).sum::<usize>();
            total += packet.padding().len() + packet.duration_samples_48k() as usize;
        }
    }
    let used = thread_counts().since(before);
    assert_eq!(used.allocs, 0, "{used:?}");
    assert!(total > 0);
}

#[test]
fn every_toc_byte_agrees_with_libopus() {
    for byte in 0..=255u8 {
        let toc = Toc::new(byte);
        let packet = [byte];
        assert_eq!(
            toc.frame_samples_48k() as usize,
            opus::packet::get_samples_per_frame(&packet, 48_000).unwrap(),
            "TOC {byte:#04x}"
        );
        let theirs = match opus::packet::get_bandwidth(&packet).unwrap() {
            opus::Bandwidth::Narrowband => Bandwidth::Narrow,
            opus::Bandwidth::Mediumband => Bandwidth::Medium,
            opus::Bandwidth::Wideband => Bandwidth::Wide,
            opus::Bandwidth::Superwideband => Bandwidth::SuperWide,
            opus::Bandwidth::Fullband => Bandwidth::Full,
            opus::Bandwidth::Auto => panic!("libopus reported no bandwidth for {byte:#04x}"),
        };
        assert_eq!(toc.bandwidth(), theirs, "TOC {byte:#04x}");
        let channels = opus::packet::get_nb_channels(&packet).unwrap();
        assert_eq!(toc.stereo(), channels == opus::Channels::Stereo);
    }
}

/// Packets that look like Opus: any TOC, then a plausible code-3 count byte and frame
/// lengths, then a body; often valid, often broken in one place.
fn opus_like() -> impl Strategy<Value = Vec<u8>> {
    (
        any::<u8>(),
        prop_oneof![
            Just(None),
            (1u8..=6, any::<bool>(), any::<bool>()).prop_map(Some)
        ],
        proptest::collection::vec(prop_oneof![0u8..=8, 250u8..=255, any::<u8>()], 0..6),
        0usize..1400,
    )
        .prop_map(|(toc, count, lengths, body)| {
            let mut p = vec![toc];
            if let Some((m, vbr, pad)) = count {
                p[0] |= 3;
                p.push(m | if vbr { 0x80 } else { 0 } | if pad { 0x40 } else { 0 });
            }
            p.extend(lengths);
            p.extend((0..body).map(|i| i as u8));
            p
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4000))]

    #[test]
    fn structured_packets_frame_exactly_like_libopus(packet in opus_like()) {
        prop_assert_eq!(talko(&packet), libopus(&packet));
        if let Ok(p) = OpusPacket::try_from(packet.as_slice()) {
            let theirs = opus::packet::get_nb_samples(&packet, 48_000).unwrap();
            prop_assert_eq!(p.duration_samples_48k() as usize, theirs);
            prop_assert_eq!(p.frame_count(), opus::packet::get_nb_frames(&packet).unwrap());
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic_and_agree_with_libopus(
        packet in proptest::collection::vec(any::<u8>(), 0..300),
    ) {
        prop_assert_eq!(talko(&packet), libopus(&packet));
    }
}
