//! The IQ error of B against A, and the quantisation bound: how close to
//! ideal a chain is.

use ecpri::iq::{Rounding, SAMPLES_PER_PRB};
use ecpri::UdCompHdr;

/// IQ error of B against A over the matched PRBs of a flow.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct IqError {
    /// PRBs compared.
    pub prbs: u64,
    /// PRBs with at least one sample that differs.
    pub differing_prbs: u64,
    /// Σ|b−a|² over every I and Q sample.
    pub error_energy: f64,
    /// Σ|a|².
    pub reference_energy: f64,
    /// Largest |b−a| of any sample.
    pub max_abs_error: u32,
    /// Matched PRBs whose IQ could not be decompressed on either side.
    pub undecodable: u64,
}

impl IqError {
    /// Adds `o`'s PRBs (flows into a total).
    pub fn merge(&mut self, o: &IqError) {
        self.prbs += o.prbs;
        self.differing_prbs += o.differing_prbs;
        self.error_energy += o.error_energy;
        self.reference_energy += o.reference_energy;
        self.max_abs_error = self.max_abs_error.max(o.max_abs_error);
        self.undecodable += o.undecodable;
    }

    /// Whether every compared sample is identical.
    pub fn exact(&self) -> bool {
        self.differing_prbs == 0 && self.undecodable == 0
    }

    /// EVM in dB, `None` when there is no error (or no reference power).
    pub fn evm_db(&self) -> Option<f64> {
        (self.error_energy > 0.0 && self.reference_energy > 0.0).then(|| 10.0 * (self.error_energy / self.reference_energy).log10())
    }

    /// EVM in percent: 100 · √(Σ|error|² / Σ|reference|²); `None` without reference power.
    pub fn evm_pct(&self) -> Option<f64> {
        (self.reference_energy > 0.0).then(|| 100.0 * (self.error_energy / self.reference_energy).sqrt())
    }

    /// Adds one PRB: reference `a`, received `b`, both decompressed into
    /// `i32` (exact for every BFP exponent) and compared in `i64`/`f64`, so
    /// nothing wraps.
    pub fn add_prb(&mut self, a: &[i32; SAMPLES_PER_PRB], b: &[i32; SAMPLES_PER_PRB]) {
        self.prbs += 1;
        let mut differs = false;
        for (x, y) in a.iter().zip(b) {
            let (x, y) = (*x as i64, *y as i64);
            let d = y - x;
            if d != 0 {
                differs = true;
                self.error_energy += (d as f64) * (d as f64);
                self.max_abs_error = self.max_abs_error.max(d.unsigned_abs().min(u32::MAX as u64) as u32);
            }
            self.reference_energy += (x as f64) * (x as f64);
        }
        self.differing_prbs += differs as u64;
    }
}

/// The quantisation bound at B's compression: the error A's own samples
/// would have if each PRB were quantised as B carries it (B's method and
/// width) with rounding to nearest, which is the least any translator can
/// reach at that width. EVM = 10·log10(Σ|q(a)−a|² / Σ|a|²).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct QuantBound {
    /// PRBs quantised.
    pub prbs: u64,
    /// Σ|q(a)−a|².
    pub error_energy: f64,
    /// Σ|a|² over the same PRBs.
    pub reference_energy: f64,
    /// B's compression, when every PRB had the same.
    pub comp: Option<UdCompHdr>,
    /// Whether B's PRBs came in more than one compression.
    pub mixed: bool,
    /// PRBs of A that B's width cannot carry even at the largest exponent
    /// (BFP 15): quantising them clipped samples.
    pub clipped_prbs: u64,
    /// PRBs whose compression cannot be applied here (modulation
    /// compression needs the C-plane's csf and modCompScaler).
    pub unavailable: u64,
}

impl QuantBound {
    /// Adds A's PRB `a` quantised as `comp` carries it, rounding to nearest.
    pub fn add_prb(&mut self, a: &[i32; SAMPLES_PER_PRB], comp: UdCompHdr) {
        match self.comp {
            None if self.prbs == 0 && self.unavailable == 0 => self.comp = Some(comp),
            Some(c) if c != comp => self.mixed = true,
            _ => {}
        }
        let mut wire = [0u8; 1 + 3 * 16];
        let mut q = [0i32; SAMPLES_PER_PRB];
        let enc = ecpri::iq::compress(comp, Rounding::Nearest, a, &mut wire);
        let Ok(enc) = enc.and_then(|e| ecpri::iq::decompress(comp, &wire, &mut q).map(|n| (e, n))) else {
            self.unavailable += 1;
            return;
        };
        if enc.1 != 1 {
            self.unavailable += 1;
            return;
        }
        self.clipped_prbs += (enc.0.saturated > 0) as u64;
        self.prbs += 1;
        for (x, y) in a.iter().zip(&q) {
            let d = (*y as i64 - *x as i64) as f64;
            self.error_energy += d * d;
            self.reference_energy += (*x as f64) * (*x as f64);
        }
    }

    /// The bound's EVM in dB; `None` when it is lossless (or has no power).
    pub fn evm_db(&self) -> Option<f64> {
        (self.error_energy > 0.0 && self.reference_energy > 0.0).then(|| 10.0 * (self.error_energy / self.reference_energy).log10())
    }

    /// Whether B's compression carries every compared PRB of A exactly.
    pub fn lossless(&self) -> bool {
        self.prbs > 0 && self.error_energy == 0.0
    }

    /// B's compression as the report names it.
    pub fn comp_name(&self) -> String {
        match (self.comp, self.mixed) {
            (Some(c), false) => c.to_string(),
            _ => "compression".into(),
        }
    }
}

#[cfg(test)]
mod merge_tests {
    use super::*;

    #[test]
    fn merged_errors_are_the_sum_of_their_prbs() {
        let (a, b) = ([100i32; SAMPLES_PER_PRB], [103i32; SAMPLES_PER_PRB]);
        let (mut x, mut y, mut both) = (IqError::default(), IqError::default(), IqError::default());
        x.add_prb(&a, &a);
        y.add_prb(&a, &b);
        both.add_prb(&a, &a);
        both.add_prb(&a, &b);
        x.merge(&y);
        assert_eq!((x.prbs, x.differing_prbs, x.max_abs_error), (2, 1, 3));
        assert_eq!((x.error_energy, x.reference_energy), (both.error_energy, both.reference_energy));
    }
}
