//! The OCI image from `scripts/image`, built from this tree by the first
//! test that needs it (release build, translators, mmdebstrap, buildah).
//!
//! What is in it: only the Debian packages `deploy/image/packages` lists
//! (by dpkg's status and by `/usr/share/doc`, which every package ships),
//! this tree's release `fhgate` carrying exactly fhgate's four file
//! capabilities, the example translators byte for byte, a non-root user.
//! At work: `fhgate run` from the image, in a container joined to the
//! testbed's gateway namespace (`podman --network ns:`), carries gen's
//! stream to sink with nothing lost and the IQ exact, as user 10001
//! holding those four capabilities and no others. Needs root and podman.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::time::Duration;

#[path = "support/cli.rs"]
mod cli;
#[path = "support/live.rs"]
mod live;
use cli::repo;
use live::{Proc, Testbed};

const TAG: &str = "localhost/fhgate:test";
/// The image's user, `fhgate` in its /etc/passwd.
const UID: u32 = 10001;
/// CAP_NET_ADMIN 12, CAP_NET_RAW 13, CAP_SYS_NICE 23, CAP_BPF 39
/// (linux/capability.h), and nothing else.
const CAPS: u64 = 1 << 12 | 1 << 13 | 1 << 23 | 1 << 39;

/// Holds the other tests of this binary off while one runs: the traffic
/// test's gateway (256-frame rings under the container's memlock limit)
/// lost 736 of 3 400 frames in CI while the contents test stripped and
/// compared the release binary beside it on two cores; alone it loses none.
fn alone() -> std::sync::MutexGuard<'static, ()> {
    static ONE: std::sync::Mutex<()> = std::sync::Mutex::new(());
    ONE.lock().unwrap_or_else(|e| e.into_inner())
}

/// Builds the image once per test binary; every test waits for it.
fn image() -> &'static str {
    static BUILT: OnceLock<Result<(), String>> = OnceLock::new();
    let built = BUILT.get_or_init(|| {
        let o = Command::new(repo().join("scripts/image"))
            .args(["--tag", TAG])
            .current_dir(repo())
            .output()
            .map_err(|e| format!("scripts/image: {e}"))?;
        if o.status.success() {
            Ok(())
        } else {
            Err(format!("scripts/image failed ({}):\n{}", o.status, String::from_utf8_lossy(&o.stderr)))
        }
    });
    if let Err(e) = built {
        panic!("{e}");
    }
    TAG
}

fn run(c: &mut Command) -> Output {
    c.output().unwrap_or_else(|e| panic!("{c:?}: {e}"))
}

/// `podman run` as a site would: the four capabilities only, and
/// - runc (crun refuses this machine's hybrid cgroup hierarchy);
/// - limits no higher than this process's hard limits (podman asks for
///   more by default, which needs CAP_SYS_RESOURCE);
/// - the runtime's seccomp profile with bpf() under CAP_BPF
///   (deploy/image/seccomp-with-bpf; podman 4.3's wants CAP_SYS_ADMIN).
fn podman_run(dir: &Path, caps: bool) -> Command {
    let profile = dir.join("seccomp.json");
    if !profile.exists() {
        let o = run(&mut Command::new(repo().join("deploy/image/seccomp-with-bpf")));
        assert!(o.status.success(), "seccomp-with-bpf: {}", String::from_utf8_lossy(&o.stderr));
        std::fs::write(&profile, o.stdout).unwrap();
    }
    let mut c = Command::new("podman");
    c.args(["run", "--rm", "--runtime", "runc", "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=4096:4096"])
        .arg(format!("--security-opt=seccomp={}", profile.display()))
        .arg("--cap-drop=all");
    if caps {
        c.arg("--cap-add=net_raw,net_admin,bpf,sys_nice");
    }
    c
}

/// The image's root file system, mounted while this lives.
struct Mounted(PathBuf);

impl Mounted {
    fn new(tag: &str) -> Mounted {
        let o = run(Command::new("podman").args(["image", "mount", tag]));
        assert!(o.status.success(), "podman image mount: {}", String::from_utf8_lossy(&o.stderr));
        Mounted(PathBuf::from(String::from_utf8(o.stdout).unwrap().trim()))
    }

    fn path(&self, p: &str) -> PathBuf {
        self.0.join(p.trim_start_matches('/'))
    }
}

impl Drop for Mounted {
    fn drop(&mut self) {
        let _ = Command::new("podman").args(["image", "unmount", TAG]).output();
    }
}

/// The package names `deploy/image/packages` lists, sorted.
fn listed_packages() -> Vec<String> {
    let text = std::fs::read_to_string(repo().join("deploy/image/packages")).unwrap();
    let mut v: Vec<String> = text
        .lines()
        .map(|l| l.split('#').next().unwrap().trim().to_string())
        .filter(|l| !l.is_empty())
        .collect();
    v.sort();
    v
}

/// The example translators' names, from the sources (Rust crates, C, WAT).
fn example_translators() -> Vec<String> {
    let dir = repo().join("translators/examples");
    let mut names = Vec::new();
    for e in std::fs::read_dir(&dir).unwrap().map(Result::unwrap) {
        let p = e.path();
        if p.join("Cargo.toml").exists() {
            names.push(e.file_name().to_string_lossy().into_owned());
        } else if p.is_dir() {
            for f in std::fs::read_dir(&p).unwrap().map(Result::unwrap) {
                let f = f.path();
                if matches!(f.extension().and_then(|x| x.to_str()), Some("c" | "wat")) {
                    names.push(f.file_stem().unwrap().to_string_lossy().into_owned());
                }
            }
        }
    }
    names.sort();
    names
}

/// The permitted set and effective flag of a file's `security.capability`
/// (VFS_CAP_REVISION_2 or _3: magic_etc, then permitted and inheritable
/// for caps 0-31, then for 32-63, little-endian).
fn file_caps(p: &Path) -> (u64, u64, bool) {
    let c = std::ffi::CString::new(p.as_os_str().as_encoded_bytes()).unwrap();
    let mut buf = [0u8; 32];
    // SAFETY: c is a NUL-terminated path, buf is writable for its length.
    let n = unsafe { libc::getxattr(c.as_ptr(), c"security.capability".as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
    assert!(n >= 20, "{}: no security.capability ({})", p.display(), std::io::Error::last_os_error());
    let word = |i: usize| u32::from_le_bytes(buf[i..i + 4].try_into().unwrap()) as u64;
    let magic = word(0);
    assert!(matches!(magic & 0xFF00_0000, 0x0200_0000 | 0x0300_0000), "revision {magic:#x}");
    (word(4) | word(12) << 32, word(8) | word(16) << 32, magic & 1 == 1)
}

#[test]
fn image_holds_this_release_binary_the_translators_and_only_the_listed_packages() {
    let tag = image();
    let _alone = alone();
    let root = Mounted::new(tag);

    // Packages: dpkg's status, and the doc directory each package ships.
    let status = std::fs::read_to_string(root.path("var/lib/dpkg/status")).unwrap();
    let mut in_status: Vec<String> =
        status.lines().filter_map(|l| l.strip_prefix("Package: ")).map(str::to_string).collect();
    in_status.sort();
    assert_eq!(in_status, listed_packages(), "dpkg status");
    let mut docs: Vec<String> = std::fs::read_dir(root.path("usr/share/doc"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    docs.sort();
    assert_eq!(docs, listed_packages(), "/usr/share/doc: a package came in unlisted");
    for p in ["bin/sh", "usr/bin/sh", "bin/bash", "usr/bin/dpkg", "usr/bin/apt", "usr/bin/busybox"] {
        assert!(std::fs::symlink_metadata(root.path(p)).is_err(), "{p} is in the image");
    }

    // This tree's release binary, stripped, with exactly four capabilities.
    let target = std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or(repo().join("target"));
    let dir = tempfile::tempdir().unwrap();
    let stripped = dir.path().join("fhgate");
    let o = run(Command::new("strip").arg("-o").arg(&stripped).arg(target.join("release/fhgate")));
    assert!(o.status.success(), "strip: {}", String::from_utf8_lossy(&o.stderr));
    let bin = root.path("usr/bin/fhgate");
    assert!(std::fs::read(&bin).unwrap() == std::fs::read(&stripped).unwrap(), "/usr/bin/fhgate is not this tree's release build");
    assert_eq!(file_caps(&bin), (CAPS, 0, true), "permitted, inheritable, effective");

    // The example translators, as scripts/build-translators built them.
    let mut shipped: Vec<String> = std::fs::read_dir(root.path("usr/lib/fhgate/translators"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    shipped.sort();
    let want: Vec<String> = example_translators().iter().map(|n| format!("{n}.wasm")).collect();
    assert_eq!(shipped, want);
    for n in &want {
        assert!(
            std::fs::read(root.path(&format!("usr/lib/fhgate/translators/{n}"))).unwrap()
                == std::fs::read(repo().join("target/translators").join(n)).unwrap(),
            "{n} differs from target/translators"
        );
    }

    // The user it runs as: 10001, named fhgate, not root.
    let o = run(Command::new("podman").args(["image", "inspect", tag]));
    let inspect: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let config = &inspect[0]["Config"];
    assert_eq!(config["User"], format!("{UID}:{UID}"), "{config}");
    assert_eq!(config["Entrypoint"], serde_json::json!(["/usr/bin/fhgate"]), "{config}");
    let passwd = std::fs::read_to_string(root.path("etc/passwd")).unwrap();
    assert!(passwd.lines().any(|l| l.starts_with(&format!("fhgate:x:{UID}:{UID}:"))), "{passwd}");
}

/// The kernel refuses to exec a binary whose file capabilities it cannot
/// grant, so the image fails closed without the four, and runs with them.
#[test]
fn image_runs_only_with_its_capabilities() {
    let tag = image();
    let _alone = alone();
    let dir = tempfile::tempdir().unwrap();
    let o = run(podman_run(dir.path(), true).args([tag, "--version"]));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stdout).starts_with("fhgate "), "{o:?}");
    let o = run(podman_run(dir.path(), false).args([tag, "--version"]));
    assert!(!o.status.success(), "ran without its capabilities: {o:?}");
    assert!(String::from_utf8_lossy(&o.stderr).contains("operation not permitted"), "{o:?}");
}

/// Removes a named container on drop, whatever the test did.
struct Container(String);

impl Drop for Container {
    fn drop(&mut self) {
        let _ = Command::new("podman").args(["rm", "-f", &self.0]).output();
    }
}

/// One `Key:` line of /proc/PID/status.
fn proc_status(pid: &str, key: &str) -> String {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let v = s.lines().find_map(|l| l.strip_prefix(key)).unwrap_or_else(|| panic!("no {key} in {s}"));
    v.trim().to_string()
}

/// gw.testbed.toml for the container: the image's translators, generous
/// deadlines, and UMEMs small enough for an unprivileged user's locked
/// memory limit (8 MiB here; AF_XDP charges the UMEM to it without
/// CAP_IPC_LOCK): 512 frames of 4 KiB per port.
fn container_config(dir: &Path) {
    let text = std::fs::read_to_string(repo().join("gateway/gw.testbed.toml"))
        .unwrap()
        .replace("target/translators/", "/usr/lib/fhgate/translators/")
        .replace("127.0.0.1:9100", "127.0.0.1:0")
        .replace("deadline_us = 2000", "deadline_us = 200000")
        .replace("umem_frames = 8192\nxdp_ring_size = 2048\n", "")
        .replace("[du]\n", "[du]\numem_frames = 512\nxdp_ring_size = 256\n")
        .replace("[ru]\n", "[ru]\numem_frames = 512\nxdp_ring_size = 256\n");
    std::fs::write(dir.join("gw.toml"), text).unwrap();
    // The container's user reads it through a read-only bind mount.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(dir.join("gw.toml"), std::fs::Permissions::from_mode(0o644)).unwrap();
}

#[test]
fn image_gateway_carries_every_frame_in_the_testbed_namespace() {
    let tag = image();
    let _alone = alone();
    let (tb, _serial) = Testbed::up("i");
    let dir = tempfile::tempdir().unwrap();
    container_config(dir.path());

    // The RU emulator: the RU's layout and BFP 12, IQ checked against BFP 8.
    let mut rx = Proc::spawn(tb.fhgate(
        "ru",
        &[
            "sink", "--port", "af_xdp:ru0,xdp_ring_size=8192,umem_frames=32768", "--eaxc-bits", "2,6,4,4", "--dl-comp",
            "bfp:12", "--ul-comp", "bfp:12", "--comp-hdr", "present", "--signal-comp", "bfp:8", "--idle-timeout", "3",
            "--json",
        ],
    ));
    rx.wait_for("sink receiving", Duration::from_secs(30));

    let name = format!("fhgate-test-{}", std::process::id());
    let _container = Container(name.clone());
    let mut gw = podman_run(dir.path(), true);
    gw.args(["--name", &name])
        .arg(format!("--network=ns:/run/netns/{}", tb.ns("gw")))
        .arg(format!("--volume={}:/etc/fhgate:ro", dir.path().display()))
        .args([tag, "run", "-c", "/etc/fhgate/gw.toml", "--json"]);
    let mut gw = Proc::spawn(gw);
    gw.wait_for("running", Duration::from_secs(120));

    // The gateway's process: user 10001, the four capabilities, no others.
    let o = run(Command::new("podman").args(["inspect", "--format", "{{.State.Pid}}", &name]));
    let pid = String::from_utf8(o.stdout).unwrap().trim().to_string();
    assert_eq!(proc_status(&pid, "Uid:"), format!("{UID}\t{UID}\t{UID}\t{UID}"));
    for key in ["CapEff:", "CapPrm:", "CapBnd:"] {
        assert_eq!(u64::from_str_radix(&proc_status(&pid, key), 16).unwrap(), CAPS, "{key}");
    }

    let o = run(&mut tb.fhgate(
        "du",
        &[
            "gen", "--prbs", "51", "--antennas", "2", "--comp", "bfp:8", "--mtu", "9000", "--vlan", "5", "--du-port", "1",
            "--prach", "--json", "--port", "af_xdp:du0", "--rate", "10000", "--slots", "100",
        ],
    ));
    assert!(o.status.success(), "gen: {}", String::from_utf8_lossy(&o.stderr));
    let sent: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let frames = sent["frames"].as_u64().unwrap();
    assert!(frames > 0, "{sent}");

    let (st, got, log) = rx.finish(Duration::from_secs(60));
    // podman passes SIGINT on to the gateway, which reports and exits; its
    // report (what it counted in, out and dropped) goes with every failure.
    gw.signal(libc::SIGINT);
    let (gw_st, report, gw_log) = gw.finish(Duration::from_secs(60));
    assert!(st.success(), "sink: {got}\n{log}");
    assert_eq!(got["frames"], frames, "every frame arrives: sent {sent}\ngot {got}\n{log}\ngateway: {report}\n{gw_log}");
    assert_eq!(got["invalid"], 0, "{got}");
    assert_eq!(got["by_type"], sent["by_type"], "C1, C3 and U frames all arrive");
    for k in ["seq_gaps", "seq_reorders", "seq_duplicates"] {
        assert_eq!(got[k], 0, "{k}: {got}");
    }
    assert!(got["iq"]["prbs"].as_u64().unwrap() > 0 && got["iq"]["exact"] == true, "8 → 12 bit is lossless: {got}");

    assert!(gw_st.success(), "run: {gw_log}");
    let flows = report["flows"].as_array().unwrap_or_else(|| panic!("{report}\n{gw_log}"));
    let sum = |k: &str| flows.iter().map(|f| f[k].as_u64().unwrap()).sum::<u64>();
    assert_eq!((sum("packets_in"), sum("packets_out")), (frames, frames), "{report}");
    assert!(report["malformed"].as_array().unwrap().is_empty(), "{report}");
}
