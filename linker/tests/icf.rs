//! `--icf=safe|all` against lld's: gcc and clang objects built with `-ffunction-sections`,
//! C and C++ (templates instantiated for `int` and `unsigned`), x86-64 and ARM Thumb-2.
//! The same objects are linked by lld and by ld.tether; the functions and tables that share
//! an address (`nm`) must be the same sets, `.text` must shrink by as much, both programs
//! must print what the unfolded one prints (natively, or under `qemu-arm`), and
//! `--print-icf-sections` must name the same classes.

mod common;

use common::{ok, require, run, tether};
use object::{Object, ObjectSection};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/icf");
const ARM_SYSROOT: &str = "/usr/arm-linux-gnueabihf";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tc {
    X86Gcc,
    X86Clang,
    ArmGccThumb,
    ArmClangThumb,
}

const ALL: [Tc; 4] = [Tc::X86Gcc, Tc::X86Clang, Tc::ArmGccThumb, Tc::ArmClangThumb];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Linker {
    Tether,
    Lld,
}

impl Tc {
    fn is_arm(self) -> bool {
        matches!(self, Tc::ArmGccThumb | Tc::ArmClangThumb)
    }

    fn is_clang(self) -> bool {
        matches!(self, Tc::X86Clang | Tc::ArmClangThumb)
    }

    fn compiler(self, cxx: bool) -> Command {
        let (c, cc, flags): (&str, &str, &[&str]) = match self {
            Tc::X86Gcc => ("gcc", "g++", &[]),
            Tc::X86Clang => ("clang", "clang++", &[]),
            Tc::ArmGccThumb => (
                "arm-linux-gnueabihf-gcc",
                "arm-linux-gnueabihf-g++",
                &["-mthumb"],
            ),
            Tc::ArmClangThumb => (
                "clang",
                "clang++",
                &[
                    "--target=arm-linux-gnueabihf",
                    "-mthumb",
                    "-march=armv7-a",
                    "-mfloat-abi=hard",
                ],
            ),
        };
        let mut cmd = Command::new(if cxx { cc } else { c });
        cmd.args(flags);
        cmd
    }

    /// The gcc driver of the target: both linkers get the same start files and libraries.
    fn link_driver(self, cxx: bool) -> Command {
        Command::new(match (self.is_arm(), cxx) {
            (false, false) => "gcc",
            (false, true) => "g++",
            (true, false) => "arm-linux-gnueabihf-gcc",
            (true, true) => "arm-linux-gnueabihf-g++",
        })
    }
}

struct Work {
    dir: tempfile::TempDir,
    tc: Tc,
}

impl Work {
    fn new(tc: Tc) -> Work {
        for (tool, package) in [
            ("ld.lld", "lld"),
            ("clang", "clang"),
            ("arm-linux-gnueabihf-g++", "g++-arm-linux-gnueabihf"),
            ("qemu-arm", "qemu-user"),
            ("nm", "binutils"),
        ] {
            require(tool, package);
        }
        let dir = tempfile::tempdir().expect("temporary directory");
        // The gcc drivers run the `ld` of a -B directory: one for each linker.
        for (sub, target) in [("tether", tether()), ("lld", which("ld.lld"))] {
            std::fs::create_dir(dir.path().join(sub)).expect("linker dir");
            std::os::unix::fs::symlink(target, dir.path().join(sub).join("ld")).expect("ld");
        }
        Work { dir, tc }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn compile(&self, src: &str, extra: &[&str]) -> PathBuf {
        let obj = self.path(&format!("{src}.o"));
        ok(self
            .tc
            .compiler(src.ends_with(".cc"))
            .args(["-O1", "-ffunction-sections", "-fdata-sections", "-c"])
            .args(extra)
            .arg(format!("{FIXTURES}/{src}"))
            .arg("-o")
            .arg(&obj));
        obj
    }

    /// Links `objs` into `out` with `args`; returns what the linker printed on stdout.
    fn link(&self, linker: Linker, objs: &[PathBuf], out: &str, args: &[&str]) -> String {
        let cxx = objs.iter().any(|o| o.to_string_lossy().contains(".cc"));
        let dir = match linker {
            Linker::Tether => "tether",
            Linker::Lld => "lld",
        };
        ok(self
            .tc
            .link_driver(cxx)
            .arg(format!("-B{}/", self.path(dir).display()))
            .args(objs)
            .args(args)
            .arg("-o")
            .arg(self.path(out))
            .current_dir(self.dir.path()))
    }

    fn run_program(&self, exe: &str) -> String {
        let mut cmd = if self.tc.is_arm() {
            let mut c = Command::new("qemu-arm");
            c.args(["-L", ARM_SYSROOT]).arg(self.path(exe));
            c
        } else {
            Command::new(self.path(exe))
        };
        ok(&mut cmd)
    }
}

fn which(tool: &str) -> PathBuf {
    let out = ok(Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {tool}")));
    PathBuf::from(out.trim())
}

/// The code and read-only data symbols `objs` define.
fn defined_names(objs: &[PathBuf]) -> BTreeSet<String> {
    let out = ok(Command::new("nm").arg("--defined-only").args(objs));
    out.lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let (_, kind, name) = (f.next()?, f.next()?, f.next()?);
            // ARM mapping symbols mark code and data, they name nothing.
            ("TtWRr".contains(kind) && !name.starts_with('$')).then(|| name.to_string())
        })
        .collect()
}

/// The groups of `names` that share an address in `exe` (only groups of two or more).
fn shared_addresses(exe: &Path, names: &BTreeSet<String>) -> BTreeSet<BTreeSet<String>> {
    let out = ok(Command::new("nm").arg("--defined-only").arg(exe));
    let mut by_address: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for line in out.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        if let [address, _, name] = f[..] {
            if names.contains(name) {
                by_address
                    .entry(address.to_string())
                    .or_default()
                    .insert(name.to_string());
            }
        }
    }
    by_address.into_values().filter(|g| g.len() > 1).collect()
}

fn section_size(file: &Path, name: &str) -> u64 {
    let data = std::fs::read(file).expect("read output");
    let elf = object::File::parse(&*data).expect("parse output");
    elf.section_by_name(name)
        .map(|s| s.size())
        .unwrap_or_else(|| panic!("{} has no {name}", file.display()))
}

/// `--print-icf-sections` as (kept section, the sections folded into it), in any order.
fn icf_classes(printed: &str) -> BTreeSet<(String, BTreeSet<String>)> {
    let mut classes = Vec::new();
    for line in printed.lines() {
        if let Some(kept) = line.strip_prefix("selected section ") {
            classes.push((kept.to_string(), BTreeSet::new()));
        } else if let Some(folded) = line.strip_prefix("  removing identical section ") {
            let (_, members) = classes.last_mut().expect("a class before its members");
            members.insert(folded.to_string());
        } else {
            panic!("unexpected --print-icf-sections line: {line:?}");
        }
    }
    classes.into_iter().collect()
}

/// Links `objs` without ICF and with `--icf=mode` by both linkers and compares; returns the
/// folded groups.
fn compare_with_lld(
    w: &Work,
    objs: &[PathBuf],
    mode: &str,
    extra: &[&str],
) -> BTreeSet<BTreeSet<String>> {
    let tc = w.tc;
    let icf = format!("-Wl,--icf={mode}");
    let mut args = vec![icf.as_str(), "-Wl,--print-icf-sections"];
    args.extend(extra);
    let reference = w.link(Linker::Lld, objs, "lld.out", &args);
    let printed = w.link(Linker::Tether, objs, "tether.out", &args);
    w.link(Linker::Lld, objs, "lld-none.out", extra);
    w.link(Linker::Tether, objs, "tether-none.out", extra);
    assert_eq!(
        icf_classes(&printed),
        icf_classes(&reference),
        "{tc:?} --icf={mode}: --print-icf-sections"
    );
    let names = defined_names(objs);
    let folded = shared_addresses(&w.path("tether.out"), &names);
    assert_eq!(
        folded,
        shared_addresses(&w.path("lld.out"), &names),
        "{tc:?} --icf={mode}: functions and tables sharing an address"
    );
    let shrink = |out: &str, none: &str| {
        section_size(&w.path(none), ".text") - section_size(&w.path(out), ".text")
    };
    assert_eq!(
        shrink("tether.out", "tether-none.out"),
        shrink("lld.out", "lld-none.out"),
        "{tc:?} --icf={mode}: .text shrinks by as much as lld's"
    );
    folded
}

fn group(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|n| n.to_string()).collect()
}

#[test]
fn c_functions_and_tables_fold_as_lld_folds_them() {
    for tc in ALL {
        let w = Work::new(tc);
        let objs = [
            w.compile("fold.c", &[]),
            w.compile("fold2.c", &[]),
            w.compile("fold3.c", &[]),
        ];
        w.link(Linker::Tether, &objs, "plain", &[]);
        let expected = w.run_program("plain");
        for mode in ["safe", "all"] {
            let folded = compare_with_lld(&w, &objs, mode, &[]);
            assert_eq!(w.run_program("tether.out"), expected, "{tc:?} {mode}");
            assert_eq!(w.run_program("lld.out"), expected, "{tc:?} {mode} (lld)");
            let wanted = [
                group(&["mul3a", "mul3b", "mul3c", "mul3d"]),
                // The same string from three objects' own string sections, merged.
                group(&["greet_a", "greet_c", "greet_d"]),
                group(&["calls_a", "calls_b"]),
                group(&["even_a", "even_b"]),
                group(&["odd_a", "odd_b"]),
            ];
            // gcc's objects have no address-significance table: safe folds none of them.
            if mode == "all" || tc.is_clang() {
                for g in &wanted {
                    assert!(folded.contains(g), "{tc:?} {mode}: {g:?} not folded");
                }
                assert!(
                    !folded.iter().any(|g| g.contains("calls_other")),
                    "{tc:?} {mode}: calls_other calls another function"
                );
            } else {
                assert!(folded.is_empty(), "{tc:?} {mode}: {folded:?} folded");
            }
        }
        // A library's exported functions are preemptible: calls to different ones differ,
        // and safe keeps every exported definition apart.
        for mode in ["safe", "all"] {
            compare_with_lld(&w, &objs[..1], mode, &["-shared", "-fPIC"]);
        }
    }
}

#[test]
fn cxx_template_instantiations_fold_as_lld_folds_them() {
    for tc in ALL {
        let w = Work::new(tc);
        let objs = [w.compile("templates.cc", &[])];
        w.link(Linker::Tether, &objs, "plain", &[]);
        let expected = w.run_program("plain");
        assert_eq!(
            expected, "caught same\n43\n6 8 7 8\ncaught same again\n",
            "{tc:?}"
        );
        for mode in ["safe", "all"] {
            let folded = compare_with_lld(&w, &objs, mode, &[]);
            // Unwinding through the kept copy of pick<> still finds its handler.
            assert_eq!(w.run_program("tether.out"), expected, "{tc:?} {mode}");
            assert_eq!(w.run_program("lld.out"), expected, "{tc:?} {mode} (lld)");
            if mode == "all" || tc.is_clang() {
                let twice = group(&["_Z5twiceIiET_S0_", "_Z5twiceIjET_S0_"]);
                assert!(folded.contains(&twice), "{tc:?} {mode}: {folded:?}");
            }
        }
    }
}

#[test]
fn safe_keeps_functions_whose_address_is_compared_apart() {
    for tc in [Tc::X86Clang, Tc::ArmClangThumb] {
        let w = Work::new(tc);
        let objs = [w.compile("address.c", &[])];
        let seen = group(&["seen_a", "seen_b"]);
        let unseen = group(&["unseen_a", "unseen_b"]);
        let folded = compare_with_lld(&w, &objs, "safe", &[]);
        assert_eq!(folded, BTreeSet::from([unseen.clone()]), "{tc:?} safe");
        assert_eq!(w.run_program("tether.out"), "13 22 30 41\ndistinct\n");
        let folded = compare_with_lld(&w, &objs, "all", &[]);
        assert_eq!(folded, BTreeSet::from([seen, unseen]), "{tc:?} all");
        assert_eq!(w.run_program("tether.out"), "13 22 30 41\nsame\n");
    }
}

#[test]
fn none_and_no_option_fold_nothing() {
    let w = Work::new(Tc::X86Clang);
    let objs = [
        w.compile("fold.c", &[]),
        w.compile("fold2.c", &[]),
        w.compile("fold3.c", &[]),
    ];
    let names = defined_names(&objs);
    for args in [&[][..], &["-Wl,--icf=none", "-Wl,--print-icf-sections"][..]] {
        let printed = w.link(Linker::Tether, &objs, "out", args);
        assert_eq!(printed, "", "{args:?}");
        assert!(
            shared_addresses(&w.path("out"), &names).is_empty(),
            "{args:?}"
        );
    }
}

/// The classes, and so the output, do not depend on how many threads refine them.
#[test]
fn output_is_the_same_whatever_the_thread_count() {
    let w = Work::new(Tc::X86Clang);
    let objs = [
        w.compile("fold.c", &[]),
        w.compile("fold2.c", &[]),
        w.compile("fold3.c", &[]),
    ];
    let mut outputs = Vec::new();
    for threads in ["1", "2", "7"] {
        let out = w.path(&format!("out{threads}"));
        ok(w.tc
            .link_driver(true)
            .env("RAYON_NUM_THREADS", threads)
            .arg(format!("-B{}/", w.path("tether").display()))
            .args(&objs)
            .args(["-Wl,--icf=all", "-o"])
            .arg(&out));
        outputs.push(std::fs::read(&out).expect("output"));
    }
    assert!(outputs.windows(2).all(|p| p[0] == p[1]));
}

#[test]
fn bad_icf_value_and_bad_address_significance_table_are_refused() {
    let w = Work::new(Tc::X86Clang);
    let obj = w.compile("address.c", &[]);
    let out = run(Command::new(tether())
        .args(["--icf=most", "-o"])
        .arg(w.path("x"))
        .arg(&obj));
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--icf value: most"), "{stderr}");

    // A ULEB128 that never ends: the table's last byte gets its continuation bit.
    let mut data = std::fs::read(&obj).expect("object");
    let elf = object::File::parse(&*data).expect("parse");
    let section = elf
        .section_by_name(".llvm_addrsig")
        .expect("clang's addrsig");
    let (start, size) = section.file_range().expect("in the file");
    let last = (start + size - 1) as usize;
    drop(elf);
    data[last] |= 0x80;
    let bad = w.path("bad.o");
    std::fs::write(&bad, &data).expect("write");
    let out = run(w
        .tc
        .link_driver(false)
        .arg(format!("-B{}/", w.path("tether").display()))
        .arg(&bad)
        .args(["-Wl,--icf=safe", "-o"])
        .arg(w.path("x")));
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("bad.o") && stderr.contains(".llvm_addrsig") && stderr.contains("ULEB128"),
        "{stderr}"
    );
    assert!(!w.path("x").exists());
}

/// Functions with the same instructions that catch different exceptions stay apart: on
/// x86-64 their FDEs have an LSDA, which keeps code from folding as in lld; on ARM their
/// `.ARM.extab` tables differ (lld 14 folds them there, and the program then prints 20).
#[test]
fn code_catching_other_exceptions_is_not_folded() {
    for tc in ALL {
        let w = Work::new(tc);
        let objs = [w.compile("exceptions.cc", &[])];
        let names = group(&["_Z9catch_inti", "_Z10catch_longi"]);
        for mode in ["safe", "all"] {
            let folded = if tc.is_arm() {
                let icf = format!("-Wl,--icf={mode}");
                w.link(Linker::Tether, &objs, "tether.out", &[&icf]);
                shared_addresses(&w.path("tether.out"), &names)
            } else {
                compare_with_lld(&w, &objs, mode, &[])
            };
            assert_eq!(w.run_program("tether.out"), "1010\n", "{tc:?} {mode}");
            assert!(folded.is_empty(), "{tc:?} {mode}: {folded:?}");
        }
    }
}
