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
