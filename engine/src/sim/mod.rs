//! Simulation support: a virtual network, simulated clients and a tone detector.
//!
//! Hidden from the docs; used by the engine's deterministic tests, by `loadgen` and by
//! the benchmarks. This module owns:
//! - [`SimClient`]: a real client's media logic — Opus-encodes a tone (or silence),
//!   writes RTP with an RFC 6464 level, SRTP-protects, and on the way back unprotects,
//!   buffers (with the engine's own [`crate::jitter::JitterBuffer`]), decodes with FEC/PLC and measures
//!   what it hears with [`tone_amplitude`] (Goertzel). It is transport-agnostic: it reads
//!   and writes byte buffers, so the same client runs over the virtual network or UDP.
//! - [`SimNet`]: an in-process network on a virtual clock with loss, jitter (hence
//!   reordering) and duplication, driven by a seeded generator, on preallocated buffers.
//! - [`Harness`]: an engine, a network and clients stepped together in virtual time.
//!
//! After construction, none of it allocates (the zero-allocation test runs through it),
//! reads the clock or touches a socket.

//!
//! Files: `client` ([`SimClient`]), `net` ([`SimNet`]), `harness` ([`Harness`]).

mod client;
mod harness;
mod net;

pub use client::{addr_of, keys_of, tone_of, ClientConfig, ClientStats, SimClient};
pub use harness::Harness;
pub use net::{NetConfig, SimNet};

/// Largest datagram the simulation carries.
pub const MTU: usize = 1_500;
/// Room per datagram in the network: above [`MTU`], so oversized datagrams reach the
/// engine intact.
pub const NET_BUF: usize = 2_048;
/// The Opus payload type simulated clients use.
pub const PT: u8 = 111;
/// The RFC 6464 extension id simulated clients use.
pub const LEVEL_EXT_ID: u8 = 1;

/// A small deterministic generator (xorshift64*).
#[derive(Debug, Clone, Copy)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed (0 is replaced).
    pub fn new(seed: u64) -> Rng {
        Rng(seed.max(1).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A uniform float in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Fills `out` with random bytes.
    pub fn fill(&mut self, out: &mut [u8]) {
        for b in out {
            *b = self.next_u64() as u8;
        }
    }
}

/// The amplitude of the `hz` component of `pcm` at 48 kHz (Goertzel): a sine of
/// amplitude A gives about A.
pub fn tone_amplitude(pcm: &[i16], hz: f32) -> f32 {
    let n = pcm.len() as f32;
    if n == 0.0 {
        return 0.0;
    }
    let w = 2.0 * core::f32::consts::PI * hz / 48_000.0;
    let coeff = 2.0 * w.cos();
    let (mut s1, mut s2) = (0.0f32, 0.0f32);
    for &x in pcm {
        let s = f32::from(x) + coeff * s1 - s2;
        s2 = s1;
        s1 = s;
    }
    let power = s1 * s1 + s2 * s2 - coeff * s1 * s2;
    2.0 * power.max(0.0).sqrt() / n
}
