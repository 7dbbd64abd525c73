//! Any frame that parses must re-emit byte for byte; nothing may panic.
#![no_main]

use ecpri::frame::{DecodeConfig, FrameRepr};
use ecpri::uplane::CompHdrMode;
use ecpri::UdCompHdr;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The first two bytes choose the decoding options; the rest is the frame.
    let Some((&[a, b], frame)) = data.split_first_chunk::<2>() else { return };
    let cfg = DecodeConfig {
        dl_comp: UdCompHdr::from_byte(a),
        ul_comp: UdCompHdr::from_byte(a.rotate_left(4)),
        comp_hdr: [CompHdrMode::Present, CompHdrMode::Absent, CompHdrMode::Auto][(b % 3) as usize],
        udp_port: (b & 0x80 != 0).then_some(0xAEFE),
        carrier_prbs: 1 + (b as u16 & 0x3F) * 4,
        ..DecodeConfig::default()
    };
    if let Ok(f) = FrameRepr::parse(frame, &cfg) {
        let mut out = vec![0u8; f.buffer_len()];
        let n = f.emit(&mut out).expect("a parsed frame must emit");
        assert_eq!(&out[..n], frame, "round trip must be byte-exact");
    }
});
