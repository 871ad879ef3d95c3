//! Whole programs run from their entry point: the host plays the kernel's initial stack and
//! glibc's `__libc_start_main`.

mod common;
use common::*;
use tether_harness::{Arch, Event};

/// The program's output under glibc's own loader: natively on x86-64, under qemu-arm with
/// Debian's armhf sysroot on ARM.
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

fn seed_program(tc: Toolchain) {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let seed = seed_dir();
    tc.shared(d, "libtest.so", &read(seed.join("libtest.c")), &[]);
    tc.shared(
        d,
        "libgo.so",
        &read(seed.join("libgo.c")),
        &["-Wl,-init=go_init", "-ltest"],
    );
    for pie in [true, false] {
        let main = tc.program(d, "main", &read(seed.join("main.c")), pie, &["-lgo"]);
        let mut s = session(tc, d);
        let root = s.load(&main).unwrap();
        assert!(s.is_program(root));
        s.run_init().unwrap();
        assert_eq!(s.run_entry(root, &["main"]).unwrap(), 0);
        s.run_fini().unwrap();
        assert_eq!(s.stdout(), read(seed.join("expected.txt")), "pie={pie}");
        assert_eq!(s.stdout(), under_real_glibc(tc, &main, d), "pie={pie}");
        // main's call to Go_callback went through main's own PLT, bound lazily once.
        assert_eq!(
            lazy_bindings(s.events(), "main", "Go_callback").len(),
            1,
            "pie={pie}"
        );
    }
}

fn copy_relocation(tc: Toolchain) {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    tc.shared(
        d,
        "libcounter.so",
        "int counter = 5;\nint bump(void) { return ++counter; }\n",
        &[],
    );
    let main =
        "extern int counter;\nint bump(void);\nint main(void) { counter += 10; return bump(); }\n";
    let exe = tc.program(d, "main", main, false, &["-lcounter"]);
    let mut s = session(tc, d);
    let root = s.load(&exe).unwrap();
    assert!(
        s.events().iter().any(
            |e| matches!(e, Event::Relocated { object, kind, symbol, .. }
            if object == "main" && kind.ends_with("_COPY") && symbol == "counter")
        ),
        "a COPY relocation was applied"
    );
    s.run_init().unwrap();
    // The library's GOT entry points at the program's copy, initialised from the library.
    assert_eq!(s.run_entry(root, &["main"]).unwrap(), 16);
}

fn preinit_array(tc: Toolchain) {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    tc.shared(d, "libearly.so", "#include <stdio.h>\n__attribute__((constructor)) static void c(void) { puts(\"lib init\"); }\nvoid early(void) {}\n", &[]);
    let main = "#include <stdio.h>\nvoid early(void);\n\
                static void pre(void) { puts(\"preinit\"); }\n\
                __attribute__((section(\".preinit_array\"), used)) static void (*p)(void) = pre;\n\
                __attribute__((constructor)) static void c(void) { puts(\"main init\"); }\n\
                int main(void) { early(); puts(\"main\"); return 0; }\n";
    let exe = tc.program(d, "main", main, true, &["-learly"]);
    let mut s = session(tc, d);
    let root = s.load(&exe).unwrap();
    s.run_init().unwrap();
    assert_eq!(s.run_entry(root, &["main"]).unwrap(), 0);
    assert_eq!(s.stdout(), "preinit\nlib init\nmain init\nmain\n");
}

// ld-tether does not link executables yet (-pie unsupported, COPY relocations not produced).
for_each_toolchain!(seed_program, copy_relocation, preinit_array);
