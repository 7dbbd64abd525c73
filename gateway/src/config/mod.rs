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

/// An AF_XDP port: keys `interface`, `queue`, `xdp_mode`, `xdp_copy`,
/// `umem_frames`, `xdp_ring_size`, `busy_poll_us`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AfXdpConfig {
    /// Interface name.
    pub interface: String,
    /// The NIC queue the socket binds to.
    pub queue: u32,
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

/// An AF_PACKET port: keys `interface`, `packet_block_kib`, `packet_blocks`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AfPacketConfig {
    /// Interface name.
    pub interface: String,
    /// Size of one TPACKET_V3 ring block, bytes (a power of two, page multiple).
    pub block_size: u32,
    /// Blocks in each of the RX and TX rings.
    pub blocks: u32,
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
    /// How stages map onto threads (`threading = "auto"`: run to
    /// completion with one worker, pipelined with more).
    pub threading: crate::pipeline::runner::Threading,
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
    #[serde(default)]
    queue: u32,
    #[serde(default = "default_auto")]
    xdp_mode: String,
    #[serde(default = "default_auto")]
    xdp_copy: String,
    #[serde(default = "default_umem_frames")]
    umem_frames: u32,
    #[serde(default = "default_xdp_ring")]
    xdp_ring_size: u32,
    busy_poll_us: Option<u32>,
    #[serde(default = "default_block_kib")]
    packet_block_kib: u32,
    #[serde(default = "default_blocks")]
    packet_blocks: u32,
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
fn default_auto() -> String {
    "auto".into()
}
fn default_umem_frames() -> u32 {
    8192
}
fn default_xdp_ring() -> u32 {
    2048
}
fn default_block_kib() -> u32 {
    256
}
fn default_blocks() -> u32 {
    64
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
    #[serde(default = "default_auto")]
    threading: String,
}

impl Default for RawPipeline {
    fn default() -> Self {
        RawPipeline {
            workers: default_workers(),
            cores: Vec::new(),
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
        "af_xdp" => {
            let mode = match r.xdp_mode.as_str() {
                "auto" => XdpMode::Auto,
                "generic" | "skb" => XdpMode::Generic,
                "driver" | "native" => XdpMode::Driver,
                other => return err(k("xdp_mode"), format!("`{other}`: expected auto, generic or driver")),
            };
            let copy = match r.xdp_copy.as_str() {
                "auto" => XdpCopy::Auto,
                "copy" => XdpCopy::Copy,
                "zero-copy" | "zerocopy" => XdpCopy::ZeroCopy,
                other => return err(k("xdp_copy"), format!("`{other}`: expected auto, copy or zero-copy")),
            };
            if !r.xdp_ring_size.is_power_of_two() || !(64..=32768).contains(&r.xdp_ring_size) {
                return err(k("xdp_ring_size"), format!("{} must be a power of two in 64-32768", r.xdp_ring_size));
            }
            // Each half of the UMEM must be able to fill its rings.
            if !(2 * r.xdp_ring_size..=1 << 20).contains(&r.umem_frames) {
                return err(k("umem_frames"), format!("{} is outside {}-{} (at least twice xdp_ring_size)", r.umem_frames, 2 * r.xdp_ring_size, 1 << 20));
            }
            if let Some(us) = r.busy_poll_us {
                if !(1..=10_000).contains(&us) {
                    return err(k("busy_poll_us"), format!("{us} is outside 1-10000"));
                }
            }
            Backend::AfXdp(AfXdpConfig {
                interface: need(r.interface.clone(), "interface")?,
                queue: r.queue,
                mode,
                copy,
                umem_frames: r.umem_frames,
                ring_size: r.xdp_ring_size,
                busy_poll_us: r.busy_poll_us,
            })
        }
        "af_packet" => {
            let block = r.packet_block_kib.checked_mul(1024).filter(|b| b.is_power_of_two() && (4096..=64 << 20).contains(b));
            let Some(block_size) = block else {
                return err(k("packet_block_kib"), format!("{} must be a power of two in 4-65536", r.packet_block_kib));
            };
            if !(2..=65536).contains(&r.packet_blocks) {
                return err(k("packet_blocks"), format!("{} is outside 2-65536", r.packet_blocks));
            }
            Backend::AfPacket(AfPacketConfig { interface: need(r.interface.clone(), "interface")?, block_size, blocks: r.packet_blocks })
        }
        "udp" => {
            let addr = |f: &str, v: Option<String>| -> Result<std::net::SocketAddr, ConfigError> {
                let v = need(v, f)?;
                v.parse().or_else(|_| err(k(f), format!("`{v}` is not an address:port (IPv6 as [addr]:port)")))
            };
            Backend::Udp(UdpConfig { bind: addr("bind", r.bind.clone())?, peer: addr("peer", r.peer.clone())? })
        }
        other => return err(k("backend"), format!("`{other}`: expected pcap, af_xdp, af_packet or udp")),
    };
    if let Backend::AfXdp(_) | Backend::AfPacket(_) = backend {
        if let Some(i) = &r.interface {
            // IFNAMSIZ is 16 with the NUL.
            if i.is_empty() || i.len() > 15 || i.contains(['/', ' ', '\0']) {
                return err(k("interface"), format!("`{i}` is not an interface name (1-15 characters, no `/` or spaces)"));
            }
        }
    }
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
    let udp_port = r.udp_port.or(match &backend {
        Backend::Udp(u) => Some(u.bind.port()),
        _ => None,
    });
    Ok(Side {
        backend,
        decode: DecodeConfig {
            eaxc,
            dl_comp: parse_comp(&k("dl_comp"), &r.dl_comp)?,
            ul_comp: parse_comp(&k("ul_comp"), &r.ul_comp)?,
            comp_hdr,
            // A UDP port's frames reach the pipeline wrapped in UDP headers
            // addressed to the bound port (io/udp.rs): decode that port.
            udp_port,
            carrier_prbs: r.carrier_prbs,
        },
        numerology: r.numerology,
        vlan: r.vlan,
        mtu: r.mtu,
    })
}

/// Parses a port given on the command line (`fhgate gen --port`, `sink
/// --port`): `af_xdp:IFACE`, `af_packet:IFACE` or `udp:BIND,PEER`, each
/// optionally followed by `,key=value` pairs with the keys a side of the
/// configuration file takes (`af_xdp:veth0,xdp_mode=generic,queue=0`).
pub fn parse_port_spec(spec: &str) -> Result<Backend, ConfigError> {
    let (backend, rest) = spec.split_once(':').unwrap_or((spec, ""));
    let mut parts = rest.split(',').filter(|p| !p.is_empty());
    let mut table = toml::Table::new();
    table.insert("backend".into(), toml::Value::String(backend.into()));
    match backend {
        "af_xdp" | "af_packet" => {
            let i = parts.next().unwrap_or_default();
            table.insert("interface".into(), toml::Value::String(i.into()));
        }
        "udp" => {
            for key in ["bind", "peer"] {
                let v = parts.next().unwrap_or_default();
                table.insert(key.into(), toml::Value::String(v.into()));
            }
        }
        other => return err("--port", format!("`{other}`: expected af_xdp:IFACE, af_packet:IFACE or udp:BIND,PEER")),
    }
    for p in parts {
        let Some((k, v)) = p.split_once('=') else {
            return err("--port", format!("`{p}`: expected key=value"));
        };
        // Numbers as numbers, anything else as a string.
        let value = v.parse::<i64>().map_or_else(|_| toml::Value::String(v.into()), toml::Value::Integer);
        table.insert(k.into(), value);
    }
    let raw: RawSide = table.try_into().map_err(|e: toml::de::Error| ConfigError { key: "--port".into(), why: e.message().to_string() })?;
    side("port", raw).map(|s| s.backend)
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
        use crate::pipeline::runner::Threading;
        let threading = match p.threading.as_str() {
            "auto" => Threading::for_workers(p.workers),
            "run-to-completion" if p.workers == 1 => Threading::RunToCompletion,
            "run-to-completion" => return err("pipeline.threading", format!("run-to-completion has one worker, but workers = {}", p.workers)),
            "pipelined" => Threading::Pipelined,
            other => return err("pipeline.threading", format!("`{other}`: expected auto, run-to-completion or pipelined")),
        };
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
                threading,
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

    #[test]
    fn port_specs_parse_like_config_sides() {
        let Backend::AfXdp(x) = parse_port_spec("af_xdp:veth0,xdp_mode=generic,queue=1,busy_poll_us=50").unwrap() else { panic!() };
        assert_eq!((x.interface.as_str(), x.queue, x.mode, x.copy, x.busy_poll_us), ("veth0", 1, XdpMode::Generic, XdpCopy::Auto, Some(50)));
        let Backend::AfPacket(p) = parse_port_spec("af_packet:eth1").unwrap() else { panic!() };
        assert_eq!((p.interface.as_str(), p.block_size, p.blocks), ("eth1", 256 << 10, 64));
        let Backend::Udp(u) = parse_port_spec("udp:0.0.0.0:5000,[::1]:6000").unwrap() else { panic!() };
        assert_eq!((u.bind.port(), u.peer.to_string().as_str()), (5000, "[::1]:6000"));
        for (spec, want) in [
            ("tap:x", "expected af_xdp"),
            ("af_xdp:", "interface"),
            ("af_xdp:veth0,xdp_mode=fast", "port.xdp_mode"),
            ("udp:1.2.3.4:5", "port.peer"),
            ("af_packet:e,bogus=1", "bogus"),
            ("af_xdp:veth0,xdp_ring_size=100", "port.xdp_ring_size"),
        ] {
            let e = parse_port_spec(spec).unwrap_err().to_string();
            assert!(e.contains(want), "{spec}: {e}");
        }
    }
}
