//! The pipeline on images written by other encoders (ffmpeg's libwebp, mjpeg and png;
//! see `fixtures/photos/README.md`): lossy WebP, WebP with alpha, a 4:2:0 JPEG and a
//! 16-bit PNG.

use image::{DynamicImage, GenericImageView};
use talko_control::photos::{process, sniff, Limits, PhotoFormat};

const LOSSY_WEBP: &[u8] = include_bytes!("fixtures/photos/lossy.webp");
const LOSSY_ALPHA_WEBP: &[u8] = include_bytes!("fixtures/photos/lossy_alpha.webp");
const FFMPEG_JPEG: &[u8] = include_bytes!("fixtures/photos/ffmpeg.jpg");
const PNG_16BIT: &[u8] = include_bytes!("fixtures/photos/ffmpeg16.png");

fn decode(bytes: &[u8]) -> DynamicImage {
    image::load_from_memory(bytes).expect("decodes")
}

/// Mean absolute difference per RGB channel between two same-sized images.
fn mean_abs_diff(a: &DynamicImage, b: &DynamicImage) -> f64 {
    let (a, b) = (a.to_rgb8(), b.to_rgb8());
    assert_eq!(a.dimensions(), b.dimensions());
    let total: u64 = a
        .as_raw()
        .iter()
        .zip(b.as_raw())
        .map(|(x, y)| u64::from(x.abs_diff(*y)))
        .sum();
    total as f64 / a.as_raw().len() as f64
}

#[test]
fn lossy_webp_becomes_a_faithful_jpeg() {
    assert_eq!(sniff(LOSSY_WEBP), Some(PhotoFormat::WebP));
    let out = process(LOSSY_WEBP, &Limits::default()).expect("valid webp");
    assert_eq!(out.mime, "image/jpeg");
    assert_eq!((out.width, out.height), (160, 120));
    let diff = mean_abs_diff(&decode(&out.original), &decode(LOSSY_WEBP));
    assert!(diff < 6.0, "mean difference {diff}");
    let sizes: Vec<_> = out.thumbs.iter().map(|t| (t.width, t.height)).collect();
    assert_eq!(sizes, [(160, 120), (96, 72)]);
}

#[test]
fn lossy_webp_with_alpha_keeps_its_transparency_as_png() {
    let out = process(LOSSY_ALPHA_WEBP, &Limits::default()).expect("valid webp");
    assert_eq!(out.mime, "image/png");
    let img = decode(&out.original).to_rgba8();
    assert_eq!(img.dimensions(), (96, 64));
    assert_eq!(img.get_pixel(10, 30).0[3], 0, "left half transparent");
    assert_eq!(img.get_pixel(80, 30).0[3], 255, "right half opaque");
}

#[test]
fn jpeg_from_another_encoder_round_trips() {
    let out = process(FFMPEG_JPEG, &Limits::default()).expect("valid jpeg");
    assert_eq!(out.mime, "image/jpeg");
    assert_eq!((out.width, out.height), (200, 150));
    let diff = mean_abs_diff(&decode(&out.original), &decode(FFMPEG_JPEG));
    assert!(diff < 6.0, "mean difference {diff}");
    // The encoder's comment segment (`Lavc…`) is not carried over.
    assert!(FFMPEG_JPEG.windows(4).any(|w| w == b"Lavc"));
    assert!(!out.original.windows(4).any(|w| w == b"Lavc"));
}

#[test]
fn sixteen_bit_png_stays_lossless() {
    let out = process(PNG_16BIT, &Limits::default()).expect("valid png");
    assert_eq!(out.mime, "image/png");
    let (before, after) = (decode(PNG_16BIT), decode(&out.original));
    assert_eq!(after.dimensions(), (120, 80));
    assert_eq!(before.to_rgb16(), after.to_rgb16());
}
