use super::*;
use crate::timing::ota::SlotCount;

/// A frame of `plane` (message type 0 or 2) for `t`, hand-packed.
fn frame(msg_type: u8, dir: u8, eaxc: u16, t: AirTime) -> Vec<u8> {
    let mut f = vec![0u8; 14];
    f[12..14].copy_from_slice(&0xAEFEu16.to_be_bytes());
    let w: u16 = (t.subframe_id as u16) << 12 | (t.slot_id as u16) << 6 | t.symbol_id as u16;
    let e = eaxc.to_be_bytes();
    let body = [e[0], e[1], 0, 0x80, dir << 7 | 0x10, t.frame_id, (w >> 8) as u8, w as u8, 0, 0];
    f.extend_from_slice(&[0x10, msg_type, 0, body.len() as u8]);
    f.extend_from_slice(&body);
    f
}

/// 2026-01-01 00:00:00 UTC, a slot boundary with frameId 8.
const T2026: i64 = 1_767_225_600_000_000_000;
const SLOT0: u64 = 8 * 20;

fn cfg(windows: [Option<Bounds>; 4]) -> ReportConfig {
    ReportConfig { clock: OtaClock::default(), numerology: 1, windows, margin_us: 10, udp_port: None }
}

#[test]
fn quantiles_are_nearest_rank() {
    let v: Vec<i64> = (1..=200).collect();
    assert_eq!(Quantiles::of_sorted(&v), Quantiles { min: 1, p1: 2, p50: 100, p99: 198, max: 200 });
    assert_eq!(Quantiles::of_sorted(&[5]), Quantiles { min: 5, p1: 5, p50: 5, p99: 5, max: 5 });
}

#[test]
fn offsets_classes_fitting_and_c_to_u() {
    // 100 slots: C-plane DL 400 µs ahead, U-plane symbol 0..13 each
    // 100 + slot%3 µs ahead (so 100, 101, 102 µs), and one slot whose
    // U-plane comes first.
    let mut frames = Vec::new();
    for i in 0..100u64 {
        let n = SLOT0 + i;
        let ota = T2026 + i as i64 * 500_000;
        let c_at = if i == 7 { ota - 50_000 } else { ota - 400_000 };
        frames.push((c_at, frame(2, 1, 3, SlotCount::air_time(n, 1, 0))));
        for sym in 0..14u8 {
            let at = ota + crate::timing::ota::symbol_start_ns(1, sym) - 100_000 - (i % 3) as i64 * 1000;
            frames.push((at, frame(0, 1, 3, SlotCount::air_time(n, 1, sym))));
        }
    }
    frames.sort_by_key(|f| f.0);
    let b = |min_us, max_us| Bounds { min_us, max_us };
    let w = [Some(b(200, 500)), None, Some(b(50, 101)), None];
    let r = build(frames.iter().map(|(t, f)| (*t, f.as_slice())), &cfg(w));
    assert_eq!((r.frames, r.timed), (1500, 1500));
    assert!(r.gps_aligned && r.malformed.is_empty());
    let u = r.flows.iter().find(|f| f.plane == "U").unwrap();
    assert_eq!(u.offset_ns, Quantiles { min: -102_000, p1: -102_000, p50: -101_000, p99: -100_000, max: -100_000 });
    // Slots 0, 3, ... (34 of them) at 100 µs, 33 at 101 (on time), 33 at 102 µs (early).
    assert_eq!(u.classes, Some(ClassCounts { early: 33 * 14, on_time: 67 * 14, late: 0 }));
    assert_eq!(u.fitting, b(90, 112));
    assert_eq!(u.histogram.iter().map(|b| b.count).sum::<u64>(), 1400);
    let c = r.flows.iter().find(|f| f.plane == "C").unwrap();
    assert_eq!(c.classes, Some(ClassCounts { early: 0, on_time: 99, late: 1 }));
    assert_eq!(r.c_to_u.len(), 1);
    let ctu = &r.c_to_u[0];
    assert_eq!((ctu.slots, ctu.u_before_c, ctu.u_without_c), (100, 1, 0));
    assert_eq!(ctu.advance_ns.min, -51_000, "slot 7: U at 101 µs, C at 50 µs ahead");
    assert_eq!(ctu.advance_ns.max, 300_000);
    assert!(r.warnings.iter().any(|w| w.contains("U-plane ahead")));
}

#[test]
fn a_clock_off_gps_warns_and_keeps_relative_figures() {
    // The same stream on a clock 0.7 s off: spread and advance unchanged.
    let mut frames = Vec::new();
    for i in 0..10u64 {
        let ota = T2026 + 700_000_000 + i as i64 * 500_000;
        frames.push((ota - 300_000, frame(2, 1, 1, SlotCount::air_time(SLOT0 + i, 1, 0))));
        frames.push((ota - 100_000 + (i as i64 % 2) * 5_000, frame(0, 1, 1, SlotCount::air_time(SLOT0 + i, 1, 0))));
    }
    let r = build(frames.iter().map(|(t, f)| (*t, f.as_slice())), &cfg([None; 4]));
    assert!(!r.gps_aligned);
    assert!(r.warnings[0].contains("not GPS-aligned"), "{:?}", r.warnings);
    let u = r.flows.iter().find(|f| f.plane == "U").unwrap();
    assert_eq!(u.spread_ns, 5_000);
    assert_eq!((r.c_to_u[0].advance_ns.min, r.c_to_u[0].advance_ns.max), (200_000, 205_000));
}

#[test]
fn bad_frames_are_counted_by_field() {
    let good = frame(0, 1, 1, SlotCount::air_time(SLOT0, 1, 0));
    let mut short = good.clone();
    short.truncate(20);
    let bad_slot = frame(0, 1, 1, AirTime { frame_id: 0, subframe_id: 0, slot_id: 5, symbol_id: 0 });
    let mut arp = good.clone();
    arp[12] = 8;
    arp[13] = 6;
    let frames = [(T2026, good.as_slice()), (T2026, short.as_slice()), (T2026, bad_slot.as_slice()), (T2026, arp.as_slice())];
    let r = build(frames, &cfg([None; 4]));
    assert_eq!((r.frames, r.timed, r.not_timed), (4, 1, 1));
    assert_eq!(r.malformed.get("ecpri.size"), Some(&(1, 16)), "{:?}", r.malformed);
    assert_eq!(r.out_of_range.get("oran_fh_cus.slotId 5 is outside 0-1 at numerology 1"), Some(&1));
}
