//! Checking a chain before a packet moves: DU profile ∘ chain = RU
//! profile for DL U-plane, RU profile ∘ chain = DU profile for UL, with
//! an error naming flow, field, what the chain gives and what the side
//! wants.

use crate::config::profile::Profile;
use crate::translate::effect::{Field, Format, Scope};
use crate::translate::ChainSpec;

use super::fold::{compare, direction_format, format_of_profile, Declarations, FoldError, Folded, Mismatch};

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
    verify_formats(chains, decl, &format_of_profile(du), &format_of_profile(ru), dir)
}

/// [`verify`] on the sides' formats.
fn verify_formats(chains: &[ChainSpec], decl: &Declarations, du: &Format, ru: &Format, dir: Scope) -> Result<Verdict, FoldError> {
    let (from, to) = if dir == Scope::Ul { (ru, du) } else { (du, ru) };
    match direction_format(chains, decl, from, dir) {
        Ok(f) => {
            let m = compare(&f.format, to, dir);
            Ok(if m.is_empty() { Verdict::Verified(f) } else { Verdict::Mismatch(m) })
        }
        Err(e @ FoldError::Undeclared { .. }) => Ok(Verdict::Unverifiable(e)),
        Err(e) => Err(e),
    }
}

/// The refusal text for mismatches, one per line.
pub fn refusal(m: &[Mismatch]) -> String {
    let lines: Vec<String> = m.iter().map(|m| m.to_string()).collect();
    format!("the chain does not turn one side's profile into the other's (refused before any packet moved):\n  {}", lines.join("\n  "))
}

/// `run`'s check of a configuration's chains against its sides: the keys
/// `[du]` and `[ru]` give (inline or by profile) must match what the
/// chains make of the other side's, in both directions. Returns each
/// direction's egress format (DL, UL) where every translator declares its
/// effects; an error lists every mismatch. Only the directions `runs`
/// says carry traffic (DL, UL) are checked.
pub fn check_config(text: &str, chains: &[ChainSpec], runs: [bool; 2]) -> Result<[Option<crate::translate::effect::Format>; 2], String> {
    let (du, ru) = crate::config::profile::side_profiles(text).map_err(|e| e.to_string())?;
    // A profile without `vlan` is untagged, but a side that leaves `vlan`
    // out of gw.toml says nothing about its tags: unknown, not compared.
    let vlan_given = crate::config::profile::sides_give(text, "vlan").map_err(|e| e.to_string())?;
    let [du, ru] = [(&du, vlan_given[0]), (&ru, vlan_given[1])].map(|(p, given)| {
        let mut f = format_of_profile(p);
        if !given {
            f.set(Field::Vlan, None);
        }
        f
    });
    let decl = Declarations::read(chains).map_err(|e| e.to_string())?;
    let mut out = [None, None];
    let mut bad = Vec::new();
    for (i, dir) in [Scope::Dl, Scope::Ul].into_iter().enumerate().filter(|(i, _)| runs[*i]) {
        match verify_formats(chains, &decl, &du, &ru, dir).map_err(|e| e.to_string())? {
            Verdict::Verified(f) => out[i] = Some(f.format),
            Verdict::Mismatch(m) => bad.extend(m),
            Verdict::Unverifiable(e) => tracing::warn!("{}: not verified against the profiles: {e}", super::fold::flow_name(dir)),
        }
    }
    if bad.is_empty() {
        Ok(out)
    } else {
        Err(refusal(&bad))
    }
}
