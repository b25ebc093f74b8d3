//! The upload pipeline against real images made here with the `image` crate, and
//! hostile ones crafted byte by byte (bad magic, truncation, bomb headers, EXIF).

use std::io::Cursor;

use image::codecs::jpeg::JpegEncoder;
use image::codecs::png::PngEncoder;
use image::codecs::webp::WebPEncoder;
use image::{DynamicImage, GenericImageView, ImageEncoder, Rgb, RgbImage, Rgba, RgbaImage};
use talko_control::photos::{process, sniff, Limits, PhotoError, PhotoFormat};

// ---------------------------------------------------------------- builders

fn gradient(w: u32, h: u32) -> RgbImage {
    RgbImage::from_fn(w, h, |x, y| {
        Rgb([(x * 255 / w.max(1)) as u8, (y * 255 / h.max(1)) as u8, 128])
    })
}

fn jpeg(img: &RgbImage) -> Vec<u8> {
    let mut out = Vec::new();
    JpegEncoder::new_with_quality(&mut out, 95)
        .write_image(
            img.as_raw(),
            img.width(),
            img.height(),
            image::ExtendedColorType::Rgb8,
        )
        .expect("encode test jpeg");
    out
}

fn png_rgba(img: &RgbaImage) -> Vec<u8> {
    let mut out = Vec::new();
    PngEncoder::new(&mut out)
        .write_image(
            img.as_raw(),
            img.width(),
            img.height(),
            image::ExtendedColorType::Rgba8,
        )
        .expect("encode test png");
    out
}

fn png_rgb(img: &RgbImage) -> Vec<u8> {
    let mut out = Vec::new();
    PngEncoder::new(&mut out)
        .write_image(
            img.as_raw(),
            img.width(),
            img.height(),
            image::ExtendedColorType::Rgb8,
        )
        .expect("encode test png");
    out
}

fn webp_rgb(img: &RgbImage) -> Vec<u8> {
    let mut out = Vec::new();
    WebPEncoder::new_lossless(&mut out)
        .encode(
            img.as_raw(),
            img.width(),
            img.height(),
            image::ExtendedColorType::Rgb8,
        )
        .expect("encode test webp");
    out
}

fn webp_rgba(img: &RgbaImage) -> Vec<u8> {
    let mut out = Vec::new();
    WebPEncoder::new_lossless(&mut out)
        .encode(
            img.as_raw(),
            img.width(),
            img.height(),
            image::ExtendedColorType::Rgba8,
        )
        .expect("encode test webp");
    out
}

fn decode(bytes: &[u8]) -> DynamicImage {
    image::load_from_memory(bytes).expect("processed output decodes")
}

/// CRC-32 (ISO-HDLC, as PNG uses), bit by bit: small and obviously right.
fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn png_chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let mut crc_input = kind.to_vec();
    crc_input.extend_from_slice(data);
    out.extend_from_slice(&crc32(&crc_input).to_be_bytes());
    out
}

/// A little-endian TIFF (EXIF) block with IFD0 holding Orientation and, optionally,
/// a GPS IFD with latitude 52°31'12" N.
fn exif_tiff(orientation: u16, with_gps: bool) -> Vec<u8> {
    let mut t = Vec::new();
    t.extend_from_slice(b"II*\0");
    t.extend_from_slice(&8u32.to_le_bytes());
    let entries: u16 = if with_gps { 2 } else { 1 };
    t.extend_from_slice(&entries.to_le_bytes());
    // Orientation: SHORT, count 1, value inline.
    t.extend_from_slice(&0x0112u16.to_le_bytes());
    t.extend_from_slice(&3u16.to_le_bytes());
    t.extend_from_slice(&1u32.to_le_bytes());
    t.extend_from_slice(&orientation.to_le_bytes());
    t.extend_from_slice(&[0, 0]);
    let gps_ifd_offset = 8 + 2 + u32::from(entries) * 12 + 4;
    if with_gps {
        // GPSInfo IFD pointer: LONG.
        t.extend_from_slice(&0x8825u16.to_le_bytes());
        t.extend_from_slice(&4u16.to_le_bytes());
        t.extend_from_slice(&1u32.to_le_bytes());
        t.extend_from_slice(&gps_ifd_offset.to_le_bytes());
    }
    t.extend_from_slice(&0u32.to_le_bytes()); // no IFD1
    if with_gps {
        assert_eq!(t.len() as u32, gps_ifd_offset);
        let rationals_offset = gps_ifd_offset + 2 + 2 * 12 + 4;
        t.extend_from_slice(&2u16.to_le_bytes());
        // GPSLatitudeRef: ASCII "N\0" inline.
        t.extend_from_slice(&0x0001u16.to_le_bytes());
        t.extend_from_slice(&2u16.to_le_bytes());
        t.extend_from_slice(&2u32.to_le_bytes());
        t.extend_from_slice(b"N\0\0\0");
        // GPSLatitude: 3 RATIONALs at rationals_offset.
        t.extend_from_slice(&0x0002u16.to_le_bytes());
        t.extend_from_slice(&5u16.to_le_bytes());
        t.extend_from_slice(&3u32.to_le_bytes());
        t.extend_from_slice(&rationals_offset.to_le_bytes());
        t.extend_from_slice(&0u32.to_le_bytes());
        for (num, den) in [(52u32, 1u32), (31, 1), (12, 1)] {
            t.extend_from_slice(&num.to_le_bytes());
            t.extend_from_slice(&den.to_le_bytes());
        }
    }
    t
}

/// `jpeg` with an APP1 Exif segment inserted right after SOI.
fn with_exif_app1(jpeg: &[u8], tiff: &[u8]) -> Vec<u8> {
    let mut out = jpeg[..2].to_vec();
    out.extend_from_slice(&[0xFF, 0xE1]);
    out.extend_from_slice(&((2 + 6 + tiff.len()) as u16).to_be_bytes());
    out.extend_from_slice(b"Exif\0\0");
    out.extend_from_slice(tiff);
    out.extend_from_slice(&jpeg[2..]);
    out
}

/// `png` with an eXIf chunk inserted right after IHDR.
fn with_exif_chunk(png: &[u8], tiff: &[u8]) -> Vec<u8> {
    let ihdr_end = 8 + 4 + 4 + 13 + 4;
    let mut out = png[..ihdr_end].to_vec();
    out.extend_from_slice(&png_chunk(b"eXIf", tiff));
    out.extend_from_slice(&png[ihdr_end..]);
    out
}

fn gps_latitude(bytes: &[u8]) -> Option<String> {
    let exif = exif::Reader::new()
        .read_from_container(&mut Cursor::new(bytes))
        .ok()?;
    let field = exif.get_field(exif::Tag::GPSLatitude, exif::In::PRIMARY)?;
    Some(field.display_value().to_string())
}

fn near(a: Rgb<u8>, b: Rgb<u8>) -> bool {
    a.0.iter()
        .zip(b.0.iter())
        .all(|(x, y)| x.abs_diff(*y) <= 40)
}

// ---------------------------------------------------------------- round trips

#[test]
fn jpeg_upload_comes_back_as_jpeg_with_both_thumbnails() {
    let input = jpeg(&gradient(1600, 1200));
    assert_eq!(sniff(&input), Some(PhotoFormat::Jpeg));
    let out = process(&input, &Limits::default()).expect("valid jpeg");
    assert_eq!(out.uploaded, PhotoFormat::Jpeg);
    assert_eq!(out.mime, "image/jpeg");
    assert_eq!((out.width, out.height), (1600, 1200));
    assert_eq!(sniff(&out.original), Some(PhotoFormat::Jpeg));
    let decoded = decode(&out.original);
    assert_eq!(decoded.dimensions(), (1600, 1200));
    // The pixels survived (a gradient corner keeps its colour through quality 85).
    assert!(near(
        decoded.to_rgb8().get_pixel(1590, 10).to_owned(),
        Rgb([249, 2, 128])
    ));

    let sizes: Vec<_> = out
        .thumbs
        .iter()
        .map(|t| (t.size, t.width, t.height))
        .collect();
    assert_eq!(sizes, vec![(640, 640, 480), (96, 96, 72)]);
    for thumb in &out.thumbs {
        assert_eq!(thumb.mime, "image/jpeg");
        assert_eq!(
            decode(&thumb.bytes).dimensions(),
            (thumb.width, thumb.height)
        );
    }
}

#[test]
fn png_upload_stays_png_and_lossless_with_alpha() {
    let img = RgbaImage::from_fn(300, 200, |x, y| {
        Rgba([x as u8, y as u8, 7, (x % 256) as u8])
    });
    let out = process(&png_rgba(&img), &Limits::default()).expect("valid png");
    assert_eq!(out.mime, "image/png");
    assert_eq!(sniff(&out.original), Some(PhotoFormat::Png));
    let decoded = decode(&out.original).to_rgba8();
    assert_eq!(decoded, img, "PNG re-encoding is lossless");
    // Never upscaled: 300×200 fits in 640 as is.
    let sizes: Vec<_> = out
        .thumbs
        .iter()
        .map(|t| (t.size, t.width, t.height))
        .collect();
    assert_eq!(sizes, vec![(640, 300, 200), (96, 96, 64)]);
    // Transparency is flattened onto white in (JPEG) thumbnails.
    let thumb = decode(&out.thumbs[0].bytes).to_rgb8();
    assert!(near(*thumb.get_pixel(0, 100), Rgb([255, 255, 255])));
}

#[test]
fn opaque_webp_upload_becomes_jpeg() {
    let out = process(&webp_rgb(&gradient(500, 700)), &Limits::default()).expect("valid webp");
    assert_eq!(out.uploaded, PhotoFormat::WebP);
    assert_eq!(out.mime, "image/jpeg");
    assert_eq!(decode(&out.original).dimensions(), (500, 700));
    let sizes: Vec<_> = out.thumbs.iter().map(|t| (t.width, t.height)).collect();
    assert_eq!(sizes, vec![(457, 640), (69, 96)]);
}

#[test]
fn transparent_webp_upload_becomes_png() {
    let img = RgbaImage::from_fn(64, 64, |x, _| {
        Rgba([200, 10, 10, if x < 32 { 0 } else { 255 }])
    });
    let out = process(&webp_rgba(&img), &Limits::default()).expect("valid webp");
    assert_eq!(out.mime, "image/png");
    assert_eq!(decode(&out.original).to_rgba8(), img);
}

#[test]
fn upload_over_the_byte_cap_is_refused_before_anything_else() {
    let input = jpeg(&gradient(64, 64));
    let limits = Limits {
        max_bytes: input.len() - 1,
        ..Limits::default()
    };
    assert_eq!(process(&input, &limits), Err(PhotoError::TooLarge));
    // Even garbage is refused for its size first.
    assert_eq!(
        process(
            &[0u8; 100],
            &Limits {
                max_bytes: 99,
                ..Limits::default()
            }
        ),
        Err(PhotoError::TooLarge)
    );
}

// ---------------------------------------------------------------- bad input

#[test]
fn wrong_magic_bytes_are_refused_whatever_the_content() {
    let mut gif = b"GIF89a".to_vec();
    gif.extend_from_slice(&[1, 0, 1, 0, 0, 0, 0]);
    let svg = b"<svg xmlns=\"http://www.w3.org/2000/svg\"/>".to_vec();
    let html = b"<html><script>alert(1)</script></html>".to_vec();
    // A real JPEG behind one byte of junk is not a JPEG.
    let mut shifted = vec![0u8];
    shifted.extend_from_slice(&jpeg(&gradient(8, 8)));
    for input in [
        gif,
        svg,
        html,
        shifted,
        Vec::new(),
        b"RIFF\0\0\0\0WAVEfmt ".to_vec(),
    ] {
        assert_eq!(
            process(&input, &Limits::default()),
            Err(PhotoError::UnsupportedType)
        );
    }
}

#[test]
fn truncated_images_are_refused_cleanly() {
    let inputs = [
        jpeg(&gradient(120, 90)),
        png_rgb(&gradient(120, 90)),
        webp_rgb(&gradient(120, 90)),
    ];
    for input in &inputs {
        // Cut everywhere in the headers, then at a spread of points in the data.
        let cuts = (1..64.min(input.len())).chain((64..input.len()).step_by(97));
        for cut in cuts {
            let result = process(&input[..cut], &Limits::default());
            assert!(
                matches!(
                    result,
                    Err(PhotoError::Corrupt | PhotoError::UnsupportedType)
                ),
                "{:?} cut at {cut} of {}: {:?}",
                sniff(input),
                input.len(),
                result.as_ref().map(|p| (p.width, p.height))
            );
        }
    }
}

#[test]
fn png_header_claiming_50_megapixels_is_refused_before_decoding() {
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&10_000u32.to_be_bytes());
    ihdr.extend_from_slice(&5_000u32.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]); // 8-bit RGB, deflate, no filter, no interlace
    let mut bomb = vec![0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A];
    bomb.extend_from_slice(&png_chunk(b"IHDR", &ihdr));
    // A few bytes of zlib data that would inflate to far more: never reached.
    bomb.extend_from_slice(&png_chunk(
        b"IDAT",
        &[0x78, 0x9C, 0xED, 0xC1, 0x01, 0x0D, 0x00, 0x00],
    ));
    bomb.extend_from_slice(&png_chunk(b"IEND", &[]));
    assert_eq!(
        process(&bomb, &Limits::default()),
        Err(PhotoError::TooManyPixels)
    );

    // With a higher pixel limit the same header is let through to the decoder,
    // which then finds the data corrupt: proof that the refusal above came first.
    let lenient = Limits {
        max_pixels: 60_000_000,
        ..Limits::default()
    };
    assert_eq!(process(&bomb, &lenient), Err(PhotoError::Corrupt));
}

#[test]
fn jpeg_header_claiming_huge_dimensions_is_refused() {
    let mut input = jpeg(&gradient(16, 16));
    // Patch the SOF0 frame header: FF C0, len(2), precision(1), height(2), width(2).
    let sof = input
        .windows(2)
        .position(|w| w == [0xFF, 0xC0])
        .expect("baseline jpeg has SOF0");
    input[sof + 5..sof + 7].copy_from_slice(&9_000u16.to_be_bytes());
    input[sof + 7..sof + 9].copy_from_slice(&9_000u16.to_be_bytes());
    assert_eq!(
        process(&input, &Limits::default()),
        Err(PhotoError::TooManyPixels)
    );
    input[sof + 7..sof + 9].copy_from_slice(&60_000u16.to_be_bytes());
    input[sof + 5..sof + 7].copy_from_slice(&10u16.to_be_bytes());
    assert_eq!(
        process(&input, &Limits::default()),
        Err(PhotoError::DimensionsTooLarge)
    );
}

// ---------------------------------------------------------------- EXIF

/// Quadrant colours of the test image (top-left, top-right, bottom-left, bottom-right).
const QUADRANTS: [[Rgb<u8>; 2]; 2] = [
    [Rgb([220, 20, 20]), Rgb([20, 200, 20])],
    [Rgb([20, 20, 220]), Rgb([240, 240, 240])],
];

fn quadrant_image() -> RgbImage {
    RgbImage::from_fn(64, 32, |x, y| {
        QUADRANTS[(y / 16) as usize][(x / 32) as usize]
    })
}

/// Which source quadrant `(row, col)` ends up at output quadrant `(r, c)` for each
/// EXIF orientation (the transform that makes the image upright).
fn expected_source(orientation: u16, r: usize, c: usize) -> (usize, usize) {
    match orientation {
        1 => (r, c),
        2 => (r, 1 - c),     // mirror horizontally
        3 => (1 - r, 1 - c), // rotate 180°
        4 => (1 - r, c),     // mirror vertically
        5 => (c, r),         // transpose
        6 => (1 - c, r),     // rotate 90° clockwise
        7 => (1 - c, 1 - r), // transverse
        8 => (c, 1 - r),     // rotate 90° counter-clockwise
        _ => unreachable!(),
    }
}

#[test]
fn every_exif_orientation_is_applied() {
    let base = jpeg(&quadrant_image());
    for orientation in 1..=8u16 {
        let input = with_exif_app1(&base, &exif_tiff(orientation, false));
        let out = process(&input, &Limits::default()).expect("valid jpeg with exif");
        let rotated = orientation >= 5;
        let (w, h) = if rotated { (32, 64) } else { (64, 32) };
        assert_eq!((out.width, out.height), (w, h), "orientation {orientation}");
        let img = decode(&out.original).to_rgb8();
        assert_eq!(img.dimensions(), (w, h));
        for r in 0..2 {
            for c in 0..2 {
                let (sr, sc) = expected_source(orientation, r, c);
                let x = (c as u32) * (w / 2) + w / 4;
                let y = (r as u32) * (h / 2) + h / 4;
                let got = *img.get_pixel(x, y);
                assert!(
                    near(got, QUADRANTS[sr][sc]),
                    "orientation {orientation}: quadrant ({r},{c}) is {got:?}, want {:?}",
                    QUADRANTS[sr][sc]
                );
            }
        }
    }
}

#[test]
fn orientation_six_turns_a_landscape_jpeg_upright() {
    let input = with_exif_app1(&jpeg(&gradient(400, 100)), &exif_tiff(6, false));
    let out = process(&input, &Limits::default()).expect("valid jpeg");
    assert_eq!((out.width, out.height), (100, 400));
    let sizes: Vec<_> = out.thumbs.iter().map(|t| (t.width, t.height)).collect();
    assert_eq!(sizes, vec![(100, 400), (24, 96)]);
}

#[test]
fn gps_and_all_exif_are_gone_after_processing_jpeg() {
    let input = with_exif_app1(&jpeg(&gradient(80, 60)), &exif_tiff(1, true));
    assert!(gps_latitude(&input).is_some(), "the test input carries GPS");
    let out = process(&input, &Limits::default()).expect("valid jpeg");
    assert_eq!(gps_latitude(&out.original), None);
    assert!(exif::Reader::new()
        .read_from_container(&mut Cursor::new(&out.original))
        .is_err());
    for thumb in &out.thumbs {
        assert_eq!(gps_latitude(&thumb.bytes), None);
    }
    assert!(!out.original.windows(4).any(|w| w == b"Exif"));
}

#[test]
fn gps_and_orientation_in_a_png_exif_chunk_are_handled() {
    let input = with_exif_chunk(&png_rgb(&gradient(40, 20)), &exif_tiff(8, true));
    assert!(gps_latitude(&input).is_some(), "the test input carries GPS");
    let out = process(&input, &Limits::default()).expect("valid png");
    assert_eq!((out.width, out.height), (20, 40));
    assert_eq!(gps_latitude(&out.original), None);
    assert!(!out.original.windows(4).any(|w| w == b"eXIf"));
}

#[test]
fn malformed_exif_is_ignored_not_fatal() {
    let mut tiff = exif_tiff(6, true);
    tiff.truncate(20);
    let input = with_exif_app1(&jpeg(&gradient(30, 20)), &tiff);
    let out = process(&input, &Limits::default()).expect("image data is fine");
    assert_eq!((out.width, out.height), (30, 20));
}

/// Deterministic xorshift, so a failure names a reproducible case.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

#[test]
fn mutated_uploads_never_panic() {
    let seeds = [
        with_exif_app1(&jpeg(&gradient(24, 16)), &exif_tiff(6, true)),
        with_exif_chunk(&png_rgb(&gradient(24, 16)), &exif_tiff(3, true)),
        webp_rgb(&gradient(24, 16)),
    ];
    let mut rng = XorShift(0x7a1c_0b5e_ed00_0001);
    for (s, seed) in seeds.iter().enumerate() {
        for case in 0..700 {
            let mut input = seed.clone();
            for _ in 0..1 + rng.below(4) {
                let at = rng.below(input.len());
                match rng.below(3) {
                    0 => input[at] = rng.next() as u8,
                    1 => input[at] ^= 1 << rng.below(8),
                    _ => input.truncate(at.max(1)),
                }
            }
            // Anything but a panic is acceptable; a success must be a real image.
            let result = std::panic::catch_unwind(|| process(&input, &Limits::default()));
            let Ok(result) = result else {
                panic!("seed {s} case {case} panicked: {input:02x?}");
            };
            if let Ok(out) = result {
                assert_eq!(decode(&out.original).dimensions(), (out.width, out.height));
            }
        }
    }
}
