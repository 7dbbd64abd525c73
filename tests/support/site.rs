//! The site the control API tests run (control_api, control_profiles):
//! one DL chain running `widen` (bfp_width 8 → 12) between a BFP 8 DU and
//! a BFP 12 RU, over idle UDP ports or from a capture; and what they ask
//! of it.
#![allow(dead_code)] // each test file uses some of these

use std::path::{Path, PathBuf};
use std::thread::JoinHandle;


use super::cli::{fhgate, translators};
use super::gateway::Gateway;

/// The DU side: BFP 8 both ways.
const SIDE_DU: &str = "eaxc_bits = \"4,4,4,4\"\ncarrier_prbs = 24\nnumerology = 1\ndl_comp = \"bfp:8\"\nul_comp = \"bfp:8\"\ncomp_hdr = \"present\"\nmtu = 1500\n";
/// The RU side: BFP 12 DL (what `widen` makes), 8 UL (nothing flows UL).
const SIDE_RU: &str = "eaxc_bits = \"4,4,4,4\"\ncarrier_prbs = 24\nnumerology = 1\ndl_comp = \"bfp:12\"\nul_comp = \"bfp:8\"\ncomp_hdr = \"present\"\nmtu = 1500\n";

/// A configuration: one chain (`dir=dl`) running `widen` (bfp_width 8→12).
/// `du_input` None: idle UDP ports (the gateway runs until stopped).
pub fn config(dir: &Path, du_input: Option<&Path>, control: &str) -> PathBuf {
    config_widen(dir, du_input, control, WIDEN)
}

/// widen's config table in [`config`].
pub const WIDEN: &str = "{ in_width = 8, out_width = 12 }";
/// The same conversion keeping the input's BFP exponents: the same
/// declared effects and IQ, other bytes (what `mark` runs).
pub const MARK: &str = "{ in_width = 8, out_width = 12, exponent = \"input\" }";

/// [`config`] with widen's config table `widen`.
pub fn config_widen(dir: &Path, du_input: Option<&Path>, control: &str, widen: &str) -> PathBuf {
    let wasm = translators().join("bfp_width.wasm");
    let sides = match du_input {
        Some(input) => format!(
            "[du]\nbackend = \"pcap\"\ninput = \"{}\"\noutput = \"{}\"\n{side}\n[ru]\nbackend = \"pcap\"\noutput = \"{}\"\n{ru_side}",
            input.display(),
            dir.join("du_out.pcap").display(),
            dir.join("ru_out.pcap").display(),
            side = SIDE_DU,
            ru_side = SIDE_RU
        ),
        None => format!(
            "[du]\nbackend = \"udp\"\nbind = \"127.0.0.1:0\"\npeer = \"127.0.0.1:9\"\n{SIDE_DU}\n[ru]\nbackend = \"udp\"\nbind = \"127.0.0.1:0\"\npeer = \"127.0.0.1:9\"\n{SIDE_RU}"
        ),
    };
    let text = format!(
        "{sides}\n[[translator]]\nname = \"widen\"\npath = \"{}\"\nconfig = {widen}\ndeadline_us = 200000\n\n[[chain]]\nselect = \"dir=dl\"\ntranslators = [\"widen\"]\n\n[pipeline]\nworkers = 1\nburst = 32\nring_size = 4096\n\n{control}\n",
        wasm.display()
    );
    let p = dir.join("gw.toml");
    std::fs::write(&p, text).unwrap();
    p
}

/// Frames of a capture, data only.
pub fn frames(p: &Path) -> Vec<Vec<u8>> {
    fhgate::io::pcap::read_all(p).unwrap().into_iter().map(|f| f.data).collect()
}

/// Runs `input` through [`config`] without any control call, once with
/// widen's config and once with mark's, at once (each plays the capture at
/// its recorded pace); each thread returns its output frames.
pub fn references(input: &Path) -> [JoinHandle<Vec<Vec<u8>>>; 2] {
    [WIDEN, MARK].map(|table| {
        let input = input.to_path_buf();
        std::thread::spawn(move || {
            let d = tempfile::tempdir().unwrap();
            let o = fhgate(&["run", "-c", config_widen(d.path(), Some(&input), "", table).to_str().unwrap()]);
            assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
            frames(&d.path().join("ru_out.pcap"))
        })
    })
}

/// `ctl` against `gw`'s Unix socket: exit code, stdout, stderr.
pub fn ctl_at(sock: &Path, args: &[&str]) -> (Option<i32>, String, String) {
    let connect = format!("unix:{}", sock.display());
    let mut a = vec!["ctl", "--connect", &connect];
    a.extend_from_slice(args);
    let o = fhgate(&a);
    (o.status.code(), String::from_utf8_lossy(&o.stdout).into_owned(), String::from_utf8_lossy(&o.stderr).into_owned())
}

/// Rewrites `cfg` (atomically, as an operator's editor would) with widen's
/// config table `table`, then sends the gateway SIGHUP.
pub fn edit_and_hangup(gw: &Gateway, cfg: &Path, table: &str) {
    let text = std::fs::read_to_string(cfg).unwrap();
    let start = text.find("config = {").unwrap();
    let end = start + text[start..].find('\n').unwrap();
    let tmp = cfg.with_extension("tmp");
    std::fs::write(&tmp, format!("{}config = {table}{}", &text[..start], &text[end..])).unwrap();
    std::fs::rename(&tmp, cfg).unwrap();
    unsafe { libc::kill(gw.child.id() as i32, libc::SIGHUP) };
}

/// Versions of `name` the gateway has, and each stage's (translator, version, workers_agree).
pub fn versions_and_stages(gw: &Gateway, name: &str) -> (usize, Vec<(String, u64, bool)>) {
    let (c, v) = gw.call("GET", "/v1/status", b"", None);
    assert_eq!(c, 200, "{v}");
    let n = v["translators"].as_array().unwrap().iter().find(|t| t["name"] == name).map_or(0, |t| t["versions"].as_array().unwrap().len());
    let stages = v["chains"].as_array().unwrap().iter().flat_map(|c| c["stages"].as_array().unwrap().iter()).map(|s| (s["translator"].as_str().unwrap().to_string(), s["version"].as_u64().unwrap(), s["workers_agree"].as_bool().unwrap())).collect();
    (n, stages)
}
