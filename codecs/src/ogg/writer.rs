//! [`OggOpusWriter`]: Opus packets in, Ogg pages out (RFC 7845, RFC 3533).

use std::io::Write;

use super::{
    crc, packet_samples, write_tags, OggError, OpusHead, OpusTags, FLAG_BOS, FLAG_CONTINUED,
    FLAG_EOS, MAX_SEGMENTS, PAGE_HEADER_LEN,
};

/// Body size at which a page is emitted without waiting for [`OggOpusWriter::flush_page`].
pub const DEFAULT_PAGE_TARGET: usize = 4096;

/// Page body bytes reserved up front: twice the page target, so a page of typical
/// packets never grows the buffer; a page of huge packets grows it once (up to
/// [`MAX_PAGE_LEN`](super::MAX_PAGE_LEN)) and it stays grown. Keeps many open writers (one per recorded
/// file) small.
const INITIAL_BODY_CAPACITY: usize = 2 * DEFAULT_PAGE_TARGET;

/// The granule position of a page on which no packet completes (RFC 3533 §6).
const NO_GRANULE: u64 = u64::MAX;

/// Writes one Ogg Opus logical stream to `W`.
///
/// [`new`](Self::new) writes `OpusHead` alone on the beginning-of-stream page and
/// `OpusTags` on its own page(s), both with granule position 0. Audio packets are then
/// laced onto pages (at most 255 segments; a packet of 255 bytes or more takes several
/// lacing values), each page carrying the 48 kHz sample count through its last completed
/// packet as granule position. A page goes out when its body reaches the page target, when
/// it runs out of segments, or when [`flush_page`](Self::flush_page) forces it.
///
/// The writer always holds the most recent packet back, so that [`finish`](Self::finish)
/// can put it on the end-of-stream page: nothing is ever written after EOS, and a
/// flushed but unfinished file lacks at most that last packet (20 ms for a recorder).
///
/// Buffers (page body, assembled page, held packet) are allocated once and reused; a
/// steady stream of packets allocates nothing.
pub struct OggOpusWriter<W: Write> {
    out: W,
    serial: u32,
    sequence: u32,
    pre_skip: u16,
    lacing: [u8; MAX_SEGMENTS],
    segments: usize,
    body: Vec<u8>,
    page: Vec<u8>,
    /// The page being built starts with the rest of a packet begun on the previous page.
    continued: bool,
    /// Header pages carry granule 0 even where no packet completes.
    in_headers: bool,
    /// Granule position of the page being built, `NO_GRANULE` when nothing completed.
    page_granule: u64,
    /// Samples of all laid (not held) audio packets.
    granule: u64,
    held: Vec<u8>,
    held_samples: Option<u32>,
    page_target: usize,
    bytes_written: u64,
    pages_written: u64,
    failed: bool,
}

impl<W: Write> OggOpusWriter<W> {
    /// Starts a stream with serial number `serial`: writes the `OpusHead` page and the
    /// `OpusTags` page(s) to `out` at once, so even a file cut right after creation
    /// identifies itself.
    pub fn new(
        out: W,
        serial: u32,
        head: OpusHead,
        tags: &OpusTags<'_>,
    ) -> Result<OggOpusWriter<W>, OggError> {
        let mut w = OggOpusWriter {
            out,
            serial,
            sequence: 0,
            pre_skip: head.pre_skip,
            lacing: [0; MAX_SEGMENTS],
            segments: 0,
            body: Vec::with_capacity(INITIAL_BODY_CAPACITY),
            page: Vec::with_capacity(PAGE_HEADER_LEN + MAX_SEGMENTS + INITIAL_BODY_CAPACITY),
            continued: false,
            in_headers: true,
            page_granule: NO_GRANULE,
            granule: 0,
            held: Vec::with_capacity(1500),
            held_samples: None,
            page_target: DEFAULT_PAGE_TARGET,
            bytes_written: 0,
            pages_written: 0,
            failed: false,
        };
        w.lay(&head.to_bytes(), 0)?;
        w.emit_page(FLAG_BOS)?;
        let mut tag_bytes = Vec::new();
        write_tags(tags, &mut tag_bytes)?;
        w.lay(&tag_bytes, 0)?;
        w.emit_page(0)?;
        w.in_headers = false;
        Ok(w)
    }

    /// Sets the page body size at which a page is emitted on its own (clamped to what
    /// 255 segments can hold).
    pub fn set_page_target(&mut self, bytes: usize) {
        self.page_target = bytes.clamp(1, MAX_SEGMENTS * 255);
    }

    /// Appends one Opus packet and returns its duration in 48 kHz samples (from its TOC).
    ///
    /// Errors: [`OggError::BadPacket`] for an empty or invalid packet (nothing written),
    /// [`OggError::PacketTooLarge`] beyond 120 ms of maximal frames,
    /// [`OggError::Io`] when the output fails (the writer is closed from then on).
    pub fn write_packet(&mut self, packet: &[u8]) -> Result<u32, OggError> {
        if self.failed {
            return Err(OggError::WriterClosed);
        }
        let samples = packet_samples(packet).ok_or(OggError::BadPacket)?;
        if packet.len() > super::MAX_PACKET_LEN {
            return Err(OggError::PacketTooLarge);
        }
        if let Some(prev) = self.held_samples.take() {
            let held = core::mem::take(&mut self.held);
            let laid = self.lay(&held, prev);
            self.held = held;
            laid?;
        }
        self.held.clear();
        self.held.extend_from_slice(packet);
        self.held_samples = Some(samples);
        Ok(samples)
    }

    /// Writes out the page being built (all packets but the held last one) and flushes
    /// `W`. Call at least once a second for crash safety.
    pub fn flush_page(&mut self) -> Result<(), OggError> {
        if self.failed {
            return Err(OggError::WriterClosed);
        }
        if self.segments > 0 {
            self.emit_page(0)?;
        }
        self.out.flush().map_err(|e| self.fail(e))
    }

    /// Lays the held packet onto the last page, marks it end-of-stream, writes it and
    /// flushes. Returns the output.
    pub fn finish(mut self) -> Result<W, OggError> {
        if self.failed {
            return Err(OggError::WriterClosed);
        }
        if let Some(prev) = self.held_samples.take() {
            let held = core::mem::take(&mut self.held);
            self.lay(&held, prev)?;
        }
        if self.page_granule == NO_GRANULE && !self.continued {
            // An EOS page with no packet of its own (a stream with no audio at all).
            self.page_granule = self.granule;
        }
        self.emit_page(FLAG_EOS)?;
        self.out.flush().map_err(|e| self.fail(e))?;
        Ok(self.out)
    }

    /// Samples written so far, including the held packet (the granule position the stream
    /// will end with if finished now).
    pub fn granule(&self) -> u64 {
        self.granule + u64::from(self.held_samples.unwrap_or(0))
    }

    /// The pre-skip announced in `OpusHead`.
    pub fn pre_skip(&self) -> u16 {
        self.pre_skip
    }

    /// Playable samples once finished: granule − pre-skip.
    pub fn duration_samples(&self) -> u64 {
        self.granule().saturating_sub(u64::from(self.pre_skip))
    }

    /// Bytes handed to `W` so far.
    pub fn bytes_written(&self) -> u64 {
        self.bytes_written
    }

    /// Pages handed to `W` so far.
    pub fn pages_written(&self) -> u64 {
        self.pages_written
    }

    /// The output.
    pub fn get_ref(&self) -> &W {
        &self.out
    }

    /// The output, mutably (writing to it directly corrupts the stream).
    pub fn get_mut(&mut self) -> &mut W {
        &mut self.out
    }

    fn fail(&mut self, e: std::io::Error) -> OggError {
        self.failed = true;
        OggError::Io(e.kind())
    }

    /// Laces one packet onto the page being built, emitting full pages as needed.
    fn lay(&mut self, packet: &[u8], samples: u32) -> Result<(), OggError> {
        let mut offset = 0;
        loop {
            if self.segments == MAX_SEGMENTS {
                // Out of lacing values: the rest of this packet continues on the next page.
                let mid_packet = offset > 0;
                self.emit_page(0)?;
                self.continued = mid_packet;
            }
            let rest = packet.get(offset..).unwrap_or(&[]);
            let take = rest.len().min(255);
            let chunk = rest.get(..take).unwrap_or(&[]);
            self.lacing[self.segments] = take as u8;
            self.segments += 1;
            self.body.extend_from_slice(chunk);
            offset += take;
            if take < 255 {
                break;
            }
        }
        self.granule += u64::from(samples);
        self.page_granule = self.granule;
        if self.body.len() >= self.page_target || self.segments == MAX_SEGMENTS {
            self.emit_page(0)?;
        }
        Ok(())
    }

    /// Assembles and writes the page being built with `flags`, then starts a new one.
    fn emit_page(&mut self, flags: u8) -> Result<(), OggError> {
        let granule = if self.in_headers {
            0
        } else {
            self.page_granule
        };
        let header_type = flags | if self.continued { FLAG_CONTINUED } else { 0 };
        let segments = self.lacing.get(..self.segments).unwrap_or(&[]);
        self.page.clear();
        self.page.extend_from_slice(super::CAPTURE_PATTERN);
        self.page.push(0); // stream structure version
        self.page.push(header_type);
        self.page.extend_from_slice(&granule.to_le_bytes());
        self.page.extend_from_slice(&self.serial.to_le_bytes());
        self.page.extend_from_slice(&self.sequence.to_le_bytes());
        self.page.extend_from_slice(&[0; 4]); // checksum, filled below
        self.page.push(self.segments as u8);
        self.page.extend_from_slice(segments);
        self.page.extend_from_slice(&self.body);
        let sum = crc::page_checksum(&self.page);
        if let Some(field) = self.page.get_mut(22..26) {
            field.copy_from_slice(&sum.to_le_bytes());
        }
        debug_assert!(self.page.len() >= PAGE_HEADER_LEN);
        if let Err(e) = self.out.write_all(&self.page) {
            return Err(self.fail(e));
        }
        self.bytes_written += self.page.len() as u64;
        self.pages_written += 1;
        self.sequence = self.sequence.wrapping_add(1);
        self.segments = 0;
        self.body.clear();
        self.continued = false;
        self.page_granule = NO_GRANULE;
        Ok(())
    }
}
