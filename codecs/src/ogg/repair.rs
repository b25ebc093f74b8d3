//! Finalizing an Ogg Opus file that a crash left without its end-of-stream page.
//!
//! [`plan`] finds the last page after which no packet is left open and says where to cut
//! the file; [`mark_eos`] turns that page into the end-of-stream page in place (flag and
//! checksum). The caller does the file I/O: truncate to [`RepairPlan::keep_len`], then
//! overwrite the page at [`RepairPlan::last_page`] with the patched bytes.

use super::{crc, reader::PageIter, OggError, FLAG_EOS};

/// What to do to finalize an unfinished Ogg stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RepairPlan {
    /// Bytes to keep: the end of the last page that leaves no packet open.
    pub keep_len: usize,
    /// Offset and length of that page, the one to mark end-of-stream.
    pub last_page: (usize, usize),
    /// Whether the file already ends with a valid EOS page (nothing to do).
    pub already_finished: bool,
    /// Pages kept.
    pub pages: usize,
}

/// Plans the repair of `data`. Fails when not even the first page is valid, or when the
/// stream structure is broken before the damage (pages of another stream, sequence gaps).
pub fn plan(data: &[u8]) -> Result<RepairPlan, OggError> {
    let mut best: Option<RepairPlan> = None;
    let mut serial = None;
    let mut next_sequence = 0u32;
    for (index, item) in PageIter::new(data).enumerate() {
        let Ok((offset, page)) = item else { break };
        match serial {
            None => {
                if !page.is_bos() {
                    return Err(OggError::BadBos);
                }
                serial = Some(page.serial());
                next_sequence = page.sequence();
            }
            Some(s) if s != page.serial() => break,
            Some(_) => {}
        }
        if page.sequence() != next_sequence {
            break;
        }
        next_sequence = next_sequence.wrapping_add(1);
        if !page.ends_open() {
            best = Some(RepairPlan {
                keep_len: offset + page.len(),
                last_page: (offset, page.len()),
                already_finished: page.is_eos(),
                pages: index + 1,
            });
        }
        if page.is_eos() {
            break;
        }
    }
    best.ok_or(OggError::Truncated)
}

/// Sets the EOS flag on the page in `page` (exactly one page) and recomputes its checksum.
pub fn mark_eos(page: &mut [u8]) -> Result<(), OggError> {
    let flags = page.get_mut(5).ok_or(OggError::Truncated)?;
    *flags |= FLAG_EOS;
    let sum = crc::page_checksum(page);
    page.get_mut(22..26)
        .ok_or(OggError::Truncated)?
        .copy_from_slice(&sum.to_le_bytes());
    Ok(())
}
