//! Linker scripts and `--defsym` expressions, compared with GNU ld: the same gcc objects
//! linked by both with the same script, on x86-64 and ARM (Thumb-2, run under qemu-arm),
//! compared on the program's output, symbol values relative to their sections, section
//! placement and error messages.

mod common;

use common::{ok, readelf, require, run, tether};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const ARM_SYSROOT: &str = "/usr/arm-linux-gnueabihf";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Target {
    X86,
    ArmThumb,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Linker {
    Tether,
    GnuLd,
}

const TARGETS: [Target; 2] = [Target::X86, Target::ArmThumb];

impl Target {
    fn gcc(self) -> Command {
        match self {
            Target::X86 => Command::new("gcc"),
            Target::ArmThumb => {
                let mut c = Command::new("arm-linux-gnueabihf-gcc");
                c.arg("-mthumb");
                c
            }
        }
    }
    fn require(self) {
        match self {
            Target::X86 => require("gcc", "gcc"),
            Target::ArmThumb => {
                require("arm-linux-gnueabihf-gcc", "gcc-arm-linux-gnueabihf");
                require("qemu-arm", "qemu-user");
            }
        }
    }
}

struct Work {
    dir: tempfile::TempDir,
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/scripts")
        .join(name)
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

    fn write(&self, name: &str, text: &str) {
        let p = self.path(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }

    fn compile(&self, t: Target, src: &str, obj: &str, flags: &[&str]) {
        ok(t.gcc()
            .args(["-O2", "-c"])
            .args(flags)
            .arg(fixture(src))
            .arg("-o")
            .arg(self.path(obj)));
    }

    fn link(&self, t: Target, linker: Linker, out: &str, args: &[&str]) -> Output {
        let mut cmd = t.gcc();
        match linker {
            Linker::Tether => cmd.arg(format!("-B{}/", self.path("bin").display())),
            Linker::GnuLd => cmd.arg("-fuse-ld=bfd"),
        };
        run(cmd
            .args(args)
            .arg("-o")
            .arg(self.path(out))
            .current_dir(self.dir.path()))
    }

    fn link_ok(&self, t: Target, linker: Linker, out: &str, args: &[&str]) {
        let o = self.link(t, linker, out, args);
        assert!(
            o.status.success(),
            "{t:?}: linking {out} with {linker:?} failed:\n{}",
            String::from_utf8_lossy(&o.stderr)
        );
    }

    fn run_program(&self, t: Target, exe: &str) -> String {
        match t {
            Target::X86 => ok(&mut Command::new(self.path(exe))),
            Target::ArmThumb => ok(Command::new("qemu-arm")
                .args(["-L", ARM_SYSROOT])
                .arg(self.path(exe))),
        }
    }
}

/// `nm` values by symbol name.
fn symbols(file: &Path) -> std::collections::HashMap<String, (u64, char)> {
    let out = ok(Command::new("nm").arg(file));
    out.lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let (v, k, n) = (f.next()?, f.next()?, f.next()?);
            Some((
                n.to_string(),
                (u64::from_str_radix(v, 16).ok()?, k.chars().next()?),
            ))
        })
        .collect()
}

/// Allocated output sections in header order: (name, address, size).
fn sections(file: &Path) -> Vec<(String, u64, u64)> {
    readelf(&["-SW"], file)
        .lines()
        .filter_map(|l| {
            let l = l.split_once(']')?.1;
            let f: Vec<&str> = l.split_whitespace().collect();
            let addr = u64::from_str_radix(f.get(2)?, 16).ok()?;
            let size = u64::from_str_radix(f.get(4)?, 16).ok()?;
            (addr != 0).then(|| (f[0].to_string(), addr, size))
        })
        .collect()
}

fn section<'s>(all: &'s [(String, u64, u64)], name: &str) -> &'s (String, u64, u64) {
    all.iter()
        .find(|s| s.0 == name)
        .unwrap_or_else(|| panic!("no section {name} in {all:?}"))
}

/// The section that follows `name` in address order (empty ones, which GNU ld drops and
/// tether keeps, not counted).
fn next_after(all: &[(String, u64, u64)], name: &str) -> String {
    let mut sorted: Vec<_> = all
        .iter()
        .filter(|s| s.2 > 0 || s.0 == name)
        .cloned()
        .collect();
    sorted.sort_by_key(|s| s.1);
    let i = sorted.iter().position(|s| s.0 == name).unwrap();
    sorted[i + 1].0.clone()
}

/// The linker set program: `__start_mytab`/`__stop_mytab` from the script around
/// `KEEP(*(.mytable))`, `.junk` discarded, the section inserted after `.data`, an ASSERT
/// that holds; with `--gc-sections` too (KEEP is what keeps the unreferenced table).
#[test]
fn linker_set_keep_discard_insert_as_gnu_ld() {
    for t in TARGETS {
        t.require();
        let w = Work::new();
        w.compile(t, "table.c", "table.o", &[]);
        let script = fixture("table.ld");
        let script = script.to_str().unwrap();
        for gc in [false, true] {
            let mut args = vec!["table.o", "-Wl,-T", script];
            if gc {
                args.push("-Wl,--gc-sections");
            }
            w.link_ok(t, Linker::GnuLd, "gnu", &args);
            w.link_ok(t, Linker::Tether, "ours", &args);
            let expected = "gamma=3\nbeta=2\nalpha=1\ncount=3\n";
            assert_eq!(w.run_program(t, "gnu"), expected, "{t:?}");
            assert_eq!(w.run_program(t, "ours"), expected, "{t:?} gc={gc}");
            for exe in ["gnu", "ours"] {
                let file = w.path(exe);
                let secs = sections(&file);
                let table = section(&secs, ".mytable");
                let syms = symbols(&file);
                assert_eq!(syms["__start_mytab"].0, table.1, "{t:?} {exe}");
                assert_eq!(syms["__stop_mytab"].0, table.1 + table.2, "{t:?} {exe}");
                assert!(
                    !secs.iter().any(|s| s.0 == ".junk"),
                    "{t:?} {exe}: {secs:?}"
                );
                assert!(!syms.contains_key("junk"), "{t:?} {exe}");
                assert_eq!(next_after(&secs, ".data"), ".mytable", "{t:?} {exe}");
            }
        }
    }
}

/// A failed ASSERT is an error with its message, as GNU ld.
#[test]
fn failed_assert_reports_its_message() {
    for t in TARGETS {
        t.require();
        let w = Work::new();
        w.compile(t, "table.c", "table.o", &[]);
        let text = std::fs::read_to_string(fixture("table.ld")).unwrap();
        let text = text.replace(
            "__stop_mytab > __start_mytab, \"table is empty\"",
            "__stop_mytab == __start_mytab, \"table has entries\"",
        );
        w.write("bad.ld", &text);
        for linker in [Linker::GnuLd, Linker::Tether] {
            let o = w.link(t, linker, "out", &["table.o", "-Wl,-T,bad.ld"]);
            let stderr = String::from_utf8_lossy(&o.stderr);
            assert!(!o.status.success(), "{t:?} {linker:?}");
            assert!(
                stderr.contains("table has entries"),
                "{t:?} {linker:?}: {stderr}"
            );
        }
    }
}

/// A script input that INCLUDEs a file from a -L directory, with assignments of a number
/// and of a symbol plus an offset, and `--defsym` with an expression.
#[test]
fn include_from_l_dir_assignments_and_defsym_expression() {
    for t in TARGETS {
        t.require();
        let w = Work::new();
        w.compile(t, "values.c", "values.o", &["-fPIE"]);
        w.write("inc/part.ld", "foo_val = 0x1234;\nbar = main + 0x10;\n");
        w.write("top.ld", "/* top */\nINCLUDE part.ld\n");
        let args = [
            "values.o",
            "top.ld",
            "-Linc",
            "-Xlinker",
            "--defsym",
            "-Xlinker",
            "baz=main+ALIGN(0x20,16)*2",
        ];
        w.link_ok(t, Linker::GnuLd, "gnu", &args);
        w.link_ok(t, Linker::Tether, "ours", &args);
        // A script's number is relocated with the image in a PIE, as bfd's `ldscript_def`
        // symbols are: the program sees the load address plus 0x1234.
        let (gnu, ours) = (w.run_program(t, "gnu"), w.run_program(t, "ours"));
        for out in [&gnu, &ours] {
            let (first, rest) = out.split_once(' ').unwrap();
            assert!(first.ends_with("234") && first.len() > 4, "{t:?}: {out}");
            assert_eq!(rest, "16 64\n", "{t:?}");
        }
        for exe in ["gnu", "ours"] {
            let syms = symbols(&w.path(exe));
            let main = syms["main"].0 & !1;
            assert_eq!(syms["foo_val"], (0x1234, 'A'), "{t:?} {exe}");
            assert_eq!(syms["bar"].0 & !1, main + 0x10, "{t:?} {exe}");
            assert_eq!(syms["baz"].0 & !1, main + 0x40, "{t:?} {exe}");
        }
        // Not found anywhere: an error naming the script and line.
        w.write("missing.ld", "\n\nINCLUDE nothere.ld\n");
        let o = w.link(t, Linker::Tether, "x", &["values.o", "missing.ld"]);
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert!(
            stderr.contains("missing.ld:3: cannot find INCLUDE file nothere.ld"),
            "{stderr}"
        );
    }
}

/// PROVIDE defines only what is referenced and undefined; HIDDEN symbols stay out of
/// `.dynsym`; `-T` is searched in the -L directories; `. = ALIGN(n)` and symbols inside an
/// output section.
#[test]
fn provide_hidden_and_dot_inside_sections() {
    let t = Target::X86;
    t.require();
    let w = Work::new();
    w.compile(t, "values.c", "values.o", &["-fPIE"]);
    w.write(
        "dir/s.ld",
        "PROVIDE(foo_val = 42); PROVIDE(unused = 1); HIDDEN(bar = main);\n\
         SECTIONS {\n  .mytable : { before = .; *(.mytable) . = ALIGN(64); baz = .; }\n}\n\
         INSERT AFTER .data;\n",
    );
    w.write(
        "extra.c",
        "__attribute__((used, section(\".mytable\"))) char x[3] = {1};\n",
    );
    ok(Command::new("gcc")
        .args(["-c", "-fPIE", "-o"])
        .arg(w.path("extra.o"))
        .arg(w.path("extra.c")));
    let args = ["values.o", "extra.o", "-Wl,-T,s.ld", "-Ldir"];
    w.link_ok(t, Linker::GnuLd, "gnu", &args);
    w.link_ok(t, Linker::Tether, "ours", &args);
    for exe in ["gnu", "ours"] {
        let file = w.path(exe);
        let syms = symbols(&file);
        let secs = sections(&file);
        let table = section(&secs, ".mytable");
        assert_eq!(syms["foo_val"].0, 42, "{exe}");
        assert!(!syms.contains_key("unused"), "{exe}");
        assert_eq!(syms["bar"].0, syms["main"].0, "{exe}");
        assert_eq!(syms["before"].0, table.1, "{exe}");
        // `. = ALIGN(64)` aligns the address; the section ends there.
        let baz = syms["baz"].0;
        assert_eq!(baz % 64, 0, "{exe}");
        assert_eq!(baz, table.1 + table.2, "{exe}");
        assert!(baz - table.1 >= 3 && baz - table.1 < 3 + 64, "{exe}");
        let dynsym = readelf(&["--dyn-syms", "-W"], &file);
        assert!(!dynsym.contains(" bar"), "{exe}: {dynsym}");
    }
}

/// `VERSION { ... }` in a script versions a library's symbols as a version script would.
#[test]
fn version_command_in_a_script() {
    let t = Target::X86;
    t.require();
    let w = Work::new();
    w.compile(t, "lib.c", "lib.o", &["-fPIC"]);
    w.write(
        "v.ld",
        "VERSION {\n  V1 { global: exported; local: *; };\n}\n",
    );
    for (linker, out) in [(Linker::GnuLd, "gnu.so"), (Linker::Tether, "ours.so")] {
        w.link_ok(t, linker, out, &["-shared", "lib.o", "v.ld"]);
        let dynsym = readelf(&["--dyn-syms", "-W"], &w.path(out));
        assert!(dynsym.contains("exported@@V1"), "{linker:?}: {dynsym}");
        assert!(!dynsym.contains("internal"), "{linker:?}: {dynsym}");
    }
}

/// Syntax errors name the script file and the line, as GNU ld's do (GNU ld says
/// `file:line: syntax error`).
#[test]
fn syntax_errors_name_file_and_line() {
    let t = Target::X86;
    t.require();
    let w = Work::new();
    w.compile(t, "values.c", "values.o", &["-fPIE"]);
    for (text, line) in [
        ("SECTIONS {\n .x : { *(.x) \n", "line 3"),
        ("x = 1;\ny = ;\n", "line 2"),
        ("\n\n\nPROVIDE(a = 1;\n", "line 4"),
        ("SECTIONS {\n .x : { *(.x) } > ram\n}\n", "line 2"),
    ] {
        w.write("syn.ld", text);
        for linker in [Linker::GnuLd, Linker::Tether] {
            let o = w.link(t, linker, "x", &["values.o", "-Wl,-T,syn.ld"]);
            assert!(!o.status.success(), "{linker:?} accepted {text:?}");
        }
        let o = w.link(t, Linker::Tether, "x", &["values.o", "-Wl,-T,syn.ld"]);
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert!(
            stderr.contains("syn.ld: ") && stderr.contains(line),
            "{text:?}: {stderr}"
        );
    }
    // An expression that refers to nothing: GNU ld's message, with the place.
    w.write(
        "undef.ld",
        "foo_val = 1; bar = 2; baz = 3;\nx = nothing + 1;\n",
    );
    let o = w.link(t, Linker::Tether, "x", &["values.o", "undef.ld"]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        stderr.contains("undef.ld:2: undefined symbol `nothing' referenced in expression"),
        "{stderr}"
    );
}

/// GNU ld's own default script (`ld --verbose`), given with `-T`: every construct it uses
/// is read (SEGMENT_START, DATA_SEGMENT_*, ONLY_IF_RO, SORT(CONSTRUCTORS), PROVIDE_HIDDEN
/// of the array bounds, `.debug_* 0 :`, `/DISCARD/`), the programs run as GNU ld's do, and
/// the loaded sections come in the same order.
#[test]
fn gnu_ld_default_scripts_link_and_run() {
    struct Case {
        t: Target,
        ld: &'static str,
        ld_args: &'static [&'static str],
        src: &'static str,
        flags: &'static [&'static str],
        expected: &'static str,
    }
    let hello = "ctor\nhello 7 5 0\natexit\n";
    let caught = "caught boom 4\n";
    let cases = [
        Case {
            t: Target::X86,
            ld: "ld",
            ld_args: &[],
            src: "hello.c",
            flags: &["-no-pie", "-fno-pie"],
            expected: hello,
        },
        Case {
            t: Target::X86,
            ld: "ld",
            ld_args: &["-pie"],
            src: "hello.c",
            flags: &["-fPIE"],
            expected: hello,
        },
        Case {
            t: Target::X86,
            ld: "ld",
            ld_args: &[],
            src: "throw.cpp",
            flags: &["-static", "-no-pie", "-fno-pie"],
            expected: caught,
        },
        Case {
            t: Target::ArmThumb,
            ld: "arm-linux-gnueabihf-ld",
            ld_args: &[],
            src: "hello.c",
            flags: &[],
            expected: hello,
        },
        Case {
            t: Target::ArmThumb,
            ld: "arm-linux-gnueabihf-ld",
            ld_args: &[],
            src: "throw.cpp",
            flags: &["-static"],
            expected: caught,
        },
    ];
    for c in cases {
        c.t.require();
        let w = Work::new();
        let verbose = ok(Command::new(c.ld).args(c.ld_args).arg("--verbose"));
        let script: Vec<&str> = verbose
            .lines()
            .skip_while(|l| !l.starts_with("====="))
            .skip(1)
            .take_while(|l| !l.starts_with("====="))
            .collect();
        assert!(
            script.len() > 100,
            "{}: no default script in --verbose",
            c.ld
        );
        w.write("default.ld", &script.join("\n"));
        let cxx = c.src.ends_with(".cpp");
        let mut compile = c.t.gcc();
        if cxx {
            compile = match c.t {
                Target::X86 => Command::new("g++"),
                Target::ArmThumb => {
                    let mut g = Command::new("arm-linux-gnueabihf-g++");
                    g.arg("-mthumb");
                    g
                }
            };
        }
        ok(compile
            .args(["-O2", "-c"])
            .args(c.flags.iter().filter(|f| f.starts_with("-f")))
            .arg(fixture(c.src))
            .arg("-o")
            .arg(w.path("p.o")));
        let mut orders = Vec::new();
        for (linker, out) in [(Linker::GnuLd, "gnu"), (Linker::Tether, "ours")] {
            let mut cmd = match (c.t, cxx) {
                (Target::X86, true) => Command::new("g++"),
                (Target::ArmThumb, true) => Command::new("arm-linux-gnueabihf-g++"),
                _ => c.t.gcc(),
            };
            match linker {
                Linker::Tether => cmd.arg(format!("-B{}/", w.path("bin").display())),
                Linker::GnuLd => cmd.arg("-fuse-ld=bfd"),
            };
            let o = run(cmd
                .args(c.flags.iter().filter(|f| !f.starts_with("-f")))
                .args(["p.o", "-Wl,-T,default.ld", "-o", out])
                .current_dir(w.dir.path()));
            assert!(
                o.status.success(),
                "{} {linker:?}: {}",
                c.src,
                String::from_utf8_lossy(&o.stderr)
            );
            let output = match c.t {
                Target::X86 => ok(&mut Command::new(w.path(out))),
                Target::ArmThumb => ok(Command::new("qemu-arm")
                    .args(["-L", ARM_SYSROOT])
                    .arg(w.path(out))),
            };
            assert_eq!(output, c.expected, "{:?} {} {linker:?}", c.t, c.src);
            let mut secs: Vec<(String, u64, u64)> = sections(&w.path(out))
                .into_iter()
                .filter(|s| s.2 > 0)
                .collect();
            secs.sort_by_key(|s| s.1);
            orders.push(secs.into_iter().map(|s| s.0).collect::<Vec<_>>());
        }
        let both = |list: &Vec<String>, other: &Vec<String>| -> Vec<String> {
            list.iter().filter(|n| other.contains(n)).cloned().collect()
        };
        assert_eq!(
            both(&orders[0], &orders[1]),
            both(&orders[1], &orders[0]),
            "{:?} {}: section order",
            c.t,
            c.src
        );
    }
}

/// `BYTE`, `SHORT`, `LONG` (of a symbol and of `.`), `QUAD` in a section of their own,
/// read back by the program, on both targets.
#[test]
fn data_statements_as_gnu_ld() {
    for t in TARGETS {
        t.require();
        let w = Work::new();
        w.compile(t, "data.c", "data.o", &["-fno-pie"]);
        let script = fixture("data.ld");
        let args = ["-no-pie", "data.o", "-Wl,-T", script.to_str().unwrap()];
        w.link_ok(t, Linker::GnuLd, "gnu", &args);
        w.link_ok(t, Linker::Tether, "ours", &args);
        let expected = "11 2233 1 0102030405060708 15 1 23\n";
        assert_eq!(w.run_program(t, "gnu"), expected, "{t:?}");
        assert_eq!(w.run_program(t, "ours"), expected, "{t:?}");
        for exe in ["gnu", "ours"] {
            let secs = sections(&w.path(exe));
            assert_eq!(section(&secs, ".mydata").2, 23, "{t:?} {exe}");
            assert_eq!(next_after(&secs, ".data"), ".mydata", "{t:?} {exe}");
        }
    }
}

/// `SORT_BY_NAME` orders a linker set across objects; `EXCLUDE_FILE` leaves one object's
/// section to orphan placement, which comes right after `.rodata`, before what INSERT puts
/// there, as GNU ld does.
#[test]
fn sort_by_name_and_exclude_file_as_gnu_ld() {
    for t in TARGETS {
        t.require();
        let w = Work::new();
        w.compile(t, "sort.c", "first.o", &["-DFIRST"]);
        w.compile(t, "sort.c", "second.o", &[]);
        let script = fixture("sort.ld");
        let args = ["first.o", "second.o", "-Wl,-T", script.to_str().unwrap()];
        w.link_ok(t, Linker::GnuLd, "gnu", &args);
        w.link_ok(t, Linker::Tether, "ours", &args);
        assert_eq!(w.run_program(t, "gnu"), "abcd\n", "{t:?}");
        assert_eq!(w.run_program(t, "ours"), "abcd\n", "{t:?}");
        let order = |exe: &str| {
            let mut secs = sections(&w.path(exe));
            secs.sort_by_key(|s| s.1);
            let names: Vec<String> = secs.into_iter().map(|s| s.0).collect();
            let from = names.iter().position(|n| n == ".rodata").unwrap();
            names[from..from + 4].to_vec()
        };
        assert_eq!(order("ours"), order("gnu"), "{t:?}");
        for exe in ["gnu", "ours"] {
            let secs = sections(&w.path(exe));
            assert_eq!(section(&secs, ".ex").2, 4, "{t:?} {exe}: only first.o's");
            assert_eq!(
                section(&secs, ".exl").2,
                8,
                "{t:?} {exe}: second.o's, orphaned"
            );
        }
    }
}

/// Symbols assigned inside and between output sections and outside SECTIONS get GNU ld's
/// value, type and section: a number inside a section is an offset into it, `.` after a
/// section is its end, a symbol-plus-number outside an output section is absolute and takes
/// the symbol's type.
#[test]
fn symbol_kinds_types_and_sections_as_gnu_ld() {
    let t = Target::X86;
    t.require();
    let w = Work::new();
    w.compile(t, "empty_main.c", "m.o", &["-fPIE"]);
    w.write(
        "extra.c",
        "__attribute__((used, section(\".mytable\"))) char x[3] = {1};\n",
    );
    ok(Command::new("gcc")
        .args(["-c", "-fPIE", "-o"])
        .arg(w.path("extra.o"))
        .arg(w.path("extra.c")));
    w.write(
        "k.ld",
        "SECTIONS { .mytable : { *(.mytable) inner = 5; inner2 = main + 1; } \
         mid = .; mid2 = main + 1; } INSERT AFTER .data;\ntop = main + 1;\n",
    );
    let describe = |exe: &str| -> Vec<(String, String, String, u64)> {
        let file = w.path(exe);
        let secs: std::collections::HashMap<usize, String> = readelf(&["-SW"], &file)
            .lines()
            .filter_map(|l| {
                let (index, rest) = l.trim_start().strip_prefix('[')?.split_once(']')?;
                Some((
                    index.trim().parse().ok()?,
                    rest.split_whitespace().next()?.to_string(),
                ))
            })
            .collect();
        let addr = |name: &str| section(&sections(&file), name).1;
        let syms = symbols(&file);
        let main = syms["main"].0;
        readelf(&["-sW"], &file)
            .lines()
            .filter_map(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                let name = *f.get(7)?;
                if !["inner", "inner2", "mid", "mid2", "top"].contains(&name) {
                    return None;
                }
                let value = u64::from_str_radix(f[1], 16).ok()?;
                let ndx = match f[6].parse::<usize>() {
                    Ok(i) => secs[&i].clone(),
                    Err(_) => f[6].to_string(),
                };
                let base = if ndx == ".mytable" {
                    addr(".mytable")
                } else {
                    main
                };
                Some((name.to_string(), f[3].to_string(), ndx, value - base))
            })
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect()
    };
    let args = ["m.o", "extra.o", "-Wl,-T,k.ld"];
    w.link_ok(t, Linker::GnuLd, "gnu", &args);
    w.link_ok(t, Linker::Tether, "ours", &args);
    let gnu = describe("gnu");
    assert_eq!(gnu.len(), 5, "{gnu:?}");
    assert_eq!(describe("ours"), gnu);
}

/// A library exports what its script assigns, with GNU ld's values, types and sections;
/// HIDDEN ones stay local.
#[test]
fn library_exports_script_symbols_as_gnu_ld() {
    let t = Target::X86;
    t.require();
    let w = Work::new();
    w.compile(t, "lib.c", "lib.o", &["-fPIC"]);
    w.write(
        "exp.ld",
        "abs_sym = 0x10;\nrel_sym = exported + 4;\nHIDDEN(hid = 1);\n",
    );
    let dynsyms = |so: &str| -> Vec<String> {
        readelf(&["--dyn-syms", "-W"], &w.path(so))
            .lines()
            .filter(|l| l.contains("_sym") || l.contains("hid"))
            .map(|l| l.split_whitespace().skip(1).collect::<Vec<_>>().join(" "))
            .collect()
    };
    w.link_ok(t, Linker::GnuLd, "gnu.so", &["-shared", "lib.o", "exp.ld"]);
    w.link_ok(
        t,
        Linker::Tether,
        "ours.so",
        &["-shared", "lib.o", "exp.ld"],
    );
    let gnu = dynsyms("gnu.so");
    assert_eq!(gnu.len(), 2, "{gnu:?}");
    let exported = symbols(&w.path("ours.so"))["exported"].0;
    let gnu_exported = symbols(&w.path("gnu.so"))["exported"].0;
    let normalise = |lines: Vec<String>, base: u64| -> Vec<String> {
        lines
            .into_iter()
            .map(|l| {
                let (value, rest) = l.split_once(' ').unwrap();
                let v = u64::from_str_radix(value, 16).unwrap();
                let v = if rest.contains("rel_sym") {
                    v - base
                } else {
                    v
                };
                format!("{v:#x} {rest}")
            })
            .collect()
    };
    assert_eq!(
        normalise(dynsyms("ours.so"), exported),
        normalise(gnu, gnu_exported)
    );
}

/// A loaded section that refers to a symbol in a `/DISCARD/`ed section is an error with
/// GNU ld's words.
#[test]
fn reference_to_discarded_section_is_an_error() {
    let t = Target::X86;
    t.require();
    let w = Work::new();
    w.write(
        "dj.c",
        "__attribute__((section(\".junk\"))) int junk_fn(void) { return 3; }\n\
         int main(void) { return junk_fn(); }\n",
    );
    ok(Command::new("gcc")
        .args(["-c", "-o"])
        .arg(w.path("dj.o"))
        .arg(w.path("dj.c")));
    w.write(
        "dj.ld",
        "SECTIONS { /DISCARD/ : { *(.junk) } } INSERT AFTER .text;\n",
    );
    let expected =
        "`junk_fn' referenced in section `.text' of dj.o: defined in discarded section `.junk' of dj.o";
    for linker in [Linker::GnuLd, Linker::Tether] {
        let o = w.link(t, linker, "x", &["dj.o", "-Wl,-T,dj.ld"]);
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert!(
            !o.status.success() && stderr.contains(expected),
            "{linker:?}: {stderr}"
        );
    }
}

/// `ENTRY` sets the entry point unless `-e` does; `EXTERN` pulls an archive member as `-u`
/// would; `--version-script` is found in a -L directory; an INCLUDE loop is bounded.
#[test]
fn entry_extern_version_script_search_and_include_loop() {
    let t = Target::X86;
    t.require();
    let w = Work::new();
    w.compile(t, "empty_main.c", "m.o", &["-fPIE"]);
    w.write("member.c", "int pulled(void) { return 7; }\n");
    ok(Command::new("gcc")
        .args(["-c", "-fPIC", "-o"])
        .arg(w.path("member.o"))
        .arg(w.path("member.c")));
    ok(Command::new("ar")
        .arg("rc")
        .arg(w.path("libm1.a"))
        .arg(w.path("member.o")));
    w.write("s.ld", "ENTRY(main)\nEXTERN(pulled)\n");
    let entry = |exe: &str| {
        let h = readelf(&["-hW"], &w.path(exe));
        let line = h
            .lines()
            .find(|l| l.contains("Entry point"))
            .unwrap()
            .to_string();
        u64::from_str_radix(line.rsplit("0x").next().unwrap().trim(), 16).unwrap()
    };
    for (linker, out) in [(Linker::GnuLd, "gnu"), (Linker::Tether, "ours")] {
        w.link_ok(t, linker, out, &["m.o", "s.ld", "-L.", "-lm1"]);
        let syms = symbols(&w.path(out));
        assert_eq!(entry(out), syms["main"].0, "{linker:?}");
        assert!(
            syms.contains_key("pulled"),
            "{linker:?}: EXTERN did not pull the member"
        );
        let e = format!("{out}-e");
        w.link_ok(
            t,
            linker,
            &e,
            &["m.o", "s.ld", "-L.", "-lm1", "-Wl,-e,_start"],
        );
        assert_eq!(entry(&e), symbols(&w.path(&e))["_start"].0, "{linker:?}");
    }
    w.compile(t, "lib.c", "lib.o", &["-fPIC"]);
    w.write("vdir/v.map", "V1 { global: exported; local: *; };\n");
    for (linker, out) in [(Linker::GnuLd, "gnu.so"), (Linker::Tether, "ours.so")] {
        w.link_ok(
            t,
            linker,
            out,
            &["-shared", "lib.o", "-Lvdir", "-Wl,--version-script=v.map"],
        );
        let dynsym = readelf(&["--dyn-syms", "-W"], &w.path(out));
        assert!(dynsym.contains("exported@@V1"), "{linker:?}: {dynsym}");
    }
    w.write("loop.ld", "INCLUDE loop.ld\n");
    let o = w.link(t, Linker::Tether, "x", &["m.o", "loop.ld"]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        !o.status.success()
            && stderr.contains("loop.ld:1: INCLUDE loop.ld: includes nest more than"),
        "{stderr}"
    );
}
