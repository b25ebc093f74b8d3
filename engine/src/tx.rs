//! The queue of datagrams waiting for [`crate::Engine::poll_transmit`].
//!
//! This module owns what is queued: media sends (which call mix goes to which listener,
//! with the listener's sequence number and timestamp; the bytes are built at poll time,
//! straight into the caller's buffer), RTCP reports (built at poll time too) and small
//! ready-made datagrams such as STUN answers (kept in a fixed ring). Capacity is fixed at
//! construction; a push into a full queue is refused and counted. It must never allocate
//! after construction.

use std::collections::VecDeque;
use std::net::SocketAddr;

/// Room for one small ready-made datagram (a STUN Binding success is under 100 bytes).
pub const RAW_LEN: usize = 256;
/// Ready-made datagrams that can wait at once.
pub const RAW_SLOTS: usize = 64;

/// Which of a call's encoded mixes a listener gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Source {
    /// The shared full mix.
    Shared,
    /// The mix-minus of speaker slot `n`.
    Speaker(u8),
}

/// One queued send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pending {
    /// A mix packet for participant slot `part` of call slot `call`.
    Media {
        part: u32,
        call: u32,
        source: Source,
        seq: u16,
        ts: u32,
        to: SocketAddr,
    },
    /// An RTCP report for participant slot `part`.
    Rtcp {
        part: u32,
        to: SocketAddr,
        at_us: i64,
        rtp_ts: u32,
    },
    /// A ready-made datagram in raw slot `idx`.
    Raw {
        idx: usize,
        len: usize,
        to: SocketAddr,
    },
}

/// The transmit queue.
pub(crate) struct TxQueue {
    q: VecDeque<Pending>,
    cap: usize,
    raw: Box<[[u8; RAW_LEN]]>,
    raw_next: usize,
    /// Raw datagrams queued and not yet polled (the ring's occupied slots).
    raw_pending: usize,
    /// Sends refused because the queue was full.
    pub dropped: u64,
}

impl TxQueue {
    pub(crate) fn new(cap: usize) -> TxQueue {
        TxQueue {
            q: VecDeque::with_capacity(cap),
            cap,
            raw: vec![[0u8; RAW_LEN]; RAW_SLOTS].into_boxed_slice(),
            raw_next: 0,
            raw_pending: 0,
            dropped: 0,
        }
    }

    /// Queues a send; false (and counted in `dropped`) when full.
    pub(crate) fn push(&mut self, p: Pending) -> bool {
        if self.q.len() >= self.cap {
            self.dropped += 1;
            return false;
        }
        if matches!(p, Pending::Raw { .. }) {
            self.raw_pending += 1;
        }
        self.q.push_back(p);
        true
    }

    pub(crate) fn pop(&mut self) -> Option<Pending> {
        let p = self.q.pop_front()?;
        if matches!(p, Pending::Raw { .. }) {
            self.raw_pending = self.raw_pending.saturating_sub(1);
        }
        Some(p)
    }

    /// The next free raw slot to write a small datagram into, then push a
    /// [`Pending::Raw`] naming it; `None` (the caller counts the drop) while every slot waits to be polled.
    /// Raw datagrams are queued in ring order, so the next slot is free exactly when
    /// fewer than [`RAW_SLOTS`] are pending.
    pub(crate) fn raw_slot(&mut self) -> Option<(usize, &mut [u8; RAW_LEN])> {
        if self.raw_pending >= RAW_SLOTS {
            return None;
        }
        let idx = self.raw_next % RAW_SLOTS;
        let slot = self.raw.get_mut(idx)?;
        self.raw_next = self.raw_next.wrapping_add(1);
        Some((idx, slot))
    }

    pub(crate) fn raw(&self, idx: usize) -> Option<&[u8; RAW_LEN]> {
        self.raw.get(idx)
    }

    /// Drops queued media of the calls `stale(call slot)` names (about to mix again:
    /// the driver did not drain their previous tick in time).
    pub(crate) fn drop_stale_media(&mut self, stale: impl Fn(u32) -> bool) {
        if self.q.is_empty() {
            return;
        }
        let before = self.q.len();
        self.q
            .retain(|p| !matches!(p, Pending::Media { call, .. } if stale(*call)));
        self.dropped += (before - self.q.len()) as u64;
    }

    /// Drops everything queued for participant slot `part` (it left).
    pub(crate) fn forget_participant(&mut self, part: u32) {
        self.q.retain(|p| match p {
            Pending::Media { part: q, .. } | Pending::Rtcp { part: q, .. } => *q != part,
            Pending::Raw { .. } => true,
        });
    }

    /// Drops everything queued for call slot `call`.
    pub(crate) fn forget_call(&mut self, call: u32) {
        self.q
            .retain(|p| !matches!(p, Pending::Media { call: c, .. } if *c == call));
    }
}
