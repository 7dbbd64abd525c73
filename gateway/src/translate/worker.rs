//! The translator host as one pipeline worker sees it: its chains of
//! running translators, the swap inbox and the graveyard, and scratch
//! space allocated once. [`WorkerHost::process`] is called once per burst
//! and allocates nothing, takes no lock and makes no syscall unless a
//! translator faults.

use ecpri::frame::DecodeConfig;

use super::abi::MAX_IN;
use super::burst::{BufPool, Burst, Packet, BURST_CAPACITY, NO_ROUTE};
use super::chain::{ChainSpec, FlowMask};
use super::effect::{decode_after, Field};
use super::instance::{BadOutput, FaultKind};
use super::fault::FaultPolicy;
use super::host::bump;
use super::meta::Filter;
use super::module::LoadError;
use super::shadow::ShadowTap;
use super::swap::{self, Control, Graveyard, Inbox, Retired, SwapMsg};
use super::translator::{Extra, Fate, StageIo, Translator};

pub(crate) mod layout;

struct Chain {
    /// Its selector, compiled.
    selector: FlowMask,
    // Boxed so that a hot swap on the worker swaps pointers: the old box
    // goes back to the control thread, nothing is freed here.
    #[allow(clippy::vec_box)]
    stages: Vec<Box<Translator>>,
    /// The packets (burst indices) the stage's translator gets: the first
    /// `sel_len`.
    sel: Box<[u16; BURST_CAPACITY]>,
    sel_len: usize,
    /// Routed packets the stage's translator does not want.
    bypassed: u64,
    /// Per stage, how its outputs decode: the worker's decoding through
    /// the declared effects of the stages up to it ([`decode_after`]).
    decodes: Vec<DecodeConfig>,
    /// The stage a U-plane message egress cannot read with the declared
    /// format is blamed on: the last that declares a compression or
    /// udCompHdr effect (what egress relies on), else the last.
    blame: usize,
}

impl Chain {
    /// Recomputes `decodes` (at build and after a swap; never allocates
    /// once built, the length is the chain's).
    fn fold_decodes(&mut self, decode: &DecodeConfig) {
        let mut d = *decode;
        self.decodes.resize(self.stages.len(), d);
        self.blame = self.stages.len().saturating_sub(1);
        for (i, t) in self.stages.iter().enumerate() {
            if let Ok(e) = t.shared().effects.lock() {
                d = decode_after(&d, &e.effects);
                if e.effects.iter().any(|e| matches!(e.field, Field::DlComp | Field::UlComp | Field::CompHdr)) {
                    self.blame = i;
                }
            }
            self.decodes[i] = d;
        }
    }
}

/// Most chains a worker runs, plus one. Chain indices must stay below
/// [`NO_ROUTE`]; the bound is set far lower, and round, because every
/// chain costs a pass over each burst.
pub const MAX_CHAINS: usize = 1024;

/// One worker's translators and everything a burst needs.
pub struct WorkerHost {
    chains: Vec<Chain>,
    decode: DecodeConfig,
    inbox: Inbox,
    grave: Graveyard,
    /// Stages of the longest chain.
    depth: usize,
    fate: Vec<Fate>,
    extras: Vec<Extra>,
    spare: Vec<Packet>,
    swaps: u64,
    /// A canary's tap: copies a sample of each burst before it is translated.
    tap: Option<Box<ShadowTap>>,
}

/// What [`WorkerHost::process`] did with a burst.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BurstReport {
    /// Packets in.
    pub packets_in: usize,
    /// Packets out.
    pub packets_out: usize,
    /// Packets no chain selected (not eCPRI, or no selector matched).
    pub unrouted: usize,
    /// Translators installed (hot swaps) before this burst.
    pub swapped: usize,
}

impl WorkerHost {
    /// Instantiates every translator of `chains` for this worker and links
    /// it to a [`Control`] for the control thread.
    pub fn new(chains: &[ChainSpec], decode: DecodeConfig) -> Result<(WorkerHost, Control), LoadError> {
        if chains.len() >= MAX_CHAINS {
            return Err(LoadError::Instance(format!("{} chains: a worker runs at most {}", chains.len(), MAX_CHAINS - 1)));
        }
        let mut built = Vec::with_capacity(chains.len());
        for c in chains {
            let stages = c.translators.iter().map(|t| Translator::new(t).map(Box::new)).collect::<Result<Vec<_>, _>>()?;
            let mut chain = Chain { selector: c.selector.flow_mask(), stages, sel: Box::new([0; BURST_CAPACITY]), sel_len: 0, bypassed: 0, decodes: Vec::new(), blame: 0 };
            chain.fold_decodes(&decode);
            built.push(chain);
        }
        let (control, inbox, grave) = swap::link(built.iter().map(|c| c.stages.as_slice()));
        let depth = built.iter().map(|c| c.stages.len()).max().unwrap_or(0);
        let host = WorkerHost {
            chains: built,
            depth,
            decode,
            inbox,
            grave,
            fate: vec![Fate::Keep; BURST_CAPACITY],
            extras: Vec::with_capacity(BURST_CAPACITY),
            spare: Vec::with_capacity(BURST_CAPACITY),
            swaps: 0,
            tap: None,
        };
        Ok((host, control))
    }

    /// The translator at `chain`, `stage`.
    pub fn translator(&self, chain: usize, stage: usize) -> Option<&Translator> {
        self.chains.get(chain)?.stages.get(stage).map(|b| &**b)
    }

    /// Calls `fhgate_unload` of every translator and drops them (ABI.md §2
    /// step 5). For the control thread, once the worker has stopped.
    pub fn shutdown(self) {
        for c in self.chains {
            for t in c.stages {
                t.retire();
            }
        }
    }

    /// How the outputs of chain `route` decode: the worker's decoding
    /// through the effects its stages declare (the worker's own for a
    /// packet no chain took).
    pub fn output_decode(&self, route: u16) -> DecodeConfig {
        self.chains.get(route as usize).and_then(|c| c.decodes.last().copied()).unwrap_or(self.decode)
    }

    /// Hot swaps installed so far.
    pub fn swaps(&self) -> u64 {
        self.swaps
    }

    /// Installs the translators and chain layouts the control thread
    /// sent, in the order sent; what they replace goes back to it. Called
    /// at the start of every burst.
    pub fn apply_swaps(&mut self) -> usize {
        let mut n = 0;
        while let Some(m) = self.inbox.next() {
            let (chain, stage, translator) = match m {
                SwapMsg::Stage { chain, stage, translator } => (chain, stage, translator),
                SwapMsg::Layout(mut l) => {
                    // Control::relayout made it against this layout; one
                    // that does not fit changes nothing and is counted.
                    if l.apply(&mut self.chains, &self.decode) {
                        self.depth = self.chains.iter().map(|c| c.stages.len()).max().unwrap_or(0);
                        n += 1;
                    } else {
                        self.grave.misfits += 1;
                    }
                    self.grave.bury(Retired::Layout(l));
                    continue;
                }
                SwapMsg::Tap(t) => {
                    if let Some(old) = std::mem::replace(&mut self.tap, t) {
                        self.grave.bury(Retired::Tap(old));
                    }
                    continue;
                }
            };
            // Control::install checked the position against this layout.
            let Some(slot) = self.chains.get_mut(chain as usize).and_then(|c| c.stages.get_mut(stage as usize)) else {
                self.grave.bury(Retired::Translator(translator));
                continue;
            };
            let old = std::mem::replace(slot, translator);
            self.grave.bury(Retired::Translator(old));
            n += 1;
        }
        self.swaps += n as u64;
        if n > 0 {
            // A swapped-in translator may declare other effects.
            for c in &mut self.chains {
                c.fold_decodes(&self.decode);
            }
        }
        n
    }

    /// Egress read a U-plane message of chain `route` that contradicts
    /// what the chain declared (`field` at byte `offset`): a `bad_output`
    /// fault of the stage [`Chain::blame`] names, under its fault policy
    /// and fault window as a trap. Returns the policy for the message
    /// (pass for a packet no chain ran, or a chain without translators).
    #[cold]
    pub fn bad_output(&mut self, route: u16, field: &'static str, offset: usize) -> FaultPolicy {
        let Some(chain) = self.chains.get_mut(route as usize) else { return FaultPolicy::Pass };
        let blame = chain.blame;
        match chain.stages.get_mut(blame) {
            Some(t) => t.fault_after(&mut self.grave, FaultKind::BadOutput(BadOutput::Undeclared { field, offset })),
            None => FaultPolicy::Pass,
        }
    }

    /// Runs the burst through the chains, in place: afterwards `burst`
    /// holds the outputs in input order, each packet's extras right after
    /// it. Buffers of dropped packets go back to `pool`; extras take theirs
    /// from it.
    pub fn process(&mut self, burst: &mut Burst, pool: &mut BufPool) -> BurstReport {
        let mut report = BurstReport { packets_in: burst.len(), swapped: self.apply_swaps(), ..Default::default() };
        if let Some(tap) = &mut self.tap {
            // The packets as received, before any translator rewrites them in place.
            tap.take(&burst.pkts);
        }
        for stage in 0..self.depth {
            let unrouted = self.select(stage, &mut burst.pkts);
            if stage == 0 {
                report.unrouted = unrouted;
            }
            self.run_stage(stage, burst, pool);
        }
        if self.depth == 0 {
            // Chains without translators still route: what no selector
            // matches is what counts as unrouted.
            report.unrouted = self.select(0, &mut burst.pkts);
        }
        report.packets_out = burst.len();
        report
    }

    /// Picks the packets of every chain's translator at `stage`; on stage
    /// 0 it also routes each packet to the first chain whose selector
    /// matches. One pass over the burst per chain, chains in order, with
    /// the counts in registers: a packet still unrouted when chain `c`'s
    /// pass reaches it is tested against `c`'s selector. Returns the
    /// packets no chain took.
    fn select(&mut self, stage: usize, pkts: &mut [Packet]) -> usize {
        let mut routed = 0;
        for (c, chain) in self.chains.iter_mut().enumerate() {
            let c = c as u16;
            let filter = chain.stages.get(stage).map(|t| t.filter());
            if stage > 0 && filter.is_none() {
                // Routing is done and the chain has ended: nothing to pick.
                (chain.sel_len, chain.bypassed) = (0, 0);
                continue;
            }
            let wanted = filter.unwrap_or(&Filter::NONE);
            let (selector, sel) = (chain.selector, &mut *chain.sel);
            // Routes are set afresh by the first chain's pass on stage 0.
            let (mine, k) = match (stage == 0, c == 0) {
                (true, true) => chain_pass::<true, true>(pkts, c, selector, wanted, sel),
                (true, false) => chain_pass::<true, false>(pkts, c, selector, wanted, sel),
                _ => chain_pass::<false, false>(pkts, c, selector, wanted, sel),
            };
            chain.sel_len = k.min(BURST_CAPACITY);
            chain.bypassed = if filter.is_some() { (mine - k) as u64 } else { 0 };
            routed += mine;
        }
        pkts.len() - routed
    }

    fn run_stage(&mut self, stage: usize, burst: &mut Burst, pool: &mut BufPool) {
        // `fate` stays BURST_CAPACITY long and all Keep between stages: only
        // the entries of dropped packets are set, and reset below.
        self.extras.clear();
        let room = BURST_CAPACITY.saturating_sub(burst.pkts.len());
        let mut io = StageIo {
            pkts: &mut burst.pkts,
            fate: &mut self.fate,
            extras: &mut self.extras,
            pool: &mut *pool,
            grave: &mut self.grave,
            decode: self.decode,
            room,
            dropped: 0,
        };
        for chain in self.chains.iter_mut() {
            let Some(t) = chain.stages.get_mut(stage) else { continue };
            io.decode = chain.decodes[stage];
            if chain.bypassed > 0 {
                bump(&t.shared().stats.bypassed, chain.bypassed);
            }
            for chunk in chain.sel[..chain.sel_len].chunks(MAX_IN) {
                t.run(&mut io, chunk);
            }
        }
        if io.dropped == 0 && self.extras.is_empty() {
            return;
        }
        // Rebuild the burst in order: survivors, each followed by its extras.
        self.extras.sort_unstable_by_key(|e| (e.after, e.seq));
        let mut extras = self.extras.drain(..).peekable();
        self.spare.clear();
        for (i, p) in burst.pkts.drain(..).enumerate() {
            if self.fate[i] == Fate::Drop {
                self.fate[i] = Fate::Keep;
                pool.put(p.buf);
            } else {
                self.spare.push(p);
            }
            while let Some(e) = extras.next_if(|e| e.after as usize == i) {
                self.spare.push(e.pkt);
            }
        }
        std::mem::swap(&mut burst.pkts, &mut self.spare);
    }
}

/// Chain `c`'s pass over the burst: with `ROUTING`, routes the packets to
/// `c` if its selector matches (all of them when `FRESH`, else those
/// still unrouted); then puts the indices of `c`'s packets that `wanted`
/// takes in `sel`. Returns how many packets are `c`'s and how many were
/// put in `sel`. Branch-free apart from the loop, with everything it
/// needs in registers: this pass is most of what a burst costs the host
/// beyond the copies.
#[inline(always)]
fn chain_pass<const ROUTING: bool, const FRESH: bool>(
    pkts: &mut [Packet],
    c: u16,
    selector: FlowMask,
    wanted: &Filter,
    sel: &mut [u16; BURST_CAPACITY],
) -> (usize, usize) {
    let (mut k, mut mine) = (0, 0);
    for (i, p) in pkts.iter_mut().enumerate() {
        // Unclassified packets bypass every translator.
        let (classified, w) = match &p.desc {
            Some(d) => (true, d.flow_word()),
            None => (false, 0),
        };
        if ROUTING && (FRESH || p.route == NO_ROUTE) {
            p.route = if classified && selector.matches_flow_word(w) { c } else { NO_ROUTE };
        }
        let ours = p.route == c;
        mine += ours as usize;
        // k <= i < BURST_CAPACITY (a burst holds no more); the mask only
        // spares a bounds check.
        sel[k % BURST_CAPACITY] = i as u16;
        k += (ours & classified & wanted.wants_flow_word(w)) as usize;
    }
    (mine, k)
}
