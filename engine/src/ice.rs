//! ICE-lite (RFC 8445 §2.5): answering connectivity checks and latching on valid ones.
//!
//! This module owns the decision whether a STUN datagram is a connectivity check for a
//! participant on this shard (USERNAME `local_ufrag:remote_ufrag`, MESSAGE-INTEGRITY
//! under `local_pwd`, FINGERPRINT when present), the Binding success answer, and the
//! latch of the check's source address. It must never answer or latch on a check that
//! did not authenticate, send anything but a Binding success, or allocate.

use std::collections::HashMap;
use std::net::SocketAddr;

use talko_codecs::stun::{binding_success, StunMessage};

use crate::events::DropReason;
use crate::participant::Participant;
use crate::tx::{Pending, TxQueue};

/// A valid check's participant slot and whether it latched a new address; or the slot
/// (if known) and reason of a drop.
pub(crate) type CheckResult = Result<Option<(u32, bool)>, (Option<u32>, DropReason)>;

/// Handles one STUN datagram. `Ok(Some((slot, latched)))` after a valid check (whose
/// answer is queued), `Ok(None)` for a STUN message that needs nothing (a response),
/// `Err((slot, reason))` for a drop.
pub(crate) fn check(
    datagram: &[u8],
    from: SocketAddr,
    max_len: usize,
    ufrags: &HashMap<String, u32>,
    parts: &mut [Option<Participant>],
    tx: &mut TxQueue,
) -> CheckResult {
    let msg = StunMessage::parse(datagram, max_len).map_err(|_| (None, DropReason::Malformed))?;
    if !msg.is_binding_request() {
        // Responses and indications: an ICE-lite agent sends no requests, so nothing
        // here is expected. Count it as unsupported.
        return Err((None, DropReason::Unsupported));
    }
    let username = msg.username().ok_or((None, DropReason::Malformed))?;
    let (local, remote) = username
        .split_once(':')
        .ok_or((None, DropReason::Malformed))?;
    let &slot = ufrags.get(local).ok_or((None, DropReason::UnknownSsrc))?;
    let p = parts
        .get_mut(slot as usize)
        .and_then(Option::as_mut)
        .ok_or((None, DropReason::UnknownSsrc))?;
    let Some(ice) = p.ice.as_ref() else {
        return Err((Some(slot), DropReason::UnknownSsrc));
    };
    if remote != ice.remote_ufrag {
        return Err((Some(slot), DropReason::AuthFailed));
    }
    if !p.source_allowed(from) {
        return Err((Some(slot), DropReason::WrongSource));
    }
    msg.verify_integrity(ice.local_pwd.as_bytes())
        .map_err(|_| (Some(slot), DropReason::AuthFailed))?;
    if msg.has_fingerprint() && msg.verify_fingerprint().is_err() {
        return Err((Some(slot), DropReason::AuthFailed));
    }
    let (idx, buf) = tx.raw_slot().ok_or((Some(slot), DropReason::QueueFull))?;
    let len = binding_success(&msg, from, ice.local_pwd.as_bytes(), &mut buf[..])
        .map_err(|_| (Some(slot), DropReason::Malformed))?;
    let latched = p.latch(from);
    // A full queue refuses and counts the answer itself; the check still latched.
    let _queued = tx.push(Pending::Raw { idx, len, to: from });
    Ok(Some((slot, latched)))
}
