//! The offline timing report behind `fhgate timing`: per flow, the
//! arrival offset against OTA (quantiles and a histogram), the window
//! each message hits under given T1a/Ta4 values and the tightest values
//! that would put every message on time with a margin, and per direction
//! and eAxC how far the C-plane of a slot leads its first U-plane message.
//!
//! A capture whose clock is not GPS-aligned (median |offset| above half a
//! frame) still gives the relative figures (spread of the offsets, the
//! C-to-U advance), with a warning; the absolute ones are then meaningless.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use super::extract::{message_timing, NoTiming, Plane};
use super::ota::{AirTime, OtaClock, FRAME_NS};
use super::window::{fitting_bounds, Bounds, Class, WindowKind};

/// What the report needs besides the capture.
#[derive(Debug, Clone)]
pub struct ReportConfig {
    /// Host clock to GPS.
    pub clock: OtaClock,
    /// Numerology µ of every flow.
    pub numerology: u8,
    /// Bounds to classify against, per [`WindowKind`] in [`WindowKind::ALL`] order, where given.
    pub windows: [Option<Bounds>; 4],
    /// Spare time on both sides of the fitting windows, µs.
    pub margin_us: i64,
    /// eCPRI over UDP on this port, if any.
    pub udp_port: Option<u16>,
}

/// A flow as the report keys it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct Key {
    direction: u8,
    plane: Plane,
    eaxc: u16,
    vlan: Option<u16>,
}

/// Quantiles of a set of offsets, ns (nearest rank).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Quantiles {
    /// Smallest.
    pub min: i64,
    /// 1st percentile.
    pub p1: i64,
    /// Median.
    pub p50: i64,
    /// 99th percentile.
    pub p99: i64,
    /// Largest.
    pub max: i64,
}

impl Quantiles {
    /// Of `sorted` (ascending, not empty): the value at rank ⌈p·n⌉.
    pub fn of_sorted(sorted: &[i64]) -> Quantiles {
        let at = |p: f64| sorted[((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len()) - 1];
        Quantiles { min: sorted[0], p1: at(0.01), p50: at(0.5), p99: at(0.99), max: sorted[sorted.len() - 1] }
    }
}

/// One bin of a histogram: offsets in `[lo_ns, hi_ns]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Bin {
    /// Lowest offset of the bin, ns.
    pub lo_ns: i64,
    /// Highest offset of the bin, ns.
    pub hi_ns: i64,
    /// Messages in it.
    pub count: u64,
}

/// Messages per class under the given windows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ClassCounts {
    /// Rx_early.
    pub early: u64,
    /// Rx_on_time.
    pub on_time: u64,
    /// Rx_late.
    pub late: u64,
}

/// One flow's figures.
#[derive(Debug, Clone, Serialize)]
pub struct FlowTiming {
    /// `U` or `C`.
    pub plane: &'static str,
    /// `DL` or `UL`.
    pub direction: &'static str,
    /// ecpriPcid / ecpriRtcid.
    pub eaxc: u16,
    /// VLAN ID, if tagged.
    pub vlan: Option<u16>,
    /// The window that applies (its min key's name without `_min`).
    pub window: &'static str,
    /// Messages timed.
    pub messages: u64,
    /// Arrival − OTA, ns.
    pub offset_ns: Quantiles,
    /// max − min, ns: the spread, meaningful on any clock.
    pub spread_ns: i64,
    /// Histogram of the offsets.
    pub histogram: Vec<Bin>,
    /// Classes under the given windows.
    pub classes: Option<ClassCounts>,
    /// Bounds (µs) that would put all on time with the margin.
    pub fitting: Bounds,
}

/// How far the C-plane of a slot leads its first U-plane message, per
/// direction, eAxC and VLAN.
#[derive(Debug, Clone, Serialize)]
pub struct CtoU {
    /// `DL` or `UL`.
    pub direction: &'static str,
    /// The eAxC both planes carry.
    pub eaxc: u16,
    /// VLAN ID, if tagged.
    pub vlan: Option<u16>,
    /// Slots with both planes.
    pub slots: u64,
    /// Of them, slots whose first U-plane message came before the first C-plane one.
    pub u_before_c: u64,
    /// First U-plane arrival − first C-plane arrival per slot, ns.
    pub advance_ns: Quantiles,
    /// Slots with U-plane and no C-plane.
    pub u_without_c: u64,
}

/// The whole report.
#[derive(Debug, Clone, Serialize, Default)]
pub struct TimingReport {
    /// Frames read.
    pub frames: u64,
    /// C/U-plane messages timed.
    pub timed: u64,
    /// Frames without timing fields (not eCPRI, other message types).
    pub not_timed: u64,
    /// Malformed frames by field and the offset of the first one.
    pub malformed: BTreeMap<&'static str, (u64, usize)>,
    /// Messages whose timing fields are out of range, by field.
    pub out_of_range: BTreeMap<String, u64>,
    /// Whether the capture clock looks GPS-aligned (median |offset| ≤ 5 ms).
    pub gps_aligned: bool,
    /// Per flow.
    pub flows: Vec<FlowTiming>,
    /// C-plane ahead of U-plane.
    pub c_to_u: Vec<CtoU>,
    /// What the reader should know.
    pub warnings: Vec<String>,
}

/// Bins in a flow's histogram.
pub const HISTOGRAM_BINS: i64 = 12;

/// First C-plane and first U-plane arrival of one slot.
type SlotFirsts = (Option<i64>, Option<i64>);
/// (dataDirection, eAxC, VLAN, the slot's OTA on the capture clock).
type SlotKey = (u8, u16, Option<u16>, i64);

fn dir_name(d: u8) -> &'static str {
    if d == 1 {
        "DL"
    } else {
        "UL"
    }
}

/// Builds the report from `(capture timestamp ns, frame)` pairs.
pub fn build<'a>(frames: impl IntoIterator<Item = (i64, &'a [u8])>, cfg: &ReportConfig) -> TimingReport {
    let mut r = TimingReport::default();
    let mut offsets: BTreeMap<Key, Vec<i64>> = BTreeMap::new();
    // (direction, eAxC, VLAN, slot OTA) -> (first C-plane, first U-plane) arrival.
    let mut slots: HashMap<SlotKey, SlotFirsts> = HashMap::new();
    for (t, f) in frames {
        r.frames += 1;
        let m = match message_timing(f, cfg.udp_port) {
            Ok(m) => m,
            Err(NoTiming::NotTimed) => {
                r.not_timed += 1;
                continue;
            }
            Err(NoTiming::Malformed { field, offset }) => {
                r.malformed.entry(field).or_insert((0, offset)).0 += 1;
                continue;
            }
        };
        let off = match cfg.clock.offset_ns(t, m.air, cfg.numerology) {
            Ok(o) => o,
            Err(e) => {
                *r.out_of_range.entry(e.to_string()).or_default() += 1;
                continue;
            }
        };
        r.timed += 1;
        offsets.entry(Key { direction: m.direction, plane: m.plane, eaxc: m.eaxc, vlan: m.vlan }).or_default().push(off);
        let slot0 = AirTime { symbol_id: 0, ..m.air };
        if let Ok(slot_ota) = cfg.clock.ota_clock_ns(t, slot0, cfg.numerology) {
            let e = slots.entry((m.direction, m.eaxc, m.vlan, slot_ota)).or_default();
            let first = if m.plane == Plane::C { &mut e.0 } else { &mut e.1 };
            *first = Some(first.map_or(t, |x: i64| x.min(t)));
        }
    }
    let mut all_abs: Vec<i64> = Vec::with_capacity(r.timed as usize);
    for (k, mut v) in offsets {
        v.sort_unstable();
        all_abs.extend(v.iter().map(|o| o.abs()));
        let kind = WindowKind::of(k.plane == Plane::U, k.direction);
        let q = Quantiles::of_sorted(&v);
        let classes = cfg.windows[kind as usize].map(|w| {
            let mut c = ClassCounts::default();
            for &o in &v {
                match w.classify(kind, o) {
                    Class::Early => c.early += 1,
                    Class::OnTime => c.on_time += 1,
                    Class::Late => c.late += 1,
                }
            }
            c
        });
        r.flows.push(FlowTiming {
            plane: if k.plane == Plane::U { "U" } else { "C" },
            direction: dir_name(k.direction),
            eaxc: k.eaxc,
            vlan: k.vlan,
            window: window_name(kind),
            messages: v.len() as u64,
            offset_ns: q,
            spread_ns: q.max - q.min,
            histogram: histogram(&v),
            classes,
            fitting: fitting_bounds(kind, q.min, q.max, cfg.margin_us),
        });
    }
    all_abs.sort_unstable();
    r.gps_aligned = all_abs.is_empty() || Quantiles::of_sorted(&all_abs).p50 <= FRAME_NS / 2;
    if !r.gps_aligned {
        r.warnings.push(format!(
            "the capture clock is not GPS-aligned (median |arrival - OTA| is {:.3} ms, more than half a frame): \
             offsets, windows and fitting values are meaningless; the spread per flow and the C-to-U advance still hold",
            Quantiles::of_sorted(&all_abs).p50 as f64 / 1e6
        ));
    }
    for f in &r.flows {
        if f.classes.is_some_and(|c| c.early > 0 && c.on_time > 0 && c.late > 0) {
            r.warnings.push(format!(
                "{} {}-plane eAxC 0x{:04x}: early, on time and late all at once, the signature of broken time (PTP) rather than a wrong window",
                f.direction, f.plane, f.eaxc
            ));
        }
    }
    r.c_to_u = c_to_u(slots);
    if r.c_to_u.iter().any(|c| c.u_before_c > 0) {
        r.warnings.push("U-plane ahead of its C-plane in some slots (see u_before_c)".into());
    }
    r
}

/// The window's name: `t1a_cp_dl`, `t1a_cp_ul`, `t1a_up`, `ta4`.
pub fn window_name(k: WindowKind) -> &'static str {
    match k {
        WindowKind::CpDl => "t1a_cp_dl",
        WindowKind::CpUl => "t1a_cp_ul",
        WindowKind::UpDl => "t1a_up",
        WindowKind::UpUl => "ta4",
    }
}

fn histogram(sorted: &[i64]) -> Vec<Bin> {
    let (lo, hi) = (sorted[0], sorted[sorted.len() - 1]);
    let width = ((hi - lo) / HISTOGRAM_BINS + 1).max(1);
    let mut bins: Vec<Bin> = Vec::new();
    for &o in sorted {
        let b = (o - lo) / width;
        let b_lo = lo + b * width;
        match bins.last_mut() {
            Some(last) if last.lo_ns == b_lo => last.count += 1,
            _ => bins.push(Bin { lo_ns: b_lo, hi_ns: b_lo + width - 1, count: 1 }),
        }
    }
    bins
}

fn c_to_u(slots: HashMap<SlotKey, SlotFirsts>) -> Vec<CtoU> {
    // Per (direction, eAxC, VLAN): the advances, and slots without C-plane.
    type Per = (Vec<i64>, u64);
    let mut per: BTreeMap<(u8, u16, Option<u16>), Per> = BTreeMap::new();
    for ((d, e, v, _), (c, u)) in slots {
        match (c, u) {
            (Some(c), Some(u)) => per.entry((d, e, v)).or_default().0.push(u - c),
            (None, Some(_)) => per.entry((d, e, v)).or_default().1 += 1,
            _ => {}
        }
    }
    per.into_iter()
        .filter(|(_, (adv, _))| !adv.is_empty())
        .map(|((d, eaxc, vlan), (mut adv, u_without_c))| {
            adv.sort_unstable();
            CtoU {
                direction: dir_name(d),
                eaxc,
                vlan,
                slots: adv.len() as u64,
                u_before_c: adv.iter().filter(|&&a| a < 0).count() as u64,
                advance_ns: Quantiles::of_sorted(&adv),
                u_without_c,
            }
        })
        .collect()
}

#[cfg(test)]
#[path = "report_tests.rs"]
mod tests;
