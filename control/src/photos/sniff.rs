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
}
