//! Filesystem adapter: walks the migration locations and hands (path, bytes) entries to the pure discovery.

use std::collections::HashSet;
use std::ffi::{CStr, CString};
use std::fs;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

use rustix::fs::{AtFlags, CWD, Dir, FileType, Mode, OFlags};

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
///
/// Every pod start reads every script, so this is written for few system calls: entries are
/// opened relative to their folder's descriptor (no path is walked again from the root, and
/// no `fcntl` follows each `open` as in musl's wrapper), and a file costs one `openat`, one
/// `fstat`, usually one `read`, and a `close`.
pub fn read_locations(locations: &[PathBuf]) -> Result<(Vec<Entry>, Vec<String>), Failure> {
    let mut entries = Vec::new();
    let mut problems = Vec::new();
    for root in locations {
        let dir = open_dir(CWD, root).map_err(|e| {
            let message = if e.raw_os_error() == Some(rustix::io::Errno::NOTDIR.raw_os_error()) {
                format!(
                    "SCHEMAGATE_LOCATIONS: {} is not a directory",
                    root.display()
                )
            } else {
                format!(
                    "SCHEMAGATE_LOCATIONS: cannot read {}: {e}; set it to the folder that holds your .sql scripts",
                    root.display()
                )
            };
            Failure::new(FailureKind::Config, message)
        })?;
        let shown = root.display().to_string();
        let mut walk = Walk {
            // `migrations/` shows its files as `migrations/V1__a.sql`, as a joined path would.
            root: match shown.trim_end_matches('/') {
                "" => shown.clone(),
                trimmed => trimmed.to_string(),
            },
            visited: HashSet::new(),
            out: &mut entries,
            problems: &mut problems,
        };
        walk.dir(dir, "");
    }
    Ok((entries, problems))
}

fn open_dir<P: rustix::path::Arg>(parent: impl AsFd, path: P) -> io::Result<OwnedFd> {
    Ok(rustix::fs::openat(
        parent,
        path,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )?)
}

type Listing = Vec<(CString, FileType)>;

struct Walk<'a> {
    /// The location as given, for the paths shown to people.
    root: String,
    /// (device, inode) of every folder entered: a link back up is entered once.
    visited: HashSet<(u64, u64)>,
    out: &'a mut Vec<Entry>,
    problems: &'a mut Vec<String>,
}

impl Walk<'_> {
    /// `rel` is the folder's path below the root, `/`-separated, empty for the root.
    fn dir(&mut self, fd: OwnedFd, rel: &str) {
        let here = if rel.is_empty() {
            self.root.clone()
        } else {
            joined(&self.root, rel)
        };
        let shown = |name: &str| joined(&here, name);
        let (listing, dir) = match self.enter(fd) {
            Ok(Some(l)) => l,
            Ok(None) => return,
            Err(e) => {
                self.problems
                    .push(format!("{here}: cannot list the folder: {e}"));
                return;
            }
        };
        let fd = match dir.fd() {
            Ok(fd) => fd,
            Err(e) => {
                self.problems
                    .push(format!("{here}: cannot list the folder: {e}"));
                return;
            }
        };
        // Most of a folder's entries are scripts: one allocation instead of a doubling chain.
        self.out.reserve(listing.len());
        for (cname, listed) in listing {
            let Ok(name) = cname.to_str() else {
                self.problems.push(format!(
                    "{}: the file name is not valid UTF-8; rename it",
                    shown(&cname.to_string_lossy())
                ));
                continue;
            };
            if name.starts_with('.') {
                continue;
            }
            // The listing holds each entry's type, so a plain file or folder costs no system
            // call here. Only a link (or a filesystem that does not report types) needs a
            // stat, which follows it: a link to a folder is walked, a link to a file read.
            let kind = match listed {
                FileType::Symlink | FileType::Unknown => {
                    match rustix::fs::statat(fd, cname.as_c_str(), AtFlags::empty()) {
                        Ok(st) => Ok(FileType::from_raw_mode(st.st_mode)),
                        Err(e) => Err(io::Error::from(e)),
                    }
                }
                t => Ok(t),
            };
            let kind = match kind {
                Ok(k) => k,
                Err(e) => {
                    if wants(name) {
                        self.problems
                            .push(format!("{}: cannot read it: {e}", shown(name)));
                    }
                    continue;
                }
            };
            let child_rel = if rel.is_empty() {
                name.to_string()
            } else {
                joined(rel, name)
            };
            match kind {
                FileType::Directory => match open_dir(fd, cname.as_c_str()) {
                    Ok(child) => self.dir(child, &child_rel),
                    Err(e) => self
                        .problems
                        .push(format!("{}: cannot list the folder: {e}", shown(name))),
                },
                FileType::RegularFile if wants(name) => {
                    match read_script(fd, cname.as_c_str()) {
                        Ok(Ok(bytes)) => self.out.push(Entry {
                            display: shown(name),
                            path: child_rel,
                            bytes,
                        }),
                        Ok(Err(len)) => self.problems.push(format!(
                            "{}: {} MiB is over the {} MiB limit for one script; split it into several migrations",
                            shown(name),
                            len / (1024 * 1024),
                            MAX_SCRIPT_BYTES / (1024 * 1024)
                        )),
                        Err(e) => self
                            .problems
                            .push(format!("{}: cannot read it: {e}", shown(name))),
                    }
                }
                _ if wants(name) => self.problems.push(format!(
                    "{}: not a regular file; migrations must be plain files",
                    shown(name)
                )),
                _ => {}
            }
        }
    }
    /// The folder's entries and their listed types, sorted by name (bytes) so that the walk
    /// is the same on every run and filesystem, with the `Dir` that keeps the folder open;
    /// `None` if the walk has been in this folder before (a link back up).
    fn enter(&mut self, fd: OwnedFd) -> io::Result<Option<(Listing, Dir)>> {
        let st = rustix::fs::fstat(&fd)?;
        // The conversions are identities on 64-bit Linux, not on every target.
        #[allow(clippy::unnecessary_cast)]
        let key = (st.st_dev as u64, st.st_ino as u64);
        if !self.visited.insert(key) {
            return Ok(None);
        }
        let mut dir = Dir::new(fd)?;
        let mut names = Vec::new();
        for entry in &mut dir {
            let entry = entry?;
            let name: &CStr = entry.file_name();
            if name != c"." && name != c".." {
                names.push((name.to_owned(), entry.file_type()));
            }
        }
        names.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        Ok(Some((names, dir)))
    }
}

/// `a/b`, built without the formatting machinery: every script's path is made this way.
fn joined(a: &str, b: &str) -> String {
    let mut s = String::with_capacity(a.len() + 1 + b.len());
    s.push_str(a);
    s.push('/');
    s.push_str(b);
    s
}

/// Reads a regular file, or returns its size when that is over [`MAX_SCRIPT_BYTES`]. The size
/// comes from the open handle, before anything is read.
fn read_script(dir: impl AsFd, name: &CStr) -> io::Result<Result<Vec<u8>, u64>> {
    // NONBLOCK: if the entry was swapped for a FIFO since it was listed, opening it must not
    // wait for a writer. It changes nothing for a regular file.
    let fd = rustix::fs::openat(
        dir,
        name,
        OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOCTTY | OFlags::NONBLOCK,
        Mode::empty(),
    )?;
    let st = rustix::fs::fstat(&fd)?;
    if FileType::from_raw_mode(st.st_mode) != FileType::RegularFile {
        return Err(io::Error::other("not a regular file"));
    }
    let len = u64::try_from(st.st_size).unwrap_or(0);
    if len > MAX_SCRIPT_BYTES {
        return Ok(Err(len));
    }
    // One byte more than the size, so that a file that grew since is read whole too. Read
    // into the spare capacity: zeroing memory the read overwrites anyway is wasted work.
    let mut bytes = Vec::with_capacity(usize::try_from(len).unwrap_or(0).saturating_add(1));
    loop {
        if bytes.len() == bytes.capacity() {
            bytes.reserve(bytes.capacity());
        }
        match rustix::io::read(&fd, rustix::buffer::spare_capacity(&mut bytes)) {
            Ok(0) => break,
            // A regular file's read stops short only at its end, so a read that stopped
            // exactly at the size fstat reported has the whole file: no second read to hear
            // the end of file again.
            Ok(_) if bytes.len() as u64 == len => break,
            Ok(_) | Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(Ok(bytes))
}

/// Reads secret files (`NAME_FILE`, `SCHEMAGATE_SECRET_DIR`) for the pure config loader.
pub struct FsSecretFiles;

impl crate::config::SecretFiles for FsSecretFiles {
    fn is_dir(&self, path: &Path) -> bool {
        path.is_dir()
    }

    fn read(&self, path: &Path) -> io::Result<Option<String>> {
        match fs::read_to_string(path) {
            Ok(s) => Ok(Some(s)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }
}
