//! HMAC-SHA1 of sixteen messages at once with AVX-512: one message per 32-bit lane.
//!
//! The SHA extensions compress one block in a chain of twenty dependent `sha1rnds4`
//! instructions, and their single unit is shared by every message in flight, so even
//! interleaved they cost tens of cycles per block. AVX-512 runs the plain SHA-1 rounds
//! on sixteen lanes at once: a rotate, a three-input logic op (`vpternlogd`) and adds per
//! round, all on the wide vector ALUs. For a fan-out of one mix to many listeners (each
//! with its own key) or a burst of packets from many senders, that is several times the
//! throughput of the SHA extensions per block.
//!
//! Messages of different lengths share the pass: a lane whose message has no block at
//! some step compresses a dummy block and keeps its state (masked add). The outer HMAC
//! block is built in registers from the inner states (the digest words are the outer
//! message's first five words), so it needs no transpose.
//!
//! Reached only through [`Sha1x16`], which exists only on CPUs with AVX-512 F and BW:
//! that is what makes every `unsafe` call here sound.
#![allow(unsafe_code)]

use core::arch::x86_64::*;

/// Lanes per pass.
pub(crate) const LANES: usize = 16;

/// Proof that this CPU has AVX-512 F and BW.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Sha1x16(());

impl Sha1x16 {
    /// `Some` on CPUs with AVX-512 F and BW.
    pub(crate) fn detect() -> Option<Sha1x16> {
        (std::is_x86_feature_detected!("avx512f") && std::is_x86_feature_detected!("avx512bw"))
            .then_some(Sha1x16(()))
    }

    /// HMAC-SHA1 of sixteen messages: lane `l` starts from the keyed inner state
    /// `inner[l]`, compresses its `lens[l]` blocks `block(i, l)` (already padded), then
    /// compresses the padded inner digest from the keyed outer state `outer[l]`.
    /// Returns the outer states (the untruncated tags as words). `block` is called only
    /// for `i < lens[l]`.
    pub(crate) fn hmac<'b>(
        self,
        inner: &[[u32; 5]; LANES],
        outer: &[[u32; 5]; LANES],
        lens: &[usize; LANES],
        block: impl Fn(usize, usize) -> &'b [u8; 64],
    ) -> [[u32; 5]; LANES] {
        // SAFETY: a `Sha1x16` exists only where `detect()` found AVX-512 F and BW.
        unsafe { hmac_x16(inner, outer, lens, block) }
    }
}

/// The five state words of every lane: `s[j]` holds word `j` of each lane.
type State = [__m512i; 5];

#[target_feature(enable = "avx512f,avx512bw")]
unsafe fn hmac_x16<'b>(
    inner: &[[u32; 5]; LANES],
    outer: &[[u32; 5]; LANES],
    lens: &[usize; LANES],
    block: impl Fn(usize, usize) -> &'b [u8; 64],
) -> [[u32; 5]; LANES] {
    let pad = [0u8; 64];
    let mut state = gather_state(inner);
    let blocks = lens.iter().copied().max().unwrap_or(0);
    for i in 0..blocks {
        let mut active: __mmask16 = 0;
        let rows: [&[u8; 64]; LANES] = core::array::from_fn(|l| {
            if i < lens[l] {
                active |= 1 << l;
                block(i, l)
            } else {
                &pad
            }
        });
        let w = load_transposed(&rows);
        let h = compress(&state, w);
        for j in 0..5 {
            state[j] = _mm512_mask_add_epi32(state[j], active, state[j], h[j]);
        }
    }
    // The outer message: the inner digest's five words, 0x80 and the bit length of the
    // key block plus the digest.
    let zero = _mm512_setzero_si512();
    let mut w = [zero; 16];
    w[..5].copy_from_slice(&state);
    w[5] = _mm512_set1_epi32(0x8000_0000u32 as i32);
    w[15] = _mm512_set1_epi32((64 + 20) * 8);
    let start = gather_state(outer);
    let h = compress(&start, w);
    let mut words = [[0u32; LANES]; 5];
    for j in 0..5 {
        _mm512_storeu_si512(
            words[j].as_mut_ptr().cast(),
            _mm512_add_epi32(start[j], h[j]),
        );
    }
    core::array::from_fn(|l| core::array::from_fn(|j| words[j][l]))
}

/// Lane states, word-major.
#[inline(always)]
unsafe fn gather_state(states: &[[u32; 5]; LANES]) -> State {
    let mut words = [[0u32; LANES]; 5];
    for (l, s) in states.iter().enumerate() {
        for j in 0..5 {
            words[j][l] = s[j];
        }
    }
    let mut out = [_mm512_setzero_si512(); 5];
    for j in 0..5 {
        out[j] = _mm512_loadu_si512(words[j].as_ptr().cast());
    }
    out
}

/// Loads one block per lane as big-endian words and transposes them: `w[t]` holds word
/// `t` of every lane's block.
#[inline(always)]
unsafe fn load_transposed(rows: &[&[u8; 64]; LANES]) -> [__m512i; 16] {
    // Byte reversal within each 32-bit word.
    let bswap = _mm512_set4_epi32(0x0c0d_0e0f, 0x0809_0a0b, 0x0405_0607, 0x0001_0203);
    // (Plain loops, not closures: a closure does not inherit this code's target
    // features, so intrinsics inside one would not be inlined.)
    let zero = _mm512_setzero_si512();
    let mut r = [zero; 16];
    for l in 0..16 {
        r[l] = _mm512_shuffle_epi8(_mm512_loadu_si512(rows[l].as_ptr().cast()), bswap);
    }
    // Within each 128-bit lane q: a[2k] = [r2k.0, r2k+1.0, r2k.1, r2k+1.1] of that
    // lane's four words, a[2k+1] the same for words 2 and 3.
    let mut a = [zero; 16];
    for k in 0..8 {
        a[2 * k] = _mm512_unpacklo_epi32(r[2 * k], r[2 * k + 1]);
        a[2 * k + 1] = _mm512_unpackhi_epi32(r[2 * k], r[2 * k + 1]);
    }
    // b[4k + j], 128-bit lane q: word 4q + j of rows 4k..4k+3.
    let mut b = [zero; 16];
    for k in 0..4 {
        b[4 * k] = _mm512_unpacklo_epi64(a[4 * k], a[4 * k + 2]);
        b[4 * k + 1] = _mm512_unpackhi_epi64(a[4 * k], a[4 * k + 2]);
        b[4 * k + 2] = _mm512_unpacklo_epi64(a[4 * k + 1], a[4 * k + 3]);
        b[4 * k + 3] = _mm512_unpackhi_epi64(a[4 * k + 1], a[4 * k + 3]);
    }
    // Transpose the 128-bit lanes of b[j], b[4 + j], b[8 + j], b[12 + j]: w[4q + j]'s
    // 128-bit lane p is b[4p + j]'s lane q.
    let mut w = [zero; 16];
    for j in 0..4 {
        let e0 = _mm512_shuffle_i32x4::<0x44>(b[j], b[4 + j]);
        let e1 = _mm512_shuffle_i32x4::<0xee>(b[j], b[4 + j]);
        let e2 = _mm512_shuffle_i32x4::<0x44>(b[8 + j], b[12 + j]);
        let e3 = _mm512_shuffle_i32x4::<0xee>(b[8 + j], b[12 + j]);
        w[j] = _mm512_shuffle_i32x4::<0x88>(e0, e2);
        w[4 + j] = _mm512_shuffle_i32x4::<0xdd>(e0, e2);
        w[8 + j] = _mm512_shuffle_i32x4::<0x88>(e1, e3);
        w[12 + j] = _mm512_shuffle_i32x4::<0xdd>(e1, e3);
    }
    w
}

/// One SHA-1 round on every lane, in the rotating-names form: `e += rol(a, 5) +
/// f(b, c, d) + k + w; b = rol(b, 30)`; the next round's `a` is this round's `e`.
#[inline(always)]
unsafe fn round<const F: i32>(
    a: __m512i,
    b: &mut __m512i,
    c: __m512i,
    d: __m512i,
    e: &mut __m512i,
    wk: __m512i,
) {
    let f = _mm512_ternarylogic_epi32::<F>(*b, c, d);
    *e = _mm512_add_epi32(
        _mm512_add_epi32(*e, wk),
        _mm512_add_epi32(_mm512_rol_epi32::<5>(a), f),
    );
    *b = _mm512_rol_epi32::<30>(*b);
}

/// `vpternlogd` truth tables: choose (`b ? c : d`), parity and majority.
const CH: i32 = 0xca;
const PARITY: i32 = 0x96;
const MAJ: i32 = 0xe8;

/// The 80 rounds of one block on every lane; returns the working variables (to be added
/// into the state by the caller).
#[inline(always)]
unsafe fn compress(state: &State, mut w: [__m512i; 16]) -> State {
    let [mut a, mut b, mut c, mut d, mut e] = *state;
    // Word t of the schedule (t >= 16 replaces w[t % 16]), plus the round constant.
    macro_rules! wk {
        ($t:expr, $k:expr) => {{
            let t: usize = $t;
            if t >= 16 {
                let x = _mm512_ternarylogic_epi32::<PARITY>(
                    w[(t - 3) & 15],
                    w[(t - 8) & 15],
                    w[(t - 14) & 15],
                );
                w[t & 15] = _mm512_rol_epi32::<1>(_mm512_xor_si512(x, w[t & 15]));
            }
            _mm512_add_epi32(w[t & 15], $k)
        }};
    }
    // Five rounds starting at `t`, after which the names are back in place.
    macro_rules! five {
        ($t:expr, $f:ident, $k:expr) => {{
            let k = _mm512_set1_epi32($k as i32);
            round::<$f>(a, &mut b, c, d, &mut e, wk!($t, k));
            round::<$f>(e, &mut a, b, c, &mut d, wk!($t + 1, k));
            round::<$f>(d, &mut e, a, b, &mut c, wk!($t + 2, k));
            round::<$f>(c, &mut d, e, a, &mut b, wk!($t + 3, k));
            round::<$f>(b, &mut c, d, e, &mut a, wk!($t + 4, k));
        }};
    }
    five!(0, CH, 0x5a82_7999u32);
    five!(5, CH, 0x5a82_7999u32);
    five!(10, CH, 0x5a82_7999u32);
    five!(15, CH, 0x5a82_7999u32);
    five!(20, PARITY, 0x6ed9_eba1u32);
    five!(25, PARITY, 0x6ed9_eba1u32);
    five!(30, PARITY, 0x6ed9_eba1u32);
    five!(35, PARITY, 0x6ed9_eba1u32);
    five!(40, MAJ, 0x8f1b_bcdcu32);
    five!(45, MAJ, 0x8f1b_bcdcu32);
    five!(50, MAJ, 0x8f1b_bcdcu32);
    five!(55, MAJ, 0x8f1b_bcdcu32);
    five!(60, PARITY, 0xca62_c1d6u32);
    five!(65, PARITY, 0xca62_c1d6u32);
    five!(70, PARITY, 0xca62_c1d6u32);
    five!(75, PARITY, 0xca62_c1d6u32);
    [a, b, c, d, e]
}

#[cfg(test)]
mod tests {
    use super::*;
    use hmac::{Hmac, Mac};

    fn bytes(seed: usize, n: usize) -> Vec<u8> {
        (0..n).map(|i| (i * 131 + seed * 17 + 5) as u8).collect()
    }

    /// Pads `msg` as the inner message after a 64-byte key block.
    fn padded(msg: &[u8]) -> Vec<[u8; 64]> {
        let mut m = msg.to_vec();
        m.push(0x80);
        while m.len() % 64 != 56 {
            m.push(0);
        }
        m.extend_from_slice(&(((64 + msg.len()) as u64) * 8).to_be_bytes());
        m.chunks_exact(64)
            .map(|c| c.try_into().expect("64"))
            .collect()
    }

    fn keyed(key: &[u8], pad: u8) -> [u32; 5] {
        let mut block = [pad; 64];
        for (b, k) in block.iter_mut().zip(key) {
            *b ^= k;
        }
        let mut s = [
            0x6745_2301,
            0xefcd_ab89,
            0x98ba_dcfe,
            0x1032_5476,
            0xc3d2_e1f0,
        ];
        sha1::compress(&mut s, &[block.into()]);
        s
    }

    #[test]
    fn sixteen_lanes_of_different_lengths_and_keys_match_the_hmac_crate() {
        let Some(x16) = Sha1x16::detect() else {
            eprintln!("SKIPPED: this CPU lacks AVX-512 F/BW; the SHA extensions or the portable path are used");
            return;
        };
        for round in 0..12usize {
            let keys: Vec<Vec<u8>> = (0..LANES).map(|l| bytes(l + round * 7, 20)).collect();
            // Lengths 0..=300 across lanes and rounds: 1 to 6 blocks, every tail shape.
            let msgs: Vec<Vec<u8>> = (0..LANES)
                .map(|l| bytes(l * 3 + round, (l * 37 + round * 53) % 301))
                .collect();
            let blocks: Vec<Vec<[u8; 64]>> = msgs.iter().map(|m| padded(m)).collect();
            let inner: [[u32; 5]; LANES] = core::array::from_fn(|l| keyed(&keys[l], 0x36));
            let outer: [[u32; 5]; LANES] = core::array::from_fn(|l| keyed(&keys[l], 0x5c));
            let lens: [usize; LANES] = core::array::from_fn(|l| blocks[l].len());
            let got = x16.hmac(&inner, &outer, &lens, |i, l| &blocks[l][i]);
            for l in 0..LANES {
                let mut mac = Hmac::<sha1::Sha1>::new_from_slice(&keys[l]).expect("any key length");
                mac.update(&msgs[l]);
                let want = mac.finalize().into_bytes();
                let tag: Vec<u8> = got[l].iter().flat_map(|w| w.to_be_bytes()).collect();
                assert_eq!(tag, want.as_slice(), "lane {l}, {} bytes", msgs[l].len());
            }
        }
    }
}
