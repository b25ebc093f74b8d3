//! Type sniffing from magic bytes. The client's `Content-Type` is never consulted.

/// The photo formats talko accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PhotoFormat {
    /// JPEG: starts with `FF D8 FF`.
    Jpeg,
    /// PNG: starts with `89 50 4E 47 0D 0A 1A 0A`.
    Png,
    /// WebP: `RIFF <len:4> WEBP`.
    WebP,
}

impl PhotoFormat {
    /// The MIME type of this format.
    pub fn mime(self) -> &'static str {
        match self {
            Self::Jpeg => "image/jpeg",
            Self::Png => "image/png",
            Self::WebP => "image/webp",
        }
    }

    pub(crate) fn image_format(self) -> image::ImageFormat {
        match self {
            Self::Jpeg => image::ImageFormat::Jpeg,
            Self::Png => image::ImageFormat::Png,
            Self::WebP => image::ImageFormat::WebP,
        }
    }
}

const JPEG_MAGIC: &[u8] = &[0xFF, 0xD8, 0xFF];
const PNG_MAGIC: &[u8] = &[0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A];

/// The format announced by the first bytes of `bytes`, or `None` if it is none of
/// JPEG, PNG and WebP.
pub fn sniff(bytes: &[u8]) -> Option<PhotoFormat> {
    if bytes.starts_with(JPEG_MAGIC) {
        return Some(PhotoFormat::Jpeg);
    }
    if bytes.starts_with(PNG_MAGIC) {
        return Some(PhotoFormat::Png);
    }
    let riff = bytes.get(0..4)?;
    let webp = bytes.get(8..12)?;
    if riff == b"RIFF" && webp == b"WEBP" {
        return Some(PhotoFormat::WebP);
    }
    None
}

/// Whether a JPEG's marker structure is complete: every segment fits and the
/// entropy-coded data of each scan is followed by a marker, up to the end-of-image
/// marker. The JPEG decoder pads a truncated scan with grey instead of failing, so
/// this walk is what rejects a truncated upload.
pub(crate) fn jpeg_is_complete(bytes: &[u8]) -> bool {
    jpeg_walk(bytes).is_some()
}

fn jpeg_walk(bytes: &[u8]) -> Option<()> {
    const SOS: u8 = 0xDA;
    const EOI: u8 = 0xD9;
    let mut i = 2; // after SOI
    loop {
        if *bytes.get(i)? != 0xFF {
            return None;
        }
        while *bytes.get(i)? == 0xFF {
            i += 1;
        }
        let marker = *bytes.get(i)?;
        i += 1;
        match marker {
            EOI => return Some(()),
            // Standalone markers: no length.
            0x01 | 0xD0..=0xD7 => continue,
            0xD8 | 0x00 => return None,
            _ => {}
        }
        let len = usize::from(u16::from_be_bytes([*bytes.get(i)?, *bytes.get(i + 1)?]));
        if len < 2 {
            return None;
        }
        i = i.checked_add(len)?;
        if i > bytes.len() {
            return None;
        }
        if marker == SOS {
            // Entropy-coded data: runs until a marker other than a stuffed zero or
            // a restart marker.
            loop {
                i += bytes.get(i..)?.iter().position(|&b| b == 0xFF)?;
                match *bytes.get(i + 1)? {
                    0x00 | 0xD0..=0xD7 => i += 2,
                    0xFF => i += 1,
                    _ => break,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_each_magic() {
        assert_eq!(sniff(&[0xFF, 0xD8, 0xFF, 0xE0]), Some(PhotoFormat::Jpeg));
        assert_eq!(sniff(PNG_MAGIC), Some(PhotoFormat::Png));
        assert_eq!(sniff(b"RIFF\x10\0\0\0WEBPVP8 "), Some(PhotoFormat::WebP));
    }

    #[test]
    fn rejects_near_misses_and_short_input() {
        assert_eq!(sniff(&[]), None);
        assert_eq!(sniff(&[0xFF, 0xD8]), None);
        assert_eq!(sniff(&PNG_MAGIC[..7]), None);
        assert_eq!(sniff(b"RIFF\x10\0\0\0WAVE"), None);
        assert_eq!(sniff(b"RIFF\x10\0\0\0WEB"), None);
        assert_eq!(sniff(b"GIF89a"), None);
        assert_eq!(sniff(b"<svg xmlns="), None);
    }

    #[test]
    fn jpeg_walk_needs_every_segment_and_the_end_marker() {
        // SOI, APP0 (len 4), SOS (len 3) + one entropy byte, EOI.
        let whole = [
            0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x04, 0xAA, 0xBB, 0xFF, 0xDA, 0x00, 0x03, 0x01, 0x12,
            0xFF, 0x00, 0xFF, 0xD0, 0x34, 0xFF, 0xD9,
        ];
        assert!(jpeg_is_complete(&whole));
        for cut in 0..whole.len() {
            assert!(!jpeg_is_complete(&whole[..cut]), "cut at {cut}");
        }
        let mut bad_len = whole;
        bad_len[5] = 0x01;
        assert!(!jpeg_is_complete(&bad_len));
    }
}
