use super::*;
use crate::timing::ota::SlotCount;

/// 2026-01-01 00:00:00 UTC: frameId 8's first slot.
const T2026: u64 = 1_767_225_600_000_000_000;

fn timing(side: Side) -> IngressTiming {
    let b = |min_us, max_us| Some(Bounds { min_us, max_us });
    IngressTiming::new(OtaClock::default(), 1, side, [b(200, 500), None, b(50, 150), b(20, 100)])
}

#[test]
fn classes_follow_the_window_of_plane_and_direction() {
    let t = timing(Side::Du);
    let (mut c, mut s) = (TimingCounters::default(), TimingStats::default());
    let air = SlotCount::air_time(160, 1, 0);
    for (at, uplane, dir) in [
        (T2026 - 100_000, true, 1),  // DL U 100 µs ahead: on time
        (T2026 - 151_000, true, 1),  // early
        (T2026 - 49_000, true, 1),   // late
        (T2026 - 300_000, false, 1), // DL C on time
        (T2026 - 300_000, false, 0), // UL C: no window
    ] {
        t.note(&mut c, &mut s, at, uplane, dir, air, false);
    }
    assert_eq!(c, TimingCounters { on_time: 2, early: 1, late: 1, corrupt: 0, dupl: 0, unclassified: 1, sides: 1 });
    assert!(c.broken_time());
    // Out-of-range fields and repeats.
    t.note(&mut c, &mut s, T2026, true, 1, AirTime { slot_id: 2, ..air }, true);
    t.note_corrupt(&mut c);
    assert_eq!((c.corrupt, c.dupl), (2, 1));
    let h = &s.histograms[0][WindowKind::UpDl as usize];
    assert_eq!(h.count(), 3);
    assert_eq!(h.sum, -300_000);
    // -151 µs is in (-200, -100], -100 exactly in (-200, -100], -49 in (-50, -20].
    let at = |b: i64| BUCKETS_NS.iter().position(|&x| x == b).unwrap();
    assert_eq!(h.counts[at(-100_000)], 2);
    assert_eq!(h.counts[at(-20_000)], 1);
    assert_eq!(s.histograms[0][WindowKind::CpUl as usize].count(), 1, "timed even without a window");
}

#[test]
fn ru_side_counts_ta4_after_ota() {
    let t = timing(Side::Ru);
    let (mut c, mut s) = (TimingCounters::default(), TimingStats::default());
    let air = SlotCount::air_time(161, 1, 13);
    let ota = T2026 + 500_000 + crate::timing::ota::symbol_start_ns(1, 13) as u64;
    for d in [19_999, 20_000, 100_000, 100_001] {
        t.note(&mut c, &mut s, ota + d, true, 0, air, false);
    }
    assert_eq!((c.early, c.on_time, c.late, c.sides), (1, 2, 1, 2));
    assert_eq!(s.histograms[1][WindowKind::UpUl as usize].count(), 4);
    // A far bucket: beyond 10 ms.
    t.note(&mut c, &mut s, ota + 20_000_000, true, 0, air, false);
    assert_eq!(s.histograms[1][WindowKind::UpUl as usize].counts[BUCKETS_NS.len()], 1);
}

#[test]
fn prometheus_names_the_xran_counters_per_flow_and_side() {
    let k = FlowKey { direction: 1, plane: 0, eaxc: 0x0001, vlan: 0xFFFF };
    let k2 = FlowKey { direction: 0, plane: 0, eaxc: 0x0002, vlan: 5 };
    let c = TimingCounters { on_time: 7, early: 1, late: 2, corrupt: 3, dupl: 4, unclassified: 0, sides: 1 };
    let c2 = TimingCounters { on_time: 5, sides: 2, ..Default::default() };
    let untimed = TimingCounters::default();
    let k3 = FlowKey { eaxc: 9, ..k };
    let mut s = TimingStats::default();
    s.histograms[0][WindowKind::UpDl as usize].record(-120_000);
    let rows = [(&k, &c), (&k2, &c2), (&k3, &untimed)];
    let text = prometheus(rows.iter().copied(), &s);
    for line in [
        "fhgate_Rx_on_time_total{side=\"du\",direction=\"dl\",plane=\"u\",eaxc=\"0x0001\",vlan=\"none\"} 7",
        "fhgate_Rx_early_total{side=\"du\",direction=\"dl\",plane=\"u\",eaxc=\"0x0001\",vlan=\"none\"} 1",
        "fhgate_Rx_corrupt_total{side=\"du\",direction=\"dl\",plane=\"u\",eaxc=\"0x0001\",vlan=\"none\"} 3",
        "fhgate_Rx_dupl_total{side=\"du\",direction=\"dl\",plane=\"u\",eaxc=\"0x0001\",vlan=\"none\"} 4",
        "fhgate_Rx_on_time_total{side=\"ru\",direction=\"ul\",plane=\"u\",eaxc=\"0x0002\",vlan=\"5\"} 5",
        "fhgate_side_Rx_on_time_total{side=\"du\"} 7",
        "fhgate_side_Rx_on_time_total{side=\"ru\"} 5",
        "fhgate_side_Rx_late_total{side=\"ru\"} 0",
        "fhgate_timing_broken_time{side=\"du\",direction=\"dl\",plane=\"u\",eaxc=\"0x0001\",vlan=\"none\"} 1",
        "fhgate_arrival_offset_ns_bucket{side=\"du\",window=\"t1a_up\",le=\"-200000\"} 0",
        "fhgate_arrival_offset_ns_bucket{side=\"du\",window=\"t1a_up\",le=\"-100000\"} 1",
        "fhgate_arrival_offset_ns_bucket{side=\"du\",window=\"t1a_up\",le=\"+Inf\"} 1",
        "fhgate_arrival_offset_ns_sum{side=\"du\",window=\"t1a_up\"} -120000",
    ] {
        assert!(text.lines().any(|l| l == line), "missing {line} in\n{text}");
    }
    assert!(!text.contains("0x0009"), "a flow never timed is not listed");
    assert!(!text.contains("broken_time{side=\"ru\""));
    let j = json(rows.iter().copied());
    assert_eq!(j.as_array().unwrap().len(), 2);
    assert_eq!(j[0]["Rx_on_time"], 7);
    assert_eq!(j[0]["broken_time"], true);
}
