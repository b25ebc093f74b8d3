//! Ogg Opus writer ↔ reader round trips, page-format rules (RFC 7845, RFC 3533), bad
//! input, and interop with Debian's `opusinfo`, `opusdec` and `sox`.

use std::path::{Path, PathBuf};
use std::process::Command;

use talko_codecs::ogg::{
    page_checksum, OggError, OggOpusReader, OggOpusWriter, OpusHead, OpusTags, PageIter, FLAG_BOS,
    FLAG_CONTINUED, FLAG_EOS, MAX_SEGMENTS,
};

const TAGS: OpusTags<'static> = OpusTags {
    vendor: "talko",
    comments: &["ENCODER=talko"],
};

fn tone(freq: f32, start_sample: usize, n: usize, amp: f32) -> Vec<i16> {
    (0..n)
        .map(|i| {
            let t = (start_sample + i) as f32 / 48_000.0;
            (amp * (2.0 * std::f32::consts::PI * freq * t).sin()) as i16
        })
        .collect()
}

/// Encodes `frames` 20 ms frames of a 440 Hz tone; returns the packets and the encoder's
/// lookahead.
fn encode_tone(frames: usize) -> (Vec<Vec<u8>>, u16) {
    let mut enc =
        opus::Encoder::new(48_000, opus::Channels::Mono, opus::Application::Voip).expect("encoder");
    let lookahead = enc.get_lookahead().expect("lookahead");
    let mut out = [0u8; 1500];
    let packets = (0..frames)
        .map(|f| {
            let pcm = tone(440.0, f * 960, 960, 8000.0);
            let n = enc.encode(&pcm, &mut out).expect("encode");
            out[..n].to_vec()
        })
        .collect();
    (packets, u16::try_from(lookahead).expect("small lookahead"))
}

fn write_stream(packets: &[Vec<u8>], pre_skip: u16) -> Vec<u8> {
    let mut head = OpusHead::new(1, 48_000);
    head.pre_skip = pre_skip;
    let mut w = OggOpusWriter::new(Vec::new(), 0x7A1C0, head, &TAGS).expect("headers");
    for p in packets {
        w.write_packet(p).expect("packet");
    }
    w.finish().expect("finish")
}

#[test]
fn encoded_tone_round_trips_packet_for_packet() {
    let (packets, lookahead) = encode_tone(150);
    assert_eq!(lookahead, 312, "libopus lookahead at 48 kHz");
    let file = write_stream(&packets, lookahead);
    let r = OggOpusReader::new(&file).expect("valid file");
    assert_eq!(r.head().channels, 1);
    assert_eq!(r.head().pre_skip, 312);
    assert_eq!(r.head().input_sample_rate, 48_000);
    assert_eq!(r.head().output_gain, 0);
    assert_eq!(r.head().mapping_family, 0);
    assert_eq!(r.tags().vendor, "talko");
    assert_eq!(r.tags().comments, vec!["ENCODER=talko"]);
    let got: Vec<&[u8]> = r.packets().iter().map(|p| p.data.as_slice()).collect();
    let want: Vec<&[u8]> = packets.iter().map(Vec::as_slice).collect();
    assert_eq!(got, want);
    assert!(r.is_finished());
    assert_eq!(r.last_granule(), 150 * 960);
    assert_eq!(r.duration_samples(), 150 * 960 - 312);
    assert_eq!(r.valid_len(), file.len());
}

#[test]
fn header_pages_follow_rfc7845_layout() {
    let (packets, _) = encode_tone(10);
    let file = write_stream(&packets, 312);
    let pages: Vec<_> = PageIter::new(&file).map(|p| p.expect("page").1).collect();
    // OpusHead alone on the BOS page, granule 0.
    assert_eq!(pages[0].header_type(), FLAG_BOS);
    assert_eq!(pages[0].lacing(), &[19]);
    assert_eq!(&pages[0].body()[..8], b"OpusHead");
    assert_eq!(pages[0].granule(), Some(0));
    // OpusTags alone on the second page, granule 0.
    assert_eq!(pages[1].header_type(), 0);
    assert_eq!(pages[1].completed_packets(), 1);
    assert_eq!(&pages[1].body()[..8], b"OpusTags");
    assert_eq!(pages[1].granule(), Some(0));
    // EOS only on the last page, sequence numbers consecutive, one serial.
    let last = pages.len() - 1;
    for (i, p) in pages.iter().enumerate() {
        assert_eq!(p.sequence() as usize, i);
        assert_eq!(p.serial(), 0x7A1C0);
        assert_eq!(p.is_eos(), i == last, "EOS on page {i}");
    }
}

#[test]
fn packets_of_255_bytes_and_more_use_lacing_and_keep_their_bytes() {
    // CELT FB 20 ms code-0 packets of lengths around the lacing boundaries.
    let packets: Vec<Vec<u8>> = [1usize, 254, 255, 256, 510, 511, 1275]
        .iter()
        .map(|&len| {
            let mut p = vec![0xF8u8];
            p.extend((1..len).map(|i| (i * 7) as u8));
            p
        })
        .collect();
    let file = write_stream(&packets, 312);
    let pages: Vec<_> = PageIter::new(&file).map(|p| p.expect("page").1).collect();
    let lacing: Vec<u8> = pages[2..]
        .iter()
        .flat_map(|p| p.lacing().to_vec())
        .collect();
    assert_eq!(
        lacing,
        vec![1, 254, 255, 0, 255, 1, 255, 255, 0, 255, 255, 1, 255, 255, 255, 255, 255, 0]
    );
    let r = OggOpusReader::new(&file).expect("valid");
    let got: Vec<Vec<u8>> = r.packets().iter().map(|p| p.data.clone()).collect();
    assert_eq!(got, packets);
}

#[test]
fn pages_never_exceed_255_segments_and_packets_may_span_pages() {
    let mut head = OpusHead::new(1, 48_000);
    head.pre_skip = 0;
    let mut w = OggOpusWriter::new(Vec::new(), 1, head, &TAGS).expect("headers");
    w.set_page_target(usize::MAX);
    let mut packets = Vec::new();
    for i in 0..600usize {
        // Mostly 1-segment packets, with a 3000-byte packet (12 segments) now and then
        // so that one straddles a page boundary.
        let len = if i % 50 == 0 { 3000 } else { 3 };
        let mut p = vec![0xF8u8];
        p.extend((1..len).map(|b| (b + i) as u8));
        w.write_packet(&p).expect("packet");
        packets.push(p);
    }
    let file = w.finish().expect("finish");
    let mut continued = 0;
    let mut granule = 0;
    for item in PageIter::new(&file) {
        let (_, page) = item.expect("page");
        assert!(page.lacing().len() <= MAX_SEGMENTS);
        if page.is_continued() {
            continued += 1;
            assert_eq!(page.header_type() & FLAG_CONTINUED, FLAG_CONTINUED);
        }
        if let Some(g) = page.granule() {
            assert!(g >= granule);
            granule = g;
        } else {
            // −1 only where no packet completes.
            assert_eq!(page.completed_packets(), 0);
        }
    }
    assert!(continued > 0, "expected a packet continued across pages");
    let r = OggOpusReader::new(&file).expect("valid");
    assert_eq!(r.packets().len(), 600);
    assert!(r.packets().iter().zip(&packets).all(|(a, b)| &a.data == b));
    assert_eq!(r.last_granule(), 600 * 960);
}

#[test]
fn granule_of_each_page_counts_samples_through_its_last_packet() {
    let (packets, _) = encode_tone(400);
    let file = write_stream(&packets, 312);
    let r = OggOpusReader::new(&file).expect("valid");
    let mut total = 0u64;
    let mut checked = 0;
    for p in r.packets() {
        total += u64::from(p.samples);
        if let Some(g) = p.granule {
            assert_eq!(g, total);
            checked += 1;
        }
    }
    assert!(checked >= 2, "several audio pages");
}

#[test]
fn flush_page_writes_a_readable_partial_page_without_eos() {
    let (packets, _) = encode_tone(30);
    let mut w = OggOpusWriter::new(Vec::new(), 9, OpusHead::new(1, 48_000), &TAGS).expect("new");
    for p in &packets {
        w.write_packet(p).expect("packet");
    }
    w.flush_page().expect("flush");
    let bytes = w.get_ref().clone();
    assert_eq!(OggOpusReader::new(&bytes).err(), Some(OggError::MissingEos));
    let r = OggOpusReader::new_unfinished(&bytes).expect("unfinished but valid");
    // Everything but the held-back last packet is on disk.
    assert_eq!(r.packets().len(), 29);
    assert_eq!(r.last_granule(), 29 * 960);
    assert!(!r.is_finished());
    // Finishing afterwards still yields one valid stream with every packet.
    let file = w.finish().expect("finish");
    let r = OggOpusReader::new(&file).expect("finished");
    assert_eq!(r.packets().len(), 30);
}

#[test]
fn writer_reuses_its_buffers_in_steady_state() {
    #[global_allocator]
    static A: talko_codecs::testing::CountingAlloc = talko_codecs::testing::CountingAlloc;
    let (packets, _) = encode_tone(50);
    let mut sink = std::io::sink();
    let mut w = OggOpusWriter::new(&mut sink, 3, OpusHead::new(1, 48_000), &TAGS).expect("new");
    for p in &packets {
        w.write_packet(p).expect("warm-up");
    }
    w.flush_page().expect("flush");
    let before = talko_codecs::testing::thread_counts();
    for round in 0..100 {
        for p in &packets {
            w.write_packet(p).expect("packet");
        }
        if round % 5 == 0 {
            w.flush_page().expect("flush");
        }
    }
    let used = talko_codecs::testing::thread_counts().since(before);
    assert_eq!(used.allocs, 0, "steady-state writing allocated");
}

#[test]
fn corrupt_checksum_is_detected() {
    let (packets, _) = encode_tone(20);
    let mut file = write_stream(&packets, 312);
    let last = file.len() - 1;
    file[last] ^= 0x40;
    assert_eq!(OggOpusReader::new(&file).err(), Some(OggError::BadChecksum));
}

#[test]
fn bad_inputs_give_specific_errors() {
    let (packets, _) = encode_tone(200);
    let file = write_stream(&packets, 312);
    assert_eq!(OggOpusReader::new(&[]).err(), Some(OggError::BadHead));
    assert_eq!(
        OggOpusReader::new(&file[..20]).err(),
        Some(OggError::Truncated)
    );
    assert_eq!(
        OggOpusReader::new(&file[..file.len() - 3]).err(),
        Some(OggError::Truncated)
    );
    let mut bad = file.clone();
    bad[0] = b'X';
    assert_eq!(OggOpusReader::new(&bad).err(), Some(OggError::BadCapture));
    let mut bad = file.clone();
    bad[4] = 1;
    assert_eq!(OggOpusReader::new(&bad).err(), Some(OggError::BadVersion));
    // Trailing data after EOS.
    let mut bad = file.clone();
    bad.extend_from_slice(&file[..64]);
    assert!(OggOpusReader::new(&bad).is_err());
    // A page after EOS: append a re-sequenced copy of the first audio page.
    let pages: Vec<(usize, usize)> = PageIter::new(&file)
        .map(|p| p.map(|(o, pg)| (o, pg.len())).expect("page"))
        .collect();
    let (off, len) = pages[2];
    let mut extra = file[off..off + len].to_vec();
    extra[18..22].copy_from_slice(&(pages.len() as u32).to_le_bytes());
    let sum = page_checksum(&extra);
    extra[22..26].copy_from_slice(&sum.to_le_bytes());
    let mut bad = file.clone();
    bad.extend_from_slice(&extra);
    assert_eq!(OggOpusReader::new(&bad).err(), Some(OggError::PageAfterEos));
    // A sequence gap: drop the first audio page.
    let mut bad = file[..pages[2].0].to_vec();
    bad.extend_from_slice(&file[pages[3].0..]);
    assert_eq!(OggOpusReader::new(&bad).err(), Some(OggError::BadSequence));
    // Head not on a BOS page.
    let mut bad = file.clone();
    bad[5] = 0;
    let sum = page_checksum(&bad[..pages[0].1]);
    bad[22..26].copy_from_slice(&sum.to_le_bytes());
    assert_eq!(OggOpusReader::new(&bad).err(), Some(OggError::BadBos));
}

#[test]
fn reader_survives_every_truncation_and_single_byte_corruption() {
    let (packets, _) = encode_tone(60);
    let file = write_stream(&packets, 312);
    for cut in 0..file.len() {
        let _ = OggOpusReader::new(&file[..cut]);
        let _ = OggOpusReader::new_unfinished(&file[..cut]);
    }
    for i in 0..file.len() {
        let mut bad = file.clone();
        bad[i] ^= 0xA5;
        assert!(
            OggOpusReader::new(&bad).is_err(),
            "corruption at {i} went unnoticed"
        );
    }
}

#[test]
fn eos_flag_is_set_even_for_a_stream_without_audio() {
    let w = OggOpusWriter::new(Vec::new(), 5, OpusHead::new(1, 48_000), &TAGS).expect("new");
    let file = w.finish().expect("finish");
    let r = OggOpusReader::new(&file).expect("valid");
    assert!(r.is_finished());
    assert!(r.packets().is_empty());
    let flags: Vec<u8> = PageIter::new(&file)
        .map(|p| p.expect("page").1.header_type())
        .collect();
    assert_eq!(flags.last().copied().map(|f| f & FLAG_EOS), Some(FLAG_EOS));
}

// ---- interop with opus-tools and sox ----

/// Finds a media tool; fails loudly when missing unless TALKO_SKIP_MEDIA_TOOLS=1.
fn media_tool(name: &str) -> Option<PathBuf> {
    if std::env::var("TALKO_SKIP_MEDIA_TOOLS").as_deref() == Ok("1") {
        return None;
    }
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(name))
            .find(|p| p.is_file())
    });
    assert!(
        found.is_some(),
        "`{name}` is not installed: install opus-tools and sox (scripts/setup does), \
         or set TALKO_SKIP_MEDIA_TOOLS=1"
    );
    found
}

fn scratch_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("talko-ogg-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

fn run(tool: &Path, args: &[&str]) -> String {
    let out = Command::new(tool).args(args).output().expect("run tool");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "{} {:?} failed:\n{text}",
        tool.display(),
        args
    );
    text
}

#[test]
fn opusinfo_opusdec_and_sox_accept_the_file() {
    let (Some(opusinfo), Some(opusdec), Some(soxi)) = (
        media_tool("opusinfo"),
        media_tool("opusdec"),
        media_tool("soxi"),
    ) else {
        return;
    };
    let dir = scratch_dir("interop");
    let (packets, lookahead) = encode_tone(250); // 5 s
    let path = dir.join("tone.opus");
    std::fs::write(&path, write_stream(&packets, lookahead)).expect("write");
    let p = path.to_str().expect("utf-8 path");
    let info = run(&opusinfo, &[p]);
    assert!(!info.contains("WARNING"), "opusinfo warned:\n{info}");
    assert!(!info.contains("ERROR"), "opusinfo error:\n{info}");
    assert!(info.contains("Pre-skip: 312"), "{info}");
    assert!(info.contains("Playback length: 0m:04.993s"), "{info}");
    let wav = dir.join("tone.wav");
    let w = wav.to_str().expect("utf-8 path");
    run(&opusdec, &["--quiet", p, w]);
    let samples: u64 = run(&soxi, &["-s", w]).trim().parse().expect("sample count");
    assert_eq!(samples, 250 * 960 - 312);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn decoded_file_contains_the_encoded_tone() {
    let (packets, _) = encode_tone(100);
    let file = write_stream(&packets, 312);
    let r = OggOpusReader::new(&file).expect("valid");
    let mut dec = opus::Decoder::new(48_000, opus::Channels::Mono).expect("decoder");
    let mut pcm = Vec::new();
    let mut buf = [0i16; 5760];
    for p in r.packets() {
        let n = dec.decode(&p.data, &mut buf, false).expect("decode");
        pcm.extend_from_slice(&buf[..n]);
    }
    let pcm = &pcm[usize::from(r.head().pre_skip)..];
    let power = |f: f32| goertzel(&pcm[9600..19200], f);
    assert!(power(440.0) > 100.0 * power(880.0), "440 Hz dominates");
}

fn goertzel(x: &[i16], freq: f32) -> f32 {
    let w = 2.0 * std::f32::consts::PI * freq / 48_000.0;
    let c = 2.0 * w.cos();
    let (mut s1, mut s2) = (0.0f32, 0.0f32);
    for &v in x {
        let s = f32::from(v) + c * s1 - s2;
        s2 = s1;
        s1 = s;
    }
    s1 * s1 + s2 * s2 - c * s1 * s2
}

proptest::proptest! {
    #![proptest_config(proptest::test_runner::Config::with_cases(64))]

    /// Any sequence of packets (any lengths up to 3000 bytes, any flush points) reads
    /// back byte for byte, with valid pages and granules.
    #[test]
    fn any_packet_sequence_round_trips(
        lens in proptest::collection::vec(0usize..3000, 0..700),
        flush_every in 1usize..300,
        target in 1usize..10_000,
    ) {
        let mut w = OggOpusWriter::new(Vec::new(), 77, OpusHead::new(2, 44_100), &TAGS)
            .expect("headers");
        w.set_page_target(target);
        let mut packets = Vec::new();
        for (i, &len) in lens.iter().enumerate() {
            let mut p = vec![0xF9u8, 0x01]; // CELT FB 20 ms, code 1: two frames, 40 ms
            p.extend((0..len).map(|b| (b ^ i) as u8));
            w.write_packet(&p).expect("packet");
            packets.push(p);
            if i % flush_every == 0 {
                w.flush_page().expect("flush");
            }
        }
        let file = w.finish().expect("finish");
        let r = OggOpusReader::new(&file).expect("valid");
        proptest::prop_assert_eq!(r.packets().len(), packets.len());
        for (a, b) in r.packets().iter().zip(&packets) {
            proptest::prop_assert_eq!(&a.data, b);
        }
        proptest::prop_assert_eq!(r.last_granule(), 1920 * packets.len() as u64);
        proptest::prop_assert_eq!(r.head().channels, 2);
        for item in PageIter::new(&file) {
            let (_, page) = item.expect("page");
            proptest::prop_assert!(page.lacing().len() <= MAX_SEGMENTS);
        }
    }
}
