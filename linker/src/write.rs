//! Producing the output image: input sections copied and relocated (in parallel, one task
//! per output section), synthetic sections encoded for the target's ELF class, headers, and
//! finally an atomic write (temporary file in the same directory, then rename) so a failed
//! link never leaves a partial file or clobbers the previous output.

use crate::dynamic::DynPlan;
use crate::error::{sym_name, LinkError, Result};
use crate::got_plt::Target;
use crate::layout::{Content, Layout, OutSection, Synth};
use crate::link::Link;
use crate::object_file::SymPlace;
use crate::relocate::{self, DynReloc};
use crate::scan::RelocAction;
use crate::symbols::Def;
use object::elf;
use rayon::prelude::*;

/// Little-endian field writer that follows the ELF class for address-sized fields.
struct Put<'a> {
    buf: &'a mut [u8],
    is64: bool,
}

impl Put<'_> {
    fn u8(&mut self, at: usize, v: u8) {
        self.buf[at] = v;
    }
    fn u16(&mut self, at: usize, v: u16) {
        self.buf[at..at + 2].copy_from_slice(&v.to_le_bytes());
    }
    fn u32(&mut self, at: usize, v: u32) {
        self.buf[at..at + 4].copy_from_slice(&v.to_le_bytes());
    }
    fn u64(&mut self, at: usize, v: u64) {
        self.buf[at..at + 8].copy_from_slice(&v.to_le_bytes());
    }
    /// An address-sized field; returns its width.
    fn word(&mut self, at: usize, v: u64) -> usize {
        if self.is64 {
            self.u64(at, v);
            8
        } else {
            self.u32(at, v as u32);
            4
        }
    }
}

/// The `.dynamic` entries. Without a layout, addresses are 0 (used to size the section).
pub fn dynamic_entries(link: &Link, plan: &DynPlan, layout: Option<&Layout>) -> Vec<(i64, u64)> {
    let addr = |s: Synth| layout.map(|l| l.addr_of(s)).unwrap_or(0);
    let size = |s: Synth| {
        layout
            .and_then(|l| l.find(s))
            .map(|(_, o)| o.size)
            .unwrap_or(0)
    };
    let present = |s: Synth| layout.is_none_or(|l| l.find(s).is_some());
    let rela = link.arch.dynamic_uses_rela();
    let is64 = link.arch.class() == crate::arch::ElfClass::Elf64;
    let mut d: Vec<(i64, u64)> = Vec::new();
    for &n in &plan.needed {
        d.push((elf::DT_NEEDED.0, u64::from(n)));
    }
    if let Some(s) = plan.soname {
        d.push((elf::DT_SONAME.0, u64::from(s)));
    }
    if let Some(r) = plan.runpath {
        d.push((
            if link.opts.new_dtags {
                elf::DT_RUNPATH.0
            } else {
                elf::DT_RPATH.0
            },
            u64::from(r),
        ));
    }
    for (s, tag) in [
        (plan.audit, elf::DT_AUDIT.0),
        (plan.depaudit, elf::DT_DEPAUDIT.0),
    ] {
        if let Some(s) = s {
            d.push((tag, u64::from(s)));
        }
    }
    for (name, tag) in [
        (&link.opts.init, elf::DT_INIT.0),
        (&link.opts.fini, elf::DT_FINI.0),
    ] {
        if let Some(id) = link.symtab.lookup(name.as_bytes()) {
            if link.symtab.get(id).is_defined() {
                let a = layout
                    .map(|l| relocate::target_address(link, l, Target::Global(id)))
                    .unwrap_or(0);
                d.push((tag, a));
            }
        }
    }
    for (name, tag, sztag) in [
        (
            &b".preinit_array"[..],
            elf::DT_PREINIT_ARRAY.0,
            elf::DT_PREINIT_ARRAYSZ.0,
        ),
        (
            &b".init_array"[..],
            elf::DT_INIT_ARRAY.0,
            elf::DT_INIT_ARRAYSZ.0,
        ),
        (
            &b".fini_array"[..],
            elf::DT_FINI_ARRAY.0,
            elf::DT_FINI_ARRAYSZ.0,
        ),
    ] {
        let found = link.objects.iter().any(|o| {
            o.sections
                .iter()
                .any(|s| s.live && s.name.starts_with(name))
        });
        if found {
            let sec = layout.and_then(|l| l.by_name(name));
            d.push((tag, sec.map(|s| s.addr).unwrap_or(0)));
            d.push((sztag, sec.map(|s| s.size).unwrap_or(0)));
        }
    }
    if plan.sysv_hash.is_some() {
        d.push((elf::DT_HASH.0, addr(Synth::Hash)));
    }
    if plan.gnu_hash.is_some() {
        d.push((elf::DT_GNU_HASH.0, addr(Synth::GnuHash)));
    }
    d.push((elf::DT_STRTAB.0, addr(Synth::DynStr)));
    d.push((elf::DT_SYMTAB.0, addr(Synth::DynSym)));
    d.push((elf::DT_STRSZ.0, plan.dynstr.bytes.len() as u64));
    d.push((elf::DT_SYMENT.0, if is64 { 24 } else { 16 }));
    if link.kind.is_program() {
        // The loader points it at its debugger interface (r_debug).
        d.push((elf::DT_DEBUG.0, 0));
    }
    d.push((elf::DT_PLTGOT.0, addr(Synth::GotPlt)));
    let relsize: u64 = match (is64, rela) {
        (true, true) => 24,
        (true, false) => 16,
        (false, true) => 12,
        (false, false) => 8,
    };
    if link.plt.relocated_in_plt > 0 {
        d.push((
            elf::DT_PLTRELSZ.0,
            link.plt.relocated_in_plt as u64 * relsize,
        ));
        d.push((
            elf::DT_PLTREL.0,
            if rela {
                elf::DT_RELA.0 as u64
            } else {
                elf::DT_REL.0 as u64
            },
        ));
        d.push((elf::DT_JMPREL.0, addr(Synth::RelaPlt)));
    }
    if plan.reladyn_count > 0 && present(Synth::RelaDyn) {
        let (t, sz, ent) = if rela {
            (elf::DT_RELA.0, elf::DT_RELASZ.0, elf::DT_RELAENT.0)
        } else {
            (elf::DT_REL.0, elf::DT_RELSZ.0, elf::DT_RELENT.0)
        };
        d.push((t, addr(Synth::RelaDyn)));
        d.push((sz, size(Synth::RelaDyn).max(plan.reladyn_count * relsize)));
        d.push((ent, relsize));
    }
    if link.relr.count > 0 {
        d.push((elf::DT_RELR.0, addr(Synth::RelrDyn)));
        d.push((elf::DT_RELRSZ.0, size(Synth::RelrDyn)));
        d.push((elf::DT_RELRENT.0, link.arch.class().word_size()));
    }
    let mut flags = link.opts.dt_flags;
    let mut flags1 = link.opts.dt_flags_1;
    if plan.textrel {
        d.push((elf::DT_TEXTREL.0, 0));
        flags |= elf::DF_TEXTREL.0;
    }
    if link.opts.bsymbolic {
        flags |= elf::DF_SYMBOLIC.0;
    }
    if link.opts.now {
        flags |= elf::DF_BIND_NOW.0;
        flags1 |= elf::DF_1_NOW.0;
    }
    if link.opts.nodelete {
        flags1 |= elf::DF_1_NODELETE.0;
    }
    if link.kind.is_program() && link.kind.is_pic() {
        flags1 |= elf::DF_1_PIE.0;
    }
    if flags != 0 {
        d.push((elf::DT_FLAGS.0, flags));
    }
    if flags1 != 0 {
        d.push((elf::DT_FLAGS_1.0, flags1));
    }
    if !plan.verdef.is_empty() {
        d.push((elf::DT_VERDEF.0, addr(Synth::VerDef)));
        d.push((elf::DT_VERDEFNUM.0, plan.verdef.len() as u64));
    }
    if !plan.verneed.is_empty() {
        d.push((elf::DT_VERNEED.0, addr(Synth::VerNeed)));
        d.push((elf::DT_VERNEEDNUM.0, plan.verneed.len() as u64));
    }
    if !plan.verneed.is_empty() || !plan.verdef.is_empty() {
        d.push((elf::DT_VERSYM.0, addr(Synth::VerSym)));
    }
    d.push((
        if rela {
            elf::DT_RELACOUNT.0
        } else {
            elf::DT_RELCOUNT.0
        },
        0,
    ));
    d.push((elf::DT_NULL.0, 0));
    d
}

/// Splits the image into one mutable slice per output section with file contents.
fn section_slices<'a>(image: &'a mut [u8], layout: &Layout) -> Vec<(usize, &'a mut [u8])> {
    let mut order: Vec<usize> = (0..layout.sections.len())
        .filter(|&i| !layout.sections[i].is_nobits())
        .collect();
    order.sort_by_key(|&i| layout.sections[i].offset);
    let mut out = Vec::with_capacity(order.len());
    let mut rest: &mut [u8] = image;
    let mut consumed = 0u64;
    for i in order {
        let s = &layout.sections[i];
        let skip = (s.offset - consumed) as usize;
        let tail = std::mem::take(&mut rest);
        let (_, tail) = tail.split_at_mut(skip);
        let (mine, tail) = tail.split_at_mut(s.size as usize);
        out.push((i, mine));
        rest = tail;
        consumed = s.offset + s.size;
    }
    out
}

/// Neighbouring input sections of one output section, with the bytes they are written to.
struct Chunk<'a> {
    /// (object, section, offset of its bytes in `buf`, size).
    inputs: Vec<(u32, u32, usize, usize)>,
    buf: &'a mut [u8],
    /// Address of `buf[0]`.
    addr: u64,
}

/// Bytes per chunk: large enough that scheduling costs nothing next to relocating, small
/// enough that one big `.text` spreads over every core.
const CHUNK_BYTES: usize = 256 << 10;

/// Splits the image's input-section bytes into disjoint chunks that can be written in
/// parallel.
fn input_chunks<'a>(link: &Link, layout: &Layout, image: &'a mut [u8]) -> Result<Vec<Chunk<'a>>> {
    let mut chunks = Vec::new();
    for (i, buf) in section_slices(image, layout) {
        let Content::Inputs(list) = &layout.sections[i].content else {
            continue;
        };
        let inputs = placed_inputs(link, layout, list);
        let overlap = inputs.windows(2).any(|w| w[0].2 + w[0].3 > w[1].2);
        if overlap
            || inputs
                .last()
                .is_some_and(|&(_, _, off, size)| off + size > buf.len())
        {
            return Err(LinkError::Other(format!(
                "internal error: input sections overlap in {}",
                sym_name(&layout.sections[i].name)
            )));
        }
        split_into_chunks(&inputs, buf, layout.sections[i].addr, &mut chunks);
    }
    Ok(chunks)
}

/// The inputs of an output section that have bytes of their own, as (object, section,
/// offset, size), in offset order.
fn placed_inputs(
    link: &Link,
    layout: &Layout,
    list: &[(u32, u32)],
) -> Vec<(u32, u32, usize, usize)> {
    let mut inputs = Vec::with_capacity(list.len());
    for &(f, s) in list {
        let Some((_, off)) = layout.placement[f as usize][s as usize] else {
            continue;
        };
        let sec = &link.objects[f as usize].sections[s as usize];
        if sec.sh_type == elf::SHT_NOBITS.0 {
            continue;
        }
        let size = match link.merged.group_of(f as usize, s as usize) {
            Some(g) if g.representative == (f, s) => g.data.len(),
            Some(_) => continue,
            None => link
                .eh_frames
                .size(f as usize, s as usize)
                .unwrap_or(sec.size) as usize,
        };
        inputs.push((f, s, off as usize, size));
    }
    inputs.sort_by_key(|&(_, _, off, _)| off);
    inputs
}

/// Cuts `buf` (an output section at `addr`) into chunks of about [`CHUNK_BYTES`] of input:
/// each starts at an input (the first at the section's start) and ends where the next begins.
fn split_into_chunks<'a>(
    inputs: &[(u32, u32, usize, usize)],
    buf: &'a mut [u8],
    addr: u64,
    chunks: &mut Vec<Chunk<'a>>,
) {
    let mut starts = Vec::new();
    let mut bytes = 0;
    for (n, &(_, _, _, size)) in inputs.iter().enumerate() {
        if n == 0 || bytes >= CHUNK_BYTES {
            starts.push(n);
            bytes = 0;
        }
        bytes += size;
    }
    let total = buf.len();
    let mut rest = buf;
    for (k, &first) in starts.iter().enumerate() {
        let from = if k == 0 { 0 } else { inputs[first].2 };
        let next = starts.get(k + 1).copied();
        let to = next.map_or(total, |n| inputs[n].2);
        let (mine, tail) = std::mem::take(&mut rest).split_at_mut(to - from);
        rest = tail;
        let members = &inputs[first..next.unwrap_or(inputs.len())];
        chunks.push(Chunk {
            inputs: members
                .iter()
                .map(|&(f, s, off, size)| (f, s, off - from, size))
                .collect(),
            buf: mine,
            addr: addr + from as u64,
        });
    }
}

fn relocate_chunk(cx: relocate::RelocContext, chunk: Chunk) -> (Vec<DynReloc>, Vec<String>) {
    let mut dynrel = Vec::new();
    let mut errors = Vec::new();
    for &(f, s, start, size) in &chunk.inputs {
        relocate::relocate_section(
            cx,
            f as usize,
            s as usize,
            &mut chunk.buf[start..start + size],
            chunk.addr + start as u64,
            &mut dynrel,
            &mut errors,
        );
    }
    (dynrel, errors)
}

pub fn write_image(
    link: &Link,
    plan: &DynPlan,
    layout: &Layout,
    actions: &[Vec<Vec<RelocAction>>],
    addrs: &crate::addresses::Addresses,
    image: &mut [u8],
) -> Result<()> {
    let arch = link.arch;
    let is64 = arch.class() == crate::arch::ElfClass::Elf64;
    let word = arch.class().word_size();

    // Input sections, copied and relocated in parallel, in chunks of neighbouring inputs.
    let cx = relocate::RelocContext {
        link,
        layout,
        dynsym: &plan.dynsym_index,
        actions,
        addrs,
    };
    let inputs_phase = crate::timing::phase("write: input sections");
    let results: Vec<(Vec<DynReloc>, Vec<String>)> = input_chunks(link, layout, image)?
        .into_par_iter()
        .map(|chunk| relocate_chunk(cx, chunk))
        .collect();
    drop(inputs_phase);
    let dynamic_phase = crate::timing::phase("write: dynamic relocations");
    let mut dynrel = Vec::new();
    let mut errors = Vec::new();
    for (d, e) in results {
        dynrel.extend(d);
        errors.extend(e);
    }
    if !errors.is_empty() {
        return Err(LinkError::Many(errors));
    }
    crate::layout::write_script_data(layout, image);
    if let Some((_, got)) = layout.find(Synth::Got) {
        let (o, n) = (got.offset as usize, got.size as usize);
        relocate::fill_got(
            link,
            layout,
            &plan.dynsym_index,
            &mut image[o..o + n],
            &mut dynrel,
        );
    }
    // PLT slots whose relocation is not among the PLT relocations (see `Plt::move_to_end`).
    for n in link.plt.relocated_in_plt..link.plt.len() {
        dynrel.push(plt_slot_reloc(link, layout, plan, n));
    }
    dynrel.extend(copy_relocs(link, layout, plan));
    // Counted from the same records the relocations were produced from.
    debug_assert_eq!(dynrel.len() as u64, plan.reladyn_count);
    // RELATIVE first, as combreloc does, so DT_RELACOUNT can tell the loader; IRELATIVE last,
    // so that a resolver runs after everything else is relocated.
    let irelative = arch.dyn_reloc_types().irelative;
    dynrel.sort_by_key(|r| {
        let class = if relocate::is_relative(link, r.r_type) {
            0
        } else if r.r_type == irelative {
            2
        } else {
            1
        };
        (class, r.offset)
    });
    let relative_count = dynrel
        .iter()
        .filter(|r| relocate::is_relative(link, r.r_type))
        .count() as u64;

    drop(dynamic_phase);
    let synthetic_phase = crate::timing::phase("write: synthetic sections");
    let synthetic = SyntheticContext {
        link,
        plan,
        layout,
        actions,
        dynrel: &dynrel,
        relative_count,
        addrs,
    };
    // Each synthetic section is its own slice of the image, so they are written in parallel;
    // `.eh_frame_hdr` too, from `.eh_frame` (input sections, written by now).
    let mut slices = section_slices(image, layout);
    let eh_frame: Option<(u64, &[u8])> = slices
        .iter()
        .position(|&(i, _)| {
            let s = &layout.sections[i];
            s.name == b".eh_frame" && matches!(s.content, Content::Inputs(_))
        })
        .map(|at| {
            let (i, bytes) = slices.swap_remove(at);
            (layout.sections[i].addr, &*bytes)
        });
    slices
        .into_par_iter()
        .filter_map(|(i, buf)| match layout.sections[i].content {
            Content::Synthetic(kind) => Some((kind, &layout.sections[i], buf)),
            Content::Inputs(_) => None,
        })
        .try_for_each(|(kind, s, buf)| match (kind, eh_frame) {
            (Synth::EhFrameHdr, Some((eh_addr, eh))) => {
                let built = crate::eh_frame_hdr::build(eh, eh_addr, s.addr, buf.len(), word as u8)
                    .map_err(|e| LinkError::Other(format!(".eh_frame: {e}")))?;
                buf.copy_from_slice(&built);
                Ok(())
            }
            _ => synthetic.write(kind, s, buf),
        })?;

    let mut put = Put { buf: image, is64 };
    write_headers(link, plan, layout, &mut put);
    drop(synthetic_phase);
    let _tail = crate::timing::phase("write: finish (build-id)");

    let code: Vec<(u64, u64)> = layout
        .sections
        .iter()
        .filter(|s| s.is_alloc_code())
        .map(|s| (s.addr, s.size))
        .collect();
    for s in layout
        .sections
        .iter()
        .filter(|s| s.is_alloc() && !s.is_nobits())
    {
        let range = s.offset as usize..(s.offset + s.size) as usize;
        arch.finalize_section(s.sh_type, &mut image[range], s.addr, &code)
            .map_err(LinkError::Other)?;
    }

    if let (Some((_, note)), Some(style)) = (layout.find(Synth::BuildId), &link.opts.build_id) {
        // Hashed as ld.bfd does, with the whole note still zero, then filled in.
        let (o, n) = (note.offset as usize, note.size as usize);
        let chunks = crate::build_id::elf_checksum_chunks(image).ok_or_else(|| {
            LinkError::Other("internal error: output headers out of bounds".into())
        })?;
        let refs: Vec<&[u8]> = chunks.iter().map(|c| c.as_ref()).collect();
        let id = crate::build_id::build_id(style, &refs);
        let bytes = crate::build_id::note_section(&id);
        image[o..o + n].copy_from_slice(&bytes);
    }
    Ok(())
}

/// What the synthetic sections are written from.
struct SyntheticContext<'a, 'd> {
    link: &'a Link<'d>,
    plan: &'a DynPlan,
    layout: &'a Layout,
    actions: &'a [Vec<Vec<RelocAction>>],
    /// `.rela.dyn`/`.rel.dyn`, in output order.
    dynrel: &'a [DynReloc],
    relative_count: u64,
    addrs: &'a crate::addresses::Addresses,
}

impl SyntheticContext<'_, '_> {
    /// Writes synthetic section `s` (of kind `kind`) into `buf`, its bytes in the image.
    fn write(&self, kind: Synth, s: &crate::layout::OutSection, buf: &mut [u8]) -> Result<()> {
        let SyntheticContext {
            link,
            plan,
            layout,
            actions,
            dynrel,
            relative_count,
            addrs,
        } = *self;
        let arch = link.arch;
        let is64 = arch.class() == crate::arch::ElfClass::Elf64;
        let word = arch.class().word_size();
        let rela = arch.dynamic_uses_rela();
        let mut put = Put { buf, is64 };
        match kind {
            Synth::Hash => put.buf[..].copy_from_slice(plan.sysv_hash.as_deref().unwrap_or(&[])),
            Synth::GnuHash => put.buf[..].copy_from_slice(plan.gnu_hash.as_deref().unwrap_or(&[])),
            Synth::DynStr => put.buf[..].copy_from_slice(&plan.dynstr.bytes),
            Synth::DynSym => write_dynsym(link, (plan, layout, addrs), put.buf, is64),
            Synth::VerSym => {
                for (n, v) in plan.versym.iter().enumerate() {
                    put.u16(2 * n, *v);
                }
            }
            Synth::VerNeed => {
                let mut p = 0;
                for (n, vn) in plan.verneed.iter().enumerate() {
                    let next = if n + 1 == plan.verneed.len() {
                        0
                    } else {
                        16 + 16 * vn.versions.len() as u32
                    };
                    put.u16(p, 1);
                    put.u16(p + 2, vn.versions.len() as u16);
                    put.u32(p + 4, vn.file);
                    put.u32(p + 8, 16);
                    put.u32(p + 12, next);
                    p += 16;
                    for (k, v) in vn.versions.iter().enumerate() {
                        put.u32(p, v.hash);
                        put.u16(p + 4, 0);
                        put.u16(p + 6, v.index);
                        put.u32(p + 8, v.name);
                        put.u32(p + 12, if k + 1 == vn.versions.len() { 0 } else { 16 });
                        p += 16;
                    }
                }
            }
            Synth::VerDef => {
                let mut p = 0;
                for (n, vd) in plan.verdef.iter().enumerate() {
                    let naux = if vd.parent.is_some() { 2 } else { 1 };
                    let size = 20 + 8 * naux;
                    put.u16(p, 1);
                    put.u16(
                        p + 2,
                        if vd.index == 1 {
                            elf::VER_FLG_BASE.0
                        } else {
                            0
                        },
                    );
                    put.u16(p + 4, vd.index);
                    put.u16(p + 6, naux as u16);
                    put.u32(p + 8, vd.hash);
                    put.u32(p + 12, 20);
                    put.u32(
                        p + 16,
                        if n + 1 == plan.verdef.len() {
                            0
                        } else {
                            size as u32
                        },
                    );
                    put.u32(p + 20, vd.name);
                    put.u32(p + 24, if naux == 2 { 8 } else { 0 });
                    if let Some(parent) = vd.parent {
                        put.u32(p + 28, parent);
                        put.u32(p + 32, 0);
                    }
                    p += size;
                }
            }
            Synth::RelaDyn => {
                let mut p = 0;
                for r in dynrel {
                    p += put_dyn_reloc(&mut put, p, r, rela);
                }
            }
            Synth::PltSec => {
                let buf = &mut put.buf[..];
                crate::ibt_plt::write_sec(link, layout, buf).map_err(LinkError::Other)?;
            }
            Synth::PltGot => {
                let buf = &mut put.buf[..];
                crate::plt_got::contents(link, layout, s.addr, buf).map_err(LinkError::Other)?;
            }
            Synth::RelrDyn => {
                let buf = &mut put.buf[..];
                crate::relr::contents(link, layout, actions, buf).map_err(LinkError::Other)?;
            }
            Synth::RelaPlt => {
                let mut p = 0;
                for n in 0..link.plt.relocated_in_plt {
                    p += put_dyn_reloc(&mut put, p, &plt_slot_reloc(link, layout, plan, n), rela);
                }
            }
            Synth::Plt => {
                let pl = arch.plt_layout();
                let gotplt = layout.addr_of(Synth::GotPlt);
                let h = pl.header_size as usize;
                let buf = &mut put.buf[..];
                arch.write_plt_header(&mut buf[..h], s.addr, gotplt)
                    .map_err(|e| LinkError::Other(format!(".plt: {e}")))?;
                for n in 0..link.plt.len() {
                    let e0 = h + n * pl.entry_size as usize;
                    let addrs = plt_addrs(link, layout, n);
                    let entry = &mut buf[e0..e0 + pl.entry_size as usize];
                    let written = if link.plt.ibt {
                        arch.write_ibt_plt_entry(entry, addrs)
                    } else {
                        arch.write_plt_entry(entry, addrs)
                    };
                    written.map_err(|e| LinkError::Other(format!(".plt: {e}")))?;
                }
            }
            Synth::GotPlt => {
                put.word(0, layout.addr_of(Synth::Dynamic));
                let reserved = arch.plt_layout().reserved_got_words as usize;
                for (n, &target) in link.plt.symbols.iter().enumerate() {
                    // REL targets read an IRELATIVE's addend, the resolver, from the slot.
                    let v = if link.plt.is_local_ifunc(n) {
                        relocate::target_address(link, layout, target)
                    } else {
                        let addrs = plt_addrs(link, layout, n);
                        // The IBT form's lazy entry is entered at its `endbr64`.
                        match link.plt.ibt {
                            true => addrs.entry,
                            false => arch.lazy_slot_value(addrs),
                        }
                    };
                    put.word((reserved + n) * word as usize, v);
                }
            }
            Synth::Dynamic => {
                let mut p = 0;
                for (tag, val) in dynamic_entries(link, plan, Some(layout)) {
                    let val = if tag == elf::DT_RELACOUNT.0 || tag == elf::DT_RELCOUNT.0 {
                        relative_count
                    } else {
                        val
                    };
                    p += put.word(p, tag as u64);
                    p += put.word(p, val);
                }
            }
            Synth::SymTab => {
                let buf = &mut put.buf[..];
                crate::symtab::write(link, (layout, addrs), &plan.symtab, buf, is64);
            }
            Synth::StrTab => put.buf[..].copy_from_slice(&plan.symtab.strtab),
            Synth::ShStrTab => put.buf[..layout.shstrtab.len()].copy_from_slice(&layout.shstrtab),
            Synth::Thunks(island) => {
                let buf = &mut put.buf[..];
                for e in &link.thunks.islands[island as usize].entries {
                    let (spec, off) = (&e.spec, &e.offset);
                    let dest = &relocate::branch_dest(link, layout, e.target, e.via_plt);
                    let start = *off as usize;
                    arch.write_thunk(
                        spec,
                        &mut buf[start..start + spec.size as usize],
                        s.addr + off,
                        *dest,
                    )
                    .map_err(|e| LinkError::Other(format!(".text.thunks: {e}")))?;
                }
            }
            Synth::Merged(k) => {
                let bytes = &layout.merged[k as usize];
                put.buf[..bytes.len()].copy_from_slice(bytes);
            }
            Synth::GnuProperty => {
                let note = link.gnu_property.as_deref().unwrap_or(&[]);
                put.buf[..note.len()].copy_from_slice(note);
            }
            Synth::Interp => {
                let path = crate::layout::interpreter(link);
                put.buf[..path.len()].copy_from_slice(path.as_bytes());
            }
            Synth::BuildId
            | Synth::EhFrameHdr
            | Synth::Got
            | Synth::Commons
            | Synth::DynBss
            | Synth::DynRelRo => {}
        }
        Ok(())
    }
}

/// Writes one dynamic relocation at `at`; returns its size.
fn put_dyn_reloc(put: &mut Put, at: usize, r: &DynReloc, rela: bool) -> usize {
    let mut p = at;
    p += put.word(p, r.offset);
    if put.is64 {
        put.u64(p, (u64::from(r.sym) << 32) | u64::from(r.r_type));
        p += 8;
    } else {
        put.u32(p, (r.sym << 8) | (r.r_type & 0xff));
        p += 4;
    }
    if rela {
        p += put.word(p, r.addend as u64);
    }
    p - at
}

/// The relocation of PLT entry `n`'s `.got.plt` slot: JUMP_SLOT, or for a local IFUNC an
/// IRELATIVE that fills it at load time with what the resolver returns.
fn plt_slot_reloc(link: &Link, layout: &Layout, plan: &DynPlan, n: usize) -> DynReloc {
    let arch = link.arch;
    let word = arch.class().word_size();
    let reserved = arch.plt_layout().reserved_got_words;
    let offset = layout.addr_of(Synth::GotPlt) + (reserved + n as u64) * word;
    let target = link.plt.symbols[n];
    if link.plt.is_local_ifunc(n) {
        DynReloc {
            offset,
            r_type: arch.dyn_reloc_types().irelative,
            sym: 0,
            addend: relocate::target_address(link, layout, target) as i64,
        }
    } else {
        DynReloc {
            offset,
            r_type: arch.dyn_reloc_types().jump_slot,
            sym: match target {
                Target::Global(id) => plan.dynsym_index[id as usize],
                Target::Local { .. } => 0,
            },
            addend: 0,
        }
    }
}

/// The COPY relocation of each copy of imported data, naming the symbol it copies.
fn copy_relocs<'a>(
    link: &'a Link,
    layout: &'a Layout,
    plan: &'a DynPlan,
) -> impl Iterator<Item = DynReloc> + 'a {
    link.copies.slots.iter().map(move |slot| DynReloc {
        offset: layout.addr_of(relocate::copy_section(slot)) + slot.offset,
        r_type: link.arch.dyn_reloc_types().copy,
        sym: plan.dynsym_index[slot.symbols[0] as usize],
        addend: 0,
    })
}

pub(crate) fn plt_addrs(link: &Link, layout: &Layout, n: usize) -> crate::arch::PltEntryAddrs {
    let pl = link.arch.plt_layout();
    let plt0 = layout.addr_of(Synth::Plt);
    let word = link.arch.got_entry_size();
    crate::arch::PltEntryAddrs {
        plt0,
        entry: plt0 + pl.header_size + pl.entry_size * n as u64,
        got_slot: layout.addr_of(Synth::GotPlt) + (pl.reserved_got_words + n as u64) * word,
        index: n as u64,
    }
}

/// The output section index (header number) holding a global definition.
fn shndx_of(link: &Link, layout: &Layout, def: Def) -> u16 {
    match def {
        Def::Regular { file, sym } => {
            match link.objects[file as usize].symbols.at(sym as usize).place {
                SymPlace::Absolute => elf::SHN_ABS.0,
                SymPlace::Section(sec) => layout.placement[file as usize]
                    .get(sec as usize)
                    .copied()
                    .flatten()
                    .map(|(o, _)| o as u16 + 1)
                    .unwrap_or(elf::SHN_ABS.0),
                _ => elf::SHN_UNDEF.0,
            }
        }
        Def::Common { .. } => layout
            .find(Synth::Commons)
            .map(|(i, _)| i as u16 + 1)
            .unwrap_or(0),
        Def::Linker(_) => elf::SHN_ABS.0,
        _ => elf::SHN_UNDEF.0,
    }
}

fn write_dynsym(
    link: &Link,
    (plan, layout, addrs): (&DynPlan, &Layout, &crate::addresses::Addresses),
    buf: &mut [u8],
    is64: bool,
) {
    let entsize = if is64 { 24 } else { 16 };
    // Entries are independent, and `.dynsym` is among the largest synthetic sections.
    let entries = buf.get_mut(entsize..).unwrap_or_default();
    entries
        .par_chunks_mut(entsize)
        .zip(plan.dynsym.par_iter().zip(plan.names.par_iter()))
        .enumerate()
        .for_each(|(n, (entry, (&id, &name)))| {
            if let Some(&ahead) = plan.dynsym.get(n + crate::symtab::PREFETCH_AHEAD) {
                link.prefetch_definition(ahead);
            }
            let s = link.symtab.get(id);
            let defined = s.is_defined();
            let unique = match s.def {
                Def::Regular { file, sym } => {
                    link.objects[file as usize].symbols.at(sym as usize).bind
                        == elf::STB_GNU_UNIQUE.0
                }
                _ => false,
            };
            let bind = if unique {
                // One instance per process even across RTLD_LOCAL loads (C++ inline statics).
                elf::STB_GNU_UNIQUE.0
            } else {
                s.output_binding()
            };
            let ty = s.output_type();
            let info = (bind << 4) | (ty & 0xf);
            let other = crate::relocate::dyn_visibility(s.visibility);
            let copy = link.copies.slot(id);
            let copied = copy.is_some();
            let shndx = if let Some(slot) = copy {
                layout
                    .find(relocate::copy_section(slot))
                    .map_or(0, |(i, _)| i as u16 + 1)
            } else if defined {
                layout
                    .script_shndx(s)
                    .unwrap_or_else(|| shndx_of(link, layout, s.def))
            } else {
                0
            };
            // A copy is defined here; a canonical PLT entry stays undefined but gives the
            // function its address, which the libraries bind to.
            let mut value = if defined || copied || link.canonical_plt[id as usize] {
                addrs.of(link, layout, Target::Global(id))
            } else {
                0
            };
            if defined && s.ty == elf::STT_TLS.0 {
                // TLS symbols are offsets into the module's TLS block.
                value = value.wrapping_sub(layout.tls.map(|t| t.0).unwrap_or(0));
            }
            let size = if defined || copied { s.size } else { 0 };
            crate::symtab::put_symbol(entry, is64, name, info, other, shndx, value, size);
        });
}

fn section_link_info(link: &Link, plan: &DynPlan, layout: &Layout, s: &OutSection) -> (u32, u32) {
    let idx = |synth: Synth| layout.find(synth).map(|(i, _)| i as u32 + 1).unwrap_or(0);
    match s.content {
        // A static program's IRELATIVEs name no symbol; GNU ld links them to .symtab and
        // the slots they fill.
        Content::Synthetic(Synth::RelaDyn) if !link.kind.is_dynamic() => {
            (idx(Synth::SymTab), idx(Synth::GotPlt))
        }
        Content::Synthetic(Synth::DynSym) => (idx(Synth::DynStr), 1),
        Content::Synthetic(Synth::Hash | Synth::GnuHash | Synth::VerSym | Synth::RelaDyn) => {
            (idx(Synth::DynSym), 0)
        }
        Content::Synthetic(Synth::RelaPlt) => (idx(Synth::DynSym), idx(Synth::GotPlt)),
        Content::Synthetic(Synth::VerNeed) => (idx(Synth::DynStr), plan.verneed.len() as u32),
        Content::Synthetic(Synth::VerDef) => (idx(Synth::DynStr), plan.verdef.len() as u32),
        Content::Synthetic(Synth::Dynamic) => (idx(Synth::DynStr), 0),
        // SHF_LINK_ORDER tables (ARM .ARM.exidx) describe the code in .text.
        _ if s.flags & elf::SHF_LINK_ORDER.0 != 0 => {
            let text = layout.sections.iter().position(|t| t.name == b".text");
            (text.map_or(0, |i| i as u32 + 1), 0)
        }
        Content::Synthetic(Synth::SymTab) => (idx(Synth::StrTab), plan.symtab.first_global(link)),
        _ => (0, 0),
    }
}

fn write_headers(link: &Link, plan: &DynPlan, layout: &Layout, put: &mut Put) {
    let arch = link.arch;
    let is64 = put.is64;
    let (ehsize, phentsize, shentsize) = if is64 { (64, 56, 64) } else { (52, 32, 40) };
    // e_ident
    put.buf[0..4].copy_from_slice(b"\x7fELF");
    put.u8(4, if is64 { 2 } else { 1 });
    put.u8(5, 1);
    put.u8(6, 1);
    // STT_GNU_IFUNC (and STB_GNU_UNIQUE) exist only under the GNU OS ABI.
    let gnu = link.objects.iter().any(|o| {
        o.symbols
            .iter()
            .any(|s| s.ty == elf::STT_GNU_IFUNC.0 || s.bind == elf::STB_GNU_UNIQUE.0)
    });
    put.u8(7, if gnu { elf::ELFOSABI_GNU.0 } else { 0 });
    put.u16(
        16,
        if link.kind.is_fixed_address() {
            elf::ET_EXEC.0
        } else {
            elf::ET_DYN.0
        },
    );
    put.u16(18, arch.machine());
    put.u32(20, 1);
    let flags: Vec<u32> = link.objects.iter().map(|o| o.flags).collect();
    let mut p = 24;
    p += put.word(p, entry_point(link, layout));
    p += put.word(p, ehsize as u64); // e_phoff
    p += put.word(p, layout.shoff);
    let merged: Vec<(u32, &[u8])> = layout
        .sections
        .iter()
        .filter_map(|s| match s.content {
            Content::Synthetic(Synth::Merged(k)) => {
                Some((s.sh_type, &layout.merged[k as usize][..]))
            }
            _ => None,
        })
        .collect();
    put.u32(
        p,
        arch.refine_output_flags(arch.output_flags(&flags), &merged),
    );
    put.u16(p + 4, ehsize);
    put.u16(p + 6, phentsize);
    put.u16(p + 8, layout.phdrs.len() as u16);
    put.u16(p + 10, shentsize);
    put.u16(p + 12, layout.sections.len() as u16 + 1);
    let shstrndx = layout
        .find(Synth::ShStrTab)
        .map(|(i, _)| i + 1)
        .unwrap_or(0);
    put.u16(p + 14, shstrndx as u16);

    for (n, ph) in layout.phdrs.iter().enumerate() {
        let at = ehsize as usize + n * phentsize as usize;
        if is64 {
            put.u32(at, ph.p_type);
            put.u32(at + 4, ph.flags);
            put.u64(at + 8, ph.offset);
            put.u64(at + 16, ph.vaddr);
            put.u64(at + 24, ph.vaddr);
            put.u64(at + 32, ph.filesz);
            put.u64(at + 40, ph.memsz);
            put.u64(at + 48, ph.align);
        } else {
            put.u32(at, ph.p_type);
            put.u32(at + 4, ph.offset as u32);
            put.u32(at + 8, ph.vaddr as u32);
            put.u32(at + 12, ph.vaddr as u32);
            put.u32(at + 16, ph.filesz as u32);
            put.u32(at + 20, ph.memsz as u32);
            put.u32(at + 24, ph.flags);
            put.u32(at + 28, ph.align as u32);
        }
    }

    for (n, s) in layout.sections.iter().enumerate() {
        let at = layout.shoff as usize + (n + 1) * shentsize as usize;
        let (lnk, info) = section_link_info(link, plan, layout, s);
        put.u32(at, layout.sh_names[n]);
        put.u32(at + 4, s.sh_type);
        let mut p = at + 8;
        p += put.word(p, s.flags);
        p += put.word(p, s.addr);
        p += put.word(p, s.offset);
        p += put.word(p, s.size);
        put.u32(p, lnk);
        put.u32(p + 4, info);
        p += 8;
        p += put.word(p, s.align);
        put.word(p, s.entsize);
    }
}

/// `e_entry`: `-e`'s symbol or address; a program's default is `_start` (GNU ld warns and
/// falls back to the start of `.text` when it is missing); a library has none unless asked.
fn entry_point(link: &Link, layout: &Layout) -> u64 {
    let name = match &link.opts.entry {
        Some(name) => name.as_str(),
        None if link.kind.is_program() => "_start",
        None => return 0,
    };
    let defined = link
        .symtab
        .lookup(name.as_bytes())
        .filter(|&id| link.symtab.get(id).is_defined());
    if let Some(id) = defined {
        return relocate::target_address(link, layout, Target::Global(id));
    }
    if let Some(address) = crate::options::parse_address(name).filter(|_| link.opts.entry.is_some())
    {
        return address;
    }
    let text = layout.by_name(b".text").map(|s| s.addr).unwrap_or(0);
    eprintln!("ld.tether: warning: cannot find entry symbol {name}; defaulting to {text:#x}");
    text
}
