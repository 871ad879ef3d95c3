//! The relocation scan: before layout, classify every relocation of every live section and
//! decide what it needs (a GOT entry, a PLT entry, a dynamic relocation) or why it cannot be
//! linked. Objects are scanned in parallel; results are merged in input order so the output
//! does not depend on scheduling.

use crate::arch::{Encoding, RelExpr, RelocHowto};
use crate::error::sym_name;
use crate::got_plt::{GotKind, Target};
use crate::link::Link;
use crate::symbols::SymbolId;
use object::elf;
use rayon::prelude::*;

/// A place in an input section that needs a dynamic relocation (an absolute address word in
/// a shared library).
#[derive(Clone, Copy, Debug)]
pub struct DynSite {
    pub file: u32,
    pub section: u32,
    pub reloc: u32,
    /// The symbol the loader must look up, or `None` for a RELATIVE relocation.
    pub symbol: Option<SymbolId>,
}

#[derive(Default)]
pub struct ScanResult {
    pub errors: Vec<String>,
    pub warnings: Vec<String>,
    pub got: Vec<(GotKind, Target)>,
    pub plt: Vec<SymbolId>,
    pub dyn_sites: Vec<DynSite>,
    /// Dynamic relocations land in a read-only section.
    pub textrel: bool,
    /// A TLS descriptor call needs the target's trampoline in PLT0.
    pub tlsdesc_trampoline: bool,
    /// Undefined symbols referenced by relocations: (symbol, "file:(section+0xoff)").
    pub undefined: Vec<(SymbolId, String)>,
}

/// Placeholder target for the one local-dynamic TLS module entry.
pub const TLS_LD_TARGET: Target = Target::Local {
    file: u32::MAX,
    sym: 0,
};

pub fn scan(link: &Link) -> ScanResult {
    let per_file: Vec<ScanResult> = (0..link.objects.len())
        .into_par_iter()
        .map(|f| scan_object(link, f))
        .collect();
    let mut all = ScanResult::default();
    for r in per_file {
        all.errors.extend(r.errors);
        all.warnings.extend(r.warnings);
        all.got.extend(r.got);
        all.plt.extend(r.plt);
        all.dyn_sites.extend(r.dyn_sites);
        all.textrel |= r.textrel;
        all.tlsdesc_trampoline |= r.tlsdesc_trampoline;
        all.undefined.extend(r.undefined);
    }
    all
}

/// Whether a GOT-indirect load at `offset` would be relaxed, asked on a scratch copy so the
/// scan and the write make the same decision.
pub fn would_relax(link: &Link, r_type: u32, data: &[u8], offset: usize) -> bool {
    let start = offset.saturating_sub(8);
    let end = (offset + 8).min(data.len());
    if start >= end || offset > end {
        return false;
    }
    let mut window = data[start..end].to_vec();
    link.arch
        .relax_got_load(r_type, &mut window, offset - start)
        .is_some()
}

fn scan_object(link: &Link, f: usize) -> ScanResult {
    let mut out = ScanResult::default();
    let obj = &link.objects[f];
    let arch = link.arch;
    let word = arch.class().word_size() as u8;
    for (s, section) in obj.sections.iter().enumerate() {
        if !section.live || section.relocs.is_empty() {
            continue;
        }
        let alloc = section.is_alloc();
        let writable = section.flags & elf::SHF_WRITE.0 != 0;
        let dead = link.dead_fdes(f, s);
        for (ri, r) in section.relocs.iter().enumerate() {
            if crate::unwind::is_dead(dead, r.offset) {
                continue;
            }
            let place = || format!("{}:({}+{:#x})", obj.name, sym_name(section.name), r.offset);
            let info = link.target_info(f, r.sym);
            let reloc_name = || {
                arch.reloc_name(r.r_type)
                    .map(str::to_string)
                    .unwrap_or_else(|| format!("relocation type {}", r.r_type))
            };
            let Some(howto) = arch.classify(r.r_type) else {
                out.errors.push(format!(
                    "{}: unsupported relocation {} against symbol `{}'",
                    place(),
                    reloc_name(),
                    sym_name(info.name)
                ));
                continue;
            };
            if r.offset
                .checked_add(u64::from(howto.field.size))
                .is_none_or(|end| end > section.size)
            {
                out.errors.push(format!(
                    "{}: {} lies outside its section",
                    place(),
                    reloc_name()
                ));
                continue;
            }
            if !alloc {
                continue;
            }
            let local_ifunc = link.is_local_ifunc(info.target);
            let ifunc_reachable = match howto.expr {
                // A PC-relative branch that cannot change state (Thumb B.N) cannot use the
                // ARM-state PLT entry; a PC-relative data word can.
                RelExpr::PcRelative => {
                    howto.field.encoding == Encoding::Data || arch.irelative_in_plt_relocs()
                }
                RelExpr::Plt
                | RelExpr::PltGotOffset
                | RelExpr::GotPcRelative
                | RelExpr::GotPcRelativeRelaxable
                | RelExpr::GotRelative => true,
                RelExpr::Absolute => {
                    howto.field.size == word && howto.field.encoding == Encoding::Data
                }
                _ => false,
            };
            // A locally bound IFUNC is reached through a slot the loader fills by calling its
            // resolver (IRELATIVE): calls and PC-relative address forms go to its PLT entry
            // (its canonical address, as with GNU ld), GOT loads and data words get the slot.
            let static_ifunc = matches!(info.target, Target::Local { .. })
                && obj
                    .symbols
                    .get(r.sym as usize)
                    .is_some_and(|s| s.ty == elf::STT_GNU_IFUNC.0);
            if static_ifunc || (local_ifunc && !ifunc_reachable) {
                let why = if static_ifunc {
                    "a static (file-local) IFUNC is not supported"
                } else {
                    "only calls, PC-relative address words, GOT loads and data words reach a local IFUNC"
                };
                out.errors.push(format!(
                    "{}: relocation {} against IFUNC `{}': {why}",
                    place(),
                    reloc_name(),
                    sym_name(info.name)
                ));
                continue;
            }
            if info.undefined && !info.undefined_weak {
                if let Target::Global(id) = info.target {
                    out.undefined.push((id, place()));
                }
            }
            let needs_symbol_error = |what: &str| {
                format!(
                    "{}: relocation {} against {} `{}' {}",
                    place(),
                    reloc_name(),
                    if info.is_function {
                        "function"
                    } else {
                        "symbol"
                    },
                    sym_name(info.name),
                    what
                )
            };
            let HowtoNeeds { got, plt } = needs(
                &howto,
                link,
                &info,
                r.r_type,
                section.data,
                r.offset as usize,
            );
            if got == Some(GotKind::TlsDesc) && arch.tlsdesc_reloc().is_none() {
                out.errors.push(needs_symbol_error(
                    "needs a TLS descriptor, which this target does not support",
                ));
                continue;
            }
            if let Some(kind) = got {
                let target = if kind == GotKind::TlsLd {
                    TLS_LD_TARGET
                } else {
                    info.target
                };
                out.got.push((kind, target));
            }
            if plt {
                if let Target::Global(id) = info.target {
                    out.plt.push(id);
                }
            }
            match howto.expr {
                RelExpr::TlsDescCall if arch.tlsdesc_trampoline().is_none() => {
                    out.errors.push(needs_symbol_error(
                        "needs a TLS descriptor trampoline, which this target does not have",
                    ));
                    continue;
                }
                RelExpr::TlsDescCall => out.tlsdesc_trampoline = true,
                RelExpr::Absolute if link.opts.shared && !info.absolute => {
                    // Only a plain data word can take a dynamic relocation (an ARM MOVW is
                    // also 4 bytes wide, but an instruction).
                    if howto.field.size != word || howto.field.encoding != Encoding::Data {
                        out.errors.push(needs_symbol_error(
                            "can not be used when making a shared object; recompile with -fPIC",
                        ));
                        continue;
                    }
                    if !writable {
                        out.textrel = true;
                        out.warnings.push(format!(
                            "{}: relocation {} against `{}' in read-only section `{}'",
                            place(),
                            reloc_name(),
                            sym_name(info.name),
                            sym_name(section.name)
                        ));
                        if link.opts.text {
                            out.errors.push(needs_symbol_error(
                                "needs a dynamic relocation in a read-only section (-z text)",
                            ));
                            continue;
                        }
                    }
                    let symbol = match info.target {
                        Target::Global(id) if !info.binds_locally => Some(id),
                        _ => None,
                    };
                    out.dyn_sites.push(DynSite {
                        file: f as u32,
                        section: s as u32,
                        reloc: ri as u32,
                        symbol,
                    });
                }
                RelExpr::PcRelative if link.opts.shared && !info.binds_locally => {
                    out.errors.push(needs_symbol_error(
                        "can not be used when making a shared object, as the symbol may be preempted or undefined; recompile with -fPIC",
                    ));
                }
                RelExpr::TpOffset if link.opts.shared => {
                    out.errors.push(needs_symbol_error("(local-exec TLS) can not be used when making a shared object; recompile with -fPIC"));
                }
                _ => {}
            }
        }
    }
    out
}

/// What one relocation needs from the GOT and PLT.
pub struct HowtoNeeds {
    pub got: Option<GotKind>,
    pub plt: bool,
}

pub fn needs(
    howto: &RelocHowto,
    link: &Link,
    info: &crate::link::TargetInfo,
    r_type: u32,
    data: &[u8],
    offset: usize,
) -> HowtoNeeds {
    let none = HowtoNeeds {
        got: None,
        plt: false,
    };
    match howto.expr {
        RelExpr::Plt | RelExpr::PltGotOffset
            if !info.binds_locally || link.is_local_ifunc(info.target) =>
        {
            HowtoNeeds {
                got: None,
                plt: true,
            }
        }
        RelExpr::PcRelative if link.is_local_ifunc(info.target) => HowtoNeeds {
            got: None,
            plt: true,
        },
        RelExpr::GotPcRelative | RelExpr::GotRelative => HowtoNeeds {
            got: Some(GotKind::Address),
            plt: false,
        },
        RelExpr::GotPcRelativeRelaxable => {
            if relaxes(link, info, r_type, data, offset) {
                none
            } else {
                HowtoNeeds {
                    got: Some(GotKind::Address),
                    plt: false,
                }
            }
        }
        RelExpr::TlsGdPcRelative => HowtoNeeds {
            got: Some(GotKind::TlsGd),
            plt: false,
        },
        RelExpr::TlsLdPcRelative => HowtoNeeds {
            got: Some(GotKind::TlsLd),
            plt: false,
        },
        RelExpr::TlsIePcRelative => HowtoNeeds {
            got: Some(GotKind::TlsIe),
            plt: false,
        },
        RelExpr::TlsDescPcRelative => HowtoNeeds {
            got: Some(GotKind::TlsDesc),
            plt: false,
        },
        _ => none,
    }
}

/// A GOT load is replaced by a direct address when the symbol binds locally and has a
/// PC-relative address (an absolute symbol in a shared library has not).
pub fn relaxes(
    link: &Link,
    info: &crate::link::TargetInfo,
    r_type: u32,
    data: &[u8],
    offset: usize,
) -> bool {
    info.binds_locally
        && !info.absolute
        && !info.undefined
        && !link.is_local_ifunc(info.target)
        && would_relax(link, r_type, data, offset)
}
