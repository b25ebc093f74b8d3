//! One participant's media state: crypto both ways, the latched address, the jitter
//! buffer, the decoder, talk detection and the receive statistics.
//!
//! This module owns what happens to a participant's packets between "the SSRC says it is
//! this participant" and "a decoded frame is ready for the mixer": SRTP unprotect,
//! RTP-bleed-safe latching (only after authentication), jitter-buffer insert, and per tick
//! the decode with FEC or PLC. It must never read the clock, allocate after
//! [`Participant::new`], or trust a byte before SRTP has authenticated it.

use std::net::SocketAddr;

use talko_codecs::opus::codec::{Decoder, FRAME_SAMPLES};
use talko_codecs::rtp::{audio_level, RtpPacket};
use talko_codecs::srtp::{AuthTicket, RtpAuthTags, SrtpConfig, SrtpContext, SrtpError};

use crate::config::{EngineConfig, IceCredentials, ParticipantSpec};
use crate::events::{DropReason, EngineError, ParticipantStats};
use crate::ids::ParticipantId;
use crate::jitter::{Inserted, JitterBuffer, Playout};
use crate::level::{dbov, TalkChange, Vad, STOP_DBOV};
use crate::rtcp_stats::{self, RxStats};

/// Concealed frames after the last real one before the decoder goes quiet.
const MAX_PLC_RUN: u8 = 5;

/// What receiving one RTP datagram led to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Received {
    /// Stored; `latched` is set when this packet (first or moved) latched the address.
    Stored { latched: bool },
    /// Dropped, with the reason.
    Dropped(DropReason),
}

pub(crate) fn srtp_drop(e: SrtpError) -> DropReason {
    match e {
        SrtpError::Replayed | SrtpError::TooOld => DropReason::Replayed,
        SrtpError::BadTag => DropReason::AuthFailed,
        SrtpError::UnknownSsrc => DropReason::UnknownSsrc,
        _ => DropReason::Malformed,
    }
}

/// One participant of a call.
pub(crate) struct Participant {
    pub id: ParticipantId,
    pub call_slot: u32,
    pub ssrc_in: u32,
    pub ssrc_out: u32,
    pub payload_type: u8,
    pub level_ext: Option<u8>,
    pub expected_addr: Option<SocketAddr>,
    pub ice: Option<IceCredentials>,
    pub srtp_in: SrtpContext,
    pub srtp_out: SrtpContext,
    pub addr: Option<SocketAddr>,
    pub jb: JitterBuffer,
    pub dec: Decoder,
    /// This tick's decoded frame, valid when `has_audio`.
    pub pcm: Box<[i16; FRAME_SAMPLES]>,
    pub has_audio: bool,
    /// When the packet decoded this tick was received (engine timeline, µs); `None`
    /// when this tick's audio was concealed, rebuilt from FEC or absent.
    pub played_received_us: Option<i64>,
    pub level: u8,
    pub vad: Vad,
    pub muted: bool,
    pub gain: f32,
    plc_run: u8,
    decoder_warm: bool,
    /// Mix-minus slot while among the loudest speakers.
    pub speaker: Option<usize>,
    /// Outgoing RTP sequence number and timestamp origin.
    pub out_seq: u16,
    pub out_ts_base: u32,
    pub stats: ParticipantStats,
    pub rx: RxStats,
    /// Next RTCP report due (µs on the engine timeline).
    pub next_rtcp_us: i64,
    /// Middle 32 bits of the last SR's NTP time we received, and when (µs).
    pub last_sr: Option<(u32, i64)>,
}

impl Participant {
    pub(crate) fn new(
        id: ParticipantId,
        call_slot: u32,
        spec: ParticipantSpec,
        cfg: &EngineConfig,
        now_us: i64,
    ) -> Result<Participant, EngineError> {
        let srtp_cfg = SrtpConfig {
            max_streams: 1,
            replay_window: cfg.srtp_replay_window,
            strict_ssrc: true,
        };
        let mut srtp_in = SrtpContext::new(
            spec.srtp_in.profile,
            &spec.srtp_in.master_key,
            &spec.srtp_in.master_salt,
            srtp_cfg,
        )?;
        srtp_in.add_stream(spec.ssrc_in)?;
        let mut srtp_out = SrtpContext::new(
            spec.srtp_out.profile,
            &spec.srtp_out.master_key,
            &spec.srtp_out.master_salt,
            srtp_cfg,
        )?;
        srtp_out.add_stream(spec.ssrc_out)?;
        // Spread the reports of participants over the interval.
        let interval = i64::try_from(cfg.rtcp_interval.as_micros()).unwrap_or(5_000_000);
        let spread = i64::from(spec.ssrc_out % 1000) * interval / 1000;
        Ok(Participant {
            id,
            call_slot,
            ssrc_in: spec.ssrc_in,
            ssrc_out: spec.ssrc_out,
            payload_type: spec.payload_type & 0x7F,
            level_ext: spec.audio_level_ext_id,
            expected_addr: spec.expected_addr,
            ice: spec.ice,
            srtp_in,
            srtp_out,
            addr: None,
            jb: JitterBuffer::new(&cfg.jitter),
            dec: Decoder::mono()?,
            pcm: Box::new([0; FRAME_SAMPLES]),
            has_audio: false,
            played_received_us: None,
            level: crate::level::SILENCE_DBOV,
            vad: Vad::new(),
            muted: false,
            gain: 1.0,
            plc_run: MAX_PLC_RUN,
            decoder_warm: false,
            speaker: None,
            out_seq: (spec.ssrc_out >> 16) as u16,
            out_ts_base: spec.ssrc_out.rotate_left(7),
            stats: ParticipantStats::default(),
            rx: RxStats::default(),
            next_rtcp_us: now_us + interval / 2 + spread,
            last_sr: None,
        })
    }

    /// Counts a drop against this participant.
    pub(crate) fn drop_packet(&mut self, reason: DropReason) {
        self.stats.drops.count(reason);
    }

    /// Whether a packet from `from` may be processed at all (before authentication).
    pub(crate) fn source_allowed(&self, from: SocketAddr) -> bool {
        self.expected_addr.is_none_or(|a| a == from)
    }

    /// Latches `from` after an authenticated packet; true when the address changed.
    pub(crate) fn latch(&mut self, from: SocketAddr) -> bool {
        if self.addr == Some(from) {
            return false;
        }
        self.addr = Some(from);
        true
    }

    /// Receives one SRTP datagram that carries this participant's SSRC; `playable_us` is
    /// the arrival time the jitter buffer counts (the overdue tick's time, if one is).
    /// With `auth`, its tag was computed in a batch (`Engine::handle_datagrams`).
    pub(crate) fn receive_rtp(
        &mut self,
        now_us: i64,
        playable_us: i64,
        from: SocketAddr,
        datagram: &mut [u8],
        max_datagram: usize,
        auth: Option<(&RtpAuthTags, AuthTicket)>,
    ) -> Received {
        if !self.source_allowed(from) {
            return Received::Dropped(DropReason::WrongSource);
        }
        let wire_len = datagram.len();
        let unprotected = match auth {
            Some((tags, ticket)) => self
                .srtp_in
                .unprotect_rtp_authenticated(datagram, tags, ticket),
            None => self.srtp_in.unprotect_rtp(datagram),
        };
        let len = match unprotected {
            Ok(n) => n,
            Err(e) => return Received::Dropped(srtp_drop(e)),
        };
        // Authenticated: from here on the bytes are the participant's.
        let Some(plain) = datagram.get(..len) else {
            return Received::Dropped(DropReason::Malformed);
        };
        let pkt = match RtpPacket::parse_with_limit(plain, max_datagram) {
            Ok(p) => p,
            Err(_) => return Received::Dropped(DropReason::Malformed),
        };
        let latched = self.latch(from);
        self.stats.packets_in += 1;
        self.stats.bytes_in += wire_len as u64;
        self.rx
            .on_packet(pkt.sequence_number(), pkt.timestamp(), now_us);
        if pkt.payload_type() != self.payload_type {
            return Received::Dropped(DropReason::Unsupported);
        }
        let level = self
            .level_ext
            .and_then(|id| audio_level(&pkt, id))
            .map(|l| (l.voice, l.level_dbov));
        match self.jb.insert(
            playable_us,
            pkt.sequence_number(),
            pkt.timestamp(),
            pkt.payload(),
            level,
        ) {
            Inserted::Stored => {
                if playable_us != now_us {
                    self.jb.set_received(pkt.sequence_number(), now_us);
                }
                Received::Stored { latched }
            }
            Inserted::Late => Received::Dropped(DropReason::Late),
            Inserted::Duplicate => Received::Dropped(DropReason::Duplicate),
            Inserted::TooLarge => Received::Dropped(DropReason::TooLarge),
        }
    }

    /// Receives one SRTCP datagram that carries this participant's SSRC: reports
    /// become statistics (loss, jitter, RTT) and an SR's time is kept for our RR.
    pub(crate) fn receive_rtcp(
        &mut self,
        now_us: i64,
        from: SocketAddr,
        datagram: &mut [u8],
    ) -> Received {
        if !self.source_allowed(from) {
            return Received::Dropped(DropReason::WrongSource);
        }
        let len = match self.srtp_in.unprotect_rtcp(datagram) {
            Ok(n) => n,
            Err(e) => return Received::Dropped(srtp_drop(e)),
        };
        let latched = self.latch(from);
        let plain = datagram.get(..len).unwrap_or_default();
        let got =
            rtcp_stats::read_report(talko_codecs::rtcp::packets(plain), self.ssrc_out, now_us);
        if let Some(mid) = got.sr_ntp_mid {
            self.last_sr = Some((mid, now_us));
        }
        if let Some((fraction, lost, jitter_ms)) = got.block {
            self.stats.remote_fraction_lost = fraction;
            self.stats.remote_lost = lost;
            self.stats.remote_jitter_ms = jitter_ms;
        }
        if got.rtt_ms.is_some() {
            self.stats.rtt_ms = got.rtt_ms;
        }
        Received::Stored { latched }
    }

    /// Runs one tick of playout: pulls a frame and decodes it (or rebuilds it with FEC,
    /// or conceals it), updates the level and talk state.
    /// `on_packet` sees the payload played this tick (for the recorder's tracks).
    pub(crate) fn tick(
        &mut self,
        now_us: i64,
        on_packet: impl FnOnce(&[u8]),
    ) -> Option<TalkChange> {
        self.has_audio = false;
        self.played_received_us = None;
        let pcm: &mut [i16] = &mut self.pcm[..];
        let talking = self.vad.talking();
        let speaker = self.speaker.is_some();
        match self.jb.pop(now_us) {
            Playout::Frame {
                payload,
                level,
                received_us,
            } => {
                if !self.muted {
                    on_packet(payload);
                }
                // A sender that says (RFC 6464) it is quiet needs no decode while it is
                // not talking: the mix would not use it.
                let quiet = level.is_some_and(|(voice, l)| !voice && l > STOP_DBOV);
                if self.muted || (quiet && !talking && !speaker) {
                    self.decoder_warm = false;
                    self.level = level.map_or(crate::level::SILENCE_DBOV, |(_, l)| l);
                } else {
                    match self.dec.decode(payload, pcm, false) {
                        Ok(n) if n == FRAME_SAMPLES => {
                            self.stats.decoded_frames += 1;
                            self.has_audio = true;
                            self.played_received_us = Some(received_us);
                            self.plc_run = 0;
                            self.decoder_warm = true;
                        }
                        _ => {
                            // A corrupt or non-20 ms frame: conceal instead.
                            self.conceal();
                        }
                    }
                    if self.has_audio {
                        self.level = match level {
                            Some((_, l)) => l,
                            None => dbov(&self.pcm[..]),
                        };
                    }
                }
            }
            Playout::Lost { fec } => {
                if self.muted || !self.decoder_warm {
                    self.level = crate::level::SILENCE_DBOV;
                } else if let Some(next) = fec {
                    if matches!(self.dec.decode_fec(next, pcm), Ok(n) if n == FRAME_SAMPLES) {
                        self.has_audio = true;
                        self.stats.fec_frames += 1;
                        self.plc_run = 0;
                        self.level = dbov(&self.pcm[..]);
                    } else {
                        self.conceal();
                    }
                } else {
                    self.conceal();
                }
            }
            Playout::Nothing => {
                self.level = crate::level::SILENCE_DBOV;
            }
        }
        self.stats.jitter_target_ms = (self.jb.target_us() / 1_000) as u32;
        self.stats.accelerated_frames = self.jb.accelerated;
        if self.muted {
            self.vad.push_silence()
        } else {
            self.vad.push(self.level)
        }
    }

    fn conceal(&mut self) {
        if self.plc_run >= MAX_PLC_RUN || !self.decoder_warm {
            self.level = crate::level::SILENCE_DBOV;
            return;
        }
        if matches!(self.dec.conceal(&mut self.pcm[..]), Ok(n) if n == FRAME_SAMPLES) {
            self.has_audio = true;
            self.plc_run += 1;
            self.stats.plc_frames += 1;
            self.level = dbov(&self.pcm[..]);
        }
    }
}
