//! tether's ARM PLT against GNU ld's for the same shared library: the same PLT0 (whose
//! padding holds the TLS descriptor trampoline), the same three instructions per entry, lazy
//! slots holding PLT0; and the long form for far slots.

mod arm_common;

use arm_common::{gnu_ld, path_str, Assembler};
use object::read::elf::ElfFile32;
use object::{LittleEndian, Object, ObjectSection};
use tether_linker::arch::arm::reloc::ArmField;
use tether_linker::arch::arm::Arm;
use tether_linker::arch::{Arch, PltEntryAddrs};

fn word(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes"))
}

#[test]
fn plt_matches_gnu_ld() {
    let dir = tempfile::tempdir().expect("temp dir");
    let object = Assembler::Gnu.assemble("plt_calls.s", dir.path());
    let lib = dir.path().join("libplt.so");
    gnu_ld(&["-shared", "-o", path_str(&lib), path_str(&object)]);
    let data = std::fs::read(&lib).expect("read library");
    let elf = ElfFile32::<LittleEndian>::parse(&*data).expect("parse library");

    let plt = elf.section_by_name(".plt").expect(".plt");
    let plt0 = plt.address();
    let plt_bytes = plt.data().expect("plt data");
    let got = elf.section_by_name(".got").expect(".got");
    let (got_addr, got_bytes) = (got.address(), got.data().expect("got data"));
    // GNU ld's .got starts with the three reserved .got.plt words; its PLT0 literal says where.
    let got_plt = u64::from(word(plt_bytes, 16)) + plt0 + 16;
    assert_eq!(got_plt, got_addr);

    let layout = Arm.plt_layout();
    let mut header = vec![0u8; layout.header_size as usize];
    Arm.write_plt_header(&mut header, plt0, got_plt)
        .expect("PLT0");
    assert_eq!(header[..20], plt_bytes[..20], "PLT0");
    // The padding holds the TLS descriptor trampoline GNU ld places after the entries.
    assert_eq!(
        header[20..],
        [0xe08e_0000u32, 0xe590_1004, 0xe12f_ff11]
            .iter()
            .flat_map(|w| w.to_le_bytes())
            .collect::<Vec<u8>>(),
        "add r0, lr, r0; ldr r1, [r0, #4]; bx r1"
    );

    let rel_plt = elf.section_by_name(".rel.plt").expect(".rel.plt");
    let rel_bytes = rel_plt.data().expect("rel.plt data");
    assert_eq!(rel_bytes.len(), 3 * 8, "three JUMP_SLOT relocations");
    for index in 0..3u64 {
        let got_slot = u64::from(word(rel_bytes, 8 * index as usize));
        assert_eq!(
            word(rel_bytes, 8 * index as usize + 4) & 0xff,
            Arm.dyn_reloc_types().jump_slot
        );
        // GNU ld's entries are 12 bytes; tether's are 16 (the same three words, then a trap).
        let gnu_entry = 20 + 12 * index as usize;
        let addrs = PltEntryAddrs {
            plt0,
            entry: plt0 + gnu_entry as u64,
            got_slot,
            index,
        };
        let mut entry = vec![0u8; layout.entry_size as usize];
        Arm.write_plt_entry(&mut entry, addrs).expect("entry");
        assert_eq!(
            entry[..12],
            plt_bytes[gnu_entry..gnu_entry + 12],
            "entry {index}"
        );
        let slot_value = u64::from(word(got_bytes, (got_slot - got_addr) as usize));
        assert_eq!(
            Arm.lazy_slot_value(addrs),
            slot_value,
            "lazy slot {index} holds PLT0"
        );
    }
}

/// Decodes tether's long PLT entry: ip must end up holding the slot's address.
fn long_entry_target(entry: &[u8], at: u64) -> u64 {
    assert_eq!(word(entry, 8), 0xe08c_c00f, "add ip, ip, pc");
    assert_eq!(word(entry, 12), 0xe59c_f000, "ldr pc, [ip]");
    let lo = ArmField::ArmMovw.read_addend(entry).expect("movw") as u64 & 0xffff;
    let hi = ArmField::ArmMovt.read_addend(&entry[4..]).expect("movt") as u64 & 0xffff;
    (hi << 16 | lo).wrapping_add(at + 16) & 0xffff_ffff
}

#[test]
fn plt_long_form_when_the_slot_is_out_of_reach() {
    let mut entry = [0u8; 16];
    for (at, slot) in [
        (0x1000u64, 0x2000_1000u64),
        (0x8000_0000, 0x1000),
        (0x1000, 0x1000),
    ] {
        let addrs = PltEntryAddrs {
            plt0: 0x1000,
            entry: at,
            got_slot: slot,
            index: 0,
        };
        Arm.write_plt_entry(&mut entry, addrs).expect("entry");
        assert_eq!(
            long_entry_target(&entry, at),
            slot,
            "entry {at:#x} slot {slot:#x}"
        );
    }
    // The last distance that fits the short form: 2^28 - 1 bytes from entry + 8.
    let addrs = PltEntryAddrs {
        plt0: 0,
        entry: 0,
        got_slot: (1 << 28) - 1 + 8,
        index: 0,
    };
    Arm.write_plt_entry(&mut entry, addrs).expect("entry");
    assert_eq!(
        [word(&entry, 0), word(&entry, 4), word(&entry, 8)],
        [0xe28f_c6ff, 0xe28c_caff, 0xe5bc_ffff]
    );
}
