//! Content-addressed blob storage under `data_dir/blobs/ab/cd/<sha256 hex>`.
//!
//! Blobs are immutable: a hash names exactly one content forever, which is what
//! makes `ETag` = hash and `Cache-Control: immutable` correct. Writes go to a
//! temporary file in `blobs/tmp/` (same file system), are flushed to disk, and are
//! renamed into place, so a reader never sees half a blob. The methods do blocking
//! file I/O: call them from `spawn_blocking` (next to [`super::process`]) or use
//! [`BlobStore::put_async`].

use std::fmt;
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sha2::{Digest, Sha256};

/// Age after which a temporary file in `blobs/tmp` is a crash leftover.
pub const STALE_TMP: Duration = Duration::from_secs(3600);

/// A blob's name: the SHA-256 of its bytes.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Hash([u8; 32]);

impl Hash {
    /// The hash of `bytes`.
    pub fn of(bytes: &[u8]) -> Self {
        Self(Sha256::digest(bytes).into())
    }

    /// The raw digest.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// 64 lowercase hex digits.
    pub fn to_hex(&self) -> String {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut s = String::with_capacity(64);
        for b in self.0 {
            s.push(char::from(HEX[usize::from(b >> 4)]));
            s.push(char::from(HEX[usize::from(b & 0x0f)]));
        }
        s
    }
}

impl fmt::Display for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hash({})", self.to_hex())
    }
}

impl FromStr for Hash {
    type Err = BlobError;

    /// Accepts exactly 64 lowercase hex digits and nothing else, so a hash taken from
    /// a URL can never name a path outside the store (`..`, `/`, `%2e` all fail).
    fn from_str(s: &str) -> Result<Self, BlobError> {
        let digits = s.as_bytes();
        if digits.len() != 64 {
            return Err(BlobError::InvalidHash);
        }
        let nibble = |c: u8| -> Result<u8, BlobError> {
            match c {
                b'0'..=b'9' => Ok(c - b'0'),
                b'a'..=b'f' => Ok(c - b'a' + 10),
                _ => Err(BlobError::InvalidHash),
            }
        };
        let mut out = [0u8; 32];
        for (byte, pair) in out.iter_mut().zip(digits.chunks_exact(2)) {
            let [hi, lo] = pair else {
                return Err(BlobError::InvalidHash);
            };
            *byte = (nibble(*hi)? << 4) | nibble(*lo)?;
        }
        Ok(Self(out))
    }
}

impl serde::Serialize for Hash {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> serde::Deserialize<'de> for Hash {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Errors of the blob store that are not plain I/O errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlobError {
    /// The string is not 64 lowercase hex digits.
    InvalidHash,
}

impl fmt::Display for BlobError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidHash => f.write_str("blob hash must be 64 lowercase hex digits"),
        }
    }
}

impl std::error::Error for BlobError {}

/// The content-addressed store. Cheap to clone (the root is shared).
#[derive(Debug, Clone)]
pub struct BlobStore {
    root: Arc<PathBuf>,
}

impl BlobStore {
    /// Opens (creating if needed) the store under `data_dir/blobs`.
    /// Temporary files older than [`STALE_TMP`] (left by a crash mid-write) are
    /// removed; younger ones may belong to a write in progress and are kept.
    pub fn open(data_dir: impl AsRef<Path>) -> io::Result<Self> {
        let root = data_dir.as_ref().join("blobs");
        let tmp = root.join("tmp");
        fs::create_dir_all(&tmp)?;
        for entry in fs::read_dir(&tmp)?.flatten() {
            let stale = entry
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age > STALE_TMP);
            if stale {
                let _ = fs::remove_file(entry.path());
            }
        }
        Ok(Self {
            root: Arc::new(root),
        })
    }

    /// The directory holding the blobs (`data_dir/blobs`).
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where the blob named `hash` lives (whether or not it exists).
    pub fn path(&self, hash: &Hash) -> PathBuf {
        let hex = hash.to_hex();
        let (a, rest) = hex.split_at(2);
        let (b, _) = rest.split_at(2);
        self.root.join(a).join(b).join(&hex)
    }

    /// Whether the blob exists.
    pub fn contains(&self, hash: &Hash) -> bool {
        self.path(hash).is_file()
    }

    /// Opens the blob for reading.
    pub fn open_blob(&self, hash: &Hash) -> io::Result<File> {
        File::open(self.path(hash))
    }

    /// Stores `bytes` and returns their hash. Storing the same bytes twice writes once.
    pub fn put(&self, bytes: &[u8]) -> io::Result<Hash> {
        let hash = Hash::of(bytes);
        let path = self.path(&hash);
        if path.is_file() {
            return Ok(hash);
        }
        let Some(dir) = path.parent() else {
            return Err(io::Error::other("blob path has no parent"));
        };
        fs::create_dir_all(dir)?;
        let tmp = self.root.join("tmp").join(format!(
            "{}.{}",
            hash.to_hex(),
            uuid::Uuid::new_v4().simple()
        ));
        let written = (|| {
            let mut file = File::create(&tmp)?;
            file.write_all(bytes)?;
            file.sync_all()?;
            fs::rename(&tmp, &path)
        })();
        if written.is_err() {
            // Best effort: a leftover temporary file is harmless but untidy.
            let _ = fs::remove_file(&tmp);
        }
        written.map(|()| hash)
    }

    /// [`BlobStore::put`] on the blocking thread pool.
    pub async fn put_async(&self, bytes: Vec<u8>) -> io::Result<Hash> {
        let store = self.clone();
        tokio::task::spawn_blocking(move || store.put(&bytes))
            .await
            .map_err(io::Error::other)?
    }
}
