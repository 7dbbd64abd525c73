//! The host imports of ABI.md §6. On wasm32 they are the `fhgate` module's
//! functions; natively they are a per-thread recorder that tests read
//! through [`crate::native`].

#[cfg(target_arch = "wasm32")]
mod imp {
    #[link(wasm_import_module = "fhgate")]
    extern "C" {
        #[link_name = "log"]
        fn fhgate_log(level: i32, ptr: *const u8, len: i32);
        #[link_name = "counter_define"]
        fn fhgate_counter_define(ptr: *const u8, len: i32) -> i32;
        #[link_name = "counter_add"]
        fn fhgate_counter_add(id: i32, delta: i64);
        #[link_name = "now_ns"]
        fn fhgate_now_ns() -> i64;
        #[link_name = "config_read"]
        fn fhgate_config_read(ptr: *const u8, len: i32);
        #[link_name = "effect"]
        fn fhgate_effect(ptr: *const u8, len: i32) -> i32;
    }

    pub fn log(level: i32, msg: &[u8]) {
        // SAFETY: the host reads `len` bytes at `ptr` from our memory; the
        // slice is valid for that long. Slices are below 4 GiB on wasm32.
        unsafe { fhgate_log(level, msg.as_ptr(), msg.len() as i32) }
    }

    pub fn counter_define(name: &[u8]) -> i32 {
        // SAFETY: as for `log`.
        unsafe { fhgate_counter_define(name.as_ptr(), name.len() as i32) }
    }

    pub fn counter_add(id: i32, delta: i64) {
        // SAFETY: plain values; the host ignores unknown ids.
        unsafe { fhgate_counter_add(id, delta) }
    }

    pub fn now_ns() -> i64 {
        // SAFETY: no arguments.
        unsafe { fhgate_now_ns() }
    }

    pub fn config_read(key: &[u8]) {
        // SAFETY: as for `log`.
        unsafe { fhgate_config_read(key.as_ptr(), key.len() as i32) }
    }

    pub fn effect(text: &[u8]) -> i32 {
        // SAFETY: as for `log`.
        unsafe { fhgate_effect(text.as_ptr(), text.len() as i32) }
    }
}

#[cfg(not(target_arch = "wasm32"))]
mod imp {
    use std::cell::RefCell;
    use std::string::String;
    use std::vec::Vec;

    /// What a native run has logged and counted, per thread.
    #[derive(Default)]
    pub struct Recorder {
        pub logs: Vec<(i32, String)>,
        pub counters: Vec<(String, i64)>,
        pub defining: bool,
        pub config_read: Vec<String>,
        pub effects: Vec<String>,
    }

    std::thread_local! {
        pub static RECORDER: RefCell<Recorder> = RefCell::new(Recorder::default());
    }

    pub fn log(level: i32, msg: &[u8]) {
        RECORDER.with(|r| r.borrow_mut().logs.push((level, String::from_utf8_lossy(msg).into_owned())));
    }

    pub fn counter_define(name: &[u8]) -> i32 {
        RECORDER.with(|r| {
            let mut r = r.borrow_mut();
            if !r.defining {
                return -1;
            }
            r.counters.push((String::from_utf8_lossy(name).into_owned(), 0));
            r.counters.len() as i32 - 1
        })
    }

    pub fn counter_add(id: i32, delta: i64) {
        RECORDER.with(|r| {
            if let Some(c) = r.borrow_mut().counters.get_mut(id as usize) {
                c.1 += delta;
            }
        })
    }

    pub fn config_read(key: &[u8]) {
        RECORDER.with(|r| r.borrow_mut().config_read.push(String::from_utf8_lossy(key).into_owned()));
    }

    /// Records the declaration; refuses it (-1) outside init, as the host does.
    pub fn effect(text: &[u8]) -> i32 {
        RECORDER.with(|r| {
            let mut r = r.borrow_mut();
            if !r.defining {
                return -1;
            }
            r.effects.push(String::from_utf8_lossy(text).into_owned());
            0
        })
    }

    pub fn now_ns() -> i64 {
        static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
        START.get_or_init(std::time::Instant::now).elapsed().as_nanos() as i64
    }
}

pub(crate) use imp::*;
