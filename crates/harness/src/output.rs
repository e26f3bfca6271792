//! Output directories: created on demand, and nothing already there is overwritten without
//! `--force`.

use std::path::Path;

use crate::exit::bad_input;

/// Creates `dir` and checks that none of `files` exists in it unless `force`.
pub fn prepare_dir(dir: &Path, files: &[&str], force: bool) -> anyhow::Result<()> {
    if dir.exists() && !dir.is_dir() {
        return Err(bad_input(format!(
            "--out {}: exists and is not a directory",
            dir.display()
        )));
    }
    if !force {
        let existing: Vec<_> = files.iter().filter(|f| dir.join(f).exists()).collect();
        if !existing.is_empty() {
            return Err(bad_input(format!(
                "--out {}: would overwrite {}; pass --force to replace them",
                dir.display(),
                existing
                    .iter()
                    .map(|f| f.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
    }
    std::fs::create_dir_all(dir)
        .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", dir.display()))
}

/// Name of the marker file by which a command recognises a directory it wrote itself.
const MARKER: &str = ".mro-output";

/// Like [`prepare_dir`], but a directory that `command` itself wrote earlier (it holds a
/// `.mro-output` marker naming the command) is regenerated without `--force`: its files are
/// mro's output, not the user's. The marker is written for the next run.
pub fn prepare_owned_dir(
    dir: &Path,
    files: &[&str],
    force: bool,
    command: &str,
) -> anyhow::Result<()> {
    let marker = format!(
        "written by `mro {command}`; running it again with the same --out replaces these files\n"
    );
    let owned = std::fs::read_to_string(dir.join(MARKER)).is_ok_and(|m| m == marker);
    prepare_dir(dir, files, force || owned)?;
    std::fs::write(dir.join(MARKER), marker)
        .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", dir.join(MARKER).display()))
}

/// Refuses to replace an existing file unless `force`.
pub fn check_file(path: &Path, force: bool) -> anyhow::Result<()> {
    if path.exists() && !force {
        return Err(bad_input(format!(
            "{}: exists; pass --force to replace it",
            path.display()
        )));
    }
    Ok(())
}
