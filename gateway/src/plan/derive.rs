//! Deriving a chain from a DU and an RU profile (`fhgate plan`): for each
//! direction and format field where the sides differ, try the `plan`
//! configurations of the translators available (ABI.md §6.1), keep the
//! first whose declared effects turn the DU's value into the RU's without
//! breaking a field already right, and name what nothing bridges.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::config::profile::Profile;
use crate::translate::effect::{Field, Format, Scope};
use crate::translate::{parse_config_pairs, MemoryLog, Runtime, TranslatorModule, TranslatorSpec};

use super::fold::{fields_of, flow_name, flow_starts, fold, format_of_profile, Stage};

/// The translator modules a plan may use: every `.wasm` of a directory.
pub struct Available {
    /// (file, module), by file name.
    pub modules: Vec<(PathBuf, Arc<TranslatorModule>)>,
}

impl Available {
    /// Loads every `.wasm` and `.wat` file of `dir` (sorted by name); a file
    /// that does not load is skipped and said in the returned warnings.
    pub fn load_dir(rt: &Arc<Runtime>, dir: &Path) -> Result<(Available, Vec<String>), String> {
        let rd = std::fs::read_dir(dir).map_err(|e| format!("--translators {}: {e}", dir.display()))?;
        let mut files: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.extension().is_some_and(|x| x == "wasm" || x == "wat")).collect();
        files.sort();
        let (mut modules, mut warnings) = (Vec::new(), Vec::new());
        for f in files {
            match TranslatorModule::load_file(rt, &f) {
                Ok(m) => modules.push((f, m)),
                // Not a translator (a self-test module has no metadata).
                Err(crate::translate::LoadError::Meta(e)) => tracing::debug!("{}: not a translator: {e}", f.display()),
                Err(e) => warnings.push(format!("{}: not used: {e}", f.display())),
            }
        }
        Ok((Available { modules }, warnings))
    }
}

/// One translator the plan puts in a chain.
#[derive(Clone)]
pub struct Step {
    /// Its module file.
    pub path: PathBuf,
    /// Its configuration, `key=value` pairs with TOML values.
    pub config: Vec<(String, String)>,
    /// The spec it was checked with (its declared effects read).
    pub spec: Arc<TranslatorSpec>,
    /// What it declared.
    pub stage: Stage,
}

impl Step {
    /// `bfp_width (in_width=9, out_width=12)`.
    pub fn describe(&self) -> String {
        let cfg: Vec<String> = self.config.iter().map(|(k, v)| format!("{k}={v}")).collect();
        format!("{} ({})", self.stage.name, cfg.join(", "))
    }
}

/// How one difference is bridged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum How {
    /// By the step at this index of its direction's chain.
    Translator(usize),
    /// By the gateway itself (egress splits at the RU's MTU).
    Egress(String),
    /// A side does not give the value: not compared.
    Unknown(&'static str),
    /// Nothing available bridges it; what would.
    Unbridged(String),
    /// By the chain of its own at this index of [`Plan::own`].
    Own(usize),
}

/// One line of a plan: a field that differs, and how it is bridged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// `DL U-plane`, `UL U-plane`, `UL U-plane PRACH eAxC 0x0002`,
    /// `C-plane ...` (bridged by the DL chain), or `carrier` for side-wide keys.
    pub flow: String,
    /// The key.
    pub field: &'static str,
    /// What the traffic has where it comes in, and what the other side wants.
    pub from: String,
    /// What the receiving side wants.
    pub to: String,
    /// How.
    pub how: How,
}

/// A derived plan: a chain per direction and one line per difference.
pub struct Plan {
    /// DU → RU (DL U-plane; also run on the C-plane that schedules UL).
    pub dl: Vec<Step>,
    /// RU → DU (UL U-plane).
    pub ul: Vec<Step>,
    /// Chains of their own for PRACH/SRS eAxCs whose compression the UL
    /// chain does not take where the DU wants it; they come first.
    pub own: Vec<OwnChain>,
    /// Every difference, in order.
    pub lines: Vec<Line>,
}

/// A UL U-plane chain for one eAxC (`dir=ul,plane=u,eaxc=ID/0xffff`): a
/// translator for its compression, then the UL chain's other steps
/// (eAxC split, VLAN), so the flow gets those too.
#[derive(Clone)]
pub struct OwnChain {
    /// The eAxC ID (as it arrives).
    pub eaxc: u16,
    /// Its translators, the compression first.
    pub steps: Vec<Step>,
}

impl OwnChain {
    /// Its selector, as gw.toml writes it.
    pub fn select(&self) -> String {
        format!("dir=ul,plane=u,eaxc={:#06x}/0xffff", self.eaxc)
    }

    /// `bfp_width (...) on a chain of its own (SELECTOR)`, and the UL
    /// chain's steps it composes with.
    fn describe(&self) -> String {
        let rest: Vec<String> = self.steps[1..].iter().map(Step::describe).collect();
        let with = if rest.is_empty() { String::new() } else { format!(", then the UL chain's {}", rest.join(", ")) };
        format!("{} on a chain of its own ({}{with})", self.steps[0].describe(), self.select())
    }
}

impl Plan {
    /// The differences nothing bridges.
    pub fn unbridged(&self) -> impl Iterator<Item = &Line> {
        self.lines.iter().filter(|l| matches!(l.how, How::Unbridged(_)))
    }

    /// The text of one line: `DL U-plane dl_comp: bfp:9 -> bfp:12: bfp_width (...)`.
    pub fn line_text(&self, l: &Line) -> String {
        let how = match &l.how {
            How::Translator(i) => {
                let chain = if l.flow.starts_with("UL") { &self.ul } else { &self.dl };
                format!("bridged by {}", chain[*i].describe())
            }
            How::Egress(s) => s.clone(),
            How::Unknown(side) => format!("not compared: the {side} profile does not give it"),
            How::Unbridged(s) => format!("NOT BRIDGED: {s}"),
            How::Own(i) => format!("bridged by {}", self.own[*i].describe()),
        };
        format!("{} {}: {} -> {}: {how}", l.flow, l.field, l.from, l.to)
    }
}

/// `{du.KEY}`, `{ru.KEY}`, `{du.KEY.width}`, `{du.KEY.method}` filled
/// from the two formats; `None` when a value is unknown or the template
/// names something else.
pub fn fill(template: &str, du: &Format, ru: &Format) -> Option<String> {
    let mut out = String::new();
    let mut rest = template;
    while let Some(i) = rest.find('{') {
        out.push_str(&rest[..i]);
        let j = rest[i..].find('}')? + i;
        let name = &rest[i + 1..j];
        let mut parts = name.splitn(3, '.');
        let (side, key, part) = (parts.next()?, parts.next()?, parts.next());
        let f = match side {
            "du" => du,
            "ru" => ru,
            _ => return None,
        };
        let v = f.get(Field::from_name(key)?)?;
        out.push_str(match part {
            None => v,
            Some("method") => v.split_once(':')?.0,
            Some("width") => v.split_once(':')?.1,
            Some(_) => return None,
        });
        rest = &rest[j + 1..];
    }
    out.push_str(rest);
    Some(out)
}

/// Whether `after` keeps every compared field that `before` had right.
fn keeps(before: &Format, after: &Format, want: &Format, dir: Scope) -> bool {
    fields_of(dir).iter().all(|&f| before.get(f) != want.get(f) || want.get(f).is_none() || after.get(f) == want.get(f))
}

/// The first `plan` configuration of an available translator that takes
/// `field` from `state` to `want` in direction `dir`.
fn find(avail: &Available, field: Field, state: &Format, want: &Format, du: &Format, ru: &Format, dir: Scope) -> Option<(Step, Format)> {
    for (path, m) in &avail.modules {
        for p in &m.meta().plans {
            let Some((f, template)) = p.split_once(':') else { continue };
            if f != field.name() {
                continue;
            }
            let Some(cfg) = fill(template, du, ru) else { continue };
            let Ok(pairs) = parse_config_pairs(&cfg) else { continue };
            // Quiet: a configuration the translator refuses is just not a candidate.
            let spec = Arc::new(TranslatorSpec::new(m.clone()).with_config(&pairs).with_sink(Arc::new(MemoryLog::default())));
            let Ok(Some(effects)) = spec.declared_effects() else { continue };
            let stage = Stage { name: m.meta().name.clone(), effects: Some(effects) };
            let Ok(after) = fold(state, std::slice::from_ref(&stage), dir) else { continue };
            if after.format.get(field) == want.get(field) && keeps(state, &after.format, want, dir) {
                return Some((Step { path: path.clone(), config: pairs, spec, stage }, after.format));
            }
        }
    }
    None
}

/// Derives the chains that take the DU's format to the RU's (DL) and the
/// RU's to the DU's (UL) from `avail`.
pub fn derive(du: &Profile, ru: &Profile, avail: &Available) -> Plan {
    let (fdu, fru) = (format_of_profile(du), format_of_profile(ru));
    let mut plan = Plan { dl: Vec::new(), ul: Vec::new(), own: Vec::new(), lines: Vec::new() };
    for dir in [Scope::Dl, Scope::Ul] {
        let (mut state, want) = if dir == Scope::Dl { (fdu.clone(), &fru) } else { (fru.clone(), &fdu) };
        let (from_side, to_side) = if dir == Scope::Dl { ("DU", "RU") } else { ("RU", "DU") };
        for field in fields_of(dir) {
            let (have, wanted) = (state.get(field).map(String::from), want.get(field).map(String::from));
            let line = |from: &str, to: &str, how| Line { flow: flow_name(dir).into(), field: field.name(), from: from.into(), to: to.into(), how };
            match (have, wanted) {
                (Some(h), Some(w)) if h == w => {}
                (None, Some(w)) => plan.lines.push(line("?", &w, How::Unknown(from_side))),
                (Some(h), None) => plan.lines.push(line(&h, "?", How::Unknown(to_side))),
                (None, None) => {}
                (Some(h), Some(w)) => {
                    let how = match find(avail, field, &state, want, &fdu, &fru, dir) {
                        Some((step, after)) => {
                            state = after;
                            let chain = if dir == Scope::Dl { &mut plan.dl } else { &mut plan.ul };
                            chain.push(step);
                            How::Translator(chain.len() - 1)
                        }
                        None => How::Unbridged(format!(
                            "no translator available declares `{}{} {h} -> {w}` for a `plan={}:...` configuration",
                            field.name(),
                            if field == Field::DlComp || field == Field::UlComp { "" } else if dir == Scope::Dl { "/dl" } else { "/ul" },
                            field.name()
                        )),
                    };
                    plan.lines.push(line(&h, &w, how));
                }
            }
        }
    }
    own_flows(du, ru, &fdu, &fru, avail, &mut plan);
    own_flow_ids(du, ru, &fdu, &fru, &mut plan.lines);
    let c = super::cplane::lines(du, ru, &plan);
    plan.lines.extend(c);
    side_wide(du, ru, &mut plan.lines);
    plan
}

/// The PRACH/SRS flows with a compression of their own (`prach_comp`,
/// `srs_comp`): each folded through the UL chain the plan derived (a
/// translator whose declared `FROM` is the data's width leaves them as
/// they are). One that does not leave as the DU wants gets a chain of
/// its own: a translator that converts it, then the UL chain's other
/// steps ([`own_chain`]); otherwise it is named with both values and why.
fn own_flows(du: &Profile, ru: &Profile, fdu: &Format, fru: &Format, avail: &Available, plan: &mut Plan) {
    let stages: Vec<Stage> = plan.ul.iter().map(|s| s.stage.clone()).collect();
    for (start, want) in flow_starts(ru, du, fru, Scope::Ul) {
        let (Some(have), Some(want)) = (start.format.get(Field::UlComp).map(String::from), want) else { continue };
        let Ok(after) = fold(&start.format, &stages, Scope::Ul) else { continue };
        let gives = after.format.get(Field::UlComp).unwrap_or("?").to_string();
        if have == want && gives == want {
            continue;
        }
        let how = if gives == want {
            let i = (0..stages.len()).rev().find(|&i| fold(&start.format, &stages[..i], Scope::Ul).ok().and_then(|f| f.format.get(Field::UlComp).map(|c| c != want)).unwrap_or(false));
            match i {
                Some(i) => How::Translator(i),
                None => continue,
            }
        } else {
            match own_chain(start.eaxc, &start.format, &have, &want, fdu, fru, avail, plan) {
                Ok(i) => How::Own(i),
                Err(why) => How::Unbridged(format!(
                    "the UL chain leaves this flow at {gives}{}; {why}",
                    if gives == have { " (no declared effect of its translators applies to it)" } else { "" },
                )),
            }
        };
        let field = if start.kind == "PRACH" { "prach_comp" } else { "srs_comp" };
        plan.lines.push(Line { flow: format!("UL U-plane {} eAxC {:#06x}", start.kind, start.eaxc), field, from: have, to: want, how });
    }
}

/// A chain of its own for eAxC `eaxc` (arriving as `start`, at `have`),
/// taking it to `want`: the first `plan=ul_comp:` configuration whose
/// declared effects do it (filled as if the sides' ul_comp were the
/// flow's), then the UL chain's steps that do not touch ul_comp (eAxC
/// split, VLAN) in order. The composed chain must leave the flow as the
/// UL chain leaves the data in every other field; a UL chain that changes
/// udCompHdr presence cannot be composed (its insert writes the data's
/// compression). `Err` says why, and what would bridge it.
#[allow(clippy::too_many_arguments)]
fn own_chain(eaxc: u16, start: &Format, have: &str, want: &str, fdu: &Format, fru: &Format, avail: &Available, plan: &mut Plan) -> Result<usize, String> {
    let touches = |s: &Step, f: Field| s.stage.effects.iter().flatten().any(|e| e.field == f);
    let by_hand = format!("give this eAxC a chain of its own ([[chain]] select = \"dir=ul,plane=u,eaxc={eaxc:#06x}/0xffff\") with a translator that declares `ul_comp {have} -> {want}`");
    if let Some(s) = plan.ul.iter().find(|s| touches(s, Field::CompHdr)) {
        return Err(format!("the UL chain's {} changes udCompHdr presence, which a chain of its own cannot repeat at this flow's compression; {by_hand} and one for comp_hdr", s.describe()));
    }
    let (mut du, mut ru) = (fdu.clone(), fru.clone());
    du.set(Field::UlComp, Some(want.to_string()));
    ru.set(Field::UlComp, Some(have.to_string()));
    let mut wanted = start.clone();
    wanted.set(Field::UlComp, Some(want.to_string()));
    let Some((step, _)) = find(avail, Field::UlComp, start, &wanted, &du, &ru, Scope::Ul) else {
        return Err(format!("no translator available declares `ul_comp {have} -> {want}` for a `plan=ul_comp:...` configuration; {by_hand}"));
    };
    let mut steps = vec![step];
    steps.extend(plan.ul.iter().filter(|s| !touches(s, Field::UlComp)).cloned());
    // The flow must leave as the data does in every field but the compression.
    let stages = |v: &[Step]| v.iter().map(|s| s.stage.clone()).collect::<Vec<_>>();
    let (Ok(own), Ok(data)) = (fold(start, &stages(&steps), Scope::Ul), fold(start, &stages(&plan.ul), Scope::Ul)) else {
        return Err(format!("its steps do not fold; {by_hand}"));
    };
    for f in fields_of(Scope::Ul).into_iter().filter(|&f| f != Field::UlComp) {
        if own.format.get(f) != data.format.get(f) {
            return Err(format!(
                "without the UL chain's compression steps it would leave with {} {} where the data leaves with {} (a step that changes the compression changes that too); {by_hand}",
                f.name(),
                own.format.get(f).unwrap_or("?"),
                data.format.get(f).unwrap_or("?")
            ));
        }
    }
    if own.format.get(Field::UlComp) != Some(want) {
        return Err(format!("the UL chain's other steps change its compression again; {by_hand}"));
    }
    plan.own.push(OwnChain { eaxc, steps });
    Ok(plan.own.len() - 1)
}

/// PRACH/SRS eAxC IDs both profiles list, but differently once the RU's
/// are read under the DU's split: the RU sends those flows where the DU
/// does not look for them, and no translator maps single eAxC IDs. Named,
/// never passed over as agreeing.
fn own_flow_ids(du: &Profile, ru: &Profile, fdu: &Format, fru: &Format, lines: &mut Vec<Line>) {
    let hex = |v: &[u16]| v.iter().map(|i| format!("{i:#06x}")).collect::<Vec<_>>().join(", ");
    let ids = |v: &[String]| crate::config::profile::parse_eaxc_list(v).unwrap_or_default();
    for kind in crate::config::profile::OWN_FLOW_KINDS {
        let (Some(d), Some(r)) = (du.own_flow(kind).1, ru.own_flow(kind).1) else { continue };
        let mut want = ids(d);
        want.sort_unstable();
        want.dedup();
        let mut sent: Vec<u16> = ids(r).into_iter().map(|id| super::fold::repack(id, fru, fdu).unwrap_or(id)).collect();
        sent.sort_unstable();
        sent.dedup();
        if sent == want {
            continue;
        }
        let name = if kind == "prach" { "PRACH" } else { "SRS" };
        let how = How::Unbridged(format!(
            "the RU sends {name} on eAxC {} (under the DU's split), the DU expects it on {}, and no translator maps single eAxC IDs; configure the RU (M-plane) or the DU with the same {name} eAxC IDs",
            hex(&sent),
            hex(&want)
        ));
        let field = if kind == "prach" { "prach_eaxc" } else { "srs_eaxc" };
        lines.push(Line { flow: format!("UL U-plane {name}"), field, from: hex(&sent), to: hex(&want), how });
    }
}

/// Keys no translator changes: the carrier and numerology must agree; the
/// MTU is egress's to meet.
fn side_wide(du: &Profile, ru: &Profile, lines: &mut Vec<Line>) {
    let line = |field, from: String, to: String, how| Line { flow: "carrier".into(), field, from, to, how };
    // Effects can only name format fields: no translator can be chosen for these keys.
    let fields: Vec<&str> = Field::ALL.into_iter().filter(|f| f.is_format()).map(Field::name).collect();
    let nothing = |k: &str, key: &str, what: &str| {
        How::Unbridged(format!(
            "nothing changes {k}: a translator cannot declare `{key}` (effects name only {}, ABI.md §6.1), and {what}; the DU and the RU must be configured alike",
            fields.join(", ")
        ))
    };
    if let (Some(a), Some(b)) = (du.carrier_prbs, ru.carrier_prbs) {
        if a != b {
            lines.push(line("carrier_prbs", a.to_string(), b.to_string(), nothing("the carrier width", "carrier_prbs", "a carrier of another width moves every section's PRBs and the C-plane's schedule")));
        }
    }
    if let (Some(a), Some(b)) = (du.numerology, ru.numerology) {
        if a != b {
            lines.push(line("numerology", a.to_string(), b.to_string(), nothing("the numerology", "numerology", "another subcarrier spacing changes slot and symbol timing, not a field of the messages")));
        }
    }
    if let (Some(a), Some(b)) = (du.mtu, ru.mtu) {
        if a != b {
            let how = How::Egress(format!("the gateway sends each side at most its mtu (egress splits U-plane at PRB boundaries: {b} towards the RU, {a} towards the DU)"));
            lines.push(line("mtu", a.to_string(), b.to_string(), how));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_fill_from_both_sides_or_not_at_all() {
        let p = |dl: &str, eaxc: &str| format_of_profile(&Profile { dl_comp: Some(dl.into()), eaxc_bits: Some(eaxc.into()), ..Profile::default() });
        let (du, ru) = (p("bfp:9", "4,4,4,4"), p("bfp:12", "2,6,4,4"));
        assert_eq!(fill("in_width={du.dl_comp.width},out_width={ru.dl_comp.width}", &du, &ru).as_deref(), Some("in_width=9,out_width=12"));
        assert_eq!(fill("m=\"{du.dl_comp.method}\",from=\"{du.eaxc_bits}\"", &du, &ru).as_deref(), Some("m=\"bfp\",from=\"4,4,4,4\""));
        assert_eq!(fill("w={du.ul_comp.width}", &du, &ru), None, "unknown value");
        assert_eq!(fill("w={xx.dl_comp}", &du, &ru), None);
        assert_eq!(fill("w={du.nope}", &du, &ru), None);
        assert_eq!(fill("w={du.dl_comp", &du, &ru), None);
    }
}
