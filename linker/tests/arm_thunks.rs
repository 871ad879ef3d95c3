//! tether's thunks, written into slots of a program GNU ld linked, carry far calls (48 MiB,
//! beyond ARM and Thumb reach) and a state-changing Thumb tail call, under qemu-arm.

mod arm_common;

use arm_common::{gnu_ld, path_str, Assembler, FIXTURES};
use object::read::elf::ElfFile32;
use object::{LittleEndian, Object, ObjectSection, ObjectSymbol};
use std::process::Command;
use tether_linker::arch::arm::reloc::R_ARM_THM_CALL;
use tether_linker::arch::arm::Arm;
use tether_linker::arch::{Arch, SymbolFacts};

#[test]
fn far_and_interworking_thunks_run_under_qemu() {
    let dir = tempfile::tempdir().expect("temp dir");
    for assembler in Assembler::ALL {
        let object = assembler.assemble("thunks.s", dir.path());
        let exe = dir.path().join(format!("thunks.{assembler:?}"));
        let script = format!("{FIXTURES}/thunks.ld");
        gnu_ld(&[
            "-static",
            "-T",
            &script,
            "-o",
            path_str(&exe),
            path_str(&object),
        ]);

        let mut image = std::fs::read(&exe).expect("read program");
        let patches = {
            let elf = ElfFile32::<LittleEndian>::parse(&*image).expect("parse program");
            let sym = |name: &str| {
                elf.symbols()
                    .find(|s| s.name() == Ok(name))
                    .unwrap_or_else(|| panic!("no symbol {name}"))
                    .address()
            };
            let text = elf.section_by_name(".text.near").expect(".text.near");
            let (text_addr, text_offset) = (text.address(), text.file_range().expect("file").0);
            // (slot, branch type, place of the branch, destination, expected thunk)
            let cases = [
                (
                    "slot_arm_to_thumb",
                    object::elf::R_ARM_CALL.0,
                    sym("_start") + 4,
                    "far_thumb",
                ),
                (
                    "slot_thumb_call",
                    R_ARM_THM_CALL.0,
                    (sym("thumb_part") & !1) + 2,
                    "far_arm",
                ),
                (
                    "slot_thumb_tail_far",
                    object::elf::R_ARM_THM_JUMP24.0,
                    sym("tail_far") & !1,
                    "far_arm2",
                ),
                (
                    "slot_thumb_tail_near",
                    object::elf::R_ARM_THM_JUMP24.0,
                    sym("tail_near_arm") & !1,
                    "near_arm",
                ),
            ];
            let mut patches = Vec::new();
            for (slot, r_type, place, dest) in cases {
                let dest = sym(dest);
                let spec = Arm
                    .needs_thunk(r_type, place, dest, SymbolFacts::default())
                    .unwrap_or_else(|| panic!("{slot}: no thunk for a branch to {dest:#x}"));
                let addr = sym(slot) & !1;
                let mut bytes = vec![0u8; spec.size as usize];
                Arm.write_thunk(&spec, &mut bytes, addr, dest)
                    .expect("write thunk");
                patches.push(((addr - text_addr + text_offset) as usize, bytes));
            }
            patches
        };
        for (offset, bytes) in patches {
            image[offset..offset + bytes.len()].copy_from_slice(&bytes);
        }
        std::fs::write(&exe, &image).expect("write program");

        let status = Command::new("qemu-arm")
            .arg(&exe)
            .status()
            .unwrap_or_else(|e| {
                panic!("cannot run qemu-arm ({e}): install the Debian package `qemu-user`")
            });
        assert_eq!(
            status.code(),
            Some(87),
            "{assembler:?}: every callee must run exactly once"
        );
    }
}

/// Every thunk begins with a mapping symbol of its state ($a for the ARM form, $t for the
/// Thumb one), so disassemblers decode it, and eu-elflint still finds no errors.
#[test]
fn thunks_carry_mapping_symbols() {
    let dir = tempfile::tempdir().expect("temp dir");
    let object = dir.path().join("far.o");
    arm_common::run(
        "arm-linux-gnueabihf-gcc",
        "gcc-arm-linux-gnueabihf",
        &[
            "-c",
            "-fPIC",
            &format!("{FIXTURES}/far.S"),
            "-o",
            path_str(&object),
        ],
    );
    let lib = dir.path().join("libfar.so");
    let out = Command::new(env!("CARGO_BIN_EXE_ld-tether"))
        .args(["-shared", "-o", path_str(&lib), path_str(&object)])
        .output()
        .expect("run ld-tether");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let data = std::fs::read(&lib).expect("read library");
    let elf = ElfFile32::<LittleEndian>::parse(&*data).expect("parse library");
    let mut checked = 0;
    for section in elf.sections() {
        let name = section.name().unwrap_or("");
        if !name.starts_with(".text.thunks") {
            continue;
        }
        let mut mapping: Vec<(u64, String)> = elf
            .symbols()
            .filter(|s| s.section_index() == Some(section.index()))
            .filter_map(|s| Some((s.address(), s.name().ok()?.to_string())))
            .filter(|(_, n)| n.starts_with('$'))
            .collect();
        mapping.sort();
        assert!(!mapping.is_empty(), "{name} has no mapping symbols");
        // The first thunk starts the section; each thunk is 16 (ARM) or 12 (Thumb) bytes.
        assert_eq!(mapping[0].0, section.address(), "{name}: {mapping:?}");
        let mut next = section.address();
        for (addr, sym) in &mapping {
            assert_eq!(*addr, next, "{name}: {mapping:?}");
            next += match sym.as_str() {
                "$a" => 16,
                "$t" => 12,
                other => panic!("{name}: unexpected mapping symbol {other}"),
            };
            checked += 1;
        }
        assert_eq!(
            next,
            section.address() + section.size(),
            "{name}: {mapping:?}"
        );
    }
    assert!(checked >= 4, "only {checked} thunks seen");
    let lint = Command::new("eu-elflint")
        .args(["--gnu-ld", path_str(&lib)])
        .output()
        .expect("cannot run eu-elflint: install elfutils");
    assert_eq!(String::from_utf8_lossy(&lint.stdout).trim(), "No errors");
}
