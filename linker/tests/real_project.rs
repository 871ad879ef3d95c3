//! A real project built with ld.tether as its only linker: zlib's `./configure && make test`
//! (configure's probes, the static and shared library, the test programs as PIEs), natively
//! on x86-64 and cross-built for armhf with the tests run under qemu-arm. zlib's source
//! package is fetched by `scripts/setup.sh`.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Where `scripts/setup.sh` keeps zlib's source package.
fn cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("TETHER_CACHE") {
        return PathBuf::from(dir);
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").expect("HOME")).join(".cache"));
    base.join("tether")
}

fn zlib_tarball() -> PathBuf {
    let dir = cache_dir();
    std::fs::read_dir(&dir)
        .ok()
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| {
            let name = p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            name.starts_with("zlib_") && name.contains(".orig.tar.")
        })
        .unwrap_or_else(|| {
            panic!(
                "zlib's source package is not in {}: run scripts/setup.sh",
                dir.display()
            )
        })
}

fn sh(script: &str, dir: &Path) -> String {
    let out = Command::new("sh")
        .arg("-c")
        .arg(script)
        .current_dir(dir)
        .output()
        .expect("sh");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "`{script}` failed:\n{text}");
    text
}

/// Unpacks zlib and makes `bin/ld` a wrapper that logs every link and runs ld.tether.
fn prepare() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let tmp = tempfile::tempdir().expect("temp dir");
    let tarball = zlib_tarball();
    sh(&format!("tar xf '{}'", tarball.display()), tmp.path());
    let src = std::fs::read_dir(tmp.path())
        .expect("read dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.join("configure").exists())
        .expect("an unpacked zlib tree");
    let bin = tmp.path().join("bin");
    std::fs::create_dir(&bin).expect("bin");
    let log = tmp.path().join("links.log");
    let wrapper = format!(
        "#!/bin/sh\necho \"$*\" >> '{}'\nexec '{}' \"$@\"\n",
        log.display(),
        env!("CARGO_BIN_EXE_ld-tether")
    );
    std::fs::write(bin.join("ld"), wrapper).expect("ld wrapper");
    sh("chmod +x bin/ld", tmp.path());
    (tmp, src, log)
}

fn check_passed(output: &str, log: &Path) {
    for line in [
        "*** zlib test OK ***",
        "*** zlib shared test OK ***",
        "*** zlib 64-bit test OK ***",
    ] {
        assert!(output.contains(line), "no `{line}`:\n{output}");
    }
    let links = std::fs::read_to_string(log).unwrap_or_default();
    // configure's probes, libz.so, and the static, shared and 64-bit test programs.
    assert!(
        links.lines().count() >= 8,
        "ld.tether linked only:\n{links}"
    );
    assert!(
        links.contains("-shared") && links.contains("-pie"),
        "{links}"
    );
}

#[test]
fn zlib_configure_and_make_test_natively() {
    let (tmp, src, log) = prepare();
    let cc = format!("gcc -B{}/", tmp.path().join("bin").display());
    let output = sh(&format!("CC='{cc}' ./configure && make -j2 test"), &src);
    check_passed(&output, &log);
}

#[test]
fn zlib_cross_built_for_armhf_and_tested_under_qemu() {
    let (tmp, src, log) = prepare();
    let cc = format!(
        "arm-linux-gnueabihf-gcc -B{}/",
        tmp.path().join("bin").display()
    );
    let output = sh(
        &format!(
            "CC='{cc}' CHOST=arm-linux-gnueabihf ./configure && make -j2 test QEMU_RUN='qemu-arm -L /usr/arm-linux-gnueabihf'"
        ),
        &src,
    );
    check_passed(&output, &log);
    let file = sh("file example examplesh", &src);
    assert!(file.matches("ARM").count() == 2, "{file}");
}

/// Whether every link of the log went through the LTO plugin and the library's objects were
/// slim (GCC IR only): ld.tether had to run the plugin for any code to be linked.
fn check_lto(src: &Path, log: &Path, objdump: &str) {
    let links = std::fs::read_to_string(log).unwrap_or_default();
    assert!(
        links.lines().all(|l| l.contains("-plugin")),
        "a link without the plugin:\n{links}"
    );
    let symbols = sh(&format!("{objdump} -t adler32.o"), src);
    assert!(symbols.contains("__gnu_lto_slim"), "{symbols}");
}

#[test]
fn zlib_built_with_lto_natively() {
    let (tmp, src, log) = prepare();
    let cc = format!("gcc -B{}/", tmp.path().join("bin").display());
    let output = sh(
        &format!("CC='{cc}' CFLAGS='-O2 -flto' AR=gcc-ar ./configure && make -j2 test"),
        &src,
    );
    check_passed(&output, &log);
    check_lto(&src, &log, "objdump");
}

#[test]
fn zlib_built_with_lto_for_armhf_and_tested_under_qemu() {
    let (tmp, src, log) = prepare();
    let cc = format!(
        "arm-linux-gnueabihf-gcc -B{}/",
        tmp.path().join("bin").display()
    );
    let output = sh(
        &format!(
            "CC='{cc}' CFLAGS='-O2 -flto' AR=arm-linux-gnueabihf-gcc-ar CHOST=arm-linux-gnueabihf ./configure && make -j2 test QEMU_RUN='qemu-arm -L /usr/arm-linux-gnueabihf'"
        ),
        &src,
    );
    check_passed(&output, &log);
    check_lto(&src, &log, "arm-linux-gnueabihf-objdump");
    let file = sh("file example examplesh", &src);
    assert!(file.matches("ARM").count() == 2, "{file}");
}
