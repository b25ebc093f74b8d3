//! HMAC-SHA1 for SRTP/SRTCP authentication (RFC 2104; RFC 3711 §4.2.1), one message at
//! a time or several interleaved.
//!
//! The key is absorbed once: the states after the inner (`key ^ ipad`) and outer
//! (`key ^ opad`) blocks are kept, so a tag costs the message's blocks plus one outer
//! block, with the padding built on the stack. [`tags`] computes the tags of several
//! messages (with different keys) together: on CPUs with the SHA extensions two
//! messages' blocks are compressed in one interleaved instruction stream, which is where
//! a media server's fan-out of one mix to many listeners spends its authentication time.
//! Never allocates.

#[cfg(target_arch = "x86_64")]
use super::sha1ni::Sha1Ni;
#[cfg(target_arch = "x86_64")]
use super::sha1x16::{self, Sha1x16};

/// SHA-1's initial state (FIPS 180-4 §5.3.1).
const INIT: [u32; 5] = [
    0x6745_2301,
    0xefcd_ab89,
    0x98ba_dcfe,
    0x1032_5476,
    0xc3d2_e1f0,
];
/// SHA-1 digest length, the untruncated tag.
pub(crate) const DIGEST_LEN: usize = 20;
/// Longest suffix [`HmacSha1::tag`] takes after the message (the SRTP ROC: 4 bytes).
pub(crate) const MAX_SUFFIX: usize = 8;

/// Messages whose blocks are compressed together with the SHA extensions.
#[cfg(target_arch = "x86_64")]
const LANES: usize = 4;
/// The fewest messages worth a sixteen-lane AVX-512 pass: below this, the SHA
/// extensions' lanes are faster than a wide pass that is mostly empty.
#[cfg(target_arch = "x86_64")]
const MIN_WIDE: usize = 6;

/// A keyed HMAC-SHA1: the compressed inner and outer key blocks.
#[derive(Clone, Copy)]
pub(crate) struct HmacSha1 {
    inner: [u32; 5],
    outer: [u32; 5],
    #[cfg(target_arch = "x86_64")]
    ni: Option<Sha1Ni>,
    #[cfg(target_arch = "x86_64")]
    wide: Option<Sha1x16>,
}

impl std::fmt::Debug for HmacSha1 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print key material.
        f.write_str("HmacSha1")
    }
}

/// Compresses one block with the portable (or the `sha1` crate's own accelerated) code.
fn compress_portable(state: &mut [u32; 5], block: &[u8; 64]) {
    sha1::compress(state, &[(*block).into()]);
}

impl HmacSha1 {
    /// The initial SHA-1 state in both halves (no key): only a placeholder.
    const UNKEYED: HmacSha1 = HmacSha1 {
        inner: INIT,
        outer: INIT,
        #[cfg(target_arch = "x86_64")]
        ni: None,
        #[cfg(target_arch = "x86_64")]
        wide: None,
    };

    /// Keys an HMAC-SHA1 (keys longer than a block are hashed first, RFC 2104 §2).
    pub(crate) fn new(key: &[u8]) -> HmacSha1 {
        use sha1::Digest;
        let mut k = [0u8; 64];
        if key.len() > 64 {
            k[..DIGEST_LEN].copy_from_slice(&sha1::Sha1::digest(key));
        } else {
            k[..key.len()].copy_from_slice(key);
        }
        let mut ipad = [0u8; 64];
        let mut opad = [0u8; 64];
        for ((i, o), k) in ipad.iter_mut().zip(opad.iter_mut()).zip(k.iter()) {
            *i = k ^ 0x36;
            *o = k ^ 0x5c;
        }
        let mut inner = INIT;
        let mut outer = INIT;
        compress_portable(&mut inner, &ipad);
        compress_portable(&mut outer, &opad);
        k.fill(0);
        ipad.fill(0);
        opad.fill(0);
        HmacSha1 {
            inner,
            outer,
            #[cfg(target_arch = "x86_64")]
            ni: Sha1Ni::detect(),
            #[cfg(target_arch = "x86_64")]
            wide: Sha1x16::detect(),
        }
    }

    /// The same key, always on the portable code path (for tests).
    #[cfg(test)]
    pub(crate) fn portable(mut self) -> HmacSha1 {
        #[cfg(target_arch = "x86_64")]
        {
            self.ni = None;
            self.wide = None;
        }
        self
    }

    /// The same key without the AVX-512 batch path (for tests of the narrower lanes).
    #[cfg(test)]
    pub(crate) fn narrow(mut self) -> HmacSha1 {
        #[cfg(target_arch = "x86_64")]
        {
            self.wide = None;
        }
        self
    }

    /// Compresses the whole blocks of each part into `state`.
    fn compress(&self, state: &mut [u32; 5], parts: &[&[u8]]) {
        #[cfg(target_arch = "x86_64")]
        if let Some(ni) = self.ni {
            ni.compress_parts(state, parts);
            return;
        }
        for part in parts {
            for block in part.chunks_exact(64) {
                if let Ok(block) = block.try_into() {
                    compress_portable(state, block);
                }
            }
        }
    }

    /// HMAC-SHA1 over `data` followed by `suffix` (at most [`MAX_SUFFIX`] bytes).
    pub(crate) fn tag(&self, data: &[u8], suffix: &[u8]) -> [u8; DIGEST_LEN] {
        let mut tail = [0u8; 128];
        let tail_blocks = fill_tail(data, suffix, &mut tail);
        let whole = data.get(..data.len() - data.len() % 64).unwrap_or(&[]);
        let mut state = self.inner;
        self.compress(
            &mut state,
            &[whole, tail.get(..tail_blocks * 64).unwrap_or(&[])],
        );
        let mut state_out = self.outer;
        self.compress(&mut state_out, &[&outer_block(&state)]);
        digest(&state_out)
    }
}

/// Writes the padded tail of the inner message (`data`'s bytes after its last whole
/// block, `suffix`, 0x80, zeros, the bit length counting the key block) into `tail`,
/// which must be zero; returns its block count (1 or 2).
fn fill_tail(data: &[u8], suffix: &[u8], tail: &mut [u8; 128]) -> usize {
    let suffix = suffix.get(..suffix.len().min(MAX_SUFFIX)).unwrap_or(&[]);
    let rest = data.get(data.len() - data.len() % 64..).unwrap_or(&[]);
    let at = rest.len() + suffix.len();
    if let Some(t) = tail.get_mut(..rest.len()) {
        t.copy_from_slice(rest);
    }
    if let Some(t) = tail.get_mut(rest.len()..at) {
        t.copy_from_slice(suffix);
    }
    if let Some(t) = tail.get_mut(at) {
        *t = 0x80;
    }
    let blocks = if at + 9 <= 64 { 1 } else { 2 };
    let bits = ((64 + data.len() + suffix.len()) as u64) * 8;
    if let Some(t) = tail.get_mut(blocks * 64 - 8..blocks * 64) {
        t.copy_from_slice(&bits.to_be_bytes());
    }
    blocks
}

/// Block `i` of the padded inner message: `data`'s whole blocks, then the blocks of its
/// `tail` (from [`fill_tail`]); zeros past the end (never asked for by the callers).
fn padded_block<'b>(data: &'b [u8], tail: &'b [u8; 128], i: usize) -> &'b [u8; 64] {
    const ZERO: [u8; 64] = [0; 64];
    let whole = data.len() / 64;
    let bytes = if i < whole {
        data.get(i * 64..i * 64 + 64)
    } else {
        let t = (i - whole) * 64;
        tail.get(t..t + 64)
    };
    bytes.and_then(|b| b.try_into().ok()).unwrap_or(&ZERO)
}

/// The outer message: the inner digest, padded (64 + 20 bytes in all).
fn outer_block(inner: &[u32; 5]) -> [u8; 64] {
    let mut b = [0u8; 64];
    b[..DIGEST_LEN].copy_from_slice(&digest(inner));
    b[DIGEST_LEN] = 0x80;
    b[56..].copy_from_slice(&(((64 + DIGEST_LEN) as u64) * 8).to_be_bytes());
    b
}

fn digest(state: &[u32; 5]) -> [u8; DIGEST_LEN] {
    let mut d = [0u8; DIGEST_LEN];
    for (out, w) in d.chunks_exact_mut(4).zip(state.iter()) {
        out.copy_from_slice(&w.to_be_bytes());
    }
    d
}

/// Constant-time comparison of a computed tag with a received one: the differences are
/// OR-ed over every byte and only the result is compared (through `subtle`).
pub(crate) fn tags_equal(computed: &[u8], received: &[u8]) -> bool {
    let mut diff = 0u8;
    for (a, b) in computed.iter().zip(received.iter()) {
        diff |= a ^ b;
    }
    computed.len() == received.len() && bool::from(subtle::ConstantTimeEq::ct_eq(&diff, &0))
}

/// One tag to compute in [`tags`].
#[derive(Clone, Copy)]
pub(crate) struct TagJob<'a> {
    /// The key.
    pub mac: &'a HmacSha1,
    /// The authenticated bytes.
    pub data: &'a [u8],
    /// What follows them (the SRTP ROC), at most [`MAX_SUFFIX`] bytes.
    pub suffix: &'a [u8],
}

impl TagJob<'static> {
    /// A placeholder (never computed: batches pass only their used jobs).
    pub(crate) const EMPTY: TagJob<'static> = TagJob {
        mac: &HmacSha1::UNKEYED,
        data: &[],
        suffix: &[],
    };
}

/// Computes `jobs[i]`'s tag into `out[i]` (as many as both hold), interleaving
/// messages where the CPU allows.
pub(crate) fn tags(jobs: &[TagJob<'_>], out: &mut [[u8; DIGEST_LEN]]) {
    let n = jobs.len().min(out.len());
    let (Some(mut jobs), Some(mut out)) = (jobs.get(..n), out.get_mut(..n)) else {
        return;
    };
    #[cfg(target_arch = "x86_64")]
    if let Some(wide) = jobs.first().and_then(|j| j.mac.wide) {
        while jobs.len() >= MIN_WIDE {
            let take = jobs.len().min(sha1x16::LANES);
            let (group, rest) = jobs.split_at(take);
            let (group_out, rest_out) = out.split_at_mut(take);
            tags_wide(wide, group, group_out);
            (jobs, out) = (rest, rest_out);
        }
    }
    #[cfg(target_arch = "x86_64")]
    if let Some(ni) = jobs.first().and_then(|j| j.mac.ni) {
        let mut jobs = jobs.chunks_exact(LANES);
        let mut outs = out.chunks_exact_mut(LANES);
        for (group, out) in jobs.by_ref().zip(outs.by_ref()) {
            if let (Ok(group), Ok(out)) = (group.try_into(), out.try_into()) {
                tags_lanes::<LANES>(ni, group, out);
            }
        }
        for (job, out) in jobs.remainder().iter().zip(outs.into_remainder()) {
            *out = job.mac.tag(job.data, job.suffix);
        }
        return;
    }
    for (job, out) in jobs.iter().zip(out.iter_mut()) {
        *out = job.mac.tag(job.data, job.suffix);
    }
}

/// Up to sixteen tags in one AVX-512 pass (unused lanes hash nothing and are dropped).
#[cfg(target_arch = "x86_64")]
fn tags_wide(wide: Sha1x16, jobs: &[TagJob<'_>], out: &mut [[u8; DIGEST_LEN]]) {
    const N: usize = sha1x16::LANES;
    let mut tails = [[0u8; 128]; N];
    let mut lens = [0usize; N];
    let mut inner = [INIT; N];
    let mut outer = [INIT; N];
    for (l, job) in jobs.iter().enumerate().take(N) {
        let tail_blocks = fill_tail(job.data, job.suffix, &mut tails[l]);
        lens[l] = job.data.len() / 64 + tail_blocks;
        inner[l] = job.mac.inner;
        outer[l] = job.mac.outer;
    }
    let states = wide.hmac(&inner, &outer, &lens, |i, l| {
        padded_block(jobs.get(l).map_or(&[], |j| j.data), &tails[l], i)
    });
    for (out, state) in out.iter_mut().zip(states.iter()) {
        *out = digest(state);
    }
}

/// `N` messages in lockstep for as many blocks as the shortest has, the rest of each
/// longer one on its own, then the `N` outer blocks together. Tails are built in place
/// (no message structs moved around: at this rate the copies would show).
#[cfg(target_arch = "x86_64")]
fn tags_lanes<const N: usize>(ni: Sha1Ni, jobs: &[TagJob<'_>; N], out: &mut [[u8; DIGEST_LEN]; N]) {
    let mut tails = [[0u8; 128]; N];
    let mut lens = [0usize; N];
    for l in 0..N {
        let tail_blocks = fill_tail(jobs[l].data, jobs[l].suffix, &mut tails[l]);
        lens[l] = jobs[l].data.len() / 64 + tail_blocks;
    }
    let block = |i: usize, l: usize| padded_block(jobs[l].data, &tails[l], i);
    let common = lens.iter().copied().min().unwrap_or(0);
    let mut states: [[u32; 5]; N] = core::array::from_fn(|l| jobs[l].mac.inner);
    ni.compress_with(&mut states, common, block);
    for l in 0..N {
        if lens[l] > common {
            let mut one = [states[l]];
            ni.compress_with(&mut one, lens[l] - common, |i, _| block(common + i, l));
            states[l] = one[0];
        }
    }
    let outer_blocks: [[u8; 64]; N] = core::array::from_fn(|l| outer_block(&states[l]));
    let mut outer: [[u32; 5]; N] = core::array::from_fn(|l| jobs[l].mac.outer);
    ni.compress_with(&mut outer, 1, |_, l| &outer_blocks[l]);
    for l in 0..N {
        out[l] = digest(&outer[l]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hmac::{Hmac, Mac};

    fn reference(key: &[u8], data: &[u8], suffix: &[u8]) -> [u8; 20] {
        let mut m = <Hmac<sha1::Sha1> as Mac>::new_from_slice(key).unwrap();
        m.update(data);
        m.update(suffix);
        m.finalize().into_bytes().into()
    }

    fn bytes(seed: usize, n: usize) -> Vec<u8> {
        (0..n).map(|i| (i * 131 + seed * 7 + 1) as u8).collect()
    }

    #[test]
    fn tags_of_every_length_match_the_hmac_crate() {
        for key_len in [0, 20, 64, 65, 100] {
            let key = bytes(key_len, key_len);
            let mac = HmacSha1::new(&key);
            for len in 0..300 {
                let data = bytes(len, len);
                for suffix in [&[][..], &[1, 2, 3, 4][..], &[9; 8][..]] {
                    let want = reference(&key, &data, suffix);
                    assert_eq!(mac.tag(&data, suffix), want, "key {key_len} len {len}");
                    assert_eq!(mac.portable().tag(&data, suffix), want);
                }
            }
        }
    }

    #[test]
    fn batches_of_mixed_lengths_and_keys_match_one_at_a_time() {
        // Up to 40 jobs: whole sixteen-lane passes, a wide remainder, a remainder left to
        // the SHA extensions' lanes, and single messages, of lengths from 40 to 406; on
        // every path this CPU has (wide, the SHA extensions' lanes alone, portable).
        let keyed: Vec<HmacSha1> = (0..40).map(|k| HmacSha1::new(&bytes(k, 20))).collect();
        let data: Vec<Vec<u8>> = (0..7).map(|i| bytes(i, 40 + i * 61)).collect();
        let roc = [0, 0, 1, 2];
        let paths: [fn(&HmacSha1) -> HmacSha1; 3] = [|k| *k, |k| k.narrow(), |k| k.portable()];
        for path in paths {
            let keys: Vec<HmacSha1> = keyed.iter().map(path).collect();
            for n in 0..=40 {
                let jobs: Vec<TagJob<'_>> = (0..n)
                    .map(|i| TagJob {
                        mac: &keys[i],
                        data: &data[(i * 3) % 7],
                        suffix: &roc,
                    })
                    .collect();
                // Room for more tags than jobs, as the batches pass it.
                let mut out = vec![[0u8; 20]; 48];
                tags(&jobs, &mut out);
                for (job, got) in jobs.iter().zip(out.iter()) {
                    assert_eq!(*got, job.mac.tag(job.data, job.suffix), "{n} jobs");
                    assert_eq!(*got, reference_of(job), "{n} jobs");
                }
            }
        }
    }

    /// The `hmac` crate's tag for a job keyed with `bytes(k, 20)`.
    fn reference_of(job: &TagJob<'_>) -> [u8; 20] {
        (0..40)
            .map(|k| bytes(k, 20))
            .find(|key| HmacSha1::new(key).inner == job.mac.inner)
            .map(|key| reference(&key, job.data, job.suffix))
            .unwrap_or_default()
    }
}
