//! Batched SRTP: protect or authenticate several packets — each with its own context —
//! with their HMAC-SHA1 tags computed together.
//!
//! A conference server protects one mix for every listener of a call, each with the
//! listener's own keys, at the same instant; and it receives bursts of packets from
//! many senders per wake-up. One SHA-1 message is a chain of dependent instructions that
//! leaves the SHA unit idle most of the time; two messages interleaved fill it (see
//! `hmac_sha1`). These types collect the packets of such a burst so their tags can be
//! computed together. Everything else — index, replay checks, counter-mode encryption,
//! decrypting only after authentication, leaving a failed packet as it came — is the
//! same code as [`SrtpContext::protect_rtp`] and [`SrtpContext::unprotect_rtp`]. AES-GCM
//! packets take the one-at-a-time path inside the batch (their tag is not HMAC).
//!
//! No allocation: a batch is a fixed array of [`SRTP_BATCH`] entries on the stack.

use super::cm::roc_bytes;
use super::context::{SrtpContext, Transform};
use super::hmac_sha1::{self, HmacSha1, TagJob, DIGEST_LEN};
#[cfg(target_arch = "x86_64")]
use super::ni::AesNi;
use super::SrtpError;

/// Packets whose tags a batch computes together; pushing more first finishes the ones
/// already in it.
pub const SRTP_BATCH: usize = 16;

/// A packet waiting for its tag.
struct Untagged<'a> {
    buf: &'a mut [u8],
    mac: HmacSha1,
    /// Bytes the tag covers (before the ROC).
    auth_len: usize,
    roc: [u8; 4],
    tag_len: usize,
}

/// A packet whose AES-NI encryption waits for the next one, so both key streams are
/// computed together: its batch slot, counter block and payload range (its key waits in
/// `RtpProtectBatch::waiting_key`, copied once).
#[cfg(target_arch = "x86_64")]
struct Unencrypted {
    slot: usize,
    iv: [u8; 16],
    payload: core::ops::Range<usize>,
}

/// Protects SRTP packets of any number of contexts, computing their tags together.
///
/// Each packet's buffer stays borrowed by the batch until [`RtpProtectBatch::finish`]
/// (or drop) has written its tag, so no packet can be sent untagged.
///
/// ```
/// use talko_codecs::srtp::{RtpProtectBatch, SrtpConfig, SrtpContext, SrtpProfile, MAX_TAG_LEN};
///
/// let p = SrtpProfile::AesCm128HmacSha1_80;
/// let mut listeners: Vec<SrtpContext> = (0..3u8)
///     .map(|i| SrtpContext::new(p, &[i; 16], &[i; 14], SrtpConfig::default()).unwrap())
///     .collect();
/// let rtp = [0x80, 111, 0, 1, 0, 0, 0, 0, 0, 0, 0, 42, 0xde, 0xad];
/// let mut bufs = [[0u8; 64]; 3];
/// let mut lens = [0usize; 3];
/// let mut batch = RtpProtectBatch::new();
/// for ((ctx, buf), len) in listeners.iter_mut().zip(bufs.iter_mut()).zip(lens.iter_mut()) {
///     buf[..rtp.len()].copy_from_slice(&rtp);
///     *len = batch.push(ctx, buf, rtp.len())?;
/// }
/// batch.finish();
/// assert_eq!(lens, [rtp.len() + 10; 3]);
/// # Ok::<(), talko_codecs::srtp::SrtpError>(())
/// ```
pub struct RtpProtectBatch<'a> {
    slots: [Option<Untagged<'a>>; SRTP_BATCH],
    used: usize,
    #[cfg(target_arch = "x86_64")]
    waiting: Option<Unencrypted>,
    #[cfg(target_arch = "x86_64")]
    waiting_key: Option<AesNi>,
}

impl Default for RtpProtectBatch<'_> {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for RtpProtectBatch<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RtpProtectBatch")
            .field("pending", &self.used)
            .finish()
    }
}

impl<'a> RtpProtectBatch<'a> {
    /// An empty batch.
    pub fn new() -> Self {
        RtpProtectBatch {
            slots: [const { None }; SRTP_BATCH],
            used: 0,
            #[cfg(target_arch = "x86_64")]
            waiting: None,
            #[cfg(target_arch = "x86_64")]
            waiting_key: None,
        }
    }

    /// Protects the RTP packet in `buf[..len]` with `ctx`, exactly as
    /// [`SrtpContext::protect_rtp`] does (same checks, errors and returned length),
    /// except that an AES-CM packet's tag is written when the batch finishes.
    pub fn push(
        &mut self,
        ctx: &mut SrtpContext,
        buf: &'a mut [u8],
        len: usize,
    ) -> Result<usize, SrtpError> {
        if !matches!(ctx.transform(), Transform::Cm(_)) {
            return ctx.protect_rtp(buf, len);
        }
        let send = ctx.send_index(buf, len)?;
        let pkt = buf.get_mut(..send.total).ok_or(SrtpError::BufferTooSmall)?;
        let f = send.fields;
        if self.used == SRTP_BATCH {
            self.flush();
        }
        let Transform::Cm(cm) = ctx.transform() else {
            return ctx.protect_rtp(pkt, len);
        };
        let (key, iv) = cm.rtp_counter(f.ssrc, send.index);
        let slot = self.used;
        #[cfg(target_arch = "x86_64")]
        let encrypted = match (key.ni(), pkt.get_mut(f.header_len..len)) {
            (Some(ni), Some(payload)) => {
                match self.waiting.take() {
                    // Pair with the packet waiting for its encryption.
                    Some(w) => {
                        let other = self
                            .slots
                            .get_mut(w.slot)
                            .and_then(Option::as_mut)
                            .and_then(|u| u.buf.get_mut(w.payload));
                        match (other, self.waiting_key.as_ref()) {
                            (Some(other), Some(wkey)) => {
                                AesNi::apply_keystream_pair(wkey, w.iv, other, ni, iv, payload)
                            }
                            _ => ni.apply_keystream(iv, payload),
                        }
                    }
                    None => {
                        self.waiting_key = Some(*ni);
                        self.waiting = Some(Unencrypted {
                            slot,
                            iv,
                            payload: f.header_len..len,
                        });
                    }
                }
                true
            }
            _ => false,
        };
        #[cfg(not(target_arch = "x86_64"))]
        let encrypted = false;
        if !encrypted {
            let _ = (key, iv);
            cm.encrypt_rtp(pkt, f.header_len, len, f.ssrc, send.index)?;
        }
        if let Some(s) = self.slots.get_mut(slot) {
            *s = Some(Untagged {
                buf: pkt,
                mac: *cm.rtp_mac(),
                auth_len: len,
                roc: roc_bytes(send.index),
                tag_len: cm.rtp_tag_len(),
            });
        }
        ctx.accept_sent(send);
        self.used += 1;
        Ok(send.total)
    }

    /// Writes every pending tag and releases the buffers.
    pub fn finish(self) {
        drop(self);
    }

    fn flush(&mut self) {
        #[cfg(target_arch = "x86_64")]
        if let Some(w) = self.waiting.take() {
            let payload = self
                .slots
                .get_mut(w.slot)
                .and_then(Option::as_mut)
                .and_then(|u| u.buf.get_mut(w.payload));
            if let (Some(payload), Some(key)) = (payload, self.waiting_key.as_ref()) {
                key.apply_keystream(w.iv, payload);
            }
        }
        let used = self.used.min(SRTP_BATCH);
        self.used = 0;
        let mut tags = [[0u8; DIGEST_LEN]; SRTP_BATCH];
        {
            let jobs: [TagJob<'_>; SRTP_BATCH] =
                core::array::from_fn(|i| match self.slots.get(i).and_then(Option::as_ref) {
                    Some(u) => TagJob {
                        mac: &u.mac,
                        data: u.buf.get(..u.auth_len).unwrap_or(&[]),
                        suffix: &u.roc,
                    },
                    None => TagJob::EMPTY,
                });
            hmac_sha1::tags(jobs.get(..used).unwrap_or(&[]), &mut tags);
        }
        for (slot, tag) in self.slots.iter_mut().take(used).zip(tags.iter()) {
            if let Some(u) = slot.take() {
                if let (Some(out), Some(t)) = (
                    u.buf.get_mut(u.auth_len..u.auth_len + u.tag_len),
                    tag.get(..u.tag_len),
                ) {
                    out.copy_from_slice(t);
                }
            }
        }
    }
}

impl Drop for RtpProtectBatch<'_> {
    fn drop(&mut self) {
        self.flush();
    }
}

/// A packet queued in an [`RtpAuthBatch`]: pass it back with the packet's buffer to
/// [`SrtpContext::unprotect_rtp_authenticated`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthTicket {
    slot: u8,
    /// Where and how long the packet was, so a ticket cannot vouch for another buffer.
    addr: usize,
    len: usize,
}

struct AuthItem<'a> {
    data: &'a [u8],
    mac: HmacSha1,
    roc: [u8; 4],
}

/// Computes the tags of received SRTP packets (of any number of contexts) together;
/// each packet is then checked and decrypted by its own context with
/// [`SrtpContext::unprotect_rtp_authenticated`].
///
/// ```
/// use talko_codecs::srtp::{RtpAuthBatch, SrtpConfig, SrtpContext, SrtpProfile};
///
/// let p = SrtpProfile::AesCm128HmacSha1_80;
/// let mut tx = SrtpContext::new(p, &[1; 16], &[2; 14], SrtpConfig::default()).unwrap();
/// let mut rx = SrtpContext::new(p, &[1; 16], &[2; 14], SrtpConfig::default()).unwrap();
/// let rtp = [0x80, 111, 0, 1, 0, 0, 0, 0, 0, 0, 0, 42, 0xde, 0xad];
/// let mut buf = [0u8; 64];
/// buf[..rtp.len()].copy_from_slice(&rtp);
/// let n = tx.protect_rtp(&mut buf, rtp.len())?;
/// let packet = &mut buf[..n];
///
/// let mut batch = RtpAuthBatch::new();
/// let ticket = batch.add(&rx, packet).expect("AES-CM packet, room in the batch");
/// let tags = batch.compute();
/// let len = rx.unprotect_rtp_authenticated(packet, &tags, ticket)?;
/// assert_eq!(&packet[..len], &rtp);
/// # Ok::<(), talko_codecs::srtp::SrtpError>(())
/// ```
pub struct RtpAuthBatch<'a> {
    items: [Option<AuthItem<'a>>; SRTP_BATCH],
    index: [u64; SRTP_BATCH],
    used: usize,
}

/// The tags an [`RtpAuthBatch`] computed.
pub struct RtpAuthTags {
    tags: [[u8; DIGEST_LEN]; SRTP_BATCH],
    index: [u64; SRTP_BATCH],
}

impl std::fmt::Debug for RtpAuthTags {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RtpAuthTags")
    }
}

impl Default for RtpAuthBatch<'_> {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for RtpAuthBatch<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RtpAuthBatch")
            .field("queued", &self.used)
            .finish()
    }
}

impl<'a> RtpAuthBatch<'a> {
    /// An empty batch.
    pub fn new() -> Self {
        RtpAuthBatch {
            items: [const { None }; SRTP_BATCH],
            index: [0; SRTP_BATCH],
            used: 0,
        }
    }

    /// Queues the SRTP packet `packet` (as received, tag included) for `ctx`. `None`
    /// when the batch is full, the suite is not AES-CM, or the packet is already
    /// refused by its header, length, SSRC or replay state: unprotect such a packet
    /// with [`SrtpContext::unprotect_rtp`], which says why. Changes no state.
    pub fn add(&mut self, ctx: &SrtpContext, packet: &'a [u8]) -> Option<AuthTicket> {
        let Transform::Cm(cm) = ctx.transform() else {
            return None;
        };
        let item = self.items.get_mut(self.used)?;
        let fields = ctx.srtp_fields(packet).ok()?;
        let body_len = packet.len().checked_sub(cm.rtp_tag_len())?;
        let index = ctx.receive_index(fields.ssrc, fields.seq).ok()?;
        *item = Some(AuthItem {
            data: packet.get(..body_len)?,
            mac: *cm.rtp_mac(),
            roc: roc_bytes(index),
        });
        let slot = self.used;
        if let Some(i) = self.index.get_mut(slot) {
            *i = index;
        }
        self.used += 1;
        Some(AuthTicket {
            slot: slot as u8,
            addr: packet.as_ptr() as usize,
            len: packet.len(),
        })
    }

    /// Computes every queued packet's tag.
    pub fn compute(self) -> RtpAuthTags {
        let mut tags = [[0u8; DIGEST_LEN]; SRTP_BATCH];
        let jobs: [TagJob<'_>; SRTP_BATCH] = core::array::from_fn(|i| {
            self.items
                .get(i)
                .and_then(Option::as_ref)
                .map_or(TagJob::EMPTY, |it| TagJob {
                    mac: &it.mac,
                    data: it.data,
                    suffix: &it.roc,
                })
        });
        hmac_sha1::tags(jobs.get(..self.used).unwrap_or(&[]), &mut tags);
        RtpAuthTags {
            tags,
            index: self.index,
        }
    }
}

impl SrtpContext {
    /// Finishes unprotecting a packet whose tag an [`RtpAuthBatch`] computed: the same
    /// checks, errors and result as [`SrtpContext::unprotect_rtp`] on the same buffer
    /// (the replay state is checked again, since an earlier packet of the batch may
    /// have moved it; if that changed the packet's index the tag is recomputed). A
    /// ticket presented with a different buffer than it was issued for is refused as
    /// [`SrtpError::BadTag`].
    pub fn unprotect_rtp_authenticated(
        &mut self,
        buf: &mut [u8],
        tags: &RtpAuthTags,
        ticket: AuthTicket,
    ) -> Result<usize, SrtpError> {
        if ticket.addr != buf.as_ptr() as usize || ticket.len != buf.len() {
            return Err(SrtpError::BadTag);
        }
        let slot = usize::from(ticket.slot);
        let (Some(tag), Some(&queued_index)) = (tags.tags.get(slot), tags.index.get(slot)) else {
            return Err(SrtpError::BadTag);
        };
        let fields = self.srtp_fields(buf)?;
        let index = self.receive_index(fields.ssrc, fields.seq)?;
        let verify = self.verify_tags();
        let Transform::Cm(cm) = self.transform() else {
            return self.unprotect_rtp(buf);
        };
        let plain_len = if index == queued_index {
            cm.unprotect_rtp_with_tag(buf, fields.header_len, fields.ssrc, index, tag, verify)?
        } else {
            cm.unprotect_rtp(buf, fields.header_len, fields.ssrc, index, verify)?
        };
        self.accept_rtp(fields.ssrc, index)?;
        Ok(plain_len)
    }
}
