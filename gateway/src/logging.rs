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

/// Whether log lines may carry ANSI colours: only on a terminal, and never
/// when `NO_COLOR` is set to anything but the empty string (no-color.org).
pub fn colour(stderr_is_terminal: bool, no_color: Option<&std::ffi::OsStr>) -> bool {
    stderr_is_terminal && no_color.is_none_or(|v| v.is_empty())
}

/// Installs the global subscriber; `level` is a filter such as `info`.
pub fn init(format: LogFormat, level: tracing::Level) {
    let ansi = colour(std::io::IsTerminal::is_terminal(&std::io::stderr()), std::env::var_os("NO_COLOR").as_deref());
    let b = tracing_subscriber::fmt().with_writer(std::io::stderr).with_max_level(level).with_target(false).with_ansi(ansi);
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

#[cfg(test)]
mod tests {
    use super::colour;
    use std::ffi::OsStr;

    #[test]
    fn colour_only_on_a_terminal_and_never_with_no_color() {
        assert!(colour(true, None));
        assert!(colour(true, Some(OsStr::new(""))), "an empty NO_COLOR is unset (no-color.org)");
        assert!(!colour(true, Some(OsStr::new("1"))));
        assert!(!colour(false, None));
    }
}
