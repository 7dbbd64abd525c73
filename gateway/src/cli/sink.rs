//! `fhgate sink`: the DU/RU emulator's receiving half. Takes frames from a
//! live port (or a capture, so that it runs offline too), decodes every
//! one, counts per flow (direction, plane, eAxC) frames, sections, PRBs
//! and seqId gaps, reorders and duplicates, and measures the U-plane IQ
//! error against the known test signal of `fhgate gen`
//! ([`fhgate::traffic::reference_prb`]).
//!
//! The signal is keyed on the values of the eAxC fields, so a stream that
//! went through an eAxC remap is checked by decoding it with the
//! receiver's layout (`--eaxc-bits 2,6,4,4`); a stream recompressed on the
//! way is decompressed as it arrives (udCompHdr, or `--dl-comp`), and
//! `--signal-comp` names the compression gen used, so that a lossless
//! translation (BFP 8 → 12) measures exactly zero error. `--level-dbfs`,
//! `--exponents` and `--rounding` are gen's, so the signal is rebuilt at
//! gen's level (in `i32`: beyond int16 full scale nothing wraps).
//!
//! Exit codes: 0 all good; 1 an invalid frame, EVM above `--max-evm`, or
//! fewer than `--expect` frames; 2 usage or I/O errors.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clap::Args;
use ecpri::frame::{Body, DecodeConfig, FrameRepr, Payload};
use ecpri::iq::SAMPLES_PER_PRB;
use ecpri::uplane::SectionRepr;
use ecpri::UdCompHdr;
use fhgate::config::Backend;
use fhgate::diff::IqError;
use fhgate::io::pcap::{Pace, PcapOut, PcapRx};
use fhgate::io::{live, RxPoll, RxPort};
use ecpri::iq::Rounding;
use fhgate::traffic::{reference_prb, SignalLevel, SlotTime};
use fhgate::translate::PacketBuf;
use serde_json::{json, Value};

use super::seq_report::SeqReport;
use super::DecodeArgs;

/// Arguments of `sink`.
#[derive(Args, Debug)]
pub struct SinkArgs {
    /// Receive on a live port: af_xdp:IFACE[,k=v], af_packet:IFACE or udp:BIND,PEER.
    #[arg(long, value_name = "SPEC", required_unless_present = "input", conflicts_with = "input")]
    pub port: Option<String>,
    /// Read frames from a pcap/pcapng capture instead.
    #[arg(long, short, value_name = "FILE")]
    pub input: Option<PathBuf>,
    /// Also write every frame that arrived to this pcap file (a new one,
    /// unless `--force`).
    #[arg(short, long, value_name = "FILE.pcap")]
    pub output: Option<PathBuf>,
    /// Replace `--output` if it exists (a recording cannot be made again).
    #[arg(long, requires = "output")]
    pub force: bool,
    /// Stop after this many frames.
    #[arg(long, value_name = "N")]
    pub count: Option<u64>,
    /// Stop after this many seconds.
    #[arg(long, value_name = "SECONDS", value_parser = super::gen::parse_seconds)]
    pub duration: Option<Duration>,
    /// Stop after this many seconds without frames, once one has arrived.
    #[arg(long, value_name = "SECONDS", default_value = "2", value_parser = super::gen::parse_seconds)]
    pub idle_timeout: Duration,
    /// Exit 1 when fewer frames arrive.
    #[arg(long, value_name = "N")]
    pub expect: Option<u64>,
    /// Exit 1 when the overall IQ EVM exceeds this many percent.
    #[arg(long, value_name = "PCT")]
    pub max_evm: Option<f64>,
    /// The compression gen sent the signal with: the reference becomes the
    /// signal as that compression carries it (without it: the ideal signal).
    #[arg(long, value_name = "METHOD:WIDTH", value_parser = parse_comp)]
    pub signal_comp: Option<UdCompHdr>,
    /// Do not measure IQ error (the stream does not carry gen's test signal).
    #[arg(long)]
    pub no_iq: bool,
    /// Largest Ethernet payload the port must carry.
    #[arg(long, default_value_t = 1500)]
    pub mtu: usize,
    /// The report as one JSON object.
    #[arg(long)]
    pub json: bool,
    /// The signal's level and rounding, as gen was given them.
    #[command(flatten)]
    pub signal: super::gen::SignalArgs,
    #[command(flatten)]
    pub decode: DecodeArgs,
}

fn parse_comp(s: &str) -> Result<UdCompHdr, String> {
    UdCompHdr::from_spec(s).ok_or_else(|| format!("`{s}`: expected METHOD:WIDTH like bfp:9"))
}

/// Invalid frames whose error is printed as it is found.
const MAX_ERROR_EXAMPLES: usize = 5;
/// Frames taken per `recv`.
const BURST: usize = 32;

pub fn run(a: SinkArgs) -> Result<ExitCode> {
    fhgate::signals::install();
    let stop = fhgate::signals::stop_flag();
    let mut cfg = a.decode.config();
    // A live port's transmit half answers one-way delay requests (eCPRI message type 5).
    let mut owd_tx: Option<Box<dyn fhgate::io::TxPort>> = None;
    let mut own = fhgate::traffic::CarrierSpec::default().ru_mac;
    let (mut answered, mut owd_malformed) = (0u64, 0u64);
    let (mut rx, source, live): (Box<dyn RxPort>, String, bool) = match (&a.port, &a.input) {
        (Some(spec), _) => {
            let backend = fhgate::config::parse_port_spec(spec).map_err(|e| anyhow::anyhow!("{e}"))?;
            // The UDP port hands datagrams over as Ethernet/IP/UDP frames to its bind port.
            if let Backend::Udp(u) = &backend {
                cfg.udp_port = cfg.udp_port.or(Some(u.bind.port()));
            }
            // A multi-queue port (`queues=0-3`, `sockets=4`) is read lane by
            // lane in one loop; one-way delay is answered on the first lane.
            let mut lanes = live::open_lanes(&backend, a.mtu).map_err(|e| anyhow::anyhow!("{e}"))?.into_iter();
            let first = lanes.next().ok_or_else(|| anyhow::anyhow!("{spec}: no lane opened"))?;
            let rest: Vec<Box<dyn RxPort>> = lanes.map(|l| l.rx).collect();
            owd_tx = Some(first.tx);
            own = super::owd::own_mac(&backend, own);
            let rx = fhgate::io::merged::merged(std::iter::once(first.rx).chain(rest).collect());
            (rx, spec.clone(), true)
        }
        (None, Some(path)) => (Box::new(PcapRx::open(path, Pace::Fast)?), path.display().to_string(), false),
        (None, None) => anyhow::bail!("give --port SPEC or --input FILE"),
    };
    if let (Some(i), Some(o)) = (&a.input, &a.output) {
        let f = |key, path, writes| fhgate::io::output::FileUse { key, path, writes };
        fhgate::io::output::check_distinct(&[f("--input", i, false), f("--output", o, true)])?;
    }
    let existing = if a.force { fhgate::io::output::Existing::Replace } else { fhgate::io::output::Existing::Keep };
    let (mut pcap_out, commit) = a.output.as_deref().map(|o| PcapOut::create(o, existing).context("--output")).transpose()?.unzip();
    // Scripts and tests wait for this line before they start sending.
    tracing::info!(source = %source, "sink receiving");
    let level = a.signal.level(a.signal_comp, "--signal-comp")?;
    let mut sink = Sink::new(cfg, Reference { level, comp: a.signal_comp, rounding: a.signal.rounding }, !a.no_iq);
    let mut bufs: Vec<PacketBuf> = (0..BURST).map(|_| PacketBuf::new()).collect();
    let (mut lens, mut times) = ([0usize; BURST], [0u64; BURST]);
    let start = Instant::now();
    let mut last_frame: Option<Instant> = None;
    let mut interrupted = false;
    // An error ends the loop but not the command's record: what was
    // received is kept (as `.partial`) and reported before the error.
    let mut failure: Option<anyhow::Error> = None;
    'rx: loop {
        if stop.load(Ordering::Relaxed) {
            interrupted = true;
            break;
        }
        if a.duration.is_some_and(|d| start.elapsed() >= d) {
            break;
        }
        let want = a.count.map_or(BURST, |c| (c - sink.frames).min(BURST as u64) as usize);
        if want == 0 {
            break;
        }
        match rx.recv(&mut bufs[..want], &mut lens[..want], &mut times[..want]) {
            Ok(RxPoll::Frames(n)) => {
                last_frame = Some(Instant::now());
                for i in 0..n {
                    let data = &bufs[i].bytes()[..lens[i]];
                    if let Some(o) = pcap_out.as_mut() {
                        if let Err(e) = o.write(Duration::from_nanos(times[i]), data) {
                            failure = Some(e);
                            break 'rx;
                        }
                    }
                    sink.frame(data);
                    if let Some(tx) = owd_tx.as_mut() {
                        match super::owd::answer(data, times[i], tx.as_mut(), own) {
                            Ok(Ok(n)) => answered += n as u64,
                            Ok(Err((field, at))) => {
                                owd_malformed += 1;
                                tracing::warn!("one-way delay message not answered: {field} at byte {at} of its body");
                            }
                            Err(e) => {
                                failure = Some(e);
                                break 'rx;
                            }
                        }
                    }
                }
            }
            Ok(RxPoll::Idle) => {
                if live && last_frame.is_some_and(|t| t.elapsed() >= a.idle_timeout) {
                    break 'rx;
                }
                std::thread::sleep(Duration::from_micros(200));
            }
            Ok(RxPoll::Closed) => break,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => {
                failure = Some(anyhow::Error::new(e).context(format!("receiving on {source}")));
                break 'rx;
            }
        }
    }
    drop(pcap_out);
    // What was received is kept whatever the checks below say; after a
    // failure (or a write error) as `.partial`, beside the file it leaves as it was.
    let partial = match commit {
        Some(c) if failure.is_some() || c.write_error().is_some() => {
            if failure.is_none() {
                failure = Some(anyhow::anyhow!("writing {}: {}", c.target().display(), c.write_error().unwrap_or_default()));
            }
            fhgate::io::output::keep_all_partial(vec![c])
        }
        Some(c) => {
            c.commit()?;
            Vec::new()
        }
        None => Vec::new(),
    };
    let elapsed = start.elapsed();
    if answered + owd_malformed > 0 {
        eprintln!("fhgate sink: answered {answered} one-way delay messages; {owd_malformed} did not decode");
    }
    let fails = sink.failures(a.expect, a.max_evm);
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    if a.json {
        let mut j = sink.to_json(&source, elapsed, interrupted, &fails);
        if failure.is_some() {
            j["partial"] = fhgate::io::output::partial_json(&partial);
        }
        writeln!(out, "{j}")?;
    } else {
        sink.write_text(&mut out, &source, elapsed, interrupted, &fails)?;
    }
    out.flush()?;
    if let Some(e) = failure {
        return Err(e);
    }
    Ok(if fails.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

/// A flow: plane (`U` or `C`), dataDirection (1 DL, 0 UL) and eAxC ID.
type FlowKey = (&'static str, u8, u16);

#[derive(Debug, Default)]
struct FlowStats {
    frames: u64,
    sections: u64,
    prbs: u64,
    invalid: u64,
    seq: SeqReport,
    iq: IqError,
}

/// What the IQ is checked against: gen's signal at `level`, as `comp`
/// (rounding as `rounding`) carries it, or ideal when `comp` is `None`.
#[derive(Debug, Clone, Copy)]
struct Reference {
    level: SignalLevel,
    comp: Option<UdCompHdr>,
    rounding: Rounding,
}

/// Everything counted so far.
struct Sink {
    cfg: DecodeConfig,
    reference: Reference,
    check_iq: bool,
    frames: u64,
    bytes: u64,
    invalid: u64,
    /// Messages by type: `U`, `C1`, `C3`, ...; frames that are not eCPRI as `other`.
    by_type: BTreeMap<String, u64>,
    errors: BTreeMap<(&'static str, &'static str), u64>,
    error_examples: Vec<Value>,
    flows: BTreeMap<FlowKey, FlowStats>,
    /// U-plane sections by the compression they arrived in.
    comp: BTreeMap<String, u64>,
    /// C-plane messages by their udCompHdr.
    cplane_comp: BTreeMap<String, u64>,
    scratch: Vec<i32>,
}

impl Sink {
    fn new(cfg: DecodeConfig, reference: Reference, check_iq: bool) -> Self {
        Sink {
            cfg,
            reference,
            check_iq,
            frames: 0,
            bytes: 0,
            invalid: 0,
            by_type: BTreeMap::new(),
            errors: BTreeMap::new(),
            error_examples: Vec::new(),
            flows: BTreeMap::new(),
            comp: BTreeMap::new(),
            cplane_comp: BTreeMap::new(),
            scratch: vec![0; SAMPLES_PER_PRB],
        }
    }

    fn frame(&mut self, data: &[u8]) {
        self.frames += 1;
        self.bytes += data.len() as u64;
        let cfg = self.cfg;
        match FrameRepr::parse(data, &cfg) {
            Ok(fr) => {
                if let Payload::Other(_) = fr.payload {
                    *self.by_type.entry("other".into()).or_default() += 1;
                }
                for m in fr.messages() {
                    self.message(&m.body);
                }
            }
            Err(e) => self.invalid_frame(&e, data),
        }
    }

    fn message(&mut self, body: &Body<'_>) {
        let cfg = self.cfg;
        match body {
            Body::IqData { pc_id, seq_id, uplane, cfg: ucfg } => {
                *self.by_type.entry("U".into()).or_default() += 1;
                let h = uplane.header;
                let st = self.flows.entry(("U", h.data_direction, *pc_id)).or_default();
                st.frames += 1;
                if seq_id.subseq_id == 0 {
                    st.seq.add(seq_id.seq_id);
                }
                let t = SlotTime { frame: h.frame_id, subframe: h.subframe_id, slot: h.slot_id };
                let id = cfg.eaxc.split(*pc_id);
                for sec in &uplane.sections {
                    let comp = sec.comp(ucfg.static_comp);
                    *self.comp.entry(comp.to_string()).or_default() += 1;
                    st.sections += 1;
                    st.prbs += sec.prb_count(cfg.carrier_prbs) as u64;
                    if self.check_iq {
                        check_section(&mut st.iq, sec, comp, cfg.carrier_prbs, |prb| {
                            let rf = self.reference;
                            let r = reference_prb(rf.level, id, t, h.symbol_id, prb);
                            match rf.comp {
                                Some(sc) => carry(sc, rf.rounding, &r, &mut self.scratch),
                                None => r,
                            }
                        });
                    }
                }
            }
            Body::IqFragment { pc_id, seq_id, .. } => {
                *self.by_type.entry("U-fragment".into()).or_default() += 1;
                // The direction is in the first fragment only; count under DL.
                let st = self.flows.entry(("U", 1, *pc_id)).or_default();
                st.frames += 1;
                if seq_id.subseq_id == 0 {
                    st.seq.add(seq_id.seq_id);
                }
            }
            Body::RtControl { rtc_id, seq_id, cplane } => {
                let ty = cplane.header.fields.section_type();
                *self.by_type.entry(format!("C{ty}")).or_default() += 1;
                if let Some(c) = cplane.header.fields.ud_comp_hdr() {
                    *self.cplane_comp.entry(c.to_string()).or_default() += 1;
                }
                let st = self.flows.entry(("C", cplane.header.app.data_direction, *rtc_id)).or_default();
                st.frames += 1;
                if seq_id.subseq_id == 0 {
                    st.seq.add(seq_id.seq_id);
                }
                for s in &cplane.sections {
                    st.sections += 1;
                    let n = s.fields.num_prbc();
                    st.prbs += if n == 0 { cfg.carrier_prbs as u64 } else { n as u64 };
                }
            }
            Body::OneWayDelay(_) => *self.by_type.entry("one-way-delay".into()).or_default() += 1,
            Body::Other(_) => *self.by_type.entry("other-ecpri".into()).or_default() += 1,
        }
    }

    /// Counts a frame that does not decode, by error kind, and against
    /// its flow when the eCPRI header and eAxC ID are still readable.
    fn invalid_frame(&mut self, e: &ecpri::Error, frame: &[u8]) {
        self.invalid += 1;
        *self.errors.entry((e.kind(), e.field())).or_default() += 1;
        if self.error_examples.len() < MAX_ERROR_EXAMPLES {
            let ex = json!({"frame": self.frames, "kind": e.kind(), "field": e.field(), "offset": e.offset(), "message": e.to_string()});
            let at = e.offset().map_or(String::new(), |o| format!(" at offset {o}"));
            eprintln!("fhgate sink: frame {}: {} in {}{at}: {e}", self.frames, e.kind(), e.field());
            self.error_examples.push(ex);
        }
        if let Some((plane, dir, eaxc, _)) = super::raw_flow(frame, self.cfg.udp_port) {
            self.flows.entry((plane, dir, eaxc)).or_default().invalid += 1;
        }
    }

    /// What the IQ was checked against, in words.
    fn reference_text(&self) -> String {
        let r = &self.reference;
        let carried = r.comp.map_or(String::new(), |c| format!(" as {c} ({}) carries it", r.rounding.name()));
        format!("signal at {}{carried}", r.level.describe())
    }

    fn iq_total(&self) -> IqError {
        let mut t = IqError::default();
        for s in self.flows.values() {
            t.merge(&s.iq);
        }
        t
    }

    fn seq_total(&self) -> (u64, u64, u64) {
        self.flows.values().fold((0, 0, 0), |(g, r, d), s| (g + s.seq.gaps, r + s.seq.reorders, d + s.seq.duplicates))
    }

    /// Why the run fails, if it does.
    fn failures(&self, expect: Option<u64>, max_evm: Option<f64>) -> Vec<String> {
        let mut f = Vec::new();
        if self.invalid > 0 {
            f.push(format!("{} invalid frames", self.invalid));
        }
        if let Some(n) = expect.filter(|&n| self.frames < n) {
            f.push(format!("{} frames arrived, fewer than the {n} expected", self.frames));
        }
        if let Some(max) = max_evm {
            let q = self.iq_total();
            match q.evm_pct() {
                Some(e) if e > max => f.push(format!("IQ EVM {e:.4} % exceeds {max} %")),
                None if q.prbs == 0 => f.push("no PRBs to measure IQ error on".into()),
                _ => {}
            }
            if q.undecodable > 0 {
                f.push(format!("{} PRBs could not be decompressed", q.undecodable));
            }
        }
        f
    }

    fn eaxc_json(&self, id: u16) -> Value {
        let e = self.cfg.eaxc.split(id);
        json!({"id": id, "hex": format!("0x{id:04x}"), "du_port": e.du_port, "band_sector": e.band_sector, "cc": e.cc, "ru_port": e.ru_port})
    }

    fn to_json(&self, source: &str, elapsed: Duration, interrupted: bool, fails: &[String]) -> Value {
        let flows: Vec<Value> = self
            .flows
            .iter()
            .map(|(&(plane, dir, eaxc), s)| {
                let mut v = json!({
                    "plane": plane, "direction": super::dir_name(dir), "eaxc": eaxc, "eaxc_fields": super::eaxc_fields(eaxc, &self.cfg.eaxc),
                    "frames": s.frames, "sections": s.sections, "prbs": s.prbs, "invalid": s.invalid,
                    "seq_gaps": s.seq.gaps, "seq_reorders": s.seq.reorders, "seq_duplicates": s.seq.duplicates,
                });
                if plane == "U" && self.check_iq {
                    v["iq"] = iq_json(&s.iq);
                }
                v
            })
            .collect();
        let eaxc_ids: BTreeSet<u16> = self.flows.keys().map(|k| k.2).collect();
        let (gaps, reorders, duplicates) = self.seq_total();
        let errors: Vec<Value> = self.errors.iter().map(|((k, f), n)| json!({"kind": k, "field": f, "count": n})).collect();
        let secs = elapsed.as_secs_f64();
        json!({
            "source": source,
            "frames": self.frames,
            "bytes": self.bytes,
            "valid": self.frames - self.invalid,
            "invalid": self.invalid,
            "by_type": self.by_type,
            "errors": errors,
            "error_examples": self.error_examples,
            "seq_gaps": gaps,
            "seq_reorders": reorders,
            "seq_duplicates": duplicates,
            "compression": self.comp,
            "cplane_ud_comp_hdr": self.cplane_comp,
            "eaxc_ids": eaxc_ids.iter().map(|&id| self.eaxc_json(id)).collect::<Vec<_>>(),
            "iq": if self.check_iq { iq_json(&self.iq_total()) } else { Value::Null },
            "iq_reference": self.reference_text(),
            "flows": flows,
            "seconds": secs,
            "frames_per_second": if secs > 0.0 { self.frames as f64 / secs } else { 0.0 },
            "interrupted": interrupted,
            "ok": fails.is_empty(),
            "failures": fails,
        })
    }

    fn write_text<W: Write>(&self, out: &mut W, source: &str, elapsed: Duration, interrupted: bool, fails: &[String]) -> Result<()> {
        let (gaps, reorders, duplicates) = self.seq_total();
        writeln!(
            out,
            "sink: {source}: {} frames ({} bytes) in {:.3} s{}",
            self.frames,
            self.bytes,
            elapsed.as_secs_f64(),
            if interrupted { ", stopped by signal" } else { "" }
        )?;
        let types: Vec<String> = self.by_type.iter().map(|(k, n)| format!("{k} {n}")).collect();
        writeln!(out, "  valid {}, invalid {}; by type: {}", self.frames - self.invalid, self.invalid, types.join(", "))?;
        for ((k, f), n) in &self.errors {
            writeln!(out, "  errors: {n} × {k} in {f}")?;
        }
        writeln!(out, "  seqId: {gaps} missing, {reorders} reordered, {duplicates} duplicated")?;
        let comp: Vec<String> = self.comp.iter().map(|(c, n)| format!("{c} × {n}")).collect();
        let ccomp: Vec<String> = self.cplane_comp.iter().map(|(c, n)| format!("{c} × {n}")).collect();
        writeln!(out, "  compression: U-plane sections {}; C-plane udCompHdr {}", join_or_none(&comp), join_or_none(&ccomp))?;
        if self.check_iq {
            writeln!(out, "  IQ: {} (against the {})", iq_text(&self.iq_total()), self.reference_text())?;
        }
        writeln!(out, "  {:<5} {:<3} {:<18} {:>8} {:>8} {:>10} {:>6} {:>6} {:>6} {:>7}  IQ", "plane", "dir", "eAxC", "frames", "sections", "PRBs", "gaps", "reord", "dups", "invalid")?;
        for (&(plane, dir, eaxc), s) in &self.flows {
            let iq = if plane == "U" && self.check_iq { iq_text(&s.iq) } else { String::new() };
            writeln!(
                out,
                "  {:<5} {:<3} {:<18} {:>8} {:>8} {:>10} {:>6} {:>6} {:>6} {:>7}  {iq}",
                plane,
                super::dir_name(dir),
                format!("0x{eaxc:04x} ({})", super::eaxc_fields(eaxc, &self.cfg.eaxc)),
                s.frames,
                s.sections,
                s.prbs,
                s.seq.gaps,
                s.seq.reorders,
                s.seq.duplicates,
                s.invalid
            )?;
        }
        if fails.is_empty() {
            writeln!(out, "result: ok")?;
        } else {
            writeln!(out, "result: FAIL: {}", fails.join("; "))?;
        }
        Ok(())
    }
}

/// Compares every PRB of a U-plane section with `reference(prb)`.
pub(super) fn check_section(
    iq: &mut IqError,
    sec: &SectionRepr<'_>,
    comp: UdCompHdr,
    carrier_prbs: u16,
    mut reference: impl FnMut(usize) -> [i32; SAMPLES_PER_PRB],
) {
    let n = sec.prb_count(carrier_prbs);
    let Ok(prb_len) = comp.prb_len() else {
        iq.undecodable += n as u64;
        return;
    };
    let step = if sec.rb { 2 } else { 1 };
    let mut got = [0i32; SAMPLES_PER_PRB];
    for i in 0..n {
        let Some(bytes) = sec.iq_data.get(i * prb_len..(i + 1) * prb_len) else {
            iq.undecodable += (n - i) as u64;
            return;
        };
        if ecpri::iq::decompress(comp, bytes, &mut got).is_err() {
            iq.undecodable += 1;
            continue;
        }
        iq.add_prb(&reference(sec.start_prbu as usize + i * step), &got);
    }
}

/// `r` as it comes out of compression `c` (rounding as gen did) and back,
/// in `i32`, so a level beyond `i16` stays what the wire carries.
pub(super) fn carry(c: UdCompHdr, rounding: Rounding, r: &[i32; SAMPLES_PER_PRB], bytes: &mut Vec<i32>) -> [i32; SAMPLES_PER_PRB] {
    let mut wire = [0u8; 1 + 3 * 16];
    let mut out = *r;
    if ecpri::iq::compress(c, rounding, r, &mut wire).is_ok() {
        bytes.resize(SAMPLES_PER_PRB, 0);
        if ecpri::iq::decompress(c, &wire, bytes).is_ok() {
            out.copy_from_slice(bytes);
        }
    }
    out
}

fn iq_json(q: &IqError) -> Value {
    json!({"prbs": q.prbs, "evm_pct": q.evm_pct(), "evm_db": q.evm_db(), "max_abs_error": q.max_abs_error,
           "exact": q.exact() && q.prbs > 0, "differing_prbs": q.differing_prbs, "undecodable": q.undecodable})
}

fn iq_text(q: &IqError) -> String {
    if q.prbs == 0 && q.undecodable == 0 {
        return "no PRBs checked".into();
    }
    let mut s = match q.evm_pct() {
        _ if q.exact() => format!("exact over {} PRBs", q.prbs),
        Some(e) => format!("EVM {e:.4} %, max |error| {} over {} PRBs", q.max_abs_error, q.prbs),
        None => format!("no reference power over {} PRBs", q.prbs),
    };
    if q.undecodable > 0 {
        s.push_str(&format!(", {} PRBs not decompressible", q.undecodable));
    }
    s
}

fn join_or_none(v: &[String]) -> String {
    if v.is_empty() {
        "none".into()
    } else {
        v.join(", ")
    }
}


#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn carried_reference_is_what_the_compression_keeps() {
        let t = SlotTime { frame: 1, subframe: 2, slot: 0 };
        let ideal = reference_prb(SignalLevel::Default, ecpri::EaxcId::default(), t, 3, 1);
        let r = carry(UdCompHdr::new(ecpri::CompMethod::Bfp, 8), Rounding::Truncate, &ideal, &mut Vec::new());
        assert_ne!(r, ideal, "BFP 8 loses precision on this signal");
        let mut e = IqError::default();
        e.add_prb(&ideal, &r);
        assert!(e.evm_pct().unwrap() < 5.0);
    }
}
