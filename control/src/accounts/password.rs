//! Password hashing with argon2id (the `argon2` crate's defaults: m = 19 MiB, t = 2, p = 1),
//! always on a blocking thread.
//!
//! Owns: hashing and verifying. Must never: run argon2 on an async worker thread.

use std::sync::OnceLock;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;

use crate::error::{ApiError, ApiResult};

/// Hashes `password` (PHC string).
pub async fn hash(password: String) -> ApiResult<String> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| ApiError::internal(format_args!("argon2: {e}")))
    })
    .await?
}

/// True when `password` matches the stored PHC `hash`.
pub async fn verify(password: String, hash: String) -> ApiResult<bool> {
    tokio::task::spawn_blocking(move || {
        let parsed = PasswordHash::new(&hash)
            .map_err(|e| ApiError::internal(format_args!("stored hash: {e}")))?;
        Ok(Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok())
    })
    .await?
}

/// Spends the same work as a real verification (for unknown accounts).
pub async fn verify_dummy(password: String) -> ApiResult<()> {
    static DUMMY: OnceLock<String> = OnceLock::new();
    let hash = match DUMMY.get() {
        Some(h) => h.clone(),
        None => {
            let h = hash("talko-dummy-password".to_owned()).await?;
            DUMMY.get_or_init(|| h).clone()
        }
    };
    verify(password, hash).await.map(|_| ())
}
