//! `fhgate gen`: generate a 7.2x stream for a carrier into a pcap file.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Result;
use clap::{Args, ValueEnum};
use ecpri::ethernet::VlanTag;
use ecpri::{EaxcLayout, UdCompHdr};

use fhgate::io::pcap::PcapOut;
use fhgate::traffic::{self, CarrierSpec, Side};

#[derive(Debug, Clone, Copy, ValueEnum)]
enum SideArg {
    Du,
    Ru,
}

/// Arguments of `gen`.
#[derive(Args, Debug)]
pub struct GenArgs {
    /// Output pcap file.
    #[arg(short, long)]
    output: PathBuf,
    /// Which side sends: du (DL C/U-plane and UL C-plane) or ru (UL U-plane).
    #[arg(long, value_enum, default_value = "du")]
    side: SideArg,
    /// Numerology µ: subcarrier spacing 15 kHz × 2^µ.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u8).range(0..=4))]
    numerology: u8,
    /// Carrier width in PRBs (273 = 100 MHz at 30 kHz).
    #[arg(long, default_value_t = 273, value_parser = clap::value_parser!(u16).range(1..=1023))]
    prbs: u16,
    /// Antennas (one eAxC each).
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u8).range(1..=16))]
    antennas: u8,
    /// U-plane compression, METHOD:WIDTH.
    #[arg(long, default_value = "bfp:9", value_parser = |s: &str| UdCompHdr::from_spec(s).ok_or_else(|| format!("`{s}`: expected METHOD:WIDTH like bfp:9")))]
    comp: UdCompHdr,
    /// Leave udCompHdr out of U-plane sections (static compression).
    #[arg(long)]
    no_comp_hdr: bool,
    /// eAxC bit widths.
    #[arg(long, default_value = "4,4,4,4", value_parser = |s: &str| EaxcLayout::from_spec(s).ok_or_else(|| format!("`{s}`: expected four widths adding up to 16")))]
    eaxc_bits: EaxcLayout,
    /// Tag every frame with this VLAN ID.
    #[arg(long)]
    vlan: Option<u16>,
    /// PCP of the VLAN tag.
    #[arg(long, default_value_t = 7)]
    pcp: u8,
    /// Largest Ethernet payload; U-plane symbols are split at PRB boundaries to fit.
    #[arg(long, default_value_t = 1500)]
    mtu: usize,
    /// Slots to generate.
    #[arg(long, default_value_t = 2)]
    slots: u32,
    /// Add a section type 3 PRACH C-plane message per antenna and slot.
    #[arg(long)]
    prach: bool,
    /// DU_port_ID of every eAxC (the RU port is the antenna index).
    #[arg(long, default_value_t = 0)]
    du_port: u16,
    /// BandSector_ID of every eAxC.
    #[arg(long, default_value_t = 0)]
    band_sector: u16,
}

pub fn run(a: GenArgs) -> Result<ExitCode> {
    if let Some(v) = a.vlan {
        anyhow::ensure!(v < 4096, "--vlan {v}: a VLAN ID has 12 bits (0-4095)");
    }
    anyhow::ensure!(a.pcp < 8, "--pcp {}: PCP has 3 bits (0-7)", a.pcp);
    let spec = CarrierSpec {
        numerology: a.numerology,
        prbs: a.prbs,
        antennas: a.antennas,
        comp: a.comp,
        comp_hdr: !a.no_comp_hdr,
        eaxc: a.eaxc_bits,
        vlan: a.vlan.map(|v| VlanTag::c_tag(v, a.pcp)),
        mtu: a.mtu,
        slots: a.slots,
        side: match a.side {
            SideArg::Du => Side::Du,
            SideArg::Ru => Side::Ru,
        },
        prach: a.prach,
        du_port: a.du_port,
        band_sector: a.band_sector,
        ..CarrierSpec::default()
    };
    let frames = traffic::generate(&spec)?;
    let mut out = PcapOut::create(&a.output)?;
    // A fixed epoch keeps generated captures byte-identical run to run.
    let epoch = Duration::from_secs(1_767_225_600);
    for f in &frames {
        out.write(epoch + f.at, &f.data)?;
    }
    eprintln!("fhgate gen: wrote {} frames to {}", frames.len(), a.output.display());
    Ok(ExitCode::SUCCESS)
}
