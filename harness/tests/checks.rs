//! The loader's own checks: RELRO, scope order and interposition, hash-table consistency,
//! writable+executable segments.

mod common;
use common::*;
use std::process::Command;
use tether_harness::{Event, FaultKind, HarnessError, Options};

fn relro_read_only_after_relocation(tc: Toolchain) {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // A pointer table in .data.rel.ro: written by a RELATIVE relocation, then made read-only.
    let src = "const char *const table[] = { \"relocated\" };\n\
               const char *first(void) { return table[0]; }\n\
               void poke(void) { *(const char *volatile *)&table[0] = 0; }\n";
    tc.shared(d, "librelro.so", src, &[]);
    let mut s = session(tc, d);
    s.load(d.join("librelro.so")).unwrap();
    s.run_init().unwrap();
    let p = s.call("first", &[]).unwrap();
    assert_eq!(s.read_c_string(p).unwrap(), b"relocated");
    let e = s.call("poke", &[]).unwrap_err();
    assert_eq!(fault_kind(&e), FaultKind::WriteProtected);
}

fn interposition_and_symbolic(tc: Toolchain) {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let a = "int which(void) { return 1; }\nint call_which(void) { return which(); }\n";
    // clang assumes no interposition unless told; GNU C assumes it.
    let interposable = &["-fsemantic-interposition"];
    tc.shared(d, "libfirst.so", "int which(void) { return 2; }\n", &[]);
    tc.shared(d, "libplain.so", a, interposable);
    tc.shared(
        d,
        "libsym.so",
        a,
        &["-fsemantic-interposition", "-Wl,-Bsymbolic"],
    );
    let mut s = session(tc, d);
    s.load(d.join("libfirst.so")).unwrap();
    s.load(d.join("libplain.so")).unwrap();
    s.load(d.join("libsym.so")).unwrap();
    s.run_init().unwrap();
    // The global scope is searched in load order: libfirst's `which` interposes …
    assert_eq!(s.call("call_which", &[]).unwrap(), 2);
    // … except for a -Bsymbolic library, which binds to itself.
    let sym = s
        .objects()
        .iter()
        .position(|o| o.name == "libsym.so")
        .unwrap();
    let base = s.objects()[sym].base;
    let own = s
        .call_address(
            base + symbol_value(&d.join("libsym.so"), "call_which", tc),
            &[],
        )
        .unwrap();
    assert_eq!(own, 1);
}

/// A symbol's link-time value from `nm -D`.
fn symbol_value(lib: &std::path::Path, name: &str, _tc: Toolchain) -> u64 {
    let o = Command::new("nm")
        .arg("-D")
        .arg(lib)
        .output()
        .expect("nm (binutils)");
    let text = String::from_utf8_lossy(&o.stdout);
    let line = text
        .lines()
        .find(|l| l.split_whitespace().nth(2) == Some(name))
        .unwrap_or_else(|| panic!("{name} not in nm -D output:\n{text}"));
    u64::from_str_radix(line.split_whitespace().next().unwrap(), 16).unwrap()
}

for_each_toolchain!(relro_read_only_after_relocation, interposition_and_symbolic);

#[test]
fn hash_table_disagreeing_with_dynsym_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for tc in [Toolchain::GnuX86, Toolchain::GnuThumb] {
        let lib = tc.shared(d, "libhash.so", "int exported(void) { return 1; }\n", &[]);
        let mut bytes = std::fs::read(&lib).unwrap();
        let o = Command::new("readelf")
            .arg("-dW")
            .arg(&lib)
            .output()
            .expect("readelf (binutils)");
        let text = String::from_utf8_lossy(&o.stdout);
        let hash = text
            .lines()
            .find(|l| l.contains("(GNU_HASH)"))
            .and_then(|l| l.split_whitespace().last())
            .and_then(|v| u64::from_str_radix(v.trim_start_matches("0x"), 16).ok())
            .expect("DT_GNU_HASH");
        // In these libraries the first PT_LOAD maps offset 0 at address 0: vaddr = offset.
        let h = hash as usize;
        let word = if tc.arch() == tether_harness::Arch::X86_64 {
            8
        } else {
            4
        };
        let nbuckets = u32::from_le_bytes(bytes[h..h + 4].try_into().unwrap()) as usize;
        let bloom = u32::from_le_bytes(bytes[h + 8..h + 12].try_into().unwrap()) as usize;
        let buckets = h + 16 + bloom * word;
        bytes[buckets..buckets + 4 * nbuckets].fill(0);
        std::fs::write(&lib, &bytes).unwrap();
        let mut s = session(tc, d);
        match s.load(&lib) {
            Err(HarnessError::BadElf { message, .. }) => {
                assert!(message.contains("hash table disagrees"), "{message}");
                assert!(message.contains("exported"), "{message}");
            }
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn writable_executable_segment_warns_or_fails_in_strict_mode() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let lib = Toolchain::GnuX86.shared(
        d,
        "libwx.so",
        "int f(void) { return 7; }\n",
        &["-nostdlib", "-Wl,-N"],
    );
    let mut s = session(Toolchain::GnuX86, d);
    s.load(&lib).unwrap();
    assert_eq!(s.call("f", &[]).unwrap(), 7);
    assert!(s
        .events()
        .iter()
        .any(|e| matches!(e, Event::Warning { message, .. } if message.contains("writable and executable"))));
    let mut s = session_with(
        Toolchain::GnuX86,
        d,
        Options {
            strict: true,
            ..Options::default()
        },
    );
    assert!(
        matches!(s.load(&lib), Err(HarnessError::BadElf { message, .. }) if message.contains("writable and executable"))
    );
}

/// ELF64 program headers as (file offset of the header, p_type).
fn program_headers(bytes: &[u8]) -> Vec<(usize, u32)> {
    let u16_at = |o: usize| u16::from_le_bytes(bytes[o..o + 2].try_into().unwrap()) as usize;
    let phoff = u64::from_le_bytes(bytes[0x20..0x28].try_into().unwrap()) as usize;
    let (entsize, num) = (u16_at(0x36), u16_at(0x38));
    (0..num)
        .map(|k| {
            let at = phoff + k * entsize;
            (
                at,
                u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()),
            )
        })
        .collect()
}

#[test]
fn malformed_program_headers_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let lib = Toolchain::GnuX86.shared(d, "libph.so", "int f(void) { return 1; }\n", &[]);
    let original = std::fs::read(&lib).unwrap();
    let phdrs = program_headers(&original);
    let loads: Vec<usize> = phdrs.iter().filter(|p| p.1 == 1).map(|p| p.0).collect();
    let dynamic = phdrs.iter().find(|p| p.1 == 2).map(|p| p.0).unwrap();
    let set = |bytes: &mut Vec<u8>, at: usize, v: u64| {
        bytes[at..at + 8].copy_from_slice(&v.to_le_bytes())
    };
    let get = |bytes: &[u8], at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap());
    // (p_vaddr at +16, p_offset at +8, p_memsz at +40)
    type Patch = Box<dyn Fn(&mut Vec<u8>)>;
    let cases: Vec<(&str, Patch)> = vec![
        (
            "PT_DYNAMIC",
            Box::new(move |b: &mut Vec<u8>| set(b, dynamic + 16, 0x7fff_0000)),
        ),
        (
            "overlaps",
            Box::new({
                let (first, second) = (loads[0], loads[1]);
                move |b: &mut Vec<u8>| {
                    let memsz = get(b, second + 40);
                    let (v0, o1) = (get(b, first + 16), get(b, second + 8));
                    // Same page offset as the file offset, but inside the first segment.
                    set(b, second + 16, v0 + (o1 % 0x1000));
                    set(b, second + 40, memsz);
                }
            }),
        ),
        (
            "disagree",
            Box::new({
                let second = loads[1];
                move |b: &mut Vec<u8>| {
                    let v = get(b, second + 16);
                    set(b, second + 16, v + 8);
                }
            }),
        ),
    ];
    for (expect, patch) in cases {
        let mut bytes = original.clone();
        patch(&mut bytes);
        std::fs::write(&lib, &bytes).unwrap();
        let mut s = session(Toolchain::GnuX86, d);
        match s.load(&lib) {
            Err(HarnessError::BadElf { message, .. }) => {
                assert!(message.contains(expect), "{expect}: {message}")
            }
            other => panic!("{expect}: {other:?}"),
        }
    }
}
