//! OTA time against a plain reference written from the spec's formula
//! (frameId = floor((GPS − β·10 ms − α/1.2288 GHz) / 10 ms) mod 256, then
//! subframe, slot and symbol by division), in i128, walking forward from a
//! clock reading to the symbol that holds it.

use super::*;

/// Unix seconds of the GPS epoch (1980-01-06), and leap seconds since it.
const REF_GPS_EPOCH_UNIX: i128 = 3657 * 86_400;
const REF_LEAPS_SINCE_1980: i128 = 18;

/// The reference: which symbol holds clock reading `clock_ns` (UTC,
/// 37 s TAI − UTC), and how far into it the reading is.
fn reference(clock_ns: i128, mu: u8, alpha: u32, beta: i16) -> (AirTime, i128) {
    let gps = clock_ns - (REF_GPS_EPOCH_UNIX - REF_LEAPS_SINCE_1980) * 1_000_000_000;
    let x = gps - (alpha as f64 / 1.2288).round() as i128 - beta as i128 * 10_000_000;
    let frames = x.div_euclid(10_000_000);
    let in_frame = x.rem_euclid(10_000_000);
    let subframe = in_frame / 1_000_000;
    let slot_len = 1_000_000 / (1i128 << mu);
    let slot = (in_frame % 1_000_000) / slot_len;
    let in_slot = (in_frame % 1_000_000) % slot_len;
    let mut symbol = 0;
    for s in 0..14 {
        if s * slot_len / 14 <= in_slot {
            symbol = s;
        }
    }
    let t = AirTime { frame_id: frames.rem_euclid(256) as u8, subframe_id: subframe as u8, slot_id: slot as u8, symbol_id: symbol as u8 };
    (t, in_slot - symbol * slot_len / 14)
}

const T2026: i64 = 1_767_225_600_000_000_000;

#[test]
fn known_dates() {
    let c = OtaClock::default();
    // 2026-01-01 00:00:00 UTC is GPS 1 451 260 818 s: frame count
    // 145 126 081 800, frameId 8, subframe 0, slot 0, symbol 0.
    let t = AirTime { frame_id: 8, subframe_id: 0, slot_id: 0, symbol_id: 0 };
    for mu in 0..=4 {
        assert_eq!(c.offset_ns(T2026, t, mu), Ok(0), "µ {mu}");
    }
    // 2026-06-15 12:34:56.789012345 UTC at µ 1: frameId 22, subframe 9,
    // slot 0, symbol 0, 12 345 ns into it (worked out by hand from GPS ns).
    let at = 1_781_526_896_789_012_345;
    let t = AirTime { frame_id: 22, subframe_id: 9, slot_id: 0, symbol_id: 0 };
    assert_eq!(c.offset_ns(at, t, 1), Ok(12_345));
    assert_eq!(reference(at as i128, 1, 0, 0), (t, 12_345));
    // TAI clock: the same instant reads 37 s later.
    let tai = OtaClock::new(Reference::Tai, 0, 0);
    assert_eq!(tai.offset_ns(at + 37_000_000_000, t, 1), Ok(12_345));
    // Another UTC offset moves the grid by whole seconds: frameId by 100 per second.
    let old = OtaClock::new(Reference::Utc { utc_offset_s: 36 }, 0, 0);
    assert_eq!(old.offset_ns(at + 1_000_000_000, t, 1), Ok(12_345));
    assert_eq!(c.gps_ns(T2026), 1_451_260_818_000_000_000);
}

#[test]
fn every_symbol_of_the_period_at_every_numerology() {
    let c = OtaClock::default();
    // A frameId-0 boundary: T2026 is frameId 8, so 8 frames earlier.
    let frame0 = T2026 - 8 * FRAME_NS;
    for mu in 0..=4u8 {
        let slots = 256 * 10 * (1u64 << mu);
        let slot = slot_ns(mu);
        for n in 0..slots {
            for sym in 0..14u8 {
                let start = frame0 + n as i64 * slot + symbol_start_ns(mu, sym);
                let end = frame0 + n as i64 * slot + if sym == 13 { slot } else { symbol_start_ns(mu, sym + 1) };
                let want = SlotCount::air_time(n, mu, sym);
                // First and last ns of the symbol, and one period later
                // (frameId wraps: the same IDs, the same offset).
                for (clock, into) in [(start, 0), (end - 1, end - 1 - start), (start + FRAME_ID_PERIOD_NS, 0)] {
                    let (t, d) = reference(clock as i128, mu, 0, 0);
                    assert_eq!(t, want, "µ {mu} slot {n} symbol {sym}");
                    assert_eq!(d, into as i128);
                    assert_eq!(c.offset_ns(clock, want, mu), Ok(into), "µ {mu} slot {n} symbol {sym}");
                }
            }
        }
    }
}

#[test]
fn offsets_fold_into_half_a_period_either_side() {
    let c = OtaClock::default();
    let t = AirTime { frame_id: 8, subframe_id: 0, slot_id: 0, symbol_id: 0 };
    for d in [-(FRAME_ID_PERIOD_NS / 2) + 1, -500_000, -1, 0, 1, 35_714, 1_000_000_000, FRAME_ID_PERIOD_NS / 2 - 1] {
        assert_eq!(c.offset_ns(T2026 + d, t, 1), Ok(d), "{d}");
    }
    // Exactly half a period is the far edge, folded to the negative side.
    assert_eq!(c.offset_ns(T2026 + FRAME_ID_PERIOD_NS / 2, t, 1), Ok(-FRAME_ID_PERIOD_NS / 2));
    assert_eq!(c.offset_ns(T2026 + FRAME_ID_PERIOD_NS / 2 + 1, t, 1), Ok(-FRAME_ID_PERIOD_NS / 2 + 1));
    // A DU sending 300 µs ahead of frameId 8's first symbol, just after a wrap.
    let t0 = AirTime { frame_id: 0, subframe_id: 0, slot_id: 0, symbol_id: 0 };
    let wrap = T2026 - 8 * FRAME_NS + FRAME_ID_PERIOD_NS;
    assert_eq!(c.offset_ns(wrap - 300_000, t0, 1), Ok(-300_000));
    assert_eq!(c.ota_clock_ns(wrap - 300_000, t0, 1), Ok(wrap));
}

#[test]
fn random_instants_with_alpha_and_beta_agree_with_the_reference() {
    use proptest::prelude::*;
    let mut runner = proptest::test_runner::TestRunner::default();
    runner
        .run(&(0i64..4_000_000_000_000_000_000, 0u8..=4, 0u32..ALPHA_PER_FRAME, -300i16..300), |(clock, mu, alpha, beta)| {
            let c = OtaClock::new(Reference::default(), alpha, beta);
            let (t, d) = reference(clock as i128, mu, alpha, beta);
            prop_assert_eq!(c.offset_ns(clock, t, mu), Ok(d as i64));
            // The next slot boundary is where the reference's slot changes.
            let (at, n) = c.next_slot(clock, mu);
            prop_assert!(at >= clock && at - clock < slot_ns(mu));
            let (t2, d2) = reference(at as i128, mu, alpha, beta);
            prop_assert_eq!(d2, 0);
            prop_assert_eq!(t2, SlotCount::air_time(n, mu, 0));
            Ok(())
        })
        .unwrap();
}

#[test]
fn out_of_range_fields_are_named() {
    let c = OtaClock::default();
    let ok = AirTime { frame_id: 0, subframe_id: 9, slot_id: 1, symbol_id: 13 };
    assert!(c.offset_ns(T2026, ok, 1).is_ok());
    assert_eq!(c.offset_ns(T2026, AirTime { subframe_id: 10, ..ok }, 1), Err(OtaError::SubframeId(10)));
    assert_eq!(c.offset_ns(T2026, AirTime { slot_id: 2, ..ok }, 1), Err(OtaError::SlotId { value: 2, numerology: 1 }));
    assert_eq!(c.offset_ns(T2026, AirTime { slot_id: 1, ..ok }, 0), Err(OtaError::SlotId { value: 1, numerology: 0 }));
    assert_eq!(c.offset_ns(T2026, AirTime { symbol_id: 14, ..ok }, 1), Err(OtaError::SymbolId(14)));
    assert_eq!(c.offset_ns(T2026, ok, 5), Err(OtaError::Numerology(5)));
    assert_eq!(OtaError::SlotId { value: 2, numerology: 1 }.to_string(), "oran_fh_cus.slotId 2 is outside 0-1 at numerology 1");
}
