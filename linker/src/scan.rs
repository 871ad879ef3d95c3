//! The relocation scan: before layout, classify every relocation of every live section, ask
//! the decision table ([`crate::decide`]) what becomes of it, and store the answer as a
//! [`RelocAction`]. The scan also collects what the actions need (GOT and PLT entries, copies
//! of imported data, canonical PLT addresses) and the errors. Objects are scanned in
//! parallel; results are merged in input order so the output does not depend on scheduling.

use crate::arch::{Encoding, RelExpr, RelocHowto, TlsRelaxTo};
use crate::decide::{self, DynWord, Place, Relaxable, Rewrite, SymClass, SymbolNeed};
use crate::error::sym_name;
use crate::got_plt::{GotKind, Target};
use crate::link::{Link, TargetInfo};
use crate::object_file::Reloc;
use crate::resolve::is_function_type;
use crate::symbols::{Def, SymbolId};
use object::elf;
use rayon::prelude::*;

/// What relocation and writing do with one input relocation, decided by the scan.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RelocAction {
    /// The value to compute and the field it goes to (after any rewrite).
    pub howto: RelocHowto,
    /// S is the symbol's PLT entry.
    pub via_plt: bool,
    /// The dynamic relocation the word leaves for the loader.
    pub dynamic: DynWord,
    /// The instruction rewrite to perform before the field is written.
    pub rewrite: Rewrite,
    /// How far the field lies from the relocation's offset, and what is added to its addend:
    /// a rewrite or a rewritten `.eh_frame` moves them. Stored as small differences, not
    /// copies, because there is one action per input relocation.
    pub offset_shift: i32,
    pub addend_shift: i16,
}

// One per input relocation: the largest table the link holds after the inputs themselves.
const _: () = assert!(std::mem::size_of::<RelocAction>() <= 16);

impl RelocAction {
    /// The field's offset in its section.
    pub fn offset(&self, r: &Reloc) -> u64 {
        r.offset.wrapping_add_signed(i64::from(self.offset_shift))
    }

    pub fn addend(&self, r: &Reloc) -> i64 {
        r.addend.wrapping_add(i64::from(self.addend_shift))
    }

    /// Moves the field to `offset` with `addend`; false when either is too far from the
    /// relocation's own to be stored.
    fn move_to(&mut self, r: &Reloc, offset: u64, addend: i64) -> bool {
        let shifts = (
            i32::try_from(offset.wrapping_sub(r.offset) as i64),
            i16::try_from(addend.wrapping_sub(r.addend)),
        );
        match shifts {
            (Ok(o), Ok(a)) => {
                (self.offset_shift, self.addend_shift) = (o, a);
                true
            }
            _ => false,
        }
    }

    /// Nothing to write (R_*_NONE, or a relocation a rewrite consumed).
    pub fn is_none(&self) -> bool {
        self.howto.expr == RelExpr::None && self.rewrite == Rewrite::None
    }
}

const NOTHING: RelocHowto = RelocHowto {
    expr: RelExpr::None,
    field: crate::arch::Field::data(0, crate::arch::Range::Any),
};

/// A rewrite whose addend differs from the relocation's by more than 32 KiB (rewrites only
/// drop or adjust the small PC-relative bias).
const TOO_FAR: &str = "its addend is too large for the instruction rewrite";

const NONE_ACTION: RelocAction = RelocAction {
    howto: NOTHING,
    via_plt: false,
    dynamic: DynWord::None,
    rewrite: Rewrite::None,
    offset_shift: 0,
    addend_shift: 0,
};

#[derive(Default)]
pub struct ScanResult {
    pub errors: Vec<String>,
    pub warnings: Vec<String>,
    /// Per object, per section: the action of each relocation (empty when not scanned).
    pub actions: Vec<Vec<Vec<RelocAction>>>,
    pub got: Vec<(GotKind, Target)>,
    pub plt: Vec<Target>,
    /// Imported functions whose program PLT entry is their address everywhere.
    pub canonical_plt: Vec<SymbolId>,
    /// Imported data the program keeps a copy of.
    pub copies: Vec<SymbolId>,
    /// Relocated words that leave a dynamic relocation.
    pub dynamic_words: u64,
    /// Relocated words whose RELATIVE relocation goes to `.relr.dyn`.
    pub packed_words: u64,
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
        all.actions.extend(r.actions);
        all.got.extend(r.got);
        all.plt.extend(r.plt);
        all.canonical_plt.extend(r.canonical_plt);
        all.copies.extend(r.copies);
        all.dynamic_words += r.dynamic_words;
        all.packed_words += r.packed_words;
        all.textrel |= r.textrel;
        all.tlsdesc_trampoline |= r.tlsdesc_trampoline;
        all.undefined.extend(r.undefined);
    }
    all
}

/// The GOT-load relaxation the target would perform, asked on a scratch copy so the bytes of
/// the input stay untouched: (the new field and expression, its offset, its addend). A
/// program's may become an immediate; whether the final address fits 32 bits is checked
/// again when the bytes are written (`absolute` is the image base here, as an estimate).
pub fn got_load_relaxation(
    link: &Link,
    r: &Reloc,
    data: &[u8],
    absolute: Option<u64>,
) -> Option<(RelocHowto, u64, i64)> {
    let offset = r.offset as usize;
    let start = offset.saturating_sub(8);
    let end = (offset + 8).min(data.len());
    if start >= end || offset > end {
        return None;
    }
    let mut window = data[start..end].to_vec();
    if link.kind.is_program() {
        let rw = link.arch.relax_got_load_program(
            r.r_type,
            &mut window,
            (offset - start) as u64,
            r.addend,
            absolute,
        )?;
        Some((rw.howto, rw.offset + start as u64, rw.addend))
    } else {
        let howto = link
            .arch
            .relax_got_load(r.r_type, &mut window, offset - start)?;
        Some((howto, r.offset, r.addend))
    }
}

/// The address estimate a fixed-address program's GOT-load relaxation is decided with.
pub fn absolute_hint(link: &Link) -> Option<u64> {
    link.kind.is_fixed_address().then(|| {
        link.opts
            .image_base
            .unwrap_or(link.arch.default_image_base())
    })
}

/// The TLS rewrite the target would perform, asked on a scratch window around the sequence
/// (every sequence the targets rewrite lies within it), with offsets translated back.
fn tls_rewrite(
    link: &Link,
    r: &Reloc,
    next: Option<&Reloc>,
    to: TlsRelaxTo,
    data: &[u8],
) -> Option<Result<crate::arch::TlsRewrite, String>> {
    let start = r.offset.saturating_sub(32);
    let end = (r.offset + 48).min(data.len() as u64);
    let mut window = data.get(start as usize..end as usize)?.to_vec();
    let next = next.map(|n| (n.r_type, n.offset.wrapping_sub(start)));
    let result =
        link.arch
            .relax_tls(r.r_type, to, &mut window, r.offset - start, r.addend, next)?;
    Some(result.map(|mut rw| {
        rw.offset += start;
        rw
    }))
}

/// The class of a relocation target for the decision table.
pub fn sym_class(link: &Link, info: &TargetInfo) -> SymClass {
    use crate::symbols::Def;
    let ifunc = link.is_local_ifunc(info.target);
    if ifunc {
        return SymClass::LocalIfunc;
    }
    if info.binds_locally {
        return SymClass::Local {
            absolute: info.absolute,
        };
    }
    let Target::Global(id) = info.target else {
        return SymClass::Local {
            absolute: info.absolute,
        };
    };
    let s = link.symtab.get(id);
    match s.def {
        Def::Shared { .. } if info.is_function => SymClass::ImportedFunction,
        Def::Shared { dso, sym } => SymClass::ImportedData {
            protected: link.dsos[dso as usize].symbols[sym as usize].protected,
        },
        Def::Undefined if !link.kind.imports() => SymClass::Local { absolute: true },
        Def::Undefined => SymClass::UndefinedWeak,
        _ => SymClass::Preemptible,
    }
}

/// What the decision needs of a global symbol, worked out once per symbol rather than once
/// per reference: a large link has tens of relocations per symbol, and following each one
/// to the symbol's definition is a cache miss.
pub struct GlobalFacts {
    info: TargetInfo,
    /// The class when the reference is a call (it differs only for imports, whose type the
    /// referring object decides) and when it is not.
    class_as_function: SymClass,
    class_as_data: SymClass,
    /// Undefined or a shared library's: the referring object's symbol type counts.
    imported: bool,
}

/// The [`GlobalFacts`] of every global symbol, for [`Link::reference`]: computed once
/// resolution, versions and `--gc-sections` have settled every symbol.
pub fn global_facts<'d>(link: &Link<'d>) -> Vec<GlobalFacts> {
    (0..link.symtab.len() as SymbolId)
        .into_par_iter()
        .map(|id| {
            // Whether a definition is absolute is read from its input symbol: a random read.
            link.prefetch_definition(id + PREFETCH_AHEAD as SymbolId);
            let mut info = link.target_info_of(Target::Global(id));
            let as_data = sym_class(link, &info);
            info.is_function = true;
            let as_function = sym_class(link, &info);
            info.is_function = is_function_type(link.symtab.get(id).ty);
            GlobalFacts {
                info,
                class_as_function: as_function,
                class_as_data: as_data,
                imported: matches!(link.symtab.get(id).def, Def::Undefined | Def::Shared { .. }),
            }
        })
        .collect()
}

/// How many relocations ahead the scan asks for the facts of the symbol referred to.
const PREFETCH_AHEAD: usize = 8;

/// Scan-local state of one object.
struct ObjectScan<'l, 'd> {
    link: &'l Link<'d>,
    file: usize,
    out: ScanResult,
}

fn scan_object(link: &Link, f: usize) -> ScanResult {
    let mut s = ObjectScan {
        link,
        file: f,
        out: ScanResult::default(),
    };
    let obj = &link.objects[f];
    let mut actions = Vec::with_capacity(obj.sections.len());
    for (sec, section) in obj.sections.iter().enumerate() {
        if !section.live || section.relocs.is_empty() {
            actions.push(Vec::new());
            continue;
        }
        actions.push(s.section(sec));
    }
    s.out.actions = vec![actions];
    s.out
}

impl<'d> Link<'d> {
    /// [`Link::target_info`] and [`sym_class`] of input symbol `sym` of object `file`, from
    /// the per-symbol facts for a global ([`global_facts`], which must have run).
    pub fn reference(&self, file: usize, sym: u32) -> (TargetInfo, SymClass) {
        let Some(facts) = self
            .global_id(file, sym)
            .and_then(|id| self.facts.get(id as usize))
        else {
            let info = self.target_info(file, sym);
            return (info, sym_class(self, &info));
        };
        let mut info = facts.info;
        info.is_function |= facts.imported && self.declares_function(file, sym);
        let class = if info.is_function {
            facts.class_as_function
        } else {
            facts.class_as_data
        };
        (info, class)
    }
}

impl Link<'_> {
    /// [`sym_class`] of `target` as [`Link::target_info_of`] describes it, from the facts for
    /// a global when [`global_facts`] has run.
    pub fn target_class(&self, target: Target) -> SymClass {
        match target {
            Target::Global(id) => match self.facts.get(id as usize) {
                // `class_as_data` is the class under the symbol's own type.
                Some(facts) => facts.class_as_data,
                None => sym_class(self, &self.target_info_of(target)),
            },
            Target::Local { .. } => sym_class(self, &self.target_info_of(target)),
        }
    }
}

impl ObjectScan<'_, '_> {
    fn section(&mut self, sec: usize) -> Vec<RelocAction> {
        let link = self.link;
        let section = &link.objects[self.file].sections[sec];
        // A rewritten `.eh_frame` moves its records: each relocation goes where its record
        // went, or nowhere.
        let eh_frame = link.eh_frames.get(self.file, sec);
        let mut actions = Vec::with_capacity(section.relocs.len());
        let mut consumed = false;
        for (ri, r) in section.relocs.iter().enumerate() {
            let r = &r;
            // A global's facts are a random read in a table larger than the cache: asked
            // for a few relocations ahead.
            if let Some(ahead) = section.relocs.get(ri + PREFETCH_AHEAD) {
                if let Some(facts) = link
                    .global_id(self.file, ahead.sym)
                    .and_then(|id| link.facts.get(id as usize))
                {
                    crate::prefetch::read(facts);
                }
            }
            let moved = eh_frame.map(|e| e.reloc_offset(ri));
            let skip = std::mem::take(&mut consumed) || moved == Some(None);
            let decided = if skip {
                None
            } else {
                self.relocation(sec, r, section.relocs.get(ri + 1).as_ref())
            };
            let action = match decided {
                Some((mut action, consumes_next)) => {
                    consumed = consumes_next;
                    match moved {
                        Some(Some(offset)) if !action.move_to(r, offset, r.addend) => {
                            let msg = format!(
                                "{}: the rewritten .eh_frame moved this relocation too far",
                                self.place(sec, r)
                            );
                            self.out.errors.push(msg);
                            NONE_ACTION
                        }
                        _ => action,
                    }
                }
                None => NONE_ACTION,
            };
            actions.push(action);
        }
        actions
    }

    fn place(&self, sec: usize, r: &Reloc) -> String {
        let obj = &self.link.objects[self.file];
        format!(
            "{}:({}+{:#x})",
            obj.name,
            sym_name(obj.sections[sec].name),
            r.offset
        )
    }

    fn reloc_name(&self, r_type: u32) -> String {
        self.link
            .arch
            .reloc_name(r_type)
            .map(str::to_string)
            .unwrap_or_else(|| format!("type {r_type}"))
    }

    /// Decides one relocation; `None` when it is refused (the error is recorded) or does
    /// nothing. The flag says whether it consumes the relocation after it.
    fn relocation(
        &mut self,
        sec: usize,
        r: &Reloc,
        next: Option<&Reloc>,
    ) -> Option<(RelocAction, bool)> {
        let link = self.link;
        let arch = link.arch;
        let section = &link.objects[self.file].sections[sec];
        let Some(howto) = arch.classify(r.r_type) else {
            let msg = format!(
                "{}: unsupported relocation {} against symbol `{}'",
                self.place(sec, r),
                self.reloc_name(r.r_type),
                sym_name(link.target_name(link.symbol_target(self.file, r.sym)))
            );
            self.out.errors.push(msg);
            return None;
        };
        if r.offset
            .checked_add(u64::from(howto.field.size))
            .is_none_or(|end| end > section.size)
        {
            let msg = format!(
                "{}: relocation {} lies outside its section",
                self.place(sec, r),
                self.reloc_name(r.r_type)
            );
            self.out.errors.push(msg);
            return None;
        }
        let mut action = RelocAction {
            howto,
            ..NONE_ACTION
        };
        if !section.is_alloc() {
            // Debug and other unloaded data: link-time values only.
            return Some((action, false));
        }
        let (info, class) = link.reference(self.file, r.sym);
        if info.undefined && !info.undefined_weak {
            if let Target::Global(id) = info.target {
                self.out.undefined.push((id, self.place(sec, r)));
            }
        }
        if class == SymClass::LocalIfunc && !ifunc_reachable(link, &howto) {
            let msg = format!(
                "{}: relocation {} against IFUNC `{}': only calls, PC-relative address words, GOT loads and data words reach a local IFUNC",
                self.place(sec, r),
                self.reloc_name(r.r_type),
                sym_name(self.link.target_name(info.target))
            );
            self.out.errors.push(msg);
            return None;
        }
        let word = arch.class().word_size() as u8;
        let place = Place {
            is_word: decide::is_data_word(&howto, word),
            writable: section.flags & elf::SHF_WRITE.0 != 0,
            code: section.flags & elf::SHF_EXECINSTR.0 != 0,
            packable: crate::relr::packable(link, section.align, r.offset),
        };
        let (relax, tls) = self.relaxable(sec, (r, next), &howto, class, &info)?;
        let decision =
            match decide::decide(link.kind, class, &howto, place, relax, link.opts.copyreloc) {
                Ok(d) => d,
                Err(refusal) => {
                    let msg = self.symbol_error(sec, r, &info, refusal.message(link.kind));
                    self.out.errors.push(msg);
                    return None;
                }
            };
        action.howto.expr = decision.expr;
        action.via_plt = decision.via_plt;
        action.dynamic = decision.dynamic;
        action.rewrite = decision.rewrite;
        // The field, its offset and addend after the rewrite, and whether it consumes the
        // relocation after it.
        let rewritten = match decision.rewrite {
            Rewrite::GotToPcRelative => {
                let (howto, offset, addend) =
                    got_load_relaxation(link, r, section.data, absolute_hint(link))?;
                Some((howto, offset, addend, false))
            }
            Rewrite::TlsToInitialExec | Rewrite::TlsToLocalExec => {
                let rw = tls?;
                Some((rw.howto, rw.offset, rw.addend, rw.consumes_next))
            }
            Rewrite::None => None,
        };
        let mut consumes_next = false;
        if let Some((howto, offset, addend, consumes)) = rewritten {
            action.howto = howto;
            if !action.move_to(r, offset, addend) {
                let msg = self.symbol_error(sec, r, &info, TOO_FAR);
                self.out.errors.push(msg);
                return None;
            }
            consumes_next = consumes;
        }
        self.record_needs(decision.need, &info);
        if action.howto.expr == RelExpr::TlsDescCall {
            if arch.tlsdesc_trampoline().is_none() {
                let msg = self.symbol_error(
                    sec,
                    r,
                    &info,
                    "needs a TLS descriptor trampoline, which this target does not have",
                );
                self.out.errors.push(msg);
                return None;
            }
            self.out.tlsdesc_trampoline = true;
        }
        if decision.need == SymbolNeed::Got(GotKind::TlsDesc) && arch.tlsdesc_reloc().is_none() {
            let msg = self.symbol_error(
                sec,
                r,
                &info,
                "needs a TLS descriptor, which this target does not support",
            );
            self.out.errors.push(msg);
            return None;
        }
        if action.dynamic != DynWord::None {
            if action.dynamic == DynWord::PackedRelative {
                self.out.packed_words += 1;
            } else {
                self.out.dynamic_words += 1;
            }
            if !place.writable && !self.text_relocation(sec, r, &info) {
                return None;
            }
        }
        Some((action, consumes_next))
    }

    /// What the target can rewrite at this relocation of section `sec`: asked only where the
    /// table may use it.
    fn relaxable(
        &mut self,
        sec: usize,
        (r, next): (&Reloc, Option<&Reloc>),
        howto: &RelocHowto,
        class: SymClass,
        info: &TargetInfo,
    ) -> Option<(Relaxable, Option<crate::arch::TlsRewrite>)> {
        let link = self.link;
        let data = link.objects[self.file].sections[sec].data;
        let mut relax = Relaxable {
            ld_to_le: link.arch.relaxes_local_dynamic() && link.opts.relax,
            ..Relaxable::default()
        };
        if howto.expr == RelExpr::GotPcRelativeRelaxable
            && !info.undefined
            && class == (SymClass::Local { absolute: false })
        {
            relax.got_load = got_load_relaxation(link, r, data, absolute_hint(link)).is_some()
                && link.opts.relax;
        }
        // Markers (RelExpr::None) may belong to a TLS sequence too; the target knows.
        let tls = matches!(
            howto.expr,
            RelExpr::TlsGdPcRelative
                | RelExpr::TlsLdPcRelative
                | RelExpr::TlsIePcRelative
                | RelExpr::TlsDescPcRelative
                | RelExpr::TlsDescCall
                | RelExpr::None
        );
        if !tls || !link.kind.is_program() || !link.opts.relax {
            return Some((relax, None));
        }
        let to = if class.is_dynamic() {
            TlsRelaxTo::InitialExec
        } else {
            TlsRelaxTo::LocalExec
        };
        if to == TlsRelaxTo::InitialExec && howto.expr == RelExpr::TlsIePcRelative {
            return Some((relax, None));
        }
        match tls_rewrite(link, r, next, to, data) {
            None => Some((relax, None)),
            Some(Ok(rw)) => {
                relax.tls_to_ie = to == TlsRelaxTo::InitialExec;
                relax.tls_to_le = to == TlsRelaxTo::LocalExec;
                Some((relax, Some(rw)))
            }
            Some(Err(why)) => {
                let model = match to {
                    TlsRelaxTo::InitialExec => "initial exec",
                    TlsRelaxTo::LocalExec => "local exec",
                };
                let msg = self.symbol_error(
                    sec,
                    r,
                    info,
                    &format!("cannot be relaxed to {model} TLS: {why}"),
                );
                self.out.errors.push(msg);
                None
            }
        }
    }

    fn record_needs(&mut self, need: SymbolNeed, info: &TargetInfo) {
        match need {
            SymbolNeed::None => {}
            SymbolNeed::Got(kind) => {
                let target = if kind == GotKind::TlsLd {
                    TLS_LD_TARGET
                } else {
                    info.target
                };
                self.out.got.push((kind, target));
            }
            SymbolNeed::Plt => self.out.plt.push(info.target),
            SymbolNeed::CanonicalPlt => {
                if let Target::Global(id) = info.target {
                    self.out.canonical_plt.push(id);
                    self.out.plt.push(info.target);
                }
            }
            SymbolNeed::Copy => {
                if let Target::Global(id) = info.target {
                    self.out.copies.push(id);
                }
            }
        }
    }

    /// A dynamic relocation in a read-only section: a warning, or an error under `-z text`.
    /// Returns whether the link may go on with it.
    fn text_relocation(&mut self, sec: usize, r: &Reloc, info: &TargetInfo) -> bool {
        let link = self.link;
        let section = &link.objects[self.file].sections[sec];
        self.out.textrel = true;
        let warning = format!(
            "{}: relocation {} against `{}' in read-only section `{}'",
            self.place(sec, r),
            self.reloc_name(r.r_type),
            sym_name(self.link.target_name(info.target)),
            sym_name(section.name)
        );
        self.out.warnings.push(warning);
        if link.opts.text {
            let msg = self.symbol_error(
                sec,
                r,
                info,
                "needs a dynamic relocation in a read-only section (-z text)",
            );
            self.out.errors.push(msg);
            return false;
        }
        true
    }

    fn symbol_error(&self, sec: usize, r: &Reloc, info: &TargetInfo, what: &str) -> String {
        format!(
            "{}: relocation {} against {} `{}' {}",
            self.place(sec, r),
            self.reloc_name(r.r_type),
            if info.is_function {
                "function"
            } else {
                "symbol"
            },
            sym_name(self.link.target_name(info.target)),
            what
        )
    }
}

/// Whether a relocation of this form can reach a locally bound IFUNC (through its PLT entry
/// or a slot the resolver fills).
fn ifunc_reachable(link: &Link, howto: &RelocHowto) -> bool {
    match howto.expr {
        // A PC-relative branch that cannot change state (Thumb B.N) cannot use the ARM-state
        // PLT entry; a PC-relative data word can.
        RelExpr::PcRelative => {
            howto.field.encoding == Encoding::Data || link.arch.irelative_in_plt_relocs()
        }
        RelExpr::Plt
        | RelExpr::PltGotOffset
        | RelExpr::GotPcRelative
        | RelExpr::GotPcRelativeRelaxable
        | RelExpr::GotRelative
        | RelExpr::Absolute => true,
        _ => false,
    }
}
