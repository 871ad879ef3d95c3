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

/// In a shared library, tether accepts every position-independent relocation of the fixtures
/// and rejects exactly the absolute MOVW/MOVT and local-exec TLS ones, each error naming the
/// object, section, offset, relocation and symbol (as GNU ld and lld do).
#[test]
fn absolute_relocations_are_rejected_in_shared_libraries() {
    let tmp = tempfile::tempdir().expect("temp dir");
    for assembler in arm_common::Assembler::ALL {
        let objects = [
            assembler.assemble("relocs_arm.s", tmp.path()),
            assembler.assemble("relocs_thumb.s", tmp.path()),
        ];
        let out = tmp.path().join("librelocs.so");
        let (ok, stderr) = tether(&[
            "-shared",
            "-Bsymbolic",
            "-o",
            path_str(&out),
            path_str(&objects[0]),
            path_str(&objects[1]),
        ]);
        assert!(!ok);
        let mut rejected: Vec<String> = stderr
            .lines()
            .filter(|l| l.starts_with("ld.tether: error: "))
            .map(|l| {
                // "<object>:(<section>+<offset>): relocation <type> against <symbol>: ..."
                let after_object = l.split_once(".o:(").map_or(l, |(_, rest)| rest);
                let place = after_object.split_once(')').map_or("", |(p, _)| p);
                let kind = l
                    .split("relocation ")
                    .nth(1)
                    .and_then(|r| r.split(' ').next());
                format!("{place} {}", kind.unwrap_or("?"))
            })
            .collect();
        rejected.sort();
        let expected = [
            ".rodata.arm+0x48 R_ARM_TLS_LE32",
            ".rodata.arm+0x4c R_ARM_TLS_LE32",
            ".text.arm+0x1c R_ARM_MOVW_ABS_NC",
            ".text.arm+0x20 R_ARM_MOVT_ABS",
            ".text.arm+0x24 R_ARM_MOVW_ABS_NC",
            ".text.arm+0x28 R_ARM_MOVT_ABS",
            ".text.arm+0x2c R_ARM_MOVW_ABS_NC",
            ".text.thumb+0x1e R_ARM_THM_MOVW_ABS_NC",
            ".text.thumb+0x22 R_ARM_THM_MOVT_ABS",
            ".text.thumb+0x26 R_ARM_THM_MOVW_ABS_NC",
            ".text.thumb+0x2a R_ARM_THM_MOVT_ABS",
            ".text.thumb+0x2e R_ARM_THM_MOVW_ABS_NC",
        ];
        assert_eq!(rejected, expected, "{assembler:?}:\n{stderr}");
        assert!(stderr.contains("against symbol `data_word'"), "{stderr}");
        assert!(!out.exists());
    }
}

/// `e_flags` of the output carries the float ABI the build attributes say, as GNU ld sets it:
/// hard-float objects, soft-float objects (whose e_flags say nothing), assembly without floats.
#[test]
fn float_abi_flag_matches_gnu_ld() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let e_flags = |path: &std::path::Path| {
        let data = std::fs::read(path).expect("read output");
        u32::from_le_bytes(data[36..40].try_into().expect("e_flags"))
    };
    let source = tmp.path().join("f.c");
    std::fs::write(&source, "float twice(float x) { return x * 2; }\n").expect("write");
    let mut objects = Vec::new();
    for abi in ["-mfloat-abi=hard", "-mfloat-abi=soft"] {
        let object = tmp.path().join(format!("f{abi}.o"));
        run(
            "arm-linux-gnueabihf-gcc",
            "gcc-arm-linux-gnueabihf",
            &[
                abi,
                "-fPIC",
                "-c",
                path_str(&source),
                "-o",
                path_str(&object),
            ],
        );
        objects.push(object);
    }
    objects.push(arm_common::Assembler::Gnu.assemble("plt_calls.s", tmp.path()));
    for object in &objects {
        let ours = tmp.path().join("ours.so");
        let theirs = tmp.path().join("theirs.so");
        let (ok, stderr) = tether(&["-shared", "-o", path_str(&ours), path_str(object)]);
        assert!(ok, "{stderr}");
        arm_common::gnu_ld(&["-shared", "-o", path_str(&theirs), path_str(object)]);
        assert_eq!(
            format!("{:#x}", e_flags(&ours)),
            format!("{:#x}", e_flags(&theirs)),
            "{}",
            object.display()
        );
    }
}

/// A Thumb B.N to a hidden IFUNC (gcc -O2 tail-calls it so) cannot reach the ARM-state PLT
/// entry whose slot the resolver fills, and is refused by name; its data word alone links,
/// with an R_ARM_IRELATIVE in .rel.dyn.
#[test]
fn hidden_ifunc_short_thumb_branch_is_refused() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let data_only = "static int impl(void) { return 42; }\n\
        static int (*resolve(void))(void) { return impl; }\n\
        __attribute__((visibility(\"hidden\"))) int hidden_f(void) __attribute__((ifunc(\"resolve\")));\n\
        int (*volatile data_ptr)(void) = hidden_f;\n";
    let with_call = format!("{data_only}int call_it(void) {{ return hidden_f(); }}\n");
    for (name, source) in [("data", data_only.to_string()), ("call", with_call)] {
        let src = tmp.path().join(format!("{name}.c"));
        std::fs::write(&src, source).expect("write");
        let object = tmp.path().join(format!("{name}.o"));
        run(
            "arm-linux-gnueabihf-gcc",
            "gcc-arm-linux-gnueabihf",
            &[
                "-O2",
                "-mthumb",
                "-fPIC",
                "-c",
                path_str(&src),
                "-o",
                path_str(&object),
            ],
        );
        let out = tmp.path().join(format!("lib{name}.so"));
        let (ok, stderr) = tether(&["-shared", "-o", path_str(&out), path_str(&object)]);
        if name == "data" {
            assert!(ok, "{stderr}");
            let relocs = Command::new("readelf")
                .args(["-rW", path_str(&out)])
                .output()
                .expect("readelf");
            let relocs = String::from_utf8_lossy(&relocs.stdout);
            assert_eq!(relocs.matches("R_ARM_IRELATIVE").count(), 1, "{relocs}");
        } else {
            assert!(!ok);
            assert!(
                stderr.contains("relocation R_ARM_THM_JUMP11 against IFUNC `hidden_f'"),
                "{stderr}"
            );
            assert!(!out.exists());
        }
    }
}
