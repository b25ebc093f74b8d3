//! SHA-1 compression with the x86 SHA extensions, one lane or several interleaved.
//!
//! One SHA-1 block is a chain of twenty dependent `sha1rnds4` instructions, so a single
//! message keeps the SHA unit waiting on latency most of the time. Compressing the
//! blocks of two independent messages (two packets' HMACs) in one instruction stream
//! fills those gaps: the SRTP benchmark's batch protect shows the gain. The state layout
//! follows the instructions: `abcd` holds A in the highest lane, `e` holds E in the
//! highest lane.
//!
//! Reached only through [`Sha1Ni`], which exists only on CPUs with the SHA extensions
//! and SSSE3/SSE4.1: that is what makes every `unsafe` call here sound.
#![allow(unsafe_code)]

use core::arch::x86_64::*;

/// Proof that this CPU has the SHA extensions (and SSSE3/SSE4.1).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Sha1Ni(());

impl Sha1Ni {
    /// `Some` on CPUs with the SHA extensions.
    pub(crate) fn detect() -> Option<Sha1Ni> {
        (std::is_x86_feature_detected!("sha")
            && std::is_x86_feature_detected!("ssse3")
            && std::is_x86_feature_detected!("sse4.1"))
        .then_some(Sha1Ni(()))
    }

    /// Compresses `count` blocks into each of `N` states, block `i` of lane `l` being
    /// `block(i, l)`, with the states kept in registers throughout.
    pub(crate) fn compress_with<'b, const N: usize>(
        self,
        states: &mut [[u32; 5]; N],
        count: usize,
        block: impl Fn(usize, usize) -> &'b [u8; 64],
    ) {
        // SAFETY: a `Sha1Ni` exists only where `detect()` found the instructions.
        unsafe { compress_with_ni(states, count, block) }
    }

    /// Compresses the whole 64-byte blocks of each part in turn into one state (a
    /// trailing partial block of a part is ignored), keeping the state in registers.
    pub(crate) fn compress_parts(self, state: &mut [u32; 5], parts: &[&[u8]]) {
        // SAFETY: a `Sha1Ni` exists only where `detect()` found the instructions.
        unsafe { compress_parts_ni(state, parts) }
    }
}

/// Rounds `4s..4s+3` for every lane: `target = rnds4(other, nexte(target, w), k)`.
macro_rules! step {
    ($n:expr, $target:ident, $other:ident, $w:expr, $k:literal) => {
        for l in 0..$n {
            $target[l] = _mm_sha1rnds4_epu32($other[l], _mm_sha1nexte_epu32($target[l], $w[l]), $k);
        }
    };
}

/// The message schedule for every lane: `w[d] = msg2(msg1(w[a], w[b]) ^ w[c], w[d'])`.
macro_rules! schedule {
    ($n:expr, $w:ident, $out:literal, $a:literal, $b:literal, $c:literal, $d:literal) => {
        for l in 0..$n {
            $w[$out][l] = _mm_sha1msg2_epu32(
                _mm_xor_si128(_mm_sha1msg1_epu32($w[$a][l], $w[$b][l]), $w[$c][l]),
                $w[$d][l],
            );
        }
    };
}

#[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
unsafe fn compress_with_ni<'b, const N: usize>(
    states: &mut [[u32; 5]; N],
    count: usize,
    block: impl Fn(usize, usize) -> &'b [u8; 64],
) {
    let mut abcd: [__m128i; N] = core::array::from_fn(|l| load_abcd(&states[l]));
    let mut e: [__m128i; N] = core::array::from_fn(|l| load_e(&states[l]));
    for i in 0..count {
        rounds(&mut abcd, &mut e, core::array::from_fn(|l| block(i, l)));
    }
    for l in 0..N {
        states[l] = store(abcd[l], e[l]);
    }
}

#[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
unsafe fn compress_parts_ni(state: &mut [u32; 5], parts: &[&[u8]]) {
    let mut abcd = [load_abcd(state)];
    let mut e = [load_e(state)];
    for part in parts {
        for block in part.chunks_exact(64) {
            if let Ok(block) = <&[u8; 64]>::try_from(block) {
                rounds(&mut abcd, &mut e, [block]);
            }
        }
    }
    *state = store(abcd[0], e[0]);
}

#[inline(always)]
unsafe fn load_abcd(s: &[u32; 5]) -> __m128i {
    _mm_set_epi32(s[0] as i32, s[1] as i32, s[2] as i32, s[3] as i32)
}

#[inline(always)]
unsafe fn load_e(s: &[u32; 5]) -> __m128i {
    _mm_set_epi32(s[4] as i32, 0, 0, 0)
}

#[inline(always)]
unsafe fn store(abcd: __m128i, e: __m128i) -> [u32; 5] {
    [
        _mm_extract_epi32(abcd, 3) as u32,
        _mm_extract_epi32(abcd, 2) as u32,
        _mm_extract_epi32(abcd, 1) as u32,
        _mm_extract_epi32(abcd, 0) as u32,
        _mm_extract_epi32(e, 3) as u32,
    ]
}

/// The 80 rounds of one block in each lane, added into the lanes' states.
#[inline(always)]
unsafe fn rounds<const N: usize>(
    abcd: &mut [__m128i; N],
    e: &mut [__m128i; N],
    blocks: [&[u8; 64]; N],
) {
    // Big-endian words, W0 in the highest lane.
    let order = _mm_set_epi64x(0x0001_0203_0405_0607, 0x0809_0a0b_0c0d_0e0f);
    let zero = _mm_setzero_si128();
    let mut w = [[zero; N]; 5];
    for l in 0..N {
        let b = blocks[l];
        for (j, wj) in w.iter_mut().take(4).enumerate() {
            wj[l] = _mm_shuffle_epi8(_mm_loadu_si128(b.as_ptr().add(16 * j).cast()), order);
        }
    }
    let mut h0 = *abcd;
    let mut h1 = [zero; N];
    for l in 0..N {
        h1[l] = _mm_sha1rnds4_epu32(h0[l], _mm_add_epi32(e[l], w[0][l]), 0);
    }
    // Rounds 4..20.
    step!(N, h0, h1, w[1], 0);
    step!(N, h1, h0, w[2], 0);
    step!(N, h0, h1, w[3], 0);
    schedule!(N, w, 4, 0, 1, 2, 3);
    step!(N, h1, h0, w[4], 0);
    // Rounds 20..40.
    schedule!(N, w, 0, 1, 2, 3, 4);
    step!(N, h0, h1, w[0], 1);
    schedule!(N, w, 1, 2, 3, 4, 0);
    step!(N, h1, h0, w[1], 1);
    schedule!(N, w, 2, 3, 4, 0, 1);
    step!(N, h0, h1, w[2], 1);
    schedule!(N, w, 3, 4, 0, 1, 2);
    step!(N, h1, h0, w[3], 1);
    schedule!(N, w, 4, 0, 1, 2, 3);
    step!(N, h0, h1, w[4], 1);
    // Rounds 40..60.
    schedule!(N, w, 0, 1, 2, 3, 4);
    step!(N, h1, h0, w[0], 2);
    schedule!(N, w, 1, 2, 3, 4, 0);
    step!(N, h0, h1, w[1], 2);
    schedule!(N, w, 2, 3, 4, 0, 1);
    step!(N, h1, h0, w[2], 2);
    schedule!(N, w, 3, 4, 0, 1, 2);
    step!(N, h0, h1, w[3], 2);
    schedule!(N, w, 4, 0, 1, 2, 3);
    step!(N, h1, h0, w[4], 2);
    // Rounds 60..80.
    schedule!(N, w, 0, 1, 2, 3, 4);
    step!(N, h0, h1, w[0], 3);
    schedule!(N, w, 1, 2, 3, 4, 0);
    step!(N, h1, h0, w[1], 3);
    schedule!(N, w, 2, 3, 4, 0, 1);
    step!(N, h0, h1, w[2], 3);
    schedule!(N, w, 3, 4, 0, 1, 2);
    step!(N, h1, h0, w[3], 3);
    schedule!(N, w, 4, 0, 1, 2, 3);
    step!(N, h0, h1, w[4], 3);
    for l in 0..N {
        abcd[l] = _mm_add_epi32(abcd[l], h0[l]);
        e[l] = _mm_sha1nexte_epu32(h1[l], e[l]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(seed: u8) -> [u8; 64] {
        core::array::from_fn(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
    }

    #[test]
    fn every_lane_count_matches_the_sha1_crate() {
        let Some(ni) = Sha1Ni::detect() else {
            eprintln!("SKIPPED: this CPU lacks the SHA extensions; the portable path is used");
            return;
        };
        let blocks: Vec<[u8; 64]> = (0..4).map(|i| block(i * 17 + 3)).collect();
        let start: Vec<[u32; 5]> = (0..4u32)
            .map(|i| core::array::from_fn(|j| 0x6745_2301u32.wrapping_mul(i + 7) ^ (j as u32)))
            .collect();
        let expected: Vec<[u32; 5]> = (0..4)
            .map(|l| {
                let mut s = start[l];
                sha1::compress(&mut s, &[blocks[l].into()]);
                s
            })
            .collect();
        let mut one = [start[0]];
        ni.compress_with(&mut one, 1, |_, l| &blocks[l]);
        assert_eq!(one[0], expected[0]);
        let mut two = [start[0], start[1]];
        ni.compress_with(&mut two, 1, |_, l| &blocks[l]);
        assert_eq!(two.to_vec(), expected[..2]);
        let mut four = [start[0], start[1], start[2], start[3]];
        ni.compress_with(&mut four, 1, |_, l| &blocks[l]);
        assert_eq!(four.to_vec(), expected);
    }
}
