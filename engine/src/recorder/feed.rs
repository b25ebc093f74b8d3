//! [`RecorderFeed`]: the media-thread side of the recorder ring.
//!
//! Each feed owns a pool of preallocated [`Frame`]s. A frame leaves the pool
//! (`try_recv` on the feed's free list), is filled, and goes into the shared ring
//! (`try_send`); the recorder thread writes it out and sends it back to its home pool.
//! An atomic counter caps the frames in the ring at `ring_capacity`, so the ring always
//! has [`CONTROL_RESERVE`](super::CONTROL_RESERVE) slots for start/stop messages. Nothing here blocks; nothing
//! allocates except `start` (which clones the spec) and the rare queueing of a control
//! message behind a full ring.

use std::sync::atomic::Ordering;
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::Arc;

use super::{RecordingSpec, Shared, MAX_FRAME_OPUS, TICK_SAMPLES};

/// What a frame carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FrameKind {
    /// One tick of the call's full mix.
    Mix,
    /// One received packet of a participant.
    Track,
}

/// One ring slot: fixed-size, reused forever.
pub(crate) struct Frame {
    pub kind: FrameKind,
    pub call: u64,
    pub participant: u64,
    pub tick: u64,
    /// The pool this frame returns to.
    pub home: usize,
    /// Frames of this call the feed dropped before this one.
    pub drops: u64,
    pub opus_len: usize,
    pub has_opus: bool,
    pub has_pcm: bool,
    pub opus: [u8; MAX_FRAME_OPUS],
    pub pcm: [i16; TICK_SAMPLES],
}

impl Frame {
    fn boxed(home: usize) -> Box<Frame> {
        Box::new(Frame {
            kind: FrameKind::Mix,
            call: 0,
            participant: 0,
            tick: 0,
            home,
            drops: 0,
            opus_len: 0,
            has_opus: false,
            has_pcm: false,
            opus: [0; MAX_FRAME_OPUS],
            pcm: [0; TICK_SAMPLES],
        })
    }

    /// The Opus packet, if any.
    pub fn opus(&self) -> Option<&[u8]> {
        if self.has_opus {
            self.opus.get(..self.opus_len)
        } else {
            None
        }
    }
}

/// Messages on the ring.
pub(crate) enum Msg {
    Frame(Box<Frame>),
    Register {
        home: usize,
        free: SyncSender<Box<Frame>>,
    },
    Start {
        call: u64,
        tick: u64,
        spec: RecordingSpec,
    },
    Stop {
        call: u64,
        tick: u64,
        drops: u64,
    },
    Shutdown,
}

/// Calls whose drops a feed tracks individually before lumping the rest together.
const DROP_SLOTS: usize = 64;
/// Control messages a feed can hold back while the ring is full, without allocating.
const PENDING_CAPACITY: usize = 64;

/// The producer side of the recorder, one per media (shard) thread. `Send`, not `Sync`.
///
/// Every method returns at once: it never blocks on the recorder or the disk and never
/// allocates in steady state (`mix_frame`, `track_packet`). When no frame is free or the
/// ring is full, the frame is dropped and counted; the recorder fills the gap with
/// silence and reports [`RecordingEvent::Dropped`](super::RecordingEvent::Dropped).
pub struct RecorderFeed {
    home: usize,
    tx: SyncSender<Msg>,
    free: Receiver<Box<Frame>>,
    /// A frame taken from the pool whose send failed; used before the pool.
    spare: Option<Box<Frame>>,
    shared: Arc<Shared>,
    limit: usize,
    /// Start/stop messages waiting for ring space, oldest first. While any wait, no
    /// frame is sent, so the recorder sees everything in order.
    pending: Vec<Msg>,
    drops: [(u64, u64); DROP_SLOTS],
    unattributed_drops: u64,
    total_drops: u64,
}

impl RecorderFeed {
    pub(crate) fn new(
        home: usize,
        tx: SyncSender<Msg>,
        shared: Arc<Shared>,
        pool: usize,
    ) -> RecorderFeed {
        let (free_tx, free) = mpsc::sync_channel(pool);
        for _ in 0..pool {
            let _ = free_tx.try_send(Frame::boxed(home));
        }
        // Registration precedes every frame of this feed on the ring. A recorder that
        // has shut down just leaves the feed without a way back for its frames.
        let _ = tx.send(Msg::Register {
            home,
            free: free_tx,
        });
        RecorderFeed {
            home,
            tx,
            free,
            spare: None,
            shared,
            limit: pool,
            pending: Vec::with_capacity(PENDING_CAPACITY),
            drops: [(0, 0); DROP_SLOTS],
            unattributed_drops: 0,
            total_drops: 0,
        }
    }

    /// Starts recording `call` as of engine tick `tick`: the first tick whose frames
    /// belong to the recording (its time zero). Clones `spec` (allocates when it has a
    /// name); call from command handling.
    pub fn start(&mut self, call: u64, spec: &RecordingSpec, tick: u64) {
        self.control(Msg::Start {
            call,
            tick,
            spec: spec.clone(),
        });
    }

    /// Stops recording `call` at `tick`, the first tick not recorded: the files end
    /// there (or after the last frame fed before this call, if that is later).
    pub fn stop(&mut self, call: u64, tick: u64) {
        let drops = self.take_drops(call);
        self.control(Msg::Stop { call, tick, drops });
    }

    /// One tick of a recorded call's full mix: `opus` is the shared mix packet the mixer
    /// already encoded, `pcm` the 960-sample mix (for WAV). Either may be absent; the
    /// recorder fills what is missing.
    pub fn mix_frame(&mut self, call: u64, tick: u64, opus: Option<&[u8]>, pcm: Option<&[i16]>) {
        if opus.is_some_and(|p| p.len() > MAX_FRAME_OPUS) {
            self.count_drop(call);
            return;
        }
        let Some(mut frame) = self.take_frame(call) else {
            return;
        };
        frame.kind = FrameKind::Mix;
        frame.call = call;
        frame.participant = 0;
        frame.tick = tick;
        frame.has_opus = false;
        frame.opus_len = 0;
        if let Some(p) = opus {
            if let Some(dst) = frame.opus.get_mut(..p.len()) {
                dst.copy_from_slice(p);
                frame.opus_len = p.len();
                frame.has_opus = true;
            }
        }
        frame.has_pcm = false;
        if let Some(pcm) = pcm {
            let n = pcm.len().min(TICK_SAMPLES);
            let (head, tail) = frame.pcm.split_at_mut(n);
            head.copy_from_slice(pcm.get(..n).unwrap_or(&[]));
            tail.fill(0);
            frame.has_pcm = true;
        }
        self.send_frame(frame);
    }

    /// A participant's received Opus packet, played at `tick`, for their track.
    pub fn track_packet(&mut self, call: u64, participant: u64, tick: u64, opus: &[u8]) {
        if opus.is_empty() || opus.len() > MAX_FRAME_OPUS {
            self.count_drop(call);
            return;
        }
        let Some(mut frame) = self.take_frame(call) else {
            return;
        };
        frame.kind = FrameKind::Track;
        frame.call = call;
        frame.participant = participant;
        frame.tick = tick;
        frame.has_pcm = false;
        if let Some(dst) = frame.opus.get_mut(..opus.len()) {
            dst.copy_from_slice(opus);
        }
        frame.opus_len = opus.len();
        frame.has_opus = true;
        self.send_frame(frame);
    }

    /// Frames this feed dropped so far (all calls).
    pub fn dropped_frames(&self) -> u64 {
        self.total_drops
    }

    /// A free frame with its ring slot reserved, or a counted drop.
    fn take_frame(&mut self, call: u64) -> Option<Box<Frame>> {
        if !self.flush_pending() {
            self.count_drop(call);
            return None;
        }
        if self.shared.queued.fetch_add(1, Ordering::AcqRel) >= self.limit {
            self.shared.queued.fetch_sub(1, Ordering::AcqRel);
            self.count_drop(call);
            return None;
        }
        let frame = self.spare.take().or_else(|| self.free.try_recv().ok());
        if frame.is_none() {
            self.shared.queued.fetch_sub(1, Ordering::AcqRel);
            self.count_drop(call);
        }
        frame
    }

    fn send_frame(&mut self, mut frame: Box<Frame>) {
        let call = frame.call;
        frame.home = self.home;
        frame.drops = self.take_drops(call);
        match self.tx.try_send(Msg::Frame(frame)) {
            Ok(()) => {}
            Err(TrySendError::Full(Msg::Frame(f)) | TrySendError::Disconnected(Msg::Frame(f))) => {
                self.shared.queued.fetch_sub(1, Ordering::AcqRel);
                self.restore_drops(call, f.drops);
                self.spare = Some(f);
                self.count_drop(call);
            }
            Err(_) => {
                self.shared.queued.fetch_sub(1, Ordering::AcqRel);
                self.count_drop(call);
            }
        }
    }

    /// Sends held-back control messages in order; true when none is left.
    fn flush_pending(&mut self) -> bool {
        while !self.pending.is_empty() {
            let msg = self.pending.remove(0);
            match self.tx.try_send(msg) {
                Ok(()) => {}
                Err(TrySendError::Full(msg)) => {
                    self.pending.insert(0, msg);
                    return false;
                }
                // The recorder is gone: nothing will ever be delivered.
                Err(TrySendError::Disconnected(_)) => self.pending.clear(),
            }
        }
        true
    }

    fn control(&mut self, msg: Msg) {
        if !self.flush_pending() {
            self.pending.push(msg);
            return;
        }
        if let Err(TrySendError::Full(msg)) = self.tx.try_send(msg) {
            self.pending.push(msg);
        }
    }

    fn count_drop(&mut self, call: u64) {
        self.total_drops += 1;
        self.shared.dropped.fetch_add(1, Ordering::Relaxed);
        self.restore_drops(call, 1);
    }

    fn restore_drops(&mut self, call: u64, n: u64) {
        if n == 0 {
            return;
        }
        let slot = self
            .drops
            .iter()
            .position(|&(c, k)| c == call && k > 0)
            .or_else(|| self.drops.iter().position(|&(_, k)| k == 0));
        match slot.and_then(|i| self.drops.get_mut(i)) {
            Some(entry) => {
                entry.0 = call;
                entry.1 += n;
            }
            None => self.unattributed_drops += n,
        }
    }

    /// Drops to report with the next message about `call` (drops that could not be
    /// attributed to a call ride along with whichever call reports next).
    fn take_drops(&mut self, call: u64) -> u64 {
        let mut n = std::mem::take(&mut self.unattributed_drops);
        if let Some(entry) = self.drops.iter_mut().find(|e| e.0 == call && e.1 > 0) {
            n += std::mem::take(&mut entry.1);
        }
        n
    }
}

impl Drop for RecorderFeed {
    fn drop(&mut self) {
        // Off the media path now (the shard is going away): deliver held-back starts
        // and stops, waiting for ring space if needed.
        for msg in self.pending.drain(..) {
            if self.tx.send(msg).is_err() {
                break;
            }
        }
    }
}
