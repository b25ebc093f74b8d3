//! The upload pipeline: limits, bomb guard, orientation, metadata stripping, thumbnails.
//!
//! CPU-heavy and synchronous: call [`process`] from `tokio::task::spawn_blocking`,
//! never on an async worker thread.

use std::io::Cursor;

use image::codecs::jpeg::JpegEncoder;
use image::codecs::png::PngEncoder;
use image::imageops::FilterType;
use image::metadata::Orientation;
use image::{DynamicImage, ImageDecoder, ImageError, ImageReader, RgbImage};

use super::sniff::{jpeg_is_complete, sniff, PhotoFormat};
use super::{Limits, PhotoError};

/// Longest side, in pixels, of each thumbnail [`process`] makes (largest first).
pub const THUMB_SIZES: [u32; 2] = [640, 96];

/// JPEG quality of re-encoded photos and thumbnails.
const JPEG_QUALITY: u8 = 85;

/// Bytes per pixel of the widest decoded layout (16-bit RGBA), for the decoder's
/// allocation limit.
const MAX_BYTES_PER_PIXEL: u64 = 8;

/// One thumbnail: the longest side is at most `size` (never upscaled), aspect kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Thumb {
    /// The nominal size (an entry of [`THUMB_SIZES`]).
    pub size: u32,
    /// Always `image/jpeg`.
    pub mime: &'static str,
    /// Actual width.
    pub width: u32,
    /// Actual height.
    pub height: u32,
    /// The encoded thumbnail.
    pub bytes: Vec<u8>,
}

/// A processed upload: metadata-free, upright, re-encoded, with thumbnails.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Processed {
    /// The format the client uploaded (sniffed).
    pub uploaded: PhotoFormat,
    /// The MIME type of [`Processed::original`] (`image/jpeg` or `image/png`).
    pub mime: &'static str,
    /// Width after orientation.
    pub width: u32,
    /// Height after orientation.
    pub height: u32,
    /// The re-encoded full-size photo: pixels only, no EXIF, no GPS, no comments.
    pub original: Vec<u8>,
    /// Thumbnails, one per entry of [`THUMB_SIZES`], in that order.
    pub thumbs: Vec<Thumb>,
}

/// Validates, orients, strips and re-encodes an uploaded photo, and makes thumbnails.
///
/// Order of checks: the byte cap, the magic bytes, then the dimensions from the header
/// (width/height against [`Limits::max_dimension`], the product against
/// [`Limits::max_pixels`]) — all before a single pixel is decoded; the decoder also
/// runs under `image::Limits` as a second line of defence.
///
/// Output formats: JPEG input → JPEG (quality 85); PNG input → PNG; WebP input → JPEG
/// when opaque, PNG when it has an alpha channel (the `image` crate's WebP encoder is
/// lossless only, which would make photos several times larger than the upload).
/// Thumbnails are always JPEG, transparent areas flattened onto white.
///
/// Synchronous and CPU-heavy: run it inside `tokio::task::spawn_blocking`.
pub fn process(bytes: &[u8], limits: &Limits) -> Result<Processed, PhotoError> {
    if bytes.len() > limits.max_bytes {
        return Err(PhotoError::TooLarge);
    }
    let uploaded = sniff(bytes).ok_or(PhotoError::UnsupportedType)?;
    if uploaded == PhotoFormat::Jpeg && !jpeg_is_complete(bytes) {
        return Err(PhotoError::Corrupt);
    }
    let mut img = decode_guarded(bytes, uploaded, limits)?;
    img.apply_orientation(exif_orientation(bytes));

    let keep_png = match uploaded {
        PhotoFormat::Png => true,
        PhotoFormat::WebP => img.color().has_alpha(),
        PhotoFormat::Jpeg => false,
    };
    let (width, height) = (img.width(), img.height());
    // One 8-bit RGB copy serves the JPEG original and the thumbnails; the decoded
    // image is dropped as soon as it is no longer needed.
    let (mime, original, mut source) = if keep_png {
        let original = encode_png(&img)?;
        let flat = opaque(&img);
        drop(img);
        ("image/png", original, flat)
    } else {
        let flat = opaque(&img);
        drop(img);
        ("image/jpeg", encode_jpeg(&flat)?, flat)
    };

    let mut thumbs = Vec::with_capacity(THUMB_SIZES.len());
    // Each thumbnail is made from the previous (larger) one: scaling a 32 MP photo
    // once instead of once per size.
    for size in THUMB_SIZES {
        let (w, h) = fit_within(source.width(), source.height(), size);
        if (w, h) != (source.width(), source.height()) {
            source = image::imageops::resize(&source, w, h, FilterType::Triangle);
        }
        thumbs.push(Thumb {
            size,
            mime: "image/jpeg",
            width: w,
            height: h,
            bytes: encode_jpeg(&source)?,
        });
    }

    Ok(Processed {
        uploaded,
        mime,
        width,
        height,
        original,
        thumbs,
    })
}

/// Reads the header, checks the announced size, and only then decodes the pixels.
fn decode_guarded(
    bytes: &[u8],
    format: PhotoFormat,
    limits: &Limits,
) -> Result<DynamicImage, PhotoError> {
    let max_alloc = limits.max_pixels.saturating_mul(MAX_BYTES_PER_PIXEL);
    let mut decoder_limits = image::Limits::default();
    decoder_limits.max_image_width = Some(limits.max_dimension);
    decoder_limits.max_image_height = Some(limits.max_dimension);
    decoder_limits.max_alloc = Some(max_alloc);

    let mut reader = ImageReader::with_format(Cursor::new(bytes), format.image_format());
    reader.limits(decoder_limits);
    // Builds the decoder, which parses the header only.
    let decoder = reader.into_decoder().map_err(header_error)?;
    let (width, height) = decoder.dimensions();
    if width == 0 || height == 0 {
        return Err(PhotoError::EmptyImage);
    }
    if width > limits.max_dimension || height > limits.max_dimension {
        return Err(PhotoError::DimensionsTooLarge);
    }
    if u64::from(width) * u64::from(height) > limits.max_pixels {
        return Err(PhotoError::TooManyPixels);
    }
    if decoder.total_bytes() > max_alloc {
        return Err(PhotoError::TooManyPixels);
    }
    DynamicImage::from_decoder(decoder).map_err(|e| match e {
        ImageError::Limits(_) => PhotoError::TooManyPixels,
        _ => PhotoError::Corrupt,
    })
}

fn header_error(e: ImageError) -> PhotoError {
    match e {
        ImageError::Limits(_) => PhotoError::DimensionsTooLarge,
        _ => PhotoError::Corrupt,
    }
}

/// The EXIF orientation of the upload (JPEG APP1, PNG eXIf, WebP EXIF chunk), or no
/// transform when there is none or it is unreadable: bad metadata is dropped, not fatal.
fn exif_orientation(bytes: &[u8]) -> Orientation {
    let Ok(exif) = exif::Reader::new().read_from_container(&mut Cursor::new(bytes)) else {
        return Orientation::NoTransforms;
    };
    exif.get_field(exif::Tag::Orientation, exif::In::PRIMARY)
        .and_then(|field| field.value.get_uint(0))
        .and_then(|value| u8::try_from(value).ok())
        .and_then(Orientation::from_exif)
        .unwrap_or(Orientation::NoTransforms)
}

/// `(width, height)` scaled so the longest side is at most `size`, aspect kept, never
/// upscaled, never zero.
fn fit_within(width: u32, height: u32, size: u32) -> (u32, u32) {
    let longest = width.max(height);
    if longest <= size {
        return (width, height);
    }
    let scale = |side: u32| -> u32 {
        let scaled =
            (u64::from(side) * u64::from(size) + u64::from(longest) / 2) / u64::from(longest);
        u32::try_from(scaled).unwrap_or(size).clamp(1, size)
    };
    (scale(width), scale(height))
}

/// 8-bit RGB with any transparency composited onto white.
fn opaque(img: &DynamicImage) -> RgbImage {
    if !img.color().has_alpha() {
        return img.to_rgb8();
    }
    let rgba = img.to_rgba8();
    let mut out = RgbImage::new(rgba.width(), rgba.height());
    for (dst, src) in out.pixels_mut().zip(rgba.pixels()) {
        let [r, g, b, a] = src.0;
        let a = u16::from(a);
        let over_white = |c: u8| -> u8 {
            let v = (u16::from(c) * a + 255 * (255 - a) + 127) / 255;
            u8::try_from(v).unwrap_or(u8::MAX)
        };
        dst.0 = [over_white(r), over_white(g), over_white(b)];
    }
    out
}

fn encode_jpeg(img: &RgbImage) -> Result<Vec<u8>, PhotoError> {
    let mut out = Vec::new();
    let encoder = JpegEncoder::new_with_quality(&mut out, JPEG_QUALITY);
    img.write_with_encoder(encoder)
        .map_err(|_| PhotoError::Encode)?;
    Ok(out)
}

fn encode_png(img: &DynamicImage) -> Result<Vec<u8>, PhotoError> {
    let mut out = Vec::new();
    let encoder = PngEncoder::new(&mut out);
    // 32-bit float layouts are not PNG; everything a PNG decoder yields is.
    let converted;
    let img = match img {
        DynamicImage::ImageRgb32F(_) => {
            converted = DynamicImage::ImageRgb16(img.to_rgb16());
            &converted
        }
        DynamicImage::ImageRgba32F(_) => {
            converted = DynamicImage::ImageRgba16(img.to_rgba16());
            &converted
        }
        other => other,
    };
    img.write_with_encoder(encoder)
        .map_err(|_| PhotoError::Encode)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::fit_within;

    #[test]
    fn fit_within_keeps_aspect_and_never_upscales() {
        assert_eq!(fit_within(4000, 3000, 640), (640, 480));
        assert_eq!(fit_within(3000, 4000, 96), (72, 96));
        assert_eq!(fit_within(50, 20, 96), (50, 20));
        assert_eq!(fit_within(10000, 1, 96), (96, 1));
        assert_eq!(fit_within(640, 640, 640), (640, 640));
    }
}
