//! The program scenarios exercise what they say they do, in GNU ld's output: the relaxations,
//! copy relocations, canonical PLT entries, IRELATIVE relocations and PT_INTERP their `about`
//! claims are really in the files (a scenario that passed without them would prove nothing).

use std::path::Path;
use std::process::Command;
use tether_emu_tests::{build, corpus, Linker, Target};

/// `readelf -W ARGS` of the module `module` of `scenario` built for `target` by GNU ld.
fn readelf(scenario: &str, target: Target, module: &str, args: &[&str]) -> String {
    let wide: Vec<&str> = std::iter::once("-W").chain(args.iter().copied()).collect();
    inspect("readelf", scenario, target, module, &wide)
}

/// `TOOL ARGS` (readelf or objdump) of a module built by GNU ld.
fn inspect(tool: &str, scenario: &str, target: Target, module: &str, args: &[&str]) -> String {
    let s = corpus()
        .unwrap_or_else(|e| panic!("{e}"))
        .into_iter()
        .find(|s| s.name == scenario)
        .unwrap_or_else(|| panic!("no scenario {scenario}"));
    let dir = tempfile::tempdir().expect("temp dir");
    let built = build(&s, target, &Linker::GnuLd, dir.path()).unwrap_or_else(|e| panic!("{e}"));
    if let Some(error) = &built.program_error {
        panic!("{error}");
    }
    run_tool(tool, &built.out_dir.join(module), args)
}

fn run_tool(tool: &str, path: &Path, args: &[&str]) -> String {
    let out = Command::new(tool)
        .args(args)
        .arg(path)
        .output()
        .unwrap_or_else(|e| panic!("{tool} (binutils): {e}"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn program_tls_is_relaxed_in_the_program_and_not_in_the_library() {
    for target in [Target::X86_64_GCC, Target::X86_64_CLANG] {
        let main = readelf("program-tls", target, "main", &["-r"]);
        // GD to IE for the library's variables, GD and LD to LE for the program's own: no
        // module id is asked for and no call to __tls_get_addr is left (GNU ld keeps its
        // unused PLT entry).
        assert!(!main.contains("DTPMOD64"), "{target}: {main}");
        let code = inspect("objdump", "program-tls", target, "main", &["-d"]);
        let calls = code
            .lines()
            .filter(|l| l.contains("call") && l.contains("__tls_get_addr"));
        assert_eq!(calls.count(), 0, "{target}: {code}");
        assert!(main.contains("R_X86_64_TPOFF64"), "{target}: {main}");
        let lib = readelf("program-tls", target, "libtlsuser.so", &["-r"]);
        assert!(lib.contains("__tls_get_addr"), "{target}: {lib}");
        assert!(lib.contains("R_X86_64_DTPMOD64"), "{target}: {lib}");
    }
}

#[test]
fn program_tls_descriptors_are_relaxed_in_the_program_and_kept_in_the_library() {
    for (target, desc) in [
        (Target::X86_64_GCC, "R_X86_64_TLSDESC"),
        (Target::ARM_GCC_THUMB, "R_ARM_TLS_DESC"),
        (Target::ARM_GCC_ARM, "R_ARM_TLS_DESC"),
    ] {
        let main = readelf("program-tls-descriptors", target, "main", &["-r"]);
        assert!(!main.contains(desc), "{target}: {main}");
        let lib = readelf("program-tls-descriptors", target, "libtlsuser.so", &["-r"]);
        assert!(lib.contains(desc), "{target}: {lib}");
    }
}

#[test]
fn program_no_pie_has_copy_relocations_and_a_canonical_plt_entry() {
    for (target, copy) in [
        (Target::X86_64_GCC, "R_X86_64_COPY"),
        (Target::X86_64_CLANG, "R_X86_64_COPY"),
        (Target::ARM_GCC_THUMB, "R_ARM_COPY"),
        (Target::ARM_CLANG, "R_ARM_COPY"),
    ] {
        let main = readelf(
            "program-no-pie",
            target,
            "main",
            &["-h", "-r", "--dyn-syms"],
        );
        assert!(main.contains("EXEC (Executable file)"), "{target}: {main}");
        for variable in ["lib_counter", "lib_table"] {
            assert!(
                main.lines()
                    .any(|l| l.contains(copy) && l.split_whitespace().any(|w| w == variable)),
                "{target}: no {copy} for {variable}: {main}"
            );
        }
        // The canonical PLT entry: lib_twice is undefined in the program, with a value (the
        // entry's address) that every reference in the process binds to.
        let canonical = main.lines().any(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            f.len() >= 8
                && f[7].starts_with("lib_twice")
                && f[6] == "UND"
                && !f[1].trim_start_matches('0').is_empty()
        });
        assert!(canonical, "{target}: {main}");
    }
}

#[test]
fn static_programs_have_no_loader_and_carry_their_irelative_relocations() {
    for (target, irelative) in [
        (Target::X86_64_GCC, "R_X86_64_IRELATIV"),
        (Target::ARM_GCC_THUMB, "R_ARM_IRELATIVE"),
        (Target::ARM_CLANG, "R_ARM_IRELATIVE"),
    ] {
        let main = readelf("program-static", target, "main", &["-h", "-l", "-r"]);
        assert!(main.contains("EXEC (Executable file)"), "{target}: {main}");
        assert!(!main.contains("INTERP"), "{target}: {main}");
        assert!(!main.contains("DYNAMIC"), "{target}: {main}");
        assert!(main.contains(irelative), "{target}: {main}");
    }
    let main = readelf(
        "program-static-pie",
        Target::X86_64_GCC,
        "main",
        &["-h", "-l", "-r"],
    );
    assert!(
        main.contains("DYN (Position-Independent Executable file)"),
        "{main}"
    );
    assert!(!main.contains("INTERP"), "{main}");
    assert!(main.contains("R_X86_64_RELATIVE"), "{main}");
    assert!(main.contains("R_X86_64_IRELATIV"), "{main}");
}

#[test]
fn the_library_that_runs_has_an_interpreter_and_its_entry_point() {
    for (target, interp) in [
        (Target::X86_64_GCC, "/lib64/ld-linux-x86-64.so.2"),
        (Target::ARM_GCC_THUMB, "/lib/ld-linux-armhf.so.3"),
    ] {
        let lib = readelf(
            "library-as-program",
            target,
            "libself.so",
            &["-h", "-l", "-s"],
        );
        assert!(lib.contains("DYN (Shared object file)"), "{target}: {lib}");
        assert!(
            lib.contains(&format!("[Requesting program interpreter: {interp}]")),
            "{target}: {lib}"
        );
        let entry = lib
            .lines()
            .find_map(|l| l.trim().strip_prefix("Entry point address:"))
            .map(|v| u64::from_str_radix(v.trim().trim_start_matches("0x"), 16).unwrap())
            .unwrap();
        let self_entry = lib
            .lines()
            .map(|l| l.split_whitespace().collect::<Vec<_>>())
            .find(|f| f.len() >= 8 && f[7] == "self_entry")
            .map(|f| u64::from_str_radix(f[1], 16).unwrap())
            .unwrap();
        assert_eq!(entry, self_entry, "{target}: {lib}");
    }
}
