//! The native side of the native-vs-wasm benchmark: the same translator
//! source, run natively through the SDK's harness (the burst loop the
//! wasm32 build runs inside the host), on the same frames and
//! configuration the wasm side gets.
//!
//! ```ignore
//! let mut b = bfp_width::bench::Bench::new(8, 12, 32);
//! criterion.bench_function("bfp_width native", |i| i.iter(|| b.run()));
//! // wasm side: load target/translators/bfp_width.wasm in the host with
//! // bench::config(8, 12), and feed it bench::frame(8) the same way.
//! ```

use std::string::String;
use std::vec::Vec;

use ecpri::frame::DecodeConfig;
use ecpri::uplane::CompHdrMode;
use ecpri::{CompMethod, UdCompHdr};
use fhgate_sdk::native::Harness;

use crate::BfpWidth;

/// The configuration text both sides use.
pub fn config(in_width: u8, out_width: u8) -> String {
    std::format!("in_width={in_width}\nout_width={out_width}\n")
}

/// [`config`] with `rounding` (`nearest` or `truncate`) set.
pub fn config_rounding(in_width: u8, out_width: u8, rounding: &str) -> String {
    std::format!("{}rounding=\"{rounding}\"\n", config(in_width, out_width))
}

/// A full 100 MHz carrier symbol: a DL U-plane frame of 273 PRBs of BFP
/// at `in_width` in two sections, udCompHdr present (6.8 KB at 8 bits).
pub fn frame(in_width: u8) -> Vec<u8> {
    ecpri::samples::uplane_frame(UdCompHdr::new(CompMethod::Bfp, in_width), true, &[(0, 137), (137, 136)])
        .expect("sample frame")
}

/// How the frames are classified (udCompHdr present, static BFP `in_width`).
pub fn decode(in_width: u8) -> DecodeConfig {
    let comp = UdCompHdr::new(CompMethod::Bfp, in_width);
    DecodeConfig { dl_comp: comp, ul_comp: comp, comp_hdr: CompHdrMode::Present, ..DecodeConfig::default() }
}

/// A loaded harness and a burst of identical frames.
pub struct Bench {
    harness: Harness<BfpWidth>,
    frames: Vec<Vec<u8>>,
}

impl Bench {
    /// `in_width` → `out_width` over bursts of `burst` (1–64) copies of [`frame`].
    pub fn new(in_width: u8, out_width: u8, burst: usize) -> Self {
        Self::with_config(&config(in_width, out_width), in_width, burst)
    }

    /// [`Bench::new`] with the configuration text `config` (its
    /// `in_width` must be `in_width`).
    pub fn with_config(config: &str, in_width: u8, burst: usize) -> Self {
        let mut harness = Harness::with_decode(config, decode(in_width)).expect("config");
        let frames: Vec<Vec<u8>> = (0..burst).map(|_| frame(in_width)).collect();
        let refs: Vec<&[u8]> = frames.iter().map(|f| &f[..]).collect();
        harness.load(&refs);
        Bench { harness, frames }
    }

    /// Runs one burst (copying each frame into its slot first, as the host
    /// does); returns the number of outputs. Allocates nothing.
    pub fn run(&mut self) -> usize {
        self.harness.rerun(&self.frames)
    }

    /// Input bytes per burst, for throughput.
    pub fn bytes_per_burst(&self) -> u64 {
        self.frames.iter().map(|f| f.len() as u64).sum()
    }

    /// The harness, to read outputs after [`Bench::run`].
    pub fn harness(&self) -> &Harness<BfpWidth> {
        &self.harness
    }
}
