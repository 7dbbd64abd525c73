//! Matching against the send table: aliasing under overload (a frame a
//! whole frameId window late) is detected and reported, on one clock and
//! across hosts (the replay of the tx side's send times).

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

/// The trial of `flows`/`totals` at 1000 fps, 1 measured frame.
fn summary(e: &Engine, flows: Vec<FlowStats>, totals: FlowStats) -> report::Trial {
    let per_flow = flows.iter().map(|f| f.received).collect();
    let sent = Sent { per_flow, warmup: 0, measured: 1, tx_dropped: 0, seconds: 1.0 / 1000.0 };
    let plan = Plan { rate: Some(1000.0), warmup: Duration::ZERO, duration: Duration::from_secs(1), drain: Duration::ZERO, settle: Duration::ZERO };
    e.summarize(Outcome { sent, flows, totals, late: 0, rx_port_drops: 0 }, plan, "search")
}

#[test]
fn across_hosts_a_frame_before_a_later_laps_send_beyond_the_clocks_bound_is_aliased_within_it_before_sent() {
    let mut e = engine();
    e.clock_ahead_ns = 200_000; // the tx clock at most 200 µs ahead
    let mut flows: Vec<FlowStats> = e.pool.flows.iter().map(|_| FlowStats::default()).collect();
    let mut totals = FlowStats::default();
    let t0 = e.epoch_ns + 1_000;
    let window = 1_000_000_000;
    // Lap LAPS of frame 2 is in its slot; lap 0's frame arrives 500 µs
    // before it was sent: more than the clocks can be apart.
    send(&e, 2, 0, t0);
    send(&e, 2, LAPS, t0 + window);
    let (a, _) = e.arrive(&bytes(&e, 2, 0), t0 + window - 500_000, &mut flows, &mut totals).unwrap();
    assert_eq!(e.resolve(a, t0, 0, &mut flows, &mut totals), None);
    assert_eq!((totals.aliased, totals.stale), (1, 1), "a whole window late, not received");
    // Frame 3 arrives 50 µs "before" it was sent: within the bound, it is
    // that send, on clocks 50 µs apart.
    send(&e, 3, 0, t0 + 100_000);
    let (a, _) = e.arrive(&bytes(&e, 3, 0), t0 + 50_000, &mut flows, &mut totals).unwrap();
    assert!(e.resolve(a, t0, 0, &mut flows, &mut totals).is_some());
    assert_eq!(flows.iter().map(|f| f.before_sent).sum::<u64>(), 1);
    assert_eq!(totals.aliased, 1);
    let t = summary(&e, flows, totals);
    assert!(t.aliased == 1 && t.lap_ambiguous, "{} aliased", t.aliased);

    // The half-window test adds the clocks' bound: a latency of 0.45 of
    // the window is ambiguous when the clocks may be 0.1 of it apart.
    let window_ns = (LAPS * e.pool.frames.len() as u64) as f64 / 1000.0 * 1e9;
    let tail = |e: &Engine| {
        let mut flows: Vec<FlowStats> = e.pool.flows.iter().map(|_| FlowStats::default()).collect();
        flows[0].received = 1;
        flows[0].latency((window_ns * 0.45) as u64);
        summary(e, flows, FlowStats::default())
    };
    e.clock_ahead_ns = 0;
    assert!(!tail(&e).lap_ambiguous, "one clock: 0.45 of the window is not ambiguous");
    e.clock_ahead_ns = (window_ns * 0.1) as u64;
    assert!(tail(&e).lap_ambiguous, "clocks 0.1 of the window apart: 0.45 + 0.1 is past half");
}

#[test]
fn the_cross_host_replay_matches_a_frame_a_window_late_to_its_own_lap_and_flags_the_trial() {
    use super::super::remote::{ahead_bound, replay, Sends};
    let mut e = engine();
    let n = e.pool.frames.len();
    // Clocks probed 0 µs apart with a 100 µs round trip, for a 1 s trial.
    e.clock_ahead_ns = ahead_bound(0.0, 100_000.0, Duration::from_secs(1));
    assert!(e.clock_ahead_ns < 1_000_000, "{}", e.clock_ahead_ns);
    // The tx side's log: LAPS + 1 laps of the pool, one frame per 10 µs
    // (the window is LAPS × n × 10 µs).
    let t0 = e.epoch_ns + 1_000;
    let entry = |k: usize| {
        let (pos, lap) = (k % n, (k / n) as u64);
        (t0 + k as u64 * 10_000 - e.epoch_ns + 1) & TIME | (e.pool.frames[pos].seq(lap) as u64) << 48
    };
    let log: Vec<u64> = (0..(LAPS as usize + 1) * n).map(entry).collect();
    let late_send = t0 + (LAPS as usize * n + 2) as u64 * 10_000; // lap LAPS of frame 2
    let mut flows: Vec<FlowStats> = e.pool.flows.iter().map(|_| FlowStats::default()).collect();
    let mut totals = FlowStats::default();
    let mut arrivals = Vec::new();
    // Every frame of lap 0 but frame 2 on time (+100 µs); frame 2's lap 0
    // comes 900 µs before its lap LAPS is sent: nearly a window late.
    for pos in (0..n).filter(|&p| p != 2) {
        arrivals.push(e.arrive(&bytes(&e, pos, 0), t0 + pos as u64 * 10_000 + 100_000, &mut flows, &mut totals).unwrap().0);
    }
    arrivals.push(e.arrive(&bytes(&e, 2, 0), late_send - 900_000, &mut flows, &mut totals).unwrap().0);
    // Then lap LAPS of frame 2 itself, on time.
    arrivals.push(e.arrive(&bytes(&e, 2, LAPS), late_send + 100_000, &mut flows, &mut totals).unwrap().0);
    replay(&e, &arrivals, Sends { log: &log, lap0: 0, pos0: 0 }, t0, 0, &mut flows, &mut totals);
    let dup: u64 = flows.iter().map(|f| f.duplicates).sum();
    let before: u64 = flows.iter().map(|f| f.before_sent).sum();
    assert_eq!((dup, before), (0, 0), "frame 2 of lap 0 is not taken for lap LAPS arriving early, nor lap LAPS for a duplicate");
    assert_eq!(flows.iter().map(|f| f.received).sum::<u64>(), n as u64 + 1);
    let sent = Sent { per_flow: flows.iter().map(|f| f.received).collect(), warmup: 0, measured: n as u64 + 1, tx_dropped: 0, seconds: (n as u64 + 1) as f64 * 10e-6 };
    let plan = Plan { rate: Some(100_000.0), warmup: Duration::ZERO, duration: Duration::from_secs(1), drain: Duration::ZERO, settle: Duration::ZERO };
    let t = e.summarize(Outcome { sent, flows, totals, late: 0, rx_port_drops: 0 }, plan, "search");
    let max = t.latency.as_ref().unwrap().max_ns;
    let own = (LAPS as usize * n) as f64 * 10_000.0 - 900_000.0;
    assert!((max / own - 1.0).abs() < 1e-2, "frame 2's own latency, nearly the window: {max} ns, not {own} ns");
    assert!(t.lap_ambiguous, "a latency near the window");
}
