//! `-o` at a node that is not a regular file: a character device or a FIFO is written in place
//! (as GNU ld does) and keeps its inode; a block device is refused by name. Both architectures.

use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::process::Command;

const SOURCE: &str = "int tether_value(void) { return 42; }\n";

fn object(dir: &Path, cc: &str) -> PathBuf {
    let src = dir.join("value.c");
    std::fs::write(&src, SOURCE).unwrap();
    let obj = dir.join(format!("{cc}.o"));
    let out = Command::new(cc)
        .args(["-c", "-fPIC", "-O1", "-o"])
        .arg(&obj)
        .arg(&src)
        .output()
        .unwrap_or_else(|e| panic!("{cc}: {e} (install gcc and gcc-arm-linux-gnueabihf)"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    obj
}

fn link(obj: &Path, output: &Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_ld-tether"))
        .args(["-shared", "-o"])
        .arg(output)
        .arg(obj)
        .output()
        .unwrap()
}

fn mknod(path: &Path, kind: &str, major: u32, minor: u32) {
    let status = Command::new("mknod")
        .arg(path)
        .arg(kind)
        .arg(major.to_string())
        .arg(minor.to_string())
        .status()
        .unwrap();
    // The project's machines and CI run as root; without it this test cannot make a device.
    assert!(status.success(), "mknod {} needs root", path.display());
}

const COMPILERS: [&str; 2] = ["gcc", "arm-linux-gnueabihf-gcc"];

#[test]
fn a_character_device_is_written_in_place_and_kept() {
    for cc in COMPILERS {
        let d = tempfile::tempdir().unwrap();
        let obj = object(d.path(), cc);
        // The null device (1, 3), under a name of our own rather than the system's.
        let null = d.path().join("null");
        mknod(&null, "c", 1, 3);
        let inode = std::fs::metadata(&null).unwrap().ino();
        let out = link(&obj, &null);
        assert!(
            out.status.success(),
            "{cc}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let meta = std::fs::metadata(&null).unwrap();
        assert!(
            meta.file_type().is_char_device(),
            "{cc}: the device was replaced"
        );
        assert_eq!(meta.ino(), inode, "{cc}");
        // No temporary file was left beside it.
        let names: Vec<_> = std::fs::read_dir(d.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 3, "{cc}: {names:?}");
    }
}

#[test]
fn a_fifo_receives_exactly_the_linked_image() {
    for cc in COMPILERS {
        let d = tempfile::tempdir().unwrap();
        let obj = object(d.path(), cc);
        let regular = d.path().join("lib.so");
        assert!(link(&obj, &regular).status.success());
        let expected = std::fs::read(&regular).unwrap();
        let fifo = d.path().join("pipe");
        assert!(Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success());
        let reader = {
            let fifo = fifo.clone();
            std::thread::spawn(move || std::fs::read(fifo).unwrap())
        };
        let out = link(&obj, &fifo);
        assert!(
            out.status.success(),
            "{cc}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let received = reader.join().unwrap();
        assert!(received.starts_with(b"\x7fELF"), "{cc}");
        assert_eq!(
            received, expected,
            "{cc}: the FIFO got other bytes than the file"
        );
        assert!(
            std::fs::metadata(&fifo).unwrap().file_type().is_fifo(),
            "{cc}"
        );
    }
}

#[test]
fn a_block_device_is_refused_by_name_and_kept() {
    for cc in COMPILERS {
        let d = tempfile::tempdir().unwrap();
        let obj = object(d.path(), cc);
        // A loop device number; it is never opened.
        let block = d.path().join("blk");
        mknod(&block, "b", 7, 250);
        let out = link(&obj, &block);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{cc}: {err}");
        assert!(
            err.contains(&format!(
                "{}: cannot write the output: it is a block device",
                block.display()
            )),
            "{cc}: {err}"
        );
        assert!(std::fs::metadata(&block)
            .unwrap()
            .file_type()
            .is_block_device());
    }
}
