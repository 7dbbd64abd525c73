//! Logs: `tracing` events to standard error, human-readable or as JSON
//! lines (`--log-format`), and the sink that routes translators' log
//! lines (rate-limited by the host) into them.

use clap::ValueEnum;

use crate::translate::{Level, LogSink};

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum LogFormat {
    /// For people.
    #[default]
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

/// Installs the global subscriber; `level` is a filter such as `info`.
pub fn init(format: LogFormat, level: tracing::Level) {
    let b = tracing_subscriber::fmt().with_writer(std::io::stderr).with_max_level(level).with_target(false);
    // A second init (tests calling into the CLI twice) keeps the first.
    let _ = match format {
        LogFormat::Text => b.try_init(),
        LogFormat::Json => b.json().try_init(),
    };
}

/// Sends translator log lines to `tracing`, with the translator's name as a field.
#[derive(Debug, Default, Clone, Copy)]
pub struct TracingLog;

impl LogSink for TracingLog {
    fn log(&self, level: Level, translator: &str, from_guest: bool, msg: &str) {
        match level {
            Level::Error => tracing::error!(translator, from_guest, "{msg}"),
            Level::Warn => tracing::warn!(translator, from_guest, "{msg}"),
            Level::Info => tracing::info!(translator, from_guest, "{msg}"),
            Level::Debug => tracing::debug!(translator, from_guest, "{msg}"),
            Level::Trace => tracing::trace!(translator, from_guest, "{msg}"),
        }
    }
}
