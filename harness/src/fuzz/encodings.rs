//! Property (a): every relocation kind tether supports, applied by tether's own field writer
//! (`Arch::write_field`, the code the linker runs) to a random instruction of the right class,
//! then executed by Unicorn. In range, the instruction must land on, or compute, exactly the
//! intended address and no bit outside the field may change; out of range, tether must refuse
//! and leave the bytes alone.

use proptest::prelude::*;
use tether_linker::arch::{self, Arch, RelExpr, RelocHowto};
use unicorn_engine::unicorn_const::{Arch as UcArch, Mode, Prot};
use unicorn_engine::{ArmCpuModel, RegisterARM, RegisterX86, Unicorn};

/// How a probe instruction shows the value it was given.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Effect {
    /// A branch: the pc after one instruction (and the state it entered, on ARM).
    Branch { link: bool },
    /// A conditional branch: taken or not by the flags the case chose.
    CondBranch,
    /// The low 16 bits of the value into a register (MOVW).
    Low16,
    /// The high 16 bits of the value into a register whose low half is kept (MOVT).
    High16,
    /// A register loaded with the value itself (x86 mov/movabs/lea).
    Register,
    /// A register loaded from the address the value points at (x86 GOT loads).
    Load,
    /// A data word (no instruction): read back from memory.
    Data,
}

/// One relocation kind and an instruction that exercises it.
#[derive(Clone, Copy, Debug)]
pub struct Probe {
    pub name: &'static str,
    pub machine: u16,
    pub r_type: u32,
    /// The instruction runs in Thumb state.
    pub thumb: bool,
    /// The instruction with a zero field; a probe whose destination register or condition
    /// varies gets them from the case's random bits.
    pub template: &'static [u8],
    /// Offset of the relocated field in the instruction.
    pub field_at: usize,
    pub effect: Effect,
    /// Distance from the place to where the CPU reads pc (ARM +8, Thumb +4, x86: the end of
    /// the instruction).
    pub pc_bias: i64,
    /// The targets the field can express are multiples of this.
    pub align: u64,
    /// Whether the target may be in the other instruction set (BL ↔ BLX).
    pub any_state: bool,
}

const EM_ARM: u16 = object::elf::EM_ARM.0;
const EM_X86_64: u16 = object::elf::EM_X86_64.0;

const fn arm(name: &'static str, r_type: u32, template: &'static [u8], effect: Effect) -> Probe {
    Probe {
        name,
        machine: EM_ARM,
        r_type,
        thumb: false,
        template,
        field_at: 0,
        effect,
        pc_bias: 8,
        align: 4,
        any_state: false,
    }
}

const fn thumb(name: &'static str, r_type: u32, template: &'static [u8], effect: Effect) -> Probe {
    Probe {
        name,
        machine: EM_ARM,
        r_type,
        thumb: true,
        template,
        field_at: 0,
        effect,
        pc_bias: 4,
        align: 2,
        any_state: false,
    }
}

const fn x86(
    name: &'static str,
    r_type: u32,
    template: &'static [u8],
    field_at: usize,
    effect: Effect,
) -> Probe {
    Probe {
        name,
        machine: EM_X86_64,
        r_type,
        thumb: false,
        template,
        field_at,
        effect,
        pc_bias: template.len() as i64 - field_at as i64,
        align: 1,
        any_state: false,
    }
}

/// Every probe. Register fields are left 0 (r0 / rax); the case varies them where noted.
pub const PROBES: &[Probe] = &[
    Probe {
        any_state: true,
        ..arm(
            "R_ARM_CALL",
            28,
            &[0x00, 0x00, 0x00, 0xeb],
            Effect::Branch { link: true },
        )
    },
    arm(
        "R_ARM_JUMP24",
        29,
        &[0x00, 0x00, 0x00, 0xea],
        Effect::Branch { link: false },
    ),
    arm(
        "R_ARM_MOVW_ABS_NC",
        43,
        &[0x00, 0x00, 0x00, 0xe3],
        Effect::Low16,
    ),
    arm(
        "R_ARM_MOVT_ABS",
        44,
        &[0x00, 0x00, 0x40, 0xe3],
        Effect::High16,
    ),
    arm(
        "R_ARM_MOVW_PREL_NC",
        45,
        &[0x00, 0x00, 0x00, 0xe3],
        Effect::Low16,
    ),
    arm(
        "R_ARM_MOVT_PREL",
        46,
        &[0x00, 0x00, 0x40, 0xe3],
        Effect::High16,
    ),
    arm("R_ARM_ABS32", 2, &[0, 0, 0, 0], Effect::Data),
    arm("R_ARM_REL32", 3, &[0, 0, 0, 0], Effect::Data),
    arm("R_ARM_PREL31", 42, &[0, 0, 0, 0], Effect::Data),
    Probe {
        any_state: true,
        ..thumb(
            "R_ARM_THM_CALL",
            10,
            &[0x00, 0xf0, 0x00, 0xf8],
            Effect::Branch { link: true },
        )
    },
    thumb(
        "R_ARM_THM_JUMP24",
        30,
        &[0x00, 0xf0, 0x00, 0xb8],
        Effect::Branch { link: false },
    ),
    thumb(
        "R_ARM_THM_JUMP19",
        51,
        &[0x00, 0xf0, 0x00, 0x80],
        Effect::CondBranch,
    ),
    thumb(
        "R_ARM_THM_JUMP11",
        102,
        &[0x00, 0xe0],
        Effect::Branch { link: false },
    ),
    thumb("R_ARM_THM_JUMP8", 103, &[0x00, 0xd0], Effect::CondBranch),
    thumb(
        "R_ARM_THM_MOVW_ABS_NC",
        47,
        &[0x40, 0xf2, 0x00, 0x00],
        Effect::Low16,
    ),
    thumb(
        "R_ARM_THM_MOVT_ABS",
        48,
        &[0xc0, 0xf2, 0x00, 0x00],
        Effect::High16,
    ),
    thumb(
        "R_ARM_THM_MOVW_PREL_NC",
        49,
        &[0x40, 0xf2, 0x00, 0x00],
        Effect::Low16,
    ),
    thumb(
        "R_ARM_THM_MOVT_PREL",
        50,
        &[0xc0, 0xf2, 0x00, 0x00],
        Effect::High16,
    ),
    // lea rax, [rip + disp32]
    x86(
        "R_X86_64_PC32",
        2,
        &[0x48, 0x8d, 0x05, 0, 0, 0, 0],
        3,
        Effect::Register,
    ),
    // call rel32; jmp rel32
    x86(
        "R_X86_64_PLT32",
        4,
        &[0xe8, 0, 0, 0, 0],
        1,
        Effect::Branch { link: true },
    ),
    x86(
        "R_X86_64_PLT32",
        4,
        &[0xe9, 0, 0, 0, 0],
        1,
        Effect::Branch { link: false },
    ),
    // mov rax, [rip + disp32]
    x86(
        "R_X86_64_GOTPCREL",
        9,
        &[0x48, 0x8b, 0x05, 0, 0, 0, 0],
        3,
        Effect::Load,
    ),
    // mov rax, simm32; mov eax, imm32; movabs rax, imm64
    x86(
        "R_X86_64_32S",
        11,
        &[0x48, 0xc7, 0xc0, 0, 0, 0, 0],
        3,
        Effect::Register,
    ),
    x86("R_X86_64_32", 10, &[0xb8, 0, 0, 0, 0], 1, Effect::Register),
    x86(
        "R_X86_64_64",
        1,
        &[0x48, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0],
        2,
        Effect::Register,
    ),
    x86(
        "R_X86_64_PC64",
        24,
        &[0, 0, 0, 0, 0, 0, 0, 0],
        0,
        Effect::Data,
    ),
];

/// A random case for one probe: where the instruction sits, where its target is, the addend
/// beyond the usual pc bias, and random bits for the register, condition and flags.
#[derive(Clone, Debug)]
pub struct FieldCase {
    pub probe: usize,
    pub place: u32,
    /// Distance from the place to the target, before alignment (may be out of range).
    pub distance: i64,
    /// Added to the canonical addend (multiples of the probe's alignment).
    pub addend_delta: i64,
    pub bits: u32,
    /// An absolute-address probe's target (MOVW/MOVT ABS, 32, 32S, 64): the case picks it
    /// freely in the address space.
    pub absolute: u64,
}

/// What a case showed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// In range: applied and executed as intended.
    Applied,
    /// Out of range: tether refused and left the bytes alone.
    Refused,
}

pub fn field_case(probes: &'static [Probe]) -> impl Strategy<Value = FieldCase> {
    (
        0..probes.len(),
        any::<u32>(),
        // Distances around every field's reach: Thumb B<cond> (±256), B (±2 KiB), B<cond>.W
        // (±1 MiB), BL (±16/32 MiB), and beyond 32 bits.
        prop_oneof![
            2 => -600i64..600,
            2 => -(1i64 << 12)..(1i64 << 12),
            3 => -(1i64 << 21)..(1i64 << 21),
            3 => -(1i64 << 26)..(1i64 << 26),
            2 => -(1i64 << 33)..(1i64 << 33),
        ],
        -64i64..64,
        any::<u32>(),
        any::<u64>(),
    )
        .prop_map(
            move |(probe, place, distance, addend_delta, bits, absolute)| FieldCase {
                probe,
                place,
                distance,
                addend_delta,
                bits,
                absolute,
            },
        )
}

/// Writes a computed value into a field: tether's own [`Arch::write_field`], or in tests a
/// deliberately broken one to show the property catches it.
pub type FieldWriter =
    dyn Fn(&dyn Arch, &RelocHowto, &mut [u8], i64) -> Result<(), arch::FieldError> + Sync;

/// tether's field writer, as the linker calls it.
pub fn tether_writer(
    target: &dyn Arch,
    howto: &RelocHowto,
    site: &mut [u8],
    value: i64,
) -> Result<(), arch::FieldError> {
    target.write_field(howto, site, value)
}

/// Runs one case: a description of what went wrong, if anything did.
pub fn check(case: &FieldCase, probes: &[Probe], writer: &FieldWriter) -> Result<Verdict, String> {
    let probe = &probes[case.probe];
    let target = arch::for_machine(probe.machine).ok_or("no such target")?;
    let howto = target
        .classify(probe.r_type)
        .ok_or_else(|| format!("{} is not classified", probe.name))?;
    let is_arm = probe.machine == EM_ARM;
    let addr_mask: u64 = if is_arm { 0xffff_ffff } else { u64::MAX };
    let size = probe.template.len() as u64;

    // The instruction: in a 32-bit space on ARM, in user space on x86-64, 16-byte aligned
    // plus a random halfword for Thumb (a BL at 2 mod 4 must still reach ARM code).
    let insn_at = if is_arm {
        0x1000_0000 | (u64::from(case.place) << 4 & 0x0fff_fff0)
    } else {
        0x5500_0000_0000 | (u64::from(case.place) << 4)
    } + if probe.thumb {
        u64::from(case.bits >> 9 & 1) * 2
    } else {
        0
    };
    let place = insn_at + probe.field_at as u64;

    let branch = matches!(probe.effect, Effect::Branch { .. } | Effect::CondBranch);
    let got_load = probe.effect == Effect::Load;
    let pc_relative_value = matches!(howto.expr, RelExpr::PcRelative | RelExpr::Plt);
    // The addend an assembler writes: the pc bias for branches and x86 rip-relative operands.
    let uses_pc = branch || got_load || probe.name == "R_X86_64_PC32";
    let canonical_addend = if uses_pc { -probe.pc_bias } else { 0 };
    let state_switch = probe.any_state && case.bits & 0x100 != 0;
    let target_thumb = if probe.any_state {
        probe.thumb != state_switch
    } else {
        probe.thumb
    };
    // Branch targets are instructions of their state; other values are any byte address.
    let target_align: u64 = match (branch, is_arm, target_thumb) {
        (false, _, _) | (true, false, _) => 1,
        (true, true, true) => 2,
        (true, true, false) => 4,
    };
    let delta = if got_load {
        0
    } else {
        case.addend_delta * target_align as i64
    };
    let symbol = if pc_relative_value || got_load {
        (insn_at as i64).wrapping_add(case.distance) as u64 & addr_mask & !(target_align - 1)
    } else if is_arm {
        case.absolute & addr_mask
    } else {
        // Absolute x86-64 values: some fit 32 bits signed, some unsigned, some neither.
        match case.bits >> 10 & 3 {
            0 => case.absolute as i32 as i64 as u64,
            1 => case.absolute & 0xffff_ffff,
            _ => case.absolute,
        }
    };
    let s = symbol | u64::from(is_arm && target_thumb && branch);
    let addend = canonical_addend + delta;

    // Instruction bytes: the template, a random destination register / condition.
    let mut insn = probe.template.to_vec();
    let reg = (case.bits & 7) as u8;
    let cond = ((case.bits >> 3) % 14) as u8;
    match (probe.effect, probe.thumb, is_arm) {
        (Effect::Low16 | Effect::High16, false, true) => insn[1] |= reg << 4,
        (Effect::Low16 | Effect::High16, true, true) => insn[3] |= reg,
        (Effect::CondBranch, true, true) if insn.len() == 4 => {
            // B<cond>.W: cond in bits 25:22 of the first halfword pair (hi halfword 9:6).
            let hi = u16::from_le_bytes([insn[0], insn[1]]) | (u16::from(cond) << 6);
            insn[..2].copy_from_slice(&hi.to_le_bytes());
        }
        (Effect::CondBranch, true, true) => insn[1] |= cond,
        (Effect::Register | Effect::Load, _, false) if probe.name != "R_X86_64_32" => {
            if probe.template[1] == 0xb8 {
                insn[1] |= reg; // movabs rax+r
            } else if probe.template[1] == 0xc7 {
                insn[2] |= reg; // mov r/m64 (mod 11, rm = reg)
            } else {
                insn[2] |= reg << 3; // lea/mov reg, [rip + disp]
            }
        }
        (Effect::Register, _, false) => insn[0] |= reg,
        _ => {}
    }
    let field = &mut insn[probe.field_at..];
    // REL inputs (ARM) carry the addend in the field: put it there as an assembler would and
    // read it back through tether's reader; RELA (x86-64) fields start as random bytes.
    let addend = if is_arm {
        let mut with_addend = field.to_vec();
        // An assembler's call stays in its own state (BL): a Thumb call's addend carries the
        // Thumb bit as far as the field writer is concerned.
        let as_written = addend | i64::from(probe.thumb && branch);
        match target.write_field(&howto, &mut with_addend, as_written) {
            Ok(()) => {}
            // Some addends do not fit the field (a far delta on a short branch): skip them.
            Err(_) => return Ok(Verdict::Refused),
        }
        let read = target
            .implicit_addend(&howto, &with_addend)
            .map_err(|e| format!("{}: reading the addend back: {e}", probe.name))?;
        // MOVW/MOVT keep 16 bits of it (MOVT the high half): the linker uses what it reads.
        let expected = match probe.effect {
            Effect::Low16 => i64::from(addend as i16),
            Effect::High16 => read,
            _ => addend,
        };
        if read != expected {
            return Err(format!(
                "{}: addend {addend} written, {read} read back",
                probe.name
            ));
        }
        field.copy_from_slice(&with_addend);
        read
    } else {
        for (i, b) in field.iter_mut().enumerate() {
            *b = (case.bits >> (8 * (i % 4))) as u8;
        }
        addend
    };

    let got_slot = insn_at.wrapping_add(0x4000) & !7;
    let (sa, value) = match howto.expr {
        RelExpr::PcRelative | RelExpr::Plt => {
            let sa = s.wrapping_add(addend as u64);
            (sa, sa.wrapping_sub(place) as i64)
        }
        RelExpr::GotPcRelative | RelExpr::GotPcRelativeRelaxable => (
            s,
            got_slot.wrapping_add(addend as u64).wrapping_sub(place) as i64,
        ),
        _ => {
            let sa = s.wrapping_add(addend as u64) & addr_mask;
            (
                sa,
                if is_arm {
                    sa as u32 as i32 as i64
                } else {
                    sa as i64
                },
            )
        }
    };
    let value = if is_arm && pc_relative_value {
        value as i32 as i64
    } else {
        value
    };

    let before = insn.clone();
    let mut patched = insn.clone();
    let result = writer(target, &howto, &mut patched[probe.field_at..], value);
    let range = howto.field.range;
    // Whether the value fits is the field's own range for data and immediates; a branch may
    // also fail to encode a misaligned or state-changing target it cannot express.
    match result {
        Err(err) => {
            if patched != before {
                return Err(format!(
                    "{}: refused ({err}) but changed the bytes",
                    probe.name
                ));
            }
            if range.fits(value) && !matches!(err, arch::FieldError::Misaligned { .. }) {
                // A refusal of an in-range value is only allowed for a state change the
                // instruction cannot make (B to the other state).
                if !(state_switch && probe.effect != (Effect::Branch { link: true })) {
                    return Err(format!(
                        "{}: value {value:#x} fits {range:?} but was refused: {err}",
                        probe.name
                    ));
                }
            }
            return Ok(Verdict::Refused);
        }
        Ok(()) => {
            if !range.fits(value) {
                return Err(format!(
                    "{}: value {value:#x} does not fit {range:?} but was written (wrapped)",
                    probe.name
                ));
            }
        }
    }
    execute(
        probe, insn_at, size, &patched, &before, s, sa, value, got_slot, case,
    )
    .map(|()| Verdict::Applied)
}

#[allow(clippy::too_many_arguments)]
fn execute(
    probe: &Probe,
    insn_at: u64,
    size: u64,
    patched: &[u8],
    before: &[u8],
    s: u64,
    sa: u64,
    value: i64,
    got_slot: u64,
    case: &FieldCase,
) -> Result<(), String> {
    let fail = |what: String| Err(format!("{} at {insn_at:#x}: {what}", probe.name));
    let is_arm = probe.machine == EM_ARM;
    // Only the field's bits (and a BL/BLX selector) may differ from the instruction before.
    let changed: Vec<usize> = (0..patched.len())
        .filter(|&i| patched[i] != before[i])
        .collect();
    if probe.effect == Effect::Data || !is_arm {
        if let Some(&i) = changed.iter().find(|&&i| i < probe.field_at) {
            return fail(format!("byte {i} outside the field changed"));
        }
    }
    if probe.effect == Effect::Data {
        let width = patched.len().min(8);
        let mut word = [0u8; 8];
        word[..width].copy_from_slice(&patched[..width]);
        let got = u64::from_le_bytes(word);
        let want = match probe.name {
            "R_ARM_PREL31" => (before_word(before) & 0x8000_0000) | (value as u64 & 0x7fff_ffff),
            _ if width == 4 => value as u64 & 0xffff_ffff,
            _ => value as u64,
        };
        return if got == want {
            Ok(())
        } else {
            fail(format!("word {got:#x}, want {want:#x}"))
        };
    }
    let page = insn_at & !0xfff;
    let mut uc = if is_arm {
        let mut uc = Unicorn::new(UcArch::ARM, Mode::ARM).map_err(|e| format!("unicorn: {e:?}"))?;
        uc.ctl_set_cpu_model(ArmCpuModel::CORTEX_A15 as i32)
            .map_err(|e| format!("unicorn: {e:?}"))?;
        uc
    } else {
        Unicorn::new(UcArch::X86, Mode::MODE_64).map_err(|e| format!("unicorn: {e:?}"))?
    };
    uc.mem_map(page, 0x2000, Prot::ALL)
        .map_err(|e| format!("map: {e:?}"))?;
    uc.mem_write(insn_at, patched)
        .map_err(|e| format!("write: {e:?}"))?;
    let loaded: u64 = 0x1122_3344_5566_7788 ^ u64::from(case.bits);
    if probe.effect == Effect::Load {
        let slot_page = got_slot & !0xfff;
        if slot_page != page && slot_page != page + 0x1000 {
            uc.mem_map(slot_page, 0x1000, Prot::ALL)
                .map_err(|e| format!("map: {e:?}"))?;
        }
        uc.mem_write(got_slot, &loaded.to_le_bytes())
            .map_err(|e| format!("write: {e:?}"))?;
    }
    let reg_index = (case.bits & 7) as usize;
    let initial_low: u64 = u64::from(case.bits >> 16);
    let flags_nzcv = u64::from(case.bits >> 28);
    if is_arm {
        let regs = [
            RegisterARM::R0,
            RegisterARM::R1,
            RegisterARM::R2,
            RegisterARM::R3,
            RegisterARM::R4,
            RegisterARM::R5,
            RegisterARM::R6,
            RegisterARM::R7,
        ];
        uc.reg_write(regs[reg_index], initial_low)
            .map_err(|e| format!("{e:?}"))?;
        let cpsr = uc
            .reg_read(RegisterARM::CPSR)
            .map_err(|e| format!("{e:?}"))?;
        uc.reg_write(RegisterARM::CPSR, (cpsr & 0x0fff_ffff) | (flags_nzcv << 28))
            .map_err(|e| format!("{e:?}"))?;
    }
    if !is_arm {
        // A call pushes its return address: the stack is the mapped page after the code's.
        uc.reg_write(RegisterX86::RSP, page + 0x2000 - 0x10)
            .map_err(|e| format!("{e:?}"))?;
    }
    let start = insn_at | u64::from(probe.thumb);
    // A branch's target is not mapped: Unicorn stops there with a fetch fault, pc on it.
    match uc.emu_start(start, u64::MAX, 0, 1) {
        Ok(()) | Err(unicorn_engine::unicorn_const::uc_error::FETCH_UNMAPPED) => {}
        Err(e) => return fail(format!("did not execute: {e:?}")),
    }
    let pc = if is_arm {
        uc.reg_read(RegisterARM::PC).map_err(|e| format!("{e:?}"))?
    } else {
        uc.reg_read(RegisterX86::RIP)
            .map_err(|e| format!("{e:?}"))?
    };
    let next = insn_at + size;
    match probe.effect {
        Effect::Branch { link } => {
            // S + A is the target less the pc bias the addend took off.
            let thumb_bit = u64::from(is_arm);
            let want = sa.wrapping_add(probe.pc_bias as u64) & !thumb_bit;
            if pc != want {
                return fail(format!(
                    "landed at {pc:#x}, want {want:#x} (value {value:#x})"
                ));
            }
            if is_arm {
                let cpsr = uc
                    .reg_read(RegisterARM::CPSR)
                    .map_err(|e| format!("{e:?}"))?;
                let thumb_now = cpsr & 0x20 != 0;
                if thumb_now != (s & 1 != 0) {
                    return fail(format!(
                        "entered {} state",
                        if thumb_now { "Thumb" } else { "ARM" }
                    ));
                }
                if link {
                    let lr = uc.reg_read(RegisterARM::LR).map_err(|e| format!("{e:?}"))?;
                    let want_lr = next | u64::from(probe.thumb);
                    if lr != want_lr {
                        return fail(format!("lr {lr:#x}, want {want_lr:#x}"));
                    }
                }
            }
            Ok(())
        }
        Effect::CondBranch => {
            let taken = condition_holds(((case.bits >> 3) % 14) as u8, flags_nzcv);
            let want = if taken {
                sa.wrapping_add(probe.pc_bias as u64) & !1
            } else {
                next
            };
            if pc != want {
                return fail(format!(
                    "pc {pc:#x}, want {want:#x} (condition {} {})",
                    (case.bits >> 3) % 14,
                    if taken { "taken" } else { "not taken" }
                ));
            }
            Ok(())
        }
        Effect::Low16 | Effect::High16 => {
            let regs = [
                RegisterARM::R0,
                RegisterARM::R1,
                RegisterARM::R2,
                RegisterARM::R3,
                RegisterARM::R4,
                RegisterARM::R5,
                RegisterARM::R6,
                RegisterARM::R7,
            ];
            let got = uc.reg_read(regs[reg_index]).map_err(|e| format!("{e:?}"))?;
            let v = value as u64 & 0xffff_ffff;
            let want = if probe.effect == Effect::Low16 {
                v & 0xffff
            } else {
                (v & 0xffff_0000) | (initial_low & 0xffff)
            };
            if got != want || pc != next {
                return fail(format!("register {got:#x}, want {want:#x}"));
            }
            Ok(())
        }
        Effect::Register | Effect::Load => {
            let regs = [
                RegisterX86::RAX,
                RegisterX86::RCX,
                RegisterX86::RDX,
                RegisterX86::RBX,
                RegisterX86::RSP,
                RegisterX86::RBP,
                RegisterX86::RSI,
                RegisterX86::RDI,
            ];
            let got = uc.reg_read(regs[reg_index]).map_err(|e| format!("{e:?}"))?;
            let want = match (probe.effect, probe.name) {
                (Effect::Load, _) => loaded,
                (_, "R_X86_64_PC32") => sa.wrapping_add(probe.pc_bias as u64),
                (_, "R_X86_64_32") => value as u64 & 0xffff_ffff,
                (_, "R_X86_64_32S") => value as i32 as i64 as u64,
                _ => value as u64,
            };
            if got != want || pc != next {
                return fail(format!(
                    "register {got:#x}, want {want:#x} (value {value:#x})"
                ));
            }
            Ok(())
        }
        Effect::Data => Ok(()),
    }
}

fn before_word(bytes: &[u8]) -> u64 {
    u64::from(u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
}

/// Whether ARM condition `cond` (0 = EQ … 13 = LE) holds for flags NZCV.
fn condition_holds(cond: u8, nzcv: u64) -> bool {
    let (n, z, c, v) = (nzcv & 8 != 0, nzcv & 4 != 0, nzcv & 2 != 0, nzcv & 1 != 0);
    match cond {
        0 => z,
        1 => !z,
        2 => c,
        3 => !c,
        4 => n,
        5 => !n,
        6 => v,
        7 => !v,
        8 => c && !z,
        9 => !c || z,
        10 => n == v,
        11 => n != v,
        12 => !z && n == v,
        _ => z || n != v,
    }
}
