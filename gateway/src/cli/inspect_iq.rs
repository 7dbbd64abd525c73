//! `inspect --iq`'s per-flow IQ statistics, measured in the wide domain
//! (`ecpri` decompresses into `i32`, summed here in `i64`/`f64`), so a DU
//! sending BFP exponents above 7 shows levels beyond int16 full scale
//! instead of wrapped noise: the exponent histogram (BFP udCompParam per
//! PRB), peak and RMS level in dBFS (0 dBFS = int16 full scale, 32 768)
//! and how many samples lie beyond int16.

use ecpri::iq::SAMPLES_PER_PRB;
use ecpri::uplane::SectionRepr;
use ecpri::{CompMethod, UdCompHdr};
use serde_json::{json, Value};

use fhgate::traffic::FULL_SCALE;

/// IQ statistics of one U-plane flow.
#[derive(Debug, Default)]
pub(super) struct IqStats {
    /// PRBs decompressed.
    prbs: u64,
    /// PRBs whose bytes were short or whose compression is not decodable here.
    undecodable: u64,
    /// BFP PRBs by exponent (udCompParam's low 4 bits).
    exponents: [u64; 16],
    /// Largest |sample|.
    peak: u64,
    /// Σ sample².
    energy: f64,
    /// Samples beyond int16 (above 32 767 or below −32 768).
    beyond_i16: u64,
}

impl IqStats {
    /// Adds every PRB of a U-plane section carried as `comp`.
    pub(super) fn add_section(&mut self, sec: &SectionRepr<'_>, comp: UdCompHdr, carrier_prbs: u16) {
        let n = sec.prb_count(carrier_prbs);
        let Ok(len) = comp.prb_len() else {
            self.undecodable += n as u64;
            return;
        };
        let mut x = [0i32; SAMPLES_PER_PRB];
        for i in 0..n {
            let Some(bytes) = sec.iq_data.get(i * len..(i + 1) * len) else {
                self.undecodable += (n - i) as u64;
                return;
            };
            if ecpri::iq::decompress(comp, bytes, &mut x) != Ok(1) {
                self.undecodable += 1;
                continue;
            }
            self.prbs += 1;
            if comp.comp_meth == CompMethod::Bfp {
                self.exponents[(bytes[0] & 0x0F) as usize] += 1;
            }
            for &v in &x {
                let v = v as i64;
                self.peak = self.peak.max(v.unsigned_abs());
                self.energy += (v as f64) * (v as f64);
                self.beyond_i16 += !(i16::MIN as i64..=i16::MAX as i64).contains(&v) as u64;
            }
        }
    }

    /// Whether any PRB was seen.
    pub(super) fn is_empty(&self) -> bool {
        self.prbs == 0 && self.undecodable == 0
    }

    fn peak_dbfs(&self) -> Option<f64> {
        (self.peak > 0).then(|| 20.0 * (self.peak as f64 / FULL_SCALE).log10())
    }

    fn rms_dbfs(&self) -> Option<f64> {
        let n = self.prbs * SAMPLES_PER_PRB as u64;
        (self.energy > 0.0).then(|| 10.0 * (self.energy / n as f64 / (FULL_SCALE * FULL_SCALE)).log10())
    }

    /// `exponent:count` for every exponent that occurs.
    fn histogram_text(&self) -> String {
        let h: Vec<String> = self.exponents.iter().enumerate().filter(|(_, &n)| n > 0).map(|(e, n)| format!("{e}:{n}")).collect();
        if h.is_empty() {
            "-".into()
        } else {
            h.join(" ")
        }
    }

    /// The statistics as JSON.
    pub(super) fn to_json(&self) -> Value {
        let hist: serde_json::Map<String, Value> =
            self.exponents.iter().enumerate().filter(|(_, &n)| n > 0).map(|(e, &n)| (e.to_string(), json!(n))).collect();
        json!({
            "prbs": self.prbs,
            "undecodable": self.undecodable,
            "exponents": hist,
            "peak": self.peak,
            "peak_dbfs": self.peak_dbfs(),
            "rms_dbfs": self.rms_dbfs(),
            "beyond_int16": self.beyond_i16,
        })
    }

    /// The header of the text table's columns after the flow's name.
    pub(super) const TEXT_HEADER: &'static str = "    PRBs  peak dBFS  RMS dBFS    >int16  exponents (BFP udCompParam: PRBs)";

    /// One row of the text table, matching [`IqStats::TEXT_HEADER`].
    pub(super) fn text_row(&self) -> String {
        let db = |v: Option<f64>| v.map_or("-".to_string(), |d| format!("{d:+.1}"));
        let mut s = format!(
            "{:>8}  {:>9}  {:>8}  {:>8}  {}",
            self.prbs,
            db(self.peak_dbfs()),
            db(self.rms_dbfs()),
            self.beyond_i16,
            self.histogram_text()
        );
        if self.undecodable > 0 {
            s.push_str(&format!("; {} PRBs not decompressible", self.undecodable));
        }
        s
    }
}
