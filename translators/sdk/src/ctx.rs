//! The host's services, wrapped: logging, counters and the clock.
//! [`InitCtx`] is what `init` gets (it may define counters); [`Ctx`] is
//! what `translate` gets (it may bump them).

use core::fmt::{self, Write};

use crate::error::{InitError, Name};
use crate::sys;

/// Log levels of the `log` import.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[repr(i32)]
pub enum Level {
    /// 0: something failed.
    Error = 0,
    /// 1: something is wrong but handled.
    Warn = 1,
    /// 2: notable events.
    Info = 2,
    /// 3: details for debugging.
    Debug = 3,
    /// 4: everything.
    Trace = 4,
}

/// A counter defined at init; its value appears in the gateway's metrics
/// as `fhgate_translator_counter{translator="NAME",counter="..."}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counter(i32);

impl Counter {
    /// The host's id for it.
    pub const fn id(self) -> i32 {
        self.0
    }
}

/// Longest formatted log message; longer ones are cut and end in `…`.
pub const LOG_MAX: usize = 512;

/// A fixed buffer that formats up to [`LOG_MAX`] bytes.
struct LineBuf {
    buf: [u8; LOG_MAX],
    len: usize,
    cut: bool,
}

impl Write for LineBuf {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let room = LOG_MAX - 3 - self.len;
        let mut n = s.len().min(room);
        while !s.is_char_boundary(n) {
            n -= 1;
        }
        self.buf[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
        self.len += n;
        if n < s.len() {
            self.cut = true;
        }
        Ok(())
    }
}

pub(crate) fn log_args(level: Level, args: fmt::Arguments<'_>) {
    if let Some(s) = args.as_str() {
        sys::log(level as i32, s.as_bytes());
        return;
    }
    let mut b = LineBuf { buf: [0; LOG_MAX], len: 0, cut: false };
    let _ = b.write_fmt(args);
    if b.cut {
        b.buf[b.len..b.len + 3].copy_from_slice("…".as_bytes());
        b.len += 3;
    }
    sys::log(level as i32, &b.buf[..b.len]);
}

/// What `translate` may ask of the host.
#[derive(Debug)]
pub struct Ctx {
    _private: (),
}

impl Ctx {
    pub(crate) const fn new() -> Self {
        Ctx { _private: () }
    }

    /// Logs a message (the host rate-limits per instance: a burst of 10, then 10/s).
    pub fn log(&mut self, level: Level, msg: &str) {
        sys::log(level as i32, msg.as_bytes());
    }

    /// Logs a formatted message: `ctx.logf(Level::Warn, format_args!("bad {x}"))`.
    pub fn logf(&mut self, level: Level, args: fmt::Arguments<'_>) {
        log_args(level, args);
    }

    /// Adds `delta` to a counter.
    pub fn add(&mut self, counter: Counter, delta: i64) {
        sys::counter_add(counter.0, delta);
    }

    /// Adds one to a counter.
    pub fn inc(&mut self, counter: Counter) {
        sys::counter_add(counter.0, 1);
    }

    /// Monotonic time in nanoseconds.
    pub fn now_ns(&self) -> i64 {
        sys::now_ns()
    }
}

/// What `init` may ask of the host: everything [`Ctx`] offers, plus
/// defining counters (only allowed during init).
#[derive(Debug)]
pub struct InitCtx {
    ctx: Ctx,
}

impl InitCtx {
    pub(crate) const fn new() -> Self {
        InitCtx { ctx: Ctx::new() }
    }

    /// Defines a counter named `name`.
    pub fn counter(&mut self, name: &str) -> Result<Counter, InitError> {
        match sys::counter_define(name.as_bytes()) {
            id if id >= 0 => Ok(Counter(id)),
            _ => Err(InitError::Counter(Name::new(name))),
        }
    }
}

impl core::ops::Deref for InitCtx {
    type Target = Ctx;
    fn deref(&self) -> &Ctx {
        &self.ctx
    }
}

impl core::ops::DerefMut for InitCtx {
    fn deref_mut(&mut self) -> &mut Ctx {
        &mut self.ctx
    }
}
