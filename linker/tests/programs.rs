//! Programs linked by tether on both targets: PIE (gcc's default), `-no-pie`, `-static` and
//! `-static-pie`, C and C++, gcc and clang, x86-64 run natively and Thumb-2/ARM under
//! qemu-arm with glibc's loader. Every program is also linked by GNU ld from the same
//! objects and must print exactly the same; every output must satisfy `readelf -aW` and
//! `eu-elflint --gnu-ld`.

mod common;

use common::{check_readelf, ok, readelf, run, tether};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/programs");
const ARM_SYSROOT: &str = "/usr/arm-linux-gnueabihf";

fn fixture(name: &str) -> String {
    format!("{FIXTURES}/{name}")
}

fn expected(name: &str) -> String {
    std::fs::read_to_string(fixture(name)).expect("expected output fixture")
}

/// A compiler and target state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Toolchain {
    X86Gcc,
    X86Clang,
    ArmGccThumb,
    ArmGccArm,
    ArmClang,
}

const ALL: [Toolchain; 5] = [
    Toolchain::X86Gcc,
    Toolchain::X86Clang,
    Toolchain::ArmGccThumb,
    Toolchain::ArmGccArm,
    Toolchain::ArmClang,
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Linker {
    Tether,
    GnuLd,
}

impl Toolchain {
    fn is_arm(self) -> bool {
        !matches!(self, Toolchain::X86Gcc | Toolchain::X86Clang)
    }

    /// The compiler for C (or C++) sources, with the flags that select the target state.
    fn compiler(self, cxx: bool) -> Command {
        let (c, cpp, flags): (&str, &str, &[&str]) = match self {
            Toolchain::X86Gcc => ("gcc", "g++", &[]),
            Toolchain::X86Clang => ("clang", "clang++", &[]),
            Toolchain::ArmGccThumb => (
                "arm-linux-gnueabihf-gcc",
                "arm-linux-gnueabihf-g++",
                &["-mthumb"],
            ),
            Toolchain::ArmGccArm => (
                "arm-linux-gnueabihf-gcc",
                "arm-linux-gnueabihf-g++",
                &["-marm"],
            ),
            Toolchain::ArmClang => (
                "clang",
                "clang++",
                &["--target=armv7a-linux-gnueabihf", "-mthumb"],
            ),
        };
        let mut cmd = Command::new(if cxx { cpp } else { c });
        cmd.args(flags);
        cmd
    }

    /// The driver that links: clang drives tether itself on x86-64; ARM clang objects are
    /// linked by the cross gcc driver, which knows the sysroot's start files.
    fn linker_driver(self, linker: Linker, bin: &Path, cxx: bool) -> Command {
        let mut cmd = match self {
            Toolchain::ArmClang => Toolchain::ArmGccThumb.compiler(cxx),
            other => other.compiler(cxx),
        };
        match (self, linker) {
            (Toolchain::X86Clang, Linker::Tether) => {
                cmd.arg(format!("--ld-path={}", tether().display()));
            }
            (_, Linker::Tether) => {
                cmd.arg(format!("-B{}/", bin.display()));
            }
            (Toolchain::X86Clang, Linker::GnuLd) => {
                cmd.arg("-fuse-ld=bfd");
            }
            (_, Linker::GnuLd) => {
                cmd.arg("-fuse-ld=bfd");
            }
        }
        cmd
    }

    fn interpreter(self) -> &'static str {
        if self.is_arm() {
            "/lib/ld-linux-armhf.so.3"
        } else {
            "/lib64/ld-linux-x86-64.so.2"
        }
    }
}

struct Work {
    dir: tempfile::TempDir,
}

impl Work {
    fn new() -> Work {
        let dir = tempfile::tempdir().expect("temporary directory");
        std::fs::create_dir(dir.path().join("bin")).expect("bin dir");
        std::os::unix::fs::symlink(tether(), dir.path().join("bin/ld")).expect("ld symlink");
        Work { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn bin(&self) -> PathBuf {
        self.path("bin")
    }

    fn compile(&self, tc: Toolchain, src: &str, obj: &str, flags: &[&str]) -> PathBuf {
        let out = self.path(obj);
        let cxx = src.ends_with(".cpp");
        ok(tc
            .compiler(cxx)
            .args(flags)
            .arg("-c")
            .arg(fixture(src))
            .arg("-o")
            .arg(&out));
        out
    }

    /// Links `inputs` into `out` through the compiler driver with `flags`.
    fn link(&self, tc: Toolchain, linker: Linker, cxx: bool, out: &str, args: &[&str]) -> Output {
        run(tc
            .linker_driver(linker, &self.bin(), cxx)
            .args(args)
            .arg("-o")
            .arg(self.path(out))
            .current_dir(self.dir.path()))
    }

    fn link_ok(&self, tc: Toolchain, linker: Linker, cxx: bool, out: &str, args: &[&str]) {
        let o = self.link(tc, linker, cxx, out, args);
        assert!(
            o.status.success(),
            "{tc:?}: linking {out} with {linker:?} failed:\n{}",
            String::from_utf8_lossy(&o.stderr)
        );
    }

    /// Runs a program natively or under qemu-arm, with the work directory as library path.
    fn run_program(&self, tc: Toolchain, exe: &str) -> String {
        let dir = self.dir.path().display().to_string();
        if tc.is_arm() {
            ok(Command::new("qemu-arm")
                .args(["-L", ARM_SYSROOT, "-E", &format!("LD_LIBRARY_PATH={dir}")])
                .args(["-U", "LD_BIND_NOW"])
                .arg(self.path(exe)))
        } else {
            ok(Command::new(self.path(exe))
                .env("LD_LIBRARY_PATH", &dir)
                .env_remove("LD_BIND_NOW"))
        }
    }
}

fn elflint(file: &Path) -> String {
    let out = run(Command::new("eu-elflint").arg("--gnu-ld").arg(file));
    String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
}

/// `eu-elflint --gnu-ld` says "No errors" of tether's output wherever it does of GNU ld's,
/// and otherwise finds nothing it does not find in GNU ld's too (section numbers aside).
fn check_elflint(ours: &Path, reference: &Path) {
    let theirs = elflint(reference);
    let mine = elflint(ours);
    if mine.trim() == "No errors" {
        return;
    }
    if theirs.trim() == "No errors" {
        assert_eq!(
            mine.trim(),
            "No errors",
            "eu-elflint --gnu-ld {}",
            ours.display()
        );
        return;
    }
    let unnumbered = |line: &str| -> String {
        match (line.find('['), line.find(']')) {
            (Some(a), Some(b)) if a < b => format!("{}{}", &line[..a], &line[b + 1..]),
            _ => line.to_string(),
        }
    };
    let known: Vec<String> = theirs.lines().map(unnumbered).collect();
    for line in mine.lines() {
        assert!(
            known.contains(&unnumbered(line)),
            "eu-elflint --gnu-ld {} (GNU ld's output has no such complaint):\n{line}",
            ours.display()
        );
    }
}

/// Links with tether and with GNU ld, runs both, and checks both print `expected`; returns
/// the path of tether's output.
#[allow(clippy::too_many_arguments)]
fn both_linkers(
    w: &Work,
    tc: Toolchain,
    cxx: bool,
    name: &str,
    args: &[&str],
    expected: &str,
) -> PathBuf {
    for linker in [Linker::GnuLd, Linker::Tether] {
        let out = format!("{name}-{linker:?}");
        w.link_ok(tc, linker, cxx, &out, args);
        let printed = w.run_program(tc, &out);
        assert_eq!(printed, expected, "{tc:?} {name} linked by {linker:?}");
    }
    let ours = w.path(&format!("{name}-Tether"));
    check_readelf(&ours);
    check_elflint(&ours, &w.path(&format!("{name}-GnuLd")));
    ours
}

/// The dynamic program: copy relocations, canonical PLT addresses, a callback the library
/// makes into the program (the program exports it), TLS from both, an IFUNC in the program.
#[test]
fn dynamic_programs_with_a_library() {
    let want = expected("main.expected");
    for tc in ALL {
        let w = Work::new();
        let lib_o = w.compile(tc, "lib.c", "lib.o", &["-O2", "-fPIC"]);
        w.link_ok(
            tc,
            Linker::Tether,
            false,
            "liblib.so",
            &["-shared", lib_o.to_str().unwrap()],
        );
        for (mode, cflags, lflags) in [
            ("pie", &["-O2", "-fPIE"][..], &["-pie"][..]),
            ("nopie", &["-O0", "-fno-PIC"][..], &["-no-pie"][..]),
        ] {
            let obj = w.compile(tc, "main.c", &format!("main-{mode}.o"), cflags);
            let mut args = lflags.to_vec();
            args.extend([obj.to_str().unwrap(), "-L.", "-llib"]);
            let exe = both_linkers(&w, tc, false, &format!("main-{mode}"), &args, &want);
            let header = readelf(&["-hlW"], &exe);
            let want_type = if mode == "pie" { "DYN" } else { "EXEC" };
            assert!(
                header.contains(&format!("Type:                              {want_type}")),
                "{tc:?} {mode}:\n{header}"
            );
            assert!(
                header.contains(&format!(
                    "[Requesting program interpreter: {}]",
                    tc.interpreter()
                )),
                "{header}"
            );
            assert!(header.contains("PHDR"), "{header}");
            let dynamic = readelf(&["-dW"], &exe);
            assert!(dynamic.contains("(DEBUG)"), "{dynamic}");
            assert_eq!(dynamic.contains("Flags: PIE"), mode == "pie", "{dynamic}");
            let dynsym = readelf(&["--dyn-syms", "-W"], &exe);
            assert!(
                dynsym.contains(" main_callback"),
                "the callback is exported:\n{dynsym}"
            );
            if mode == "nopie" {
                let relocs = readelf(&["-rW"], &exe);
                assert!(
                    relocs.contains("_COPY") && relocs.contains("lib_counter"),
                    "{tc:?}: no copy relocation for lib_counter:\n{relocs}"
                );
                let base = if tc.is_arm() {
                    "0x00010000"
                } else {
                    "0x0000000000400000"
                };
                assert!(
                    header.contains(&format!("LOAD           0x000000 {base}")),
                    "{tc:?}: image base:\n{header}"
                );
            }
        }
    }
}

/// Static programs: stdio, malloc, TLS, global and file-local IFUNCs through `.rela.iplt`,
/// `.preinit_array`, constructors and destructors. static-pie on x86-64 only: Debian's armhf
/// toolchain has no rcrt1.o.
#[test]
fn static_and_static_pie_programs() {
    let want = expected("static.expected");
    for tc in ALL {
        let w = Work::new();
        let obj = w.compile(tc, "static.c", "static.o", &["-O2", "-fPIE"]);
        let obj = obj.to_str().unwrap();
        let exe = both_linkers(&w, tc, false, "static", &["-static", obj], &want);
        let header = readelf(&["-lW"], &exe);
        assert!(
            !header.contains("INTERP") && !header.contains("DYNAMIC"),
            "{header}"
        );
        let relocs = readelf(&["-rW"], &exe);
        assert!(
            relocs.contains("IRELATIVE"),
            "{tc:?}: the IFUNCs' IRELATIVEs:\n{relocs}"
        );
        if !tc.is_arm() {
            let exe = both_linkers(&w, tc, false, "static-pie", &["-static-pie", obj], &want);
            let header = readelf(&["-hlW"], &exe);
            assert!(
                header.contains("DYN (Position-Independent Executable file)"),
                "{header}"
            );
            assert!(!header.contains("INTERP"), "{header}");
            assert!(readelf(&["-dW"], &exe).contains("Flags: PIE"));
        }
    }
}

/// C++ programs throwing and catching, dynamically linked and fully static.
#[test]
fn cxx_programs_dynamic_and_static() {
    let want = expected("cxx.expected");
    for tc in ALL {
        let w = Work::new();
        let obj = w.compile(tc, "cxx.cpp", "cxx.o", &["-O2"]);
        let obj = obj.to_str().unwrap();
        both_linkers(&w, tc, true, "cxx", &[obj], &want);
        both_linkers(&w, tc, true, "cxx-static", &["-static", obj], &want);
        both_linkers(
            &w,
            tc,
            true,
            "cxx-static-libstdcxx",
            &["-static-libstdc++", "-static-libgcc", obj],
            &want,
        );
    }
}

/// A library with its own `.interp` and an entry point runs when executed directly and is an
/// ordinary library to a program linked against it, as with GNU ld.
#[test]
fn library_that_runs_as_a_program() {
    for tc in [
        Toolchain::X86Gcc,
        Toolchain::ArmGccThumb,
        Toolchain::ArmGccArm,
    ] {
        let w = Work::new();
        let define = format!("-DINTERP=\"{}\"", tc.interpreter());
        let obj = w.compile(tc, "selfrun.c", "selfrun.o", &["-O2", "-fPIC", &define]);
        let user = w.compile(tc, "selfrun_user.c", "user.o", &["-O2"]);
        for linker in [Linker::GnuLd, Linker::Tether] {
            let lib = format!("libselfrun{linker:?}.so");
            w.link_ok(
                tc,
                linker,
                false,
                &lib,
                &["-shared", "-Wl,-e,selfrun_main", obj.to_str().unwrap()],
            );
            assert_eq!(
                w.run_program(tc, &lib),
                "run directly: 42\n",
                "{tc:?} {linker:?}"
            );
            let prog = format!("user-{linker:?}");
            w.link_ok(
                tc,
                linker,
                false,
                &prog,
                &[
                    user.to_str().unwrap(),
                    "-L.",
                    &format!("-lselfrun{linker:?}"),
                ],
            );
            assert_eq!(
                w.run_program(tc, &prog),
                "linked against: 42\n",
                "{tc:?} {linker:?}"
            );
        }
        let ours = w.path("libselfrunTether.so");
        check_readelf(&ours);
        let header = readelf(&["-hlW"], &ours);
        assert!(header.contains("DYN (Shared object file)"), "{header}");
        assert!(
            header.contains(&format!(
                "[Requesting program interpreter: {}]",
                tc.interpreter()
            )),
            "{header}"
        );
    }
}

/// `-Ttext-segment` moves a fixed-address program, which still runs.
#[test]
fn image_base_moves_a_fixed_address_program() {
    for tc in [Toolchain::X86Gcc, Toolchain::ArmGccThumb] {
        let w = Work::new();
        let obj = w.compile(tc, "static.c", "static.o", &["-O2", "-fno-PIC"]);
        w.link_ok(
            tc,
            Linker::Tether,
            false,
            "moved",
            &[
                "-static",
                "-Wl,-Ttext-segment=0x800000",
                obj.to_str().unwrap(),
            ],
        );
        assert_eq!(w.run_program(tc, "moved"), expected("static.expected"));
        let header = readelf(&["-lW"], &w.path("moved"));
        let want = if tc.is_arm() {
            "LOAD           0x000000 0x00800000"
        } else {
            "LOAD           0x000000 0x0000000000800000"
        };
        assert!(header.contains(want), "{header}");
    }
}

/// A copy relocation against protected data, or any copy under `-z nocopyreloc`, is an
/// error naming the object, section and symbol, and leaves no output.
#[test]
fn copy_relocations_that_cannot_be_made() {
    for tc in [Toolchain::X86Gcc, Toolchain::ArmGccThumb] {
        let w = Work::new();
        let lib_o = w.compile(tc, "protected_lib.c", "plib.o", &["-fPIC"]);
        w.link_ok(
            tc,
            Linker::Tether,
            false,
            "libprot.so",
            &["-shared", lib_o.to_str().unwrap()],
        );
        let main_o = w.compile(tc, "protected_main.c", "pmain.o", &["-fno-PIC", "-O2"]);
        let main = main_o.to_str().unwrap();
        let out = w.link(
            tc,
            Linker::Tether,
            false,
            "prot",
            &["-no-pie", main, "-L.", "-lprot"],
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{stderr}");
        assert!(
            stderr.contains("pmain.o:(.text")
                && stderr.contains("`protected_data'")
                && stderr.contains("protected"),
            "{stderr}"
        );
        assert!(!w.path("prot").exists());

        let lib_o = w.compile(tc, "lib.c", "lib.o", &["-fPIC"]);
        w.link_ok(
            tc,
            Linker::Tether,
            false,
            "liblib.so",
            &["-shared", lib_o.to_str().unwrap()],
        );
        let main_o = w.compile(tc, "main.c", "main.o", &["-fno-PIC", "-O2"]);
        let out = w.link(
            tc,
            Linker::Tether,
            false,
            "nocopy",
            &[
                "-no-pie",
                "-Wl,-z,nocopyreloc",
                main_o.to_str().unwrap(),
                "-L.",
                "-llib",
            ],
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{stderr}");
        assert!(
            stderr.contains("nocopyreloc") && stderr.contains("lib_counter"),
            "{stderr}"
        );
        assert!(!w.path("nocopy").exists());
    }
}

/// Non-PIC code cannot go into a PIE: a 32-bit absolute address is refused by name, as GNU
/// ld refuses it.
#[test]
fn absolute_addresses_in_a_pie_are_refused() {
    let w = Work::new();
    let obj = w.compile(
        Toolchain::X86Gcc,
        "static.c",
        "static.o",
        &["-O0", "-fno-PIC", "-mcmodel=small"],
    );
    let out = w.link(
        Toolchain::X86Gcc,
        Linker::Tether,
        false,
        "pie",
        &["-pie", obj.to_str().unwrap()],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("static.o:(.text")
            && stderr.contains("R_X86_64_32")
            && stderr.contains("recompile with -fPIE"),
        "{stderr}"
    );
    assert!(!w.path("pie").exists());
}

const TLS_FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/relax");

/// The mnemonics of function `name` in `exe`'s disassembly: what a relaxation rewrote, without
/// the addresses and offsets that differ between two linkers' layouts.
fn mnemonics(exe: &Path, name: &str) -> Vec<String> {
    let text = ok(Command::new("objdump")
        .args(["-d", "--no-show-raw-insn", "--no-addresses"])
        .arg(format!("--disassemble={name}"))
        .arg(exe));
    text.lines()
        .skip_while(|l| !l.contains(&format!("<{name}>:")))
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .collect()
}

/// Every TLS model gcc and clang emit in a program's code, relaxed as GNU ld relaxes it: the
/// rewritten instructions are GNU ld's, instruction for instruction, and the programs run.
/// With `--no-relax` nothing is rewritten and the programs still run.
#[test]
fn tls_relaxation_in_programs_matches_gnu_ld() {
    let w = Work::new();
    let tls_src = format!("{TLS_FIXTURES}/tls.c");
    let compile = |cc: &str, flags: &[&str], src: &str, obj: &str| -> String {
        ok(Command::new(cc)
            .args(flags)
            .args(["-c", src, "-o"])
            .arg(w.path(obj)));
        w.path(obj).to_str().unwrap().to_string()
    };
    let def = compile(
        "gcc",
        &["-O2", "-fPIC"],
        &format!("{TLS_FIXTURES}/tls_def.c"),
        "def.o",
    );
    let main = compile(
        "gcc",
        &["-O2"],
        &format!("{TLS_FIXTURES}/tls_main.c"),
        "main.o",
    );
    let def_lib = w.path("libdef.so");
    ok(Command::new("gcc")
        .args(["-shared", "-o"])
        .arg(&def_lib)
        .arg(&def));
    let variants: &[(&str, &[&str])] = &[
        ("gcc", &["-O2", "-fPIC"]),
        ("gcc", &["-O0", "-fPIC", "-fno-plt"]),
        ("gcc", &["-O2", "-fPIC", "-mcmodel=large"]),
        ("gcc", &["-O2", "-fPIE"]),
        ("gcc", &["-O2", "-fPIC", "-mtls-dialect=gnu2"]),
        ("clang", &["-O2", "-fPIC"]),
        ("clang", &["-O0", "-fPIE"]),
        ("clang", &["-O2", "-fPIC", "-mcmodel=large"]),
    ];
    let mut compared = 0;
    for (n, (cc, flags)) in variants.iter().enumerate() {
        let obj = compile(cc, flags, &tls_src, &format!("tls{n}.o"));
        for mode in ["-pie", "-no-pie"] {
            for ext in [def.as_str(), "-ldef"] {
                let mut built = Vec::new();
                for linker in [Linker::GnuLd, Linker::Tether] {
                    let exe = format!("tls{n}{mode}{}-{linker:?}", ext.len());
                    w.link_ok(
                        Toolchain::X86Gcc,
                        linker,
                        false,
                        &exe,
                        &[mode, &main, &obj, ext, "-L."],
                    );
                    assert_eq!(
                        w.run_program(Toolchain::X86Gcc, &exe),
                        "7 5 5 6\n",
                        "{cc} {flags:?} {mode} {ext} {linker:?}"
                    );
                    built.push(w.path(&exe));
                }
                for func in ["get_ext", "get_own", "addr_own", "get_st"] {
                    let (theirs, ours) = (mnemonics(&built[0], func), mnemonics(&built[1], func));
                    assert!(!ours.is_empty(), "{func} not found");
                    assert_eq!(ours, theirs, "{cc} {flags:?} {mode} {ext}: {func}");
                    compared += 1;
                }
                check_readelf(&built[1]);
            }
        }
    }
    assert_eq!(compared, variants.len() * 2 * 2 * 4);

    // --no-relax keeps the general-dynamic call.
    let obj = compile("gcc", &["-O2", "-fPIC"], &tls_src, "plain.o");
    w.link_ok(
        Toolchain::X86Gcc,
        Linker::Tether,
        false,
        "norelax",
        &["-Wl,--no-relax", &main, &obj, "-ldef", "-L."],
    );
    assert_eq!(w.run_program(Toolchain::X86Gcc, "norelax"), "7 5 5 6\n");
    let calls = ok(Command::new("objdump")
        .args(["-d", "--disassemble=get_ext"])
        .arg(w.path("norelax")));
    assert!(calls.contains("__tls_get_addr"), "{calls}");
}

/// The sections `--print-gc-sections` names, as (section, file name without its directory).
fn gc_list(stderr: &str) -> Vec<String> {
    let mut list: Vec<String> = stderr
        .lines()
        .filter(|l| l.contains("removing unused section"))
        .map(|l| {
            let section = l.split('\'').nth(1).unwrap_or("").to_string();
            let file = l
                .rsplit('/')
                .next()
                .unwrap_or("")
                .trim_end_matches('\'')
                .to_string();
            format!("{section} {file}")
        })
        .collect();
    list.sort();
    list
}

/// `--gc-sections` drops exactly the sections GNU ld drops (what nothing reachable refers to:
/// not the entry point's, the init array's or the exported function's), the program still
/// runs, and so do C++ programs whose exception tables and (ARM) unwind indexes only the
/// surviving code reaches.
#[test]
fn gc_sections_drops_what_gnu_ld_drops() {
    let want = expected("gc.expected");
    for tc in ALL {
        let w = Work::new();
        let obj = w.compile(
            tc,
            "gc.c",
            "gc.o",
            &["-O1", "-ffunction-sections", "-fdata-sections"],
        );
        let obj = obj.to_str().unwrap();
        let mut lists = Vec::new();
        for linker in [Linker::GnuLd, Linker::Tether] {
            let out = format!("gc-{linker:?}");
            let o = w.link(
                tc,
                linker,
                false,
                &out,
                &[
                    "-Wl,--gc-sections",
                    "-Wl,--print-gc-sections",
                    "-Wl,--export-dynamic-symbol=exported",
                    obj,
                ],
            );
            let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
            assert!(o.status.success(), "{tc:?} {linker:?}: {stderr}");
            assert_eq!(w.run_program(tc, &out), want, "{tc:?} {linker:?}");
            lists.push(gc_list(&stderr));
        }
        assert!(
            lists[0]
                .iter()
                .any(|l| l.starts_with(".text.unused_global")),
            "{:?}",
            lists[0]
        );
        assert_eq!(
            lists[1], lists[0],
            "{tc:?}: sections dropped, ld.tether vs GNU ld"
        );
        let syms = readelf(&["-sW"], &w.path("gc-Tether"));
        assert!(
            !syms.contains("unused_global") && syms.contains(" exported"),
            "{syms}"
        );

        let cxx = w.compile(
            tc,
            "cxx.cpp",
            "cxx.o",
            &["-O2", "-ffunction-sections", "-fdata-sections"],
        );
        let cxx = cxx.to_str().unwrap();
        both_linkers(
            &w,
            tc,
            true,
            "cxx-gc",
            &["-Wl,--gc-sections", cxx],
            &expected("cxx.expected"),
        );
        both_linkers(
            &w,
            tc,
            true,
            "cxx-gc-static",
            &["-static", "-Wl,--gc-sections", cxx],
            &expected("cxx.expected"),
        );
    }
}

/// The names `readelf` reads out of `.debug_info`, through `.debug_str`.
fn debug_names(file: &Path) -> Vec<String> {
    let text = ok(Command::new("readelf").arg("--debug-dump=info").arg(file));
    let mut names: Vec<String> = text
        .lines()
        .filter(|l| l.contains("DW_AT_name") || l.contains("DW_AT_producer"))
        .map(|l| l.rsplit(": ").next().unwrap_or("").trim().to_string())
        .collect();
    names.sort();
    names
}

/// Mergeable strings are merged across objects as GNU ld merges them: one copy of a string
/// two objects share (their pointers compare equal), `.comment` and `.debug_str` no larger
/// than GNU ld's, and the debug information still names everything it named.
#[test]
fn mergeable_strings_are_merged() {
    let want = expected("merge.expected");
    for tc in ALL {
        let w = Work::new();
        let a = w.compile(tc, "merge_a.c", "a.o", &["-O2", "-g"]);
        let b = w.compile(tc, "merge_b.c", "b.o", &["-O2", "-g"]);
        let (a, b) = (a.to_str().unwrap(), b.to_str().unwrap());
        let ours = both_linkers(&w, tc, false, "merge", &[a, b], &want);
        let theirs = w.path("merge-GnuLd");
        let size = |file: &Path, name: &str| -> u64 {
            let sections = readelf(&["-SW"], file);
            let line = sections
                .lines()
                .find(|l| l.contains(&format!("] {name} ")))
                .unwrap_or_else(|| panic!("no {name}:\n{sections}"));
            let fields: Vec<&str> = line.split(']').nth(1).unwrap().split_whitespace().collect();
            u64::from_str_radix(fields[4], 16).unwrap()
        };
        for name in [".comment", ".debug_str"] {
            assert!(
                size(&ours, name) <= size(&theirs, name),
                "{tc:?}: {name} larger than GNU ld's"
            );
        }
        assert_eq!(debug_names(&ours), debug_names(&theirs), "{tc:?}");
    }
}

/// GOT loads of symbols the program defines are relaxed as GNU ld relaxes them (`lea`, or an
/// immediate in a fixed-address program; indirect calls become direct), instruction for
/// instruction, and the programs run.
#[test]
fn got_loads_relax_in_programs_as_gnu_ld() {
    let w = Work::new();
    let got = format!("{TLS_FIXTURES}/got.c");
    for (n, flags) in [&["-O2", "-fPIC", "-fno-plt"][..], &["-O0", "-fPIC"]]
        .iter()
        .enumerate()
    {
        let obj = w.path(&format!("got{n}.o"));
        ok(Command::new("gcc")
            .args(*flags)
            .args(["-c", &got, "-o"])
            .arg(&obj));
        let main = w.compile(
            Toolchain::X86Gcc,
            "got_main.c",
            "got_main.o",
            &["-O2", "-fPIE"],
        );
        let def = w.compile(
            Toolchain::X86Gcc,
            "got_def.c",
            "got_def.o",
            &["-O2", "-fPIE"],
        );
        for mode in ["-pie", "-no-pie"] {
            let args = [
                mode,
                main.to_str().unwrap(),
                obj.to_str().unwrap(),
                def.to_str().unwrap(),
            ];
            let exe = both_linkers(
                &w,
                Toolchain::X86Gcc,
                false,
                &format!("got{n}{mode}"),
                &args,
                "gfun\ngfun\ngfun\n3 1\n",
            );
            let reference = w.path(&format!("got{n}{mode}-GnuLd"));
            for func in ["data_address", "data_value", "call_it", "tail_call"] {
                assert_eq!(
                    mnemonics(&exe, func),
                    mnemonics(&reference, func),
                    "{flags:?} {mode}: {func}"
                );
            }
        }
    }
}

/// A TLS sequence that cannot be rewritten is an error naming the object, section, offset,
/// relocation and symbol, as GNU ld's "TLS transition ... failed"; no output is left.
#[test]
fn a_tls_sequence_that_cannot_be_relaxed_is_refused() {
    let w = Work::new();
    let obj = w.path("broken.o");
    ok(Command::new("as")
        .arg(fixture("tls_broken.s"))
        .arg("-o")
        .arg(&obj));
    let out = run(Command::new(tether())
        .args(["-e", "broken", "-o"])
        .arg(w.path("broken"))
        .arg(&obj));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("broken.o:(.text+0x4)")
            && stderr.contains("R_X86_64_TLSGD")
            && stderr.contains("`tvar'")
            && stderr.contains("cannot be relaxed"),
        "{stderr}"
    );
    assert!(!w.path("broken").exists());
}

/// What a program exports (`-E`, `--dynamic-list`, or what its libraries call back), where its
/// loader is (`--dynamic-linker`) and how its code is paged (`-z noseparate-code`), as GNU ld.
#[test]
fn program_options_as_gnu_ld() {
    let w = Work::new();
    let obj = w.compile(
        Toolchain::X86Gcc,
        "exports.c",
        "exports.o",
        &["-O2", "-fPIE"],
    );
    let obj = obj.to_str().unwrap();
    let dynsym = |exe: &str| readelf(&["--dyn-syms", "-W"], &w.path(exe));
    let list = format!("-Wl,--dynamic-list={}", fixture("dynlist.txt"));
    for (name, flags, listed, other) in [
        ("plain", &[][..], false, false),
        ("all", &["-Wl,-E"][..], true, true),
        ("list", &[list.as_str()][..], true, false),
    ] {
        for linker in [Linker::GnuLd, Linker::Tether] {
            let exe = format!("{name}-{linker:?}");
            let mut args = flags.to_vec();
            args.push(obj);
            w.link_ok(Toolchain::X86Gcc, linker, false, &exe, &args);
            let syms = dynsym(&exe);
            assert_eq!(syms.contains(" listed_fn"), listed, "{exe}:\n{syms}");
            assert_eq!(syms.contains(" other_fn"), other, "{exe}:\n{syms}");
            assert_eq!(w.run_program(Toolchain::X86Gcc, &exe), "");
        }
    }
    for linker in [Linker::GnuLd, Linker::Tether] {
        let exe = format!("interp-{linker:?}");
        w.link_ok(
            Toolchain::X86Gcc,
            linker,
            false,
            &exe,
            &["-Wl,--dynamic-linker=/opt/ld.so", obj],
        );
        let header = readelf(&["-lW"], &w.path(&exe));
        assert!(
            header.contains("[Requesting program interpreter: /opt/ld.so]"),
            "{header}"
        );
        let exe = format!("noseparate-{linker:?}");
        w.link_ok(
            Toolchain::X86Gcc,
            linker,
            false,
            &exe,
            &["-Wl,-z,noseparate-code", obj],
        );
        let header = readelf(&["-lW"], &w.path(&exe));
        assert_eq!(header.matches("LOAD ").count(), 2, "{linker:?}:\n{header}");
        assert_eq!(w.run_program(Toolchain::X86Gcc, &exe), "");
    }
}

/// Compiles C source text (not a fixture) in the work directory.
fn compile_text(w: &Work, tc: Toolchain, name: &str, text: &str, flags: &[&str]) -> String {
    let src = w.path(&format!("{name}.c"));
    std::fs::write(&src, text).expect("write source");
    let obj = w.path(&format!("{name}.o"));
    ok(tc
        .compiler(false)
        .args(flags)
        .arg("-c")
        .arg(&src)
        .arg("-o")
        .arg(&obj));
    obj.display().to_string()
}

/// Links with both linkers; they must agree on whether the link succeeds. Returns that and
/// tether's messages.
fn agree_on_success(w: &Work, tc: Toolchain, out: &str, args: &[&str]) -> (bool, String) {
    let gnu = w.link(tc, Linker::GnuLd, false, &format!("{out}-GnuLd"), args);
    let ours = w.link(tc, Linker::Tether, false, &format!("{out}-Tether"), args);
    let ours_said = String::from_utf8_lossy(&ours.stderr).into_owned();
    assert_eq!(
        ours.status.success(),
        gnu.status.success(),
        "{tc:?} {out} {args:?}: GNU ld said:\n{}\ntether said:\n{ours_said}",
        String::from_utf8_lossy(&gnu.stderr)
    );
    (ours.status.success(), ours_said)
}

/// A library's undefined symbols must be defined by something in the link or by a library it
/// needs, found where GNU ld looks (`-rpath-link`, `-rpath`, the library's run path; not
/// `-L`). The check is the default for programs; `--allow-shlib-undefined` and `-shared`
/// turn it off, `--no-allow-shlib-undefined` turns it on for a library.
#[test]
fn shared_libraries_undefined_symbols_are_checked_as_gnu_ld() {
    for tc in [Toolchain::X86Gcc, Toolchain::ArmGccThumb] {
        let w = Work::new();
        std::fs::create_dir(w.path("deps")).expect("deps dir");
        let pic = ["-O2", "-fPIC"];
        let dep = compile_text(&w, tc, "dep", "int dep_value(void) { return 40; }\n", &pic);
        let deps = w.path("deps").display().to_string();
        let libdep = format!("{deps}/libdep.so");
        w.link_ok(
            tc,
            Linker::GnuLd,
            false,
            "deps/libdep.so",
            &["-shared", "-Wl,-soname,libdep.so", &dep],
        );
        let uses = compile_text(
            &w,
            tc,
            "uses",
            "int dep_value(void);\nint lib_value(void) { return dep_value() + 2; }\n",
            &pic,
        );
        w.link_ok(
            tc,
            Linker::GnuLd,
            false,
            "libuses.so",
            &["-shared", &uses, &libdep],
        );
        w.link_ok(
            tc,
            Linker::GnuLd,
            false,
            "liborigin.so",
            &["-shared", &uses, &libdep, "-Wl,-rpath,$ORIGIN/deps"],
        );
        let main = compile_text(
            &w,
            tc,
            "main",
            "#include <stdio.h>\nint lib_value(void);\nint main(void) { printf(\"%d\\n\", lib_value()); return 0; }\n",
            &["-O2"],
        );
        let own = compile_text(
            &w,
            tc,
            "own",
            "int dep_value(void) { return 1; }\n",
            &["-O2"],
        );

        let (linked, said) = agree_on_success(&w, tc, "missing", &[&main, "-L.", "-luses"]);
        assert!(!linked);
        assert!(
            said.contains("libuses.so: undefined reference to `dep_value'")
                && said.contains("libdep.so, needed by ./libuses.so, not found"),
            "{said}"
        );
        // DT_RPATH (not DT_RUNPATH) also finds the library's own dependency at run time.
        let rpath = format!("-Wl,--disable-new-dtags,-rpath,{deps}");
        let (linked, _) = agree_on_success(&w, tc, "rpath", &[&main, "-L.", "-luses", &rpath]);
        assert!(linked);
        assert_eq!(w.run_program(tc, "rpath-Tether"), "42\n");
        let link_path = format!("-Wl,-rpath-link,{deps}");
        let (linked, said) =
            agree_on_success(&w, tc, "link", &[&main, "-L.", "-luses", &link_path]);
        assert!(linked && said.is_empty(), "{said}");
        let (linked, _) = agree_on_success(&w, tc, "own", &[&main, &own, "-L.", "-luses"]);
        assert!(linked, "the program defines what the library needs");
        // An archive member that defines what the library needs is pulled in for it (and
        // exported to it), as GNU ld does.
        // (The program's dep_value, 1, then preempts libdep.so's, which the loader still
        // loads for libuses.so.)
        let member = compile_text(
            &w,
            tc,
            "member",
            "int dep_value(void) { return 1; }\n",
            &pic,
        );
        let archive = w.path("libmember.a").display().to_string();
        ok(Command::new("ar").args(["rcs", &archive, &member]));
        let args = [main.as_str(), "-L.", "-luses", &archive, &rpath];
        let (linked, _) = agree_on_success(&w, tc, "archive", &args);
        assert!(linked);
        assert_eq!(w.run_program(tc, "archive-GnuLd"), "3\n");
        assert_eq!(w.run_program(tc, "archive-Tether"), "3\n");
        let allow = "-Wl,--allow-shlib-undefined";
        let (linked, said) = agree_on_success(&w, tc, "allow", &[&main, "-L.", "-luses", allow]);
        assert!(linked && said.is_empty(), "{said}");
        // The needing library's run path ($ORIGIN: its own directory) is searched.
        let (linked, _) = agree_on_success(&w, tc, "origin", &[&main, "-L.", "-lorigin"]);
        assert!(linked);
        assert_eq!(w.run_program(tc, "origin-Tether"), "42\n");
        let (linked, _) = agree_on_success(&w, tc, "lib", &["-shared", &uses, "-L.", "-luses"]);
        assert!(
            linked,
            "a library may leave its libraries' symbols to the loader"
        );
        let check = "-Wl,--no-allow-shlib-undefined";
        fn shared<'a>(object: &'a str, check: &'a str) -> [&'a str; 5] {
            ["-shared", object, "-L.", "-luses", check]
        }
        let (linked, _) = agree_on_success(&w, tc, "libcheck", &shared(&own, check));
        assert!(linked, "the library defines what its library needs");
        let (linked, _) = agree_on_success(&w, tc, "libcheck", &shared(&main, check));
        assert!(!linked);
        // An object's own reference leaves the name to the objects' check (here: allowed).
        let (linked, _) = agree_on_success(&w, tc, "libcheck", &shared(&uses, check));
        assert!(linked);
    }
}
