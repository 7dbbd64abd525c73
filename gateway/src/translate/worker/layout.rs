//! A change of a worker's chains (add, remove or reorder chains or their
//! stages) as one message through the swap ring. The control thread
//! builds everything that needs memory (the new chains with their
//! selection buffers, stage vectors sized for them, new translators
//! instantiated and initialised); the worker, at the start of a burst,
//! only moves boxes: the stages it keeps go into the new chains (their
//! instances and state carried over), the new chains replace the old,
//! and the old chains with the stages no longer run go back to the
//! control thread in the same box.

use ecpri::frame::DecodeConfig;

use super::super::burst::BURST_CAPACITY;
use super::super::chain::FlowMask;
use super::super::translator::Translator;
use super::Chain;

/// Where a stage of the new layout comes from.
pub(crate) enum Source {
    /// The stage the worker runs now at this position (moved, not rebuilt).
    Keep {
        /// Its chain now.
        chain: u16,
        /// Its stage now.
        stage: u16,
    },
    /// A translator built on the control thread.
    New(Box<Translator>),
    /// Already moved into place.
    Moved,
}

/// The new chains of one worker and where their stages come from.
pub(crate) struct Layout {
    chains: Vec<Chain>,
    plan: Vec<Vec<Source>>,
    /// The layout the plan was made against: stages per chain.
    expects: Vec<usize>,
    /// The old stages, flat, while the new chains take theirs; afterwards
    /// the ones no new chain took.
    taken: Vec<Option<Box<Translator>>>,
}

impl Layout {
    /// Builds the new chains (empty, their buffers allocated) for a worker
    /// whose chains have `expects` stages each.
    pub(crate) fn new(plan: Vec<(FlowMask, Vec<Source>)>, expects: Vec<usize>) -> Layout {
        let chains = plan
            .iter()
            .map(|(selector, stages)| Chain {
                selector: *selector,
                stages: Vec::with_capacity(stages.len()),
                sel: Box::new([0; BURST_CAPACITY]),
                sel_len: 0,
                bypassed: 0,
                decodes: Vec::with_capacity(stages.len()),
                blame: 0,
            })
            .collect();
        let taken = Vec::with_capacity(expects.iter().sum());
        Layout { chains, plan: plan.into_iter().map(|(_, s)| s).collect(), expects, taken }
    }

    /// Unloads every translator it still holds (control thread).
    pub(crate) fn retire(self) {
        let old = self.chains.into_iter().flat_map(|c| c.stages);
        let new = self.plan.into_iter().flatten().filter_map(|s| match s {
            Source::New(t) => Some(t),
            _ => None,
        });
        for t in old.chain(new).chain(self.taken.into_iter().flatten()) {
            t.retire();
        }
    }

    /// On the worker: whether the plan was made against `chains`' layout
    /// and every stage it keeps is there, once.
    fn fits(&self, chains: &[Chain]) -> bool {
        if chains.len() != self.expects.len() || chains.iter().zip(&self.expects).any(|(c, &n)| c.stages.len() != n) {
            return false;
        }
        // Each kept stage in range (duplicates are refused by the control thread).
        self.plan.iter().flatten().all(|s| match s {
            Source::Keep { chain, stage } => self.expects.get(*chain as usize).is_some_and(|&n| (*stage as usize) < n),
            _ => true,
        })
    }

    /// On the worker: installs the new chains in `chains` and leaves the
    /// old ones (and the stages no longer run) in `self`. Moves boxes
    /// only: every vector was sized on the control thread. Returns false,
    /// changing nothing, if the plan does not fit the worker's chains.
    pub(super) fn apply(&mut self, chains: &mut Vec<Chain>, decode: &DecodeConfig) -> bool {
        if !self.fits(chains) {
            return false;
        }
        for c in chains.iter_mut() {
            self.taken.extend(c.stages.drain(..).map(Some));
        }
        for (chain, plan) in self.chains.iter_mut().zip(self.plan.iter_mut()) {
            for src in plan.iter_mut() {
                let t = match std::mem::replace(src, Source::Moved) {
                    Source::Keep { chain, stage } => {
                        let at = self.expects[..chain as usize].iter().sum::<usize>() + stage as usize;
                        self.taken[at].take()
                    }
                    Source::New(t) => Some(t),
                    Source::Moved => None,
                };
                // `fits` checked every position; a stage kept twice is refused before it is sent.
                if let Some(t) = t {
                    chain.stages.push(t);
                }
            }
            chain.fold_decodes(decode);
        }
        std::mem::swap(chains, &mut self.chains);
        true
    }
}
