//! `fhgate diff A.pcap B.pcap`: compares two captures of the same traffic
//! flow by flow (the matching is in [`fhgate::diff`]) and reports PRBs
//! and sections matched, missing and extra, field differences, and the
//! IQ error of B against A, so an integrator sees that widening 8 → 12
//! bits added no error and that narrowing 12 → 8 lost what it must.
//!
//! Exit codes: 0 when the comparison ran (differences are the report, not
//! an error), 1 with `--fail-on-iq-error` when any IQ differs or any PRB
//! is missing or extra, 2 on usage or I/O errors.

use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::Args;
use ecpri::uplane::CompHdrMode;
use ecpri::{EaxcLayout, UdCompHdr};
use fhgate::diff::{self, DiffOptions, EaxcMatch, FlowId, FlowReport, Plane, Report};
use fhgate::io::pcap;
use serde_json::{json, Value};

use super::DecodeArgs;

/// Arguments of `diff`.
#[derive(Args, Debug)]
pub struct DiffArgs {
    /// The reference capture (for example what the DU sent).
    pub a: PathBuf,
    /// The capture compared against it (for example what the gateway sent).
    pub b: PathBuf,
    /// How B's eAxC IDs match A's: `same`; `order` (the n-th eAxC to appear
    /// in A is the n-th in B, per plane and direction); or explicit
    /// `A_ID=B_ID,...` pairs (decimal or 0x hex; unlisted IDs match themselves).
    #[arg(long, value_name = "same|order|A=B,...", default_value = "same", value_parser = EaxcMatch::parse)]
    pub match_eaxc: EaxcMatch,
    /// B's static DL compression, when it differs from A's (`--dl-comp`).
    #[arg(long, value_name = "METHOD:WIDTH", value_parser = parse_comp)]
    pub b_dl_comp: Option<UdCompHdr>,
    /// B's static UL compression, when it differs from A's (`--ul-comp`).
    #[arg(long, value_name = "METHOD:WIDTH", value_parser = parse_comp)]
    pub b_ul_comp: Option<UdCompHdr>,
    /// Whether B's U-plane sections carry udCompHdr, when it differs from A's.
    #[arg(long, value_name = "MODE", value_parser = parse_comp_hdr)]
    pub b_comp_hdr: Option<CompHdrMode>,
    /// B's eAxC bit widths, when they differ from A's (`--eaxc-bits`).
    #[arg(long, value_name = "A,B,C,D", value_parser = parse_eaxc)]
    pub b_eaxc_bits: Option<EaxcLayout>,
    /// B's eCPRI UDP port, when it differs from A's (`--udp-port`).
    #[arg(long, value_name = "N")]
    pub b_udp_port: Option<u16>,
    /// One JSON object instead of text.
    #[arg(long)]
    pub json: bool,
    /// Exit 1 when any IQ sample differs or any PRB is missing or extra (for CI).
    #[arg(long)]
    pub fail_on_iq_error: bool,
    /// Decoding of A, and of B unless a `--b-*` flag overrides it.
    #[command(flatten)]
    pub decode: DecodeArgs,
}

fn parse_comp(s: &str) -> Result<UdCompHdr, String> {
    UdCompHdr::from_spec(s).ok_or_else(|| format!("`{s}`: expected METHOD:WIDTH like bfp:9"))
}

fn parse_comp_hdr(s: &str) -> Result<CompHdrMode, String> {
    CompHdrMode::from_name(s).ok_or_else(|| format!("`{s}`: expected present, absent or auto"))
}

fn parse_eaxc(s: &str) -> Result<EaxcLayout, String> {
    EaxcLayout::from_spec(s).ok_or_else(|| format!("`{s}`: expected four widths that add up to 16, like 4,4,4,4"))
}

pub fn run(a: DiffArgs) -> Result<ExitCode> {
    let da = a.decode.config();
    let mut db = da;
    db.dl_comp = a.b_dl_comp.unwrap_or(da.dl_comp);
    db.ul_comp = a.b_ul_comp.unwrap_or(da.ul_comp);
    db.comp_hdr = a.b_comp_hdr.unwrap_or(da.comp_hdr);
    db.eaxc = a.b_eaxc_bits.unwrap_or(da.eaxc);
    db.udp_port = a.b_udp_port.or(da.udp_port);
    let fa = pcap::read_all(&a.a)?;
    let fb = pcap::read_all(&a.b)?;
    let opts = DiffOptions { eaxc: a.match_eaxc.clone(), ..DiffOptions::new(da, db) };
    let r = diff::diff(&fa, &fb, &opts);
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let names = (a.a.display().to_string(), a.b.display().to_string());
    if a.json {
        writeln!(out, "{}", to_json(&r, &names, &opts))?;
    } else {
        write_text(&mut out, &r, &names, &opts)?;
    }
    out.flush()?;
    Ok(if a.fail_on_iq_error && r.iq_differs() { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

fn plane_name(p: Plane) -> &'static str {
    match p {
        Plane::U => "U",
        Plane::C => "C",
    }
}

fn eaxc_text(id: u16, layout: &EaxcLayout) -> String {
    format!("0x{id:04x} ({})", super::eaxc_fields(id, layout))
}

/// `U DL eAxC 0x0001 (0:0:0:1)`, with `→ B's ID` when the IDs differ.
fn flow_title(k: &FlowId, opts: &DiffOptions) -> String {
    let ids = match k.eaxc_a {
        Some(a) if a == k.eaxc_b => eaxc_text(a, &opts.a.eaxc),
        Some(a) => format!("{} → {}", eaxc_text(a, &opts.a.eaxc), eaxc_text(k.eaxc_b, &opts.b.eaxc)),
        None => format!("(B only) {}", eaxc_text(k.eaxc_b, &opts.b.eaxc)),
    };
    format!("{} {} eAxC {ids}", plane_name(k.plane), super::dir_name(k.direction))
}

fn iq_text(f: &FlowReport) -> String {
    let q = &f.iq;
    if q.prbs == 0 && q.undecodable == 0 {
        return "no PRBs to compare".into();
    }
    let mut s = if q.exact() {
        format!("exact (no IQ error) over {} PRBs", q.prbs)
    } else {
        let evm = q.evm_db().map_or("n/a (no reference power)".into(), |e| format!("{e:.2} dB"));
        format!("EVM {evm}, max |error| {} over {} PRBs ({} differ)", q.max_abs_error, q.prbs, q.differing_prbs)
    };
    if q.undecodable > 0 {
        s.push_str(&format!(", {} PRBs not decompressible", q.undecodable));
    }
    s
}

/// B's IQ error in a few words: EVM and PRBs that differ.
fn iq_brief(q: &diff::IqError) -> String {
    match q.evm_db() {
        Some(e) => format!("EVM {e:.2} dB, {} PRBs differ", q.differing_prbs),
        None => format!("{} PRBs differ, {} not decompressible", q.differing_prbs, q.undecodable),
    }
}

/// The quantisation bound at B's compression, and how far B is from it.
fn bound_text(f: &FlowReport) -> Option<String> {
    let b = &f.bound;
    if b.prbs == 0 {
        return (b.unavailable > 0).then(|| format!("n/a ({} PRBs in a compression that needs the C-plane to quantise)", b.unavailable));
    }
    let what = format!("A quantised per PRB as B's {} with rounding to nearest", b.comp_name());
    let mut s = match (b.evm_db(), f.iq.evm_db()) {
        // A lossless bound that B misses is B's own error, never the format's.
        (None, _) if b.lossless() && !f.iq.exact() => {
            format!("lossless: B's {} carries A exactly, but B's IQ differs ({}): B is above the bound", b.comp_name(), iq_brief(&f.iq))
        }
        (None, _) if b.lossless() => format!("lossless: B's {} carries A exactly", b.comp_name()),
        (None, _) => format!("n/a (no reference power; {what})"),
        (Some(bd), Some(e)) => format!("EVM {bd:.2} dB ({what}); B is {:.2} dB above it", e - bd),
        (Some(bd), None) => format!("EVM {bd:.2} dB ({what})"),
    };
    if b.clipped_prbs > 0 {
        s.push_str(&format!("; {} PRBs of A exceed what B's {} carries at exponent 15 (clipped)", b.clipped_prbs, b.comp_name()));
    }
    if b.unavailable > 0 {
        s.push_str(&format!(", {} PRBs not quantisable here", b.unavailable));
    }
    Some(s)
}

fn write_text<W: Write>(out: &mut W, r: &Report, names: &(String, String), opts: &DiffOptions) -> Result<()> {
    writeln!(out, "A: {} ({} frames)", names.0, r.frames_a)?;
    writeln!(out, "B: {} ({} frames)", names.1, r.frames_b)?;
    for (side, errs) in [("A", &r.errors_a), ("B", &r.errors_b)] {
        for ((kind, field), n) in errs {
            writeln!(out, "{side}: {n} frames do not decode: {kind} in {field}")?;
        }
    }
    for (k, f) in &r.flows {
        let unit = if k.plane == Plane::U { "PRBs" } else { "sections" };
        writeln!(out, "\nflow {}", flow_title(k, opts))?;
        writeln!(out, "  messages  A {}  B {}", f.messages_a, f.messages_b)?;
        writeln!(out, "  {unit:<8}  matched {}  missing {}  extra {}", f.matched, f.missing, f.extra)?;
        for e in &f.missing_examples {
            writeln!(out, "    missing in B: {e}")?;
        }
        for e in &f.extra_examples {
            writeln!(out, "    extra in B: {e}")?;
        }
        if f.fields.is_empty() {
            writeln!(out, "  fields    no differences")?;
        } else {
            writeln!(out, "  fields")?;
            for ((name, va, vb), n) in &f.fields {
                writeln!(out, "    {name} {va}→{vb}: {n} sections")?;
            }
        }
        if k.plane == Plane::U {
            writeln!(out, "  IQ        {}", iq_text(f))?;
            if let Some(b) = bound_text(f) {
                writeln!(out, "  bound     {b}")?;
            }
        }
    }
    let (matched, missing, extra) = r
        .flows
        .iter()
        .filter(|(k, _)| k.plane == Plane::U)
        .fold((0, 0, 0), |(a, b, c), (_, f)| (a + f.matched, b + f.missing, c + f.extra));
    let worst = r.flows.iter().filter_map(|(k, f)| f.iq.evm_db().map(|e| (e, k, f))).max_by(|x, y| x.0.total_cmp(&y.0));
    let iq = match worst {
        Some((e, k, f)) => {
            let bound = f.bound.evm_db().map_or(String::new(), |b| format!("; its bound {b:.2} dB"));
            format!("worst EVM {e:.2} dB ({}{bound})", flow_title(k, opts))
        }
        None if r.flows.values().all(|f| f.iq.exact()) => "exact (no IQ error) on matched PRBs".into(),
        None => "differs".into(),
    };
    writeln!(out, "\nsummary: {} flows; PRBs matched {matched}, missing {missing}, extra {extra}; IQ {iq}", r.flows.len())?;
    Ok(())
}

/// The bound as JSON: B's compression, its EVM, and B's distance from it.
fn bound_json(f: &FlowReport) -> Value {
    let b = &f.bound;
    json!({
        "comp": b.comp.filter(|_| !b.mixed).map(|c| c.to_string()),
        "rounding": "nearest",
        "prbs": b.prbs,
        "lossless": b.lossless(),
        "evm_db": b.evm_db(),
        "above_bound_db": b.evm_db().zip(f.iq.evm_db()).map(|(bd, e)| e - bd),
        // A lossless bound that B does not meet (its IQ differs at all).
        "exceeds_lossless_bound": b.lossless() && !f.iq.exact(),
        "clipped_prbs": b.clipped_prbs,
        "unavailable": b.unavailable,
    })
}

fn to_json(r: &Report, names: &(String, String), opts: &DiffOptions) -> Value {
    let errors = |m: &std::collections::BTreeMap<(&str, &str), u64>| -> Vec<Value> {
        m.iter().map(|((k, f), n)| json!({"kind": k, "field": f, "count": n})).collect()
    };
    let flows: Vec<Value> = r
        .flows
        .iter()
        .map(|(k, f)| {
            let fields: Vec<Value> =
                f.fields.iter().map(|((name, a, b), n)| json!({"field": name, "a": a, "b": b, "sections": n})).collect();
            let mut v = json!({
                "plane": plane_name(k.plane),
                "direction": super::dir_name(k.direction),
                "eaxc_a": k.eaxc_a,
                "eaxc_b": k.eaxc_b,
                "title": flow_title(k, opts),
                "messages_a": f.messages_a,
                "messages_b": f.messages_b,
                "unit": if k.plane == Plane::U { "prbs" } else { "sections" },
                "matched": f.matched,
                "missing": f.missing,
                "extra": f.extra,
                "missing_examples": f.missing_examples,
                "extra_examples": f.extra_examples,
                "fields": fields,
            });
            if k.plane == Plane::U {
                let q = &f.iq;
                v["iq"] = json!({
                    "exact": q.exact(),
                    "evm_db": q.evm_db(),
                    "max_abs_error": q.max_abs_error,
                    "prbs": q.prbs,
                    "differing_prbs": q.differing_prbs,
                    "undecodable": q.undecodable,
                    "bound": bound_json(f),
                });
            }
            v
        })
        .collect();
    json!({
        "a": {"file": names.0, "frames": r.frames_a, "errors": errors(&r.errors_a)},
        "b": {"file": names.1, "frames": r.frames_b, "errors": errors(&r.errors_b)},
        "flows": flows,
        "iq_differs": r.iq_differs(),
    })
}
