//! CPU state: floating point and SIMD enabled, stack alignment per ABI, unsupported
//! relocations named.

mod common;
use common::*;
use std::process::Command;
use tether_harness::{Arch, HarnessError};

fn float_and_simd(tc: Toolchain) {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (header, simd, flags): (&str, &str, &[&str]) = match tc.arch() {
        Arch::Arm => (
            "#include <arm_neon.h>",
            "int32x4_t a = vld1q_s32(p), b = vld1q_s32(q); int32x4_t c = vaddq_s32(a, b);\n\
             return vgetq_lane_s32(c, 0) + vgetq_lane_s32(c, 3);",
            &["-mfpu=neon"],
        ),
        Arch::X86_64 => (
            "#include <emmintrin.h>",
            "__m128i a = _mm_loadu_si128((const __m128i *)p), b = _mm_loadu_si128((const __m128i *)q);\n\
             __m128i c = _mm_add_epi32(a, b); int out[4]; _mm_storeu_si128((__m128i *)out, c);\n\
             return out[0] + out[3];",
            &[],
        ),
    };
    let src = format!(
        "{header}\n\
         int ratio(int a, int b) {{ volatile double x = a, y = b; return (int)(x / y * 1000.0); }}\n\
         int simd(const int *p, const int *q) {{ {simd} }}\n"
    );
    tc.shared(d, "libfp.so", &src, flags);
    let mut s = session(tc, d);
    s.load(d.join("libfp.so")).unwrap();
    s.run_init().unwrap();
    assert_eq!(s.call("ratio", &[22, 7]).unwrap(), 3142);
    let words = |v: [i32; 4]| v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>();
    let p = s.alloc(16).unwrap();
    let q = s.alloc(16).unwrap();
    s.write_memory(p, &words([1, 2, 3, 4])).unwrap();
    s.write_memory(q, &words([10, 20, 30, 40])).unwrap();
    assert_eq!(s.call("simd", &[p, q]).unwrap(), 11 + 44);
}

for_each_toolchain!(float_and_simd);

/// SysV x86-64: rsp + 8 is 16-byte aligned on entry, for calls from the host and for calls
/// made from inside a host function (nested).
#[test]
fn x86_64_stack_alignment() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let src = "long misalign(void) { return (long)__builtin_frame_address(0) & 15; }\n\
               long through_host(void);\nlong nested(void) { return through_host(); }\n";
    Toolchain::GnuX86.shared(d, "libalign.so", src, &["-fno-omit-frame-pointer", "-O0"]);
    let mut s = session(Toolchain::GnuX86, d);
    s.register_host_fn("through_host", None, |s| s.call("misalign", &[]));
    s.load(d.join("libalign.so")).unwrap();
    // The frame pointer is pushed onto an 8-mod-16 stack, so it is 16-aligned.
    assert_eq!(s.call("misalign", &[]).unwrap(), 0);
    assert_eq!(s.call("nested", &[]).unwrap(), 0);
}

/// Changes the type of the first RELATIVE relocation in `.rel(a).dyn` to `new_type`.
fn retype_first_relative(lib: &std::path::Path, arch: Arch, new_type: u32) {
    let o = Command::new("readelf")
        .arg("-SW")
        .arg(lib)
        .output()
        .expect("readelf (binutils)");
    let text = String::from_utf8_lossy(&o.stdout);
    let line = text
        .lines()
        .find(|l| l.contains(".rela.dyn") || l.contains(".rel.dyn"))
        .expect("a .rel(a).dyn section");
    let fields: Vec<&str> = line.split(']').nth(1).unwrap().split_whitespace().collect();
    let offset = usize::from_str_radix(fields[3], 16).unwrap();
    let mut bytes = std::fs::read(lib).unwrap();
    match arch {
        Arch::X86_64 => {
            let mut at = offset;
            while u32::from_le_bytes(bytes[at + 8..at + 12].try_into().unwrap()) != 8 {
                at += 24;
            }
            bytes[at + 8..at + 12].copy_from_slice(&new_type.to_le_bytes());
        }
        Arch::Arm => {
            let mut at = offset;
            while bytes[at + 4] != 23 {
                at += 8;
            }
            bytes[at + 4] = new_type as u8;
        }
    }
    std::fs::write(lib, bytes).unwrap();
}

#[test]
fn unsupported_relocations_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let src = "static int x;\nint *const ptr = &x;\nint *get(void) { return ptr; }\n";
    for (tc, new_type, name) in [
        (Toolchain::GnuX86, 2, "R_X86_64_PC32"),
        (Toolchain::GnuThumb, 3, "R_ARM_REL32"),
    ] {
        let lib = tc.shared(d, "libreloc.so", src, &[]);
        retype_first_relative(&lib, tc.arch(), new_type);
        let mut s = session(tc, d);
        match s.load(&lib) {
            Err(HarnessError::UnsupportedRelocation {
                object,
                name: n,
                r_type,
                ..
            }) => {
                assert_eq!(
                    (object.as_str(), n.as_str(), r_type),
                    ("libreloc.so", name, new_type)
                );
            }
            other => panic!("{other:?}"),
        }
    }
}
