//! The one way mro writes its output: nothing is left half-written under a final name, and
//! nothing the user wrote is replaced without `--force`.
//!
//! A command that writes a directory opens it with [`OutputDir::begin`]:
//!
//! 1. the directory is checked (a directory, writable) and files the user wrote there are refused
//!    unless `--force`;
//! 2. the marker `.mro-output` is written saying which command owns the directory and that its
//!    output is **incomplete**;
//! 3. every file is written into the staging directory `.mro-partial/` under its final name;
//! 4. [`OutputDir::commit`] flushes each staged file to disk (`fsync`), renames it into the
//!    directory, and rewrites the marker as **complete**, last.
//!
//! The complete marker also records every file the run left, with its size and CRC-32
//! (`file: NAME BYTES CRC`, a subdirectory's files as `SUB/NAME`): a rerun replaces without
//! `--force` only files still as mro left them, so a file the user put in their place or edited
//! is never replaced or removed unasked. An incomplete marker records none (a run killed while
//! moving its files in leaves some of them new), and a marker from before these records falls
//! back to the command's ownership alone.
//!
//! So a directory is complete exactly when its marker says so. A run killed at any point leaves
//! either the previous complete output, or a directory whose marker says incomplete; a rerun of
//! the same command replaces such a directory without `--force` (the files in it are mro's own),
//! and clears the staging directory first. A run that fails with an error removes its staging
//! directory. Single files ([`write_file`]) are written to a temporary name beside the target,
//! flushed and renamed.
//!
//! OS errors are reported once, with the path ([`io_error`]); those a user can fix (no space,
//! no permission, read-only file system, a missing or non-directory parent) exit with status 2.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use crate::exit::bad_input;

/// Name of the marker file by which mro recognises a directory it wrote and whether it is complete.
pub const MARKER: &str = ".mro-output";
/// Name of the staging directory inside an output directory.
pub const STAGING: &str = ".mro-partial";

/// The marker's second line once every file is in place.
const COMPLETE: &str = "status: complete";
/// The marker's second line while files are being written.
const INCOMPLETE: &str = "status: incomplete";

/// An OS error on `path`, named once. Errors the user can fix (no space or quota, no
/// permission, read-only file system, a missing or non-directory component) are bad input
/// (exit status 2); the rest exit with 1.
pub fn io_error(what: &str, path: &Path, e: std::io::Error) -> anyhow::Error {
    let message = format!("{}: {what}: {e}", path.display());
    let fixable = crate::exit::fixable_io(&e);
    if fixable {
        bad_input(message)
    } else {
        anyhow::anyhow!(message)
    }
}

/// Whether `path` holds something that `write_file`/`OutputDir` would refuse to replace.
fn exists(path: &Path) -> bool {
    path.symlink_metadata().is_ok()
}

/// Writes `bytes` to `path` atomically: to `.NAME.partial` beside it, flushed to disk, then
/// renamed. On error the temporary file is removed and the error names `path`.
pub fn write_file(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let name = path
        .file_name()
        .ok_or_else(|| bad_input(format!("{}: not a file name", path.display())))?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(".partial");
    let tmp = path.with_file_name(tmp_name);
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(io_error("cannot write", path, e));
    }
    sync_parent(path);
    Ok(())
}

/// Flushes the directory entry of `path` (the rename) to disk; best effort, as not every file
/// system supports syncing a directory.
fn sync_parent(path: &Path) {
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    if let Ok(d) = std::fs::File::open(parent) {
        let _ = d.sync_all();
    }
}

/// Refuses a directory, and an existing file unless `force`.
pub fn check_file(path: &Path, force: bool) -> anyhow::Result<()> {
    if path.is_dir() {
        return Err(bad_input(format!(
            "{}: is a directory: expected the path of a file to write",
            path.display()
        )));
    }
    if exists(path) && !force {
        return Err(bad_input(format!(
            "{}: exists; pass --force to replace it",
            path.display()
        )));
    }
    Ok(())
}

/// When a rerun may replace a directory that the same command wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rerun {
    /// Always (`validate`, `sweep`: their directories are regenerated by running them again).
    Replaces,
    /// Only when the earlier run did not finish; a complete directory needs `--force`
    /// (`glass`, `simulate`, `analyze`).
    CompletesOnly,
}

/// What the marker of `dir` says: the owning command and whether its output is complete.
pub fn marker_state(dir: &Path) -> Option<(String, bool)> {
    let text = std::fs::read_to_string(dir.join(MARKER)).ok()?;
    let mut lines = text.lines();
    let command = lines
        .next()?
        .strip_prefix("written by `mro ")?
        .split('`')
        .next()?
        .to_string();
    Some((command, lines.next() == Some(COMPLETE)))
}

/// One file as a complete marker records it: name (relative to the directory), size in bytes
/// and CRC-32 of its contents (`None` for a record of the size alone, as a development build of
/// 2026-12-03 wrote them).
type Record = (String, u64, Option<u32>);

/// The files the complete marker of `dir` records (empty for an incomplete marker or one
/// without records).
fn marker_records(dir: &Path) -> Vec<Record> {
    let Ok(text) = std::fs::read_to_string(dir.join(MARKER)) else {
        return Vec::new();
    };
    if text.lines().nth(1) != Some(COMPLETE) {
        return Vec::new();
    }
    text.lines()
        .filter_map(|l| {
            let (rest, last) = l.strip_prefix(RECORD)?.rsplit_once(' ')?;
            match rest.rsplit_once(' ') {
                Some((name, bytes)) if bytes.parse::<u64>().is_ok() => Some((
                    name.to_string(),
                    bytes.parse().ok()?,
                    Some(u32::from_str_radix(last, 16).ok()?),
                )),
                _ => Some((rest.to_string(), last.parse().ok()?, None)),
            }
        })
        .collect()
}

/// Prefix of a marker line recording one file.
const RECORD: &str = "file: ";

/// Whether `path` is still the file `record` describes: same size and, where recorded, the
/// same CRC-32.
fn matches_record(path: &Path, record: &Record) -> bool {
    let Ok(meta) = path.metadata() else {
        return false;
    };
    meta.len() == record.1
        && match record.2 {
            Some(crc) => crc32(path).ok() == Some(crc),
            None => true,
        }
}

/// CRC-32 of the file at `path`, read in 1 MiB blocks.
fn crc32(path: &Path) -> std::io::Result<u32> {
    use std::io::Read as _;
    let mut f = std::fs::File::open(path)?;
    let mut hasher = crc32fast::Hasher::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            return Ok(hasher.finalize());
        }
        hasher.update(&buf[..n]);
    }
}

/// The files among `names` present in `dir`, a subdirectory's files one level down as
/// `SUB/NAME`, sorted within each subdirectory.
fn present_files(dir: &Path, names: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    for name in names {
        let path = dir.join(name);
        if path.is_dir() {
            let Ok(entries) = std::fs::read_dir(&path) else {
                continue;
            };
            let mut inner: Vec<String> = entries
                .filter_map(Result::ok)
                .filter(|e| e.metadata().is_ok_and(|m| m.is_file()))
                .map(|e| format!("{name}/{}", e.file_name().to_string_lossy()))
                .collect();
            inner.sort();
            out.extend(inner);
        } else if path.is_file() {
            out.push(name.clone());
        }
    }
    out
}

/// Records of the files among `names` present in `dir` ([`present_files`]).
fn records_of(dir: &Path, names: &[String]) -> anyhow::Result<Vec<Record>> {
    present_files(dir, names)
        .into_iter()
        .map(|name| {
            let path = dir.join(&name);
            let bytes = path
                .metadata()
                .map_err(|e| io_error("cannot inspect", &path, e))?
                .len();
            let crc = crc32(&path).map_err(|e| io_error("cannot read", &path, e))?;
            Ok((name, bytes, Some(crc)))
        })
        .collect()
}

fn marker_text(command: &str, rerun: Rerun, complete: bool, records: &[Record]) -> String {
    let rule = match rerun {
        Rerun::Replaces => "running it again with the same --out replaces these files",
        Rerun::CompletesOnly => {
            "running it again with the same --out completes an unfinished run; a finished one is \
             replaced only with --force"
        }
    };
    let mut text = format!(
        "written by `mro {command}`; {rule}\n{}\n",
        if complete { COMPLETE } else { INCOMPLETE }
    );
    for (name, bytes, crc) in records {
        text += &match crc {
            Some(crc) => format!("{RECORD}{name} {bytes} {crc:08x}\n"),
            None => format!("{RECORD}{name} {bytes}\n"),
        };
    }
    text
}

/// An output directory being written; see the module docs.
#[derive(Debug)]
pub struct OutputDir {
    dir: PathBuf,
    staging: PathBuf,
    command: String,
    /// The names this command writes (as given to `begin`), recorded on commit.
    files: Vec<String>,
    rerun: Rerun,
    committed: bool,
    /// Whether `begin` created the directory, and whether it held a marker before: a run that
    /// fails leaves neither a directory nor a marker it did not find.
    created_dir: bool,
    had_marker: bool,
}

impl OutputDir {
    /// Opens `dir` for `command`'s output, whose files are named in `files`. Refuses (exit 2,
    /// naming the path) a path that is not a directory, a directory that cannot be written,
    /// and unless `force`: another command's directory (by its marker), and — unless the
    /// directory is `command`'s own (see [`Rerun`]) — any of `files` already present.
    pub fn begin(
        dir: &Path,
        command: &str,
        files: &[&str],
        force: bool,
        rerun: Rerun,
    ) -> anyhow::Result<Self> {
        check_dir(dir)?;
        if !force {
            // Another command's directory: adding this command's files would take over its
            // marker (and with it the record of what wrote the files already there).
            if let Some((other, _)) = marker_state(dir).filter(|(c, _)| c != command) {
                return Err(bad_input(format!(
                    "--out {}: holds the output of `mro {other}` (its {MARKER}); write `mro \
                     {command}`'s output to another directory, or pass --force to add it there",
                    dir.display()
                )));
            }
        }
        let owned = match marker_state(dir) {
            Some((c, complete)) if c == command => rerun == Rerun::Replaces || !complete,
            _ => false,
        };
        if !force && !owned {
            let existing: Vec<&str> = files
                .iter()
                .copied()
                .filter(|f| exists(&dir.join(f)))
                .collect();
            if !existing.is_empty() {
                return Err(bad_input(format!(
                    "--out {}: would overwrite {}; pass --force to replace {}",
                    dir.display(),
                    existing.join(", "),
                    if existing.len() == 1 { "it" } else { "them" }
                )));
            }
        }
        if !force {
            // What this run would replace or remove that mro did not leave, named together:
            // files of other names in a subdirectory this command replaces whole (the no-MRO
            // control), and files of its names not as its complete marker records them.
            let mut theirs: Vec<String> = Vec::new();
            for name in files.iter().filter(|f| dir.join(f).is_dir()) {
                let sub = dir.join(name);
                let mut foreign: Vec<String> = std::fs::read_dir(&sub)
                    .map_err(|e| io_error("cannot list", &sub, e))?
                    .filter_map(Result::ok)
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| n != MARKER && !files.contains(&n.as_str()))
                    .map(|n| format!("{name}/{n}"))
                    .collect();
                foreign.sort();
                theirs.extend(foreign);
            }
            let records = marker_records(dir);
            if owned && !records.is_empty() {
                let names: Vec<String> = files.iter().map(|f| f.to_string()).collect();
                theirs.extend(present_files(dir, &names).into_iter().filter(|f| {
                    !records
                        .iter()
                        .any(|r| &r.0 == f && matches_record(&dir.join(f), r))
                }));
            }
            // A file can be both of another name in a replaced subdirectory and unrecorded.
            theirs.sort();
            theirs.dedup();
            if !theirs.is_empty() {
                let one = theirs.len() == 1;
                let (it, they) = if one { ("it", "it") } else { ("them", "they") };
                return Err(bad_input(format!(
                    "--out {}: {} {} not as `mro {command}` left {it} (mro did not write {it}, \
                     or {they} changed since), and this run would replace or remove {it}; move \
                     {it} or pass --force",
                    dir.display(),
                    theirs.join(", "),
                    if one { "is" } else { "are" },
                )));
            }
        }
        let created_dir = !exists(dir);
        let had_marker = exists(&dir.join(MARKER));
        std::fs::create_dir_all(dir).map_err(|e| io_error("cannot create", dir, e))?;
        let staging = dir.join(STAGING);
        if exists(&staging) {
            std::fs::remove_dir_all(&staging)
                .map_err(|e| io_error("cannot clear an earlier run's", &staging, e))?;
        }
        std::fs::create_dir(&staging).map_err(|e| io_error("cannot create", &staging, e))?;
        write_file(
            &dir.join(MARKER),
            marker_text(command, rerun, false, &[]).as_bytes(),
        )?;
        Ok(Self {
            dir: dir.to_path_buf(),
            staging,
            command: command.to_string(),
            files: files.iter().map(|f| f.to_string()).collect(),
            rerun,
            committed: false,
            created_dir,
            had_marker,
        })
    }

    /// Where the files are written until [`commit`](Self::commit): write `NAME` as
    /// `staging().join(NAME)`.
    pub fn staging(&self) -> &Path {
        &self.staging
    }

    /// Writes one file into the staging directory.
    pub fn write(&self, name: &str, bytes: &[u8]) -> anyhow::Result<()> {
        let path = self.staging.join(name);
        std::fs::write(&path, bytes).map_err(|e| io_error("cannot write", &path, e))
    }

    /// Moves every staged file into the directory (each flushed to disk first), then marks the
    /// directory complete. Files of an earlier run that this run did not write are left as
    /// they are.
    pub fn commit(mut self) -> anyhow::Result<()> {
        let mut names: Vec<_> = std::fs::read_dir(&self.staging)
            .map_err(|e| io_error("cannot list", &self.staging, e))?
            .map(|e| e.map(|e| e.file_name()))
            .collect::<Result<_, _>>()
            .map_err(|e| io_error("cannot list", &self.staging, e))?;
        names.sort();
        for name in &names {
            let from = self.staging.join(name);
            std::fs::File::open(&from)
                .and_then(|f| f.sync_all())
                .map_err(|e| io_error("cannot flush", &from, e))?;
        }
        for name in &names {
            let from = self.staging.join(name);
            let to = self.dir.join(name);
            // A staged subdirectory (the no-MRO control) replaces the earlier run's whole.
            if from.is_dir() && to.is_dir() {
                std::fs::remove_dir_all(&to).map_err(|e| io_error("cannot replace", &to, e))?;
            }
            std::fs::rename(&from, &to).map_err(|e| io_error("cannot move into place", &to, e))?;
        }
        sync_parent(&self.dir.join(MARKER));
        std::fs::remove_dir(&self.staging)
            .map_err(|e| io_error("cannot remove", &self.staging, e))?;
        write_file(
            &self.dir.join(MARKER),
            marker_text(
                &self.command,
                self.rerun,
                true,
                &records_of(&self.dir, &self.files)?,
            )
            .as_bytes(),
        )?;
        self.committed = true;
        Ok(())
    }
}

impl OutputDir {
    /// Ends the run with the directory claimed but incomplete (its staging removed): work that
    /// continues elsewhere (Slurm tasks) completes it later.
    pub fn leave_incomplete(mut self) {
        let _ = std::fs::remove_dir_all(&self.staging);
        self.committed = true;
    }
}

impl Drop for OutputDir {
    /// A run that ends without committing (an error) removes its staged files, and the marker
    /// and directory if it created them.
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_dir_all(&self.staging);
            if !self.had_marker {
                let _ = std::fs::remove_file(self.dir.join(MARKER));
            }
            if self.created_dir {
                let _ = std::fs::remove_dir(&self.dir);
            }
        }
    }
}

/// Checks before any work that `dir` is a directory or can be created as one, and that it can
/// be written; the error names the path once.
pub fn check_dir(dir: &Path) -> anyhow::Result<()> {
    if exists(dir) && !dir.is_dir() {
        return Err(bad_input(format!(
            "--out {}: exists and is not a directory",
            dir.display()
        )));
    }
    // The nearest existing ancestor must be a writable directory.
    let mut probe = dir;
    while !exists(probe) {
        match probe.parent() {
            Some(p) if !p.as_os_str().is_empty() => probe = p,
            _ => return Ok(()),
        }
    }
    if !probe.is_dir() {
        return Err(bad_input(format!(
            "--out {}: {} is not a directory",
            dir.display(),
            probe.display()
        )));
    }
    let meta = probe
        .metadata()
        .map_err(|e| io_error("cannot inspect", probe, e))?;
    if meta.permissions().readonly() || !writable(probe) {
        return Err(bad_input(format!(
            "--out {}: {} is not writable",
            dir.display(),
            probe.display()
        )));
    }
    Ok(())
}

/// Whether a file can be created in the directory `dir`: `access(2)` with write and search
/// permission, which also answers for a read-only file system (`EROFS`). Nothing is created, so
/// a run killed here leaves nothing behind (a probe file, used before, could be left over).
fn writable(dir: &Path) -> bool {
    use rustix::fs::{access, Access};
    access(dir, Access::WRITE_OK | Access::EXEC_OK).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_file_replaces_atomically_and_leaves_no_temporary() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("a.json");
        write_file(&p, b"one").unwrap();
        write_file(&p, b"two").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
        let names: Vec<_> = std::fs::read_dir(d.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["a.json"]);
        let e = write_file(&d.path().join("missing/x"), b"").unwrap_err();
        let msg = format!("{e:#}");
        assert_eq!(msg.matches("missing/x").count(), 1, "{msg}");
        assert!(e.chain().any(|c| c.is::<crate::exit::BadInput>()));
    }

    #[test]
    fn a_directory_is_complete_only_after_commit() {
        let d = tempfile::tempdir().unwrap();
        let dir = d.path().join("out");
        let out = OutputDir::begin(&dir, "glass", &["a"], false, Rerun::CompletesOnly).unwrap();
        out.write("a", b"A").unwrap();
        assert_eq!(marker_state(&dir), Some(("glass".into(), false)));
        assert!(!dir.join("a").exists());
        // A run killed before commit leaves an incomplete directory ...
        std::mem::forget(out);
        assert!(!dir.join("a").exists());
        // ... which the rerun takes over without --force.
        let out = OutputDir::begin(&dir, "glass", &["a"], false, Rerun::CompletesOnly).unwrap();
        out.write("a", b"A").unwrap();
        out.commit().unwrap();
        assert_eq!(std::fs::read(dir.join("a")).unwrap(), b"A");
        assert_eq!(marker_state(&dir), Some(("glass".into(), true)));
        // A complete one needs --force, unless the command regenerates its output.
        let e = OutputDir::begin(&dir, "glass", &["a"], false, Rerun::CompletesOnly).unwrap_err();
        assert!(e.to_string().contains("--force"), "{e}");
        assert!(OutputDir::begin(&dir, "glass", &["a"], true, Rerun::CompletesOnly).is_ok());
        // Another command's directory is the user's as far as this one is concerned, even
        // where none of its files would be replaced (`analyze --out` a `simulate` directory).
        assert!(OutputDir::begin(&dir, "validate", &["a"], false, Rerun::Replaces).is_err());
        let before = marker_state(&dir);
        let e = OutputDir::begin(&dir, "analyze", &["b"], false, Rerun::CompletesOnly).unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.contains("mro glass") && msg.contains("--force"),
            "{msg}"
        );
        assert!(e.chain().any(|c| c.is::<crate::exit::BadInput>()));
        assert_eq!(
            marker_state(&dir),
            before,
            "the refusal leaves the marker as it was"
        );
        // A run that fails (dropped without commit) leaves nothing it did not find.
        let fresh = d.path().join("fresh");
        let out = OutputDir::begin(&fresh, "glass", &["a"], false, Rerun::CompletesOnly).unwrap();
        out.write("a", b"A").unwrap();
        drop(out);
        assert!(!fresh.exists());
    }

    #[test]
    fn a_subdirectory_with_the_users_files_is_not_replaced() {
        let d = tempfile::tempdir().unwrap();
        let dir = d.path().join("out");
        let files = ["a", "control"];
        let out = OutputDir::begin(&dir, "validate", &files, false, Rerun::Replaces).unwrap();
        out.write("a", b"A").unwrap();
        std::fs::create_dir(out.staging().join("control")).unwrap();
        std::fs::write(out.staging().join("control/a"), b"A").unwrap();
        out.commit().unwrap();
        // mro's own control is replaced by the rerun without --force ...
        assert!(OutputDir::begin(&dir, "validate", &files, false, Rerun::Replaces).is_ok());
        // ... but not once the user put a file of their own in it.
        std::fs::write(dir.join("control/notes.txt"), b"mine").unwrap();
        let e = OutputDir::begin(&dir, "validate", &files, false, Rerun::Replaces).unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.contains("notes.txt") && msg.contains("--force"),
            "{msg}"
        );
        assert!(e.chain().any(|c| c.is::<crate::exit::BadInput>()));
        assert!(OutputDir::begin(&dir, "validate", &files, true, Rerun::Replaces).is_ok());
    }

    #[test]
    fn a_file_the_user_put_in_place_of_mros_is_not_replaced() {
        let d = tempfile::tempdir().unwrap();
        let dir = d.path().join("out");
        let files = ["a", "cube", "control"];
        let run = |force: bool| {
            let out = OutputDir::begin(&dir, "validate", &files, force, Rerun::Replaces)?;
            out.write("a", b"A")?;
            std::fs::create_dir(out.staging().join("control")).unwrap();
            std::fs::write(out.staging().join("control/a"), b"A").unwrap();
            out.commit()
        };
        run(false).unwrap();
        assert!(std::fs::read_to_string(dir.join(MARKER))
            .unwrap()
            .contains("file: control/a 1"));
        // Unchanged: the rerun replaces mro's own files without --force.
        run(false).unwrap();
        // A file of the run's names that mro did not leave there (here one this run would
        // not even write, which an earlier run's cleanup would remove) ...
        // (`a` edited to the same size is caught by its CRC-32.)
        for (name, text) in [
            ("cube", "mine"),
            ("control/cube", "mine"),
            ("a", "edited"),
            ("a", "B"),
        ] {
            std::fs::write(dir.join(name), text).unwrap();
            let e = run(false).unwrap_err();
            let msg = e.to_string();
            assert!(msg.contains(name) && msg.contains("--force"), "{msg}");
            assert!(e.chain().any(|c| c.is::<crate::exit::BadInput>()));
            assert_eq!(std::fs::read_to_string(dir.join(name)).unwrap(), text);
            // ... is replaced only when asked.
            run(true).unwrap();
            // (The control is replaced whole; a kept `cube` is recorded as the run's own.)
            assert_eq!(dir.join(name).exists(), name != "control/cube");
            let _ = std::fs::remove_file(dir.join(name));
            run(false).unwrap();
        }
    }

    #[test]
    fn unusable_directories_are_named() {
        let d = tempfile::tempdir().unwrap();
        let file = d.path().join("f");
        std::fs::write(&file, "x").unwrap();
        let e = check_dir(&file).unwrap_err().to_string();
        assert!(e.contains("is not a directory"), "{e}");
        let e = check_dir(&file.join("sub")).unwrap_err().to_string();
        assert!(e.contains("is not a directory"), "{e}");
    }
}
