//! Filesystem adapter: walks the migration locations and hands (path, bytes) entries to the pure discovery.

use std::collections::HashSet;
use std::fs;
use std::path::{Path, PathBuf};

use crate::core::discover::{Entry, wants};
use crate::core::outcome::{Failure, FailureKind};

/// The largest script schemagate reads. Decided from the file's size before reading it, so
/// a stray dump in the folder is refused instead of filling the pod's memory.
pub const MAX_SCRIPT_BYTES: u64 = 256 * 1024 * 1024;

/// Reads every file discovery wants from the locations, recursively. Entries it cannot
/// read come back as problems beside the rest, so that one run names every bad entry.
///
/// Follows symbolic links (a ConfigMap volume is made of them), skips every entry whose
/// name starts with `.` (a ConfigMap's `..data` and `..2024_…` folders would otherwise be
/// read twice), never opens anything but regular files (a FIFO would block), and stops at a
/// directory it has already entered (a symlink loop).
pub fn read_locations(locations: &[PathBuf]) -> Result<(Vec<Entry>, Vec<String>), Failure> {
    let mut entries = Vec::new();
    let mut problems = Vec::new();
    for root in locations {
        match fs::metadata(root) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => {
                return Err(Failure::new(
                    FailureKind::Config,
                    format!(
                        "SCHEMAGATE_LOCATIONS: {} is not a directory",
                        root.display()
                    ),
                ));
            }
            Err(e) => {
                return Err(Failure::new(
                    FailureKind::Config,
                    format!(
                        "SCHEMAGATE_LOCATIONS: cannot read {}: {e}; set it to the folder that holds your .sql scripts",
                        root.display()
                    ),
                ));
            }
        }
        let mut visited = HashSet::new();
        walk(root, root, &mut visited, &mut entries, &mut problems);
    }
    Ok((entries, problems))
}

fn walk(
    root: &Path,
    dir: &Path,
    visited: &mut HashSet<PathBuf>,
    out: &mut Vec<Entry>,
    problems: &mut Vec<String>,
) {
    let canonical = fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    if !visited.insert(canonical) {
        return;
    }
    let mut children: Vec<_> = match fs::read_dir(dir) {
        Ok(rd) => rd.filter_map(Result::ok).collect(),
        Err(e) => {
            problems.push(format!("{}: cannot list the folder: {e}", dir.display()));
            return;
        }
    };
    children.sort_by_key(|c| c.file_name());
    for child in children {
        let name = child.file_name();
        let Some(name) = name.to_str() else {
            problems.push(format!(
                "{}: the file name is not valid UTF-8; rename it",
                child.path().display()
            ));
            continue;
        };
        if name.starts_with('.') {
            continue;
        }
        let path = child.path();
        // `metadata` follows symlinks: a link to a folder is walked, a link to a file read.
        let meta = match fs::metadata(&path) {
            Ok(m) => m,
            Err(e) => {
                if wants(name) {
                    problems.push(format!("{}: cannot read it: {e}", path.display()));
                }
                continue;
            }
        };
        if meta.is_dir() {
            walk(root, &path, visited, out, problems);
        } else if meta.is_file() && wants(name) && meta.len() > MAX_SCRIPT_BYTES {
            problems.push(format!(
                "{}: {} MiB is over the {} MiB limit for one script; split it into several migrations",
                path.display(),
                meta.len() / (1024 * 1024),
                MAX_SCRIPT_BYTES / (1024 * 1024)
            ));
        } else if meta.is_file() && wants(name) {
            match fs::read(&path) {
                Ok(bytes) => {
                    let rel = path.strip_prefix(root).unwrap_or(&path);
                    let rel = rel
                        .components()
                        .map(|c| c.as_os_str().to_string_lossy())
                        .collect::<Vec<_>>()
                        .join("/");
                    out.push(Entry {
                        path: rel,
                        display: path.display().to_string(),
                        bytes,
                    });
                }
                Err(e) => problems.push(format!("{}: cannot read it: {e}", path.display())),
            }
        } else if wants(name) {
            problems.push(format!(
                "{}: not a regular file; migrations must be plain files",
                path.display()
            ));
        }
    }
}

/// Reads secret files (`NAME_FILE`, `SCHEMAGATE_SECRET_DIR`) for the pure config loader.
pub struct FsSecretFiles;

impl crate::config::SecretFiles for FsSecretFiles {
    fn read(&self, path: &Path) -> std::io::Result<Option<String>> {
        match fs::read_to_string(path) {
            Ok(s) => Ok(Some(s)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }
}
