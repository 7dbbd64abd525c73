//! Output files that never destroy what the user has: each is written to
//! a temporary file beside its target and renamed over it only when the
//! command succeeds ([`Commit::commit`]). A refused or failed run leaves
//! an existing file exactly as it was. Devices and FIFOs (`-o /dev/null`)
//! are written in place: there is nothing to rename.
//!
//! [`check_distinct`] refuses, before anything is opened, an output that
//! is one of the inputs or two outputs that are one file, comparing
//! device and inode (or canonical paths for files not yet there).

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use anyhow::{bail, Context, Result};

/// A file being written: where it goes and what went wrong writing it.
#[derive(Debug)]
struct Stage {
    target: PathBuf,
    /// The temporary file; `None` when writing straight into a device or FIFO.
    tmp: Option<PathBuf>,
    committed: AtomicBool,
    write_error: Mutex<Option<String>>,
}

impl Drop for Stage {
    fn drop(&mut self) {
        if let (Some(tmp), false) = (&self.tmp, self.committed.load(Ordering::Acquire)) {
            let _ = fs::remove_file(tmp);
        }
    }
}

/// The writing end's link to its [`Commit`]: records a write error so that
/// the commit refuses the file.
#[derive(Debug, Clone)]
pub struct Staged(Arc<Stage>);

impl Staged {
    /// Records the first error met while writing; the commit will fail with it.
    pub fn failed(&self, e: &dyn fmt::Display) {
        if let Ok(mut w) = self.0.write_error.lock() {
            w.get_or_insert_with(|| e.to_string());
        }
    }

    /// The file the user named.
    pub fn target(&self) -> &Path {
        &self.0.target
    }
}

/// Puts a staged output file in place, once its writer is done.
#[derive(Debug)]
#[must_use = "an output file that is never committed is removed"]
pub struct Commit(Arc<Stage>);

impl Commit {
    /// Renames the temporary file over the target. Fails when the writer
    /// still holds it or met an error (the temporary file is then removed).
    pub fn commit(self) -> Result<()> {
        let s = &self.0;
        if Arc::strong_count(&self.0) > 1 {
            bail!("{}: its writer has not finished", s.target.display());
        }
        if let Some(e) = s.write_error.lock().ok().and_then(|e| e.clone()) {
            bail!("writing {}: {e}", s.target.display());
        }
        if let Some(tmp) = &s.tmp {
            fs::rename(tmp, &s.target).with_context(|| format!("cannot move {} into place as {}", tmp.display(), s.target.display()))?;
        }
        s.committed.store(true, Ordering::Release);
        Ok(())
    }

    /// The file the user named.
    pub fn target(&self) -> &Path {
        &self.0.target
    }
}

/// Commits every file in order; the first failure stops and is returned
/// (the files not yet committed are removed as their handles drop).
pub fn commit_all(commits: Vec<Commit>) -> Result<()> {
    commits.into_iter().try_for_each(Commit::commit)
}

/// Opens a staged file for `target`: a new temporary file beside it (the
/// real file's directory when `target` is a symlink), with an existing
/// target's permissions. Devices and FIFOs are opened directly.
pub fn create(target: &Path) -> Result<(File, Staged, Commit)> {
    static SEQ: AtomicU32 = AtomicU32::new(0);
    let (real, staged) = match fs::metadata(target) {
        Ok(m) if m.is_dir() => bail!("cannot write {}: it is a directory", target.display()),
        Ok(m) if !m.is_file() => (target.to_path_buf(), false),
        Ok(_) => (fs::canonicalize(target).with_context(|| format!("cannot resolve {}", target.display()))?, true),
        Err(_) => (target.to_path_buf(), true),
    };
    let tmp = staged.then(|| {
        let name = real.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let n = SEQ.fetch_add(1, Ordering::Relaxed);
        real.with_file_name(format!(".{name}.fhgate-{}-{n}.tmp", std::process::id()))
    });
    let file = match &tmp {
        Some(t) => {
            let f = OpenOptions::new().write(true).create_new(true).open(t).with_context(|| format!("cannot create {} (beside {})", t.display(), target.display()))?;
            if let Ok(m) = fs::metadata(&real) {
                let _ = f.set_permissions(m.permissions());
            }
            f
        }
        None => OpenOptions::new().write(true).open(&real).with_context(|| format!("cannot open {}", real.display()))?,
    };
    let stage = Arc::new(Stage { target: real, tmp, committed: AtomicBool::new(false), write_error: Mutex::new(None) });
    Ok((file, Staged(stage.clone()), Commit(stage)))
}

/// A file a command reads or writes, and the key or flag that names it.
#[derive(Debug, Clone, Copy)]
pub struct FileUse<'a> {
    /// The key (`du.output`) or flag (`-o`) it was given by.
    pub key: &'a str,
    /// The path as given.
    pub path: &'a Path,
    /// Whether the command writes it.
    pub writes: bool,
}

/// Two uses of one file that cannot both be honoured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileClash {
    /// An output is one of the inputs: writing it would destroy the input.
    OutputIsInput {
        /// The input's key.
        input: String,
        /// The output's key.
        output: String,
        /// The file.
        path: PathBuf,
    },
    /// Two outputs are one file: their frames would interleave into garbage.
    TwoWriters {
        /// The first output's key.
        first: String,
        /// The second output's key.
        second: String,
        /// The file.
        path: PathBuf,
    },
}

impl fmt::Display for FileClash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FileClash::OutputIsInput { input, output, path } => {
                write!(f, "{output} and {input} are the same file ({}): the output would destroy the input; write elsewhere", path.display())
            }
            FileClash::TwoWriters { first, second, path } => {
                write!(f, "{first} and {second} are the same file ({}): two outputs cannot share a file", path.display())
            }
        }
    }
}

impl std::error::Error for FileClash {}

/// Refuses an output that is also an input and two outputs that are one
/// file. Character devices (`/dev/null`) may be shared.
pub fn check_distinct(uses: &[FileUse<'_>]) -> Result<(), FileClash> {
    for (i, a) in uses.iter().enumerate() {
        for b in &uses[i + 1..] {
            if !(a.writes || b.writes) || !same_file(a.path, b.path) {
                continue;
            }
            if fs::metadata(a.path).is_ok_and(|m| m.file_type().is_char_device()) {
                continue;
            }
            let path = a.path.to_path_buf();
            return Err(match (a.writes, b.writes) {
                (true, true) => FileClash::TwoWriters { first: a.key.into(), second: b.key.into(), path },
                (false, _) => FileClash::OutputIsInput { input: a.key.into(), output: b.key.into(), path },
                (true, false) => FileClash::OutputIsInput { input: b.key.into(), output: a.key.into(), path },
            });
        }
    }
    Ok(())
}

/// Whether two paths name one file: same device and inode when both
/// exist, else the same canonical directory and name.
pub fn same_file(a: &Path, b: &Path) -> bool {
    match (fs::metadata(a), fs::metadata(b)) {
        (Ok(x), Ok(y)) => x.dev() == y.dev() && x.ino() == y.ino(),
        (Err(_), Err(_)) => match (canonical_place(a), canonical_place(b)) {
            (Some(x), Some(y)) => x == y,
            _ => a == b,
        },
        // One exists and the other does not: different files.
        _ => false,
    }
}

/// The canonical directory of a path that may not exist yet, joined with its name.
fn canonical_place(p: &Path) -> Option<PathBuf> {
    let name = p.file_name()?;
    let dir = match p.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    Some(fs::canonicalize(dir).ok()?.join(name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn an_uncommitted_file_leaves_the_target_as_it_was() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out.pcap");
        fs::write(&target, b"precious").unwrap();
        let (mut f, staged, commit) = create(&target).unwrap();
        f.write_all(b"new").unwrap();
        drop((f, staged, commit));
        assert_eq!(fs::read(&target).unwrap(), b"precious");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1, "the temporary file is gone");
    }

    #[test]
    fn a_commit_replaces_the_target_unless_the_writer_failed_or_is_still_writing() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out.pcap");
        fs::write(&target, b"old").unwrap();
        let (mut f, staged, commit) = create(&target).unwrap();
        f.write_all(b"new").unwrap();
        drop(f);
        let (still_writing, c) = create(&target).map(|(_, s, c)| (s, c)).unwrap();
        assert!(c.commit().unwrap_err().to_string().contains("has not finished"));
        drop(still_writing);
        drop(staged);
        commit.commit().unwrap();
        assert_eq!(fs::read(&target).unwrap(), b"new");
        let (_f, staged, commit) = create(&target).unwrap();
        staged.failed(&"No space left on device");
        drop((_f, staged));
        assert!(commit.commit().unwrap_err().to_string().contains("No space left"));
        assert_eq!(fs::read(&target).unwrap(), b"new");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn devices_are_written_in_place() {
        let (mut f, staged, commit) = create(Path::new("/dev/null")).unwrap();
        f.write_all(b"x").unwrap();
        drop((f, staged));
        commit.commit().unwrap();
        assert!(Path::new("/dev/null").exists());
    }

    #[test]
    fn clashes_name_both_keys() {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("in.pcap");
        fs::write(&input, b"x").unwrap();
        let link = dir.path().join("link.pcap");
        std::os::unix::fs::symlink(&input, &link).unwrap();
        let new = dir.path().join("new.pcap");
        let via_dotdot = dir.path().join(".").join("new.pcap");
        let u = |key, path, writes| FileUse { key, path, writes };
        let e = check_distinct(&[u("IN", &input, false), u("-o", &link, true)]).unwrap_err();
        assert_eq!(e, FileClash::OutputIsInput { input: "IN".into(), output: "-o".into(), path: input.clone() });
        let e = check_distinct(&[u("du.output", &new, true), u("ru.output", &via_dotdot, true)]).unwrap_err();
        assert!(matches!(&e, FileClash::TwoWriters { first, second, .. } if first == "du.output" && second == "ru.output"), "{e}");
        assert!(check_distinct(&[u("IN", &input, false), u("-o", &new, true), u("--tap", &link, false)]).is_ok(), "two readers may share");
        let null = Path::new("/dev/null");
        assert!(check_distinct(&[u("du.output", null, true), u("ru.output", null, true)]).is_ok());
    }
}
