//! The output depends on the inputs alone, never on the thread count or on scheduling: the
//! same objects linked with RAYON_NUM_THREADS=1, 2 and 8, and twice with 2 (the second time
//! in one process, `--no-fork`), give the same bytes. The objects are a medium-size instance of the benchmark's generated input
//! (`scripts/bench-gen.py`: PLT calls, GOT loads, a mergeable string per function) compiled
//! with `-g` (mergeable `.debug_str`) and `-ffunction-sections -fdata-sections` (so
//! `--gc-sections` has sections to drop), linked as a shared library directly and as a PIE
//! through the compiler driver, with `--build-id` (sha1, so the note hashes the whole file).
//! The PIE must also print what the same objects linked by GNU ld print.

mod common;

use common::{ok, require, run, tether};
use object::{Object, ObjectSection};
use std::path::{Path, PathBuf};
use std::process::Command;

const FILES: &str = "32";
const FUNCS: &str = "32";
const THREADS: [&str; 4] = ["1", "2", "8", "2"];

#[derive(Clone, Copy)]
enum Arch {
    X86_64,
    Arm,
}

impl Arch {
    fn variant(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64-g",
            Arch::Arm => "arm-g",
        }
    }

    fn driver(self) -> &'static str {
        match self {
            Arch::X86_64 => "gcc",
            Arch::Arm => "arm-linux-gnueabihf-gcc",
        }
    }

    /// A command that runs a program of this architecture on this machine.
    fn runner(self, program: &Path) -> Command {
        match self {
            Arch::X86_64 => Command::new(program),
            Arch::Arm => {
                let mut cmd = Command::new("qemu-arm");
                cmd.arg("-L").arg("/usr/arm-linux-gnueabihf").arg(program);
                cmd
            }
        }
    }
}

/// Generates and compiles the input into `dir/gen/obj`; returns the objects, main.o last.
/// (The generator starts its directory afresh, so it must not be `dir`, which holds the `ld`
/// the driver is pointed at.)
fn generate(arch: Arch, dir: &Path) -> Vec<PathBuf> {
    let dir = &dir.join("gen");
    require("python3", "python3");
    require(arch.driver(), "gcc-arm-linux-gnueabihf");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/bench-gen.py");
    ok(Command::new("python3")
        .arg(script)
        .args([
            arch.variant(),
            "--files",
            FILES,
            "--funcs",
            FUNCS,
            "--main",
            "--cflags",
            "-ffunction-sections -fdata-sections",
            "--out",
        ])
        .arg(dir));
    let mut objs: Vec<PathBuf> = std::fs::read_dir(dir.join("obj"))
        .expect("object directory")
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.file_name() != Some("main.o".as_ref()))
        .collect();
    objs.sort();
    assert_eq!(
        objs.len(),
        FILES.parse::<usize>().unwrap(),
        "objects in {dir:?}"
    );
    objs.push(dir.join("obj/main.o"));
    objs
}

/// Links the library directly and the PIE through the driver with `threads` rayon threads.
fn link(arch: Arch, dir: &Path, objs: &[PathBuf], threads: &str, n: usize) -> [PathBuf; 2] {
    let lib = dir.join(format!("lib{n}.so"));
    let (main, others) = objs.split_last().expect("objects");
    let fork = if n == THREADS.len() - 1 {
        "--no-fork"
    } else {
        "--fork"
    };
    ok(Command::new(tether())
        .env("RAYON_NUM_THREADS", threads)
        .args([fork, "-shared", "--build-id", "--gc-sections", "-o"])
        .arg(&lib)
        .args(others));
    let pie = dir.join(format!("pie{n}"));
    ok(Command::new(arch.driver())
        .env("RAYON_NUM_THREADS", threads)
        .arg(format!("-B{}/", dir.join("bin").display()))
        .arg(format!("-Wl,{fork}"))
        .args(["-pie", "-Wl,--build-id=sha1,--gc-sections", "-o"])
        .arg(&pie)
        .args(others)
        .arg(main));
    [lib, pie]
}

/// The section of `file` that holds byte `offset`, to say where two outputs part.
fn section_at(file: &[u8], offset: usize) -> String {
    let Ok(elf) = object::File::parse(file) else {
        return "an unparsable file".into();
    };
    elf.sections()
        .find(|s| {
            s.file_range()
                .is_some_and(|(start, len)| (start..start + len).contains(&(offset as u64)))
        })
        .map(|s| s.name().unwrap_or("?").to_string())
        .unwrap_or_else(|| "no section (headers or padding)".into())
}

fn assert_same(first: &Path, other: &Path, threads: &str) {
    let a = std::fs::read(first).expect("first output");
    let b = std::fs::read(other).expect("other output");
    if a == b {
        return;
    }
    let at = a
        .iter()
        .zip(&b)
        .position(|(x, y)| x != y)
        .unwrap_or(a.len().min(b.len()));
    panic!(
        "{} ({} bytes, RAYON_NUM_THREADS=1) and {} ({} bytes, RAYON_NUM_THREADS={threads}) \
         differ first at offset {at:#x}, in {}",
        first.display(),
        a.len(),
        other.display(),
        b.len(),
        section_at(&a, at)
    );
}

/// The output has what the test means to exercise: a build-id note and merged debug strings.
fn check_sections(path: &Path) {
    let data = std::fs::read(path).expect("output");
    let elf = object::File::parse(&*data).expect("an ELF output");
    for name in [".note.gnu.build-id", ".debug_str", ".rodata"] {
        assert!(
            elf.section_by_name(name).is_some(),
            "{} has no {name}",
            path.display()
        );
    }
}

fn check(arch: Arch) {
    let work = common::Work::new();
    let dir = work.dir.path();
    let objs = generate(arch, dir);
    let outputs: Vec<[PathBuf; 2]> = THREADS
        .iter()
        .enumerate()
        .map(|(n, threads)| link(arch, dir, &objs, threads, n))
        .collect();
    for (out, threads) in outputs.iter().zip(THREADS).skip(1) {
        for (first, other) in outputs[0].iter().zip(out) {
            assert_same(first, other, threads);
        }
    }
    outputs[0].iter().for_each(|p| check_sections(p));

    let gnu = dir.join("pie-gnu");
    ok(Command::new(arch.driver())
        .args(["-fuse-ld=bfd", "-pie", "-Wl,--gc-sections", "-o"])
        .arg(&gnu)
        .args(&objs));
    let expected = ok(&mut arch.runner(&gnu));
    assert!(
        !expected.trim().is_empty(),
        "GNU ld's program printed nothing"
    );
    let printed = run(&mut arch.runner(&outputs[0][1]));
    assert!(printed.status.success(), "tether's PIE failed: {printed:?}");
    assert_eq!(String::from_utf8_lossy(&printed.stdout), expected);
}

#[test]
fn x86_64_outputs_do_not_depend_on_threads() {
    check(Arch::X86_64);
}

#[test]
fn arm_outputs_do_not_depend_on_threads() {
    require("qemu-arm", "qemu-user");
    check(Arch::Arm);
}
