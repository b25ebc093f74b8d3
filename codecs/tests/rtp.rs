//! RTP view, writer and forwarding rewrite: field values, RFC 8285 rules, one test per
//! bad-input class, and a round trip for every writer feature.

use talko_codecs::rtp::{
    audio_level, rewrite_header, AudioLevel, Extension, RtpError, RtpHeader, RtpPacket,
    MAX_DATAGRAM,
};

fn parse(buf: &[u8]) -> Result<RtpPacket<'_>, RtpError> {
    RtpPacket::try_from(buf)
}

fn header12(b0: u8) -> Vec<u8> {
    vec![
        b0, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x0A, 0xDE, 0xAD, 0xBE, 0xEF,
    ]
}

// RFC 3550 §5.1 header layout, every field at a distinct value.
#[test]
fn fixed_header_fields_are_read_from_their_rfc_3550_positions() {
    let buf = [
        0x82, 0xEF, 0xAB, 0xCD, 0x01, 0x02, 0x03, 0x04, 0xCA, 0xFE, 0xF0, 0x0D, //
        0x00, 0x00, 0x00, 0x0B, 0xFF, 0xFF, 0xFF, 0xFF, //
        0x11, 0x22,
    ];
    let p = parse(&buf).expect("valid");
    assert_eq!(p.version(), 2);
    assert!(!p.padding());
    assert!(!p.extension());
    assert!(p.marker());
    assert_eq!(p.payload_type(), 111);
    assert_eq!(p.sequence_number(), 0xABCD);
    assert_eq!(p.timestamp(), 0x0102_0304);
    assert_eq!(p.ssrc(), 0xCAFE_F00D);
    assert_eq!(p.csrc_count(), 2);
    assert_eq!(p.csrcs().collect::<Vec<_>>(), vec![11, 0xFFFF_FFFF]);
    assert_eq!(p.extension_profile(), None);
    assert_eq!(p.extension_data(), None);
    assert_eq!(p.extensions().count(), 0);
    assert_eq!(p.header_len(), 20);
    assert_eq!(p.payload(), &[0x11, 0x22]);
    assert_eq!(p.padding_len(), 0);
    assert_eq!(p.as_bytes(), &buf[..]);
}

// RFC 8285 §4.2 figure: ID 1 (1 byte), ID 2 (2 bytes), ID 3 (4 bytes), then padding.
#[test]
fn one_byte_extensions_follow_rfc_8285_lengths_and_skip_padding() {
    let buf = [
        0x90, 0x60, 0x00, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, //
        0xBE, 0xDE, 0x00, 0x03, //
        0x10, 0xAA, 0x21, 0xBB, 0xBB, 0x33, 0xCC, 0xCC, 0xCC, 0xCC, 0x00, 0x00, //
        0x01, 0x02,
    ];
    let p = parse(&buf).expect("valid");
    assert_eq!(p.extension_profile(), Some(0xBEDE));
    assert_eq!(p.extension_data().map(<[u8]>::len), Some(12));
    let ext: Vec<_> = p.extensions().collect();
    assert_eq!(
        ext,
        vec![
            Extension {
                id: 1,
                data: &[0xAA]
            },
            Extension {
                id: 2,
                data: &[0xBB, 0xBB]
            },
            Extension {
                id: 3,
                data: &[0xCC; 4]
            },
        ]
    );
    assert_eq!(p.header_len(), 28);
    assert_eq!(p.payload(), &[0x01, 0x02]);
}

// RFC 8285 §4.3 figure, with appbits in the profile's low nibble.
#[test]
fn two_byte_extensions_allow_empty_elements_and_appbits() {
    let mut buf = vec![
        0x90, 0x60, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, //
        0x10, 0x0A, 0x00, 0x03, //
        0x01, 0x00, 0x02, 0x01, 0xBB, 0x00, 0xF3, 0x03, 0xCC, 0xCC, 0xCC, 0x00, //
        0x09,
    ];
    let p = parse(&buf).expect("valid");
    assert_eq!(p.extension_profile(), Some(0x100A));
    let ext: Vec<_> = p.extensions().map(|e| (e.id, e.data.to_vec())).collect();
    assert_eq!(
        ext,
        vec![(1, vec![]), (2, vec![0xBB]), (0xF3, vec![0xCC; 3])]
    );
    assert_eq!(p.payload(), &[0x09]);
    // The same block under an unrelated profile is opaque: no elements.
    buf[12] = 0x12;
    let p = parse(&buf).expect("valid");
    assert_eq!(p.extensions().count(), 0);
    assert_eq!(p.extension_data().map(<[u8]>::len), Some(12));
}

#[test]
fn one_byte_id_15_ends_extension_parsing() {
    let buf = [
        0x90, 0x60, 0x00, 0x06, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, //
        0xBE, 0xDE, 0x00, 0x02, 0x10, 0x01, 0xF0, 0x22, 0x3F, 0x44, 0x55, 0x66,
    ];
    let p = parse(&buf).expect("valid");
    let ids: Vec<_> = p.extensions().map(|e| e.id).collect();
    assert_eq!(ids, vec![1]);
    assert_eq!(p.header_len(), buf.len());
}

#[test]
fn one_byte_id_0_with_a_length_ends_extension_parsing() {
    let buf = [
        0x90, 0x60, 0x00, 0x06, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, //
        0xBE, 0xDE, 0x00, 0x02, 0x10, 0x01, 0x00, 0x03, 0x20, 0x44, 0x55, 0x66,
    ];
    let p = parse(&buf).expect("valid");
    let ids: Vec<_> = p.extensions().map(|e| e.id).collect();
    assert_eq!(ids, vec![1]);
}

// RFC 6464 §3: V flag in the top bit, level in −dBov below it.
#[test]
fn audio_level_reads_voice_flag_and_level() {
    let buf = [
        0x90, 0xEF, 0x12, 0x34, 0x00, 0x00, 0x03, 0xC0, 0x11, 0x22, 0x33, 0x44, //
        0xBE, 0xDE, 0x00, 0x01, 0x30, 0xA5, 0x00, 0x00, //
        0xFC, 0xFF, 0xFE,
    ];
    let p = parse(&buf).expect("valid");
    assert_eq!(
        audio_level(&p, 3),
        Some(AudioLevel {
            voice: true,
            level_dbov: 0x25
        })
    );
    assert_eq!(audio_level(&p, 1), None);
    let plain_buf = header12(0x80);
    let plain = parse(&plain_buf).expect("valid header alone");
    assert_eq!(audio_level(&plain, 3), None);
}

#[test]
fn padding_is_excluded_from_the_payload() {
    let mut buf = header12(0xA0);
    buf.extend_from_slice(&[0x01, 0x02, 0x03, 0x00, 0x00, 0x03]);
    let p = parse(&buf).expect("valid");
    assert!(p.padding());
    assert_eq!(p.padding_len(), 3);
    assert_eq!(p.payload(), &[0x01, 0x02, 0x03]);
}

#[test]
fn datagram_under_12_bytes_is_truncated() {
    for n in 0..12 {
        let buf = header12(0x80);
        assert_eq!(parse(&buf[..n]), Err(RtpError::Truncated), "{n} bytes");
    }
}

#[test]
fn version_other_than_2_is_rejected() {
    for b0 in [0x00, 0x40, 0xC0] {
        assert_eq!(parse(&header12(b0)), Err(RtpError::BadVersion));
    }
}

#[test]
fn csrc_count_15_in_a_short_packet_is_rejected() {
    let mut buf = header12(0x8F);
    buf.resize(12 + 4 * 15 - 1, 0);
    assert_eq!(parse(&buf), Err(RtpError::CsrcOverrun));
    buf.push(0);
    assert_eq!(parse(&buf).map(|p| p.csrcs().count()), Ok(15));
}

#[test]
fn extension_length_ffff_past_the_end_is_rejected() {
    let mut buf = header12(0x90);
    buf.extend_from_slice(&[0xBE, 0xDE, 0xFF, 0xFF]);
    buf.resize(200, 0);
    assert_eq!(parse(&buf), Err(RtpError::ExtensionOverrun));
}

#[test]
fn extension_element_past_its_block_is_rejected() {
    let mut buf = header12(0x90);
    // One-byte element of 16 bytes in a one-word block, payload bytes after it.
    buf.extend_from_slice(&[0xBE, 0xDE, 0x00, 0x01, 0x1F, 0xAA, 0xBB, 0xCC]);
    buf.resize(60, 0);
    assert_eq!(parse(&buf), Err(RtpError::ExtensionElementOverrun));
}

#[test]
fn pad_count_zero_is_rejected() {
    let mut buf = header12(0xA0);
    buf.extend_from_slice(&[0x01, 0x02, 0x03, 0x00]);
    assert_eq!(parse(&buf), Err(RtpError::BadPadding));
}

#[test]
fn pad_count_larger_than_the_payload_is_rejected() {
    let mut buf = header12(0xA0);
    buf.extend_from_slice(&[0x01, 0x02, 0x05]);
    assert_eq!(parse(&buf), Err(RtpError::BadPadding));
    // Exactly the bytes after the header is still fine.
    let last = buf.len() - 1;
    buf[last] = 3;
    assert_eq!(parse(&buf).map(|p| p.payload().len()), Ok(0));
}

#[test]
fn datagram_over_the_configured_maximum_is_rejected() {
    let mut buf = header12(0x80);
    buf.resize(MAX_DATAGRAM, 0x55);
    assert!(parse(&buf).is_ok());
    buf.push(0x55);
    assert_eq!(parse(&buf), Err(RtpError::TooLarge));
    assert_eq!(
        RtpPacket::parse_with_limit(&buf, 9000).map(|p| p.payload().len()),
        Ok(MAX_DATAGRAM + 1 - 12)
    );
    assert_eq!(
        RtpPacket::parse_with_limit(&buf[..200], 199),
        Err(RtpError::TooLarge)
    );
}

fn round_trip(h: &RtpHeader<'_>, payload: &[u8]) {
    let mut out = [0u8; 2048];
    let n = h.write(payload, &mut out).expect("fits");
    assert_eq!(n, h.len(payload.len()));
    let p = parse(&out[..n]).expect("writer output parses");
    assert_eq!(p.marker(), h.marker);
    assert_eq!(p.payload_type(), h.payload_type);
    assert_eq!(p.sequence_number(), h.sequence_number);
    assert_eq!(p.timestamp(), h.timestamp);
    assert_eq!(p.ssrc(), h.ssrc);
    assert!(p.csrcs().eq(h.csrcs.iter().copied()));
    assert!(p.extensions().eq(h.extensions.iter().copied()));
    assert_eq!(p.extension(), !h.extensions.is_empty());
    assert_eq!(p.payload(), payload);
    assert_eq!(p.padding_len(), usize::from(h.padding));
    assert_eq!(p.header_len(), h.header_len());
    assert_eq!(p.header_len() % 4, 0);
}

#[test]
fn writer_round_trips_a_plain_packet() {
    round_trip(
        &RtpHeader {
            marker: true,
            payload_type: 111,
            sequence_number: 65535,
            timestamp: 0xFFFF_FF00,
            ssrc: 0x1234_5678,
            ..RtpHeader::default()
        },
        &[0xAB; 160],
    );
}

#[test]
fn writer_round_trips_csrcs_one_byte_extensions_and_padding() {
    let csrcs: Vec<u32> = (1..=15).collect();
    let exts = [
        Extension {
            id: 1,
            data: &[0x85],
        },
        Extension {
            id: 14,
            data: &[7; 16],
        },
    ];
    let h = RtpHeader {
        payload_type: 96,
        sequence_number: 7,
        timestamp: 960,
        ssrc: 42,
        csrcs: &csrcs,
        extensions: &exts,
        padding: 5,
        ..RtpHeader::default()
    };
    round_trip(&h, b"opus frame");
    let mut out = [0u8; 256];
    let n = h.write(b"x", &mut out).expect("fits");
    // One-byte form chosen: profile 0xBEDE right after the 15 CSRCs.
    assert_eq!(&out[72..74], &[0xBE, 0xDE]);
    assert_eq!(out[n - 1], 5);
}

#[test]
fn writer_uses_two_byte_form_when_an_element_does_not_fit_one_byte() {
    let long = [9u8; 200];
    for exts in [
        [
            Extension { id: 1, data: &[1] },
            Extension { id: 2, data: &long },
        ],
        [
            Extension { id: 1, data: &[1] },
            Extension { id: 2, data: &[] },
        ],
        [
            Extension { id: 1, data: &[1] },
            Extension {
                id: 200,
                data: &[3, 4],
            },
        ],
    ] {
        let h = RtpHeader {
            payload_type: 111,
            extensions: &exts,
            ..RtpHeader::default()
        };
        round_trip(&h, &[1, 2, 3]);
        let mut out = [0u8; 512];
        h.write(&[], &mut out).expect("fits");
        assert_eq!(&out[12..14], &[0x10, 0x00]);
    }
}

#[test]
fn writer_refuses_what_it_cannot_encode() {
    let mut out = [0u8; 1500];
    let sixteen = [0u32; 16];
    let h = RtpHeader {
        csrcs: &sixteen,
        ..RtpHeader::default()
    };
    assert_eq!(h.write(&[], &mut out), Err(RtpError::TooManyCsrcs));
    let h = RtpHeader {
        payload_type: 128,
        ..RtpHeader::default()
    };
    assert_eq!(h.write(&[], &mut out), Err(RtpError::BadPayloadType));
    let too_long = [0u8; 256];
    for bad in [
        Extension { id: 0, data: &[1] },
        Extension {
            id: 3,
            data: &too_long,
        },
    ] {
        let exts = [bad];
        let h = RtpHeader {
            extensions: &exts,
            ..RtpHeader::default()
        };
        assert_eq!(h.write(&[], &mut out), Err(RtpError::BadExtension));
    }
}

#[test]
fn writer_reports_a_short_buffer_without_writing_past_it() {
    let h = RtpHeader {
        payload_type: 0,
        padding: 4,
        ..RtpHeader::default()
    };
    let need = h.len(20);
    let mut out = vec![0u8; need];
    for short in 0..need {
        assert_eq!(
            h.write(&[1; 20], &mut out[..short]),
            Err(RtpError::BufferTooSmall)
        );
    }
    assert_eq!(h.write(&[1; 20], &mut out), Ok(need));
}

#[test]
fn rewrite_header_changes_only_ssrc_sequence_and_timestamp() {
    let exts = [Extension {
        id: 1,
        data: &[0x90],
    }];
    let csrcs = [5, 6];
    let h = RtpHeader {
        marker: true,
        payload_type: 111,
        sequence_number: 1,
        timestamp: 2,
        ssrc: 3,
        csrcs: &csrcs,
        extensions: &exts,
        padding: 2,
    };
    let mut out = [0u8; 128];
    let n = h.write(b"payload", &mut out).expect("fits");
    let before = out;
    rewrite_header(&mut out[..n], 0xAABB_CCDD, 0xFFFE, 0x8000_0001).expect("valid");
    let p = parse(&out[..n]).expect("still valid");
    assert_eq!(p.ssrc(), 0xAABB_CCDD);
    assert_eq!(p.sequence_number(), 0xFFFE);
    assert_eq!(p.timestamp(), 0x8000_0001);
    assert!(p.marker());
    assert_eq!(p.payload(), b"payload");
    assert_eq!(&out[..2], &before[..2]);
    assert_eq!(&out[12..n], &before[12..n]);
}

#[test]
fn rewrite_header_refuses_short_or_foreign_buffers() {
    let mut short = [0x80u8; 11];
    assert_eq!(
        rewrite_header(&mut short, 1, 2, 3),
        Err(RtpError::Truncated)
    );
    assert_eq!(short, [0x80u8; 11]);
    let mut v1 = header12(0x40);
    assert_eq!(rewrite_header(&mut v1, 1, 2, 3), Err(RtpError::BadVersion));
    assert_eq!(v1, header12(0x40));
}

#[test]
fn errors_describe_themselves() {
    let e: Box<dyn std::error::Error> = Box::new(RtpError::CsrcOverrun);
    assert!(e.to_string().contains("CSRC"));
}

// The basic packet of pion/rtp's and webrtc-rs' test suites: profile 0x0001 (opaque)
// with one word of extension data.
#[test]
fn reference_packet_from_pion_reads_its_published_fields() {
    let buf = [
        0x90, 0xE0, 0x69, 0x8F, 0xD9, 0xC2, 0x93, 0xDA, 0x1C, 0x64, 0x27, 0x82, 0x00, 0x01, 0x00,
        0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0x98, 0x36, 0xBE, 0x88, 0x9E,
    ];
    let p = parse(&buf).expect("valid");
    assert!(p.marker());
    assert_eq!(p.payload_type(), 96);
    assert_eq!(p.sequence_number(), 27023);
    assert_eq!(p.timestamp(), 3_653_407_706);
    assert_eq!(p.ssrc(), 476_325_762);
    assert_eq!(p.extension_profile(), Some(1));
    assert_eq!(p.extension_data(), Some(&[0xFF; 4][..]));
    assert_eq!(p.extensions().count(), 0);
    assert_eq!(p.header_len(), 20);
    assert_eq!(p.payload(), &[0x98, 0x36, 0xBE, 0x88, 0x9E]);
    // The same header without its extension data is refused.
    assert_eq!(parse(&buf[..12]), Err(RtpError::ExtensionOverrun));
}
