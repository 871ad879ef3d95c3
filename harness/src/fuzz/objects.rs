//! Property (b): whole relocatable objects generated with `object::write` (random data items
//! of random sizes and alignments; functions in x86-64, ARM or Thumb code that compute a data
//! item's address with PC-relative (MOVW/MOVT pairs on ARM), GOT or absolute-word sequences,
//! or call or jump to another generated function through the PLT, across ARM and Thumb),
//! linked by tether into a shared library and loaded by the harness. Each
//! function returns the address it computed, which must be its target's address (plus addend)
//! as the harness's symbol lookup gives it.

use crate::{Arch as HarnessArch, Options, Session};
use object::write::{Object, Relocation, StandardSection, Symbol, SymbolSection};
use object::{elf, Architecture, BinaryFormat, Endianness, RelocationFlags, SymbolFlags};
use object::{SymbolKind, SymbolScope};
use proptest::prelude::*;
use std::path::{Path, PathBuf};
use tether_linker::arch::{self as link_arch, Arch};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Isa {
    X86_64,
    Arm,
    Thumb,
}

/// How a function computes its result.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// x86-64 `lea rip+`, ARM/Thumb MOVW/MOVT PC-relative pair: data + addend.
    PcRelative,
    /// A load from the symbol's GOT entry: data (no addend).
    Got,
    /// A load of an absolute data word holding data + addend (a dynamic relocation).
    AbsoluteWord,
    /// A call to another generated function, returning what it returns.
    Call,
    /// A tail call (a jump) to another generated function.
    TailCall,
}

#[derive(Clone, Debug)]
pub struct GenData {
    pub size: u64,
    pub align: u64,
}

#[derive(Clone, Debug)]
pub struct GenFunction {
    pub isa: Isa,
    pub access: Access,
    /// Index of the data item (or, for `Call`, of the function) it refers to.
    pub target: usize,
    pub addend: i64,
}

#[derive(Clone, Debug)]
pub struct GenObject {
    pub arm: bool,
    pub data: Vec<GenData>,
    pub functions: Vec<GenFunction>,
}

pub fn gen_object(arm: bool) -> impl Strategy<Value = GenObject> {
    let data = prop::collection::vec(
        (1u64..96, 0u32..5).prop_map(|(size, a)| GenData {
            size,
            align: 1 << a,
        }),
        1..12,
    );
    let isa = if arm {
        prop_oneof![Just(Isa::Arm), Just(Isa::Thumb)].boxed()
    } else {
        Just(Isa::X86_64).boxed()
    };
    let access = prop_oneof![
        Just(Access::PcRelative),
        Just(Access::Got),
        Just(Access::AbsoluteWord),
        Just(Access::Call),
        Just(Access::TailCall),
    ];
    let function = (isa, access, any::<prop::sample::Index>(), -32i64..32).prop_map(
        |(isa, access, target, addend)| GenFunction {
            isa,
            access,
            target: target.index(usize::MAX),
            addend,
        },
    );
    (data, prop::collection::vec(function, 1..16)).prop_map(move |(data, mut functions)| {
        let n = functions.len();
        for (i, f) in functions.iter_mut().enumerate() {
            if matches!(f.access, Access::Call | Access::TailCall) {
                // Calls go to an earlier function, so there are no cycles; the first one
                // computes an address instead.
                if i == 0 {
                    f.access = Access::PcRelative;
                    f.target %= data.len();
                } else {
                    f.target %= i;
                }
                f.addend = 0;
            } else {
                f.target %= data.len();
            }
            if f.access == Access::Got {
                f.addend = 0;
            }
        }
        debug_assert!(n > 0);
        GenObject {
            arm,
            data,
            functions,
        }
    })
}

fn data_name(i: usize) -> String {
    format!("gen_data_{i}")
}

fn function_name(i: usize) -> String {
    format!("gen_fn_{i}")
}

/// The object file's bytes.
pub fn write_object(g: &GenObject) -> Result<Vec<u8>, String> {
    let mut obj = if g.arm {
        let mut o = Object::new(BinaryFormat::Elf, Architecture::Arm, Endianness::Little);
        // EABI version 5, hard-float: what arm-linux-gnueabihf-gcc writes.
        o.flags = object::write::FileFlags::Elf {
            os_abi: elf::OsAbi(0),
            abi_version: 0,
            e_flags: elf::FileFlags(elf::EF_ARM_EABI_VER5.0 | elf::EF_ARM_ABI_FLOAT_HARD),
        };
        o
    } else {
        Object::new(BinaryFormat::Elf, Architecture::X86_64, Endianness::Little)
    };
    let data_section = obj.section_id(StandardSection::Data);
    let text = obj.section_id(StandardSection::Text);
    let mut data_symbols = Vec::new();
    for (i, d) in g.data.iter().enumerate() {
        let bytes: Vec<u8> = (0..d.size).map(|b| (b as u8) ^ (i as u8)).collect();
        let offset = obj.append_section_data(data_section, &bytes, d.align);
        data_symbols.push(obj.add_symbol(Symbol {
            name: data_name(i).into_bytes(),
            value: offset,
            size: d.size,
            kind: SymbolKind::Data,
            scope: SymbolScope::Dynamic,
            weak: false,
            section: SymbolSection::Section(data_section),
            // Protected: exported (the harness looks it up) yet bound locally, so PC-relative
            // references to it are allowed in a shared library; the functions stay
            // preemptible, so calls go through the PLT.
            flags: SymbolFlags::Elf {
                st_info: elf::SymbolInfo::new(elf::STB_GLOBAL, elf::STT_OBJECT),
                st_other: elf::STV_PROTECTED.into(),
            },
        }));
    }
    let function_symbols: Vec<_> = (0..g.functions.len())
        .map(|i| {
            obj.add_symbol(Symbol {
                name: function_name(i).into_bytes(),
                value: 0,
                size: 0,
                kind: SymbolKind::Text,
                scope: SymbolScope::Dynamic,
                weak: false,
                section: SymbolSection::Undefined,
                flags: SymbolFlags::None,
            })
        })
        .collect();
    let arm_arch = link_arch::for_machine(elf::EM_ARM.0).ok_or("no ARM target")?;
    for (i, f) in g.functions.iter().enumerate() {
        let code = encode_function(f, arm_arch)?;
        // Words (literals, pointers) are 4-aligned; functions 4-aligned for ARM and x86 alike.
        let start = obj.append_section_data(text, &code.bytes, 16);
        // Absolute words in .data so that no text relocation is needed.
        let mut pointer_at = None;
        if let Some((target, addend)) = code.pointer {
            let width = if g.arm { 4 } else { 8 };
            let off = obj.append_section_data(data_section, &vec![0; width], width as u64);
            let (r_type, word_addend) = if g.arm {
                (elf::R_ARM_ABS32, 0)
            } else {
                (elf::R_X86_64_64, addend)
            };
            if g.arm {
                let bytes = &mut obj.section_mut(data_section).data_mut()[off as usize..];
                bytes[..4].copy_from_slice(&(addend as i32).to_le_bytes());
            }
            obj.add_relocation(
                data_section,
                Relocation {
                    offset: off,
                    symbol: data_symbols[target],
                    addend: word_addend,
                    flags: RelocationFlags::Elf { r_type },
                },
            )
            .map_err(|e| e.to_string())?;
            pointer_at = Some(obj.add_symbol(Symbol {
                name: format!("gen_pointer_{i}").into_bytes(),
                value: off,
                size: width as u64,
                kind: SymbolKind::Data,
                scope: SymbolScope::Compilation,
                weak: false,
                section: SymbolSection::Section(data_section),
                flags: SymbolFlags::None,
            }));
        }
        for r in &code.relocs {
            let symbol = match r.to {
                RelocTo::Data(t) => data_symbols[t],
                RelocTo::Function(t) => function_symbols[t],
                RelocTo::Pointer => pointer_at.ok_or("pointer reloc without a pointer")?,
            };
            obj.add_relocation(
                text,
                Relocation {
                    offset: start + r.offset,
                    symbol,
                    addend: r.addend,
                    flags: RelocationFlags::Elf {
                        r_type: elf::RelocationType(r.r_type),
                    },
                },
            )
            .map_err(|e| e.to_string())?;
        }
        let thumb = u64::from(f.isa == Isa::Thumb);
        let sym = obj.symbol_mut(function_symbols[i]);
        sym.value = start | thumb;
        sym.size = code.bytes.len() as u64;
        sym.section = SymbolSection::Section(text);
    }
    obj.write().map_err(|e| e.to_string())
}

enum RelocTo {
    Data(usize),
    Function(usize),
    /// The function's own pointer word in .data (through the section symbol).
    Pointer,
}

struct Reloc {
    offset: u64,
    r_type: u32,
    to: RelocTo,
    /// RELA addend (x86-64); ARM addends are written into the instruction.
    addend: i64,
}

struct Code {
    bytes: Vec<u8>,
    relocs: Vec<Reloc>,
    /// An absolute data word the function loads: (data item, addend).
    pointer: Option<(usize, i64)>,
}

fn le32(words: &[u32]) -> Vec<u8> {
    words.iter().flat_map(|w| w.to_le_bytes()).collect()
}

fn le16(halves: &[u16]) -> Vec<u8> {
    halves.iter().flat_map(|h| h.to_le_bytes()).collect()
}

/// Writes an ARM REL addend into the field of `r_type` at `bytes[at..]` with tether's writer
/// (as an assembler would; a MOVT's in-place addend is its low 16 bits, like a MOVW's, so
/// MOVTs are given the MOVW type here).
fn arm_addend(
    arm: &dyn Arch,
    r_type: u32,
    bytes: &mut [u8],
    at: usize,
    addend: i64,
) -> Result<(), String> {
    let howto = arm.classify(r_type).ok_or("unclassified ARM relocation")?;
    arm.write_field(&howto, &mut bytes[at..], addend)
        .map_err(|e| format!("encoding the addend: {e}"))
}

fn encode_function(f: &GenFunction, arm: &dyn Arch) -> Result<Code, String> {
    let data = RelocTo::Data(f.target);
    let mut code = Code {
        bytes: Vec::new(),
        relocs: Vec::new(),
        pointer: None,
    };
    match (f.isa, f.access) {
        (Isa::X86_64, Access::PcRelative) => {
            // lea rax, [rip + data + addend]; ret
            code.bytes = vec![0x48, 0x8d, 0x05, 0, 0, 0, 0, 0xc3];
            code.relocs.push(Reloc {
                offset: 3,
                r_type: elf::R_X86_64_PC32.0,
                to: data,
                addend: f.addend - 4,
            });
        }
        (Isa::X86_64, Access::Got) => {
            // mov rax, [rip + data@GOTPCREL]; ret
            code.bytes = vec![0x48, 0x8b, 0x05, 0, 0, 0, 0, 0xc3];
            code.relocs.push(Reloc {
                offset: 3,
                r_type: elf::R_X86_64_GOTPCREL.0,
                to: data,
                addend: -4,
            });
        }
        (Isa::X86_64, Access::AbsoluteWord) => {
            // mov rax, [rip + pointer]; ret
            code.bytes = vec![0x48, 0x8b, 0x05, 0, 0, 0, 0, 0xc3];
            code.relocs.push(Reloc {
                offset: 3,
                r_type: elf::R_X86_64_PC32.0,
                to: RelocTo::Pointer,
                addend: -4,
            });
            code.pointer = Some((f.target, f.addend));
        }
        (Isa::X86_64, Access::TailCall) => {
            // jmp fn@PLT
            code.bytes = vec![0xe9, 0, 0, 0, 0];
            code.relocs.push(Reloc {
                offset: 1,
                r_type: elf::R_X86_64_PLT32.0,
                to: RelocTo::Function(f.target),
                addend: -4,
            });
        }
        (Isa::Arm, Access::TailCall) => {
            // b fn (a Thumb callee needs a state-changing thunk)
            code.bytes = le32(&[0xea00_0000]);
            arm_addend(arm, elf::R_ARM_JUMP24.0, &mut code.bytes, 0, -8)?;
            code.relocs.push(Reloc {
                offset: 0,
                r_type: elf::R_ARM_JUMP24.0,
                to: RelocTo::Function(f.target),
                addend: 0,
            });
        }
        (Isa::Thumb, Access::TailCall) => {
            // b.w fn
            code.bytes = le16(&[0xf000, 0xb800]);
            arm_addend(arm, elf::R_ARM_THM_JUMP24.0, &mut code.bytes, 0, -4 | 1)?;
            code.relocs.push(Reloc {
                offset: 0,
                r_type: elf::R_ARM_THM_JUMP24.0,
                to: RelocTo::Function(f.target),
                addend: 0,
            });
        }
        (Isa::X86_64, _) => {
            // sub rsp, 8; call fn@PLT; add rsp, 8; ret
            code.bytes = vec![
                0x48, 0x83, 0xec, 0x08, 0xe8, 0, 0, 0, 0, 0x48, 0x83, 0xc4, 0x08, 0xc3,
            ];
            code.relocs.push(Reloc {
                offset: 5,
                r_type: elf::R_X86_64_PLT32.0,
                to: RelocTo::Function(f.target),
                addend: -4,
            });
        }
        (Isa::Arm, Access::PcRelative) => {
            // movw r0, #:lower16:(S+A-(X+16)); movt r0, #:upper16:(..-(X+4)); add r0, pc, r0; bx lr
            code.bytes = le32(&[0xe300_0000, 0xe340_0000, 0xe08f_0000, 0xe12f_ff1e]);
            arm_addend(
                arm,
                elf::R_ARM_MOVW_PREL_NC.0,
                &mut code.bytes,
                0,
                f.addend - 16,
            )?;
            arm_addend(
                arm,
                elf::R_ARM_MOVW_PREL_NC.0,
                &mut code.bytes,
                4,
                f.addend - 12,
            )?;
            code.relocs.push(Reloc {
                offset: 0,
                r_type: elf::R_ARM_MOVW_PREL_NC.0,
                to: data,
                addend: 0,
            });
            code.relocs.push(Reloc {
                offset: 4,
                r_type: elf::R_ARM_MOVT_PREL.0,
                to: RelocTo::Data(f.target),
                addend: 0,
            });
        }
        (Isa::Thumb, Access::PcRelative) => {
            // movw r0; movt r0; add r0, pc (reads X+12); bx lr
            code.bytes = le16(&[0xf240, 0x0000, 0xf2c0, 0x0000, 0x4478, 0x4770]);
            arm_addend(
                arm,
                elf::R_ARM_THM_MOVW_PREL_NC.0,
                &mut code.bytes,
                0,
                f.addend - 12,
            )?;
            arm_addend(
                arm,
                elf::R_ARM_THM_MOVW_PREL_NC.0,
                &mut code.bytes,
                4,
                f.addend - 8,
            )?;
            code.relocs.push(Reloc {
                offset: 0,
                r_type: elf::R_ARM_THM_MOVW_PREL_NC.0,
                to: data,
                addend: 0,
            });
            code.relocs.push(Reloc {
                offset: 4,
                r_type: elf::R_ARM_THM_MOVT_PREL.0,
                to: RelocTo::Data(f.target),
                addend: 0,
            });
        }
        (Isa::Arm, Access::Got) => {
            // ldr r0, [pc, #4]; ldr r0, [pc, r0] (at X+4, reads X+12); bx lr; .word GOT_PREL
            code.bytes = le32(&[0xe59f_0004, 0xe79f_0000, 0xe12f_ff1e, 0]);
            // GOT(S) + A - P(=X+12) must be GOT(S) - (X+12): A = 0.
            code.relocs.push(Reloc {
                offset: 12,
                r_type: elf::R_ARM_GOT_PREL.0,
                to: data,
                addend: 0,
            });
        }
        (Isa::Thumb, Access::Got) => {
            // ldr r0, [pc, #4] (X+4 aligned); add r0, pc (X+2 reads X+6); ldr r0, [r0]; bx lr; .word
            code.bytes = le16(&[0x4801, 0x4478, 0x6800, 0x4770, 0, 0]);
            // GOT(S) + A - P(=X+8) must be GOT(S) - (X+6): A = 2.
            code.bytes[8..12].copy_from_slice(&2i32.to_le_bytes());
            code.relocs.push(Reloc {
                offset: 8,
                r_type: elf::R_ARM_GOT_PREL.0,
                to: data,
                addend: 0,
            });
        }
        (Isa::Arm, Access::AbsoluteWord) => {
            // ldr r0, [pc, #4]; ldr r0, [pc, r0] (at X+4, reads X+12) loads the pointer word;
            // bx lr; .word REL32 to the pointer: PTR + A - (X+12) with A = 0.
            code.bytes = le32(&[0xe59f_0004, 0xe79f_0000, 0xe12f_ff1e, 0]);
            code.relocs.push(Reloc {
                offset: 12,
                r_type: elf::R_ARM_REL32.0,
                to: RelocTo::Pointer,
                addend: 0,
            });
            code.pointer = Some((f.target, f.addend));
        }
        (Isa::Thumb, Access::AbsoluteWord) => {
            // As for the GOT load, PTR + A - (X+8) must be PTR - (X+6): A = 2.
            code.bytes = le16(&[0x4801, 0x4478, 0x6800, 0x4770, 0, 0]);
            code.bytes[8..12].copy_from_slice(&2i32.to_le_bytes());
            code.relocs.push(Reloc {
                offset: 8,
                r_type: elf::R_ARM_REL32.0,
                to: RelocTo::Pointer,
                addend: 0,
            });
            code.pointer = Some((f.target, f.addend));
        }
        (Isa::Arm, Access::Call) => {
            // push {lr}; bl fn; pop {pc}
            code.bytes = le32(&[0xe52d_e004, 0xeb00_0000, 0xe49d_f004]);
            arm_addend(arm, elf::R_ARM_CALL.0, &mut code.bytes, 4, -8)?;
            code.relocs.push(Reloc {
                offset: 4,
                r_type: elf::R_ARM_CALL.0,
                to: RelocTo::Function(f.target),
                addend: 0,
            });
        }
        (Isa::Thumb, Access::Call) => {
            // push {r7, lr}; bl fn; pop {r7, pc}
            code.bytes = le16(&[0xb580, 0xf000, 0xf800, 0xbd80]);
            arm_addend(arm, elf::R_ARM_THM_PC22.0, &mut code.bytes, 2, -4 | 1)?;
            code.relocs.push(Reloc {
                offset: 2,
                r_type: elf::R_ARM_THM_PC22.0,
                to: RelocTo::Function(f.target),
                addend: 0,
            });
        }
    }
    Ok(code)
}

/// What function `i` must return, given the addresses the loader gave the symbols.
fn expected(g: &GenObject, i: usize, session: &Session) -> Result<u64, String> {
    let f = &g.functions[i];
    match f.access {
        Access::Call | Access::TailCall => expected(g, f.target, session),
        _ => {
            let name = data_name(f.target);
            let base = session
                .symbol_address(&name)
                .ok_or_else(|| format!("{name} is not in the library's symbol table"))?;
            let v = base.wrapping_add(f.addend as u64);
            Ok(if g.arm { v & 0xffff_ffff } else { v })
        }
    }
}

/// Links `g` with tether into `dir/libgen.so`, loads it in the harness, calls every function.
pub fn check(g: &GenObject, dir: &Path) -> Result<(), String> {
    let bytes = write_object(g)?;
    let object = dir.join("gen.o");
    std::fs::write(&object, &bytes).map_err(|e| e.to_string())?;
    let lib = link(&object, dir)?;
    let arch = if g.arm {
        HarnessArch::Arm
    } else {
        HarnessArch::X86_64
    };
    let mut session = Session::new(arch, Options::default()).map_err(|e| e.to_string())?;
    session.load(&lib).map_err(|e| format!("loading: {e}"))?;
    session.run_init().map_err(|e| format!("init: {e}"))?;
    for (i, f) in g.functions.iter().enumerate() {
        let name = function_name(i);
        let got = session
            .call(&name, &[])
            .map_err(|e| format!("calling {name} ({f:?}): {e}"))?;
        let got = if g.arm { got & 0xffff_ffff } else { got };
        let want = expected(g, i, &session)?;
        if got != want {
            return Err(format!("{name} ({f:?}) returned {got:#x}, want {want:#x}"));
        }
    }
    Ok(())
}

fn link(object: &Path, dir: &Path) -> Result<PathBuf, String> {
    let lib = dir.join("libgen.so");
    let args: Vec<std::ffi::OsString> = vec![
        "-shared".into(),
        "-o".into(),
        lib.clone().into(),
        object.into(),
    ];
    match tether_linker::options::parse(args).map_err(|e| e.to_string())? {
        tether_linker::options::Invocation::Link(opts) => {
            tether_linker::link::run(&opts).map_err(|e| format!("ld.tether: {e}"))?
        }
        _ => return Err("not a link".into()),
    }
    Ok(lib)
}
