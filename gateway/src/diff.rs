//! Comparing two captures of the same traffic, A (say, what the DU sent)
//! and B (what left the gateway), flow by flow: `fhgate diff`.
//!
//! U-plane data is matched PRB by PRB, keyed by (direction, eAxC, frameId,
//! subframeId, slotId, symbolId, PRB index), so captures that split a
//! symbol into packets differently (another MTU) or carry it at another
//! compression still match. C-plane sections are keyed by (direction,
//! eAxC, frameId, subframeId, slotId, startSymbolId, sectionId). A key
//! recurs every 256 radio frames (2.56 s), so occurrences are paired by
//! capture time too: each capture's time counts from its first frame, and
//! an occurrence in A matches the one of B within [`DiffOptions::window`].
//!
//! Each side is decoded with its own [`DecodeConfig`] and its IQ
//! decompressed with its own compression, so the IQ error of B against A
//! is measured on the samples themselves: EVM = 10·log10(Σ|b−a|² / Σ|a|²).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

use ecpri::fields::{FieldValue, FieldVisitor, VisitFields};
use ecpri::frame::{Body, DecodeConfig, FrameRepr};
use ecpri::iq::SAMPLES_PER_PRB;
use ecpri::UdCompHdr;

use crate::io::pcap::Captured;

mod iq;
pub use iq::{IqError, QuantBound};

/// How B's eAxC IDs correspond to A's (after an eAxC remap).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum EaxcMatch {
    /// The same ID on both sides.
    #[default]
    Same,
    /// The n-th eAxC to appear in A matches the n-th to appear in B,
    /// counted separately per plane and direction.
    Order,
    /// Explicit pairs A → B; IDs not listed match themselves.
    Map(BTreeMap<u16, u16>),
}

impl EaxcMatch {
    /// Parses `same`, `order`, or `A=B,...` with decimal or 0x-hex IDs.
    pub fn parse(s: &str) -> Result<Self, String> {
        match s {
            "same" => return Ok(EaxcMatch::Same),
            "order" => return Ok(EaxcMatch::Order),
            _ => {}
        }
        let num = |t: &str| -> Result<u16, String> {
            let t = t.trim();
            let r = match t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
                Some(h) => u16::from_str_radix(h, 16),
                None => t.parse(),
            };
            r.map_err(|_| format!("`{t}` is not an eAxC ID (0-65535, decimal or 0x hex)"))
        };
        let mut m = BTreeMap::new();
        for pair in s.split(',').filter(|p| !p.trim().is_empty()) {
            let (a, b) = pair.split_once('=').ok_or_else(|| format!("`{pair}`: expected A_ID=B_ID"))?;
            if m.insert(num(a)?, num(b)?).is_some() {
                return Err(format!("eAxC {} is listed twice", a.trim()));
            }
        }
        if m.is_empty() {
            return Err("expected `same`, `order` or A_ID=B_ID pairs".into());
        }
        Ok(EaxcMatch::Map(m))
    }
}

/// What `diff` needs besides the two captures.
#[derive(Debug, Clone, PartialEq)]
pub struct DiffOptions {
    /// How to decode A.
    pub a: DecodeConfig,
    /// How to decode B.
    pub b: DecodeConfig,
    /// How B's eAxC IDs correspond to A's.
    pub eaxc: EaxcMatch,
    /// Largest difference in relative capture time between occurrences
    /// of a key that still match (half the frameId period by default).
    pub window: Duration,
}

impl DiffOptions {
    /// Both sides decoded alike, eAxC IDs the same.
    pub fn new(a: DecodeConfig, b: DecodeConfig) -> Self {
        DiffOptions { a, b, eaxc: EaxcMatch::Same, window: Duration::from_millis(1280) }
    }
}

/// U-plane or C-plane.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Plane {
    /// U-plane (IQ data).
    U,
    /// C-plane (real-time control).
    C,
}

/// A flow as the report shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FlowId {
    /// The plane.
    pub plane: Plane,
    /// dataDirection: 1 DL, 0 UL.
    pub direction: u8,
    /// eAxC ID in B.
    pub eaxc_b: u16,
    /// eAxC ID in A, `None` for a flow only B has.
    pub eaxc_a: Option<u16>,
}

/// Most examples of missing or extra data kept per flow.
pub const MAX_EXAMPLES: usize = 5;

/// One field that differs: its name, its value in A and in B.
pub type FieldDiff = (&'static str, String, String);

/// The comparison of one flow.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FlowReport {
    /// Messages of this flow in A.
    pub messages_a: u64,
    /// Messages of this flow in B.
    pub messages_b: u64,
    /// PRBs (U-plane) or sections (C-plane) found in both.
    pub matched: u64,
    /// Found in A only.
    pub missing: u64,
    /// Found in B only.
    pub extra: u64,
    /// Where missing data was, e.g. `frame 0 subframe 0 slot 1 symbol 3: PRBs 0-58`.
    pub missing_examples: Vec<String>,
    /// Where extra data was.
    pub extra_examples: Vec<String>,
    /// Field differences with the number of matched section pairs showing each.
    pub fields: BTreeMap<FieldDiff, u64>,
    /// IQ error (U-plane).
    pub iq: IqError,
    /// The quantisation bound at B's compression over the same PRBs.
    pub bound: QuantBound,
}

/// The whole comparison.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Report {
    /// Frames in A.
    pub frames_a: usize,
    /// Frames in B.
    pub frames_b: usize,
    /// Frames of A that did not decode, by (error kind, field).
    pub errors_a: BTreeMap<(&'static str, &'static str), u64>,
    /// Frames of B that did not decode.
    pub errors_b: BTreeMap<(&'static str, &'static str), u64>,
    /// Per flow.
    pub flows: BTreeMap<FlowId, FlowReport>,
}

impl Report {
    /// Whether any IQ differs: a matched PRB with other samples, or a PRB
    /// that only one side has (what `--fail-on-iq-error` tests).
    pub fn iq_differs(&self) -> bool {
        self.flows.iter().any(|(k, f)| k.plane == Plane::U && (!f.iq.exact() || f.missing > 0 || f.extra > 0))
    }
}

/// (direction, eAxC, frameId, subframeId, slotId, symbolId).
type SymKey = (u8, u16, u8, u8, u8, u8);
/// (direction, eAxC, frameId, subframeId, slotId, startSymbolId, sectionId).
type SecKey = (u8, u16, u8, u8, u8, u8, u16);

/// A U-plane section's fields that are compared, once per section.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct USection {
    comp: UdCompHdr,
    comp_hdr: bool,
    section_id: u16,
    rb: bool,
    filter_index: u8,
    payload_version: u8,
    vlan: Option<(u16, u8)>,
    eaxc: u16,
}

/// One PRB: its index, its section, and where its bytes are.
#[derive(Debug, Clone, Copy)]
struct PrbRef {
    prb: u16,
    section: u32,
    frame: u32,
    at: u32,
}

/// One occurrence of a symbol of one flow (possibly over many packets).
#[derive(Debug, Clone)]
struct SymOcc {
    t: f64,
    prbs: Vec<PrbRef>,
}

/// One occurrence of a C-plane section: its fields in wire order.
#[derive(Debug, Clone)]
struct SecOcc {
    t: f64,
    fields: Vec<(&'static str, String)>,
}

/// Packets of one symbol closer in time than this are one occurrence.
const SAME_OCCURRENCE_S: f64 = 0.005;

/// What one capture holds, indexed for matching.
#[derive(Default)]
struct Side {
    symbols: HashMap<SymKey, Vec<SymOcc>>,
    sections: HashMap<SecKey, Vec<SecOcc>>,
    usections: Vec<USection>,
    messages: HashMap<(Plane, u8, u16), u64>,
    /// eAxC IDs per (plane, direction) in order of first appearance.
    order: HashMap<(Plane, u8), Vec<u16>>,
    errors: BTreeMap<(&'static str, &'static str), u64>,
}

impl Side {
    fn index(frames: &[Captured], cfg: &DecodeConfig) -> Side {
        let mut s = Side::default();
        let t0 = frames.first().map(|f| f.timestamp).unwrap_or_default();
        for (fi, f) in frames.iter().enumerate() {
            let t = f.timestamp.saturating_sub(t0).as_secs_f64();
            match FrameRepr::parse(&f.data, cfg) {
                Ok(fr) => s.add_frame(&fr, &f.data, fi as u32, t, cfg),
                Err(e) => *s.errors.entry((e.kind(), e.field())).or_default() += 1,
            }
        }
        for occs in s.symbols.values_mut() {
            for o in occs {
                o.prbs.sort_by_key(|p| p.prb);
            }
        }
        s
    }

    fn note_flow(&mut self, plane: Plane, dir: u8, eaxc: u16) {
        let n = self.messages.entry((plane, dir, eaxc)).or_default();
        if *n == 0 {
            self.order.entry((plane, dir)).or_default().push(eaxc);
        }
        *n += 1;
    }

    fn add_frame(&mut self, fr: &FrameRepr<'_>, data: &[u8], fi: u32, t: f64, cfg: &DecodeConfig) {
        let vlan = fr.eth.vlan_tags().last().map(|v| (v.vid, v.pcp));
        for m in fr.messages() {
            match &m.body {
                Body::IqData { pc_id, uplane, cfg: ucfg, .. } => {
                    let h = uplane.header;
                    self.note_flow(Plane::U, h.data_direction, *pc_id);
                    let key = (h.data_direction, *pc_id, h.frame_id, h.subframe_id, h.slot_id, h.symbol_id);
                    let occs = self.symbols.entry(key).or_default();
                    if !occs.last().is_some_and(|o| (t - o.t).abs() < SAME_OCCURRENCE_S) {
                        occs.push(SymOcc { t, prbs: Vec::new() });
                    }
                    let occ = occs.last_mut().expect("pushed above");
                    for sec in &uplane.sections {
                        let comp = sec.comp(ucfg.static_comp);
                        let si = self.usections.len() as u32;
                        self.usections.push(USection {
                            comp,
                            comp_hdr: sec.ud_comp_hdr.is_some(),
                            section_id: sec.section_id,
                            rb: sec.rb,
                            filter_index: h.filter_index,
                            payload_version: h.payload_version,
                            vlan,
                            eaxc: *pc_id,
                        });
                        let Ok(prb_len) = comp.prb_len() else { continue };
                        // The section's IQ borrows from `data`: its offset there.
                        let base = (sec.iq_data.as_ptr() as usize).wrapping_sub(data.as_ptr() as usize);
                        let step = if sec.rb { 2 } else { 1 };
                        for i in 0..sec.prb_count(cfg.carrier_prbs) {
                            let prb = sec.start_prbu as usize + i * step;
                            occ.prbs.push(PrbRef { prb: prb as u16, section: si, frame: fi, at: (base + i * prb_len) as u32 });
                        }
                    }
                }
                Body::RtControl { rtc_id, cplane, .. } => {
                    let h = cplane.header.app;
                    self.note_flow(Plane::C, h.data_direction, *rtc_id);
                    for (i, sec) in cplane.sections.iter().enumerate() {
                        let id = sec.fields.section_id().unwrap_or(0xF000 | i as u16);
                        let key = (h.data_direction, *rtc_id, h.frame_id, h.subframe_id, h.slot_id, h.symbol_id, id);
                        let mut fields = Fields::default();
                        if let Some((vid, pcp)) = vlan {
                            fields.0.push(("vlan.id", vid.to_string()));
                            fields.0.push(("vlan.priority", pcp.to_string()));
                        }
                        fields.0.push(("ecpri.rtcid", format!("0x{rtc_id:04x}")));
                        cplane.header.visit(&mut fields);
                        sec.visit_fields(&mut fields);
                        self.sections.entry(key).or_default().push(SecOcc { t, fields: fields.0 });
                    }
                }
                _ => {}
            }
        }
    }
}

/// Collects fields as (name, value) in wire order.
#[derive(Default)]
struct Fields(Vec<(&'static str, String)>);

impl<'a> FieldVisitor<'a> for Fields {
    fn field(&mut self, name: &'static str, value: FieldValue<'a>) {
        let v = match value {
            FieldValue::U(x) => x.to_string(),
            FieldValue::I(x) => x.to_string(),
            FieldValue::Bool(b) => (b as u8).to_string(),
            FieldValue::Bytes(b) => {
                let hex: String = b.iter().take(16).map(|x| format!("{x:02x}")).collect();
                if b.len() > 16 {
                    format!("{hex}…({} B)", b.len())
                } else {
                    hex
                }
            }
            FieldValue::Str(s) => s.to_string(),
        };
        self.0.push((name, v));
    }

    fn begin(&mut self, _: &'static str) {}

    fn end(&mut self) {}
}

/// Maps A's eAxC IDs into B's.
struct EaxcMap<'a> {
    how: &'a EaxcMatch,
    order: HashMap<(Plane, u8, u16), u16>,
}

impl<'a> EaxcMap<'a> {
    fn new(how: &'a EaxcMatch, a: &Side, b: &Side) -> Self {
        let mut order = HashMap::new();
        if *how == EaxcMatch::Order {
            for (k, ids_a) in &a.order {
                let ids_b = b.order.get(k).map(Vec::as_slice).unwrap_or(&[]);
                for (x, y) in ids_a.iter().zip(ids_b) {
                    order.insert((k.0, k.1, *x), *y);
                }
            }
        }
        EaxcMap { how, order }
    }

    fn map(&self, plane: Plane, dir: u8, id: u16) -> u16 {
        match self.how {
            EaxcMatch::Same => id,
            EaxcMatch::Order => self.order.get(&(plane, dir, id)).copied().unwrap_or(id),
            EaxcMatch::Map(m) => m.get(&id).copied().unwrap_or(id),
        }
    }
}

/// Pairs the occurrences of one key in A and B by time: each element is
/// (index in A, index in B), either missing when the other side has no
/// occurrence within `window`.
fn pair_by_time(a: &[f64], b: &[f64], window: f64) -> Vec<(Option<usize>, Option<usize>)> {
    let (mut i, mut j, mut out) = (0, 0, Vec::new());
    while i < a.len() || j < b.len() {
        match (a.get(i), b.get(j)) {
            (Some(x), Some(y)) if (x - y).abs() <= window => {
                out.push((Some(i), Some(j)));
                i += 1;
                j += 1;
            }
            (Some(x), Some(y)) if x < y => {
                out.push((Some(i), None));
                i += 1;
            }
            (Some(_), None) => {
                out.push((Some(i), None));
                i += 1;
            }
            _ => {
                out.push((None, Some(j)));
                j += 1;
            }
        }
    }
    out
}

/// `PRBs 0-58, 60` for a sorted list of PRB indices.
fn prb_ranges(prbs: &[u16]) -> String {
    let mut s = String::new();
    let mut i = 0;
    while i < prbs.len() {
        let mut j = i;
        while j + 1 < prbs.len() && prbs[j + 1] <= prbs[j] + 1 {
            j += 1;
        }
        if !s.is_empty() {
            s.push_str(", ");
        }
        if j > i {
            s.push_str(&format!("{}-{}", prbs[i], prbs[j]));
        } else {
            s.push_str(&prbs[i].to_string());
        }
        i = j + 1;
    }
    format!("PRB{} {s}", if prbs.len() > 1 { "s" } else { "" })
}

fn where_sym(k: &SymKey) -> String {
    format!("frame {} subframe {} slot {} symbol {}", k.2, k.3, k.4, k.5)
}

fn note_example(list: &mut Vec<String>, s: impl FnOnce() -> String) {
    if list.len() < MAX_EXAMPLES {
        list.push(s());
    }
}

/// Compares the fields of two matched U-plane sections.
fn diff_usections(a: &USection, b: &USection, out: &mut BTreeMap<FieldDiff, u64>) {
    let mut d = |name: &'static str, x: String, y: String| {
        if x != y {
            *out.entry((name, x, y)).or_default() += 1;
        }
    };
    if a.comp_hdr && b.comp_hdr {
        d("oran_fh_cus.udCompHdrWidth", (a.comp.iq_width & 0xF).to_string(), (b.comp.iq_width & 0xF).to_string());
        d("oran_fh_cus.udCompHdrMeth", a.comp.comp_meth.bits().to_string(), b.comp.comp_meth.bits().to_string());
    } else {
        let presence = |p: bool| if p { "present" } else { "absent" }.to_string();
        d("oran_fh_cus.udCompHdr", presence(a.comp_hdr), presence(b.comp_hdr));
        d("oran_fh_cus.iqWidth", a.comp.iq_width.to_string(), b.comp.iq_width.to_string());
        d("oran_fh_cus.compMeth", a.comp.comp_meth.name().into(), b.comp.comp_meth.name().into());
    }
    d("oran_fh_cus.sectionId", a.section_id.to_string(), b.section_id.to_string());
    d("oran_fh_cus.rb", (a.rb as u8).to_string(), (b.rb as u8).to_string());
    d("oran_fh_cus.filterIndex", a.filter_index.to_string(), b.filter_index.to_string());
    d("oran_fh_cus.payloadVersion", a.payload_version.to_string(), b.payload_version.to_string());
    let vid = |v: Option<(u16, u8)>| v.map_or("none".to_string(), |v| v.0.to_string());
    let pcp = |v: Option<(u16, u8)>| v.map_or("none".to_string(), |v| v.1.to_string());
    d("vlan.id", vid(a.vlan), vid(b.vlan));
    d("vlan.priority", pcp(a.vlan), pcp(b.vlan));
    d("ecpri.pcid", format!("0x{:04x}", a.eaxc), format!("0x{:04x}", b.eaxc));
}

/// Compares two C-plane sections' fields, name by name and occurrence by
/// occurrence (a field repeated in extensions compares in order).
fn diff_csections(a: &[(&'static str, String)], b: &[(&'static str, String)], out: &mut BTreeMap<FieldDiff, u64>) {
    let group = |v: &[(&'static str, String)]| {
        let mut m: BTreeMap<&'static str, Vec<String>> = BTreeMap::new();
        for (k, x) in v {
            m.entry(*k).or_default().push(x.clone());
        }
        m
    };
    let (ga, gb) = (group(a), group(b));
    let names: std::collections::BTreeSet<&'static str> = ga.keys().chain(gb.keys()).copied().collect();
    let none = Vec::new();
    for n in names {
        let (xa, xb) = (ga.get(n).unwrap_or(&none), gb.get(n).unwrap_or(&none));
        for i in 0..xa.len().max(xb.len()) {
            let x = xa.get(i).cloned().unwrap_or_else(|| "(absent)".into());
            let y = xb.get(i).cloned().unwrap_or_else(|| "(absent)".into());
            if x != y {
                *out.entry((n, x, y)).or_default() += 1;
            }
        }
    }
}

/// Compares capture `b` against capture `a`.
pub fn diff(a: &[Captured], b: &[Captured], opts: &DiffOptions) -> Report {
    let sa = Side::index(a, &opts.a);
    let sb = Side::index(b, &opts.b);
    let map = EaxcMap::new(&opts.eaxc, &sa, &sb);
    let window = opts.window.as_secs_f64();
    let mut flows: BTreeMap<FlowId, FlowReport> = BTreeMap::new();
    // Flow ids: B's eAxC, and A's where A has the flow.
    let mut a_of_b: HashMap<(Plane, u8, u16), u16> = HashMap::new();
    for (&(plane, dir, id), &n) in &sa.messages {
        let bid = map.map(plane, dir, id);
        a_of_b.insert((plane, dir, bid), id);
        flows.entry(FlowId { plane, direction: dir, eaxc_b: bid, eaxc_a: Some(id) }).or_default().messages_a += n;
    }
    let flow_id = |plane: Plane, dir: u8, bid: u16| FlowId { plane, direction: dir, eaxc_b: bid, eaxc_a: a_of_b.get(&(plane, dir, bid)).copied() };
    for (&(plane, dir, id), &n) in &sb.messages {
        flows.entry(flow_id(plane, dir, id)).or_default().messages_b += n;
    }

    // U-plane: symbols keyed in B's eAxC space.
    let mut keys: HashSet<SymKey> = sb.symbols.keys().copied().collect();
    let mut a_syms: HashMap<SymKey, &Vec<SymOcc>> = HashMap::new();
    for (k, v) in &sa.symbols {
        let kb = (k.0, map.map(Plane::U, k.0, k.1), k.2, k.3, k.4, k.5);
        a_syms.insert(kb, v);
        keys.insert(kb);
    }
    let mut keys: Vec<SymKey> = keys.into_iter().collect();
    keys.sort_unstable();
    let empty = Vec::new();
    let (mut xa, mut xb) = ([0i32; SAMPLES_PER_PRB], [0i32; SAMPLES_PER_PRB]);
    for k in keys {
        let fr = flows.entry(flow_id(Plane::U, k.0, k.1)).or_default();
        let oa = a_syms.get(&k).copied().unwrap_or(&empty);
        let ob = sb.symbols.get(&k).unwrap_or(&empty);
        let ta: Vec<f64> = oa.iter().map(|o| o.t).collect();
        let tb: Vec<f64> = ob.iter().map(|o| o.t).collect();
        for (ia, ib) in pair_by_time(&ta, &tb, window) {
            let pa = ia.map_or(&[][..], |i| &oa[i].prbs[..]);
            let pb = ib.map_or(&[][..], |i| &ob[i].prbs[..]);
            let (mut missing, mut extra) = (Vec::new(), Vec::new());
            let mut pairs: HashSet<(u32, u32)> = HashSet::new();
            let (mut i, mut j) = (0, 0);
            while i < pa.len() || j < pb.len() {
                match (pa.get(i), pb.get(j)) {
                    (Some(x), Some(y)) if x.prb == y.prb => {
                        fr.matched += 1;
                        if pairs.insert((x.section, y.section)) {
                            diff_usections(&sa.usections[x.section as usize], &sb.usections[y.section as usize], &mut fr.fields);
                        }
                        let (ca, cb) = (sa.usections[x.section as usize].comp, sb.usections[y.section as usize].comp);
                        let da = prb_bytes(a, x, ca);
                        let db = prb_bytes(b, y, cb);
                        match (da.and_then(|d| ecpri::iq::decompress(ca, d, &mut xa).ok()), db.and_then(|d| ecpri::iq::decompress(cb, d, &mut xb).ok())) {
                            (Some(1), Some(1)) => {
                                fr.iq.add_prb(&xa, &xb);
                                fr.bound.add_prb(&xa, cb);
                            }
                            _ => fr.iq.undecodable += 1,
                        }
                        i += 1;
                        j += 1;
                    }
                    (Some(x), Some(y)) if x.prb < y.prb => {
                        missing.push(x.prb);
                        i += 1;
                    }
                    (Some(x), None) => {
                        missing.push(x.prb);
                        i += 1;
                    }
                    (_, Some(y)) => {
                        extra.push(y.prb);
                        j += 1;
                    }
                    (None, None) => unreachable!("the loop runs while either side has PRBs"),
                }
            }
            fr.missing += missing.len() as u64;
            fr.extra += extra.len() as u64;
            if !missing.is_empty() {
                note_example(&mut fr.missing_examples, || format!("{}: {}", where_sym(&k), prb_ranges(&missing)));
            }
            if !extra.is_empty() {
                note_example(&mut fr.extra_examples, || format!("{}: {}", where_sym(&k), prb_ranges(&extra)));
            }
        }
    }

    // C-plane sections.
    let mut keys: HashSet<SecKey> = sb.sections.keys().copied().collect();
    let mut a_secs: HashMap<SecKey, &Vec<SecOcc>> = HashMap::new();
    for (k, v) in &sa.sections {
        let kb = (k.0, map.map(Plane::C, k.0, k.1), k.2, k.3, k.4, k.5, k.6);
        a_secs.insert(kb, v);
        keys.insert(kb);
    }
    let mut keys: Vec<SecKey> = keys.into_iter().collect();
    keys.sort_unstable();
    let empty = Vec::new();
    for k in keys {
        let fr = flows.entry(flow_id(Plane::C, k.0, k.1)).or_default();
        let oa = a_secs.get(&k).copied().unwrap_or(&empty);
        let ob = sb.sections.get(&k).unwrap_or(&empty);
        let ta: Vec<f64> = oa.iter().map(|o| o.t).collect();
        let tb: Vec<f64> = ob.iter().map(|o| o.t).collect();
        let at = || format!("frame {} subframe {} slot {} startSymbol {} section {}", k.2, k.3, k.4, k.5, k.6);
        for pair in pair_by_time(&ta, &tb, window) {
            match pair {
                (Some(i), Some(j)) => {
                    fr.matched += 1;
                    diff_csections(&oa[i].fields, &ob[j].fields, &mut fr.fields);
                }
                (Some(_), None) => {
                    fr.missing += 1;
                    note_example(&mut fr.missing_examples, at);
                }
                _ => {
                    fr.extra += 1;
                    note_example(&mut fr.extra_examples, at);
                }
            }
        }
    }
    Report { frames_a: a.len(), frames_b: b.len(), errors_a: sa.errors, errors_b: sb.errors, flows }
}

/// The udCompParam and IQ bytes of one PRB.
fn prb_bytes<'a>(frames: &'a [Captured], p: &PrbRef, comp: UdCompHdr) -> Option<&'a [u8]> {
    let len = comp.prb_len().ok()?;
    frames.get(p.frame as usize)?.data.get(p.at as usize..p.at as usize + len)
}

#[cfg(test)]
mod tests;
