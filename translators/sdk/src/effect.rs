//! Declaring what a translator changes (ABI.md §6 `effect`): at init, for
//! its configuration, a translator tells the host how it changes the
//! format of the traffic it sees, so the host can work out the egress
//! format and check a chain against the DU and RU profiles before a
//! packet moves.
//!
//! ```ignore
//! ctx.declare_comp(Direction::Dl, Some(bfp9), bfp12)?;          // dl_comp bfp:9 -> bfp:12
//! ctx.declare_eaxc_bits(Some(Direction::Dl), Some(a), b)?;      // eaxc_bits/dl 4,4,4,4 -> 2,6,4,4
//! ctx.declare_comp_hdr(None, Some(true), false)?;               // comp_hdr present -> absent
//! ctx.declare_vlan(None, None, Some(5))?;                       // vlan * -> 5
//! ```

use core::fmt::{self, Write};

use crate::ctx::InitCtx;
use crate::error::{InitError, Name};
use crate::packet::Direction;
use crate::sys;
use ecpri::{EaxcLayout, UdCompHdr};

/// Longest declaration the host reads.
pub const EFFECT_MAX: usize = 256;

struct Line {
    buf: [u8; EFFECT_MAX],
    len: usize,
}

impl Write for Line {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let end = self.len + s.len();
        if end > EFFECT_MAX {
            return Err(fmt::Error);
        }
        self.buf[self.len..end].copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// `/dl`, `/ul` or nothing: the traffic a declaration applies to (DU → RU
/// is DL U-plane and every C-plane message; RU → DU is UL U-plane).
fn scope(d: Option<Direction>) -> &'static str {
    match d {
        None => "",
        Some(Direction::Dl) => "/dl",
        Some(Direction::Ul) => "/ul",
    }
}

/// `*` for any, else the value.
struct From<T>(Option<T>);

impl<T: fmt::Display> fmt::Display for From<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            None => f.write_str("*"),
            Some(v) => v.fmt(f),
        }
    }
}

struct Vlan(Option<u16>);

impl fmt::Display for Vlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            None => f.write_str("none"),
            Some(v) => write!(f, "{v}"),
        }
    }
}

struct Hdr(bool);

impl fmt::Display for Hdr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0 { "present" } else { "absent" })
    }
}

impl InitCtx {
    /// Declares one change as its text, `FIELD[/dl|/ul] FROM -> TO`
    /// (ABI.md §6); the typed methods below write it for you. The host
    /// refusing it (bad text) fails the load.
    pub fn declare(&mut self, args: fmt::Arguments<'_>) -> Result<(), InitError> {
        let mut l = Line { buf: [0; EFFECT_MAX], len: 0 };
        if l.write_fmt(args).is_err() || sys::effect(&l.buf[..l.len]) < 0 {
            let text = core::str::from_utf8(&l.buf[..l.len]).unwrap_or("effect");
            crate::ctx::log_args(crate::ctx::Level::Error, format_args!("the host refused the declared effect `{text}`"));
            return Err(InitError::Effect(Name::new(text)));
        }
        Ok(())
    }

    /// U-plane compression of direction `dir` goes from `from` (`None`:
    /// any) to `to`: `dl_comp bfp:9 -> bfp:12`.
    pub fn declare_comp(&mut self, dir: Direction, from: Option<UdCompHdr>, to: UdCompHdr) -> Result<(), InitError> {
        let key = match dir {
            Direction::Dl => "dl_comp",
            Direction::Ul => "ul_comp",
        };
        self.declare(format_args!("{key} {} -> {to}", From(from)))
    }

    /// udCompHdr presence in U-plane sections, in the traffic `scope`
    /// names (`None`: both ways): `comp_hdr present -> absent`.
    pub fn declare_comp_hdr(&mut self, scope_: Option<Direction>, from: Option<bool>, to: bool) -> Result<(), InitError> {
        self.declare(format_args!("comp_hdr{} {} -> {}", scope(scope_), From(from.map(Hdr)), Hdr(to)))
    }

    /// The eAxC bit split: `eaxc_bits/dl 4,4,4,4 -> 2,6,4,4`.
    pub fn declare_eaxc_bits(&mut self, scope_: Option<Direction>, from: Option<EaxcLayout>, to: EaxcLayout) -> Result<(), InitError> {
        self.declare(format_args!("eaxc_bits{} {} -> {to}", scope(scope_), From(from)))
    }

    /// The innermost VLAN ID (`None`: untagged): `vlan 21 -> 5`; `from`
    /// `None` is any.
    pub fn declare_vlan(&mut self, scope_: Option<Direction>, from: Option<Option<u16>>, to: Option<u16>) -> Result<(), InitError> {
        self.declare(format_args!("vlan{} {} -> {}", scope(scope_), From(from.map(Vlan)), Vlan(to)))
    }

    /// A change that is not a format (`seq_id`, `iq`), as one word:
    /// `iq * -> gain:-3.5dB`.
    pub fn declare_note(&mut self, field: &str, to: fmt::Arguments<'_>) -> Result<(), InitError> {
        self.declare(format_args!("{field} * -> {to}"))
    }
}
