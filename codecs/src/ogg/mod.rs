//! Ogg Opus files (RFC 7845 on the RFC 3533 container): a streaming writer and a
//! validating reader.
//!
//! This module owns the page format (capture pattern, header, segment table, lacing, the
//! page checksum), the Opus header packets (`OpusHead`, `OpusTags`) and the granule
//! position rules. [`OggOpusWriter`] turns Opus packets into pages on any `Write`, reusing
//! one page buffer; [`OggOpusReader`] parses a whole file from a byte slice and checks
//! every rule the writer follows. [`repair`] helps finalize a file a crash left without
//! an end-of-stream page.
//!
//! It must never decode or encode audio, read a clock, or panic on any input: every
//! malformed byte string gives an [`OggError`].

mod crc;
mod reader;
pub mod repair;
mod writer;

use core::fmt;

pub use crc::{page_checksum, update as crc_update, POLYNOMIAL as CRC_POLYNOMIAL};
pub use reader::{OggOpusReader, OggPacket, Page, PageIter};
pub use writer::OggOpusWriter;

/// The capture pattern that starts every page (RFC 3533 §6).
pub const CAPTURE_PATTERN: &[u8; 4] = b"OggS";
/// Bytes of a page header before its segment table.
pub const PAGE_HEADER_LEN: usize = 27;
/// The most segments (lacing values) one page can hold.
pub const MAX_SEGMENTS: usize = 255;
/// The largest page: header, a full segment table and 255 full segments.
pub const MAX_PAGE_LEN: usize = PAGE_HEADER_LEN + MAX_SEGMENTS + MAX_SEGMENTS * 255;
/// The largest packet the writer and reader accept: one full page of segments. Opus
/// packets stay far below (120 ms of 1275-byte frames is 61,200 bytes).
pub const MAX_PACKET_LEN: usize = MAX_SEGMENTS * 255;
/// Opus always counts granule positions at 48 kHz (RFC 7845 §4).
pub const GRANULE_RATE: u32 = 48_000;
/// libopus' encoder lookahead at 48 kHz (6.5 ms), the usual pre-skip (RFC 7845 §4.2).
pub const DEFAULT_PRE_SKIP: u16 = 312;

/// Page header flag: the page starts with the continuation of a packet.
pub const FLAG_CONTINUED: u8 = 0x01;
/// Page header flag: first page of a logical stream.
pub const FLAG_BOS: u8 = 0x02;
/// Page header flag: last page of a logical stream.
pub const FLAG_EOS: u8 = 0x04;

/// What was wrong with an Ogg Opus file, or why writing failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OggError {
    /// The data ended inside a page.
    Truncated,
    /// A page does not start with `OggS`.
    BadCapture,
    /// A page's stream structure version is not 0.
    BadVersion,
    /// A page's checksum does not match its contents.
    BadChecksum,
    /// A page header has flag bits RFC 3533 does not define.
    BadFlags,
    /// The first page is not a beginning-of-stream page, or a later one is.
    BadBos,
    /// A page belongs to another logical stream (chained or multiplexed files).
    OtherStream,
    /// Page sequence numbers are not consecutive.
    BadSequence,
    /// A page claims to continue a packet when none was open, or the reverse.
    BadContinuation,
    /// The first packet is not a valid `OpusHead`.
    BadHead,
    /// `OpusHead` does not sit alone on the first page.
    HeadNotAlone,
    /// The second packet is not a valid `OpusTags`.
    BadTags,
    /// `OpusTags` does not end its page.
    TagsNotEndingPage,
    /// A header page has a granule position other than 0.
    HeaderGranule,
    /// A page's granule position is smaller than an earlier one's.
    GranuleBackwards,
    /// A page follows the end-of-stream page.
    PageAfterEos,
    /// The stream has no end-of-stream page.
    MissingEos,
    /// An audio packet is empty or has an invalid TOC/frame count (RFC 6716 §3).
    BadPacket,
    /// A packet is larger than this implementation accepts.
    PacketTooLarge,
    /// A packet was written after [`OggOpusWriter::finish`] began, or the writer failed
    /// before and its output is no longer consistent.
    WriterClosed,
    /// The underlying writer failed.
    Io(std::io::ErrorKind),
}

impl fmt::Display for OggError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            OggError::Truncated => "ogg: data ends inside a page",
            OggError::BadCapture => "ogg: page does not start with OggS",
            OggError::BadVersion => "ogg: unsupported page version",
            OggError::BadChecksum => "ogg: page checksum mismatch",
            OggError::BadFlags => "ogg: undefined page header flags",
            OggError::BadBos => "ogg: beginning-of-stream flag misplaced",
            OggError::OtherStream => "ogg: page of another logical stream",
            OggError::BadSequence => "ogg: page sequence numbers not consecutive",
            OggError::BadContinuation => "ogg: packet continuation flag inconsistent",
            OggError::BadHead => "ogg: invalid OpusHead packet",
            OggError::HeadNotAlone => "ogg: OpusHead not alone on the first page",
            OggError::BadTags => "ogg: invalid OpusTags packet",
            OggError::TagsNotEndingPage => "ogg: OpusTags does not end its page",
            OggError::HeaderGranule => "ogg: header page with non-zero granule position",
            OggError::GranuleBackwards => "ogg: granule position goes backwards",
            OggError::PageAfterEos => "ogg: page after end of stream",
            OggError::MissingEos => "ogg: no end-of-stream page",
            OggError::BadPacket => "ogg: invalid Opus packet",
            OggError::PacketTooLarge => "ogg: packet too large",
            OggError::WriterClosed => "ogg: writer already finished or failed",
            OggError::Io(kind) => return write!(f, "ogg: write failed: {kind}"),
        };
        f.write_str(s)
    }
}

impl std::error::Error for OggError {}

impl From<std::io::Error> for OggError {
    fn from(e: std::io::Error) -> Self {
        OggError::Io(e.kind())
    }
}

/// The identification header, `OpusHead` (RFC 7845 §5.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpusHead {
    /// Output channel count (1 or 2 for mapping family 0).
    pub channels: u8,
    /// Samples at 48 kHz to discard from the decoder output at the start.
    pub pre_skip: u16,
    /// The original input sample rate in Hz (informational; 0 = unspecified).
    pub input_sample_rate: u32,
    /// Output gain in Q7.8 dB.
    pub output_gain: i16,
    /// Channel mapping family. The writer only produces family 0.
    pub mapping_family: u8,
}

impl OpusHead {
    /// Length of a family-0 `OpusHead` packet.
    pub const LEN: usize = 19;
    /// Magic signature.
    pub const MAGIC: &'static [u8; 8] = b"OpusHead";

    /// A family-0 header for `channels` channels at the default pre-skip.
    pub fn new(channels: u8, input_sample_rate: u32) -> OpusHead {
        OpusHead {
            channels,
            pre_skip: DEFAULT_PRE_SKIP,
            input_sample_rate,
            output_gain: 0,
            mapping_family: 0,
        }
    }

    /// Serialises a family-0 header.
    pub fn to_bytes(&self) -> [u8; Self::LEN] {
        let mut b = [0u8; Self::LEN];
        b[..8].copy_from_slice(Self::MAGIC);
        b[8] = 1; // version
        b[9] = self.channels;
        b[10..12].copy_from_slice(&self.pre_skip.to_le_bytes());
        b[12..16].copy_from_slice(&self.input_sample_rate.to_le_bytes());
        b[16..18].copy_from_slice(&self.output_gain.to_le_bytes());
        b[18] = self.mapping_family;
        b
    }

    /// Parses an `OpusHead` packet (RFC 7845 §5.1), accepting any version 0.x and the
    /// channel mapping table of families other than 0.
    pub fn parse(packet: &[u8]) -> Result<OpusHead, OggError> {
        let (magic, rest) = packet.split_at_checked(8).ok_or(OggError::BadHead)?;
        if magic != Self::MAGIC {
            return Err(OggError::BadHead);
        }
        let fixed = rest.get(..11).ok_or(OggError::BadHead)?;
        let &[version, channels, p0, p1, r0, r1, r2, r3, g0, g1, family] = fixed else {
            return Err(OggError::BadHead);
        };
        // Major version 0 is the only one defined; minor versions stay compatible.
        if version & 0xF0 != 0 || channels == 0 {
            return Err(OggError::BadHead);
        }
        let table = rest.get(11..).unwrap_or(&[]);
        match family {
            0 if channels <= 2 => {}
            0 => return Err(OggError::BadHead),
            // Other families carry stream count, coupled count and one byte per channel.
            _ if table.len() < 2 + usize::from(channels) => return Err(OggError::BadHead),
            _ => {}
        }
        Ok(OpusHead {
            channels,
            pre_skip: u16::from_le_bytes([p0, p1]),
            input_sample_rate: u32::from_le_bytes([r0, r1, r2, r3]),
            output_gain: i16::from_le_bytes([g0, g1]),
            mapping_family: family,
        })
    }
}

/// The comment header, `OpusTags` (RFC 7845 §5.2), as borrowed strings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpusTags<'a> {
    /// The vendor string.
    pub vendor: &'a str,
    /// `NAME=value` user comments.
    pub comments: &'a [&'a str],
}

/// Magic signature of `OpusTags`.
pub const TAGS_MAGIC: &[u8; 8] = b"OpusTags";

/// Serialises an `OpusTags` packet into `out` (cleared first).
pub fn write_tags(tags: &OpusTags<'_>, out: &mut Vec<u8>) -> Result<(), OggError> {
    out.clear();
    out.extend_from_slice(TAGS_MAGIC);
    let len = |s: &str| u32::try_from(s.len()).map_err(|_| OggError::PacketTooLarge);
    out.extend_from_slice(&len(tags.vendor)?.to_le_bytes());
    out.extend_from_slice(tags.vendor.as_bytes());
    let count = u32::try_from(tags.comments.len()).map_err(|_| OggError::PacketTooLarge)?;
    out.extend_from_slice(&count.to_le_bytes());
    for c in tags.comments {
        out.extend_from_slice(&len(c)?.to_le_bytes());
        out.extend_from_slice(c.as_bytes());
    }
    Ok(())
}

/// Parsed `OpusTags`, owning its strings (the reader is a verification tool, not a hot path).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ParsedTags {
    /// The vendor string.
    pub vendor: String,
    /// `NAME=value` user comments.
    pub comments: Vec<String>,
}

impl ParsedTags {
    /// Parses an `OpusTags` packet; strings must be UTF-8 (RFC 7845 §5.2). Bytes after the
    /// comment list are allowed (the RFC reserves them for binary data).
    pub fn parse(packet: &[u8]) -> Result<ParsedTags, OggError> {
        fn take<'a>(buf: &mut &'a [u8], n: usize) -> Result<&'a [u8], OggError> {
            let (head, tail) = buf.split_at_checked(n).ok_or(OggError::BadTags)?;
            *buf = tail;
            Ok(head)
        }
        fn take_u32(buf: &mut &[u8]) -> Result<usize, OggError> {
            let b = take(buf, 4)?;
            let v = u32::from_le_bytes(b.try_into().map_err(|_| OggError::BadTags)?);
            usize::try_from(v).map_err(|_| OggError::BadTags)
        }
        fn take_str(buf: &mut &[u8]) -> Result<String, OggError> {
            let n = take_u32(buf)?;
            let raw = take(buf, n)?;
            core::str::from_utf8(raw)
                .map(str::to_owned)
                .map_err(|_| OggError::BadTags)
        }
        let mut buf = packet;
        if take(&mut buf, 8)? != TAGS_MAGIC {
            return Err(OggError::BadTags);
        }
        let vendor = take_str(&mut buf)?;
        let count = take_u32(&mut buf)?;
        // Each comment needs at least its 4-byte length: bound the count before reserving.
        if count > buf.len() / 4 {
            return Err(OggError::BadTags);
        }
        let mut comments = Vec::with_capacity(count);
        for _ in 0..count {
            comments.push(take_str(&mut buf)?);
        }
        Ok(ParsedTags { vendor, comments })
    }
}

/// The duration of an Opus packet in 48 kHz samples, from its TOC byte and, for code 3,
/// its frame-count byte (RFC 6716 §3.1–3.2). `None` for an empty packet, a code 3 packet
/// without a count byte or with zero frames, or more than 120 ms.
pub fn packet_samples(packet: &[u8]) -> Option<u32> {
    let toc = *packet.first()?;
    let config = toc >> 3;
    // Frame sizes in 48 kHz samples (RFC 6716 Table 2).
    let frame: u32 = match config {
        0..=11 => [480, 960, 1920, 2880][usize::from(config % 4)],
        12..=15 => [480, 960][usize::from(config % 2)],
        _ => [120, 240, 480, 960][usize::from(config % 4)],
    };
    let frames: u32 = match toc & 0x03 {
        0 => 1,
        1 | 2 => 2,
        _ => u32::from(*packet.get(1)? & 0x3F),
    };
    let total = frame * frames;
    (frames > 0 && total <= 5760).then_some(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn head_round_trips_through_bytes() {
        let head = OpusHead::new(1, 48_000);
        let parsed = OpusHead::parse(&head.to_bytes()).expect("valid head");
        assert_eq!(parsed, head);
        assert_eq!(parsed.pre_skip, 312);
    }

    #[test]
    fn head_with_bad_magic_or_version_is_rejected() {
        let mut b = OpusHead::new(2, 48_000).to_bytes();
        b[8] = 0x10;
        assert_eq!(OpusHead::parse(&b), Err(OggError::BadHead));
        let mut b = OpusHead::new(2, 48_000).to_bytes();
        b[0] = b'o';
        assert_eq!(OpusHead::parse(&b), Err(OggError::BadHead));
        assert_eq!(OpusHead::parse(&b[..10]), Err(OggError::BadHead));
    }

    #[test]
    fn tags_round_trip_and_reject_oversized_counts() {
        let mut out = Vec::new();
        let tags = OpusTags {
            vendor: "talko",
            comments: &["TITLE=call 7", "ENCODER=talko"],
        };
        write_tags(&tags, &mut out).expect("small tags");
        let parsed = ParsedTags::parse(&out).expect("valid tags");
        assert_eq!(parsed.vendor, "talko");
        assert_eq!(parsed.comments, vec!["TITLE=call 7", "ENCODER=talko"]);
        // A comment count far beyond the packet must not reserve memory or panic.
        let mut bad = out[..8 + 4 + 5].to_vec();
        bad.extend_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(ParsedTags::parse(&bad), Err(OggError::BadTags));
    }

    #[test]
    fn packet_samples_follow_the_toc() {
        assert_eq!(packet_samples(&[0xF8]), Some(960)); // CELT FB 20 ms, code 0
        assert_eq!(packet_samples(&[0x08]), Some(960)); // SILK NB 20 ms, code 0
        assert_eq!(packet_samples(&[0x11]), Some(1920 * 2)); // SILK NB 40 ms, code 1
        assert_eq!(packet_samples(&[0x1B, 0x03]), None); // code 3: 3 × 60 ms > 120 ms
        assert_eq!(packet_samples(&[0x1B, 0x02]), Some(5760));
        assert_eq!(packet_samples(&[0xFB, 0x00]), None); // zero frames
        assert_eq!(packet_samples(&[0xFB]), None); // missing count byte
        assert_eq!(packet_samples(&[]), None);
    }
}
