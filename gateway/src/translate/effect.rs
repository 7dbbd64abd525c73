//! What a translator declares it changes (ABI.md §6 `effect`): one line of
//! text per change, `FIELD[/SCOPE] FROM -> TO`, for example
//! `dl_comp bfp:9 -> bfp:12`, `eaxc_bits/dl 4,4,4,4 -> 2,6,4,4`,
//! `comp_hdr present -> absent`, `vlan * -> 5`. Fields are the keys of a
//! side (`[du]`/`[ru]`, a profile), so the host can fold a chain's effects
//! over the DU's format ([`Format::apply`]) and compare with the RU's.

use std::fmt;

use ecpri::uplane::CompHdrMode;
use ecpri::{EaxcLayout, UdCompHdr};

/// The side key an effect changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Field {
    /// DL U-plane compression (`dl_comp`, `METHOD:WIDTH`).
    DlComp,
    /// UL U-plane compression (`ul_comp`).
    UlComp,
    /// udCompHdr in U-plane sections (`comp_hdr`: `present` or `absent`).
    CompHdr,
    /// eAxC bit split (`eaxc_bits`, `DU,BS,CC,RU`).
    EaxcBits,
    /// Innermost VLAN ID (`vlan`: 0-4094 or `none`).
    Vlan,
    /// eCPRI sequence numbering (`seq_id`): a note, not a format.
    SeqId,
    /// IQ sample values (`iq`, e.g. a gain): a note, not a format.
    Iq,
}

impl Field {
    /// Every field, in the order plans and reports list them.
    pub const ALL: [Field; 7] = [Field::CompHdr, Field::DlComp, Field::UlComp, Field::EaxcBits, Field::Vlan, Field::SeqId, Field::Iq];

    /// The key's name.
    pub fn name(self) -> &'static str {
        match self {
            Field::DlComp => "dl_comp",
            Field::UlComp => "ul_comp",
            Field::CompHdr => "comp_hdr",
            Field::EaxcBits => "eaxc_bits",
            Field::Vlan => "vlan",
            Field::SeqId => "seq_id",
            Field::Iq => "iq",
        }
    }

    /// Parses [`Field::name`].
    pub fn from_name(s: &str) -> Option<Field> {
        Field::ALL.into_iter().find(|f| f.name() == s)
    }

    /// Whether the field is part of a side's format (the others are notes).
    pub fn is_format(self) -> bool {
        !matches!(self, Field::SeqId | Field::Iq)
    }
}

/// Which traffic an effect applies to: DU → RU (`dl`: DL U-plane and every
/// C-plane message), RU → DU (`ul`: UL U-plane), or both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scope {
    /// Both directions.
    Both,
    /// DU → RU.
    Dl,
    /// RU → DU.
    Ul,
}

/// One declared change: `field` goes from `from` (`None`: whatever it
/// was) to `to`. Values are kept as the canonical text of the field.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Effect {
    /// The key.
    pub field: Field,
    /// The traffic it applies to.
    pub scope: Scope,
    /// The value it converts from; `None` (`*`) for any.
    pub from: Option<String>,
    /// The value it writes.
    pub to: String,
}

/// Why an effect line does not parse: the line and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EffectError {
    /// The line as declared.
    pub line: String,
    /// What is wrong with it.
    pub why: String,
}

impl fmt::Display for EffectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "effect `{}`: {}", self.line, self.why)
    }
}

impl std::error::Error for EffectError {}

/// The canonical text of `v` as a value of `field`, or why it is not one.
pub fn canonical(field: Field, v: &str) -> Result<String, String> {
    match field {
        Field::DlComp | Field::UlComp => UdCompHdr::from_spec(v).map(|c| c.to_string()).ok_or_else(|| format!("`{v}` is not METHOD:WIDTH")),
        Field::CompHdr => match v {
            "present" | "absent" => Ok(v.to_string()),
            _ => Err(format!("`{v}`: expected present or absent")),
        },
        Field::EaxcBits => EaxcLayout::from_spec(v).map(|l| l.to_string()).ok_or_else(|| format!("`{v}`: expected four widths adding up to 16")),
        Field::Vlan => match v {
            "none" => Ok("none".into()),
            _ => v.parse::<u16>().ok().filter(|&x| x <= ecpri::ethernet::MAX_VID).map(|x| x.to_string()).ok_or_else(|| format!("`{v}`: expected 0-4094 (4095 is reserved) or none")),
        },
        Field::SeqId | Field::Iq => {
            if v.is_empty() || v.contains(char::is_whitespace) {
                Err(format!("`{v}`: a note is one word"))
            } else {
                Ok(v.to_string())
            }
        }
    }
}

impl Effect {
    /// Parses one declaration `FIELD[/dl|/ul] FROM -> TO` (`FROM` may be `*`).
    pub fn parse(line: &str) -> Result<Effect, EffectError> {
        let bad = |why: String| EffectError { line: line.to_string(), why };
        let (lhs, to) = line.split_once("->").ok_or_else(|| bad("expected `FIELD FROM -> TO`".into()))?;
        let mut words = lhs.split_whitespace();
        let (Some(key), Some(from), None) = (words.next(), words.next(), words.next()) else {
            return Err(bad("expected `FIELD FROM -> TO`".into()));
        };
        let (name, scope) = match key.split_once('/') {
            None => (key, Scope::Both),
            Some((n, "dl")) => (n, Scope::Dl),
            Some((n, "ul")) => (n, Scope::Ul),
            Some((_, s)) => return Err(bad(format!("scope `{s}`: expected dl or ul"))),
        };
        let field = Field::from_name(name).ok_or_else(|| {
            bad(format!("unknown field `{name}` (known: {})", Field::ALL.map(Field::name).join(", ")))
        })?;
        let from = match from {
            "*" => None,
            v => Some(canonical(field, v).map_err(bad)?),
        };
        let to = canonical(field, to.trim()).map_err(bad)?;
        Ok(Effect { field, scope, from, to })
    }

    /// Whether it applies to traffic in direction `dir` (a pipeline's).
    pub fn applies_to(&self, dir: Scope) -> bool {
        let field_dir = match self.field {
            Field::DlComp => Scope::Dl,
            Field::UlComp => Scope::Ul,
            _ => Scope::Both,
        };
        (self.scope == Scope::Both || self.scope == dir) && (field_dir == Scope::Both || field_dir == dir)
    }
}

impl fmt::Display for Effect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scope = match self.scope {
            Scope::Both => "",
            Scope::Dl => "/dl",
            Scope::Ul => "/ul",
        };
        write!(f, "{}{scope} {} -> {}", self.field.name(), self.from.as_deref().unwrap_or("*"), self.to)
    }
}

/// How a stage's output decodes, given how its input did and what it
/// declared: a compression it converts takes its `to`; a udCompHdr it adds
/// or removes makes presence `auto` (decided per message). So the stages
/// after a comphdr_static still see its output classified.
pub fn decode_after(d: &ecpri::frame::DecodeConfig, effects: &[Effect]) -> ecpri::frame::DecodeConfig {
    let mut out = *d;
    for e in effects {
        let slot = match e.field {
            Field::DlComp => &mut out.dl_comp,
            Field::UlComp => &mut out.ul_comp,
            Field::CompHdr => {
                out.comp_hdr = CompHdrMode::Auto;
                continue;
            }
            _ => continue,
        };
        let had = slot.to_string();
        if e.from.as_deref().is_none_or(|f| f == had) {
            if let Some(c) = UdCompHdr::from_spec(&e.to) {
                *slot = c;
            }
        }
    }
    out
}

/// One side's format as far as translators change it: the values of the
/// format fields ([`Field::is_format`]), `None` where unknown.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Format {
    values: [Option<String>; 5],
}

fn slot(f: Field) -> Option<usize> {
    match f {
        Field::DlComp => Some(0),
        Field::UlComp => Some(1),
        Field::CompHdr => Some(2),
        Field::EaxcBits => Some(3),
        Field::Vlan => Some(4),
        Field::SeqId | Field::Iq => None,
    }
}

/// What happened when an effect met a format it does not convert from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// The effect.
    pub effect: Effect,
    /// The value the field had.
    pub had: String,
}

impl Format {
    /// A format from a side's decoding settings and VLAN. `comp_hdr =
    /// auto` is unknown.
    pub fn of_side(d: &ecpri::frame::DecodeConfig, vlan: Option<u16>) -> Format {
        let mut f = Format::default();
        f.set(Field::DlComp, Some(d.dl_comp.to_string()));
        f.set(Field::UlComp, Some(d.ul_comp.to_string()));
        f.set(
            Field::CompHdr,
            match d.comp_hdr {
                CompHdrMode::Present => Some("present".into()),
                CompHdrMode::Absent => Some("absent".into()),
                CompHdrMode::Auto => None,
            },
        );
        f.set(Field::EaxcBits, Some(d.eaxc.to_string()));
        f.set(Field::Vlan, Some(vlan.map_or("none".into(), |v| v.to_string())));
        f
    }

    /// The value of `field`, if known (always `None` for notes).
    pub fn get(&self, field: Field) -> Option<&str> {
        slot(field).and_then(|i| self.values[i].as_deref())
    }

    /// Sets `field` (no-op for notes).
    pub fn set(&mut self, field: Field, v: Option<String>) {
        if let Some(i) = slot(field) {
            self.values[i] = v;
        }
    }

    /// Applies `e` for traffic in direction `dir`: the field takes `to`
    /// when it held `from` (or `from` is any, or the field is unknown).
    /// An effect from another value leaves the field as it was (the
    /// translator passes such traffic unchanged) and is returned.
    pub fn apply(&mut self, e: &Effect, dir: Scope) -> Option<Skipped> {
        if !e.applies_to(dir) || !e.field.is_format() {
            return None;
        }
        match (&e.from, self.get(e.field)) {
            (Some(from), Some(had)) if from != had => Some(Skipped { effect: e.clone(), had: had.to_string() }),
            _ => {
                self.set(e.field, Some(e.to.clone()));
                None
            }
        }
    }

    /// This format written into decoding settings: the compression,
    /// udCompHdr and eAxC fields it knows replace `base`'s.
    pub fn decode_over(&self, base: &ecpri::frame::DecodeConfig) -> ecpri::frame::DecodeConfig {
        let mut d = *base;
        if let Some(c) = self.get(Field::DlComp).and_then(UdCompHdr::from_spec) {
            d.dl_comp = c;
        }
        if let Some(c) = self.get(Field::UlComp).and_then(UdCompHdr::from_spec) {
            d.ul_comp = c;
        }
        if let Some(m) = self.get(Field::CompHdr).and_then(CompHdrMode::from_name) {
            d.comp_hdr = m;
        }
        if let Some(l) = self.get(Field::EaxcBits).and_then(EaxcLayout::from_spec) {
            d.eaxc = l;
        }
        d
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_each_form() {
        for (line, want) in [
            ("dl_comp bfp:9 -> bfp:12", "dl_comp bfp:9 -> bfp:12"),
            ("eaxc_bits/dl 4,4,4,4 -> 2,6,4,4", "eaxc_bits/dl 4,4,4,4 -> 2,6,4,4"),
            ("comp_hdr present->absent", "comp_hdr present -> absent"),
            ("vlan * -> 5", "vlan * -> 5"),
            ("vlan 21 -> none", "vlan 21 -> none"),
            ("seq_id * -> renumbered", "seq_id * -> renumbered"),
        ] {
            assert_eq!(Effect::parse(line).map(|e| e.to_string()).as_deref(), Ok(want), "{line}");
        }
    }

    #[test]
    fn bad_lines_name_what_is_wrong() {
        for (line, why) in [
            ("dl_comp bfp:9", "expected `FIELD FROM -> TO`"),
            ("mtu 1500 -> 9000", "unknown field `mtu`"),
            ("dl_comp bfp:17 -> bfp:12", "`bfp:17` is not METHOD:WIDTH"),
            ("vlan * -> 4096", "`4096`: expected 0-4094 (4095 is reserved) or none"),
            ("vlan * -> 4095", "`4095`: expected 0-4094 (4095 is reserved) or none"),
            ("comp_hdr/xl present -> absent", "scope `xl`"),
            ("iq * -> two words", "a note is one word"),
        ] {
            let e = Effect::parse(line).unwrap_err();
            assert!(e.why.contains(why), "{line}: {e}");
        }
    }

    #[test]
    fn folding_follows_from_and_scope() {
        let mut f = Format::of_side(&ecpri::frame::DecodeConfig { dl_comp: UdCompHdr::from_spec("bfp:9").unwrap(), ..Default::default() }, None);
        let widen = Effect::parse("dl_comp bfp:9 -> bfp:12").unwrap();
        assert_eq!(f.apply(&widen, Scope::Ul), None);
        assert_eq!(f.get(Field::DlComp), Some("bfp:9"), "a DL field does not change in the UL direction");
        assert_eq!(f.apply(&widen, Scope::Dl), None);
        assert_eq!(f.get(Field::DlComp), Some("bfp:12"));
        // From another value: unchanged, and said.
        let s = f.apply(&widen, Scope::Dl).unwrap();
        assert_eq!((s.had.as_str(), f.get(Field::DlComp)), ("bfp:12", Some("bfp:12")));
        let retag = Effect::parse("vlan/ul * -> 7").unwrap();
        f.apply(&retag, Scope::Dl);
        assert_eq!(f.get(Field::Vlan), Some("none"));
        f.apply(&retag, Scope::Ul);
        assert_eq!(f.get(Field::Vlan), Some("7"));
        assert_eq!(f.decode_over(&Default::default()).dl_comp, UdCompHdr::from_spec("bfp:12").unwrap());
    }
}
