//! Differences that exist only in the C-plane, which no declared effect
//! names: the udCompHdr a DU's C-plane carries where it disagrees with its
//! U-plane (learned `cplane_comp`), and section types and extensions the
//! RU's profile never saw. `plan` names each, bridged or not, so none passes silently.

use crate::config::profile::Profile;
use crate::translate::effect::{canonical, Field, Scope};

use super::derive::{How, Line, Plan};

/// The C-plane lines of a plan whose chains are already derived. The
/// C-plane travels DU → RU through the DL steps, and a compression step
/// rewrites a C-plane udCompHdr that says what it converts from (as
/// bfp_width and comp_convert do with `cplane = true`), so a DU whose
/// C-plane says another compression than its U-plane tells the RU that
/// other one unless a step happens to convert from it; and a step that
/// converts the DL rewrites the UL sections' header too when it says the
/// same, which is wrong when the RU's UL compression is another.
pub fn lines(du: &Profile, ru: &Profile, plan: &Plan) -> Vec<Line> {
    let mut out = Vec::new();
    let canon = |v: Option<&str>| v.and_then(|v| canonical(Field::DlComp, v).ok());
    let said = du.learned.as_ref().map(|l| &l.cplane_comp);
    for (key, uplane, want) in [
        ("dl", canon(du.dl_comp.as_deref()), canon(ru.dl_comp.as_deref())),
        ("ul", canon(du.ul_comp.as_deref()), canon(ru.ul_comp.as_deref())),
        ("prach", canon(du.prach_comp.as_deref().or(du.ul_comp.as_deref())), canon(ru.prach_comp.as_deref().or(ru.ul_comp.as_deref()))),
    ] {
        let Some(u) = uplane else { continue };
        if key == "prach" && du.prach_eaxc.is_none() && ru.prach_eaxc.is_none() && said.is_none_or(|m| !m.contains_key(key)) {
            continue; // no PRACH on either side
        }
        // What the DU's C-plane says: as learned, else (consistent) its U-plane's.
        let x = canon(said.and_then(|m| m.get(key)).map(String::as_str)).unwrap_or_else(|| u.clone());
        // What the DL steps leave of it: each rewrites a header that says its `from`.
        let (mut now, mut by) = (x.clone(), None);
        for (i, s) in plan.dl.iter().enumerate() {
            for e in s.stage.effects.iter().flatten().filter(|e| e.field == Field::DlComp && e.applies_to(Scope::Dl)) {
                if e.from.as_deref() == Some(now.as_str()) {
                    now = e.to.clone();
                    by = Some(i);
                }
            }
        }
        let flow = if key == "prach" { "C-plane section type 3".to_string() } else { format!("C-plane {} sections", key.to_uppercase()) };
        let how = if x == u {
            // Consistent: named only when a DL step rewrote it to what the RU does not have
            // (a step rewrites every header that says its `from`, whatever the sections' direction).
            match (&want, by) {
                (Some(w), Some(i)) if *w != now => How::Unbridged(format!(
                    "the DL chain's {} rewrites every C-plane udCompHdr that says {x}, these sections' too, so the RU is told {now} where its profile has {w}; a compression step that rewrites the C-plane by dataDirection would bridge it",
                    plan.dl[i].describe()
                )),
                _ => continue,
            }
        } else {
            match (&want, by) {
                (None, _) => How::Unknown("RU"),
                (Some(w), Some(i)) if *w == now => How::Translator(i),
                (Some(w), None) if *w == now => How::Egress(format!("the RU is told {w}, as its profile has, though the DU's U-plane is {u} (learned.cplane_comp): nothing to change")),
                (Some(w), _) => How::Unbridged(format!(
                    "the DU's C-plane says {x} where its U-plane is {u} (learned.cplane_comp); the chain's steps rewrite only a udCompHdr that says what they convert, so the RU would be told {now} where its profile has {w}, and no translator declares a C-plane-only udCompHdr change: configure the DU's C-plane compression as its U-plane's"
                )),
            }
        };
        out.push(Line { flow, field: "udCompHdr", from: x, to: want.unwrap_or_else(|| "?".into()), how });
    }
    // Section types and extensions: compared only when both profiles saw a C-plane.
    let keys = |p: &Profile, ext: bool| -> Vec<String> {
        let l = p.learned.iter();
        let m = l.flat_map(|l| if ext { l.section_extensions.keys() } else { l.section_types.keys() });
        m.filter(|k| k.parse::<u8>().is_ok()).cloned().collect()
    };
    if !keys(du, false).is_empty() && !keys(ru, false).is_empty() {
        for (ext, field, what) in [(false, "section_types", "section type"), (true, "section_extensions", "section extension")] {
            let (sent, seen) = (keys(du, ext), keys(ru, ext));
            let new: Vec<&str> = sent.iter().filter(|t| !seen.contains(t)).map(String::as_str).collect();
            if new.is_empty() {
                continue;
            }
            let list = |v: &[String]| if v.is_empty() { "none".to_string() } else { v.join(",") };
            out.push(Line {
                flow: "C-plane".into(),
                field,
                from: list(&sent),
                to: list(&seen),
                how: How::Unbridged(format!(
                    "the DU sends {what} {} that the RU's profile never saw (learned.{field}), and no translator converts {what}s: check the RU supports it, then learn the RU's profile from traffic that has it",
                    new.join(", ")
                )),
            });
        }
    }
    out
}
