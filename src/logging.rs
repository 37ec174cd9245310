//! The binary's logs: `tracing` events to stderr, filtered by `RUST_LOG` (default `info`), as text or
//! as one JSON object per line. Libraries only emit events; this is the one place that decides where
//! they go.

use std::io::IsTerminal as _;

use tracing::Level;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{EnvFilter, Layer as _, Registry, filter, fmt};

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub(crate) enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line (with the session span's fields).
    Json,
}

/// Install the subscriber for this process.
pub(crate) fn init(format: LogFormat) -> Result<(), String> {
    let env_filter = match std::env::var("RUST_LOG") {
        Ok(directives) if !directives.trim().is_empty() => EnvFilter::try_new(&directives)
            .map_err(|e| format!("RUST_LOG={directives:?} is not a valid log filter: {e}"))?,
        _ => EnvFilter::new("info"),
    };
    let layer: Box<dyn tracing_subscriber::Layer<Registry> + Send + Sync> = match format {
        LogFormat::Text => fmt::layer()
            .with_writer(std::io::stderr)
            .with_ansi(std::io::stderr().is_terminal())
            .boxed(),
        LogFormat::Json => fmt::layer()
            .json()
            .with_writer(std::io::stderr)
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .boxed(),
    };
    tracing_subscriber::registry()
        .with(
            layer
                .with_filter(filter::filter_fn(|meta| !reveals_secrets(meta)))
                .with_filter(env_filter),
        )
        .try_init()
        .map_err(|e| format!("cannot set up logging: {e}"))
}

/// Events that print secrets whatever `RUST_LOG` says: aws-sigv4 traces each canonical request, and
/// for presigned requests (RDS and ElastiCache tokens) that holds the session token in the query.
fn reveals_secrets(meta: &tracing::Metadata<'_>) -> bool {
    meta.target().starts_with("aws_sigv4") && *meta.level() == Level::TRACE
}
