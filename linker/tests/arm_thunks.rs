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
