//! Filesystem adapter: walks the migration locations and hands (path, bytes) entries to the pure discovery.

use std::collections::HashSet;
use std::fs;
use std::io::Read;
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
    // One name per entry: `sort_by_key` would allocate two names for every comparison.
    children.sort_by_cached_key(|c| c.file_name());
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
        // The listing already holds each entry's type, so a plain file or folder costs no
        // system call here. Only a symbolic link needs `metadata`, which follows it: a link to
        // a folder is walked, a link to a file read (a ConfigMap volume is made of links).
        let kind = match child.file_type() {
            Ok(t) if !t.is_symlink() => Ok(t),
            _ => fs::metadata(&path).map(|m| m.file_type()),
        };
        let kind = match kind {
            Ok(k) => k,
            Err(e) => {
                if wants(name) {
                    problems.push(format!("{}: cannot read it: {e}", path.display()));
                }
                continue;
            }
        };
        if kind.is_dir() {
            walk(root, &path, visited, out, problems);
        } else if kind.is_file() && wants(name) {
            match read_script(&path) {
                Ok(Ok(bytes)) => {
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
                Ok(Err(len)) => problems.push(format!(
                    "{}: {} MiB is over the {} MiB limit for one script; split it into several migrations",
                    path.display(),
                    len / (1024 * 1024),
                    MAX_SCRIPT_BYTES / (1024 * 1024)
                )),
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

/// Reads a regular file, or returns its size when that is over [`MAX_SCRIPT_BYTES`]. The size
/// comes from the open handle, before anything is read: one `fstat`, where `fs::metadata`
/// then `fs::read` would look the path up twice and stat it twice (every pod start reads
/// every script).
fn read_script(path: &Path) -> std::io::Result<Result<Vec<u8>, u64>> {
    let mut file = fs::File::open(path)?;
    let len = file.metadata()?.len();
    if len > MAX_SCRIPT_BYTES {
        return Ok(Err(len));
    }
    // Not `read_to_end`: for a `File` it asks the size again (fstat and lseek). One byte
    // more than the size, so that a file that grew since is read whole too.
    let mut bytes = vec![0u8; usize::try_from(len).unwrap_or(0).saturating_add(1)];
    let mut filled = 0;
    loop {
        if filled == bytes.len() {
            bytes.resize(bytes.len() * 2, 0);
        }
        match file.read(&mut bytes[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    bytes.truncate(filled);
    Ok(Ok(bytes))
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
