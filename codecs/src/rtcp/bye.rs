//! Goodbye (RFC 3550 §6.6): the sources leaving and an optional reason.
//!
//! The source count and the reason length are checked against the packet when it is
//! parsed; the reason is returned as bytes, never decoded or copied.

use super::{Reader, RtcpError};

/// BYE (203).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bye<'a> {
    ssrcs: &'a [u8],
    reason: Option<&'a [u8]>,
}

impl<'a> Bye<'a> {
    pub(super) fn parse(count: u8, body: &'a [u8]) -> Result<Self, RtcpError> {
        let mut r = Reader(body);
        let ssrcs = r
            .take(usize::from(count) * 4)
            .map_err(|_| RtcpError::SourceCountOverrun)?;
        let reason = if r.0.is_empty() {
            None
        } else {
            let len = r.u8()?;
            Some(
                r.take(usize::from(len))
                    .map_err(|_| RtcpError::ByeReasonOverrun)?,
            )
        };
        // What follows the reason is padding to a 32-bit boundary.
        Ok(Bye { ssrcs, reason })
    }

    /// Number of sources leaving.
    pub fn ssrc_count(&self) -> usize {
        self.ssrcs.len() / 4
    }

    /// The sources leaving.
    pub fn ssrcs(&self) -> Ssrcs<'a> {
        Ssrcs(self.ssrcs.chunks_exact(4))
    }

    /// The reason for leaving, if given (UTF-8 text, not checked here).
    pub fn reason(&self) -> Option<&'a [u8]> {
        self.reason
    }
}

/// Iterator over 32-bit big-endian SSRCs.
#[derive(Debug, Clone)]
pub struct Ssrcs<'a>(pub(super) core::slice::ChunksExact<'a, u8>);

impl Iterator for Ssrcs<'_> {
    type Item = u32;
    fn next(&mut self) -> Option<u32> {
        Some(u32::from_be_bytes(*self.0.next()?.first_chunk::<4>()?))
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.0.size_hint()
    }
}

impl ExactSizeIterator for Ssrcs<'_> {}
