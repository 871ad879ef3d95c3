//! The process's memory as the kernel hands it out: the program break after the image and
//! anonymous mappings in an area of their own, both bounded (a runaway guest gets ENOMEM, not
//! the host's memory), with unmapped ranges reused.

use super::{EINVAL, ENODEV, ENOMEM};
use crate::arch::Arch;
use crate::elf::{page_up, PAGE};
use crate::error::Result;
use crate::machine;
use crate::session::Session;
use unicorn_engine::unicorn_const::Prot;

/// Room the program break may grow into, and the most anonymous memory mapped at once:
/// enough for real programs, a bound for runaway ones.
const BRK_LIMIT: u64 = 64 << 20;
const MMAP_LIMIT: u64 = 256 << 20;

const MAP_FIXED: u64 = 0x10;
const MAP_ANONYMOUS: u64 = 0x20;

#[derive(Debug, Clone)]
pub struct AddressSpace {
    pub brk_start: u64,
    pub brk: u64,
    /// The break's pages are mapped up to here.
    brk_mapped: u64,
    /// Where anonymous maps go: [start, end).
    area: (u64, u64),
    /// Live anonymous maps, sorted and disjoint: [start, end).
    maps: Vec<(u64, u64)>,
}

impl AddressSpace {
    /// `image_end`: the end of the program's highest segment, where the break starts.
    pub fn new(arch: Arch, image_end: u64) -> AddressSpace {
        let brk = page_up(image_end);
        let (start, size) = match arch {
            Arch::Arm => super::arm::MMAP_AREA,
            Arch::X86_64 => super::x86_64::MMAP_AREA,
        };
        AddressSpace {
            brk_start: brk,
            brk,
            brk_mapped: brk,
            area: (start, start + size),
            maps: Vec::new(),
        }
    }

    fn mapped(&self) -> u64 {
        self.maps.iter().map(|m| m.1 - m.0).sum()
    }

    /// Where a map of `size` bytes goes: at `fixed` when it lies in the area, otherwise the
    /// lowest gap that fits.
    fn place(&self, fixed: Option<u64>, size: u64) -> Option<u64> {
        if let Some(at) = fixed {
            let inside = at >= self.area.0 && at.checked_add(size)? <= self.area.1;
            return (inside && at % PAGE == 0).then_some(at);
        }
        let mut at = self.area.0;
        for &(start, end) in &self.maps {
            if at + size <= start {
                return Some(at);
            }
            at = at.max(end);
        }
        (at + size <= self.area.1).then_some(at)
    }

    /// Forgets [start, start + size) (splitting maps it cuts through).
    fn remove(&mut self, start: u64, size: u64) {
        let end = start + size;
        let mut kept = Vec::new();
        for &(s, e) in &self.maps {
            if e <= start || s >= end {
                kept.push((s, e));
                continue;
            }
            if s < start {
                kept.push((s, start));
            }
            if e > end {
                kept.push((end, e));
            }
        }
        self.maps = kept;
    }

    fn insert(&mut self, start: u64, size: u64) {
        self.remove(start, size);
        let k = self.maps.partition_point(|m| m.0 < start);
        self.maps.insert(k, (start, start + size));
    }

    fn in_area(&self, start: u64, size: u64) -> bool {
        start >= self.area.0 && start.saturating_add(size) <= self.area.1
    }
}

fn prot_of(prot: u64) -> Prot {
    let mut p = Prot::NONE;
    if prot & 1 != 0 {
        p |= Prot::READ;
    }
    if prot & 2 != 0 {
        p |= Prot::WRITE;
    }
    if prot & 4 != 0 {
        p |= Prot::EXEC;
    }
    p
}

impl Session {
    pub(super) fn sys_brk(&mut self, wanted: u64) -> Result<i64> {
        let m = self.kernel()?.memory.clone();
        if wanted < m.brk_start || wanted > m.brk_start + BRK_LIMIT {
            return Ok(m.brk as i64);
        }
        let end = page_up(wanted);
        if end > m.brk_mapped {
            let rw = Prot::READ | Prot::WRITE;
            if machine::map(&mut self.emu, m.brk_mapped, end - m.brk_mapped, rw).is_err() {
                return Ok(m.brk as i64);
            }
            self.kernel()?.memory.brk_mapped = end;
        }
        self.kernel()?.memory.brk = wanted;
        Ok(wanted as i64)
    }

    /// Anonymous maps only (Linux ignores `fd` for them); a file map is refused with ENODEV,
    /// which glibc's callers handle. There are no files.
    pub(super) fn sys_mmap(&mut self, addr: u64, len: u64, prot: u64, flags: u64) -> Result<i64> {
        if flags & MAP_ANONYMOUS == 0 {
            return Ok(-ENODEV);
        }
        let size = page_up(len);
        let m = &self.kernel()?.memory;
        if len == 0 || m.mapped() + size > MMAP_LIMIT {
            return Ok(-ENOMEM);
        }
        let fixed = (flags & MAP_FIXED != 0).then_some(addr);
        let Some(at) = m.place(fixed, size) else {
            return Ok(if fixed.is_some() { -EINVAL } else { -ENOMEM });
        };
        // MAP_FIXED replaces whatever was there.
        self.unmap_range(at, size);
        if machine::map(&mut self.emu, at, size, prot_of(prot)).is_err() {
            return Ok(-ENOMEM);
        }
        self.kernel()?.memory.insert(at, size);
        Ok(at as i64)
    }

    /// Grows in place when the pages after the map are free, otherwise moves it (with
    /// MREMAP_MAYMOVE) as glibc's realloc of a large block expects; shrinks in place.
    pub(super) fn sys_mremap(
        &mut self,
        old: u64,
        old_len: u64,
        new_len: u64,
        flags: u64,
    ) -> Result<i64> {
        const MREMAP_MAYMOVE: u64 = 1;
        let (old_size, new_size) = (page_up(old_len), page_up(new_len));
        let m = &self.kernel()?.memory;
        let live = m.maps.iter().any(|&(s, e)| s <= old && old + old_size <= e);
        if old % PAGE != 0 || new_len == 0 || !live || flags & !MREMAP_MAYMOVE != 0 {
            return Ok(-EINVAL);
        }
        if new_size <= old_size {
            self.sys_munmap(old + new_size, old_size - new_size)?;
            return Ok(old as i64);
        }
        if m.mapped() + new_size - old_size > MMAP_LIMIT {
            return Ok(-ENOMEM);
        }
        let grow = new_size - old_size;
        let tail_free = !m
            .maps
            .iter()
            .any(|&(s, e)| s < old + new_size && e > old + old_size);
        let rw = Prot::READ | Prot::WRITE;
        if tail_free && m.in_area(old, new_size) {
            if machine::map(&mut self.emu, old + old_size, grow, rw).is_err() {
                return Ok(-ENOMEM);
            }
            self.kernel()?.memory.insert(old, new_size);
            return Ok(old as i64);
        }
        if flags & MREMAP_MAYMOVE == 0 {
            return Ok(-ENOMEM);
        }
        let Some(at) = m.place(None, new_size) else {
            return Ok(-ENOMEM);
        };
        let bytes = self.read_memory(old, old_size as usize)?;
        if machine::map(&mut self.emu, at, new_size, rw).is_err() {
            return Ok(-ENOMEM);
        }
        self.write_memory(at, &bytes)?;
        self.kernel()?.memory.insert(at, new_size);
        self.sys_munmap(old, old_size)?;
        Ok(at as i64)
    }

    pub(super) fn sys_munmap(&mut self, addr: u64, len: u64) -> Result<i64> {
        let size = page_up(len);
        if addr % PAGE != 0 || len == 0 || !self.kernel()?.memory.in_area(addr, size) {
            return Ok(-EINVAL);
        }
        self.kernel()?.memory.remove(addr, size);
        self.unmap_range(addr, size);
        Ok(0)
    }

    /// Unmaps what is mapped in the range: pages never mapped are not an error, as under Linux.
    fn unmap_range(&mut self, addr: u64, size: u64) {
        if self.emu.mem_unmap(addr, size).is_ok() {
            return;
        }
        for page in (addr..addr + size).step_by(PAGE as usize) {
            let _ = self.emu.mem_unmap(page, PAGE);
        }
    }

    pub(super) fn sys_mprotect(&mut self, addr: u64, len: u64, prot: u64) -> i64 {
        if addr % PAGE != 0 {
            return -EINVAL;
        }
        if len == 0 {
            return 0;
        }
        match self.emu.mem_protect(addr, page_up(len), prot_of(prot)) {
            Ok(()) => 0,
            Err(_) => -ENOMEM,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn space() -> AddressSpace {
        AddressSpace::new(Arch::Arm, 0x12345)
    }

    #[test]
    fn the_break_starts_at_the_page_after_the_image() {
        let m = space();
        assert_eq!((m.brk_start, m.brk), (0x13000, 0x13000));
    }

    #[test]
    fn maps_fill_the_lowest_gap_and_unmapped_ranges_are_reused() {
        let mut m = space();
        let start = m.area.0;
        for k in 0..3 {
            let at = m.place(None, 3 * PAGE).unwrap();
            assert_eq!(at, start + 3 * PAGE * k);
            m.insert(at, 3 * PAGE);
        }
        // Unmapping the middle page of the second map splits it; the hole is found first.
        m.remove(start + 4 * PAGE, PAGE);
        assert_eq!(m.maps.len(), 4);
        assert_eq!(m.place(None, PAGE), Some(start + 4 * PAGE));
        assert_eq!(m.place(None, 2 * PAGE), Some(start + 9 * PAGE));
        assert_eq!(m.mapped(), 8 * PAGE);
    }

    #[test]
    fn fixed_maps_must_lie_in_the_area_and_be_page_aligned() {
        let m = space();
        let (start, end) = m.area;
        assert_eq!(m.place(Some(start + PAGE), PAGE), Some(start + PAGE));
        assert_eq!(m.place(Some(start + 1), PAGE), None);
        assert_eq!(m.place(Some(end - PAGE), 2 * PAGE), None);
        assert_eq!(m.place(Some(u64::MAX - PAGE + 1), 2 * PAGE), None);
        assert_eq!(m.place(None, end - start + PAGE), None);
    }
}
