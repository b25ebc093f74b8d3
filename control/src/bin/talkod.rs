//! `talkod`: the talko daemon. Loads the configuration (TOML file from `--config` or
//! `TALKO_CONFIG`, then `TALKO_*` overrides), opens the store (running migrations), serves
//! the API, and drains on SIGTERM or ctrl-c: stop accepting, finish in-flight requests
//! (bounded by `drain_timeout_s`), close the database.

use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::time::Duration;

use talko_control::config::Config;
use talko_control::mailer::Mailer;
use talko_control::store::{Store, StoreOptions};
use talko_control::{app, AppState};

fn config_path() -> Result<Option<std::path::PathBuf>, String> {
    let mut args = std::env::args().skip(1);
    let mut path = std::env::var_os("TALKO_CONFIG").map(std::path::PathBuf::from);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--config" | "-c" => path = Some(args.next().ok_or("--config needs a path")?.into()),
            "--help" | "-h" => {
                return Err("usage: talkod [--config talkod.toml]   (env: TALKO_CONFIG, TALKO_LISTEN, \
                            TALKO_DATA_DIR, TALKO_DATABASE_URL, TALKO_LOG_JSON, TALKO_SMTP_URL, ...)"
                    .into())
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(path)
}

fn init_tracing(json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { () = ctrl_c => {}, () = term => {} }
}

async fn run() -> Result<(), String> {
    let path = config_path()?;
    let cfg =
        Config::load(path.as_deref(), |k| std::env::var(k).ok()).map_err(|e| e.to_string())?;
    init_tracing(cfg.log_json);
    std::fs::create_dir_all(&cfg.data_dir)
        .map_err(|e| format!("data dir {}: {e}", cfg.data_dir.display()))?;
    let url = cfg.database_url();
    let store = Store::connect(
        &url,
        &StoreOptions {
            pool_size: cfg.db_pool_size,
            ..Default::default()
        },
    )
    .await
    .map_err(|e| format!("store: {e}"))?;
    let mailer = Mailer::from_config(cfg.smtp.as_ref()).map_err(|e| e.to_string())?;
    let listen = cfg.listen;
    let drain = Duration::from_secs(cfg.drain_timeout_s);
    let redis_url = cfg.redis_url.clone();
    let state = AppState::new(cfg, store.clone(), mailer)
        .await
        .map_err(|e| e.to_string())?;
    if let Some(url) = redis_url {
        let config = talko_control::live::FanoutConfig {
            url,
            ..Default::default()
        };
        let fanout = talko_control::live::RedisFanout::start(config, &state.live.hub)
            .await
            .map_err(|e| format!("redis fan-out: {e}"))?;
        tracing::info!(node = %fanout.node(), "live messages fan out through Redis");
    }
    let draining = state.draining.clone();
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| format!("bind {listen}: {e}"))?;
    tracing::info!(%listen, backend = ?store.backend(), "talkod listening");
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        axum::serve(listener, app(state))
            .with_graceful_shutdown(async move {
                let _ = stop_rx.await;
            })
            .await
    });
    shutdown_signal().await;
    tracing::info!("draining: no new connections; finishing in-flight requests");
    draining.store(true, Ordering::Relaxed);
    let _ = stop_tx.send(());
    match tokio::time::timeout(drain, server).await {
        Ok(Ok(Ok(()))) => tracing::info!("drained"),
        Ok(Ok(Err(e))) => tracing::error!(error = %e, "server error"),
        Ok(Err(e)) => tracing::error!(error = %e, "server task failed"),
        Err(_) => tracing::warn!("drain timeout; closing remaining connections"),
    }
    store.close().await;
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("talkod: {e}");
            ExitCode::FAILURE
        }
    }
}
