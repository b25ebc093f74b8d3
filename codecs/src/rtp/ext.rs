//! RFC 8285 header extension elements and the RFC 6464 audio level.
//!
//! One walker, [`step`], serves both validation (in the packet constructor, where a
//! malformed element is an error) and iteration (afterwards, where it cannot fail).

use super::{RtpError, RtpPacket, PROFILE_ONE_BYTE, PROFILE_TWO_BYTE};

/// One header extension element: its local ID and its data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Extension<'a> {
    /// Local identifier: 1–14 in the one-byte form, 1–255 in the two-byte form.
    pub id: u8,
    /// Element data: 1–16 bytes (one-byte form) or 0–255 bytes (two-byte form).
    pub data: &'a [u8],
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Form {
    OneByte,
    TwoByte,
    Opaque,
}

fn form(profile: u16) -> Form {
    if profile == PROFILE_ONE_BYTE {
        Form::OneByte
    } else if profile & 0xFFF0 == PROFILE_TWO_BYTE {
        Form::TwoByte
    } else {
        Form::Opaque
    }
}

/// Takes the next element off `data`. `Ok(None)` ends the walk: the block is exhausted,
/// or (one-byte form) ID 15 or a non-zero-length ID 0 says to stop parsing.
fn step<'a>(form: Form, data: &mut &'a [u8]) -> Result<Option<Extension<'a>>, RtpError> {
    loop {
        let Some((&first, rest)) = data.split_first() else {
            return Ok(None);
        };
        if first == 0 {
            // Padding byte (ID 0) in both forms.
            *data = rest;
            continue;
        }
        let (id, len, rest) = match form {
            Form::Opaque => return Ok(None),
            Form::OneByte => {
                let id = first >> 4;
                if id == 15 || id == 0 {
                    // RFC 8285 §4.2: ID 15 stops processing; a non-zero length on the
                    // padding ID is malformed and is treated the same way.
                    *data = &[];
                    return Ok(None);
                }
                (id, usize::from(first & 0x0F) + 1, rest)
            }
            Form::TwoByte => {
                let (&len, rest) = rest
                    .split_first()
                    .ok_or(RtpError::ExtensionElementOverrun)?;
                (first, usize::from(len), rest)
            }
        };
        let (value, rest) = rest
            .split_at_checked(len)
            .ok_or(RtpError::ExtensionElementOverrun)?;
        *data = rest;
        return Ok(Some(Extension { id, data: value }));
    }
}

/// Checks that every element of an extension block lies inside it.
#[inline]
pub(super) fn validate(profile: u16, mut data: &[u8]) -> Result<(), RtpError> {
    let form = form(profile);
    if form == Form::OneByte {
        return validate_one_byte(data);
    }
    while step(form, &mut data)?.is_some() {}
    Ok(())
}

/// [`validate`] for the one-byte form, the one every audio packet carries: the same rules
/// as [`step`] (ID 0 padding, ID 15 or a non-zero-length ID 0 stops, an element may not
/// run past the block) as one index walk, since this runs on every received packet.
#[inline]
fn validate_one_byte(data: &[u8]) -> Result<(), RtpError> {
    let mut i = 0;
    while let Some(&b) = data.get(i) {
        if b == 0 {
            i += 1;
            continue;
        }
        let id = b >> 4;
        if id == 15 || id == 0 {
            return Ok(());
        }
        // The byte itself, then 1–16 bytes of data.
        i += 2 + usize::from(b & 0x0F);
        if i > data.len() {
            return Err(RtpError::ExtensionElementOverrun);
        }
    }
    Ok(())
}

/// Iterator over the RFC 8285 elements of a validated packet's header extension.
#[derive(Debug, Clone)]
pub struct Extensions<'a> {
    form: Form,
    data: &'a [u8],
}

impl<'a> Extensions<'a> {
    pub(super) fn new(profile: u16, data: &'a [u8]) -> Self {
        Extensions {
            form: form(profile),
            data,
        }
    }

    pub(super) fn empty() -> Self {
        Extensions {
            form: Form::Opaque,
            data: &[],
        }
    }
}

impl<'a> Iterator for Extensions<'a> {
    type Item = Extension<'a>;

    fn next(&mut self) -> Option<Extension<'a>> {
        match step(self.form, &mut self.data) {
            Ok(e) => e,
            // Unreachable for a validated packet; end the walk rather than panic.
            Err(_) => {
                self.data = &[];
                None
            }
        }
    }
}

/// RFC 6464 client-to-mixer audio level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AudioLevel {
    /// The V flag: the sender believes the packet holds voice.
    pub voice: bool,
    /// Level in −dBov, 0 (loudest) to 127 (silence).
    pub level_dbov: u8,
}

/// The RFC 6464 audio level carried under local ID `ext_id`, if the packet has one.
#[inline]
pub fn audio_level(pkt: &RtpPacket<'_>, ext_id: u8) -> Option<AudioLevel> {
    let ext = pkt.extensions().find(|e| e.id == ext_id)?;
    let b = *ext.data.first()?;
    Some(AudioLevel {
        voice: b & 0x80 != 0,
        level_dbov: b & 0x7F,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn generic_walk(mut data: &[u8]) -> Result<(), RtpError> {
        while step(Form::OneByte, &mut data)?.is_some() {}
        Ok(())
    }

    #[test]
    fn one_byte_fast_path_agrees_with_the_generic_walk() {
        // Every block of up to 3 bytes, exhaustively.
        for len in 0..=3usize {
            for n in 0..(1u32 << (8 * len)) {
                let block = &n.to_be_bytes()[4 - len..];
                assert_eq!(
                    validate_one_byte(block),
                    generic_walk(block),
                    "{block:02x?}"
                );
            }
        }
        // Longer blocks from a fixed pseudo-random sequence, biased towards small lengths
        // so that walks go deep.
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut block = [0u8; 40];
        for _ in 0..200_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let len = (x % 41) as usize;
            for (i, b) in block.iter_mut().enumerate().take(len) {
                let r = x.rotate_left(i as u32 * 7) as u8;
                *b = if r.is_multiple_of(5) { 0 } else { r & 0xF3 };
            }
            let b = &block[..len];
            assert_eq!(validate_one_byte(b), generic_walk(b), "{b:02x?}");
        }
    }
}
