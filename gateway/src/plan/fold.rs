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
    /// Flows that need a format of their own at egress pass a translator
    /// that changes the eAxC split, so egress cannot tell them apart.
    Renamed {
        /// Which flows.
        flow: String,
    },
}

impl fmt::Display for FoldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FoldError::Load(e) => f.write_str(e),
            FoldError::Undeclared { translator } => {
                write!(f, "translator {translator} declares no effects (it does not import fhgate.effect), so what it changes is unknown")
            }
            FoldError::Renamed { flow } => write!(
                f,
                "{flow} leave in a compression of their own through a translator that changes the eAxC split: egress cannot tell them apart (give them a chain without the remap, or one compression)"
            ),
            FoldError::Conflict { flow, field, values } => write!(
                f,
                "{flow} {}: the chains leave flows with two values, {} and {}; egress reads one per direction (only the compression may differ per flow)",
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
    /// Flows that leave in a format of their own, first match first; the
    /// rest leave in `format`.
    pub flows: Vec<FlowOut>,
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

/// A U-plane flow (one eAxC) whose format differs from its side's: a
/// PRACH or SRS flow with a compression of its own (`prach_comp`,
/// `srs_comp`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowStart {
    /// `PRACH` or `SRS`.
    pub kind: &'static str,
    /// Its eAxC ID.
    pub eaxc: u16,
    /// Its format where it comes in (the side's, with its compression).
    pub format: Format,
}

/// Flows of one direction that leave in a format of their own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowOut {
    /// What the flows are (`PRACH eAxC 0x0004`, `chain eAxC 0x0000/0xfff0`).
    pub what: String,
    /// eAxC pattern as egress sees it: `eaxc & mask == value`.
    pub eaxc_value: u16,
    /// eAxC mask (0xFFFF: one eAxC).
    pub eaxc_mask: u16,
    /// Innermost VLAN the flows leave with, when the chain selects by VLAN.
    pub vlan: Option<u16>,
    /// Their egress format.
    pub format: Format,
    /// For a [`FlowStart`]: its kind, to compare with the receiving side's.
    pub start: Option<&'static str>,
}

/// The egress format of direction `dir`'s U-plane: `start` folded through
/// the chains that take that direction's U-plane; `flows` (PRACH, SRS)
/// are folded from their own format through the chain that takes their
/// eAxC. A chain limited to some eAxCs or VLANs leaves the other flows as
/// they came. Flows may leave with different compressions (egress reads
/// each with its own, [`Folded::flows`]); the other fields must agree.
pub fn direction_format(chains: &[ChainSpec], decl: &Declarations, start: &Format, flows: &[FlowStart], dir: Scope) -> Result<Folded, FoldError> {
    let want_dir = if dir == Scope::Ul { 0 } else { 1 };
    let takes = |c: &&ChainSpec| c.selector.direction.is_none_or(|d| d == want_dir) && c.selector.plane.is_none_or(|p| p == plane::U);
    let mut groups: Vec<(Option<&ChainSpec>, Folded)> = Vec::new();
    let mut total = false;
    for c in chains.iter().filter(takes) {
        groups.push((Some(c), fold(start, &decl.stages(&c.translators), dir)?));
        if c.selector.eaxc_mask == 0 && c.selector.vlan.is_none() {
            total = true;
            break; // first match wins: later chains see none of this direction's U-plane
        }
    }
    if !total {
        groups.push((None, Folded { format: start.clone(), ..Folded::default() }));
    }
    let comp = if dir == Scope::Ul { Field::UlComp } else { Field::DlComp };
    let (_, mut out) = groups.pop().unwrap_or((None, Folded { format: start.clone(), ..Folded::default() }));
    let agree = |a: &Format, b: &Format| -> Result<(), FoldError> {
        for field in fields_of(dir).into_iter().filter(|&f| f != comp) {
            let (x, y) = (a.get(field), b.get(field));
            if x != y {
                let show = |v: Option<&str>| v.unwrap_or("unknown").to_string();
                return Err(FoldError::Conflict { flow: flow_name(dir), field, values: (show(x), show(y)) });
            }
        }
        Ok(())
    };
    // Egress sees a flow's eAxC after the chain: one that changes the eAxC
    // split leaves flows it cannot name.
    let renames = |f: &Format, from: &Format| f.get(Field::EaxcBits) != from.get(Field::EaxcBits);
    // A flow of its own, folded through the first chain that takes its eAxC.
    let mut own = Vec::new();
    for fs in flows {
        let c = chains.iter().filter(takes).find(|c| fs.eaxc & c.selector.eaxc_mask == c.selector.eaxc_value & c.selector.eaxc_mask && c.selector.vlan.is_none());
        let r = match c {
            Some(c) => fold(&fs.format, &decl.stages(&c.translators), dir)?,
            None => Folded { format: fs.format.clone(), ..Folded::default() },
        };
        agree(&out.format, &r.format)?;
        // Egress sees the ID the chain leaves: the same fields under the split it declares.
        let eaxc = match repack(fs.eaxc, &fs.format, &r.format) {
            Some(id) => id,
            None if r.format.get(comp) != out.format.get(comp) => return Err(FoldError::Renamed { flow: format!("{} eAxC {:#06x}", fs.kind, fs.eaxc) }),
            None => fs.eaxc,
        };
        own.push(FlowOut { what: format!("{} eAxC {:#06x}", fs.kind, fs.eaxc), eaxc_value: eaxc, eaxc_mask: 0xFFFF, vlan: None, format: r.format, start: Some(fs.kind) });
    }
    // Chains limited to some flows, in order: all of them once one leaves
    // another compression, so none shadows the next.
    let differs = groups.iter().any(|(_, g)| g.format.get(comp) != out.format.get(comp));
    for (c, g) in &groups {
        agree(&out.format, &g.format)?;
        let Some(c) = c.filter(|_| differs) else { continue };
        // One eAxC can be named after a new split; a pattern of several cannot.
        let eaxc_value = match (c.selector.eaxc_mask, renames(&g.format, start)) {
            (_, false) => Some(c.selector.eaxc_value),
            (0xFFFF, true) => repack(c.selector.eaxc_value, start, &g.format),
            _ => None,
        };
        let Some(eaxc_value) = eaxc_value else { return Err(FoldError::Renamed { flow: format!("the flows of chain `{}`", c.selector) }) };
        let vlan = c.selector.vlan.map(|v| g.format.get(Field::Vlan).and_then(|x| x.parse().ok()).unwrap_or(v));
        let what = format!("chain `{}`", c.selector);
        own.push(FlowOut { what, eaxc_value, eaxc_mask: c.selector.eaxc_mask, vlan, format: g.format.clone(), start: None });
    }
    for (_, g) in groups {
        out.skipped.extend(g.skipped);
        out.notes.extend(g.notes);
    }
    out.flows = own;
    Ok(out)
}

/// eAxC `id` of a flow in format `from` as it leaves in format `to`: its
/// fields (DU port, band sector, CC, RU port) joined under `to`'s split.
/// The ID as it is when the split does not change; `None` when one split
/// is unknown or the fields do not fit (then egress cannot name the flow).
pub fn repack(id: u16, from: &Format, to: &Format) -> Option<u16> {
    let (a, b) = (from.get(Field::EaxcBits), to.get(Field::EaxcBits));
    if a == b {
        // Unchanged (known or not): the chain leaves the ID as it is.
        return Some(id);
    }
    let (a, b) = (ecpri::EaxcLayout::from_spec(a?)?, ecpri::EaxcLayout::from_spec(b?)?);
    b.join(a.split(id)).ok()
}

/// The PRACH and SRS flows of direction `dir` (both UL) that have a
/// compression of their own on either side: where each starts (the
/// sending side `from`, whose format is `from_fmt`) and the compression the
/// receiving side `to` wants for it. A side that gives `KIND_eaxc` but no
/// `KIND_comp` sends and wants those flows at its `ul_comp`. eAxC IDs are
/// the sending side's list, else the receiving side's repacked under the
/// sending side's split ([`repack`]).
pub fn flow_starts(from: &Profile, to: &Profile, from_fmt: &Format, dir: Scope) -> Vec<(FlowStart, Option<String>)> {
    let mut out = Vec::new();
    if dir != Scope::Ul {
        return out;
    }
    let canon = |v: Option<&str>| v.and_then(|v| crate::translate::effect::canonical(Field::UlComp, v).ok());
    for kind in crate::config::profile::OWN_FLOW_KINDS {
        let ((fc, fi), (tc, ti)) = (from.own_flow(kind), to.own_flow(kind));
        if fc.is_none() && tc.is_none() {
            continue;
        }
        let list = |v: Option<&[String]>| v.map(|v| crate::config::profile::parse_eaxc_list(v).unwrap_or_default());
        // The sending side's IDs; else the receiving side's, under the sending side's split.
        let to_fmt = format_of_profile(to);
        let mut ids: Vec<u16> = match (list(fi), list(ti)) {
            (Some(ids), _) => ids,
            (None, Some(ids)) => ids.into_iter().map(|id| repack(id, &to_fmt, from_fmt).unwrap_or(id)).collect(),
            (None, None) => Vec::new(),
        };
        ids.sort_unstable();
        ids.dedup();
        let start = canon(fc).or_else(|| from_fmt.get(Field::UlComp).map(String::from));
        let want = canon(tc).or_else(|| canon(to.ul_comp.as_deref()));
        let name = if kind == "prach" { "PRACH" } else { "SRS" };
        for eaxc in ids {
            let mut format = from_fmt.clone();
            format.set(Field::UlComp, start.clone());
            out.push((FlowStart { kind: name, eaxc, format }, want.clone()));
        }
    }
    out
}

/// One field the chain gets wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    /// `DL U-plane`, `UL U-plane`, or `UL U-plane PRACH eAxC 0x0004`.
    pub flow: String,
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
            (Some(g), Some(w)) if g != w => Some(Mismatch { flow: flow_name(dir).into(), field, gives: g.into(), wants: w.into(), side }),
            _ => None,
        })
        .collect()
}
