//! `bench`'s flags and presets.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use ecpri::ethernet::VlanTag;
use ecpri::uplane::CompHdrMode;
use ecpri::{EaxcLayout, UdCompHdr};
use fhgate::config::profile::Profile;
use fhgate::traffic::CarrierSpec;

use super::super::gen::{parse_seconds, SignalArgs};

/// Arguments of `bench`.
#[derive(Args, Debug)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct BenchArgs {
    #[command(subcommand)]
    pub cmd: Option<BenchCmd>,
    #[command(flatten)]
    pub run: RunArgs,
}

/// `bench` subcommands.
#[derive(Subcommand, Debug)]
pub enum BenchCmd {
    /// Show two runs (`--json` files) side by side.
    Compare {
        /// The run before.
        a: PathBuf,
        /// The run after.
        b: PathBuf,
    },
}

/// A bench run.
#[derive(Args, Debug)]
pub struct RunArgs {
    /// Send on this port: af_xdp:IFACE[,k=v], af_packet:IFACE or udp:BIND,PEER.
    #[arg(long, value_name = "SPEC")]
    pub tx: Option<String>,
    /// Receive on this port.
    #[arg(long, value_name = "SPEC")]
    pub rx: Option<String>,
    /// Which end this process is: `local` (both, one clock), or across two
    /// hosts `tx` (sends; with --control) and `rx` (receives, runs the
    /// search and writes the report; with --peer).
    #[arg(long, value_enum, default_value = "local")]
    pub role: Role,
    /// `--role tx`: listen for the rx side's control channel here (ADDR:PORT).
    #[arg(long, value_name = "ADDR:PORT")]
    pub control: Option<String>,
    /// `--role rx`: the tx side's --control address.
    #[arg(long, value_name = "ADDR:PORT")]
    pub peer: Option<String>,
    /// Cross-host runs: how long to wait for the other side to connect or answer.
    #[arg(long, value_name = "SECONDS", default_value = "10", value_parser = parse_seconds)]
    pub peer_timeout: Duration,
    /// Cross-host runs: this host's clock offset from its PTP master, in
    /// ns (ptp4l's or phc2sys's), or `pmc` to ask the local ptp4l; reported
    /// beside the latency, which includes the two clocks' offset.
    #[arg(long, value_name = "NS|pmc", allow_hyphen_values = true)]
    pub ptp_offset: Option<String>,
    /// Network namespace of the tx port (`ip netns` name).
    #[arg(long, value_name = "NS")]
    pub tx_netns: Option<String>,
    /// Network namespace of the rx port.
    #[arg(long, value_name = "NS")]
    pub rx_netns: Option<String>,
    /// Start the device: `fhgate run -c FILE`, in this namespace.
    #[arg(long, value_name = "NS", requires = "dut_config")]
    pub dut_netns: Option<String>,
    /// Start the device under test from this gateway configuration.
    #[arg(long, value_name = "FILE")]
    pub dut_config: Option<PathBuf>,
    /// Traffic preset: 4t4r-100mhz-bfp9 (default), 4t4r-100mhz-bfp9-prach, 2t2r-20mhz-bfp9, 2t2r-20mhz-bfp8, 1t1r-10mhz-u16; the flags below override it.
    #[arg(long, value_name = "NAME", default_value = "4t4r-100mhz-bfp9")]
    pub preset: String,
    /// The sending side's profile (`fhgate profile learn`, or written from a
    /// datasheet): the traffic as that side sends it (numerology, PRBs,
    /// DL compression, udCompHdr, eAxC bits, VLAN, MTU, its DL eAxC count
    /// as antennas, PRACH). It overrides the preset; the flags below
    /// override it.
    #[arg(long, value_name = "FILE")]
    pub profile: Option<PathBuf>,
    /// The receiving side's profile: how it reads what arrives (eAxC bits,
    /// compression, udCompHdr, PRBs). --rx-eaxc-bits and --rx-comp override it.
    #[arg(long, value_name = "FILE")]
    pub rx_profile: Option<PathBuf>,
    /// Numerology µ.
    #[arg(long, value_parser = clap::value_parser!(u8).range(0..=4))]
    pub numerology: Option<u8>,
    /// Carrier width in PRBs.
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=1023))]
    pub prbs: Option<u16>,
    /// Antennas (one eAxC each).
    #[arg(long, value_parser = clap::value_parser!(u8).range(1..=16))]
    pub antennas: Option<u8>,
    /// U-plane compression sent, METHOD:WIDTH.
    #[arg(long, value_parser = parse_comp)]
    pub comp: Option<UdCompHdr>,
    /// eAxC bit widths sent.
    #[arg(long, value_parser = parse_eaxc)]
    pub eaxc_bits: Option<EaxcLayout>,
    /// Largest Ethernet payload sent.
    #[arg(long)]
    pub mtu: Option<usize>,
    /// Add PRACH (section type 3) C-plane.
    #[arg(long)]
    pub prach: bool,
    /// DU_port_ID of every eAxC.
    #[arg(long, default_value_t = 0)]
    pub du_port: u16,
    /// eAxC bit widths as the receive side reads them (default: as sent).
    #[arg(long, value_parser = parse_eaxc)]
    pub rx_eaxc_bits: Option<EaxcLayout>,
    /// Compression as the receive side reads it without udCompHdr (default: as sent).
    #[arg(long, value_parser = parse_comp)]
    pub rx_comp: Option<UdCompHdr>,
    /// Largest Ethernet payload the rx port must carry (default: --mtu).
    #[arg(long)]
    pub rx_mtu: Option<usize>,
    /// The signal's level and rounding.
    #[command(flatten)]
    pub signal: SignalArgs,
    /// Seconds of each trial's measured part.
    #[arg(long, value_name = "SECONDS", default_value = "2", value_parser = parse_seconds)]
    pub trial: Duration,
    /// Seconds of traffic before each measured part, not counted.
    #[arg(long, value_name = "SECONDS", default_value = "0.5", value_parser = parse_seconds)]
    pub warmup: Duration,
    /// Seconds the receiver waits for stragglers after sending ends.
    #[arg(long, value_name = "SECONDS", default_value = "0.5", value_parser = parse_seconds)]
    pub drain: Duration,
    /// After each trial, wait up to this long for the device to go quiet (50 ms without a frame).
    #[arg(long, value_name = "SECONDS", default_value = "2", value_parser = parse_seconds)]
    pub settle: Duration,
    /// Search resolution: frames per second, or a percentage of the ceiling (`2%`).
    #[arg(long, default_value = "1%", value_parser = Resolution::parse)]
    pub resolution: Resolution,
    /// Loss tolerated in the search, percent (RFC 2544: 0).
    #[arg(long, value_name = "PCT", default_value_t = 0.0)]
    pub loss_tolerance: f64,
    /// Ceiling of the search, frames per second (default: as fast as the tx port goes).
    #[arg(long, value_name = "FPS")]
    pub max_rate: Option<f64>,
    /// Sweep points, percent of the found rate (`none` for no sweep).
    #[arg(long, value_name = "PCT,...", default_value = "10,20,30,40,50,60,70,80,90,100,110,120", value_parser = parse_sweep)]
    pub sweep: Sweep,
    /// Confirm the found rate with a trial this many seconds long.
    #[arg(long, value_name = "SECONDS", value_parser = parse_seconds)]
    pub confirm: Option<Duration>,
    /// Check IQ on one U-plane frame in N.
    #[arg(long, value_name = "N", default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..))]
    pub iq_every: u32,
    /// Write the result as JSON here.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Write the HTML report here (a directory gets index.html).
    #[arg(long, value_name = "DIR")]
    pub report: Option<PathBuf>,
}

/// Which end of a run this process is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Role {
    /// Both ends in this process, on one clock.
    Local,
    /// The sending end of a cross-host run.
    Tx,
    /// The receiving end of a cross-host run; it runs the search.
    Rx,
}

/// The search resolution.
#[derive(Debug, Clone, Copy)]
pub enum Resolution {
    /// Frames per second.
    Fps(f64),
    /// Percent of the ceiling.
    Percent(f64),
}

impl Resolution {
    fn parse(s: &str) -> Result<Resolution, String> {
        let bad = || format!("`{s}`: expected frames per second (1000) or a percentage of the ceiling (1%)");
        match s.strip_suffix('%') {
            Some(p) => p.parse::<f64>().ok().filter(|v| *v > 0.0 && *v < 100.0).map(Resolution::Percent).ok_or_else(bad),
            None => s.parse::<f64>().ok().filter(|v| *v > 0.0 && v.is_finite()).map(Resolution::Fps).ok_or_else(bad),
        }
    }

    /// In frames per second, given the ceiling.
    pub fn fps(self, ceiling: f64) -> f64 {
        match self {
            Resolution::Fps(f) => f,
            Resolution::Percent(p) => ceiling * p / 100.0,
        }
    }
}

/// Sweep points in percent.
#[derive(Debug, Clone)]
pub struct Sweep(pub Vec<f64>);

fn parse_sweep(s: &str) -> Result<Sweep, String> {
    if s == "none" {
        return Ok(Sweep(Vec::new()));
    }
    s.split(',')
        .map(|p| p.trim().parse::<f64>().ok().filter(|v| *v > 0.0 && *v <= 1000.0).ok_or_else(|| format!("`{p}` in --sweep: expected a percentage in (0, 1000]")))
        .collect::<Result<Vec<_>, _>>()
        .map(Sweep)
}

fn parse_comp(s: &str) -> Result<UdCompHdr, String> {
    UdCompHdr::from_spec(s).ok_or_else(|| format!("`{s}`: expected METHOD:WIDTH like bfp:9"))
}

fn parse_eaxc(s: &str) -> Result<EaxcLayout, String> {
    EaxcLayout::from_spec(s).ok_or_else(|| format!("`{s}`: expected four widths adding up to 16"))
}

/// The named presets: (name, µ, PRBs, antennas, compression, MTU, PRACH).
const PRESETS: &[(&str, u8, u16, u8, &str, usize, bool)] = &[
    ("4t4r-100mhz-bfp9", 1, 273, 4, "bfp:9", 9000, false),
    ("4t4r-100mhz-bfp9-prach", 1, 273, 4, "bfp:9", 9000, true),
    ("2t2r-20mhz-bfp9", 1, 51, 2, "bfp:9", 9000, false),
    ("2t2r-20mhz-bfp8", 1, 51, 2, "bfp:8", 9000, false),
    ("1t1r-10mhz-u16", 1, 24, 1, "none:16", 1500, false),
];

impl RunArgs {
    /// Refuses flags that do not fit the role, naming them.
    pub fn check_role(&self) -> Result<()> {
        let need = |v: &Option<String>, flag: &str, why: &str| if v.is_none() { bail!("{flag} is needed {why}") } else { Ok(()) };
        let refuse = |given: bool, flag: &str, why: &str| if given { bail!("{flag} {why}") } else { Ok(()) };
        match self.role {
            Role::Local => {
                need(&self.tx, "--tx", "(the port bench sends on)")?;
                need(&self.rx, "--rx", "(the port bench receives on)")?;
                refuse(self.control.is_some() || self.peer.is_some(), "--control/--peer", "are for cross-host runs (--role tx / --role rx)")
            }
            Role::Tx => {
                need(&self.tx, "--tx", "with --role tx")?;
                need(&self.control, "--control", "with --role tx (where the rx side connects)")?;
                refuse(self.rx.is_some(), "--rx", "is the rx side's (--role rx on the receiving host)")?;
                refuse(self.peer.is_some(), "--peer", "is the rx side's; the tx side listens on --control")?;
                refuse(self.dut_config.is_some(), "--dut-config", "with --role tx: the rx side runs the search, start the device from there")?;
                refuse(self.json.is_some() || self.report.is_some(), "--json/--report", "with --role tx: the rx side writes the result")
            }
            Role::Rx => {
                need(&self.rx, "--rx", "with --role rx")?;
                need(&self.peer, "--peer", "with --role rx (the tx side's --control address)")?;
                refuse(self.tx.is_some(), "--tx", "is the tx side's (--role tx on the sending host)")?;
                refuse(self.control.is_some(), "--control", "is the tx side's; the rx side connects with --peer")
            }
        }
    }

    /// The carrier: the preset, the sending side's profile over it, and any
    /// flag given over both.
    pub fn carrier(&self) -> Result<CarrierSpec> {
        let Some(&(_, mu, prbs, ants, comp, mtu, prach)) = PRESETS.iter().find(|p| p.0 == self.preset) else {
            let names: Vec<&str> = PRESETS.iter().map(|p| p.0).collect();
            bail!("--preset {}: no such preset (there are {})", self.preset, names.join(", "));
        };
        let p = self.profile.as_deref().map(Profile::load).transpose().context("--profile")?.unwrap_or_default();
        // Profile::load checked every value, so these parse.
        let p_comp = p.dl_comp.as_deref().and_then(UdCompHdr::from_spec);
        let p_eaxc = p.eaxc_bits.as_deref().and_then(EaxcLayout::from_spec);
        let p_antennas = p.learned.as_ref().and_then(|l| l.eaxc_ids.get("u_dl")).map(|ids| ids.len().clamp(1, 16) as u8);
        let p_prach = p.prach_eaxc.as_ref().is_some_and(|ids| !ids.is_empty()) || p.learned.as_ref().is_some_and(|l| !l.prach.is_empty());
        let comp = self.comp.or(p_comp).unwrap_or(UdCompHdr::from_spec(comp).expect("presets name valid compressions"));
        Ok(CarrierSpec {
            numerology: self.numerology.or(p.numerology).unwrap_or(mu),
            prbs: self.prbs.or(p.carrier_prbs).unwrap_or(prbs),
            antennas: self.antennas.or(p_antennas).unwrap_or(ants),
            comp,
            rounding: self.signal.rounding,
            level: self.signal.level(Some(comp), "--comp")?,
            comp_hdr: p.comp_hdr.as_deref() != Some("absent"),
            eaxc: self.eaxc_bits.or(p_eaxc).unwrap_or_default(),
            vlan: p.vlan.map(|v| VlanTag::c_tag(v, p.vlan_pcp.unwrap_or(7))),
            mtu: self.mtu.or(p.mtu).unwrap_or(mtu),
            prach: self.prach || p_prach || (self.profile.is_none() && prach),
            du_port: self.du_port,
            ..CarrierSpec::default()
        })
    }

    /// The traffic's name in the report: the profile file, else the preset.
    pub fn traffic_name(&self) -> String {
        match &self.profile {
            Some(f) => format!("profile {}", f.display()),
            None => self.preset.clone(),
        }
    }

    /// The receive side's decoding: as sent, or as the receiving side's
    /// profile reads it, the --rx flags over either.
    pub fn rx_decode(&self, spec: &CarrierSpec) -> Result<ecpri::frame::DecodeConfig> {
        let mut d = ecpri::frame::DecodeConfig {
            eaxc: spec.eaxc,
            dl_comp: spec.comp,
            ul_comp: spec.comp,
            // As sent: a sender without udCompHdr is read without it.
            comp_hdr: if spec.comp_hdr { CompHdrMode::Auto } else { CompHdrMode::Absent },
            udp_port: None,
            carrier_prbs: spec.prbs,
        };
        if let Some(f) = &self.rx_profile {
            let p = Profile::load(f).context("--rx-profile")?;
            d = fhgate::plan::format_of_profile(&p).decode_over(&d);
            d.carrier_prbs = p.carrier_prbs.unwrap_or(d.carrier_prbs);
        }
        if let Some(c) = self.rx_comp {
            (d.dl_comp, d.ul_comp) = (c, c);
        }
        d.eaxc = self.rx_eaxc_bits.unwrap_or(d.eaxc);
        Ok(d)
    }
}
