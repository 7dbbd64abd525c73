//! The gateway's TOML configuration: the two sides (DU and RU) with their
//! ports, eAxC layout, carrier, static compression and VLAN; the
//! translators with their config tables, limits and fault policy; the
//! chains that select them; the pipeline and metrics settings.
//!
//! [`GatewayConfig::from_toml`] parses and validates in one step; every
//! error names the key (`chain[1].translators[0]`) and says why.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use ecpri::frame::DecodeConfig;
use serde::Deserialize;

mod bridge;
mod control;
mod owd;
mod pipeline;
mod side;
pub mod profile;
mod timing;

use side::{side, RawSide};
pub use control::{ControlConfig, ControlListen};
pub use owd::{parse_mac, OwdConfig};
pub use pipeline::PipelineConfig;
use pipeline::RawPipeline;
use crate::pipeline::pinning::PinPolicy;
pub use side::{parse_comp, parse_port_spec, parse_queues, MAX_LANES};
pub use timing::TimingConfig;

/// A configuration error: the key at fault and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// Dotted key path, e.g. `du.dl_comp` or `chain[0].select`.
    pub key: String,
    /// What is wrong with it.
    pub why: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.key, self.why)
    }
}

impl std::error::Error for ConfigError {}

fn err<T>(key: impl Into<String>, why: impl Into<String>) -> Result<T, ConfigError> {
    Err(ConfigError { key: key.into(), why: why.into() })
}

/// The packet I/O backend of a port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backend {
    /// Read frames from a capture file and write egress to another.
    Pcap {
        /// Capture to read (none: this side sends nothing).
        input: Option<PathBuf>,
        /// Capture to write what the gateway sends out of this side.
        output: Option<PathBuf>,
    },
    /// AF_XDP on a network interface.
    AfXdp(AfXdpConfig),
    /// AF_PACKET (TPACKET_V3 mmap ring) on a network interface.
    AfPacket(AfPacketConfig),
    /// eCPRI over UDP (IPv4 or IPv6).
    Udp(UdpConfig),
}

/// Which XDP attach mode to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum XdpMode {
    /// Driver (native) mode where the driver has it, else generic.
    Auto,
    /// Generic (SKB) mode: works on any interface, slower.
    Generic,
    /// Driver (native) mode; an error where the driver lacks it.
    Driver,
}

/// Whether AF_XDP copies frames between the driver and the UMEM.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum XdpCopy {
    /// Zero-copy where the driver supports it, else copy.
    Auto,
    /// Always copy (works everywhere).
    Copy,
    /// Zero-copy; an error where the driver lacks it.
    ZeroCopy,
}

/// An AF_XDP port: keys `interface`, `queue` or `queues`, `xdp_mode`,
/// `xdp_copy`, `umem_frames`, `xdp_ring_size`, `busy_poll_us`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AfXdpConfig {
    /// Interface name.
    pub interface: String,
    /// The (first) NIC queue a socket binds to.
    pub queue: u32,
    /// How many queues from `queue` on get a socket each (`queues = "0-3"`: 4).
    pub queues: u32,
    /// Attach mode of the XDP program.
    pub mode: XdpMode,
    /// Copy or zero-copy.
    pub copy: XdpCopy,
    /// UMEM frames (4 KiB chunks), half for receiving and half for sending.
    pub umem_frames: u32,
    /// Entries in each of the fill, RX, TX and completion rings.
    pub ring_size: u32,
    /// Busy-poll budget in µs (SO_BUSY_POLL with SO_PREFER_BUSY_POLL); none: off.
    pub busy_poll_us: Option<u32>,
}

/// An AF_PACKET port: keys `interface`, `packet_block_kib`, `packet_blocks`,
/// `sockets`, `fanout`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AfPacketConfig {
    /// Interface name.
    pub interface: String,
    /// Size of one TPACKET_V3 ring block, bytes (a power of two, page multiple).
    pub block_size: u32,
    /// Blocks in each of the RX and TX rings.
    pub blocks: u32,
    /// Socket pairs (RX ring + TX ring); more than one join one PACKET_FANOUT group.
    pub sockets: u32,
    /// How the fanout group spreads frames over the sockets.
    pub fanout: Fanout,
}

/// PACKET_FANOUT's mode: which socket of the group a received frame goes to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Fanout {
    /// PACKET_FANOUT_HASH: by the kernel's flow hash (IP/UDP fields; every
    /// eCPRI-over-Ethernet frame has the same), so a flow stays on one socket.
    #[default]
    Hash,
    /// PACKET_FANOUT_CPU: by the CPU that received the frame.
    Cpu,
    /// PACKET_FANOUT_QM: by the RX queue the NIC put the frame on (`queue`).
    Queue,
    /// PACKET_FANOUT_CBPF with fhgate's program: by the frame's eAxC
    /// (ecpriPcid mod the number of sockets), wherever it came in (`eaxc`).
    Eaxc,
}

impl Fanout {
    /// The name the configuration spells.
    pub fn name(self) -> &'static str {
        match self {
            Fanout::Hash => "hash",
            Fanout::Cpu => "cpu",
            Fanout::Queue => "queue",
            Fanout::Eaxc => "eaxc",
        }
    }
}

/// A UDP port: keys `bind` and `peer`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UdpConfig {
    /// Local address:port to receive on.
    pub bind: std::net::SocketAddr,
    /// Address:port frames are sent to.
    pub peer: std::net::SocketAddr,
}

impl Backend {
    /// How many receive/transmit pairs the port opens: AF_XDP queues,
    /// AF_PACKET fanout sockets; 1 for the others.
    pub fn lanes(&self) -> u32 {
        match self {
            Backend::AfXdp(c) => c.queues,
            Backend::AfPacket(c) => c.sockets,
            _ => 1,
        }
    }

    /// The backend's name as the config file spells it.
    pub fn name(&self) -> &'static str {
        match self {
            Backend::Pcap { .. } => "pcap",
            Backend::AfXdp(_) => "af_xdp",
            Backend::AfPacket(_) => "af_packet",
            Backend::Udp(_) => "udp",
        }
    }
}

/// One side of the gateway: the DU-facing or the RU-facing port.
#[derive(Debug, Clone, PartialEq)]
pub struct Side {
    /// How frames enter and leave.
    pub backend: Backend,
    /// What the wire does not carry, as this side's equipment expects it.
    pub decode: DecodeConfig,
    /// Numerology µ of the carrier.
    pub numerology: u8,
    /// VLAN ID this side's traffic carries, if any.
    pub vlan: Option<u16>,
    /// Egress MTU (largest Ethernet payload) towards this side.
    pub mtu: usize,
    /// What egress does with a frame towards this side that is larger than
    /// `mtu` and cannot be split (key `oversize`: drop, forward or cut).
    pub oversize: crate::pipeline::egress::OversizePolicy,
}

/// One translator as configured.
#[derive(Debug, Clone, PartialEq)]
pub struct TranslatorConfig {
    /// The name chains refer to.
    pub name: String,
    /// The `.wasm` (or `.wat`) file.
    pub path: PathBuf,
    /// Its config table, flattened to `key=value` pairs (values as TOML).
    pub config: Vec<(String, String)>,
    /// Cap on linear memory, bytes.
    pub memory_limit: usize,
    /// Deadline per burst.
    pub deadline: Duration,
    /// What to do with a burst when it faults.
    pub fault_policy: FaultPolicyConfig,
    /// Faults within `fault_window` that disable it.
    pub fault_limit: u32,
    /// The window for `fault_limit`.
    pub fault_window: Duration,
}

/// `fault_policy = "pass" | "drop" | "fallback:NAME"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FaultPolicyConfig {
    /// Send the burst's inputs unchanged.
    Pass,
    /// Send nothing for the burst.
    Drop,
    /// Run the burst through the named translator instead.
    Fallback(String),
}

/// A chain: which packets, and the translators they go through in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainConfig {
    /// Selector text, e.g. `dir=dl,plane=u,eaxc=0x0000/0xf000,vlan=2`.
    pub select: String,
    /// Translator names, in order.
    pub translators: Vec<String>,
}

/// The whole configuration, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct GatewayConfig {
    /// The DU-facing side.
    pub du: Side,
    /// The RU-facing side.
    pub ru: Side,
    /// Translators by name, in file order.
    pub translators: Vec<TranslatorConfig>,
    /// Chains, first match wins.
    pub chains: Vec<ChainConfig>,
    /// Pipeline settings.
    pub pipeline: PipelineConfig,
    /// Where Prometheus metrics are served: loopback unless `metrics_expose`.
    pub metrics_listen: Option<std::net::SocketAddr>,
    /// `[metrics] expose = true`: serve on a non-loopback `listen` too (a
    /// pod's address, for Prometheus and the kubelet's probes).
    pub metrics_expose: bool,
    /// Which non-fronthaul classes cross (`[passthrough]`).
    pub passthrough: crate::bridge::Passthrough,
    /// The PTP transparent clock (`[ptp] transparent_clock`).
    pub ptp_tc: crate::bridge::tc::TcMode,
    /// Receive-window measurement (`[timing]`), if configured.
    pub timing: Option<TimingConfig>,
    /// The control API (`[control]`), if served.
    pub control: Option<ControlConfig>,
    /// One-way delay towards the DU and the RU (`[owd]`), if measured.
    pub owd: Option<OwdConfig>,
}

// ---- the file as written ----------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    du: RawSide,
    ru: RawSide,
    #[serde(default)]
    translator: Vec<RawTranslator>,
    #[serde(default)]
    chain: Vec<RawChain>,
    #[serde(default)]
    pipeline: RawPipeline,
    #[serde(default)]
    metrics: RawMetrics,
    #[serde(default)]
    passthrough: bridge::RawPassthrough,
    #[serde(default)]
    ptp: bridge::RawPtp,
    timing: Option<timing::RawTiming>,
    #[serde(default)]
    control: control::RawControl,
    owd: Option<owd::RawOwd>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTranslator {
    name: String,
    path: PathBuf,
    #[serde(default)]
    config: toml::Table,
    #[serde(default = "default_memory")]
    memory_limit_mib: usize,
    #[serde(default = "default_deadline_us")]
    deadline_us: u64,
    #[serde(default = "default_policy")]
    fault_policy: String,
    #[serde(default = "default_fault_limit")]
    fault_limit: u32,
    #[serde(default = "default_fault_window_s")]
    fault_window_s: f64,
}

fn default_memory() -> usize {
    16
}
fn default_deadline_us() -> u64 {
    1000
}
fn default_policy() -> String {
    "pass".into()
}
fn default_fault_limit() -> u32 {
    5
}
fn default_fault_window_s() -> f64 {
    10.0
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawChain {
    select: String,
    translators: Vec<String>,
}


#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawMetrics {
    listen: Option<String>,
    #[serde(default)]
    expose: bool,
}


/// Flattens a TOML table into `key=value` pairs, nested tables as dotted
/// keys, values in TOML syntax (ABI §4).
pub fn flatten_table(t: &toml::Table) -> Vec<(String, String)> {
    fn walk(prefix: &str, t: &toml::Table, out: &mut Vec<(String, String)>) {
        for (k, v) in t {
            let key = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
            match v {
                toml::Value::Table(inner) => walk(&key, inner, out),
                other => out.push((key, other.to_string())),
            }
        }
    }
    let mut out = Vec::new();
    walk("", t, &mut out);
    out
}

/// The inverse of [`flatten_table`]: `key=value` pairs (values in TOML
/// syntax, dotted keys) back to a table; the error names the pair.
pub fn unflatten_pairs(pairs: &[(String, String)]) -> Result<toml::Table, ConfigError> {
    let text: String = pairs.iter().map(|(k, v)| format!("{k} = {v}\n")).collect();
    toml::from_str(&text).map_err(|e| {
        let line = e.span().map(|s| text[..s.start].lines().count().max(1)).unwrap_or(1);
        let key = pairs.get(line - 1).map_or("config".to_string(), |(k, _)| format!("config.{k}"));
        ConfigError { key, why: e.message().to_string() }
    })
}

impl GatewayConfig {
    /// Parses and validates a configuration file's text.
    pub fn from_toml(text: &str) -> Result<GatewayConfig, ConfigError> {
        let merged = profile::merge_profiles(text)?;
        let text = merged.as_deref().unwrap_or(text);
        let raw: RawFile = toml::from_str(text).map_err(|e| {
            // toml says only "duplicate key" and points at the table: name the key and both lines.
            if e.message().starts_with("duplicate key") {
                if let Some((key, first, again)) = profile::duplicate_key(text) {
                    return ConfigError { key: format!("line {again}"), why: format!("duplicate key `{key}` (first given on line {first})") };
                }
            }
            // toml reports the span; turn it into a line number, and name the key there.
            let line = e.span().map(|s| text[..s.start].lines().count().max(1));
            let key = line.and_then(|l| profile::key_at(text, l).map(|k| format!("line {l} ({k})")).or(Some(format!("line {l}"))));
            ConfigError { key: key.unwrap_or_else(|| "(file)".into()), why: e.message().to_string() }
        })?;
        let du = side("du", raw.du)?;
        let ru = side("ru", raw.ru)?;
        let mut translators = Vec::new();
        let mut names = BTreeMap::new();
        for (i, t) in raw.translator.into_iter().enumerate() {
            let k = |f: &str| format!("translator[{i}].{f}");
            if t.name.is_empty() || !t.name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
                return err(k("name"), format!("`{}`: use letters, digits, `_` and `-`", t.name));
            }
            if let Some(j) = names.insert(t.name.clone(), i) {
                return err(k("name"), format!("`{}` is already the name of translator[{j}]", t.name));
            }
            let ext = t.path.extension().and_then(|e| e.to_str()).unwrap_or("");
            if ext != "wasm" && ext != "wat" {
                return err(k("path"), format!("{}: a translator is a .wasm (or .wat) module; precompiled native code is never loaded", t.path.display()));
            }
            if !(1..=4096).contains(&t.memory_limit_mib) {
                return err(k("memory_limit_mib"), format!("{} is outside 1-4096", t.memory_limit_mib));
            }
            if !(10..=1_000_000).contains(&t.deadline_us) {
                return err(k("deadline_us"), format!("{} is outside 10-1000000", t.deadline_us));
            }
            let fault_policy = match t.fault_policy.split_once(':') {
                None if t.fault_policy == "pass" => FaultPolicyConfig::Pass,
                None if t.fault_policy == "drop" => FaultPolicyConfig::Drop,
                Some(("fallback", n)) if !n.is_empty() => FaultPolicyConfig::Fallback(n.to_string()),
                _ => return err(k("fault_policy"), format!("`{}`: expected pass, drop or fallback:NAME", t.fault_policy)),
            };
            if t.fault_limit == 0 {
                return err(k("fault_limit"), "must be at least 1");
            }
            if !(t.fault_window_s > 0.0 && t.fault_window_s <= 86_400.0) {
                return err(k("fault_window_s"), format!("{} is outside (0, 86400]", t.fault_window_s));
            }
            translators.push(TranslatorConfig {
                name: t.name,
                path: t.path,
                config: {
                    let pairs = flatten_table(&t.config);
                    if let Some(key) = fhgate_formats::pairs::first_duplicate(pairs.iter().map(|(k, _)| k.as_str())) {
                        return err(k(&format!("config.{key}")), "given twice (as a nested table and as a dotted key); the translator would see only one");
                    }
                    pairs
                },
                memory_limit: t.memory_limit_mib << 20,
                deadline: Duration::from_micros(t.deadline_us),
                fault_policy,
                fault_limit: t.fault_limit,
                fault_window: Duration::from_secs_f64(t.fault_window_s),
            });
        }
        for (i, t) in translators.iter().enumerate() {
            if let FaultPolicyConfig::Fallback(n) = &t.fault_policy {
                if !names.contains_key(n) {
                    return err(format!("translator[{i}].fault_policy"), format!("no translator named `{n}`"));
                }
                if n == &t.name {
                    return err(format!("translator[{i}].fault_policy"), "a translator cannot be its own fallback");
                }
            }
        }
        let mut chains: Vec<ChainConfig> = Vec::new();
        let mut selectors = Vec::new();
        for (i, c) in raw.chain.into_iter().enumerate() {
            let sel = crate::translate::Selector::parse(&c.select).or_else(|why| err(format!("chain[{i}].select"), why))?;
            // The first matching chain takes a packet: a chain whose packets an earlier one all takes never runs.
            if let Some(j) = selectors.iter().position(|s| covers(s, &sel)) {
                return err(format!("chain[{i}].select"), format!("`{}` never matches: chain[{j}] (`{}`) comes first and takes every packet it would", c.select, chains[j].select));
            }
            selectors.push(sel);
            if c.translators.is_empty() {
                return err(format!("chain[{i}].translators"), "a chain needs at least one translator");
            }
            for (j, n) in c.translators.iter().enumerate() {
                if !names.contains_key(n) {
                    return err(format!("chain[{i}].translators[{j}]"), format!("no translator named `{n}`"));
                }
            }
            chains.push(ChainConfig { select: c.select, translators: c.translators });
        }
        let pipeline = raw.pipeline.validate()?;
        let metrics_listen = match raw.metrics.listen {
            None => None,
            Some(s) => {
                let a: std::net::SocketAddr =
                    s.parse().or_else(|_| err("metrics.listen", format!("`{s}` is not an address:port")))?;
                // The endpoint has no authentication: leaving loopback is an explicit choice.
                if !a.ip().is_loopback() && !raw.metrics.expose {
                    return err(
                        "metrics.listen",
                        format!("{a} is not a loopback address; set `expose = true` in [metrics] to serve metrics there (no authentication)"),
                    );
                }
                Some(a)
            }
        };
        let owd = raw.owd.map(|o| o.validate(&du, &ru)).transpose()?;
        Ok(GatewayConfig {
            du,
            ru,
            translators,
            chains,
            pipeline,
            metrics_listen,
            metrics_expose: raw.metrics.expose,
            passthrough: bridge::passthrough(raw.passthrough)?,
            ptp_tc: bridge::ptp(raw.ptp)?,
            timing: raw.timing.map(timing::RawTiming::validate).transpose()?,
            control: control::control(raw.control)?,
            owd,
        })
    }

    /// Reads and validates a configuration file.
    pub fn load(path: &std::path::Path) -> anyhow::Result<GatewayConfig> {
        let text = std::fs::read_to_string(path).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
        let cfg = GatewayConfig::from_toml(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        cfg.check_files().map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        let available: Vec<usize> = core_affinity::get_core_ids().unwrap_or_default().iter().map(|c| c.id).collect();
        cfg.check_cores(&available).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        // Said, not silently accepted: what best-effort pinning and shared
        // worker cores will do.
        for w in cfg.core_warnings(&available) {
            tracing::warn!("{}: {w}", path.display());
        }
        Ok(cfg)
    }

    /// Refuses a core this process may not run on (`available`) under
    /// `pin = "strict"`: pinning to it would fail once the ports are open.
    /// The canary's shadow thread follows `[pipeline] pin` too.
    pub fn check_cores(&self, available: &[usize]) -> Result<(), ConfigError> {
        self.pipeline.check_cores(available)?;
        if self.pipeline.dl_cores.policy == PinPolicy::Strict {
            let cores = self.control.as_ref().map_or(&[][..], |c| &c.canary_cores[..]);
            if let Some((i, c)) = cores.iter().enumerate().find(|(_, c)| !available.contains(c)) {
                return err(format!("control.canary_cores[{i}]"), format!("core {c} is not one this process may run on ({available:?}); pin = \"best-effort\" runs the shadow unpinned instead"));
            }
        }
        Ok(())
    }

    /// What pinning will do that the user may not expect, each line naming
    /// its key: the pipeline's ([`PipelineConfig::core_warnings`]), a
    /// canary core that cannot be had under best-effort, and one a worker
    /// also runs on (the shadow's work would slow that worker).
    pub fn core_warnings(&self, available: &[usize]) -> Vec<String> {
        let mut w = self.pipeline.core_warnings(available);
        let cores = self.control.as_ref().map_or(&[][..], |c| &c.canary_cores[..]);
        let workers = [&self.pipeline.dl_cores.workers, &self.pipeline.ul_cores.workers];
        for (i, c) in cores.iter().enumerate() {
            if !available.contains(c) && self.pipeline.dl_cores.policy == PinPolicy::BestEffort {
                w.push(format!("control.canary_cores[{i}]: core {c} is not one this process may run on ({available:?}): with pin = \"best-effort\" the shadow thread runs unpinned"));
            }
            if workers.iter().any(|ws| ws.contains(c)) {
                w.push(format!("control.canary_cores[{i}]: core {c} also runs a worker: a canary's shadow work would take that worker's time"));
            }
        }
        w
    }

    /// Refuses capture files that clash: an output that is an input
    /// (`du.input == ru.output`) or two outputs that are one file.
    pub fn check_files(&self) -> Result<(), ConfigError> {
        use crate::io::output::{check_distinct, FileClash, FileUse};
        let mut uses = Vec::new();
        for (name, side) in [("du", &self.du), ("ru", &self.ru)] {
            if let Backend::Pcap { input, output } = &side.backend {
                if let Some(p) = input {
                    uses.push((format!("{name}.input"), p.as_path(), false));
                }
                if let Some(p) = output {
                    uses.push((format!("{name}.output"), p.as_path(), true));
                }
            }
        }
        let uses: Vec<FileUse<'_>> = uses.iter().map(|(key, path, writes)| FileUse { key, path, writes: *writes }).collect();
        check_distinct(&uses).map_err(|e| {
            let key = match &e {
                FileClash::OutputIsInput { output, .. } => output.clone(),
                FileClash::TwoWriters { second, .. } => second.clone(),
            };
            ConfigError { key, why: e.to_string() }
        })
    }
}

/// Whether every packet `b` selects is also selected by `a`.
pub(crate) fn covers(a: &crate::translate::Selector, b: &crate::translate::Selector) -> bool {
    let field = |x: Option<u16>, y: Option<u16>| x.is_none() || x == y;
    field(a.direction.map(u16::from), b.direction.map(u16::from))
        && field(a.plane.map(u16::from), b.plane.map(u16::from))
        && field(a.vlan, b.vlan)
        && a.eaxc_mask & !b.eaxc_mask == 0
        && (a.eaxc_value ^ b.eaxc_value) & a.eaxc_mask == 0
}

#[cfg(test)]
mod tests;
