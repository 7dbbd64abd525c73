//! Network namespaces for `bench`: each port, and a device bench starts,
//! may live in its own (`--tx-netns`, `--rx-netns`, `--dut-netns`), as
//! `ip netns add NAME` made them (`/run/netns/NAME`).
//!
//! A port is opened on a short-lived thread that enters the namespace
//! with `setns`; the socket it makes stays in that namespace whichever
//! thread uses it later. The thread also gets its own mount namespace
//! with a fresh `/sys`, as `ip netns exec` does, because the AF_XDP
//! backend reads `/sys/class/net` and checks that it matches.

use std::ffi::CString;
use std::os::fd::{AsRawFd, OwnedFd};

use anyhow::{anyhow, Context, Result};

/// An opened namespace, ready to be entered (also after `fork`, where
/// nothing may allocate).
pub struct Netns {
    name: String,
    fd: OwnedFd,
    sysfs: CString,
    root: CString,
    sys: CString,
}

impl Netns {
    /// Opens `/run/netns/NAME`.
    pub fn open(name: &str) -> Result<Netns> {
        let path = std::path::Path::new("/run/netns").join(name);
        let f = std::fs::File::open(&path)
            .with_context(|| format!("network namespace `{name}`: cannot open {} (create it with `ip netns add {name}`)", path.display()))?;
        let c = |s: &str| CString::new(s).map_err(|_| anyhow!("network namespace `{name}`: the name holds a NUL byte"));
        Ok(Netns { name: name.to_string(), fd: f.into(), sysfs: c("sysfs")?, root: c("/")?, sys: c("/sys")? })
    }

    /// The namespace's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Moves the calling thread (or a child between fork and exec) into
    /// the namespace, with a private mount namespace whose `/sys` is the
    /// namespace's. Makes only system calls, so it is safe after `fork`.
    pub fn enter(&self) -> std::io::Result<()> {
        let check = |r: libc::c_int| if r < 0 { Err(std::io::Error::last_os_error()) } else { Ok(()) };
        // SAFETY: plain system calls on a descriptor this value owns and on
        // NUL-terminated strings it owns; CLONE_NEWNS gives this thread its
        // own copy of the mount table, so nothing below is seen elsewhere.
        unsafe {
            check(libc::unshare(libc::CLONE_NEWNS))?;
            check(libc::mount(std::ptr::null(), self.root.as_ptr(), std::ptr::null(), libc::MS_REC | libc::MS_SLAVE, std::ptr::null()))?;
            check(libc::setns(self.fd.as_raw_fd(), libc::CLONE_NEWNET))?;
            // /sys may not be mounted at all (a minimal container): then
            // there is nothing to detach, and the fresh mount below is it.
            libc::umount2(self.sys.as_ptr(), libc::MNT_DETACH);
            check(libc::mount(self.sysfs.as_ptr(), self.sys.as_ptr(), self.sysfs.as_ptr(), 0, std::ptr::null()))?;
        }
        Ok(())
    }
}

/// Runs `f` in namespace `ns` (on a thread of its own), or here when
/// `ns` is `None`.
pub fn run_in<T: Send>(ns: Option<&Netns>, f: impl FnOnce() -> Result<T> + Send) -> Result<T> {
    let Some(ns) = ns else { return f() };
    std::thread::scope(|s| {
        s.spawn(|| {
            ns.enter().with_context(|| format!("entering network namespace `{}` (needs root)", ns.name()))?;
            f()
        })
        .join()
        .map_err(|_| anyhow!("the thread opening a port in `{}` panicked", ns.name()))?
    })
}
