//! Programs that import data and take functions' addresses from a library: in a fixed-address
//! (-no-pie) program, copy relocations (the library's data copied into the program, every
//! library reference bound to the copy) and canonical PLT entries (a function's address is
//! the program's PLT entry, in the program and in every library); in a PIE neither. Output
//! compared with glibc's loader natively or under qemu-arm.

mod common;
use common::*;
use tether_harness::{Arch, Event};

const LIBRARY: &str = r#"
#include <stdio.h>
int counter = 5;
const int table[4] = {10, 20, 30, 40};
int lib_twice(int x) { return 2 * x; }
int *lib_counter_address(void) { return &counter; }
const int *lib_table_address(void) { return table; }
int (*lib_twice_address(void))(int) { return lib_twice; }
int (*lib_puts_address(void))(const char *) { return puts; }
int lib_bump(void) { return ++counter; }
"#;

const PROGRAM: &str = r#"
#include <stdio.h>
extern int counter;
extern const int table[4];
int lib_twice(int);
int *lib_counter_address(void);
const int *lib_table_address(void);
int (*lib_twice_address(void))(int);
int (*lib_puts_address(void))(const char *);
int lib_bump(void);
int main(void) {
  counter += 10;
  printf("counter %d, library sees %d, bumped %d\n", counter, *lib_counter_address(), lib_bump());
  printf("same counter %d, same table %d, table[2] %d\n", lib_counter_address() == &counter,
         lib_table_address() == table, table[2]);
  printf("lib_twice equal %d, puts equal %d\n", lib_twice_address() == &lib_twice,
         lib_puts_address() == &puts);
  int (*f)(int) = lib_twice_address();
  printf("through the pointer %d\n", f(21));
  lib_puts_address()("puts through the library's pointer");
  return 0;
}
"#;

/// The program's output under glibc's own loader.
fn under_real_glibc(tc: Toolchain, exe: &std::path::Path, libdir: &std::path::Path) -> String {
    let mut cmd = match tc.arch() {
        Arch::X86_64 => std::process::Command::new(exe),
        Arch::Arm => {
            let mut c = std::process::Command::new("qemu-arm");
            c.args(["-L", "/usr/arm-linux-gnueabihf"]).arg(exe);
            c
        }
    };
    let o = cmd
        .env_clear()
        .env("LD_LIBRARY_PATH", libdir)
        .output()
        .expect("run the program (qemu-arm comes from the Debian package qemu-user)");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout).unwrap()
}

fn relocations<'a>(events: &'a [Event], object: &str, kind_suffix: &str) -> Vec<&'a Event> {
    events
        .iter()
        .filter(|e| {
            matches!(e, Event::Relocated { object: o, kind, .. }
                if o == object && kind.ends_with(kind_suffix))
        })
        .collect()
}

fn canonical(events: &[Event]) -> Vec<(String, String, u64)> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::CanonicalPlt {
                object,
                symbol,
                address,
            } => Some((object.clone(), symbol.clone(), *address)),
            _ => None,
        })
        .collect()
}

/// Where the library's references to `symbol` (GLOB_DAT or ABS) were bound, and the value.
fn library_binding(events: &[Event], symbol: &str) -> Option<(String, u64)> {
    events.iter().find_map(|e| match e {
        Event::Relocated {
            object,
            symbol: s,
            target_object: Some(t),
            value,
            ..
        } if object == "libprovider.so" && s == symbol => Some((t.clone(), *value)),
        _ => None,
    })
}

fn program_symbols(tc: Toolchain) {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    tc.shared(d, "libprovider.so", LIBRARY, &[]);
    for pie in [false, true] {
        let exe = tc.program(d, "main", PROGRAM, pie, &["-lprovider"]);
        let mut s = session(tc, d);
        let root = s.load(&exe).unwrap();
        s.run_init().unwrap();
        assert_eq!(s.run_entry(root, &["main"]).unwrap(), 0);
        s.run_fini().unwrap();
        let real = under_real_glibc(tc, &exe, d);
        assert_eq!(s.stdout(), real, "pie={pie}");
        assert!(real.contains("lib_twice equal 1, puts equal 1"), "{real}");
        assert!(real.contains("same counter 1, same table 1"), "{real}");
        let events = s.events();
        let copies = relocations(events, "main", "_COPY");
        let canon = canonical(events);
        // gcc's x86-64 PIE code reaches imported data directly too (copy relocations);
        // wherever there are copies, the library must use them.
        copy_relocations(events, &copies);
        if pie {
            assert!(
                canon.is_empty(),
                "a PIE needs no canonical PLT entries: {canon:?}"
            );
            continue;
        }
        let copied: Vec<&str> = copies
            .iter()
            .filter_map(|e| match e {
                Event::Relocated { symbol, .. } => Some(symbol.as_str()),
                _ => None,
            })
            .collect();
        assert!(
            copied.contains(&"counter") && copied.contains(&"table"),
            "{copied:?}"
        );
        canonical_addresses(&s, &canon);
    }
}

/// Each variable copied from the library into the program (`counter` writable, `table`
/// read-only) came from the library, and the library's own references are bound to the copy.
fn copy_relocations(events: &[Event], copies: &[&Event]) {
    for copy in copies {
        let Event::Relocated {
            symbol,
            address,
            target_object,
            ..
        } = copy
        else {
            unreachable!()
        };
        assert_eq!(target_object.as_deref(), Some("libprovider.so"), "{symbol}");
        let (to, value) = library_binding(events, symbol).expect("library binds it");
        assert_eq!((to.as_str(), value), ("main", *address), "{symbol}");
    }
}

/// `lib_twice` and `puts`, whose addresses the non-PIC program takes, have canonical PLT
/// entries in the program, and the library's references resolve to them.
fn canonical_addresses(s: &tether_harness::Session, canon: &[(String, String, u64)]) {
    for name in ["lib_twice", "puts"] {
        let (object, _, address) = canon
            .iter()
            .find(|c| c.1 == name)
            .unwrap_or_else(|| panic!("no canonical address for {name}: {canon:?}"));
        assert_eq!(object, "main");
        let (to, value) = library_binding(s.events(), name).expect("library binds it");
        assert_eq!((to.as_str(), value), ("main", *address), "{name}");
    }
    // The program's own calls still reach the real functions through its PLT.
    let bound = |symbol: &str| {
        s.events().iter().any(|e| {
            matches!(e, Event::Bound { object, symbol: b, target_object, .. }
            if object == "main" && b == symbol && target_object != "main")
        })
    };
    assert!(
        bound("lib_bump"),
        "main's PLT call of lib_bump bound to the library"
    );
}

for_each_toolchain!(program_symbols);
