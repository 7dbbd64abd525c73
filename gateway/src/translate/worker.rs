//! The translator host as one pipeline worker sees it: its chains of
//! running translators, the swap inbox and the graveyard, and scratch
//! space allocated once. [`WorkerHost::process`] is called once per burst
//! and allocates nothing, takes no lock and makes no syscall unless a
//! translator faults.

use ecpri::frame::DecodeConfig;

use super::abi::MAX_IN;
use super::burst::{BufPool, Burst, Packet, BURST_CAPACITY, NO_ROUTE};
use super::chain::{ChainSpec, FlowMask};
use super::host::bump;
use super::module::LoadError;
use super::swap::{self, Control, Graveyard, Inbox, Retired};
use super::translator::{Extra, Fate, StageIo, Translator};

struct Chain {
    /// Its selector, compiled.
    selector: FlowMask,
    // Boxed so that a hot swap on the worker swaps pointers: the old box
    // goes back to the control thread, nothing is freed here.
    #[allow(clippy::vec_box)]
    stages: Vec<Box<Translator>>,
}

/// One worker's translators and everything a burst needs.
pub struct WorkerHost {
    chains: Vec<Chain>,
    decode: DecodeConfig,
    inbox: Inbox,
    grave: Graveyard,
    fate: Vec<Fate>,
    sel: Vec<u16>,
    extras: Vec<Extra>,
    spare: Vec<Packet>,
    swaps: u64,
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
        let mut built = Vec::with_capacity(chains.len());
        for c in chains {
            let stages = c.translators.iter().map(|t| Translator::new(t).map(Box::new)).collect::<Result<Vec<_>, _>>()?;
            built.push(Chain { selector: c.selector.flow_mask(), stages });
        }
        let (control, inbox, grave) = swap::link(built.iter().map(|c| c.stages.as_slice()));
        let host = WorkerHost {
            chains: built,
            decode,
            inbox,
            grave,
            fate: Vec::with_capacity(BURST_CAPACITY),
            sel: Vec::with_capacity(BURST_CAPACITY),
            extras: Vec::with_capacity(BURST_CAPACITY),
            spare: Vec::with_capacity(BURST_CAPACITY),
            swaps: 0,
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

    /// Hot swaps installed so far.
    pub fn swaps(&self) -> u64 {
        self.swaps
    }

    /// Installs the translators the control thread sent; the replaced ones
    /// go back to it. Called at the start of every burst.
    pub fn apply_swaps(&mut self) -> usize {
        let mut n = 0;
        while let Some(m) = self.inbox.next() {
            // Control::install checked the position against this layout.
            let Some(slot) = self.chains.get_mut(m.chain as usize).and_then(|c| c.stages.get_mut(m.stage as usize)) else {
                self.grave.bury(Retired::Translator(m.translator));
                continue;
            };
            let old = std::mem::replace(slot, m.translator);
            self.grave.bury(Retired::Translator(old));
            n += 1;
        }
        self.swaps += n as u64;
        n
    }

    /// Runs the burst through the chains, in place: afterwards `burst`
    /// holds the outputs in input order, each packet's extras right after
    /// it. Buffers of dropped packets go back to `pool`; extras take theirs
    /// from it.
    pub fn process(&mut self, burst: &mut Burst, pool: &mut BufPool) -> BurstReport {
        let mut report = BurstReport { packets_in: burst.len(), swapped: self.apply_swaps(), ..Default::default() };
        let mut depth = 0;
        for p in burst.pkts.iter_mut() {
            p.route = NO_ROUTE;
            if let Some(d) = &p.desc {
                if let Some(c) = self.chains.iter().position(|c| c.selector.matches(d)) {
                    p.route = c as u16;
                    depth = depth.max(self.chains[c].stages.len());
                }
            }
            report.unrouted += (p.route == NO_ROUTE) as usize;
        }
        for stage in 0..depth {
            self.run_stage(stage, burst, pool);
        }
        report.packets_out = burst.len();
        report
    }

    fn run_stage(&mut self, stage: usize, burst: &mut Burst, pool: &mut BufPool) {
        self.fate.clear();
        self.fate.resize(burst.pkts.len(), Fate::Keep);
        self.extras.clear();
        let room = BURST_CAPACITY.saturating_sub(burst.pkts.len());
        let mut io = StageIo {
            pkts: &mut burst.pkts,
            fate: &mut self.fate,
            extras: &mut self.extras,
            pool: &mut *pool,
            grave: &mut self.grave,
            decode: &self.decode,
            room,
        };
        for (c, chain) in self.chains.iter_mut().enumerate() {
            let Some(t) = chain.stages.get_mut(stage) else { continue };
            self.sel.clear();
            let (filter, route) = (t.filter(), c as u16);
            let mut bypassed = 0u64;
            for (i, p) in io.pkts.iter().enumerate() {
                if p.route == route {
                    // Routed packets are classified.
                    if p.desc.as_ref().is_some_and(|d| filter.wants(d)) {
                        self.sel.push(i as u16);
                    } else {
                        bypassed += 1;
                    }
                }
            }
            if bypassed > 0 {
                bump(&t.shared().stats.bypassed, bypassed);
            }
            for chunk in self.sel.chunks(MAX_IN) {
                t.run(&mut io, chunk);
            }
        }
        let dropped = io.fate.contains(&Fate::Drop);
        if !dropped && self.extras.is_empty() {
            return;
        }
        // Rebuild the burst in order: survivors, each followed by its extras.
        self.extras.sort_unstable_by_key(|e| (e.after, e.seq));
        let mut extras = self.extras.drain(..).peekable();
        self.spare.clear();
        for (i, p) in burst.pkts.drain(..).enumerate() {
            if self.fate[i] == Fate::Drop {
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
