//! Symbol lookup, versions, init order, binding modes, TLS and the host library, on every
//! toolchain.

mod common;
use common::*;
use tether_harness::{Event, HarnessError, Options};

fn versioned_lookup(tc: Toolchain) {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // Old libv.so exports only foo@V1; libuse1 is linked against it.
    std::fs::write(d.join("v1.map"), "V1 { global: foo; local: *; };\n").unwrap();
    tc.shared(
        d,
        "libv.so",
        "int foo(void) { return 1; }\n",
        &[
            "-Wl,--version-script",
            &d.join("v1.map").display().to_string(),
            "-Wl,-soname,libv.so",
        ],
    );
    tc.shared(
        d,
        "libuse1.so",
        "int foo(void); int use1(void) { return foo(); }\n",
        &["-lv"],
    );
    // The new libv.so keeps foo@V1 and adds the default foo@@V2; libuse2 links against it.
    std::fs::write(
        d.join("v2.map"),
        "V1 { global: foo; local: *; };\nV2 { global: foo; } V1;\n",
    )
    .unwrap();
    let src = "__asm__(\".symver foo_v1, foo@V1\");\n__asm__(\".symver foo_v2, foo@@V2\");\n\
               int foo_v1(void) { return 1; }\nint foo_v2(void) { return 2; }\n";
    tc.shared(
        d,
        "libv.so",
        src,
        &[
            "-Wl,--version-script",
            &d.join("v2.map").display().to_string(),
            "-Wl,-soname,libv.so",
        ],
    );
    tc.shared(
        d,
        "libuse2.so",
        "int foo(void); int use2(void) { return foo(); }\n",
        &["-lv"],
    );

    let mut s = session(tc, d);
    s.load(d.join("libuse1.so")).unwrap();
    s.load(d.join("libuse2.so")).unwrap();
    s.run_init().unwrap();
    assert_eq!(
        s.call("use1", &[]).unwrap(),
        1,
        "foo@V1 must not bind to foo@@V2"
    );
    assert_eq!(s.call("use2", &[]).unwrap(), 2);
    assert_eq!(lazy_bindings(s.events(), "libuse1.so", "foo@V1").len(), 1);
    assert_eq!(lazy_bindings(s.events(), "libuse2.so", "foo@V2").len(), 1);

    // A reference to a version nobody defines is an error naming it.
    std::fs::write(d.join("v3.map"), "V3 { global: foo; local: *; };\n").unwrap();
    let sub = d.join("v3");
    std::fs::create_dir(&sub).unwrap();
    tc.shared(
        &sub,
        "libv.so",
        "int foo(void) { return 3; }\n",
        &[
            "-Wl,--version-script",
            &d.join("v3.map").display().to_string(),
            "-Wl,-soname,libv.so",
        ],
    );
    tc.shared(
        &sub,
        "libuse3.so",
        "int foo(void); int use3(void) { return foo(); }\n",
        &["-lv"],
    );
    let mut s = session_with(
        tc,
        d,
        Options {
            bind_now: true,
            ..Options::default()
        },
    );
    // libv.so is found in `d` (the V1/V2 one), not in `sub`.
    let e = s.load(sub.join("libuse3.so")).unwrap_err();
    match e {
        HarnessError::UndefinedSymbol {
            object,
            symbol,
            version,
        } => {
            assert_eq!(
                (object.as_str(), symbol.as_str(), version.as_deref()),
                ("libuse3.so", "foo", Some("V3"))
            );
        }
        other => panic!("expected an undefined symbol error, got {other:?}"),
    }
}

fn init_order(tc: Toolchain) {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let lib = |name: &str, next: Option<&str>| {
        let call = next
            .map(|n| format!("void {n}_f(void); void {name}_f(void) {{ {n}_f(); }}"))
            .unwrap_or(format!("void {name}_f(void) {{}}"));
        format!(
            "#include <stdio.h>\n{call}\n\
             __attribute__((constructor)) static void ctor(void) {{ puts(\"init {name}\"); }}\n\
             __attribute__((destructor)) static void dtor(void) {{ puts(\"fini {name}\"); }}\n\
             void {name}_init(void) {{ puts(\"DT_INIT {name}\"); }}\n"
        )
    };
    tc.shared(d, "libc3.so", &lib("c3", None), &["-Wl,-init=c3_init"]);
    tc.shared(
        d,
        "libb3.so",
        &lib("b3", Some("c3")),
        &["-Wl,-init=b3_init", "-lc3"],
    );
    tc.shared(
        d,
        "liba3.so",
        &lib("a3", Some("b3")),
        &["-Wl,-init=a3_init", "-lb3"],
    );
    let mut s = session(tc, d);
    s.load(d.join("liba3.so")).unwrap();
    s.run_init().unwrap();
    s.run_fini().unwrap();
    assert_eq!(
        s.stdout(),
        "DT_INIT c3\ninit c3\nDT_INIT b3\ninit b3\nDT_INIT a3\ninit a3\nfini a3\nfini b3\nfini c3\n"
    );
    let inits: Vec<String> = s
        .events()
        .iter()
        .filter_map(|e| match e {
            Event::Init { object, kind, .. } if kind == "DT_INIT" => Some(object.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(inits, ["libc3.so", "libb3.so", "liba3.so"]);
    let finis: Vec<String> = s
        .events()
        .iter()
        .filter_map(|e| match e {
            Event::Fini { object, kind, .. } if kind == "DT_FINI" => Some(object.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(finis, ["liba3.so", "libb3.so", "libc3.so"]);
}

const CALLER: &str =
    "#include <stdio.h>\nint callee(int);\nint caller(int x) { return callee(x) + 1; }\n";
const CALLEE: &str = "int callee(int x) { return x * 2; }\n";

fn bind_now(tc: Toolchain) {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    tc.shared(d, "libcallee.so", CALLEE, &[]);
    // Through DT_FLAGS BIND_NOW (-z now) and through the session option.
    tc.shared(d, "libnow.so", CALLER, &["-lcallee", "-Wl,-z,now"]);
    tc.shared(d, "liblazy.so", CALLER, &["-lcallee", "-Wl,-z,lazy"]);
    for (lib, opt) in [("libnow.so", false), ("liblazy.so", true)] {
        let mut s = session_with(
            tc,
            d,
            Options {
                bind_now: opt,
                ..Options::default()
            },
        );
        s.load(d.join(lib)).unwrap();
        let at_load: Vec<&Event> = s
            .events()
            .iter()
            .filter(|e| matches!(e, Event::Bound { object, symbol, lazy: false, .. } if object == lib && symbol == "callee"))
            .collect();
        assert_eq!(at_load.len(), 1, "{lib}: callee bound at load");
        s.run_init().unwrap();
        assert_eq!(s.call("caller", &[20]).unwrap(), 41);
        // DT_FLAGS BIND_NOW is per object (its dependency stays lazy); the option is global.
        assert!(
            !s.events().iter().any(
                |e| matches!(e, Event::Bound { object, lazy: true, .. } if opt || object == lib)
            ),
            "{lib}: nothing bound lazily"
        );
    }
    // The same library without BIND_NOW binds at the first call.
    let mut s = session(tc, d);
    s.load(d.join("liblazy.so")).unwrap();
    s.run_init().unwrap();
    assert!(lazy_bindings(s.events(), "liblazy.so", "callee").is_empty());
    assert_eq!(s.call("caller", &[1]).unwrap(), 3);
    assert_eq!(s.call("caller", &[2]).unwrap(), 5);
    assert_eq!(lazy_bindings(s.events(), "liblazy.so", "callee").len(), 1);
}

fn undefined_weak(tc: Toolchain) {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let src = "extern int maybe(void) __attribute__((weak));\nextern int maybe_data __attribute__((weak));\n\
               int probe(void) { return (maybe ? maybe() : 40) + (&maybe_data ? 100 : 2); }\n\
               long where(void) { return (long)&maybe_data; }\n";
    tc.shared(d, "libweak.so", src, &[]);
    let mut s = session(tc, d);
    s.load(d.join("libweak.so")).unwrap();
    s.run_init().unwrap();
    assert_eq!(s.call("probe", &[]).unwrap(), 42);
    assert_eq!(s.call("where", &[]).unwrap(), 0);
}

fn missing_strong(tc: Toolchain) {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    tc.shared(
        d,
        "libmiss.so",
        "int missing_fn(int);\nint f(int x) { return missing_fn(x); }\n",
        &[],
    );
    tc.shared(
        d,
        "libmissdata.so",
        "extern int missing_var;\nint g(void) { return missing_var; }\n",
        &[],
    );
    let expect = |e: HarnessError, lib: &str, sym: &str| match e {
        HarnessError::UndefinedSymbol {
            object,
            symbol,
            version,
        } => {
            assert_eq!(
                (object.as_str(), symbol.as_str(), version),
                (lib, sym, None)
            );
        }
        other => panic!("expected an undefined symbol error, got {other:?}"),
    };
    // Lazily: loading works, the first call fails naming library and symbol.
    let mut s = session(tc, d);
    s.load(d.join("libmiss.so")).unwrap();
    s.run_init().unwrap();
    expect(s.call("f", &[1]).unwrap_err(), "libmiss.so", "missing_fn");
    // With BIND_NOW, and for data (GLOB_DAT), loading fails.
    let mut s = session_with(
        tc,
        d,
        Options {
            bind_now: true,
            ..Options::default()
        },
    );
    expect(
        s.load(d.join("libmiss.so")).unwrap_err(),
        "libmiss.so",
        "missing_fn",
    );
    let mut s = session(tc, d);
    expect(
        s.load(d.join("libmissdata.so")).unwrap_err(),
        "libmissdata.so",
        "missing_var",
    );
}

fn tls(tc: Toolchain) {
    tls_with(tc, &[]);
}

/// The same accesses through TLS descriptors (R_X86_64_TLSDESC, R_ARM_TLS_DESC). gcc only:
/// clang 14 has no -mtls-dialect.
#[test]
fn tls_descriptors() {
    for tc in [
        Toolchain::GnuX86,
        Toolchain::GnuThumb,
        Toolchain::GnuArm,
        Toolchain::TetherX86,
    ] {
        tls_with(tc, &["-mtls-dialect=gnu2"]);
    }
}

fn tls_with(tc: Toolchain, flags: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let src = "__thread int gd = 5;\n__thread int gd_bss;\n\
               __attribute__((tls_model(\"initial-exec\"))) __thread int ie = 100;\n\
               int bump(void) { gd_bss += 1000; return ++gd + ++ie + gd_bss; }\n";
    tc.shared(d, "libtls.so", src, flags);
    let user_flags: Vec<&str> = flags.iter().copied().chain(["-ltls"]).collect();
    tc.shared(
        d,
        "libtlsuser.so",
        "extern __thread int gd;\nint peek(void) { return gd; }\n",
        &user_flags,
    );
    let mut s = session(tc, d);
    s.load(d.join("libtlsuser.so")).unwrap();
    s.run_init().unwrap();
    assert_eq!(s.call("bump", &[]).unwrap(), 6 + 101 + 1000);
    assert_eq!(s.call("bump", &[]).unwrap(), 7 + 102 + 2000);
    assert_eq!(
        s.call("peek", &[]).unwrap(),
        7,
        "another module sees the same TLS variable"
    );
    let descriptors = s
        .events()
        .iter()
        .filter(|e| matches!(e, Event::Relocated { kind, .. } if kind.contains("TLS_DESC") || kind.contains("TLSDESC")))
        .count();
    assert_eq!(
        descriptors > 0,
        !flags.is_empty(),
        "{tc:?}: TLS descriptors used iff gnu2"
    );
}

fn callbacks_and_stack_args(tc: Toolchain) {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let src = "typedef int (*cb)(int, int);\n\
               int apply(cb f, int x) { return f(x, 3) + 1; }\n\
               int host_helper(int);\nint via_plt(int x) { return host_helper(x) * 2; }\n\
               int sum8(int a, int b, int c, int d, int e, int f, int g, int h) {\n\
                 return a + 2*b + 3*c + 4*d + 5*e + 6*f + 7*g + 8*h; }\n";
    tc.shared(d, "libcb.so", src, &[]);
    let mut s = session(tc, d);
    let cb = s.register_host_fn("my_callback", None, |s| Ok(s.arg(0)? * 10 + s.arg(1)?));
    s.register_host_fn("host_helper", None, |s| Ok(s.arg(0)? + 7));
    s.load(d.join("libcb.so")).unwrap();
    s.run_init().unwrap();
    assert_eq!(s.call("apply", &[cb, 4]).unwrap(), 44);
    assert_eq!(s.call("via_plt", &[5]).unwrap(), 24);
    assert_eq!(s.call("sum8", &[1, 2, 3, 4, 5, 6, 7, 8]).unwrap(), 204);
    assert!(s
        .events()
        .iter()
        .any(|e| matches!(e, Event::HostCall { function, .. } if function == "my_callback")));
    assert_eq!(
        lazy_bindings(s.events(), "libcb.so", "host_helper").len(),
        1
    );
}

fn host_libc(tc: Toolchain) {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let src = r#"#include <stdio.h>
#include <stdlib.h>
#include <string.h>
static void bye(void) { puts("atexit handler"); }
int work(void) {
    char *p = malloc(32);
    strcpy(p, "heap");
    char *q = calloc(4, 8);
    memcpy(q, p, strlen(p) + 1);
    q = realloc(q, 64);
    printf("%s %d %u %x %X %o %c %5d|%-5d|%05d %ld %lld %.2f %e %g %s %%\n",
           q, -42, 42u, 255, 255, 8, 'z', 7, 7, 7, -1L, -1234567890123LL, 3.14159, 12345.678, 0.0001, "end");
    fprintf(stderr, "to stderr %d\n", memcmp(p, q, 5) == 0);
    putchar('!');
    putchar('\n');
    int r = strcmp(p, "heap") == 0 && strncmp(p, "heal", 3) == 0 && strlen(q) == 4;
    free(p);
    free(q);
    atexit(bye);
    return r;
}
"#;
    tc.shared(d, "libhost.so", src, &[]);
    let mut s = session(tc, d);
    s.load(d.join("libhost.so")).unwrap();
    s.run_init().unwrap();
    assert_eq!(s.call("work", &[]).unwrap(), 1);
    s.run_fini().unwrap();
    assert_eq!(
        s.stdout(),
        "heap -42 42 ff FF 10 z     7|7    |00007 -1 -1234567890123 3.14 1.234568e+04 0.0001 end %\n!\natexit handler\n"
    );
    assert_eq!(s.stderr(), "to stderr 1\n");
}

fn exit_status(tc: Toolchain) {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    tc.shared(
        d,
        "libexit.so",
        "#include <stdlib.h>\nvoid quit(int c) { exit(c); }\n",
        &[],
    );
    let mut s = session(tc, d);
    s.load(d.join("libexit.so")).unwrap();
    s.run_init().unwrap();
    match s.call("quit", &[3]) {
        Err(HarnessError::Exit { code: 3 }) => {}
        other => panic!("expected exit(3), got {other:?}"),
    }
}

fn ifunc(tc: Toolchain) {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let src = "static int impl_a(void) { return 11; }\n\
               static void *resolve_pick(void) { return (void *)impl_a; }\n\
               int picked(void) __attribute__((ifunc(\"resolve_pick\")));\n\
               static int local_pick(void) __attribute__((ifunc(\"resolve_pick\")));\n\
               int use_both(void) { return picked() + local_pick(); }\n";
    tc.shared(d, "libifunc.so", src, &[]);
    tc.shared(
        d,
        "libifuser.so",
        "int picked(void);\nint other(void) { return picked() * 2; }\n",
        &["-lifunc"],
    );
    let mut s = session(tc, d);
    s.load(d.join("libifuser.so")).unwrap();
    s.run_init().unwrap();
    assert_eq!(s.call("use_both", &[]).unwrap(), 22);
    assert_eq!(s.call("other", &[]).unwrap(), 22);
    let irelative = s
        .events()
        .iter()
        .any(|e| matches!(e, Event::Relocated { kind, .. } if kind.ends_with("_IRELATIVE")));
    // GNU ld and ld.tether resolve the static one with IRELATIVE; clang exports it and lld
    // binds it through an ordinary JUMP_SLOT to the STT_GNU_IFUNC symbol.
    let irelative_linker = matches!(
        tc,
        Toolchain::GnuX86
            | Toolchain::GnuArm
            | Toolchain::GnuThumb
            | Toolchain::TetherX86
            | Toolchain::TetherThumb
    );
    assert_eq!(
        irelative, irelative_linker,
        "IRELATIVE used by GNU ld and ld.tether only"
    );
}

fn dlopen_dlsym(tc: Toolchain) {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let host = r#"#include <dlfcn.h>
#include <stdio.h>
int host_service(int x) { return x * 2; }
int load_plugin(void) {
    if (dlopen("libnothere.so", RTLD_NOW) == 0) printf("error: %s\n", dlerror());
    void *h = dlopen("libplugin.so", RTLD_NOW | RTLD_GLOBAL);
    if (!h) return -1;
    int (*entry)(int) = (int (*)(int))dlsym(h, "plugin_entry");
    if (!entry || dlsym(h, "no_such_symbol")) return -2;
    return entry(21);
}
"#;
    let plugin = "#include <stdio.h>
int host_service(int);
                  __attribute__((constructor)) static void init(void) { puts(\"plugin init\"); }
                  int plugin_entry(int x) { return host_service(x) + 1; }
";
    tc.shared(d, "libdlhost.so", host, &[]);
    tc.shared(d, "libplugin.so", plugin, &["-ldlhost"]);
    let mut s = session(tc, d);
    s.load(d.join("libdlhost.so")).unwrap();
    s.run_init().unwrap();
    assert_eq!(s.call("load_plugin", &[]).unwrap(), 43);
    assert_eq!(
        s.stdout(),
        "error: dlopen: needed library libnothere.so not found (give it with --lib or a search directory)\nplugin init\n"
    );
    let init = positions(
        s.events(),
        |e| matches!(e, Event::Init { object, .. } if object == "libplugin.so"),
    );
    let call = positions(
        s.events(),
        |e| matches!(e, Event::Call { function, .. } if function == "load_plugin"),
    );
    assert!(
        !init.is_empty() && init[0] > call[0],
        "the plugin is initialised when opened"
    );
}

for_each_toolchain!(ifunc);

for_each_toolchain!(
    versioned_lookup,
    dlopen_dlsym,
    init_order,
    bind_now,
    undefined_weak,
    missing_strong,
    tls,
    callbacks_and_stack_args,
    host_libc,
    exit_status,
);
