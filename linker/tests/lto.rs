//! Link-time optimisation through the plugin interface: gcc `-flto` (liblto_plugin, which
//! both gcc drivers pass with `-plugin`) and clang `-flto`/`-flto=thin` (LLVMgold), x86-64,
//! Thumb-2 and ARM. Each output is also linked by GNU ld from the same objects: both must run
//! with the same output and export the same dynamic symbols.

mod common;

use common::{ok, run, tether};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/lto");
const ARM_SYSROOT: &str = "/usr/arm-linux-gnueabihf";
const LLVM_GOLD: &str = "/usr/lib/llvm-14/lib/LLVMgold.so";

fn fixture(name: &str) -> String {
    format!("{FIXTURES}/{name}")
}

fn expected(name: &str) -> String {
    std::fs::read_to_string(fixture(name)).expect("expected output fixture")
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tc {
    X86Gcc,
    X86Clang,
    X86ClangThin,
    ArmGccThumb,
    ArmGccArm,
}

const ALL: [Tc; 5] = [
    Tc::X86Gcc,
    Tc::X86Clang,
    Tc::X86ClangThin,
    Tc::ArmGccThumb,
    Tc::ArmGccArm,
];
const GCC: [Tc; 3] = [Tc::X86Gcc, Tc::ArmGccThumb, Tc::ArmGccArm];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Linker {
    Tether,
    GnuLd,
}

impl Tc {
    fn is_arm(self) -> bool {
        matches!(self, Tc::ArmGccThumb | Tc::ArmGccArm)
    }

    fn is_clang(self) -> bool {
        matches!(self, Tc::X86Clang | Tc::X86ClangThin)
    }

    /// The compiler driver with the target state and LTO mode, for compiling and linking.
    fn driver(self) -> Command {
        let (cc, flags): (&str, &[&str]) = match self {
            Tc::X86Gcc => ("gcc", &["-flto"]),
            Tc::X86Clang => ("clang", &["-flto"]),
            Tc::X86ClangThin => ("clang", &["-flto=thin"]),
            Tc::ArmGccThumb => ("arm-linux-gnueabihf-gcc", &["-mthumb", "-flto"]),
            Tc::ArmGccArm => ("arm-linux-gnueabihf-gcc", &["-marm", "-flto"]),
        };
        let mut cmd = Command::new(cc);
        cmd.args(flags).arg("-O2");
        cmd
    }

    fn ar(self) -> &'static str {
        match self {
            Tc::X86Gcc => "gcc-ar",
            Tc::ArmGccThumb | Tc::ArmGccArm => "arm-linux-gnueabihf-gcc-ar",
            Tc::X86Clang | Tc::X86ClangThin => "llvm-ar-14",
        }
    }
}

struct Work {
    dir: tempfile::TempDir,
    tc: Tc,
}

impl Work {
    fn new(tc: Tc) -> Work {
        let dir = tempfile::tempdir().expect("temporary directory");
        std::fs::create_dir(dir.path().join("bin")).expect("bin dir");
        std::os::unix::fs::symlink(tether(), dir.path().join("bin/ld")).expect("ld symlink");
        std::fs::create_dir(dir.path().join("tmp")).expect("tmp dir");
        Work { dir, tc }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn compile(&self, src: &str, obj: &str, flags: &[&str]) -> PathBuf {
        let out = self.path(obj);
        ok(self
            .tc
            .driver()
            .args(flags)
            .arg("-c")
            .arg(fixture(src))
            .arg("-o")
            .arg(&out));
        out
    }

    /// Links through the compiler driver; the plugin's temporary files go to `tmp/`.
    fn link(&self, linker: Linker, out: &str, args: &[&str]) -> Output {
        let mut cmd = self.tc.driver();
        match (linker, self.tc.is_clang()) {
            (Linker::Tether, true) => cmd.arg(format!("--ld-path={}", tether().display())),
            (Linker::Tether, false) => cmd.arg(format!("-B{}/", self.path("bin").display())),
            (Linker::GnuLd, _) => cmd.arg("-fuse-ld=bfd"),
        };
        run(cmd
            .args(args)
            .arg("-o")
            .arg(self.path(out))
            .env("TMPDIR", self.path("tmp"))
            .current_dir(self.dir.path()))
    }

    fn link_ok(&self, linker: Linker, out: &str, args: &[&str]) {
        let o = self.link(linker, out, args);
        assert!(
            o.status.success(),
            "{:?}: linking {out} with {linker:?} failed:\n{}",
            self.tc,
            String::from_utf8_lossy(&o.stderr)
        );
    }

    fn run_program(&self, exe: &str) -> String {
        let dir = self.dir.path().display().to_string();
        if self.tc.is_arm() {
            ok(Command::new("qemu-arm")
                .args(["-L", ARM_SYSROOT, "-E", &format!("LD_LIBRARY_PATH={dir}")])
                .arg(self.path(exe)))
        } else {
            ok(Command::new(self.path(exe)).env("LD_LIBRARY_PATH", &dir))
        }
    }

    /// Links `out` with both linkers (GNU ld's as `out.bfd`), runs both when `runs`, checks
    /// their output is `expected`, and that they export the same symbols.
    fn both(&self, out: &str, args: &[&str], expect: Option<&str>) -> PathBuf {
        let reference = format!("{out}.bfd");
        self.link_ok(Linker::GnuLd, &reference, args);
        self.link_ok(Linker::Tether, out, args);
        if let Some(e) = expect {
            assert_eq!(
                self.run_program(&reference),
                expected(e),
                "{:?} GNU ld",
                self.tc
            );
            assert_eq!(self.run_program(out), expected(e), "{:?} {out}", self.tc);
        }
        assert_eq!(
            dynamic_symbols(&self.path(out)),
            dynamic_symbols(&self.path(&reference)),
            "{:?}: {out} exports other symbols than GNU ld's build",
            self.tc
        );
        self.assert_no_temporaries();
        self.path(out)
    }

    /// The plugin removed what it wrote under TMPDIR.
    fn assert_no_temporaries(&self) {
        let left: Vec<_> = std::fs::read_dir(self.path("tmp"))
            .expect("tmp dir")
            .filter_map(|e| e.ok().map(|e| e.file_name()))
            .collect();
        assert!(
            left.is_empty(),
            "{:?}: temporary files left: {left:?}",
            self.tc
        );
    }
}

/// The names of the functions and data the output defines in `.dynsym` (with their version),
/// as readelf shows them; GNU ld's section and version-name symbols are left out.
fn dynamic_symbols(file: &Path) -> BTreeSet<String> {
    let text = ok(Command::new("readelf").args(["--dyn-syms", "-W"]).arg(file));
    text.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let wanted = f.len() >= 8
                && f[0].ends_with(':')
                && matches!(f[3], "FUNC" | "OBJECT" | "TLS" | "IFUNC" | "NOTYPE")
                && !matches!(f[6], "UND" | "ABS");
            wanted.then(|| f[7].to_string())
        })
        .collect()
}

fn symbols(file: &Path) -> String {
    ok(Command::new("nm").arg(file))
}

#[test]
fn lto_programs_run_like_gnu_lds() {
    for tc in ALL {
        let w = Work::new(tc);
        w.compile("main.c", "main.o", &[]);
        w.compile("util.c", "util.o", &[]);
        let exe = w.both("main", &["main.o", "util.o"], Some("main.out"));
        // The plugin saw lto_unused as PREVAILING_DEF_IRONLY and dropped it.
        let nm = symbols(&exe);
        assert!(!nm.contains("lto_unused"), "{tc:?}:\n{nm}");
        // The inputs hold only IR: without the plugin nothing of util.c would be linked.
        let ir_only = if tc.is_clang() {
            std::fs::read(w.path("util.o"))
                .expect("util.o")
                .starts_with(b"BC")
        } else {
            ok(Command::new("readelf").arg("-sW").arg(w.path("util.o"))).contains("__gnu_lto_slim")
        };
        assert!(ir_only, "{tc:?}: util.o is not an IR-only object");
    }
}

#[test]
fn lto_shared_libraries_export_what_gnu_lds_do() {
    for tc in ALL {
        let w = Work::new(tc);
        w.compile("lib.c", "lib.o", &["-fPIC"]);
        w.compile("uselib.c", "uselib.o", &[]);
        let lib = w.both("liblto.so", &["-shared", "lib.o"], None);
        let exported = dynamic_symbols(&lib);
        assert!(
            exported.contains("lib_api") && exported.contains("lib_extra"),
            "{tc:?}: {exported:?}"
        );
        assert!(!exported.contains("lib_hidden"), "{tc:?}: {exported:?}");
        w.link_ok(Linker::Tether, "uselib", &["uselib.o", "-L.", "-llto"]);
        assert_eq!(w.run_program("uselib"), expected("uselib.out"), "{tc:?}");
    }
}

#[test]
fn version_script_over_lto_code() {
    for tc in ALL {
        let w = Work::new(tc);
        w.compile("lib.c", "lib.o", &["-fPIC"]);
        w.compile("uselib.c", "uselib.o", &[]);
        let map = format!("-Wl,--version-script={}", fixture("lib.map"));
        let lib = w.both("liblto.so", &["-shared", "lib.o", &map], None);
        let exported = dynamic_symbols(&lib);
        assert!(
            exported.contains("lib_api@@LTOLIB_1"),
            "{tc:?}: {exported:?}"
        );
        assert!(
            !exported.iter().any(|s| s.starts_with("lib_extra")),
            "{tc:?}: {exported:?}"
        );
        w.link_ok(Linker::Tether, "uselib", &["uselib.o", "-L.", "-llto"]);
        assert_eq!(w.run_program("uselib"), expected("uselib.out"), "{tc:?}");
    }
}

/// A definition in LTO code that a shared library uses is PREVAILING_DEF and exported; one
/// only LTO code uses is PREVAILING_DEF_IRONLY and is not.
#[test]
fn lto_definition_used_by_a_shared_library_is_exported() {
    for tc in ALL {
        let w = Work::new(tc);
        ok(Command::new(if tc.is_arm() {
            "arm-linux-gnueabihf-gcc"
        } else {
            "gcc"
        })
        .args(["-shared", "-fPIC", "-O2", "-o"])
        .arg(w.path("libcb.so"))
        .arg(fixture("callback_lib.c")));
        w.compile("callback_main.c", "callback_main.o", &[]);
        let exe = w.both(
            "callback",
            &["callback_main.o", "-L.", "-lcb"],
            Some("callback_main.out"),
        );
        let exported = dynamic_symbols(&exe);
        assert!(exported.contains("prog_callback"), "{tc:?}: {exported:?}");
        assert!(!exported.contains("prog_private"), "{tc:?}: {exported:?}");
    }
}

/// Slim LTO members of an archive made by `gcc-ar` (whose index names the IR symbols) are
/// offered to the plugin when the resolution loads them.
#[test]
fn lto_archive_members_are_claimed() {
    for tc in ALL {
        let w = Work::new(tc);
        w.compile("main.c", "main.o", &[]);
        let util = w.compile("util.c", "util.o", &[]);
        ok(Command::new(tc.ar())
            .arg("rcs")
            .arg(w.path("libutil.a"))
            .arg(&util));
        w.both("main", &["main.o", "-L.", "-lutil"], Some("main.out"));
    }
}

/// LTO and regular objects in one link: IR references resolve to regular code
/// (LDPR_RESOLVED_EXEC) and regular references to IR definitions (LDPR_PREVAILING_DEF).
#[test]
fn lto_and_regular_objects_mix() {
    for tc in ALL {
        let w = Work::new(tc);
        w.compile("main.c", "main.o", &[]);
        w.compile("util.c", "util.o", &["-fno-lto"]);
        w.both("main", &["main.o", "util.o"], Some("main.out"));
        w.compile("main.c", "main2.o", &["-fno-lto"]);
        w.compile("util.c", "util2.o", &[]);
        w.both("main2", &["main2.o", "util2.o"], Some("main.out"));
    }
}

/// A fat object holds IR and regular code: the plugin claims it in an LTO link, and without
/// the plugin its regular code is linked.
#[test]
fn fat_lto_objects_link_with_and_without_the_plugin() {
    for tc in GCC {
        let w = Work::new(tc);
        w.compile("main.c", "main.o", &["-ffat-lto-objects"]);
        w.compile("util.c", "util.o", &["-ffat-lto-objects"]);
        w.both("main", &["main.o", "util.o"], Some("main.out"));
        w.link_ok(
            Linker::Tether,
            "plain",
            &["-fno-use-linker-plugin", "-fno-lto", "main.o", "util.o"],
        );
        assert_eq!(w.run_program("plain"), expected("main.out"), "{tc:?}");
        // Without the plugin, lto_unused is regular code and stays.
        assert!(symbols(&w.path("plain")).contains("lto_unused"), "{tc:?}");
    }
}

#[test]
fn lto_with_gc_sections_links_and_runs() {
    for tc in ALL {
        let w = Work::new(tc);
        w.compile("main.c", "main.o", &["-ffunction-sections"]);
        w.compile("util.c", "util.o", &["-ffunction-sections"]);
        w.link_ok(
            Linker::Tether,
            "main",
            &["-Wl,--gc-sections", "main.o", "util.o"],
        );
        assert_eq!(w.run_program("main"), expected("main.out"), "{tc:?}");
    }
}

/// ld.tether names LLVMgold itself, as clang does for a linker that is not lld.
#[test]
fn llvm_gold_named_on_the_command_line() {
    let w = Work::new(Tc::X86Clang);
    w.compile("main.c", "main.o", &[]);
    w.compile("util.c", "util.o", &[]);
    let crt = |name: &str| format!("/usr/lib/x86_64-linux-gnu/{name}");
    let out = w.path("main");
    ok(Command::new(tether())
        .args([
            "-plugin",
            LLVM_GOLD,
            "-plugin-opt=O2",
            "-plugin-opt=mcpu=x86-64",
        ])
        .args([
            "-pie",
            "-dynamic-linker",
            "/lib64/ld-linux-x86-64.so.2",
            "-o",
        ])
        .arg(&out)
        .args([crt("Scrt1.o"), crt("crti.o")])
        .arg(w.path("main.o"))
        .arg(w.path("util.o"))
        .args(["-L/usr/lib/x86_64-linux-gnu", "-lc"])
        .arg(crt("crtn.o")));
    assert_eq!(w.run_program("main"), expected("main.out"));
}

fn assert_fails_without_output(cmd: &mut Command, out: &Path, message: &str) {
    let o = run(cmd);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "linked despite the plugin:\n{stderr}");
    assert!(stderr.contains(message), "no `{message}` in:\n{stderr}");
    assert!(!out.exists(), "{} was written", out.display());
}

#[test]
fn missing_plugin_is_reported_and_nothing_is_written() {
    let w = Work::new(Tc::X86Gcc);
    let obj = w.compile("util.c", "util.o", &["-fno-lto"]);
    let out = w.path("out.so");
    assert_fails_without_output(
        Command::new(tether())
            .args(["-plugin", "/nonexistent/liblto_plugin.so", "-shared", "-o"])
            .arg(&out)
            .arg(&obj),
        &out,
        "/nonexistent/liblto_plugin.so: cannot load plugin: no such file",
    );
}

#[test]
fn plugin_error_is_reported_with_its_message_and_nothing_is_written() {
    let w = Work::new(Tc::X86Gcc);
    let plugin = w.path("bad_plugin.so");
    ok(Command::new("gcc")
        .args(["-shared", "-fPIC", "-o"])
        .arg(&plugin)
        .arg(fixture("bad_plugin.c")));
    let obj = w.compile("util.c", "util.o", &["-fno-lto"]);
    let out = w.path("out.so");
    assert_fails_without_output(
        Command::new(tether())
            .arg("-plugin")
            .arg(&plugin)
            .args(["-shared", "-o"])
            .arg(&out)
            .arg(&obj),
        &out,
        "test plugin refuses the link (code 42)",
    );
}

#[test]
fn slim_lto_object_without_a_plugin_is_refused_by_name() {
    let w = Work::new(Tc::X86Gcc);
    let obj = w.compile("util.c", "util.o", &[]);
    let out = w.path("out.so");
    assert_fails_without_output(
        Command::new(tether())
            .args(["-shared", "-o"])
            .arg(&out)
            .arg(&obj),
        &out,
        "util.o: GCC LTO object (-flto) that no plugin claimed",
    );
}

/// A probe plugin sees, through the API, the resolution tether computed for each IR symbol,
/// the claimed file's bytes and sections, and its added object replaces the claimed one.
#[test]
fn plugin_gets_the_resolution_of_each_symbol() {
    let w = Work::new(Tc::X86Gcc);
    let plugin = w.path("probe.so");
    ok(Command::new("gcc")
        .args(["-shared", "-fPIC", "-o"])
        .arg(&plugin)
        .arg(fixture("probe_plugin.c")));
    w.compile("probe_main.c", "probe_main.o", &["-fno-lto"]);
    let ir = w.compile("probe_ir.c", "probe_ir.o", &["-fno-lto"]);
    let replacement = w.path("replacement.o");
    std::fs::copy(&ir, &replacement).expect("copy");
    let o = run(Command::new("gcc")
        .arg(format!("-B{}/", w.path("bin").display()))
        .arg("-fno-use-linker-plugin")
        .arg(format!("-Wl,-plugin,{}", plugin.display()))
        .arg(format!("-Wl,-plugin-opt,{}", replacement.display()))
        .args(["probe_main.o", "probe_ir.o", "-o", "probe"])
        .current_dir(w.dir.path()));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{stderr}");
    let said = |text: &str| format!("ld.tether: info: {}: {text}", plugin.display());
    let sections = readelf(&["-h"], &ir)
        .lines()
        .find_map(|l| {
            l.trim()
                .strip_prefix("Number of section headers:")
                .map(|n| n.trim().to_string())
        })
        .expect("section count");
    let size = std::fs::metadata(&ir).expect("probe_ir.o").len();
    let claimed = format!("claimed {size} bytes, view starts with ELF, {sections} sections");
    let mut expected_lines = vec![said(&claimed)];
    for (symbol, ldpr) in [
        ("ir_main_used", 2), // PREVAILING_DEF: probe_main.o calls it
        ("ir_only", 3),      // PREVAILING_DEF_IRONLY: nothing outside the IR refers to it
        ("ir_preempted", 4), // PREEMPTED_REG: probe_main.o's strong definition wins
        ("puts", 8),         // RESOLVED_DYN: libc.so.6
        ("reg_func", 7),     // RESOLVED_EXEC: probe_main.o
        ("ir_missing", 1),   // UNDEF
    ] {
        expected_lines.push(said(&format!("resolution {symbol} {ldpr}")));
    }
    expected_lines.push(said("cleanup"));
    let lines: Vec<String> = stderr.lines().map(str::to_string).collect();
    assert_eq!(lines, expected_lines);
    assert_eq!(w.run_program("probe"), expected("probe.out"));
}

fn readelf(args: &[&str], file: &Path) -> String {
    ok(Command::new("readelf").args(args).arg(file))
}

/// `.symver` in LTO code (gcc's symver attribute) with a version script: both versions of
/// `vfun` are exported as GNU ld exports them, and a program binds to the default one.
#[test]
fn symver_in_lto_code() {
    for tc in GCC {
        let w = Work::new(tc);
        w.compile("symver.c", "symver.o", &["-fPIC"]);
        w.compile("symver_use.c", "symver_use.o", &[]);
        let map = format!("-Wl,--version-script={}", fixture("symver.map"));
        let lib = w.both("libsv.so", &["-shared", "symver.o", &map], None);
        let exported = dynamic_symbols(&lib);
        for name in ["vfun@@V2", "vfun@V1", "plain@@V1"] {
            assert!(exported.contains(name), "{tc:?}: no {name} in {exported:?}");
        }
        w.link_ok(
            Linker::Tether,
            "symver_use",
            &["symver_use.o", "-L.", "-lsv"],
        );
        assert_eq!(
            w.run_program("symver_use"),
            expected("symver_use.out"),
            "{tc:?}"
        );
    }
}

/// LTO programs of every kind: fixed-address, static and static-pie (the plugin is told
/// LDPO_EXEC or LDPO_PIE).
#[test]
fn lto_programs_of_every_kind() {
    for tc in GCC {
        // Debian's armhf glibc has no rcrt1.o: no static-pie there, with any linker.
        let kinds: &[&str] = if tc.is_arm() {
            &["-no-pie", "-static"]
        } else {
            &["-no-pie", "-static", "-static-pie"]
        };
        for &kind in kinds {
            let w = Work::new(tc);
            let pic = if kind == "-static-pie" {
                "-fPIE"
            } else {
                "-fno-PIE"
            };
            w.compile("main.c", "main.o", &[pic]);
            w.compile("util.c", "util.o", &[pic]);
            let exe = w.both("main", &[kind, "main.o", "util.o"], Some("main.out"));
            let header = readelf(&["-h"], &exe);
            let want = if kind == "-no-pie" || kind == "-static" {
                "EXEC"
            } else {
                "DYN"
            };
            assert!(
                header.contains(&format!("Type:                              {want}")),
                "{tc:?} {kind}:\n{header}"
            );
            if kind != "-no-pie" {
                let dynamic = readelf(&["-d"], &exe);
                assert!(!dynamic.contains("(NEEDED)"), "{tc:?} {kind}:\n{dynamic}");
            }
        }
    }
}

/// clang `-flto` for ARM and Thumb-2 through LLVMgold. GNU ld 2.40 cannot link ARM bitcode
/// through LLVMgold ("Number of symbols in input file has increased from 0 to 1"), so these
/// are checked against the expected output only.
#[test]
fn clang_lto_for_arm_and_thumb() {
    for (mode, lto) in [
        ("-marm", "-flto"),
        ("-mthumb", "-flto"),
        ("-mthumb", "-flto=thin"),
    ] {
        let w = Work::new(Tc::X86Clang);
        let clang = || {
            let mut c = Command::new("clang");
            c.args(["--target=armv7a-linux-gnueabihf", mode, lto, "-O2"]);
            c.current_dir(w.dir.path());
            c
        };
        for src in ["main.c", "util.c"] {
            ok(clang().arg("-c").arg(fixture(src)));
        }
        ok(clang()
            .arg(format!("--ld-path={}", tether().display()))
            .args(["main.o", "util.o", "-o", "main"]));
        let out = ok(Command::new("qemu-arm")
            .args(["-L", ARM_SYSROOT])
            .arg(w.path("main")));
        assert_eq!(out, expected("main.out"), "{mode} {lto}");
        let nm = symbols(&w.path("main"));
        assert!(!nm.contains("lto_unused"), "{mode} {lto}:\n{nm}");
    }
}
