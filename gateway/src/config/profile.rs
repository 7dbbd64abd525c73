//! Interop profiles: one side of the fronthaul as a TOML file (the keys of
//! a `[du]`/`[ru]` section plus a `[learned]` table of facts), written by
//! `fhgate profile learn` and loaded by `[du] profile = "FILE"`.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::ConfigError;

/// The side keys a profile may give; each merges into `[du]`/`[ru]`.
/// `vlan_pcp` is informational: the gateway does not re-mark PCP.
pub const SIDE_KEYS: [&str; 12] =
    ["eaxc_bits", "dl_comp", "ul_comp", "comp_hdr", "carrier_prbs", "numerology", "vlan", "mtu", "prach_comp", "prach_eaxc", "srs_comp", "srs_eaxc"];

/// The U-plane flows that may carry a compression of their own, both UL:
/// PRACH (scheduled by section type 3) and SRS. Keys `KIND_comp` and
/// `KIND_eaxc` (the flows' eAxC IDs).
pub const OWN_FLOW_KINDS: [&str; 2] = ["prach", "srs"];

/// One side of the fronthaul. A key left out is one the sample could not
/// decide (the learner says why in a comment beside where it would be).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// eAxC bit widths `DU,BS,CC,RU` (the most likely split).
    pub eaxc_bits: Option<String>,
    /// DL U-plane compression `METHOD:WIDTH`.
    pub dl_comp: Option<String>,
    /// UL U-plane compression `METHOD:WIDTH`.
    pub ul_comp: Option<String>,
    /// Whether U-plane sections carry udCompHdr: `present` or `absent`.
    pub comp_hdr: Option<String>,
    /// Carrier width in PRBs.
    pub carrier_prbs: Option<u16>,
    /// Numerology µ.
    pub numerology: Option<u8>,
    /// VLAN ID (absent: untagged).
    pub vlan: Option<u16>,
    /// VLAN PCP the side marks its frames with.
    pub vlan_pcp: Option<u8>,
    /// Largest Ethernet payload the side needs.
    pub mtu: Option<usize>,
    /// UL U-plane compression of the PRACH flows (`prach_eaxc`), where it
    /// differs from `ul_comp`.
    pub prach_comp: Option<String>,
    /// eAxC IDs of the PRACH flows (the ecpriRtcid of section type 3), hex.
    pub prach_eaxc: Option<Vec<String>>,
    /// UL U-plane compression of the SRS flows (`srs_eaxc`), where it
    /// differs from `ul_comp`.
    pub srs_comp: Option<String>,
    /// eAxC IDs of the SRS flows, hex.
    pub srs_eaxc: Option<Vec<String>>,
    /// What the learner saw, for the integrator to read.
    pub learned: Option<Learned>,
}

/// Facts the learner saw that have no `[du]`/`[ru]` key.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Learned {
    /// Frames read, over all captures.
    pub frames: u64,
    /// Frames that were eCPRI.
    pub ecpri_frames: u64,
    /// Frames skipped: not eCPRI, or malformed (reasons in `warnings`).
    pub skipped_frames: u64,
    /// Largest frame, bytes (Ethernet header included).
    pub largest_frame: usize,
    /// Largest Ethernet payload, bytes.
    pub largest_payload: usize,
    /// eAxC IDs in use by `PLANE_DIR` (`u_dl`, `c_ul`, ...), as hex.
    pub eaxc_ids: BTreeMap<String, Vec<String>>,
    /// eAxC splits consistent with the IDs, most likely first.
    pub eaxc_bits_candidates: Vec<String>,
    /// C-plane section types and how many sections of each.
    pub section_types: BTreeMap<String, u64>,
    /// C-plane section extensions (by extType) and how many of each.
    pub section_extensions: BTreeMap<String, u64>,
    /// Distinct section type 3 (PRACH) parameter sets.
    pub prach: Vec<Prach>,
    /// seqId behaviour per flow.
    pub seq_id: Vec<SeqFlow>,
    /// C-plane udCompHdr against U-plane compression, per direction:
    /// `consistent` or what disagrees.
    pub cu_consistency: BTreeMap<String, String>,
    /// The udCompHdr the C-plane carries most, per direction (`dl`, `ul`,
    /// and `prach` for section type 3), `METHOD:WIDTH`: what the side
    /// tells its peer, which `plan` compares with the U-plane.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub cplane_comp: BTreeMap<String, String>,
    /// Anything the integrator should know: short samples, bad frames, undecided keys.
    pub warnings: Vec<String>,
}

/// One distinct set of section type 3 parameters.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Prach {
    /// frameStructure byte as `fft=N,scs=N`.
    pub frame_structure: String,
    /// cpLength in samples.
    pub cp_length: u16,
    /// freqOffset in subcarrier spacings.
    pub freq_offset: i32,
    /// startSymbolId.
    pub start_symbol: u8,
    /// Sections seen with these parameters.
    pub count: u64,
}

/// seqId behaviour of one flow (plane, direction, eAxC).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeqFlow {
    /// `u_dl`, `c_ul`, ...
    pub flow: String,
    /// eAxC ID, hex.
    pub eaxc: String,
    /// Messages.
    pub messages: u64,
    /// Times seqId did not follow the previous one by 1 (mod 256).
    pub jumps: u64,
    /// Messages with the E bit clear (radio-transport fragmentation).
    pub e_bit_clear: u64,
    /// Messages with a non-zero subsequence ID.
    pub subseq_nonzero: u64,
}

/// A profile file's errors: the file and key.
fn perr(file: &Path, key: &str, why: impl Into<String>) -> ConfigError {
    // `(file)` is already in parentheses: not `((file))`.
    let key = if key.starts_with('(') { key.to_string() } else { format!("({key})") };
    ConfigError { key: format!("{} {key}", file.display()), why: why.into() }
}

impl Profile {
    /// Parses a profile's text; an unknown key is an error naming it.
    pub fn from_toml(text: &str, file: &Path) -> Result<Profile, ConfigError> {
        toml::from_str(text).map_err(|e| {
            let mut line = e.span().map(|s| text[..s.start].lines().count().max(1)).unwrap_or(0);
            // serde points an unknown key at its table's start: find the key's own line.
            if let Some(key) = e.message().strip_prefix("unknown field `").and_then(|m| m.split('`').next()) {
                let from = line.saturating_sub(1);
                if let Some(i) = text.lines().skip(from).position(|l| l.trim_start().split(['=', ' ']).next() == Some(key)) {
                    line = from + i + 1;
                }
            }
            // toml says only "duplicate key" and points at the table: name the key and both lines.
            if e.message().starts_with("duplicate key") {
                if let Some((key, first, again)) = duplicate_key(text) {
                    return perr(file, &format!("line {again}"), format!("duplicate key `{key}` (first given on line {first})"));
                }
            }
            perr(file, &format!("line {line}"), e.message())
        })
        .and_then(|p: Profile| {
            // An empty profile would compare nothing and check as "ok".
            if p.describes_nothing() {
                return Err(perr(file, "(file)", "sets none of the profile keys (eaxc_bits, dl_comp, ul_comp, comp_hdr, carrier_prbs, numerology, vlan, mtu, ...): it describes nothing to check against"));
            }
            Ok(p)
        })
    }

    /// True when no key describing the side is set (`learned` alone does not).
    fn describes_nothing(&self) -> bool {
        Profile { learned: None, ..self.clone() } == Profile::default()
    }
}

/// The first key given twice in one table of `text`: (key, first line,
/// second line), 1-based. A plain line scan, enough for the flat tables
/// of a profile.
pub(super) fn duplicate_key(text: &str) -> Option<(String, usize, usize)> {
    // Keys are per table occurrence: each `[[translator]]` is a table of its own.
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for (i, l) in text.lines().enumerate() {
        let l = l.trim();
        if l.starts_with('[') {
            seen.clear();
        } else if let Some((k, _)) = l.split_once('=').filter(|_| !l.starts_with('#')) {
            let k = k.trim().trim_matches('"').to_string();
            if let Some(first) = seen.insert(k.clone(), i + 1) {
                return Some((k, first, i + 1));
            }
        }
    }
    None
}

/// The dotted name of the key on 1-based `line` of `text` (`pipeline.polling`),
/// from the line's `key =` and the table header above it, if it has one.
pub(super) fn key_at(text: &str, line: usize) -> Option<String> {
    let lines: Vec<&str> = text.lines().collect();
    let (k, _) = lines.get(line.checked_sub(1)?)?.split_once('=')?;
    let k = k.trim().trim_matches('"');
    let table = lines[..line - 1].iter().rev().map(|l| l.trim()).find(|l| l.starts_with('['));
    Some(match table {
        Some(t) => format!("{}.{k}", t.trim_matches(|c| c == '[' || c == ']')),
        None => k.to_string(),
    })
}

impl Profile {
    /// Reads a profile file and checks every key's value, naming the file
    /// and key of the first that is wrong.
    pub fn load(file: &Path) -> Result<Profile, ConfigError> {
        let text = std::fs::read_to_string(file).map_err(|e| perr(file, "(file)", format!("cannot read it: {e}")))?;
        let p = Profile::from_toml(&text, file)?;
        p.validate(file)?;
        Ok(p)
    }

    /// Checks each key's value as a `[du]`/`[ru]` section would.
    pub fn validate(&self, file: &Path) -> Result<(), ConfigError> {
        for (k, v) in [("dl_comp", &self.dl_comp), ("ul_comp", &self.ul_comp), ("prach_comp", &self.prach_comp), ("srs_comp", &self.srs_comp)] {
            if let Some(v) = v {
                super::parse_comp(k, v).map_err(|e| perr(file, k, e.why))?;
            }
        }
        if let Some(v) = &self.comp_hdr {
            if v != "present" && v != "absent" {
                return Err(perr(file, "comp_hdr", format!("`{v}`: expected present or absent")));
            }
        }
        if let Some(v) = &self.eaxc_bits {
            if ecpri::EaxcLayout::from_spec(v).is_none() {
                return Err(perr(file, "eaxc_bits", format!("`{v}`: expected four widths adding up to 16, like \"4,4,4,4\"")));
            }
        }
        let range = |k: &str, v: Option<u64>, lo: u64, hi: u64| match v {
            Some(x) if !(lo..=hi).contains(&x) => Err(perr(file, k, format!("{x} is outside {lo}-{hi}"))),
            _ => Ok(()),
        };
        for kind in OWN_FLOW_KINDS {
            let (comp, ids) = self.own_flow(kind);
            let ids = ids.map(|v| parse_eaxc_list(v).map_err(|why| perr(file, &format!("{kind}_eaxc"), why))).transpose()?;
            if comp.is_some() && ids.as_ref().is_none_or(Vec::is_empty) {
                return Err(perr(file, &format!("{kind}_comp"), format!("needs {kind}_eaxc: the eAxC IDs of the flows it applies to")));
            }
        }
        if let Some(why) = prach_srs_overlap(self.prach_eaxc.as_deref(), self.srs_eaxc.as_deref()) {
            return Err(perr(file, "srs_eaxc", why));
        }
        range("carrier_prbs", self.carrier_prbs.map(u64::from), 1, 1023)?;
        range("numerology", self.numerology.map(u64::from), 0, 4)?;
        range("vlan", self.vlan.map(u64::from), 0, u64::from(ecpri::ethernet::MAX_VID))?;
        range("vlan_pcp", self.vlan_pcp.map(u64::from), 0, 7)?;
        range("mtu", self.mtu.map(|m| m as u64), 128, 16_000)
    }
}

impl Profile {
    /// `KIND_comp` and `KIND_eaxc` for `kind` `prach` or `srs`.
    pub fn own_flow(&self, kind: &str) -> (Option<&str>, Option<&[String]>) {
        match kind {
            "prach" => (self.prach_comp.as_deref(), self.prach_eaxc.as_deref()),
            _ => (self.srs_comp.as_deref(), self.srs_eaxc.as_deref()),
        }
    }
}

/// An eAxC listed both as PRACH and as SRS (a flow is one or the other),
/// and the error text naming it; IDs that do not parse are left to
/// [`parse_eaxc_list`]'s own error.
pub fn prach_srs_overlap(prach: Option<&[String]>, srs: Option<&[String]>) -> Option<String> {
    let ids = |v: Option<&[String]>| v.and_then(|v| parse_eaxc_list(v).ok()).unwrap_or_default();
    let p = ids(prach);
    ids(srs).into_iter().find(|id| p.contains(id)).map(|id| format!("{id:#06x} is in prach_eaxc too: a flow is PRACH or SRS, not both"))
}

/// Parses eAxC IDs written `0x0004` or `4`, or says which is not one.
pub fn parse_eaxc_list(ids: &[String]) -> Result<Vec<u16>, String> {
    ids.iter()
        .map(|s| {
            let r = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
                Some(h) => u16::from_str_radix(h, 16),
                None => s.parse(),
            };
            r.map_err(|_| format!("`{s}` is not an eAxC ID (16 bits, like \"0x0004\")"))
        })
        .collect()
}

/// If `[du]` or `[ru]` of a configuration names a `profile`, returns the
/// text with the profile's keys merged in (inline keys win); else `None`.
pub(super) fn merge_profiles(text: &str) -> Result<Option<String>, ConfigError> {
    let Ok(mut top) = text.parse::<toml::Table>() else {
        return Ok(None); // the ordinary parse reports the syntax error with its line
    };
    let mut changed = false;
    for side in ["du", "ru"] {
        let Some(toml::Value::Table(t)) = top.get_mut(side) else { continue };
        let Some(v) = t.remove("profile") else { continue };
        let key = format!("{side}.profile");
        let toml::Value::String(path) = v else {
            return Err(ConfigError { key, why: format!("expected a file name, found {}", v.type_str()) });
        };
        merge_one(side, t, Path::new(&path))?;
        changed = true;
    }
    Ok(changed.then(|| top.to_string()))
}

fn merge_one(side: &str, inline: &mut toml::Table, file: &Path) -> Result<(), ConfigError> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| ConfigError { key: format!("{side}.profile"), why: format!("cannot read {}: {e}", file.display()) })?;
    Profile::from_toml(&text, file)?;
    let table: toml::Table = text.parse().map_err(|e: toml::de::Error| perr(file, "(file)", e.message()))?;
    for (k, pv) in table {
        if !SIDE_KEYS.contains(&k.as_str()) {
            continue; // learned facts and vlan_pcp have no side key
        }
        match inline.get(&k) {
            Some(iv) if iv.type_str() != pv.type_str() => {
                return Err(ConfigError {
                    key: format!("{side}.{k}"),
                    why: format!("inline {side}.{k} is {} but profile {} gives {k} as {}", iv.type_str(), file.display(), pv.type_str()),
                });
            }
            Some(_) => {}
            None => {
                inline.insert(k, pv);
            }
        }
    }
    Ok(())
}

/// Whether `[du]` and `[ru]` (inline or through `profile = FILE`) give
/// `key` at all: a key a side leaves out is unknown to `run`'s check, not
/// its default.
pub fn sides_give(text: &str, key: &str) -> Result<[bool; 2], ConfigError> {
    let merged = merge_profiles(text)?;
    let top: toml::Table = merged.as_deref().unwrap_or(text).parse().map_err(|e: toml::de::Error| ConfigError { key: "(file)".into(), why: e.message().to_string() })?;
    let gives = |name: &str| matches!(top.get(name), Some(toml::Value::Table(s)) if s.contains_key(key));
    Ok([gives("du"), gives("ru")])
}

/// The side keys `[du]` and `[ru]` of a configuration give explicitly
/// (inline or through `profile = FILE`), as profiles: what `run` checks a
/// chain against (a key left to its default is not compared).
pub fn side_profiles(text: &str) -> Result<(Profile, Profile), ConfigError> {
    let merged = merge_profiles(text)?;
    let top: toml::Table = merged.as_deref().unwrap_or(text).parse().map_err(|e: toml::de::Error| ConfigError { key: "(file)".into(), why: e.message().to_string() })?;
    let side = |name: &str| -> Result<Profile, ConfigError> {
        let mut t = toml::Table::new();
        if let Some(toml::Value::Table(s)) = top.get(name) {
            for (k, v) in s {
                if SIDE_KEYS.contains(&k.as_str()) {
                    t.insert(k.clone(), v.clone());
                }
            }
        }
        t.try_into().map_err(|e: toml::de::Error| ConfigError { key: name.into(), why: e.message().to_string() })
    };
    Ok((side("du")?, side("ru")?))
}
