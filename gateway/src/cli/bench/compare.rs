//! `fhgate bench compare A.json B.json`: two runs side by side (say
//! before and after a translator change): throughput, then loss and
//! latency at each sweep point both runs have, then each flow's EVM and
//! loss at the highest such point, with B's change against A.

use std::fmt::Write as _;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};

use super::report::{Run, Trial, SCHEMA};

/// Shows two runs side by side on standard output.
pub fn run(a: &Path, b: &Path) -> Result<ExitCode> {
    let (ra, rb) = (load(a)?, load(b)?);
    print!("{}", text(&ra, &rb, &a.display().to_string(), &b.display().to_string()));
    Ok(ExitCode::SUCCESS)
}

/// Reads a run, naming the file and the place in it that is wrong.
fn load(p: &Path) -> Result<Run> {
    let text = std::fs::read_to_string(p).with_context(|| format!("bench compare: reading {}", p.display()))?;
    let v: serde_json::Value = serde_json::from_str(&text).with_context(|| format!("bench compare: {} is not JSON", p.display()))?;
    match v.get("schema").and_then(|s| s.as_str()) {
        Some(SCHEMA) => {}
        Some(other) => bail!("bench compare: {} has schema `{other}`; this fhgate reads `{SCHEMA}`", p.display()),
        None => bail!("bench compare: {} has no `schema` key: not written by `fhgate bench --json`", p.display()),
    }
    serde_json::from_value(v).with_context(|| format!("bench compare: {} does not match schema {SCHEMA}", p.display()))
}

/// `b` against `a`, as a signed percentage.
fn change(a: f64, b: f64) -> String {
    if a == 0.0 {
        return if b == 0.0 { "=".into() } else { "new".into() };
    }
    format!("{:+.1} %", (b - a) / a * 100.0)
}

fn at(r: &Run, p: f64) -> Option<&Trial> {
    r.sweep.iter().find(|t| t.percent == Some(p))
}

/// The comparison as text.
pub fn text(a: &Run, b: &Run, na: &str, nb: &str) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "A: {na}: {} ({}), {}", a.settings.carrier, a.settings.dut_config.as_deref().unwrap_or("external device"), a.started);
    let _ = writeln!(o, "B: {nb}: {} ({}), {}", b.settings.carrier, b.settings.dut_config.as_deref().unwrap_or("external device"), b.started);
    if a.settings.carrier != b.settings.carrier {
        let _ = writeln!(o, "note: the runs sent different traffic");
    }
    let (ta, tb) = (&a.throughput, &b.throughput);
    let _ = writeln!(o, "{:<28} {:>14} {:>14} {:>9}", "", "A", "B", "B vs A");
    let _ = writeln!(o, "{:<28} {:>14.0} {:>14.0} {:>9}", "throughput (frames/s)", ta.found_fps, tb.found_fps, change(ta.found_fps, tb.found_fps));
    let _ = writeln!(o, "{:<28} {:>14.1} {:>14.1} {:>9}", "throughput (Mbit/s)", ta.found_mbps, tb.found_mbps, change(ta.found_mbps, tb.found_mbps));
    let _ = writeln!(o, "{:<28} {:>14.2} {:>14.2} {:>9}", "× real time", ta.found_realtime, tb.found_realtime, change(ta.found_realtime, tb.found_realtime));
    let points: Vec<f64> = a.sweep.iter().filter_map(|t| t.percent).filter(|p| at(b, *p).is_some()).collect();
    for &p in &points {
        let (x, y) = (at(a, p).expect("in a"), at(b, p).expect("in b"));
        let _ = writeln!(o, "at {p:.0} % of each run's rate:");
        let _ = writeln!(o, "  {:<26} {:>14.4} {:>14.4}", "loss (%)", x.loss_ratio * 100.0, y.loss_ratio * 100.0);
        if let (Some(lx), Some(ly)) = (&x.latency, &y.latency) {
            for (name, vx, vy) in [("latency p50 (µs)", lx.p50_ns, ly.p50_ns), ("latency p99 (µs)", lx.p99_ns, ly.p99_ns), ("latency max (µs)", lx.max_ns, ly.max_ns), ("jitter (µs)", lx.jitter_ns, ly.jitter_ns)] {
                let _ = writeln!(o, "  {name:<26} {:>14.1} {:>14.1} {:>9}", vx / 1e3, vy / 1e3, change(vx, vy));
            }
        }
    }
    if let Some(&p) = points.iter().rev().find(|p| **p <= 100.0).or(points.last()) {
        let (x, y) = (at(a, p).expect("in a"), at(b, p).expect("in b"));
        let _ = writeln!(o, "per flow at {p:.0} %: lost A / B, EVM A / B");
        for fx in &x.flows {
            let fy = y.flows.iter().find(|f| f.flow == fx.flow);
            let evm = |f: Option<&super::report::Flow>| match f.and_then(|f| f.iq.as_ref()) {
                Some(q) if q.exact => "exact".to_string(),
                Some(q) => format!("{:.4} %", q.evm_pct),
                None => "-".into(),
            };
            let lost_b = fy.map_or("-".into(), |f| f.lost.to_string());
            let _ = writeln!(o, "  {:<18} {:>8} / {:<8} {:>10} / {}", fx.flow, fx.lost, lost_b, evm(Some(fx)), evm(fy));
        }
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_files_are_named_with_what_is_wrong() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("x.json");
        assert!(load(&p).unwrap_err().to_string().contains("x.json"));
        std::fs::write(&p, "{\"schema\": \"other/9\"}").unwrap();
        assert!(load(&p).unwrap_err().to_string().contains("other/9"));
        std::fs::write(&p, "{\"frames\": 1}").unwrap();
        assert!(load(&p).unwrap_err().to_string().contains("no `schema`"));
        std::fs::write(&p, "{\"schema\": \"fhgate-bench/1\"}").unwrap();
        assert!(format!("{:#}", load(&p).unwrap_err()).contains("missing field"));
        assert_eq!(change(100.0, 110.0), "+10.0 %");
        assert_eq!(change(0.0, 0.0), "=");
    }
}
