//! The replay window (RFC 3711 §3.3.2): which packet indices were already accepted.
//!
//! A fixed ring of [`RING_BITS`] bits indexed by `index % RING_BITS`, plus the highest
//! accepted index. A configured window of `w <= RING_BITS` packets accepts an index
//! that is ahead of the highest, or at most `w - 1` behind it and not yet seen. The
//! window is checked before authentication and updated only after it. Never allocates.

use super::SrtpError;

/// Bits in the ring; the largest supported window.
pub(crate) const RING_BITS: usize = 1024;
const WORDS: usize = RING_BITS / 64;

/// Accepted packet indices (48-bit SRTP or 31-bit SRTCP).
#[derive(Clone, Debug)]
pub(crate) struct ReplayWindow {
    /// The highest accepted index; meaningful once `started`.
    top: u64,
    started: bool,
    bits: [u64; WORDS],
}

impl ReplayWindow {
    pub(crate) const fn new() -> ReplayWindow {
        ReplayWindow {
            top: 0,
            started: false,
            bits: [0; WORDS],
        }
    }

    /// The highest accepted index, if any packet was accepted.
    pub(crate) fn top(&self) -> Option<u64> {
        self.started.then_some(self.top)
    }

    fn bit(index: u64) -> (usize, u64) {
        let pos = (index % RING_BITS as u64) as usize;
        (pos / 64, 1u64 << (pos % 64))
    }

    fn is_set(&self, index: u64) -> bool {
        let (word, mask) = Self::bit(index);
        self.bits.get(word).is_some_and(|w| w & mask != 0)
    }

    fn set(&mut self, index: u64, on: bool) {
        let (word, mask) = Self::bit(index);
        if let Some(w) = self.bits.get_mut(word) {
            if on {
                *w |= mask;
            } else {
                *w &= !mask;
            }
        }
    }

    /// Whether `index` may be accepted with a window of `window` packets.
    pub(crate) fn check(&self, index: u64, window: usize) -> Result<(), SrtpError> {
        if !self.started || index > self.top {
            return Ok(());
        }
        let behind = self.top - index;
        if behind >= window as u64 {
            return Err(SrtpError::TooOld);
        }
        if self.is_set(index) {
            return Err(SrtpError::Replayed);
        }
        Ok(())
    }

    /// Records `index` as accepted. Call only after [`check`](Self::check) passed and
    /// the packet authenticated.
    pub(crate) fn accept(&mut self, index: u64) {
        if !self.started {
            self.started = true;
            self.top = index;
            self.bits = [0; WORDS];
        } else if index > self.top {
            let ahead = index - self.top;
            if ahead >= RING_BITS as u64 {
                self.bits = [0; WORDS];
            } else {
                // Forget the indices the ring positions ahead used to stand for.
                for i in self.top + 1..index {
                    self.set(i, false);
                }
            }
            self.top = index;
        }
        self.set(index, true);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_index_is_accepted_and_then_replayed() {
        let mut w = ReplayWindow::new();
        assert_eq!(w.check(5, 128), Ok(()));
        w.accept(5);
        assert_eq!(w.check(5, 128), Err(SrtpError::Replayed));
        assert_eq!(w.top(), Some(5));
    }

    #[test]
    fn unseen_inside_window_is_accepted_once() {
        let mut w = ReplayWindow::new();
        w.accept(1000);
        assert_eq!(w.check(900, 128), Ok(()));
        w.accept(900);
        assert_eq!(w.check(900, 128), Err(SrtpError::Replayed));
        assert_eq!(w.check(1000 - 127, 128), Ok(()));
        assert_eq!(w.check(1000 - 128, 128), Err(SrtpError::TooOld));
        assert_eq!(w.top(), Some(1000));
    }

    #[test]
    fn advancing_clears_ring_positions_of_forgotten_indices() {
        let mut w = ReplayWindow::new();
        w.accept(0);
        w.accept(1);
        // Index 1025 shares ring position 1 with index 1; it must not look replayed.
        w.accept(1024);
        assert_eq!(w.check(1025, 1024), Ok(()));
        w.accept(1025);
        assert_eq!(w.check(1025, 1024), Err(SrtpError::Replayed));
        assert_eq!(w.check(1, 1024), Err(SrtpError::TooOld));
        // A jump beyond the ring forgets everything.
        w.accept(10_000);
        for i in 10_000 - 1023..10_000 {
            assert_eq!(w.check(i, 1024), Ok(()), "index {i}");
        }
    }

    #[test]
    fn window_size_is_respected_up_to_the_ring() {
        let mut w = ReplayWindow::new();
        w.accept(5000);
        assert_eq!(w.check(5000 - 1023, 1024), Ok(()));
        assert_eq!(w.check(5000 - 1024, 1024), Err(SrtpError::TooOld));
        assert_eq!(w.check(5000 - 200, 200), Err(SrtpError::TooOld));
        assert_eq!(w.check(5000 - 199, 200), Ok(()));
    }
}
