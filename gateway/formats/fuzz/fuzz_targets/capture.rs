//! Any bytes read as a capture: nothing may panic, and what is read is
//! consistent (lengths, the cut-short offset inside the file).
#![no_main]

use fhgate_formats::capture::{parse, Format};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(c) = parse(data) else { return };
    for f in &c.frames {
        assert!(f.data.len() <= data.len() + 14, "a frame longer than the file");
    }
    if let Some(s) = c.cut_short {
        assert!(s.offset + s.available == data.len() as u64, "{s:?} of {} bytes", data.len());
        assert!(s.available < s.needed, "{s:?}");
    }
    if c.format == Format::Pcap {
        assert!(data.len() >= 24);
    }
});
