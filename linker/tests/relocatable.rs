//! `-r`: a multi-object library (C with static data, a TLS variable, a COMMON symbol, string
//! constants and a file-local function called across sections; C++ with inline functions,
//! templates and virtual tables in COMDAT groups and an exception; all `-g`) merged into one
//! relocatable object by ld.tether and by GNU ld, on x86-64 (gcc, clang) and ARM (gcc,
//! Thumb-2 and ARM state). tether's output must read cleanly, carry the same groups, global
//! symbols and sections as GNU ld's, and relink — with GNU ld and with ld.tether, into a
//! program and into a shared library — to programs that print what the original objects do.

mod common;

use common::{check_readelf, ok, readelf, run, tether};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/relocatable");
const ARM_SYSROOT: &str = "/usr/arm-linux-gnueabihf";
const LIBRARY: [&str; 4] = ["counter.c", "report.c", "area.cpp", "perimeter.cpp"];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tc {
    X86Gcc,
    X86Clang,
    ArmThumb,
    ArmArm,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Linker {
    Tether,
    GnuLd,
}

impl Tc {
    fn is_arm(self) -> bool {
        matches!(self, Tc::ArmThumb | Tc::ArmArm)
    }

    fn compiler(self, cxx: bool) -> Command {
        let (c, cpp) = match self {
            Tc::X86Gcc => ("gcc", "g++"),
            Tc::X86Clang => ("clang", "clang++"),
            Tc::ArmThumb | Tc::ArmArm => ("arm-linux-gnueabihf-gcc", "arm-linux-gnueabihf-g++"),
        };
        let mut cmd = Command::new(if cxx { cpp } else { c });
        match self {
            Tc::ArmThumb => cmd.arg("-mthumb"),
            Tc::ArmArm => cmd.arg("-marm"),
            _ => &mut cmd,
        };
        cmd
    }

    fn gnu_ld(self) -> &'static str {
        if self.is_arm() {
            "arm-linux-gnueabihf-ld"
        } else {
            "ld"
        }
    }
}

struct Work {
    tc: Tc,
    dir: tempfile::TempDir,
}

impl Work {
    /// Compiles the library and the program's `main.c`.
    fn new(tc: Tc) -> Work {
        let dir = tempfile::tempdir().expect("temporary directory");
        std::fs::create_dir(dir.path().join("bin")).expect("bin dir");
        std::os::unix::fs::symlink(tether(), dir.path().join("bin/ld")).expect("ld symlink");
        let work = Work { tc, dir };
        for src in LIBRARY {
            let cxx = src.ends_with(".cpp");
            let mut cmd = tc.compiler(cxx);
            cmd.args(["-O2", "-g", "-fPIC"]);
            if !cxx {
                cmd.args(["-fcommon", "-ffunction-sections"]);
            }
            ok(cmd
                .arg("-c")
                .arg(Path::new(FIXTURES).join(src))
                .arg("-o")
                .arg(work.object(src)));
        }
        ok(tc
            .compiler(false)
            .args(["-O1", "-c"])
            .arg(Path::new(FIXTURES).join("main.c"))
            .arg("-o")
            .arg(work.path("main.o")));
        work
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn object(&self, src: &str) -> PathBuf {
        self.path(&format!("{}.o", src.split('.').next().unwrap()))
    }

    fn library_objects(&self) -> Vec<PathBuf> {
        LIBRARY.iter().map(|s| self.object(s)).collect()
    }

    /// `-r` of `inputs` into `out` by `linker`, called directly as a build system would.
    fn relocatable(&self, linker: Linker, inputs: &[PathBuf], out: &str) -> Output {
        let mut cmd = match linker {
            Linker::Tether => Command::new(tether()),
            Linker::GnuLd => Command::new(self.tc.gnu_ld()),
        };
        run(cmd
            .arg("-r")
            .args(inputs)
            .arg("-o")
            .arg(self.path(out))
            .current_dir(self.dir.path()))
    }

    fn relocatable_ok(&self, linker: Linker, inputs: &[PathBuf], out: &str) -> PathBuf {
        let o = self.relocatable(linker, inputs, out);
        assert!(
            o.status.success(),
            "{:?}: -r with {linker:?} failed:\n{}",
            self.tc,
            String::from_utf8_lossy(&o.stderr)
        );
        self.path(out)
    }

    /// Links through the C++ driver with `linker`.
    fn link(&self, linker: Linker, args: &[&str], out: &str) {
        let mut cmd = match self.tc {
            Tc::X86Clang => Command::new("clang++"),
            tc => tc.compiler(true),
        };
        match (self.tc, linker) {
            (Tc::X86Clang, Linker::Tether) => {
                cmd.arg(format!("--ld-path={}", tether().display()));
            }
            (_, Linker::Tether) => {
                cmd.arg(format!("-B{}/", self.path("bin").display()));
            }
            (_, Linker::GnuLd) => {
                cmd.arg("-fuse-ld=bfd");
            }
        }
        ok(cmd
            .args(args)
            .arg("-o")
            .arg(self.path(out))
            .current_dir(self.dir.path()));
    }

    /// Runs a program natively or under qemu-arm, libraries from the work directory.
    fn run(&self, exe: &str) -> String {
        let dir = self.dir.path().display().to_string();
        if self.tc.is_arm() {
            ok(Command::new("qemu-arm")
                .args(["-L", ARM_SYSROOT, "-E", &format!("LD_LIBRARY_PATH={dir}")])
                .arg(self.path(exe)))
        } else {
            ok(Command::new(self.path(exe)).env("LD_LIBRARY_PATH", &dir))
        }
    }

    /// What the program prints linked by GNU ld from the original objects.
    fn reference_output(&self) -> String {
        let mut args = vec!["main.o".to_string()];
        args.extend(LIBRARY.iter().map(|s| self.object(s).display().to_string()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        self.link(Linker::GnuLd, &args, "reference");
        let out = self.run("reference");
        assert!(out.contains("calls 108 tally 12 bias 3"), "{out}");
        assert!(out.contains("area 9 8 perimeter 12 12"), "{out}");
        assert!(out.contains("step 3 -> 4025 (three) seen 328"), "{out}");
        assert!(out.contains("thrown and caught: -1"), "{out}");
        assert!(out.contains("hidden 9 protected 11"), "{out}");
        out
    }

    /// Relinks the relocatable `object` with `linker` into a program, and into a shared
    /// library a program then uses; both must print `expected`.
    fn relink_and_run(&self, object: &Path, linker: Linker, expected: &str) {
        let object = object.display().to_string();
        let tag = format!("{linker:?}").to_lowercase();
        let exe = format!("program-{tag}");
        self.link(linker, &["main.o", &object], &exe);
        assert_eq!(self.run(&exe), expected, "{:?}: {exe}", self.tc);
        let lib = format!("librelocated-{tag}.so");
        self.link(linker, &["-shared", &object], &lib);
        let user = format!("user-{tag}");
        self.link(
            linker,
            &[
                "main.o",
                &format!("-L{}", self.dir.path().display()),
                &format!("-lrelocated-{tag}"),
            ],
            &user,
        );
        assert_eq!(self.run(&user), expected, "{:?}: {user}", self.tc);
    }
}

/// `eu-elflint --gnu-ld` finds nothing in tether's output that it does not find in GNU ld's
/// (section and symbol numbers aside).
fn check_elflint(ours: &Path, reference: &Path) {
    let lint = |f: &Path| {
        let out = run(Command::new("eu-elflint").arg("--gnu-ld").arg(f));
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        text.lines()
            .filter(|l| !l.trim().is_empty() && l.trim() != "No errors")
            .map(|l| {
                l.chars()
                    .filter(|c| !c.is_ascii_digit())
                    .collect::<String>()
            })
            .collect::<BTreeSet<String>>()
    };
    let theirs = lint(reference);
    let extra: Vec<String> = lint(ours).difference(&theirs).cloned().collect();
    assert!(
        extra.is_empty(),
        "eu-elflint on {} (not on GNU ld's): {extra:#?}",
        ours.display()
    );
}

/// The COMDAT group signatures of a file.
fn groups(file: &Path) -> BTreeSet<String> {
    readelf(&["-gW"], file)
        .lines()
        .filter(|l| l.starts_with("COMDAT group section"))
        .filter_map(|l| Some(l.split('[').nth(2)?.trim_end_matches(']').to_string()))
        .collect()
}

/// Global symbols: name, binding, type, visibility and UND/COM/defined.
fn globals(file: &Path) -> BTreeSet<String> {
    readelf(&["-sW"], file)
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            if f.len() < 8 || f[4] == "LOCAL" || !f[0].ends_with(':') {
                return None;
            }
            let place = match f[6] {
                "UND" | "COM" | "ABS" => f[6],
                _ => "defined",
            };
            Some(format!("{} {} {} {} {place}", f[7], f[4], f[3], f[5]))
        })
        .collect()
}

/// Section names, relocation and group sections aside, and what tether leaves out on
/// purpose: clang's address-significance table (its symbol numbers would go stale).
fn section_names(file: &Path) -> BTreeSet<String> {
    readelf(&["-SW"], file)
        .lines()
        .filter_map(|l| {
            let name = l.split(']').nth(1)?.split_whitespace().next()?;
            let skipped = name.starts_with(".rel") || name == ".group" || name == ".llvm_addrsig";
            (!skipped && l.trim_start().starts_with('[')).then(|| name.to_string())
        })
        .filter(|n| n != "Name" && n != "NULL")
        .collect()
}

/// Every `.ARM.exidx*` section links to the code it describes: `.ARM.exidx.text.f` to
/// `.text.f`, `.ARM.exidx` to `.text`.
fn check_exidx_links(file: &Path) {
    let headers = readelf(&["-SW"], file);
    let sections: Vec<(String, String, String)> = headers
        .lines()
        .filter(|l| !l.contains("[Nr]"))
        .filter_map(|l| {
            let (_, rest) = l.split_once(']')?;
            let f: Vec<&str> = rest.split_whitespace().collect();
            // Name Type Address Off Size ES [Flg] Lk Inf Al
            let link = f.get(f.len().checked_sub(3)?)?;
            Some((
                f.first()?.to_string(),
                f.get(1)?.to_string(),
                link.to_string(),
            ))
        })
        .collect();
    let mut seen = 0;
    for (name, ty, link) in &sections {
        if ty != "ARM_EXIDX" {
            continue;
        }
        seen += 1;
        let code = &sections[link.parse::<usize>().unwrap()].0;
        let wanted = match name.strip_prefix(".ARM.exidx") {
            Some("") => ".text",
            Some(rest) => rest,
            None => unreachable!(),
        };
        assert_eq!(code, wanted, "{name} links to {code}");
    }
    assert!(seen > 1, "{headers}");
}

fn relocatable_library(tc: Tc) {
    let w = Work::new(tc);
    let expected = w.reference_output();
    let objects = w.library_objects();
    let ours = w.relocatable_ok(Linker::Tether, &objects, "tether-r.o");
    let theirs = w.relocatable_ok(Linker::GnuLd, &objects, "gnu-r.o");
    check_readelf(&ours);
    check_elflint(&ours, &theirs);
    assert!(readelf(&["-hW"], &ours).contains("REL (Relocatable file)"));
    let flags = |f: &Path| {
        let header = readelf(&["-hW"], f);
        header
            .lines()
            .find(|l| l.contains("Flags:"))
            .unwrap()
            .to_string()
    };
    assert_eq!(flags(&ours), flags(&theirs), "{tc:?}: e_flags");
    let our_groups = groups(&ours);
    assert!(
        our_groups.iter().any(|g| g.contains("Triangle")),
        "{our_groups:?}"
    );
    assert_eq!(our_groups, groups(&theirs), "{tc:?}: COMDAT groups");
    assert_eq!(globals(&ours), globals(&theirs), "{tc:?}: global symbols");
    let g = globals(&ours);
    assert!(g.contains("tally GLOBAL OBJECT DEFAULT COM"), "{g:?}");
    assert!(g.contains("calls GLOBAL TLS DEFAULT defined"), "{g:?}");
    assert!(g.contains("printf GLOBAL NOTYPE DEFAULT UND"), "{g:?}");
    assert!(
        g.contains("counter_hidden GLOBAL FUNC HIDDEN defined"),
        "{g:?}"
    );
    assert!(
        g.contains("counter_protected GLOBAL FUNC PROTECTED defined"),
        "{g:?}"
    );
    assert!(g.contains("report_bias WEAK FUNC DEFAULT defined"), "{g:?}");
    assert_eq!(
        section_names(&ours),
        section_names(&theirs),
        "{tc:?}: sections"
    );
    // readelf applies an object's relocations to its debug sections before decoding them.
    assert_eq!(
        readelf(&["--debug-dump=info,line"], &ours),
        readelf(&["--debug-dump=info,line"], &theirs),
        "{tc:?}: DWARF"
    );
    if tc.is_arm() {
        assert_eq!(readelf(&["-A"], &ours), readelf(&["-A"], &theirs), "{tc:?}");
        check_exidx_links(&ours);
    }
    for linker in [Linker::GnuLd, Linker::Tether] {
        w.relink_and_run(&ours, linker, &expected);
    }
}

#[test]
fn x86_64_gcc_library_relinks_and_runs() {
    relocatable_library(Tc::X86Gcc);
}

#[test]
fn x86_64_clang_library_relinks_and_runs() {
    relocatable_library(Tc::X86Clang);
}

#[test]
fn arm_thumb_library_relinks_and_runs() {
    relocatable_library(Tc::ArmThumb);
}

#[test]
fn arm_state_library_relinks_and_runs() {
    relocatable_library(Tc::ArmArm);
}

/// `-r` of `-r` outputs: the groups survive a second merge and the result still runs.
fn relocatable_twice(tc: Tc) {
    let w = Work::new(tc);
    let expected = w.reference_output();
    let [counter, report, area, perimeter] = <[PathBuf; 4]>::try_from(w.library_objects()).unwrap();
    let c = w.relocatable_ok(Linker::Tether, &[counter, report], "c-r.o");
    let cxx = w.relocatable_ok(Linker::Tether, &[area, perimeter], "cxx-r.o");
    let all = w.relocatable_ok(Linker::Tether, &[c, cxx], "all-r.o");
    check_readelf(&all);
    let direct = w.relocatable_ok(Linker::GnuLd, &w.library_objects(), "gnu-r.o");
    assert_eq!(groups(&all), groups(&direct));
    assert_eq!(globals(&all), globals(&direct));
    for linker in [Linker::GnuLd, Linker::Tether] {
        w.relink_and_run(&all, linker, &expected);
    }
}

#[test]
fn x86_64_relocatable_of_relocatables_runs() {
    relocatable_twice(Tc::X86Gcc);
}

#[test]
fn arm_relocatable_of_relocatables_runs() {
    relocatable_twice(Tc::ArmThumb);
}

/// With `-r`, an archive gives the members that define names still undefined, as GNU ld:
/// `main.o` pulls `report.o`, which pulls the rest; a member nobody needs stays out.
#[test]
fn archive_members_are_pulled_for_undefined_names() {
    let w = Work::new(Tc::X86Gcc);
    let expected = w.reference_output();
    let unused = w.path("unused.c");
    std::fs::write(&unused, "int unused_function(void) { return 42; }\n").unwrap();
    ok(Command::new("gcc")
        .args(["-c", "-fPIC"])
        .arg(&unused)
        .arg("-o")
        .arg(w.path("unused.o")));
    let mut ar = Command::new("ar");
    ar.arg("rcs")
        .arg(w.path("liball.a"))
        .arg(w.path("unused.o"));
    ok(ar.args(w.library_objects()));
    let inputs = [w.path("main.o"), w.path("liball.a")];
    let ours = w.relocatable_ok(Linker::Tether, &inputs, "tether-r.o");
    let theirs = w.relocatable_ok(Linker::GnuLd, &inputs, "gnu-r.o");
    assert_eq!(globals(&ours), globals(&theirs));
    let g = globals(&ours);
    assert!(g.contains("main GLOBAL FUNC DEFAULT defined"), "{g:?}");
    assert!(g.contains("report GLOBAL FUNC DEFAULT defined"), "{g:?}");
    assert!(!g.iter().any(|s| s.starts_with("unused_function")), "{g:?}");
    let ours = ours.display().to_string();
    w.link(Linker::Tether, &[&ours], "from-archive");
    assert_eq!(w.run("from-archive"), expected);
}

/// The command lines GNU ld refuses with `-r` are refused with its words, and a duplicate
/// definition is an error naming both objects, leaving no output.
#[test]
fn refused_combinations_and_duplicate_definitions() {
    let w = Work::new(Tc::X86Gcc);
    let counter = w.object("counter.c");
    for (extra, message) in [
        ("-shared", "-r and -shared may not be used together"),
        ("-pie", "-r and -pie may not be used together"),
        (
            "--gc-sections",
            "--gc-sections requires a defined symbol root specified by -e or -u",
        ),
    ] {
        let out = run(Command::new(tether())
            .args(["-r", extra])
            .arg(&counter)
            .arg("-o")
            .arg(w.path("refused.o")));
        assert_eq!(out.status.code(), Some(1), "{extra}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(message), "{extra}: {stderr}");
        assert!(!w.path("refused.o").exists());
    }
    // A shared library cannot go into an object.
    w.link(
        Linker::Tether,
        &["-shared", &counter.display().to_string()],
        "libc1.so",
    );
    let out = w.relocatable(
        Linker::Tether,
        &[counter.clone(), w.path("libc1.so")],
        "dso.o",
    );
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("attempted static link of dynamic object") && stderr.contains("libc1.so"),
        "{stderr}"
    );
    assert!(!w.path("dso.o").exists());
    let again = w.path("again.o");
    std::fs::copy(&counter, &again).unwrap();
    let out = w.relocatable(Linker::Tether, &[counter, again], "duplicate.o");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("duplicate symbol: counter_step"),
        "{stderr}"
    );
    assert!(stderr.contains("again.o"), "{stderr}");
    assert!(!w.path("duplicate.o").exists());
}

/// `-Ur` and `--relocatable` are `-r`, and the output is not executable (as GNU ld's).
#[test]
fn spellings_and_mode() {
    use std::os::unix::fs::PermissionsExt;
    let w = Work::new(Tc::X86Gcc);
    for flag in ["-Ur", "--relocatable", "-relocatable"] {
        let out = w.path("spelled.o");
        ok(Command::new(tether())
            .arg(flag)
            .args(w.library_objects())
            .arg("-o")
            .arg(&out));
        assert!(
            readelf(&["-hW"], &out).contains("REL (Relocatable file)"),
            "{flag}"
        );
        let mode = std::fs::metadata(&out).unwrap().permissions().mode();
        assert_eq!(mode & 0o111, 0, "{flag}: mode {mode:o}");
    }
    let help = ok(Command::new(tether()).arg("--help"));
    assert!(help.contains("--relocatable"), "{help}");
}

/// `-S` drops the debugging sections; `-s` also the local symbols no relocation needs, file
/// symbols included; the result still links and runs (as GNU ld's). Section symbols are not
/// compared: GNU ld gives `.group` sections one under `-S`, which nothing refers to.
#[test]
fn strip_options_drop_what_gnu_ld_drops() {
    let w = Work::new(Tc::X86Gcc);
    let expected = w.reference_output();
    let count = |file: &Path, what: &str| {
        readelf(&["-sW"], file)
            .lines()
            .filter(|l| l.contains(what) && !l.contains(" SECTION "))
            .count()
    };
    for flag in ["-S", "-s"] {
        let mut inputs = vec![PathBuf::from(flag)];
        inputs.extend(w.library_objects());
        let ours = w.relocatable_ok(Linker::Tether, &inputs, "stripped-tether.o");
        let theirs = w.relocatable_ok(Linker::GnuLd, &inputs, "stripped-gnu.o");
        check_readelf(&ours);
        assert!(!readelf(&["-SW"], &ours).contains(".debug"), "{flag}");
        assert_eq!(globals(&ours), globals(&theirs), "{flag}");
        assert_eq!(count(&ours, " FILE "), count(&theirs, " FILE "), "{flag}");
        assert_eq!(count(&ours, " LOCAL "), count(&theirs, " LOCAL "), "{flag}");
        let ours = ours.display().to_string();
        w.link(Linker::Tether, &["main.o", &ours], "stripped");
        assert_eq!(w.run("stripped"), expected, "{flag}");
    }
}

/// A relocation whose place lies beyond its section is refused, naming the object, the
/// section and the offset, and no output is left.
#[test]
fn a_relocation_outside_its_section_is_refused_by_name() {
    use object::{Object, ObjectSection};
    let w = Work::new(Tc::X86Gcc);
    let mut bytes = std::fs::read(w.object("counter.c")).unwrap();
    let file = object::read::elf::ElfFile64::<object::Endianness>::parse(&*bytes).unwrap();
    let rela = file
        .sections()
        .find(|s| s.name() == Ok(".rela.text.counter_step"))
        .expect(".rela.text.counter_step");
    let (at, _) = rela.file_range().unwrap();
    let at = at as usize;
    // The first entry's r_offset.
    bytes[at..at + 8].copy_from_slice(&0x10000u64.to_le_bytes());
    std::fs::write(w.path("bad.o"), &bytes).unwrap();
    let out = w.relocatable(Linker::Tether, &[w.path("bad.o")], "bad-r.o");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    for part in [
        "bad.o",
        ".text.counter_step",
        "0x10000",
        "outside the section",
    ] {
        assert!(stderr.contains(part), "{part}: {stderr}");
    }
    assert!(!w.path("bad-r.o").exists());
}

/// gcc's driver passes its LTO plugin to every link, `-r` too: with ordinary objects the
/// plugin claims nothing and the output is the same as without it. LTO objects are refused
/// by name (compiling them as for a final link would drop what they do not use).
#[test]
fn through_the_gcc_driver_with_its_plugin() {
    let w = Work::new(Tc::X86Gcc);
    let expected = w.reference_output();
    let bin = format!("-B{}/", w.path("bin").display());
    ok(Command::new("gcc")
        .arg(&bin)
        .arg("-r")
        .args(w.library_objects())
        .arg("-o")
        .arg(w.path("driver-r.o")));
    let direct = w.relocatable_ok(Linker::Tether, &w.library_objects(), "direct-r.o");
    assert_eq!(globals(&w.path("driver-r.o")), globals(&direct));
    let driven = w.path("driver-r.o").display().to_string();
    w.link(Linker::Tether, &["main.o", &driven], "driven");
    assert_eq!(w.run("driven"), expected);

    ok(Command::new("gcc")
        .args(["-O2", "-flto", "-c"])
        .arg(Path::new(FIXTURES).join("counter.c"))
        .arg("-o")
        .arg(w.path("lto.o")));
    let out = run(Command::new("gcc")
        .arg(&bin)
        .arg("-r")
        .arg(w.path("lto.o"))
        .arg("-o")
        .arg(w.path("lto-r.o")));
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("lto.o: -r with LTO objects"), "{stderr}");
    assert!(!w.path("lto-r.o").exists());
}

/// `-u` leaves its name undefined in the output and `--defsym` defines a number or an
/// alias, as GNU ld's `-r` does.
#[test]
fn undefined_and_defsym_names_reach_the_symbol_table() {
    let w = Work::new(Tc::X86Gcc);
    let mut inputs = [
        "-u",
        "wanted_later",
        "--defsym=answer=42",
        "--defsym=step=counter_step",
    ]
    .map(PathBuf::from)
    .to_vec();
    inputs.extend(w.library_objects());
    let ours = w.relocatable_ok(Linker::Tether, &inputs, "tether-r.o");
    let theirs = w.relocatable_ok(Linker::GnuLd, &inputs, "gnu-r.o");
    let g = globals(&ours);
    assert!(
        g.contains("wanted_later GLOBAL NOTYPE DEFAULT UND"),
        "{g:?}"
    );
    assert!(g.contains("answer GLOBAL NOTYPE DEFAULT ABS"), "{g:?}");
    assert!(g.contains("step GLOBAL FUNC DEFAULT defined"), "{g:?}");
    assert_eq!(g, globals(&theirs));
}

/// A real library: libcrypto.a (libssl-dev), every member, merged by `-r` and relinked by
/// GNU ld and by ld.tether into a shared library and into a program that hash "abc".
#[test]
fn libcrypto_merged_by_r_still_hashes() {
    const LIBCRYPTO: &str = "/usr/lib/x86_64-linux-gnu/libcrypto.a";
    common::require("gcc", "gcc");
    assert!(
        Path::new(LIBCRYPTO).is_file(),
        "this test needs {LIBCRYPTO}: install the Debian package `libssl-dev`"
    );
    let w = Work::new(Tc::X86Gcc);
    let inputs = ["--whole-archive", LIBCRYPTO].map(PathBuf::from);
    let ours = w.relocatable_ok(Linker::Tether, &inputs, "crypto-r.o");
    check_readelf(&ours);
    common::check_elflint(&ours);
    std::fs::write(
        w.path("sha.c"),
        r#"#include <stdio.h>
#include <openssl/sha.h>
int main(void)
{
    unsigned char d[SHA256_DIGEST_LENGTH];
    SHA256((const unsigned char *)"abc", 3, d);
    for (int i = 0; i < SHA256_DIGEST_LENGTH; i++)
        printf("%02x", d[i]);
    printf("\n");
    return 0;
}
"#,
    )
    .unwrap();
    ok(Command::new("gcc")
        .args(["-O1", "-c", "sha.c", "-o", "sha.o"])
        .current_dir(w.dir.path()));
    const DIGEST: &str = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\n";
    let ours = ours.display().to_string();
    let dir = format!("-L{}", w.dir.path().display());
    for linker in [Linker::GnuLd, Linker::Tether] {
        let tag = format!("{linker:?}").to_lowercase();
        w.link(linker, &["sha.o", &ours, "-lz"], &format!("sha-{tag}"));
        assert_eq!(w.run(&format!("sha-{tag}")), DIGEST, "{linker:?} program");
        w.link(
            linker,
            &["-shared", &ours, "-lz"],
            &format!("libcr-{tag}.so"),
        );
        w.link(
            linker,
            &["sha.o", &dir, &format!("-lcr-{tag}")],
            &format!("sha-so-{tag}"),
        );
        assert_eq!(
            w.run(&format!("sha-so-{tag}")),
            DIGEST,
            "{linker:?} library"
        );
    }
}

/// Another real library, on both targets: all of libstdc++.a merged by `-r`, then a C++
/// program linked against that object (by the C driver, so the archive itself is not used)
/// with GNU ld and with ld.tether.
fn libstdcxx_merged_by_r_still_runs(tc: Tc) {
    let w = Work::new(tc);
    let archive = ok(tc.compiler(true).arg("-print-file-name=libstdc++.a"));
    let archive = PathBuf::from(archive.trim());
    assert!(archive.is_file(), "{}", archive.display());
    let ours = w.relocatable_ok(
        Linker::Tether,
        &[PathBuf::from("--whole-archive"), archive.clone()],
        "stdcxx-r.o",
    );
    let theirs = w.relocatable_ok(
        Linker::GnuLd,
        &[PathBuf::from("--whole-archive"), archive],
        "stdcxx-gnu-r.o",
    );
    check_readelf(&ours);
    check_elflint(&ours, &theirs);
    assert_eq!(groups(&ours), groups(&theirs), "{tc:?}");
    assert_eq!(section_names(&ours), section_names(&theirs), "{tc:?}");
    // Every member has the same x86 CET property note: the output keeps it.
    let notes = |f: &Path| {
        let text = readelf(&["-n"], f);
        text.split("Displaying notes found in:")
            .map(|block| block.trim().to_string())
            .collect::<BTreeSet<String>>()
    };
    assert_eq!(notes(&ours), notes(&theirs), "{tc:?}");
    ok(tc
        .compiler(true)
        .args(["-O1", "-c"])
        .arg(Path::new(FIXTURES).join("stdcxx_user.cpp"))
        .arg("-o")
        .arg(w.path("user.o")));
    let ours = ours.display().to_string();
    for linker in [Linker::GnuLd, Linker::Tether] {
        let exe = format!("user-{linker:?}");
        let mut cmd = tc.compiler(false);
        match linker {
            Linker::Tether => cmd.arg(format!("-B{}/", w.path("bin").display())),
            Linker::GnuLd => cmd.arg("-fuse-ld=bfd"),
        };
        ok(cmd
            .args(["user.o", &ours, "-lm", "-o", &exe])
            .current_dir(w.dir.path()));
        assert_eq!(
            w.run(&exe),
            "caught boom\nk0=0\nk1=1\nk2=4\nk3=9\n",
            "{tc:?} {linker:?}"
        );
    }
}

#[test]
fn x86_64_libstdcxx_merged_by_r_still_runs() {
    libstdcxx_merged_by_r_still_runs(Tc::X86Gcc);
}

#[test]
fn arm_libstdcxx_merged_by_r_still_runs() {
    libstdcxx_merged_by_r_still_runs(Tc::ArmThumb);
}

/// More than 0xff00 output sections: section indices of symbols go through
/// `.symtab_shndx`, the section count and string-table index through section 0, and the
/// program linked from the output still reaches the function in the last sections.
#[test]
fn more_sections_than_sixteen_bits_index() {
    let w = Work::new(Tc::X86Gcc);
    let mut text = String::new();
    for i in 0..66_000 {
        text.push_str(&format!(
            ".section .text.f{i},\"ax\",@progbits\n.globl f{i}\nf{i}: mov ${}, %eax\nret\n",
            i % 100
        ));
    }
    text.push_str(
        ".text\n.globl main\nmain: jmp f65999\n.section .note.GNU-stack,\"\",@progbits\n",
    );
    std::fs::write(w.path("many.s"), text).unwrap();
    ok(Command::new("as")
        .arg(w.path("many.s"))
        .arg("-o")
        .arg(w.path("many.o")));
    let ours = w.relocatable_ok(Linker::Tether, &[w.path("many.o")], "many-r.o");
    check_readelf(&ours);
    let header = readelf(&["-hW"], &ours);
    assert!(
        header.contains("Number of section headers:         0 (66"),
        "{header}"
    );
    let symbols = readelf(&["-sW"], &ours);
    assert!(
        symbols.contains("FUNC    GLOBAL DEFAULT 66")
            || symbols.contains("NOTYPE  GLOBAL DEFAULT 66"),
        "no global in a section beyond 0xff00"
    );
    let ours = ours.display().to_string();
    for linker in [Linker::GnuLd, Linker::Tether] {
        w.link(linker, &["-no-pie", &ours], "many");
        let status = Command::new(w.path("many")).status().unwrap();
        assert_eq!(status.code(), Some(99), "{linker:?}");
        check_readelf(&w.path("many"));
    }
    // A final link of the object itself (with its own .symtab_shndx) is as clean.
    let many = w.path("many.o").display().to_string();
    w.link(Linker::Tether, &["-no-pie", &many], "direct");
    check_readelf(&w.path("direct"));
}
