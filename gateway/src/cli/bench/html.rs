//! The HTML report: one self-contained page (inline SVG drawn by
//! plotters' SVG backend, inline CSS, no scripts, nothing fetched) with
//! loss against offered load, the latency CDF and a latency histogram per
//! rate, per-flow integrity and EVM tables, every trial, the settings and
//! the host.

use std::fmt::Write as _;

use anyhow::{anyhow, Result};
use plotters::prelude::*;

use super::report::{Run, Trial};

/// Plot size in pixels.
const W: u32 = 720;
const H: u32 = 360;
const HIST_H: u32 = 220;

/// The report page for `run`.
pub fn render(run: &Run) -> Result<String> {
    let mut h = String::new();
    let t = &run.throughput;
    let s = &run.settings;
    let _ = write!(
        h,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>fhgate bench: {}</title>\n<style>{CSS}</style></head><body>\n",
        esc(&s.carrier)
    );
    let _ = write!(h, "<h1>fhgate bench</h1>\n<p class=\"sub\">{} &rarr; device &rarr; {} &middot; {} &middot; started {}</p>\n", esc(&s.tx), esc(&s.rx), esc(&s.carrier), esc(&run.started));
    let _ = write!(
        h,
        "<div class=\"big\"><div><b>{:.0}</b> frames/s zero-loss throughput</div><div><b>{:.1}</b> Mbit/s</div><div><b>{:.2}&times;</b> the carrier in real time</div></div>\n",
        t.found_fps, t.found_mbps, t.found_realtime
    );
    for w in &run.warnings {
        let _ = writeln!(h, "<p class=\"warn\">&#9888; {}</p>", esc(w));
    }
    h.push_str("<h2>Loss against offered load</h2>\n");
    h.push_str(&loss_plot(run)?);
    let rates: Vec<&Trial> = run.sweep.iter().filter(|t| t.latency.is_some()).collect();
    if !rates.is_empty() {
        h.push_str("<h2>Latency CDF</h2>\n");
        h.push_str(&cdf_plot(&rates)?);
        h.push_str("<h2>Latency histogram per rate</h2>\n<div class=\"grid\">\n");
        for r in &rates {
            h.push_str(&hist_plot(r)?);
        }
        h.push_str("</div>\n");
        h.push_str("<h2>Latency per flow</h2>\n");
        latency_table(&mut h, &rates);
    }
    if let Some(r) = run.sweep.iter().rev().find(|t| t.percent.is_some_and(|p| p <= 100.0)).or(run.throughput.trials.last()) {
        let at = r.percent.map_or_else(|| format!("{:.0} frames/s", r.offered_fps), |p| format!("{p:.0} % of the found rate"));
        let _ = writeln!(h, "<h2>Integrity and EVM per flow, at {at}</h2>");
        flow_table(&mut h, r);
    }
    h.push_str("<h2>Trials</h2>\n");
    trials_table(&mut h, run);
    h.push_str("<h2>Settings</h2>\n<table>\n");
    let rows = [
        ("fhgate", run.fhgate_version.clone()),
        ("tx", s.tx.clone()),
        ("rx", s.rx.clone()),
        ("device", s.dut_config.clone().unwrap_or_else(|| "external".into())),
        ("traffic", format!("{}: {}", s.traffic, s.carrier)),
        ("real-time rate", format!("{:.0} frames/s, {:.0} bytes a frame", s.realtime_fps, s.mean_frame_bytes)),
        ("trial", format!("{} s after a {} s warm-up, {} s drain, up to {} s settling", s.trial_seconds, s.warmup_seconds, s.drain_seconds, s.settle_seconds)),
        ("search", format!("RFC 2544 §26.1 binary search, resolution {:.0} frames/s, loss tolerance {} %", s.resolution_fps, s.loss_tolerance * 100.0)),
        ("sweep", format!("{:?} % of the found rate", s.sweep_percent)),
        ("IQ", format!("checked on one U-plane frame in {}", s.iq_every)),
        ("host", run.host.hostname.clone()),
        ("CPU", run.host.cpu.clone()),
        ("kernel", run.host.kernel.clone()),
        ("tx NIC", run.host.tx_nic.clone()),
        ("rx NIC", run.host.rx_nic.clone()),
        ("timestamping", run.host.timestamping.clone()),
    ];
    for (k, v) in rows {
        let _ = writeln!(h, "<tr><th>{k}</th><td>{}</td></tr>", esc(&v));
    }
    h.push_str("</table>\n</body></html>\n");
    Ok(h)
}

const CSS: &str = "body{font-family:sans-serif;margin:2em;max-width:1100px;color:#222}h1{margin-bottom:0}.sub{color:#666;margin-top:.2em}\
.big{display:flex;gap:2em;margin:1em 0}.big div{background:#eef4fb;padding:.7em 1em;border-radius:6px}.big b{font-size:1.6em}\
.warn{background:#fff4e0;padding:.4em .8em;border-left:4px solid #e8a33d}table{border-collapse:collapse;margin:.5em 0}\
td,th{border:1px solid #ccc;padding:2px 8px;text-align:right;font-size:.9em}th{background:#f3f3f3}\
.grid{display:flex;flex-wrap:wrap;gap:8px}.fail{color:#b00}";

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

fn plot_err<E: std::fmt::Debug>(e: E) -> anyhow::Error {
    anyhow!("drawing the report's plots: {e:?}")
}

/// Colours for series, cycled.
fn colour(i: usize) -> RGBColor {
    const C: [RGBColor; 6] = [RGBColor(31, 119, 180), RGBColor(255, 127, 14), RGBColor(44, 160, 44), RGBColor(214, 39, 40), RGBColor(148, 103, 189), RGBColor(140, 86, 75)];
    C[i % C.len()]
}

/// Loss (%) against offered load (frames/s): the sweep as a line, the search trials as points.
fn loss_plot(run: &Run) -> Result<String> {
    let pts = |ts: &[Trial]| ts.iter().map(|t| (t.offered_fps, t.loss_ratio * 100.0)).collect::<Vec<_>>();
    let sweep = pts(&run.sweep);
    let search = pts(&run.throughput.trials);
    let xmax = sweep.iter().chain(&search).map(|p| p.0).fold(1.0, f64::max) * 1.05;
    let ymax = sweep.iter().chain(&search).map(|p| p.1).fold(1.0, f64::max).min(100.0) * 1.1;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (W, H)).into_drawing_area();
        root.fill(&WHITE).map_err(plot_err)?;
        let mut c = ChartBuilder::on(&root)
            .margin(10)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d(0.0..xmax, 0.0..ymax)
            .map_err(plot_err)?;
        c.configure_mesh().x_desc("offered load (frames/s)").y_desc("loss (%)").x_label_formatter(&|v| format!("{v:.0}")).draw().map_err(plot_err)?;
        c.draw_series(LineSeries::new(sweep.iter().copied(), colour(0).stroke_width(2)))
            .map_err(plot_err)?
            .label("sweep")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], colour(0)));
        c.draw_series(sweep.iter().map(|&p| Circle::new(p, 3, colour(0).filled()))).map_err(plot_err)?;
        c.draw_series(search.iter().map(|&p| Cross::new(p, 4, colour(3))))
            .map_err(plot_err)?
            .label("search trials")
            .legend(|(x, y)| Cross::new((x + 8, y), 4, colour(3)));
        let f = run.throughput.found_fps;
        if f > 0.0 {
            c.draw_series(LineSeries::new([(f, 0.0), (f, ymax)], colour(2).stroke_width(1)))
                .map_err(plot_err)?
                .label("found rate")
                .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], colour(2)));
        }
        c.configure_series_labels().border_style(BLACK).background_style(WHITE.mix(0.8)).draw().map_err(plot_err)?;
        root.present().map_err(plot_err)?;
    }
    Ok(format!("<div class=\"plot\" id=\"loss\">{svg}</div>\n"))
}

/// One CDF line per rate, latency in µs on the x axis.
fn cdf_plot(rates: &[&Trial]) -> Result<String> {
    let xmax = rates.iter().flat_map(|t| t.latency_cdf.iter().map(|p| p.0 / 1e3)).fold(1.0, f64::max) * 1.05;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (W, H)).into_drawing_area();
        root.fill(&WHITE).map_err(plot_err)?;
        let mut c = ChartBuilder::on(&root)
            .margin(10)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d(0.0..xmax, 0.0..1.0)
            .map_err(plot_err)?;
        c.configure_mesh().x_desc("latency (µs)").y_desc("fraction of frames ≤").x_label_formatter(&|v| format!("{v:.0}")).draw().map_err(plot_err)?;
        for (i, t) in rates.iter().enumerate() {
            let col = colour(i);
            c.draw_series(LineSeries::new(t.latency_cdf.iter().map(|&(ns, q)| (ns / 1e3, q)), col.stroke_width(2)))
                .map_err(plot_err)?
                .label(format!("{:.0} %", t.percent.unwrap_or(0.0)))
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], col));
        }
        c.configure_series_labels().position(SeriesLabelPosition::LowerRight).border_style(BLACK).background_style(WHITE.mix(0.8)).draw().map_err(plot_err)?;
        root.present().map_err(plot_err)?;
    }
    Ok(format!("<div class=\"plot\" id=\"cdf\">{svg}</div>\n"))
}

/// The latency histogram of one trial, bars in µs.
fn hist_plot(t: &Trial) -> Result<String> {
    let bins = &t.latency_histogram;
    let xmin = bins.first().map_or(0.0, |b| b.0 / 1e3);
    let xmax = bins.last().map_or(1.0, |b| b.1 / 1e3).max(xmin + 1e-3);
    let ymax = bins.iter().map(|b| b.2).max().unwrap_or(1).max(1) as f64 * 1.1;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (W / 2 - 8, HIST_H)).into_drawing_area();
        root.fill(&WHITE).map_err(plot_err)?;
        let mut c = ChartBuilder::on(&root)
            .margin(8)
            .caption(format!("{:.0} % ({:.0} frames/s)", t.percent.unwrap_or(0.0), t.offered_fps), ("sans-serif", 14))
            .x_label_area_size(32)
            .y_label_area_size(50)
            .build_cartesian_2d(xmin..xmax, 0.0..ymax)
            .map_err(plot_err)?;
        c.configure_mesh().x_desc("latency (µs)").y_desc("frames").x_labels(5).y_labels(4).x_label_formatter(&|v| format!("{v:.0}")).y_label_formatter(&|v| format!("{v:.0}")).draw().map_err(plot_err)?;
        c.draw_series(bins.iter().map(|&(a, z, n)| Rectangle::new([(a / 1e3, 0.0), (z / 1e3, n as f64)], colour(0).mix(0.7).filled())))
            .map_err(plot_err)?;
        root.present().map_err(plot_err)?;
    }
    Ok(format!("<div class=\"plot hist\">{svg}</div>\n"))
}

fn us(ns: f64) -> String {
    format!("{:.1}", ns / 1e3)
}

fn latency_table(h: &mut String, rates: &[&Trial]) {
    h.push_str("<table><tr><th>rate</th><th>flow</th><th>frames</th><th>min µs</th><th>p50</th><th>p99</th><th>p99.9</th><th>max</th><th>jitter µs</th></tr>\n");
    for t in rates {
        for f in &t.flows {
            if let Some(l) = &f.latency {
                let _ = writeln!(
                    h,
                    "<tr><td>{:.0} %</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                    t.percent.unwrap_or(0.0),
                    esc(&f.flow),
                    l.frames,
                    us(l.min_ns),
                    us(l.p50_ns),
                    us(l.p99_ns),
                    us(l.p999_ns),
                    us(l.max_ns),
                    us(l.jitter_ns)
                );
            }
        }
    }
    h.push_str("</table>\n");
}

fn flow_table(h: &mut String, t: &Trial) {
    h.push_str("<table><tr><th>flow</th><th>sent</th><th>received</th><th>lost</th><th>dup</th><th>reordered</th><th>seqId gaps</th><th>malformed</th><th>unmatched</th><th>IQ PRBs</th><th>EVM</th></tr>\n");
    for f in &t.flows {
        let evm = match &f.iq {
            Some(q) if q.exact => "exact".to_string(),
            Some(q) => format!("{:.4} % ({:.1} dB)", q.evm_pct, q.evm_db.unwrap_or(f64::NAN)),
            None => "&ndash;".into(),
        };
        let cls = if f.lost > 0 || f.duplicates > 0 || f.reordered > 0 || f.malformed > 0 { " class=\"fail\"" } else { "" };
        let _ = writeln!(
            h,
            "<tr{cls}><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{evm}</td></tr>",
            esc(&f.flow),
            f.sent,
            f.received,
            f.lost,
            f.duplicates,
            f.reordered,
            f.seq_gaps,
            f.malformed,
            f.unmatched,
            f.iq.as_ref().map_or(0, |q| q.prbs)
        );
    }
    h.push_str("</table>\n");
}

fn trials_table(h: &mut String, run: &Run) {
    h.push_str("<table><tr><th>kind</th><th>target fps</th><th>offered fps</th><th>sent</th><th>lost</th><th>loss %</th><th>dup</th><th>reord</th><th>malformed</th><th>p50 µs</th><th>p99 µs</th><th>result</th></tr>\n");
    let all = run.throughput.trials.iter().chain(run.throughput.confirmation.as_ref()).chain(&run.sweep);
    for t in all {
        let kind = t.percent.map_or_else(|| t.kind.clone(), |p| format!("{} {p:.0} %", t.kind));
        let (p50, p99) = t.latency.as_ref().map_or(("&ndash;".into(), "&ndash;".into()), |l| (us(l.p50_ns), us(l.p99_ns)));
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{:.0}</td><td>{}</td><td>{}</td><td>{:.4}</td><td>{}</td><td>{}</td><td>{}</td><td>{p50}</td><td>{p99}</td><td{}>{}</td></tr>",
            esc(&kind),
            t.target_fps.map_or("flat out".into(), |r| format!("{r:.0}")),
            t.offered_fps,
            t.sent,
            t.lost,
            t.loss_ratio * 100.0,
            t.duplicates,
            t.reordered,
            t.malformed,
            if t.pass { "" } else { " class=\"fail\"" },
            if t.pass { "pass" } else { "loss" }
        );
    }
    h.push_str("</table>\n");
}
