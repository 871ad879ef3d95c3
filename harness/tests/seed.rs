//! The seed scenario: the host plays main and calls Go_callback(2) in libgo.so, whose DT_INIT
//! calls into libtest.so through the PLT, which calls back into libgo.so.

mod common;
use common::*;
use tether_harness::Event;

fn seed(tc: Toolchain) {
    let dir = tempfile::tempdir().unwrap();
    let seed = seed_dir();
    let d = dir.path();
    tc.shared(d, "libtest.so", &read(seed.join("libtest.c")), &[]);
    tc.shared(
        d,
        "libgo.so",
        &read(seed.join("libgo.c")),
        &["-Wl,-init=go_init", "-ltest"],
    );
    let mut s = session(tc, d);
    s.load(d.join("libgo.so")).unwrap();
    let after_load = s.events().len();
    assert!(
        !s.events().iter().any(|e| matches!(e, Event::Bound { object, symbol, .. } if object == "libgo.so" && symbol == "test_hello")),
        "test_hello must not be bound at load"
    );
    s.run_init().unwrap();
    s.call("Go_callback", &[2]).unwrap();
    s.run_fini().unwrap();
    assert_eq!(s.stdout(), read(seed.join("expected.txt")));

    let ev = s.events();
    let init = positions(
        ev,
        |e| matches!(e, Event::Init { object, kind, .. } if object == "libgo.so" && kind == "DT_INIT"),
    );
    assert_eq!(init.len(), 1, "libgo's DT_INIT runs once");
    // libtest (a dependency) is initialised before libgo.
    let test_init = positions(
        ev,
        |e| matches!(e, Event::Init { object, .. } if object == "libtest.so"),
    );
    assert!(test_init.iter().all(|&i| i < init[0]));

    let call = positions(
        ev,
        |e| matches!(e, Event::Call { function, .. } if function == "Go_callback"),
    )[0];
    for (object, symbol) in [("libgo.so", "test_hello"), ("libtest.so", "go_back")] {
        let binds = positions(
            ev,
            |e| matches!(e, Event::Bound { object: o, symbol: s, lazy: true, .. } if o == object && s == symbol),
        );
        assert_eq!(binds.len(), 1, "{object} binds {symbol} exactly once");
        // Bound during libgo's DT_INIT (its first call), not at load, and not again later.
        assert!(binds[0] > init[0] && binds[0] > after_load && binds[0] < call);
    }
    let Event::Bound {
        slot,
        target,
        after,
        before,
        ..
    } = lazy_bindings(ev, "libgo.so", "test_hello")[0].clone()
    else {
        unreachable!()
    };
    assert_eq!(Some(target), s.symbol_address("test_hello"));
    assert_eq!(after, target);
    assert_ne!(before, after);
    assert_eq!(
        s.read_word(slot).unwrap(),
        target,
        "the GOT slot holds the bound target"
    );
    let go = &s.objects().iter().find(|o| o.name == "libgo.so").unwrap();
    assert!(
        before >= go.base && before < go.base + go.size,
        "the lazy slot first pointed into libgo's PLT"
    );
    // puts/printf come from the host libc with glibc's version names.
    let v = tc.arch().glibc_base_version();
    assert_eq!(lazy_bindings(ev, "libgo.so", &format!("puts@{v}")).len(), 1);
}

for_each_toolchain!(seed);

// Other linkers' output loads too (the seed scenario only, to keep the suite short).
#[test]
fn seed_gold_x86_64() {
    seed(Toolchain::GoldX86)
}
#[test]
fn seed_gold_thumb() {
    seed(Toolchain::GoldThumb)
}
#[test]
fn seed_mold_x86_64() {
    seed(Toolchain::MoldX86)
}
