//! `gen --advance-us N`: every message leaves N µs before its symbol's
//! OTA time (negative: after it), on a live port by the host clock, into
//! a file with exactly that timestamp. A file starts at the first slot
//! after [`PCAP_EPOCH`](super::PCAP_EPOCH), a live port at the first one
//! it can still make. A live run of at most 4096 slots is made before
//! the first send; a longer one is made as it goes, which a debug build
//! may not do in real time (its sends are then late, and counted).

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use fhgate::io::{live, TxPort};
use fhgate::timing::ota::{slot_ns, symbol_start_ns, SlotCount, FRAME_ID_PERIOD_NS};
use fhgate::timing::{message_timing, OtaClock, Plane};
use fhgate::traffic::{GenFrame, Generator};

use super::{sleep_until, Sent, BURST, PCAP_EPOCH};

/// Lead time a live port gets before its first slot.
const LIVE_LEAD_NS: i64 = 5_000_000;
/// The last stretch before a send that is spun rather than slept.
const SPIN: Duration = Duration::from_micros(200);
/// Most slots a live run makes before it starts sending.
const PREGEN_SLOTS: u64 = 4096;

/// What the OTA-aligned run needs besides the generator and the port.
pub(super) struct OtaPlan {
    /// Host clock to GPS.
    pub clock: OtaClock,
    /// Numerology of the stream.
    pub numerology: u8,
    /// How far ahead of OTA each U-plane message leaves, ns (negative: after).
    pub advance_ns: i64,
    /// The same for C-plane messages.
    pub cp_advance_ns: i64,
}

/// Sends slots at OTA-aligned times until `slots` are sent, `duration`
/// has passed or `stop` is set.
pub(super) fn send(
    mut gen: Generator,
    tx: &mut dyn TxPort,
    plan: &OtaPlan,
    slots: Option<u64>,
    duration: Option<Duration>,
    live: bool,
    stop: &AtomicBool,
) -> Result<Sent> {
    let mu = plan.numerology;
    let slot = slot_ns(mu);
    let (t_inst0, t_unix0) = (Instant::now(), live::unix_ns() as i64);
    let start = if live { t_unix0 + LIVE_LEAD_NS } else { PCAP_EPOCH.as_nanos() as i64 };
    // The first slot whose earliest message (symbol 0, the larger advance ahead) is not in the past.
    let (mut ota0, n0) = plan.clock.next_slot(start + plan.advance_ns.max(plan.cp_advance_ns), mu);
    gen.start_at(n0);
    let mut s = Sent::default();
    let mut frames: Vec<GenFrame> = Vec::new();
    // A bounded live run is made before the clock starts, so that making
    // a slot (slow in a debug build) never delays a send; the IDs recur
    // every 2.56 s, so the run moves by whole periods until it is ahead.
    let mut made: std::collections::VecDeque<Vec<GenFrame>> = Default::default();
    if let (true, Some(n)) = (live, slots.filter(|&n| n <= PREGEN_SLOTS)) {
        for _ in 0..n {
            let mut f = Vec::new();
            gen.next_slot(&mut f)?;
            made.push_back(f);
        }
        let due = live::unix_ns() as i64 + LIVE_LEAD_NS;
        let first = ota0 - plan.advance_ns.max(plan.cp_advance_ns);
        if first < due {
            ota0 += ((due - first + FRAME_ID_PERIOD_NS - 1) / FRAME_ID_PERIOD_NS) * FRAME_ID_PERIOD_NS;
        }
    }
    // Frames made but not sent, by send time: a slot's C-plane may be due
    // before the previous slot's last U-plane symbols (or after its own
    // first ones, when --cp-advance-us is the smaller).
    let mut pending: Vec<(i64, u64, GenFrame)> = Vec::new();
    let mut out = Out { tx, live, t_inst0, t_unix0, queued: 0, last_at: i64::MIN, order: 0 };
    let max_adv = plan.advance_ns.max(plan.cp_advance_ns);
    let mut i = 0u64;
    while slots.is_none_or(|n| i < n) {
        if stop.load(Ordering::Relaxed) {
            s.interrupted = true;
            break;
        }
        if duration.is_some_and(|d| t_inst0.elapsed() >= d) {
            break;
        }
        frames.clear();
        match made.pop_front() {
            Some(f) => frames = f,
            None => gen.next_slot(&mut frames)?,
        }
        let slot_ota = ota0 + i as i64 * slot;
        let want = SlotCount::air_time(n0 + i, mu, 0);
        for f in frames.drain(..) {
            let m = message_timing(&f.data, None).map_err(|e| anyhow::anyhow!("gen made a frame without timing fields: {e:?}"))?;
            if (m.air.frame_id, m.air.subframe_id, m.air.slot_id) != (want.frame_id, want.subframe_id, want.slot_id) {
                bail!("gen's slot {} carries {:?}, not {:?}", n0 + i, m.air, want);
            }
            let advance = if m.plane == Plane::C { plan.cp_advance_ns } else { plan.advance_ns };
            pending.push((slot_ota + symbol_start_ns(mu, m.air.symbol_id) - advance, out.order, f));
            out.order += 1;
        }
        // Everything due before the next slot's earliest frame can go.
        let horizon = slot_ota + slot - max_adv;
        pending.sort_by_key(|p| (p.0, p.1));
        let n = pending.partition_point(|p| p.0 < horizon);
        for (at, _, f) in pending.drain(..n) {
            out.send(at, &f, &mut s, stop)?;
        }
        if live {
            out.flush()?;
            // Late: this slot's frames were not all out before the next slot's first was due.
            if live::unix_ns() as i64 > horizon {
                s.late_slots += 1;
            }
        }
        s.slots += 1;
        i += 1;
    }
    for (at, _, f) in std::mem::take(&mut pending) {
        if stop.load(Ordering::Relaxed) {
            s.interrupted = true;
            break;
        }
        out.send(at, &f, &mut s, stop)?;
    }
    out.flush()?;
    s.elapsed = t_inst0.elapsed();
    s.saturated = gen.saturated_samples();
    Ok(s)
}

/// The port side of the run: pacing by the host clock (live) or
/// timestamps as planned (file), and bursts.
struct Out<'a> {
    tx: &'a mut dyn TxPort,
    live: bool,
    t_inst0: Instant,
    t_unix0: i64,
    queued: usize,
    last_at: i64,
    order: u64,
}

impl Out<'_> {
    /// Sends `f` at clock time `at` (live: waits for it; file: stamps it).
    fn send(&mut self, at: i64, f: &GenFrame, s: &mut Sent, stop: &AtomicBool) -> Result<()> {
        let time_ns = if self.live {
            let due = self.t_inst0 + Duration::from_nanos((at - self.t_unix0).max(0) as u64);
            if Instant::now() < due {
                // Out with what is queued, then wait: sleep while there is
                // time (a sleep overshoots by tens of µs), spin the rest.
                self.flush()?;
                if let Some(d) = due.checked_duration_since(Instant::now() + SPIN) {
                    sleep_until(Instant::now() + d, stop);
                }
                while Instant::now() < due && !stop.load(Ordering::Relaxed) {
                    std::hint::spin_loop();
                }
            }
            live::unix_ns()
        } else {
            at as u64
        };
        self.last_at = at;
        self.tx.send(&f.data, time_ns).context("sending a frame")?;
        self.queued += 1;
        s.frames += 1;
        s.bytes += f.data.len() as u64;
        *s.by_kind.entry(f.kind.name()).or_default() += 1;
        if self.queued == BURST {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<()> {
        if self.queued > 0 {
            self.tx.flush().context("flushing the output")?;
            self.queued = 0;
        }
        Ok(())
    }
}
