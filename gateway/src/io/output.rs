//! Output files that never destroy what the user has: each is written to
//! a temporary file beside its target and renamed over it only when the
//! command succeeds ([`Commit::commit`]). A refused or failed run leaves
//! an existing file exactly as it was. Devices and FIFOs (`-o /dev/null`)
//! are written in place: there is nothing to rename.
//!
//! A command that fails after writing frames it alone has (`run`'s
//! captures of live traffic, `sink --output`) keeps them as
//! `TARGET.partial` instead ([`Commit::keep_partial`]), never in place of
//! an existing file: an integrator's only capture of a field problem must
//! not vanish with the error.
//!
//! Derived files (a replay's output, a report) replace an existing file
//! when the command succeeds ([`Existing::Replace`]): running the command
//! again makes them again. Files that cannot be made again (a live
//! recording, a profile or plan someone may have edited) never replace
//! one ([`Existing::Keep`]): the command refuses before it starts, and the
//! commit refuses a file that appeared meanwhile.
//!
//! [`check_distinct`] refuses, before anything is opened, an output that
//! is one of the inputs or two outputs that are one file, comparing
//! device and inode (or canonical paths for files not yet there).

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
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
    /// Records the writer wrote (set when it closes).
    records: AtomicU64,
    existing: Existing,
}

/// What a staged file does to an existing file of its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Existing {
    /// Replaces it once the command succeeds: the file is derived and can be made again.
    Replace,
    /// Never replaces it: refused when opening, and at the commit if one appeared meanwhile.
    Keep,
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

    /// Records how many records (frames) the writer put in the file.
    pub fn wrote(&self, records: u64) {
        self.0.records.store(records, Ordering::Release);
    }
}

/// What became of a failed command's output ([`Commit::keep_partial`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Partial {
    /// The file the user named (left as it was).
    pub target: PathBuf,
    /// Where the records written are kept.
    pub kept_as: PathBuf,
    /// How many records (frames) it holds.
    pub records: u64,
    /// Names that were taken already (`TARGET.partial` from an earlier
    /// run): left as they were.
    pub skipped: Vec<PathBuf>,
    /// The write error that stopped the writer, if one did: the last
    /// record may then be cut (readers keep the records before it).
    pub write_error: Option<String>,
}

impl fmt::Display for Partial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} is left as it was; the {} frames written before the failure are kept as {}", self.target.display(), self.records, self.kept_as.display())?;
        if !self.skipped.is_empty() {
            let names: Vec<String> = self.skipped.iter().map(|p| p.display().to_string()).collect();
            write!(f, " ({} already exists and is left as it was)", names.join(", "))?;
        }
        if let Some(e) = &self.write_error {
            write!(f, "; writing stopped at an error ({e}), so its last frame may be cut")?;
        }
        Ok(())
    }
}

/// Most `.partial.N` names tried before giving up.
const PARTIAL_NAMES: u32 = 1000;

/// Renames `from` to `to` unless `to` exists (then `Ok(false)`), never
/// replacing a file, even one that appears meanwhile.
fn rename_new(from: &Path, to: &Path) -> Result<bool> {
    use std::os::unix::ffi::OsStrExt;
    let c = |p: &Path| std::ffi::CString::new(p.as_os_str().as_bytes()).with_context(|| format!("{}: a NUL byte in the path", p.display()));
    let (cf, ct) = (c(from)?, c(to)?);
    // SAFETY: both are NUL-terminated paths that outlive the call.
    let r = unsafe { libc::renameat2(libc::AT_FDCWD, cf.as_ptr(), libc::AT_FDCWD, ct.as_ptr(), libc::RENAME_NOREPLACE) };
    if r == 0 {
        return Ok(true);
    }
    let e = std::io::Error::last_os_error();
    match e.raw_os_error() {
        Some(libc::EEXIST) => Ok(false),
        // A file system without RENAME_NOREPLACE: a hard link fails on an existing name too.
        Some(libc::EINVAL) | Some(libc::ENOSYS) => match fs::hard_link(from, to) {
            Ok(()) => {
                let _ = fs::remove_file(from);
                Ok(true)
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
            Err(e) => Err(e).with_context(|| format!("cannot move {} to {}", from.display(), to.display())),
        },
        _ => Err(e).with_context(|| format!("cannot move {} to {}", from.display(), to.display())),
    }
}

/// Puts a staged output file in place, once its writer is done.
#[derive(Debug)]
#[must_use = "an output file that is never committed is removed"]
pub struct Commit(Arc<Stage>);

impl Commit {
    /// Puts the temporary file in place as the target (over an existing
    /// one only under [`Existing::Replace`]). Fails when the writer still
    /// holds it or met an error (the temporary file is then removed).
    pub fn commit(self) -> Result<()> {
        let s = self.ready()?;
        match (&s.tmp, s.existing) {
            (None, _) => {}
            (Some(tmp), Existing::Replace) => {
                fs::rename(tmp, &s.target).with_context(|| format!("cannot move {} into place as {}", tmp.display(), s.target.display()))?
            }
            (Some(tmp), Existing::Keep) => {
                if !rename_new(tmp, &s.target)? {
                    // A recording is not lost to a name clash: kept beside it.
                    let kept = match keep_stage(s)? {
                        Some(p) => format!("the {} frames written are kept as {}", p.records, p.kept_as.display()),
                        None => "nothing was written to it".to_string(),
                    };
                    bail!("{} appeared while the command ran; not overwriting it: {kept}", s.target.display());
                }
            }
        }
        // The new name is durable once its directory is.
        if let Some(dir) = s.tmp.as_ref().and_then(|t| t.parent()) {
            let _ = File::open(if dir.as_os_str().is_empty() { Path::new(".") } else { dir }).and_then(|d| d.sync_all());
        }
        s.committed.store(true, Ordering::Release);
        Ok(())
    }

    /// The stage, once its writer is done and met no error.
    fn ready(&self) -> Result<&Stage> {
        let s = &self.0;
        if Arc::strong_count(&self.0) > 1 {
            bail!("{}: its writer has not finished", s.target.display());
        }
        if let Some(e) = self.write_error() {
            bail!("writing {}: {e}", s.target.display());
        }
        Ok(s)
    }

    /// The error met while writing, if any: committing would fail with it.
    pub fn write_error(&self) -> Option<String> {
        self.0.write_error.lock().ok().and_then(|e| e.clone())
    }

    /// After a failure: keeps what the writer wrote as `TARGET.partial`
    /// (`TARGET.partial.1`, ... when that name is taken: an existing file
    /// is never replaced), leaving the target as it was. `None` when it
    /// wrote nothing or went straight into a device.
    pub fn keep_partial(self) -> Result<Option<Partial>> {
        if Arc::strong_count(&self.0) > 1 {
            bail!("{}: its writer has not finished", self.0.target.display());
        }
        keep_stage(&self.0)
    }

    /// The file the user named.
    pub fn target(&self) -> &Path {
        &self.0.target
    }
}

/// [`Commit::keep_partial`] on a stage whose writer is done.
fn keep_stage(s: &Stage) -> Result<Option<Partial>> {
    let records = s.records.load(Ordering::Acquire);
    let Some(tmp) = &s.tmp else { return Ok(None) };
    if records == 0 {
        return Ok(None);
    }
    let mut skipped = Vec::new();
    for n in 0..PARTIAL_NAMES {
        let mut name = s.target.clone().into_os_string();
        name.push(if n == 0 { ".partial".to_string() } else { format!(".partial.{n}") });
        let to = PathBuf::from(name);
        if rename_new(tmp, &to)? {
            s.committed.store(true, Ordering::Release);
            let write_error = s.write_error.lock().ok().and_then(|e| e.clone());
            return Ok(Some(Partial { target: s.target.clone(), kept_as: to, records, skipped, write_error }));
        }
        skipped.push(to);
    }
    bail!("{}: {PARTIAL_NAMES} .partial names are taken; the frames written are not kept", s.target.display())
}

/// After a failed command: keeps each file's frames as a `.partial` file
/// ([`Commit::keep_partial`]) and says so on standard error; returns what
/// was kept. A file that cannot be kept is said too, and the others still are.
pub fn keep_all_partial(commits: Vec<Commit>) -> Vec<Partial> {
    let mut kept = Vec::new();
    for c in commits {
        let target = c.target().to_path_buf();
        match c.keep_partial() {
            Ok(Some(p)) => {
                tracing::warn!("the command failed: {p}");
                kept.push(p);
            }
            Ok(None) => tracing::warn!("the command failed: {} is left as it was (nothing was written to it)", target.display()),
            Err(e) => tracing::error!("the command failed, and its partial output is lost: {e:#}"),
        }
    }
    kept
}

/// `keep_all_partial`'s result for `--json`: one object per file kept.
pub fn partial_json(kept: &[Partial]) -> serde_json::Value {
    kept.iter()
        .map(|p| {
            serde_json::json!({
                "output": p.target.display().to_string(),
                "kept_as": p.kept_as.display().to_string(),
                "frames": p.records,
                "skipped": p.skipped.iter().map(|s| s.display().to_string()).collect::<Vec<_>>(),
                "write_error": p.write_error,
            })
        })
        .collect()
}

/// Commits every file, each whatever became of the others (a clash on
/// one recording must not cost another its frames); the first failure is
/// returned, the others are logged.
pub fn commit_all(commits: Vec<Commit>) -> Result<()> {
    let mut first = None;
    for c in commits {
        if let Err(e) = c.commit() {
            match first {
                None => first = Some(e),
                Some(_) => tracing::error!("{e:#}"),
            }
        }
    }
    first.map_or(Ok(()), Err)
}

/// Opens a staged file for `target`: a new temporary file beside it (the
/// real file's directory when `target` is a symlink), with an existing
/// target's permissions. Devices and FIFOs are opened directly. Under
/// [`Existing::Keep`] an existing file (or dangling symlink) is refused,
/// naming `--force` where the command has one.
pub fn create(target: &Path, existing: Existing) -> Result<(File, Staged, Commit)> {
    static SEQ: AtomicU32 = AtomicU32::new(0);
    let (real, staged) = match fs::metadata(target) {
        Ok(m) if m.is_dir() => bail!("cannot write {}: it is a directory", target.display()),
        Ok(m) if m.is_file() && existing == Existing::Keep => bail!("{} exists; not overwriting it (remove it or choose another name)", target.display()),
        Err(_) if existing == Existing::Keep && fs::symlink_metadata(target).is_ok() => {
            bail!("{} exists (a dangling symlink); not writing through it (remove it or choose another name)", target.display())
        }
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
        None => open_device(&real)?,
    };
    let stage = Arc::new(Stage { target: real, tmp, committed: AtomicBool::new(false), write_error: Mutex::new(None), records: AtomicU64::new(0), existing });
    Ok((file, Staged(stage.clone()), Commit(stage)))
}

/// Opens a device or FIFO for writing. A FIFO is opened without
/// blocking: one no process reads would hang the command in `open`, where
/// no signal reaches it, so it is refused, naming it; then writes block
/// as usual.
fn open_device(path: &Path) -> Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    let fifo = fs::metadata(path).is_ok_and(|m| m.file_type().is_fifo());
    if !fifo {
        return OpenOptions::new().write(true).open(path).with_context(|| format!("cannot open {}", path.display()));
    }
    let f = OpenOptions::new().write(true).custom_flags(libc::O_NONBLOCK).open(path).map_err(|e| match e.raw_os_error() {
        Some(libc::ENXIO) => anyhow::anyhow!("{} is a FIFO no process reads: start its reader first", path.display()),
        _ => anyhow::Error::new(e).context(format!("cannot open {}", path.display())),
    })?;
    use std::os::fd::AsRawFd;
    // SAFETY: F_GETFL/F_SETFL on a descriptor we own.
    let ok = unsafe {
        let flags = libc::fcntl(f.as_raw_fd(), libc::F_GETFL);
        flags >= 0 && libc::fcntl(f.as_raw_fd(), libc::F_SETFL, flags & !libc::O_NONBLOCK) == 0
    };
    if !ok {
        return Err(std::io::Error::last_os_error()).with_context(|| format!("cannot make writes to {} blocking", path.display()));
    }
    Ok(f)
}

/// Writes a whole file at once (a report), staged: an existing file is
/// replaced only by the complete new one.
pub fn write_whole(target: &Path, bytes: &[u8]) -> Result<()> {
    let (mut f, staged, commit) = create(target, Existing::Replace)?;
    write_staged(&mut f, &staged, bytes)?;
    drop((f, staged));
    commit.commit()
}

/// Writes a whole file that must not exist (a profile, a plan: often
/// hand-edited afterwards), staged; never replaces a file, even one that
/// appears while the command runs.
pub fn write_new(target: &Path, bytes: &[u8]) -> Result<()> {
    let (mut f, staged, commit) = create(target, Existing::Keep)?;
    write_staged(&mut f, &staged, bytes)?;
    drop((f, staged));
    commit.commit()
}

/// Writes and syncs `bytes`; an error is recorded on the stage too.
fn write_staged(f: &mut File, staged: &Staged, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    if let Err(e) = f.write_all(bytes).and_then(|()| f.sync_all()) {
        staged.failed(&e);
        return Err(e).with_context(|| format!("writing {}", staged.target().display()));
    }
    Ok(())
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
        let (mut f, staged, commit) = create(&target, Existing::Replace).unwrap();
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
        let (mut f, staged, commit) = create(&target, Existing::Replace).unwrap();
        f.write_all(b"new").unwrap();
        drop(f);
        let (still_writing, c) = create(&target, Existing::Replace).map(|(_, s, c)| (s, c)).unwrap();
        assert!(c.commit().unwrap_err().to_string().contains("has not finished"));
        drop(still_writing);
        drop(staged);
        commit.commit().unwrap();
        assert_eq!(fs::read(&target).unwrap(), b"new");
        let (_f, staged, commit) = create(&target, Existing::Replace).unwrap();
        staged.failed(&"No space left on device");
        drop((_f, staged));
        assert!(commit.commit().unwrap_err().to_string().contains("No space left"));
        assert_eq!(fs::read(&target).unwrap(), b"new");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    /// After a failure the frames written are kept as `.partial`, never
    /// over an existing file (an earlier `.partial` moves the name on),
    /// the target stays as it was, and an empty output leaves nothing.
    #[test]
    fn a_failure_keeps_what_was_written_as_partial_and_overwrites_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out.pcap");
        fs::write(&target, b"precious").unwrap();
        let older = dir.path().join("out.pcap.partial");
        fs::write(&older, b"earlier").unwrap();
        let (mut f, staged, commit) = create(&target, Existing::Replace).unwrap();
        f.write_all(b"frames").unwrap();
        staged.wrote(3);
        staged.failed(&"No space left on device");
        drop((f, staged));
        let p = commit.keep_partial().unwrap().unwrap();
        let kept = dir.path().join("out.pcap.partial.1");
        assert_eq!((p.kept_as.as_path(), p.records, p.skipped.as_slice()), (kept.as_path(), 3, &[older.clone()][..]));
        assert_eq!(fs::read(&kept).unwrap(), b"frames");
        assert_eq!(fs::read(&target).unwrap(), b"precious");
        assert_eq!(fs::read(&older).unwrap(), b"earlier");
        let text = p.to_string();
        assert!(text.contains("out.pcap.partial.1") && text.contains("already exists") && text.contains("No space left"), "{text}");
        // Nothing written: nothing kept, no temporary file left.
        let (_f, staged, commit) = create(&target, Existing::Replace).unwrap();
        drop((_f, staged));
        assert_eq!(commit.keep_partial().unwrap(), None);
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 3);
    }

    /// A recording whose name is taken while it is written is not lost:
    /// kept as `.partial`, the other file left alone, and the other
    /// recordings of the run still committed.
    #[test]
    fn a_recording_whose_name_appears_meanwhile_is_kept_as_partial() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("du.pcap"), dir.path().join("ru.pcap"));
        let (mut fa, sa, ca) = create(&a, Existing::Keep).unwrap();
        let (mut fb, sb, cb) = create(&b, Existing::Keep).unwrap();
        fa.write_all(b"du frames").unwrap();
        fb.write_all(b"ru frames").unwrap();
        sa.wrote(3);
        sb.wrote(4);
        drop((fa, sa, fb, sb));
        fs::write(&a, b"someone else's").unwrap();
        let e = commit_all(vec![ca, cb]).unwrap_err().to_string();
        assert!(e.contains("appeared while the command ran") && e.contains("3 frames") && e.contains("du.pcap.partial"), "{e}");
        assert_eq!(fs::read(&a).unwrap(), b"someone else's");
        assert_eq!(fs::read(dir.path().join("du.pcap.partial")).unwrap(), b"du frames");
        assert_eq!(fs::read(&b).unwrap(), b"ru frames", "the other recording is committed");
    }

    /// A FIFO nobody reads is refused at once, not waited on forever.
    #[test]
    fn a_fifo_without_a_reader_is_refused_not_waited_on() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("f");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: a NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let e = create(&fifo, Existing::Replace).unwrap_err().to_string();
        assert!(e.contains("FIFO no process reads"), "{e}");
        let reader = std::thread::spawn({
            let fifo = fifo.clone();
            move || fs::read(fifo).unwrap()
        });
        // With a reader (it opens as soon as a writer does; retry until it has).
        let mut opened = None;
        for _ in 0..200 {
            match create(&fifo, Existing::Replace) {
                Ok(x) => {
                    opened = Some(x);
                    break;
                }
                Err(_) => std::thread::sleep(std::time::Duration::from_millis(10)),
            }
        }
        let (mut f, staged, commit) = opened.expect("a FIFO with a reader opens");
        f.write_all(b"through").unwrap();
        drop((f, staged));
        commit.commit().unwrap();
        assert_eq!(reader.join().unwrap(), b"through");
    }

    /// `write_new` refuses an existing file, and its commit never replaces
    /// one that appeared while it wrote.
    #[test]
    fn a_new_file_never_replaces_one() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("plan.toml");
        write_new(&target, b"first").unwrap();
        let e = write_new(&target, b"second").unwrap_err();
        assert!(e.to_string().contains("exists; not overwriting it"), "{e}");
        assert_eq!(fs::read(&target).unwrap(), b"first");
        let other = dir.path().join("late.toml");
        let (mut f, staged, commit) = create(&other, Existing::Keep).unwrap();
        f.write_all(b"ours").unwrap();
        drop((f, staged));
        fs::write(&other, b"someone else's").unwrap();
        assert!(commit.commit().unwrap_err().to_string().contains("appeared while the command ran"));
        assert_eq!(fs::read(&other).unwrap(), b"someone else's");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 2, "no temporary file left");
        write_whole(&other, b"report").unwrap();
        assert_eq!(fs::read(&other).unwrap(), b"report");
    }

    #[test]
    fn devices_are_written_in_place() {
        let (mut f, staged, commit) = create(Path::new("/dev/null"), Existing::Replace).unwrap();
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
