//! Bad ARM inputs give clear errors naming the object, section, offset, symbol and relocation,
//! and leave no output behind.

mod arm_common;

use arm_common::{path_str, run, FIXTURES};
use std::process::Command;

fn tether(args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_ld-tether"))
        .args(args)
        .output()
        .expect("run ld-tether");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn out_of_range_narrow_branch_is_an_error() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let object = tmp.path().join("narrow.o");
    run(
        "arm-linux-gnueabihf-as",
        "binutils-arm-linux-gnueabihf",
        &[&format!("{FIXTURES}/narrow_far.s"), "-o", path_str(&object)],
    );
    let out = tmp.path().join("libnarrow.so");
    let (ok, stderr) = tether(&["-shared", "-o", path_str(&out), path_str(&object)]);
    assert!(!ok, "linked an unreachable B.N");
    assert!(
        stderr.contains(".text+0x0): relocation R_ARM_THM_JUMP11 against `far_away': value")
            && stderr.contains("out of range"),
        "{stderr}"
    );
    assert!(stderr.contains("narrow.o:"), "{stderr}");
    assert!(!out.exists(), "a failed link must not leave an output");
}

#[test]
fn soft_and_hard_float_objects_are_not_mixed() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let hard = tmp.path().join("hard.o");
    let soft = tmp.path().join("soft.o");
    for (object, abi, name) in [
        (&hard, "-mfloat-abi=hard", "hard"),
        (&soft, "-mfloat-abi=soft", "soft"),
    ] {
        let source = object.with_extension("c");
        std::fs::write(
            &source,
            format!("float {name}_twice(float x) {{ return x * 2; }}\n"),
        )
        .expect("write");
        run(
            "arm-linux-gnueabihf-gcc",
            "gcc-arm-linux-gnueabihf",
            &[
                abi,
                "-fPIC",
                "-c",
                path_str(&source),
                "-o",
                path_str(object),
            ],
        );
    }
    let out = tmp.path().join("libmixed.so");
    let (ok, stderr) = tether(&[
        "-shared",
        "-o",
        path_str(&out),
        path_str(&hard),
        path_str(&soft),
    ]);
    assert!(!ok);
    assert!(
        stderr.contains("soft.o uses the base (soft-float) procedure call standard")
            && stderr.contains("hard.o uses VFP register arguments"),
        "{stderr}"
    );
    assert!(!out.exists());
}
