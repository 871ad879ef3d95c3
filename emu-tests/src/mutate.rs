//! Deliberately broken links, to show that the check catches what a faulty linker would do:
//! a library linked by GNU ld, then patched as a specific linker bug would have written it.
//! For tests (they panic on setup failures); both backends' test suites use them.

use crate::compare::first_difference;
use crate::{build, Backend, Linker, Target};

/// Builds `name` for `target` with GNU ld, lets `patch` corrupt one output library, runs it on
/// `backend` and returns the first difference.
pub fn patched_run(
    name: &str,
    target: Target,
    library: &str,
    backend: &dyn Backend,
    patch: impl Fn(&mut [u8]) -> usize,
) -> crate::compare::Difference {
    let s = crate::corpus()
        .unwrap_or_else(|e| panic!("{e}"))
        .into_iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("no scenario {name}"));
    let dir = tempfile::tempdir().expect("temp dir");
    let built = build(&s, target, &Linker::GnuLd, dir.path()).unwrap_or_else(|e| panic!("{e}"));
    let path = &built
        .libraries
        .iter()
        .find(|l| l.name == library)
        .expect("library built")
        .path;
    let mut bytes = std::fs::read(path).expect("read library");
    assert!(patch(&mut bytes) > 0, "nothing patched in {library}");
    std::fs::write(path, bytes).expect("write library");
    let observation = backend.run(&built);
    first_difference(&s, backend.runs_program(), &observation).expect("the corruption is caught")
}

/// Adds one to the displacement of asm-relocs' `lea probe_local+12(%rip), %rax` (it follows
/// via_got's `mov probe_target@GOTPCREL(%rip), %rax; ret`), as a linker that got the
/// R_X86_64_PC32 addend wrong would. Returns how many places it patched.
pub fn wrong_pc32_addend(bytes: &mut [u8]) -> usize {
    let at = (0..bytes.len().saturating_sub(11)).find(|&i| {
        bytes[i..i + 3] == [0x48, 0x8b, 0x05]
            && bytes[i + 7] == 0xc3
            && bytes[i + 8..i + 11] == [0x48, 0x8d, 0x05]
    });
    let Some(at) = at else { return 0 };
    let disp = at + 11;
    let value = i32::from_le_bytes([
        bytes[disp],
        bytes[disp + 1],
        bytes[disp + 2],
        bytes[disp + 3],
    ]) + 1;
    bytes[disp..disp + 4].copy_from_slice(&value.to_le_bytes());
    1
}

/// Makes every ARM PLT entry (`add ip, pc, #..; add ip, ip, #..; ldr pc, [ip, #imm]!`) load
/// the next GOT slot, as a linker computing the slot offset off by one word would. Returns how
/// many entries it patched.
pub fn arm_plt_off_by_one(bytes: &mut [u8]) -> usize {
    let mut patched = 0;
    let word = |b: &[u8], i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
    let mut i = 0;
    while i + 12 <= bytes.len() {
        let (a, b, c) = (word(bytes, i), word(bytes, i + 4), word(bytes, i + 8));
        if a & 0xffff_f000 == 0xe28f_c000
            && b & 0xffff_f000 == 0xe28c_c000
            && c & 0xffff_f000 == 0xe5bc_f000
        {
            bytes[i + 8..i + 12].copy_from_slice(&(c + 4).to_le_bytes());
            patched += 1;
            i += 12;
        } else {
            i += 4;
        }
    }
    patched
}

/// Builds `name` for `target` with GNU ld, lets `patch` corrupt `library`, and checks the
/// build on `backends` as `tether check` does ([`crate::check::check_built`]). Also gives,
/// per backend, its eager run (every slot bound at load), which a bug only the lazy path hits
/// leaves as it should be.
pub fn patched_check(
    name: &str,
    target: Target,
    library: &str,
    backends: &[&dyn Backend],
    patch: impl Fn(&mut [u8]) -> usize,
) -> Vec<(String, crate::check::Outcome, crate::Observation)> {
    let s = crate::corpus()
        .unwrap_or_else(|e| panic!("{e}"))
        .into_iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("no scenario {name}"));
    let dir = tempfile::tempdir().expect("temp dir");
    let built = build(&s, target, &Linker::GnuLd, dir.path()).unwrap_or_else(|e| panic!("{e}"));
    let path = &built
        .libraries
        .iter()
        .find(|l| l.name == library)
        .expect("library built")
        .path;
    let mut bytes = std::fs::read(path).expect("read library");
    assert!(patch(&mut bytes) > 0, "nothing patched in {library}");
    std::fs::write(path, bytes).expect("write library");
    let outcomes = crate::check::check_built(&built, backends);
    outcomes
        .into_iter()
        .zip(backends)
        .map(|((backend, outcome), b)| {
            let eager = b
                .run_bind_now(&built)
                .expect("the backend runs with eager binding");
            (backend, outcome, eager)
        })
        .collect()
}

/// Makes x86-64 PLT0's `push GOT[1](%rip)` push GOT[2] instead (its displacement eight bytes
/// on), as a linker that misplaced GOT[1] would: the resolver gets a wrong link-map handle.
/// Only lazy binding goes through PLT0. Returns how many places it patched.
pub fn x86_64_plt0_pushes_got2(bytes: &mut [u8]) -> usize {
    let disp = |b: &[u8], i: usize| i32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
    // PLT0: ff 35 <GOT+8 - (PLT0+6)>  ff 25 <GOT+16 - (PLT0+12)>: the second is the first + 2.
    let at = (0..bytes.len().saturating_sub(12)).find(|&i| {
        bytes[i..i + 2] == [0xff, 0x35]
            && bytes[i + 6..i + 8] == [0xff, 0x25]
            && disp(bytes, i + 8) == disp(bytes, i + 2).wrapping_add(2)
    });
    let Some(at) = at else { return 0 };
    let moved = disp(bytes, at + 2).wrapping_add(8);
    bytes[at + 2..at + 6].copy_from_slice(&moved.to_le_bytes());
    1
}

/// Makes ARM PLT0 (`push {lr}; ldr lr, [pc, #4]; add lr, pc, lr; ldr pc, [lr, #8]!` and its
/// literal `GOT - .`) jump through GOT[1], the link-map handle, instead of GOT[2], the resolver:
/// its literal one word short, as a linker that misplaced the GOT's header would write it. Only
/// lazy binding goes through PLT0. Returns how many places it patched.
pub fn arm_plt0_jumps_through_got1(bytes: &mut [u8]) -> usize {
    const PLT0: [u32; 4] = [0xe52d_e004, 0xe59f_e004, 0xe08f_e00e, 0xe5be_f008];
    let word = |b: &[u8], i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
    let at = (0..bytes.len().saturating_sub(20))
        .step_by(4)
        .find(|&i| (0..4).all(|k| word(bytes, i + 4 * k) == PLT0[k]));
    let Some(at) = at else { return 0 };
    let literal = word(bytes, at + 16).wrapping_sub(4);
    bytes[at + 16..at + 20].copy_from_slice(&literal.to_le_bytes());
    1
}
