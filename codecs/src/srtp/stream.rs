//! Per-SSRC SRTP/SRTCP state and the preallocated table that holds it.
//!
//! A stream knows its rollover counter and highest sequence number (kept together as
//! the highest accepted 48-bit index), its SRTP replay window, its next outgoing SRTCP
//! index and its SRTCP replay window. The table is a `Vec` allocated once with room
//! for `max_streams`; lookup is a linear scan over a dense array of SSRCs (streams per
//! context are few). Nothing here allocates after construction.

use super::replay::ReplayWindow;
use super::SrtpError;

/// Largest SRTCP index (31 bits).
pub(crate) const MAX_SRTCP_INDEX: u32 = 0x7fff_ffff;

/// Largest SRTP packet index (48 bits).
const MAX_SRTP_INDEX: u64 = (1 << 48) - 1;

/// SRTP direction-independent state of one SSRC: which indices were used/accepted.
#[derive(Clone, Debug)]
pub(crate) struct RtpState {
    /// Rollover counter to assume for the first packet (set by [`Self::set_roc`]).
    initial_roc: u32,
    window: ReplayWindow,
}

impl RtpState {
    pub(crate) const fn new() -> RtpState {
        RtpState {
            initial_roc: 0,
            window: ReplayWindow::new(),
        }
    }

    /// The rollover counter of the highest index seen (or the initial one).
    pub(crate) fn roc(&self) -> u32 {
        match self.window.top() {
            Some(top) => (top >> 16) as u32,
            None => self.initial_roc,
        }
    }

    /// Forgets the highest index and assumes `roc` for the next packet.
    pub(crate) fn set_roc(&mut self, roc: u32) {
        self.initial_roc = roc;
        self.window = ReplayWindow::new();
    }

    /// The packet index of sequence number `seq` (RFC 3711 Appendix A).
    ///
    /// With `s_l` the highest sequence number seen and `ROC` its rollover counter:
    /// `ROC - 1` if `s_l < 2^15` and `seq - s_l > 2^15`; `ROC + 1` if `s_l >= 2^15` and
    /// `s_l - 2^15 > seq`; else `ROC`. An index before the stream's first rollover
    /// counter is [`SrtpError::TooOld`].
    pub(crate) fn estimate(&self, seq: u16) -> Result<u64, SrtpError> {
        let Some(top) = self.window.top() else {
            return Ok(((self.initial_roc as u64) << 16) | seq as u64);
        };
        let roc = top >> 16;
        let s_l = (top & 0xffff) as u16;
        let v = if s_l < 0x8000 {
            if seq > s_l && seq - s_l > 0x8000 {
                roc.checked_sub(1).ok_or(SrtpError::TooOld)?
            } else {
                roc
            }
        } else if s_l - 0x8000 > seq {
            roc + 1
        } else {
            roc
        };
        let index = (v << 16) | seq as u64;
        if index > MAX_SRTP_INDEX {
            return Err(SrtpError::KeyExhausted);
        }
        Ok(index)
    }

    pub(crate) fn check(&self, index: u64, window: usize) -> Result<(), SrtpError> {
        self.window.check(index, window)
    }

    pub(crate) fn accept(&mut self, index: u64) {
        self.window.accept(index);
    }
}

/// SRTCP state of one SSRC.
#[derive(Clone, Debug)]
pub(crate) struct RtcpState {
    /// Index of the next SRTCP packet protected (RFC 3711 §3.4: starts at zero).
    next_index: u32,
    exhausted: bool,
    window: ReplayWindow,
}

impl RtcpState {
    pub(crate) const fn new() -> RtcpState {
        RtcpState {
            next_index: 0,
            exhausted: false,
            window: ReplayWindow::new(),
        }
    }

    /// The index the next protected packet would carry.
    pub(crate) fn peek_send_index(&self) -> Result<u32, SrtpError> {
        if self.exhausted {
            Err(SrtpError::KeyExhausted)
        } else {
            Ok(self.next_index)
        }
    }

    /// Consumes the index returned by [`peek_send_index`](Self::peek_send_index).
    pub(crate) fn commit_send_index(&mut self) {
        if self.next_index >= MAX_SRTCP_INDEX {
            self.exhausted = true;
        } else {
            self.next_index += 1;
        }
    }

    pub(crate) fn check(&self, index: u32, window: usize) -> Result<(), SrtpError> {
        self.window.check(index as u64, window)
    }

    pub(crate) fn accept(&mut self, index: u32) {
        self.window.accept(index as u64);
    }
}

/// All state of one SSRC.
#[derive(Clone, Debug)]
pub(crate) struct Stream {
    pub(crate) rtp: RtpState,
    pub(crate) rtcp: RtcpState,
}

impl Stream {
    pub(crate) const fn new() -> Stream {
        Stream {
            rtp: RtpState::new(),
            rtcp: RtcpState::new(),
        }
    }
}

/// Preallocated SSRC → stream table.
#[derive(Debug)]
pub(crate) struct StreamTable {
    ssrcs: Vec<u32>,
    streams: Vec<Stream>,
    capacity: usize,
}

impl StreamTable {
    pub(crate) fn with_capacity(capacity: usize) -> StreamTable {
        StreamTable {
            ssrcs: Vec::with_capacity(capacity),
            streams: Vec::with_capacity(capacity),
            capacity,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.ssrcs.len()
    }

    pub(crate) fn find(&self, ssrc: u32) -> Option<usize> {
        self.ssrcs.iter().position(|&s| s == ssrc)
    }

    pub(crate) fn get(&self, slot: usize) -> Option<&Stream> {
        self.streams.get(slot)
    }

    pub(crate) fn get_mut(&mut self, slot: usize) -> Option<&mut Stream> {
        self.streams.get_mut(slot)
    }

    pub(crate) fn is_full(&self) -> bool {
        self.ssrcs.len() >= self.capacity
    }

    /// Adds `stream` for `ssrc` (which must not be present) within the preallocated room.
    pub(crate) fn insert(&mut self, ssrc: u32, stream: Stream) -> Result<usize, SrtpError> {
        if self.is_full() {
            return Err(SrtpError::TooManyStreams);
        }
        self.ssrcs.push(ssrc);
        self.streams.push(stream);
        Ok(self.ssrcs.len() - 1)
    }

    /// The slot of `ssrc`, creating an empty stream if it is absent.
    pub(crate) fn find_or_insert(&mut self, ssrc: u32) -> Result<usize, SrtpError> {
        match self.find(ssrc) {
            Some(slot) => Ok(slot),
            None => self.insert(ssrc, Stream::new()),
        }
    }

    pub(crate) fn remove(&mut self, ssrc: u32) -> bool {
        match self.find(ssrc) {
            Some(slot) => {
                self.ssrcs.swap_remove(slot);
                self.streams.swap_remove(slot);
                true
            }
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state_at(index: u64) -> RtpState {
        let mut s = RtpState::new();
        s.accept(index);
        s
    }

    // RFC 3711 Appendix A: the three cases of the index guess.
    #[test]
    fn roc_guess_follows_rfc3711_appendix_a() {
        // s_l < 2^15, SEQ far above: packet from before the last wrap.
        assert_eq!(
            state_at((5 << 16) | 10).estimate(65_000),
            Ok((4 << 16) | 65_000)
        );
        // s_l >= 2^15, SEQ far below: packet after the next wrap.
        assert_eq!(
            state_at((5 << 16) | 65_000).estimate(10),
            Ok((6 << 16) | 10)
        );
        // Otherwise the same ROC.
        assert_eq!(state_at((5 << 16) | 100).estimate(200), Ok((5 << 16) | 200));
        assert_eq!(
            state_at((5 << 16) | 40_000).estimate(30_000),
            Ok((5 << 16) | 30_000)
        );
    }

    #[test]
    fn index_before_the_first_roc_is_too_old() {
        assert_eq!(state_at(10).estimate(65_000), Err(SrtpError::TooOld));
    }

    #[test]
    fn first_packet_uses_the_initial_roc() {
        let mut s = RtpState::new();
        s.set_roc(7);
        assert_eq!(s.estimate(3), Ok((7 << 16) | 3));
        assert_eq!(s.roc(), 7);
    }

    #[test]
    fn table_is_bounded_and_removes() {
        let mut t = StreamTable::with_capacity(2);
        assert_eq!(t.find_or_insert(1), Ok(0));
        assert_eq!(t.find_or_insert(2), Ok(1));
        assert_eq!(t.find_or_insert(1), Ok(0));
        assert_eq!(t.find_or_insert(3), Err(SrtpError::TooManyStreams));
        assert!(t.remove(1));
        assert_eq!(t.find(2), Some(0));
        assert_eq!(t.find_or_insert(3), Ok(1));
        assert_eq!(t.len(), 2);
    }

    #[test]
    fn srtcp_send_index_starts_at_zero_and_stops_at_2_pow_31() {
        let mut s = RtcpState::new();
        assert_eq!(s.peek_send_index(), Ok(0));
        s.commit_send_index();
        assert_eq!(s.peek_send_index(), Ok(1));
        s.next_index = MAX_SRTCP_INDEX;
        assert_eq!(s.peek_send_index(), Ok(MAX_SRTCP_INDEX));
        s.commit_send_index();
        assert_eq!(s.peek_send_index(), Err(SrtpError::KeyExhausted));
    }
}
