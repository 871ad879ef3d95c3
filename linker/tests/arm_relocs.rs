//! Every ARM relocation tether supports, applied by tether's encoders to objects from GNU as
//! and llvm-mc, must give the bytes GNU ld gives for the same inputs; and the value GNU ld
//! stored must be the one the AAELF32 formula gives for its layout. Then the same check on
//! tether's own output: a shared library of the position-independent relocations, whose
//! bytes must be what the formula gives for tether's layout (read back from its .symtab).

mod arm_common;

use arm_common::{gnu_ld, path_str, Assembler, FIXTURES};
use object::read::elf::ElfFile32;
use object::{
    LittleEndian, Object, ObjectSection, ObjectSymbol, RelocationFlags, RelocationTarget,
};
use std::collections::BTreeSet;
use tether_linker::arch::arm::Arm;
use tether_linker::arch::{Arch, RelExpr};

type Elf<'a> = ElfFile32<'a, LittleEndian>;

/// The relocations issue 3 lists.
const REQUIRED: &[&str] = &[
    "R_ARM_ABS32",
    "R_ARM_REL32",
    "R_ARM_PREL31",
    "R_ARM_CALL",
    "R_ARM_JUMP24",
    "R_ARM_PLT32",
    "R_ARM_THM_CALL",
    "R_ARM_THM_JUMP24",
    "R_ARM_THM_JUMP19",
    "R_ARM_THM_JUMP11",
    "R_ARM_THM_JUMP8",
    "R_ARM_MOVW_ABS_NC",
    "R_ARM_MOVT_ABS",
    "R_ARM_MOVW_PREL_NC",
    "R_ARM_MOVT_PREL",
    "R_ARM_THM_MOVW_ABS_NC",
    "R_ARM_THM_MOVT_ABS",
    "R_ARM_THM_MOVW_PREL_NC",
    "R_ARM_THM_MOVT_PREL",
    "R_ARM_GOT_BREL",
    "R_ARM_GOT_PREL",
    "R_ARM_GOTOFF32",
    "R_ARM_BASE_PREL",
    "R_ARM_TARGET1",
    "R_ARM_TARGET2",
    "R_ARM_V4BX",
    "R_ARM_NONE",
    "R_ARM_TLS_GD32",
    "R_ARM_TLS_LDM32",
    "R_ARM_TLS_LDO32",
    "R_ARM_TLS_IE32",
    "R_ARM_TLS_LE32",
];

struct Linked<'a> {
    elf: Elf<'a>,
    got_org: u64,
    tls_start: u64,
}

impl Linked<'_> {
    fn section(&self, name: &str) -> (u64, &[u8]) {
        let section = self
            .elf
            .section_by_name(name)
            .unwrap_or_else(|| panic!("GNU ld output has no section {name}"));
        (section.address(), section.data().expect("section data"))
    }

    /// A symbol's address; with bit 0 set for Thumb functions, as in the symbol table.
    fn symbol(&self, name: &str) -> u64 {
        let sym = self
            .elf
            .symbols()
            .find(|sym| sym.name() == Ok(name))
            .unwrap_or_else(|| panic!("GNU ld output has no symbol {name}"));
        if sym.kind() == object::SymbolKind::Tls {
            // In a linked file a TLS symbol's value is its offset in the TLS template.
            self.tls_start + sym.address()
        } else {
            sym.address()
        }
    }

    fn word_at(&self, addr: u64) -> u32 {
        for section in self.elf.sections() {
            let start = section.address();
            if start <= addr && addr + 4 <= start + section.size() && start != 0 {
                let data = section.data().expect("section data");
                let at = (addr - start) as usize;
                return u32::from_le_bytes(data[at..at + 4].try_into().expect("4 bytes"));
            }
        }
        panic!("no output section holds {addr:#x}");
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Linker {
    /// GNU ld, static, one output section per input section (relocs.ld).
    Gnu,
    /// tether, a shared library with -Bsymbolic (every symbol binds locally).
    Tether,
}

/// Checks one link of `objects`; returns the relocation names it verified.
fn check_link(
    objects: &[std::path::PathBuf],
    out: &std::path::Path,
    linker: Linker,
) -> BTreeSet<&'static str> {
    let script = format!("{FIXTURES}/relocs.ld");
    let mut args = match linker {
        Linker::Gnu => vec!["-static", "-T", &script, "-o", path_str(out)],
        Linker::Tether => vec!["-shared", "-Bsymbolic", "-o", path_str(out)],
    };
    args.extend(objects.iter().map(|o| path_str(o)));
    match linker {
        Linker::Gnu => gnu_ld(&args),
        Linker::Tether => {
            let status = std::process::Command::new(env!("CARGO_BIN_EXE_ld-tether"))
                .args(&args)
                .status()
                .expect("run ld-tether");
            assert!(status.success(), "ld-tether {args:?}");
        }
    }
    // A shared library's TLS GOT entries are completed by the loader: the module id is 0
    // (DTPMOD32 fills it) and an initial-exec slot holds the offset in the module's block
    // (TPOFF32 adds the block's distance from TP).
    let (module_id, ie_is_tp_relative) = match linker {
        Linker::Gnu => (1, true),
        Linker::Tether => (0, false),
    };

    let out_data = std::fs::read(out).expect("read GNU ld output");
    let elf = Elf::parse(&*out_data).expect("parse GNU ld output");
    let tls = elf
        .elf_program_headers()
        .iter()
        .find(|ph| ph.p_type.get(LittleEndian) == object::elf::PT_TLS)
        .expect("PT_TLS");
    let tls_start = u64::from(tls.p_vaddr.get(LittleEndian));
    let tls_align = u64::from(tls.p_align.get(LittleEndian));
    let mut linked = Linked {
        elf,
        got_org: 0,
        tls_start,
    };
    linked.got_org = linked.symbol("_GLOBAL_OFFSET_TABLE_");
    let tp_to_block = Arm.tls_block_offset(0, tls_align);

    let mut verified = BTreeSet::new();
    for object in objects {
        let data = std::fs::read(object).expect("read object");
        let input = Elf::parse(&*data).expect("parse object");
        for section in input.sections() {
            let name = section.name().expect("section name");
            let mut mine = section.data().expect("section data").to_vec();
            let mut relocs = section.relocations().peekable();
            if relocs.peek().is_none() {
                continue;
            }
            let (base, theirs) = linked.section(name);
            for (offset, reloc) in relocs {
                let RelocationFlags::Elf {
                    r_type: object::elf::RelocationType(r_type),
                } = reloc.flags()
                else {
                    panic!("not an ELF relocation")
                };
                let rname = Arm.reloc_name(r_type).expect("known relocation");
                let what = format!("{rname} at {name}+{offset:#x} in {}", object.display());
                let howto = Arm
                    .classify(r_type)
                    .unwrap_or_else(|| panic!("{what}: unsupported"));
                let off = offset as usize;
                let size = usize::from(howto.field.size);
                let place = base + offset;
                let addend = Arm
                    .implicit_addend(&howto, &mine[off..])
                    .unwrap_or_else(|e| panic!("{what}: reading the addend: {e}"));
                let s = match reloc.target() {
                    RelocationTarget::Symbol(index) => {
                        let sym = input.symbol_by_index(index).expect("symbol");
                        if sym.kind() == object::SymbolKind::Section {
                            let sec = input
                                .section_by_index(sym.section_index().expect("section"))
                                .expect("section");
                            linked.section(sec.name().expect("name")).0
                        } else {
                            linked.symbol(sym.name().expect("symbol name"))
                        }
                    }
                    RelocationTarget::Absolute => 0,
                    _ => panic!("{what}: unexpected target"),
                } as i64;
                let (p, a, got_org) = (place as i64, addend, linked.got_org as i64);
                let tls_start = linked.tls_start as i64;
                // What GNU ld stored, read back as a full word for the GOT-based forms.
                let stored = || linked.word_at(place) as i32 as i64;
                let value = match howto.expr {
                    RelExpr::None => {
                        assert_eq!(&mine[off..off + 4], &theirs[off..off + 4], "{what}");
                        verified.insert(rname);
                        continue;
                    }
                    RelExpr::Absolute => s + a,
                    RelExpr::PcRelative | RelExpr::Plt => s + a - p,
                    RelExpr::GotOffset => s + a - got_org,
                    RelExpr::GotBasePcRelative => got_org + a - p,
                    RelExpr::DtpOffset => s + a - tls_start,
                    RelExpr::TpOffset => s + a - tls_start + tp_to_block,
                    RelExpr::GotRelative | RelExpr::GotPcRelative => {
                        let base = if howto.expr == RelExpr::GotRelative {
                            got_org
                        } else {
                            p
                        };
                        let slot = (stored() - a + base) as u64;
                        assert_eq!(
                            i64::from(linked.word_at(slot)),
                            s,
                            "{what}: GOT slot {slot:#x}"
                        );
                        stored()
                    }
                    RelExpr::TlsGdPcRelative | RelExpr::TlsLdPcRelative => {
                        let slot = (stored() - a + p) as u64;
                        let offset = if howto.expr == RelExpr::TlsGdPcRelative {
                            s - tls_start
                        } else {
                            0
                        };
                        assert_eq!(
                            linked.word_at(slot),
                            module_id,
                            "{what}: module id at {slot:#x}"
                        );
                        assert_eq!(
                            i64::from(linked.word_at(slot + 4)),
                            offset,
                            "{what}: offset"
                        );
                        stored()
                    }
                    RelExpr::TlsIePcRelative => {
                        let slot = (stored() - a + p) as u64;
                        let tp_offset =
                            s - tls_start + if ie_is_tp_relative { tp_to_block } else { 0 };
                        assert_eq!(
                            i64::from(linked.word_at(slot)),
                            tp_offset,
                            "{what}: TP offset"
                        );
                        stored()
                    }
                    other => panic!("{what}: unexpected expression {other:?}"),
                };
                Arm.write_field(&howto, &mut mine[off..], value)
                    .unwrap_or_else(|e| panic!("{what}: writing {value:#x}: {e}"));
                assert_eq!(
                    &mine[off..off + size],
                    &theirs[off..off + size],
                    "{what}: value {value:#x}, tether's bytes (left) differ from GNU ld's"
                );
                verified.insert(rname);
            }
            assert_eq!(
                mine.len(),
                theirs.len(),
                "{name}: GNU ld added bytes (a veneer?)"
            );
        }
    }
    verified
}

#[test]
fn every_relocation_matches_gnu_ld() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut verified = BTreeSet::new();
    for assembler in Assembler::ALL {
        let objects = vec![
            assembler.assemble("relocs_arm.s", dir.path()),
            assembler.assemble("relocs_thumb.s", dir.path()),
        ];
        let out = dir.path().join(format!("relocs.{assembler:?}"));
        verified.extend(check_link(&objects, &out, Linker::Gnu));
    }
    let missing: Vec<_> = REQUIRED
        .iter()
        .filter(|name| !verified.contains(*name))
        .collect();
    assert!(
        missing.is_empty(),
        "not exercised by the fixtures: {missing:?}"
    );
}

/// Relocations a shared library cannot contain (tested as errors in arm_errors.rs).
const ABSOLUTE_ONLY: &[&str] = &[
    "R_ARM_MOVW_ABS_NC",
    "R_ARM_MOVT_ABS",
    "R_ARM_THM_MOVW_ABS_NC",
    "R_ARM_THM_MOVT_ABS",
    "R_ARM_TLS_LE32",
];

#[test]
fn tether_applies_every_pic_relocation_as_the_formula_says() {
    let dir = tempfile::tempdir().expect("temp dir");
    for assembler in Assembler::ALL {
        let objects = vec![
            assembler.assemble("relocs_pic_arm.s", dir.path()),
            assembler.assemble("relocs_pic_thumb.s", dir.path()),
        ];
        let out = dir.path().join(format!("librelocs.{assembler:?}.so"));
        let verified = check_link(&objects, &out, Linker::Tether);
        let missing: Vec<_> = REQUIRED
            .iter()
            .filter(|name| !verified.contains(*name) && !ABSOLUTE_ONLY.contains(name))
            .collect();
        assert!(
            missing.is_empty(),
            "{assembler:?}: not exercised: {missing:?}"
        );
    }
}
