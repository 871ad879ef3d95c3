//! Writing the linked image to `-o`.
//!
//! The image is normally written straight into a memory map of the file it becomes
//! ([`Output`]): sized first, filled in place in parallel, then renamed, with no second copy
//! of a large output in memory.
//!
//! A regular file (or a new path) is written through a temporary file in the same directory
//! and a rename, so a failed or interrupted link never leaves a half-written output. Any other
//! node must never be replaced: `-o /dev/null` run as root would otherwise swap the system's
//! /dev/null for a regular file. Character devices and FIFOs are written in place, as GNU ld
//! does; block devices, sockets and directories are refused.

use crate::error::{LinkError, Result};
use memmap2::MmapMut;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::Path;

/// The output while it is being written: a memory-mapped temporary file beside `-o`, or a
/// buffer when the output is not a regular file or is rewritten after linking (compression).
/// Dropped without [`Output::commit`], it leaves nothing behind and `-o` untouched.
pub struct Output {
    path: std::path::PathBuf,
    kind: OutputKind,
}

enum OutputKind {
    Mapped {
        tmp: std::path::PathBuf,
        map: MmapMut,
    },
    Memory(Vec<u8>),
}

impl Output {
    /// An all-zero output of `size` bytes for `path`; `in_memory` keeps it off the disk until
    /// [`Output::commit`] (for an output that is transformed before it is written).
    pub fn create(path: &Path, size: u64, in_memory: bool) -> Result<Output> {
        let size_usize = usize::try_from(size).map_err(|_| {
            LinkError::Other(format!(
                "{}: output of {size} bytes is too large",
                path.display()
            ))
        })?;
        let regular = std::fs::metadata(path).map_or(true, |m| m.file_type().is_file());
        let kind = if in_memory || !regular || size == 0 {
            OutputKind::Memory(vec![0; size_usize])
        } else {
            let tmp = temporary_path(path);
            let mapped = (|| -> std::io::Result<MmapMut> {
                let f = OpenOptions::new()
                    .read(true)
                    .write(true)
                    .create(true)
                    .truncate(true)
                    .open(&tmp)?;
                f.set_len(size)?;
                // SAFETY: the file was just created under a name only this process uses;
                // nothing else maps or truncates it while the link writes into it.
                unsafe { MmapMut::map_mut(&f) }
            })();
            match mapped {
                Ok(map) => OutputKind::Mapped { tmp, map },
                Err(e) => {
                    let _ = std::fs::remove_file(&tmp);
                    return Err(LinkError::io(path, e));
                }
            }
        };
        Ok(Output {
            path: path.to_path_buf(),
            kind,
        })
    }

    pub fn bytes_mut(&mut self) -> &mut [u8] {
        match &mut self.kind {
            OutputKind::Mapped { map, .. } => map,
            OutputKind::Memory(v) => v,
        }
    }

    /// Makes the output `-o`: renames the mapped file over it, or writes the buffer after
    /// `transform`, which only an in-memory output is given to.
    pub fn commit(mut self, transform: impl FnOnce(Vec<u8>) -> Result<Vec<u8>>) -> Result<()> {
        let kind = std::mem::replace(&mut self.kind, OutputKind::Memory(Vec::new()));
        match kind {
            OutputKind::Memory(bytes) => write(&self.path, &transform(bytes)?),
            OutputKind::Mapped { tmp, map } => {
                // The mapping shares the page cache with the file, so the file already holds
                // every byte. It is unmapped before the caller is told: a writable mapping
                // keeps the file open for writing, and running it would fail with ETXTBSY.
                drop(map);
                match std::fs::set_permissions(&tmp, PermissionsExt::from_mode(0o755)) {
                    Ok(()) => replace(&tmp, &self.path),
                    Err(e) => {
                        let _ = std::fs::remove_file(&tmp);
                        Err(LinkError::io(&self.path, e))
                    }
                }
            }
        }
    }
}

impl Drop for Output {
    fn drop(&mut self) {
        if let OutputKind::Mapped { tmp, .. } = &self.kind {
            let _ = std::fs::remove_file(tmp);
        }
    }
}

/// The temporary name an output is written under before it is renamed to `path`.
fn temporary_path(path: &Path) -> std::path::PathBuf {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".into());
    dir.join(format!(".{name}.tether-{}.tmp", std::process::id()))
}

/// Writes `bytes` to `path` (through a symbolic link, to what it names).
pub fn write(path: &Path, bytes: &[u8]) -> Result<()> {
    let Ok(meta) = std::fs::metadata(path) else {
        return write_atomically(path, bytes);
    };
    let kind = meta.file_type();
    if kind.is_file() {
        write_atomically(path, bytes)
    } else if kind.is_char_device() || kind.is_fifo() {
        write_in_place(path, bytes)
    } else {
        let what = if kind.is_dir() {
            "a directory"
        } else if kind.is_block_device() {
            "a block device"
        } else if kind.is_socket() {
            "a socket"
        } else {
            "not a regular file"
        };
        Err(LinkError::Other(format!(
            "{}: cannot write the output: it is {what} (only regular files, character devices and FIFOs are written)",
            path.display()
        )))
    }
}

/// Opens the existing node without creating or truncating it: a device or FIFO keeps its
/// inode, owner and mode.
fn write_in_place(path: &Path, bytes: &[u8]) -> Result<()> {
    OpenOptions::new()
        .write(true)
        .open(path)
        .and_then(|mut f| f.write_all(bytes))
        .map_err(|e| LinkError::io(path, e))
}

/// Writes `bytes` to `path` through a temporary file in the same directory and a rename.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = temporary_path(path);
    let result = (|| -> std::io::Result<()> {
        let mut f = File::create(&tmp)?;
        f.write_all(bytes)?;
        f.set_permissions(std::fs::Permissions::from_mode(0o755))?;
        drop(f);
        Ok(())
    })();
    match result {
        Ok(()) => replace(&tmp, path),
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(LinkError::io(path, e))
        }
    }
}

/// Renames the finished `tmp` to `path` and tells a waiting caller the output is in place
/// ([`crate::detach::output_ready`]).
///
/// A rename over an existing file is slow for a large output, twice: dropping the old file's
/// last name frees its page cache before the rename returns, and ext4 (`auto_da_alloc`)
/// starts writing the new file out, so that a crash cannot leave it empty. So the old file is
/// first renamed aside, and the new one takes a name that no longer exists (for that moment
/// `path` is missing; GNU ld removes it for the whole link). The old file's name is removed
/// before the caller is told, but an open descriptor keeps its pages until after.
fn replace(tmp: &Path, path: &Path) -> Result<()> {
    let old = tmp.with_extension("old");
    let is_file = std::fs::symlink_metadata(path).is_ok_and(|m| m.is_file());
    let moved_old = is_file && std::fs::rename(path, &old).is_ok();
    if let Err(e) = std::fs::rename(tmp, path) {
        let _ = std::fs::remove_file(tmp);
        if moved_old {
            let _ = std::fs::rename(&old, path);
        }
        return Err(LinkError::io(path, e));
    }
    let old_contents = moved_old.then(|| File::open(&old).ok()).flatten();
    if moved_old {
        let _ = std::fs::remove_file(&old);
    }
    crate::detach::output_ready();
    drop(old_contents);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn a_regular_file_is_replaced_by_rename() {
        let d = tempfile::tempdir().unwrap();
        let out = d.path().join("lib.so");
        std::fs::write(&out, b"old").unwrap();
        let before = std::fs::metadata(&out).unwrap().ino();
        write(&out, b"new").unwrap();
        assert_eq!(std::fs::read(&out).unwrap(), b"new");
        assert_ne!(std::fs::metadata(&out).unwrap().ino(), before);
        assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 1);
    }

    #[test]
    fn a_mapped_output_replaces_the_file_only_when_committed() {
        let d = tempfile::tempdir().unwrap();
        let out = d.path().join("lib.so");
        std::fs::write(&out, b"old").unwrap();
        let mut o = Output::create(&out, 3, false).unwrap();
        o.bytes_mut().copy_from_slice(b"abc");
        drop(o);
        assert_eq!(std::fs::read(&out).unwrap(), b"old");
        assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 1);
        let mut o = Output::create(&out, 3, false).unwrap();
        o.bytes_mut().copy_from_slice(b"new");
        o.commit(Ok).unwrap();
        assert_eq!(std::fs::read(&out).unwrap(), b"new");
        assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 1);
    }

    #[test]
    fn a_directory_is_refused_by_name() {
        let d = tempfile::tempdir().unwrap();
        let e = write(d.path(), b"x").unwrap_err().to_string();
        assert!(e.contains("it is a directory"), "{e}");
        assert!(e.contains(&d.path().display().to_string()), "{e}");
    }
}
