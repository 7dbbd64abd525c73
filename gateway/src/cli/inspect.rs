//! `fhgate inspect FILE`: decode every frame, as text or JSON lines, then
//! a per-flow summary. A bad frame is reported and counted; it never
//! stops the walk through the file.

use std::collections::BTreeMap;
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::Args;
use ecpri::fields::{FieldValue, FieldVisitor};
use ecpri::frame::{Body, DecodeConfig, FrameRepr, Payload};
use ecpri::header::message_type;
use serde_json::{json, Map, Value};

use super::inspect_iq::IqStats;
use super::seq_report::SeqReport;
use super::DecodeArgs;
use fhgate::io::pcap;

/// Arguments of `inspect`.
#[derive(Args, Debug)]
pub struct InspectArgs {
    /// A pcap or pcapng capture (Ethernet, or Linux cooked as `tcpdump -i any` writes).
    pub file: PathBuf,
    /// One JSON object per frame, then one summary object.
    #[arg(long)]
    pub json: bool,
    /// Include every PRB (udCompParam and IQ bytes) in the output, and
    /// per-flow IQ statistics in the summary: the BFP exponent histogram,
    /// peak and RMS level in dBFS, and samples beyond int16 full scale.
    #[arg(long)]
    pub iq: bool,
    /// Only the summary.
    #[arg(long, conflicts_with = "json")]
    pub summary_only: bool,
    #[command(flatten)]
    pub decode: DecodeArgs,
}

pub fn run(a: InspectArgs) -> Result<ExitCode> {
    let cfg = a.decode.config();
    let capture = pcap::read(&a.file)?;
    let frames = &capture.frames;
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let mut summary = Summary { iq: a.iq, ..Summary::default() };
    let t0 = frames.first().map(|f| f.timestamp).unwrap_or_default();
    for (i, f) in frames.iter().enumerate() {
        let n = i + 1;
        let rel = f.timestamp.saturating_sub(t0).as_secs_f64();
        // A frame the snap length cut is shown with both lengths, as tshark
        // does; when it does not decode, the cut is the reason, not an error.
        let cut = f.is_cut().then(|| json!({"captured": f.data.len(), "on_wire": f.orig_len}));
        if cut.is_some() {
            summary.cut += 1;
        }
        match FrameRepr::parse(&f.data, &cfg) {
            Ok(fr) => {
                summary.add_frame(&fr, &cfg);
                if a.json {
                    let mut j = JsonFields::new(a.iq);
                    j.obj.insert("frame".into(), json!(n));
                    j.obj.insert("time".into(), json!(rel));
                    j.obj.insert("len".into(), json!(f.data.len()));
                    if let Some(c) = cut {
                        j.obj.insert("cut".into(), c);
                    }
                    fr.visit(&mut j, &cfg);
                    writeln!(out, "{}", Value::Object(j.finish()))?;
                } else if !a.summary_only {
                    write_text(&mut out, n, rel, &fr, &cfg, a.iq)?;
                }
            }
            Err(e) if f.is_cut() => {
                if a.json {
                    writeln!(out, "{}", json!({"frame": n, "time": rel, "len": f.data.len(), "cut": cut, "message": e.to_string()}))?;
                } else if !a.summary_only {
                    writeln!(out, "{n:6} {rel:12.6}  [cut by the snap length: {} of {} bytes captured] {e}", f.data.len(), f.orig_len)?;
                }
            }
            Err(e) => {
                summary.add_error(&e, &f.data, &cfg);
                if a.json {
                    let err = json!({"kind": e.kind(), "field": e.field(), "offset": e.offset(), "message": e.to_string()});
                    writeln!(out, "{}", json!({"frame": n, "time": rel, "len": f.data.len(), "error": err}))?;
                } else if !a.summary_only {
                    writeln!(out, "{n:6} {rel:12.6}  ERROR {}: {e}", e.kind())?;
                }
            }
        }
    }
    if a.json {
        let mut j = summary.to_json(frames.len());
        j["cut_frames"] = json!(summary.cut);
        j["file_cut_at"] = json!(capture.cut_short.map(|c| c.offset));
        writeln!(out, "{}", json!({ "summary": j }))?;
    } else {
        summary.write_text(&mut out, frames.len())?;
        if summary.cut > 0 {
            writeln!(out, "  cut by the snap length: {} frames (captured shorter than on the wire)", summary.cut)?;
        }
        if let Some(c) = &capture.cut_short {
            writeln!(out, "  file cut short: {c}; the frames before it are above")?;
        }
    }
    out.flush()?;
    Ok(if summary.errors.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

/// Builds a JSON object from a field walk: groups become arrays of objects.
struct JsonFields {
    obj: Map<String, Value>,
    stack: Vec<(&'static str, Map<String, Value>)>,
    iq: bool,
    skip_depth: usize,
}

impl JsonFields {
    fn new(iq: bool) -> Self {
        JsonFields { obj: Map::new(), stack: Vec::new(), iq, skip_depth: 0 }
    }

    fn cur(&mut self) -> &mut Map<String, Value> {
        match self.stack.last_mut() {
            Some((_, m)) => m,
            None => &mut self.obj,
        }
    }

    fn finish(self) -> Map<String, Value> {
        self.obj
    }
}

fn hex(b: &[u8]) -> String {
    let mut s = String::with_capacity(b.len() * 2);
    for x in b {
        s.push_str(&format!("{x:02x}"));
    }
    s
}

fn to_json(v: FieldValue<'_>) -> Value {
    match v {
        FieldValue::U(x) => json!(x),
        FieldValue::I(x) => json!(x),
        FieldValue::Bool(b) => json!(b),
        FieldValue::Bytes(b) => json!(hex(b)),
        FieldValue::Str(s) => json!(s),
    }
}

impl<'a> FieldVisitor<'a> for JsonFields {
    fn field(&mut self, name: &'static str, value: FieldValue<'a>) {
        if self.skip_depth > 0 {
            return;
        }
        let v = to_json(value);
        let m = self.cur();
        match m.get_mut(name) {
            // A name repeated within one object keeps every value, in order.
            Some(Value::Array(a)) if a.first().is_some_and(|x| !x.is_object()) => a.push(v),
            Some(old) => {
                let prev = old.take();
                *old = json!([prev, v]);
            }
            None => {
                m.insert(name.into(), v);
            }
        }
    }

    fn begin(&mut self, group: &'static str) {
        if self.skip_depth > 0 || (!self.iq && group == "prbs") {
            self.skip_depth += 1;
            return;
        }
        self.stack.push((group, Map::new()));
    }

    fn end(&mut self) {
        if self.skip_depth > 0 {
            self.skip_depth -= 1;
            return;
        }
        if let Some((group, m)) = self.stack.pop() {
            let parent = self.cur();
            match parent.entry(group).or_insert_with(|| json!([])) {
                Value::Array(a) => a.push(Value::Object(m)),
                other => *other = json!([Value::Object(m)]),
            }
        }
    }
}

/// Writes `name=value` pairs, one line per group, for the text view.
struct TextFields<'w, W: Write> {
    out: &'w mut W,
    depth: usize,
    line: String,
    iq: bool,
    skip_depth: usize,
}

impl<W: Write> TextFields<'_, W> {
    fn flush_line(&mut self) {
        if !self.line.is_empty() {
            let _ = writeln!(self.out, "{:indent$}{}", "", self.line.trim_end(), indent = 8 + 4 * self.depth);
            self.line.clear();
        }
    }
}

impl<'a, W: Write> FieldVisitor<'a> for TextFields<'_, W> {
    fn field(&mut self, name: &'static str, value: FieldValue<'a>) {
        if self.skip_depth > 0 {
            return;
        }
        let short = name.strip_prefix("oran_fh_cus.").unwrap_or(name);
        let v = match value {
            FieldValue::U(x) => x.to_string(),
            FieldValue::I(x) => x.to_string(),
            FieldValue::Bool(b) => (b as u8).to_string(),
            FieldValue::Bytes(b) if b.len() > 16 => format!("{}…({} B)", hex(&b[..16]), b.len()),
            FieldValue::Bytes(b) => hex(b),
            FieldValue::Str(s) => s.to_string(),
        };
        self.line.push_str(&format!("{short}={v} "));
    }

    fn begin(&mut self, group: &'static str) {
        if self.skip_depth > 0 || (!self.iq && group == "prbs") {
            self.skip_depth += 1;
            return;
        }
        self.flush_line();
        self.line.push_str(&format!("[{group}] "));
        self.depth += 1;
    }

    fn end(&mut self) {
        if self.skip_depth > 0 {
            self.skip_depth -= 1;
            return;
        }
        self.flush_line();
        self.depth = self.depth.saturating_sub(1);
    }
}

fn write_text<W: Write>(out: &mut W, n: usize, rel: f64, fr: &FrameRepr<'_>, cfg: &DecodeConfig, iq: bool) -> Result<()> {
    let vlan = fr.eth.vid().map(|v| format!(" vlan {v}")).unwrap_or_default();
    match &fr.payload {
        Payload::Other(b) => {
            writeln!(out, "{n:6} {rel:12.6} {vlan} ethertype 0x{:04x}, {} bytes (not eCPRI)", fr.eth.ethertype, b.len())?;
            return Ok(());
        }
        Payload::Ecpri(ms) => {
            for m in ms {
                let what = match &m.body {
                    Body::IqData { uplane, .. } => format!(
                        "U-plane {} f{} sf{} sl{} sym{}, {} section(s)",
                        super::dir_name(uplane.header.data_direction),
                        uplane.header.frame_id,
                        uplane.header.subframe_id,
                        uplane.header.slot_id,
                        uplane.header.symbol_id,
                        uplane.sections.len()
                    ),
                    Body::IqFragment { data, .. } => format!("U-plane fragment, {} bytes", data.len()),
                    Body::RtControl { .. } => "C-plane".to_string(),
                    Body::OneWayDelay(_) => "one-way delay measurement".to_string(),
                    Body::Other(b) => format!("{}, {} bytes", message_type::name(m.header.message_type), b.len()),
                };
                let id = m
                    .body
                    .eaxc_and_seq()
                    .map(|(id, s)| {
                        let e = cfg.eaxc.split(id);
                        format!(
                            " eAxC {}:{}:{}:{} seq {}{}",
                            e.du_port,
                            e.band_sector,
                            e.cc,
                            e.ru_port,
                            s.seq_id,
                            if s.e_bit && s.subseq_id == 0 { String::new() } else { format!("/{}e{}", s.subseq_id, s.e_bit as u8) }
                        )
                    })
                    .unwrap_or_default();
                writeln!(out, "{n:6} {rel:12.6} {vlan}{id}  {what}")?;
                let mut t = TextFields { out, depth: 0, line: String::new(), iq, skip_depth: 0 };
                match &m.body {
                    Body::IqData { uplane, cfg: ucfg, .. } => {
                        for s in &uplane.sections {
                            t.begin("section");
                            s.visit(&mut t, ucfg);
                            t.end();
                        }
                    }
                    Body::RtControl { cplane, .. } => {
                        use ecpri::fields::VisitFields;
                        cplane.visit_fields(&mut t);
                        t.flush_line();
                    }
                    Body::OneWayDelay(r) => {
                        r.visit(&mut t);
                        t.flush_line();
                    }
                    _ => {}
                }
            }
        }
    }
    Ok(())
}

/// Flow key for the summary: plane, direction, eAxC ID, VLAN.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct FlowKey {
    plane: &'static str,
    dir: &'static str,
    eaxc: u16,
    vid: Option<u16>,
}

#[derive(Debug, Default)]
struct FlowStats {
    frames: u64,
    sections: u64,
    prbs: u64,
    comp: BTreeMap<String, u64>,
    seq: SeqReport,
    errors: u64,
    iq: IqStats,
}

#[derive(Default)]
struct Summary {
    /// Whether to measure IQ (`--iq`).
    iq: bool,
    flows: BTreeMap<FlowKey, FlowStats>,
    other: BTreeMap<u16, u64>,
    errors: BTreeMap<(&'static str, &'static str), u64>,
    /// Frames captured shorter than they were on the wire.
    cut: u64,
}

/// Collects section counts, PRBs and compression from a message's field
/// walk. U-plane sections report the compression in force (`iqWidth`,
/// `compMeth`); C-plane messages report their udCompHdr.
struct StatsFields<'s> {
    st: &'s mut FlowStats,
    carrier_prbs: u16,
    cplane: bool,
    width: u64,
}

impl<'a> FieldVisitor<'a> for StatsFields<'_> {
    fn field(&mut self, name: &'static str, value: FieldValue<'a>) {
        match (name, value) {
            ("oran_fh_cus.numPrbu" | "oran_fh_cus.numPrbc", FieldValue::U(n)) => {
                self.st.prbs += if n == 0 { self.carrier_prbs as u64 } else { n }
            }
            ("oran_fh_cus.iqWidth", FieldValue::U(w)) if !self.cplane => self.width = w,
            ("oran_fh_cus.compMeth", FieldValue::Str(m)) if !self.cplane => {
                *self.st.comp.entry(format!("{m}:{}", self.width)).or_default() += 1;
            }
            ("oran_fh_cus.udCompHdrWidth", FieldValue::U(w)) if self.cplane => self.width = if w == 0 { 16 } else { w },
            ("oran_fh_cus.udCompHdrMeth", FieldValue::U(m)) if self.cplane => {
                let m = ecpri::CompMethod::from_bits(m as u8).name();
                *self.st.comp.entry(format!("{m}:{}", self.width)).or_default() += 1;
            }
            _ => {}
        }
    }

    fn begin(&mut self, group: &'static str) {
        if group == "sections" || group == "section" {
            self.st.sections += 1;
        }
    }

    fn end(&mut self) {}
}

impl Summary {
    fn add_frame(&mut self, fr: &FrameRepr<'_>, cfg: &DecodeConfig) {
        let vid = fr.eth.vid();
        if let Payload::Other(_) = fr.payload {
            *self.other.entry(fr.eth.ethertype).or_default() += 1;
            return;
        }
        for m in fr.messages() {
            let (plane, dir) = match &m.body {
                Body::IqData { uplane, .. } => ("U", super::dir_name(uplane.header.data_direction)),
                Body::IqFragment { .. } => ("U", "?"),
                Body::RtControl { cplane, .. } => ("C", super::dir_name(cplane.header.app.data_direction)),
                _ => (message_type::name(m.header.message_type), "-"),
            };
            let eaxc = m.body.eaxc_and_seq().map_or(0, |(id, _)| id);
            let st = self.flows.entry(FlowKey { plane, dir, eaxc, vid }).or_default();
            st.frames += 1;
            if let Some((_, s)) = m.body.eaxc_and_seq() {
                if s.subseq_id == 0 {
                    st.seq.add(s.seq_id);
                }
            }
            let cplane = matches!(m.body, Body::RtControl { .. });
            let mut sv = StatsFields { st, carrier_prbs: cfg.carrier_prbs, cplane, width: 0 };
            match &m.body {
                Body::IqData { uplane, cfg: ucfg, .. } => {
                    for s in &uplane.sections {
                        sv.begin("section");
                        s.visit(&mut sv, ucfg);
                        sv.end();
                        if self.iq {
                            sv.st.iq.add_section(s, s.comp(ucfg.static_comp), cfg.carrier_prbs);
                        }
                    }
                }
                Body::RtControl { cplane, .. } => {
                    use ecpri::fields::VisitFields;
                    cplane.visit_fields(&mut sv);
                }
                _ => {}
            }
        }
    }

    /// Counts a bad frame by error kind and, when its flow can still be
    /// told (the eCPRI header and eAxC ID are readable), against that flow.
    fn add_error(&mut self, e: &ecpri::Error, frame: &[u8], cfg: &DecodeConfig) {
        *self.errors.entry((e.kind(), e.field())).or_default() += 1;
        if let Some((plane, dir, eaxc, vid)) = super::raw_flow(frame, cfg.udp_port) {
            self.flows.entry(FlowKey { plane, dir: super::dir_name(dir), eaxc, vid }).or_default().errors += 1;
        }
    }

    fn to_json(&self, frames: usize) -> Value {
        let flows: Vec<Value> = self
            .flows
            .iter()
            .map(|(k, s)| {
                let mut v = json!({"plane": k.plane, "direction": k.dir, "eaxc": k.eaxc, "vlan": k.vid,
                       "frames": s.frames, "sections": s.sections, "prbs": s.prbs, "compression": s.comp,
                       "seq_gaps": s.seq.gaps, "seq_reorders": s.seq.reorders,
                       "seq_duplicates": s.seq.duplicates, "errors": s.errors});
                if self.iq && k.plane == "U" {
                    v["iq"] = s.iq.to_json();
                }
                v
            })
            .collect();
        let errors: Vec<Value> =
            self.errors.iter().map(|((k, f), n)| json!({"kind": k, "field": f, "count": n})).collect();
        let other: Map<String, Value> = self.other.iter().map(|(t, n)| (format!("0x{t:04x}"), json!(n))).collect();
        json!({"frames": frames, "flows": flows, "other_ethertypes": other, "errors": errors,
               "error_frames": self.errors.values().sum::<u64>()})
    }

    fn write_text<W: Write>(&self, out: &mut W, frames: usize) -> Result<()> {
        writeln!(out, "\nsummary: {frames} frames, {} flows, {} bad frames", self.flows.len(), self.errors.values().sum::<u64>())?;
        writeln!(out, "  {:<5} {:<3} {:>6} {:>5} {:>8} {:>8} {:>10} {:>6} {:>6} {:>6} {:>6}  compression", "plane", "dir", "eAxC", "vlan", "frames", "sections", "PRBs", "gaps", "reord", "dup", "errors")?;
        for (k, s) in &self.flows {
            let comp: Vec<String> = s.comp.keys().cloned().collect();
            writeln!(
                out,
                "  {:<5} {:<3} 0x{:04x} {:>5} {:>8} {:>8} {:>10} {:>6} {:>6} {:>6} {:>6}  {}",
                k.plane,
                k.dir,
                k.eaxc,
                k.vid.map_or("-".into(), |v| v.to_string()),
                s.frames,
                s.sections,
                s.prbs,
                s.seq.gaps,
                s.seq.reorders,
                s.seq.duplicates,
                s.errors,
                if comp.is_empty() { "-".to_string() } else { comp.join(",") }
            )?;
        }
        if self.iq {
            writeln!(out, "  IQ per U-plane flow (0 dBFS = int16 full scale, 32768):")?;
            writeln!(out, "  {:<3} {:>6} {:>5}{}", "dir", "eAxC", "vlan", IqStats::TEXT_HEADER)?;
            for (k, s) in self.flows.iter().filter(|(k, s)| k.plane == "U" && !s.iq.is_empty()) {
                writeln!(out, "  {:<3} 0x{:04x} {:>5}{}", k.dir, k.eaxc, k.vid.map_or("-".into(), |v| v.to_string()), s.iq.text_row())?;
            }
        }
        for (t, n) in &self.other {
            writeln!(out, "  other ethertype 0x{t:04x}: {n} frames (not eCPRI)")?;
        }
        for ((k, f), n) in &self.errors {
            writeln!(out, "  errors: {n} × {k} in {f}")?;
        }
        Ok(())
    }
}
