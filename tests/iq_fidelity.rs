//! IQ fidelity end to end (issue 17): `fhgate gen` sweeps the BFP
//! exponents 0–15, `fhgate replay` runs the `bfp_width` translator, and a
//! decoder written here from the spec (O-RAN.WG4.CUS §7.2 and Annex A.1:
//! raw bytes → mantissa × 2^exponent, in `i64`), using neither `ecpri`
//! nor the gateway's decoders, measures what came out. Widening must be
//! exact PRB for PRB; narrowing must land within 0.5 dB of the ideal
//! bound (each PRB quantised to nearest at the output width, computed
//! here); `fhgate diff` must agree with this oracle to 0.01 dB and count
//! the same PRBs.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

#[path = "support/bfp_oracle.rs"]
mod bfp_oracle;
use bfp_oracle::{nearest_exponent, oracle_decode, quantise_nearest, signed_bits, Prb, PrbKey};

#[path = "support/cli.rs"]
mod cli;
use cli::{fhgate, translators};

/// What the oracle measures of B against A, over the PRBs both have.
#[derive(Debug, Default)]
struct Measure {
    prbs: u64,
    identical: u64,
    /// PRBs no exponent 0–15 carries at the output width.
    clipped: u64,
    error: f64,
    bound_error: f64,
    reference: f64,
}

impl Measure {
    fn evm_db(&self) -> f64 {
        10.0 * (self.error / self.reference).log10()
    }
    fn bound_db(&self) -> f64 {
        10.0 * (self.bound_error / self.reference).log10()
    }
}

/// The oracle's figures of B against A on eAxC `eaxc`: over every PRB,
/// and over those whose exponent still fits 4 bits after narrowing
/// `cut` bits (A's exponent + cut <= 15; the others are clipped at
/// exponent 15 by any translator, and by the bound too).
fn measure(
    a: &BTreeMap<PrbKey, Prb>,
    b: &BTreeMap<PrbKey, Prb>,
    out_width: u32,
    cut: i32,
    eaxc: u16,
) -> (Measure, Measure) {
    let (mut all, mut fit) = (Measure::default(), Measure::default());
    for (k, pa) in a.iter().filter(|(k, _)| k.0 == eaxc) {
        let pb = b
            .get(k)
            .unwrap_or_else(|| panic!("PRB {k:?} is missing in B"));
        let q = quantise_nearest(&pa.samples, out_width);
        let fits = pa.exponent as i32 + cut <= 15;
        for m in [&mut all].into_iter().chain(fits.then_some(&mut fit)) {
            m.prbs += 1;
            m.identical += (pa.samples == pb.samples) as u64;
            m.clipped += nearest_exponent(&pa.samples, out_width).is_none() as u64;
            for i in 0..24 {
                let x = pa.samples[i] as f64;
                m.error += (pb.samples[i] as f64 - x).powi(2);
                m.bound_error += (q[i] as f64 - x).powi(2);
                m.reference += x * x;
            }
        }
    }
    (all, fit)
}

/// gen at BFP `a` with exponents 0–15, replay through bfp_width a → b,
/// then the oracle and `fhgate diff` on both files. Returns, per eAxC,
/// the oracle's figures.
fn run_case(t: &Path, dir: &Path, a: u8, b: u8) -> Vec<(Measure, Measure)> {
    let (pa, pb) = (
        dir.join(format!("a{a}.pcap")),
        dir.join(format!("b{a}-{b}.pcap")),
    );
    let (ca, cb) = (format!("bfp:{a}"), format!("bfp:{b}"));
    let o = fhgate(&[
        "gen",
        "-o",
        pa.to_str().unwrap(),
        "--prbs",
        "48",
        "--antennas",
        "2",
        "--slots",
        "1",
        "--comp",
        &ca,
        "--exponents",
        "0-15",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let tr = format!(
        "{}:in_width={a},out_width={b}",
        t.join("bfp_width.wasm").display()
    );
    let o = fhgate(&[
        "replay",
        pa.to_str().unwrap(),
        "-o",
        pb.to_str().unwrap(),
        "--dl-comp",
        &ca,
        "--ul-comp",
        &ca,
        "--egress-dl-comp",
        &cb,
        "--egress-ul-comp",
        &cb,
        "--translator",
        &tr,
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let (xa, xb) = (oracle_decode(&pa), oracle_decode(&pb));
    let exps: std::collections::BTreeSet<u8> = xa.values().map(|p| p.exponent).collect();
    assert_eq!(exps, (0..=15).collect(), "{a}-bit A sweeps every exponent");
    assert_eq!(xa.len(), xb.len(), "{a} → {b}: as many PRBs out as in");

    let o = fhgate(&[
        "diff",
        pa.to_str().unwrap(),
        pb.to_str().unwrap(),
        "--dl-comp",
        &ca,
        "--ul-comp",
        &ca,
        "--b-dl-comp",
        &cb,
        "--b-ul-comp",
        &cb,
        "--json",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let flows: Vec<&Value> = v["flows"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["plane"] == "U")
        .collect();
    assert_eq!(flows.len(), 2, "{v}");
    let mut out = Vec::new();
    for f in flows {
        let eaxc = f["eaxc_a"].as_u64().unwrap() as u16;
        let (m, fit) = measure(&xa, &xb, b as u32, a as i32 - b as i32, eaxc);
        let q = &f["iq"];
        eprintln!(
            "{a} → {b} eAxC {eaxc}: oracle {} PRBs, {} identical, EVM {:.2} dB, bound {:.2} dB \
             ({} PRBs whose exponent fits: EVM {:.2} dB, bound {:.2} dB); diff {} PRBs, {} differ, EVM {}, bound {}",
            m.prbs, m.identical, m.evm_db(), m.bound_db(), fit.prbs, fit.evm_db(), fit.bound_db(),
            q["prbs"], q["differing_prbs"], q["evm_db"], q["bound"]["evm_db"]
        );
        assert_eq!(m.prbs, 14 * 48);
        assert_eq!(
            (
                f["matched"].as_u64(),
                f["missing"].as_u64(),
                f["extra"].as_u64()
            ),
            (Some(m.prbs), Some(0), Some(0))
        );
        assert_eq!(q["prbs"].as_u64(), Some(m.prbs));
        assert_eq!(
            q["differing_prbs"].as_u64(),
            Some(m.prbs - m.identical),
            "{a} → {b}: diff counts the PRBs the oracle does"
        );
        assert_eq!(q["undecodable"], 0);
        assert_eq!(
            q["bound"]["clipped_prbs"].as_u64(),
            Some(m.clipped),
            "{a} → {b}: PRBs beyond exponent 15"
        );
        assert_eq!(
            m.clipped,
            m.prbs - fit.prbs,
            "{a} → {b}: exactly the PRBs whose exponent does not fit"
        );
        if m.error == 0.0 {
            assert_eq!(q["exact"], true);
            assert_eq!(q["evm_db"], Value::Null);
        } else {
            let evm = q["evm_db"].as_f64().expect("an EVM");
            assert!(
                (evm - m.evm_db()).abs() < 0.01,
                "{a} → {b}: diff says {evm} dB, the oracle {}",
                m.evm_db()
            );
        }
        if m.bound_error == 0.0 {
            assert_eq!(q["bound"]["lossless"], true);
        } else {
            let bound = q["bound"]["evm_db"].as_f64().expect("a bound");
            assert!(
                (bound - m.bound_db()).abs() < 0.01,
                "{a} → {b}: diff's bound {bound} dB, the oracle's {}",
                m.bound_db()
            );
        }
        out.push((m, fit));
    }
    out
}

#[test]
fn widening_9_to_12_at_every_exponent_is_exact() {
    let t = translators();
    let dir = tempfile::tempdir().unwrap();
    for (m, fit) in run_case(&t, dir.path(), 9, 12) {
        assert_eq!(m.identical, m.prbs, "every PRB identical");
        assert_eq!(m.error, 0.0);
        assert_eq!(m.bound_error, 0.0, "12 bits carry 9 exactly");
        assert_eq!(fit.prbs, m.prbs, "widening never needs a larger exponent");
    }
}

#[test]
fn narrowing_at_every_exponent_lands_on_the_nearest_rounding_bound() {
    let t = translators();
    let dir = tempfile::tempdir().unwrap();
    for (a, b) in [(12, 8), (14, 9), (16, 8)] {
        for (m, fit) in run_case(&t, dir.path(), a, b) {
            assert!(m.error > 0.0, "{a} → {b} loses bits");
            let near = |x: &Measure| {
                let (evm, bound) = (x.evm_db(), x.bound_db());
                assert!(
                    (evm - bound).abs() < 0.5,
                    "{a} → {b}: EVM {evm:.2} dB, bound {bound:.2} dB over {} PRBs",
                    x.prbs
                );
            };
            // Every PRB, including those whose exponent would pass 15 and
            // are clipped (by the bound as by the translator).
            near(&m);
            // The PRBs that fit: a cut of a PRB at its own exponent, tens
            // of dB down, never a wrap.
            let cut = (a - b) as u64;
            assert_eq!(
                fit.prbs,
                m.prbs / 16 * (16 - cut),
                "{a} → {b}: exponents 0-{} fit",
                15 - cut
            );
            near(&fit);
            assert!(
                fit.evm_db() < -30.0,
                "{a} → {b}: EVM {:.2} dB",
                fit.evm_db()
            );
        }
    }
}

/// The oracle's quantiser against hand answers, so the bound the tests
/// rely on is itself checked.
#[test]
fn oracle_quantiser_hand_answers() {
    // 1001 at 8 bits: exponent 3, round(125.125) = 125 → 1000.
    let mut x = [1001i64; 24];
    x[1] = -1001;
    let q = quantise_nearest(&x, 8);
    assert_eq!((q[0], q[1]), (1000, -1000));
    // 1020 at 8 bits: 1020 / 8 = 127.5 rounds to 128, which does not fit;
    // exponent 4: 63.75 → 64 → 1024.
    assert_eq!(quantise_nearest(&[1020; 24], 8)[0], 1024);
    // -1024 at 8 bits fits at exponent 3 (-128).
    assert_eq!(quantise_nearest(&[-1024; 24], 8)[0], -1024);
    // Beyond exponent 15 at 8 bits: clipped to 127 · 2^15.
    assert_eq!(quantise_nearest(&[1 << 30; 24], 8)[0], 127 << 15);
    // The bit reader: 0b1000_0000 0b1 as 9 bits is -256; 0x7F as 8 is 127.
    let mut pos = 0;
    assert_eq!(signed_bits(&[0x80, 0x00], &mut pos, 9), -256);
    let mut pos = 0;
    assert_eq!(signed_bits(&[0x7F], &mut pos, 8), 127);
}
