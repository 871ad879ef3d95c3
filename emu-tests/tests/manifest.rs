//! Scenario manifests: the corpus parses, and bad manifests are clear errors, not panics.

use tether_emu_tests::compare::first_difference;
use tether_emu_tests::{corpus, Arch, Observation, ObservedBinding, Scenario};

fn write_scenario(files: &[(&str, &str)]) -> (tempfile::TempDir, Scenario) {
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path().join("demo");
    std::fs::create_dir(&root).expect("mkdir");
    for (name, text) in files {
        std::fs::write(root.join(name), text).expect("write");
    }
    let scenario = Scenario::load(&root).unwrap_or_else(|e| panic!("{e}"));
    (dir, scenario)
}

fn load_error(files: &[(&str, &str)]) -> String {
    let dir = tempfile::tempdir().expect("temp dir");
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).expect("write");
    }
    match Scenario::load(dir.path()) {
        Ok(_) => panic!("the manifest was accepted"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn the_built_in_corpus_parses_and_documents_itself() {
    let scenarios = corpus().unwrap_or_else(|e| panic!("{e}"));
    let names: Vec<&str> = scenarios.iter().map(|s| s.name.as_str()).collect();
    for required in [
        "seed",
        "lazy-binding",
        "bind-now",
        "init-fini-chain",
        "private-state",
        "symbol-versioning",
        "tls",
        "tls-from-program",
        "data-relocs",
        "arm-interworking",
        "dlopen",
        "cxx-exceptions",
        "undefined-at-run",
        "link-error",
        "interposition",
        "copy-relocation",
        "asm-relocs",
        "tls-descriptors",
        "ifunc",
        "program-pie",
        "program-no-pie",
        "program-tls",
        "program-tls-descriptors",
        "program-static",
        "program-static-pie",
        "library-as-program",
        "cxx-program",
        "cxx-static",
        "seed-program",
        "lto-program",
        "lto-clang",
    ] {
        assert!(
            names.contains(&required),
            "{required} missing from {names:?}"
        );
    }
    for s in &scenarios {
        assert!(
            s.manifest.about.len() > 40,
            "{} does not say what it proves",
            s.name
        );
        // Every scenario an in-process backend can run says what to call in place of main,
        // or has a program for it to run.
        if !s.manifest.real_loader_only {
            assert!(
                !s.manifest.calls.is_empty() || s.manifest.program.is_some(),
                "{} has neither calls nor a program",
                s.name
            );
        }
    }
    // The same expected output must come from the program (real loaders) and from the calls
    // (in-process loaders), so a program that in-process backends stand in for prints nothing.
    for s in scenarios
        .iter()
        .filter(|s| !s.manifest.real_loader_only && !s.manifest.calls.is_empty())
    {
        for source in s.manifest.program.iter().flat_map(|p| &p.sources) {
            let text = String::from_utf8_lossy(s.file(source.file()).unwrap_or_default());
            assert!(
                !text.contains("printf") && !text.contains("puts"),
                "{}: {} prints, but in-process backends do not run it",
                s.name,
                source.file()
            );
        }
    }
    let interworking = scenarios
        .iter()
        .find(|s| s.name == "arm-interworking")
        .expect("present");
    assert!(interworking.manifest.applies_to(Arch::Arm));
    assert!(!interworking.manifest.applies_to(Arch::X86_64));
}

#[test]
fn unknown_fields_missing_sources_and_bad_needs_are_errors() {
    let err = load_error(&[(
        "scenario.json",
        r#"{"about": "x", "expect": {}, "colour": 1}"#,
    )]);
    assert!(err.contains("unknown field `colour`"), "{err}");

    let err = load_error(&[(
        "scenario.json",
        r#"{"about": "x", "libraries": [{"name": "liba.so", "sources": ["a.c"]}], "expect": {}}"#,
    )]);
    assert!(
        err.contains("`liba.so` lists the source `a.c`, which is not in the scenario"),
        "{err}"
    );

    let err = load_error(&[
        ("a.c", ""),
        (
            "scenario.json",
            r#"{"about": "x", "libraries": [{"name": "liba.so", "sources": ["a.c"], "needs": ["libb.so"]}], "expect": {}}"#,
        ),
    ]);
    assert!(
        err.contains("`liba.so` needs `libb.so`, which is not a library listed before it"),
        "{err}"
    );

    let err = load_error(&[
        ("a.c", ""),
        (
            "scenario.json",
            r#"{"about": "x", "program": {"sources": ["a.c"], "kind": "shared"}, "expect": {}}"#,
        ),
    ]);
    assert!(
        err.contains(
            "unknown variant `shared`, expected one of `pie`, `no-pie`, `static`, `static-pie`"
        ),
        "{err}"
    );

    let err = load_error(&[
        ("a.c", ""),
        (
            "scenario.json",
            r#"{"about": "x", "libraries": [{"name": "liba.so", "sources": ["a.c"], "kind": "pie"}], "expect": {}}"#,
        ),
    ]);
    assert!(
        err.contains("`liba.so` has a `kind`, which only the program has"),
        "{err}"
    );

    let err = load_error(&[
        ("a.c", ""),
        (
            "scenario.json",
            r#"{"about": "x", "program": {"sources": ["a.c"], "runs_directly": true}, "expect": {}}"#,
        ),
    ]);
    assert!(
        err.contains("the program has `runs_directly`, which only libraries have"),
        "{err}"
    );

    let err = load_error(&[
        ("a.c", ""),
        (
            "scenario.json",
            r#"{"about": "x", "libraries": [{"name": "liba.so", "sources": ["a.c"], "runs_directly": true}], "calls": [{"symbol": "f"}], "expect": {}}"#,
        ),
    ]);
    assert!(
        err.contains("`liba.so` runs directly, so the scenario needs a program and no `calls`"),
        "{err}"
    );

    let err = load_error(&[
        ("a.c", ""),
        (
            "scenario.json",
            r#"{"about": "x", "libraries": [{"name": "liba.so", "sources": ["a.c"]}], "program": {"kind": "static-pie", "sources": ["a.c"], "needs": ["liba.so"]}, "expect": {}}"#,
        ),
    ]);
    assert!(
        err.contains("a static-pie program cannot need shared libraries"),
        "{err}"
    );

    let err = load_error(&[("a.c", "")]);
    assert!(err.contains("scenario.json is missing"), "{err}");

    let err = load_error(&[("scenario.json", "{ not json")]);
    assert!(err.contains("scenario.json: key must be a string"), "{err}");
}

fn binding(from: &str, symbol: &str, to: &str, after: usize) -> ObservedBinding {
    ObservedBinding {
        from: from.into(),
        symbol: symbol.into(),
        to: to.into(),
        version: None,
        after_lines: Some(after),
    }
}

#[test]
fn comparison_checks_order_bindings_and_unbound_symbols() {
    let (_dir, scenario) = write_scenario(&[
        ("a.c", ""),
        ("b.c", ""),
        (
            "scenario.json",
            r#"{
              "about": "x",
              "libraries": [{"name": "liba.so", "sources": ["a.c"]}, {"name": "libb.so", "sources": ["b.c"]}],
              "expect": {
                "stdout": "one\ntwo\n",
                "init_order": ["libb.so", "liba.so"],
                "bindings": [
                  {"from": "liba.so", "symbol": "f", "to": "libb.so", "after_lines": 1},
                  {"from": "liba.so", "symbol": "g", "to": "libb.so"}
                ],
                "unbound": ["state"]
              }
            }"#,
        ),
    ]);
    let good = Observation {
        stdout: "one\ntwo\n".into(),
        exit_code: Some(0),
        init_order: Some(vec!["libc.so.6".into(), "libb.so".into(), "liba.so".into()]),
        fini_order: None,
        bindings: vec![
            binding("liba.so", "puts", "libc.so.6", 0),
            binding("liba.so", "f", "libb.so", 1),
            binding("liba.so", "g", "libb.so", 2),
        ],
        ..Observation::default()
    };
    assert_eq!(first_difference(&scenario, true, &good), None);

    let mut wrong_order = good.clone();
    wrong_order.init_order = Some(vec!["liba.so".into(), "libb.so".into()]);
    let d = first_difference(&scenario, true, &wrong_order).expect("caught");
    assert_eq!(
        (d.what.as_str(), d.expected.as_str(), d.observed.as_str()),
        (
            "init order (scenario libraries)",
            "libb.so, liba.so",
            "liba.so, libb.so"
        )
    );

    let mut swapped = good.clone();
    swapped.bindings.swap(1, 2);
    let d = first_difference(&scenario, true, &swapped).expect("caught");
    assert_eq!(d.what, "binding of `g`");
    assert!(
        d.observed
            .ends_with("(but before the binding expected ahead of it)"),
        "{d}"
    );

    let mut eager = good.clone();
    eager.bindings[1].after_lines = Some(0);
    let d = first_difference(&scenario, true, &eager).expect("caught");
    assert_eq!(d.what, "when `f` was bound");

    let mut leaked = good.clone();
    leaked
        .bindings
        .push(binding("libb.so", "state", "liba.so", 2));
    let d = first_difference(&scenario, true, &leaked).expect("caught");
    assert_eq!(d.what, "binding of `state`");

    let mut short = good.clone();
    short.stdout = "one\n".into();
    let d = first_difference(&scenario, true, &short).expect("caught");
    assert_eq!(
        (d.what.as_str(), d.observed.as_str()),
        ("stdout line 2", "(end of output)")
    );

    let mut crashed = good;
    crashed.error = Some("the program was killed by signal 11".into());
    let d = first_difference(&scenario, true, &crashed).expect("caught");
    assert_eq!(d.what, "run");
}
