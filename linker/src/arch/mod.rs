//! What differs between target architectures, and nothing else.
//!
//! The generic core (symbol resolution, layout, GOT/PLT allocation, dynamic sections, the
//! writer) never matches on a relocation type number. It asks the target to *classify* each
//! relocation into a [`RelocHowto`]: a generic expression ([`RelExpr`], in the spirit of lld's
//! `getRelExpr`) saying which value to compute, plus a [`Field`] saying where and how that value
//! is stored. The core computes the value; the target writes it ([`Arch::write_field`]), checking
//! the range and encoding instruction immediates. A relocation is thus data, not a switch of
//! arithmetic spread over the linker.
//!
//! A target also supplies its PLT templates, its dynamic relocation numbers, how to read an
//! implicit addend (REL inputs, as on ARM), instruction relaxations that depend on where the
//! symbol binds, and optional range-extension thunks placed after layout.
//!
//! Interworking (ARM): the core computes `S + A` with `S` the symbol's value as the object
//! file gives it, so a Thumb function's address has bit 0 set (`(S + A) | T` in AAELF32). For a
//! call through the PLT, `S` is the PLT entry (ARM state, bit 0 clear). The value passed to
//! [`Arch::write_field`] therefore still carries the target's state in bit 0 (PC-relative forms
//! subtract an even place), which is what a BL↔BLX rewrite needs; the target masks it off where
//! the encoding requires.

pub mod arm;
pub mod x86_64;

use std::fmt;

/// ELF file class of the output (and of the inputs the target accepts).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ElfClass {
    Elf32,
    Elf64,
}

impl ElfClass {
    /// Size in bytes of an address / a GOT word / a `.dynamic` value.
    pub fn word_size(self) -> u64 {
        match self {
            ElfClass::Elf32 => 4,
            ElfClass::Elf64 => 8,
        }
    }
}

/// The value a relocation asks for, independent of how it is encoded.
///
/// Notation: S = symbol address, A = addend, P = place (address of the field),
/// GOT_ORG = address of `_GLOBAL_OFFSET_TABLE_`, GOT(S) = address of S's GOT entry,
/// PLT(S) = address of S's PLT entry (or S when S binds locally), Z = symbol size,
/// TP = thread pointer, DTP = start of the module's TLS block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RelExpr {
    /// Nothing to do (R_*_NONE, markers such as R_ARM_V4BX).
    None,
    /// S + A. In a shared library this needs a dynamic relocation (RELATIVE when S binds
    /// locally, a symbolic word relocation otherwise) when the field is a full word; any
    /// narrower absolute field is an error there ("recompile with -fPIC").
    Absolute,
    /// S + A - P.
    PcRelative,
    /// PLT(S) + A - P: a call, through the PLT when S may be preempted or is imported.
    Plt,
    /// PLT(S) + A - GOT_ORG (x86-64 large code model, R_X86_64_PLTOFF64).
    PltGotOffset,
    /// GOT(S) + A - P.
    GotPcRelative,
    /// GOT(S) + A - P, but the instruction may be relaxed to address S directly when S binds
    /// locally (x86-64 GOTPCRELX / REX_GOTPCRELX): see [`Arch::relax_got_load`].
    GotPcRelativeRelaxable,
    /// GOT(S) + A - GOT_ORG (ARM GOT_BREL).
    GotRelative,
    /// S + A - GOT_ORG (x86-64 GOTOFF64, ARM GOTOFF32).
    GotOffset,
    /// GOT_ORG + A - P (x86-64 GOTPC32, ARM BASE_PREL against `_GLOBAL_OFFSET_TABLE_`).
    GotBasePcRelative,
    /// Z + A.
    Size,
    /// General-dynamic TLS: GOT(S, module+offset pair) + A - P.
    TlsGdPcRelative,
    /// Local-dynamic TLS: GOT(module pair of this object) + A - P.
    TlsLdPcRelative,
    /// S + A - DTP: offset within this module's TLS block.
    DtpOffset,
    /// Initial-exec TLS: GOT(S's TP offset) + A - P.
    TlsIePcRelative,
    /// TLS descriptor: GOT(S's two-word descriptor) + A - P; the loader fills the descriptor
    /// (see [`Arch::tlsdesc_reloc`]).
    TlsDescPcRelative,
    /// Local-exec TLS: S + A - TP. Not possible in a shared library.
    TpOffset,
    /// A call that enters a TLS descriptor's function through the target's trampoline (ARM
    /// R_ARM_TLS_CALL): TRAMPOLINE + A - P, see [`Arch::tlsdesc_trampoline`].
    TlsDescCall,
}

/// How a computed value must fit its field; checked before anything is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Range {
    /// Any value (the field is as wide as an address, or the arithmetic is modular by
    /// definition, e.g. the `_NC` "no check" forms).
    Any,
    /// The value must fit in this many bits as a signed number.
    Signed(u8),
    /// The value must fit in this many bits as an unsigned number.
    Unsigned(u8),
    /// The value must fit in this many bits either as signed or as unsigned (x86-64 R_X86_64_32
    /// is unsigned; data directives such as `.long` accept both).
    Either(u8),
}

impl Range {
    /// Whether `value` (computed in 64-bit two's complement) fits.
    pub fn fits(self, value: i64) -> bool {
        match self {
            Range::Any => true,
            Range::Signed(bits) => {
                bits >= 64 || (value >= -(1i64 << (bits - 1)) && value < (1i64 << (bits - 1)))
            }
            Range::Unsigned(bits) => bits >= 64 || (value >= 0 && (value as u64) < (1u64 << bits)),
            Range::Either(bits) => {
                Range::Signed(bits).fits(value) || Range::Unsigned(bits).fits(value)
            }
        }
    }
}

/// Where a relocation writes and how: its width in bytes, the range the value must fit, a
/// right shift applied before storing (e.g. 2 for ARM branch offsets counted in words) and an
/// encoding. [`Encoding::Data`] is a little-endian integer of `size` bytes and is handled by the
/// default [`Arch::write_field`]; anything else is an instruction immediate the target encodes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Field {
    pub size: u8,
    pub range: Range,
    pub encoding: Encoding,
}

impl Field {
    pub const fn data(size: u8, range: Range) -> Field {
        Field {
            size,
            range,
            encoding: Encoding::Data,
        }
    }
}

/// How the bits of a field are laid out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    /// A little-endian integer of `Field::size` bytes.
    Data,
    /// A target-specific instruction encoding, identified by a number the target chooses.
    Insn(u8),
}

/// A classified relocation: what to compute and where to put it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RelocHowto {
    pub expr: RelExpr,
    pub field: Field,
}

/// The access model a TLS code sequence is rewritten to, when the output is a program and the
/// linker knows more than the compiler did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TlsRelaxTo {
    InitialExec,
    LocalExec,
}

/// What rewriting a TLS code sequence left to fill in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TlsRewrite {
    /// What now fills the rewritten code: `RelExpr::TpOffset` (local exec),
    /// `RelExpr::TlsIePcRelative` (initial exec: the GOT slot holding the symbol's TP offset)
    /// or `RelExpr::None`.
    pub howto: RelocHowto,
    /// Offset within the section of the field `howto` writes (it may move: x86-64 GD→LE puts
    /// it 8 bytes later than the TLSGD field).
    pub offset: u64,
    /// The addend to compute `howto` with.
    pub addend: i64,
    /// The relocation that follows this one (the call to `__tls_get_addr`) belongs to the
    /// rewritten sequence and must be ignored.
    pub consumes_next: bool,
}

/// A GOT load rewritten to reach the symbol without the GOT (see
/// [`Arch::relax_got_load_program`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GotLoadRewrite {
    /// What now fills the rewritten instruction: `RelExpr::Absolute` (an immediate, its
    /// range in `howto.field.range`) or `RelExpr::PcRelative`.
    pub howto: RelocHowto,
    /// Offset within the section of the field (x86-64 `jmp foo; nop` moves it one byte back).
    pub offset: u64,
    /// The addend to compute `howto` with.
    pub addend: i64,
}

/// Why a value could not be written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FieldError {
    /// The value does not fit the field's range.
    OutOfRange { value: i64, range: Range },
    /// The value has bits set that the encoding cannot represent (e.g. a misaligned branch).
    Misaligned { value: i64, alignment: u64 },
    /// The relocation's place lies outside its section.
    OutOfBounds,
    /// The instruction at the place is not one this relocation may patch.
    BadInstruction(&'static str),
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FieldError::OutOfRange { value, range } => {
                write!(f, "value {value:#x} is out of range ")?;
                match range {
                    Range::Any => f.write_str("(any)"),
                    Range::Signed(b) => write!(f, "for a signed {b}-bit field"),
                    Range::Unsigned(b) => write!(f, "for an unsigned {b}-bit field"),
                    Range::Either(b) => write!(f, "for a {b}-bit field"),
                }
            }
            FieldError::Misaligned { value, alignment } => {
                write!(f, "value {value:#x} is not a multiple of {alignment}")
            }
            FieldError::OutOfBounds => f.write_str("relocation lies outside its section"),
            FieldError::BadInstruction(what) => write!(f, "unexpected instruction: {what}"),
        }
    }
}

/// The dynamic relocation types the core emits. A target that lacks one (none so far) would
/// make the core report the corresponding construct as unsupported.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DynRelocTypes {
    /// B + A: a position-dependent word in the output itself.
    pub relative: u32,
    /// S: a GOT entry for a data symbol.
    pub glob_dat: u32,
    /// S: a `.got.plt` slot, bound lazily unless BIND_NOW.
    pub jump_slot: u32,
    /// S + A in a full word (x86-64 R_X86_64_64, ARM R_ARM_ABS32).
    pub absolute_word: u32,
    /// TLS module id of S's module.
    pub dtpmod: u32,
    /// Offset of S within its module's TLS block.
    pub dtpoff: u32,
    /// Offset of S from the thread pointer (static TLS).
    pub tpoff: u32,
    /// The address a locally bound IFUNC's resolver (B + A) returns.
    pub irelative: u32,
    /// Copy the imported symbol's initial value into the program (copy relocation).
    pub copy: u32,
}

/// Sizes of the lazy-binding PLT.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PltLayout {
    /// Size of PLT0, the entry that pushes `GOT[1]` and jumps to `GOT[2]`.
    pub header_size: u64,
    /// Size of each per-symbol entry.
    pub entry_size: u64,
    /// Words reserved at the start of `.got.plt` (`GOT[0]` = `_DYNAMIC`, `GOT[1]`, `GOT[2]`).
    pub reserved_got_words: u64,
    /// Alignment of `.plt`.
    pub align: u64,
}

/// Addresses a PLT entry needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PltEntryAddrs {
    /// Address of PLT0.
    pub plt0: u64,
    /// Address of this entry.
    pub entry: u64,
    /// Address of this entry's `.got.plt` slot.
    pub got_slot: u64,
    /// Index of this entry, which is also its index in `.rel[a].plt`.
    pub index: u64,
}

/// A range-extension thunk (veneer) the target wants between a branch and its destination.
/// The core places thunks after layout, in the output section of the branch, and retargets
/// the branch to the thunk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ThunkSpec {
    /// Target-specific kind, passed back to [`Arch::write_thunk`].
    pub kind: u16,
    pub size: u64,
    pub align: u64,
}

/// The symbol facts a target may need to classify or rewrite a relocation.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SymbolFacts {
    /// The symbol resolves within the output (not preemptible, not imported).
    pub binds_locally: bool,
    /// `STT_FUNC` / `STT_GNU_IFUNC`.
    pub is_function: bool,
    /// Undefined and weak: resolves to 0 if nobody defines it.
    pub undefined_weak: bool,
}

/// Everything that differs between targets.
///
/// Implementations are stateless tables plus encoders; the core holds a `&'static dyn Arch`.
pub trait Arch: Sync + Send {
    /// Human-readable name used in messages ("x86-64", "ARM").
    fn name(&self) -> &'static str;
    /// `e_machine`.
    fn machine(&self) -> u16;
    /// ELF class of inputs and outputs.
    fn class(&self) -> ElfClass;
    /// `e_flags` for the output (ARM: EABI version and float ABI).
    fn output_flags(&self, input_flags: &[u32]) -> u32 {
        input_flags.first().copied().unwrap_or(0)
    }
    /// Adjusts `e_flags` once the sections the target merged ([`Arch::merge_sections`]) are
    /// known, as (sh_type, contents) (ARM: the float ABI comes from the merged build
    /// attributes, as GNU ld derives it).
    fn refine_output_flags(&self, flags: u32, _merged: &[(u32, &[u8])]) -> u32 {
        flags
    }
    /// Whether dynamic relocations are RELA (explicit addend) or REL (addend in place).
    fn dynamic_uses_rela(&self) -> bool;
    /// Default `PT_INTERP` for executables.
    fn default_interpreter(&self) -> &'static str;
    /// The `SEARCH_DIR`s of Debian's GNU ld for this target, sysroot-relative: where the
    /// libraries that shared libraries need are looked for after the `-rpath` family.
    fn default_search_dirs(&self) -> &'static [&'static str];
    /// Whether this target is the machine tether runs on: a native GNU ld also searches
    /// `LD_LIBRARY_PATH`, libraries' own run paths and `/etc/ld.so.conf`.
    fn is_native(&self) -> bool;
    /// `PT_INTERP` for an executable whose `e_flags` are `output_flags` (ARM: the soft-float
    /// and hard-float loaders differ).
    fn interpreter_for_flags(&self, _output_flags: u32) -> &'static str {
        self.default_interpreter()
    }
    /// Checks that the inputs' `e_flags` (in input order) may be linked together; on error,
    /// the index of the first offending input and why (ARM: EABI version, float ABIs agree).
    fn check_input_flags(&self, _flags: &[u32]) -> Result<(), (usize, String)> {
        Ok(())
    }
    /// Offset from the thread pointer to the start of the executable's TLS block of
    /// `tls_size` bytes aligned to `tls_align` (TLS variant 2, x86-64: the block ends at TP;
    /// variant 1, ARM: it follows the TCB).
    fn tls_block_offset(&self, tls_size: u64, tls_align: u64) -> i64 {
        let align = tls_align.max(1);
        -(tls_size.div_ceil(align) as i64 * align as i64)
    }
    /// Merges the inputs of an output section whose contents cannot simply be concatenated
    /// (ARM: `.ARM.attributes`); `None` for ordinary sections. Inputs are (object name, bytes).
    fn merge_sections(
        &self,
        _sh_type: u32,
        _inputs: &[(&str, &[u8])],
    ) -> Option<Result<Vec<u8>, String>> {
        None
    }
    /// A program header type that must cover every output section of type `sh_type`
    /// (ARM: PT_ARM_EXIDX over `.ARM.exidx`).
    fn section_phdr(&self, _sh_type: u32) -> Option<u32> {
        None
    }
    /// Bytes the target appends to an output section of type `sh_type` after its inputs,
    /// given the number of executable output sections (ARM: `.ARM.exidx` entries that mark
    /// code without unwind information). Filled by [`Arch::finalize_section`].
    fn section_tail(&self, _sh_type: u32, _code_sections: usize) -> u64 {
        0
    }
    /// Rewrites a section's final contents (at `addr`) once relocated (ARM: completes and
    /// sorts `.ARM.exidx`). `code` holds the (address, size) of every executable output
    /// section, in address order.
    fn finalize_section(
        &self,
        _sh_type: u32,
        _data: &mut [u8],
        _addr: u64,
        _code: &[(u64, u64)],
    ) -> Result<(), String> {
        Ok(())
    }
    /// Page size used to align segments.
    fn page_size(&self) -> u64 {
        0x1000
    }
    /// Where a fixed-address program starts (GNU ld's default `-Ttext-segment`).
    fn default_image_base(&self) -> u64;
    /// Whether code gets pages of its own by default (GNU ld's `-z separate-code`: x86-64
    /// yes, four load segments; ARM no, two).
    fn separate_code_by_default(&self) -> bool {
        false
    }

    /// The relocation's name, for messages (e.g. "R_X86_64_PC32"); `None` if unknown.
    fn reloc_name(&self, r_type: u32) -> Option<&'static str>;
    /// Classifies an input relocation; `None` if tether does not support it (an error naming it).
    fn classify(&self, r_type: u32) -> Option<RelocHowto>;
    /// Reads the addend stored in the field (REL inputs). RELA targets never call this.
    fn implicit_addend(&self, _howto: &RelocHowto, _site: &[u8]) -> Result<i64, FieldError> {
        Ok(0)
    }
    /// Stores `addend` as the implicit addend of the field at the start of `site`, as
    /// [`Arch::implicit_addend`] reads it back (REL targets; a relocatable output moves
    /// section-symbol references). RELA targets never call this.
    fn write_implicit_addend(
        &self,
        _howto: &RelocHowto,
        _site: &mut [u8],
        _addend: i64,
    ) -> Result<(), FieldError> {
        Err(FieldError::BadInstruction(
            "this target keeps addends in its relocations",
        ))
    }
    /// Writes `value` into the field at the start of `site`, checking its range first.
    /// The default handles [`Encoding::Data`]; targets override for instruction encodings
    /// and delegate the rest to [`write_data_field`].
    fn write_field(
        &self,
        howto: &RelocHowto,
        site: &mut [u8],
        value: i64,
    ) -> Result<(), FieldError> {
        write_data_field(&howto.field, site, value)
    }
    /// Offers to rewrite a GOT-indirect access into a direct one because the symbol binds
    /// locally. `section` is the whole input section (the opcode precedes the field at
    /// `offset`). Returns the expression to use instead when the instruction was rewritten.
    fn relax_got_load(
        &self,
        _r_type: u32,
        _section: &mut [u8],
        _offset: usize,
    ) -> Option<RelocHowto> {
        None
    }

    /// Rewrites a GOT load in a program (x86-64 GOTPCRELX / REX_GOTPCRELX) to reach the
    /// symbol directly, as GNU ld does; the core calls it only when the symbol binds locally
    /// and is not an IFUNC. `addend` is the relocation's addend. `absolute` is the symbol's
    /// address when the output has a fixed address (`-no-pie`, `-static`): then
    /// `mov`/`test`/`adc`/`add`/`and`/`cmp`/`or`/`sbb`/`sub`/`xor` through the GOT become
    /// their immediate forms (an [`RelExpr::Absolute`] 32-bit field), when the address fits.
    /// Otherwise (`None`, or an address that does not fit) `mov` becomes `lea` and
    /// `call`/`jmp` become direct (PC-relative fields). `None`: the instruction is left as it
    /// is (the core keeps the GOT entry).
    fn relax_got_load_program(
        &self,
        _r_type: u32,
        _section: &mut [u8],
        _offset: u64,
        _addend: i64,
        _absolute: Option<u64>,
    ) -> Option<GotLoadRewrite> {
        None
    }

    /// Rewrites the TLS code sequence around relocation `r_type` at `offset` of `section`
    /// (the whole input section's bytes, a copy the core owns) to the model `to`. `addend` is
    /// the relocation's addend (REL targets: the implicit addend [`Arch::implicit_addend`]
    /// read); `next` is the type and offset of the relocation that follows it in the
    /// section, if any. `None`: `r_type` is not a TLS form this target relaxes to `to` (the
    /// core then keeps the original model). `Some(Err(why))`: the code around the relocation
    /// is not a sequence the target knows how to rewrite (the core reports it, as GNU ld's
    /// "TLS transition from R_X86_64_TLSGD to R_X86_64_GOTTPOFF against `x' ... failed");
    /// the section is then unchanged.
    fn relax_tls(
        &self,
        _r_type: u32,
        _to: TlsRelaxTo,
        _section: &mut [u8],
        _offset: u64,
        _addend: i64,
        _next: Option<(u32, u64)>,
    ) -> Option<Result<TlsRewrite, String>> {
        None
    }
    /// Whether local-dynamic sequences are relaxed to local exec in programs, so that a
    /// DTPOFF in code becomes a TP offset.
    fn relaxes_local_dynamic(&self) -> bool {
        false
    }

    /// Dynamic relocation type numbers.
    fn dyn_reloc_types(&self) -> DynRelocTypes;
    /// The dynamic relocation that fills a TLS descriptor (x86-64 R_X86_64_TLSDESC, ARM
    /// R_ARM_TLS_DESC), if the target supports descriptors. tether resolves descriptors at
    /// load time (in `.rel[a].dyn`), never lazily.
    fn tlsdesc_reloc(&self) -> Option<u32> {
        None
    }

    /// The mapping symbol (`$a`, `$t` on ARM) at the start of a thunk of this kind, if the
    /// target uses mapping symbols. Its name must be one of [`Arch::mapping_symbol_names`].
    fn thunk_mapping_symbol(&self, _spec: &ThunkSpec) -> Option<&'static str> {
        None
    }

    /// Every mapping symbol name the target may write into `.symtab`.
    fn mapping_symbol_names(&self) -> &'static [&'static str] {
        &[]
    }

    /// Whether glibc accepts an IRELATIVE relocation among the PLT relocations (x86-64 does;
    /// ARM's loader rejects it there): otherwise a locally bound IFUNC's PLT entry comes after
    /// the others and its slot's IRELATIVE goes to `.rel.dyn`.
    fn irelative_in_plt_relocs(&self) -> bool {
        false
    }

    /// Whether `-z nodynamic-undefined-weak` resolves undefined weak symbols to 0 at link
    /// time (GNU ld's x86 targets); elsewhere GNU ld accepts the keywords and keeps them
    /// dynamic.
    fn weak_undefined_may_be_static(&self) -> bool {
        false
    }

    /// Whether the inputs' x86 `.note.gnu.property` properties are merged into the output
    /// ([`crate::gnu_property`]).
    fn has_x86_properties(&self) -> bool {
        false
    }

    /// Mapping symbols (`$a`, `$t`, `$d` on ARM) that tell disassemblers what `.plt` holds:
    /// (offset in `.plt`, name), in order. Default: none.
    fn plt_mapping_symbols(&self) -> &'static [(u32, &'static str)] {
        &[]
    }

    /// Where, as an offset into `.plt`, the target keeps the trampoline that
    /// [`RelExpr::TlsDescCall`] branches to (with bit 0 set for a Thumb trampoline); `None`
    /// when the target's TLS descriptor calls need none.
    fn tlsdesc_trampoline(&self) -> Option<u64> {
        None
    }
    /// Size of a GOT entry (an address).
    fn got_entry_size(&self) -> u64 {
        self.class().word_size()
    }
    /// PLT geometry.
    fn plt_layout(&self) -> PltLayout;
    /// Writes PLT0 (`buf.len() == header_size`).
    fn write_plt_header(&self, buf: &mut [u8], plt0: u64, got_plt: u64) -> Result<(), FieldError>;
    /// Writes one PLT entry (`buf.len() == entry_size`).
    fn write_plt_entry(&self, buf: &mut [u8], addrs: PltEntryAddrs) -> Result<(), FieldError>;
    /// Initial content of a lazily bound `.got.plt` slot (x86-64: the entry's push, entry + 6;
    /// ARM: PLT0). The loader adds the load bias.
    fn lazy_slot_value(&self, addrs: PltEntryAddrs) -> u64;
    /// Size of a `.plt.got` entry ([`crate::plt_got`]); `None`: the target has none.
    fn plt_got_entry_size(&self) -> Option<u64> {
        None
    }
    /// Whether the target has an IBT-enabled PLT form ([`crate::ibt_plt`]).
    fn has_ibt_plt(&self) -> bool {
        false
    }
    /// Writes the IBT form of lazy PLT entry (`buf.len() == entry_size`): where its slot
    /// points until bound.
    fn write_ibt_plt_entry(
        &self,
        _buf: &mut [u8],
        _addrs: PltEntryAddrs,
    ) -> Result<(), FieldError> {
        Err(FieldError::OutOfBounds)
    }
    /// Writes a 16-byte IBT `.plt.sec`/`.plt.got` entry at `entry` jumping through `slot`.
    fn write_ibt_branch_entry(
        &self,
        _buf: &mut [u8],
        _entry: u64,
        _slot: u64,
    ) -> Result<(), FieldError> {
        Err(FieldError::OutOfBounds)
    }
    /// Writes a `.plt.got` entry at `entry` that jumps through the GOT entry at `slot`.
    fn write_plt_got_entry(
        &self,
        _buf: &mut [u8],
        _entry: u64,
        _slot: u64,
    ) -> Result<(), FieldError> {
        Err(FieldError::OutOfBounds)
    }

    /// Whether [`Arch::needs_thunk`] can ever ask for one: a target without thunks skips the
    /// after-layout walk over every branch.
    fn has_thunks(&self) -> bool {
        false
    }
    /// Called after layout for every [`RelExpr::Plt`] relocation (see `thunks.rs`): returns a
    /// thunk when the branch at `place` cannot reach `dest` (or must change state in a way its
    /// instruction cannot). `dest` is where the branch goes before its addend: the symbol's
    /// PLT entry or the symbol, with bit 0 set for a Thumb destination. Default: no thunks.
    fn needs_thunk(
        &self,
        _r_type: u32,
        _place: u64,
        _dest: u64,
        _facts: SymbolFacts,
    ) -> Option<ThunkSpec> {
        None
    }
    /// Writes a thunk at `addr` that transfers to `dest`.
    fn write_thunk(
        &self,
        _spec: &ThunkSpec,
        _buf: &mut [u8],
        _addr: u64,
        _dest: u64,
    ) -> Result<(), FieldError> {
        Err(FieldError::BadInstruction("this target has no thunks"))
    }
}

/// Stores a little-endian data field after checking its range. Shared by every target.
pub fn write_data_field(field: &Field, site: &mut [u8], value: i64) -> Result<(), FieldError> {
    let size = usize::from(field.size);
    let bytes = site.get_mut(..size).ok_or(FieldError::OutOfBounds)?;
    if !field.range.fits(value) {
        return Err(FieldError::OutOfRange {
            value,
            range: field.range,
        });
    }
    bytes.copy_from_slice(&value.to_le_bytes()[..size]);
    Ok(())
}

/// Reads a little-endian data field as a sign-extended value (implicit addends of data words).
pub fn read_data_field(field: &Field, site: &[u8]) -> Result<i64, FieldError> {
    let size = usize::from(field.size);
    if size == 0 {
        // R_ARM_NONE, R_ARM_V4BX: no field, no addend.
        return Ok(0);
    }
    let bytes = site.get(..size).ok_or(FieldError::OutOfBounds)?;
    let mut raw = [0u8; 8];
    raw[..size].copy_from_slice(bytes);
    let value = u64::from_le_bytes(raw);
    let shift = 64 - 8 * size as u32;
    Ok(((value << shift) as i64) >> shift)
}

/// The target for an input's `e_machine`, if tether supports it.
pub fn for_machine(machine: u16) -> Option<&'static dyn Arch> {
    match object::elf::Machine(machine) {
        object::elf::EM_X86_64 => Some(&x86_64::X86_64),
        object::elf::EM_ARM => Some(&arm::Arm),
        _ => None,
    }
}
