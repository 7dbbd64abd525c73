//! The decoding flags shared by `inspect`, `replay` and the config file:
//! what the wire does not carry.

use clap::Args;
use ecpri::frame::DecodeConfig;
use ecpri::uplane::CompHdrMode;
use ecpri::{EaxcLayout, UdCompHdr};

/// Decoding options (M-plane agreements the frames do not carry).
#[derive(Args, Debug, Clone)]
pub struct DecodeArgs {
    /// eAxC bit widths: DU port, band sector, CC, RU port.
    #[arg(long, value_name = "A,B,C,D", default_value = "4,4,4,4", value_parser = parse_eaxc)]
    pub eaxc_bits: EaxcLayout,
    /// Static DL U-plane compression, METHOD:WIDTH (none, bfp, block-scaling, mu-law, modcomp).
    #[arg(long, value_name = "METHOD:WIDTH", default_value = "none:16", value_parser = parse_comp)]
    pub dl_comp: UdCompHdr,
    /// Static UL U-plane compression, METHOD:WIDTH.
    #[arg(long, value_name = "METHOD:WIDTH", default_value = "none:16", value_parser = parse_comp)]
    pub ul_comp: UdCompHdr,
    /// Whether U-plane sections carry udCompHdr: present, absent, or auto (from section lengths).
    #[arg(long, value_name = "MODE", default_value = "auto", value_parser = parse_comp_hdr)]
    pub comp_hdr: CompHdrMode,
    /// Decode this UDP port as eCPRI (over IPv4 or IPv6).
    #[arg(long, value_name = "N")]
    pub udp_port: Option<u16>,
    /// Carrier width in PRBs that numPrbu = 0 stands for.
    #[arg(long, value_name = "N", default_value_t = 273, value_parser = clap::value_parser!(u16).range(1..=1023))]
    pub carrier_prbs: u16,
}

impl DecodeArgs {
    /// The codec's view of these flags.
    pub fn config(&self) -> DecodeConfig {
        DecodeConfig {
            eaxc: self.eaxc_bits,
            dl_comp: self.dl_comp,
            ul_comp: self.ul_comp,
            comp_hdr: self.comp_hdr,
            udp_port: self.udp_port,
            carrier_prbs: self.carrier_prbs,
        }
    }
}

fn parse_eaxc(s: &str) -> Result<EaxcLayout, String> {
    EaxcLayout::from_spec(s).ok_or_else(|| format!("`{s}`: expected four widths that add up to 16, like 4,4,4,4 or 2,6,4,4"))
}

fn parse_comp(s: &str) -> Result<UdCompHdr, String> {
    UdCompHdr::from_spec(s).ok_or_else(|| {
        format!("`{s}`: expected METHOD:WIDTH with METHOD one of none, bfp, block-scaling, mu-law, modcomp and WIDTH 1-16, like bfp:9")
    })
}

fn parse_comp_hdr(s: &str) -> Result<CompHdrMode, String> {
    CompHdrMode::from_name(s).ok_or_else(|| format!("`{s}`: expected present, absent or auto"))
}
