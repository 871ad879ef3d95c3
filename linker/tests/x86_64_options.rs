//! Command-line features: archives (member extraction, --whole-archive, groups), -Bstatic /
//! -Bdynamic, --as-needed with --push-state/--pop-state, @response files, --exclude-libs,
//! -Bsymbolic and visibility (observed by running), COMMON and weak definitions,
//! --hash-style, --build-id.

mod common;
use common::*;
use std::process::Command;

fn tether_in(w: &Work, args: &[&str]) -> String {
    ok(Command::new(tether()).args(args).current_dir(w.dir.path()))
}

fn tether_fails(w: &Work, args: &[&str]) -> String {
    let out = run(Command::new(tether()).args(args).current_dir(w.dir.path()));
    assert_eq!(out.status.code(), Some(1), "{args:?} should fail");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn dynsyms(w: &Work, lib: &str) -> String {
    readelf(&["--dyn-syms", "-W"], &w.path(lib))
}

fn has_dynsym(w: &Work, lib: &str, name: &str) -> bool {
    dynsyms(w, lib)
        .lines()
        .any(|l| l.split_whitespace().last() == Some(name) && !l.contains(" UND "))
}

fn archives(w: &Work) {
    for src in [
        "arch_one",
        "arch_two",
        "arch_three",
        "arch_unused",
        "arch_user",
    ] {
        w.compile(
            Cc::Gcc,
            "-O2",
            &fixture(&format!("{src}.c")),
            &format!("{src}.o"),
            false,
        );
    }
    ok(Command::new("ar")
        .args([
            "rcs",
            "liba.a",
            "arch_one.o",
            "arch_three.o",
            "arch_unused.o",
        ])
        .current_dir(w.dir.path()));
    ok(Command::new("ar")
        .args(["rcs", "libb.a", "arch_two.o"])
        .current_dir(w.dir.path()));
}

#[test]
fn archive_members_are_extracted_on_demand_and_groups_are_rescanned() {
    let w = Work::new();
    archives(&w);
    // arch_three is needed by libb.a's member, after liba.a was searched: only a group finds it.
    let err = tether_fails(
        &w,
        &[
            "-shared",
            "-z",
            "defs",
            "-o",
            "x.so",
            "arch_user.o",
            "liba.a",
            "libb.a",
        ],
    );
    assert!(err.contains("undefined symbol: arch_three"), "{err}");
    tether_in(
        &w,
        &[
            "-shared",
            "-z",
            "defs",
            "-o",
            "g.so",
            "arch_user.o",
            "--start-group",
            "liba.a",
            "libb.a",
            "--end-group",
        ],
    );
    for name in ["user_total", "arch_one", "arch_two", "arch_three"] {
        assert!(
            has_dynsym(&w, "g.so", name),
            "{name} missing:\n{}",
            dynsyms(&w, "g.so")
        );
    }
    assert!(
        !has_dynsym(&w, "g.so", "arch_unused"),
        "an unneeded member was linked"
    );
    tether_in(
        &w,
        &[
            "-shared",
            "-o",
            "w.so",
            "arch_user.o",
            "--whole-archive",
            "liba.a",
            "--no-whole-archive",
            "libb.a",
        ],
    );
    assert!(
        has_dynsym(&w, "w.so", "arch_unused"),
        "--whole-archive must include every member"
    );
    check_elflint(&w.path("g.so"));
    check_elflint(&w.path("w.so"));
}

#[test]
fn exclude_libs_hides_archive_symbols() {
    let w = Work::new();
    archives(&w);
    tether_in(
        &w,
        &[
            "-shared",
            "-o",
            "e.so",
            "arch_user.o",
            "--exclude-libs",
            "liba.a",
            "--start-group",
            "liba.a",
            "libb.a",
            "--end-group",
        ],
    );
    assert!(has_dynsym(&w, "e.so", "user_total"));
    assert!(!has_dynsym(&w, "e.so", "arch_one") && !has_dynsym(&w, "e.so", "arch_three"));
    assert!(
        has_dynsym(&w, "e.so", "arch_two"),
        "libb.a was not excluded"
    );
    tether_in(
        &w,
        &[
            "-shared",
            "-o",
            "all.so",
            "arch_user.o",
            "--exclude-libs=ALL",
            "--start-group",
            "liba.a",
            "libb.a",
            "--end-group",
        ],
    );
    assert!(!has_dynsym(&w, "all.so", "arch_two"));
    check_elflint(&w.path("e.so"));
}

#[test]
fn static_dynamic_as_needed_push_pop_and_response_files() {
    let w = Work::new();
    archives(&w);
    // libdual exists as both libdual.so and libdual.a.
    w.compile(Cc::Gcc, "-O2", &fixture("dep.c"), "dep.o", false);
    tether_in(
        &w,
        &[
            "-shared",
            "-o",
            "libdual.so",
            "-soname",
            "libdual.so",
            "arch_three.o",
        ],
    );
    ok(Command::new("ar")
        .args(["rcs", "libdual.a", "arch_three.o"])
        .current_dir(w.dir.path()));
    tether_in(
        &w,
        &[
            "-shared",
            "-o",
            "libdep.so",
            "-soname",
            "libdep.so",
            "dep.o",
        ],
    );
    let needed = |lib: &str| readelf(&["-dW"], &w.path(lib));

    tether_in(
        &w,
        &["-shared", "-o", "dyn.so", "arch_two.o", "-L.", "-ldual"],
    );
    assert!(needed("dyn.so").contains("[libdual.so]"));
    tether_in(
        &w,
        &[
            "-shared",
            "-o",
            "st.so",
            "arch_two.o",
            "-L.",
            "-Bstatic",
            "-ldual",
            "-Bdynamic",
            "-ldep",
        ],
    );
    assert!(
        !needed("st.so").contains("[libdual.so]"),
        "-Bstatic must pick libdual.a"
    );
    assert!(
        needed("st.so").contains("[libdep.so]"),
        "-Bdynamic restores .so search"
    );
    assert!(
        has_dynsym(&w, "st.so", "arch_three"),
        "the archive member is linked in"
    );

    // libdep is unused by arch_two.o: --as-needed drops it; --pop-state restores --no-as-needed.
    tether_in(
        &w,
        &[
            "-shared",
            "-o",
            "an.so",
            "arch_two.o",
            "-L.",
            "--push-state",
            "--as-needed",
            "-ldep",
            "--pop-state",
            "-ldual",
        ],
    );
    let d = needed("an.so");
    assert!(
        !d.contains("[libdep.so]") && d.contains("[libdual.so]"),
        "{d}"
    );
    tether_in(
        &w,
        &[
            "-shared",
            "-o",
            "nan.so",
            "arch_two.o",
            "-L.",
            "-ldep",
            "-ldual",
        ],
    );
    assert!(needed("nan.so").contains("[libdep.so]"));

    std::fs::write(
        w.path("args.rsp"),
        "-shared -o rsp.so\n'arch_two.o' -L. -ldual\n",
    )
    .expect("write @file");
    tether_in(&w, &["@args.rsp"]);
    assert!(needed("rsp.so").contains("[libdual.so]"));
}

/// Without -Bsymbolic the library's call to its own default-visibility function is
/// preempted by the program's definition; protected and hidden ones never are.
#[test]
fn symbolic_binding_and_visibility_observed_at_run_time() {
    let w = Work::new();
    let lib = w.compile(Cc::Gcc, "-O2", &fixture("interpose_lib.c"), "ilib.o", false);
    let mut outputs = Vec::new();
    for extra in [
        &[][..],
        &["-Wl,-Bsymbolic"][..],
        &["-Wl,-Bsymbolic-functions"][..],
    ] {
        ok(w.driver(Cc::Gcc, Linker::Tether, false)
            .args(["-shared", "-o", "libinter.so"])
            .arg(&lib)
            .args(extra));
        ok(Command::new("gcc")
            .arg(fixture("interpose_main.c"))
            .args(["-o", "imain", "-L.", "-linter"])
            .current_dir(w.dir.path()));
        outputs.push(w.run_program("imain"));
        let syms = dynsyms(&w, "libinter.so");
        assert!(
            syms.lines()
                .any(|l| l.contains("PROTECTED") && l.ends_with("protected_fn")),
            "{syms}"
        );
        assert!(!syms.contains("hidden_fn"), "{syms}");
        check_readelf(&w.path("libinter.so"));
    }
    assert_eq!(outputs[0], "lib_calls = 723\n");
    assert_eq!(outputs[1], "lib_calls = 123\n");
    assert_eq!(
        outputs[2], "lib_calls = 123\n",
        "-Bsymbolic-functions binds the function locally too"
    );
    let flags = readelf(&["-dW"], &w.path("libinter.so"));
    assert!(
        !flags.contains("SYMBOLIC"),
        "-Bsymbolic-functions sets no DF_SYMBOLIC:\n{flags}"
    );
    ok(w.driver(Cc::Gcc, Linker::Tether, false)
        .args(["-shared", "-o", "libsym.so", "-Wl,-Bsymbolic"])
        .arg(&lib));
    let flags = readelf(&["-dW"], &w.path("libsym.so"));
    assert!(flags.contains("SYMBOLIC"), "{flags}");
}

#[test]
fn common_symbols_and_weak_definitions() {
    let w = Work::new();
    for src in ["common_a", "common_b"] {
        ok(Command::new("gcc")
            .args(["-O2", "-fPIC", "-fcommon", "-c"])
            .arg(fixture(&format!("{src}.c")))
            .args(["-o", &format!("{src}.o")])
            .current_dir(w.dir.path()));
    }
    let syms = readelf(&["-sW"], &w.path("common_a.o"));
    assert!(
        syms.contains("COM "),
        "the fixture should have a COMMON symbol:\n{syms}"
    );
    ok(w.driver(Cc::Gcc, Linker::Tether, false).args([
        "-shared",
        "-o",
        "libcommon.so",
        "common_a.o",
        "common_b.o",
    ]));
    ok(Command::new("gcc")
        .arg(fixture("common_main.c"))
        .args(["-o", "cmain", "-L.", "-lcommon"])
        .current_dir(w.dir.path()));
    assert_eq!(w.run_program("cmain"), "common = 11\nweak_choice = 2\n");
    check_elflint(&w.path("libcommon.so"));
}

#[test]
fn hash_styles_each_load() {
    for (style, sysv, gnu) in [
        ("sysv", true, false),
        ("gnu", false, true),
        ("both", true, true),
    ] {
        let w = Work::new();
        let dep = w.compile(Cc::Gcc, "-O2", &fixture("dep.c"), "dep.o", false);
        let fix = w.compile(Cc::Gcc, "-O2", &fixture("fix.c"), "fix.o", false);
        let hs = format!("-Wl,--hash-style={style}");
        ok(w.driver(Cc::Gcc, Linker::Tether, false)
            .args(["-shared", "-o", "libdep.so", &hs])
            .arg(&dep));
        ok(w.driver(Cc::Gcc, Linker::Tether, false)
            .args(["-shared", "-o", "libfix.so", &hs, "-Wl,-init=fix_init"])
            .arg(&fix)
            .args(["-L.", "-ldep"]));
        let sections = readelf(&["-SW"], &w.path("libfix.so"));
        assert_eq!(sections.contains(" .hash "), sysv, "{style}:\n{sections}");
        assert_eq!(
            sections.contains(" .gnu.hash "),
            gnu,
            "{style}:\n{sections}"
        );
        ok(Command::new("gcc")
            .arg(fixture("main.c"))
            .args(["-o", "main", "-L.", "-lfix", "-ldep", "-ldl"])
            .current_dir(w.dir.path()));
        let out = w.run_program("main");
        assert!(
            out.contains("main: dep_add via PLT = 5") && out.contains("main: tls = 60914"),
            "{style}:\n{out}"
        );
        check_elflint(&w.path("libfix.so"));
    }
}

#[test]
fn build_id_styles() {
    let w = Work::new();
    w.compile(Cc::Gcc, "-O2", &fixture("dep.c"), "dep.o", false);
    for (arg, len) in [
        ("--build-id", 20),
        ("--build-id=sha1", 20),
        ("--build-id=md5", 16),
        ("--build-id=uuid", 16),
        ("--build-id=0xdeadbeef", 4),
    ] {
        tether_in(&w, &["-shared", "-o", "b.so", arg, "dep.o"]);
        let notes = readelf(&["-nW"], &w.path("b.so"));
        let id = notes
            .lines()
            .find_map(|l| l.split("Build ID: ").nth(1))
            .map(str::trim)
            .unwrap_or_else(|| panic!("{arg}:\n{notes}"));
        assert_eq!(id.len(), 2 * len, "{arg}: {id}");
        if arg.ends_with("0xdeadbeef") {
            assert_eq!(id, "deadbeef");
        }
        check_elflint(&w.path("b.so"));
    }
    tether_in(&w, &["-shared", "-o", "n.so", "--build-id=none", "dep.o"]);
    assert!(!readelf(&["-nW"], &w.path("n.so")).contains("Build ID"));
}

/// An absolute address in a read-only section: DT_TEXTREL with a warning, and it still runs.
#[test]
fn text_relocation_warns_and_loads() {
    let w = Work::new();
    ok(Command::new("gcc")
        .arg("-c")
        .arg(fixture("textrel.s"))
        .args(["-o", "textrel.o"])
        .current_dir(w.dir.path()));
    let out = run(Command::new(tether())
        .args(["-shared", "-o", "libtextrel.so", "textrel.o"])
        .current_dir(w.dir.path()));
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("warning: creating DT_TEXTREL")
            && stderr.contains("read-only section `.rodata'"),
        "{stderr}"
    );
    let d = readelf(&["-dW"], &w.path("libtextrel.so"));
    assert!(d.contains("(TEXTREL)"), "{d}");
    check_elflint(&w.path("libtextrel.so"));
    std::fs::write(
        w.path("trmain.c"),
        "#include <stdio.h>\nextern int (*const textrel_table[])(void);\nint main(void) { printf(\"%d\\n\", textrel_table[0]()); return 0; }\n",
    )
    .expect("write main");
    ok(Command::new("gcc")
        .args(["trmain.c", "-o", "trmain", "-L.", "-ltextrel"])
        .current_dir(w.dir.path()));
    assert_eq!(w.run_program("trmain"), "5\n");
}

/// --version-script: named nodes with a parent, `local: *`, globs; the program built against
/// the library records the versions it uses and runs.
#[test]
fn version_script_defines_versions_and_hides_the_rest() {
    let w = Work::new();
    let obj = w.compile(Cc::Gcc, "-O2", &fixture("versioned.c"), "v.o", false);
    let map = format!(
        "-Wl,--version-script={}",
        fixture("versioned.map").display()
    );
    ok(w.driver(Cc::Gcc, Linker::Tether, false)
        .args(["-shared", "-o", "libversioned.so", &map])
        .arg(&obj));
    let lib = w.path("libversioned.so");
    check_readelf(&lib);
    check_elflint(&lib);
    let v = readelf(&["-VW"], &lib);
    assert!(
        v.contains("Flags: BASE  Index: 1  Cnt: 1  Name: libversioned.so"),
        "{v}"
    );
    assert!(v.contains("Index: 2  Cnt: 1  Name: VERS_1"), "{v}");
    assert!(
        v.contains("Index: 3  Cnt: 2  Name: VERS_2") && v.contains("Parent 1: VERS_1"),
        "{v}"
    );
    let syms = dynsyms(&w, "libversioned.so");
    assert!(
        syms.contains("api_v1@@VERS_1") && syms.contains("api_v2@@VERS_2"),
        "{syms}"
    );
    assert!(
        !syms.contains("helper_double") && !syms.contains("internal_thing"),
        "{syms}"
    );
    ok(Command::new("gcc")
        .arg(fixture("versioned_main.c"))
        .args(["-o", "vmain", "-L.", "-lversioned"])
        .current_dir(w.dir.path()));
    let needs = readelf(&["-VW"], &w.path("vmain"));
    assert!(
        needs.contains("Name: VERS_1") && needs.contains("Name: VERS_2"),
        "{needs}"
    );
    assert_eq!(w.run_program("vmain"), "api_v1 = 21, api_v2 = 22\n");
}

/// `-l:file` names a file exactly; `--sysroot` prefixes `=` search directories.
#[test]
fn exact_library_names_and_sysroot() {
    let w = Work::new();
    archives(&w);
    std::fs::create_dir_all(w.path("root/opt/lib")).expect("sysroot dirs");
    tether_in(
        &w,
        &[
            "-shared",
            "-o",
            "root/opt/lib/libsys.so",
            "-soname",
            "libsys.so",
            "arch_three.o",
        ],
    );
    ok(Command::new("ar")
        .args(["rcs", "root/opt/lib/libexact.a", "arch_three.o"])
        .current_dir(w.dir.path()));
    tether_in(
        &w,
        &[
            "-shared",
            "-o",
            "s.so",
            "arch_two.o",
            "--sysroot=root",
            "-L=/opt/lib",
            "-lsys",
        ],
    );
    assert!(readelf(&["-dW"], &w.path("s.so")).contains("[libsys.so]"));
    tether_in(
        &w,
        &[
            "-shared",
            "-o",
            "e.so",
            "arch_two.o",
            "--sysroot",
            "root",
            "-L=/opt/lib",
            "-l:libexact.a",
        ],
    );
    assert!(
        has_dynsym(&w, "e.so", "arch_three"),
        "-l:libexact.a must link the archive member"
    );
    let err = tether_fails(
        &w,
        &[
            "-shared",
            "-o",
            "x.so",
            "arch_two.o",
            "-L=/opt/lib",
            "-lnothere",
        ],
    );
    assert!(err.contains("-lnothere"), "{err}");
}

/// A default-visibility IFUNC is exported as such (ELFOSABI_GNU) and resolved by the loader.
#[test]
fn ifunc_default_visibility_is_resolved_by_the_loader() {
    let w = Work::new();
    w.compile(Cc::Gcc, "-O2", &fixture("ifunc.c"), "ifunc.o", false);
    ok(w.driver(Cc::Gcc, Linker::Tether, false)
        .args(["-shared", "-o", "libifunc.so", "ifunc.o"]));
    check_elflint(&w.path("libifunc.so"));
    ok(Command::new("gcc")
        .arg(fixture("ifunc_main.c"))
        .args(["-o", "ifm", "-L.", "-lifunc"])
        .current_dir(w.dir.path()));
    assert_eq!(w.run_program("ifm"), "6 5\n");
}

/// A hidden IFUNC is reached through IRELATIVE slots (a PLT entry for calls and its address,
/// a data word), from gcc and clang at -O0 and -O2; so is a static (file-local) one.
#[test]
fn ifunc_hidden_and_static_go_through_irelative() {
    for cc in [Cc::Gcc, Cc::Clang] {
        for opt in ["-O0", "-O2"] {
            let w = Work::new();
            w.compile(cc, opt, &fixture("ifunc_hidden.c"), "ifunc.o", false);
            ok(w.driver(Cc::Gcc, Linker::Tether, false).args([
                "-shared",
                "-o",
                "libhif.so",
                "ifunc.o",
            ]));
            check_elflint(&w.path("libhif.so"));
            let relocs = Command::new("readelf")
                .args(["-rW", "libhif.so"])
                .current_dir(w.dir.path())
                .output()
                .expect("readelf");
            let relocs = String::from_utf8_lossy(&relocs.stdout);
            // One for the PLT slot, one for the data word; the symbol stays out of .dynsym.
            assert_eq!(relocs.matches("R_X86_64_IRELATIVE").count(), 2, "{relocs}");
            assert!(!relocs.contains("hidden_f"), "{relocs}");
            ok(Command::new("gcc")
                .arg(fixture("ifunc_hidden_main.c"))
                .args(["-o", "hm", "-L.", "-lhif"])
                .current_dir(w.dir.path()));
            assert_eq!(w.run_program("hm"), "42 42 42\n", "{cc:?} {opt}");
        }
    }

    let w = Work::new();
    let src = std::fs::read_to_string(fixture("ifunc.c")).expect("fixture");
    std::fs::write(
        w.path("static.c"),
        src.replace("int chooser(void)", "static int chooser(void)"),
    )
    .expect("write");
    std::fs::write(w.path("static_main.c"), "#include <stdio.h>\nint use_ifunc(void);\nint main(void) { printf(\"%d\\n\", use_ifunc()); return 0; }\n").expect("write");
    w.compile(Cc::Gcc, "-O2", &w.path("static.c"), "static.o", false);
    tether_in(&w, &["-shared", "-o", "libs.so", "static.o"]);
    check_elflint(&w.path("libs.so"));
    let relocs = ok(Command::new("readelf")
        .args(["-rW", "libs.so"])
        .current_dir(w.dir.path()));
    assert!(
        relocs.contains("R_X86_64_IRELATIVE") && !relocs.contains("chooser"),
        "{relocs}"
    );
    ok(Command::new("gcc")
        .args(["static_main.c", "-o", "sm", "-L.", "-ls"])
        .current_dir(w.dir.path()));
    assert_eq!(w.run_program("sm"), "6\n");
}

/// `.symver` in the object: a hidden `compat@VERS_1` and a default `compat@@VERS_2`, both
/// exported as `compat`; a new program binds to VERS_2. Without a script naming the
/// versions the link fails as ld.bfd's does.
#[test]
fn symver_versions_from_the_object() {
    let w = Work::new();
    w.compile(Cc::Gcc, "-O2", &fixture("symver.c"), "symver.o", false);
    let map = format!("--version-script={}", fixture("symver.map").display());
    tether_in(&w, &["-shared", "-o", "libsv.so", &map, "symver.o"]);
    check_elflint(&w.path("libsv.so"));
    let syms = dynsyms(&w, "libsv.so");
    assert!(
        syms.contains("compat@VERS_1")
            && syms.contains("compat@@VERS_2")
            && syms.contains("plain@@VERS_1"),
        "{syms}"
    );
    assert!(
        !syms.contains("old_impl") && !syms.contains("new_impl"),
        "{syms}"
    );
    ok(Command::new("gcc")
        .arg(fixture("symver_main.c"))
        .args(["-o", "svm", "-L.", "-lsv"])
        .current_dir(w.dir.path()));
    assert_eq!(w.run_program("svm"), "compat = 2\n");
    let err = tether_fails(&w, &["-shared", "-o", "x.so", "symver.o"]);
    assert!(
        err.contains("version node not found for symbol compat@"),
        "{err}"
    );

    // A reference pinned with .symver binds to that exact (non-default) version.
    w.compile(Cc::Gcc, "-O2", &fixture("symver_user.c"), "user.o", false);
    tether_in(
        &w,
        &[
            "-shared",
            "-o",
            "libsvuser.so",
            "-z",
            "defs",
            "user.o",
            "-L.",
            "-lsv",
        ],
    );
    check_elflint(&w.path("libsvuser.so"));
    let v = readelf(&["-VW"], &w.path("libsvuser.so"));
    assert!(
        v.contains("Name: VERS_1") && v.contains("Name: VERS_2"),
        "{v}"
    );
    ok(Command::new("gcc")
        .arg(fixture("symver_user_main.c"))
        .args(["-o", "svu", "-L.", "-lsvuser", "-lsv"])
        .current_dir(w.dir.path()));
    assert_eq!(w.run_program("svu"), "use_both = 12\n");
}

/// `__start_SEC`/`__stop_SEC` bracket a C-identifier section gathered from several objects.
#[test]
fn start_stop_symbols_bracket_linker_sets() {
    let w = Work::new();
    w.compile(Cc::Gcc, "-O2", &fixture("linkset_a.c"), "a.o", false);
    w.compile(Cc::Gcc, "-O2", &fixture("linkset_b.c"), "b.o", false);
    ok(w.driver(Cc::Gcc, Linker::Tether, false).args([
        "-shared",
        "-o",
        "libset.so",
        "-Wl,-z,defs",
        "a.o",
        "b.o",
    ]));
    check_elflint(&w.path("libset.so"));
    ok(Command::new("gcc")
        .arg(fixture("linkset_main.c"))
        .args(["-o", "lsm", "-L.", "-lset"])
        .current_dir(w.dir.path()));
    assert_eq!(w.run_program("lsm"), "entries 3, sum 43\n");
}

/// PT_GNU_STACK is RW unless -z execstack or an object's .note.GNU-stack asks for X.
#[test]
fn stack_executability() {
    let w = Work::new();
    w.compile(Cc::Gcc, "-O2", &fixture("dep.c"), "dep.o", false);
    std::fs::write(
        w.path("xstack.s"),
        ".text\n.globl f\nf: ret\n.section .note.GNU-stack,\"x\",@progbits\n",
    )
    .expect("write");
    ok(Command::new("gcc")
        .args(["-c", "xstack.s", "-o", "xstack.o"])
        .current_dir(w.dir.path()));
    let stack = |lib: &str| {
        readelf(&["-lW"], &w.path(lib))
            .lines()
            .find(|l| l.contains("GNU_STACK"))
            .map(str::to_string)
            .expect("PT_GNU_STACK")
    };
    tether_in(&w, &["-shared", "-o", "rw.so", "dep.o"]);
    assert!(
        stack("rw.so").contains(" RW ") && !stack("rw.so").contains("RWE"),
        "{}",
        stack("rw.so")
    );
    tether_in(&w, &["-shared", "-o", "zx.so", "-z", "execstack", "dep.o"]);
    assert!(stack("zx.so").contains("RWE"), "{}", stack("zx.so"));
    tether_in(&w, &["-shared", "-o", "nx.so", "dep.o", "xstack.o"]);
    assert!(stack("nx.so").contains("RWE"), "{}", stack("nx.so"));
    tether_in(
        &w,
        &[
            "-shared",
            "-o",
            "back.so",
            "-z",
            "execstack",
            "-z",
            "noexecstack",
            "dep.o",
        ],
    );
    assert!(!stack("back.so").contains("RWE"), "{}", stack("back.so"));
}
