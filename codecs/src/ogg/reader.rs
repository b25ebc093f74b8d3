//! [`Page`] (one validated Ogg page) and [`OggOpusReader`] (a whole Ogg Opus file).

use core::time::Duration;

use super::{
    crc, packet_samples, OggError, OpusHead, ParsedTags, CAPTURE_PATTERN, FLAG_BOS, FLAG_CONTINUED,
    FLAG_EOS, GRANULE_RATE, MAX_PACKET_LEN, PAGE_HEADER_LEN,
};

/// One Ogg page, borrowed from the data it was parsed from, checksum verified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page<'a> {
    header_type: u8,
    granule: u64,
    serial: u32,
    sequence: u32,
    lacing: &'a [u8],
    body: &'a [u8],
    len: usize,
}

impl<'a> Page<'a> {
    /// Parses the page at the start of `data`, checking the capture pattern, version,
    /// flags, lengths and checksum. Bytes after the page are ignored.
    pub fn parse(data: &'a [u8]) -> Result<Page<'a>, OggError> {
        let (header, rest) = data
            .split_at_checked(PAGE_HEADER_LEN)
            .ok_or(OggError::Truncated)?;
        let header: &[u8; PAGE_HEADER_LEN] = header.try_into().map_err(|_| OggError::Truncated)?;
        if &header[..4] != CAPTURE_PATTERN {
            return Err(OggError::BadCapture);
        }
        if header[4] != 0 {
            return Err(OggError::BadVersion);
        }
        let header_type = header[5];
        if header_type & !(FLAG_CONTINUED | FLAG_BOS | FLAG_EOS) != 0 {
            return Err(OggError::BadFlags);
        }
        let granule = u64::from_le_bytes([
            header[6], header[7], header[8], header[9], header[10], header[11], header[12],
            header[13],
        ]);
        let serial = u32::from_le_bytes([header[14], header[15], header[16], header[17]]);
        let sequence = u32::from_le_bytes([header[18], header[19], header[20], header[21]]);
        let checksum = u32::from_le_bytes([header[22], header[23], header[24], header[25]]);
        let segments = usize::from(header[26]);
        let (lacing, rest) = rest.split_at_checked(segments).ok_or(OggError::Truncated)?;
        let body_len: usize = lacing.iter().map(|&l| usize::from(l)).sum();
        let body = rest.get(..body_len).ok_or(OggError::Truncated)?;
        let len = PAGE_HEADER_LEN + segments + body_len;
        let raw = data.get(..len).ok_or(OggError::Truncated)?;
        if crc::page_checksum(raw) != checksum {
            return Err(OggError::BadChecksum);
        }
        Ok(Page {
            header_type,
            granule,
            serial,
            sequence,
            lacing,
            body,
            len,
        })
    }

    /// Total length of the page in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the page has no segments.
    pub fn is_empty(&self) -> bool {
        self.lacing.is_empty()
    }

    /// The header type flags.
    pub fn header_type(&self) -> u8 {
        self.header_type
    }

    /// Beginning of stream.
    pub fn is_bos(&self) -> bool {
        self.header_type & FLAG_BOS != 0
    }

    /// End of stream.
    pub fn is_eos(&self) -> bool {
        self.header_type & FLAG_EOS != 0
    }

    /// The page starts with the continuation of a packet.
    pub fn is_continued(&self) -> bool {
        self.header_type & FLAG_CONTINUED != 0
    }

    /// The granule position, `None` for −1 (no packet completes on the page).
    pub fn granule(&self) -> Option<u64> {
        (self.granule != u64::MAX).then_some(self.granule)
    }

    /// The stream serial number.
    pub fn serial(&self) -> u32 {
        self.serial
    }

    /// The page sequence number.
    pub fn sequence(&self) -> u32 {
        self.sequence
    }

    /// The lacing values.
    pub fn lacing(&self) -> &'a [u8] {
        self.lacing
    }

    /// The page body (all segments).
    pub fn body(&self) -> &'a [u8] {
        self.body
    }

    /// Whether the last segment leaves a packet open (continued on the next page).
    pub fn ends_open(&self) -> bool {
        self.lacing.last() == Some(&255)
    }

    /// How many packets complete on this page.
    pub fn completed_packets(&self) -> usize {
        self.lacing.iter().filter(|&&l| l < 255).count()
    }
}

/// Iterates over the pages of `data` with their byte offsets; stops after the first error.
#[derive(Debug, Clone)]
pub struct PageIter<'a> {
    data: &'a [u8],
    offset: usize,
    done: bool,
}

impl<'a> PageIter<'a> {
    /// Pages of `data`, from its start.
    pub fn new(data: &'a [u8]) -> PageIter<'a> {
        PageIter {
            data,
            offset: 0,
            done: false,
        }
    }

    /// Offset of the next page.
    pub fn offset(&self) -> usize {
        self.offset
    }
}

impl<'a> Iterator for PageIter<'a> {
    type Item = Result<(usize, Page<'a>), OggError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let rest = self.data.get(self.offset..).unwrap_or(&[]);
        if rest.is_empty() {
            self.done = true;
            return None;
        }
        match Page::parse(rest) {
            Ok(page) => {
                let at = self.offset;
                self.offset += page.len();
                Some(Ok((at, page)))
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

/// One audio packet of an Ogg Opus file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OggPacket {
    /// The Opus packet.
    pub data: Vec<u8>,
    /// Its duration in 48 kHz samples (from its TOC).
    pub samples: u32,
    /// The granule position of the page it completes on, when it is the last packet
    /// completing there.
    pub granule: Option<u64>,
}

/// A parsed Ogg Opus file: headers, audio packets and the end state.
///
/// [`new`](Self::new) is strict: one logical stream, OpusHead alone on the BOS page,
/// OpusTags ending its page, header granules 0, consecutive sequence numbers, granules
/// never going back, valid Opus TOCs, an EOS page and nothing after it.
/// [`new_unfinished`](Self::new_unfinished) accepts what a crash leaves: the data may end
/// inside a page (a torn write) and the EOS page may be missing.
#[derive(Debug, Clone)]
pub struct OggOpusReader {
    head: OpusHead,
    tags: ParsedTags,
    packets: Vec<OggPacket>,
    finished: bool,
    last_granule: u64,
    samples: u64,
    pages: usize,
    valid_len: usize,
}

/// Where the reassembly of header packets stands.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Stage {
    Head,
    Tags,
    Audio,
}

impl OggOpusReader {
    /// Parses a complete Ogg Opus file.
    pub fn new(data: &[u8]) -> Result<OggOpusReader, OggError> {
        Self::parse(data, true)
    }

    /// Parses a file that may have been cut by a crash: parsing stops at the first page
    /// that is truncated or damaged, a packet left open there is dropped, and a missing
    /// EOS is allowed. The headers must be intact.
    pub fn new_unfinished(data: &[u8]) -> Result<OggOpusReader, OggError> {
        Self::parse(data, false)
    }

    fn parse(data: &[u8], strict: bool) -> Result<OggOpusReader, OggError> {
        let mut reader = OggOpusReader {
            head: OpusHead::new(1, 0),
            tags: ParsedTags::default(),
            packets: Vec::new(),
            finished: false,
            last_granule: 0,
            samples: 0,
            pages: 0,
            valid_len: 0,
        };
        let mut stage = Stage::Head;
        let mut serial = 0;
        let mut next_sequence = 0u32;
        let mut open: Vec<u8> = Vec::new();
        let mut open_valid = false;
        for item in PageIter::new(data) {
            let (offset, page) = match item {
                Ok(p) => p,
                Err(e) if strict || stage != Stage::Audio => return Err(e),
                Err(_) => break,
            };
            if reader.finished {
                return Err(OggError::PageAfterEos);
            }
            if reader.pages == 0 {
                if !page.is_bos() {
                    return Err(OggError::BadBos);
                }
                serial = page.serial();
                next_sequence = page.sequence();
            } else if page.is_bos() {
                return Err(OggError::BadBos);
            }
            if page.serial() != serial {
                return Err(OggError::OtherStream);
            }
            if page.sequence() != next_sequence {
                return Err(OggError::BadSequence);
            }
            next_sequence = next_sequence.wrapping_add(1);
            if page.is_continued() != open_valid {
                return Err(OggError::BadContinuation);
            }
            let header_page = stage != Stage::Audio;
            if header_page && page.granule() != Some(0) {
                return Err(OggError::HeaderGranule);
            }
            let completed = page.completed_packets();
            let mut done_on_page = 0;
            let mut body = page.body();
            for &lace in page.lacing() {
                let (seg, rest) = body
                    .split_at_checked(usize::from(lace))
                    .ok_or(OggError::Truncated)?;
                body = rest;
                if open.len() + seg.len() > MAX_PACKET_LEN {
                    return Err(OggError::PacketTooLarge);
                }
                open.extend_from_slice(seg);
                open_valid = true;
                if lace == 255 {
                    continue;
                }
                done_on_page += 1;
                open_valid = false;
                match stage {
                    Stage::Head => {
                        reader.head = OpusHead::parse(&open)?;
                        if reader.pages != 0 || completed != 1 || page.ends_open() {
                            return Err(OggError::HeadNotAlone);
                        }
                        stage = Stage::Tags;
                    }
                    Stage::Tags => {
                        reader.tags = ParsedTags::parse(&open)?;
                        if done_on_page != completed || page.ends_open() {
                            return Err(OggError::TagsNotEndingPage);
                        }
                        stage = Stage::Audio;
                    }
                    Stage::Audio => {
                        let samples = packet_samples(&open).ok_or(OggError::BadPacket)?;
                        reader.samples += u64::from(samples);
                        let last_on_page = done_on_page == completed;
                        reader.packets.push(OggPacket {
                            data: core::mem::take(&mut open),
                            samples,
                            granule: if last_on_page { page.granule() } else { None },
                        });
                    }
                }
                open.clear();
            }
            if page.is_bos() && stage != Stage::Tags {
                return Err(OggError::HeadNotAlone);
            }
            if !header_page && completed > 0 {
                let granule = page.granule().ok_or(OggError::GranuleBackwards)?;
                if granule < reader.last_granule {
                    return Err(OggError::GranuleBackwards);
                }
                reader.last_granule = granule;
            }
            reader.pages += 1;
            reader.valid_len = offset + page.len();
            if page.is_eos() {
                if open_valid {
                    return Err(OggError::BadContinuation);
                }
                reader.finished = true;
            }
        }
        if stage != Stage::Audio {
            return Err(if stage == Stage::Head {
                OggError::BadHead
            } else {
                OggError::BadTags
            });
        }
        if strict && !reader.finished {
            return Err(OggError::MissingEos);
        }
        Ok(reader)
    }

    /// The identification header.
    pub fn head(&self) -> &OpusHead {
        &self.head
    }

    /// The comment header.
    pub fn tags(&self) -> &ParsedTags {
        &self.tags
    }

    /// The audio packets in order.
    pub fn packets(&self) -> &[OggPacket] {
        &self.packets
    }

    /// Whether the stream ended with an EOS page.
    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// The granule position of the last page on which a packet completed (0 if none).
    pub fn last_granule(&self) -> u64 {
        self.last_granule
    }

    /// The sum of all audio packets' durations in 48 kHz samples.
    pub fn total_samples(&self) -> u64 {
        self.samples
    }

    /// Pages read.
    pub fn pages(&self) -> usize {
        self.pages
    }

    /// Bytes up to the end of the last valid page (the whole input for a finished file).
    pub fn valid_len(&self) -> usize {
        self.valid_len
    }

    /// Playable samples: last granule position − pre-skip (RFC 7845 §4.2).
    pub fn duration_samples(&self) -> u64 {
        self.last_granule
            .saturating_sub(u64::from(self.head.pre_skip))
    }

    /// Playable duration.
    pub fn duration(&self) -> Duration {
        let samples = self.duration_samples();
        let rate = u64::from(GRANULE_RATE);
        Duration::from_secs(samples / rate)
            + Duration::from_nanos((samples % rate) * 1_000_000_000 / rate)
    }
}
