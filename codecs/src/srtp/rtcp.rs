//! SRTCP (RFC 3711 §3.4, RFC 7714 §9) entry points of [`SrtpContext`]: the 31-bit SRTCP
//! index with the `E` flag, its per-SSRC counter and its own replay window.
//!
//! The first 8 bytes (header and sender SSRC) stay in clear; everything after them is
//! encrypted. Outgoing packets always set `E`; incoming packets with `E` clear are
//! authenticated and passed through unencrypted. Never allocates; never changes the
//! caller's buffer on an error; never moves state for a packet that fails.

use super::context::{SrtpContext, Transform};
use super::header::{rtcp_ssrc, RTCP_CLEAR_LEN};
use super::stream::Stream;
use super::SrtpError;

impl SrtpContext {
    /// Protects the RTCP (compound) packet in `buf[..len]` in place: encrypts all but the
    /// first 8 bytes and appends the `E`|index word and the tag. `buf` must have
    /// [`SrtpProfile::rtcp_trailer_len`](super::SrtpProfile::rtcp_trailer_len) (at most
    /// [`SRTCP_TRAILER_MAX`](super::SRTCP_TRAILER_MAX)) bytes of room after `len`.
    /// Returns the SRTCP length. The SRTCP index of each sender SSRC starts at 0.
    pub fn protect_rtcp(&mut self, buf: &mut [u8], len: usize) -> Result<usize, SrtpError> {
        let total = len
            .checked_add(self.profile().rtcp_trailer_len())
            .ok_or(SrtpError::BufferTooSmall)?;
        let plain = buf.get(..len).ok_or(SrtpError::BufferTooSmall)?;
        if plain.len() < RTCP_CLEAR_LEN {
            return Err(SrtpError::TooShort);
        }
        let ssrc = rtcp_ssrc(plain)?;
        if buf.len() < total {
            return Err(SrtpError::BufferTooSmall);
        }
        let slot = self.send_slot(ssrc)?;
        let index = self
            .streams()
            .get(slot)
            .ok_or(SrtpError::UnknownSsrc)?
            .rtcp
            .peek_send_index()?;
        let pkt = buf.get_mut(..total).ok_or(SrtpError::BufferTooSmall)?;
        match self.transform() {
            Transform::Cm(t) => t.protect_rtcp(pkt, len, ssrc, index)?,
            Transform::Gcm(t) => t.protect_rtcp(pkt, len, ssrc, index)?,
        }
        if let Some(stream) = self.streams_mut().get_mut(slot) {
            stream.rtcp.commit_send_index();
        }
        Ok(total)
    }

    /// Unprotects the SRTCP packet filling `buf` in place: checks replay on its index,
    /// authenticates, decrypts (if `E` is set). Returns the RTCP length. On error `buf`
    /// is unchanged and no state moves.
    pub fn unprotect_rtcp(&mut self, buf: &mut [u8]) -> Result<usize, SrtpError> {
        let trailer_len = self.profile().rtcp_trailer_len();
        if buf.len() < RTCP_CLEAR_LEN + trailer_len {
            return Err(SrtpError::TooShort);
        }
        let ssrc = rtcp_ssrc(buf)?;
        let at = match self.transform() {
            Transform::Cm(t) => t.rtcp_trailer_at(buf.len()),
            Transform::Gcm(t) => t.rtcp_trailer_at(buf.len()),
        }
        .ok_or(SrtpError::TooShort)?;
        let word: [u8; 4] = buf
            .get(at..at + 4)
            .and_then(|w| w.try_into().ok())
            .ok_or(SrtpError::TooShort)?;
        let word = u32::from_be_bytes(word);
        let encrypted = word & 0x8000_0000 != 0;
        let index = word & 0x7fff_ffff;

        let slot = self.recv_slot(ssrc)?;
        let window = self.replay_window();
        if let Some(stream) = slot.and_then(|s| self.streams().get(s)) {
            stream.rtcp.check(index, window)?;
        }
        let verify = self.verify_tags();
        let rtcp_len = match self.transform() {
            Transform::Cm(t) => t.unprotect_rtcp(buf, ssrc, index, encrypted, verify)?,
            Transform::Gcm(t) => t.unprotect_rtcp(buf, ssrc, index, encrypted, verify)?,
        };
        let slot = match slot {
            Some(slot) => slot,
            None => self.streams_mut().insert(ssrc, Stream::new())?,
        };
        if let Some(stream) = self.streams_mut().get_mut(slot) {
            stream.rtcp.accept(index);
        }
        Ok(rtcp_len)
    }
}
