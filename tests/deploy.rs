//! The deployment files, checked offline:
//! - deploy/kubernetes/ with both network alternatives, by
//!   `deploy/kubernetes/validate.py`: kubernetes-validate's schemas
//!   (strict) for built-in kinds, fhgate's own for the CRDs, then fhgate's
//!   rules (Guaranteed QoS with whole CPUs, the four capabilities, every
//!   reference resolving). Each kind of fault is planted once to show the
//!   check catches it;
//! - the gateway configuration in the ConfigMap, by `fhgate run --check`;
//! - deploy/systemd/fhgate.service, by `systemd-analyze verify` and
//!   `systemd-analyze security`.
//!
//! kubernetes-validate lives in target/venv (scripts/setup installs it).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

#[path = "support/cli.rs"]
mod cli;
use cli::{repo, translators};

/// The capabilities fhgate needs, as the unit and the manifests name them.
const CAPS: [&str; 4] = ["NET_RAW", "NET_ADMIN", "BPF", "SYS_NICE"];

fn python() -> PathBuf {
    let p = repo().join("target/venv/bin/python");
    assert!(p.exists(), "{} is missing: run scripts/setup (it installs kubernetes-validate there)", p.display());
    p
}

fn run(c: &mut Command) -> Output {
    c.output().unwrap_or_else(|e| panic!("{c:?}: {e}"))
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

/// The files one alternative deploys: the shared ones and its own.
fn alternative(dir: &Path, which: &str) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for d in [dir.to_path_buf(), dir.join(which)] {
        for e in std::fs::read_dir(&d).unwrap().map(Result::unwrap) {
            if e.path().extension().is_some_and(|x| x == "yaml") {
                files.push(e.path());
            }
        }
    }
    files.sort();
    files
}

fn validate(files: &[PathBuf]) -> Output {
    run(Command::new(python()).arg(repo().join("deploy/kubernetes/validate.py")).args(files))
}

#[test]
fn manifests_validate_for_both_network_alternatives() {
    let dir = repo().join("deploy/kubernetes");
    for which in ["af-xdp", "sriov"] {
        let files = alternative(&dir, which);
        let o = validate(&files);
        let out = text(&o);
        assert!(o.status.success(), "{which}:\n{out}");
        // One `ok` line per resource, each saying which schema it met.
        let docs: usize = files
            .iter()
            .map(|f| std::fs::read_to_string(f).unwrap().split("\n---\n").filter(|d| d.contains("kind:")).count())
            .sum();
        assert_eq!(out.lines().filter(|l| l.starts_with("ok ")).count(), docs, "{out}");
        for kind in ["Deployment", "ConfigMap", "Service", "Namespace"] {
            assert!(out.lines().any(|l| l.contains(&format!(" {kind}/")) && l.contains("strict)")), "{kind}: {out}");
        }
        assert!(out.contains("ServiceMonitor/fhgate (fhgate schema servicemonitor.monitoring.coreos.com_v1.json)"), "{out}");
        assert!(out.contains("(fhgate schema networkattachmentdefinition.k8s.cni.cncf.io_v1.json)"), "{out}");
    }
}

/// Each planted fault fails the validation, naming what is wrong.
#[test]
fn validation_catches_each_kind_of_fault() {
    let dir = repo().join("deploy/kubernetes");
    let cases: &[(&str, &str, &str, &str)] = &[
        ("af-xdp/gateway-cell-group-a.yaml", "  replicas: 1", "  replica: 1", "replica"),
        ("af-xdp/gateway-cell-group-a.yaml", "              cpu: \"2\"\n              memory: 1Gi\n              afxdp/fronthaul: \"2\"\n          securityContext", "              cpu: 1500m\n              memory: 1Gi\n              afxdp/fronthaul: \"2\"\n          securityContext", "requests.cpu must equal limits.cpu"),
        ("af-xdp/gateway-cell-group-a.yaml", "cpu: \"2\"\n              memory: 1Gi\n              afxdp/fronthaul: \"2\"\n            limits:\n              cpu: \"2\"", "cpu: 1500m\n              memory: 1Gi\n              afxdp/fronthaul: \"2\"\n            limits:\n              cpu: 1500m", "whole number of CPUs"),
        ("af-xdp/gateway-cell-group-a.yaml", "\"SYS_NICE\"]", "\"SYS_NICE\", \"SYS_ADMIN\"]", "capabilities.add must be exactly"),
        ("af-xdp/gateway-cell-group-a.yaml", "fhgate-afxdp-ru\", \"interface", "fhgate-afxdp-rx\", \"interface", "network `fhgate-afxdp-rx`"),
        ("af-xdp/gateway-cell-group-a.yaml", "            name: fhgate-a\n", "            name: fhgate-b\n", "no ConfigMap `fhgate-b`"),
        ("servicemonitor.yaml", "interval: 10s", "interval: 10 seconds", "interval"),
        ("servicemonitor.yaml", "  endpoints:", "  endpoint:", "endpoints"),
        ("service-cell-group-a.yaml", "targetPort: metrics", "targetPort: metric", "targetPort `metric`"),
        ("af-xdp/networks.yaml", "\"mode\": \"primary\"}'\n---", "\"mode\": \"primary\"'\n---", "not JSON"),
        ("af-xdp/networks.yaml", "{\"cniVersion\": \"0.3.0\", \"type\": \"afxdp\", \"mode\": \"primary\"}'\n---", "{\"cniVersion\": \"0.3.0\", \"mode\": \"primary\"}'\n---", "needs a string `type`"),
        ("namespace.yaml", "kind: Namespace", "kind: Namespace\nspec:\n  finalizer: []", "finalizer"),
    ];
    for (file, from, to, why) in cases {
        let tmp = tempfile::tempdir().unwrap();
        for f in alternative(&dir, "af-xdp") {
            let rel = f.strip_prefix(&dir).unwrap();
            let dst = tmp.path().join(rel);
            std::fs::create_dir_all(dst.parent().unwrap()).unwrap();
            let mut t = std::fs::read_to_string(&f).unwrap();
            if rel == Path::new(file) {
                assert!(t.contains(from), "{file} no longer holds `{from}`: update the case");
                t = t.replacen(from, to, 1);
            }
            std::fs::write(dst, t).unwrap();
        }
        let o = validate(&alternative(tmp.path(), "af-xdp"));
        let out = text(&o);
        assert!(!o.status.success(), "{file}: `{to}` passed:\n{out}");
        assert!(out.lines().any(|l| l.starts_with("FAIL") && l.contains(why)), "{file}: `{to}`: no FAIL naming `{why}`:\n{out}");
    }
    // A kind with no schema anywhere is an error, never a silent pass.
    let tmp = tempfile::tempdir().unwrap();
    let f = tmp.path().join("widget.yaml");
    std::fs::write(&f, "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w\n").unwrap();
    let o = validate(&[f]);
    assert!(!o.status.success() && text(&o).contains("no schema"), "{}", text(&o));
}

/// The ConfigMap's gw.toml and profiles, at the paths the pod mounts them
/// (rewritten to a temporary directory), pass `fhgate run --check`: the
/// profiles merge, every translator instantiates with its config.
#[test]
fn configmap_configuration_passes_run_check() {
    let tmp = tempfile::tempdir().unwrap();
    let cm = repo().join("deploy/kubernetes/configmap-cell-group-a.yaml");
    let script = "import sys, yaml\nd = yaml.safe_load(open(sys.argv[1]))\nfor k, v in d['data'].items():\n    open(sys.argv[2] + '/' + k, 'w').write(v)\n";
    let o = run(Command::new(python()).args(["-c", script]).arg(&cm).arg(tmp.path()));
    assert!(o.status.success(), "{}", text(&o));
    let t = translators();
    for f in ["gw.toml", "du.profile.toml", "ru.profile.toml"] {
        let p = tmp.path().join(f);
        let s = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{f} is not in the ConfigMap: {e}"));
        let s = s
            .replace("/etc/fhgate/", &format!("{}/", tmp.path().display()))
            .replace("/opt/fhgate/translators/", &format!("{}/", t.display()));
        std::fs::write(&p, s).unwrap();
    }
    let o = cli::fhgate(&["run", "-c", tmp.path().join("gw.toml").to_str().unwrap(), "--check"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("ok (4 translators, 3 chains)"), "{}", text(&o));
}

/// The unit with ExecStart pointing at the binary under test
/// (systemd-analyze checks that the command exists).
fn unit_under_test(dir: &Path, edit: Option<(&str, &str)>) -> PathBuf {
    let mut s = std::fs::read_to_string(repo().join("deploy/systemd/fhgate.service"))
        .unwrap()
        .replace("ExecStart=/usr/bin/fhgate", &format!("ExecStart={}", env!("CARGO_BIN_EXE_fhgate")));
    if let Some((from, to)) = edit {
        assert!(s.contains(from));
        s = s.replace(from, to);
    }
    let p = dir.join("fhgate.service");
    std::fs::write(&p, s).unwrap();
    p
}

fn systemd_analyze(args: &[&str], unit: &Path) -> Output {
    let o = Command::new("systemd-analyze").args(args).arg(unit).output();
    o.unwrap_or_else(|e| panic!("systemd-analyze: {e} (apt-get install systemd, or run scripts/setup)"))
}

#[test]
fn systemd_unit_verifies_without_a_warning() {
    let tmp = tempfile::tempdir().unwrap();
    let o = systemd_analyze(&["verify"], &unit_under_test(tmp.path(), None));
    assert!(o.status.success() && o.stderr.is_empty() && o.stdout.is_empty(), "{}", text(&o));
    // A misspelt key is only a warning to systemd: the check above is
    // what catches it.
    let o = systemd_analyze(&["verify"], &unit_under_test(tmp.path(), Some(("PrivateTmp=", "PrivatTmp="))));
    assert!(text(&o).contains("Unknown key"), "{}", text(&o));
}

#[test]
fn systemd_unit_is_hardened() {
    let tmp = tempfile::tempdir().unwrap();
    let o = systemd_analyze(&["security", "--offline=yes", "--no-pager"], &unit_under_test(tmp.path(), None));
    let out = text(&o);
    let level = out
        .lines()
        .find_map(|l| l.split("Overall exposure level for fhgate.service: ").nth(1))
        .and_then(|r| r.split_whitespace().next())
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap_or_else(|| panic!("no exposure level:\n{out}"));
    // 0 is sealed, 10 is unprotected; "OK" is below 3.
    assert!(level < 3.0, "exposure {level}:\n{out}");
}

/// The unit, the image and the manifests grant the same four capabilities.
#[test]
fn one_capability_set_everywhere() {
    let want: std::collections::BTreeSet<String> = CAPS.iter().map(|c| format!("CAP_{c}")).collect();
    let unit = std::fs::read_to_string(repo().join("deploy/systemd/fhgate.service")).unwrap();
    for key in ["AmbientCapabilities=", "CapabilityBoundingSet="] {
        let line = unit.lines().find_map(|l| l.strip_prefix(key)).unwrap_or_else(|| panic!("no {key}"));
        assert_eq!(line.split_whitespace().map(str::to_string).collect::<std::collections::BTreeSet<_>>(), want, "{key}");
    }
    let image = std::fs::read_to_string(repo().join("scripts/image")).unwrap();
    let setcap = image.lines().find_map(|l| l.trim().strip_prefix("setcap ")).expect("scripts/image runs setcap");
    let caps = setcap.split_whitespace().next().unwrap().trim_end_matches("+ep");
    assert_eq!(
        caps.split(',').map(|c| c.to_uppercase()).collect::<std::collections::BTreeSet<_>>(),
        want,
        "scripts/image's setcap"
    );
    for alt in ["af-xdp", "sriov"] {
        let d = std::fs::read_to_string(repo().join(format!("deploy/kubernetes/{alt}/gateway-cell-group-a.yaml"))).unwrap();
        let add = format!("add: [{}]", CAPS.map(|c| format!("\"{c}\"")).join(", "));
        assert!(d.contains(&add), "{alt}: no `{add}`");
    }
}
