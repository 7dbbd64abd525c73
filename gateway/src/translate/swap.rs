//! Hot swap and the graveyard: the two lock-free SPSC rings (rtrb)
//! between the control thread and one worker.
//!
//! - Control → worker: a new translator for a chain position, already
//!   instantiated and initialised on the control thread. The worker
//!   installs it at the start of a burst ([`super::WorkerHost::process`]),
//!   so a burst is handled entirely by the old version or entirely by the
//!   new one, and no packet is touched by the swap itself.
//! - Worker → control: what the worker no longer needs (a replaced
//!   translator, an instance that faulted). Dropping a store returns its
//!   memory to the pool (madvise, munmap of guard pages): the control
//!   thread does that, never the hot core.

use std::fmt;
use std::sync::Arc;

use rtrb::{Consumer, Producer, PushError, RingBuffer};

use super::host::Shared;
use super::instance::Instance;
use super::chain::FlowMask;
use super::shadow::ShadowTap;
use super::translator::Translator;
use super::worker::layout::{Layout, Source};

/// Slots of each ring.
pub const RING_CAPACITY: usize = 256;

/// What the control thread sends a worker.
pub(crate) enum SwapMsg {
    /// A translator to install at `chain`, `stage`.
    Stage { chain: u16, stage: u16, translator: Box<Translator> },
    /// New chains (see [`Layout`]).
    Layout(Box<Layout>),
    /// A canary's tap to run at the start of every burst, or none.
    Tap(Option<Box<ShadowTap>>),
}

/// Something the worker hands back to be dropped off the hot core.
pub(crate) enum Retired {
    /// A replaced translator: unloaded, then dropped.
    Translator(Box<Translator>),
    /// An instance; the flag says whether to call `fhgate_unload` (not
    /// after a fault).
    Instance(Box<Instance>, bool),
    /// A spent layout change: the old chains and the stages dropped.
    Layout(Box<Layout>),
    /// A canary's tap no longer run (its ring ends and buffers are freed here).
    Tap(Box<ShadowTap>),
}

impl Retired {
    fn finish(self) {
        match self {
            Retired::Translator(t) => t.retire(),
            Retired::Instance(i, true) => i.unload(),
            Retired::Instance(_, false) => {}
            Retired::Layout(l) => l.retire(),
            Retired::Tap(t) => drop(t),
        }
    }
}

/// The worker's end of the ring back to the control thread.
pub(crate) struct Graveyard {
    tx: Producer<Retired>,
    /// Items dropped on the worker because the ring was full.
    pub dropped_inline: u64,
    /// Layout changes that did not fit the worker's chains (none, unless
    /// the control thread's mirror of them is wrong).
    pub misfits: u64,
}

impl Graveyard {
    /// Sends `r` to the control thread; when the ring is full (the control
    /// thread is not reaping), drops it here rather than block.
    pub fn bury(&mut self, r: Retired) {
        if let Err(PushError::Full(r)) = self.tx.push(r) {
            self.dropped_inline += 1;
            r.finish();
        }
    }
}

/// The worker's end of the ring from the control thread.
pub(crate) struct Inbox {
    rx: Consumer<SwapMsg>,
}

impl Inbox {
    /// The next translator to install, if any.
    #[inline]
    pub fn next(&mut self) -> Option<SwapMsg> {
        self.rx.pop().ok()
    }
}

/// Why a swap was not sent.
#[derive(Debug)]
pub enum SwapError {
    /// No such chain position on this worker.
    NoSuchStage {
        /// Chain index.
        chain: usize,
        /// Stage index.
        stage: usize,
    },
    /// The ring to the worker is full (the worker is not processing
    /// bursts); the translator is given back.
    Full(Box<Translator>),
    /// The new translator did not load or initialise.
    Load(super::module::LoadError),
    /// The ring to the worker is full; a layout change was not sent.
    Busy,
}

/// Where a stage of a new chain layout comes from ([`Control::relayout`]).
pub enum StagePlan {
    /// The translator at this position of the current layout, moved with its state.
    Keep {
        /// Chain index now.
        chain: usize,
        /// Stage index now.
        stage: usize,
    },
    /// A new translator, instantiated and initialised.
    New(Box<Translator>),
}

impl fmt::Display for SwapError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SwapError::NoSuchStage { chain, stage } => write!(f, "no translator at chain {chain} stage {stage}"),
            SwapError::Full(t) => write!(f, "worker has not taken earlier swaps; {} not installed", t.name()),
            SwapError::Load(e) => write!(f, "{e}"),
            SwapError::Busy => write!(f, "worker has not taken earlier swaps; the new chains were not sent"),
        }
    }
}

impl std::error::Error for SwapError {}

/// The control thread's end of one worker: swaps translators in and
/// drops what the worker gives back.
pub struct Control {
    tx: Producer<SwapMsg>,
    rx: Consumer<Retired>,
    layout: Vec<usize>,
    /// The statistics of what was last installed at each chain position
    /// (and of its fallback), for metrics.
    installed: Vec<Vec<Installed>>,
}

/// The shared statistics of one installed translator and its fallback.
#[derive(Clone)]
pub struct Installed {
    /// The translator's.
    pub main: Arc<Shared>,
    /// Its fallback's, if its fault policy has one.
    pub fallback: Option<Arc<Shared>>,
    /// What it was built from (tells the control API what a worker runs).
    pub spec: Arc<super::TranslatorSpec>,
}

impl Installed {
    fn of(t: &Translator) -> Self {
        Installed { main: t.shared().clone(), fallback: t.fallback().map(|f| f.shared().clone()), spec: t.spec().clone() }
    }
}

/// Makes the two rings for a worker whose chains hold `chains` (their
/// translators as first installed).
pub(crate) fn link<'a>(chains: impl Iterator<Item = &'a [Box<Translator>]>) -> (Control, Inbox, Graveyard) {
    let (tx, rx) = RingBuffer::new(RING_CAPACITY);
    let (gtx, grx) = RingBuffer::new(RING_CAPACITY);
    let installed: Vec<Vec<Installed>> = chains.map(|c| c.iter().map(|t| Installed::of(t)).collect()).collect();
    let layout = installed.iter().map(|c| c.len()).collect();
    (Control { tx, rx: grx, layout, installed }, Inbox { rx }, Graveyard { tx: gtx, dropped_inline: 0, misfits: 0 })
}

impl Control {
    /// Sends `t` to replace the translator at `chain`, `stage`; the worker
    /// installs it before its next burst.
    pub fn install(&mut self, chain: usize, stage: usize, t: Translator) -> Result<(), SwapError> {
        if self.layout.get(chain).is_none_or(|&n| stage >= n) {
            return Err(SwapError::NoSuchStage { chain, stage });
        }
        let installed = Installed::of(&t);
        let msg = SwapMsg::Stage { chain: chain as u16, stage: stage as u16, translator: Box::new(t) };
        match self.tx.push(msg) {
            Ok(()) => {}
            Err(PushError::Full(SwapMsg::Stage { translator, .. })) => return Err(SwapError::Full(translator)),
            Err(PushError::Full(SwapMsg::Layout(l))) => {
                l.retire();
                return Err(SwapError::Busy);
            }
            Err(PushError::Full(SwapMsg::Tap(_))) => return Err(SwapError::Busy),
        }
        self.installed[chain][stage] = installed;
        Ok(())
    }

    /// Sends new chains: per chain its selector and, per stage, where its
    /// translator comes from. The worker installs them before its next
    /// burst, keeping the instances of the stages kept.
    pub fn relayout(&mut self, chains: Vec<(FlowMask, Vec<StagePlan>)>) -> Result<(), SwapError> {
        let mut seen = Vec::new();
        for (c, s) in chains.iter().flat_map(|(_, st)| st).filter_map(|p| match p {
            StagePlan::Keep { chain, stage } => Some((*chain, *stage)),
            StagePlan::New(_) => None,
        }) {
            if self.layout.get(c).is_none_or(|&n| s >= n) || seen.contains(&(c, s)) {
                return Err(SwapError::NoSuchStage { chain: c, stage: s });
            }
            seen.push((c, s));
        }
        if chains.len() >= super::worker::MAX_CHAINS {
            return Err(SwapError::Load(super::module::LoadError::Instance(format!("{} chains: a worker runs at most {}", chains.len(), super::worker::MAX_CHAINS - 1))));
        }
        let installed: Vec<Vec<Installed>> = chains
            .iter()
            .map(|(_, st)| {
                st.iter()
                    .map(|p| match p {
                        StagePlan::Keep { chain, stage } => self.installed[*chain][*stage].clone(),
                        StagePlan::New(t) => Installed::of(t),
                    })
                    .collect()
            })
            .collect();
        let plan = chains
            .into_iter()
            .map(|(sel, st)| {
                let st = st
                    .into_iter()
                    .map(|p| match p {
                        StagePlan::Keep { chain, stage } => Source::Keep { chain: chain as u16, stage: stage as u16 },
                        StagePlan::New(t) => Source::New(t),
                    })
                    .collect();
                (sel, st)
            })
            .collect();
        let l = Layout::new(plan, self.layout.clone());
        if let Err(PushError::Full(m)) = self.tx.push(SwapMsg::Layout(Box::new(l))) {
            if let SwapMsg::Layout(l) = m {
                l.retire();
            }
            return Err(SwapError::Busy);
        }
        self.layout = installed.iter().map(|c| c.len()).collect();
        self.installed = installed;
        Ok(())
    }

    /// Sends a canary's tap (or `None`: stop tapping); the worker runs it
    /// from its next burst on and hands the one it replaces back.
    pub fn set_tap(&mut self, tap: Option<ShadowTap>) -> Result<(), SwapError> {
        self.tx.push(SwapMsg::Tap(tap.map(Box::new))).map_err(|_| SwapError::Busy)
    }

    /// Stages per chain as last sent to the worker.
    pub fn layout(&self) -> &[usize] {
        &self.layout
    }

    /// The statistics of every chain position's translator, as last
    /// installed: `(chain, stage, statistics)`.
    pub fn installed(&self) -> impl Iterator<Item = (usize, usize, &Installed)> {
        self.installed.iter().enumerate().flat_map(|(c, stages)| stages.iter().enumerate().map(move |(s, i)| (c, s, i)))
    }

    /// Instantiates `spec` here (compiled once at load; instantiated per
    /// worker) and sends it like [`Control::install`].
    pub fn swap(&mut self, chain: usize, stage: usize, spec: &std::sync::Arc<super::TranslatorSpec>) -> Result<(), SwapError> {
        let t = Translator::new(spec).map_err(SwapError::Load)?;
        self.install(chain, stage, t)
    }

    /// Unloads and drops whatever the worker handed back; returns how many.
    pub fn reap(&mut self) -> usize {
        let mut n = 0;
        while let Ok(r) = self.rx.pop() {
            r.finish();
            n += 1;
        }
        n
    }

    /// Swaps the worker has not taken yet.
    pub fn pending(&self) -> usize {
        RING_CAPACITY - self.tx.slots()
    }
}
