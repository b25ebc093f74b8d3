//! Opus packet inspection on what the real libopus encoder produces: every frame size
//! from 2.5 ms to 120 ms (codes 0, 1 and 3), in every application mode, mono and stereo,
//! at a low and a high bitrate,
//! then padded by libopus's own `opus_packet_pad` (code 3 with padding).

use opus::{Application, Bitrate, Channels, Encoder};
use talko_codecs::opus::toc::{Mode, OpusPacket};

/// A 440 Hz tone with some 3 kHz on top, so SILK, hybrid and CELT all have work to do.
fn tone(samples: usize, channels: usize, offset: usize) -> Vec<i16> {
    (0..samples * channels)
        .map(|i| {
            let t = (offset + i / channels) as f32 / 48_000.0;
            let s = (t * 440.0 * std::f32::consts::TAU).sin() * 0.4
                + (t * 3_000.0 * std::f32::consts::TAU).sin() * 0.1;
            (s * f32::from(i16::MAX)) as i16
        })
        .collect()
}

#[test]
fn libopus_packets_of_every_frame_size_and_mode_inspect_correctly() {
    let frame_sizes = [120, 240, 480, 960, 1920, 2880, 3840, 4800, 5760];
    let mut modes_seen = [false; 3];
    let mut codes_seen = [false; 4];
    for application in [Application::Voip, Application::Audio, Application::LowDelay] {
        for channels in [Channels::Mono, Channels::Stereo] {
            let n = channels as usize;
            for (frame, bitrate) in frame_sizes
                .into_iter()
                .flat_map(|f| [(f, 12_000), (f, 64_000)])
            {
                let mut encoder = Encoder::new(48_000, channels, application).unwrap();
                encoder.set_bitrate(Bitrate::Bits(bitrate)).unwrap();
                let mut out = [0u8; 4000];
                // A few packets, so the encoder settles into its steady-state mode.
                for k in 0..4 {
                    let pcm = tone(frame, n, k * frame);
                    let len = encoder.encode(&pcm, &mut out).unwrap();
                    let bytes = &out[..len];
                    let packet = OpusPacket::try_from(bytes).unwrap_or_else(|e| {
                        panic!("{application:?} {channels:?} {frame}: {e}: {bytes:02x?}")
                    });
                    assert_eq!(packet.duration_samples_48k() as usize, frame);
                    // A stereo encoder may code a frame as mono at a low bitrate.
                    let coded_stereo =
                        opus::packet::get_nb_channels(bytes).unwrap() == Channels::Stereo;
                    assert_eq!(packet.toc().stereo(), coded_stereo);
                    assert!(channels == Channels::Stereo || !coded_stereo);
                    let libopus = opus::packet::parse(bytes).unwrap();
                    assert_eq!(packet.frame_count(), libopus.frames.len());
                    assert!(packet.frames().eq(libopus.frames.iter().copied()));
                    let mode = packet.toc().mode();
                    modes_seen[mode as usize] = true;
                    codes_seen[usize::from(packet.toc().code())] = true;
                    if application == Application::LowDelay {
                        assert_eq!(mode, Mode::Celt);
                    }
                }
            }
        }
    }
    assert_eq!(modes_seen, [true; 3], "SILK, hybrid and CELT all produced");
    assert!(codes_seen[0] && codes_seen[3], "{codes_seen:?}");
}

#[test]
fn packets_padded_by_libopus_keep_their_frames() {
    let mut encoder = Encoder::new(48_000, Channels::Mono, Application::Voip).unwrap();
    for (k, frame) in [480usize, 960, 1920, 2880, 5760].into_iter().enumerate() {
        let mut buf = vec![0u8; 4000];
        let len = encoder.encode(&tone(frame, 1, k * 5760), &mut buf).unwrap();
        let original: Vec<Vec<u8>> = OpusPacket::try_from(&buf[..len])
            .unwrap()
            .frames()
            .map(<[u8]>::to_vec)
            .collect();
        // Pad to 600 more bytes: the padding length needs 255-continuation bytes.
        let padded_len = len + 600;
        opus::packet::pad(&mut buf[..padded_len], len).unwrap();
        let padded = OpusPacket::try_from(&buf[..padded_len]).unwrap();
        assert_eq!(padded.toc().code(), 3);
        assert_eq!(padded.duration_samples_48k() as usize, frame);
        assert!(padded.frames().eq(original.iter().map(Vec::as_slice)));
        assert!(padded.padding().len() >= 590, "{}", padded.padding().len());
        assert!(padded.padding().iter().all(|&b| b == 0));
    }
}
