//! Checking a chain before a packet moves: DU profile ∘ chain = RU
//! profile for DL U-plane, RU profile ∘ chain = DU profile for UL, with
//! an error naming flow, field, what the chain gives and what the side
//! wants.

use crate::config::profile::Profile;
use crate::pipeline::egress::{FlowFormat, FlowFormats};
use crate::translate::effect::{Field, Format, Scope};
use crate::translate::ChainSpec;

use super::fold::{compare, direction_format, flow_starts, format_of_profile, Declarations, FlowStart, FoldError, Folded, Mismatch};

/// A direction's egress format: the one most flows leave in, and the
/// flows (PRACH, SRS, flows only some chains convert) with a compression
/// of their own, as egress's table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EgressFormat {
    /// The direction's format.
    pub format: Format,
    /// Flows read with their own compression.
    pub flows: FlowFormats,
}

impl EgressFormat {
    /// From a fold of direction `dir`; too many flows of their own is an error.
    pub fn of(f: &Folded, dir: Scope) -> Result<EgressFormat, String> {
        let (comp, data_direction) = if dir == Scope::Ul { (Field::UlComp, 0) } else { (Field::DlComp, 1) };
        let mut flows = FlowFormats::NONE;
        for o in &f.flows {
            // A flow whose compression is unknown reads with the direction's.
            let Some(c) = o.format.get(comp).and_then(ecpri::UdCompHdr::from_spec) else { continue };
            let entry = FlowFormat { data_direction: Some(data_direction), eaxc_value: o.eaxc_value, eaxc_mask: o.eaxc_mask, vlan: o.vlan, comp: c };
            flows.push(entry).map_err(|e| format!("{}: {e}", o.what))?;
        }
        Ok(EgressFormat { format: f.format.clone(), flows })
    }
}

/// What checking one direction found.
pub enum Verdict {
    /// The chain turns one side's format into the other's.
    Verified(Folded),
    /// It does not, field by field.
    Mismatch(Vec<Mismatch>),
    /// A translator declares nothing: the chain cannot be checked.
    Unverifiable(FoldError),
}

/// Checks `chains` in direction `dir` (DL: `du` → `ru`; UL: `ru` → `du`).
pub fn verify(chains: &[ChainSpec], decl: &Declarations, du: &Profile, ru: &Profile, dir: Scope) -> Result<Verdict, FoldError> {
    let (fdu, fru) = (format_of_profile(du), format_of_profile(ru));
    let own = if dir == Scope::Ul { flow_starts(ru, du, &fru, dir) } else { flow_starts(du, ru, &fdu, dir) };
    verify_formats(chains, decl, &fdu, &fru, &own, dir)
}

/// [`verify`] on the sides' formats; `own` are the flows with a
/// compression of their own and the one the receiving side wants for each.
fn verify_formats(chains: &[ChainSpec], decl: &Declarations, du: &Format, ru: &Format, own: &[(FlowStart, Option<String>)], dir: Scope) -> Result<Verdict, FoldError> {
    let (from, to) = if dir == Scope::Ul { (ru, du) } else { (du, ru) };
    let starts: Vec<FlowStart> = own.iter().map(|(s, _)| s.clone()).collect();
    match direction_format(chains, decl, from, &starts, dir) {
        Ok(f) => {
            let mut m = compare(&f.format, to, dir);
            // Each PRACH/SRS flow against what the receiving side wants for
            // it; the flows of a chain limited to some eAxCs against the
            // side's own compression, unless the chain takes only PRACH/SRS flows.
            let comp = if dir == Scope::Ul { Field::UlComp } else { Field::DlComp };
            let ids: Vec<u16> = own.iter().map(|(s, _)| s.eaxc).collect();
            let mut starts = own.iter();
            for out in &f.flows {
                let mut wanted = to.clone();
                match out.start {
                    Some(_) => wanted.set(comp, starts.next().and_then(|(_, w)| w.clone())),
                    None if only_among(out.eaxc_value, out.eaxc_mask, &ids) => continue,
                    None => {}
                }
                m.extend(compare(&out.format, &wanted, dir).into_iter().filter(|x| x.field == comp).map(|mut x| {
                    x.flow = format!("{} {}", x.flow, out.what);
                    x
                }));
            }
            Ok(if m.is_empty() { Verdict::Verified(f) } else { Verdict::Mismatch(m) })
        }
        Err(e @ FoldError::Undeclared { .. }) => Ok(Verdict::Unverifiable(e)),
        Err(e) => Err(e),
    }
}

/// Whether every eAxC `eaxc & mask == value` is one of `ids`.
fn only_among(value: u16, mask: u16, ids: &[u16]) -> bool {
    let free = mask.count_zeros();
    // More matching IDs than listed ones cannot all be listed.
    if 1usize << free > ids.len() {
        return false;
    }
    ids.iter().filter(|&&i| i & mask == value & mask).count() == 1 << free
}

/// The refusal text for mismatches, one per line.
pub fn refusal(m: &[Mismatch]) -> String {
    mismatch_text(m, "refused before any packet moved")
}

fn mismatch_text(m: &[Mismatch], what_happened: &str) -> String {
    let lines: Vec<String> = m.iter().map(|m| m.to_string()).collect();
    format!("the chain does not turn one side's profile into the other's ({what_happened}):\n  {}", lines.join("\n  "))
}

/// Why [`check_config`] refused a configuration.
#[derive(Debug)]
pub enum CheckError {
    /// The sides' profiles or the translators' declarations could not be read.
    Read(String),
    /// The chain does not turn one side's profile into the other's, mismatch by mismatch.
    Mismatch(Vec<Mismatch>),
}

impl CheckError {
    /// The text for a refused reload (SIGHUP) of a running gateway, whose
    /// packets have been moving all along under the old chain.
    pub fn on_reload(&self) -> String {
        match self {
            CheckError::Read(e) => e.clone(),
            CheckError::Mismatch(m) => mismatch_text(m, "reload refused; the running chain carries on"),
        }
    }

    /// The text for a refused control API change of a running gateway.
    pub fn on_change(&self) -> String {
        match self {
            CheckError::Read(e) => e.clone(),
            CheckError::Mismatch(m) => mismatch_text(m, "refused; the running chains carry on"),
        }
    }
}

impl std::fmt::Display for CheckError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CheckError::Read(e) => f.write_str(e),
            CheckError::Mismatch(m) => f.write_str(&refusal(m)),
        }
    }
}

/// `run`'s check of a configuration's chains against its sides: the keys
/// `[du]` and `[ru]` give (inline or by profile) must match what the
/// chains make of the other side's, in both directions. Returns each
/// direction's egress format (DL, UL) where every translator declares its
/// effects; an error lists every mismatch. Only the directions `runs`
/// says carry traffic (DL, UL) are checked.
pub fn check_config(text: &str, chains: &[ChainSpec], runs: [bool; 2]) -> Result<[Option<EgressFormat>; 2], CheckError> {
    let read = |e: String| CheckError::Read(e);
    let (pdu, pru) = crate::config::profile::side_profiles(text).map_err(|e| read(e.to_string()))?;
    // A profile without `vlan` is untagged, but a side that leaves `vlan`
    // out of gw.toml says nothing about its tags: unknown, not compared.
    let vlan_given = crate::config::profile::sides_give(text, "vlan").map_err(|e| read(e.to_string()))?;
    let [du, ru] = [(&pdu, vlan_given[0]), (&pru, vlan_given[1])].map(|(p, given)| {
        let mut f = format_of_profile(p);
        if !given {
            f.set(Field::Vlan, None);
        }
        f
    });
    let decl = Declarations::read(chains).map_err(|e| read(e.to_string()))?;
    let mut out = [None, None];
    let mut bad = Vec::new();
    for (i, dir) in [Scope::Dl, Scope::Ul].into_iter().enumerate().filter(|(i, _)| runs[*i]) {
        let own = if dir == Scope::Ul { flow_starts(&pru, &pdu, &ru, dir) } else { Vec::new() };
        match verify_formats(chains, &decl, &du, &ru, &own, dir).map_err(|e| read(e.to_string()))? {
            Verdict::Verified(f) => out[i] = Some(EgressFormat::of(&f, dir).map_err(read)?),
            Verdict::Mismatch(m) => bad.extend(m),
            Verdict::Unverifiable(e) => tracing::warn!("{}: not verified against the profiles: {e}", super::fold::flow_name(dir)),
        }
    }
    if bad.is_empty() {
        Ok(out)
    } else {
        Err(CheckError::Mismatch(bad))
    }
}

#[cfg(test)]
mod tests {
    use super::only_among;

    #[test]
    fn a_selector_is_among_the_listed_ids_only_when_each_match_is_listed() {
        // 0x0002/0xfffe matches 2 and 3.
        assert!(only_among(2, 0xfffe, &[2, 3]));
        assert!(only_among(3, 0xfffe, &[3, 2, 7]));
        assert!(!only_among(2, 0xfffe, &[2]), "3 matches too");
        assert!(!only_among(0, 0xfffc, &[0, 1, 2]), "4 IDs match, 3 listed");
        assert!(only_among(5, 0xffff, &[5]));
        assert!(!only_among(5, 0xffff, &[4]));
        assert!(!only_among(0, 0, &[0, 1, 2, 3]), "every eAxC");
    }
}
