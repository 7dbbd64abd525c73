//! Errors: [`Error`] from `translate` (per packet, handled by the
//! `on_error` policy) and [`InitError`] from `init` (fails the load with
//! its [`InitError::code`]).

use core::fmt;

use crate::config::ConfigError;

/// Why a packet could not be translated.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Error {
    /// The frame does not decode (the ecpri error names field and offset).
    Wire(ecpri::Error),
    /// The result would not fit the packet's capacity.
    Capacity {
        /// Bytes the result needs.
        needed: usize,
        /// Bytes available.
        capacity: usize,
    },
    /// No descriptor is left for another extra output (ABI `max_out`).
    TooManyExtras,
    /// The packet uses something this translator does not handle.
    Unsupported(&'static str),
    /// The translator's own check failed.
    Invalid(&'static str),
}

impl From<ecpri::Error> for Error {
    fn from(e: ecpri::Error) -> Self {
        Error::Wire(e)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Wire(e) => write!(f, "{e}"),
            Error::Capacity { needed, capacity } => write!(f, "result needs {needed} bytes, capacity is {capacity}"),
            Error::TooManyExtras => f.write_str("no descriptor left for an extra output"),
            Error::Unsupported(what) => write!(f, "unsupported: {what}"),
            Error::Invalid(what) => f.write_str(what),
        }
    }
}

/// A short, stable copy of a name (config key, counter name) that outlives
/// the configuration text: at most 63 bytes, cut on a character boundary.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Name {
    buf: [u8; 63],
    len: u8,
}

impl Name {
    /// Copies `s`, cutting it to 63 bytes.
    pub fn new(s: &str) -> Self {
        let mut n = s.len().min(63);
        while !s.is_char_boundary(n) {
            n -= 1;
        }
        let mut buf = [0u8; 63];
        buf[..n].copy_from_slice(&s.as_bytes()[..n]);
        Name { buf, len: n as u8 }
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        // `new` copied a prefix of a `str` that ends on a character boundary.
        core::str::from_utf8(&self.buf[..self.len as usize]).unwrap_or("")
    }
}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why `init` failed; [`InitError::code`] is what `fhgate_init` returns.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum InitError {
    /// The configuration is wrong (the error names the key).
    Config(ConfigError),
    /// The host refused to define a counter.
    Counter(Name),
    /// The host refused a declared effect (its text, cut to 63 bytes).
    Effect(Name),
    /// Any other reason.
    Other(&'static str),
}

impl InitError {
    /// The non-zero code `fhgate_init` returns: 1 config, 2 counter, 3
    /// other, 4 effect.
    pub const fn code(&self) -> i32 {
        match self {
            InitError::Config(_) => 1,
            InitError::Counter(_) => 2,
            InitError::Other(_) => 3,
            InitError::Effect(_) => 4,
        }
    }
}

impl From<ConfigError> for InitError {
    fn from(e: ConfigError) -> Self {
        InitError::Config(e)
    }
}

impl fmt::Display for InitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InitError::Config(e) => write!(f, "{e}"),
            InitError::Counter(n) => write!(f, "the host refused to define counter `{n}`"),
            InitError::Effect(n) => write!(f, "the host refused the declared effect `{n}`"),
            InitError::Other(m) => f.write_str(m),
        }
    }
}
