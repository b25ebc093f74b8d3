//! Speaker selection and mixing for one call.
//!
//! This module owns the loudest-N choice with hysteresis (a selected speaker keeps its
//! slot while it talks; a newcomer takes a full slot only when clearly louder than the
//! quietest selected speaker) and the sums: one full mix of the selected speakers, and
//! per selected speaker that mix minus its own voice. It must never allocate, encode or
//! touch the network; the caller owns every buffer.

use talko_codecs::opus::codec::FRAME_SAMPLES;

/// The most mix-minus slots a call can have (`loudest_n` is clamped to this).
pub const MAX_SPEAKERS: usize = 8;
/// How much louder (linear ratio, 6 dB) a newcomer must be to displace a selected
/// speaker.
pub const DISPLACE_RATIO: f32 = 2.0;

/// A candidate for selection: its index among the call's members and its loudness.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Candidate {
    /// Index the caller uses to identify the participant.
    pub member: usize,
    /// Smoothed loudness (0–1).
    pub loudness: f32,
    /// Whether the participant is talking and may be selected.
    pub eligible: bool,
}

/// The loudest-N selection of one call: `slots[i]` is the member in mix-minus slot `i`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Selection {
    /// Member per slot.
    pub slots: [Option<usize>; MAX_SPEAKERS],
    n: usize,
}

/// A change of slot occupancy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlotChange {
    /// `member` left slot `slot`.
    Freed {
        /// The slot.
        slot: usize,
        /// The member that left.
        member: usize,
    },
    /// `member` took slot `slot` (its encoder should start afresh).
    Taken {
        /// The slot.
        slot: usize,
        /// The member that arrived.
        member: usize,
    },
}

impl Selection {
    /// An empty selection of `n` slots (clamped to 1..=[`MAX_SPEAKERS`]).
    pub fn new(n: usize) -> Self {
        Selection {
            slots: [None; MAX_SPEAKERS],
            n: n.clamp(1, MAX_SPEAKERS),
        }
    }

    /// The number of slots.
    pub fn len(&self) -> usize {
        self.n
    }

    /// Always false: a selection has at least one slot.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Whether `member` holds a slot.
    pub fn slot_of(&self, member: usize) -> Option<usize> {
        self.slots
            .iter()
            .take(self.n)
            .position(|s| *s == Some(member))
    }

    /// Forgets `member` (it left the call); returns its slot if it had one.
    pub fn remove(&mut self, member: usize) -> Option<usize> {
        let slot = self.slot_of(member)?;
        if let Some(s) = self.slots.get_mut(slot) {
            *s = None;
        }
        Some(slot)
    }

    /// Renames member index `from` to `to` (the caller moved a member in its list).
    pub fn rename(&mut self, from: usize, to: usize) {
        for s in self.slots.iter_mut().flatten() {
            if *s == from {
                *s = to;
            }
        }
    }

    /// Updates the selection from this tick's candidates (indexed by member) and
    /// reports every change through `on_change`.
    pub fn update(&mut self, candidates: &[Candidate], mut on_change: impl FnMut(SlotChange)) {
        let n = self.n;
        // Selected members that stopped talking give up their slot.
        for (slot, s) in self.slots.iter_mut().enumerate().take(n) {
            if let Some(member) = *s {
                let keep = candidates.get(member).is_some_and(|c| c.eligible);
                if !keep {
                    *s = None;
                    on_change(SlotChange::Freed { slot, member });
                }
            }
        }
        // Fill free slots with the loudest eligible members not yet selected; then let
        // one clearly louder newcomer displace the quietest selected speaker.
        loop {
            let mut best: Option<(usize, f32)> = None;
            for c in candidates.iter() {
                if c.eligible
                    && self.slot_of(c.member).is_none()
                    && best.is_none_or(|(_, l)| c.loudness > l)
                {
                    best = Some((c.member, c.loudness));
                }
            }
            let Some((member, loudness)) = best else {
                return;
            };
            if let Some(free) = self.slots.iter().take(n).position(Option::is_none) {
                if let Some(s) = self.slots.get_mut(free) {
                    *s = Some(member);
                }
                on_change(SlotChange::Taken { slot: free, member });
                continue;
            }
            let mut weakest: Option<(usize, usize, f32)> = None;
            for (slot, s) in self.slots.iter().enumerate().take(n) {
                if let Some(m) = *s {
                    let l = candidates.get(m).map_or(0.0, |c| c.loudness);
                    if weakest.is_none_or(|(_, _, wl)| l < wl) {
                        weakest = Some((slot, m, l));
                    }
                }
            }
            if let Some((slot, old, wl)) = weakest {
                if loudness > wl * DISPLACE_RATIO {
                    if let Some(s) = self.slots.get_mut(slot) {
                        *s = Some(member);
                    }
                    on_change(SlotChange::Freed { slot, member: old });
                    on_change(SlotChange::Taken { slot, member });
                }
            }
            return;
        }
    }
}

/// Adds `pcm` scaled by `gain` into `mix`.
pub fn accumulate(mix: &mut [f32; FRAME_SAMPLES], pcm: &[i16; FRAME_SAMPLES], gain: f32) {
    for (m, &s) in mix.iter_mut().zip(pcm.iter()) {
        *m += f32::from(s) * gain;
    }
}

/// `out = mix - pcm * gain`: the mix without one speaker's voice.
pub fn mix_minus(
    out: &mut [f32; FRAME_SAMPLES],
    mix: &[f32; FRAME_SAMPLES],
    pcm: &[i16; FRAME_SAMPLES],
    gain: f32,
) {
    for ((o, &m), &s) in out.iter_mut().zip(mix.iter()).zip(pcm.iter()) {
        *o = m - f32::from(s) * gain;
    }
}

/// Converts decibels to a linear gain.
pub fn db_to_gain(db: f32) -> f32 {
    if db.is_finite() {
        10f32.powf(db.clamp(-60.0, 20.0) / 20.0)
    } else {
        1.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cands(levels: &[(f32, bool)]) -> Vec<Candidate> {
        levels
            .iter()
            .enumerate()
            .map(|(member, &(loudness, eligible))| Candidate {
                member,
                loudness,
                eligible,
            })
            .collect()
    }

    #[test]
    fn the_loudest_three_of_five_talkers_are_selected() {
        let mut sel = Selection::new(3);
        let c = cands(&[
            (0.1, true),
            (0.5, true),
            (0.05, true),
            (0.3, true),
            (0.2, true),
        ]);
        sel.update(&c, |_| {});
        let mut chosen: Vec<usize> = sel.slots.iter().flatten().copied().collect();
        chosen.sort();
        assert_eq!(chosen, vec![1, 3, 4]);
    }

    #[test]
    fn a_slightly_louder_newcomer_does_not_displace_but_a_much_louder_one_does() {
        let mut sel = Selection::new(2);
        sel.update(&cands(&[(0.2, true), (0.3, true), (0.0, false)]), |_| {});
        let mut changes = Vec::new();
        sel.update(&cands(&[(0.2, true), (0.3, true), (0.35, true)]), |c| {
            changes.push(c)
        });
        assert!(changes.is_empty());
        sel.update(&cands(&[(0.2, true), (0.3, true), (0.5, true)]), |c| {
            changes.push(c)
        });
        assert_eq!(
            changes,
            vec![
                SlotChange::Freed { slot: 1, member: 0 },
                SlotChange::Taken { slot: 1, member: 2 }
            ]
        );
    }

    #[test]
    fn a_speaker_that_stops_talking_frees_its_slot() {
        let mut sel = Selection::new(1);
        sel.update(&cands(&[(0.2, true)]), |_| {});
        assert_eq!(sel.slot_of(0), Some(0));
        let mut changes = Vec::new();
        sel.update(&cands(&[(0.2, false)]), |c| changes.push(c));
        assert_eq!(changes, vec![SlotChange::Freed { slot: 0, member: 0 }]);
        assert_eq!(sel.slot_of(0), None);
    }

    #[test]
    fn mix_minus_removes_exactly_one_voice() {
        let a = [1000i16; FRAME_SAMPLES];
        let b = [-300i16; FRAME_SAMPLES];
        let mut mix = [0f32; FRAME_SAMPLES];
        accumulate(&mut mix, &a, 1.0);
        accumulate(&mut mix, &b, 0.5);
        let mut out = [0f32; FRAME_SAMPLES];
        mix_minus(&mut out, &mix, &a, 1.0);
        assert!(out.iter().all(|&x| (x + 150.0).abs() < 1e-3));
        assert!((db_to_gain(-6.0) - 0.501).abs() < 0.01);
        assert_eq!(db_to_gain(f32::NAN), 1.0);
    }
}
