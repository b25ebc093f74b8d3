//! The RTP and RTCP test corpus: hand-built datagrams, valid and hostile, each with the
//! verdict talko's parsers must reach. Other test binaries include this file
//! (`#[path = "rtp_corpus.rs"] mod corpus;`); on its own it checks those verdicts.

#![allow(dead_code)] // Each including binary uses a different part of the corpus.

use talko_codecs::rtcp::{self, RtcpError};
use talko_codecs::rtp::{RtpError, RtpPacket};

/// A datagram one byte over the default limit, otherwise a valid RTP packet.
pub static RTP_OVERSIZE: [u8; 1501] = {
    let mut b = [0u8; 1501];
    b[0] = 0x80;
    b[1] = 0x6F;
    b
};

/// A datagram one byte over the default limit, otherwise a valid RR + APP compound.
pub static RTCP_OVERSIZE: [u8; 1504] = {
    let mut b = [0u8; 1504];
    // RR, no blocks.
    b[0] = 0x80;
    b[1] = 201;
    b[3] = 1;
    // APP filling the rest: (1504 - 8) / 4 - 1 = 373 words.
    b[8] = 0x80;
    b[9] = 204;
    b[10] = (373u16 >> 8) as u8;
    b[11] = (373u16 & 0xFF) as u8;
    b
};

/// RTP datagrams and the result `RtpPacket::try_from` must give.
pub fn rtp() -> Vec<(&'static str, &'static [u8], Result<(), RtpError>)> {
    vec![
        (
            "minimal header, empty payload",
            &[
                0x80, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x0A, 0xDE, 0xAD, 0xBE, 0xEF,
            ],
            Ok(()),
        ),
        (
            "opus with RFC 6464 audio level (one-byte, id 1)",
            &[
                0x90, 0xEF, 0x12, 0x34, 0x00, 0x00, 0x03, 0xC0, 0x11, 0x22, 0x33, 0x44, //
                0xBE, 0xDE, 0x00, 0x01, 0x10, 0xA5, 0x00, 0x00, //
                0xFC, 0xFF, 0xFE,
            ],
            Ok(()),
        ),
        (
            "two CSRCs",
            &[
                0x82, 0x08, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x02, 0x03, 0x04, //
                0x00, 0x00, 0x00, 0x0B, 0x00, 0x00, 0x00, 0x0C, //
                0xAA,
            ],
            Ok(()),
        ),
        (
            // RFC 8285 §4.2 figure: ID 1 with 1 byte, ID 2 with 2, ID 3 with 4, padding.
            "RFC 8285 one-byte example",
            &[
                0x90, 0x60, 0x00, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, //
                0xBE, 0xDE, 0x00, 0x03, //
                0x10, 0xAA, 0x21, 0xBB, 0xBB, 0x33, 0xCC, 0xCC, 0xCC, 0xCC, 0x00, 0x00, //
                0x01, 0x02,
            ],
            Ok(()),
        ),
        (
            // RFC 8285 §4.3 figure: ID 1 empty, ID 2 with 1 byte, ID 3 with 4, padding.
            "RFC 8285 two-byte example",
            &[
                0x90, 0x60, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, //
                0x10, 0x00, 0x00, 0x03, //
                0x01, 0x00, 0x02, 0x01, 0xBB, 0x03, 0x04, 0xCC, 0xCC, 0xCC, 0xCC, 0x00, //
                0x09,
            ],
            Ok(()),
        ),
        (
            "two-byte form with appbits 0x1005",
            &[
                0x90, 0x60, 0x00, 0x05, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, //
                0x10, 0x05, 0x00, 0x01, 0xFF, 0x02, 0x01, 0x02,
            ],
            Ok(()),
        ),
        (
            "one-byte ID 15 stops parsing",
            &[
                0x90, 0x60, 0x00, 0x06, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, //
                0xBE, 0xDE, 0x00, 0x02, 0x10, 0x01, 0xF0, 0x22, 0x3F, 0x44, 0x55, 0x66,
            ],
            Ok(()),
        ),
        (
            "non-RFC 8285 extension profile kept opaque",
            &[
                0x90, 0x60, 0x00, 0x07, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, //
                0x12, 0x34, 0x00, 0x01, 0xDE, 0xAD, 0xBE, 0xEF, 0x42,
            ],
            Ok(()),
        ),
        (
            "padding of 3",
            &[
                0xA0, 0x60, 0x00, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, //
                0x01, 0x02, 0x03, 0x00, 0x00, 0x03,
            ],
            Ok(()),
        ),
        (
            "padding covering the whole payload",
            &[
                0xA0, 0x60, 0x00, 0x09, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, //
                0x00, 0x00, 0x00, 0x04,
            ],
            Ok(()),
        ),
        ("empty datagram", &[], Err(RtpError::Truncated)),
        (
            "11 bytes",
            &[
                0x80, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x0A, 0xDE, 0xAD, 0xBE,
            ],
            Err(RtpError::Truncated),
        ),
        (
            "version 1",
            &[
                0x40, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x0A, 0xDE, 0xAD, 0xBE, 0xEF,
            ],
            Err(RtpError::BadVersion),
        ),
        (
            "version 3",
            &[
                0xC0, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x0A, 0xDE, 0xAD, 0xBE, 0xEF, 0x00,
            ],
            Err(RtpError::BadVersion),
        ),
        (
            "CC 15 in a 36-byte packet",
            &[
                0x8F, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x0A, 0xDE, 0xAD, 0xBE, 0xEF, //
                0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x03, //
                0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x05, 0x00, 0x00, 0x00, 0x06,
            ],
            Err(RtpError::CsrcOverrun),
        ),
        (
            "extension length 0xFFFF past the end",
            &[
                0x90, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x0A, 0xDE, 0xAD, 0xBE, 0xEF, //
                0xBE, 0xDE, 0xFF, 0xFF, 0x10, 0xAA, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
            ],
            Err(RtpError::ExtensionOverrun),
        ),
        (
            "extension header cut short",
            &[
                0x90, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x0A, 0xDE, 0xAD, 0xBE, 0xEF, //
                0xBE, 0xDE, 0x00,
            ],
            Err(RtpError::ExtensionOverrun),
        ),
        (
            "extension after 15 CSRCs past the end",
            &[
                0x9F, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x0A, 0xDE, 0xAD, 0xBE, 0xEF, //
                0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4, 0, 0, 0, 5, //
                0, 0, 0, 6, 0, 0, 0, 7, 0, 0, 0, 8, 0, 0, 0, 9, 0, 0, 0, 10, //
                0, 0, 0, 11, 0, 0, 0, 12, 0, 0, 0, 13, 0, 0, 0, 14, 0, 0, 0, 15,
            ],
            Err(RtpError::ExtensionOverrun),
        ),
        (
            "one-byte element longer than its block",
            &[
                0x90, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x0A, 0xDE, 0xAD, 0xBE, 0xEF, //
                0xBE, 0xDE, 0x00, 0x01, 0x1F, 0xAA, 0xBB, 0xCC, 0x00, 0x00, 0x00, 0x00,
            ],
            Err(RtpError::ExtensionElementOverrun),
        ),
        (
            "two-byte element longer than its block",
            &[
                0x90, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x0A, 0xDE, 0xAD, 0xBE, 0xEF, //
                0x10, 0x00, 0x00, 0x01, 0x01, 0x09, 0xAA, 0xBB, 0x00, 0x00, 0x00, 0x00,
            ],
            Err(RtpError::ExtensionElementOverrun),
        ),
        (
            "two-byte element without its length byte",
            &[
                0x90, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x0A, 0xDE, 0xAD, 0xBE, 0xEF, //
                0x10, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x07,
            ],
            Err(RtpError::ExtensionElementOverrun),
        ),
        (
            "pad count 0",
            &[
                0xA0, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x0A, 0xDE, 0xAD, 0xBE, 0xEF, //
                0x01, 0x02, 0x03, 0x00,
            ],
            Err(RtpError::BadPadding),
        ),
        (
            "pad count larger than the payload",
            &[
                0xA0, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x0A, 0xDE, 0xAD, 0xBE, 0xEF, //
                0x01, 0x02, 0x05,
            ],
            Err(RtpError::BadPadding),
        ),
        (
            "padding bit with nothing after the header",
            &[
                0xA0, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x0A, 0xDE, 0xAD, 0xBE, 0x01,
            ],
            Err(RtpError::BadPadding),
        ),
        (
            "padding reaching into the extension",
            &[
                0xB0, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x0A, 0xDE, 0xAD, 0xBE, 0xEF, //
                0xBE, 0xDE, 0x00, 0x01, 0x10, 0xAA, 0x00, 0x00, 0x07, 0x03,
            ],
            Err(RtpError::BadPadding),
        ),
        (
            "datagram over 1500 bytes",
            &RTP_OVERSIZE,
            Err(RtpError::TooLarge),
        ),
    ]
}

/// RTCP datagrams: the number of packets `rtcp::packets` yields, or the first error.
pub fn rtcp() -> Vec<(&'static str, &'static [u8], Result<usize, RtcpError>)> {
    vec![
        (
            "SR with one block + SDES CNAME",
            &[
                0x81, 0xC8, 0x00, 0x0C, 0x11, 0x22, 0x33, 0x44, // SR, RC 1, 13 words
                0xE9, 0x4B, 0x3B, 0x80, 0x40, 0x00, 0x00, 0x00, // NTP
                0x00, 0x01, 0xE2, 0x40, 0x00, 0x00, 0x00, 0x64, // RTP ts, packets
                0x00, 0x00, 0x3E, 0x80, // octets
                0x55, 0x66, 0x77, 0x88, 0x19, 0xFF, 0xFF, 0xFE, // block: ssrc, 25/256, -2
                0x00, 0x01, 0x10, 0x00, 0x00, 0x00, 0x00, 0x20, // ext highest, jitter
                0xB8, 0x03, 0xC0, 0x00, 0x00, 0x01, 0x80, 0x00, // LSR, DLSR
                0x81, 0xCA, 0x00, 0x05, 0x11, 0x22, 0x33, 0x44, // SDES, 1 chunk, 6 words
                0x01, 0x0A, b't', b'a', b'l', b'k', b'o', b'@', b'h', b'o', //
                b's', b't', 0x00, 0x00, 0x00, 0x00,
            ],
            Ok(2),
        ),
        (
            "empty RR",
            &[0x80, 0xC9, 0x00, 0x01, 0x11, 0x22, 0x33, 0x44],
            Ok(1),
        ),
        (
            "RR + BYE with reason",
            &[
                0x80, 0xC9, 0x00, 0x01, 0x11, 0x22, 0x33, 0x44, //
                0x81, 0xCB, 0x00, 0x03, 0x11, 0x22, 0x33, 0x44, //
                0x05, b'l', b'e', b'a', b'v', b'e', 0x00, 0x00,
            ],
            Ok(2),
        ),
        (
            "RR + generic NACK with two pairs",
            &[
                0x80, 0xC9, 0x00, 0x01, 0x11, 0x22, 0x33, 0x44, //
                0x81, 0xCD, 0x00, 0x04, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, //
                0x00, 0x64, 0x00, 0x05, 0xFF, 0xFF, 0x80, 0x00,
            ],
            Ok(2),
        ),
        (
            "RR + PLI + FIR + REMB",
            &[
                0x80, 0xC9, 0x00, 0x01, 0x11, 0x22, 0x33, 0x44, //
                0x81, 0xCE, 0x00, 0x02, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, //
                0x84, 0xCE, 0x00, 0x04, 0x11, 0x22, 0x33, 0x44, 0x00, 0x00, 0x00, 0x00, //
                0x55, 0x66, 0x77, 0x88, 0x07, 0x00, 0x00, 0x00, //
                0x8F, 0xCE, 0x00, 0x05, 0x11, 0x22, 0x33, 0x44, 0x00, 0x00, 0x00, 0x00, //
                b'R', b'E', b'M', b'B', 0x01, 0x0A, 0x12, 0x34, 0x55, 0x66, 0x77, 0x88,
            ],
            Ok(4),
        ),
        (
            "RR + transport-wide feedback (RTPFB 15) + XR + APP + unknown 195",
            &[
                0x80, 0xC9, 0x00, 0x01, 0x11, 0x22, 0x33, 0x44, //
                0x8F, 0xCD, 0x00, 0x03, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, //
                0x00, 0x01, 0x00, 0x02, //
                0x80, 0xCF, 0x00, 0x03, 0x11, 0x22, 0x33, 0x44, 0x04, 0x00, 0x00, 0x02, //
                0x01, 0x02, 0x03, 0x04, //
                0x83, 0xCC, 0x00, 0x03, 0x11, 0x22, 0x33, 0x44, b't', b'a', b'l', b'k', //
                0xCA, 0xFE, 0xBA, 0xBE, //
                0x80, 0xC3, 0x00, 0x00,
            ],
            Ok(5),
        ),
        (
            "padded last packet",
            &[
                0x80, 0xC9, 0x00, 0x01, 0x11, 0x22, 0x33, 0x44, //
                0xA1, 0xCB, 0x00, 0x02, 0x11, 0x22, 0x33, 0x44, 0x00, 0x00, 0x00, 0x04,
            ],
            Ok(2),
        ),
        (
            "three bytes",
            &[0x80, 0xC9, 0x00],
            Err(RtcpError::Truncated),
        ),
        (
            "version 1",
            &[0x40, 0xC9, 0x00, 0x01, 0x11, 0x22, 0x33, 0x44],
            Err(RtcpError::BadVersion),
        ),
        (
            "length larger than the datagram",
            &[0x80, 0xC9, 0x00, 0x07, 0x11, 0x22, 0x33, 0x44],
            Err(RtcpError::LengthOverrun),
        ),
        (
            "second packet's length larger than the datagram",
            &[
                0x80, 0xC9, 0x00, 0x01, 0x11, 0x22, 0x33, 0x44, //
                0x81, 0xCB, 0xFF, 0xFF, 0x11, 0x22, 0x33, 0x44,
            ],
            Err(RtcpError::LengthOverrun),
        ),
        (
            "RR report count 5 in a packet with none",
            &[0x85, 0xC9, 0x00, 0x01, 0x11, 0x22, 0x33, 0x44],
            Err(RtcpError::ReportCountOverrun),
        ),
        (
            "SR report count 2 with one block",
            &[
                0x82, 0xC8, 0x00, 0x0C, 0x11, 0x22, 0x33, 0x44, //
                0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, //
                0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
            ],
            Err(RtcpError::ReportCountOverrun),
        ),
        (
            "SR without sender info",
            &[0x80, 0xC8, 0x00, 0x01, 0x11, 0x22, 0x33, 0x44],
            Err(RtcpError::Truncated),
        ),
        (
            "SDES item running past its chunk",
            &[
                0x81, 0xCA, 0x00, 0x02, 0x11, 0x22, 0x33, 0x44, 0x01, 0x0A, b'a', b'b',
            ],
            Err(RtcpError::SdesItemOverrun),
        ),
        (
            "SDES chunk without its null item",
            &[
                0x81, 0xCA, 0x00, 0x02, 0x11, 0x22, 0x33, 0x44, 0x01, 0x02, b'a', b'b',
            ],
            Err(RtcpError::SdesItemOverrun),
        ),
        (
            "SDES count 2 with one chunk",
            &[
                0x82, 0xCA, 0x00, 0x02, 0x11, 0x22, 0x33, 0x44, 0x01, 0x01, b'a', 0x00,
            ],
            Err(RtcpError::SourceCountOverrun),
        ),
        (
            "BYE reason longer than the packet",
            &[
                0x81, 0xCB, 0x00, 0x02, 0x11, 0x22, 0x33, 0x44, 0x08, b'a', b'b', b'c',
            ],
            Err(RtcpError::ByeReasonOverrun),
        ),
        (
            "BYE source count 31 in a one-source packet",
            &[0x9F, 0xCB, 0x00, 0x01, 0x11, 0x22, 0x33, 0x44],
            Err(RtcpError::SourceCountOverrun),
        ),
        (
            "pad count 0",
            &[0xA0, 0xC9, 0x00, 0x01, 0x11, 0x22, 0x33, 0x00],
            Err(RtcpError::BadPadding),
        ),
        (
            "pad count larger than the packet",
            &[0xA0, 0xC9, 0x00, 0x01, 0x11, 0x22, 0x33, 0x09],
            Err(RtcpError::BadPadding),
        ),
        (
            "padding on a packet that is not the last",
            &[
                0xA0, 0xC9, 0x00, 0x02, 0x11, 0x22, 0x33, 0x44, 0x00, 0x00, 0x00, 0x04, //
                0x81, 0xCB, 0x00, 0x01, 0x11, 0x22, 0x33, 0x44,
            ],
            Err(RtcpError::PaddingNotLast),
        ),
        (
            "NACK with a half entry left by padding",
            &[
                0xA1, 0xCD, 0x00, 0x03, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, //
                0x00, 0x64, 0x00, 0x02,
            ],
            Err(RtcpError::BadFci),
        ),
        (
            "feedback without media SSRC",
            &[0x81, 0xCE, 0x00, 0x01, 0x11, 0x22, 0x33, 0x44],
            Err(RtcpError::Truncated),
        ),
    ]
}

/// Walks a parsed RTP packet through every accessor; returns a digest so the work
/// cannot be optimised away.
pub fn walk_rtp(p: &RtpPacket<'_>) -> u64 {
    let mut d = Digest(0);
    d.add(p.version());
    d.add(p.padding());
    d.add(p.extension());
    d.add(p.marker());
    d.add(p.payload_type());
    d.add(p.sequence_number());
    d.add(p.timestamp());
    d.add(p.ssrc());
    d.add(p.csrc_count() as u64);
    d.add(p.header_len() as u64);
    d.add(p.payload().len() as u64);
    d.add(p.padding_len() as u64);
    d.add(p.as_bytes().len() as u64);
    p.csrcs().for_each(|c| d.add(c));
    d.add(p.extension_profile().unwrap_or(0));
    d.add(p.extension_data().map_or(0, |e| e.len() as u64));
    for e in p.extensions() {
        d.add(e.id);
        d.add(e.data.len() as u64);
    }
    d.0
}

/// Walks every packet of an RTCP datagram through every accessor; returns the number of
/// packets (errors included) and a digest.
pub fn walk_rtcp(buf: &[u8]) -> (usize, u64) {
    use talko_codecs::rtcp::RtcpPacket as P;
    let mut n = 0;
    let mut d = Digest(0);
    for p in rtcp::packets(buf) {
        n += 1;
        let Ok(p) = p else { continue };
        d.add(p.packet_type());
        match p {
            P::SenderReport(sr) => {
                d.add(sr.ssrc());
                d.add(sr.ntp_timestamp());
                d.add(sr.rtp_timestamp());
                d.add(sr.packet_count());
                d.add(sr.octet_count());
                d.add(sr.profile_extension().len() as u64);
                for b in sr.report_blocks() {
                    d.add(b.ssrc);
                    d.add(b.cumulative_lost as u64);
                    d.add(b.dlsr);
                }
            }
            P::ReceiverReport(rr) => {
                d.add(rr.ssrc());
                d.add(rr.profile_extension().len() as u64);
                for b in rr.report_blocks() {
                    d.add(b.ssrc);
                    d.add(b.jitter);
                    d.add(b.lsr);
                    d.add(b.fraction_lost);
                    d.add(b.highest_seq);
                }
            }
            P::Sdes(s) => {
                for c in s.chunks() {
                    d.add(c.ssrc);
                    for i in c.items() {
                        d.add(i.item_type);
                        d.add(i.data.len() as u64);
                    }
                }
            }
            P::Bye(b) => {
                b.ssrcs().for_each(|s| d.add(s));
                d.add(b.reason().map_or(0, |r| r.len() as u64));
            }
            P::App(a) => {
                d.add(a.subtype);
                d.add(a.ssrc);
                d.add(a.data.len() as u64);
            }
            P::Nack(nack) => {
                nack.pairs().for_each(|(p, b)| d.add(p ^ b));
                nack.lost().for_each(|s| d.add(s));
            }
            P::Pli(p) => d.add(p.media_ssrc),
            P::Fir(f) => f.entries().for_each(|e| d.add(e.seq)),
            P::TransportFeedback(f) | P::PayloadFeedback(f) => d.add(f.fci.len() as u64),
            P::Xr(x) => d.add(x.blocks.len() as u64),
            P::Unknown { body, .. } => d.add(body.len() as u64),
        }
    }
    (n, d.0)
}

/// A wrapping sum that keeps walked values observable.
pub struct Digest(pub u64);

impl Digest {
    pub fn add(&mut self, v: impl Into<u64>) {
        self.0 = self.0.wrapping_mul(31).wrapping_add(v.into());
    }
}

/// The first error `rtcp::packets` yields, else the number of packets.
pub fn rtcp_verdict(buf: &[u8]) -> Result<usize, RtcpError> {
    let mut n = 0;
    for p in rtcp::packets(buf) {
        p?;
        n += 1;
    }
    Ok(n)
}

#[test]
fn every_rtp_corpus_entry_gets_its_verdict() {
    for (name, buf, want) in rtp() {
        let got = RtpPacket::try_from(buf).map(|p| {
            walk_rtp(&p);
        });
        assert_eq!(got, want, "{name}");
    }
}

#[test]
fn every_rtcp_corpus_entry_gets_its_verdict() {
    for (name, buf, want) in rtcp() {
        assert_eq!(rtcp_verdict(buf), want, "{name}");
        walk_rtcp(buf);
    }
}

#[test]
fn oversize_rtcp_is_refused_by_the_limit_only() {
    assert_eq!(
        rtcp::Compound::try_from(&RTCP_OVERSIZE[..]),
        Err(RtcpError::TooLarge)
    );
    let c = rtcp::Compound::parse_with_limit(&RTCP_OVERSIZE, 2048).expect("valid under 2048");
    assert_eq!(c.iter().count(), 2);
}
