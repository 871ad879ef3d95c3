//! The one table that decides what becomes of a relocation: which value it receives, whether
//! it goes through a PLT entry, a GOT entry, a copy of imported data or a canonical PLT
//! address, which dynamic relocation it leaves for the loader, and whether its instruction is
//! rewritten (relaxed). The scan ([`crate::scan`]) asks [`decide`] once per relocation and
//! stores the answer; relocation ([`crate::relocate`]) and the dynamic tables only apply
//! what is stored.
//!
//! The table is keyed on the kind of output ([`OutputKind`]) and the class of the symbol
//! ([`SymClass`]), for each expression a target classified the relocation into.

use crate::arch::{Encoding, RelExpr, RelocHowto};
use crate::got_plt::GotKind;

/// What the link produces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutputKind {
    /// `-shared`: a library (ET_DYN) whose default-visibility symbols may be preempted.
    Shared,
    /// `-pie`: a position-independent program (ET_DYN, DF_1_PIE, PT_INTERP).
    Pie,
    /// A program at a fixed address (ET_EXEC) loaded by the dynamic linker.
    Exec,
    /// A fixed-address program with no dynamic linker and no `.dynamic` (`-static`).
    Static,
    /// `-static -pie --no-dynamic-linker`: relocates itself (glibc's rcrt1.o).
    StaticPie,
}

impl OutputKind {
    pub fn is_program(self) -> bool {
        self != OutputKind::Shared
    }
    /// Loaded at an address chosen at run time: absolute words need RELATIVE relocations.
    pub fn is_pic(self) -> bool {
        matches!(
            self,
            OutputKind::Shared | OutputKind::Pie | OutputKind::StaticPie
        )
    }
    /// Has `.dynamic` (and so dynamic relocations in `.rel[a].dyn`).
    pub fn is_dynamic(self) -> bool {
        self != OutputKind::Static
    }
    /// Links against shared libraries: imports, `.dynsym` lookups, lazy PLT slots.
    pub fn imports(self) -> bool {
        matches!(
            self,
            OutputKind::Shared | OutputKind::Pie | OutputKind::Exec
        )
    }
    /// Run by a dynamic linker named in PT_INTERP.
    pub fn has_interpreter(self) -> bool {
        matches!(self, OutputKind::Pie | OutputKind::Exec)
    }
    /// ET_EXEC rather than ET_DYN.
    pub fn is_fixed_address(self) -> bool {
        matches!(self, OutputKind::Exec | OutputKind::Static)
    }
}

/// The class of the symbol a relocation refers to, as far as the decision is concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SymClass {
    /// Defined in the output and bound to that definition. `absolute`: an `SHN_ABS` value
    /// (or an unresolved weak reference that is 0 everywhere), which does not move with the
    /// load address.
    Local { absolute: bool },
    /// An IFUNC defined here and bound locally: reached through a slot the loader (or
    /// glibc's static start-up) fills by calling its resolver (IRELATIVE).
    LocalIfunc,
    /// Defined here, but a shared library's default-visibility symbol: may be preempted.
    Preemptible,
    /// A function a shared library defines.
    ImportedFunction,
    /// Data a shared library defines; `protected`: it binds to itself there, so a copy in
    /// the program would split it.
    ImportedData { protected: bool },
    /// Undefined and weak with default visibility: the loader may still find it.
    UndefinedWeak,
}

impl SymClass {
    /// Resolved by the loader through `.dynsym` (GLOB_DAT, JUMP_SLOT, symbolic words).
    pub fn is_dynamic(self) -> bool {
        matches!(
            self,
            SymClass::Preemptible
                | SymClass::ImportedFunction
                | SymClass::ImportedData { .. }
                | SymClass::UndefinedWeak
        )
    }
}

/// A dynamic relocation a relocated word leaves for the loader.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DynWord {
    None,
    /// B + A: the word holds an address of this output.
    Relative,
    /// A RELATIVE relocation packed into `.relr.dyn` ([`crate::relr`]): the word itself
    /// holds the addend, as RELR requires on REL and RELA targets alike.
    PackedRelative,
    /// S + A looked up by name.
    Symbolic,
    /// The value the IFUNC resolver at B + A returns.
    IRelative,
}

/// What the scan needs to allocate for a relocation, besides its own action.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SymbolNeed {
    None,
    /// A GOT entry of this kind.
    Got(GotKind),
    /// A PLT entry that calls reach (lazy binding or an IFUNC's IRELATIVE slot).
    Plt,
    /// The program's PLT entry becomes the imported function's address everywhere
    /// (a canonical PLT entry: non-PIC code took its address).
    CanonicalPlt,
    /// The program gets a copy of the imported data (a COPY relocation) and every
    /// reference, the library's own included, uses the copy.
    Copy,
}

/// A rewrite of the instruction around a relocation that the decision asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rewrite {
    None,
    /// A GOT load becomes a PC-relative address computation (x86-64 `mov` → `lea`).
    GotToPcRelative,
    /// A TLS sequence becomes the initial-exec form.
    TlsToInitialExec,
    /// A TLS sequence becomes the local-exec form.
    TlsToLocalExec,
}

/// The decision for one relocation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Decision {
    /// The expression to evaluate (rewritten by relaxation, e.g. a GOT load turned
    /// PC-relative, a local-dynamic offset turned TP-relative).
    pub expr: RelExpr,
    /// S is the symbol's PLT entry rather than the symbol.
    pub via_plt: bool,
    pub dynamic: DynWord,
    pub need: SymbolNeed,
    pub rewrite: Rewrite,
}

/// Why a relocation cannot be linked into this output.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// An absolute or PC-relative form that would need a dynamic relocation the field cannot
    /// take ("recompile with -fPIC").
    NeedsPic,
    /// A PC-relative reference to a symbol that may be preempted.
    Preemptible,
    /// Local-exec TLS in a shared library.
    LocalExecInShared,
    /// A copy relocation against protected data.
    ProtectedCopy,
    /// `-z nocopyreloc` and a reference that needs a copy.
    NoCopyReloc,
    /// A TLS descriptor in a program that relocates itself without a loader to fill it.
    TlsDescWithoutLoader,
}

impl Refusal {
    pub fn message(self, kind: OutputKind) -> &'static str {
        let pic = kind == OutputKind::Shared;
        match self {
            Refusal::NeedsPic if pic => {
                "can not be used when making a shared object; recompile with -fPIC"
            }
            Refusal::NeedsPic => "can not be used when making a PIE object; recompile with -fPIE",
            Refusal::Preemptible => {
                "can not be used when making a shared object, as the symbol may be preempted or undefined; recompile with -fPIC"
            }
            Refusal::LocalExecInShared => {
                "(local-exec TLS) can not be used when making a shared object; recompile with -fPIC"
            }
            Refusal::ProtectedCopy => "needs a copy relocation against protected data, which would split it from the library's own references; recompile with -fPIC",
            Refusal::NoCopyReloc => "needs a copy relocation, which -z nocopyreloc forbids; recompile with -fPIC",
            Refusal::TlsDescWithoutLoader => "is a TLS descriptor that was not relaxed, and a program without a dynamic loader cannot fill it",
        }
    }
}

/// The facts about the relocation's place that the table needs.
#[derive(Clone, Copy, Debug)]
pub struct Place {
    /// The field is a full data word (it can take a dynamic relocation).
    pub is_word: bool,
    /// The section is writable, or `-z notext` lets the loader write it.
    pub writable: bool,
    /// The section is code (a local-dynamic offset in code follows the relaxed sequence).
    pub code: bool,
    /// `-z pack-relative-relocs` and a place RELR can name: GNU ld packs the relative
    /// relocations at even offsets of sections aligned to 2 or more.
    pub packable: bool,
}

/// What the target can rewrite, asked by the scan on the relocation's actual bytes.
#[derive(Clone, Copy, Debug, Default)]
pub struct Relaxable {
    /// The GOT load can become a direct PC-relative address.
    pub got_load: bool,
    /// The TLS sequence can be rewritten to initial exec / local exec.
    pub tls_to_ie: bool,
    pub tls_to_le: bool,
    /// Local-dynamic sequences are relaxed to local exec in programs on this target, so a
    /// DTPOFF in code becomes a TP offset.
    pub ld_to_le: bool,
}

fn plain(expr: RelExpr) -> Decision {
    Decision {
        expr,
        via_plt: false,
        dynamic: DynWord::None,
        need: SymbolNeed::None,
        rewrite: Rewrite::None,
    }
}

/// The decision table.
pub fn decide(
    kind: OutputKind,
    class: SymClass,
    howto: &RelocHowto,
    place: Place,
    relax: Relaxable,
    copyreloc: bool,
) -> Result<Decision, Refusal> {
    use RelExpr as E;
    let expr = howto.expr;
    match expr {
        E::Absolute => absolute(kind, class, place, copyreloc),
        E::PcRelative => pc_relative(kind, class, copyreloc),
        E::Plt | E::PltGotOffset => Ok(call(kind, class, expr)),
        E::GotPcRelative | E::GotRelative => Ok(Decision {
            need: SymbolNeed::Got(GotKind::Address),
            ..plain(expr)
        }),
        E::GotPcRelativeRelaxable if relax.got_load && binds_here(class) => Ok(Decision {
            rewrite: Rewrite::GotToPcRelative,
            ..plain(E::PcRelative)
        }),
        E::GotPcRelativeRelaxable => Ok(Decision {
            need: SymbolNeed::Got(GotKind::Address),
            ..plain(expr)
        }),
        E::TlsGdPcRelative
        | E::TlsLdPcRelative
        | E::TlsIePcRelative
        | E::TlsDescPcRelative
        | E::TlsDescCall => tls_access(kind, class, expr, relax),
        E::DtpOffset if kind.is_program() && place.code && relax.ld_to_le => Ok(plain(E::TpOffset)),
        E::TpOffset if kind == OutputKind::Shared => Err(Refusal::LocalExecInShared),
        // A marker with nothing to write of its own (x86-64 R_X86_64_TLSDESC_CALL) whose
        // instruction a relaxed sequence rewrites too.
        E::None if relax.tls_to_le || relax.tls_to_ie => Ok(Decision {
            rewrite: if relax.tls_to_le {
                Rewrite::TlsToLocalExec
            } else {
                Rewrite::TlsToInitialExec
            },
            ..plain(E::None)
        }),
        E::None | E::GotOffset | E::GotBasePcRelative | E::Size | E::DtpOffset | E::TpOffset => {
            Ok(plain(expr))
        }
    }
}

/// Whether an undefined weak symbol of default visibility is left to the loader (the class
/// [`SymClass::UndefinedWeak`]) or is 0 at link time ([`SymClass::Local`], absolute): the
/// loader may find it in an output that imports, unless `-z nodynamic-undefined-weak`
/// (`dynamic == Some(false)`) asks otherwise on a target whose GNU ld honours it.
pub fn undefined_weak_is_dynamic(
    kind: OutputKind,
    dynamic: Option<bool>,
    may_be_static: bool,
) -> bool {
    kind.imports() && !(dynamic == Some(false) && may_be_static)
}

/// Bound inside the output, with an address relative to it (a GOT load may go direct).
fn binds_here(class: SymClass) -> bool {
    matches!(class, SymClass::Local { absolute: false })
}

/// S + A.
fn absolute(
    kind: OutputKind,
    class: SymClass,
    place: Place,
    copyreloc: bool,
) -> Result<Decision, Refusal> {
    let word_in_place = place.is_word && place.writable;
    let local_word = |d: Decision| -> Result<Decision, Refusal> {
        if !kind.is_pic() {
            Ok(d)
        } else if place.is_word {
            Ok(Decision {
                dynamic: if place.packable {
                    DynWord::PackedRelative
                } else {
                    DynWord::Relative
                },
                ..d
            })
        } else {
            Err(Refusal::NeedsPic)
        }
    };
    match class {
        SymClass::Local { absolute: true } => Ok(plain(RelExpr::Absolute)),
        SymClass::Local { absolute: false } => local_word(plain(RelExpr::Absolute)),
        // A word the loader fills by calling the resolver; anything else takes the PLT
        // entry, which is then the function's address everywhere.
        SymClass::LocalIfunc if place.is_word && kind.is_pic() => Ok(Decision {
            dynamic: DynWord::IRelative,
            ..plain(RelExpr::Absolute)
        }),
        SymClass::LocalIfunc => local_word(Decision {
            via_plt: true,
            need: SymbolNeed::Plt,
            ..plain(RelExpr::Absolute)
        }),
        SymClass::UndefinedWeak if kind.is_program() => Ok(plain(RelExpr::Absolute)),
        _ if place.is_word && (word_in_place || kind == OutputKind::Shared) => Ok(Decision {
            dynamic: DynWord::Symbolic,
            ..plain(RelExpr::Absolute)
        }),
        SymClass::ImportedFunction if kind.is_program() => local_word(Decision {
            via_plt: true,
            need: SymbolNeed::CanonicalPlt,
            ..plain(RelExpr::Absolute)
        }),
        SymClass::ImportedData { protected } if kind.is_program() => {
            copy(protected, copyreloc)?;
            local_word(Decision {
                need: SymbolNeed::Copy,
                ..plain(RelExpr::Absolute)
            })
        }
        _ => Err(Refusal::NeedsPic),
    }
}

fn copy(protected: bool, copyreloc: bool) -> Result<(), Refusal> {
    if protected {
        Err(Refusal::ProtectedCopy)
    } else if !copyreloc {
        Err(Refusal::NoCopyReloc)
    } else {
        Ok(())
    }
}

/// S + A - P.
fn pc_relative(kind: OutputKind, class: SymClass, copyreloc: bool) -> Result<Decision, Refusal> {
    let e = RelExpr::PcRelative;
    match class {
        SymClass::Local { .. } => Ok(plain(e)),
        SymClass::LocalIfunc => Ok(Decision {
            via_plt: true,
            need: SymbolNeed::Plt,
            ..plain(e)
        }),
        SymClass::UndefinedWeak if kind.is_program() => Ok(plain(e)),
        SymClass::ImportedFunction if kind.is_program() => Ok(Decision {
            via_plt: true,
            need: SymbolNeed::CanonicalPlt,
            ..plain(e)
        }),
        SymClass::ImportedData { protected } if kind.is_program() => {
            copy(protected, copyreloc)?;
            Ok(Decision {
                need: SymbolNeed::Copy,
                ..plain(e)
            })
        }
        _ => Err(Refusal::Preemptible),
    }
}

/// A call (or a PLT-relative offset): through the PLT unless the callee binds here.
fn call(kind: OutputKind, class: SymClass, expr: RelExpr) -> Decision {
    let through_plt = match class {
        SymClass::Local { .. } => false,
        SymClass::LocalIfunc => true,
        SymClass::UndefinedWeak => kind.imports(),
        SymClass::Preemptible | SymClass::ImportedFunction | SymClass::ImportedData { .. } => true,
    };
    Decision {
        via_plt: through_plt,
        need: if through_plt {
            SymbolNeed::Plt
        } else {
            SymbolNeed::None
        },
        ..plain(expr)
    }
}

/// General dynamic, local dynamic, initial exec and descriptors: relaxed in programs when
/// the target can rewrite the sequence, else through their GOT entries.
fn tls_access(
    kind: OutputKind,
    class: SymClass,
    expr: RelExpr,
    relax: Relaxable,
) -> Result<Decision, Refusal> {
    use RelExpr as E;
    let local = !class.is_dynamic();
    if kind.is_program() {
        if local && relax.tls_to_le {
            return Ok(Decision {
                rewrite: Rewrite::TlsToLocalExec,
                ..plain(E::TpOffset)
            });
        }
        if !local && relax.tls_to_ie && expr != E::TlsIePcRelative {
            return Ok(Decision {
                rewrite: Rewrite::TlsToInitialExec,
                need: SymbolNeed::Got(GotKind::TlsIe),
                ..plain(E::TlsIePcRelative)
            });
        }
        if !kind.imports() && matches!(expr, E::TlsDescPcRelative | E::TlsDescCall) {
            return Err(Refusal::TlsDescWithoutLoader);
        }
    }
    let need = match expr {
        E::TlsGdPcRelative => SymbolNeed::Got(GotKind::TlsGd),
        E::TlsLdPcRelative => SymbolNeed::Got(GotKind::TlsLd),
        E::TlsIePcRelative => SymbolNeed::Got(GotKind::TlsIe),
        E::TlsDescPcRelative => SymbolNeed::Got(GotKind::TlsDesc),
        _ => SymbolNeed::None,
    };
    Ok(Decision {
        need,
        ..plain(expr)
    })
}

/// How a GOT entry is filled, decided once for the entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GotFill {
    /// The link-time value; no relocation (a fixed-address program, an absolute symbol, a
    /// TP offset in the program's own TLS block).
    Constant,
    /// The link-time value plus a RELATIVE relocation.
    Relative,
    /// The link-time value, relocated through `.relr.dyn` (`-z pack-relative-relocs`).
    PackedRelative,
    /// An IRELATIVE relocation calling the IFUNC's resolver.
    IRelative,
    /// Looked up by the loader (GLOB_DAT / DTPMOD+DTPOFF / TPOFF / TLSDESC with a symbol).
    Symbolic,
    /// The loader fills the module id of this output (DTPMOD with no symbol), and the
    /// offset is the link-time value (general dynamic TLS of a local symbol, local dynamic).
    LocalModule,
    /// A TP offset or descriptor of a local TLS symbol that the loader computes.
    LocalTls,
}

impl GotFill {
    /// The dynamic relocations this entry needs.
    pub fn dynamic_relocs(self, kind: GotKind) -> u64 {
        match (self, kind) {
            (GotFill::Constant | GotFill::PackedRelative, _) => 0,
            (GotFill::Symbolic, GotKind::TlsGd) => 2,
            _ => 1,
        }
    }
}

/// How a GOT entry of `kind` for a symbol of `class` is filled in output `kind`.
pub fn got_fill(out: OutputKind, kind: GotKind, class: SymClass) -> GotFill {
    let local = !class.is_dynamic();
    match kind {
        GotKind::Address => match class {
            SymClass::Local { absolute: true } => GotFill::Constant,
            SymClass::Local { absolute: false } if out.is_pic() => GotFill::Relative,
            SymClass::Local { absolute: false } => GotFill::Constant,
            SymClass::LocalIfunc => GotFill::IRelative,
            SymClass::UndefinedWeak if !out.imports() => GotFill::Constant,
            _ => GotFill::Symbolic,
        },
        // The program's own TLS block is module 1 at a fixed TP offset.
        GotKind::TlsGd | GotKind::TlsLd if local && !out.imports() => GotFill::Constant,
        GotKind::TlsIe if local && out.is_program() => GotFill::Constant,
        GotKind::TlsGd | GotKind::TlsLd if local => GotFill::LocalModule,
        GotKind::TlsLd => GotFill::LocalModule,
        GotKind::TlsIe | GotKind::TlsDesc if local => GotFill::LocalTls,
        _ => GotFill::Symbolic,
    }
}

/// Whether a field of `howto` is a data word of `word` bytes (it can take a dynamic
/// relocation; an ARM MOVW is also 4 bytes, but an instruction).
pub fn is_data_word(howto: &RelocHowto, word: u8) -> bool {
    howto.field.size == word && howto.field.encoding == Encoding::Data
}
