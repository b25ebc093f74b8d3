//! The durable store: one `sqlx::Any` code path over SQLite (default, a file under the data
//! directory) and PostgreSQL (scale-out), with migrations run at start-up.
//!
//! Owns: pools, connection pragmas, migrations, id and clock helpers. SQL everywhere uses
//! `$n` placeholders (SQLite accepts them), TEXT uuids for ids and BIGINT milliseconds for
//! time, so the same statements run on both engines. Must never: hold SQL that only one
//! engine understands outside a migration, or keep a transaction open across an `.await`
//! on anything but the database.
//!
//! On SQLite, writes go through a single writer connection (SQLite serialises writers
//! anyway; one connection avoids `SQLITE_BUSY` storms) and reads through a pool of
//! readers (WAL lets them run alongside the writer). On PostgreSQL both are one pool.

use std::sync::Once;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, Executor};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// Which engine a store runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// SQLite file.
    Sqlite,
    /// PostgreSQL server.
    Postgres,
}

/// How to connect.
#[derive(Clone, Debug, Default)]
pub struct StoreOptions {
    /// PostgreSQL only: set `search_path` to this schema on every connection (tests use a
    /// fresh schema per run).
    pub pg_schema: Option<String>,
    /// Reader connections (SQLite) or pool size (PostgreSQL); 0 picks a default.
    pub pool_size: u32,
}

/// The store: a writer pool and a reader pool (the same pool on PostgreSQL).
#[derive(Clone, Debug)]
pub struct Store {
    writer: AnyPool,
    reader: AnyPool,
    backend: Backend,
}

/// Failure to open or migrate the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The URL names neither `sqlite:` nor `postgres:`.
    #[error("unsupported database URL scheme (use sqlite: or postgres:)")]
    UnsupportedUrl,
    /// Connecting or a pragma failed.
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    /// A migration failed.
    #[error("migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

fn install_drivers() {
    static ONCE: Once = Once::new();
    ONCE.call_once(sqlx::any::install_default_drivers);
}

impl Store {
    /// Connects to `url` (`sqlite://path?mode=rwc` or `postgres://...`) and runs migrations.
    pub async fn connect(url: &str, opts: &StoreOptions) -> Result<Store, StoreError> {
        install_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Backend::Postgres
        } else {
            return Err(StoreError::UnsupportedUrl);
        };
        let connect: AnyConnectOptions = url.parse::<AnyConnectOptions>()?;
        let store = match backend {
            Backend::Sqlite => {
                let pragmas = |pool: AnyPoolOptions| {
                    pool.after_connect(|conn, _meta| {
                        Box::pin(async move {
                            conn.execute(
                                "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; \
                                 PRAGMA foreign_keys=ON; PRAGMA busy_timeout=5000; \
                                 PRAGMA temp_store=MEMORY; PRAGMA cache_size=-16384;",
                            )
                            .await?;
                            Ok(())
                        })
                    })
                };
                let writer = pragmas(AnyPoolOptions::new().max_connections(1).min_connections(1))
                    .acquire_timeout(Duration::from_secs(10))
                    .connect_with(connect.clone())
                    .await?;
                let readers = if opts.pool_size == 0 {
                    4
                } else {
                    opts.pool_size
                };
                let reader = pragmas(AnyPoolOptions::new().max_connections(readers))
                    .acquire_timeout(Duration::from_secs(10))
                    .connect_with(connect)
                    .await?;
                Store {
                    writer,
                    reader,
                    backend,
                }
            }
            Backend::Postgres => {
                let schema = opts.pg_schema.clone();
                let size = if opts.pool_size == 0 {
                    16
                } else {
                    opts.pool_size
                };
                let pool = AnyPoolOptions::new()
                    .max_connections(size)
                    .acquire_timeout(Duration::from_secs(10))
                    .after_connect(move |conn, _meta| {
                        let schema = schema.clone();
                        Box::pin(async move {
                            if let Some(s) = schema {
                                // The schema name is generated by the caller from
                                // `[a-z0-9_]`; quote it anyway.
                                let q = s.replace('"', "");
                                conn.execute(format!("SET search_path TO \"{q}\"").as_str())
                                    .await?;
                            }
                            Ok(())
                        })
                    })
                    .connect_with(connect)
                    .await?;
                Store {
                    writer: pool.clone(),
                    reader: pool,
                    backend,
                }
            }
        };
        MIGRATOR.run(&store.writer).await?;
        Ok(store)
    }

    /// The pool that writes (one connection on SQLite).
    pub fn w(&self) -> &AnyPool {
        &self.writer
    }

    /// The pool that reads.
    pub fn r(&self) -> &AnyPool {
        &self.reader
    }

    /// Which engine this is.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// A round trip to the database (readiness).
    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        sqlx::query("SELECT 1").execute(&self.reader).await?;
        sqlx::query("SELECT 1").execute(&self.writer).await?;
        Ok(())
    }

    /// Closes both pools (graceful shutdown).
    pub async fn close(&self) {
        self.writer.close().await;
        self.reader.close().await;
    }
}

/// Milliseconds since the Unix epoch (the control plane's one clock read).
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// A new time-ordered id (UUIDv7, hyphenated lowercase: sorts by creation time as text).
pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}
