//! End-of-run translator counters for `replay` and `run`: per chain
//! position, the calls, faults by kind, whether it was disabled, packets
//! by verdict and the translator's own counters (`counter_define`),
//! summed over every worker (and both directions) that ran it. Read off
//! the hot path, from the statistics each [`Control`] keeps.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use super::host::Shared;
use super::swap::Control;

/// One translator's totals.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TranslatorSummary {
    /// Chain index.
    pub chain: usize,
    /// Position in the chain.
    pub stage: usize,
    /// Its metadata name.
    pub name: String,
    /// Whether this is the fallback of the translator at this position.
    pub fallback: bool,
    /// Instances summed (one per worker and direction).
    pub instances: usize,
    /// Calls to `fhgate_process`.
    pub calls: u64,
    /// Faults: traps.
    pub faults_trap: u64,
    /// Faults: missed deadlines.
    pub faults_deadline: u64,
    /// Faults: bad output.
    pub faults_bad_output: u64,
    /// Instances that N faults within T disabled.
    pub disabled: usize,
    /// Packets handed to it.
    pub packets_in: u64,
    /// Of those: forwarded unchanged.
    pub forwarded: u64,
    /// Modified.
    pub modified: u64,
    /// Dropped.
    pub dropped: u64,
    /// Extra packets it produced.
    pub extras: u64,
    /// Packets of its chain it did not want (never handed to it).
    pub bypassed: u64,
    /// Packets its fault policy handled (after a fault, or while disabled).
    pub policy_packets: u64,
    /// Outputs not used for want of room.
    pub no_room: u64,
    /// Its own counters, by name.
    pub counters: BTreeMap<String, u64>,
}

impl TranslatorSummary {
    /// All faults.
    pub fn faults(&self) -> u64 {
        self.faults_trap + self.faults_deadline + self.faults_bad_output
    }

    fn add(&mut self, s: &Shared) {
        let st = &s.stats;
        self.instances += 1;
        self.calls += st.calls.load(Relaxed);
        self.faults_trap += st.faults_trap.load(Relaxed);
        self.faults_deadline += st.faults_deadline.load(Relaxed);
        self.faults_bad_output += st.faults_bad_output.load(Relaxed);
        self.disabled += st.disabled.load(Relaxed) as usize;
        self.packets_in += st.packets_in.load(Relaxed);
        self.forwarded += st.forwarded.load(Relaxed);
        self.modified += st.modified.load(Relaxed);
        self.dropped += st.dropped.load(Relaxed);
        self.extras += st.extras.load(Relaxed);
        self.bypassed += st.bypassed.load(Relaxed);
        self.policy_packets += st.policy_packets.load(Relaxed);
        self.no_room += st.no_room.load(Relaxed);
        for (n, v) in s.counters.snapshot() {
            *self.counters.entry(n).or_default() += v;
        }
    }

    /// As JSON: `disabled` is a boolean (any instance disabled), with
    /// `disabled_instances` beside it.
    pub fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "chain": self.chain, "stage": self.stage, "name": self.name, "fallback": self.fallback,
            "instances": self.instances, "calls": self.calls,
            "faults": {"trap": self.faults_trap, "deadline": self.faults_deadline, "bad_output": self.faults_bad_output, "total": self.faults()},
            "disabled": self.disabled > 0, "disabled_instances": self.disabled,
            "packets": {"in": self.packets_in, "forwarded": self.forwarded, "modified": self.modified, "dropped": self.dropped,
                        "extras": self.extras, "bypassed": self.bypassed, "fault_policy": self.policy_packets, "no_room": self.no_room},
            "counters": self.counters,
        })
    }

    /// One line of text, then a line of its own counters if it has any.
    pub fn text(&self) -> String {
        let mut s = format!(
            "  translator chain[{}][{}] {}{}: {} calls, faults {} (trap {}, deadline {}, bad output {}), disabled {}, packets in {}: forwarded {}, modified {}, dropped {}, extras {}, bypassed {}, by fault policy {}",
            self.chain,
            self.stage,
            self.name,
            if self.fallback { " (fallback)" } else { "" },
            self.calls,
            self.faults(),
            self.faults_trap,
            self.faults_deadline,
            self.faults_bad_output,
            if self.disabled > 0 { format!("YES ({} of {} instances)", self.disabled, self.instances) } else { "no".into() },
            self.packets_in,
            self.forwarded,
            self.modified,
            self.dropped,
            self.extras,
            self.bypassed,
            self.policy_packets,
        );
        if !self.counters.is_empty() {
            let _ = write!(s, "\n    counters:");
            for (n, v) in &self.counters {
                let _ = write!(s, " {n} {v}");
            }
        }
        s
    }
}

/// The translators every control's worker has installed (the latest at
/// each chain position, and each one's fallback), summed per position.
/// Instances are told apart by their shared statistics, so one counted
/// twice is counted once.
pub fn summarize<'a>(controls: impl IntoIterator<Item = &'a Control>) -> Vec<TranslatorSummary> {
    let mut by_pos: BTreeMap<(usize, usize, bool), TranslatorSummary> = BTreeMap::new();
    let mut seen: Vec<*const Shared> = Vec::new();
    let mut add = |chain: usize, stage: usize, fallback: bool, s: &Arc<Shared>| {
        let ptr = Arc::as_ptr(s);
        if seen.contains(&ptr) {
            return;
        }
        seen.push(ptr);
        let e = by_pos.entry((chain, stage, fallback)).or_insert_with(|| TranslatorSummary { chain, stage, fallback, name: s.name.clone(), ..Default::default() });
        e.add(s);
    };
    for c in controls {
        for (chain, stage, inst) in c.installed() {
            add(chain, stage, false, &inst.main);
            if let Some(f) = &inst.fallback {
                add(chain, stage, true, f);
            }
        }
    }
    by_pos.into_values().collect()
}

/// The summaries as a JSON array.
pub fn json(all: &[TranslatorSummary]) -> serde_json::Value {
    serde_json::Value::Array(all.iter().map(TranslatorSummary::json).collect())
}
