//! `fhgate gen`: the DU/RU emulator's sending half. Generates a 7.2x
//! stream for a carrier slot by slot (so a stream of any length runs in
//! the memory of one slot) and writes it to a pcap file or sends it on a
//! live port, at slot timing, flat out, or at a fixed frame rate. The
//! test signal's level (`--level-dbfs`, `--exponents`) and BFP rounding
//! (`--rounding`) are [`SignalArgs`], which `sink` shares.
//!
//! Exit codes: 0 done (also when stopped by SIGINT/SIGTERM), 2 usage or I/O.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clap::{Args, ValueEnum};
use ecpri::ethernet::VlanTag;
use ecpri::iq::Rounding;
use ecpri::{EaxcLayout, UdCompHdr};
use serde_json::json;

use fhgate::io::pcap::PcapOut;
use fhgate::io::{live, TxPort};
use fhgate::traffic::{CarrierSpec, GenFrame, Generator, Side, SignalLevel};

mod ota;

#[derive(Debug, Clone, Copy, ValueEnum)]
enum SideArg {
    Du,
    Ru,
}

/// How fast frames are released.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Rate {
    /// Real time: each slot's frames at its slot boundary.
    Slot,
    /// As fast as the output takes them.
    Max,
    /// A fixed number of frames per second.
    Pps(f64),
}

fn parse_rate(s: &str) -> Result<Rate, String> {
    match s {
        "slot" => Ok(Rate::Slot),
        "max" => Ok(Rate::Max),
        _ => match s.parse::<f64>() {
            Ok(r) if r > 0.0 && r.is_finite() => Ok(Rate::Pps(r)),
            _ => Err(format!("`{s}`: expected slot, max or a frame rate in frames per second")),
        },
    }
}

pub(super) fn parse_seconds(s: &str) -> Result<Duration, String> {
    match s.parse::<f64>() {
        Ok(v) if v >= 0.0 && v.is_finite() => Ok(Duration::from_secs_f64(v)),
        _ => Err(format!("`{s}`: expected a number of seconds")),
    }
}

/// The test signal's level and rounding: `gen` makes the signal with
/// them, and `sink` rebuilds it from the same flags.
#[derive(Args, Debug, Clone)]
pub struct SignalArgs {
    /// Peak of the loudest PRB in dB relative to int16 full scale (32768),
    /// e.g. +40; above 0 the samples exceed int16, which BFP carries with
    /// exponents up to 15. Default: -8.7 dBFS (the shipped captures).
    #[arg(long, value_name = "DBFS", allow_hyphen_values = true, conflicts_with = "exponents")]
    pub level_dbfs: Option<f64>,
    /// Give PRB p the level at which BFP (at gen's width) takes exponent
    /// LO + p mod (HI - LO + 1), so a symbol sweeps the exponents LO-HI.
    #[arg(long, value_name = "LO-HI", value_parser = SignalLevel::parse_range)]
    pub exponents: Option<(u8, u8)>,
    /// How BFP rounds mantissas: truncate (Annex A.1 as written; the
    /// shipped captures) or nearest.
    #[arg(long, value_name = "truncate|nearest", default_value = "truncate", value_parser = parse_rounding)]
    pub rounding: Rounding,
}

fn parse_rounding(s: &str) -> Result<Rounding, String> {
    Rounding::from_name(s).ok_or_else(|| format!("`{s}`: expected truncate or nearest"))
}

impl SignalArgs {
    /// The level, with `comp` the compression gen uses (`--exponents` is
    /// meant at its BFP width).
    pub fn level(&self, comp: Option<UdCompHdr>, comp_flag: &str) -> Result<SignalLevel> {
        match (self.level_dbfs, self.exponents) {
            (Some(db), _) => SignalLevel::peak_dbfs(db),
            (None, Some((lo, hi))) => {
                let comp = comp.with_context(|| format!("--exponents needs {comp_flag} bfp:WIDTH, the width the exponents are meant at"))?;
                SignalLevel::exponents(lo, hi, comp)
            }
            (None, None) => Ok(SignalLevel::Default),
        }
    }
}

/// Arguments of `gen`.
#[derive(Args, Debug)]
pub struct GenArgs {
    /// Output pcap file.
    #[arg(short, long, required_unless_present = "port", conflicts_with = "port")]
    output: Option<PathBuf>,
    /// Send on a live port instead: af_xdp:IFACE[,k=v], af_packet:IFACE or
    /// udp:BIND,PEER. With `af_xdp:IFACE,queues=0-3` each eAxC leaves on
    /// queue eAxC mod 4.
    #[arg(long, value_name = "SPEC")]
    port: Option<String>,
    /// How fast to send: `slot` (real time, each slot's frames at its slot
    /// boundary), `max` (flat out) or frames per second. Default: slot on
    /// a port, max into a file.
    #[arg(long, value_name = "slot|max|PPS", value_parser = parse_rate)]
    rate: Option<Rate>,
    /// Which side sends: du (DL C/U-plane and UL C-plane) or ru (UL U-plane).
    #[arg(long, value_enum, default_value = "du")]
    side: SideArg,
    /// Numerology µ: subcarrier spacing 15 kHz × 2^µ.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u8).range(0..=4))]
    numerology: u8,
    /// Carrier width in PRBs (273 = 100 MHz at 30 kHz).
    #[arg(long, default_value_t = 273, value_parser = clap::value_parser!(u16).range(1..=1023))]
    prbs: u16,
    /// Antennas (one eAxC each).
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u8).range(1..=16))]
    antennas: u8,
    /// U-plane compression, METHOD:WIDTH.
    #[arg(long, default_value = "bfp:9", value_parser = |s: &str| UdCompHdr::from_spec(s).ok_or_else(|| format!("`{s}`: expected METHOD:WIDTH like bfp:9")))]
    comp: UdCompHdr,
    /// Leave udCompHdr out of U-plane sections (static compression).
    #[arg(long)]
    no_comp_hdr: bool,
    /// eAxC bit widths.
    #[arg(long, default_value = "4,4,4,4", value_parser = |s: &str| EaxcLayout::from_spec(s).ok_or_else(|| format!("`{s}`: expected four widths adding up to 16")))]
    eaxc_bits: EaxcLayout,
    /// Tag every frame with this VLAN ID.
    #[arg(long)]
    vlan: Option<u16>,
    /// PCP of the VLAN tag (default 7; only with --vlan).
    #[arg(long, requires = "vlan")]
    pcp: Option<u8>,
    /// Largest Ethernet payload; U-plane symbols are split at PRB boundaries to fit.
    #[arg(long, default_value_t = 1500)]
    mtu: usize,
    /// Slots to generate (2 unless --duration is given).
    #[arg(long)]
    slots: Option<u64>,
    /// Stop after this many seconds (whichever of --slots and --duration comes first).
    #[arg(long, value_name = "SECONDS", value_parser = parse_seconds)]
    duration: Option<Duration>,
    /// PRACH: with --side du a section type 3 C-plane message per antenna
    /// and slot; with --side ru that occasion's U-plane (12 PRBs, symbols
    /// 0-11) on each antenna's PRACH eAxC (RU port antennas + antenna).
    #[arg(long)]
    prach: bool,
    /// Compression of the PRACH U-plane and type 3's udCompHdr, when it
    /// differs from --comp (METHOD:WIDTH).
    #[arg(long, requires = "prach", value_parser = |s: &str| UdCompHdr::from_spec(s).ok_or_else(|| format!("`{s}`: expected METHOD:WIDTH like bfp:14")))]
    prach_comp: Option<UdCompHdr>,
    /// DU_port_ID of every eAxC (the RU port is the antenna index).
    #[arg(long, default_value_t = 0)]
    du_port: u16,
    /// BandSector_ID of every eAxC.
    #[arg(long, default_value_t = 0)]
    band_sector: u16,
    /// Print the summary as one JSON object on standard output.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    signal: SignalArgs,
    /// Send every message this many µs before its symbol's OTA time
    /// (negative: after it), by the host clock (see --utc-offset, --tai);
    /// into a file, timestamps are exactly that.
    #[arg(long, value_name = "US", allow_hyphen_values = true, conflicts_with = "rate", value_parser = clap::value_parser!(i64).range(-1_000_000..=1_000_000))]
    advance_us: Option<i64>,
    /// C-plane messages leave this many µs before OTA instead (default:
    /// --advance-us); the U-plane keeps --advance-us.
    #[arg(long, value_name = "US", allow_hyphen_values = true, requires = "advance_us", value_parser = clap::value_parser!(i64).range(-1_000_000..=1_000_000))]
    cp_advance_us: Option<i64>,
    #[command(flatten)]
    clock: super::timing::ClockArgs,
}

/// Frames sent per `flush`.
const BURST: usize = 32;

/// What a run sent.
#[derive(Debug, Default)]
struct Sent {
    frames: u64,
    bytes: u64,
    slots: u64,
    late_slots: u64,
    by_kind: std::collections::BTreeMap<&'static str, u64>,
    elapsed: Duration,
    interrupted: bool,
    /// Samples the compression clipped (a level beyond what it carries).
    saturated: u64,
}

pub fn run(a: GenArgs) -> Result<ExitCode> {
    fhgate::signals::install();
    let stop = fhgate::signals::stop_flag();
    if let Some(v) = a.vlan {
        anyhow::ensure!(v <= ecpri::ethernet::MAX_VID, "--vlan {v}: VLAN IDs are 0-4094 (4095 is reserved by IEEE 802.1Q)");
    }
    let pcp = a.pcp.unwrap_or(7);
    anyhow::ensure!(pcp < 8, "--pcp {pcp}: PCP has 3 bits (0-7)");
    let spec = CarrierSpec {
        numerology: a.numerology,
        prbs: a.prbs,
        antennas: a.antennas,
        comp: a.comp,
        rounding: a.signal.rounding,
        level: a.signal.level(Some(a.comp), "--comp")?,
        comp_hdr: !a.no_comp_hdr,
        eaxc: a.eaxc_bits,
        vlan: a.vlan.map(|v| VlanTag::c_tag(v, pcp)),
        mtu: a.mtu,
        side: match a.side {
            SideArg::Du => Side::Du,
            SideArg::Ru => Side::Ru,
        },
        prach: a.prach,
        prach_comp: a.prach_comp,
        du_port: a.du_port,
        band_sector: a.band_sector,
        ..CarrierSpec::default()
    };
    let gen = Generator::new(&spec)?;
    let (spec_side, mac) = (spec.side, (spec.du_mac, spec.ru_mac));
    let slots = match (a.slots, a.duration) {
        (Some(n), _) => Some(n),
        (None, Some(_)) => None,
        (None, None) => Some(2),
    };
    let mut commit = None;
    // On a live port gen answers one-way delay requests (eCPRI message 5) between its sends.
    let mut responder = None;
    let (mut tx, target, live): (Box<dyn TxPort>, String, bool) = match (&a.output, &a.port) {
        (Some(path), _) => {
            let (out, c) = PcapOut::create(path, fhgate::io::output::Existing::Replace)?;
            commit = Some(c);
            (Box::new(out), path.display().to_string(), false)
        }
        (None, Some(spec)) => {
            let backend = fhgate::config::parse_port_spec(spec).map_err(|e| anyhow::anyhow!("{e}"))?;
            // A port of several queues sends each eAxC on one of them
            // (eAxC mod N), as a DU with a queue per antenna group does.
            let mut lanes = live::open_lanes(&backend, a.mtu).map_err(|e| anyhow::anyhow!("{e}"))?.into_iter();
            let port = lanes.next().ok_or_else(|| anyhow::anyhow!("{spec}: no queue opened"))?;
            let own = if spec_side == Side::Du { mac.0 } else { mac.1 };
            // One-way delay requests are answered on the first queue.
            let (r, tx) = super::owd::Responder::start(port.rx, port.tx, own)?;
            responder = Some(r);
            let queues: Vec<Box<dyn TxPort>> = std::iter::once(Box::new(tx) as Box<dyn TxPort>).chain(lanes.map(|l| l.tx)).collect();
            let tx = fhgate::io::steer::steered(queues)?;
            (tx, spec.clone(), true)
        }
        (None, None) => anyhow::bail!("give -o FILE.pcap or --port SPEC"),
    };
    let rate = a.rate.unwrap_or(if live { Rate::Slot } else { Rate::Max });
    let sent = match a.advance_us {
        Some(adv) => {
            let plan = ota::OtaPlan { clock: a.clock.clock(), numerology: a.numerology, advance_ns: adv * 1000, cp_advance_ns: a.cp_advance_us.unwrap_or(adv) * 1000 };
            ota::send(gen, tx.as_mut(), &plan, slots, a.duration, live, stop)?
        }
        None => send(gen, tx.as_mut(), rate, slots, a.duration, live, stop)?,
    };
    drop(tx);
    commit.map(|c| c.commit()).transpose()?;
    let owd = responder.map(|r| {
        let c = &r.counts;
        (c.answered.load(Ordering::Relaxed), c.malformed.load(Ordering::Relaxed))
    });
    report(&sent, rate, &target, a.json, owd)?;
    Ok(ExitCode::SUCCESS)
}

/// A fixed epoch keeps generated captures byte-identical run to run.
const PCAP_EPOCH: Duration = Duration::from_secs(1_767_225_600);

/// Runs the generator into `tx` until `slots` are sent, `duration` has
/// passed or `stop` is set.
fn send(
    mut gen: Generator,
    tx: &mut dyn TxPort,
    rate: Rate,
    slots: Option<u64>,
    duration: Option<Duration>,
    live: bool,
    stop: &AtomicBool,
) -> Result<Sent> {
    let slot_dur = gen.slot_duration();
    let mut s = Sent::default();
    let mut frames: Vec<GenFrame> = Vec::new();
    let mut start: Option<Instant> = None;
    let mut queued = 0usize;
    while slots.is_none_or(|n| gen.slot_index() < n) {
        if stop.load(Ordering::Relaxed) {
            s.interrupted = true;
            break;
        }
        if let (Some(d), Some(t0)) = (duration, start) {
            if t0.elapsed() >= d {
                break;
            }
        }
        frames.clear();
        let n = gen.slot_index();
        gen.next_slot(&mut frames)?;
        // The clock starts when the first slot is ready to go.
        let t0 = *start.get_or_insert_with(Instant::now);
        if rate == Rate::Slot {
            sleep_until(t0 + slots_time(slot_dur, n), stop);
        }
        for f in &frames {
            if let Rate::Pps(r) = rate {
                let due = t0 + Duration::from_secs_f64(s.frames as f64 / r);
                if Instant::now() < due {
                    // Send what is queued before waiting.
                    if queued > 0 {
                        tx.flush().context("flushing the output")?;
                        queued = 0;
                    }
                    sleep_until(due, stop);
                }
            }
            let time_ns = if live { live::unix_ns() } else { (PCAP_EPOCH + f.at).as_nanos() as u64 };
            tx.send(&f.data, time_ns).context("sending a frame")?;
            queued += 1;
            s.frames += 1;
            s.bytes += f.data.len() as u64;
            *s.by_kind.entry(f.kind.name()).or_default() += 1;
            if queued == BURST {
                tx.flush().context("flushing the output")?;
                queued = 0;
            }
        }
        if rate == Rate::Slot {
            tx.flush().context("flushing the output")?;
            queued = 0;
            // Late: this slot's frames were not all out before the next slot began.
            if t0.elapsed() > slots_time(slot_dur, n + 1) {
                s.late_slots += 1;
            }
        }
        s.slots += 1;
    }
    if queued > 0 {
        tx.flush().context("flushing the output")?;
    }
    if let (Rate::Slot, Some(t0)) = (rate, start) {
        // The stream occupies its last slot to the end.
        sleep_until(t0 + slots_time(slot_dur, s.slots), stop);
    }
    s.elapsed = start.map_or(Duration::ZERO, |t| t.elapsed());
    s.saturated = gen.saturated_samples();
    Ok(s)
}

/// The time `n` slots take.
fn slots_time(slot: Duration, n: u64) -> Duration {
    Duration::from_nanos((slot.as_nanos() as u64).saturating_mul(n))
}

/// Sleeps until `t` (or until `stop` is set, checked every 50 ms).
fn sleep_until(t: Instant, stop: &AtomicBool) {
    loop {
        let now = Instant::now();
        if now >= t || stop.load(Ordering::Relaxed) {
            return;
        }
        std::thread::sleep((t - now).min(Duration::from_millis(50)));
    }
}

/// `owd`: one-way delay messages answered and those that did not decode, on a live port.
fn report(s: &Sent, rate: Rate, target: &str, json: bool, owd: Option<(u64, u64)>) -> Result<()> {
    let secs = s.elapsed.as_secs_f64();
    let fps = if secs > 0.0 { s.frames as f64 / secs } else { 0.0 };
    let mbps = if secs > 0.0 { s.bytes as f64 * 8.0 / secs / 1e6 } else { 0.0 };
    let rate_name = match rate {
        Rate::Slot => "slot".to_string(),
        Rate::Max => "max".to_string(),
        Rate::Pps(r) => format!("{r}"),
    };
    if json {
        let v = json!({
            "output": target,
            "rate": rate_name,
            "frames": s.frames,
            "bytes": s.bytes,
            "slots": s.slots,
            "by_type": s.by_kind,
            "seconds": secs,
            "frames_per_second": fps,
            "mbit_per_second": mbps,
            "late_slots": (rate == Rate::Slot).then_some(s.late_slots),
            "interrupted": s.interrupted,
            "saturated_samples": s.saturated,
            "owd_answered": owd.map(|o| o.0),
            "owd_malformed": owd.map(|o| o.1),
        });
        let mut out = std::io::stdout().lock();
        writeln!(out, "{v}")?;
        out.flush()?;
    } else {
        let kinds: Vec<String> = s.by_kind.iter().map(|(k, n)| format!("{k} {n}")).collect();
        let late = if rate == Rate::Slot { format!(", {} late slots", s.late_slots) } else { String::new() };
        eprintln!(
            "fhgate gen: wrote {} frames ({} bytes; {}) in {} slots to {target} in {secs:.3} s: {fps:.0} frames/s, {mbps:.1} Mbit/s (rate {rate_name}){late}{}",
            s.frames,
            s.bytes,
            kinds.join(", "),
            s.slots,
            if s.interrupted { "; stopped by signal" } else { "" }
        );
    }
    if let Some((answered, malformed)) = owd.filter(|o| o.0 + o.1 > 0) {
        eprintln!("fhgate gen: answered {answered} one-way delay messages; {malformed} did not decode");
    }
    if s.saturated > 0 {
        eprintln!("fhgate gen: warning: {} samples saturated: the level is beyond what the compression carries", s.saturated);
    }
    Ok(())
}


#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_parse() {
        assert_eq!(parse_rate("slot"), Ok(Rate::Slot));
        assert_eq!(parse_rate("max"), Ok(Rate::Max));
        assert_eq!(parse_rate("1e5"), Ok(Rate::Pps(1e5)));
        assert!(parse_rate("0").is_err() && parse_rate("fast").is_err());
        assert_eq!(parse_seconds("0.5"), Ok(Duration::from_millis(500)));
        assert!(parse_seconds("-1").is_err());
    }
}
