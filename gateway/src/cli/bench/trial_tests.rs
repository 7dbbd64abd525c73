//! Matching against the send table: aliasing under overload (a frame a
//! whole frameId window late) is detected and reported.

use super::*;
use fhgate::traffic::CarrierSpec;

fn engine() -> Engine {
    let spec = CarrierSpec { prbs: 24, antennas: 1, mtu: 1500, ..CarrierSpec::default() };
    let pool = Pool::new(&spec).unwrap();
    let rx_cfg = DecodeConfig { eaxc: spec.eaxc, dl_comp: spec.comp, ul_comp: spec.comp, carrier_prbs: 24, ..DecodeConfig::default() };
    Engine::new(pool, rx_cfg, Reference { level: spec.level, comp: spec.comp, rounding: spec.rounding }, 1, 0.0)
}

/// Pool frame `pos` as sent in lap `lap` (what `transmit` puts on the wire).
fn bytes(e: &Engine, pos: usize, lap: u64) -> Vec<u8> {
    let f = &e.pool.frames[pos];
    let mut d = f.data.clone();
    d[f.seq_at] = f.seq(lap);
    d[f.frame_at()] = f.frame_id(lap);
    d
}

/// Records the send of pool frame `pos` in lap `lap` at `t`, as `transmit` does.
fn send(e: &Engine, pos: usize, lap: u64, t: u64) {
    let f = &e.pool.frames[pos];
    let slot = (lap % LAPS) as usize * e.pool.frames.len() + pos;
    e.table[slot].store((t - e.epoch_ns + 1) & TIME | (f.seq(lap) as u64) << 48, Ordering::Release);
}

#[test]
fn a_frame_a_whole_frame_id_window_late_is_aliased_and_its_trial_lap_ambiguous() {
    let e = engine();
    let mut flows: Vec<FlowStats> = e.pool.flows.iter().map(|_| FlowStats::default()).collect();
    let mut totals = FlowStats::default();
    let mut scratch = Vec::new();
    let t0 = e.epoch_ns + 1_000;
    // In time: counted, 50 µs.
    send(&e, 1, 0, t0);
    e.account(&bytes(&e, 1, 0), t0 + 50_000, t0, 0, &mut flows, &mut totals, &mut scratch);
    assert_eq!(flows.iter().map(|f| f.received).sum::<u64>(), 1);
    assert_eq!(totals.aliased, 0);
    // Lap 0 of frame 2, then lap LAPS (the same frameId, the same slot)
    // one window later; lap 0's frame arrives just before that send, and
    // is read after it: it cannot be lap LAPS's frame.
    send(&e, 2, 0, t0);
    send(&e, 2, LAPS, t0 + 1_000_000_000);
    assert_eq!(bytes(&e, 2, 0)[e.pool.frames[2].frame_at()], bytes(&e, 2, LAPS)[e.pool.frames[2].frame_at()], "frameId repeats after LAPS laps");
    e.account(&bytes(&e, 2, 0), t0 + 1_000_000_000 - 10_000, t0, 0, &mut flows, &mut totals, &mut scratch);
    assert_eq!(totals.aliased, 1, "a whole window late");
    assert_eq!(totals.stale, 1, "and not counted as received");
    assert_eq!(flows.iter().map(|f| f.received).sum::<u64>(), 1);
    let n = e.pool.frames.len() as u64;
    let per_flow = |flows: &[FlowStats]| flows.iter().map(|f| f.received).collect::<Vec<u64>>();
    let sent = |flows: &[FlowStats]| Sent { per_flow: per_flow(flows), warmup: 0, measured: 1, tx_dropped: 0, seconds: 1.0 / 1000.0 };
    let plan = Plan { rate: Some(1000.0), warmup: Duration::ZERO, duration: Duration::from_secs(1), drain: Duration::ZERO, settle: Duration::ZERO };
    let t = e.summarize(Outcome { sent: sent(&flows), flows, totals, late: 0, rx_port_drops: 0 }, plan, "search");
    assert_eq!(t.aliased, 1);
    assert!(t.lap_ambiguous);
    assert!((t.frame_id_window_s - (LAPS * n) as f64 / 1000.0).abs() < 1e-9, "128 laps of {n} frames at 1000 fps: {}", t.frame_id_window_s);

    // No aliased frame, but a latency above half the window: ambiguous too.
    let window_ns = (LAPS * n) as f64 / 1000.0 * 1e9;
    let mut flows: Vec<FlowStats> = e.pool.flows.iter().map(|_| FlowStats::default()).collect();
    flows[0].received = 1;
    flows[0].latency((window_ns * 0.6) as u64);
    let t = e.summarize(Outcome { sent: sent(&flows), flows, totals: FlowStats::default(), late: 0, rx_port_drops: 0 }, plan, "search");
    assert!(t.lap_ambiguous && t.aliased == 0, "latency at 0.6 of the window");
    let mut flows: Vec<FlowStats> = e.pool.flows.iter().map(|_| FlowStats::default()).collect();
    flows[0].received = 1;
    flows[0].latency((window_ns * 0.1) as u64);
    let t = e.summarize(Outcome { sent: sent(&flows), flows, totals: FlowStats::default(), late: 0, rx_port_drops: 0 }, plan, "search");
    assert!(!t.lap_ambiguous, "latency at 0.1 of the window is not ambiguous");
}
