//! The lazy ≡ eager comparisons on hand-made observations: what each one catches.

use tether_emu_tests::modes::{compares, got_difference, lazy_eager_difference};
use tether_emu_tests::{corpus, JumpSlot, Observation, ObservedBinding, Scenario};

fn scenario(name: &str) -> Scenario {
    corpus()
        .unwrap_or_else(|e| panic!("{e}"))
        .into_iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("no scenario {name}"))
}

fn binding(from: &str, symbol: &str, to: &str) -> ObservedBinding {
    ObservedBinding {
        from: from.into(),
        symbol: symbol.into(),
        to: to.into(),
        version: None,
        after_lines: None,
    }
}

fn slot(object: &str, offset: u64, symbol: &str, target: &str) -> JumpSlot {
    JumpSlot {
        object: object.into(),
        offset,
        symbol: symbol.into(),
        version: None,
        target_object: target.split(':').next().unwrap_or_default().into(),
        target: target.into(),
    }
}

fn run() -> Observation {
    Observation {
        stdout: "libgo: init\nlibtest: hello 1\n".into(),
        exit_code: Some(0),
        bindings: vec![binding("libgo.so", "test_hello", "libtest.so")],
        jump_slots: Some(vec![slot(
            "libgo.so",
            0x4008,
            "test_hello",
            "libtest.so:test_hello+0x0",
        )]),
        ..Observation::default()
    }
}

#[test]
fn identical_runs_agree() {
    assert_eq!(lazy_eager_difference(&run(), &run()), None);
    assert_eq!(
        got_difference(&scenario("seed"), &run(), &run(), "qemu"),
        None
    );
}

#[test]
fn a_lazy_run_that_prints_differently_is_caught() {
    let mut lazy = run();
    lazy.stdout = "libgo: init\n".into();
    let d = lazy_eager_difference(&lazy, &run()).expect("caught");
    assert_eq!(d.what, "lazy ≡ eager: stdout line 2");
    assert_eq!(d.expected, "\"libtest: hello 1\" (with eager binding)");
    assert_eq!(d.observed, "end of output");
}

#[test]
fn a_lazy_run_that_fails_is_caught() {
    let mut lazy = run();
    lazy.error = Some("killed by signal 11".into());
    let d = lazy_eager_difference(&lazy, &run()).expect("caught");
    assert_eq!(d.what, "lazy ≡ eager: the run's outcome");
    assert_eq!(d.observed, "killed by signal 11");
}

#[test]
fn a_lazy_binding_to_another_object_is_caught() {
    let mut lazy = run();
    lazy.bindings = vec![binding("libgo.so", "test_hello", "libgo.so")];
    let d = lazy_eager_difference(&lazy, &run()).expect("caught");
    assert_eq!(d.what, "lazy ≡ eager: libgo.so's binding of `test_hello'");
    assert_eq!(d.expected, "in libtest.so (with eager binding)");
}

#[test]
fn a_slot_left_elsewhere_by_the_lazy_path_is_caught() {
    let mut lazy = run();
    lazy.jump_slots = Some(vec![slot(
        "libgo.so",
        0x4008,
        "test_hello",
        "libgo.so:go_back+0x0",
    )]);
    let d = lazy_eager_difference(&lazy, &run()).expect("caught");
    assert_eq!(
        d.what,
        "lazy ≡ eager: libgo.so's JUMP_SLOT for `test_hello' at the end"
    );
    assert_eq!(d.expected, "libtest.so:test_hello+0x0 (with eager binding)");
    assert_eq!(d.observed, "libgo.so:go_back+0x0");
}

#[test]
fn the_final_got_must_point_where_glibc_bound() {
    let mut harness = run();
    harness.jump_slots = Some(vec![slot(
        "libgo.so",
        0x4008,
        "test_hello",
        "libgo.so:go_back+0x0",
    )]);
    let d = got_difference(&scenario("seed"), &harness, &run(), "qemu").expect("caught");
    assert!(
        d.what.starts_with("libgo.so's JUMP_SLOT for `test_hello'"),
        "{}",
        d.what
    );
    assert!(
        d.what
            .contains("qemu's LD_DEBUG=bindings with LD_BIND_NOW=1"),
        "{}",
        d.what
    );
    assert_eq!(d.expected, "in libtest.so");
    // A slot into the C library is no scenario library's: not compared.
    harness.jump_slots = Some(vec![slot("libgo.so", 0x4010, "puts", "libc.so.6:puts")]);
    assert_eq!(
        got_difference(&scenario("seed"), &harness, &run(), "qemu"),
        None
    );
}

#[test]
fn scenarios_expecting_an_error_are_not_compared() {
    assert!(compares(&scenario("seed")));
    assert!(!compares(&scenario("undefined-at-run")));
}
