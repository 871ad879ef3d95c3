//! ARM shared libraries linked by tether, loaded by glibc's loader under qemu-arm: the seed
//! scenario (libgo's DT_INIT calls libtest, which calls back) from GCC (Thumb-2 and ARM) and
//! clang at -O0 and -O2, lazy binding observed from inside a library, C++ exceptions, static
//! constructors and COMDAT, interworking and far calls through thunks.

mod arm_common;

use arm_common::{path_str, run, FIXTURES};
use std::path::{Path, PathBuf};
use std::process::Command;

const SEED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../emu-tests/scenarios/seed");
const SYSROOT: &str = "/usr/arm-linux-gnueabihf";

/// A directory whose `ld` is tether, for `gcc -B<dir>/`.
fn tether_dir(dir: &Path) -> String {
    let bin = dir.join("tether-bin");
    std::fs::create_dir_all(&bin).expect("mkdir");
    let ld = bin.join("ld");
    if !ld.exists() {
        std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_ld-tether"), &ld).expect("symlink ld");
    }
    format!("{}/", bin.display())
}

fn gcc(args: &[&str]) {
    run("arm-linux-gnueabihf-gcc", "gcc-arm-linux-gnueabihf", args);
}

/// Compiles `source` to a PIC object with the given compiler flags.
fn compile(compiler: &[&str], source: &str, out: &Path) -> PathBuf {
    let mut args: Vec<&str> = compiler[1..].to_vec();
    args.extend(["-fPIC", "-c", source, "-o", path_str(out)]);
    let package = if compiler[0] == "clang" {
        "clang"
    } else {
        "gcc-arm-linux-gnueabihf"
    };
    run(compiler[0], package, &args);
    out.to_path_buf()
}

/// readelf must not complain and eu-elflint must say "No errors" (as for GNU ld's output).
fn check_clean(lib: &Path) {
    let readelf = Command::new("readelf")
        .args(["-aW", path_str(lib)])
        .output()
        .expect("cannot run readelf: install binutils");
    assert!(readelf.status.success());
    assert_eq!(
        String::from_utf8_lossy(&readelf.stderr),
        "",
        "readelf -aW {}",
        lib.display()
    );
    let elflint = Command::new("eu-elflint")
        .args(["--gnu-ld", path_str(lib)])
        .output()
        .expect("cannot run eu-elflint: install elfutils");
    assert_eq!(
        String::from_utf8_lossy(&elflint.stdout).trim(),
        "No errors",
        "eu-elflint --gnu-ld {}",
        lib.display()
    );
}

/// Runs `program` under qemu-arm with `dir` as LD_LIBRARY_PATH; returns (stdout, stderr).
fn qemu(program: &Path, dir: &Path, env: &[&str]) -> (String, String) {
    let mut cmd = Command::new("qemu-arm");
    cmd.args([
        "-L",
        SYSROOT,
        "-E",
        &format!("LD_LIBRARY_PATH={}", dir.display()),
    ]);
    cmd.args(["-U", "LD_BIND_NOW", "-U", "LD_PRELOAD"]);
    for e in env {
        cmd.args(["-E", e]);
    }
    let out = cmd
        .arg(program)
        .output()
        .unwrap_or_else(|e| panic!("cannot run qemu-arm ({e}): install qemu-user"));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        out.status.success(),
        "{} failed: {stdout}\n{stderr}",
        program.display()
    );
    (stdout, stderr)
}

#[test]
fn seed_scenario_runs_under_qemu_for_every_compiler_and_state() {
    let expected = std::fs::read_to_string(format!("{SEED}/expected.txt")).expect("expected.txt");
    let variants: &[(&str, &[&str])] = &[
        ("gcc-thumb-O0", &["arm-linux-gnueabihf-gcc", "-O0"]),
        ("gcc-thumb-O2", &["arm-linux-gnueabihf-gcc", "-O2"]),
        ("gcc-arm-O2", &["arm-linux-gnueabihf-gcc", "-O2", "-marm"]),
        (
            "clang-arm-O2",
            &["clang", "--target=armv7a-linux-gnueabihf", "-O2"],
        ),
        (
            "clang-thumb-O0",
            &["clang", "--target=armv7a-linux-gnueabihf", "-O0", "-mthumb"],
        ),
    ];
    let tmp = tempfile::tempdir().expect("temp dir");
    let b = tether_dir(tmp.path());
    for (name, compiler) in variants {
        let dir = tmp.path().join(name);
        std::fs::create_dir_all(&dir).expect("mkdir");
        let test_o = compile(
            compiler,
            &format!("{SEED}/libtest.c"),
            &dir.join("libtest.o"),
        );
        let go_o = compile(compiler, &format!("{SEED}/libgo.c"), &dir.join("libgo.o"));
        let libtest = dir.join("libtest.so");
        let libgo = dir.join("libgo.so");
        let ldir = format!("-L{}", dir.display());
        gcc(&[
            "-B",
            &b,
            "-shared",
            "-o",
            path_str(&libtest),
            path_str(&test_o),
        ]);
        gcc(&[
            "-B",
            &b,
            "-shared",
            "-Wl,-init=go_init",
            "-o",
            path_str(&libgo),
            path_str(&go_o),
            &ldir,
            "-ltest",
        ]);
        let main = dir.join("main");
        let rpath_link = format!("-Wl,-rpath-link,{}", dir.display());
        gcc(&[
            "-O2",
            &format!("{SEED}/main.c"),
            "-o",
            path_str(&main),
            &ldir,
            "-lgo",
            &rpath_link,
        ]);
        let (stdout, _) = qemu(&main, &dir, &[]);
        assert_eq!(stdout, expected, "{name}");
        check_clean(&libtest);
        check_clean(&libgo);
    }
}

/// Index of the first line of `text` containing `needle` at or after `from`.
fn line_index(lines: &[&str], needle: &str) -> Option<usize> {
    lines.iter().position(|l| l.contains(needle))
}

#[test]
fn lazy_binding_happens_at_the_first_call_and_z_now_binds_at_load() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir = tmp.path();
    let b = tether_dir(dir);
    let lazy_o = compile(
        &["arm-linux-gnueabihf-gcc", "-O2"],
        &format!("{FIXTURES}/lazy.c"),
        &dir.join("lazy.o"),
    );
    let lib = dir.join("liblazy.so");
    let main = dir.join("lazy_main");
    let ldir = format!("-L{}", dir.display());
    for now in [false, true] {
        let mut args = vec!["-B", &b, "-shared", "-o", path_str(&lib), path_str(&lazy_o)];
        if now {
            args.push("-Wl,-z,now");
        }
        gcc(&args);
        check_clean(&lib);
        if !now {
            gcc(&[
                &format!("{FIXTURES}/lazy_main.c"),
                "-o",
                path_str(&main),
                &ldir,
                "-llazy",
            ]);
        }
        let (stdout, stderr) = qemu(&main, dir, &["LD_DEBUG=bindings"]);
        let (before_is_plt, before_is_getpid) = if now { ("no", "yes") } else { ("yes", "no") };
        assert_eq!(
            stdout,
            format!(
                "lazy: before points into liblazy: {before_is_plt}\n\
                 lazy: before is getpid: {before_is_getpid}\n\
                 lazy: after is getpid: yes\n\
                 lazy: pid positive: yes\n"
            ),
            "-z now: {now}"
        );
        let lines: Vec<&str> = stderr.lines().collect();
        let calling = line_index(&lines, "lazy: calling getpid").expect("marker");
        let returned = line_index(&lines, "lazy: returned").expect("marker");
        let bound_during_call = lines[calling..returned]
            .iter()
            .any(|l| l.contains("liblazy.so [0] to") && l.contains("symbol `getpid'"));
        assert_eq!(
            bound_during_call, !now,
            "-z now: {now}; LD_DEBUG said:\n{stderr}"
        );
    }
}

fn gxx(args: &[&str]) {
    run("arm-linux-gnueabihf-g++", "g++-arm-linux-gnueabihf", args);
}

#[test]
fn cxx_exception_thrown_in_the_library_is_caught_in_the_program() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let b = tether_dir(tmp.path());
    for (name, state) in [("thumb", "-mthumb"), ("arm", "-marm")] {
        let dir = tmp.path().join(name);
        std::fs::create_dir_all(&dir).expect("mkdir");
        let object = compile(
            &["arm-linux-gnueabihf-g++", "-O2", state],
            &format!("{FIXTURES}/exc_lib.cpp"),
            &dir.join("exc_lib.o"),
        );
        let lib = dir.join("libexc.so");
        gxx(&["-B", &b, "-shared", "-o", path_str(&lib), path_str(&object)]);
        check_clean(&lib);
        let main = dir.join("exc_main");
        let ldir = format!("-L{}", dir.display());
        gxx(&[
            &format!("{FIXTURES}/exc_main.cpp"),
            "-o",
            path_str(&main),
            &ldir,
            "-lexc",
        ]);
        let (stdout, _) = qemu(&main, &dir, &[]);
        // The static constructor ran once, the COMDAT template works, the exception crossed.
        assert_eq!(stdout, "twice 42 count 1\ncaught: too big: 5\n", "{name}");
    }
}

#[test]
fn far_calls_beyond_arm_and_thumb_reach_go_through_thunks() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir = tmp.path();
    let b = tether_dir(dir);
    let object = compile(
        &["arm-linux-gnueabihf-gcc"],
        &format!("{FIXTURES}/far.S"),
        &dir.join("far.o"),
    );
    let lib = dir.join("libfar.so");
    gcc(&["-B", &b, "-shared", "-o", path_str(&lib), path_str(&object)]);
    check_clean(&lib);
    let main = dir.join("far_main");
    let ldir = format!("-L{}", dir.display());
    gcc(&[
        &format!("{FIXTURES}/far_main.c"),
        "-o",
        path_str(&main),
        &ldir,
        "-lfar",
    ]);
    let (stdout, _) = qemu(&main, dir, &[]);
    assert_eq!(stdout, "23 14 18 12 11\n");
    // The same library linked by GNU ld behaves the same.
    let gnu_dir = dir.join("gnu");
    std::fs::create_dir_all(&gnu_dir).expect("mkdir");
    gcc(&[
        "-shared",
        "-o",
        path_str(&gnu_dir.join("libfar.so")),
        path_str(&object),
    ]);
    let (gnu_stdout, _) = qemu(&main, &gnu_dir, &[]);
    assert_eq!(gnu_stdout, stdout, "GNU ld's library");
}

/// The corpus's interworking scenario (emu-tests/scenarios/arm-interworking), built as its
/// scenario.json says: ARM and Thumb objects in one library, veneers for tail calls that
/// change state, a pointer to a Thumb function, calls 17 MiB away.
#[test]
fn interworking_scenario_runs() {
    let scenario = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../emu-tests/scenarios/arm-interworking"
    );
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir = tmp.path();
    let b = tether_dir(dir);
    let gcc_o2 = ["arm-linux-gnueabihf-gcc", "-O2"];
    let objects = [
        compile(
            &[gcc_o2[0], gcc_o2[1], "-marm"],
            &format!("{scenario}/arm_part.c"),
            &dir.join("a.o"),
        ),
        compile(
            &[gcc_o2[0], gcc_o2[1], "-mthumb"],
            &format!("{scenario}/thumb_part.c"),
            &dir.join("t.o"),
        ),
        compile(&gcc_o2, &format!("{scenario}/far.S"), &dir.join("far.o")),
        compile(
            &gcc_o2,
            &format!("{scenario}/driver.c"),
            &dir.join("driver.o"),
        ),
    ];
    let lib = dir.join("libinter.so");
    let mut args = vec!["-B", &b, "-shared", "-o", path_str(&lib)];
    args.extend(objects.iter().map(|o| path_str(o)));
    gcc(&args);
    check_clean(&lib);
    let main = dir.join("main");
    let ldir = format!("-L{}", dir.display());
    gcc(&[
        &format!("{scenario}/main.c"),
        "-o",
        path_str(&main),
        &ldir,
        "-linter",
    ]);
    let (stdout, _) = qemu(&main, dir, &[]);
    let expected = std::fs::read_to_string(format!("{scenario}/expected.txt")).expect("expected");
    assert_eq!(stdout, expected);
}

const TLS_DESCRIPTORS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../emu-tests/scenarios/tls-descriptors"
);

/// Reads the little-endian word at virtual address `addr` of `lib` (from its section headers).
fn word_at(lib: &Path, addr: u64) -> u32 {
    let data = std::fs::read(lib).expect("read library");
    let out = Command::new("readelf")
        .args(["-SW", path_str(lib)])
        .output()
        .expect("cannot run readelf: install binutils");
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        let Some(i) = f.iter().position(|x| x.starts_with('.')) else {
            continue;
        };
        let (Some(a), Some(o), Some(s)) = (f.get(i + 2), f.get(i + 3), f.get(i + 4)) else {
            continue;
        };
        let hex = |t: &str| u64::from_str_radix(t, 16).ok();
        if let (Some(a), Some(o), Some(s)) = (hex(a), hex(o), hex(s)) {
            if f[i + 1] == "PROGBITS" && (a..a + s).contains(&addr) {
                let at = (o + addr - a) as usize;
                return u32::from_le_bytes(data[at..at + 4].try_into().expect("4 bytes"));
            }
        }
    }
    panic!("{:#x} is in no PROGBITS section of {}", addr, lib.display())
}

#[test]
fn tls_descriptors_from_gcc_gnu2_run_like_gnu_ld_and_use_the_plt0_trampoline() {
    let expected =
        std::fs::read_to_string(format!("{TLS_DESCRIPTORS}/expected.txt")).expect("expected.txt");
    let tmp = tempfile::tempdir().expect("temp dir");
    let b = tether_dir(tmp.path());
    for (name, state) in [("thumb", "-mthumb"), ("arm", "-marm")] {
        let dir = tmp.path().join(name);
        std::fs::create_dir_all(&dir).expect("mkdir");
        let lib_object = |source: &str| {
            compile(
                &[
                    "arm-linux-gnueabihf-gcc",
                    "-O2",
                    state,
                    "-mtls-dialect=gnu2",
                ],
                &format!("{TLS_DESCRIPTORS}/{source}.c"),
                &dir.join(format!("{source}.o")),
            )
        };
        let (tls, user) = (lib_object("libtls"), lib_object("libtlsuser"));
        let libtls = dir.join("libtls.so");
        gcc(&[
            "-B",
            &b,
            "-shared",
            "-Wl,-soname,libtls.so",
            "-o",
            path_str(&libtls),
            path_str(&tls),
        ]);
        let libuser = dir.join("libtlsuser.so");
        let ldir = format!("-L{}", dir.display());
        gcc(&[
            "-B",
            &b,
            "-shared",
            "-o",
            path_str(&libuser),
            path_str(&user),
            &ldir,
            "-ltls",
        ]);
        for lib in [&libtls, &libuser] {
            check_clean(lib);
        }
        let main = dir.join("main");
        gcc(&[
            &format!("{TLS_DESCRIPTORS}/main.c"),
            "-o",
            path_str(&main),
            &ldir,
            "-ltls",
            "-ltlsuser",
        ]);
        let (stdout, _) = qemu(&main, &dir, &[]);
        assert_eq!(stdout, expected, "{name}");

        // The descriptors are R_ARM_TLS_DESC relocations the loader fills at load time, and
        // every TLS call branches to the trampoline in PLT0's padding.
        let relocs = Command::new("readelf")
            .args(["-rW", path_str(&libtls)])
            .output()
            .expect("readelf");
        let relocs = String::from_utf8_lossy(&relocs.stdout);
        assert!(
            relocs.contains("R_ARM_TLS_DESC         00000008   tls_gd"),
            "{relocs}"
        );
        let plt = Command::new("readelf")
            .args(["-SW", path_str(&libtls)])
            .output()
            .expect("readelf");
        let plt = String::from_utf8_lossy(&plt.stdout);
        let plt_addr = plt
            .lines()
            .find(|l| l.contains(" .plt "))
            .and_then(|l| l.split_whitespace().skip_while(|f| *f != ".plt").nth(2))
            .and_then(|a| u64::from_str_radix(a, 16).ok())
            .unwrap_or_else(|| panic!("no .plt in {plt}"));
        assert_eq!(
            [20, 24, 28].map(|o| word_at(&libtls, plt_addr + o)),
            [0xe08e_0000, 0xe590_1004, 0xe12f_ff11],
            "add r0, lr, r0; ldr r1, [r0, #4]; bx r1"
        );
        // Mapping symbols tell disassemblers the PLT0 literal is data and the rest ARM code.
        let symbols = Command::new("readelf")
            .args(["-sW", path_str(&libtls)])
            .output()
            .expect("readelf");
        let mut mapping: Vec<(u64, String)> = String::from_utf8_lossy(&symbols.stdout)
            .lines()
            .map(|l| l.split_whitespace().collect::<Vec<_>>())
            .filter(|f| f.len() == 8 && f[7].starts_with('$'))
            .filter_map(|f| Some((u64::from_str_radix(f[1], 16).ok()?, f[7].to_string())))
            .filter(|(a, _)| (plt_addr..plt_addr + 32).contains(a))
            .collect();
        mapping.sort();
        assert_eq!(
            mapping,
            [
                (plt_addr, "$a".to_string()),
                (plt_addr + 16, "$d".to_string()),
                (plt_addr + 20, "$a".to_string())
            ]
        );
        let disassembly = Command::new("arm-linux-gnueabihf-objdump")
            .args(["-d", path_str(&libtls)])
            .output()
            .expect("cannot run objdump: install binutils-arm-linux-gnueabihf");
        let disassembly = String::from_utf8_lossy(&disassembly.stdout);
        // As many branches reach the trampoline as the object has TLS calls, and from Thumb
        // they are BLX (the trampoline is ARM code).
        let object_relocs = Command::new("readelf")
            .args(["-rW", path_str(&tls)])
            .output()
            .expect("readelf");
        let tls_calls = String::from_utf8_lossy(&object_relocs.stdout)
            .lines()
            .filter(|l| l.contains("_TLS_CALL"))
            .count();
        assert!(tls_calls > 0);
        let trampoline = format!("\t{:x} <", plt_addr + 20);
        let calls: Vec<&str> = disassembly
            .lines()
            .filter(|l| l.contains(&trampoline))
            .collect();
        assert_eq!(calls.len(), tls_calls, "{disassembly}");
        for call in calls {
            assert!(
                call.contains(if name == "thumb" { "\tblx\t" } else { "\tbl\t" }),
                "{call}"
            );
        }
    }
}

/// A hidden IFUNC called, its address taken and stored in a data word, from gcc Thumb -O0
/// and ARM -O0/-O2: its PLT entry comes after the others and every IRELATIVE is in .rel.dyn
/// (glibc's ARM loader refuses IRELATIVE among the PLT relocations).
#[test]
fn hidden_ifunc_runs_through_irelative_slots() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let b = tether_dir(tmp.path());
    let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/x86_64");
    for (name, flags) in [
        ("thumb-O0", ["-O0", "-mthumb"]),
        ("arm-O0", ["-O0", "-marm"]),
        ("arm-O2", ["-O2", "-marm"]),
    ] {
        let dir = tmp.path().join(name);
        std::fs::create_dir_all(&dir).expect("mkdir");
        let object = compile(
            &["arm-linux-gnueabihf-gcc", flags[0], flags[1]],
            &format!("{fixtures}/ifunc_hidden.c"),
            &dir.join("ifunc.o"),
        );
        let lib = dir.join("libhif.so");
        gcc(&["-B", &b, "-shared", "-o", path_str(&lib), path_str(&object)]);
        check_clean(&lib);
        let relocs = Command::new("readelf")
            .args(["-rW", path_str(&lib)])
            .output()
            .expect("readelf");
        let relocs = String::from_utf8_lossy(&relocs.stdout);
        let plt_part = relocs.split(".rel.plt").nth(1).unwrap_or("");
        assert!(!plt_part.contains("IRELATIVE"), "{relocs}");
        assert!(relocs.contains("R_ARM_IRELATIVE"), "{relocs}");
        let main = dir.join("main");
        let ldir = format!("-L{}", dir.display());
        gcc(&[
            &format!("{fixtures}/ifunc_hidden_main.c"),
            "-o",
            path_str(&main),
            &ldir,
            "-lhif",
        ]);
        let (stdout, _) = qemu(&main, &dir, &[]);
        assert_eq!(stdout, "42 42 42\n", "{name}");
    }
}
