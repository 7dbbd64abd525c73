//! `fhgate profile learn`: infers one side's profile from its traffic
//! alone, with no decode flags. Each value comes with its evidence; what
//! the sample cannot decide is left out, with its candidates listed.
//!
//! U-plane layout: every plausible layout (udCompHdr present, or absent
//! with each width and udCompParam size) is tried on every sampled
//! message; the one whose sections tile the payloads exactly wins.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use ecpri::comp_hdr::{CompMethod, UdCompHdr};
use ecpri::frame::{locate, MessageIter};

pub mod eaxc;
pub mod render;
mod uplane;

use crate::config::profile::{Learned, Prach, Profile, SeqFlow};

/// U-plane messages kept per direction for layout inference.
const SAMPLE_CAP: usize = 4000;
/// Fewer U-plane messages than this in a direction earns a warning.
const SHORT_SAMPLE: usize = 28;

/// Evidence for each inferred key, written as a comment beside it.
pub type Evidence = BTreeMap<&'static str, String>;

/// Running state over every frame of every capture.
#[derive(Default)]
pub struct Learner {
    frames: u64,
    ecpri_frames: u64,
    skipped: BTreeMap<String, u64>,
    largest_frame: usize,
    largest_payload: usize,
    vlans: BTreeMap<Option<(u16, u8)>, u64>,
    eaxc: BTreeMap<String, BTreeSet<u16>>,
    /// U-plane section bytes (after the 4-byte app header), by direction
    /// (0 UL, 1 DL) and eAxC, so PRACH flows are inferred apart.
    usamples: BTreeMap<(u8, u16), Vec<Vec<u8>>>,
    /// eAxCs that section type 3 (PRACH) names, and its udCompHdr counts.
    prach_ids: BTreeSet<u16>,
    prach_ccomp: BTreeMap<u8, u64>,
    max_slot: u8,
    /// Nanoseconds per symbol step between consecutive U-plane messages of one eAxC.
    sym_ns: Vec<u64>,
    last_sym: BTreeMap<(u8, u16), (u32, Duration)>,
    ccomp: [BTreeMap<u8, u64>; 2],
    section_types: BTreeMap<String, u64>,
    extensions: BTreeMap<String, u64>,
    prach: BTreeMap<(String, u16, i32, u8), u64>,
    seq: BTreeMap<(String, u16), (u8, SeqFlow)>,
    cplane_prb_edge: u16,
}

fn flow_name(plane: char, dir: u8) -> String {
    format!("{plane}_{}", if dir == 1 { "dl" } else { "ul" })
}

impl Learner {
    /// Adds one frame (`at` is its capture timestamp).
    pub fn add(&mut self, frame: &[u8], at: Duration) {
        self.frames += 1;
        self.largest_frame = self.largest_frame.max(frame.len());
        let loc = match locate(frame, None) {
            Ok(l) => l,
            Err(e) => return self.skip(format!("not an Ethernet frame: {e}")),
        };
        let Some(range) = loc.ecpri.clone() else {
            return self.skip(format!("not eCPRI (ethertype {:#06x})", loc.ethertype));
        };
        self.ecpri_frames += 1;
        // The Ethernet payload: from after the tags to the end of eCPRI.
        self.largest_payload = self.largest_payload.max(frame.len().saturating_sub(if loc.vid.is_some() { 18 } else { 14 }));
        let pcp = loc.vid.map(|v| (v, frame.get(14).map_or(0, |b| b >> 5)));
        *self.vlans.entry(pcp).or_default() += 1;
        let buf = &frame[range];
        for m in MessageIter::new(buf) {
            match m {
                Ok((r, _)) => self.message(&buf[r], at),
                Err(e) => return self.skip(format!("malformed eCPRI: {e}")),
            }
        }
    }

    fn skip(&mut self, why: String) {
        *self.skipped.entry(why).or_default() += 1;
    }

    fn message(&mut self, m: &[u8], at: Duration) {
        let (ty, body) = (m[1], &m[4..]);
        if !matches!(ty, 0 | 2) || body.len() < 8 {
            if !matches!(ty, 0 | 2) {
                *self.section_types.entry(format!("ecpri_type_{ty}")).or_default() += 1;
            } else {
                self.skip("malformed eCPRI: message shorter than its O-RAN header".into());
            }
            return;
        }
        let id = u16::from_be_bytes([body[0], body[1]]);
        let (seq, e_bit, subseq) = (body[2], body[3] >> 7 == 1, body[3] & 0x7F);
        let app = &body[4..];
        let dir = app[0] >> 7;
        let plane = if ty == 0 { 'u' } else { 'c' };
        let flow = flow_name(plane, dir);
        self.eaxc.entry(flow.clone()).or_default().insert(id);
        let s = self.seq.entry((flow.clone(), id)).or_insert_with(|| (seq.wrapping_sub(1), SeqFlow { flow, eaxc: format!("{id:#06x}"), ..SeqFlow::default() }));
        if seq != s.0.wrapping_add(1) {
            s.1.jumps += 1;
        }
        s.0 = seq;
        s.1.messages += 1;
        s.1.e_bit_clear += u64::from(!e_bit);
        s.1.subseq_nonzero += u64::from(subseq != 0);
        let slot = (app[2] & 0x0F) << 2 | app[3] >> 6;
        self.max_slot = self.max_slot.max(slot);
        if ty == 0 {
            if e_bit && subseq == 0 {
                // frameId, subframeId, slotId, symbolId as one number: symbols in its low 6 bits.
                let abs = u32::from(app[1]) << 16 | u32::from(app[2]) << 8 | u32::from(app[3]);
                let key = (dir, id);
                if let Some((prev, t0)) = self.last_sym.insert(key, (abs, at)) {
                    // Same frame/subframe/slot, later symbol: one symbol step is the symbol time.
                    if abs > prev && abs >> 6 == prev >> 6 && at > t0 {
                        self.sym_ns.push((at - t0).as_nanos() as u64 / u64::from(abs - prev));
                    }
                }
                let flow = self.usamples.entry((dir, id)).or_default();
                if flow.len() < SAMPLE_CAP {
                    flow.push(app[4..].to_vec());
                }
            }
        } else {
            self.cplane(dir, id, &body[4..]);
        }
    }

    fn cplane(&mut self, dir: u8, rtc_id: u16, b: &[u8]) {
        let msg = match ecpri::cplane::MessageRepr::parse(b) {
            Ok(m) => m,
            Err(e) => return self.skip(format!("malformed C-plane: {e}")),
        };
        let prach = matches!(msg.header.fields, ecpri::cplane::TypeFields::Type3 { .. });
        if prach {
            // Section type 3 schedules PRACH on its eAxC, whose U-plane
            // may have a compression of its own (its udCompHdr says which).
            self.prach_ids.insert(rtc_id);
        }
        if let Some(h) = msg.header.fields.ud_comp_hdr() {
            let counts = if prach { &mut self.prach_ccomp } else { &mut self.ccomp[usize::from(dir)] };
            *counts.entry(h.to_byte()).or_default() += 1;
        }
        for s in &msg.sections {
            *self.section_types.entry(msg.header.section_type().to_string()).or_default() += 1;
            let edge = s.fields.start_prbc() + u16::from(s.fields.num_prbc());
            self.cplane_prb_edge = self.cplane_prb_edge.max(edge);
            for x in &s.extensions {
                *self.extensions.entry(x.ext_type().to_string()).or_default() += 1;
            }
            if let (ecpri::cplane::TypeFields::Type3 { frame_structure: fs, cp_length, .. }, ecpri::cplane::SectionFields::Type3 { freq_offset, .. }) =
                (msg.header.fields, s.fields)
            {
                let fs = format!("fft={},scs={}", fs.fft_size, fs.scs);
                *self.prach.entry((fs, cp_length, freq_offset, msg.header.app.symbol_id)).or_default() += 1;
            }
        }
    }

    /// The profile and the evidence for each key.
    pub fn finish(self) -> anyhow::Result<(Profile, Evidence)> {
        if self.frames == 0 {
            anyhow::bail!("the capture holds no frames: nothing to learn from");
        }
        if self.ecpri_frames == 0 {
            let why: Vec<String> = self.skipped.iter().map(|(w, n)| format!("{n} × {w}")).collect();
            anyhow::bail!("none of the {} frames is eCPRI ({}): is this a fronthaul capture?", self.frames, why.join("; "));
        }
        let mut p = Profile::default();
        let mut ev = Evidence::new();
        let mut l = Learned {
            frames: self.frames,
            ecpri_frames: self.ecpri_frames,
            skipped_frames: self.skipped.values().sum(),
            largest_frame: self.largest_frame,
            largest_payload: self.largest_payload,
            section_types: self.section_types.clone(),
            section_extensions: self.extensions.clone(),
            ..Learned::default()
        };
        for (why, n) in &self.skipped {
            l.warnings.push(format!("{n} frame(s) skipped: {why}"));
        }
        for (k, ids) in &self.eaxc {
            l.eaxc_ids.insert(k.clone(), ids.iter().map(|i| format!("{i:#06x}")).collect());
        }
        let all_ids: BTreeSet<u16> = self.eaxc.values().flatten().copied().collect();
        let splits = eaxc::candidates(&all_ids);
        if let Some(best) = splits.first() {
            p.eaxc_bits = Some(best.clone());
            ev.insert("eaxc_bits", format!("most likely of {} splits consistent with IDs {:?}; the IDs alone cannot fix it: see learned.eaxc_bits_candidates", splits.len(), l.eaxc_ids.values().flatten().collect::<BTreeSet<_>>()));
        }
        l.eaxc_bits_candidates = splits;
        self.vlan(&mut p, &mut ev, &mut l);
        let mut uplane_edge = 0;
        let mut hdr_votes = Vec::new();
        // The data flows of each direction, capped: PRACH flows are inferred apart.
        let mut data: [Vec<Vec<u8>>; 2] = Default::default();
        for ((dir, id), v) in &self.usamples {
            if !(*dir == 0 && self.prach_ids.contains(id)) {
                let d = &mut data[usize::from(*dir)];
                d.extend(v.iter().take(SAMPLE_CAP.saturating_sub(d.len())).cloned());
            }
        }
        for dir in [1u8, 0] {
            let key = if dir == 1 { "dl_comp" } else { "ul_comp" };
            let samples = &data[usize::from(dir)];
            let c = self.ccomp[usize::from(dir)].iter().max_by_key(|(_, n)| **n).map(|(b, _)| UdCompHdr::from_byte(*b));
            let name = if dir == 1 { "DL" } else { "UL" };
            if let Some(c) = c {
                l.cplane_comp.insert(name.to_lowercase(), c.spec());
            }
            if samples.is_empty() {
                if let Some(c) = c {
                    p_set(&mut p, dir, c);
                    ev.insert(key, format!("from the C-plane udCompHdr ({} {name} messages); no {name} U-plane in the sample", self.ccomp[usize::from(dir)].values().sum::<u64>()));
                }
                continue;
            }
            if samples.len() < SHORT_SAMPLE {
                l.warnings.push(format!("only {} {name} U-plane messages (fewer than two slots of 14 symbols): inferences are weak", samples.len()));
            }
            match uplane::infer(samples) {
                Ok(u) => {
                    ev.insert(key, u.evidence.clone());
                    hdr_votes.push((name, u.comp_hdr, u.hdr_evidence.clone()));
                    uplane_edge = uplane_edge.max(u.prb_edge);
                    let Some(comp) = u.comp else {
                        l.warnings.push(format!("{key} {}", u.evidence));
                        l.cu_consistency.insert(name.to_lowercase(), "undecided: the U-plane method is undecided".into());
                        continue;
                    };
                    p_set(&mut p, dir, comp);
                    let verdict = match c {
                        None => "no C-plane in the sample to compare".to_string(),
                        Some(c) if c == comp => "consistent".to_string(),
                        Some(c) => format!("C-plane udCompHdr says {} but the U-plane is {}", c.spec(), comp.spec()),
                    };
                    if verdict != "consistent" && c.is_some() {
                        l.warnings.push(format!("{name}: {verdict}"));
                    }
                    l.cu_consistency.insert(name.to_lowercase(), verdict);
                }
                Err(why) => {
                    l.warnings.push(format!("{key} undecided: {why}"));
                    ev.insert(key, format!("undecided: {why}"));
                }
            }
        }
        self.prach_flows(&mut p, &mut ev, &mut l, &mut hdr_votes, &mut uplane_edge);
        let hdrs: BTreeSet<bool> = hdr_votes.iter().map(|v| v.1).collect();
        match hdrs.len() {
            1 => {
                p.comp_hdr = Some(if hdr_votes[0].1 { "present" } else { "absent" }.into());
                ev.insert("comp_hdr", hdr_votes.iter().map(|v| format!("{}: {}", v.0, v.2)).collect::<Vec<_>>().join("; "));
            }
            0 => {
                ev.insert("comp_hdr", "undecided: no U-plane in the sample; candidates present, absent".into());
            }
            _ => {
                let why = format!("undecided: the directions differ ({}); a side has one comp_hdr", hdr_votes.iter().map(|v| format!("{}: {}", v.0, v.2)).collect::<Vec<_>>().join("; "));
                l.warnings.push(format!("comp_hdr {why}"));
                ev.insert("comp_hdr", why);
            }
        }
        let edge = uplane_edge.max(self.cplane_prb_edge);
        if edge > 0 {
            p.carrier_prbs = Some(edge);
            ev.insert("carrier_prbs", format!("largest PRB edge seen (U-plane {uplane_edge}, C-plane {}); a lower bound if the sample never fills the carrier", self.cplane_prb_edge));
        } else {
            ev.insert("carrier_prbs", "undecided: no PRB edge seen (only numPrbc = 0 sections)".into());
        }
        self.numerology(&mut p, &mut ev, &mut l);
        let mtu = if self.largest_payload <= 1500 { 1500 } else { 9000 };
        p.mtu = Some(mtu);
        ev.insert("mtu", format!("smallest common MTU that carries the largest Ethernet payload seen ({} bytes); traffic shows a lower bound only", self.largest_payload));
        l.prach = self.prach.iter().map(|((fs, cp, fo, st), n)| Prach { frame_structure: fs.clone(), cp_length: *cp, freq_offset: *fo, start_symbol: *st, count: *n }).collect();
        l.seq_id = self.seq.into_values().map(|(_, f)| f).collect();
        for f in &l.seq_id {
            if f.jumps > 1 {
                l.warnings.push(format!("{} eAxC {}: seqId jumped {} times (loss, reordering, or a counter not per eAxC)", f.flow, f.eaxc, f.jumps - 1));
            }
        }
        p.learned = Some(l);
        Ok((p, ev))
    }

    /// `prach_eaxc` from section type 3, and `prach_comp` where the PRACH
    /// U-plane (or, without it, type 3's udCompHdr) differs from `ul_comp`.
    fn prach_flows(&self, p: &mut Profile, ev: &mut Evidence, l: &mut Learned, hdr_votes: &mut Vec<(&'static str, bool, String)>, edge: &mut u16) {
        if self.prach_ids.is_empty() {
            return;
        }
        p.prach_eaxc = Some(self.prach_ids.iter().map(|i| format!("{i:#06x}")).collect());
        ev.insert("prach_eaxc", format!("the eAxCs section type 3 names ({} type-3 sections)", self.prach_ccomp.values().sum::<u64>()));
        let samples: Vec<Vec<u8>> = self.usamples.iter().filter(|((d, id), _)| *d == 0 && self.prach_ids.contains(id)).flat_map(|(_, v)| v.iter().cloned()).take(SAMPLE_CAP).collect();
        let c = self.prach_ccomp.iter().max_by_key(|(_, n)| **n).map(|(b, _)| UdCompHdr::from_byte(*b));
        if let Some(c) = c {
            l.cplane_comp.insert("prach".into(), c.spec());
        }
        let ul = p.ul_comp.clone();
        let (comp, why) = if samples.is_empty() {
            (c, format!("from the section type 3 udCompHdr ({} messages); no PRACH U-plane in the sample", self.prach_ccomp.values().sum::<u64>()))
        } else {
            match uplane::infer(&samples) {
                Ok(u) => {
                    hdr_votes.push(("PRACH", u.comp_hdr, u.hdr_evidence.clone()));
                    *edge = (*edge).max(u.prb_edge);
                    if let (Some(uc), Some(cc)) = (u.comp, c) {
                        let verdict = if uc == cc { "consistent".to_string() } else { format!("section type 3 udCompHdr says {} but the PRACH U-plane is {}", cc.spec(), uc.spec()) };
                        if verdict != "consistent" {
                            l.warnings.push(format!("PRACH: {verdict}"));
                        }
                        l.cu_consistency.insert("prach".into(), verdict);
                    }
                    (u.comp, format!("PRACH U-plane ({} messages on the type-3 eAxCs): {}", samples.len(), u.evidence))
                }
                Err(why) => {
                    l.warnings.push(format!("prach_comp undecided: {why}"));
                    (None, format!("undecided: {why}"))
                }
            }
        };
        match comp {
            Some(c) if Some(c.spec()) != ul => {
                p.prach_comp = Some(c.spec());
                ev.insert("prach_comp", why);
            }
            Some(_) => {
                ev.insert("prach_comp", format!("same as ul_comp, so not given: {why}"));
            }
            None => {
                ev.insert("prach_comp", why);
            }
        }
    }

    fn vlan(&self, p: &mut Profile, ev: &mut Evidence, l: &mut Learned) {
        let total: u64 = self.vlans.values().sum();
        match self.vlans.iter().max_by_key(|(_, n)| **n) {
            Some((Some((v, pcp)), n)) => {
                p.vlan = Some(*v);
                p.vlan_pcp = Some(*pcp);
                ev.insert("vlan", format!("{n} of {total} eCPRI frames tagged VID {v}"));
                ev.insert("vlan_pcp", format!("{n} of {total} eCPRI frames carry PCP {pcp}"));
            }
            Some((None, n)) => {
                ev.insert("vlan", format!("untagged: {n} of {total} eCPRI frames carry no VLAN tag"));
                ev.insert("vlan_pcp", "untagged: no PCP".into());
            }
            None => {}
        }
        if self.vlans.len() > 1 {
            l.warnings.push(format!("frames carry {} different VLAN tags/PCPs: {:?}", self.vlans.len(), self.vlans));
        }
    }

    fn numerology(&self, p: &mut Profile, ev: &mut Evidence, l: &mut Learned) {
        // slotId counts slots within a 1 ms subframe: 2^µ of them.
        let min_mu = (0..=4u8).find(|mu| u16::from(self.max_slot) < 1 << mu);
        let Some(min_mu) = min_mu else {
            ev.insert("numerology", format!("undecided: slotId {} is beyond µ = 4", self.max_slot));
            return;
        };
        let mut t = self.sym_ns.clone();
        t.sort_unstable();
        let timed = t.get(t.len() / 2).and_then(|&med| {
            (0..=4u8).find(|mu| {
                let nominal = (1_000_000u64 >> mu) / 14;
                med.abs_diff(nominal) * 10 <= nominal
            }).map(|mu| (mu, med))
        });
        match timed {
            Some((mu, med)) if mu >= min_mu => {
                p.numerology = Some(mu);
                ev.insert("numerology", format!("symbol spacing {med} ns (median of {} steps) = 1 ms / 2^{mu} / 14; slotId up to {}", t.len(), self.max_slot));
            }
            _ if self.max_slot >= 8 => {
                p.numerology = Some(min_mu);
                ev.insert("numerology", format!("slotId reaches {} (2^{min_mu} slots per subframe); no usable symbol timing", self.max_slot));
            }
            _ => {
                let c: Vec<u8> = (min_mu..=4).collect();
                let why = format!("undecided: slotId only reaches {} and symbol timing fits no numerology; candidates {c:?}", self.max_slot);
                l.warnings.push(format!("numerology {why}"));
                ev.insert("numerology", why);
            }
        }
    }
}

fn p_set(p: &mut Profile, dir: u8, c: UdCompHdr) {
    let v = Some(c.spec());
    if dir == 1 {
        p.dl_comp = v;
    } else {
        p.ul_comp = v;
    }
}

/// `METHOD:WIDTH` as the config file spells it.
trait Spec {
    fn spec(&self) -> String;
}

impl Spec for UdCompHdr {
    fn spec(&self) -> String {
        format!("{}:{}", self.comp_meth.name(), self.iq_width)
    }
}

/// Whether a method's PRBs carry one udCompParam byte.
fn has_param(m: CompMethod) -> bool {
    m.param_len() == Some(1)
}
