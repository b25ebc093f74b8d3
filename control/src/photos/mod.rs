//! Photos: the upload pipeline, content-addressed blob storage and serving.
//!
//! This module owns everything between the bytes of an uploaded photo and the bytes
//! served back to a client:
//!
//! - [`sniff`]: the type of an upload, decided from its magic bytes only (JPEG, PNG,
//!   WebP) — never from the client's `Content-Type` or file name.
//! - [`process()`]: size cap, decompression-bomb guard (dimensions read from the header
//!   and checked *before* any pixel is decoded, plus `image::Limits` on the decoder),
//!   EXIF orientation applied, all metadata (GPS and the rest) stripped by re-encoding
//!   the pixels, thumbnails at 96 px and 640 px.
//! - [`BlobStore`]: content-addressed files under `data_dir/blobs/ab/cd/<sha256 hex>`,
//!   written atomically (temporary file + rename), deduplicated.
//! - [`serve()`]: a blob as an HTTP response with the right type, `nosniff`, ETag /
//!   `If-None-Match` and single byte ranges.
//!
//! It must never trust the client's idea of the type, never decode an image whose
//! header announces more pixels than [`Limits::max_pixels`], never write a blob in
//! place (readers would see half a file) and never build a path from an unvalidated
//! hash string. It knows nothing about accounts, groups or the timeline: the caller
//! checks membership before it asks for a blob.

mod process;
mod serve;
pub mod sniff;
mod store;

use std::fmt;

pub use process::{process, Processed, Thumb, THUMB_SIZES};
pub use serve::serve;
pub use sniff::{sniff, PhotoFormat};
pub use store::{BlobError, BlobStore, Hash, STALE_TMP};

/// Upload limits, checked in this order: bytes, then the header's dimensions, then
/// the header's pixel count; all of them before any pixel is decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest accepted upload, in bytes (default 20 MB).
    pub max_bytes: usize,
    /// Largest accepted `width × height` (default 32 megapixels).
    pub max_pixels: u64,
    /// Largest accepted width or height, in pixels (default 16384).
    pub max_dimension: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_bytes: 20 * 1024 * 1024,
            max_pixels: 32_000_000,
            max_dimension: 16_384,
        }
    }
}

/// Why an upload was refused. Every variant is the client's fault except
/// [`PhotoError::Encode`], which is ours (log it, answer 500).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PhotoError {
    /// The upload is larger than [`Limits::max_bytes`] (HTTP 413).
    TooLarge,
    /// The magic bytes are not those of JPEG, PNG or WebP (HTTP 415).
    UnsupportedType,
    /// The header announces a width or height over [`Limits::max_dimension`] (HTTP 422).
    DimensionsTooLarge,
    /// The header announces more than [`Limits::max_pixels`] pixels (HTTP 422).
    TooManyPixels,
    /// A width or height of zero (HTTP 422).
    EmptyImage,
    /// The image is truncated or corrupt and cannot be decoded (HTTP 422).
    Corrupt,
    /// Re-encoding failed (HTTP 500; not the client's fault).
    Encode,
}

impl PhotoError {
    /// A stable, machine-readable code for problem documents.
    pub fn code(self) -> &'static str {
        match self {
            Self::TooLarge => "photo_too_large",
            Self::UnsupportedType => "photo_unsupported_type",
            Self::DimensionsTooLarge => "photo_dimensions_too_large",
            Self::TooManyPixels => "photo_too_many_pixels",
            Self::EmptyImage => "photo_empty",
            Self::Corrupt => "photo_corrupt",
            Self::Encode => "photo_encode_failed",
        }
    }

    /// The HTTP status this error maps to.
    pub fn status(self) -> axum::http::StatusCode {
        use axum::http::StatusCode;
        match self {
            Self::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::DimensionsTooLarge | Self::TooManyPixels | Self::EmptyImage | Self::Corrupt => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            Self::Encode => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl fmt::Display for PhotoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::TooLarge => "photo is larger than the upload limit",
            Self::UnsupportedType => "not a JPEG, PNG or WebP image",
            Self::DimensionsTooLarge => "photo width or height is over the limit",
            Self::TooManyPixels => "photo has more pixels than the limit",
            Self::EmptyImage => "photo has no pixels",
            Self::Corrupt => "photo is truncated or corrupt",
            Self::Encode => "photo could not be re-encoded",
        })
    }
}

impl std::error::Error for PhotoError {}
