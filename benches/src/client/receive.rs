//! The receive side of a simulated participant: SRTP unprotect, loss accounting by
//! sequence number, and for checked participants Opus decode, tag detection and the
//! onset-latency samples (see the parent module for the method).
//!
//! Must never: count anything outside the measurement window, or panic on what the
//! engine sends (a bad packet is a counted failure).

use std::collections::HashMap;
use std::time::Instant;

use talko_codecs::rtp::RtpPacket;

use super::{ClientResult, Mark, Onsets, Participant, MAX_LATENCY, ONSET_SILENCE_FRAMES};
use crate::detect::tag_present;

/// Extends a 16-bit sequence number next to the previous extended one.
pub(super) fn extend_seq(prev: i64, seq: u16) -> i64 {
    let delta = i64::from(seq.wrapping_sub(prev as u16) as i16);
    prev + delta
}

#[allow(clippy::too_many_arguments)] // One packet's worth of context; grouping adds nothing.
pub(super) fn receive_one(
    datagram: &mut [u8],
    t: Instant,
    measuring: bool,
    parts: &mut [Participant],
    by_ssrc: &HashMap<u32, usize>,
    onsets: &Onsets,
    pcm: &mut [i16],
    res: &mut ClientResult,
) {
    // RTCP (RFC 5761: packet types 200–204 in the second byte).
    if let Some(&b1) = datagram.get(1) {
        if (200..=204).contains(&b1) {
            res.rtcp_received += u64::from(measuring);
            return;
        }
    }
    let ssrc = match datagram.get(8..12) {
        Some(&[a, b, c, d]) => u32::from_be_bytes([a, b, c, d]),
        _ => {
            res.unknown += u64::from(measuring);
            return;
        }
    };
    let Some(p) = by_ssrc.get(&ssrc).and_then(|&i| parts.get_mut(i)) else {
        res.unknown += u64::from(measuring);
        return;
    };
    let Ok(plain) = p.rx.unprotect_rtp(datagram) else {
        res.auth_failures += u64::from(measuring);
        return;
    };
    let Some(Ok(pkt)) = datagram.get(..plain).map(RtpPacket::try_from) else {
        res.unknown += u64::from(measuring);
        return;
    };
    if !measuring {
        return;
    }
    res.received += 1;
    let seq = pkt.sequence_number();
    match p.highest {
        None => {
            p.first = i64::from(seq);
            p.highest = Some(i64::from(seq));
        }
        Some(h) => {
            let ext = extend_seq(h, seq);
            if ext > h {
                p.highest = Some(ext);
            }
            if ext < p.first {
                p.first = ext;
            }
        }
    }
    let Some(decoder) = p.decoder.as_mut() else {
        return;
    };
    let n = match decoder.decode(pkt.payload(), pcm, false) {
        Ok(n) => n,
        Err(_) => {
            res.decode_errors += 1;
            return;
        }
    };
    let Some(frame) = pcm.get(..n) else {
        return;
    };
    res.checked_frames += 1;
    let me = p.plan.talker.map(|(_, g)| g);
    for tag in &mut p.tags {
        let first = tag_present(frame, crate::signal::tag_frequency(tag.tag));
        let second = tag_present(frame, crate::signal::switch_frequency(tag.tag));
        let present = first || second;
        if Some(tag.talker) == me {
            res.self_heard_frames += u64::from(present);
            continue;
        }
        if present {
            tag.heard_frames += 1;
            if tag.absent_run >= ONSET_SILENCE_FRAMES {
                match onsets.latency(tag.talker, Mark::Onset, t) {
                    Some(l) if l <= MAX_LATENCY => res.onset_delay.record_duration(l),
                    _ => res.onset_rejected += 1,
                }
            }
            tag.absent_run = 0;
        } else {
            tag.absent_run = tag.absent_run.saturating_add(1);
        }
        if second {
            if tag.switch_absent_run >= SWITCH_SILENCE_FRAMES {
                match onsets.latency(tag.talker, Mark::Switch, t) {
                    Some(l) if l <= MAX_LATENCY => res.latency.record_duration(l),
                    _ => res.latency_rejected += 1,
                }
            }
            tag.switch_absent_run = 0;
        } else {
            tag.switch_absent_run = tag.switch_absent_run.saturating_add(1);
        }
    }
}

/// The second tag must be absent this many frames before its appearance counts as a
/// switch (the first part of a burst lasts 10 frames).
const SWITCH_SILENCE_FRAMES: u32 = 5;

#[cfg(test)]
mod tests {
    use super::super::Onsets;
    use super::*;
    use std::time::Duration;

    #[test]
    fn sequence_numbers_extend_across_the_wrap() {
        assert_eq!(extend_seq(65_535, 0), 65_536);
        assert_eq!(extend_seq(65_536, 65_535), 65_535);
        assert_eq!(extend_seq(10, 12), 12);
    }

    #[test]
    fn onset_latency_is_measured_from_the_stored_send_instant() {
        let epoch = Instant::now();
        let o = Onsets::new(epoch, 2);
        assert_eq!(o.latency(0, Mark::Onset, epoch), None);
        o.store(1, Mark::Switch, epoch + Duration::from_millis(100));
        assert_eq!(o.latency(1, Mark::Onset, epoch), None);
        let l = o
            .latency(1, Mark::Switch, epoch + Duration::from_millis(125))
            .expect("stored");
        assert_eq!(l, Duration::from_millis(25));
    }
}
