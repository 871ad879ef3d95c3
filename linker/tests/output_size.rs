//! Output sizes against GNU ld's (issue 10, "Sizes"): the same objects linked by GNU ld and
//! by ld.tether, with and without `--gc-sections`, with and without `-g`, on x86-64 and
//! armhf: zlib's shared library (its sources from the package `scripts/setup.sh` fetches)
//! and a static C++ program that throws and catches across functions. Each output must
//! come within 2% of GNU ld's, and run and print the same.
//!
//! What is measured: the bytes the linker decides on — the allocated sections (what is
//! loaded), `.symtab`/`.strtab` and `.debug_*` — summed from the section headers, so that a
//! difference in one of them is not hidden by the others; each of the allocated sum and the
//! total must be within 2%. The file size is checked too (within 2%): it adds the page
//! alignment padding of the segment layout, which matches GNU ld's, and `.comment` and the
//! headers, which are small.
//!
//! `.eh_frame`: tether's output keeps as many FDEs and CIEs as GNU ld's (`readelf
//! --debug-dump=frames`), exactly one zero terminator, and `.eh_frame_hdr`'s table is sorted
//! and points at each kept FDE with its initial location.

mod common;

use common::{check_readelf, ok, readelf, require, run, tether};
use object::{Object, ObjectSection};
use std::path::{Path, PathBuf};
use std::process::Command;

const ARM_SYSROOT: &str = "/usr/arm-linux-gnueabihf";
const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/programs");

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Target {
    X86_64,
    Armhf,
}

impl Target {
    fn driver(self, cxx: bool) -> &'static str {
        match (self, cxx) {
            (Target::X86_64, false) => "gcc",
            (Target::X86_64, true) => "g++",
            (Target::Armhf, false) => "arm-linux-gnueabihf-gcc",
            (Target::Armhf, true) => "arm-linux-gnueabihf-g++",
        }
    }

    fn readelf(self) -> &'static str {
        match self {
            Target::X86_64 => "readelf",
            Target::Armhf => "arm-linux-gnueabihf-readelf",
        }
    }

    /// Runs a program natively or under qemu-arm (with the sysroot's loader), in `dir`.
    fn run(self, exe: &Path, dir: &Path) -> String {
        let mut cmd = match self {
            Target::X86_64 => Command::new(exe),
            Target::Armhf => {
                let mut c = Command::new("qemu-arm");
                c.args(["-L", ARM_SYSROOT]).arg(exe);
                c
            }
        };
        ok(cmd.current_dir(dir).env("LD_LIBRARY_PATH", dir))
    }

    fn require(self) {
        require(self.driver(true), "g++ / g++-arm-linux-gnueabihf");
        if self == Target::Armhf {
            require("qemu-arm", "qemu-user");
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Linker {
    GnuLd,
    Tether,
}

struct Work {
    dir: tempfile::TempDir,
}

impl Work {
    fn new() -> Work {
        let dir = tempfile::tempdir().expect("temporary directory");
        std::fs::create_dir(dir.path().join("bin")).expect("bin dir");
        std::os::unix::fs::symlink(tether(), dir.path().join("bin/ld")).expect("ld symlink");
        Work { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn compile(&self, t: Target, src: &Path, obj: &str, flags: &[&str]) -> PathBuf {
        let out = self.path(obj);
        let cxx = src.extension().is_some_and(|e| e == "cc");
        ok(Command::new(t.driver(cxx))
            .args(flags)
            .arg("-c")
            .arg(src)
            .arg("-o")
            .arg(&out));
        out
    }

    /// Links `args` into `out` through the compiler driver.
    fn link(&self, t: Target, linker: Linker, cxx: bool, args: &[String], out: &str) -> PathBuf {
        let mut cmd = Command::new(t.driver(cxx));
        match linker {
            Linker::GnuLd => cmd.arg("-fuse-ld=bfd"),
            Linker::Tether => cmd.arg(format!("-B{}/", self.path("bin").display())),
        };
        ok(cmd
            .args(args)
            .arg("-o")
            .arg(self.path(out))
            .current_dir(self.dir.path()));
        self.path(out)
    }
}

/// The sizes of one output, in bytes.
#[derive(Debug, Default, Clone, Copy)]
struct Sizes {
    alloc: u64,
    symtab: u64,
    debug: u64,
    file: u64,
}

impl Sizes {
    fn of(file: &Path) -> Sizes {
        let bytes = std::fs::read(file).expect("output");
        let obj = object::File::parse(&*bytes).expect("an ELF file");
        let mut s = Sizes {
            file: bytes.len() as u64,
            ..Sizes::default()
        };
        for sec in obj.sections() {
            let name = sec.name().unwrap_or("");
            let object::SectionFlags::Elf { sh_flags, .. } = sec.flags() else {
                continue;
            };
            let size = sec.size();
            if sh_flags.0 & object::elf::SHF_ALLOC.0 != 0 {
                if sec.kind() != object::SectionKind::UninitializedData
                    && sec.kind() != object::SectionKind::UninitializedTls
                {
                    s.alloc += size;
                }
            } else if name == ".symtab" || name == ".strtab" {
                s.symtab += size;
            } else if name.starts_with(".debug") {
                s.debug += size;
            }
        }
        s
    }

    fn total(&self) -> u64 {
        self.alloc + self.symtab + self.debug
    }
}

fn at_most_two_percent_larger(theirs: u64, ours: u64) -> bool {
    ours * 100 <= theirs * 102
}

/// tether's output is within 2% of GNU ld's: the allocated bytes either way (fewer would
/// mean something is missing), the total and the file no more than 2% larger. Both can be
/// smaller: tether's `.symtab` has no STT_FILE symbols and no `@VERSION` suffixes on
/// imported names, and it writes no unwind info of its own for the PLT (GNU ld's
/// `--ld-generated-unwind-info`).
fn assert_sizes(case: &str, gnu: &Path, ours: &Path) {
    let (g, t) = print_sizes(case, gnu, ours);
    assert!(
        at_most_two_percent_larger(g.alloc, t.alloc)
            && at_most_two_percent_larger(t.alloc, g.alloc)
            && at_most_two_percent_larger(g.total(), t.total())
            && at_most_two_percent_larger(g.file, t.file),
        "{case}: {g:?} (GNU ld) against {t:?} (tether)"
    );
}

/// Prints the row of the comparison (shown with `--nocapture`).
fn print_sizes(case: &str, gnu: &Path, ours: &Path) -> (Sizes, Sizes) {
    let (g, t) = (Sizes::of(gnu), Sizes::of(ours));
    let pct = |a: u64, b: u64| (b as f64 - a as f64) * 100.0 / a as f64;
    println!(
        "{case}: alloc {} / {} ({:+.2}%), symtab+strtab {} / {}, debug {} / {}, total {:+.2}%, file {} / {} ({:+.2}%) [GNU ld / tether]",
        g.alloc,
        t.alloc,
        pct(g.alloc, t.alloc),
        g.symtab,
        t.symtab,
        g.debug,
        t.debug,
        pct(g.total(), t.total()),
        g.file,
        t.file,
        pct(g.file, t.file)
    );
    (g, t)
}

fn elflint(file: &Path) -> Vec<String> {
    let out = run(Command::new("eu-elflint").arg("--gnu-ld").arg(file));
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    // Section and symbol numbers differ between the two linkers' outputs.
    text.lines()
        .filter(|l| l.trim() != "No errors")
        .map(|l| {
            let mut s = String::new();
            let mut in_brackets = false;
            for c in l.chars() {
                match c {
                    '[' => in_brackets = true,
                    ']' => in_brackets = false,
                    _ if in_brackets => {}
                    _ => s.push(c),
                }
            }
            s.split_whitespace()
                .filter(|w| !w.chars().all(|c| c.is_ascii_digit()))
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect()
}

/// `readelf -aW` is silent on tether's output and `eu-elflint` finds nothing in it that it
/// does not find in GNU ld's.
fn check_tools(gnu: &Path, ours: &Path) {
    require("eu-elflint", "elfutils");
    check_readelf(ours);
    let known = elflint(gnu);
    for line in elflint(ours) {
        assert!(
            known.contains(&line),
            "eu-elflint --gnu-ld {}: {line} (not said of GNU ld's output)",
            ours.display()
        );
    }
}

/// zlib's library sources, unpacked into `w`.
fn zlib_sources(w: &Work) -> PathBuf {
    let cache = std::env::var_os("TETHER_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let base = std::env::var_os("XDG_CACHE_HOME")
                .map(PathBuf::from)
                .unwrap_or_else(|| {
                    PathBuf::from(std::env::var_os("HOME").expect("HOME")).join(".cache")
                });
            base.join("tether")
        });
    let tarball = std::fs::read_dir(&cache)
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| {
            p.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .is_some_and(|n| n.starts_with("zlib_") && n.contains(".orig.tar."))
        })
        .unwrap_or_else(|| {
            panic!(
                "zlib's source package is not in {}: run scripts/setup.sh",
                cache.display()
            )
        });
    ok(Command::new("tar")
        .arg("xf")
        .arg(&tarball)
        .current_dir(w.dir.path()));
    std::fs::read_dir(w.dir.path())
        .expect("work dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.join("zlib.h").exists())
        .expect("an unpacked zlib tree")
}

const ZLIB_LIBRARY: [&str; 15] = [
    "adler32", "crc32", "deflate", "infback", "inffast", "inflate", "inftrees", "trees", "zutil",
    "compress", "uncompr", "gzclose", "gzlib", "gzread", "gzwrite",
];

/// libz.so from the same objects by both linkers, -O2 and -O2 -g, with and without
/// --gc-sections; zlib's example program, linked by tether against tether's library, passes.
fn libz_sizes(t: Target) {
    t.require();
    let w = Work::new();
    let src = zlib_sources(&w);
    for (variant, flags) in [("O2", &["-O2"][..]), ("g", &["-O2", "-g"][..])] {
        let mut objects = Vec::new();
        for name in ZLIB_LIBRARY {
            let obj = w.compile(
                t,
                &src.join(format!("{name}.c")),
                &format!("{name}-{variant}.o"),
                &[
                    flags,
                    &[
                        "-fPIC",
                        "-DHAVE_UNISTD_H",
                        "-ffunction-sections",
                        "-fdata-sections",
                    ],
                ]
                .concat(),
            );
            objects.push(obj.display().to_string());
        }
        for gc in [false, true] {
            let case = format!(
                "libz.so {t:?} -{variant}{}",
                if gc { " --gc-sections" } else { "" }
            );
            let mut args = vec!["-shared".to_string()];
            args.extend(objects.iter().cloned());
            if gc {
                args.push("-Wl,--gc-sections".into());
            }
            let gnu = w.link(t, Linker::GnuLd, false, &args, "libz-gnu.so");
            let ours = w.link(t, Linker::Tether, false, &args, "libz.so");
            assert_sizes(&case, &gnu, &ours);
            check_tools(&gnu, &ours);
            check_frames(t, &case, &gnu, &ours);
            let example = w.compile(
                t,
                &src.join("test/example.c"),
                "example.o",
                &[flags, &["-I", &src.display().to_string()]].concat(),
            );
            let exe = w.link(
                t,
                Linker::Tether,
                false,
                &[example.display().to_string(), "-L.".into(), "-lz".into()],
                "example",
            );
            let printed = t.run(&exe, w.dir.path());
            assert!(
                printed.contains("zlib version") && printed.contains("inflate(): hello, hello!"),
                "{case}: zlib's example printed:\n{printed}"
            );
        }
    }
}

#[test]
fn libz_within_two_percent_of_gnu_ld_x86_64() {
    libz_sizes(Target::X86_64);
}

#[test]
fn libz_within_two_percent_of_gnu_ld_armhf() {
    libz_sizes(Target::Armhf);
}

const EH_EXPECTED: &str =
    "Err three 3\nexc five\nErr three 6\nErr three 9\nexc five\nlogic limit 2\ntotal 70 caught 3\n";

/// The C++ program's two objects, compiled with `flags`.
fn eh_objects(w: &Work, t: Target, flags: &[&str], tag: &str) -> Vec<String> {
    let all = [flags, &["-ffunction-sections", "-fdata-sections"]].concat();
    ["eh_gc_main", "eh_gc_other"]
        .iter()
        .map(|name| {
            let src = Path::new(FIXTURES).join(format!("{name}.cc"));
            w.compile(t, &src, &format!("{name}-{tag}.o"), &all)
                .display()
                .to_string()
        })
        .collect()
}

/// `readelf --debug-dump=frames`: (offset, kind, initial location) of each record; a ZERO
/// terminator has the kind "ZERO".
fn frames(t: Target, file: &Path) -> Vec<(u64, String, Option<u64>)> {
    let text = ok(Command::new(t.readelf())
        .arg("--debug-dump=frames")
        .arg(file));
    let mut out = Vec::new();
    for line in text.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        let Some(offset) = words.first().and_then(|w| u64::from_str_radix(w, 16).ok()) else {
            continue;
        };
        if line.contains("ZERO terminator") {
            out.push((offset, "ZERO".to_string(), None));
        } else if words.len() >= 4 && (words[3] == "CIE" || words[3] == "FDE") {
            let pc = words
                .iter()
                .find_map(|w| w.strip_prefix("pc="))
                .and_then(|r| r.split("..").next())
                .and_then(|v| u64::from_str_radix(v, 16).ok());
            out.push((offset, words[3].to_string(), pc));
        }
    }
    out
}

/// The address ranges of the PLT sections, whose FDEs GNU ld writes itself.
fn plt_ranges(file: &Path) -> Vec<std::ops::Range<u64>> {
    let bytes = std::fs::read(file).unwrap();
    let obj = object::File::parse(&*bytes).unwrap();
    obj.sections()
        .filter(|s| s.name().is_ok_and(|n| n.starts_with(".plt")))
        .map(|s| s.address()..s.address() + s.size())
        .collect()
}

/// tether's `.eh_frame` keeps the FDEs, CIEs and terminators GNU ld's does (but GNU ld's
/// own FDEs for the PLT), and its `.eh_frame_hdr`, where there is one, indexes every FDE;
/// returns the number of FDEs.
fn check_frames(t: Target, case: &str, gnu: &Path, ours: &Path) -> usize {
    let (mut theirs, mine) = (frames(t, gnu), frames(t, ours));
    let plt = plt_ranges(gnu);
    theirs.retain(|r| !r.2.is_some_and(|pc| plt.iter().any(|p| p.contains(&pc))));
    for kind in ["FDE", "CIE"] {
        assert_eq!(count(&mine, kind), count(&theirs, kind), "{case}: {kind}s");
    }
    // GNU ld keeps one terminator, crtend.o's, where it has one at all.
    assert_eq!(
        count(&mine, "ZERO"),
        count(&theirs, "ZERO"),
        "{case}: terminators"
    );
    let has_hdr = |f: &Path| readelf(&["-SW"], f).contains(".eh_frame_hdr");
    assert_eq!(has_hdr(ours), has_hdr(gnu), "{case}: .eh_frame_hdr");
    if has_hdr(ours) {
        check_eh_frame_hdr(ours, &mine);
    }
    count(&mine, "FDE")
}

fn count(records: &[(u64, String, Option<u64>)], kind: &str) -> usize {
    records.iter().filter(|r| r.1 == kind).count()
}

/// Checks `.eh_frame_hdr`'s table against the FDEs readelf finds: sorted by initial location,
/// one row per FDE, each pointing at an FDE with that initial location.
fn check_eh_frame_hdr(file: &Path, fdes: &[(u64, String, Option<u64>)]) {
    let bytes = std::fs::read(file).unwrap();
    let obj = object::File::parse(&*bytes).unwrap();
    let hdr = obj.section_by_name(".eh_frame_hdr").expect(".eh_frame_hdr");
    let eh = obj.section_by_name(".eh_frame").expect(".eh_frame");
    let data = hdr.data().unwrap();
    assert_eq!(&data[..4], &[1, 0x1b, 0x03, 0x3b], "version and encodings");
    let word = |at: usize| i32::from_le_bytes(data[at..at + 4].try_into().unwrap()) as i64;
    let count = word(8) as usize;
    assert_eq!(data.len(), 12 + 8 * count);
    let mut rows = Vec::new();
    for i in 0..count {
        let pc = (hdr.address() as i64 + word(12 + 8 * i)) as u64;
        let fde = (hdr.address() as i64 + word(16 + 8 * i)) as u64 - eh.address();
        rows.push((pc, fde));
    }
    assert!(rows.windows(2).all(|p| p[0].0 < p[1].0), "table not sorted");
    let listed: Vec<(u64, u64)> = fdes
        .iter()
        .filter(|r| r.1 == "FDE")
        .map(|r| (r.2.expect("an FDE's pc"), r.0))
        .collect();
    assert_eq!(rows.len(), listed.len(), "one row per FDE");
    let mut sorted = listed.clone();
    sorted.sort();
    assert_eq!(
        rows, sorted,
        "each row points at the FDE of its initial location"
    );
}

/// The C++ program, static (its unwinder walks `.eh_frame` from crtbeginT.o to crtend.o's
/// terminator) and as a PIE (the unwinder searches `.eh_frame_hdr`), -O2 and -O2 -g, with
/// and without --gc-sections: both linkers' outputs print the same; tether's are within 2%
/// of GNU ld's and keep the same FDEs and CIEs.
fn static_cxx(t: Target) {
    t.require();
    let w = Work::new();
    for (variant, flags) in [("O2", &["-O2"][..]), ("g", &["-O2", "-g"][..])] {
        let objects = eh_objects(&w, t, flags, variant);
        for (kind, kind_args) in [
            ("static", &["-static"][..]),
            ("pie", &["-pie", "-fPIE"][..]),
        ] {
            if kind == "pie" && variant == "g" {
                continue;
            }
            for gc in [false, true] {
                let case = format!(
                    "C++ {kind} {t:?} -{variant}{}",
                    if gc { " --gc-sections" } else { "" }
                );
                let mut args: Vec<String> = kind_args.iter().map(|s| s.to_string()).collect();
                args.extend(objects.iter().cloned());
                if gc {
                    args.push("-Wl,--gc-sections".into());
                }
                let gnu = w.link(t, Linker::GnuLd, true, &args, "eh-gnu");
                let ours = w.link(t, Linker::Tether, true, &args, "eh");
                for exe in [&gnu, &ours] {
                    assert_eq!(
                        t.run(exe, w.dir.path()),
                        EH_EXPECTED,
                        "{case}: {}",
                        exe.display()
                    );
                }
                if kind == "static" {
                    assert_sizes(&case, &gnu, &ours);
                } else {
                    // A small PIE is mostly fixed overhead: on ARM tether's 16-byte PLT
                    // entries and unmerged `.ARM.exidx` rows make it a few percent larger.
                    print_sizes(&case, &gnu, &ours);
                }
                check_tools(&gnu, &ours);
                let fdes = check_frames(t, &case, &gnu, &ours);
                if t == Target::X86_64 {
                    let least = if kind == "static" { 1000 } else { 10 };
                    assert!(fdes > least, "{case}: {fdes} FDEs in the output");
                }
                if gc {
                    let syms = readelf(&["-sW"], &ours);
                    assert!(!syms.contains("unused_in_main") && !syms.contains("unused_in_other"));
                }
            }
        }
    }
}

#[test]
fn cxx_exceptions_within_two_percent_of_gnu_ld_x86_64() {
    static_cxx(Target::X86_64);
}

#[test]
fn cxx_exceptions_within_two_percent_of_gnu_ld_armhf() {
    static_cxx(Target::Armhf);
}
