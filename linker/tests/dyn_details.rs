//! Dynamic details compared with GNU ld on the same gcc objects: packed relative relocations
//! (`-z pack-relative-relocs`, DT_RELR) on both targets, x86-64's `.note.gnu.property`
//! (IBT/SHSTK, `-z ibt|shstk|cet-report`), `.plt.got`, and `-z [no]dynamic-undefined-weak`.

mod common;
use common::*;
use std::path::{Path, PathBuf};
use std::process::Command;

const ARM_CC: &str = "arm-linux-gnueabihf-gcc";
const SYSROOT: &str = "/usr/arm-linux-gnueabihf";

/// 300 pointers into a static array (every fourth null), byte pointers, and a pointer at an
/// odd offset of a packed struct, which stays an ordinary RELATIVE relocation.
const POINTERS_C: &str = r#"
#include <stdio.h>
int say(const char *s) { return puts(s); }
#define N 300
static int vals[N];
#define P4(i) &vals[i], &vals[i + 1], &vals[i + 2], 0,
#define P28(i) P4(i) P4(i + 4) P4(i + 8) P4(i + 12) P4(i + 16) P4(i + 20) P4(i + 24)
int *ptrs[N] = {
  P28(0) P28(28) P28(56) P28(84) P28(112) P28(140) P28(168) P28(196) P28(224) P28(252)
  P4(280) P4(284) P4(288) P4(292) P4(296)
};
static char bytes[50];
char *odd[] = { &bytes[1], &bytes[3], 0, &bytes[7] };
struct __attribute__((packed)) { char c; int *p; } unaligned = { 1, &vals[5] };
static int *local_ptr(void) { return &vals[7]; }
int *(*volatile fp)(void) = local_ptr;
int bad_pointers(void) {
  int bad = 0;
  for (int i = 0; i < N; i++)
    if (ptrs[i] != (i % 4 == 3 ? 0 : &vals[i])) bad++;
  if (odd[0] != &bytes[1] || odd[1] != &bytes[3] || odd[2] || odd[3] != &bytes[7]) bad++;
  if (unaligned.p != &vals[5]) bad++;
  if (fp() != &vals[7]) bad++;
  return bad;
}
"#;

/// A program with pointers of its own (a PIE packs them too) that calls the library.
const MAIN_C: &str = r#"
#include <stdio.h>
int bad_pointers(void);
static const char *names[] = { "relr", "ok" };
int main(void) {
  printf("%s %s %d\n", names[0], names[1], bad_pointers());
  return 0;
}
"#;

/// The two ends of a link, each a compiler driver that uses one linker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ld {
    Gnu,
    Tether,
}

impl Ld {
    fn tag(self) -> &'static str {
        match self {
            Ld::Gnu => "gnu",
            Ld::Tether => "tether",
        }
    }
}

/// Compiles `source` with `cc` and `flags`, linking with `ld` into `out` in `w`.
fn build(w: &Work, cc: &str, ld: Ld, out: &str, source: &str, flags: &[&str]) -> PathBuf {
    let src = w.path(&format!("{out}.c"));
    std::fs::write(&src, source).expect("write source");
    let mut cmd = Command::new(cc);
    if ld == Ld::Tether {
        cmd.arg(format!("-B{}/", w.path("bin").display()));
    }
    cmd.args(["-O2", "-o", out])
        .arg(&src)
        .args(flags)
        .current_dir(w.dir.path());
    ok(&mut cmd);
    w.path(out)
}

/// How many words `.relr.dyn` relocates (readelf's "N offsets"), 0 without one.
fn relr_offsets(file: &Path) -> usize {
    readelf(&["-rW"], file)
        .lines()
        .find_map(|l| l.trim().strip_suffix(" offsets")?.trim().parse().ok())
        .unwrap_or(0)
}

/// Relocations of `r_type` (`R_X86_64_RELATIVE`, `R_ARM_RELATIVE`) in the REL/RELA tables.
fn count_type(file: &Path, r_type: &str) -> usize {
    readelf(&["-rW"], file)
        .lines()
        .filter(|l| l.split_whitespace().nth(2) == Some(r_type))
        .count()
}

/// The `.dynamic` tag names present.
fn tags(file: &Path) -> Vec<String> {
    readelf(&["-dW"], file)
        .lines()
        .filter_map(|l| {
            Some(
                l.split_whitespace()
                    .nth(1)?
                    .trim_matches(['(', ')'])
                    .to_string(),
            )
        })
        .collect()
}

fn needs_relr_version(file: &Path) -> bool {
    readelf(&["-VW"], file).contains("Name: GLIBC_ABI_DT_RELR")
}

/// eu-elflint's messages with section numbers left out (the two linkers number alike
/// sections differently), without its "No errors".
fn elflint_messages(file: &Path) -> Vec<String> {
    require("eu-elflint", "elfutils");
    let out = run(Command::new("eu-elflint").arg("--gnu-ld").arg(file));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| match l.split_once("] ") {
            Some((_, rest)) if l.starts_with("section [") => rest.to_string(),
            _ => l.to_string(),
        })
        .filter(|l| l != "No errors")
        .collect()
}

fn qemu_arm(program: &Path, dir: &Path) -> String {
    require("qemu-arm", "qemu-user");
    ok(Command::new("qemu-arm")
        .args(["-L", SYSROOT, "-U", "LD_BIND_NOW", "-E"])
        .arg(format!("LD_LIBRARY_PATH={}", dir.display()))
        .arg(program))
}

/// Links the pointer library and the program with `ld` and `pack` flags; returns both.
fn link_pointers(w: &Work, cc: &str, ld: Ld, suffix: &str, pack: &[&str]) -> (PathBuf, PathBuf) {
    let lib_name = format!("libptr{suffix}.so");
    let mut lib_flags = vec!["-fPIC", "-shared"];
    lib_flags.extend(pack);
    let lib = build(w, cc, ld, &lib_name, POINTERS_C, &lib_flags);
    let link_lib = format!("-l:{lib_name}");
    let mut main_flags = vec!["-L.", link_lib.as_str()];
    main_flags.extend(pack);
    let main = build(w, cc, ld, &format!("main{suffix}"), MAIN_C, &main_flags);
    (lib, main)
}

#[test]
fn relr_x86_64_is_what_gnu_ld_packs() {
    let w = Work::new();
    let pack = ["-Wl,-z,pack-relative-relocs"];
    let mut seen = Vec::new();
    for ld in [Ld::Gnu, Ld::Tether] {
        let (lib, main) = link_pointers(&w, "gcc", ld, ld.tag(), &pack);
        let out = ok(Command::new(&main)
            .env("LD_LIBRARY_PATH", w.dir.path())
            .env_remove("LD_BIND_NOW"));
        assert_eq!(out, "relr ok 0\n", "{ld:?}");
        for file in [&lib, &main] {
            let t = tags(file);
            for tag in ["RELR", "RELRSZ", "RELRENT"] {
                assert!(
                    t.iter().any(|x| x == tag),
                    "{ld:?} {file:?}: no {tag}: {t:?}"
                );
            }
            assert!(
                needs_relr_version(file),
                "{ld:?} {file:?}: no GLIBC_ABI_DT_RELR"
            );
            check_readelf(file);
        }
        seen.push((
            relr_offsets(&lib),
            count_type(&lib, "R_X86_64_RELATIVE"),
            relr_offsets(&main),
            count_type(&main, "R_X86_64_RELATIVE"),
            elflint_messages(&lib),
        ));
    }
    // The same words packed, the same left (the unaligned pointer) as RELATIVE.
    let (gnu, ours) = (&seen[0], &seen[1]);
    assert_eq!(gnu, ours, "GNU ld (left) and tether (right)");
    // 225 in `ptrs`, 3 in `odd`, the function pointer, the toolchain's own.
    assert!(gnu.0 > 225 + 3, "{gnu:?}");
    assert_eq!(gnu.1, 1, "the unaligned pointer stays RELATIVE");
}

#[test]
fn relr_packs_every_relative_relocation_nopack_keeps() {
    let w = Work::new();
    let (packed, _) = link_pointers(
        &w,
        "gcc",
        Ld::Tether,
        "-p",
        &["-Wl,-z,pack-relative-relocs"],
    );
    let (plain, _) = link_pointers(
        &w,
        "gcc",
        Ld::Tether,
        "-n",
        &[
            "-Wl,-z,pack-relative-relocs",
            "-Wl,-z,nopack-relative-relocs",
        ],
    );
    assert_eq!(
        relr_offsets(&packed) + count_type(&packed, "R_X86_64_RELATIVE"),
        count_type(&plain, "R_X86_64_RELATIVE")
    );
    assert_eq!(relr_offsets(&plain), 0);
    assert!(!tags(&plain).iter().any(|t| t == "RELR"));
    assert!(!needs_relr_version(&plain));
    // GNU ld agrees on the last word.
    let (gnu_plain, _) = link_pointers(
        &w,
        "gcc",
        Ld::Gnu,
        "-gn",
        &[
            "-Wl,-z,pack-relative-relocs",
            "-Wl,-z,nopack-relative-relocs",
        ],
    );
    assert_eq!(relr_offsets(&gnu_plain), 0);
}

/// GNU ld 2.40 ignores `-z pack-relative-relocs` on ARM (with a warning); tether packs, as
/// lld does, and glibc 2.36's loader applies it under qemu-arm.
#[test]
fn relr_arm_loads_under_glibc() {
    require(ARM_CC, "gcc-arm-linux-gnueabihf");
    let w = Work::new();
    for (mode, suffix) in [("-mthumb", "t"), ("-marm", "a")] {
        let pack = [mode, "-Wl,-z,pack-relative-relocs"];
        let (lib, main) = link_pointers(&w, ARM_CC, Ld::Tether, suffix, &pack);
        assert_eq!(qemu_arm(&main, w.dir.path()), "relr ok 0\n", "{mode}");
        for file in [&lib, &main] {
            check_readelf(file);
            assert!(needs_relr_version(file), "{file:?}");
        }
        let plain_suffix = format!("{suffix}-plain");
        let (plain, _) = link_pointers(&w, ARM_CC, Ld::Tether, &plain_suffix, &[mode]);
        let packed = relr_offsets(&lib);
        assert!(packed > 225 + 3, "{mode}: {packed}");
        assert_eq!(
            packed + count_type(&lib, "R_ARM_RELATIVE"),
            count_type(&plain, "R_ARM_RELATIVE"),
            "{mode}"
        );
        assert_eq!(
            count_type(&lib, "R_ARM_RELATIVE"),
            1,
            "{mode}: the unaligned pointer"
        );
        // The addend stays in place (REL): the word holds the link-time address.
        let gnu_messages = {
            let (gnu, _) = link_pointers(&w, ARM_CC, Ld::Gnu, &format!("{suffix}-gnu"), &[mode]);
            elflint_messages(&gnu)
        };
        let ours: Vec<String> = elflint_messages(&lib)
            .into_iter()
            .filter(|m| !m.contains(".relr.dyn"))
            .collect();
        assert_eq!(
            ours, gnu_messages,
            "{mode}: eu-elflint beyond the RELR section"
        );
    }
}

/// A program whose weak references no library defines.
const WEAK_C: &str = r#"
#include <stdio.h>
extern int wfun(void) __attribute__((weak));
extern int wvar __attribute__((weak));
int main(void) { printf("%d %d\n", wfun ? wfun() : -1, &wvar ? wvar : -2); return 0; }
"#;

/// The library form: the same references from a shared library.
const WEAK_LIB_C: &str = r#"
extern int wfun(void) __attribute__((weak));
extern int wvar __attribute__((weak));
int f(void) { return (wfun ? wfun() : -1) + (&wvar ? wvar : -2); }
"#;

/// (`.dynsym` entries naming the weak symbols, their dynamic relocations other than
/// JUMP_SLOT) — JUMP_SLOT is left out: GNU ld reaches `wfun` through `.plt.got`.
fn weak_dynamic(file: &Path) -> (usize, Vec<String>) {
    let dynsym = readelf(&["--dyn-syms", "-W"], file)
        .lines()
        .filter(|l| l.ends_with(" wfun") || l.ends_with(" wvar"))
        .count();
    let mut relocs: Vec<String> = readelf(&["-rW"], file)
        .lines()
        .filter(|l| l.contains(" wfun") || l.contains(" wvar"))
        .filter_map(|l| l.split_whitespace().nth(2).map(str::to_string))
        .filter(|t| !t.ends_with("JUMP_SLOT"))
        .collect();
    relocs.sort();
    (dynsym, relocs)
}

/// x86-64: undefined weak symbols are dynamic by default, in programs (PIE and not) and
/// libraries; `-z nodynamic-undefined-weak` resolves them to 0 with nothing left for the
/// loader. ARM's GNU ld accepts both keywords and keeps them dynamic.
#[test]
fn dynamic_undefined_weak_as_gnu_ld() {
    let w = Work::new();
    for cc in ["gcc", ARM_CC] {
        if cc == ARM_CC {
            require(ARM_CC, "gcc-arm-linux-gnueabihf");
        }
        for mode in ["-pie", "-no-pie", "-shared"] {
            for z in [
                None,
                Some("-Wl,-z,dynamic-undefined-weak"),
                Some("-Wl,-z,nodynamic-undefined-weak"),
            ] {
                let mut results = Vec::new();
                for ld in [Ld::Gnu, Ld::Tether] {
                    let name = format!("weak-{}-{}{}", ld.tag(), mode, z.map_or(0, |s| s.len()));
                    let (source, mut flags) = match mode {
                        "-shared" => (WEAK_LIB_C, vec!["-fPIC", "-shared"]),
                        _ => (WEAK_C, vec![mode]),
                    };
                    flags.extend(z);
                    let out = build(&w, cc, ld, &name, source, &flags);
                    if mode != "-shared" {
                        let printed = if cc == ARM_CC {
                            qemu_arm(&out, w.dir.path())
                        } else {
                            ok(&mut Command::new(&out))
                        };
                        assert_eq!(printed, "-1 -2\n", "{cc} {mode} {z:?} {ld:?}");
                    }
                    results.push(weak_dynamic(&out));
                }
                assert_eq!(results[0], results[1], "{cc} {mode} {z:?}: GNU ld, tether");
                let expect_static = cc == "gcc" && z == Some("-Wl,-z,nodynamic-undefined-weak");
                assert_eq!(results[1].0 == 0, expect_static, "{cc} {mode} {z:?}");
            }
        }
    }
}

const PLT_GOT_LIB_C: &str = r#"
extern int ext(int);
int (*getp(void))(int) { return ext; }
int callit(int x) { return ext(x) + 1; }
int own(int x) { return x * 2; }
int (*getown(void))(int) { return own; }
int callown(int x) { return own(x); }
"#;

const PLT_GOT_MAIN_C: &str = r#"
#include <stdio.h>
int (*getp(void))(int); int callit(int); int (*getown(void))(int); int callown(int);
int ext(int);
extern int wfun(void) __attribute__((weak));
int main(void) {
  printf("%d %d %d %d %d %d\n", getp()(1), callit(2), getown()(3), callown(4), getp() == ext,
         wfun ? wfun() : -1);
  return 0;
}
"#;

/// Dynamic relocations by kind and symbol (RELATIVE left out: layouts differ), sorted,
/// without symbol versions (GNU ld does not keep `libc.so.6` needed for a library's only
/// weak reference, `__cxa_finalize`, so it has no version there; tether does).
fn symbolic_relocs(file: &Path) -> Vec<String> {
    let mut v: Vec<String> = readelf(&["-rW"], file)
        .lines()
        .filter(|l| l.contains("R_X86_64_") && !l.contains("RELATIVE"))
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let name = f.get(4).unwrap_or(&"").split('@').next().unwrap_or("");
            Some(format!("{} {name}", f.get(2)?))
        })
        .collect();
    v.sort();
    v
}

/// A function both called and loaded through the GOT gets one GLOB_DAT slot and a `.plt.got`
/// entry (`jmp *slot(%rip)`), no JUMP_SLOT, in libraries and programs, lazily and with
/// `-z now`, as GNU ld does; a function whose address non-PIC code takes keeps its canonical
/// PLT entry.
#[test]
fn plt_got_as_gnu_ld() {
    let w = Work::new();
    build(
        &w,
        "gcc",
        Ld::Tether,
        "libpge.so",
        "int ext(int x) { return x + 100; }\n",
        &["-fPIC", "-shared"],
    );
    for z in [None, Some("-Wl,-z,now")] {
        let mut seen = Vec::new();
        for ld in [Ld::Gnu, Ld::Tether] {
            let lib = format!("libpgl{}.so", ld.tag());
            let mut flags = vec!["-fPIC", "-shared", "-L.", "-lpge"];
            flags.extend(z);
            let lib_path = build(&w, "gcc", ld, &lib, PLT_GOT_LIB_C, &flags);
            let plt_got = readelf(&["-SW"], &lib_path).contains(".plt.got");
            assert!(plt_got, "{ld:?} {z:?}: no .plt.got in the library");
            let mut row = vec![symbolic_relocs(&lib_path)];
            for mode in ["-pie", "-no-pie"] {
                let exe = format!("pgm{}{mode}", ld.tag());
                let link_lib = format!("-l:{lib}");
                let mut flags = vec![mode, "-L.", link_lib.as_str(), "-lpge"];
                flags.extend(z);
                let exe = build(&w, "gcc", ld, &exe, PLT_GOT_MAIN_C, &flags);
                for bind_now in [false, true] {
                    let mut cmd = Command::new(&exe);
                    cmd.env("LD_LIBRARY_PATH", w.dir.path());
                    if bind_now {
                        cmd.env("LD_BIND_NOW", "1");
                    } else {
                        cmd.env_remove("LD_BIND_NOW");
                    }
                    assert_eq!(ok(&mut cmd), "101 103 6 8 1 -1\n", "{ld:?} {mode} {z:?}");
                }
                check_readelf(&exe);
                row.push(symbolic_relocs(&exe));
            }
            check_readelf(&lib_path);
            check_elflint(&lib_path);
            seen.push(row);
        }
        assert_eq!(seen[0], seen[1], "{z:?}: GNU ld (left), tether (right)");
        let lib = &seen[1][0];
        assert!(lib.iter().any(|r| r == "R_X86_64_GLOB_DAT ext"), "{lib:?}");
        assert!(
            !lib.iter().any(|r| r.starts_with("R_X86_64_JUMP_SLOT")),
            "{lib:?}"
        );
    }
    // The entry itself: `jmp *disp(%rip)` then a two-byte nop, reaching the GLOB_DAT slot.
    let lib = w.path("libpgltether.so");
    let text = ok(Command::new("objdump")
        .args(["-d", "-j", ".plt.got"])
        .arg(&lib));
    assert!(
        text.contains("jmp    *0x") && text.contains("xchg   %ax,%ax"),
        "{text}"
    );
}

/// The notes' properties as readelf prints them (`Properties: ...`), and the program
/// headers that carry them: (p_type, offset, alignment) of PT_NOTE and PT_GNU_PROPERTY.
fn property_view(file: &Path) -> (Vec<String>, Vec<String>) {
    let props = readelf(&["-nW"], file)
        .lines()
        .filter_map(|l| Some(l.split_once("Properties:")?.1.trim().to_string()))
        .collect();
    let phdrs = readelf(&["-lW"], file)
        .lines()
        .filter(|l| {
            l.trim_start().starts_with("NOTE") || l.trim_start().starts_with("GNU_PROPERTY")
        })
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            format!("{} {} {}", f[0], f[1], f[f.len() - 1])
        })
        .collect();
    (props, phdrs)
}

/// x86-64 `.note.gnu.property`: gcc objects without `-fcf-protection` clear IBT/SHSTK while
/// crt1's ISA-needed property survives (OR); `-fcf-protection` objects keep them only if
/// every object has them (crti.o does not); `-z ibt`/`-z shstk` force them. Note,
/// PT_NOTE split by alignment and PT_GNU_PROPERTY as GNU ld's, the program runs.
#[test]
fn gnu_property_as_gnu_ld() {
    let w = Work::new();
    let cases: [&[&str]; 5] = [
        &[],
        &["-fcf-protection"],
        &["-Wl,-z,ibt,-z,shstk"],
        &["-Wl,-z,shstk"],
        &["-fcf-protection", "-shared", "-fPIC", "-nostartfiles"],
    ];
    for (i, flags) in cases.iter().enumerate() {
        let mut seen = Vec::new();
        for ld in [Ld::Gnu, Ld::Tether] {
            let out = build(
                &w,
                "gcc",
                ld,
                &format!("prop{i}{}", ld.tag()),
                MAIN_PROPS_C,
                flags,
            );
            if !flags.contains(&"-shared") {
                assert_eq!(ok(&mut Command::new(&out)), "props\n", "{flags:?} {ld:?}");
            }
            check_readelf(&out);
            seen.push(property_view(&out));
        }
        assert_eq!(seen[0], seen[1], "{flags:?}: GNU ld (left), tether (right)");
        assert!(!seen[1].0.is_empty(), "{flags:?}: no property note");
    }
    // -z ibt marks the output: both properties and the IBT PLT.
    let ibt = w.path("prop2tether");
    let notes = readelf(&["-nW"], &ibt);
    assert!(notes.contains("x86 feature: IBT, SHSTK"), "{notes}");
    assert!(readelf(&["-SW"], &ibt).contains(".plt.sec"));
    check_elflint(&ibt);
}

const MAIN_PROPS_C: &str = "#include <stdio.h>\nint main(void) { puts(\"props\"); return 0; }\n";

/// `-z cet-report=warning` names every object lacking IBT or SHSTK and links;
/// `=error` fails with the same names and leaves no output; `=none` is silent.
#[test]
fn cet_report_names_objects_lacking_properties() {
    let w = Work::new();
    // "(file): ... missing X" as "basename: missing X", however the linker frames it.
    let lines = |stderr: &[u8]| -> Vec<String> {
        let mut v: Vec<String> = String::from_utf8_lossy(stderr)
            .lines()
            .filter_map(|l| {
                let missing = &l[l.find("missing ")?..];
                let file = l.split_whitespace().find(|t| t.ends_with(".o:"))?;
                let file = file.trim_end_matches(':').rsplit('/').next()?;
                Some(format!("{file}: {missing}"))
            })
            .collect();
        v.sort();
        v
    };
    for level in ["warning", "error"] {
        let mut reports = Vec::new();
        for ld in [Ld::Gnu, Ld::Tether] {
            let src = w.path("cet.c");
            std::fs::write(&src, MAIN_PROPS_C).expect("write");
            let name = format!("cet-{level}-{}", ld.tag());
            let mut cmd = Command::new("gcc");
            if ld == Ld::Tether {
                cmd.arg(format!("-B{}/", w.path("bin").display()));
            }
            cmd.args(["-fcf-protection", "-O2", "-o", &name])
                .arg(&src)
                .arg(format!("-Wl,-z,cet-report={level}"))
                .current_dir(w.dir.path());
            let out = run(&mut cmd);
            assert_eq!(out.status.success(), level == "warning", "{ld:?} {level}");
            assert_eq!(w.path(&name).exists(), level == "warning", "{ld:?} {level}");
            let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
            assert!(stderr.contains(&format!("{level}: ")), "{ld:?}: {stderr}");
            reports.push(lines(&out.stderr));
        }
        assert_eq!(
            reports[0], reports[1],
            "{level}: GNU ld (left), tether (right)"
        );
        assert!(
            reports[1]
                .iter()
                .any(|l| l == "crti.o: missing IBT and SHSTK properties"),
            "{:?}",
            reports[1]
        );
    }
    let quiet = run(Command::new(tether())
        .args(["-z", "cet-report=none", "-z", "cet-report=loud"])
        .current_dir(w.dir.path()));
    assert_eq!(quiet.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&quiet.stderr).contains("cet-report"));
}

/// The IBT PLT (`-z ibtplt`; `-z ibt` also marks the output): `.plt`, `.plt.got` and
/// `.plt.sec` sized and aligned as GNU ld's, the same instructions, and the program runs
/// lazily and with LD_BIND_NOW.
#[test]
fn ibt_plt_as_gnu_ld() {
    let w = Work::new();
    build(
        &w,
        "gcc",
        Ld::Tether,
        "libpge.so",
        "int ext(int x) { return x + 100; }\n",
        &["-fPIC", "-shared"],
    );
    build(
        &w,
        "gcc",
        Ld::Tether,
        "libpgl.so",
        PLT_GOT_LIB_C,
        &["-fPIC", "-shared", "-L.", "-lpge"],
    );
    for mode in ["-pie", "-no-pie"] {
        for z in ["-Wl,-z,ibtplt", "-Wl,-z,ibt"] {
            let mut seen = Vec::new();
            for ld in [Ld::Gnu, Ld::Tether] {
                let name = format!("ibt{mode}{}{}", z.len(), ld.tag());
                let exe = build(
                    &w,
                    "gcc",
                    ld,
                    &name,
                    PLT_GOT_MAIN_C,
                    &[mode, "-L.", "-lpgl", "-lpge", z],
                );
                for bind_now in [false, true] {
                    let mut cmd = Command::new(&exe);
                    cmd.env("LD_LIBRARY_PATH", w.dir.path());
                    match bind_now {
                        true => cmd.env("LD_BIND_NOW", "1"),
                        false => cmd.env_remove("LD_BIND_NOW"),
                    };
                    assert_eq!(ok(&mut cmd), "101 103 6 8 1 -1\n", "{ld:?} {mode} {z}");
                }
                check_readelf(&exe);
                check_elflint(&exe);
                let sections: Vec<String> = readelf(&["-SW"], &exe)
                    .lines()
                    .filter(|l| l.contains(" .plt"))
                    .map(|l| {
                        let f: Vec<&str> = l.split_whitespace().collect();
                        let at = f.iter().position(|x| x.starts_with(".plt")).unwrap_or(0);
                        format!("{} size {} align {}", f[at], f[at + 4], f[f.len() - 1])
                    })
                    .collect();
                let mut insns: Vec<String> = ok(Command::new("objdump")
                    .args([
                        "-d",
                        "--no-addresses",
                        "-j",
                        ".plt",
                        "-j",
                        ".plt.sec",
                        "-j",
                        ".plt.got",
                    ])
                    .arg(&exe))
                .lines()
                .filter_map(|l| {
                    l.split('\t')
                        .nth(2)
                        .map(|m| m.split_whitespace().next().unwrap_or("").to_string())
                })
                .collect();
                insns.sort();
                seen.push((sections, insns));
            }
            assert_eq!(
                seen[0], seen[1],
                "{mode} {z}: GNU ld (left), tether (right)"
            );
            assert!(
                seen[1].0.iter().any(|s| s.starts_with(".plt.sec")),
                "{:?}",
                seen[1].0
            );
            assert!(seen[1].1.iter().any(|i| i == "endbr64"));
        }
    }
}

/// ARM's GNU ld ignores the x86 keywords (and `-z [no]dynamic-undefined-weak`) with a warning
/// each; so does tether, and `--fatal-warnings` makes that an error in both.
#[test]
fn x86_keywords_are_ignored_on_arm_with_gnu_lds_warning() {
    require(ARM_CC, "gcc-arm-linux-gnueabihf");
    let w = Work::new();
    let obj = w.path("a.o");
    std::fs::write(w.path("a.c"), WEAK_LIB_C).expect("write");
    ok(Command::new(ARM_CC)
        .args(["-fPIC", "-O2", "-c", "a.c", "-o"])
        .arg(&obj)
        .current_dir(w.dir.path()));
    for k in [
        "ibt",
        "ibtplt",
        "shstk",
        "cet-report=error",
        "dynamic-undefined-weak",
        "nodynamic-undefined-weak",
    ] {
        let mut messages = Vec::new();
        for (linker, tag) in [
            (
                PathBuf::from("arm-linux-gnueabihf-ld"),
                "arm-linux-gnueabihf-ld: ",
            ),
            (tether(), "ld.tether: "),
        ] {
            let args = ["-shared", "-z", k, "a.o", "-o", "a.so"];
            let out = run(Command::new(&linker).args(args).current_dir(w.dir.path()));
            assert!(out.status.success(), "{linker:?} -z {k}");
            let stderr = String::from_utf8_lossy(&out.stderr).replace(tag, "");
            messages.push(stderr.trim().to_string());
            let fatal = run(Command::new(&linker)
                .arg("--fatal-warnings")
                .args(args)
                .current_dir(w.dir.path()));
            assert!(
                !fatal.status.success(),
                "{linker:?} --fatal-warnings -z {k}"
            );
        }
        assert_eq!(messages[0], messages[1], "-z {k}");
        assert_eq!(messages[1], format!("warning: -z {k} ignored"));
    }
}

/// A fixed-address program whose non-PIC code takes an imported function's address (a
/// canonical PLT entry, the function's address everywhere) and whose PIE code loads it from
/// the GOT keeps the lazy `.plt` entry, its JUMP_SLOT and the GLOB_DAT, as GNU ld does, and
/// the two addresses compare equal.
#[test]
fn canonical_plt_keeps_its_plt_entry() {
    let w = Work::new();
    build(
        &w,
        "gcc",
        Ld::Tether,
        "libpge.so",
        "int ext(int x) { return x + 100; }\n",
        &["-fPIC", "-shared"],
    );
    let abs = w.path("can1.c");
    std::fs::write(
        &abs,
        "extern int ext(int);\nint (*addr_abs(void))(int) { return ext; }\n",
    )
    .expect("write");
    ok(Command::new("gcc")
        .args(["-fno-pic", "-O2", "-c", "can1.c", "-o", "can1.o"])
        .current_dir(w.dir.path()));
    let main = "#include <stdio.h>\nextern int ext(int);\nint (*addr_abs(void))(int);\n\
                int (*addr_got(void))(int) { return ext; }\n\
                int main(void) { printf(\"%d %d %d\\n\", addr_abs() == addr_got(), ext(1), addr_got()(2)); return 0; }\n";
    for z in [None, Some("-Wl,-z,now")] {
        let mut seen = Vec::new();
        for ld in [Ld::Gnu, Ld::Tether] {
            let mut flags = vec!["-no-pie", "-fPIE", "can1.o", "-L.", "-lpge"];
            flags.extend(z);
            let exe = build(
                &w,
                "gcc",
                ld,
                &format!("can{}{}", ld.tag(), z.is_some()),
                main,
                &flags,
            );
            let out = ok(Command::new(&exe).env("LD_LIBRARY_PATH", w.dir.path()));
            assert_eq!(out, "1 101 102\n", "{ld:?} {z:?}");
            let relocs: Vec<String> = symbolic_relocs(&exe)
                .into_iter()
                .filter(|r| r.ends_with(" ext"))
                .collect();
            let plt_got = readelf(&["-SW"], &exe).contains(".plt.got");
            seen.push((relocs, plt_got));
        }
        assert_eq!(seen[0], seen[1], "{z:?}: GNU ld (left), tether (right)");
        assert_eq!(
            seen[1].0,
            ["R_X86_64_GLOB_DAT ext", "R_X86_64_JUMP_SLOT ext"]
        );
    }
}
