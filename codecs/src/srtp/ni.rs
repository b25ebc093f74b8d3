//! AES-NI and PCLMULQDQ kernels for the SRTP transforms on x86-64: AES-128/256 key
//! expansion, counter-mode keystream eight blocks at a time, and GHASH with eight
//! precomputed key powers so a 20 ms Opus packet costs two field reductions instead of
//! twelve.
//!
//! Why `unsafe` here: the RustCrypto crates these replace process GHASH one block at a
//! time with a reduction per block and dispatch on CPU features per call; the SRTP
//! benchmark (`cargo bench -p talko-benches --bench srtp`) shows this module's GCM at
//! about a third of the time per packet. Every intrinsic is reached only through a
//! value ([`AesNi`], [`Ghash`]) that can be constructed only after the CPU was found to
//! support the instructions, which is what makes the `unsafe` calls sound.
//!
//! Field arithmetic uses POLYVAL's representation (RFC 8452 Appendix A): GHASH over
//! blocks X is the byte reversal of POLYVAL over the byte-reversed blocks, keyed with
//! `mulX(ByteReverse(H))`; products are summed unreduced and reduced once per group of
//! up to eight blocks (a Montgomery reduction by x^128).
#![allow(unsafe_code)]

use core::arch::x86_64::*;

/// Whether this CPU has AES-NI, PCLMULQDQ and SSSE3/SSE4.1 (cached by `std`).
pub(crate) fn available() -> bool {
    std::is_x86_feature_detected!("aes")
        && std::is_x86_feature_detected!("pclmulqdq")
        && std::is_x86_feature_detected!("ssse3")
        && std::is_x86_feature_detected!("sse4.1")
}

/// An expanded AES-128 or AES-256 encryption key for AES-NI.
#[derive(Clone, Copy)]
pub(crate) struct AesNi {
    rk: [__m128i; 15],
    /// 10 for AES-128, 14 for AES-256.
    rounds: usize,
    /// The CPU has VAES and AVX2: counter mode runs two blocks per instruction.
    vaes: bool,
}

/// Whether this CPU has VAES and AVX2 (cached by `std`).
fn vaes_available() -> bool {
    std::is_x86_feature_detected!("vaes") && std::is_x86_feature_detected!("avx2")
}

macro_rules! expand128_step {
    ($k:expr, $rcon:literal) => {{
        let t = _mm_shuffle_epi32(_mm_aeskeygenassist_si128($k, $rcon), 0xff);
        let mut k = $k;
        k = _mm_xor_si128(k, _mm_slli_si128(k, 4));
        k = _mm_xor_si128(k, _mm_slli_si128(k, 4));
        k = _mm_xor_si128(k, _mm_slli_si128(k, 4));
        _mm_xor_si128(k, t)
    }};
}

macro_rules! expand256_steps {
    ($a:expr, $b:expr, $rcon:literal) => {{
        let t = _mm_shuffle_epi32(_mm_aeskeygenassist_si128($b, $rcon), 0xff);
        let mut a = $a;
        a = _mm_xor_si128(a, _mm_slli_si128(a, 4));
        a = _mm_xor_si128(a, _mm_slli_si128(a, 4));
        a = _mm_xor_si128(a, _mm_slli_si128(a, 4));
        a = _mm_xor_si128(a, t);
        let t = _mm_shuffle_epi32(_mm_aeskeygenassist_si128(a, 0), 0xaa);
        let mut b = $b;
        b = _mm_xor_si128(b, _mm_slli_si128(b, 4));
        b = _mm_xor_si128(b, _mm_slli_si128(b, 4));
        b = _mm_xor_si128(b, _mm_slli_si128(b, 4));
        (a, _mm_xor_si128(b, t))
    }};
}

/// Reverses the 16 bytes of a block (big-endian block <-> little-endian integer).
#[inline(always)]
unsafe fn bswap(x: __m128i) -> __m128i {
    _mm_shuffle_epi8(
        x,
        _mm_set_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
    )
}

/// The shuffle that reverses the bytes of each 16-byte lane of a 256-bit register.
#[inline(always)]
unsafe fn reverse_each_lane() -> __m256i {
    _mm256_broadcastsi128_si256(_mm_set_epi8(
        0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
    ))
}

#[inline(always)]
unsafe fn load16(b: &[u8; 16]) -> __m128i {
    _mm_loadu_si128(b.as_ptr().cast())
}

#[inline(always)]
unsafe fn store16(b: &mut [u8; 16], x: __m128i) {
    _mm_storeu_si128(b.as_mut_ptr().cast(), x)
}

/// Loads up to 16 bytes, zero-padded on the right.
#[inline(always)]
unsafe fn load_partial(bytes: &[u8]) -> __m128i {
    let mut block = [0u8; 16];
    for (d, s) in block.iter_mut().zip(bytes) {
        *d = *s;
    }
    load16(&block)
}

impl AesNi {
    /// Expands a 16- or 32-byte key; `None` for other lengths or without AES-NI.
    pub(crate) fn new(key: &[u8]) -> Option<AesNi> {
        if !available() {
            return None;
        }
        match key.len() {
            // SAFETY: `available()` confirmed AES-NI and SSE4.1; the slice is 16 bytes.
            16 => Some(unsafe { Self::expand128(key.try_into().ok()?) }),
            // SAFETY: as above; the slice is 32 bytes.
            32 => Some(unsafe { Self::expand256(key.try_into().ok()?) }),
            _ => None,
        }
    }

    #[target_feature(enable = "aes,sse2,ssse3,sse4.1")]
    unsafe fn expand128(key: &[u8; 16]) -> AesNi {
        let mut rk = [_mm_setzero_si128(); 15];
        rk[0] = load16(key);
        rk[1] = expand128_step!(rk[0], 0x01);
        rk[2] = expand128_step!(rk[1], 0x02);
        rk[3] = expand128_step!(rk[2], 0x04);
        rk[4] = expand128_step!(rk[3], 0x08);
        rk[5] = expand128_step!(rk[4], 0x10);
        rk[6] = expand128_step!(rk[5], 0x20);
        rk[7] = expand128_step!(rk[6], 0x40);
        rk[8] = expand128_step!(rk[7], 0x80);
        rk[9] = expand128_step!(rk[8], 0x1b);
        rk[10] = expand128_step!(rk[9], 0x36);
        AesNi {
            rk,
            rounds: 10,
            vaes: vaes_available(),
        }
    }

    #[target_feature(enable = "aes,sse2,ssse3,sse4.1")]
    unsafe fn expand256(key: &[u8; 32]) -> AesNi {
        let mut rk = [_mm_setzero_si128(); 15];
        let (lo, hi) = key.split_at(16);
        rk[0] = load_partial(lo);
        rk[1] = load_partial(hi);
        (rk[2], rk[3]) = expand256_steps!(rk[0], rk[1], 0x01);
        (rk[4], rk[5]) = expand256_steps!(rk[2], rk[3], 0x02);
        (rk[6], rk[7]) = expand256_steps!(rk[4], rk[5], 0x04);
        (rk[8], rk[9]) = expand256_steps!(rk[6], rk[7], 0x08);
        (rk[10], rk[11]) = expand256_steps!(rk[8], rk[9], 0x10);
        (rk[12], rk[13]) = expand256_steps!(rk[10], rk[11], 0x20);
        let t = _mm_shuffle_epi32(_mm_aeskeygenassist_si128(rk[13], 0x40), 0xff);
        let mut a = rk[12];
        a = _mm_xor_si128(a, _mm_slli_si128(a, 4));
        a = _mm_xor_si128(a, _mm_slli_si128(a, 4));
        a = _mm_xor_si128(a, _mm_slli_si128(a, 4));
        rk[14] = _mm_xor_si128(a, t);
        AesNi {
            rk,
            rounds: 14,
            vaes: vaes_available(),
        }
    }

    /// The same key on the 128-bit code path (for tests of both paths).
    #[cfg(test)]
    fn without_vaes(mut self) -> AesNi {
        self.vaes = false;
        self
    }

    /// Encrypts `N` blocks in parallel (all rounds of one block before the next would
    /// leave the AES unit idle for its latency).
    #[inline(always)]
    unsafe fn encrypt_n<const N: usize>(&self, blocks: &mut [__m128i; N]) {
        let rk = &self.rk;
        for b in blocks.iter_mut() {
            *b = _mm_xor_si128(*b, rk[0]);
        }
        for k in rk.iter().take(self.rounds).skip(1) {
            for b in blocks.iter_mut() {
                *b = _mm_aesenc_si128(*b, *k);
            }
        }
        let last = rk[self.rounds];
        for b in blocks.iter_mut() {
            *b = _mm_aesenclast_si128(*b, last);
        }
    }

    /// Encrypts one 16-byte block.
    pub(crate) fn encrypt_block(&self, block: &mut [u8; 16]) {
        // SAFETY: an `AesNi` exists only where `available()` held.
        unsafe { self.encrypt_block_ni(block) }
    }

    #[target_feature(enable = "aes,sse2,ssse3,sse4.1")]
    unsafe fn encrypt_block_ni(&self, block: &mut [u8; 16]) {
        let mut b = [load16(block)];
        self.encrypt_n(&mut b);
        store16(block, b[0]);
    }

    /// XORs `data` with the counter-mode keystream whose block `i` is `E(iv + i)`, the
    /// addition on the low 64 bits of the big-endian counter (SRTP packets are far
    /// shorter than 2^16 blocks, so this is both RFC 3711's and GCM's counter).
    pub(crate) fn apply_keystream(&self, iv: [u8; 16], data: &mut [u8]) {
        // SAFETY: an `AesNi` exists only where `available()` held.
        unsafe { self.ctr_ni(&iv, 0, data, None) }
    }

    /// Keystream blocks `iv + i` for `i` in `first..first + N`, encrypted together.
    #[inline(always)]
    unsafe fn keystream<const N: usize>(&self, base: __m128i, first: usize) -> [__m128i; N] {
        let mut ks = [_mm_setzero_si128(); N];
        for (i, k) in ks.iter_mut().enumerate() {
            *k = bswap(_mm_add_epi64(base, _mm_set_epi64x(0, (first + i) as i64)));
        }
        self.encrypt_n(&mut ks);
        ks
    }

    /// Counter mode from block `iv + first`. With `mask`, that first block is not
    /// applied to data but returned in `mask` (GCM's `E(J0)`), in the same batch.
    #[inline]
    #[target_feature(enable = "aes,sse2,ssse3,sse4.1")]
    unsafe fn ctr_ni(
        &self,
        iv: &[u8; 16],
        first: usize,
        data: &mut [u8],
        mut mask: Option<&mut [u8; 16]>,
    ) {
        if self.vaes {
            // SAFETY: `vaes` is set only where `vaes_available()` held.
            unsafe { self.ctr_vaes(iv, first, data, mask) };
            return;
        }
        let base = bswap(load16(iv));
        let mut blocks = data.chunks_mut(16);
        let mut next = first;
        loop {
            let left = blocks.len() + usize::from(mask.is_some());
            if left >= 5 {
                let ks = self.keystream::<8>(base, next);
                apply(&ks, &mut blocks, &mut mask);
                next += 8;
            } else if left >= 2 {
                let ks = self.keystream::<4>(base, next);
                apply(&ks, &mut blocks, &mut mask);
                next += 4;
            } else if left == 1 {
                let ks = self.keystream::<1>(base, next);
                apply(&ks, &mut blocks, &mut mask);
                return;
            } else {
                return;
            }
        }
    }
}

impl AesNi {
    /// `2N` keystream blocks `iv + first ..`, two per register, encrypted together.
    #[inline(always)]
    unsafe fn keystream_regs<const N: usize>(&self, base: __m256i, first: usize) -> [__m256i; N] {
        let rev = reverse_each_lane();
        let mut ks = [_mm256_setzero_si256(); N];
        for (j, k) in ks.iter_mut().enumerate() {
            let n = (first + 2 * j) as i64;
            *k = _mm256_shuffle_epi8(
                _mm256_add_epi64(base, _mm256_set_epi64x(0, n + 1, 0, n)),
                rev,
            );
        }
        let rk0 = _mm256_broadcastsi128_si256(self.rk[0]);
        for k in ks.iter_mut() {
            *k = _mm256_xor_si256(*k, rk0);
        }
        for r in self.rk.iter().take(self.rounds).skip(1) {
            let r = _mm256_broadcastsi128_si256(*r);
            for k in ks.iter_mut() {
                *k = _mm256_aesenc_epi128(*k, r);
            }
        }
        let last = _mm256_broadcastsi128_si256(self.rk[self.rounds]);
        for k in ks.iter_mut() {
            *k = _mm256_aesenclast_epi128(*k, last);
        }
        ks
    }

    /// `data ^=` the `N`-register key stream from block `first`.
    #[inline(always)]
    unsafe fn xor_stream<const N: usize>(&self, base: __m256i, first: usize, data: &mut [u8]) {
        let ks = self.keystream_regs::<N>(base, first);
        xor_registers(&ks, data);
    }

    /// Block `first` of the key stream into `mask`, the following ones XORed into `data`
    /// (shifted by one block across the registers).
    #[inline(always)]
    unsafe fn xor_stream_masked<const N: usize>(
        &self,
        base: __m256i,
        first: usize,
        data: &mut [u8],
        mask: &mut [u8; 16],
    ) {
        let ks = self.keystream_regs::<N>(base, first);
        store16(mask, _mm256_castsi256_si128(ks[0]));
        let zero = _mm256_setzero_si256();
        let shifted: [__m256i; N] = core::array::from_fn(|j| {
            _mm256_permute2x128_si256(ks[j], ks.get(j + 1).copied().unwrap_or(zero), 0x21)
        });
        xor_registers(&shifted, data);
    }

    /// `ctr_ni` with VAES: up to twelve blocks of key stream per pass, kept in
    /// registers and XORed into the data 32 bytes at a time.
    #[target_feature(enable = "vaes,avx2,aes,sse2,ssse3,sse4.1")]
    unsafe fn ctr_vaes(
        &self,
        iv: &[u8; 16],
        first: usize,
        data: &mut [u8],
        mask: Option<&mut [u8; 16]>,
    ) {
        let base = _mm256_broadcastsi128_si256(bswap(load16(iv)));
        let mut next = first;
        let mut rest = data;
        if let Some(m) = mask {
            let n = rest.len().min(WIDE_BYTES - 16);
            let (head, tail) = core::mem::take(&mut rest).split_at_mut(n);
            let regs = (n + 16).div_ceil(32);
            match regs {
                1 => self.xor_stream_masked::<1>(base, next, head, m),
                2 => self.xor_stream_masked::<2>(base, next, head, m),
                3 => self.xor_stream_masked::<3>(base, next, head, m),
                4 => self.xor_stream_masked::<4>(base, next, head, m),
                5 => self.xor_stream_masked::<5>(base, next, head, m),
                _ => self.xor_stream_masked::<6>(base, next, head, m),
            }
            next += 2 * regs;
            rest = tail;
        }
        while !rest.is_empty() {
            let n = rest.len().min(WIDE_BYTES);
            let (head, tail) = core::mem::take(&mut rest).split_at_mut(n);
            let regs = n.div_ceil(32);
            match regs {
                1 => self.xor_stream::<1>(base, next, head),
                2 => self.xor_stream::<2>(base, next, head),
                3 => self.xor_stream::<3>(base, next, head),
                4 => self.xor_stream::<4>(base, next, head),
                5 => self.xor_stream::<5>(base, next, head),
                _ => self.xor_stream::<6>(base, next, head),
            }
            next += 2 * regs;
            rest = tail;
        }
    }
}

impl AesNi {
    /// Counter mode for two packets with two keys at once (two independent AES chains
    /// in flight hide each other's latency). Falls back to one after the other unless
    /// both keys have VAES, the same round count and data of at most twelve blocks.
    pub(crate) fn apply_keystream_pair(
        a: &AesNi,
        iv_a: [u8; 16],
        data_a: &mut [u8],
        b: &AesNi,
        iv_b: [u8; 16],
        data_b: &mut [u8],
    ) {
        if a.vaes
            && b.vaes
            && a.rounds == b.rounds
            && data_a.len() <= WIDE_BYTES
            && data_b.len() <= WIDE_BYTES
        {
            // SAFETY: `vaes` is set only where `vaes_available()` held.
            unsafe { Self::pair_vaes(a, &iv_a, data_a, b, &iv_b, data_b) };
        } else {
            a.apply_keystream(iv_a, data_a);
            b.apply_keystream(iv_b, data_b);
        }
    }

    #[target_feature(enable = "vaes,avx2,aes,sse2,ssse3,sse4.1")]
    unsafe fn pair_vaes(
        a: &AesNi,
        iv_a: &[u8; 16],
        data_a: &mut [u8],
        b: &AesNi,
        iv_b: &[u8; 16],
        data_b: &mut [u8],
    ) {
        match data_a.len().max(data_b.len()).div_ceil(32) {
            0 => {}
            1 => Self::pair_n::<1>(a, iv_a, data_a, b, iv_b, data_b),
            2 => Self::pair_n::<2>(a, iv_a, data_a, b, iv_b, data_b),
            3 => Self::pair_n::<3>(a, iv_a, data_a, b, iv_b, data_b),
            4 => Self::pair_n::<4>(a, iv_a, data_a, b, iv_b, data_b),
            5 => Self::pair_n::<5>(a, iv_a, data_a, b, iv_b, data_b),
            _ => Self::pair_n::<6>(a, iv_a, data_a, b, iv_b, data_b),
        }
    }

    /// `P` registers (2P blocks) of key stream for each packet, all rounds unrolled,
    /// XORed into the data straight from the registers.
    #[inline(always)]
    unsafe fn pair_n<const P: usize>(
        a: &AesNi,
        iv_a: &[u8; 16],
        data_a: &mut [u8],
        b: &AesNi,
        iv_b: &[u8; 16],
        data_b: &mut [u8],
    ) {
        let rev = reverse_each_lane();
        let counters = |iv: &[u8; 16]| -> [__m256i; P] {
            let base = _mm256_broadcastsi128_si256(bswap(load16(iv)));
            core::array::from_fn(|j| {
                let n = (2 * j) as i64;
                _mm256_shuffle_epi8(
                    _mm256_add_epi64(base, _mm256_set_epi64x(0, n + 1, 0, n)),
                    rev,
                )
            })
        };
        let mut ka = counters(iv_a);
        let mut kb = counters(iv_b);
        let (ra0, rb0) = (
            _mm256_broadcastsi128_si256(a.rk[0]),
            _mm256_broadcastsi128_si256(b.rk[0]),
        );
        for j in 0..P {
            ka[j] = _mm256_xor_si256(ka[j], ra0);
            kb[j] = _mm256_xor_si256(kb[j], rb0);
        }
        for r in 1..a.rounds {
            let (ra, rb) = (
                _mm256_broadcastsi128_si256(a.rk[r]),
                _mm256_broadcastsi128_si256(b.rk[r]),
            );
            for j in 0..P {
                ka[j] = _mm256_aesenc_epi128(ka[j], ra);
                kb[j] = _mm256_aesenc_epi128(kb[j], rb);
            }
        }
        let (la, lb) = (
            _mm256_broadcastsi128_si256(a.rk[a.rounds]),
            _mm256_broadcastsi128_si256(b.rk[b.rounds]),
        );
        for j in 0..P {
            ka[j] = _mm256_aesenclast_epi128(ka[j], la);
            kb[j] = _mm256_aesenclast_epi128(kb[j], lb);
        }
        xor_registers(&ka, data_a);
        xor_registers(&kb, data_b);
    }
}

/// `data ^= ks` (the key stream's first `data.len()` bytes), whole 32-byte chunks
/// straight from the registers, a last partial chunk through the stack.
#[inline(always)]
unsafe fn xor_registers<const P: usize>(ks: &[__m256i; P], data: &mut [u8]) {
    for (chunk, k) in data.chunks_mut(32).zip(ks.iter()) {
        if chunk.len() == 32 {
            let x = _mm256_xor_si256(_mm256_loadu_si256(chunk.as_ptr().cast()), *k);
            _mm256_storeu_si256(chunk.as_mut_ptr().cast(), x);
        } else {
            let mut bytes = [0u8; 32];
            _mm256_storeu_si256(bytes.as_mut_ptr().cast(), *k);
            for (d, k) in chunk.iter_mut().zip(bytes.iter()) {
                *d ^= k;
            }
        }
    }
}

/// Keystream bytes one wide pass produces: twelve blocks.
const WIDE_BYTES: usize = 192;

/// Applies keystream blocks in order: to the mask first if one is still wanted, then
/// to the next data blocks.
#[inline(always)]
unsafe fn apply(
    ks: &[__m128i],
    blocks: &mut core::slice::ChunksMut<'_, u8>,
    mask: &mut Option<&mut [u8; 16]>,
) {
    for k in ks {
        if let Some(m) = mask.take() {
            store16(m, *k);
        } else if let Some(b) = blocks.next() {
            xor_block(b, *k);
        } else {
            return;
        }
    }
}

/// GCM seal in place with the 96-bit `iv`: encrypts `data`, returns the tag.
pub(crate) fn gcm_seal(
    aes: &AesNi,
    ghash: &Ghash,
    iv: &[u8; 12],
    aad: &[u8],
    data: &mut [u8],
) -> [u8; 16] {
    // SAFETY: `AesNi` and `Ghash` exist only where `available()` held.
    unsafe { gcm_seal_ni(aes, ghash, iv, aad, data) }
}

#[target_feature(enable = "aes,pclmulqdq,sse2,ssse3,sse4.1")]
unsafe fn gcm_seal_ni(
    aes: &AesNi,
    ghash: &Ghash,
    iv: &[u8; 12],
    aad: &[u8],
    data: &mut [u8],
) -> [u8; 16] {
    let j0 = j0(iv);
    let mut mask = [0u8; 16];
    aes.ctr_ni(&j0, 0, data, Some(&mut mask));
    let s = ghash.hash_ni(aad, data);
    store_xor(&s, &mask)
}

/// GCM open in place: computes the tag over `aad` and the ciphertext, compares it with
/// `tag` in constant time and decrypts only when it matches (or when `verify` is off,
/// for fuzzing builds). Returns whether it matched; on a mismatch with `verify` on,
/// `data` is untouched.
pub(crate) fn gcm_open(
    aes: &AesNi,
    ghash: &Ghash,
    iv: &[u8; 12],
    aad: &[u8],
    data: &mut [u8],
    tag: &[u8; 16],
    verify: bool,
) -> bool {
    // SAFETY: `AesNi` and `Ghash` exist only where `available()` held.
    unsafe { gcm_open_ni(aes, ghash, iv, aad, data, tag, verify) }
}

#[target_feature(enable = "aes,pclmulqdq,sse2,ssse3,sse4.1")]
unsafe fn gcm_open_ni(
    aes: &AesNi,
    ghash: &Ghash,
    iv: &[u8; 12],
    aad: &[u8],
    data: &mut [u8],
    tag: &[u8; 16],
    verify: bool,
) -> bool {
    let j0 = j0(iv);
    let mut mask = [load16(&j0)];
    aes.encrypt_n(&mut mask);
    let s = ghash.hash_ni(aad, data);
    let expected = _mm_xor_si128(load16(&s), mask[0]);
    let ok = tags_equal(expected, load16(tag));
    if ok || !verify {
        aes.ctr_ni(&j0, 1, data, None);
    }
    ok
}

/// Constant-time equality of two 16-byte tags (no branch on the data).
#[inline(always)]
unsafe fn tags_equal(a: __m128i, b: __m128i) -> bool {
    let diff = _mm_xor_si128(a, b);
    let folded = (_mm_extract_epi64(diff, 0) | _mm_extract_epi64(diff, 1)) as u64;
    bool::from(subtle::ConstantTimeEq::ct_eq(&folded, &0))
}

#[inline(always)]
unsafe fn store_xor(a: &[u8; 16], b: &[u8; 16]) -> [u8; 16] {
    let mut out = [0u8; 16];
    store16(&mut out, _mm_xor_si128(load16(a), load16(b)));
    out
}

/// J0 = IV || 1 (NIST SP 800-38D §7.1 for a 96-bit IV).
fn j0(iv: &[u8; 12]) -> [u8; 16] {
    let mut j0 = [0u8; 16];
    j0[..12].copy_from_slice(iv);
    j0[15] = 1;
    j0
}

/// XORs up to 16 bytes with a keystream block.
#[inline(always)]
unsafe fn xor_block(bytes: &mut [u8], k: __m128i) {
    if let Ok(full) = <&mut [u8; 16]>::try_from(&mut *bytes) {
        let p = load16(full);
        store16(full, _mm_xor_si128(p, k));
    } else {
        let mut ks = [0u8; 16];
        store16(&mut ks, k);
        for (b, k) in bytes.iter_mut().zip(ks.iter()) {
            *b ^= k;
        }
    }
}

/// A GHASH key: `mulX(ByteReverse(H))` and its first eight powers in POLYVAL's field.
#[derive(Clone, Copy)]
pub(crate) struct Ghash {
    /// `pow[i]` is the key to the power `i + 1`.
    pow: [__m128i; 8],
    /// With VPCLMULQDQ: `pairs[m]` holds H^(m+2) in its low lane and H^(m+1) in its
    /// high lane, so two blocks multiply in one instruction.
    pairs: Option<[__m256i; GROUP - 1]>,
}

/// Blocks summed per reduction.
const GROUP: usize = 8;

/// The low 64 bits of POLYVAL's reduction constant x^127 + x^126 + x^121 (as it acts on
/// the low half after the shift by 64).
const POLY_HI: i64 = 0xc200_0000_0000_0000_u64 as i64;

/// An unreduced 256-bit product sum: low, middle (cross terms), high.
#[derive(Clone, Copy)]
struct Wide {
    lo: __m128i,
    mid: __m128i,
    hi: __m128i,
}

impl Wide {
    #[inline(always)]
    unsafe fn zero() -> Wide {
        Wide {
            lo: _mm_setzero_si128(),
            mid: _mm_setzero_si128(),
            hi: _mm_setzero_si128(),
        }
    }

    /// Adds the carry-less product `a * b`.
    #[inline(always)]
    unsafe fn mul_add(&mut self, a: __m128i, b: __m128i) {
        self.lo = _mm_xor_si128(self.lo, _mm_clmulepi64_si128(a, b, 0x00));
        self.hi = _mm_xor_si128(self.hi, _mm_clmulepi64_si128(a, b, 0x11));
        self.mid = _mm_xor_si128(
            self.mid,
            _mm_xor_si128(
                _mm_clmulepi64_si128(a, b, 0x01),
                _mm_clmulepi64_si128(a, b, 0x10),
            ),
        );
    }

    /// Montgomery reduction: the sum times x^-128 modulo x^128 + x^127 + x^126 + x^121 + 1.
    #[inline(always)]
    unsafe fn reduce(self) -> __m128i {
        let lo = _mm_xor_si128(self.lo, _mm_slli_si128(self.mid, 8));
        let hi = _mm_xor_si128(self.hi, _mm_srli_si128(self.mid, 8));
        let poly = _mm_set_epi64x(0, POLY_HI);
        // Fold the lowest 64 bits, then the next 64, into the upper half.
        let t = _mm_clmulepi64_si128(lo, poly, 0x00);
        let lo = _mm_xor_si128(_mm_shuffle_epi32(lo, 0x4e), t);
        let t = _mm_clmulepi64_si128(lo, poly, 0x00);
        let lo = _mm_xor_si128(_mm_shuffle_epi32(lo, 0x4e), t);
        _mm_xor_si128(hi, lo)
    }
}

impl Ghash {
    /// The key for `h = E(K, 0^128)`; `None` without PCLMULQDQ.
    pub(crate) fn new(h: &[u8; 16]) -> Option<Ghash> {
        if !available() {
            return None;
        }
        // mulX_POLYVAL(ByteReverse(H)) (RFC 8452 Appendix A).
        let v = u128::from_be_bytes(*h);
        let mut x = v << 1;
        if v >> 127 == 1 {
            x ^= (1 << 127) | (1 << 126) | (1 << 121) | 1;
        }
        // SAFETY: `available()` confirmed PCLMULQDQ and SSE4.1.
        Some(unsafe { Self::powers(x.to_le_bytes()) })
    }

    #[target_feature(enable = "pclmulqdq,sse2,ssse3,sse4.1")]
    unsafe fn powers(h: [u8; 16]) -> Ghash {
        let h1 = load16(&h);
        let mut pow = [h1; GROUP];
        for i in 1..GROUP {
            let mut w = Wide::zero();
            w.mul_add(pow[i - 1], h1);
            pow[i] = w.reduce();
        }
        let wide =
            std::is_x86_feature_detected!("vpclmulqdq") && std::is_x86_feature_detected!("avx2");
        let pairs =
            wide.then(|| core::array::from_fn(|m| _mm256_set_m128i(pow[m], pow[(m + 1) % GROUP])));
        Ghash { pow, pairs }
    }

    /// GHASH(H, A, C) of GCM (NIST SP 800-38D §6.4, §7.1): `aad` and `data` each
    /// zero-padded to whole blocks, then the length block; a big-endian block.
    #[inline]
    #[target_feature(enable = "pclmulqdq,sse2,ssse3,sse4.1")]
    unsafe fn hash_ni(&self, aad: &[u8], data: &[u8]) -> [u8; 16] {
        if let Some(pairs) = &self.pairs {
            // SAFETY: `pairs` is set only where VPCLMULQDQ and AVX2 were detected.
            return unsafe { self.hash_wide(pairs, aad, data) };
        }
        // Horner's rule in groups: the first group takes n mod 8 blocks, every later
        // one eight, each a straight run of independent multiplications by H^g..H^1
        // and one reduction.
        let msg = Message::new(aad, data);
        let (head, groups) = (msg.n % GROUP, msg.n / GROUP);
        let mut y = _mm_setzero_si128();
        y = match head {
            1 => self.group::<1>(y, &msg, 0),
            2 => self.group::<2>(y, &msg, 0),
            3 => self.group::<3>(y, &msg, 0),
            4 => self.group::<4>(y, &msg, 0),
            5 => self.group::<5>(y, &msg, 0),
            6 => self.group::<6>(y, &msg, 0),
            7 => self.group::<7>(y, &msg, 0),
            _ => y,
        };
        for g in 0..groups {
            y = self.group::<GROUP>(y, &msg, head + g * GROUP);
        }
        let mut out = [0u8; 16];
        store16(&mut out, bswap(y));
        out
    }

    /// `hash_ni` with two blocks per carry-less multiplication.
    #[target_feature(enable = "vpclmulqdq,avx2,pclmulqdq,sse2,ssse3,sse4.1")]
    unsafe fn hash_wide(&self, pairs: &[__m256i; GROUP - 1], aad: &[u8], data: &[u8]) -> [u8; 16] {
        let msg = Message::new(aad, data);
        let (head, groups) = (msg.n % GROUP, msg.n / GROUP);
        let mut y = _mm_setzero_si128();
        y = match head {
            1 => self.group::<1>(y, &msg, 0),
            2 => self.group_pairs::<1>(pairs, y, &msg, 0),
            3 => self.group::<3>(y, &msg, 0),
            4 => self.group_pairs::<2>(pairs, y, &msg, 0),
            5 => self.group::<5>(y, &msg, 0),
            6 => self.group_pairs::<3>(pairs, y, &msg, 0),
            7 => self.group::<7>(y, &msg, 0),
            _ => y,
        };
        for g in 0..groups {
            y = self.group_pairs::<{ GROUP / 2 }>(pairs, y, &msg, head + g * GROUP);
        }
        let mut out = [0u8; 16];
        store16(&mut out, bswap(y));
        out
    }

    /// [`Ghash::group`] for `K = 2P` blocks, two per instruction.
    #[inline(always)]
    unsafe fn group_pairs<const P: usize>(
        &self,
        pairs: &[__m256i; GROUP - 1],
        y: __m128i,
        msg: &Message<'_>,
        first: usize,
    ) -> __m128i {
        let zero = _mm256_setzero_si256();
        let (mut lo, mut mid, mut hi) = (zero, zero, zero);
        for q in 0..P {
            let a = msg.block(first + 2 * q);
            let a = if q == 0 { _mm_xor_si128(y, a) } else { a };
            let x = _mm256_set_m128i(msg.block(first + 2 * q + 1), a);
            let h = pairs[(2 * P - 2 * q - 2) % (GROUP - 1)];
            lo = _mm256_xor_si256(lo, _mm256_clmulepi64_epi128(x, h, 0x00));
            hi = _mm256_xor_si256(hi, _mm256_clmulepi64_epi128(x, h, 0x11));
            mid = _mm256_xor_si256(
                mid,
                _mm256_xor_si256(
                    _mm256_clmulepi64_epi128(x, h, 0x01),
                    _mm256_clmulepi64_epi128(x, h, 0x10),
                ),
            );
        }
        let fold =
            |v: __m256i| _mm_xor_si128(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
        Wide {
            lo: fold(lo),
            mid: fold(mid),
            hi: fold(hi),
        }
        .reduce()
    }

    /// `(y + x0)·H^K + x1·H^(K-1) + … + x(K-1)·H` over the message's blocks from
    /// `first`, reduced once.
    #[inline(always)]
    unsafe fn group<const K: usize>(&self, y: __m128i, msg: &Message<'_>, first: usize) -> __m128i {
        let mut w = Wide::zero();
        for j in 0..K {
            let b = msg.block(first + j);
            let b = if j == 0 { _mm_xor_si128(y, b) } else { b };
            w.mul_add(b, self.pow[(K - 1 - j) % GROUP]);
        }
        w.reduce()
    }
}

/// GHASH's input: the AAD and the data, each zero-padded to whole blocks, then the
/// length block; blocks addressed by index, byte-reversed for the field arithmetic.
struct Message<'a> {
    aad: &'a [u8],
    data: &'a [u8],
    aad_blocks: usize,
    data_blocks: usize,
    n: usize,
}

impl<'a> Message<'a> {
    fn new(aad: &'a [u8], data: &'a [u8]) -> Message<'a> {
        let aad_blocks = aad.len().div_ceil(16);
        let data_blocks = data.len().div_ceil(16);
        Message {
            aad,
            data,
            aad_blocks,
            data_blocks,
            n: aad_blocks + data_blocks + 1,
        }
    }

    #[inline(always)]
    unsafe fn block(&self, i: usize) -> __m128i {
        let (part, j) = if i < self.aad_blocks {
            (self.aad, i)
        } else if i < self.aad_blocks + self.data_blocks {
            (self.data, i - self.aad_blocks)
        } else {
            // The length block as a big-endian block, byte-reversed: the integer itself.
            let bits = ((self.aad.len() as u128 * 8) << 64) | (self.data.len() as u128 * 8);
            return load16(&bits.to_le_bytes());
        };
        match part.get(j * 16..j * 16 + 16) {
            Some(b) => bswap(_mm_loadu_si128(b.as_ptr().cast())),
            None => bswap(load_partial(part.get(j * 16..).unwrap_or(&[]))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aes::cipher::{BlockEncrypt, KeyInit};
    use aes_gcm::aead::AeadInPlace;

    fn bytes(seed: u64, n: usize) -> Vec<u8> {
        let mut s = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
        (0..n)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                s as u8
            })
            .collect()
    }

    #[test]
    fn block_encryption_matches_the_aes_crate() {
        if !available() {
            eprintln!("SKIPPED: this CPU lacks AES-NI/PCLMULQDQ; the portable path is used");
            return;
        }
        for (seed, len) in [(1, 16), (2, 32), (3, 16), (4, 32)] {
            let key = bytes(seed, len);
            let ni = AesNi::new(&key).unwrap();
            for i in 0..8 {
                let mut a: [u8; 16] = bytes(seed * 100 + i, 16).try_into().unwrap();
                let mut b = aes::Block::from(a);
                ni.encrypt_block(&mut a);
                match len {
                    16 => aes::Aes128Enc::new_from_slice(&key)
                        .unwrap()
                        .encrypt_block(&mut b),
                    _ => aes::Aes256Enc::new_from_slice(&key)
                        .unwrap()
                        .encrypt_block(&mut b),
                }
                assert_eq!(a, b.as_slice());
            }
        }
    }

    #[test]
    fn keystream_of_every_length_matches_block_by_block_counter_mode() {
        if !available() {
            eprintln!("SKIPPED: this CPU lacks AES-NI/PCLMULQDQ; the portable path is used");
            return;
        }
        let key = bytes(7, 16);
        let wide = AesNi::new(&key).unwrap();
        for ni in [wide, wide.without_vaes()] {
            keystream_matches_block_by_block(ni);
        }
    }

    fn keystream_matches_block_by_block(ni: AesNi) {
        let iv: [u8; 16] = bytes(8, 16).try_into().unwrap();
        for len in 0..300 {
            let plain = bytes(len as u64, len);
            let mut fast = plain.clone();
            ni.apply_keystream(iv, &mut fast);
            let base = u128::from_be_bytes(iv);
            let mut slow = plain.clone();
            for (i, chunk) in slow.chunks_mut(16).enumerate() {
                let hi = base >> 64;
                let lo = (base as u64).wrapping_add(i as u64);
                let mut k = ((hi << 64) | lo as u128).to_be_bytes();
                ni.encrypt_block(&mut k);
                for (b, k) in chunk.iter_mut().zip(k.iter()) {
                    *b ^= k;
                }
            }
            assert_eq!(fast, slow, "length {len}");
        }
    }

    #[test]
    fn paired_keystreams_match_one_at_a_time() {
        if !available() {
            eprintln!("SKIPPED: this CPU lacks AES-NI/PCLMULQDQ; the portable path is used");
            return;
        }
        for key_len in [16, 32] {
            let a = AesNi::new(&bytes(1, key_len)).unwrap();
            let b = AesNi::new(&bytes(2, key_len)).unwrap();
            let (iv_a, iv_b): ([u8; 16], [u8; 16]) = (
                bytes(3, 16).try_into().unwrap(),
                bytes(4, 16).try_into().unwrap(),
            );
            for (la, lb) in (0..=200).map(|l| (l, (l * 7) % 201)) {
                let (pa, pb) = (bytes(la as u64, la), bytes(lb as u64 + 9, lb));
                let (mut xa, mut xb) = (pa.clone(), pb.clone());
                AesNi::apply_keystream_pair(&a, iv_a, &mut xa, &b, iv_b, &mut xb);
                let (mut ya, mut yb) = (pa.clone(), pb.clone());
                a.apply_keystream(iv_a, &mut ya);
                b.apply_keystream(iv_b, &mut yb);
                assert_eq!((xa, xb), (ya, yb), "lengths {la} {lb}");
            }
        }
    }

    /// GCM seal from these kernels against the `aes-gcm` crate, for AAD and data of
    /// every length up to a few groups of eight blocks.
    #[test]
    fn ghash_based_gcm_matches_aes_gcm() {
        if !available() {
            eprintln!("SKIPPED: this CPU lacks AES-NI/PCLMULQDQ; the portable path is used");
            return;
        }
        for key_len in [16, 32] {
            let key = bytes(key_len as u64, key_len);
            let wide = AesNi::new(&key).unwrap();
            for ni in [wide, wide.without_vaes()] {
                gcm_matches_aes_gcm(&key, ni);
            }
        }
    }

    fn gcm_matches_aes_gcm(key: &[u8], ni: AesNi) {
        let mut h = [0u8; 16];
        ni.encrypt_block(&mut h);
        let wide = Ghash::new(&h).unwrap();
        let narrow = Ghash {
            pairs: None,
            ..wide
        };
        for gh in [wide, narrow] {
            gcm_matches_aes_gcm_with(key, ni, gh);
        }
    }

    fn gcm_matches_aes_gcm_with(key: &[u8], ni: AesNi, gh: Ghash) {
        let key_len = key.len();
        {
            let iv: [u8; 12] = bytes(99, 12).try_into().unwrap();
            let long = [(20, 2048), (0, 2053), (16, 1500)];
            for (aad_len, data_len) in (0..40)
                .flat_map(|a| [(a, a * 7 % 300), (a * 3, a)])
                .chain(long)
            {
                let aad = bytes(aad_len as u64 + 1000, aad_len);
                let plain = bytes(data_len as u64 + 2000, data_len);
                let mut ours = plain.clone();
                let tag = gcm_seal(&ni, &gh, &iv, &aad, &mut ours);
                let mut opened = ours.clone();
                assert!(gcm_open(&ni, &gh, &iv, &aad, &mut opened, &tag, true));
                assert_eq!(opened, plain);
                let mut bad = tag;
                bad[aad_len % 16] ^= 0x40;
                let mut refused = ours.clone();
                assert!(!gcm_open(&ni, &gh, &iv, &aad, &mut refused, &bad, true));
                assert_eq!(refused, ours, "a refused packet stays as it came");
                let mut theirs = plain.clone();
                let nonce = aes_gcm::Nonce::from_slice(&iv);
                let t = match key_len {
                    16 => aes_gcm::Aes128Gcm::new_from_slice(key)
                        .unwrap()
                        .encrypt_in_place_detached(nonce, &aad, &mut theirs)
                        .unwrap(),
                    _ => aes_gcm::Aes256Gcm::new_from_slice(key)
                        .unwrap()
                        .encrypt_in_place_detached(nonce, &aad, &mut theirs)
                        .unwrap(),
                };
                assert_eq!(ours, theirs, "ciphertext, aad {aad_len} data {data_len}");
                assert_eq!(&tag[..], t.as_slice(), "tag, aad {aad_len} data {data_len}");
            }
        }
    }
}
