//! Source description (RFC 3550 §6.5): chunks of items.
//!
//! [`Sdes::parse`] walks every chunk and item once, so an item running past the packet
//! is an error there; the iterators afterwards cannot fail. Item text is not decoded.

use super::{Reader, RtcpError};

/// SDES item type CNAME.
pub const SDES_CNAME: u8 = 1;

/// SDES (202): `count` chunks, each an SSRC/CSRC and its items.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sdes<'a> {
    count: u8,
    body: &'a [u8],
}

/// One SDES chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SdesChunk<'a> {
    /// The source described.
    pub ssrc: u32,
    items: &'a [u8],
}

/// One SDES item: its type (1 = CNAME … 8 = PRIV) and value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SdesItem<'a> {
    /// Item type.
    pub item_type: u8,
    /// Item value (UTF-8 text for the standard types, not checked here).
    pub data: &'a [u8],
}

/// Cuts one chunk off `data`: SSRC, items up to the null item, padding to 32 bits.
fn next_chunk<'a>(data: &mut &'a [u8]) -> Result<SdesChunk<'a>, RtcpError> {
    let start_len = data.len();
    let mut r = Reader(data);
    let ssrc = r.u32().map_err(|_| RtcpError::SourceCountOverrun)?;
    let items_start = r.0;
    loop {
        let ty = r.u8().map_err(|_| RtcpError::SdesItemOverrun)?;
        if ty == 0 {
            break;
        }
        let len = r.u8().map_err(|_| RtcpError::SdesItemOverrun)?;
        r.take(usize::from(len))
            .map_err(|_| RtcpError::SdesItemOverrun)?;
    }
    // Items end just before the null byte that was consumed.
    let items_len = items_start.len() - r.0.len() - 1;
    let items = items_start.get(..items_len).unwrap_or_default();
    // The chunk is padded with nulls to a 32-bit boundary; a stripped packet end may
    // cut that padding short, which is harmless.
    let consumed = start_len - r.0.len();
    let pad = (4 - consumed % 4) % 4;
    let rest = r.0.get(pad.min(r.0.len())..).unwrap_or_default();
    *data = rest;
    Ok(SdesChunk { ssrc, items })
}

impl<'a> Sdes<'a> {
    pub(super) fn parse(count: u8, body: &'a [u8]) -> Result<Self, RtcpError> {
        let mut data = body;
        for _ in 0..count {
            next_chunk(&mut data)?;
        }
        Ok(Sdes { count, body })
    }

    /// Number of chunks.
    pub fn chunk_count(&self) -> usize {
        usize::from(self.count)
    }

    /// The chunks.
    pub fn chunks(&self) -> SdesChunks<'a> {
        SdesChunks {
            left: self.count,
            data: self.body,
        }
    }
}

/// Iterator over the chunks of an [`Sdes`].
#[derive(Debug, Clone)]
pub struct SdesChunks<'a> {
    left: u8,
    data: &'a [u8],
}

impl<'a> Iterator for SdesChunks<'a> {
    type Item = SdesChunk<'a>;
    fn next(&mut self) -> Option<SdesChunk<'a>> {
        self.left = self.left.checked_sub(1)?;
        match next_chunk(&mut self.data) {
            Ok(c) => Some(c),
            // Unreachable after `Sdes::parse`; end the walk rather than panic.
            Err(_) => {
                self.left = 0;
                None
            }
        }
    }
}

impl<'a> SdesChunk<'a> {
    /// The items of this chunk.
    pub fn items(&self) -> SdesItems<'a> {
        SdesItems(self.items)
    }

    /// The CNAME item's value, if the chunk has one.
    pub fn cname(&self) -> Option<&'a [u8]> {
        self.items()
            .find(|i| i.item_type == SDES_CNAME)
            .map(|i| i.data)
    }
}

/// Iterator over the items of an [`SdesChunk`].
#[derive(Debug, Clone)]
pub struct SdesItems<'a>(&'a [u8]);

impl<'a> Iterator for SdesItems<'a> {
    type Item = SdesItem<'a>;
    fn next(&mut self) -> Option<SdesItem<'a>> {
        let mut r = Reader(self.0);
        let item = (|| {
            let item_type = r.u8()?;
            let len = r.u8()?;
            let data = r.take(usize::from(len))?;
            Ok::<_, RtcpError>(SdesItem { item_type, data })
        })();
        self.0 = r.0;
        match item {
            Ok(i) => Some(i),
            Err(_) => {
                self.0 = &[];
                None
            }
        }
    }
}
