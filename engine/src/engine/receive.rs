//! The receive half of [`Engine`]: RTP, RTCP and STUN datagrams to their participant.
//!
//! Owns the per-protocol steps after demultiplexing: the SSRC (or ICE username) lookup,
//! the per-call panic guard around a participant's receive path, RTCP statistics and
//! `MediaStarted`. Must never latch an address before authentication or allocate.

use std::net::SocketAddr;
use std::panic::{catch_unwind, AssertUnwindSafe};

use std::time::Instant;

use talko_codecs::demux::{classify, Kind};
use talko_codecs::srtp::{AuthTicket, RtpAuthBatch, RtpAuthTags, SRTP_BATCH};

use super::{Datagram, Engine};
use crate::events::{DropReason, EndReason, Event};
use crate::ice;
use crate::participant::Received;

impl Engine {
    /// [`Engine::handle_datagram`] for several datagrams at once, datagram `i` at
    /// `space[i * stride..]` with sender and length `datagrams[i]`, handled in order.
    /// The SRTP tags of the batch's media packets are computed together
    /// ([`RtpAuthBatch`]) before each packet goes its usual way (authentication check,
    /// decryption, latching, jitter buffer): same results, errors and counted drops as
    /// one at a time. At most [`SRTP_BATCH`] datagrams are batched per call; later ones
    /// take the one-at-a-time path.
    pub fn handle_datagrams(
        &mut self,
        now: Instant,
        space: &mut [u8],
        stride: usize,
        datagrams: &[Datagram],
    ) {
        let stride = stride.max(1);
        let mut tickets: [Option<AuthTicket>; SRTP_BATCH] = [None; SRTP_BATCH];
        let tags = self.authenticate_batch(space, stride, datagrams, &mut tickets);
        for (i, (d, chunk)) in datagrams
            .iter()
            .zip(space.chunks_exact_mut(stride))
            .enumerate()
        {
            let Some(datagram) = chunk.get_mut(..d.len) else {
                self.count_drop(None, DropReason::TooLarge);
                continue;
            };
            match tickets.get(i).copied().flatten() {
                Some(ticket) => {
                    let now_us = self.now_us(now);
                    self.handle_rtp(now_us, d.from, datagram, Some((&tags, ticket)));
                }
                None => self.handle_datagram(now, d.from, datagram),
            }
        }
    }

    /// The batched tag computation of [`Engine::handle_datagrams`]: a ticket for every
    /// SRTP packet of a known participant from an allowed source (anything else is left
    /// to the one-at-a-time path, which drops and counts it).
    fn authenticate_batch(
        &self,
        space: &[u8],
        stride: usize,
        datagrams: &[Datagram],
        tickets: &mut [Option<AuthTicket>; SRTP_BATCH],
    ) -> RtpAuthTags {
        let mut batch = RtpAuthBatch::new();
        for ((d, chunk), ticket) in datagrams
            .iter()
            .zip(space.chunks_exact(stride))
            .zip(tickets.iter_mut())
        {
            let Some(datagram) = chunk.get(..d.len) else {
                continue;
            };
            if d.len > self.cfg.max_datagram || classify(datagram) != Kind::Rtp {
                continue;
            }
            let Some(p) = datagram
                .get(8..12)
                .and_then(|b| <[u8; 4]>::try_from(b).ok())
                .map(u32::from_be_bytes)
                .and_then(|ssrc| self.ssrc_index.get(&ssrc))
                .and_then(|&slot| self.parts.get(slot as usize))
                .and_then(Option::as_ref)
            else {
                continue;
            };
            if p.source_allowed(d.from) {
                *ticket = batch.add(&p.srtp_in, datagram);
            }
        }
        batch.compute()
    }

    pub(super) fn handle_rtp(
        &mut self,
        now_us: i64,
        from: SocketAddr,
        datagram: &mut [u8],
        auth: Option<(&RtpAuthTags, AuthTicket)>,
    ) {
        let Some(ssrc) = datagram
            .get(8..12)
            .and_then(|b| <[u8; 4]>::try_from(b).ok())
            .map(u32::from_be_bytes)
        else {
            self.count_drop(None, DropReason::Malformed);
            return;
        };
        let Some(&pslot) = self.ssrc_index.get(&ssrc) else {
            self.count_drop(None, DropReason::UnknownSsrc);
            return;
        };
        let max = self.cfg.max_datagram;
        let Some(call_slot) = self
            .parts
            .get(pslot as usize)
            .and_then(Option::as_ref)
            .map(|p| p.call_slot)
        else {
            self.count_drop(None, DropReason::UnknownSsrc);
            return;
        };
        // An overdue tick of the participant's call that has not run yet still plays
        // this packet: the jitter buffer must not count the shard's own lateness as
        // network jitter.
        let playable_us = match self.call_next_run(call_slot) {
            Some(t) => now_us.min(self.now_us(t)),
            None => now_us,
        };
        let Some(Some(p)) = self.parts.get_mut(pslot as usize) else {
            self.count_drop(None, DropReason::UnknownSsrc);
            return;
        };
        let result = catch_unwind(AssertUnwindSafe(|| {
            p.receive_rtp(now_us, playable_us, from, datagram, max, auth)
        }));
        match result {
            Ok(Received::Stored { latched }) => {
                if latched {
                    self.media_started(pslot, from);
                }
            }
            Ok(Received::Dropped(reason)) => self.count_drop(Some(pslot), reason),
            Err(_) => self.end_call(call_slot, EndReason::Panicked, now_us),
        }
    }

    pub(super) fn media_started(&mut self, pslot: u32, addr: SocketAddr) {
        let Some(Some(p)) = self.parts.get(pslot as usize) else {
            return;
        };
        let call = self
            .calls
            .get(p.call_slot as usize)
            .and_then(Option::as_ref)
            .map(|c| c.id);
        if let Some(call) = call {
            self.events.push(Event::MediaStarted {
                call,
                participant: p.id,
                addr,
            });
        }
    }

    pub(super) fn handle_rtcp(&mut self, now_us: i64, from: SocketAddr, datagram: &mut [u8]) {
        let Some(ssrc) = datagram
            .get(4..8)
            .and_then(|b| <[u8; 4]>::try_from(b).ok())
            .map(u32::from_be_bytes)
        else {
            self.count_drop(None, DropReason::Malformed);
            return;
        };
        let Some(&pslot) = self.ssrc_index.get(&ssrc) else {
            self.count_drop(None, DropReason::UnknownSsrc);
            return;
        };
        let Some(Some(p)) = self.parts.get_mut(pslot as usize) else {
            self.count_drop(None, DropReason::UnknownSsrc);
            return;
        };
        let call_slot = p.call_slot;
        match catch_unwind(AssertUnwindSafe(|| p.receive_rtcp(now_us, from, datagram))) {
            Ok(Received::Stored { latched }) => {
                if latched {
                    self.media_started(pslot, from);
                }
            }
            Ok(Received::Dropped(reason)) => self.count_drop(Some(pslot), reason),
            Err(_) => self.end_call(call_slot, EndReason::Panicked, now_us),
        }
    }

    pub(super) fn handle_stun(&mut self, from: SocketAddr, datagram: &mut [u8]) {
        match ice::check(
            datagram,
            from,
            self.cfg.max_datagram,
            &self.ufrag_index,
            &mut self.parts,
            &mut self.tx,
        ) {
            Ok(Some((pslot, latched))) => {
                if latched {
                    self.media_started(pslot, from);
                }
            }
            Ok(None) => {}
            Err((pslot, reason)) => self.count_drop(pslot, reason),
        }
    }
}
