//! Addresses, file offsets and program headers.

use super::sections::{is_relro, segment_of};
use super::{Content, OutSection, Phdr, Synth, MAX_OUTPUT};
use crate::error::{LinkError, Result};
use crate::link::Link;
use object::elf;

/// What placing the sections decided besides their addresses.
pub(super) struct Placed {
    pub phdrs: Vec<Phdr>,
    /// Start, end and alignment of the TLS template.
    pub tls: Option<(u64, u64, u64)>,
    pub shoff: u64,
    pub file_size: u64,
    pub base: u64,
}

/// Gives every section its address and file offset and builds the program headers.
pub(super) fn place(link: &Link, sections: &mut [OutSection]) -> Result<Placed> {
    let arch = link.arch;
    let is64 = arch.class() == crate::arch::ElfClass::Elf64;
    let base = image_base(link)?;
    let wanted = Wanted::of(link, sections);
    let (ehsize, phentsize) = if is64 { (64u64, 56u64) } else { (52, 32) };
    let page = arch.page_size();
    let separate_code = link
        .opts
        .separate_code
        .unwrap_or(arch.separate_code_by_default());
    // The load segments are only known once addresses are (an over-aligned section starts a
    // segment of its own), and the headers they follow have one entry per segment: assign
    // until the count settles.
    let mut loads = 1;
    let runs = loop {
        let headers = ehsize + phentsize * (loads + wanted.others) as u64;
        let runs = assign_addresses(sections, base, headers, page, wanted.relro, separate_code)?;
        if runs.len() == loads {
            break runs;
        }
        loads = runs.len();
    };
    let phnum = loads + wanted.others;
    let headers_end = base + ehsize + phentsize * phnum as u64;
    let (shoff, file_size) = place_unallocated(link, sections, headers_end - base)?;
    check_span(link, sections, base, file_size)?;

    let mut phdrs = Vec::with_capacity(phnum);
    if wanted.interp {
        phdrs.push(Phdr {
            p_type: elf::PT_PHDR.0,
            flags: elf::PF_R.0,
            offset: ehsize,
            vaddr: base + ehsize,
            filesz: phentsize * phnum as u64,
            memsz: phentsize * phnum as u64,
            align: arch.class().word_size(),
        });
        push_span(
            &mut phdrs,
            elf::PT_INTERP.0,
            elf::PF_R.0,
            span(sections, |s| s.name == b".interp" && s.is_alloc()),
            Some(1),
        );
    }
    load_headers(&mut phdrs, sections, &runs, base, headers_end, page);
    let tls = other_headers(link, &mut phdrs, sections, &wanted, page);
    debug_assert_eq!(phdrs.len(), phnum);
    Ok(Placed {
        phdrs,
        tls,
        shoff,
        file_size,
        base,
    })
}

/// Where a fixed-address program starts; 0 for anything loaded at a run-time address.
fn image_base(link: &Link) -> Result<u64> {
    let arch = link.arch;
    let base = if link.kind.is_fixed_address() {
        link.opts.image_base.unwrap_or(arch.default_image_base())
    } else {
        0
    };
    let page = arch.page_size();
    if base % page != 0 {
        return Err(LinkError::Other(format!(
            "--image-base {base:#x} is not a multiple of the page size {page:#x}"
        )));
    }
    Ok(base)
}

/// The program headers besides PT_LOAD that the sections call for.
struct Wanted {
    tls: bool,
    /// PT_NOTE headers: one per run of adjacent notes of one alignment, as GNU ld.
    notes: usize,
    /// PT_GNU_PROPERTY for `.note.gnu.property`.
    property: bool,
    relro: bool,
    dynamic: bool,
    eh_frame_hdr: bool,
    /// PT_PHDR and PT_INTERP.
    interp: bool,
    /// (p_type, sh_type) of the target's own headers (ARM: PT_ARM_EXIDX).
    arch: Vec<(u32, u32)>,
    /// How many of them there are, PT_GNU_STACK included.
    others: usize,
}

impl Wanted {
    fn of(link: &Link, sections: &[OutSection]) -> Wanted {
        let has = |pred: &dyn Fn(&OutSection) -> bool| sections.iter().any(pred);
        let synthetic = |synth: Synth| move |s: &OutSection| matches!(s.content, Content::Synthetic(x) if x == synth);
        let mut arch: Vec<(u32, u32)> = Vec::new();
        for s in sections.iter().filter(|s| s.is_alloc()) {
            if let Some(p) = link.arch.section_phdr(s.sh_type) {
                if !arch.contains(&(p, s.sh_type)) {
                    arch.push((p, s.sh_type));
                }
            }
        }
        let mut w = Wanted {
            tls: has(&|s| s.flags & elf::SHF_TLS.0 != 0),
            notes: note_runs(sections).len(),
            property: has(&synthetic(Synth::GnuProperty)),
            relro: link.opts.relro && has(&|s| is_relro(s.rank)),
            dynamic: has(&synthetic(Synth::Dynamic)),
            eh_frame_hdr: has(&synthetic(Synth::EhFrameHdr)),
            interp: has(&|s| s.name == b".interp" && s.is_alloc()),
            arch,
            others: 0,
        };
        w.others = w.arch.len()
            + usize::from(w.dynamic)
            + w.notes
            + usize::from(w.property)
            + usize::from(w.tls)
            + usize::from(w.eh_frame_hdr)
            + 1
            + usize::from(w.relro)
            + 2 * usize::from(w.interp);
        w
    }
}

/// Non-allocated sections follow the last byte with file contents, then the section
/// headers; returns (`e_shoff`, the file's size).
fn place_unallocated(link: &Link, sections: &mut [OutSection], headers: u64) -> Result<(u64, u64)> {
    let word = link.arch.class().word_size();
    let mut file_cur = sections
        .iter()
        .filter(|s| s.is_alloc() && !s.is_nobits())
        .map(|s| s.offset + s.size)
        .max()
        .unwrap_or(headers);
    for s in sections.iter_mut().filter(|s| !s.is_alloc()) {
        file_cur = file_cur.next_multiple_of(s.align.max(1));
        s.offset = file_cur;
        s.addr = 0;
        file_cur += s.size;
    }
    let shoff = file_cur.next_multiple_of(word);
    let shentsize = if word == 8 { 64 } else { 40 };
    Ok((shoff, shoff + shentsize * (sections.len() as u64 + 1)))
}

/// The image must fit the target's address space (4 GiB for ELF32) and tether's bound on an
/// output; the message names the output section that ends last and the input it ends with.
fn check_span(link: &Link, sections: &[OutSection], base: u64, file_size: u64) -> Result<()> {
    let Some(last) = sections
        .iter()
        .filter(|s| s.is_alloc())
        .max_by_key(|s| s.addr.saturating_add(s.size))
    else {
        return Ok(());
    };
    let span_end = last.addr.saturating_add(last.size);
    let limit = match link.arch.class() {
        crate::arch::ElfClass::Elf32 => MAX_OUTPUT.min(1 << 32),
        crate::arch::ElfClass::Elf64 => MAX_OUTPUT,
    };
    if span_end - base > limit || span_end > u64::MAX >> 1 || file_size > MAX_OUTPUT {
        let input = largest_input(link);
        return Err(LinkError::Other(format!(
            "output section {} would end at {span_end:#x}, {:#x} bytes into the address space (the largest input: {}): too large for the output",
            String::from_utf8_lossy(&last.name),
            span_end - base,
            input
        )));
    }
    Ok(())
}

/// The input that takes the most room: an allocated section or a COMMON symbol, named with
/// its file, for the message when the image does not fit.
fn largest_input(link: &Link) -> String {
    let sections = link.objects.iter().flat_map(|o| {
        o.sections
            .iter()
            .enumerate()
            .filter(|(_, s)| s.live && s.is_alloc())
            .map(move |(i, s)| {
                (
                    s.size,
                    format!(
                        "{}, section {i} ({}), {:#x} bytes",
                        o.name,
                        crate::error::sym_name(s.name),
                        s.size
                    ),
                )
            })
    });
    let commons = (0..link.symtab.len() as crate::symbols::SymbolId).filter_map(|id| {
        let s = link.symtab.get(id);
        match s.def {
            crate::symbols::Def::Common { file, .. } => Some((
                s.size,
                format!(
                    "{}, COMMON symbol `{}', {:#x} bytes",
                    link.objects[file as usize].name,
                    crate::error::sym_name(s.name),
                    s.size
                ),
            )),
            _ => None,
        }
    });
    sections
        .chain(commons)
        .max_by_key(|(size, _)| *size)
        .map(|(_, what)| what)
        .unwrap_or_else(|| "none".into())
}

fn is_tls_bss(s: &OutSection) -> bool {
    s.is_nobits() && s.flags & elf::SHF_TLS.0 != 0
}

/// The extent of the sections `pred` selects: (address, file offset, file size, memory size,
/// largest alignment).
type Span = (u64, u64, u64, u64, u64);

fn span(sections: &[OutSection], pred: impl Fn(&OutSection) -> bool) -> Option<Span> {
    let m: Vec<&OutSection> = sections.iter().filter(|s| pred(s)).collect();
    let first = m.iter().min_by_key(|s| s.addr)?;
    let (start, offset) = (first.addr, first.offset);
    let fend = m
        .iter()
        .filter(|s| !s.is_nobits())
        .map(|s| s.addr + s.size)
        .max()
        .unwrap_or(start);
    let mend = m.iter().map(|s| s.addr + s.size).max().unwrap_or(start);
    let align = m.iter().map(|s| s.align).max().unwrap_or(1);
    Some((
        start,
        offset,
        fend.max(start) - start,
        mend.max(fend) - start,
        align,
    ))
}

fn push_span(phdrs: &mut Vec<Phdr>, p_type: u32, flags: u32, sp: Option<Span>, align: Option<u64>) {
    if let Some((start, offset, filesz, memsz, al)) = sp {
        phdrs.push(Phdr {
            p_type,
            flags,
            offset,
            vaddr: start,
            filesz,
            memsz,
            align: align.unwrap_or(al),
        });
    }
}

/// One PT_LOAD per run; the first also maps the headers.
fn load_headers(
    phdrs: &mut Vec<Phdr>,
    sections: &[OutSection],
    runs: &[Run],
    base: u64,
    headers_end: u64,
    page: u64,
) {
    for (n, run) in runs.iter().enumerate() {
        let members = &sections[run.first..run.end];
        let (start, offset) = if n == 0 {
            (base, 0)
        } else {
            (members[0].addr, members[0].offset)
        };
        let file_end = members
            .iter()
            .filter(|s| !s.is_nobits())
            .map(|s| s.addr + s.size)
            .max()
            .unwrap_or(start)
            .max(if n == 0 { headers_end } else { start });
        let mem_end = members
            .iter()
            .filter(|s| !is_tls_bss(s))
            .map(|s| s.addr + s.size)
            .max()
            .unwrap_or(file_end)
            .max(file_end);
        let flags = match run.segment {
            1 => elf::PF_R.0 | elf::PF_X.0,
            3 => elf::PF_R.0 | elf::PF_W.0,
            _ => elf::PF_R.0,
        };
        phdrs.push(Phdr {
            p_type: elf::PT_LOAD.0,
            flags,
            offset,
            vaddr: start,
            filesz: file_end - start,
            memsz: mem_end - start,
            align: page,
        });
    }
}

/// PT_DYNAMIC, PT_NOTE, PT_TLS, PT_GNU_EH_FRAME, the target's, PT_GNU_STACK, PT_GNU_RELRO;
/// returns the TLS template's start, end and alignment.
fn other_headers(
    link: &Link,
    phdrs: &mut Vec<Phdr>,
    sections: &[OutSection],
    wanted: &Wanted,
    page: u64,
) -> Option<(u64, u64, u64)> {
    let word = link.arch.class().word_size();
    let rw = elf::PF_R.0 | elf::PF_W.0;
    let synthetic = |synth: Synth| move |s: &OutSection| matches!(s.content, Content::Synthetic(x) if x == synth);
    if wanted.dynamic {
        let sp = span(sections, synthetic(Synth::Dynamic));
        push_span(phdrs, elf::PT_DYNAMIC.0, rw, sp, Some(word));
    }
    for run in note_runs(sections) {
        let sp = span(&sections[run], |_| true);
        push_span(phdrs, elf::PT_NOTE.0, elf::PF_R.0, sp, None);
    }
    let tls_span = span(sections, |s| s.flags & elf::SHF_TLS.0 != 0);
    if wanted.tls {
        push_span(phdrs, elf::PT_TLS.0, elf::PF_R.0, tls_span, None);
    }
    if wanted.eh_frame_hdr {
        let sp = span(sections, synthetic(Synth::EhFrameHdr));
        push_span(phdrs, elf::PT_GNU_EH_FRAME.0, elf::PF_R.0, sp, Some(4));
    }
    for &(p_type, sh_type) in &wanted.arch {
        let sp = span(sections, |s| s.sh_type == sh_type && s.is_alloc());
        push_span(phdrs, p_type, elf::PF_R.0, sp, None);
    }
    if wanted.property {
        let sp = span(sections, synthetic(Synth::GnuProperty));
        push_span(phdrs, elf::PT_GNU_PROPERTY.0, elf::PF_R.0, sp, Some(8));
    }
    let stack_flags = if link.opts.exec_stack {
        rw | elf::PF_X.0
    } else {
        rw
    };
    phdrs.push(Phdr {
        p_type: elf::PT_GNU_STACK.0,
        flags: stack_flags,
        align: 16,
        // `-z stack-size=N`: the loader sizes the main thread's stack from it.
        memsz: link.opts.stack_size,
        ..Phdr::default()
    });
    if wanted.relro {
        if let Some((start, offset, _, memsz, _)) =
            span(sections, |s| is_relro(s.rank) && !is_tls_bss(s))
        {
            // Cover up to the page boundary the writable part starts at, as GNU ld does.
            let end = (start + memsz).next_multiple_of(page);
            phdrs.push(Phdr {
                p_type: elf::PT_GNU_RELRO.0,
                flags: elf::PF_R.0,
                offset,
                vaddr: start,
                filesz: end - start,
                memsz: end - start,
                align: 1,
            });
        }
    }
    tls_span.map(|(start, _, _, memsz, align)| (start, start + memsz, align))
}

/// A run of allocated sections that one PT_LOAD maps: segment class (0 = R headers, 1 = RX,
/// 2 = R, 3 = RW) and the first and last section index.
struct Run {
    segment: usize,
    first: usize,
    /// Past the last section (`first` when the run holds only the headers).
    end: usize,
}

/// How far to move a writable segment starting at `addr` (with `sections`, its RELRO ones
/// first) so that the RELRO part ends on a page boundary. The move keeps every RELRO
/// section's alignment, so it is rounded down to the largest of them: the part may then end
/// a little short of the boundary, and the writable part starts at it.
fn relro_shift(sections: &[OutSection], addr: u64, page: u64) -> u64 {
    let mut end = addr;
    let mut align = 1;
    for s in sections.iter().take_while(|s| is_relro(s.rank)) {
        align = align.max(s.align.max(1));
        end = end.next_multiple_of(s.align.max(1));
        if !(s.is_nobits() && s.flags & elf::SHF_TLS.0 != 0) {
            end = end.saturating_add(s.size);
        }
    }
    let gap = end.next_multiple_of(page) - end;
    if align > page {
        return 0;
    }
    gap - gap % align
}

/// Gives allocated sections their addresses and file offsets, in order after `headers`
/// bytes of headers at `base`, and returns the load segments. A segment starts on a new page
/// in memory and in the file; within one, offsets follow addresses, except that a section
/// aligned past the next page starts a segment of its own, so an alignment gap never has to
/// be written out as zeros (offsets only need to be congruent to addresses modulo the page).
/// Without `separate_code`, headers, code and read-only data share one RX segment.
fn assign_addresses(
    sections: &mut [OutSection],
    base: u64,
    headers: u64,
    page: u64,
    has_relro: bool,
    separate_code: bool,
) -> Result<Vec<Run>> {
    let mut addr = base + headers;
    let mut off = headers;
    let class = |seg: usize| if !separate_code && seg < 3 { 1 } else { seg };
    // The headers are always loaded, at the start of the first segment.
    let mut runs = vec![Run {
        segment: class(0),
        first: 0,
        end: 0,
    }];
    let mut relro_done = false;
    for i in 0..sections.len() {
        let Some(seg) = segment_of(sections[i].rank).map(class) else {
            break;
        };
        let mut new_run = runs.last().is_some_and(|r| r.segment != seg);
        if new_run && seg == 3 {
            // As GNU ld's DATA_SEGMENT_ALIGN: the writable segment starts on a new page in
            // memory but where the file is (no page of padding), moved on so the RELRO part
            // ends on a page boundary (DATA_SEGMENT_RELRO_END).
            addr = addr.next_multiple_of(page) + off % page;
            let shift = if has_relro {
                relro_shift(&sections[i..], addr, page)
            } else {
                0
            };
            addr += shift;
            off += shift;
        }
        let s = &mut sections[i];
        if has_relro && !is_relro(s.rank) && seg == 3 && !relro_done {
            // The loader makes [relro start, page-rounded end) read-only: the writable part
            // must begin on a fresh page.
            relro_done = true;
            addr = addr.next_multiple_of(page);
            off = off.next_multiple_of(page);
        }
        if is_relro(s.rank) && s.is_nobits() && s.flags & elf::SHF_TLS.0 == 0 {
            return Err(LinkError::Other(format!(
                "output section {}: a NOBITS section in RELRO is not supported (inputs of that name are writable data without contents)",
                String::from_utf8_lossy(&s.name)
            )));
        }
        if new_run && seg != 3 {
            addr = addr.next_multiple_of(page);
            off = off.next_multiple_of(page);
        }
        let aligned = addr
            .checked_next_multiple_of(s.align.max(1))
            .filter(|a| *a - base <= MAX_OUTPUT)
            .ok_or_else(|| {
                LinkError::Other(format!(
                    "section {}: alignment {:#x} puts it outside the address space",
                    String::from_utf8_lossy(&s.name),
                    s.align
                ))
            })?;
        let gap = aligned - addr;
        if gap >= page {
            new_run = true;
        }
        off += if gap >= page { gap % page } else { gap };
        addr = aligned;
        s.addr = addr;
        s.offset = off;
        if new_run {
            runs.push(Run {
                segment: seg,
                first: i,
                end: i + 1,
            });
        } else if let Some(r) = runs.last_mut() {
            r.end = i + 1;
        }
        // `.tbss` occupies no address space outside the TLS template.
        let too_large = || {
            LinkError::Other(format!(
                "output section {} ({:#x} bytes) does not fit the address space",
                String::from_utf8_lossy(&s.name),
                s.size
            ))
        };
        if !(s.is_nobits() && s.flags & elf::SHF_TLS.0 != 0) {
            addr = addr.checked_add(s.size).ok_or_else(too_large)?;
        }
        if !s.is_nobits() {
            off = off.checked_add(s.size).ok_or_else(too_large)?;
        }
    }
    Ok(runs)
}

/// The runs of adjacent allocated notes of one alignment (glibc walks a PT_NOTE's notes
/// with one alignment), as index ranges of `sections` in their output order.
fn note_runs(sections: &[OutSection]) -> Vec<std::ops::Range<usize>> {
    let is_note = |s: &OutSection| s.sh_type == elf::SHT_NOTE.0 && s.is_alloc();
    let mut runs: Vec<std::ops::Range<usize>> = Vec::new();
    for (i, s) in sections.iter().enumerate().filter(|(_, s)| is_note(s)) {
        match runs.last_mut() {
            Some(r) if r.end == i && sections[r.start].align == s.align => r.end = i + 1,
            _ => runs.push(i..i + 1),
        }
    }
    runs
}
