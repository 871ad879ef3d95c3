//! DT_RELR (packed relative relocations): a library of hundreds of pointers linked with
//! `-z pack-relative-relocs` is relocated by the harness as by glibc, on both targets.

mod common;
use common::*;
use tether_harness::Event;

/// 300 pointers into a static array (every seventh left null), byte pointers, and one
/// pointer at an odd offset, which stays an ordinary RELATIVE relocation.
const LIB: &str = r#"
#define N 300
static int vals[N];
#define P4(i) &vals[i], &vals[i + 1], &vals[i + 2], 0,
int *ptrs[N] = {
#define P28(i) P4(i) P4(i + 4) P4(i + 8) P4(i + 12) P4(i + 16) P4(i + 20) P4(i + 24)
  P28(0) P28(28) P28(56) P28(84) P28(112) P28(140) P28(168) P28(196) P28(224) P28(252)
  P4(280) P4(284) P4(288) P4(292) P4(296)
};
static char bytes[50];
char *odd[] = { &bytes[1], &bytes[3], 0, &bytes[7] };
struct __attribute__((packed)) { char c; int *p; } unaligned = { 1, &vals[5] };
int bad_pointers(void) {
  int bad = 0;
  for (int i = 0; i < N; i++)
    if (ptrs[i] != (i % 4 == 3 ? 0 : &vals[i])) bad++;
  if (odd[0] != &bytes[1] || odd[1] != &bytes[3] || odd[2] || odd[3] != &bytes[7]) bad++;
  if (unaligned.p != &vals[5]) bad++;
  return bad;
}
"#;

/// Pointers relocated: 225 in `ptrs`, 3 in `odd`, the unaligned one, and the toolchain's own
/// (`__dso_handle`, init/fini arrays) which the count only bounds from below.
const POINTERS: u64 = 225 + 3 + 1;

fn packed_pointers_are_relocated(tc: Toolchain) {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // lld 14 spells the option its own way.
    let pack = match tc {
        Toolchain::LldArm => "-Wl,--pack-dyn-relocs=relr",
        _ => "-Wl,-z,pack-relative-relocs",
    };
    let lib = tc.shared(d, "librelr.so", LIB, &[pack]);
    let dynamic = std::process::Command::new("readelf")
        .args(["-dW"])
        .arg(&lib)
        .output()
        .expect("readelf");
    let tags = String::from_utf8_lossy(&dynamic.stdout);
    assert!(tags.contains("(RELR)"), "{tc:?}: no DT_RELR:\n{tags}");
    let mut s = session(tc, d);
    s.load(&lib).unwrap();
    s.run_init().unwrap();
    assert_eq!(s.call("bad_pointers", &[]).unwrap(), 0, "{tc:?}");
    let relative: u64 = s
        .events()
        .iter()
        .filter_map(|e| match e {
            Event::RelativeRelocations { object, count } if object == "librelr.so" => Some(*count),
            _ => None,
        })
        .sum();
    assert!(
        relative >= POINTERS,
        "{tc:?}: {relative} relative relocations"
    );
}

#[test]
fn relr_gnu_ld_x86_64() {
    packed_pointers_are_relocated(Toolchain::GnuX86);
}

#[test]
fn relr_tether_x86_64() {
    packed_pointers_are_relocated(Toolchain::TetherX86);
}

#[test]
fn relr_tether_thumb() {
    packed_pointers_are_relocated(Toolchain::TetherThumb);
}

#[test]
fn relr_lld_arm() {
    packed_pointers_are_relocated(Toolchain::LldArm);
}
