//! IQ codecs: decompressing arbitrary bytes and re-compressing never
//! panics, and BFP re-compression at the same width is a fixed point.
#![no_main]

use ecpri::iq::Rounding;
use ecpri::{iq, CompMethod, UdCompHdr};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&[h, w2], body)) = data.split_first_chunk::<2>() else { return };
    let hdr = UdCompHdr::from_byte(h);
    let Ok(prb_len) = hdr.prb_len() else { return };
    let prbs = body.len() / prb_len;
    let body = &body[..prbs * prb_len];
    let mut samples = vec![0i32; prbs * 24];
    if iq::decompress(hdr, body, &mut samples).is_err() {
        return;
    }
    let mut again = vec![0u8; body.len()];
    for r in [Rounding::Truncate, Rounding::Nearest] {
        if let Ok(e) = iq::compress(hdr, r, &samples, &mut again) {
            if hdr.comp_meth == CompMethod::Bfp {
                assert_eq!(e.saturated, 0, "BFP carries what BFP decoded");
                let mut back = vec![0i32; samples.len()];
                iq::decompress(hdr, &again, &mut back).expect("own output decodes");
                assert_eq!(back, samples, "BFP compress(decompress(x)) decodes to the same samples");
            }
        }
    }
    // Width conversion between any two BFP widths.
    let out_w = 1 + (w2 % 16);
    if hdr.comp_meth == CompMethod::Bfp {
        let out_len = prbs * UdCompHdr::new(CompMethod::Bfp, out_w).prb_len().unwrap();
        let mut out = vec![0u8; out_len];
        let _ = iq::convert::bfp_recompress(hdr.iq_width, body, out_w, Rounding::Nearest, &mut out);
    }
});
