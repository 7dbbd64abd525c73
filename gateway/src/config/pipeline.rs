//! `[pipeline]`: workers, bursts, rings, threading, and where each
//! direction's threads run (`[pipeline.dl]`, `[pipeline.ul]`, `pin`).

use serde::Deserialize;

use super::side::default_auto;
use super::{err, ConfigError};
use crate::pipeline::pinning::{CoreSet, PinPolicy};
use crate::pipeline::polling::{Polling, DEFAULT_SLEEP_AFTER};
use crate::pipeline::runner::Threading;

/// Pipeline settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PipelineConfig {
    /// Worker threads per direction.
    pub workers: usize,
    /// Where the DL direction's threads run.
    pub dl_cores: CoreSet,
    /// Where the UL direction's threads run.
    pub ul_cores: CoreSet,
    /// Most packets per burst.
    pub burst: usize,
    /// Slots in each ring between stages.
    pub ring_size: usize,
    /// Move a flow's eCPRI sequence IDs by the packets egress splits add
    /// to it (they pass as sent until then); false leaves them as they are.
    pub renumber_seq_id: bool,
    /// How stages map onto threads (`threading = "auto"`: run to
    /// completion with one worker, pipelined with more).
    pub threading: Threading,
    /// How idle stages wait (`polling`, `sleep_after_us`).
    pub polling: Polling,
    /// The cores came from `[pipeline] cores` (both directions' workers),
    /// so errors name that key.
    pub shared_cores: bool,
}

impl PipelineConfig {
    /// The core set of a direction: DL when `port_direction` is 1.
    pub fn cores_for(&self, port_direction: u8) -> &CoreSet {
        if port_direction == 1 {
            &self.dl_cores
        } else {
            &self.ul_cores
        }
    }

    /// Every core either direction names, each once.
    pub fn all_cores(&self) -> Vec<usize> {
        let mut v = self.dl_cores.all();
        v.extend(self.ul_cores.all().into_iter().filter(|c| !self.dl_cores.all().contains(c)));
        v
    }

    /// Refuses, under `pin = "strict"`, a core this process may not run on
    /// (`available`), naming its key; best-effort leaves it to the thread
    /// to warn.
    pub fn check_cores(&self, available: &[usize]) -> Result<(), ConfigError> {
        for (dir, set) in [("dl", &self.dl_cores), ("ul", &self.ul_cores)] {
            if set.policy == PinPolicy::BestEffort {
                continue;
            }
            if self.shared_cores {
                if let Some(i) = set.workers.iter().position(|c| !available.contains(c)) {
                    return err(format!("pipeline.cores[{i}]"), format!("core {} is not one this process may run on ({available:?})", set.workers[i]));
                }
                continue;
            }
            for (what, list) in [("worker_cores", &set.workers), ("rx_cores", &set.rx), ("tx_cores", &set.tx)] {
                if let Some(i) = list.iter().position(|c| !available.contains(c)) {
                    return err(
                        format!("pipeline.{dir}.{what}[{i}]"),
                        format!("core {} is not one this process may run on ({available:?}); pin = \"best-effort\" runs on unpinned instead", list[i]),
                    );
                }
            }
        }
        Ok(())
    }
}

impl PipelineConfig {
    /// What the core sets allow but an operator should hear of: under
    /// `pin = "best-effort"`, a core this process may not run on (its
    /// thread runs unpinned), and a core given to two workers of one
    /// direction (they share it). Each line names its key.
    pub fn core_warnings(&self, available: &[usize]) -> Vec<String> {
        let mut w = Vec::new();
        for (dir, set) in [("dl", &self.dl_cores), ("ul", &self.ul_cores)] {
            let key = |what: &str| if self.shared_cores { "pipeline.cores".to_string() } else { format!("pipeline.{dir}.{what}") };
            for (what, list) in [("worker_cores", &set.workers), ("rx_cores", &set.rx), ("tx_cores", &set.tx)] {
                if set.policy == PinPolicy::BestEffort {
                    for (i, c) in list.iter().enumerate().filter(|(_, c)| !available.contains(c)) {
                        w.push(format!("{}[{i}]: core {c} is not one this process may run on ({available:?}): with pin = \"best-effort\" that thread runs unpinned", key(what)));
                    }
                }
            }
            for (i, c) in set.workers.iter().enumerate() {
                // Once per core, at its first repeat.
                if set.workers[..i].iter().filter(|x| *x == c).count() == 1 {
                    let n = set.workers.iter().filter(|x| *x == c).count();
                    let whose = if self.shared_cores { "workers of each direction".to_string() } else { format!("{dir} workers") };
                    w.push(format!("{}: core {c} is given to {n} {whose}: they share it", key("worker_cores")));
                }
            }
            if self.shared_cores {
                break; // one list for both directions
            }
        }
        w
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPipeline {
    #[serde(default = "default_workers")]
    workers: usize,
    /// The older form: one core per worker, the same for both directions.
    #[serde(default)]
    cores: Vec<usize>,
    pin: Option<String>,
    polling: Option<String>,
    sleep_after_us: Option<u64>,
    coalesce_us: Option<u64>,
    dl: Option<RawCores>,
    ul: Option<RawCores>,
    #[serde(default = "default_burst")]
    burst: usize,
    #[serde(default = "default_ring")]
    ring_size: usize,
    #[serde(default = "default_true")]
    renumber_seq_id: bool,
    #[serde(default = "default_auto")]
    threading: String,
}

/// `[pipeline.dl]` / `[pipeline.ul]`: one direction's core set.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawCores {
    #[serde(default)]
    worker_cores: Vec<usize>,
    #[serde(default)]
    rx_cores: Vec<usize>,
    #[serde(default)]
    tx_cores: Vec<usize>,
}

impl Default for RawPipeline {
    fn default() -> Self {
        RawPipeline {
            workers: default_workers(),
            cores: Vec::new(),
            pin: None,
            polling: None,
            sleep_after_us: None,
            coalesce_us: None,
            dl: None,
            ul: None,
            burst: default_burst(),
            ring_size: default_ring(),
            renumber_seq_id: true,
            threading: default_auto(),
        }
    }
}

fn default_workers() -> usize {
    1
}
fn default_burst() -> usize {
    32
}
fn default_ring() -> usize {
    4096
}
fn default_true() -> bool {
    true
}

impl RawPipeline {
    pub(super) fn validate(self) -> Result<PipelineConfig, ConfigError> {
        let p = self;
        if !(1..=64).contains(&p.workers) {
            return err("pipeline.workers", format!("{} is outside 1-64", p.workers));
        }
        if !(1..=crate::translate::BURST_MAX_IN).contains(&p.burst) {
            return err("pipeline.burst", format!("{} is outside 1-{}", p.burst, crate::translate::BURST_MAX_IN));
        }
        if !p.ring_size.is_power_of_two() || p.ring_size < 64 {
            return err("pipeline.ring_size", format!("{} must be a power of two, at least 64", p.ring_size));
        }
        let threading = match p.threading.as_str() {
            "auto" => Threading::for_workers(p.workers),
            "run-to-completion" if p.workers == 1 => Threading::RunToCompletion,
            "run-to-completion" => return err("pipeline.threading", format!("run-to-completion has one worker, but workers = {}", p.workers)),
            "pipelined" => Threading::Pipelined,
            other => return err("pipeline.threading", format!("`{other}`: expected auto, run-to-completion or pipelined")),
        };
        let policy = match p.pin.as_deref() {
            None | Some("strict") => PinPolicy::Strict,
            Some("best-effort") => PinPolicy::BestEffort,
            Some(other) => return err("pipeline.pin", format!("`{other}`: expected strict or best-effort")),
        };
        let coalesce = match (p.polling.as_deref(), p.coalesce_us) {
            (_, None) => std::time::Duration::ZERO,
            (None | Some("adaptive"), Some(us @ 0..=1_000)) => std::time::Duration::from_micros(us),
            (None | Some("adaptive"), Some(us)) => return err("pipeline.coalesce_us", format!("{us} is outside 0-1000")),
            (Some(m), Some(_)) => return err("pipeline.coalesce_us", format!("only adaptive polling coalesces (polling = \"{m}\")")),
        };
        let polling = match (p.polling.as_deref(), p.sleep_after_us) {
            (None | Some("adaptive"), None) => Polling::Adaptive { sleep_after: DEFAULT_SLEEP_AFTER, coalesce },
            (None | Some("adaptive"), Some(us @ 1..=1_000_000)) => Polling::Adaptive { sleep_after: std::time::Duration::from_micros(us), coalesce },
            (None | Some("adaptive"), Some(us)) => return err("pipeline.sleep_after_us", format!("{us} is outside 1-1000000")),
            (Some(m @ ("busy" | "interrupt")), Some(_)) => return err("pipeline.sleep_after_us", format!("only adaptive polling sleeps after an idle time (polling = \"{m}\")")),
            (Some("busy"), None) => Polling::Busy,
            (Some("interrupt"), None) => Polling::Interrupt,
            (Some(other), _) => return err("pipeline.polling", format!("`{other}`: expected busy, adaptive or interrupt")),
        };
        let shared_cores = p.dl.is_none() && p.ul.is_none();
        let (dl_cores, ul_cores) = match (p.dl, p.ul) {
            (None, None) => (CoreSet::workers(p.cores.clone(), policy), CoreSet::workers(p.cores, policy)),
            (dl, ul) => {
                if !p.cores.is_empty() {
                    return err("pipeline.cores", "give each direction its cores in [pipeline.dl] and [pipeline.ul], or both the same in `cores`, not both");
                }
                let set = |dir: &str, raw: Option<RawCores>| -> Result<CoreSet, ConfigError> {
                    let r = raw.unwrap_or_default();
                    if !r.worker_cores.is_empty() && r.worker_cores.len() != p.workers {
                        return err(format!("pipeline.{dir}.worker_cores"), format!("names {} cores for {} workers: one per worker, or none", r.worker_cores.len(), p.workers));
                    }
                    for (what, list) in [("rx_cores", &r.rx_cores), ("tx_cores", &r.tx_cores)] {
                        if !list.is_empty() && threading == Threading::RunToCompletion {
                            return err(format!("pipeline.{dir}.{what}"), "run to completion (one worker) has no RX or TX thread of its own: its one thread runs on worker_cores[0]");
                        }
                    }
                    Ok(CoreSet { workers: r.worker_cores, rx: r.rx_cores, tx: r.tx_cores, policy })
                };
                (set("dl", dl)?, set("ul", ul)?)
            }
        };
        Ok(PipelineConfig { workers: p.workers, dl_cores, ul_cores, burst: p.burst, ring_size: p.ring_size, renumber_seq_id: p.renumber_seq_id, threading, polling, shared_cores })
    }
}
