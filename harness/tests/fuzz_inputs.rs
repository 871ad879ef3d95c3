//! Property (c), malformed inputs, on both architectures and both tools, and the faults it and
//! issue 12 found, kept as regression cases. `INPUT_FUZZ_CASES` sets the number of cases per
//! tool and architecture (2,000 for the linker and 1,000 for the harness by default).

use std::path::PathBuf;
use tether_harness::fuzz::inputs::{self, fields, seeds, Kind, Programs, Tool, Verdict};

fn programs() -> Programs {
    let tether = PathBuf::from(env!("CARGO_BIN_EXE_tether"));
    let ld_tether = tether.with_file_name("ld-tether");
    assert!(
        ld_tether.is_file(),
        "{} is missing: run `cargo build --workspace --bins` first (scripts/test.sh does)",
        ld_tether.display()
    );
    Programs { ld_tether, tether }
}

fn cases(default: u64) -> u64 {
    std::env::var("INPUT_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[test]
fn malformed_inputs_end_cleanly_on_both_architectures() {
    let programs = programs();
    for arm in [false, true] {
        let arch = if arm { "arm" } else { "x86_64" };
        for (tool, n) in [(Tool::Linker, cases(2000)), (Tool::Harness, cases(1000))] {
            let tally = inputs::campaign(&programs, tool, arm, n, 12, 2, &|_| {})
                .unwrap_or_else(|e| panic!("{e}"));
            println!("inputs {} {arch}: {}", tool.name(), tally.summary());
            assert_eq!(tally.cases, n);
            // Both outcomes occur: a property whose cases all fail (or all pass) tests nothing.
            assert!(
                tally.linked > n / 10 && tally.clean_errors > n / 10,
                "{}",
                tally.summary()
            );
            let failures: Vec<String> = tally
                .failed
                .iter()
                .take(5)
                .map(|r| {
                    format!(
                        "{:?} case seed {}: {:?}\n  mutations: {}\n  {}",
                        r.kind,
                        r.seed,
                        r.verdict,
                        r.notes.join("; "),
                        r.stderr.lines().next().unwrap_or("")
                    )
                })
                .collect();
            assert!(failures.is_empty(), "{arch}:\n{}", failures.join("\n"));
        }
    }
}

/// A seed with one defect, given to its tool: it must be a clean error that says `expected`.
struct Regression {
    kind: Kind,
    /// Makes the defect; false when the seed lacks what it changes.
    edit: fn(&mut Vec<u8>, bool) -> bool,
    expected: &'static str,
    /// ELF64 only: in ELF32 the field cannot hold a value the reader could refuse.
    only_64: bool,
    /// ELF32 only: a value only a 32-bit address space cannot hold.
    only_32: bool,
}

/// The field `name` of the entry (symbol, program header ...) whose `key` field satisfies `when`.
fn entry_field(data: &[u8], key: &str, when: fn(u64) -> bool, name: &str) -> Option<fields::Field> {
    let layout = fields::layout(data);
    let keyed = layout
        .fields
        .iter()
        .find(|f| f.what.ends_with(key) && when(fields::read(data, f)))?;
    let prefix = keyed.what.strip_suffix(key)?;
    layout
        .fields
        .iter()
        .find(|f| f.what == format!("{prefix}{name}"))
        .cloned()
}

fn set(
    data: &mut [u8],
    pick: impl Fn(&[u8]) -> Option<fields::Field>,
    value: impl Fn(u64) -> u64,
) -> bool {
    let Some(f) = pick(data) else { return false };
    let old = fields::read(data, &f);
    fields::write(data, &f, value(old));
    true
}

/// `sh_offset` of the first SHT_PROGBITS section with contents.
fn non_empty_progbits_offset(data: &[u8]) -> Option<fields::Field> {
    let layout = fields::layout(data);
    let field = |prefix: &str, name: &str| {
        layout
            .fields
            .iter()
            .find(|f| f.what == format!("{prefix}{name}"))
    };
    layout
        .fields
        .iter()
        .filter(|f| f.what.ends_with(" sh_type") && fields::read(data, f) == 1)
        .map(|f| f.what.trim_end_matches("sh_type").to_string())
        .find(|p| field(p, "sh_size").is_some_and(|s| fields::read(data, s) > 0))
        .and_then(|p| field(&p, "sh_offset").cloned())
}

/// `sh_type` of the section that the first RELA/REL section (other than for code) applies to.
fn data_section_with_relocations(data: &[u8]) -> Option<fields::Field> {
    let layout = fields::layout(data);
    let field = |prefix: &str, name: &str| {
        layout
            .fields
            .iter()
            .find(|f| f.what == format!("{prefix}{name}"))
    };
    layout
        .fields
        .iter()
        .filter(|f| f.what.ends_with(" sh_type") && matches!(fields::read(data, f), 4 | 9))
        .filter_map(|f| {
            let info = field(f.what.trim_end_matches("sh_type"), "sh_info")?;
            let target = format!("section {} ", fields::read(data, info));
            let flags = field(&target, "sh_flags")?;
            // SHF_WRITE without SHF_EXECINSTR: data, not code.
            (fields::read(data, flags) & 5 == 1).then(|| field(&target, "sh_type").cloned())?
        })
        .next()
}

const SHN_COMMON: u64 = 0xfff2;
const PT_LOAD: u64 = 1;
const PT_TLS: u64 = 7;

const REGRESSIONS: &[Regression] = &[
    // A common symbol's alignment (its st_value) must be a power of two.
    Regression {
        kind: Kind::Object,
        edit: |d, _| {
            set(
                d,
                |d| entry_field(d, "st_shndx", |v| v == SHN_COMMON, "st_value"),
                |_| 3,
            )
        },
        expected: "case.o: malformed input: common symbol",
        only_64: false,
        only_32: false,
    },
    // A common symbol as big as the address space (found by the fuzzer: an overflow in layout).
    Regression {
        kind: Kind::Object,
        edit: |d, _| {
            set(
                d,
                |d| entry_field(d, "st_shndx", |v| v == SHN_COMMON, "st_size"),
                |_| u64::MAX - 1,
            )
        },
        expected: "has an implausible size",
        // 0xffff_fffe fits the reader's bound; the ELF32 layout refuses the 4 GiB .bss below.
        only_64: true,
        only_32: false,
    },
    // The same on ARM: a COMMON block that cannot fit a 32-bit address space.
    Regression {
        kind: Kind::Object,
        edit: |d, wide| {
            !wide
                && set(
                    d,
                    |d| entry_field(d, "st_shndx", |v| v == SHN_COMMON, "st_size"),
                    |_| 0xffff_fffe,
                )
        },
        expected: "too large for the output",
        only_64: false,
        only_32: true,
    },
    // A relocation type neither target knows (it read "unsupported relocation relocation
    // type 4096 against symbol `'" before).
    Regression {
        kind: Kind::Object,
        edit: |d, wide| {
            let first = |d: &[u8]| {
                fields::layout(d)
                    .fields
                    .into_iter()
                    .find(|f| f.what.ends_with("relocation 0 r_info"))
            };
            let mask = if wide { 0xffff_ffff } else { 0xff };
            set(d, first, |old| (old & !mask) | 0xfe)
        },
        expected: "relocation 0 at offset",
        only_64: false,
        only_32: false,
    },
    // A binding no ELF reader knows, on a global symbol.
    Regression {
        kind: Kind::Object,
        edit: |d, _| {
            set(
                d,
                |d| entry_field(d, "st_info", |v| v >> 4 == 1, "st_info"),
                |v| (11 << 4) | (v & 0xf),
            )
        },
        expected: "has unsupported binding 11",
        only_64: false,
        only_32: false,
    },
    // Section data past the end of the file: named with its index, offset and size.
    Regression {
        kind: Kind::Object,
        edit: |d, _| set(d, non_empty_progbits_offset, |_| 0x7fff_0000),
        expected: "data at offset 0x7fff0000 with size",
        only_64: false,
        only_32: false,
    },
    // Relocations for a section turned NOBITS (an internal error about dynamic relocation
    // counts before): the seed's .data.counter section has an absolute word.
    Regression {
        kind: Kind::Object,
        edit: |d, _| set(d, data_section_with_relocations, |_| 8),
        expected: "which is SHT_NOBITS and has no contents",
        only_64: false,
        only_32: false,
    },
    // .dynsym of a shared input far larger than the file.
    Regression {
        kind: Kind::SharedInput,
        edit: |d, _| {
            set(
                d,
                |d| fields::section_field(d, 11, "sh_size"),
                |_| 0xffff_fff0,
            )
        },
        expected: "libcase.so: malformed input: .dynsym:",
        only_64: false,
        only_32: false,
    },
    // The harness: a TLS template aligned beyond anything it can place (an overflow before).
    Regression {
        kind: Kind::Loaded,
        edit: |d, _| {
            set(
                d,
                |d| entry_field(d, "p_type", |v| v == PT_TLS, "p_align"),
                |_| 0x8000_0000,
            )
        },
        expected: "libcase.so: malformed ELF: PT_TLS at",
        only_64: false,
        only_32: false,
    },
    // The harness: a segment alignment that overflowed placing the object (the campaign).
    Regression {
        kind: Kind::Loaded,
        edit: |d, _| {
            set(
                d,
                |d| entry_field(d, "p_type", |v| v == PT_LOAD, "p_align"),
                |_| u64::MAX,
            )
        },
        expected: "is not a power of two up to 256 MiB",
        only_64: false,
        only_32: false,
    },
    // The harness: a segment that ends past the address space (an overflow before).
    Regression {
        kind: Kind::Loaded,
        edit: |d, _| {
            set(
                d,
                |d| entry_field(d, "p_type", |v| v == PT_LOAD, "p_memsz"),
                |_| 0xffff_f000,
            )
        },
        expected: "ends beyond the 256 MiB the harness maps",
        only_64: false,
        only_32: false,
    },
];

#[test]
fn found_faults_stay_fixed() {
    let programs = programs();
    let dir = tempfile::tempdir().unwrap();
    for arm in [false, true] {
        let seeds = seeds::build(&dir.path().join(if arm { "arm" } else { "x86" }), arm).unwrap();
        for r in REGRESSIONS
            .iter()
            .filter(|r| if arm { !r.only_64 } else { !r.only_32 })
        {
            let mut input = seeds.read(r.kind.seed());
            assert!(
                (r.edit)(&mut input, !arm),
                "{:?}: the seed lacks what `{}` needs",
                r.kind,
                r.expected
            );
            let (verdict, stderr) = inputs::run_input(&programs, &seeds, r.kind, &input);
            assert_eq!(
                verdict,
                Verdict::CleanError,
                "arm {arm}, {}: {stderr}",
                r.expected
            );
            assert!(
                stderr.contains(r.expected),
                "arm {arm}: expected `{}` in {stderr}",
                r.expected
            );
        }
    }
}
