//! The host printf against glibc's: the same program run natively and under the harness
//! (x86-64 and ARM builds) prints the same bytes.

mod common;
use common::*;
use std::process::Command;

const PROGRAM: &str = r#"#include <stdio.h>
int main(void) {
    printf("[%d] [%5d] [%-5d] [%05d] [%+d] [% d] [%.3d] [%i]\n", -7, 42, 42, 42, 42, 42, 7, 0);
    printf("[%u] [%x] [%X] [%#x] [%#o] [%o] [%08x] [%.0d]\n", 4000000000u, 3054, 3054, 255, 8, 8, 0xbeef, 0);
    printf("[%ld] [%lu] [%lld] [%llu] [%llx] [%hhd] [%hd] [%zu]\n", -123456789L, 123456789UL,
           -9000000000000LL, 18000000000000000000ULL, 0x123456789abcdefULL, 300, 70000, (size_t)77);
    printf("[%c] [%s] [%10s] [%-10s] [%.3s] [%%] [%s]\n", 'Q', "str", "right", "left", "truncate", "");
    printf("[%f] [%.2f] [%10.3f] [%-10.1f] [%+.1f] [%.0f] [%f]\n", 3.14159, 2.71828, -1.5, 9.99, 2.0, 2.5, 1e10);
    printf("[%e] [%.2e] [%E] [%e] [%e]\n", 12345.678, 0.000123, 1e-10, 0.0, -7.0);
    printf("[%g] [%g] [%g] [%g] [%g] [%g] [%.3g] [%G] [%#g]\n", 100000.0, 1000000.0, 0.0001, 0.00001,
           123.456, 1e20, 3.14159, 1e-20, 1.5);
    printf("[%*d] [%-*d] [%.*f]\n", 6, 1, 6, 2, 3, 1.0 / 3.0);
    printf("mixed %d %f %s %lld %g %c\n", 1, 2.5, "three", 4LL, 5.5, '6');
    return 0;
}
"#;

#[test]
fn printf_matches_glibc() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let native = Toolchain::GnuX86.program(d, "printf_native", PROGRAM, true, &[]);
    let o = Command::new(&native).output().expect("run natively");
    assert!(o.status.success());
    let expected = String::from_utf8(o.stdout).unwrap();
    assert_eq!(expected.lines().count(), 9);
    for tc in [Toolchain::GnuX86, Toolchain::GnuThumb, Toolchain::LldArm] {
        let exe = tc.program(d, "printf_prog", PROGRAM, true, &[]);
        let mut s = session(tc, d);
        let root = s.load(&exe).unwrap();
        s.run_init().unwrap();
        assert_eq!(s.run_entry(root, &["printf_prog"]).unwrap(), 0);
        assert_eq!(s.stdout(), expected, "{tc:?}");
    }
}
