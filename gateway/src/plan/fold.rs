//! Folding a chain's declared effects over a side's format: what each
//! direction's egress carries, and whether it is what the other side
//! wants (DU profile ∘ chain = RU profile).

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use crate::config::profile::Profile;
use crate::translate::abi::plane;
use crate::translate::effect::{Effect, Field, Format, Scope, Skipped};
use crate::translate::{ChainSpec, TranslatorSpec};

/// A side's format from a profile: the keys it gives, unknown elsewhere;
/// no `vlan` is untagged (as the profile's own doc says).
pub fn format_of_profile(p: &Profile) -> Format {
    let mut f = Format::default();
    let canon = |field, v: &str| crate::translate::effect::canonical(field, v).ok();
    f.set(Field::DlComp, p.dl_comp.as_deref().and_then(|v| canon(Field::DlComp, v)));
    f.set(Field::UlComp, p.ul_comp.as_deref().and_then(|v| canon(Field::UlComp, v)));
    f.set(Field::CompHdr, p.comp_hdr.as_deref().and_then(|v| canon(Field::CompHdr, v)));
    f.set(Field::EaxcBits, p.eaxc_bits.as_deref().and_then(|v| canon(Field::EaxcBits, v)));
    f.set(Field::Vlan, Some(p.vlan.map_or("none".into(), |v| v.to_string())));
    f
}

/// A format from decoding flags (`--dl-comp` and the rest): VLAN unknown,
/// udCompHdr unknown under `auto`.
pub fn format_of_decode(d: &ecpri::frame::DecodeConfig) -> Format {
    let mut f = Format::of_side(d, None);
    f.set(Field::Vlan, None);
    f
}

/// The fields a direction's egress format is compared on.
pub fn fields_of(dir: Scope) -> [Field; 4] {
    match dir {
        Scope::Ul => [Field::CompHdr, Field::UlComp, Field::EaxcBits, Field::Vlan],
        _ => [Field::CompHdr, Field::DlComp, Field::EaxcBits, Field::Vlan],
    }
}

/// `DL U-plane` / `UL U-plane`.
pub fn flow_name(dir: Scope) -> &'static str {
    match dir {
        Scope::Ul => "UL U-plane",
        _ => "DL U-plane",
    }
}

/// One translator of a chain and what it declared (`None`: it does not
/// declare effects, so what it changes is unknown).
#[derive(Debug, Clone)]
pub struct Stage {
    /// Its name.
    pub name: String,
    /// Its declared effects.
    pub effects: Option<Vec<Effect>>,
}

/// Why a direction's egress format cannot be worked out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FoldError {
    /// A translator failed to instantiate or declared an effect the host refuses.
    Load(String),
    /// A translator declares no effects (ABI v2 before effects).
    Undeclared {
        /// Its name.
        translator: String,
    },
    /// Two chains (or a chain and the flows no chain takes) leave one
    /// direction's U-plane in different formats; egress has one.
    Conflict {
        /// `DL U-plane` or `UL U-plane`.
        flow: &'static str,
        /// The field.
        field: Field,
        /// The two values.
        values: (String, String),
    },
}

impl fmt::Display for FoldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FoldError::Load(e) => f.write_str(e),
            FoldError::Undeclared { translator } => {
                write!(f, "translator {translator} declares no effects (it does not import fhgate.effect), so what it changes is unknown")
            }
            FoldError::Conflict { flow, field, values } => write!(
                f,
                "{flow} {}: the chains leave flows in two formats, {} and {}; egress reads one per direction",
                field.name(),
                values.0,
                values.1
            ),
        }
    }
}

impl std::error::Error for FoldError {}

/// What a direction's chains make of a format.
#[derive(Debug, Clone, Default)]
pub struct Folded {
    /// The egress format.
    pub format: Format,
    /// Effects that did not apply (the field held another value), by translator.
    pub skipped: Vec<(String, Skipped)>,
    /// Effects on notes (`seq_id`, `iq`), by translator.
    pub notes: Vec<(String, Effect)>,
}

/// Folds `stages` in order over `start` for traffic in direction `dir`.
pub fn fold(start: &Format, stages: &[Stage], dir: Scope) -> Result<Folded, FoldError> {
    let mut out = Folded { format: start.clone(), ..Folded::default() };
    for s in stages {
        let Some(effects) = &s.effects else { return Err(FoldError::Undeclared { translator: s.name.clone() }) };
        for e in effects {
            if !e.field.is_format() {
                out.notes.push((s.name.clone(), e.clone()));
            } else if let Some(k) = out.format.apply(e, dir) {
                out.skipped.push((s.name.clone(), k));
            }
        }
    }
    Ok(out)
}

/// Reads what each translator of `chains` declares, once per spec.
pub struct Declarations(BTreeMap<usize, Option<Vec<Effect>>>);

impl Declarations {
    /// Instantiates each translator of `chains` once (off the hot path).
    pub fn read(chains: &[ChainSpec]) -> Result<Declarations, FoldError> {
        let mut m = BTreeMap::new();
        for c in chains {
            for t in &c.translators {
                let key = Arc::as_ptr(t) as usize;
                if let std::collections::btree_map::Entry::Vacant(v) = m.entry(key) {
                    v.insert(t.declared_effects().map_err(|e| FoldError::Load(e.to_string()))?);
                }
            }
        }
        Ok(Declarations(m))
    }

    fn stages(&self, ts: &[Arc<TranslatorSpec>]) -> Vec<Stage> {
        ts.iter().map(|t| Stage { name: t.name().to_string(), effects: self.0.get(&(Arc::as_ptr(t) as usize)).cloned().flatten() }).collect()
    }
}

/// The egress format of direction `dir`'s U-plane: `start` folded through
/// the chains that take that direction's U-plane. A chain limited to some
/// eAxCs or VLANs leaves the other flows as they came; every way must end
/// in one format.
pub fn direction_format(chains: &[ChainSpec], decl: &Declarations, start: &Format, dir: Scope) -> Result<Folded, FoldError> {
    let want_dir = if dir == Scope::Ul { 0 } else { 1 };
    let mut results: Vec<Folded> = Vec::new();
    let mut total = false;
    for c in chains {
        let s = &c.selector;
        if s.direction.is_some_and(|d| d != want_dir) || s.plane.is_some_and(|p| p != plane::U) {
            continue;
        }
        results.push(fold(start, &decl.stages(&c.translators), dir)?);
        if s.eaxc_mask == 0 && s.vlan.is_none() {
            total = true;
            break; // first match wins: later chains see none of this direction's U-plane
        }
    }
    if !total {
        results.push(Folded { format: start.clone(), ..Folded::default() });
    }
    let first = results.remove(0);
    for r in &results {
        for field in fields_of(dir) {
            let (a, b) = (first.format.get(field), r.format.get(field));
            if a != b {
                let show = |v: Option<&str>| v.unwrap_or("unknown").to_string();
                return Err(FoldError::Conflict { flow: flow_name(dir), field, values: (show(a), show(b)) });
            }
        }
    }
    Ok(first)
}

/// One field the chain gets wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    /// `DL U-plane` or `UL U-plane`.
    pub flow: &'static str,
    /// The field.
    pub field: Field,
    /// What the chain produces.
    pub gives: String,
    /// What the receiving side's profile wants.
    pub wants: String,
    /// `RU` or `DU`: the receiving side.
    pub side: &'static str,
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: chain gives {}, {} profile wants {}", self.flow, self.field.name(), self.gives, self.side, self.wants)
    }
}

/// The fields where `produced` (the fold) differs from `wanted` (the
/// receiving side's profile) in direction `dir`; unknown values are not
/// compared.
pub fn compare(produced: &Format, wanted: &Format, dir: Scope) -> Vec<Mismatch> {
    let side = if dir == Scope::Ul { "DU" } else { "RU" };
    fields_of(dir)
        .into_iter()
        .filter_map(|field| match (produced.get(field), wanted.get(field)) {
            (Some(g), Some(w)) if g != w => Some(Mismatch { flow: flow_name(dir), field, gives: g.into(), wants: w.into(), side }),
            _ => None,
        })
        .collect()
}
