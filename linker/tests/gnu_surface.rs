//! GNU ld's command-line surface: the same command line given to GNU ld and to ld.tether,
//! on the same gcc objects, must be accepted or refused alike, and where it links, the
//! dynamic tags, symbols and sections that the options control must agree.

mod common;
use common::*;
use std::process::Command;

const LIB_C: &str =
    "int counter;\nint get(void) { return counter; }\nint twice(int x) { return 2 * x; }\n";

/// A work directory with `lib.o` compiled by gcc.
fn work() -> Work {
    let w = Work::new();
    std::fs::write(w.path("lib.c"), LIB_C).expect("write lib.c");
    ok(Command::new("gcc")
        .args(["-O2", "-fPIC", "-c", "lib.c", "-o", "lib.o"])
        .current_dir(w.dir.path()));
    w
}

enum Ld {
    Gnu,
    Tether,
}

fn ld(w: &Work, which: Ld, args: &[&str]) -> std::process::Output {
    let program = match which {
        Ld::Gnu => std::path::PathBuf::from("ld"),
        Ld::Tether => tether(),
    };
    run(Command::new(program).args(args).current_dir(w.dir.path()))
}

/// Links `args` plus `-o NAME.{gnu,tether}` with both linkers; both must succeed.
fn link_both(w: &Work, name: &str, args: &[&str]) -> (std::path::PathBuf, std::path::PathBuf) {
    let mut outs = Vec::new();
    for (which, tag) in [(Ld::Gnu, "gnu"), (Ld::Tether, "tether")] {
        let out = format!("{name}.{tag}");
        let mut full: Vec<&str> = args.to_vec();
        full.extend(["-o", &out]);
        let result = ld(w, which, &full);
        assert!(
            result.status.success(),
            "{tag} refused {full:?}: {}",
            String::from_utf8_lossy(&result.stderr)
        );
        outs.push(w.path(&out));
    }
    (outs.remove(0), outs.remove(0))
}

/// Both linkers refuse `args`; returns tether's message.
fn refused_by_both(w: &Work, args: &[&str]) -> String {
    let gnu = ld(w, Ld::Gnu, args);
    assert!(!gnu.status.success(), "GNU ld accepted {args:?}");
    let ours = ld(w, Ld::Tether, args);
    assert_eq!(ours.status.code(), Some(1), "tether accepted {args:?}");
    String::from_utf8_lossy(&ours.stderr).into_owned()
}

/// The `.dynamic` tags (name and value) that matter for comparison: everything but addresses
/// and the hash tables (Debian's GNU ld defaults to both; tether to sysv).
fn dynamic_tags(file: &std::path::Path) -> Vec<String> {
    readelf(&["-dW"], file)
        .lines()
        .filter_map(|l| {
            let tag = l.split_whitespace().nth(1)?.trim_matches(['(', ')']);
            let value = l.split_once(')')?.1.trim();
            match tag {
                "SONAME" | "FLAGS" | "FLAGS_1" | "NEEDED" | "AUDIT" | "DEPAUDIT" | "RUNPATH"
                | "RPATH" => Some(format!("{tag} {value}")),
                _ => None,
            }
        })
        .collect()
}

#[test]
fn one_dash_long_options_mean_what_gnu_ld_means() {
    let w = work();
    let args = [
        "-shared",
        "-soname=libg.so",
        "-Bsymbolic",
        "-hash-style=gnu",
        "-z",
        "now",
        "-export-dynamic",
        "-eh-frame-hdr",
        "-build-id",
        "lib.o",
    ];
    let (gnu, ours) = link_both(&w, "g", &args);
    let tags = dynamic_tags(&ours);
    assert_eq!(tags, dynamic_tags(&gnu));
    assert!(
        tags.contains(&"SONAME Library soname: [libg.so]".to_string()),
        "{tags:?}"
    );
    assert!(tags
        .iter()
        .any(|t| t.starts_with("FLAGS") && t.contains("SYMBOLIC")));
    let sections = readelf(&["-SW"], &ours);
    assert!(
        sections.contains(".gnu.hash") && !sections.contains(" .hash"),
        "{sections}"
    );
    let notes = readelf(&["-nW"], &ours);
    assert!(notes.contains("NT_GNU_BUILD_ID"), "{notes}");
}

#[test]
fn abbreviations_and_attached_short_arguments_as_gnu_ld() {
    let w = work();
    // -shar is the only long option starting so; -hlibh.so is -h libh.so; -znodelete is -z.
    let (gnu, ours) = link_both(
        &w,
        "h",
        &[
            "-shar",
            "-hlibh.so",
            "-znodelete",
            "-hash-style=both",
            "lib.o",
        ],
    );
    let tags = dynamic_tags(&ours);
    assert_eq!(tags, dynamic_tags(&gnu));
    assert!(
        tags.contains(&"SONAME Library soname: [libh.so]".to_string()),
        "{tags:?}"
    );
    assert!(
        tags.contains(&"FLAGS_1 Flags: NODELETE".to_string()),
        "{tags:?}"
    );
}

#[test]
fn output_needs_two_dashes() {
    let w = work();
    // `-output` is `-o utput` to GNU ld: both write a file called `utput`.
    for which in [Ld::Gnu, Ld::Tether] {
        let _ = std::fs::remove_file(w.path("utput"));
        let out = ld(&w, which, &["-shared", "-output", "lib.o"]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(w.path("utput").exists());
    }
}

#[test]
fn ambiguous_and_grouped_spellings_are_refused_as_gnu_ld() {
    let w = work();
    let message = refused_by_both(&w, &["-shared", "-ex", "lib.o"]);
    assert!(message.contains("unrecognized option '-ex'"), "{message}");
    let message = refused_by_both(&w, &["-shared", "-sofoo", "lib.o"]);
    assert!(
        message.contains("unable to disambiguate: -sofoo"),
        "{message}"
    );
    let message = refused_by_both(&w, &["-shared", "lib.o", "-soname"]);
    assert!(message.contains("-soname: missing argument"), "{message}");
    let message = refused_by_both(&w, &["-shared", "-Bfoo", "lib.o"]);
    assert!(message.contains("unrecognized option '-Bfoo'"), "{message}");
}

#[test]
fn z_keywords_set_the_dynamic_flags_gnu_ld_sets() {
    let w = work();
    for keyword in [
        "initfirst",
        "interpose",
        "nodump",
        "nodlopen",
        "origin",
        "global",
        "globalaudit",
        "nodefaultlib",
        "loadfltr",
        "nodelete",
    ] {
        let (gnu, ours) = link_both(&w, keyword, &["-shared", "-z", keyword, "lib.o"]);
        let tags = dynamic_tags(&ours);
        assert_eq!(tags, dynamic_tags(&gnu), "-z {keyword}");
        assert!(
            tags.iter().any(|t| t.starts_with("FLAGS_1")),
            "-z {keyword}: {tags:?}"
        );
    }
}

#[test]
fn z_values_are_checked() {
    let w = work();
    let (gnu, ours) = link_both(
        &w,
        "pages",
        &[
            "-shared",
            "-z",
            "max-page-size=0x1000",
            "-z",
            "common-page-size=4096",
            "lib.o",
        ],
    );
    assert_eq!(dynamic_tags(&ours), dynamic_tags(&gnu));
    let message = refused_by_both(&w, &["-shared", "-z", "max-page-size=3", "lib.o"]);
    assert!(message.contains("invalid page size: 3"), "{message}");
}

#[test]
fn audit_and_depaudit_become_dt_audit_and_dt_depaudit() {
    let w = work();
    let args = [
        "-shared",
        "--audit",
        "liba1.so",
        "--audit=liba2.so",
        "-P",
        "libd.so",
        "lib.o",
    ];
    let (gnu, ours) = link_both(&w, "audit", &args);
    let tags = dynamic_tags(&ours);
    assert_eq!(tags, dynamic_tags(&gnu));
    assert!(
        tags.contains(&"AUDIT Audit library: [liba1.so:liba2.so]".to_string()),
        "{tags:?}"
    );
    assert!(
        tags.contains(&"DEPAUDIT Dependency audit library: [libd.so]".to_string()),
        "{tags:?}"
    );
}

#[test]
fn bno_symbolic_cancels_an_earlier_bsymbolic() {
    let w = work();
    let (gnu, ours) = link_both(
        &w,
        "nosym",
        &["-shared", "-Bsymbolic", "-Bno-symbolic", "lib.o"],
    );
    let tags = dynamic_tags(&ours);
    assert_eq!(tags, dynamic_tags(&gnu));
    assert!(!tags.iter().any(|t| t.contains("SYMBOLIC")), "{tags:?}");
}

const STRIP_C: &str = "static int loc(int x) { return x + 1; }\n\
__attribute__((visibility(\"hidden\"))) int hid(int x) { return loc(x); }\n\
int pub(int x) { return hid(x) * 2; }\n";

/// The debugging sections and whether `.symtab` is there, and the `.symtab` names.
fn symbols_and_debug(file: &std::path::Path) -> (Vec<String>, Vec<String>) {
    let sections: Vec<String> = readelf(&["-SW"], file)
        .split_whitespace()
        .filter(|w| w.starts_with(".debug") || *w == ".symtab")
        .map(str::to_string)
        .collect();
    let symtab = readelf(&["-sW"], file);
    let names = symtab
        .split("Symbol table '.symtab'")
        .nth(1)
        .unwrap_or("")
        .lines()
        .filter_map(|l| l.split_whitespace().nth(7))
        .filter(|n| ["loc", "hid", "pub"].contains(n))
        .map(str::to_string)
        .collect();
    (sections, names)
}

#[test]
fn strip_and_discard_options_keep_what_gnu_ld_keeps() {
    let w = Work::new();
    std::fs::write(w.path("s.c"), STRIP_C).expect("write s.c");
    ok(Command::new("gcc")
        .args(["-g", "-O0", "-fPIC", "-c", "s.c", "-o", "s.o"])
        .current_dir(w.dir.path()));
    let cases: [(&str, bool, bool, &[&str]); 6] = [
        ("-s", false, false, &[]),
        ("--strip-all", false, false, &[]),
        ("-S", false, true, &["loc", "hid", "pub"]),
        ("--strip-debug", false, true, &["loc", "hid", "pub"]),
        ("-x", true, true, &["hid", "pub"]),
        ("-X", true, true, &["loc", "hid", "pub"]),
    ];
    for (option, debug, symtab, names) in cases {
        let (gnu, ours) = link_both(&w, option, &["-shared", option, "s.o"]);
        let (ours_sections, ours_names) = symbols_and_debug(&ours);
        let (gnu_sections, gnu_names) = symbols_and_debug(&gnu);
        assert_eq!(ours_names, gnu_names, "{option}");
        assert_eq!(ours_names, names, "{option}");
        assert_eq!(
            ours_sections.contains(&".symtab".to_string()),
            symtab,
            "{option}"
        );
        assert_eq!(
            gnu_sections.contains(&".symtab".to_string()),
            symtab,
            "{option}"
        );
        let has_debug = |s: &[String]| s.iter().any(|n| n.starts_with(".debug"));
        assert_eq!(
            has_debug(&ours_sections),
            debug,
            "{option}: {ours_sections:?}"
        );
        assert_eq!(
            has_debug(&gnu_sections),
            debug,
            "{option}: {gnu_sections:?}"
        );
        check_readelf(&ours);
    }
}

/// `--retain-symbols-file` keeps the listed names in `.symtab` (locals too) and leaves `.dynsym`
/// alone; it and `-s` set one thing, so the later of the two counts, as in GNU ld.
#[test]
fn retain_symbols_file_keeps_what_gnu_ld_keeps() {
    let w = Work::new();
    std::fs::write(w.path("s.c"), STRIP_C).expect("write s.c");
    std::fs::write(w.path("keep.txt"), "loc\n  pub  \n\nabsent\n").expect("write keep.txt");
    ok(Command::new("gcc")
        .args(["-g", "-O0", "-fPIC", "-c", "s.c", "-o", "s.o"])
        .current_dir(w.dir.path()));
    let retain: &[&str] = &["--retain-symbols-file", "keep.txt"];
    let cases: [(Vec<&str>, &[&str]); 3] = [
        (retain.to_vec(), &["loc", "pub"]),
        ([&["-s"], retain].concat(), &["loc", "pub"]),
        ([retain, &["-s"]].concat(), &[]),
    ];
    for (options, names) in cases {
        let args = [&["-shared"], options.as_slice(), &["s.o"]].concat();
        let (gnu, ours) = link_both(&w, "retain", &args);
        let (_, ours_names) = symbols_and_debug(&ours);
        let (_, gnu_names) = symbols_and_debug(&gnu);
        assert_eq!(ours_names, gnu_names, "{args:?}");
        assert_eq!(ours_names, names, "{args:?}");
        assert!(exports(&ours, "pub") && exports(&gnu, "pub"));
        check_readelf(&ours);
    }
    let missing = refused_by_both(&w, &["-shared", "--retain-symbols-file", "nope.txt", "s.o"]);
    assert!(missing.contains("nope.txt"), "{missing}");
}

/// `libm.a` holding `member.o`, which defines `pulled`, beside `lib.o`.
fn work_with_archive() -> Work {
    let w = work();
    std::fs::write(w.path("member.c"), "int pulled(void) { return 7; }\n").expect("write");
    ok(Command::new("gcc")
        .args(["-O2", "-fPIC", "-c", "member.c", "-o", "member.o"])
        .current_dir(w.dir.path()));
    ok(Command::new("ar")
        .args(["rcs", "libm.a", "member.o"])
        .current_dir(w.dir.path()));
    w
}

fn exports(file: &std::path::Path, name: &str) -> bool {
    readelf(&["--dyn-syms", "-W"], file)
        .lines()
        .any(|l| l.split_whitespace().last() == Some(name) && !l.contains(" UND "))
}

#[test]
fn undefined_and_require_defined_pull_archive_members() {
    let w = work_with_archive();
    let (gnu, ours) = link_both(&w, "plain", &["-shared", "lib.o", "libm.a"]);
    assert!(!exports(&gnu, "pulled") && !exports(&ours, "pulled"));
    for args in [
        &["-shared", "-u", "pulled", "lib.o", "libm.a"][..],
        &["-shared", "--undefined=pulled", "lib.o", "libm.a"],
        &["-shared", "-upulled", "lib.o", "libm.a"],
        &["-shared", "--require-defined", "pulled", "lib.o", "libm.a"],
    ] {
        let (gnu, ours) = link_both(&w, "u", args);
        assert!(exports(&gnu, "pulled"), "{args:?}");
        assert!(exports(&ours, "pulled"), "{args:?}");
    }
    // -u of a name nothing defines is no error, even with -z defs, and is not imported.
    let (gnu, ours) = link_both(
        &w,
        "none",
        &["-shared", "-z", "defs", "-u", "nowhere", "lib.o"],
    );
    for file in [&gnu, &ours] {
        assert!(!readelf(&["--dyn-syms", "-W"], file).contains("nowhere"));
    }
}

#[test]
fn require_defined_fails_when_nothing_defines_the_symbol() {
    let w = work_with_archive();
    let message = refused_by_both(
        &w,
        &["-shared", "--require-defined=nowhere", "lib.o", "libm.a"],
    );
    assert!(
        message.contains("required symbol `nowhere' not defined"),
        "{message}"
    );
}

fn needed(file: &std::path::Path) -> Vec<String> {
    dynamic_tags(file)
        .into_iter()
        .filter(|t| t.starts_with("NEEDED"))
        .collect()
}

#[test]
fn a_library_without_soname_is_needed_by_the_name_it_was_given() {
    let w = work();
    std::fs::create_dir(w.path("sub")).expect("mkdir");
    // No -soname: GNU ld records ./sub/libnoso.so as given, and libnoso.so when found by -l.
    let made = ld(&w, Ld::Gnu, &["-shared", "lib.o", "-o", "sub/libnoso.so"]);
    assert!(made.status.success());
    std::fs::write(
        w.path("user.c"),
        "int get(void);\nint use(void) { return get(); }\n",
    )
    .expect("write");
    ok(Command::new("gcc")
        .args(["-O2", "-fPIC", "-c", "user.c", "-o", "user.o"])
        .current_dir(w.dir.path()));
    let (gnu, ours) = link_both(&w, "bypath", &["-shared", "user.o", "./sub/libnoso.so"]);
    assert_eq!(needed(&ours), needed(&gnu));
    assert_eq!(needed(&ours), ["NEEDED Shared library: [./sub/libnoso.so]"]);
    for spec in ["-lnoso", "-l:libnoso.so"] {
        let (gnu, ours) = link_both(&w, "bysearch", &["-shared", "user.o", "-Lsub", spec]);
        assert_eq!(needed(&ours), needed(&gnu), "{spec}");
        assert_eq!(
            needed(&ours),
            ["NEEDED Shared library: [libnoso.so]"],
            "{spec}"
        );
    }
}

/// `TYPE BIND NDX` of `name` in `.dynsym`.
fn dynsym_entry(file: &std::path::Path, name: &str) -> Option<String> {
    readelf(&["--dyn-syms", "-W"], file).lines().find_map(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        (f.len() >= 8 && f[7] == name).then(|| format!("{} {} {}", f[3], f[4], f[6]))
    })
}

#[test]
fn an_undefined_tls_symbol_is_imported_as_stt_tls() {
    let w = Work::new();
    std::fs::write(
        w.path("tls.c"),
        "extern __thread int t;\nint g(void) { return t; }\n",
    )
    .expect("write");
    ok(Command::new("gcc")
        .args(["-O2", "-fPIC", "-c", "tls.c", "-o", "tls.o"])
        .current_dir(w.dir.path()));
    let (gnu, ours) = link_both(&w, "tls", &["-shared", "tls.o"]);
    assert_eq!(dynsym_entry(&ours, "t"), dynsym_entry(&gnu, "t"));
    assert_eq!(dynsym_entry(&ours, "t").as_deref(), Some("TLS GLOBAL UND"));
}

#[test]
fn comment_strings_are_merged() {
    let w = work();
    for (cc, name) in [("gcc", "other"), ("clang", "other_clang")] {
        let src = format!("{name}.c");
        std::fs::write(w.path(&src), format!("int {name}(void) {{ return 3; }}\n")).expect("write");
        ok(Command::new(cc)
            .args(["-O2", "-fPIC", "-c", &src, "-o", &format!("{name}.o")])
            .current_dir(w.dir.path()));
    }
    std::fs::write(w.path("third.c"), "int third(void) { return 4; }\n").expect("write");
    ok(Command::new("gcc")
        .args(["-O2", "-fPIC", "-c", "third.c", "-o", "third.o"])
        .current_dir(w.dir.path()));
    let (gnu, ours) = link_both(
        &w,
        "comment",
        &["-shared", "lib.o", "other.o", "other_clang.o", "third.o"],
    );
    let strings = |f: &std::path::Path| -> Vec<String> {
        readelf(&["-p", ".comment"], f)
            .lines()
            .filter_map(|l| l.split_once(']').map(|(_, s)| s.trim().to_string()))
            .collect()
    };
    assert_eq!(strings(&ours), strings(&gnu));
    assert_eq!(strings(&ours).len(), 2, "{:?}", strings(&ours));
    let header = |f: &std::path::Path| {
        readelf(&["-SW"], f)
            .lines()
            .find(|l| l.contains(" .comment "))
            .map(|l| {
                l.split_whitespace()
                    .skip(6)
                    .take(2)
                    .collect::<Vec<_>>()
                    .join(" ")
            })
    };
    assert_eq!(header(&ours), header(&gnu));
    assert_eq!(header(&ours).as_deref(), Some("01 MS"));
}

#[test]
fn fatal_warnings_fail_a_link_that_warns() {
    let w = work();
    // -sx is -s -x with GNU ld 2.40's "grouped short options" warning.
    let (gnu, ours) = link_both(&w, "warned", &["-shared", "-sx", "lib.o"]);
    assert!(gnu.exists() && ours.exists());
    link_both(
        &w,
        "unwarned",
        &["-shared", "--fatal-warnings", "-s", "lib.o"],
    );
    let message = refused_by_both(
        &w,
        &["-shared", "--fatal-warnings", "-sx", "lib.o", "-o", "x.so"],
    );
    assert!(
        message.contains("grouped short command line options"),
        "{message}"
    );
    assert!(message.contains("--fatal-warnings"), "{message}");
    link_both(
        &w,
        "undone",
        &[
            "-shared",
            "--fatal-warnings",
            "--no-fatal-warnings",
            "-sx",
            "lib.o",
        ],
    );
}

/// Lines of `text` without the linker's `ld: ` / `ld.tether: ` prefix.
fn unprefixed(text: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(text)
        .lines()
        .map(|l| {
            l.strip_prefix("ld.tether: ")
                .or_else(|| l.strip_prefix("ld: "))
                .unwrap_or(l)
                .to_string()
        })
        .collect()
}

#[test]
fn trace_and_trace_symbol_report_what_gnu_ld_reports() {
    let w = work_with_archive();
    std::fs::write(
        w.path("caller.c"),
        "int pulled(void);\nint call(void) { return pulled(); }\n",
    )
    .expect("write");
    ok(Command::new("gcc")
        .args(["-O2", "-fPIC", "-c", "caller.c", "-o", "caller.o"])
        .current_dir(w.dir.path()));
    let args = ["-shared", "-t", "lib.o", "caller.o", "libm.a", "-o", "t.so"];
    let gnu = ld(&w, Ld::Gnu, &args);
    let ours = ld(&w, Ld::Tether, &args);
    assert_eq!(unprefixed(&ours.stdout), unprefixed(&gnu.stdout));
    assert_eq!(unprefixed(&ours.stdout), ["lib.o", "caller.o", "libm.a"]);

    let args = [
        "-shared",
        "-y",
        "pulled",
        "--trace-symbol=get",
        "caller.o",
        "lib.o",
        "libm.a",
        "-o",
        "y.so",
    ];
    let gnu = ld(&w, Ld::Gnu, &args);
    let ours = ld(&w, Ld::Tether, &args);
    assert_eq!(unprefixed(&ours.stderr), unprefixed(&gnu.stderr));
    assert_eq!(
        unprefixed(&ours.stderr),
        [
            "caller.o: reference to pulled",
            "lib.o: definition of get",
            "libm.a(member.o): definition of pulled"
        ]
    );
}

#[test]
fn wrap_sends_references_to_the_wrapper_and_real_to_the_original() {
    let w = Work::new();
    let sources = [
        (
            "greet.c",
            "#include <stdio.h>\nvoid greet(const char *w) { printf(\"hello %s\\n\", w); }\n",
        ),
        (
            "wrap.c",
            "#include <stdio.h>\nvoid __real_greet(const char *);\n\
             void __wrap_greet(const char *w) { puts(\"before\"); __real_greet(w); }\n",
        ),
        (
            "main.c",
            "void greet(const char *);\nint main(void) { greet(\"world\"); return 0; }\n",
        ),
    ];
    for (name, text) in sources {
        std::fs::write(w.path(name), text).expect("write");
        ok(Command::new("gcc")
            .args(["-O2", "-fPIE", "-c", name, "-o", &name.replace(".c", ".o")])
            .current_dir(w.dir.path()));
    }
    for (linker, exe) in [
        (Linker::GnuLd, "wrapped.gnu"),
        (Linker::Tether, "wrapped.tether"),
    ] {
        ok(w.driver(Cc::Gcc, linker, false).args([
            "-Wl,--wrap=greet",
            "main.o",
            "wrap.o",
            "greet.o",
            "-o",
            exe,
        ]));
        assert_eq!(w.run_program(exe), "before\nhello world\n", "{linker:?}");
    }
    // Without --wrap, the wrapper is never called.
    ok(w.driver(Cc::Gcc, Linker::Tether, false)
        .args(["main.o", "greet.o", "-o", "plain"]));
    assert_eq!(w.run_program("plain"), "hello world\n");
}

/// (symbol, address) of the global symbols listed in a GNU-style map.
fn map_symbols(map: &str, names: &[&str]) -> Vec<(String, u64)> {
    map.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            match f[..] {
                [addr, name] if names.contains(&name) => {
                    let value = u64::from_str_radix(addr.strip_prefix("0x")?, 16).ok()?;
                    Some((name.to_string(), value))
                }
                _ => None,
            }
        })
        .collect()
}

/// (symbol, address) from `.symtab`.
fn symtab_values(file: &std::path::Path, names: &[&str]) -> Vec<(String, u64)> {
    let mut found: Vec<(String, u64)> = readelf(&["-sW"], file)
        .split("Symbol table '.symtab'")
        .nth(1)
        .unwrap_or("")
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let name = *f.get(7)?;
            names
                .contains(&name)
                .then(|| (name.to_string(), u64::from_str_radix(f[1], 16).unwrap()))
        })
        .collect();
    found.sort_by_key(|(_, a)| *a);
    found
}

#[test]
fn map_file_lists_sections_inputs_and_symbols_at_their_addresses() {
    let w = work();
    let names = ["counter", "get", "twice"];
    let (gnu, ours) = link_both(&w, "map", &["-shared", "-Map", "out.map", "lib.o"]);
    let _ = gnu;
    let map = std::fs::read_to_string(w.path("out.map")).expect("map written");
    let mut listed = map_symbols(&map, &names);
    listed.sort_by_key(|(_, a)| *a);
    assert_eq!(listed, symtab_values(&ours, &names), "{map}");
    assert_eq!(listed.len(), 3, "{map}");
    // The input sections that hold them are listed under their output sections, with the file.
    for input in [".text", ".bss"] {
        let line = map
            .lines()
            .find(|l| l.starts_with(&format!(" {input} ")) && l.ends_with(" lib.o"));
        assert!(line.is_some(), "no {input} of lib.o in\n{map}");
    }
    // -M prints the same map on stdout; GNU ld's lists the same symbols.
    let printed = ld(&w, Ld::Tether, &["-shared", "-M", "lib.o", "-o", "m.so"]);
    let printed = String::from_utf8_lossy(&printed.stdout).into_owned();
    assert_eq!(map_symbols(&printed, &names).len(), 3, "{printed}");
    let gnu_map =
        String::from_utf8_lossy(&ld(&w, Ld::Gnu, &["-shared", "-M", "lib.o", "-o", "g.so"]).stdout)
            .into_owned();
    let mut gnu_names: Vec<String> = map_symbols(&gnu_map, &names)
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    gnu_names.sort();
    assert_eq!(gnu_names, ["counter", "get", "twice"]);
}

/// The versioned `.dynsym` names (`name@@VER`) of the defined symbols.
fn versioned_exports(file: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> = readelf(&["--dyn-syms", "-W"], file)
        .lines()
        .filter(|l| !l.contains(" UND "))
        .filter_map(|l| l.split_whitespace().nth(7).map(str::to_string))
        .filter(|n| n.contains('@'))
        .collect();
    names.sort();
    names
}

#[test]
fn default_symver_versions_exports_with_the_soname() {
    let w = work();
    let (gnu, ours) = link_both(
        &w,
        "libds.so",
        &[
            "-shared",
            "--default-symver",
            "-soname",
            "libds.so",
            "lib.o",
        ],
    );
    assert_eq!(versioned_exports(&ours), versioned_exports(&gnu));
    assert_eq!(
        versioned_exports(&ours),
        ["counter@@libds.so", "get@@libds.so", "twice@@libds.so"]
    );
    // A program linked against it needs get@libds.so and runs.
    std::fs::copy(&ours, w.path("libds.so")).expect("copy");
    std::fs::write(w.path("main.c"), "#include <stdio.h>\nint get(void);\nint main(void) { printf(\"%d\\n\", get()); return 0; }\n")
        .expect("write");
    ok(w.driver(Cc::Gcc, Linker::Tether, false)
        .args(["main.c", "./libds.so", "-o", "main"]));
    assert_eq!(w.run_program("main"), "0\n");
    let needs = readelf(&["-VW"], &w.path("main"));
    assert!(
        needs.contains("File: libds.so") && needs.contains("Name: libds.so"),
        "{needs}"
    );
}

#[test]
fn no_undefined_version_rejects_a_script_naming_an_undefined_symbol() {
    let w = work();
    std::fs::write(w.path("v.map"), "V1 { global: get; nothere; local: *; };\n").expect("write");
    // Accepted by default (--undefined-version), refused with --no-undefined-version.
    link_both(
        &w,
        "undef-ok",
        &["-shared", "--version-script", "v.map", "lib.o"],
    );
    let message = refused_by_both(
        &w,
        &[
            "-shared",
            "--no-undefined-version",
            "--version-script",
            "v.map",
            "lib.o",
            "-o",
            "x.so",
        ],
    );
    assert!(
        message.contains("nothere: undefined version: V1"),
        "{message}"
    );
    link_both(
        &w,
        "undef-again",
        &[
            "-shared",
            "--no-undefined-version",
            "--undefined-version",
            "--version-script",
            "v.map",
            "lib.o",
        ],
    );
}

/// Names of the SHF_COMPRESSED sections.
fn compressed_sections(file: &std::path::Path) -> Vec<String> {
    readelf(&["-SW"], file)
        .lines()
        .filter_map(|l| {
            let l = l.split_once(']')?.1;
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() == 10 && f[6].contains('C')).then(|| f[0].to_string())
        })
        .collect()
}

#[test]
fn compress_debug_sections_writes_shf_compressed_zlib_sections() {
    let w = Work::new();
    std::fs::write(w.path("s.c"), STRIP_C).expect("write s.c");
    ok(Command::new("gcc")
        .args(["-g", "-O0", "-fPIC", "-c", "s.c", "-o", "s.o"])
        .current_dir(w.dir.path()));
    let (gnu, ours) = link_both(
        &w,
        "z",
        &["-shared", "--compress-debug-sections=zlib", "s.o"],
    );
    assert_eq!(compressed_sections(&ours), compressed_sections(&gnu));
    assert!(compressed_sections(&ours).contains(&".debug_info".to_string()));
    let headers = readelf(&["-tW"], &ours);
    assert!(headers.contains("ZLIB"), "{headers}");
    check_elflint(&ours);
    // The compressed DWARF reads back as the uncompressed link's.
    let (_, plain) = link_both(
        &w,
        "plain",
        &["-shared", "--compress-debug-sections=none", "s.o"],
    );
    assert!(compressed_sections(&plain).is_empty());
    let info = |f: &std::path::Path| {
        readelf(&["--debug-dump=info"], f).replace(&*f.display().to_string(), "")
    };
    assert_eq!(info(&ours), info(&plain));
    let message = refused_by_both(&w, &["-shared", "--compress-debug-sections=bogus", "s.o"]);
    assert!(message.contains("bogus"), "{message}");
}

/// Names of the symbols the library's PLT relocations (JUMP_SLOT) bind at run time.
fn jump_slots(file: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> = readelf(&["-rW"], file)
        .lines()
        .filter(|l| l.contains("JUMP_SLOT"))
        .filter_map(|l| l.split_whitespace().nth(4).map(str::to_string))
        .collect();
    names.sort();
    names
}

#[test]
fn bsymbolic_non_weak_functions_binds_only_non_weak_functions_locally_as_lld() {
    require("ld.lld", "lld");
    let w = Work::new();
    let src = "__attribute__((weak)) int soft(void) { return 1; }\n\
               int hard(void) { return 2; }\n\
               int both(void) { return soft() + hard(); }\n";
    std::fs::write(w.path("b.c"), src).expect("write");
    ok(Command::new("gcc")
        .args(["-O0", "-fPIC", "-c", "b.c", "-o", "b.o"])
        .current_dir(w.dir.path()));
    let args = ["-shared", "-Bsymbolic-non-weak-functions", "b.o"];
    ok(Command::new("ld.lld")
        .args(args)
        .args(["-o", "lld.so"])
        .current_dir(w.dir.path()));
    ok(Command::new(tether())
        .args(args)
        .args(["-o", "ours.so"])
        .current_dir(w.dir.path()));
    assert_eq!(
        jump_slots(&w.path("ours.so")),
        jump_slots(&w.path("lld.so"))
    );
    assert_eq!(jump_slots(&w.path("ours.so")), ["soft"]);
    // -Bno-symbolic after it restores preemptible calls to both.
    ok(Command::new(tether())
        .args([
            "-shared",
            "-Bsymbolic-non-weak-functions",
            "-Bno-symbolic",
            "b.o",
            "-o",
            "none.so",
        ])
        .current_dir(w.dir.path()));
    assert_eq!(jump_slots(&w.path("none.so")), ["hard", "soft"]);
}

#[test]
fn unresolved_symbols_decides_whether_a_library_may_leave_symbols_undefined() {
    let w = Work::new();
    std::fs::write(
        w.path("ms.c"),
        "int missing(void);\nint pick(int x) { return x ? missing() : 0; }\n",
    )
    .expect("write");
    ok(Command::new("gcc")
        .args(["-O0", "-fPIC", "-c", "ms.c", "-o", "ms.o"])
        .current_dir(w.dir.path()));
    for option in [
        "--unresolved-symbols=report-all",
        "--unresolved-symbols=ignore-in-shared-libs",
    ] {
        let message = refused_by_both(&w, &["-shared", option, "ms.o", "-o", "x.so"]);
        assert!(message.contains("missing"), "{option}: {message}");
    }
    for option in [
        "--unresolved-symbols=ignore-all",
        "--unresolved-symbols=ignore-in-object-files",
    ] {
        // It undoes -z defs, as GNU ld's last-given setting.
        let (gnu, ours) = link_both(&w, "ignored", &["-shared", "-z", "defs", option, "ms.o"]);
        assert_eq!(
            dynsym_entry(&ours, "missing"),
            dynsym_entry(&gnu, "missing")
        );
    }
    let message = refused_by_both(&w, &["-shared", "--unresolved-symbols=sometimes", "ms.o"]);
    assert!(
        message.contains("bad --unresolved-symbols option: sometimes"),
        "{message}"
    );
}

#[test]
fn tls_module_base_is_defined_for_tls_descriptor_code() {
    let w = Work::new();
    let lib = "static __thread int a = 5;\nstatic __thread int b = 7;\n\
               int sum(void) { return a + b; }\nint *pa(void) { return &a; }\nint *pb(void) { return &b; }\n";
    let main = "#include <stdio.h>\nint sum(void); int *pa(void); int *pb(void);\n\
                int main(void) { *pa() += 1; *pb() += 2; printf(\"%d %d %d\\n\", sum(), *pa(), *pb()); return 0; }\n";
    std::fs::write(w.path("tm.c"), lib).expect("write");
    std::fs::write(w.path("main.c"), main).expect("write");
    // -mtls-dialect=gnu2 addresses local TLS from _TLS_MODULE_BASE_ through a descriptor.
    ok(Command::new("gcc")
        .args([
            "-O2",
            "-fPIC",
            "-mtls-dialect=gnu2",
            "-c",
            "tm.c",
            "-o",
            "tm.o",
        ])
        .current_dir(w.dir.path()));
    assert!(readelf(&["-rW"], &w.path("tm.o")).contains("_TLS_MODULE_BASE_"));
    let (gnu, ours) = link_both(&w, "libtm.so", &["-shared", "tm.o"]);
    assert_eq!(dynsym_entry(&ours, "_TLS_MODULE_BASE_"), None);
    assert_eq!(dynsym_entry(&gnu, "_TLS_MODULE_BASE_"), None);
    for lib in [&gnu, &ours] {
        std::fs::copy(lib, w.path("libtm.so")).expect("copy");
        ok(w.driver(Cc::Gcc, Linker::GnuLd, false)
            .args(["main.c", "-L.", "-ltm", "-o", "main"]));
        assert_eq!(w.run_program("main"), "15 6 9\n", "{}", lib.display());
    }
}

/// PT_GNU_STACK's `MemSiz Flg` as readelf prints them.
fn gnu_stack(file: &std::path::Path) -> String {
    readelf(&["-lW"], file)
        .lines()
        .find(|l| l.trim_start().starts_with("GNU_STACK"))
        .map(|l| l.split_whitespace().skip(5).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

#[test]
fn z_stack_size_sets_pt_gnu_stack_memsz() {
    let w = Work::new();
    std::fs::write(w.path("main.c"), "int main(void) { return 0; }\n").expect("write");
    for (linker, exe) in [
        (Linker::GnuLd, "stack.gnu"),
        (Linker::Tether, "stack.tether"),
    ] {
        ok(w.driver(Cc::Gcc, linker, false).args([
            "-Wl,-z,stack-size=0x200000",
            "main.c",
            "-o",
            exe,
        ]));
        assert_eq!(w.run_program(exe), "");
    }
    let ours = gnu_stack(&w.path("stack.tether"));
    assert_eq!(ours, gnu_stack(&w.path("stack.gnu")));
    assert!(ours.starts_with("0x200000 RW"), "{ours}");
    let message = refused_by_both(&w, &["-shared", "-z", "stack-size=lots", "-o", "x.so"]);
    assert!(message.contains("stack-size"), "{message}");
}

#[test]
fn symver_with_a_script_listing_the_plain_name_exports_only_the_hidden_version() {
    let w = Work::new();
    let src = "int foo(void) { return 1; }\n__asm__(\".symver foo, foo@V1\");\nint bar(void) { return 2; }\n";
    std::fs::write(w.path("sv.c"), src).expect("write");
    std::fs::write(w.path("sv.map"), "V1 { global: foo; bar; local: *; };\n").expect("write");
    ok(Command::new("gcc")
        .args(["-O2", "-fPIC", "-c", "sv.c", "-o", "sv.o"])
        .current_dir(w.dir.path()));
    let (gnu, ours) = link_both(&w, "sv", &["-shared", "--version-script", "sv.map", "sv.o"]);
    assert_eq!(versioned_exports(&ours), versioned_exports(&gnu));
    assert_eq!(versioned_exports(&ours), ["bar@@V1", "foo@V1"]);
}

/// `extern "C++"` patterns match names as GNU ld demangles them: `std::ostream`, not its
/// long form; a template constructor with all its parameters; special names.
#[test]
fn extern_cxx_patterns_match_what_gnu_ld_matches() {
    let w = Work::new();
    let src = "#include <iosfwd>\n#include <string>\n\
               struct S { template <class T> S(T, T) {} virtual ~S() {} };\n\
               template S::S(const char *, const char *);\n\
               int out(std::ostream &) { return 1; }\n\
               int in(std::istream &) { return 2; }\n\
               int takes(const std::string &s) { return (int)s.size(); }\n\
               int ratio(long) { return 3; }\n";
    std::fs::write(w.path("cx.cc"), src).expect("write");
    ok(Command::new("g++")
        .args([
            "-O2",
            "-fPIC",
            "-D_GLIBCXX_USE_CXX11_ABI=0",
            "-c",
            "cx.cc",
            "-o",
            "cx.o",
        ])
        .current_dir(w.dir.path()));
    let script = "V1 { global: extern \"C++\" { \"out(std::ostream&)\"; \"takes(std::string const&)\";\n\
                  \"S::S<char const*>(char const*, char const*)\"; \"vtable for S\"; };\n\
                  local: *; };\n\
                  V2 { global: extern \"C++\" { \"in(std::basic_istream<char, std::char_traits<char> >&)\"; }; };\n";
    std::fs::write(w.path("cx.map"), script).expect("write");
    let (gnu, ours) = link_both(&w, "cx", &["-shared", "--version-script", "cx.map", "cx.o"]);
    let versioned = |file: &std::path::Path| -> Vec<String> {
        let mut names: Vec<String> = readelf(&["--dyn-syms", "-W"], file)
            .lines()
            .filter(|l| !l.contains(" UND ") && l.contains('@'))
            .filter_map(|l| l.split_whitespace().nth(7).map(str::to_string))
            .filter(|n| !n.starts_with("V1@") && !n.starts_with("V2@"))
            .collect();
        names.sort();
        names
    };
    assert_eq!(versioned(&ours), versioned(&gnu));
    assert_eq!(
        versioned(&ours),
        [
            "_Z3outRSo@@V1",
            "_Z5takesRKSs@@V1",
            "_ZN1SC1IPKcEET_S3_@@V1",
            "_ZN1SC2IPKcEET_S3_@@V1",
            "_ZTV1S@@V1",
        ]
    );
}

/// `name VERSION` for each defined `.dynsym` entry (versions from `readelf`'s `@`/`@@`).
fn exports_with_versions(file: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> = readelf(&["--dyn-syms", "-W"], file)
        .lines()
        .filter(|l| l.contains(" FUNC ") && !l.contains(" UND "))
        .filter_map(|l| l.split_whitespace().nth(7).map(str::to_string))
        .collect();
    names.sort();
    names
}

#[test]
fn empty_version_names_define_the_unversioned_symbol() {
    let w = Work::new();
    let src = "int foo_impl(void) { return 1; }\n__asm__(\".symver foo_impl, foo@@\");\n\
               int bar_impl(void) { return 2; }\n__asm__(\".symver bar_impl, bar@\");\n";
    std::fs::write(w.path("ev.c"), src).expect("write");
    std::fs::write(w.path("ev.map"), "V1 { global: *; };\n").expect("write");
    ok(Command::new("gcc")
        .args(["-O2", "-fPIC", "-c", "ev.c", "-o", "ev.o"])
        .current_dir(w.dir.path()));
    let (gnu, ours) = link_both(&w, "ev", &["-shared", "ev.o"]);
    assert_eq!(exports_with_versions(&ours), exports_with_versions(&gnu));
    assert_eq!(
        exports_with_versions(&ours),
        ["bar", "bar_impl", "foo", "foo_impl"]
    );
    // A script versions the other symbols but not those given the base version explicitly.
    let (gnu, ours) = link_both(
        &w,
        "ev2",
        &["-shared", "--version-script", "ev.map", "ev.o"],
    );
    assert_eq!(exports_with_versions(&ours), exports_with_versions(&gnu));
    assert_eq!(
        exports_with_versions(&ours),
        ["bar", "bar_impl@@V1", "foo", "foo_impl@@V1"]
    );
}

#[test]
fn defsym_defines_numbers_and_aliases_as_gnu_ld() {
    let w = Work::new();
    let src = "#include <stdio.h>\nextern char magic[];\nint real_fn(void) { return 42; }\n\
               int alias_fn(void);\n\
               int main(void) { printf(\"%p %d\\n\", (void *)magic, alias_fn()); return 0; }\n";
    std::fs::write(w.path("ds.c"), src).expect("write");
    ok(Command::new("gcc")
        .args(["-O2", "-fno-pie", "-c", "ds.c", "-o", "ds.o"])
        .current_dir(w.dir.path()));
    for (linker, exe) in [(Linker::GnuLd, "ds.gnu"), (Linker::Tether, "ds.tether")] {
        ok(w.driver(Cc::Gcc, linker, false).args([
            "-no-pie",
            "ds.o",
            "-Wl,--defsym=magic=0x1234,-defsym,alias_fn=real_fn",
            "-o",
            exe,
        ]));
        assert_eq!(w.run_program(exe), "0x1234 42\n", "{linker:?}");
    }
    let entry = |f: &str, name: &str| {
        readelf(&["-sW"], &w.path(f))
            .lines()
            .find(|l| l.split_whitespace().nth(7) == Some(name))
            .map(|l| {
                l.split_whitespace()
                    .skip(1)
                    .take(1)
                    .chain(l.split_whitespace().skip(6).take(1))
                    .collect::<Vec<_>>()
                    .join(" ")
            })
    };
    assert_eq!(entry("ds.tether", "magic"), entry("ds.gnu", "magic"));
    assert_eq!(
        entry("ds.tether", "magic").as_deref(),
        Some("0000000000001234 ABS")
    );
    let message = refused_by_both(
        &w,
        &["-no-pie", "--defsym=magic=nowhere", "ds.o", "-o", "x"],
    );
    assert!(message.contains("nowhere"), "{message}");
}

#[test]
fn z_keywords_gnu_ld_does_not_know_are_ignored_with_a_warning() {
    let w = work();
    for keyword in ["keep-text-section-prefix", "frobnicate"] {
        for which in [Ld::Gnu, Ld::Tether] {
            let out = ld(
                &w,
                which,
                &["-shared", "-z", keyword, "lib.o", "-o", "k.so"],
            );
            assert!(out.status.success());
            let warned = unprefixed(&out.stderr);
            assert_eq!(warned, [format!("warning: -z {keyword} ignored")]);
        }
        refused_by_both(
            &w,
            &[
                "-shared",
                "--fatal-warnings",
                "-z",
                keyword,
                "lib.o",
                "-o",
                "k.so",
            ],
        );
    }
    // A keyword GNU ld implements and tether does not is refused, never silently dropped.
    let out = ld(
        &w,
        Ld::Tether,
        &["-shared", "-z", "lam-u48", "lib.o", "-o", "k.so"],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unsupported -z keyword: lam-u48"));
}

#[test]
fn compress_debug_sections_zstd_reads_back_as_the_uncompressed_dwarf() {
    let w = Work::new();
    let mut src = String::new();
    for i in 0..100 {
        src += &format!("struct s{i} {{ int a; long b; }};\nint f{i}(struct s{i} *p) {{ return p->a + (int)p->b; }}\n");
    }
    std::fs::write(w.path("big.c"), src).expect("write");
    ok(Command::new("gcc")
        .args(["-g", "-O0", "-fPIC", "-c", "big.c", "-o", "big.o"])
        .current_dir(w.dir.path()));
    let (gnu, ours) = link_both(
        &w,
        "zstd",
        &["-shared", "--compress-debug-sections=zstd", "big.o"],
    );
    for file in [&gnu, &ours] {
        let headers = readelf(&["-tW"], file);
        assert!(headers.contains("ZSTD"), "{}: {headers}", file.display());
        assert!(compressed_sections(file).contains(&".debug_info".to_string()));
    }
    check_elflint(&ours);
    let (_, plain) = link_both(&w, "plain", &["-shared", "big.o"]);
    let info = |f: &std::path::Path| {
        readelf(&["--debug-dump=info"], f).replace(&*f.display().to_string(), "")
    };
    assert_eq!(info(&ours), info(&plain));
}

#[test]
fn help_lists_every_option_added_here() {
    let out = run(Command::new(tether()).arg("--help"));
    let help = String::from_utf8_lossy(&out.stdout);
    for option in [
        "--defsym",
        "--undefined",
        "--require-defined",
        "--wrap",
        "--default-symver",
        "--undefined-version",
        "--no-undefined-version",
        "--unresolved-symbols",
        "--audit",
        "--depaudit",
        "--strip-all",
        "--strip-debug",
        "--discard-all",
        "--discard-locals",
        "--compress-debug-sections",
        "--fatal-warnings",
        "--trace-symbol",
        "--trace",
        "--print-map",
        "--Map",
        "stack-size=N",
        "initfirst",
        "symbolic-non-weak-functions",
        "--rpath-link",
        "--no-allow-shlib-undefined",
        "--no-fork",
    ] {
        assert!(help.contains(option), "--help lacks {option}");
    }
}

#[test]
fn arm_options_behave_as_arm_gnu_ld() {
    require("arm-linux-gnueabihf-gcc", "gcc-arm-linux-gnueabihf");
    let w = Work::new();
    std::fs::write(w.path("s.c"), STRIP_C).expect("write s.c");
    ok(Command::new("arm-linux-gnueabihf-gcc")
        .args(["-g", "-O0", "-fPIC", "-c", "s.c", "-o", "s.o"])
        .current_dir(w.dir.path()));
    let args = [
        "-EL",
        "-m",
        "armelf_linux_eabi",
        "-shared",
        "-soname=libarm.so",
        "-x",
        "-z",
        "initfirst",
        "--compress-debug-sections=zlib",
        "--audit=liba.so",
        "s.o",
    ];
    let mut outs = Vec::new();
    for (program, out) in [
        (
            std::path::PathBuf::from("arm-linux-gnueabihf-ld"),
            "arm.gnu",
        ),
        (tether(), "arm.tether"),
    ] {
        ok(Command::new(program)
            .args(args)
            .args(["-o", out])
            .current_dir(w.dir.path()));
        outs.push(w.path(out));
    }
    let (gnu, ours) = (&outs[0], &outs[1]);
    assert_eq!(dynamic_tags(ours), dynamic_tags(gnu));
    assert_eq!(symbols_and_debug(ours).1, symbols_and_debug(gnu).1);
    assert_eq!(symbols_and_debug(ours).1, ["hid", "pub"]);
    assert!(compressed_sections(ours).contains(&".debug_info".to_string()));
    check_elflint(ours);
    assert!(readelf(&["--debug-dump=info"], ours).contains("DW_TAG_compile_unit"));
}
