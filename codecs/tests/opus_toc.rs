//! Opus packet inspection (RFC 6716 §3): the TOC byte, frame codes 0–3, and one test per
//! rule R1–R7 that a packet can break.

use std::time::Duration;

use talko_codecs::opus::toc::{
    packet_samples_48k, Bandwidth, Mode, OpusPacket, OpusPacketError, Toc, MAX_FRAMES,
};

fn parse(bytes: &[u8]) -> Result<OpusPacket<'_>, OpusPacketError> {
    OpusPacket::try_from(bytes)
}

fn frames(p: &OpusPacket<'_>) -> Vec<Vec<u8>> {
    p.frames().map(<[u8]>::to_vec).collect()
}

/// A TOC byte from its three fields (RFC 6716 §3.1, Figure 1).
fn toc(config: u8, stereo: bool, code: u8) -> u8 {
    config << 3 | u8::from(stereo) << 2 | code
}

// RFC 6716 §3.1, Table 2.
#[test]
fn toc_configurations_map_to_mode_bandwidth_and_frame_size() {
    let table: [(std::ops::RangeInclusive<u8>, Mode, Bandwidth, [u32; 4]); 8] = [
        (0..=3, Mode::Silk, Bandwidth::Narrow, [480, 960, 1920, 2880]),
        (4..=7, Mode::Silk, Bandwidth::Medium, [480, 960, 1920, 2880]),
        (8..=11, Mode::Silk, Bandwidth::Wide, [480, 960, 1920, 2880]),
        (
            12..=13,
            Mode::Hybrid,
            Bandwidth::SuperWide,
            [480, 960, 0, 0],
        ),
        (14..=15, Mode::Hybrid, Bandwidth::Full, [480, 960, 0, 0]),
        (16..=19, Mode::Celt, Bandwidth::Narrow, [120, 240, 480, 960]),
        (20..=23, Mode::Celt, Bandwidth::Wide, [120, 240, 480, 960]),
        (
            24..=27,
            Mode::Celt,
            Bandwidth::SuperWide,
            [120, 240, 480, 960],
        ),
    ];
    for (configs, mode, bandwidth, sizes) in table {
        let first = *configs.start();
        for config in configs {
            let t = Toc::new(toc(config, false, 0));
            assert_eq!(t.config(), config);
            assert_eq!(t.mode(), mode, "config {config}");
            assert_eq!(t.bandwidth(), bandwidth, "config {config}");
            let expected = sizes[usize::from(config - first)];
            assert_eq!(t.frame_samples_48k(), expected, "config {config}");
        }
    }
    for config in 28..=31 {
        let t = Toc::new(toc(config, true, 3));
        assert_eq!((t.mode(), t.bandwidth()), (Mode::Celt, Bandwidth::Full));
        assert_eq!(
            t.frame_samples_48k(),
            [120, 240, 480, 960][usize::from(config - 28)]
        );
        assert!(t.stereo());
        assert_eq!(t.code(), 3);
    }
    assert_eq!(
        Toc::new(toc(19, false, 0)).frame_duration(),
        Duration::from_millis(20)
    );
    assert_eq!(
        Toc::new(toc(16, false, 0)).frame_duration(),
        Duration::from_micros(2500)
    );
    assert_eq!(
        Toc::new(toc(3, false, 0)).frame_duration(),
        Duration::from_millis(60)
    );
    assert_eq!(Bandwidth::SuperWide.sample_rate(), 24_000);
}

#[test]
fn code_0_is_one_frame_of_everything_after_the_toc() {
    let mut p = vec![toc(31, false, 0)];
    p.extend(1..=80u8);
    let packet = parse(&p).unwrap();
    assert_eq!(packet.frame_count(), 1);
    assert_eq!(frames(&packet), [p[1..].to_vec()]);
    assert_eq!(packet.duration_samples_48k(), 960);
    assert_eq!(packet.duration(), Duration::from_millis(20));
    assert!(!packet.is_vbr());
    assert!(packet.padding().is_empty());
}

#[test]
fn code_0_with_only_a_toc_is_one_empty_frame() {
    let p = [toc(1, false, 0)];
    let packet = parse(&p).unwrap();
    assert_eq!(packet.frame_count(), 1);
    assert_eq!(packet.frame_lens(), [0]);
}

#[test]
fn code_1_is_two_equal_frames() {
    let mut p = vec![toc(9, true, 1)];
    p.extend(0..40u8);
    let packet = parse(&p).unwrap();
    assert_eq!(packet.frame_count(), 2);
    assert_eq!(frames(&packet), [p[1..21].to_vec(), p[21..].to_vec()]);
    assert_eq!(packet.duration_samples_48k(), 1920);
    assert!(packet.toc().stereo());
}

#[test]
fn code_2_is_two_frames_with_the_first_length_coded() {
    // One-byte length.
    let mut p = vec![toc(15, false, 2), 10];
    p.extend(0..25u8);
    let packet = parse(&p).unwrap();
    assert_eq!(packet.frame_lens(), [10, 15]);
    assert_eq!(frames(&packet), [p[2..12].to_vec(), p[12..].to_vec()]);
    assert!(packet.is_vbr());
    // Two-byte length: 252 + 4·1 = 256.
    let mut p = vec![toc(31, false, 2), 252, 1];
    p.extend(std::iter::repeat_n(7u8, 256 + 3));
    let packet = parse(&p).unwrap();
    assert_eq!(packet.frame_lens(), [256, 3]);
    // The largest two-byte length, 255 + 4·255 = 1275.
    let mut p = vec![toc(31, false, 2), 255, 255];
    p.extend(std::iter::repeat_n(1u8, 1275));
    assert_eq!(parse(&p).unwrap().frame_lens(), [1275, 0]);
}

#[test]
fn code_3_cbr_splits_evenly_and_strips_padding() {
    // 3 frames, padding of 2 bytes.
    let mut p = vec![toc(28, false, 3), 0x40 | 3, 2];
    p.extend(0..30u8);
    p.extend([0xAA, 0xBB]);
    let packet = parse(&p).unwrap();
    assert_eq!(packet.frame_count(), 3);
    assert_eq!(packet.frame_lens(), [10, 10, 10]);
    assert_eq!(packet.frames().last().unwrap(), &p[23..33]);
    assert_eq!(packet.padding(), [0xAA, 0xBB]);
    assert_eq!(packet.duration_samples_48k(), 3 * 120);
    assert!(!packet.is_vbr());
}

#[test]
fn code_3_vbr_reads_m_minus_one_lengths() {
    let mut p = vec![toc(23, false, 3), 0x80 | 3, 5, 7];
    p.extend(0..21u8);
    let packet = parse(&p).unwrap();
    assert_eq!(packet.frame_lens(), [5, 7, 9]);
    assert_eq!(
        frames(&packet),
        [p[4..9].to_vec(), p[9..16].to_vec(), p[16..].to_vec()]
    );
    assert!(packet.is_vbr());
    assert_eq!(packet_samples_48k(&p), Ok(3 * 960));
}

#[test]
fn code_3_padding_of_255_adds_254_and_continues() {
    // Padding bytes 255, 1: 254 + 1 = 255 bytes of padding.
    let mut p = vec![toc(0, false, 3), 0xC0 | 2, 255, 1, 4];
    p.extend([1u8; 10]);
    p.extend([0u8; 255]);
    let packet = parse(&p).unwrap();
    assert_eq!(packet.frame_lens(), [4, 6]);
    assert_eq!(packet.padding().len(), 255);
}

#[test]
fn code_3_holds_48_frames_of_2_5_ms() {
    let mut p = vec![toc(16, false, 3), 48];
    p.extend([0u8; 48 * 2]);
    let packet = parse(&p).unwrap();
    assert_eq!(packet.frame_count(), MAX_FRAMES);
    assert_eq!(packet.frames().len(), MAX_FRAMES);
    assert!(packet.frames().all(|f| f.len() == 2));
    assert_eq!(packet.duration(), Duration::from_millis(120));
}

// R1
#[test]
fn an_empty_packet_is_rejected() {
    assert_eq!(parse(&[]), Err(OpusPacketError::Empty));
    assert_eq!(packet_samples_48k(&[]), Err(OpusPacketError::Empty));
}

// R2
#[test]
fn a_frame_over_1275_bytes_is_rejected() {
    let mut p = vec![toc(31, false, 0)];
    p.extend(std::iter::repeat_n(0u8, 1275));
    assert!(parse(&p).is_ok());
    p.push(0);
    assert_eq!(parse(&p), Err(OpusPacketError::FrameTooLong));
    // Code 1: 2 × 1276.
    let mut p = vec![toc(31, false, 1)];
    p.extend(std::iter::repeat_n(0u8, 2 * 1276));
    assert_eq!(parse(&p), Err(OpusPacketError::FrameTooLong));
    // Code 2: the implicit second frame.
    let mut p = vec![toc(31, false, 2), 1];
    p.extend(std::iter::repeat_n(0u8, 1 + 1276));
    assert_eq!(parse(&p), Err(OpusPacketError::FrameTooLong));
    // Code 3 CBR: 2 × 1276; VBR: the implicit last frame.
    let mut p = vec![toc(31, false, 3), 2];
    p.extend(std::iter::repeat_n(0u8, 2 * 1276));
    assert_eq!(parse(&p), Err(OpusPacketError::FrameTooLong));
    let mut p = vec![toc(31, false, 3), 0x80 | 2, 0];
    p.extend(std::iter::repeat_n(0u8, 1276));
    assert_eq!(parse(&p), Err(OpusPacketError::FrameTooLong));
}

// R3
#[test]
fn code_1_with_an_odd_length_is_rejected() {
    let mut p = vec![toc(9, false, 1)];
    p.extend([0u8; 41]);
    assert_eq!(parse(&p), Err(OpusPacketError::OddCbrLength));
}

// R4
#[test]
fn code_2_whose_first_length_overruns_is_rejected() {
    assert_eq!(parse(&[toc(15, false, 2)]), Err(OpusPacketError::Truncated));
    // Two-byte form cut after its first byte.
    assert_eq!(
        parse(&[toc(15, false, 2), 253]),
        Err(OpusPacketError::Truncated)
    );
    // First frame 10 bytes, only 9 present.
    let mut p = vec![toc(15, false, 2), 10];
    p.extend([0u8; 9]);
    assert_eq!(parse(&p), Err(OpusPacketError::Truncated));
    // Exactly 10 present: the second frame is empty, which is allowed.
    p.push(0);
    assert_eq!(parse(&p).unwrap().frame_lens(), [10, 0]);
}

// R5
#[test]
fn code_3_with_a_count_of_zero_is_rejected() {
    assert_eq!(
        parse(&[toc(1, false, 3), 0]),
        Err(OpusPacketError::BadCode3Count)
    );
    assert_eq!(
        parse(&[toc(1, false, 3), 0xC0, 0]),
        Err(OpusPacketError::BadCode3Count)
    );
    assert_eq!(parse(&[toc(1, false, 3)]), Err(OpusPacketError::Truncated));
}

// R5
#[test]
fn code_3_over_120_ms_is_rejected() {
    // 3 × 60 ms.
    let mut p = vec![toc(3, false, 3), 3];
    p.extend([0u8; 30]);
    assert_eq!(parse(&p), Err(OpusPacketError::TooLong));
    // 2 × 60 ms is exactly 120 ms.
    p[1] = 2;
    assert!(parse(&p).is_ok());
    // 49 × 2.5 ms, and the largest count 63 × 20 ms.
    assert_eq!(
        parse(&[toc(16, false, 3), 49]),
        Err(OpusPacketError::TooLong)
    );
    assert_eq!(
        parse(&[toc(31, false, 3), 63]),
        Err(OpusPacketError::TooLong)
    );
}

// R6
#[test]
fn code_3_cbr_that_does_not_divide_is_rejected() {
    let mut p = vec![toc(28, false, 3), 3];
    p.extend([0u8; 31]);
    assert_eq!(parse(&p), Err(OpusPacketError::UnevenCbrLength));
}

// R6, R7
#[test]
fn padding_that_overruns_is_rejected() {
    // The padding length itself is missing.
    assert_eq!(
        parse(&[toc(28, false, 3), 0x41]),
        Err(OpusPacketError::BadPadding)
    );
    // A chain of 255s that never ends.
    assert_eq!(
        parse(&[toc(28, false, 3), 0x41, 255, 255]),
        Err(OpusPacketError::BadPadding)
    );
    // 10 bytes of padding claimed, 9 present.
    let mut p = vec![toc(28, false, 3), 0x41, 10];
    p.extend([0u8; 9]);
    assert_eq!(parse(&p), Err(OpusPacketError::BadPadding));
    // Exactly 10: one empty frame and the padding.
    p.push(0);
    assert_eq!(parse(&p).unwrap().frame_lens(), [0]);
    // VBR: padding eats the bytes the frame lengths need.
    let mut p = vec![toc(28, false, 3), 0xC2, 3, 5];
    p.extend([0u8; 3]);
    assert_eq!(parse(&p), Err(OpusPacketError::Truncated));
}

// R7
#[test]
fn code_3_vbr_lengths_that_overrun_are_rejected() {
    // Two lengths of 200 in a 50-byte packet.
    let mut p = vec![toc(28, false, 3), 0x80 | 3, 200, 200];
    p.extend([0u8; 46]);
    assert_eq!(parse(&p), Err(OpusPacketError::Truncated));
    // The second length byte is missing.
    assert_eq!(
        parse(&[toc(28, false, 3), 0x80 | 3, 0]),
        Err(OpusPacketError::Truncated)
    );
}

#[test]
fn every_error_has_its_own_message() {
    let all = [
        OpusPacketError::Empty,
        OpusPacketError::FrameTooLong,
        OpusPacketError::OddCbrLength,
        OpusPacketError::UnevenCbrLength,
        OpusPacketError::BadCode3Count,
        OpusPacketError::TooLong,
        OpusPacketError::Truncated,
        OpusPacketError::BadPadding,
    ];
    let texts: std::collections::HashSet<String> = all.iter().map(|e| e.to_string()).collect();
    assert_eq!(texts.len(), all.len());
    assert!(texts.iter().all(|t| t.contains("Opus")));
}
