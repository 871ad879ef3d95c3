//! Benchmark (not a test): the seed scenario loaded and run in-process under the harness,
//! against spawning the same program under qemu-user (and natively on x86-64).
//!
//! `cargo run --release -p tether-harness --example seed_bench [ITERATIONS]`

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};
use tether_harness::{Arch, Options, Session};

fn sh(cmd: &mut Command) {
    let o = cmd.output().expect("spawn");
    assert!(
        o.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

fn build(cc: &str, d: &Path) {
    let seed = Path::new(env!("CARGO_MANIFEST_DIR")).join("../emu-tests/scenarios/seed");
    let s = |f: &str| seed.join(f);
    sh(Command::new(cc)
        .args(["-fPIC", "-shared", "-o"])
        .arg(d.join("libtest.so"))
        .arg(s("libtest.c")));
    sh(Command::new(cc)
        .args(["-fPIC", "-shared", "-Wl,-init=go_init", "-o"])
        .arg(d.join("libgo.so"))
        .arg(s("libgo.c"))
        .arg(format!("-L{}", d.display()))
        .arg("-ltest"));
    sh(Command::new(cc)
        .arg("-o")
        .arg(d.join("main"))
        .arg(s("main.c"))
        .arg(format!("-L{}", d.display()))
        .arg("-lgo")
        .arg(format!("-Wl,-rpath,{}", d.display())));
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn time(n: usize, mut f: impl FnMut()) -> Duration {
    median(
        (0..n)
            .map(|_| {
                let t = Instant::now();
                f();
                t.elapsed()
            })
            .collect(),
    )
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(50);
    let dir = tempfile::tempdir().expect("tempdir");
    for (arch, cc, qemu) in [
        (
            Arch::Arm,
            "arm-linux-gnueabihf-gcc",
            vec!["qemu-arm", "-L", "/usr/arm-linux-gnueabihf"],
        ),
        (Arch::X86_64, "gcc", vec!["qemu-x86_64"]),
    ] {
        let d = dir.path().join(arch.to_string());
        std::fs::create_dir_all(&d).expect("mkdir");
        build(cc, &d);
        let library = time(n, || {
            let mut s = Session::new(arch, Options::default()).expect("session");
            s.add_search_dir(&d);
            s.load(d.join("libgo.so")).expect("load");
            s.run_init().expect("init");
            s.call("Go_callback", &[2]).expect("call");
            s.run_fini().expect("fini");
            assert_eq!(s.stdout().lines().count(), 6);
        });
        let program = time(n, || {
            let mut s = Session::new(arch, Options::default()).expect("session");
            s.add_search_dir(&d);
            let root = s.load(d.join("main")).expect("load");
            s.run_init().expect("init");
            assert_eq!(s.run_entry(root, &["main"]).expect("run"), 0);
            s.run_fini().expect("fini");
        });
        let spawn = |prog: &[&str]| {
            time(n, || {
                let o = Command::new(prog[0])
                    .args(&prog[1..])
                    .arg(d.join("main"))
                    .env_clear()
                    .env("LD_LIBRARY_PATH", &d)
                    .output()
                    .expect("spawn");
                assert_eq!(o.stdout.split(|&b| b == b'\n').count(), 7);
            })
        };
        let q = spawn(&qemu);
        let row = |what: &str, t: Duration| println!("{:7} {what:34} {t:>10.2?}", arch.to_string());
        row("harness, host plays main", library);
        row("harness, program from _start", program);
        row(&format!("spawn {}", qemu.join(" ")), q);
        if arch == Arch::X86_64 {
            row("spawn natively", spawn(&["env"]));
        }
    }
}
