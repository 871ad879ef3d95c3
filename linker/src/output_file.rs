//! Writing the linked image to `-o`.
//!
//! A regular file (or a new path) is written through a temporary file in the same directory
//! and a rename, so a failed or interrupted link never leaves a half-written output. Any other
//! node must never be replaced: `-o /dev/null` run as root would otherwise swap the system's
//! /dev/null for a regular file. Character devices and FIFOs are written in place, as GNU ld
//! does; block devices, sockets and directories are refused.

use crate::error::{LinkError, Result};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::Path;

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
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".into());
    let tmp = dir.join(format!(".{name}.tether-{}.tmp", std::process::id()));
    let result = (|| -> std::io::Result<()> {
        let mut f = File::create(&tmp)?;
        f.write_all(bytes)?;
        f.set_permissions(std::fs::Permissions::from_mode(0o755))?;
        drop(f);
        std::fs::rename(&tmp, path)
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(LinkError::io(path, e));
    }
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
    fn a_directory_is_refused_by_name() {
        let d = tempfile::tempdir().unwrap();
        let e = write(d.path(), b"x").unwrap_err().to_string();
        assert!(e.contains("it is a directory"), "{e}");
        assert!(e.contains(&d.path().display().to_string()), "{e}");
    }
}
