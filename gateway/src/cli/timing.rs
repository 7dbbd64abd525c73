//! `fhgate timing CAPTURE`: the arrival of every C-plane and U-plane
//! message against its OTA time, from a capture taken on a
//! PTP-disciplined host (timing/report.rs does the work). [`ClockArgs`]
//! (how capture or host time maps to GPS) is shared with `gen`.
//!
//! Exit codes: 0 report written, 2 usage or I/O.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::Args;

use fhgate::io::pcap;
use fhgate::timing::ota::{ALPHA_PER_FRAME, DEFAULT_UTC_OFFSET_S};
use fhgate::timing::report::{self, ReportConfig, TimingReport};
use fhgate::timing::{Bounds, OtaClock, Reference, WindowKind};

/// How a clock reading (a capture timestamp, CLOCK_REALTIME) maps to GPS time.
#[derive(Args, Debug, Clone)]
pub struct ClockArgs {
    /// TAI − UTC in seconds (37 since 2017), for a clock counting UTC.
    #[arg(long, value_name = "S", default_value_t = DEFAULT_UTC_OFFSET_S, conflicts_with = "tai")]
    pub utc_offset: i64,
    /// The clock counts TAI (a PHC, CLOCK_TAI) instead of UTC.
    #[arg(long)]
    pub tai: bool,
    /// O-RAN gpsAlpha: frame boundary offset in 1/1.2288 ns units (below 12288000).
    #[arg(long, value_name = "N", default_value_t = 0, value_parser = clap::value_parser!(u32).range(0..ALPHA_PER_FRAME as i64))]
    pub gps_alpha: u32,
    /// O-RAN gpsBeta: frame boundary offset in 10 ms frames.
    #[arg(long, value_name = "N", default_value_t = 0, allow_hyphen_values = true)]
    pub gps_beta: i16,
}

impl ClockArgs {
    /// The clock these flags describe.
    pub fn clock(&self) -> OtaClock {
        let r = if self.tai { Reference::Tai } else { Reference::Utc { utc_offset_s: self.utc_offset } };
        OtaClock::new(r, self.gps_alpha, self.gps_beta)
    }

    fn describe(&self) -> String {
        let base = if self.tai { "TAI".to_string() } else { format!("UTC, TAI-UTC {} s", self.utc_offset) };
        if self.gps_alpha != 0 || self.gps_beta != 0 {
            format!("{base}, gpsAlpha {}, gpsBeta {}", self.gps_alpha, self.gps_beta)
        } else {
            base
        }
    }
}

/// Arguments of `timing`.
#[derive(Args, Debug)]
pub struct TimingArgs {
    /// Capture (pcap or pcapng) taken on a host whose clock follows GPS (PTP).
    capture: PathBuf,
    /// Numerology µ of the carrier (subcarrier spacing 15 kHz × 2^µ).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u8).range(0..=4))]
    numerology: u8,
    #[command(flatten)]
    clock: ClockArgs,
    /// DL C-plane window T1a_cp_dl as MIN,MAX in µs ahead of OTA.
    #[arg(long, value_name = "MIN,MAX", value_parser = parse_bounds)]
    t1a_cp_dl: Option<Bounds>,
    /// UL C-plane window T1a_cp_ul as MIN,MAX in µs ahead of OTA.
    #[arg(long, value_name = "MIN,MAX", value_parser = parse_bounds)]
    t1a_cp_ul: Option<Bounds>,
    /// DL U-plane window T1a_up as MIN,MAX in µs ahead of OTA.
    #[arg(long, value_name = "MIN,MAX", value_parser = parse_bounds)]
    t1a_up: Option<Bounds>,
    /// UL U-plane window Ta4 as MIN,MAX in µs after OTA.
    #[arg(long, value_name = "MIN,MAX", value_parser = parse_bounds)]
    ta4: Option<Bounds>,
    /// Spare time on both sides of the suggested windows, µs.
    #[arg(long, value_name = "US", default_value_t = 10, value_parser = clap::value_parser!(i64).range(0..=1_000_000))]
    margin_us: i64,
    /// eCPRI over UDP on this port (default: eCPRI over Ethernet only).
    #[arg(long)]
    udp_port: Option<u16>,
    /// Print the report as one JSON object.
    #[arg(long)]
    json: bool,
}

/// `MIN,MAX` in µs, min ≤ max.
fn parse_bounds(s: &str) -> Result<Bounds, String> {
    let (a, b) = s.split_once(',').ok_or_else(|| format!("`{s}`: expected MIN,MAX in µs, like 50,196"))?;
    let p = |v: &str| v.trim().parse::<i64>().map_err(|_| format!("`{v}` in `{s}` is not a whole number of µs"));
    let (min_us, max_us) = (p(a)?, p(b)?);
    if min_us > max_us {
        return Err(format!("`{s}`: MIN {min_us} is above MAX {max_us}"));
    }
    if min_us.abs() > 1_000_000 || max_us.abs() > 1_000_000 {
        return Err(format!("`{s}`: a window is within ±1 s (1000000 µs)"));
    }
    Ok(Bounds { min_us, max_us })
}

pub fn run(a: TimingArgs) -> Result<ExitCode> {
    let capture = pcap::read(&a.capture)?;
    let cfg = ReportConfig {
        clock: a.clock.clock(),
        numerology: a.numerology,
        windows: [a.t1a_cp_dl, a.t1a_cp_ul, a.t1a_up, a.ta4],
        margin_us: a.margin_us,
        udp_port: a.udp_port,
    };
    let frames = capture.frames.iter().map(|f| (f.timestamp.as_nanos() as i64, f.data.as_slice()));
    let mut r = report::build(frames, &cfg);
    if r.timed == 0 {
        r.warnings.push("no C-plane or U-plane message to time".into());
    }
    if a.json {
        println!("{}", serde_json::to_string(&r)?);
    } else {
        print_text(&r, &a, &cfg);
    }
    Ok(ExitCode::SUCCESS)
}

fn us(ns: i64) -> String {
    format!("{:.3}", ns as f64 / 1000.0)
}

fn print_text(r: &TimingReport, a: &TimingArgs, cfg: &ReportConfig) {
    println!(
        "{}: {} frames, {} C/U-plane messages timed (µ {}, clock {}); {} not C/U-plane",
        a.capture.display(),
        r.frames,
        r.timed,
        a.numerology,
        a.clock.describe(),
        r.not_timed
    );
    for (field, (n, at)) in &r.malformed {
        println!("  malformed: {n} frames at {field} (first at byte offset {at})");
    }
    for (why, n) in &r.out_of_range {
        println!("  not timed: {n} messages: {why}");
    }
    for f in &r.flows {
        let vlan = f.vlan.map_or("none".to_string(), |v| v.to_string());
        println!("{} {}-plane eAxC 0x{:04x} VLAN {vlan}: {} messages, window {}", f.direction, f.plane, f.eaxc, f.messages, f.window);
        let q = &f.offset_ns;
        println!(
            "  arrival - OTA (µs): min {}  p1 {}  p50 {}  p99 {}  max {}  (spread {})",
            us(q.min),
            us(q.p1),
            us(q.p50),
            us(q.p99),
            us(q.max),
            us(f.spread_ns)
        );
        let peak = f.histogram.iter().map(|b| b.count).max().unwrap_or(1).max(1);
        for b in &f.histogram {
            let bar = "#".repeat(((b.count * 40).div_ceil(peak)) as usize);
            println!("  {:>12} .. {:>12} µs |{bar} {}", us(b.lo_ns), us(b.hi_ns), b.count);
        }
        let kind = WindowKind::ALL.into_iter().find(|k| report::window_name(*k) == f.window).expect("a known window");
        let (kmin, kmax) = kind.keys();
        if let (Some(c), Some(b)) = (f.classes, cfg.windows[kind as usize]) {
            println!("  under {} {},{} µs: Rx_early {}  Rx_on_time {}  Rx_late {}", f.window, b.min_us, b.max_us, c.early, c.on_time, c.late);
        }
        println!("  all on time with {} µs to spare: {kmin} = {}, {kmax} = {}", a.margin_us, f.fitting.min_us, f.fitting.max_us);
    }
    if !r.c_to_u.is_empty() {
        println!("C-plane ahead of U-plane (first U-plane arrival - first C-plane arrival per slot):");
    }
    for c in &r.c_to_u {
        let vlan = c.vlan.map_or("none".to_string(), |v| v.to_string());
        let q = &c.advance_ns;
        println!(
            "  {} eAxC 0x{:04x} VLAN {vlan}: {} slots, U-plane first in {}; min {} p50 {} max {} µs; {} slots with U-plane and no C-plane",
            c.direction,
            c.eaxc,
            c.slots,
            c.u_before_c,
            us(q.min),
            us(q.p50),
            us(q.max),
            c.u_without_c
        );
    }
    for w in &r.warnings {
        eprintln!("fhgate timing: warning: {w}");
    }
}
