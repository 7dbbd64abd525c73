//! Canary (shadow) translators: a candidate runs beside the active chains
//! on a copy of a sampled share of the traffic, and only the active
//! chains' output is sent.
//!
//! - The workers' taps ([`crate::translate::shadow`]) copy the sampled
//!   packets as they come in onto bounded lock-free rings, and drop (and
//!   count) what does not fit: the active path never waits.
//! - [`shadow`]: a thread of its own runs every copy through private
//!   instances of the active chains and of the candidate chains and
//!   compares the outputs as `fhgate diff` does.
//! - [`criteria`]: when to promote; `auto` promotes or aborts by them.
//! - Promotion is the stage swap or config change the candidate stands
//!   for, through the API's own cut-over (no packet lost or duplicated,
//!   order kept); abort only stops the taps.

pub mod criteria;
pub mod shadow;

use std::io::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::state::State;
use super::{ApiError, Change, Reply};
use crate::pipeline::runner::Running;
use crate::translate::shadow::{link, Sample};
use crate::translate::{ChainSpec, Translator, TranslatorSpec, WorkerHost};
use criteria::{Criteria, Decision};
use shadow::{Pair, Shadow};

/// Slots of each tap's ring (and buffers it holds).
pub const TAP_SLOTS: usize = 256;
/// A stop waits for the shadow thread twice the chains' deadlines plus
/// this: a wasm call ends at its deadline, counted in epoch ticks, which a
/// loaded machine stretches (a 1 s deadline took 1.92 s at load 12 on 2 cores).
const STOP_MARGIN: Duration = Duration::from_secs(1);

/// A canary start call.
#[derive(Debug, Clone)]
pub struct CanaryStart {
    /// The candidate: the change a promotion makes.
    pub candidate: Change,
    /// Which packets are copied.
    pub sample: SampleSpec,
    /// When to promote.
    pub criteria: Criteria,
    /// The criteria as given.
    pub criteria_text: String,
    /// Promote or abort by the criteria without a call.
    pub auto: bool,
    /// Compare a candidate the profiles refuse (a width the RU profile
    /// does not take, say); it can only be aborted, never promoted.
    pub compare_only: bool,
}

/// A sampling as given: one packet in `n`, or every packet of some eAxC IDs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SampleSpec {
    /// `1/N`.
    Every(u32),
    /// eAxC IDs.
    Flows(Vec<u16>),
}

impl SampleSpec {
    fn sample(&self) -> Sample {
        match self {
            SampleSpec::Every(n) => Sample::Every(*n),
            SampleSpec::Flows(f) => Sample::flows(f),
        }
    }

    fn json(&self) -> Value {
        match self {
            SampleSpec::Every(n) => json!(format!("1/{n}")),
            SampleSpec::Flows(f) => json!({ "flows": f }),
        }
    }
}

/// Exactly what a promotion cuts over: the spec the shadow compared, never
/// whatever is newest when promote is called.
enum Cut {
    /// Version `version` (0-based) of `translator` at one stage.
    Swap { chain: usize, stage: usize, translator: String, version: usize, spec: Arc<TranslatorSpec> },
    /// `spec`: version `base` (0-based) of `translator` with `config`
    /// (its module, limits and fault policy as they were at start).
    Config { translator: String, base: usize, config: Vec<(String, String)>, spec: Arc<TranslatorSpec> },
}

/// How long a stop waits for the shadow thread running `active` and
/// `candidate`: one copy runs each of their stages once (a fallback too),
/// so their deadlines, twice, plus [`STOP_MARGIN`].
pub fn stop_bound(active: &[ChainSpec], candidate: &[ChainSpec]) -> Duration {
    let deadline = |specs: &[ChainSpec]| -> Duration {
        let stage = |t: &Arc<TranslatorSpec>| t.limits.deadline + t.fallback.as_ref().map_or(Duration::ZERO, |f| f.limits.deadline);
        specs.iter().flat_map(|c| c.translators.iter()).map(stage).sum()
    };
    2 * (deadline(active) + deadline(candidate)) + STOP_MARGIN
}

/// A running canary.
pub(super) struct Canary {
    req: CanaryStart,
    cut: Cut,
    /// Where the candidate differs from the active chains.
    targets: Vec<(usize, usize, Arc<TranslatorSpec>)>,
    started: Instant,
    started_utc: String,
    /// The active chains when it started (a promotion needs them unchanged).
    fingerprint: Vec<(String, Vec<(String, usize)>)>,
    /// Why the profiles refuse the candidate (a `compare_only` canary).
    refused: Option<String>,
    shadow: Shadow,
}

impl State {
    fn fingerprint(&self) -> Vec<(String, Vec<(String, usize)>)> {
        self.chains.iter().map(|(s, st)| (s.clone(), st.iter().map(|x| x.current.clone()).collect())).collect()
    }

    /// `POST /v1/canary`: starts a canary; 409 while one runs.
    pub(super) fn canary_start(&mut self, mut req: CanaryStart, running: &mut [(&str, Running)]) -> Reply {
        if let Some(c) = &self.canary {
            return Err(ApiError::conflict(format!("canary: one is running since {}; promote or abort it first", c.started_utc)));
        }
        let (targets, cut) = match &mut req.candidate {
            Change::Swap { chain, stage, translator, version } => {
                let n = self.chains.len();
                let c = self.chains.get(*chain).ok_or_else(|| ApiError::not_found(format!("chain {chain}: there are {n} chains")))?;
                if *stage >= c.1.len() {
                    return Err(ApiError::not_found(format!("chain {chain} stage {stage}: the chain has {} stages", c.1.len())));
                }
                let v = self.version(translator, *version)?;
                // The version compared is the one promoted: record it, not "newest".
                *version = Some(v + 1);
                let spec = self.translators[translator.as_str()][v].spec.clone();
                let cut = Cut::Swap { chain: *chain, stage: *stage, translator: translator.clone(), version: v, spec: spec.clone() };
                (vec![(*chain, *stage, spec)], cut)
            }
            Change::Config { translator, config } => {
                if !self.translators.contains_key(translator.as_str()) {
                    return Err(ApiError::not_found(format!("translator: no translator named `{translator}` is loaded")));
                }
                let (base, spec) = self.config_spec(translator, config)?;
                Translator::new(&spec).map_err(|e| ApiError::conflict(format!("config: {translator} does not initialise with it: {e}")))?;
                let at = self.stages_running(translator);
                if at.is_empty() {
                    return Err(ApiError::conflict(format!("translator: {translator} runs at no chain stage; a canary of its config would compare nothing")));
                }
                let cut = Cut::Config { translator: translator.clone(), base, config: config.clone(), spec: spec.clone() };
                (at.into_iter().map(|(c, s)| (c, s, spec.clone())).collect(), cut)
            }
        };
        let (active, candidate) = (self.specs_with(&[])?, self.specs_with(&targets)?);
        // What promotion would refuse (the check every change passes) is refused
        // now, unless the call only wants the comparison.
        let refused = match self.verify(&candidate) {
            Ok(()) => None,
            Err(e) if req.compare_only => Some(e.message),
            Err(e) => return Err(ApiError::conflict(format!("canary: the candidate cannot be promoted: {} (give compare_only to compare it anyway)", e.message))),
        };
        // The shadow's instances say in every log line that they are the canary's copy.
        let (shadow_active, shadow_candidate) = (shadow::shadow_specs(&active, "active"), shadow::shadow_specs(&candidate, "candidate"));
        let mut pairs = Vec::new();
        let mut feeds = Vec::new();
        let mut taps = Vec::new();
        let live: Vec<&mut (&str, Running)> = running.iter_mut().filter(|(_, r)| !r.is_finished()).collect();
        if live.is_empty() {
            return Err(ApiError::conflict("canary: no pipeline is running (the input has ended)"));
        }
        for (d, (dir, r)) in live.iter().map(|x| (&x.0, &x.1)).enumerate() {
            let host = |specs: &[ChainSpec], what: &str| WorkerHost::new(specs, r.decode).map_err(|e| ApiError::conflict(format!("canary: {dir}: the {what} chains do not initialise: {e}")));
            pairs.push(Pair { active: host(&shadow_active, "active")?, candidate: host(&shadow_candidate, "candidate")?, decode: r.decode });
            for _ in &r.controls {
                let (tap, feed) = link(req.sample.sample(), TAP_SLOTS);
                taps.push(tap);
                feeds.push((d, feed));
            }
        }
        if live.iter().flat_map(|x| x.1.controls.iter()).any(|c| c.pending() >= crate::translate::swap::RING_CAPACITY) {
            return Err(ApiError { status: 503, message: "a worker has not taken earlier swaps (its ring is full); no canary started".into() });
        }
        let (cores, policy) = &self.canary_pin;
        let shadow = Shadow::start(pairs, feeds, stop_bound(&active, &candidate), cores, *policy).map_err(|e| ApiError {
            // A core that cannot be had (the cpuset changed since start) is the machine's state, not a server fault.
            status: if e.kind() == std::io::ErrorKind::InvalidInput { 409 } else { 500 },
            message: format!("canary: cannot start its thread: {e}"),
        })?;
        let mut taps = taps.into_iter();
        for (dir, r) in live.into_iter().map(|x| (x.0, &mut x.1)) {
            for (w, c) in r.controls.iter_mut().enumerate() {
                // Room was checked: this does not fail.
                c.set_tap(taps.next()).map_err(|e| ApiError { status: 500, message: format!("{dir} worker {w}: {e}") })?;
            }
        }
        let started_utc = super::body::utc_now();
        self.canary = Some(Canary { req, cut, targets, started: Instant::now(), started_utc, fingerprint: self.fingerprint(), refused, shadow });
        Ok(self.canary_status())
    }

    /// `GET /v1/canary`: the running canary's comparison, or the last one's outcome.
    pub(super) fn canary_status(&self) -> Value {
        let Some(c) = &self.canary else {
            return json!({ "running": false, "last": self.canary_last.clone() });
        };
        let t = c.shadow.tally();
        let (sampled, dropped) = c.shadow.tap_totals();
        let decision = match c.req.criteria.judge(&t) {
            Decision::Promote => json!({ "verdict": "promote", "why": "every criterion holds" }),
            Decision::Abort(why) => json!({ "verdict": "abort", "why": why }),
            Decision::Wait(why) => json!({ "verdict": "wait", "why": why }),
        };
        let per = |ns: u64| if t.packets == 0 { Value::Null } else { json!(ns as f64 / t.packets as f64) };
        let candidate = match &c.req.candidate {
            Change::Swap { chain, stage, translator, version } => json!({ "kind": "swap", "chain": chain, "stage": stage, "translator": translator, "version": version }),
            Change::Config { translator, config } => {
                let base = match &c.cut {
                    Cut::Config { base, .. } => Some(base + 1),
                    Cut::Swap { .. } => None,
                };
                json!({ "kind": "config", "translator": translator, "base_version": base, "config": config.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>(), "stages": c.targets.iter().map(|t| json!([t.0, t.1])).collect::<Vec<_>>() })
            }
        };
        let flows: Vec<Value> = t
            .flows
            .iter()
            .map(|(id, f)| {
                let fields: Vec<Value> = f.fields.iter().map(|((n, a, b), k)| json!({ "field": n, "active": a, "candidate": b, "count": k })).collect();
                json!({
                    "flow": criteria::flow(id), "direction": if id.direction == 1 { "dl" } else { "ul" }, "plane": if id.plane == crate::diff::Plane::U { "u" } else { "c" },
                    "eaxc": id.eaxc_b, "messages_active": f.messages_a, "messages_candidate": f.messages_b, "matched": f.matched, "missing": f.missing, "extra": f.extra,
                    "fields": fields,
                    "iq": { "prbs": f.iq.prbs, "differing_prbs": f.iq.differing_prbs, "evm_db": f.iq.evm_db(), "max_abs_error": f.iq.max_abs_error, "exact": f.iq.exact() },
                })
            })
            .collect();
        let mut names: Vec<&str> = t.flows.values().flat_map(|f| f.fields.keys().map(|k| k.0)).collect();
        names.sort_unstable();
        names.dedup();
        json!({
            "running": true, "candidate": candidate, "sample": c.req.sample.json(), "promote_when": c.req.criteria_text, "auto": c.req.auto,
            "compare_only": c.req.compare_only, "promotable": c.refused.is_none(), "refused": c.refused,
            "started": c.started_utc, "elapsed_s": c.started.elapsed().as_secs_f64(), "active_changed": c.fingerprint != self.fingerprint(),
            "sampled": sampled, "dropped": dropped, "no_buffer": t.no_buffer, "compared": t.packets,
            "verdict_mismatches": t.mismatches, "mismatch_examples": t.mismatch_examples,
            "faults": { "active": t.active_faults, "candidate": t.candidate_faults },
            "ns_per_packet": { "active": per(t.active_ns), "candidate": per(t.candidate_ns) },
            "fields_differing": names, "flows": flows, "decision": decision,
        })
    }

    /// Stops the taps and the shadow; returns the final status with `outcome`.
    fn canary_end(&mut self, outcome: &str, running: &mut [(&str, Running)]) -> Value {
        for (_, r) in running.iter_mut().filter(|(_, r)| !r.is_finished()) {
            for c in &mut r.controls {
                // A full ring leaves the tap in place; its copies then go nowhere
                // (the shadow is gone) and are counted as dropped.
                let _ = c.set_tap(None);
            }
        }
        // The outcome is read once the thread is joined, so it holds every copy compared.
        let joined = self.canary.as_mut().is_none_or(|c| c.shadow.finish());
        let mut last = self.canary_status();
        self.canary = None;
        if !joined {
            last["shadow_note"] = json!("the shadow thread was still in a copy when the wait (the chains' deadlines) ran out; that copy is not counted");
        }
        last["running"] = json!(false);
        last["outcome"] = json!(outcome);
        last["ended"] = json!(super::body::utc_now());
        self.canary_last = Some(last.clone());
        last
    }

    /// `POST /v1/canary/promote`: cuts the candidate over (as its swap or
    /// config change), then stops the canary.
    pub(super) fn canary_promote(&mut self, received: Instant, running: &mut [(&str, Running)], how: &str) -> Reply {
        let Some(c) = &self.canary else { return Err(ApiError::conflict("canary: none is running")) };
        if c.fingerprint != self.fingerprint() {
            return Err(ApiError::conflict("canary: the active chains changed since it started, so it compared against chains that no longer run; abort it and start again"));
        }
        // Exactly the spec the shadow compared, or nothing.
        let cut = match &c.cut {
            Cut::Swap { chain, stage, translator, version, spec } => {
                let (chain, stage, translator, version) = (*chain, *stage, translator.clone(), *version);
                if !self.translators.get(&translator).and_then(|vs| vs.get(version)).is_some_and(|v| Arc::ptr_eq(&v.spec, spec)) {
                    return Err(ApiError::conflict(format!("canary: {translator} v{}, the version it compared, is no longer loaded; abort it", version + 1)));
                }
                self.swap(chain, stage, &translator, Some(version + 1), received, running)?
            }
            Cut::Config { translator, base, config, spec } => {
                let (translator, base, config, spec) = (translator.clone(), *base, config.clone(), spec.clone());
                if !self.translators.get(&translator).and_then(|vs| vs.get(base)).is_some_and(|v| Arc::ptr_eq(&v.spec.module, &spec.module)) {
                    return Err(ApiError::conflict(format!("canary: {translator} v{}, the version its config was compared on, is no longer loaded; abort it", base + 1)));
                }
                self.cut_config(&translator, base, config, spec, received, running)?
            }
        };
        let last = self.canary_end(&format!("promoted ({how})"), running);
        Ok(json!({ "promoted": cut, "canary": last }))
    }

    /// `POST /v1/canary/abort`: stops the canary; the active chains are untouched.
    pub(super) fn canary_abort(&mut self, why: &str, running: &mut [(&str, Running)]) -> Reply {
        if self.canary.is_none() {
            return Err(ApiError::conflict("canary: none is running"));
        }
        Ok(json!({ "canary": self.canary_end(&format!("aborted ({why})"), running) }))
    }

    /// With `auto`, promotes or aborts when the criteria say so (run's
    /// control loop calls this on every pass). Returns whether anything
    /// was cut over.
    pub fn canary_tick(&mut self, running: &mut [(&str, Running)]) -> bool {
        let Some(c) = &self.canary else { return false };
        if !c.req.auto {
            return false;
        }
        let (action, r) = match c.req.criteria.judge(&c.shadow.tally()) {
            Decision::Wait(_) => return false,
            Decision::Promote => ("canary promote", self.canary_promote(Instant::now(), running, "auto: every criterion holds")),
            Decision::Abort(why) => ("canary abort", self.canary_abort(&format!("auto: {why}"), running)),
        };
        self.audit_auto(action, &r);
        if r.is_err() && action == "canary promote" {
            // Could not promote (the active chains changed, or the profiles
            // refuse a compare_only candidate): stop rather than retry every pass.
            let r = self.canary_abort("auto: promotion refused", running);
            self.audit_auto("canary abort", &r);
        }
        action == "canary promote" && r.is_ok()
    }

    /// Appends an automatic canary decision and its reply to the audit
    /// log, as the server does for calls.
    fn audit_auto(&self, action: &str, r: &Reply) {
        let outcome = match r {
            Ok(v) => format!("200 ok: {}", v["canary"]["outcome"].as_str().unwrap_or("")),
            Err(e) => format!("{} {}", e.status, e.message),
        };
        let outcome = outcome.as_str();
        tracing::info!(caller = "canary (auto)", action, outcome, "control call");
        let Some(p) = &self.audit_log else { return };
        let line = json!({ "time": super::body::utc_now(), "caller": "canary (auto)", "action": action, "outcome": outcome }).to_string();
        let ok = std::fs::OpenOptions::new().append(true).create(true).open(p).and_then(|mut f| writeln!(f, "{line}")).is_ok();
        if !ok {
            tracing::error!(action, outcome, "control: cannot append to the audit log");
        }
    }

    /// The canary's Prometheus lines (none when no canary runs).
    pub(super) fn canary_metrics(&self) -> String {
        use std::fmt::Write as _;
        let mut s = String::new();
        let Some(c) = &self.canary else {
            let _ = writeln!(s, "# TYPE fhgate_canary_running gauge\nfhgate_canary_running 0");
            return s;
        };
        let t = c.shadow.tally();
        let (sampled, dropped) = c.shadow.tap_totals();
        let _ = writeln!(s, "# TYPE fhgate_canary_running gauge\nfhgate_canary_running 1");
        for (name, v) in [("sampled", sampled), ("dropped", dropped), ("compared", t.packets), ("verdict_mismatches", t.mismatches)] {
            let _ = writeln!(s, "# TYPE fhgate_canary_{name}_total counter\nfhgate_canary_{name}_total {v}");
        }
        let _ = writeln!(s, "# TYPE fhgate_canary_faults_total counter");
        let _ = writeln!(s, "fhgate_canary_faults_total{{chain=\"active\"}} {}\nfhgate_canary_faults_total{{chain=\"candidate\"}} {}", t.active_faults, t.candidate_faults);
        if t.packets > 0 {
            let _ = writeln!(s, "# TYPE fhgate_canary_ns_per_packet gauge");
            let _ = writeln!(s, "fhgate_canary_ns_per_packet{{chain=\"active\"}} {:.1}", t.active_ns as f64 / t.packets as f64);
            let _ = writeln!(s, "fhgate_canary_ns_per_packet{{chain=\"candidate\"}} {:.1}", t.candidate_ns as f64 / t.packets as f64);
        }
        let _ = writeln!(s, "# TYPE fhgate_canary_evm_db gauge");
        let _ = writeln!(s, "# TYPE fhgate_canary_field_differences_total counter");
        for (id, f) in &t.flows {
            let labels = format!("direction=\"{}\",plane=\"{}\",eaxc=\"{}\"", if id.direction == 1 { "dl" } else { "ul" }, if id.plane == crate::diff::Plane::U { "u" } else { "c" }, id.eaxc_b);
            if let Some(e) = f.iq.evm_db() {
                let _ = writeln!(s, "fhgate_canary_evm_db{{{labels}}} {e:.2}");
            }
            let mut by_name: std::collections::BTreeMap<&str, u64> = std::collections::BTreeMap::new();
            for ((name, _, _), n) in &f.fields {
                *by_name.entry(name).or_default() += n;
            }
            for (name, n) in by_name {
                let _ = writeln!(s, "fhgate_canary_field_differences_total{{{labels},field=\"{name}\"}} {n}");
            }
        }
        s
    }
}
