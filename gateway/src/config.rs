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
use ecpri::uplane::CompHdrMode;
use ecpri::{EaxcLayout, UdCompHdr};
use serde::Deserialize;

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
    AfXdp {
        /// Interface name.
        interface: String,
    },
    /// AF_PACKET on a network interface.
    AfPacket {
        /// Interface name.
        interface: String,
    },
    /// eCPRI over UDP.
    Udp {
        /// Local address to bind.
        bind: String,
        /// Peer to send to.
        peer: String,
    },
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

/// Pipeline settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PipelineConfig {
    /// Worker threads per direction.
    pub workers: usize,
    /// Cores to pin workers to, in order (empty: no pinning).
    pub cores: Vec<usize>,
    /// Most packets per burst.
    pub burst: usize,
    /// Slots in each ring between stages.
    pub ring_size: usize,
    /// Renumber eCPRI sequence IDs per flow on egress.
    pub renumber_seq_id: bool,
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
    /// Where Prometheus metrics are served (loopback only).
    pub metrics_listen: Option<std::net::SocketAddr>,
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
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSide {
    backend: String,
    input: Option<PathBuf>,
    output: Option<PathBuf>,
    interface: Option<String>,
    bind: Option<String>,
    peer: Option<String>,
    #[serde(default = "default_eaxc")]
    eaxc_bits: String,
    #[serde(default = "default_prbs")]
    carrier_prbs: u16,
    #[serde(default = "default_numerology")]
    numerology: u8,
    #[serde(default = "default_comp")]
    dl_comp: String,
    #[serde(default = "default_comp")]
    ul_comp: String,
    #[serde(default = "default_comp_hdr")]
    comp_hdr: String,
    udp_port: Option<u16>,
    vlan: Option<u16>,
    #[serde(default = "default_mtu")]
    mtu: usize,
}

fn default_eaxc() -> String {
    "4,4,4,4".into()
}
fn default_prbs() -> u16 {
    273
}
fn default_numerology() -> u8 {
    1
}
fn default_comp() -> String {
    "none:16".into()
}
fn default_comp_hdr() -> String {
    "auto".into()
}
fn default_mtu() -> usize {
    9000
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPipeline {
    #[serde(default = "default_workers")]
    workers: usize,
    #[serde(default)]
    cores: Vec<usize>,
    #[serde(default = "default_burst")]
    burst: usize,
    #[serde(default = "default_ring")]
    ring_size: usize,
    #[serde(default = "default_true")]
    renumber_seq_id: bool,
}

impl Default for RawPipeline {
    fn default() -> Self {
        RawPipeline { workers: default_workers(), cores: Vec::new(), burst: default_burst(), ring_size: default_ring(), renumber_seq_id: true }
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

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawMetrics {
    listen: Option<String>,
}

// ---- validation ---------------------------------------------------------

/// Parses `METHOD:WIDTH` for the key `key`.
pub fn parse_comp(key: &str, s: &str) -> Result<UdCompHdr, ConfigError> {
    UdCompHdr::from_spec(s).map_or_else(
        || err(key, format!("`{s}`: expected METHOD:WIDTH with METHOD none, bfp, block-scaling, mu-law or modcomp and WIDTH 1-16")),
        Ok,
    )
}

fn side(name: &str, r: RawSide) -> Result<Side, ConfigError> {
    let k = |f: &str| format!("{name}.{f}");
    let need = |v: Option<String>, f: &str| v.map_or_else(|| err(k(f), format!("required by backend \"{}\"", r.backend)), Ok);
    let backend = match r.backend.as_str() {
        "pcap" => Backend::Pcap { input: r.input.clone(), output: r.output.clone() },
        "af_xdp" => Backend::AfXdp { interface: need(r.interface.clone(), "interface")? },
        "af_packet" => Backend::AfPacket { interface: need(r.interface.clone(), "interface")? },
        "udp" => Backend::Udp { bind: need(r.bind.clone(), "bind")?, peer: need(r.peer.clone(), "peer")? },
        other => return err(k("backend"), format!("`{other}`: expected pcap, af_xdp, af_packet or udp")),
    };
    let eaxc = EaxcLayout::from_spec(&r.eaxc_bits)
        .map_or_else(|| err(k("eaxc_bits"), format!("`{}`: expected four widths adding up to 16, like \"4,4,4,4\"", r.eaxc_bits)), Ok)?;
    if !(1..=1023).contains(&r.carrier_prbs) {
        return err(k("carrier_prbs"), format!("{} is outside 1-1023", r.carrier_prbs));
    }
    if r.numerology > 4 {
        return err(k("numerology"), format!("{} is outside 0-4", r.numerology));
    }
    let comp_hdr = CompHdrMode::from_name(&r.comp_hdr)
        .map_or_else(|| err(k("comp_hdr"), format!("`{}`: expected present, absent or auto", r.comp_hdr)), Ok)?;
    if let Some(v) = r.vlan {
        if v > 4095 {
            return err(k("vlan"), format!("{v} does not fit 12 bits (0-4095)"));
        }
    }
    if !(128..=16_000).contains(&r.mtu) {
        return err(k("mtu"), format!("{} is outside 128-16000", r.mtu));
    }
    Ok(Side {
        backend,
        decode: DecodeConfig {
            eaxc,
            dl_comp: parse_comp(&k("dl_comp"), &r.dl_comp)?,
            ul_comp: parse_comp(&k("ul_comp"), &r.ul_comp)?,
            comp_hdr,
            udp_port: r.udp_port,
            carrier_prbs: r.carrier_prbs,
        },
        numerology: r.numerology,
        vlan: r.vlan,
        mtu: r.mtu,
    })
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

impl GatewayConfig {
    /// Parses and validates a configuration file's text.
    pub fn from_toml(text: &str) -> Result<GatewayConfig, ConfigError> {
        let raw: RawFile = toml::from_str(text).map_err(|e| {
            // toml reports the span; turn it into a line number and keep its message.
            let line = e.span().map(|s| text[..s.start].lines().count().max(1));
            ConfigError { key: line.map_or("(file)".into(), |l| format!("line {l}")), why: e.message().to_string() }
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
                config: flatten_table(&t.config),
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
        let mut chains = Vec::new();
        for (i, c) in raw.chain.into_iter().enumerate() {
            crate::translate::Selector::parse(&c.select).or_else(|why| err(format!("chain[{i}].select"), why))?;
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
        let p = raw.pipeline;
        if !(1..=64).contains(&p.workers) {
            return err("pipeline.workers", format!("{} is outside 1-64", p.workers));
        }
        if !(1..=crate::translate::BURST_MAX_IN).contains(&p.burst) {
            return err("pipeline.burst", format!("{} is outside 1-{}", p.burst, crate::translate::BURST_MAX_IN));
        }
        if !p.ring_size.is_power_of_two() || p.ring_size < 64 {
            return err("pipeline.ring_size", format!("{} must be a power of two, at least 64", p.ring_size));
        }
        let metrics_listen = match raw.metrics.listen {
            None => None,
            Some(s) => {
                let a: std::net::SocketAddr =
                    s.parse().or_else(|_| err("metrics.listen", format!("`{s}` is not an address:port")))?;
                if !a.ip().is_loopback() {
                    return err("metrics.listen", format!("{a} is not a loopback address; metrics are served on loopback only"));
                }
                Some(a)
            }
        };
        Ok(GatewayConfig {
            du,
            ru,
            translators,
            chains,
            pipeline: PipelineConfig {
                workers: p.workers,
                cores: p.cores,
                burst: p.burst,
                ring_size: p.ring_size,
                renumber_seq_id: p.renumber_seq_id,
            },
            metrics_listen,
        })
    }

    /// Reads and validates a configuration file.
    pub fn load(path: &std::path::Path) -> anyhow::Result<GatewayConfig> {
        let text = std::fs::read_to_string(path).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
        GatewayConfig::from_toml(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
[du]
backend = "pcap"
input = "captures/du.pcap"
eaxc_bits = "4,4,4,4"
dl_comp = "bfp:8"
vlan = 2
mtu = 1500

[ru]
backend = "pcap"
output = "out.pcap"
eaxc_bits = "2,6,4,4"
dl_comp = "bfp:12"
mtu = 1500

[[translator]]
name = "widen"
path = "target/translators/bfp_width.wasm"
config = { in_width = 8, out_width = 12 }
fault_policy = "fallback:pass"

[[translator]]
name = "pass"
path = "target/translators/noop.wasm"

[[translator]]
name = "remap"
path = "target/translators/eaxc_remap.wasm"
config = { from = "4,4,4,4", to = "2,6,4,4", map = { "0x0001" = "0x0101" } }

[[chain]]
select = "dir=dl,plane=u"
translators = ["widen", "remap"]

[pipeline]
workers = 2
cores = [0, 1]

[metrics]
listen = "127.0.0.1:9100"
"#;

    #[test]
    fn parses_a_full_config() {
        let c = GatewayConfig::from_toml(GOOD).unwrap();
        assert_eq!(c.du.decode.dl_comp, UdCompHdr::from_spec("bfp:8").unwrap());
        assert_eq!(c.ru.decode.eaxc, EaxcLayout::new(2, 6, 4, 4).unwrap());
        assert_eq!(c.du.vlan, Some(2));
        assert_eq!(c.translators[0].config, vec![("in_width".into(), "8".into()), ("out_width".into(), "12".into())]);
        assert_eq!(c.translators[0].fault_policy, FaultPolicyConfig::Fallback("pass".into()));
        assert_eq!(c.translators[2].config[2], ("map.0x0001".into(), "\"0x0101\"".into()));
        assert_eq!(c.chains[0].translators, vec!["widen", "remap"]);
        assert_eq!(c.pipeline.workers, 2);
        assert_eq!(c.metrics_listen, Some("127.0.0.1:9100".parse().unwrap()));
    }

    fn bad(edit: (&str, &str)) -> ConfigError {
        GatewayConfig::from_toml(&GOOD.replace(edit.0, edit.1)).unwrap_err()
    }

    #[test]
    fn every_error_names_its_key() {
        let cases: &[((&str, &str), &str, &str)] = &[
            (("dl_comp = \"bfp:8\"", "dl_comp = \"bfp:17\""), "du.dl_comp", "METHOD:WIDTH"),
            (("eaxc_bits = \"2,6,4,4\"", "eaxc_bits = \"2,6,4\""), "ru.eaxc_bits", "adding up to 16"),
            (("vlan = 2", "vlan = 5000"), "du.vlan", "12 bits"),
            (("translators = [\"widen\", \"remap\"]", "translators = [\"widen\", \"nope\"]"), "chain[0].translators[1]", "no translator named `nope`"),
            (("select = \"dir=dl,plane=u\"", "select = \"dir=up\""), "chain[0].select", "expected dl or ul"),
            (("fault_policy = \"fallback:pass\"", "fault_policy = \"retry\""), "translator[0].fault_policy", "pass, drop or fallback"),
            (("fault_policy = \"fallback:pass\"", "fault_policy = \"fallback:ghost\""), "translator[0].fault_policy", "no translator named `ghost`"),
            (("name = \"pass\"", "name = \"widen\""), "translator[1].name", "already the name"),
            (("bfp_width.wasm", "bfp_width.so"), "translator[0].path", "precompiled native code"),
            (("listen = \"127.0.0.1:9100\"", "listen = \"0.0.0.0:9100\""), "metrics.listen", "loopback"),
            (("workers = 2", "workers = 0"), "pipeline.workers", "outside"),
            (("backend = \"pcap\"\ninput", "backend = \"af_xdp\"\ninput"), "du.interface", "required"),
            (("backend = \"pcap\"\ninput", "backend = \"tap\"\ninput"), "du.backend", "af_xdp"),
        ];
        for (edit, key, why) in cases {
            let e = bad(*edit);
            assert_eq!(e.key, *key, "{e}");
            assert!(e.why.contains(why), "{e}");
        }
    }

    #[test]
    fn unknown_keys_and_type_errors_give_the_line() {
        let e = bad(("mtu = 1500\n\n[ru]", "mtu = 1500\nmtuu = 3\n\n[ru]"));
        assert!(e.key.starts_with("line "), "{e}");
        assert!(e.why.contains("mtuu"), "{e}");
        let e = bad(("workers = 2", "workers = \"two\""));
        assert!(e.key.starts_with("line "), "{e}");
    }
}
