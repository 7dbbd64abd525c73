//! One side of the gateway as the file writes it (`[du]`, `[ru]`) and as
//! `--port` specs write it, and its validation.

use std::path::PathBuf;

use ecpri::frame::DecodeConfig;
use ecpri::uplane::CompHdrMode;
use ecpri::{EaxcLayout, UdCompHdr};
use serde::Deserialize;

use super::{err, AfPacketConfig, AfXdpConfig, Backend, ConfigError, Fanout, Side, UdpConfig, XdpCopy, XdpMode};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSide {
    backend: String,
    input: Option<PathBuf>,
    output: Option<PathBuf>,
    interface: Option<String>,
    bind: Option<String>,
    peer: Option<String>,
    queue: Option<u32>,
    queues: Option<String>,
    sockets: Option<u32>,
    fanout: Option<String>,
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
    #[serde(default = "default_oversize")]
    oversize: String,
    prach_comp: Option<String>,
    prach_eaxc: Option<Vec<String>>,
    srs_comp: Option<String>,
    srs_eaxc: Option<Vec<String>>,
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
fn default_oversize() -> String {
    "drop".into()
}
pub(super) fn default_auto() -> String {
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

/// Most queues (AF_XDP) or fanout sockets (AF_PACKET) one port opens.
pub const MAX_LANES: u32 = 64;

/// Parses `queues`: `"A-B"` (queues A to B, both included) or `"A"`
/// (that one queue); the first queue and how many.
pub fn parse_queues(s: &str) -> Result<(u32, u32), String> {
    let num = |t: &str| t.trim().parse::<u32>().map_err(|_| format!("`{s}`: expected a queue range like \"0-3\" or one queue like \"2\""));
    let (first, last) = match s.split_once('-') {
        Some((a, b)) => (num(a)?, num(b)?),
        None => (num(s)?, num(s)?),
    };
    if last < first {
        return Err(format!("`{s}`: the range ends before it starts"));
    }
    let n = last - first + 1;
    if n > MAX_LANES {
        return Err(format!("`{s}`: {n} queues, more than the {MAX_LANES} a port opens"));
    }
    Ok((first, n))
}

/// Parses `METHOD:WIDTH` for the key `key`.
pub fn parse_comp(key: &str, s: &str) -> Result<UdCompHdr, ConfigError> {
    UdCompHdr::from_spec(s).map_or_else(
        || err(key, format!("`{s}`: expected METHOD:WIDTH with METHOD none, bfp, block-scaling, mu-law or modcomp and WIDTH 1-16")),
        Ok,
    )
}

pub(super) fn side(name: &str, r: RawSide) -> Result<Side, ConfigError> {
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
            let (queue, queues) = match (r.queue, r.queues.as_deref()) {
                (Some(_), Some(_)) => return err(k("queues"), "give `queue` (one queue) or `queues` (a range), not both"),
                (q, None) => (q.unwrap_or(0), 1),
                (None, Some(s)) => parse_queues(s).map_or_else(|why| err(k("queues"), why), Ok)?,
            };
            Backend::AfXdp(AfXdpConfig {
                interface: need(r.interface.clone(), "interface")?,
                queue,
                queues,
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
            let sockets = r.sockets.unwrap_or(1);
            if !(1..=MAX_LANES).contains(&sockets) {
                return err(k("sockets"), format!("{sockets} is outside 1-{MAX_LANES}"));
            }
            let fanout = match r.fanout.as_deref() {
                None | Some("hash") => Fanout::Hash,
                Some("cpu") => Fanout::Cpu,
                Some("queue") => Fanout::Queue,
                Some("eaxc") => Fanout::Eaxc,
                Some(other) => return err(k("fanout"), format!("`{other}`: expected hash, cpu, queue or eaxc")),
            };
            if r.fanout.is_some() && sockets == 1 {
                return err(k("fanout"), "spreads frames over a group of sockets, and with sockets = 1 (the default) there is none: set sockets = N, or leave fanout out");
            }
            Backend::AfPacket(AfPacketConfig { interface: need(r.interface.clone(), "interface")?, block_size, blocks: r.packet_blocks, sockets, fanout })
        }
        "udp" => {
            let addr = |f: &str, v: Option<String>| -> Result<std::net::SocketAddr, ConfigError> {
                let v = need(v, f)?;
                v.parse().or_else(|_| err(k(f), format!("`{v}` is not an address:port (IPv6 as [addr]:port)")))
            };
            let peer = addr("peer", r.peer.clone())?;
            // The kernel refuses datagrams to these at the first send; say so now.
            if peer.port() == 0 || peer.ip().is_unspecified() {
                return err(k("peer"), format!("`{peer}`: datagrams cannot be sent to it (port 0, or an unspecified address); give the peer's address and port"));
            }
            Backend::Udp(UdpConfig { bind: addr("bind", r.bind.clone())?, peer })
        }
        other => return err(k("backend"), format!("`{other}`: expected pcap, af_xdp, af_packet or udp")),
    };
    // Keys of one backend given to another are refused, not ignored.
    let own = |key: &str| matches!((key, &backend), ("queue" | "queues", Backend::AfXdp(_)) | ("sockets" | "fanout", Backend::AfPacket(_)));
    for (key, given) in [("queue", r.queue.is_some()), ("queues", r.queues.is_some()), ("sockets", r.sockets.is_some()), ("fanout", r.fanout.is_some())] {
        if given && !own(key) {
            return err(k(key), format!("is not a key of backend \"{}\"", r.backend));
        }
    }
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
        if v > ecpri::ethernet::MAX_VID {
            return err(k("vlan"), format!("{v}: VLAN IDs are 0-4094 (4095 is reserved by IEEE 802.1Q)"));
        }
    }
    if !(128..=16_000).contains(&r.mtu) {
        return err(k("mtu"), format!("{} is outside 128-16000", r.mtu));
    }
    // PRACH and SRS flows with a compression of their own (UL U-plane):
    // checked here; run reads them with the rest of the profile keys.
    for (kind, comp, ids) in [("prach", &r.prach_comp, &r.prach_eaxc), ("srs", &r.srs_comp, &r.srs_eaxc)] {
        if let Some(c) = comp {
            parse_comp(&k(&format!("{kind}_comp")), c)?;
        }
        let ids = ids.as_deref().map(super::profile::parse_eaxc_list).transpose().or_else(|why| err(k(&format!("{kind}_eaxc")), why))?;
        if comp.is_some() && ids.as_ref().is_none_or(Vec::is_empty) {
            return err(k(&format!("{kind}_comp")), format!("needs {kind}_eaxc: the eAxC IDs of the flows it applies to"));
        }
    }
    if let Some(why) = super::profile::prach_srs_overlap(r.prach_eaxc.as_deref(), r.srs_eaxc.as_deref()) {
        return err(k("srs_eaxc"), why);
    }
    let oversize = crate::pipeline::egress::OversizePolicy::from_name(&r.oversize)
        .map_or_else(|| err(k("oversize"), format!("`{}`: expected drop, forward or cut", r.oversize)), Ok)?;
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
        oversize,
    })
}

/// Parses a port given on the command line (`fhgate gen --port`, `sink
/// --port`): `af_xdp:IFACE`, `af_packet:IFACE` or `udp:BIND,PEER`, each
/// optionally followed by `,key=value` pairs with the keys a side of the
/// configuration file takes (`af_xdp:veth0,xdp_mode=generic,queue=0`,
/// `af_xdp:veth0,queues=0-3`, `af_packet:veth0,sockets=4,fanout=hash`).
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
        // `queues=2` is a range of one, a string like `queues=0-3`.
        let value = match v.parse::<i64>() {
            Ok(n) if k != "queues" => toml::Value::Integer(n),
            _ => toml::Value::String(v.into()),
        };
        table.insert(k.into(), value);
    }
    let raw: RawSide = table.try_into().map_err(|e: toml::de::Error| ConfigError { key: "--port".into(), why: e.message().to_string() })?;
    side("port", raw).map(|s| s.backend)
}
