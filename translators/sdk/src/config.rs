//! The translator's configuration (ABI.md §4): UTF-8 lines `key=value`,
//! values written as in TOML (integers, floats, `true`/`false`, strings in
//! double quotes, arrays `[1,2,3]`; nested tables flattened to dotted keys).
//!
//! [`Config`] indexes the lines once, unescaping strings in place, and
//! hands out typed values. Every getter marks its key as read, so after
//! `init` the SDK can refuse keys nobody read (a typo such as
//! `out_widht=12` fails the load instead of being ignored). Every error
//! names the key.

use core::cell::Cell;
use core::fmt;

use crate::error::Name;

/// Most keys a configuration may have.
pub const MAX_ENTRIES: usize = 256;

/// What is wrong with a configuration.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ConfigErrorKind {
    /// A required key is absent.
    Missing,
    /// The value has the wrong type; the text says what was expected.
    Expected(&'static str),
    /// An integer outside `min..=max`.
    OutOfRange {
        /// Smallest allowed.
        min: i64,
        /// Largest allowed.
        max: i64,
    },
    /// A value the translator rejects, with its reason.
    Invalid(&'static str),
    /// The key appears twice.
    Duplicate,
    /// Nothing reads this key (a typo, or a key of another translator).
    Unknown,
    /// A line is not `key=value`, or a string is not terminated (1-based line).
    Syntax {
        /// The line number.
        line: u32,
    },
    /// More than [`MAX_ENTRIES`] keys.
    TooMany,
}

/// A configuration error, naming the key.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ConfigError {
    /// The key at fault (empty for syntax errors).
    pub key: Name,
    /// What is wrong.
    pub kind: ConfigErrorKind,
}

impl ConfigError {
    /// An error about `key`.
    pub fn new(key: &str, kind: ConfigErrorKind) -> Self {
        ConfigError { key: Name::new(key), kind }
    }

    /// A value of `key` the translator rejects, with the reason.
    pub fn invalid(key: &str, why: &'static str) -> Self {
        Self::new(key, ConfigErrorKind::Invalid(why))
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            ConfigErrorKind::Syntax { line } => {
                write!(f, "config line {line}: expected `key=value` with a TOML value")
            }
            ConfigErrorKind::TooMany => write!(f, "config: more than {MAX_ENTRIES} keys"),
            kind => {
                write!(f, "config key `{}`: ", self.key)?;
                match kind {
                    ConfigErrorKind::Missing => f.write_str("missing"),
                    ConfigErrorKind::Expected(what) => write!(f, "expected {what}"),
                    ConfigErrorKind::OutOfRange { min, max } => write!(f, "out of range {min}..={max}"),
                    ConfigErrorKind::Invalid(why) => f.write_str(why),
                    ConfigErrorKind::Duplicate => f.write_str("given twice"),
                    ConfigErrorKind::Unknown => f.write_str("unknown key"),
                    ConfigErrorKind::Syntax { .. } | ConfigErrorKind::TooMany => Ok(()),
                }
            }
        }
    }
}

/// A configuration value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value<'a> {
    /// An integer (TOML integers are 64-bit signed).
    Int(i64),
    /// A float.
    Float(f64),
    /// `true` or `false`.
    Bool(bool),
    /// A string: quoted and unescaped, or unquoted text that is no other value.
    Str(&'a str),
    /// An array, walked with [`Array::iter`].
    Array(Array<'a>),
}

impl<'a> Value<'a> {
    /// Parses an unquoted value.
    pub fn parse(raw: &'a str) -> Value<'a> {
        let t = raw.trim();
        if let Some(inner) = t.strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
            return Value::Array(Array { inner });
        }
        match t {
            "true" => return Value::Bool(true),
            "false" => return Value::Bool(false),
            _ => {}
        }
        if let Some(i) = parse_int(t) {
            return Value::Int(i);
        }
        if let Some(x) = parse_float(t) {
            return Value::Float(x);
        }
        // A quoted string inside an array: the text between the quotes, as written.
        if let Some(s) = t.strip_prefix('"').and_then(|s| s.strip_suffix('"')) {
            return Value::Str(s);
        }
        Value::Str(t)
    }

    /// The value as an integer: an integer, or a string holding one (`"0x0101"`).
    pub fn as_int(&self) -> Option<i64> {
        match *self {
            Value::Int(i) => Some(i),
            Value::Str(s) => parse_int(s.trim()),
            _ => None,
        }
    }

    /// The value as a float: a float or an integer.
    pub fn as_f64(&self) -> Option<f64> {
        match *self {
            Value::Float(x) => Some(x),
            Value::Int(i) => Some(i as f64),
            Value::Str(s) => parse_float(s.trim()).or_else(|| parse_int(s.trim()).map(|i| i as f64)),
            _ => None,
        }
    }
}

/// An array value: its elements, separated by commas (strings in it are
/// returned as written, without unescaping; nested arrays are not split).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Array<'a> {
    inner: &'a str,
}

impl<'a> Array<'a> {
    /// The elements in order.
    pub fn iter(&self) -> ArrayIter<'a> {
        ArrayIter { rest: self.inner }
    }
}

/// Iterator over the elements of an [`Array`].
#[derive(Debug, Clone)]
pub struct ArrayIter<'a> {
    rest: &'a str,
}

impl<'a> Iterator for ArrayIter<'a> {
    type Item = Value<'a>;

    fn next(&mut self) -> Option<Value<'a>> {
        let s = self.rest;
        if s.trim().is_empty() {
            return None;
        }
        let (mut quoted, mut escaped, mut end) = (false, false, s.len());
        for (i, c) in s.char_indices() {
            match c {
                _ if escaped => escaped = false,
                '\\' if quoted => escaped = true,
                '"' => quoted = !quoted,
                ',' if !quoted => {
                    end = i;
                    break;
                }
                _ => {}
            }
        }
        self.rest = if end < s.len() { &s[end + 1..] } else { "" };
        Some(Value::parse(&s[..end]))
    }
}

/// Parses a TOML integer: decimal with optional sign, `0x`/`0o`/`0b`, underscores.
pub fn parse_int(t: &str) -> Option<i64> {
    let (neg, body) = match t.as_bytes().first()? {
        b'-' => (true, &t[1..]),
        b'+' => (false, &t[1..]),
        _ => (false, t),
    };
    let (radix, digits) = match body.get(..2) {
        Some("0x" | "0X") => (16, &body[2..]),
        Some("0o" | "0O") => (8, &body[2..]),
        Some("0b" | "0B") => (2, &body[2..]),
        _ => (10, body),
    };
    if digits.is_empty() || digits.starts_with('_') || digits.ends_with('_') {
        return None;
    }
    let mut v: i128 = 0;
    for c in digits.chars() {
        if c == '_' {
            continue;
        }
        v = v * radix as i128 + c.to_digit(radix)? as i128;
        if v > i64::MAX as i128 + 1 {
            return None;
        }
    }
    let v = if neg { -v } else { v };
    i64::try_from(v).ok()
}

/// Parses a TOML float: decimal with `.` or an exponent, `inf`, `nan`, underscores.
pub fn parse_float(t: &str) -> Option<f64> {
    let body = t.trim_start_matches(['+', '-']);
    match body {
        "inf" | "nan" => return t.parse::<f64>().ok(),
        _ => {}
    }
    if !body.starts_with(|c: char| c.is_ascii_digit()) || !t.contains(['.', 'e', 'E']) {
        return None;
    }
    let mut buf = [0u8; 64];
    let mut n = 0;
    for &b in t.as_bytes() {
        if b == b'_' {
            continue;
        }
        if n == buf.len() || !(b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-')) {
            return None;
        }
        buf[n] = b;
        n += 1;
    }
    core::str::from_utf8(&buf[..n]).ok()?.parse::<f64>().ok()
}

#[derive(Debug, Clone, Copy, Default)]
struct Entry {
    key: (u32, u32),
    val: (u32, u32),
    quoted: bool,
}

/// The configuration handed to `init`, indexed once.
pub struct Config<'a> {
    text: &'a [u8],
    entries: [Entry; MAX_ENTRIES],
    len: usize,
    used: Cell<[u64; MAX_ENTRIES / 64]>,
}

impl fmt::Debug for Config<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut m = f.debug_map();
        for i in 0..self.len {
            m.entry(&self.key_at(i), &self.raw_at(i));
        }
        m.finish()
    }
}

impl<'a> Config<'a> {
    /// Indexes `text`, unescaping quoted strings in place (which is why it
    /// takes the buffer mutably: the host's copy in the I/O region).
    pub fn parse(text: &'a mut [u8]) -> Result<Config<'a>, ConfigError> {
        let syntax = |line: usize| ConfigError::new("", ConfigErrorKind::Syntax { line: line as u32 + 1 });
        if core::str::from_utf8(text).is_err() {
            return Err(syntax(0));
        }
        let mut entries = [Entry::default(); MAX_ENTRIES];
        let mut len = 0;
        let mut start = 0;
        let mut line = 0;
        while start < text.len() {
            let end = text[start..].iter().position(|&b| b == b'\n').map_or(text.len(), |p| start + p);
            let (s, e) = trim(text, start, end);
            if s < e {
                let eq = text[s..e].iter().position(|&b| b == b'=').map(|p| s + p).ok_or(syntax(line))?;
                let key = trim(text, s, eq);
                if key.0 == key.1 {
                    return Err(syntax(line));
                }
                let (vs, ve) = trim(text, eq + 1, e);
                let (val, quoted) = if text.get(vs) == Some(&b'"') {
                    let vend = unescape_in_place(text, vs + 1, ve).ok_or(syntax(line))?;
                    ((vs + 1, vend), true)
                } else {
                    ((vs, ve), false)
                };
                let k = &text[key.0..key.1];
                if entries[..len].iter().any(|x| &text[x.key.0 as usize..x.key.1 as usize] == k) {
                    let name = core::str::from_utf8(k).unwrap_or("");
                    return Err(ConfigError::new(name, ConfigErrorKind::Duplicate));
                }
                if len == MAX_ENTRIES {
                    return Err(ConfigError::new("", ConfigErrorKind::TooMany));
                }
                entries[len] = Entry { key: (key.0 as u32, key.1 as u32), val: (val.0 as u32, val.1 as u32), quoted };
                len += 1;
            }
            start = end + 1;
            line += 1;
        }
        let text: &'a [u8] = text;
        Ok(Config { text, entries, len, used: Cell::new([0; MAX_ENTRIES / 64]) })
    }

    /// How many keys there are.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are no keys.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn str_at(&self, r: (u32, u32)) -> &'a str {
        // The whole text was checked to be UTF-8, and unescaping writes
        // whole UTF-8 sequences, so entry ranges hold UTF-8.
        core::str::from_utf8(&self.text[r.0 as usize..r.1 as usize]).unwrap_or("")
    }

    fn key_at(&self, i: usize) -> &'a str {
        self.str_at(self.entries[i].key)
    }

    fn raw_at(&self, i: usize) -> &'a str {
        self.str_at(self.entries[i].val)
    }

    fn mark(&self, i: usize) {
        let mut u = self.used.get();
        u[i / 64] |= 1 << (i % 64);
        self.used.set(u);
    }

    fn value_at(&self, i: usize) -> Value<'a> {
        self.mark(i);
        if self.entries[i].quoted {
            Value::Str(self.raw_at(i))
        } else {
            Value::parse(self.raw_at(i))
        }
    }

    /// The value of `key`, if present (and marks it read). The host is
    /// told the key was looked up (`config_read`), present or not.
    pub fn get(&self, key: &str) -> Option<Value<'a>> {
        crate::sys::config_read(key.as_bytes());
        (0..self.len).find(|&i| self.key_at(i) == key).map(|i| self.value_at(i))
    }

    /// Whether `key` is present (does not mark it read).
    pub fn contains(&self, key: &str) -> bool {
        (0..self.len).any(|i| self.key_at(i) == key)
    }

    fn require(&self, key: &str) -> Result<Value<'a>, ConfigError> {
        self.get(key).ok_or(ConfigError::new(key, ConfigErrorKind::Missing))
    }

    fn int_of(key: &str, v: Value<'a>, min: i64, max: i64) -> Result<i64, ConfigError> {
        let i = v.as_int().ok_or(ConfigError::new(key, ConfigErrorKind::Expected("an integer")))?;
        if i < min || i > max {
            return Err(ConfigError::new(key, ConfigErrorKind::OutOfRange { min, max }));
        }
        Ok(i)
    }

    /// A required integer in `min..=max`.
    pub fn int_in(&self, key: &str, min: i64, max: i64) -> Result<i64, ConfigError> {
        Self::int_of(key, self.require(key)?, min, max)
    }

    /// An optional integer in `min..=max`.
    pub fn opt_int_in(&self, key: &str, min: i64, max: i64) -> Result<Option<i64>, ConfigError> {
        self.get(key).map(|v| Self::int_of(key, v, min, max)).transpose()
    }

    /// A required non-negative integer.
    pub fn u64(&self, key: &str) -> Result<u64, ConfigError> {
        self.int_in(key, 0, i64::MAX).map(|i| i as u64)
    }

    /// A non-negative integer, `default` when absent.
    pub fn u64_or(&self, key: &str, default: u64) -> Result<u64, ConfigError> {
        Ok(self.opt_int_in(key, 0, i64::MAX)?.map_or(default, |i| i as u64))
    }

    /// A required integer.
    pub fn i64(&self, key: &str) -> Result<i64, ConfigError> {
        self.int_in(key, i64::MIN, i64::MAX)
    }

    /// An integer, `default` when absent.
    pub fn i64_or(&self, key: &str, default: i64) -> Result<i64, ConfigError> {
        Ok(self.opt_int_in(key, i64::MIN, i64::MAX)?.unwrap_or(default))
    }

    fn f64_of(key: &str, v: Value<'a>) -> Result<f64, ConfigError> {
        v.as_f64().ok_or(ConfigError::new(key, ConfigErrorKind::Expected("a number")))
    }

    /// A required number (an integer is accepted).
    pub fn f64(&self, key: &str) -> Result<f64, ConfigError> {
        Self::f64_of(key, self.require(key)?)
    }

    /// A number, `default` when absent.
    pub fn f64_or(&self, key: &str, default: f64) -> Result<f64, ConfigError> {
        self.get(key).map_or(Ok(default), |v| Self::f64_of(key, v))
    }

    fn bool_of(key: &str, v: Value<'a>) -> Result<bool, ConfigError> {
        match v {
            Value::Bool(b) => Ok(b),
            _ => Err(ConfigError::new(key, ConfigErrorKind::Expected("true or false"))),
        }
    }

    /// A required boolean.
    pub fn bool(&self, key: &str) -> Result<bool, ConfigError> {
        Self::bool_of(key, self.require(key)?)
    }

    /// A boolean, `default` when absent.
    pub fn bool_or(&self, key: &str, default: bool) -> Result<bool, ConfigError> {
        self.get(key).map_or(Ok(default), |v| Self::bool_of(key, v))
    }

    fn str_of(key: &str, v: Value<'a>) -> Result<&'a str, ConfigError> {
        match v {
            Value::Str(s) => Ok(s),
            _ => Err(ConfigError::new(key, ConfigErrorKind::Expected("a string"))),
        }
    }

    /// A required string (quoted strings unescaped).
    pub fn str(&self, key: &str) -> Result<&'a str, ConfigError> {
        Self::str_of(key, self.require(key)?)
    }

    /// A string, `default` when absent.
    pub fn str_or(&self, key: &str, default: &'a str) -> Result<&'a str, ConfigError> {
        self.get(key).map_or(Ok(default), |v| Self::str_of(key, v))
    }

    /// One of `choices` (a string), `default` when absent; returns its index.
    pub fn choice(&self, key: &str, choices: &[&str], default: usize) -> Result<usize, ConfigError> {
        match self.get(key) {
            None => Ok(default),
            Some(v) => {
                let s = Self::str_of(key, v)?;
                choices.iter().position(|c| *c == s).ok_or(ConfigError::invalid(key, "not one of the allowed values"))
            }
        }
    }

    /// An array, if present.
    pub fn array(&self, key: &str) -> Result<Option<Array<'a>>, ConfigError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Array(a)) => Ok(Some(a)),
            Some(_) => Err(ConfigError::new(key, ConfigErrorKind::Expected("an array"))),
        }
    }

    /// Every key starting with `prefix` (flattened tables such as
    /// `map.0x1001=0x2001`), as (rest of the key, value); marks them read.
    pub fn prefixed<'c>(&'c self, prefix: &'c str) -> impl Iterator<Item = (&'a str, Value<'a>)> + 'c {
        // Told to the host as the prefix and a `*`: `map.*`.
        let mut key = [0u8; 128];
        let n = prefix.len().min(key.len() - 1);
        key[..n].copy_from_slice(&prefix.as_bytes()[..n]);
        key[n] = b'*';
        crate::sys::config_read(&key[..=n]);
        (0..self.len).filter_map(move |i| {
            let rest = self.key_at(i).strip_prefix(prefix)?;
            Some((rest, self.value_at(i)))
        })
    }

    /// Every key in order, with its raw text (does not mark them read).
    pub fn keys(&self) -> impl Iterator<Item = &'a str> + '_ {
        (0..self.len).map(|i| self.key_at(i))
    }

    /// The first key that no getter has read, if any.
    pub fn unused(&self) -> Option<&'a str> {
        let u = self.used.get();
        (0..self.len).find(|&i| u[i / 64] & (1 << (i % 64)) == 0).map(|i| self.key_at(i))
    }

    /// `Err(Unknown)` naming the first key nothing read.
    pub fn deny_unused(&self) -> Result<(), ConfigError> {
        match self.unused() {
            Some(k) => Err(ConfigError::new(k, ConfigErrorKind::Unknown)),
            None => Ok(()),
        }
    }
}

/// `text[s..e]` without leading and trailing ASCII whitespace.
fn trim(text: &[u8], mut s: usize, mut e: usize) -> (usize, usize) {
    while s < e && text[s].is_ascii_whitespace() {
        s += 1;
    }
    while e > s && text[e - 1].is_ascii_whitespace() {
        e -= 1;
    }
    (s, e)
}

/// Unescapes the quoted string starting at `s` (after the opening quote)
/// in place, up to its closing quote, which must be the last byte before
/// `e`. Returns the end of the unescaped text.
fn unescape_in_place(text: &mut [u8], s: usize, e: usize) -> Option<usize> {
    let (mut r, mut w) = (s, s);
    while r < e {
        match text[r] {
            b'"' => return (r + 1 == e).then_some(w),
            b'\\' => {
                let c = *text.get(r + 1)?;
                let (ch, used) = match c {
                    b'"' => ('"', 2),
                    b'\\' => ('\\', 2),
                    b'n' => ('\n', 2),
                    b't' => ('\t', 2),
                    b'r' => ('\r', 2),
                    b'b' => ('\u{8}', 2),
                    b'f' => ('\u{c}', 2),
                    b'u' | b'U' => {
                        let n = if c == b'u' { 4 } else { 8 };
                        let hex = core::str::from_utf8(text.get(r + 2..r + 2 + n)?).ok()?;
                        (char::from_u32(u32::from_str_radix(hex, 16).ok()?)?, 2 + n)
                    }
                    _ => return None,
                };
                // The UTF-8 of an escape is never longer than the escape itself.
                let mut tmp = [0u8; 4];
                let enc = ch.encode_utf8(&mut tmp).as_bytes();
                text[w..w + enc.len()].copy_from_slice(enc);
                w += enc.len();
                r += used;
            }
            b => {
                text[w] = b;
                w += 1;
                r += 1;
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::string::ToString;
    use std::vec::Vec;

    fn with<R>(s: &str, f: impl FnOnce(Result<Config<'_>, ConfigError>) -> R) -> R {
        let mut b: Vec<u8> = s.as_bytes().to_vec();
        f(Config::parse(&mut b))
    }

    #[test]
    fn typed_getters() {
        let text = "in_width=8\nout_width=12\ngain_db=-3.5\nmode=\"strip\"\nsplit=true\nlist=[1, 0x10,3]\nmap.0x0001=0x0101\nbig=1_000\n";
        with(text, |c| {
            let c = c.unwrap();
            assert_eq!(c.u64("in_width"), Ok(8));
            assert_eq!(c.int_in("out_width", 1, 16), Ok(12));
            assert_eq!(c.f64("gain_db"), Ok(-3.5));
            assert_eq!(c.f64("in_width"), Ok(8.0));
            assert_eq!(c.str("mode"), Ok("strip"));
            assert_eq!(c.bool("split"), Ok(true));
            assert_eq!(c.u64("big"), Ok(1000));
            let l: Vec<_> = c.array("list").unwrap().unwrap().iter().map(|v| v.as_int().unwrap()).collect();
            assert_eq!(l, [1, 16, 3]);
            let m: Vec<_> = c.prefixed("map.").map(|(k, v)| (parse_int(k), v.as_int())).collect();
            assert_eq!(m, [(Some(1), Some(0x101))]);
            assert_eq!(c.unused(), None);
        });
    }

    #[test]
    fn errors_name_the_key() {
        with("in_width=abc\nw=20\n", |c| {
            let c = c.unwrap();
            let e = c.u64("in_width").unwrap_err();
            assert_eq!(e.to_string(), "config key `in_width`: expected an integer");
            assert_eq!(c.int_in("w", 1, 16).unwrap_err().to_string(), "config key `w`: out of range 1..=16");
            assert_eq!(c.u64("nope").unwrap_err().to_string(), "config key `nope`: missing");
            assert_eq!(c.str("w").unwrap_err().kind, ConfigErrorKind::Expected("a string"));
        });
        with("a=1\nout_widht=12\n", |c| {
            let c = c.unwrap();
            c.u64("a").unwrap();
            assert_eq!(c.deny_unused().unwrap_err().to_string(), "config key `out_widht`: unknown key");
        });
        with("a=1\na=2\n", |c| assert_eq!(c.unwrap_err().kind, ConfigErrorKind::Duplicate));
        with("a=1\nnonsense\n", |c| assert_eq!(c.unwrap_err().kind, ConfigErrorKind::Syntax { line: 2 }));
        with("s=\"open\n", |c| assert_eq!(c.unwrap_err().kind, ConfigErrorKind::Syntax { line: 1 }));
    }

    #[test]
    fn strings_unescape_in_place() {
        with("s=\"a \\\"q\\\" \\\\ \\u00e9\"\r\n\nt = \"x\"\n", |c| {
            let c = c.unwrap();
            assert_eq!(c.str("s"), Ok("a \"q\" \\ é"));
            assert_eq!(c.str("t"), Ok("x"));
        });
    }

    #[test]
    fn toml_numbers() {
        assert_eq!(parse_int("-42"), Some(-42));
        assert_eq!(parse_int("0xFFFF"), Some(0xFFFF));
        assert_eq!(parse_int("0b101"), Some(5));
        assert_eq!(parse_int("9223372036854775807"), Some(i64::MAX));
        assert_eq!(parse_int("-9223372036854775808"), Some(i64::MIN));
        assert_eq!(parse_int("9223372036854775808"), None);
        assert_eq!(parse_int("1.5"), None);
        assert_eq!(parse_float("1.5e3"), Some(1500.0));
        assert_eq!(parse_float("-0.25"), Some(-0.25));
        assert_eq!(parse_float("12"), None);
        assert_eq!(parse_float("-inf"), Some(f64::NEG_INFINITY));
    }
}
