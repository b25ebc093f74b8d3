//! [`SimNet`]: an in-process network on a virtual clock (loss, jitter, duplication).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::{Rng, NET_BUF};

/// Network conditions of a [`SimNet`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NetConfig {
    /// One-way delay every packet gets.
    pub delay: Duration,
    /// Extra delay uniformly drawn from [0, jitter] per packet (reorders packets).
    pub jitter: Duration,
    /// Probability a packet is lost.
    pub loss: f64,
    /// Probability a packet is delivered twice.
    pub duplicate: f64,
}

impl Default for NetConfig {
    fn default() -> Self {
        NetConfig {
            delay: Duration::from_millis(10),
            jitter: Duration::ZERO,
            loss: 0.0,
            duplicate: 0.0,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct InFlight {
    at: Instant,
    from: SocketAddr,
    to: SocketAddr,
    len: usize,
    buf: usize,
}

/// An in-process network on a virtual clock (see the module docs).
pub struct SimNet {
    /// Conditions for packets towards the engine.
    pub up: NetConfig,
    /// Conditions for packets from the engine.
    pub down: NetConfig,
    /// The engine's address (decides which conditions apply).
    pub server: SocketAddr,
    rng: Rng,
    bufs: Vec<[u8; NET_BUF]>,
    free: Vec<usize>,
    flight: Vec<InFlight>,
    /// Packets dropped because every buffer was in flight.
    pub overflow: u64,
    /// Packets the network lost on purpose.
    pub lost: u64,
}

impl std::fmt::Debug for SimNet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimNet")
            .field("in_flight", &self.flight.len())
            .field("lost", &self.lost)
            .finish_non_exhaustive()
    }
}

impl SimNet {
    /// A network with room for `capacity` packets in flight.
    pub fn new(server: SocketAddr, seed: u64, capacity: usize) -> SimNet {
        SimNet {
            up: NetConfig::default(),
            down: NetConfig::default(),
            server,
            rng: Rng::new(seed),
            bufs: vec![[0u8; NET_BUF]; capacity],
            free: (0..capacity).rev().collect(),
            flight: Vec::with_capacity(capacity),
            overflow: 0,
            lost: 0,
        }
    }

    /// Sends `data` from `from` to `to` at `now`.
    pub fn send(&mut self, now: Instant, from: SocketAddr, to: SocketAddr, data: &[u8]) {
        let cfg = if to == self.server {
            self.up
        } else {
            self.down
        };
        if self.rng.unit() < cfg.loss {
            self.lost += 1;
            return;
        }
        let copies = if self.rng.unit() < cfg.duplicate {
            2
        } else {
            1
        };
        for _ in 0..copies {
            let jitter = cfg.jitter.mul_f64(self.rng.unit());
            let Some(buf) = self.free.pop() else {
                self.overflow += 1;
                return;
            };
            let len = data.len().min(NET_BUF);
            if let (Some(dst), Some(src)) = (
                self.bufs.get_mut(buf).and_then(|b| b.get_mut(..len)),
                data.get(..len),
            ) {
                dst.copy_from_slice(src);
            }
            self.flight.push(InFlight {
                at: now + cfg.delay + jitter,
                from,
                to,
                len,
                buf,
            });
        }
    }

    /// The earliest delivery time of anything in flight.
    pub fn next_delivery(&self) -> Option<Instant> {
        self.flight.iter().map(|f| f.at).min()
    }

    /// Delivers the earliest packet due at `now` into `out`: `(from, to, len)`.
    pub fn recv(
        &mut self,
        now: Instant,
        out: &mut [u8],
    ) -> Option<(SocketAddr, SocketAddr, usize)> {
        let (i, _) = self
            .flight
            .iter()
            .enumerate()
            .filter(|(_, f)| f.at <= now)
            .min_by_key(|(_, f)| f.at)?;
        let f = self.flight.swap_remove(i);
        let src = self.bufs.get(f.buf)?.get(..f.len)?;
        let len = f.len.min(out.len());
        out.get_mut(..len)?.copy_from_slice(src.get(..len)?);
        self.free.push(f.buf);
        Some((f.from, f.to, len))
    }
}
