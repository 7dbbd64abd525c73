//! What the control API knows and changes, on run's control thread: the
//! loaded translators (every version of each name, with its source, the
//! content hash of its module and its config) and, per chain stage, what
//! runs there and what ran before (for rollback).
//!
//! Every change compiles and initialises first; only then is anything
//! sent to a worker, and then to every worker of both directions, so a
//! refused change leaves the running configuration as it was.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::{ApiError, CanaryCall, Change, Command, Reply, Source};
use crate::config::{FaultPolicyConfig, GatewayConfig};
use crate::pipeline::runner::Running;
use crate::translate::{ChainSpec, Limits, Runtime, Translator, TranslatorModule, TranslatorSpec};

/// How long a cut-over waits for every worker to take the new version
/// before replying (a worker takes it at its next burst; one with no
/// traffic does not, and the reply says so).
const CUTOVER_WAIT: Duration = Duration::from_millis(200);

/// One loaded version of a translator.
pub(super) struct Version {
    pub(super) spec: Arc<TranslatorSpec>,
    /// A path, or `upload`.
    pub(super) source: String,
    /// FNV-1a 64 of the module bytes, hex.
    pub(super) hash: String,
    pub(super) config: Vec<(String, String)>,
    /// Its fault policy as the config file spells it (for `config save`).
    pub(super) policy: FaultPolicyConfig,
}

/// What runs at one chain stage.
pub(super) struct Stage {
    /// Translator name and version index (0-based).
    pub(super) current: (String, usize),
    /// What ran before, most recent last.
    pub(super) history: Vec<(String, usize)>,
}

/// What the gateway was started from, for `config save` and for checking
/// a change of the chains against the profiles as `run` did at start.
pub struct Base {
    /// The configuration file's text as read at start.
    pub text: String,
    /// The translators the file configures (fallbacks included).
    pub translators: Vec<crate::config::TranslatorConfig>,
    /// Which directions run (DL, UL): a side with an input.
    pub runs: [bool; 2],
    /// The egress formats the running egress stages decode with.
    pub egress: [Option<crate::plan::EgressFormat>; 2],
}

/// The control API's view of the running gateway.
pub struct State {
    pub(super) rt: Arc<Runtime>,
    pub(super) translators: BTreeMap<String, Vec<Version>>,
    pub(super) chains: Vec<(String, Vec<Stage>)>,
    pub(super) base: Base,
    /// The canary running now, if any.
    pub(super) canary: Option<super::canary::Canary>,
    /// The last canary's outcome and figures.
    pub(super) canary_last: Option<Value>,
    /// `[control] audit_log`, for decisions taken without a call (auto canary).
    pub(super) audit_log: Option<std::path::PathBuf>,
    /// `[control] canary_cores` and `[pipeline] pin`: where a canary's shadow thread runs.
    pub(super) canary_pin: (Vec<usize>, crate::pipeline::pinning::PinPolicy),
}

/// FNV-1a, 64 bits: a stable content hash to tell module versions apart
/// (not a security measure).
pub fn content_hash(bytes: &[u8]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= b as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}

impl State {
    /// The state of a gateway started from `cfg`, whose chains were built
    /// as `chains` (the same specs every worker runs).
    pub fn new(rt: Arc<Runtime>, cfg: &GatewayConfig, chains: &[ChainSpec], base: Base) -> State {
        let mut translators = BTreeMap::new();
        for (ci, c) in cfg.chains.iter().enumerate() {
            for (si, name) in c.translators.iter().enumerate() {
                let t = cfg.translators.iter().find(|t| &t.name == name);
                translators.entry(name.clone()).or_insert_with(|| {
                    let path = t.map(|t| t.path.clone()).unwrap_or_default();
                    let hash = std::fs::read(&path).map(|b| content_hash(&b)).unwrap_or_else(|_| "unknown".into());
                    let config = t.map(|t| t.config.clone()).unwrap_or_default();
                    let policy = t.map_or(FaultPolicyConfig::Pass, |t| t.fault_policy.clone());
                    vec![Version { spec: chains[ci].translators[si].clone(), source: path.display().to_string(), hash, config, policy }]
                });
            }
        }
        let chains = cfg
            .chains
            .iter()
            .map(|c| (c.select.clone(), c.translators.iter().map(|n| Stage { current: (n.clone(), 0), history: Vec::new() }).collect()))
            .collect();
        let audit_log = cfg.control.as_ref().and_then(|c| c.audit_log.clone());
        let canary_pin = (cfg.control.as_ref().map(|c| c.canary_cores.clone()).unwrap_or_default(), cfg.pipeline.dl_cores.policy);
        State { rt, translators, chains, base, canary: None, canary_last: None, audit_log, canary_pin }
    }

    /// Carries out `cmd` (received at `received`) on the workers of
    /// `running`. Returns the reply and whether anything was cut over.
    pub fn handle(&mut self, cmd: Command, received: Instant, running: &mut [(&str, Running)]) -> (Reply, bool) {
        match cmd {
            Command::Status => (Ok(self.status(running)), false),
            Command::Load { name, source, config, deadline } => (self.load(name, source, config, deadline), false),
            Command::Change(Change::Swap { chain, stage, translator, version }) => {
                let r = self.swap(chain, stage, &translator, version, received, running);
                let cut = r.is_ok();
                (r, cut)
            }
            Command::Change(Change::Config { translator, config }) => {
                let r = self.config(&translator, config, received, running);
                let cut = r.as_ref().is_ok_and(|v| v["stages"].as_array().is_some_and(|s| !s.is_empty()));
                (r, cut)
            }
            Command::Rollback { chain, stage } => {
                let r = self.rollback(chain, stage, received, running);
                let cut = r.is_ok();
                (r, cut)
            }
            Command::Save { path, force } => (super::save::save(self, &path, force), false),
            Command::Chains(edit) => {
                let r = self.edit_chains(edit, received, running);
                let cut = r.is_ok();
                (r, cut)
            }
            Command::Canary(call) => match call {
                CanaryCall::Start(req) => (self.canary_start(req, running), false),
                CanaryCall::Status => (Ok(self.canary_status()), false),
                CanaryCall::Metrics => (Ok(Value::String(self.canary_metrics())), false),
                CanaryCall::Abort => (self.canary_abort("manual", running), false),
                CanaryCall::Promote => {
                    let r = self.canary_promote(received, running, "manual");
                    let cut = r.is_ok();
                    (r, cut)
                }
            },
        }
    }

    fn load(&mut self, name: String, source: Source, config: Vec<(String, String)>, deadline: Option<Duration>) -> Reply {
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
            return Err(ApiError::bad("name", format!("`{name}`: use letters, digits, `_` and `-`")));
        }
        if let Some(d) = deadline {
            if !(Duration::from_micros(10)..=Duration::from_secs(1)).contains(&d) {
                return Err(ApiError::bad("deadline_us", format!("{} is outside 10-1000000", d.as_micros())));
            }
        }
        let (bytes, label) = match source {
            Source::Path(p) => {
                let ext = p.extension().and_then(|e| e.to_str()).unwrap_or("");
                if ext != "wasm" && ext != "wat" {
                    return Err(ApiError::bad("path", format!("{}: a translator is a .wasm (or .wat) module", p.display())));
                }
                let b = std::fs::read(&p).map_err(|e| ApiError::bad("path", format!("{}: cannot read it: {e}", p.display())))?;
                (b, p.display().to_string())
            }
            Source::Bytes(b) => (b, "upload".to_string()),
        };
        let hash = content_hash(&bytes);
        // The same bytes were compiled already (under any name): share that module.
        let known = self.translators.values().flatten().find(|v| v.hash == hash).map(|v| v.spec.module.clone());
        let module = match known {
            Some(m) => m,
            None => TranslatorModule::load(&self.rt, &bytes, &label).map_err(|e| ApiError::conflict(format!("{label}: does not load: {e}")))?,
        };
        let mut limits = Limits::default();
        if let Some(d) = deadline {
            limits.deadline = d;
        }
        let spec = TranslatorSpec::new(module).with_config(&config).with_limits(limits).with_sink(Arc::new(crate::logging::TracingLog));
        let spec = Arc::new(spec);
        // Init once here, so a config fhgate_init refuses is refused now.
        Translator::new(&spec).map_err(|e| ApiError::conflict(format!("{label}: does not initialise with this config: {e}")))?;
        let v = Version { spec, source: label, hash, config, policy: FaultPolicyConfig::Pass };
        let versions = self.translators.entry(name.clone()).or_default();
        versions.push(v);
        Ok(json!({ "name": name, "version": versions.len(), "hash": versions.last().map(|v| v.hash.clone()) }))
    }

    fn stage_mut(&mut self, chain: usize, stage: usize) -> Result<&mut Stage, ApiError> {
        let n = self.chains.len();
        let c = self.chains.get_mut(chain).ok_or_else(|| ApiError::not_found(format!("chain {chain}: there are {n} chains")))?;
        let m = c.1.len();
        c.1.get_mut(stage).ok_or_else(|| ApiError::not_found(format!("chain {chain} stage {stage}: the chain has {m} stages")))
    }

    pub(super) fn version(&self, name: &str, version: Option<usize>) -> Result<usize, ApiError> {
        let vs = self.translators.get(name).ok_or_else(|| ApiError::not_found(format!("no translator named `{name}` is loaded")))?;
        match version {
            None => Ok(vs.len() - 1),
            Some(v) if (1..=vs.len()).contains(&v) => Ok(v - 1),
            Some(v) => Err(ApiError::bad("version", format!("{name} has versions 1-{}, not {v}", vs.len()))),
        }
    }

    pub(super) fn swap(&mut self, chain: usize, stage: usize, name: &str, version: Option<usize>, received: Instant, running: &mut [(&str, Running)]) -> Reply {
        self.stage_mut(chain, stage)?;
        let v = self.version(name, version)?;
        let spec = self.translators[name][v].spec.clone();
        let cut = self.cut_checked(running, &[(chain, stage, spec)], received)?;
        let st = self.stage_mut(chain, stage)?;
        let prev = std::mem::replace(&mut st.current, (name.to_string(), v));
        st.history.push(prev);
        Ok(json!({ "chain": chain, "stage": stage, "translator": name, "version": v + 1, "cutover": cut }))
    }

    pub(super) fn config(&mut self, name: &str, config: Vec<(String, String)>, received: Instant, running: &mut [(&str, Running)]) -> Reply {
        let (base, spec) = self.config_spec(name, &config)?;
        Translator::new(&spec).map_err(|e| ApiError::conflict(format!("{name}: does not initialise with this config: {e}")))?;
        self.cut_config(name, base, config, spec, received, running)
    }

    /// A spec of `name`'s newest version with `config` instead of its own
    /// (same module, limits and fault policy), and that version's index.
    pub(super) fn config_spec(&self, name: &str, config: &[(String, String)]) -> Result<(usize, Arc<TranslatorSpec>), ApiError> {
        let vs = self.translators.get(name).ok_or_else(|| ApiError::not_found(format!("no translator named `{name}` is loaded")))?;
        let last = vs.last().expect("a loaded name has a version");
        Ok((vs.len() - 1, Arc::new(TranslatorSpec { config: crate::translate::serialize_config(config), ..(*last.spec).clone() })))
    }

    /// Records `spec` (built from version `base` of `name` with `config`)
    /// as a new version of `name` and cuts every stage running `name` over
    /// to it. The canary's promotion passes the very spec it compared.
    pub(super) fn cut_config(&mut self, name: &str, base: usize, config: Vec<(String, String)>, spec: Arc<TranslatorSpec>, received: Instant, running: &mut [(&str, Running)]) -> Reply {
        let vs = self.translators.get(name).ok_or_else(|| ApiError::not_found(format!("no translator named `{name}` is loaded")))?;
        let b = vs.get(base).ok_or_else(|| ApiError::conflict(format!("{name}: version {} is no longer loaded", base + 1)))?;
        let v = Version { spec: spec.clone(), source: b.source.clone(), hash: b.hash.clone(), config, policy: b.policy.clone() };
        // Every stage that runs `name` at once, or none; the version is
        // recorded only once the cut-over succeeded.
        let targets = self.stages_running(name).into_iter().map(|(ci, si)| (ci, si, spec.clone())).collect::<Vec<_>>();
        let c = if targets.is_empty() { Value::Null } else { self.cut_checked(running, &targets, received)? };
        let vs = self.translators.get_mut(name).expect("checked above");
        vs.push(v);
        let new = vs.len() - 1;
        let mut cut = Vec::new();
        for (ci, si, _) in targets {
            let st = &mut self.chains[ci].1[si];
            let prev = std::mem::replace(&mut st.current, (name.to_string(), new));
            st.history.push(prev);
            cut.push(json!({ "chain": ci, "stage": si, "cutover": c }));
        }
        Ok(json!({ "name": name, "version": new + 1, "stages": cut }))
    }

    /// The one way a stage changes what it runs (swap, config change,
    /// rollback, canary promotion, SIGHUP reload): the running chains with
    /// `targets` put in must pass `run --check`'s check of the profiles
    /// ([`State::verify`], as chain edits do), then [`cut_many`] cuts
    /// them over. A refusal sends nothing to any worker.
    pub(super) fn cut_checked(&self, running: &mut [(&str, Running)], targets: &[(usize, usize, Arc<TranslatorSpec>)], received: Instant) -> Result<Value, ApiError> {
        self.verify(&self.specs_with(targets)?)?;
        cut_many(running, targets, received)
    }

    /// The (chain, stage) positions that run `name` now.
    pub(super) fn stages_running(&self, name: &str) -> Vec<(usize, usize)> {
        let at = self.chains.iter().enumerate().flat_map(|(ci, (_, st))| st.iter().enumerate().map(move |(si, s)| (ci, si, s)));
        at.filter(|(_, _, s)| s.current.0 == name).map(|(ci, si, _)| (ci, si)).collect()
    }

    fn rollback(&mut self, chain: usize, stage: usize, received: Instant, running: &mut [(&str, Running)]) -> Reply {
        let st = self.stage_mut(chain, stage)?;
        let Some((name, v)) = st.history.last().cloned() else {
            return Err(ApiError::conflict(format!("chain {chain} stage {stage} runs what it started with: nothing to roll back to")));
        };
        let spec = self.translators[&name][v].spec.clone();
        let cut = self.cut_checked(running, &[(chain, stage, spec)], received)?;
        let st = self.stage_mut(chain, stage)?;
        st.history.pop();
        st.current = (name.clone(), v);
        Ok(json!({ "chain": chain, "stage": stage, "translator": name, "version": v + 1, "cutover": cut }))
    }

    /// Translators with their versions, and chains with what each stage
    /// runs and its counters (summed over workers and directions).
    fn status(&self, running: &[(&str, Running)]) -> Value {
        let sums = crate::translate::summary::summarize(running.iter().flat_map(|(_, r)| r.controls.iter()));
        let translators: Vec<Value> = self
            .translators
            .iter()
            .map(|(name, vs)| {
                let versions: Vec<Value> = vs
                    .iter()
                    .enumerate()
                    .map(|(i, v)| {
                        let meta = v.spec.module.meta();
                        json!({
                            "version": i + 1, "source": v.source, "hash": v.hash,
                            "module": meta.name, "module_version": meta.version,
                            "config": v.config.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect::<serde_json::Map<_, _>>(),
                            "deadline_us": v.spec.limits.deadline.as_micros() as u64,
                        })
                    })
                    .collect();
                json!({ "name": name, "versions": versions })
            })
            .collect();
        let chains: Vec<Value> = self
            .chains
            .iter()
            .enumerate()
            .map(|(ci, (select, stages))| {
                let stages: Vec<Value> = stages
                    .iter()
                    .enumerate()
                    .map(|(si, st)| {
                        let s = sums.iter().find(|s| s.chain == ci && s.stage == si && !s.fallback);
                        // Whether every live worker was sent what this record says runs here.
                        let recorded = &self.translators[&st.current.0][st.current.1].spec;
                        let live = running.iter().filter(|(_, r)| !r.is_finished()).flat_map(|(_, r)| r.controls.iter());
                        let agree = live.into_iter().all(|c| c.installed().any(|(c2, s2, i)| (c2, s2) == (ci, si) && Arc::ptr_eq(&i.spec, recorded)));
                        json!({
                            "stage": si, "translator": st.current.0, "version": st.current.1 + 1, "rollbacks_available": st.history.len(), "workers_agree": agree,
                            "counters": s.map(|s| json!({
                                "calls": s.calls, "faults": s.faults(), "disabled": s.disabled, "packets_in": s.packets_in,
                                "forwarded": s.forwarded, "modified": s.modified, "dropped": s.dropped, "extras": s.extras,
                            })),
                        })
                    })
                    .collect();
                json!({ "chain": ci, "select": select, "stages": stages })
            })
            .collect();
        let workers: Vec<Value> = running.iter().map(|(d, r)| json!({ "direction": d, "workers": r.controls.len(), "finished": r.is_finished() })).collect();
        json!({ "translators": translators, "chains": chains, "pipelines": workers, "canary": self.canary_status() })
    }
}

/// Instantiates and initialises each target's spec once per worker of
/// every direction, then (only if all succeeded and every ring has room
/// for all of them) sends each worker its instances, and waits up to
/// [`CUTOVER_WAIT`] for every worker to take them at the start of a
/// burst. All or nothing. Returns the cut-over figures.
pub(super) fn cut_many(running: &mut [(&str, Running)], targets: &[(usize, usize, Arc<TranslatorSpec>)], received: Instant) -> Result<Value, ApiError> {
    // A pipeline whose input has ended runs no more bursts: nothing to cut over there.
    let mut live: Vec<&mut (&str, Running)> = running.iter_mut().filter(|(_, r)| !r.is_finished()).collect();
    let mut instances = Vec::new();
    for (dir, r) in live.iter().map(|x| (&x.0, &x.1)) {
        for w in 0..r.controls.len() {
            for (_, _, spec) in targets {
                let t = Translator::new(spec).map_err(|e| ApiError::conflict(format!("{dir} worker {w}: {} does not initialise: {e}", spec.name())))?;
                instances.push(t);
            }
        }
    }
    let room = crate::translate::swap::RING_CAPACITY.saturating_sub(targets.len());
    if live.iter().flat_map(|x| x.1.controls.iter()).any(|c| c.pending() > room) {
        return Err(ApiError { status: 503, message: "a worker has not taken earlier swaps (its ring is full); nothing was changed".into() });
    }
    let mut instances = instances.into_iter();
    for (dir, r) in live.iter_mut().map(|x| (x.0, &mut x.1)) {
        for (w, c) in r.controls.iter_mut().enumerate() {
            for ((chain, stage, _), t) in targets.iter().zip(instances.by_ref()) {
                // The positions and the room were checked: this does not fail.
                c.install(*chain, *stage, t).map_err(|e| ApiError { status: 500, message: format!("{dir} worker {w}: {e}") })?;
            }
        }
    }
    Ok(wait_taken(&mut live, received))
}

/// Waits up to [`CUTOVER_WAIT`] for every worker of `live` to take what
/// was sent to it; returns the cut-over figures.
pub(super) fn wait_taken(live: &mut [&mut (&str, Running)], received: Instant) -> Value {
    let sent_us = received.elapsed().as_micros() as u64;
    let t0 = Instant::now();
    let taken = loop {
        let waiting = live.iter().filter(|x| !x.1.is_finished()).flat_map(|x| x.1.controls.iter()).any(|c| c.pending() > 0);
        if !waiting {
            break true;
        }
        if t0.elapsed() >= CUTOVER_WAIT {
            break false;
        }
        std::thread::sleep(Duration::from_micros(20));
    };
    // Received → every live worker started a burst on the new version.
    let cutover_us = taken.then(|| received.elapsed().as_micros() as u64);
    json!({ "workers": live.iter().map(|x| x.1.controls.len()).sum::<usize>(), "sent_us": sent_us, "cutover_us": cutover_us, "all_workers_took_it": taken })
}

#[cfg(test)]
mod tests {
    use super::content_hash;

    #[test]
    fn fnv1a_64_reference_values() {
        // Published FNV-1a 64 test vectors.
        assert_eq!(content_hash(b""), "cbf29ce484222325");
        assert_eq!(content_hash(b"a"), "af63dc4c8601ec8c");
    }
}
