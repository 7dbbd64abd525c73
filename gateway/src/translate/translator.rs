//! One translator as a worker runs it: its instance, limits, fault policy
//! and fault window. [`Translator::run`] is the per-call hot path: fill
//! descriptors and slots, call `fhgate_process`, check the output, then
//! use all of it or none of it (ABI.md §7).

use std::sync::Arc;
use std::time::Instant;

use ecpri::frame::DecodeConfig;

use super::abi::{self, desc_at, field, slot_at, verdict, Descriptor, DescriptorImage, DESC_LEN, IO_REGION_SIZE, MAX_IN, MAX_OUT, SLOT_SIZE, SLOT_STRIDE};
use super::burst::{BufPool, Packet};
use super::fault::{FaultLimit, FaultPolicy, FaultWindow};
use super::meta::Filter;
use super::host::{bump, Level, LogSink, Shared, StderrLog};
use super::instance::{BadOutput, FaultKind, Instance, Limits};
use super::module::{LoadError, TranslatorModule};
use super::swap::{Graveyard, Retired};

/// How to run a translator: its module and the gateway config's settings
/// for it. Shared by every worker that runs it.
#[derive(Clone)]
pub struct TranslatorSpec {
    /// The compiled module.
    pub module: Arc<TranslatorModule>,
    /// Its configuration, serialised as ABI.md §4 lines.
    pub config: Vec<u8>,
    /// Memory cap and deadlines.
    pub limits: Limits,
    /// What happens to a burst it faults on.
    pub policy: FaultPolicy,
    /// N faults within T disable it.
    pub fault_limit: FaultLimit,
    /// The translator [`FaultPolicy::Fallback`] runs (whose own policy must
    /// be pass or drop).
    pub fallback: Option<Arc<TranslatorSpec>>,
    /// Where its log lines go.
    pub sink: Arc<dyn LogSink>,
}

impl TranslatorSpec {
    /// Defaults of ABI.md §7: 16 MiB, 1 ms, pass, 5 faults in 10 s; no configuration.
    pub fn new(module: Arc<TranslatorModule>) -> TranslatorSpec {
        TranslatorSpec {
            module,
            config: Vec::new(),
            limits: Limits::default(),
            policy: FaultPolicy::Pass,
            fault_limit: FaultLimit::default(),
            fallback: None,
            sink: Arc::new(StderrLog),
        }
    }

    /// Sets the configuration from `key=value` pairs (values as in TOML).
    pub fn with_config<K: AsRef<str>, V: AsRef<str>>(mut self, pairs: &[(K, V)]) -> Self {
        self.config = serialize_config(pairs);
        self
    }

    /// Sets the limits.
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Sets the fault policy (and the fallback for [`FaultPolicy::Fallback`]).
    pub fn with_policy(mut self, policy: FaultPolicy, fallback: Option<Arc<TranslatorSpec>>) -> Self {
        self.policy = policy;
        self.fallback = fallback;
        self
    }

    /// Sets N and T of the fault window.
    pub fn with_fault_limit(mut self, l: FaultLimit) -> Self {
        self.fault_limit = l;
        self
    }

    /// Sets the log sink.
    pub fn with_sink(mut self, sink: Arc<dyn LogSink>) -> Self {
        self.sink = sink;
        self
    }

    /// The translator's name.
    pub fn name(&self) -> &str {
        &self.module.meta().name
    }

    /// What it declares it changes with this configuration: instantiates
    /// and initialises it once (off the hot path) and reads its `effect`
    /// calls. `None` for a module that does not import `fhgate.effect`
    /// (ABI v2 before effects: it changes something unknown). A
    /// declaration that does not parse fails it, naming the line.
    pub fn declared_effects(self: &Arc<Self>) -> Result<Option<Vec<super::effect::Effect>>, LoadError> {
        if !self.module.imports().iter().any(|i| i == "effect") {
            return Ok(None);
        }
        let t = Translator::new(self)?;
        let d = t.shared.effects.lock().map(|d| d.clone()).unwrap_or_default();
        if let Some(e) = d.errors.first() {
            return Err(LoadError::Instance(format!("{}: declares an effect the host refuses: {e}", self.name())));
        }
        Ok(Some(d.effects))
    }
}

/// Serialises `key=value` pairs as ABI.md §4 lines, in the order given.
pub fn serialize_config<K: AsRef<str>, V: AsRef<str>>(pairs: &[(K, V)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (k, v) in pairs {
        out.extend_from_slice(k.as_ref().as_bytes());
        out.push(b'=');
        out.extend_from_slice(v.as_ref().as_bytes());
        out.push(b'\n');
    }
    out
}

/// Splits `key=value,key=value` (the CLI's `--config` and `X.wasm:...`)
/// at commas outside brackets and quotes; a key given twice is refused
/// (`fhgate_formats::pairs`, which the fuzz targets reach without wasmtime).
pub fn parse_config_pairs(s: &str) -> Result<Vec<(String, String)>, String> {
    fhgate_formats::pairs::parse(s).map_err(|e| e.to_string())
}

/// What became of one packet of the burst at the current stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fate {
    /// Goes on.
    Keep,
    /// Dropped (by the translator or the fault policy).
    Drop,
}

/// An extra packet and the index of the packet it follows.
pub(crate) struct Extra {
    pub after: u16,
    pub seq: u16,
    pub pkt: Packet,
}

/// The worker's state a translator call works on.
pub(crate) struct StageIo<'a> {
    pub pkts: &'a mut [Packet],
    pub fate: &'a mut [Fate],
    pub extras: &'a mut Vec<Extra>,
    pub pool: &'a mut BufPool,
    pub grave: &'a mut Graveyard,
    /// How the current stage's outputs are classified again.
    pub decode: DecodeConfig,
    /// Packets the burst can still take.
    pub room: usize,
    /// Packets marked [`Fate::Drop`] so far.
    pub dropped: usize,
}

impl StageIo<'_> {
    /// Marks packet `i` dropped.
    #[inline]
    pub fn drop_packet(&mut self, i: u16) {
        let f = &mut self.fate[i as usize];
        self.dropped += (*f == Fate::Keep) as usize;
        *f = Fate::Drop;
    }
}

/// The checked output of one call.
struct Output {
    result: usize,
    extras: usize,
    /// Some input was dropped or modified.
    changed: bool,
}

/// A translator running on one worker.
pub struct Translator {
    spec: Arc<TranslatorSpec>,
    shared: Arc<Shared>,
    inst: Option<Instance>,
    window: FaultWindow,
    disabled: bool,
    fallback: Option<Box<Translator>>,
    filter: Filter,
    verdicts: [u8; MAX_OUT],
}

impl std::fmt::Debug for Translator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Translator").field("name", &self.name()).field("version", &self.version()).field("disabled", &self.disabled).finish()
    }
}

impl Translator {
    /// Instantiates and initialises it (and its fallback). Off the hot
    /// core: the control thread builds translators and hands them over.
    pub fn new(spec: &Arc<TranslatorSpec>) -> Result<Translator, LoadError> {
        let fallback = match (&spec.policy, &spec.fallback) {
            (FaultPolicy::Fallback, Some(fb)) if fb.policy == FaultPolicy::Fallback => {
                return Err(LoadError::Instance(format!("fallback translator {} must have policy pass or drop", fb.name())))
            }
            (FaultPolicy::Fallback, Some(fb)) => Some(Box::new(Translator::new(fb)?)),
            (FaultPolicy::Fallback, None) => return Err(LoadError::Instance("fault policy fallback needs a fallback translator".into())),
            _ => None,
        };
        let shared = Shared::new(spec.name(), spec.sink.clone());
        let inst = Instance::new(&spec.module, &spec.limits, shared.clone(), &spec.config).map_err(|e| {
            // An effect the host refused is often why init failed: say which.
            let refused = shared.effects.lock().map(|d| d.errors.join("; ")).unwrap_or_default();
            let also = if refused.is_empty() { String::new() } else { format!(" (the host refused a declared {refused})") };
            LoadError::Instance(format!("{}: {e}{also}", spec.name()))
        })?;
        Ok(Translator {
            spec: spec.clone(),
            shared,
            inst: Some(inst),
            window: FaultWindow::new(spec.fault_limit),
            disabled: false,
            fallback,
            filter: spec.module.meta().filter(),
            verdicts: [0; MAX_OUT],
        })
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.shared.name
    }

    /// Its version (metadata).
    pub fn version(&self) -> &str {
        &self.spec.module.meta().version
    }

    /// Statistics, counters and log, shared with the control plane.
    pub fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// Its spec.
    pub fn spec(&self) -> &Arc<TranslatorSpec> {
        &self.spec
    }

    /// The fallback translator, if any.
    pub fn fallback(&self) -> Option<&Translator> {
        self.fallback.as_deref()
    }

    /// Whether N faults within T disabled it.
    pub fn is_disabled(&self) -> bool {
        self.disabled
    }

    /// Which packets it wants (its metadata).
    #[inline]
    pub fn filter(&self) -> &Filter {
        &self.filter
    }

    /// Runs the packets `chunk` (indices into `io.pkts`, 1 to 64 of them).
    pub(crate) fn run(&mut self, io: &mut StageIo<'_>, chunk: &[u16]) {
        debug_assert!(!chunk.is_empty() && chunk.len() <= MAX_IN);
        if self.disabled {
            return self.apply_policy(io, chunk);
        }
        let n = chunk.len();
        // Every call counts, those that fault too.
        let stats = &self.shared.stats;
        bump(&stats.calls, 1);
        bump(&stats.packets_in, n as u64);
        let outcome = match self.inst.as_mut() {
            Some(inst) => call(inst, io, chunk, &mut self.verdicts),
            None => Err(FaultKind::Trap(None)),
        };
        let out = match outcome {
            Ok(o) => o,
            Err(kind) => return self.fault(io, chunk, kind),
        };
        let stats = &self.shared.stats;
        if out.extras > io.room || out.extras > io.pool.available() {
            // The host has no room for the extras: all of the output or none.
            bump(&stats.no_room, out.result as u64);
            return;
        }
        let Some(inst) = self.inst.as_mut() else { return };
        let region = inst.region();
        commit(region, io, chunk, out, &self.verdicts, &self.shared);
    }

    /// Counts a fault, replaces the instance (or disables the translator)
    /// and hands the packets to the fault policy.
    #[cold]
    fn fault(&mut self, io: &mut StageIo<'_>, chunk: &[u16], kind: FaultKind) {
        self.count_fault(io.grave, kind, chunk.len());
        self.apply_policy(io, chunk);
    }

    /// A fault found after the call, in one message of its output (egress
    /// reading a U-plane message that contradicts the declared effects):
    /// counted, windowed and the instance replaced as a trap is. Returns
    /// the policy for that message; its input is gone by then, so only
    /// [`FaultPolicy::Drop`] changes what leaves. Nothing is counted while
    /// the translator is disabled: its packets already met the policy.
    #[cold]
    pub(crate) fn fault_after(&mut self, grave: &mut Graveyard, kind: FaultKind) -> FaultPolicy {
        if self.disabled {
            return FaultPolicy::Pass;
        }
        self.count_fault(grave, kind, 1);
        bump(&self.shared.stats.policy_packets, 1);
        self.spec.policy
    }

    /// Counts a fault of `kind` on `packets` packets, then replaces the
    /// instance or, N faults within T, disables the translator.
    fn count_fault(&mut self, grave: &mut Graveyard, kind: FaultKind, packets: usize) {
        let stats = &self.shared.stats;
        bump(
            match kind {
                FaultKind::Trap(_) => &stats.faults_trap,
                FaultKind::Deadline => &stats.faults_deadline,
                FaultKind::BadOutput(_) => &stats.faults_bad_output,
            },
            1,
        );
        if let Some(old) = self.inst.take() {
            // A faulted instance is not asked to unload: it is dropped as it is.
            grave.bury(Retired::Instance(Box::new(old), false));
        }
        let limit = self.window.limit();
        if self.window.record(Instant::now()) {
            self.disable(format_args!("{} faults within {:?} (last: {kind})", limit.faults, limit.within));
        } else {
            match Instance::new(&self.spec.module, &self.spec.limits, self.shared.clone(), &self.spec.config) {
                Ok(i) => {
                    self.inst = Some(i);
                    bump(&self.shared.stats.replaced, 1);
                    self.shared.log(
                        Level::Warn,
                        format_args!("fault: {kind}; {packets} packets handled by policy {}; instance replaced", self.spec.policy),
                    );
                }
                Err(e) => self.disable(format_args!("fault ({kind}), then its replacement failed: {e}")),
            }
        }
    }

    fn disable(&mut self, why: std::fmt::Arguments<'_>) {
        self.disabled = true;
        self.shared.stats.disabled.store(true, std::sync::atomic::Ordering::Relaxed);
        self.shared.log(
            Level::Error,
            format_args!(
                "DISABLED after {why}; its packets now follow fault policy {} until it is reloaded",
                self.spec.policy
            ),
        );
    }

    fn apply_policy(&mut self, io: &mut StageIo<'_>, chunk: &[u16]) {
        bump(&self.shared.stats.policy_packets, chunk.len() as u64);
        match self.spec.policy {
            FaultPolicy::Pass => {}
            FaultPolicy::Drop => chunk.iter().for_each(|&i| io.drop_packet(i)),
            FaultPolicy::Fallback => {
                if let Some(fb) = self.fallback.as_mut() {
                    fb.run(io, chunk)
                }
            }
        }
    }

    /// Unloads its instances (control thread).
    pub(crate) fn retire(mut self) {
        if let Some(i) = self.inst.take() {
            i.unload();
        }
        if let Some(fb) = self.fallback.take() {
            fb.retire();
        }
    }
}

/// Fills the region, calls the guest and checks its output.
#[inline]
fn call(inst: &mut Instance, io: &StageIo<'_>, chunk: &[u16], verdicts: &mut [u8; MAX_OUT]) -> Result<Output, FaultKind> {
    let n = chunk.len();
    let region = inst.region();
    let (descs, slots) = region.split_at_mut(abi::SLOTS_AT);
    let descs = &mut descs[abi::DESCS_AT..];
    let slices = descs.chunks_exact_mut(DESC_LEN).zip(slots.chunks_exact_mut(SLOT_STRIDE));
    // `chunk` is increasing, so it is a run of the burst when its ends are
    // n - 1 apart (as when a translator takes the whole burst): then the
    // packets are walked directly, without an index load and a bounds
    // check each.
    let (first, last) = (chunk.first().map_or(0, |&i| i as usize), chunk.last().map_or(0, |&i| i as usize));
    match io.pkts.get(first..=last) {
        Some(run) if last.checked_sub(first) == Some(n.wrapping_sub(1)) => {
            for (j, (p, (d, slot))) in run.iter().zip(slices).enumerate() {
                fill(j, p, d, slot);
            }
        }
        _ => {
            for (j, (&i, (d, slot))) in chunk.iter().zip(slices).enumerate() {
                fill(j, &io.pkts[i as usize], d, slot);
            }
        }
    }
    let result = inst.process(n)?;
    let region = inst.region();
    check(region, n, result, verdicts).map_err(FaultKind::BadOutput)
}

/// Fills descriptor `j` and its slot with packet `p`.
#[inline(always)]
fn fill(j: usize, p: &Packet, d: &mut [u8], slot: &mut [u8]) {
    let d: &mut [u8; DESC_LEN] = d.try_into().unwrap_or_else(|_| unreachable!("chunks_exact"));
    // The image already holds `capacity` and a FORWARD verdict (classify
    // sets them), so one 8-byte store of offset and length completes it:
    // this loop is bound by its stores.
    match &p.desc {
        Some(img) => *d = *img.as_array(),
        // Selected packets are classified (selection needs a descriptor);
        // a blank one keeps the region well-formed anyway.
        None => *d = *DescriptorImage::blank().as_array(),
    }
    let offset_len = slot_at(j) as u64 | (p.len as u64) << 32;
    d[OFFSET_LEN].copy_from_slice(&offset_len.to_le_bytes());
    copy_frame(slot, p.data());
}

/// `offset` and `len`, adjacent, written as one little-endian u64.
const OFFSET_LEN: core::ops::Range<usize> = field::OFFSET.start..field::LEN.end;
const _: () = assert!(field::OFFSET.end == field::LEN.start && OFFSET_LEN.end - OFFSET_LEN.start == 8);

/// Copies `src` to the start of `dst`. Short frames (C-plane messages,
/// small U-plane sections) are copied inline as two overlapping moves of
/// 32 or 64 bytes: a `memcpy` call costs more than the copy at these sizes.
#[inline(always)]
fn copy_frame(dst: &mut [u8], src: &[u8]) {
    let n = src.len();
    let dst = &mut dst[..n];
    match n {
        32..=64 => {
            dst[..32].copy_from_slice(&src[..32]);
            dst[n - 32..].copy_from_slice(&src[n - 32..]);
        }
        65..=128 => {
            dst[..64].copy_from_slice(&src[..64]);
            dst[n - 64..].copy_from_slice(&src[n - 64..]);
        }
        _ => dst.copy_from_slice(src),
    }
}

/// Checks the output descriptors (ABI.md §3 "bad output") and keeps
/// their verdicts for [`commit`].
#[inline]
fn check(region: &[u8; IO_REGION_SIZE], n: usize, result: i32, verdicts: &mut [u8; MAX_OUT]) -> Result<Output, BadOutput> {
    let result = match usize::try_from(result) {
        Ok(r) if (n..=MAX_OUT).contains(&r) => r,
        _ => return Err(BadOutput::ResultCount { n, result }),
    };
    // The common case, every input forwarded and no extra, needs no more
    // than the verdict bytes ORed together (FORWARD is 0).
    let descs = &region[abi::DESCS_AT..abi::SLOTS_AT];
    if result == n && descs.chunks_exact(DESC_LEN).take(n).fold(0u8, |acc, d| acc | d[field::VERDICT]) == verdict::FORWARD {
        return Ok(Output { result, extras: 0, changed: false });
    }
    let packet = |j: usize, d: &[u8; DESC_LEN]| {
        let d = Descriptor::new_checked(&d[..]).ok_or(BadOutput::Len { desc: j, len: 0 })?;
        let (offset, len) = (d.offset(), d.len());
        if len == 0 || len as usize > SLOT_SIZE {
            return Err(BadOutput::Len { desc: j, len });
        }
        if offset as usize + len as usize > IO_REGION_SIZE {
            return Err(BadOutput::Range { desc: j, offset, len });
        }
        Ok(())
    };
    let mut changed = false;
    for (j, (d, v)) in descs.chunks_exact(DESC_LEN).zip(verdicts.iter_mut()).take(result).enumerate() {
        let d: &[u8; DESC_LEN] = d.try_into().unwrap_or_else(|_| unreachable!("chunks_exact"));
        *v = d[field::VERDICT];
        match (j < n, *v) {
            (true, verdict::FORWARD) => {}
            (true, verdict::DROP) => changed = true,
            (true, verdict::MODIFIED) => {
                changed = true;
                packet(j, d)?
            }
            (false, verdict::EXTRA) => {
                let origin = u16::from_le_bytes([d[field::ORIGIN.start], d[field::ORIGIN.start + 1]]);
                if origin as usize >= n {
                    return Err(BadOutput::Origin { desc: j, origin });
                }
                packet(j, d)?
            }
            (_, v) => return Err(BadOutput::Verdict { desc: j, verdict: v }),
        }
    }
    Ok(Output { result, extras: result - n, changed })
}

/// Uses the checked output: copies modified and extra packets out of the
/// region, marks drops.
fn commit(region: &[u8; IO_REGION_SIZE], io: &mut StageIo<'_>, chunk: &[u16], out: Output, verdicts: &[u8; MAX_OUT], shared: &Shared) {
    let n = chunk.len();
    let s = &shared.stats;
    if !out.changed && out.extras == 0 {
        bump(&s.forwarded, n as u64);
        return;
    }
    let desc = |j: usize| Descriptor::new_checked(&region[desc_at(j)..desc_at(j) + DESC_LEN]);
    let (mut fwd, mut modi, mut drop) = (0u64, 0u64, 0u64);
    for (j, &i) in chunk.iter().enumerate() {
        match verdicts[j] {
            verdict::DROP => {
                drop += 1;
                io.drop_packet(i);
            }
            verdict::MODIFIED => {
                modi += 1;
                let Some(d) = desc(j) else { continue };
                let (off, len) = (d.offset() as usize, d.len() as usize);
                let p = &mut io.pkts[i as usize];
                p.buf.bytes_mut()[..len].copy_from_slice(&region[off..off + len]);
                p.len = len;
                p.wire_len = len as u16;
                p.reclassify(&io.decode);
            }
            _ => fwd += 1,
        }
    }
    for j in n..out.result {
        let Some(d) = desc(j) else { continue };
        let Some(mut buf) = io.pool.get() else { break };
        let origin = chunk[d.origin() as usize];
        let (off, len) = (d.offset() as usize, d.len() as usize);
        buf.bytes_mut()[..len].copy_from_slice(&region[off..off + len]);
        let from = &io.pkts[origin as usize];
        let mut pkt = Packet { buf, len, desc: None, port_direction: from.port_direction, route: from.route, time_ns: from.time_ns, arrival_ns: from.arrival_ns, pristine: false, passthrough: false, wire_len: len as u16 };
        pkt.reclassify(&io.decode);
        let seq = io.extras.len() as u16;
        io.extras.push(Extra { after: origin, seq, pkt });
    }
    io.room -= out.extras;
    bump(&s.forwarded, fwd);
    bump(&s.modified, modi);
    bump(&s.dropped, drop);
    bump(&s.extras, out.extras as u64);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_pairs_split_outside_brackets_and_quotes() {
        let p = parse_config_pairs(r#"out_width=12,map=[1,2,3],name="a,\"b\"",gain_db=-3.5"#).unwrap();
        assert_eq!(
            p,
            [("out_width", "12"), ("map", "[1,2,3]"), ("name", r#""a,\"b\"""#), ("gain_db", "-3.5")]
                .map(|(a, b)| (a.to_string(), b.to_string()))
        );
        assert_eq!(serialize_config(&p[..2]), b"out_width=12\nmap=[1,2,3]\n");
        assert!(parse_config_pairs("novalue").unwrap_err().contains("novalue"));
        assert!(parse_config_pairs("").unwrap().is_empty());
    }
}
