//! Standard output and error, one way for every subcommand: a failed write
//! never panics (as std's `println!` does). A closed pipe (`| head`) ends
//! the command quietly, like other Unix tools; any other failure (a full
//! disk) is an error and a non-zero exit, reported by `cli::main`.
//!
//! `cli/mod.rs` defines `println!`, `print!` and `eprintln!` on top of
//! this, before the subcommand modules, so that their textual scope covers
//! every file of `cli/`: a subcommand cannot print the panicking way.

use std::fmt;
use std::io::{self, Write};
use std::sync::Mutex;

/// The first error met writing standard output; later writes are skipped.
static FAILED: Mutex<Option<(io::ErrorKind, String)>> = Mutex::new(None);

fn failed() -> bool {
    FAILED.lock().map(|f| f.is_some()).unwrap_or(true)
}

/// Records a standard-output error; the first one is reported at exit.
pub fn record(e: &io::Error) {
    if let Ok(mut f) = FAILED.lock() {
        f.get_or_insert_with(|| (e.kind(), e.to_string()));
    }
}

/// Writes `args` to standard output, then a newline when `newline`.
pub fn write(args: fmt::Arguments<'_>, newline: bool) {
    if failed() {
        return;
    }
    let mut o = io::stdout().lock();
    let r = o.write_fmt(args).and_then(|()| if newline { o.write_all(b"\n") } else { Ok(()) });
    if let Err(e) = r {
        record(&e);
    }
}

/// Writes `args` and a newline to standard error; a failure is ignored
/// (there is nowhere left to report it).
pub fn ewrite(args: fmt::Arguments<'_>) {
    let mut e = io::stderr().lock();
    let _ = e.write_fmt(args).and_then(|()| e.write_all(b"\n"));
}

/// Flushes standard output; the first error met writing it, if any.
pub fn finish() -> io::Result<()> {
    if let Err(e) = io::stdout().lock().flush() {
        record(&e);
    }
    match FAILED.lock().ok().and_then(|f| f.clone()) {
        Some((kind, msg)) => Err(io::Error::new(kind, msg)),
        None => Ok(()),
    }
}

/// Whether an error (or any error it wraps) is a closed pipe.
pub fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| c.downcast_ref::<io::Error>().is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe))
}
