//! Running a translator natively, the way the host would: [`Harness`]
//! owns an I/O region, classifies frames into descriptors with
//! [`describe`] (using `ecpri`), and runs the same burst loop as the
//! wasm32 build. Unit tests and the native side of the native-vs-wasm
//! benchmark use it. Logs and counters go to a per-thread recorder read
//! with [`logs`] and [`counter`].

use std::alloc::{alloc_zeroed, Layout};
use std::boxed::Box;
use std::string::String;
use std::vec::Vec;

use ecpri::bits::be16;
use ecpri::cplane::{CplanePacket, ParseOptions};
use ecpri::frame::{locate, DecodeConfig};
use ecpri::header::{message_type, EcpriPacket};
use ecpri::uplane::{self, resolve_comp_hdr, UplanePacket};
use ecpri::SeqId;

use crate::abi::{self, flags, plane, verdict, Descriptor, IoRegion, MAX_IN, SLOT_SIZE};
use crate::error::InitError;
use crate::rt::{self, Loaded};
use crate::sys::RECORDER;
use crate::Translator;

/// The descriptor the host would write for `frame` (`offset`, `capacity`
/// and `verdict` are the harness's business). `decode` gives what the
/// wire does not carry: UDP port, static compression, udCompHdr presence.
/// `direction` is the dataDirection bit of the first message.
pub fn describe(frame: &[u8], decode: &DecodeConfig) -> Descriptor {
    let mut d = Descriptor { len: frame.len() as u32, plane: plane::OTHER, msg_type: 0xFF, ..Descriptor::ZERO };
    d.vlan = abi::NO_VLAN;
    let Ok(loc) = locate(frame, decode.udp_port) else { return d };
    d.vlan = loc.vid.unwrap_or(abi::NO_VLAN);
    let Some(range) = loc.ecpri else { return d };
    d.ecpri_offset = range.start as u16;
    let Ok(msg) = EcpriPacket::new_checked(&frame[range.clone()]) else { return d };
    d.msg_type = msg.message_type();
    let p = msg.payload();
    let base = range.start + 4;
    if p.len() < 4 || !matches!(d.msg_type, message_type::IQ_DATA | message_type::RT_CONTROL) {
        return d;
    }
    d.eaxc = be16(p, 0);
    let body = &p[4..];
    let mut offsets = [0u16; 16];
    let mut count = 0usize;
    let mut note = |at: usize| {
        if count < 16 {
            offsets[count] = at as u16;
        }
        count += 1;
    };
    if d.msg_type == message_type::IQ_DATA {
        d.plane = plane::U;
        let Ok(u) = UplanePacket::new_checked(body) else { return d };
        (d.direction, d.frame_id, d.subframe_id, d.slot_id, d.symbol_id) =
            (u.data_direction(), u.frame_id(), u.subframe_id(), u.slot_id(), u.symbol_id());
        let seq = SeqId::from_bytes([p[2], p[3]]);
        let cfg = decode.uplane(u.data_direction());
        if seq.e_bit && seq.subseq_id == 0 {
            if let Ok(present) = resolve_comp_hdr(body, &cfg) {
                if present {
                    d.flags |= flags::UD_COMP_HDR;
                }
                for s in uplane::sections(body, present, &cfg) {
                    let Ok((off, _)) = s else { break };
                    note(base + 4 + off);
                }
            }
        }
    } else {
        d.plane = plane::C;
        let Ok(c) = CplanePacket::new_checked(body) else { return d };
        (d.direction, d.frame_id, d.subframe_id, d.slot_id, d.symbol_id) =
            (c.data_direction(), c.frame_id(), c.subframe_id(), c.slot_id(), c.start_symbol_id());
        for s in c.sections(ParseOptions::default()) {
            let Ok(s) = s else { break };
            note(base + 4 + s.offset);
        }
    }
    d.section_count = count as u16;
    d.section_offsets = offsets;
    if count > 16 {
        d.flags |= flags::MORE_SECTIONS;
    }
    d
}

/// One output, as the host would send it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    /// The descriptor's verdict (see [`crate::abi::verdict`]).
    pub verdict: u8,
    /// The input it belongs to.
    pub origin: usize,
    /// The bytes sent: the input for `FORWARD`, `len` bytes for
    /// `MODIFIED` and `EXTRA`, none for `DROP`.
    pub bytes: Vec<u8>,
}

/// A translator instance over a native I/O region.
pub struct Harness<T: Translator> {
    loaded: Option<Loaded<T>>,
    region: Box<IoRegion>,
    scratch: Box<[u8; SLOT_SIZE]>,
    inputs: Vec<Vec<u8>>,
    outputs: usize,
    decode: DecodeConfig,
}

fn zeroed_box<T>() -> Box<T> {
    let layout = Layout::new::<T>();
    // SAFETY: only used for IoRegion and byte arrays, for which all-zero
    // bytes are a valid value; the layout is non-zero-sized, and the
    // pointer comes from the global allocator with T's layout, as
    // Box::from_raw requires.
    unsafe {
        let p = alloc_zeroed(layout) as *mut T;
        assert!(!p.is_null(), "out of memory");
        Box::from_raw(p)
    }
}

impl<T: Translator> Harness<T> {
    /// Initialises the translator with `config` (`key=value` lines, as the
    /// host serialises them); frames are classified with `DecodeConfig::default()`.
    pub fn new(config: &str) -> Result<Self, InitError> {
        Self::with_decode(config, DecodeConfig::default())
    }

    /// As [`Harness::new`], classifying frames with `decode`.
    pub fn with_decode(config: &str, decode: DecodeConfig) -> Result<Self, InitError> {
        let mut region: Box<IoRegion> = zeroed_box();
        region.write_header();
        RECORDER.with(|r| {
            let mut r = r.borrow_mut();
            r.counters.clear();
            r.effects.clear();
            r.defining = true;
        });
        let data = &mut region.slots[0].bytes[..];
        let text = config.as_bytes();
        assert!(text.len() <= data.len(), "config longer than a slot");
        data[..text.len()].copy_from_slice(text);
        let r = rt::init::<T>(&mut data[..text.len()]);
        RECORDER.with(|r| r.borrow_mut().defining = false);
        Ok(Harness { loaded: Some(r?), region, scratch: zeroed_box(), inputs: Vec::new(), outputs: 0, decode })
    }

    /// Classifies later frames with `decode`.
    pub fn set_decode(&mut self, decode: DecodeConfig) {
        self.decode = decode;
    }

    /// The translator's state.
    pub fn translator(&self) -> &T {
        &self.loaded.as_ref().expect("loaded").translator
    }

    /// Copies up to 64 frames into slots and fills their descriptors as
    /// the host does (every verdict `FORWARD`).
    pub fn load(&mut self, frames: &[&[u8]]) {
        assert!((1..=MAX_IN).contains(&frames.len()), "1 to 64 frames per burst");
        self.inputs.clear();
        for (i, f) in frames.iter().enumerate() {
            assert!(f.len() <= SLOT_SIZE, "frame longer than a slot");
            let mut d = describe(f, &self.decode);
            d.offset = abi::slot_offset(i) as u32;
            d.capacity = SLOT_SIZE as u32;
            d.verdict = verdict::FORWARD;
            self.region.descriptors[i] = d;
            self.region.slots[i].bytes[..f.len()].copy_from_slice(f);
            self.inputs.push(f.to_vec());
        }
    }

    /// Runs `fhgate_process` over the loaded burst; returns the output count.
    pub fn run(&mut self) -> usize {
        let n = self.inputs.len() as i32;
        let l = self.loaded.as_mut().expect("loaded");
        let r = rt::process(l, &mut self.region, &mut self.scratch, n);
        assert!(r >= n && r as usize <= abi::MAX_OUT, "bad output count {r}");
        self.outputs = r as usize;
        self.outputs
    }

    /// Re-runs a burst over frames that are already described, without
    /// allocating: each slot is refilled from `frames` (the same lengths as
    /// the last [`Harness::load`]) and its descriptor reset. For benchmarks.
    pub fn rerun<F: AsRef<[u8]>>(&mut self, frames: &[F]) -> usize {
        assert_eq!(frames.len(), self.inputs.len(), "rerun needs the loaded burst's frames");
        for (i, f) in frames.iter().enumerate() {
            let f = f.as_ref();
            let d = &mut self.region.descriptors[i];
            d.len = f.len() as u32;
            d.verdict = verdict::FORWARD;
            self.region.slots[i].bytes[..f.len()].copy_from_slice(f);
        }
        let n = frames.len() as i32;
        let l = self.loaded.as_mut().expect("loaded");
        self.outputs = rt::process(l, &mut self.region, &mut self.scratch, n) as usize;
        self.outputs
    }

    /// Output `i` of the last run.
    pub fn output(&self, i: usize) -> Output {
        assert!(i < self.outputs);
        let d = &self.region.descriptors[i];
        let origin = if d.verdict == verdict::EXTRA { d.origin as usize } else { i };
        let bytes = match d.verdict {
            verdict::FORWARD => self.inputs[i].clone(),
            verdict::DROP => Vec::new(),
            _ => {
                let at = d.offset as usize - abi::SLOTS_OFFSET;
                let (slot, off) = (at / abi::SLOT_STRIDE, at % abi::SLOT_STRIDE);
                self.region.slots[slot].bytes[off..off + d.len as usize].to_vec()
            }
        };
        Output { verdict: d.verdict, origin, bytes }
    }

    /// Loads, runs and returns every output.
    pub fn process(&mut self, frames: &[&[u8]]) -> Vec<Output> {
        self.load(frames);
        let n = self.run();
        (0..n).map(|i| self.output(i)).collect()
    }

    /// Runs one frame; returns its output (extras follow in [`Harness::output`]).
    pub fn translate(&mut self, frame: &[u8]) -> Output {
        self.load(&[frame]);
        self.run();
        self.output(0)
    }

    /// Calls the translator's `unload`.
    pub fn unload(mut self) {
        if let Some(l) = self.loaded.take() {
            rt::unload(l);
        }
    }
}

/// Messages logged on this thread so far, as (level, text).
pub fn logs() -> Vec<(i32, String)> {
    RECORDER.with(|r| r.borrow().logs.clone())
}

/// Forgets the logged messages.
pub fn clear_logs() {
    RECORDER.with(|r| r.borrow_mut().logs.clear());
}

/// The value of the counter `name` of the last harness created on this thread.
pub fn counter(name: &str) -> Option<i64> {
    RECORDER.with(|r| r.borrow().counters.iter().find(|c| c.0 == name).map(|c| c.1))
}

/// The effects declared on this thread so far (`effect`), as their text.
pub fn effects() -> Vec<String> {
    RECORDER.with(|r| r.borrow().effects.clone())
}

/// The config keys looked up on this thread so far (`config_read`), in order.
pub fn config_read() -> Vec<String> {
    RECORDER.with(|r| r.borrow().config_read.clone())
}
