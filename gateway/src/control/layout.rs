//! Changing the chains while running: add, remove or reorder chains, and
//! add, remove or reorder a chain's stages. Each edit becomes a whole new
//! layout, checked as `run` checks a file at start (selectors, no empty
//! chain, and the profiles: DU profile ∘ chain = RU profile, into the
//! egress format the running egress decodes), then sent to every live
//! worker as one message it installs between bursts. Stages kept keep
//! their instances (and state) and their rollback history; a refused
//! change sends nothing.

use std::sync::Arc;
use std::time::Instant;

use serde_json::{json, Value};

use super::state::{wait_taken, Stage, State};
use super::{ApiError, Reply};
use crate::pipeline::runner::Running;
use crate::plan::EgressFormat;
use crate::translate::{ChainSpec, Field, Selector, StagePlan, Translator, TranslatorSpec};

/// One edit of the chains, as the API names it.
#[derive(Debug)]
pub enum ChainEdit {
    /// A new chain at `at` (default: last): its selector and translators
    /// (names, with a version from 1 or the newest).
    Add {
        /// Selector text (`dir=dl,eaxc=0x1000/0xf000`).
        select: String,
        /// Its translators, in order.
        translators: Vec<(String, Option<usize>)>,
        /// Its index in the new order.
        at: Option<usize>,
    },
    /// Removes chain `chain`.
    Remove {
        /// Chain index.
        chain: usize,
    },
    /// The chains in a new order: `order[i]` is the index now of the chain
    /// to be `i`th.
    Order {
        /// A permutation of the chain indices.
        order: Vec<usize>,
    },
    /// A new stage of `chain` at `at` (default: last).
    AddStage {
        /// Chain index.
        chain: usize,
        /// Stage index in the new chain.
        at: Option<usize>,
        /// A loaded translator's name.
        translator: String,
        /// Its version (from 1; default the newest).
        version: Option<usize>,
    },
    /// Removes a stage of `chain` (not its last: remove the chain).
    RemoveStage {
        /// Chain index.
        chain: usize,
        /// Stage index.
        stage: usize,
    },
    /// The stages of `chain` in a new order (a permutation, as for chains).
    OrderStages {
        /// Chain index.
        chain: usize,
        /// A permutation of its stage indices.
        order: Vec<usize>,
    },
}

impl ChainEdit {
    /// The action's name in the audit log.
    pub fn action(&self) -> String {
        match self {
            ChainEdit::Add { select, translators, at } => format!("chain add `{select}` {translators:?} at {at:?}"),
            ChainEdit::Remove { chain } => format!("chain remove {chain}"),
            ChainEdit::Order { order } => format!("chain order {order:?}"),
            ChainEdit::AddStage { chain, at, translator, version } => format!("chain {chain} add stage {translator} v{version:?} at {at:?}"),
            ChainEdit::RemoveStage { chain, stage } => format!("chain {chain} remove stage {stage}"),
            ChainEdit::OrderStages { chain, order } => format!("chain {chain} order stages {order:?}"),
        }
    }
}

/// How the egress formats `now` differ from `was`, field by field.
fn egress_change(was: &[Option<EgressFormat>; 2], now: &[Option<EgressFormat>; 2]) -> String {
    let mut parts = Vec::new();
    for (dir, (a, b)) in ["DL", "UL"].into_iter().zip(was.iter().zip(now)) {
        let part = match (a, b) {
            (a, b) if a == b => continue,
            (Some(_), None) => "declared, now unknown: a translator of the chains declares no effects".to_string(),
            (None, _) => "unknown at start, now declared".to_string(),
            (Some(a), Some(b)) => {
                let value = |e: &EgressFormat, f: Field| e.format.get(f).unwrap_or("unknown").to_string();
                let fields: Vec<String> = Field::ALL.into_iter().filter(|f| f.is_format() && value(a, *f) != value(b, *f)).map(|f| format!("{} {} -> {}", f.name(), value(a, f), value(b, f))).collect();
                if fields.is_empty() { "the flows with a compression of their own differ".to_string() } else { fields.join(", ") }
            }
        };
        parts.push(format!("{dir} {part}"));
    }
    parts.join("; ")
}

/// Where a stage of the new layout comes from.
#[derive(Clone)]
enum NewStage {
    /// The stage at (chain, stage) now.
    Keep(usize, usize),
    /// A loaded translator's version (0-based).
    Run(String, usize),
}

/// Checks that `order` is a permutation of 0..n.
fn permutation(order: &[usize], n: usize, what: &str) -> Result<(), ApiError> {
    let mut seen = vec![false; n];
    if order.len() != n {
        return Err(ApiError::bad("order", format!("{} entries for {n} {what}; give each index once", order.len())));
    }
    for &i in order {
        match seen.get_mut(i) {
            Some(s) if !*s => *s = true,
            Some(_) => return Err(ApiError::bad("order", format!("{i} is given twice"))),
            None => return Err(ApiError::bad("order", format!("{i} is not one of the {n} {what}"))),
        }
    }
    Ok(())
}

fn position(at: Option<usize>, len: usize, what: &str) -> Result<usize, ApiError> {
    match at {
        None => Ok(len),
        Some(a) if a <= len => Ok(a),
        Some(a) => Err(ApiError::bad("at", format!("{a}: there are {len} {what} (0-{len} are positions)"))),
    }
}

impl State {
    /// Carries out a chain edit; returns the reply and whether anything
    /// was sent to the workers.
    pub(super) fn edit_chains(&mut self, edit: ChainEdit, received: Instant, running: &mut [(&str, Running)]) -> Reply {
        let mut layout: Vec<(String, Vec<NewStage>)> =
            self.chains.iter().enumerate().map(|(c, (sel, st))| (sel.clone(), (0..st.len()).map(|s| NewStage::Keep(c, s)).collect())).collect();
        let n = layout.len();
        let chain_of = |c: usize| if c < n { Ok(c) } else { Err(ApiError::not_found(format!("chain {c}: there are {n} chains"))) };
        match edit {
            ChainEdit::Add { select, translators, at } => {
                let at = position(at, n, "chains")?;
                if translators.is_empty() {
                    return Err(ApiError::bad("translators", "a chain needs at least one translator"));
                }
                let stages = translators.iter().map(|(t, v)| Ok(NewStage::Run(t.clone(), self.version(t, *v)?))).collect::<Result<_, ApiError>>()?;
                layout.insert(at, (select, stages));
            }
            ChainEdit::Remove { chain } => {
                layout.remove(chain_of(chain)?);
            }
            ChainEdit::Order { order } => {
                permutation(&order, n, "chains")?;
                layout = order.iter().map(|&i| layout[i].clone()).collect();
            }
            ChainEdit::AddStage { chain, at, translator, version } => {
                let c = chain_of(chain)?;
                let v = self.version(&translator, version)?;
                let at = position(at, layout[c].1.len(), "stages")?;
                layout[c].1.insert(at, NewStage::Run(translator, v));
            }
            ChainEdit::RemoveStage { chain, stage } => {
                let c = chain_of(chain)?;
                let m = layout[c].1.len();
                if stage >= m {
                    return Err(ApiError::not_found(format!("chain {c} stage {stage}: the chain has {m} stages")));
                }
                if m == 1 {
                    return Err(ApiError::conflict(format!("chain {c} stage {stage} is its only stage: a chain needs at least one translator (remove the chain instead)")));
                }
                layout[c].1.remove(stage);
            }
            ChainEdit::OrderStages { chain, order } => {
                let c = chain_of(chain)?;
                permutation(&order, layout[c].1.len(), "stages")?;
                layout[c].1 = order.iter().map(|&i| layout[c].1[i].clone()).collect();
            }
        }
        self.relayout(layout, received, running)
    }

    /// `run --check`'s check of the profiles on `specs`, whose egress
    /// formats must be the ones the running egress decodes. Every change of
    /// the running chains passes it (chain edits here, the rest through
    /// [`State::cut_checked`]).
    pub(super) fn verify(&self, specs: &[ChainSpec]) -> Result<(), ApiError> {
        let formats = crate::plan::check_config(&self.base.text, specs, self.base.runs).map_err(|e| ApiError::conflict(e.on_change()))?;
        if formats != self.base.egress {
            return Err(ApiError::conflict(format!(
                "refused: the new chains change the egress format ({}); the running egress cannot follow (restart to apply it)",
                egress_change(&self.base.egress, &formats)
            )));
        }
        Ok(())
    }

    /// The running chains as specs, with `targets` put in.
    pub(super) fn specs_with(&self, targets: &[(usize, usize, Arc<TranslatorSpec>)]) -> Result<Vec<ChainSpec>, ApiError> {
        let mut specs = Vec::new();
        for (ci, (select, stages)) in self.chains.iter().enumerate() {
            let selector = Selector::parse(select).map_err(|e| ApiError { status: 500, message: format!("chain {ci}: {e}") })?;
            let translators = stages
                .iter()
                .enumerate()
                .map(|(si, s)| match targets.iter().find(|t| (t.0, t.1) == (ci, si)) {
                    Some(t) => t.2.clone(),
                    None => self.translators[&s.current.0][s.current.1].spec.clone(),
                })
                .collect();
            specs.push(ChainSpec { selector, translators });
        }
        Ok(specs)
    }

    fn spec_of(&self, s: &NewStage) -> Arc<TranslatorSpec> {
        let (name, v) = match s {
            NewStage::Keep(c, st) => (&self.chains[*c].1[*st].current.0, self.chains[*c].1[*st].current.1),
            NewStage::Run(name, v) => (name, *v),
        };
        self.translators[name][v].spec.clone()
    }

    /// Checks `layout` as `run` checks a file, sends it to every live
    /// worker and records it.
    fn relayout(&mut self, layout: Vec<(String, Vec<NewStage>)>, received: Instant, running: &mut [(&str, Running)]) -> Reply {
        let mut specs = Vec::new();
        let mut selectors: Vec<Selector> = Vec::new();
        for (i, (select, stages)) in layout.iter().enumerate() {
            let sel = Selector::parse(select).map_err(|e| ApiError::bad("select", format!("chain {i}: {e}")))?;
            if let Some(j) = selectors.iter().position(|s| crate::config::covers(s, &sel)) {
                return Err(ApiError::conflict(format!("chain {i} (`{select}`) would never match: chain {j} (`{}`) comes first and takes every packet it would", layout[j].0)));
            }
            selectors.push(sel);
            specs.push(ChainSpec { selector: sel, translators: stages.iter().map(|s| self.spec_of(s)).collect() });
        }
        self.verify(&specs)?;
        // Instantiate and initialise every new stage for every live worker first.
        let mut live: Vec<&mut (&str, Running)> = running.iter_mut().filter(|(_, r)| !r.is_finished()).collect();
        let mut plans = Vec::new();
        for (dir, r) in live.iter().map(|x| (&x.0, &x.1)) {
            for w in 0..r.controls.len() {
                let mut chains = Vec::new();
                for (spec, (_, stages)) in specs.iter().zip(&layout) {
                    let mut plan = Vec::new();
                    for (si, s) in stages.iter().enumerate() {
                        plan.push(match s {
                            NewStage::Keep(c, st) => StagePlan::Keep { chain: *c, stage: *st },
                            NewStage::Run(name, _) => StagePlan::New(Box::new(
                                Translator::new(&spec.translators[si]).map_err(|e| ApiError::conflict(format!("{dir} worker {w}: {name} does not initialise: {e}")))?,
                            )),
                        });
                    }
                    chains.push((spec.selector.flow_mask(), plan));
                }
                plans.push(chains);
            }
        }
        if live.iter().flat_map(|x| x.1.controls.iter()).any(|c| c.pending() >= crate::translate::swap::RING_CAPACITY) {
            return Err(ApiError { status: 503, message: "a worker has not taken earlier swaps (its ring is full); nothing was changed".into() });
        }
        let mut plans = plans.into_iter();
        for (dir, r) in live.iter_mut().map(|x| (x.0, &mut x.1)) {
            for (w, c) in r.controls.iter_mut().enumerate() {
                let plan = plans.next().expect("one plan per worker");
                // Positions and room were checked: this does not fail.
                c.relayout(plan).map_err(|e| ApiError { status: 500, message: format!("{dir} worker {w}: {e}") })?;
            }
        }
        let cut = wait_taken(&mut live, received);
        // Record it: kept stages move with their history.
        let mut old: Vec<Vec<Option<Stage>>> = std::mem::take(&mut self.chains).into_iter().map(|(_, st)| st.into_iter().map(Some).collect()).collect();
        self.chains = layout
            .into_iter()
            .map(|(select, stages)| {
                let stages = stages
                    .into_iter()
                    .map(|s| match s {
                        NewStage::Keep(c, st) => old[c][st].take().expect("each stage kept once"),
                        NewStage::Run(name, v) => Stage { current: (name, v), history: Vec::new() },
                    })
                    .collect();
                (select, stages)
            })
            .collect();
        let chains: Vec<Value> = self.chains.iter().map(|(sel, st)| json!({ "select": sel, "translators": st.iter().map(|s| format!("{} v{}", s.current.0, s.current.1 + 1)).collect::<Vec<_>>() })).collect();
        Ok(json!({ "chains": chains, "cutover": cut }))
    }
}
