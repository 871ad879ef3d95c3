//! ld.tether's global allocator: glibc's malloc for ordinary blocks; a block of [`BIG`]
//! bytes or more gets a mapping of its own, aligned and advised for transparent huge pages.
//!
//! A large link's tables (symbols, relocation decisions, GOT/PLT requests, addresses) are
//! megabytes each, filled once and then read at random. From malloc they come as fresh 4 KiB
//! pages: a page fault per page, a quarter of the benchmark's CPU time in the kernel, and a
//! TLB miss on most reads (on the 100,000-function benchmark, resolution and string merging
//! each took a quarter longer). With 2 MiB pages both mostly go away.
//!
//! Why not mimalloc, which uses huge pages too: it keeps freed memory for reuse, and over
//! one link that raised peak RSS by half, past mold's. Here a freed big block goes back to the
//! system at once, so peak RSS stays what the live tables need (rounded up to 2 MiB apiece).
//! A kernel without THP, or with it off, ignores the advice and this is malloc's behaviour.

use std::alloc::{GlobalAlloc, Layout, System};
use std::ptr::null_mut;

/// Blocks at least this large get a mapping of their own.
const BIG: usize = 2 << 20;
const HUGE_PAGE: usize = 2 << 20;

pub struct BigAlloc;

fn is_big(size: usize, align: usize) -> bool {
    size >= BIG && align <= HUGE_PAGE
}

fn rounded(size: usize) -> usize {
    size.div_ceil(HUGE_PAGE) * HUGE_PAGE
}

/// A fresh zero-filled mapping of `size` bytes (a multiple of [`HUGE_PAGE`]) that starts on
/// a huge-page boundary, or null.
fn map(size: usize) -> *mut u8 {
    // Over-mapped by one huge page, then trimmed to an aligned range: only an aligned range
    // can be backed by huge pages.
    let Some(span) = size.checked_add(HUGE_PAGE) else {
        return null_mut();
    };
    // SAFETY: an anonymous private mapping at an address of the kernel's choosing.
    let p = unsafe {
        libc::mmap(
            null_mut(),
            span,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        return null_mut();
    }
    let start = p as usize;
    let aligned = start.next_multiple_of(HUGE_PAGE);
    let end = aligned + size;
    // SAFETY: both trimmed ranges lie inside the mapping just made and nothing uses them.
    unsafe {
        if aligned > start {
            libc::munmap(p, aligned - start);
        }
        if start + span > end {
            libc::munmap(end as *mut libc::c_void, start + span - end);
        }
        libc::madvise(aligned as *mut libc::c_void, size, libc::MADV_HUGEPAGE);
    }
    aligned as *mut u8
}

unsafe impl GlobalAlloc for BigAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if is_big(layout.size(), layout.align()) {
            map(rounded(layout.size()))
        } else {
            // SAFETY: the caller's contract, passed on.
            unsafe { System.alloc(layout) }
        }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if is_big(layout.size(), layout.align()) {
            // A fresh anonymous mapping reads as zero.
            map(rounded(layout.size()))
        } else {
            // SAFETY: the caller's contract, passed on.
            unsafe { System.alloc_zeroed(layout) }
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if is_big(layout.size(), layout.align()) {
            // SAFETY: `ptr` came from `map` with this rounded size (the caller's contract).
            unsafe { libc::munmap(ptr.cast(), rounded(layout.size())) };
        } else {
            // SAFETY: the caller's contract, passed on.
            unsafe { System.dealloc(ptr, layout) }
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let align = layout.align();
        match (is_big(layout.size(), align), is_big(new_size, align)) {
            // SAFETY: the caller's contract, passed on.
            (false, false) => unsafe { System.realloc(ptr, layout, new_size) },
            (true, true) => {
                let (old, new) = (rounded(layout.size()), rounded(new_size));
                if new <= old {
                    if new < old {
                        // SAFETY: the tail lies inside this block's mapping.
                        unsafe { libc::munmap(ptr.add(new).cast(), old - new) };
                    }
                    return ptr;
                }
                // The pages move into a new aligned mapping, not copied: a growing table
                // costs no copy and keeps its huge pages.
                let target = map(new);
                if target.is_null() {
                    return null_mut();
                }
                // SAFETY: `ptr..ptr+old` is this block's mapping; `target` has room for it.
                let moved = unsafe {
                    libc::mremap(
                        ptr.cast(),
                        old,
                        old,
                        libc::MREMAP_MAYMOVE | libc::MREMAP_FIXED,
                        target.cast::<libc::c_void>(),
                    )
                };
                if moved == libc::MAP_FAILED {
                    // SAFETY: `target` is the fresh mapping made above, unused.
                    unsafe { libc::munmap(target.cast(), new) };
                    return null_mut();
                }
                target
            }
            _ => {
                // Across the threshold: a new block of the other kind, and a copy.
                // SAFETY: `new_size` is non-zero and, rounded to `align`, fits (the caller's
                // contract for realloc).
                let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, align) };
                // SAFETY: as for `alloc`.
                let p = unsafe { self.alloc(new_layout) };
                if !p.is_null() {
                    // SAFETY: both blocks are live and at least this long; they are distinct.
                    unsafe {
                        std::ptr::copy_nonoverlapping(ptr, p, layout.size().min(new_size));
                        self.dealloc(ptr, layout);
                    }
                }
                p
            }
        }
    }
}

/// Tunes glibc's malloc for the blocks it keeps: it grows a thread's heap a page run at a
/// time with `mprotect`, about 1,600 calls on the benchmark, each taking the address-space
/// lock that the other thread's page faults wait on. Growing by 16 MiB at a time reserves
/// address space only; untouched pages cost no memory. Call before any thread starts.
pub fn tune_malloc() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets a parameter of the allocator; no thread exists yet.
    unsafe {
        libc::mallopt(libc::M_TOP_PAD, 16 << 20);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fill(p: *mut u8, len: usize) {
        for i in (0..len).step_by(4093) {
            // SAFETY: `i < len`, inside the block.
            unsafe { *p.add(i) = (i % 251) as u8 };
        }
    }

    fn holds_fill(p: *const u8, len: usize) -> bool {
        // SAFETY: every index read is below `len`, inside the block.
        (0..len)
            .step_by(4093)
            .all(|i| unsafe { *p.add(i) } == (i % 251) as u8)
    }

    #[test]
    fn a_big_block_is_aligned_zeroed_and_keeps_its_bytes_as_it_grows_and_shrinks() {
        let a = BigAlloc;
        let layout = Layout::from_size_align(3 << 20, 8).unwrap();
        // SAFETY: a non-zero layout; every block is freed with the layout it has.
        unsafe {
            let p = a.alloc_zeroed(layout);
            assert!(!p.is_null());
            assert_eq!(p as usize % HUGE_PAGE, 0);
            assert!((0..layout.size()).step_by(4096).all(|i| *p.add(i) == 0));
            fill(p, layout.size());
            let grown = a.realloc(p, layout, 9 << 20);
            assert!(holds_fill(grown, layout.size()));
            *grown.add((9 << 20) - 1) = 7;
            let big = Layout::from_size_align(9 << 20, 8).unwrap();
            let shrunk = a.realloc(grown, big, 5 << 20);
            assert!(holds_fill(shrunk, layout.size()));
            a.dealloc(shrunk, Layout::from_size_align(5 << 20, 8).unwrap());
        }
    }

    #[test]
    fn a_block_crossing_the_threshold_keeps_its_bytes() {
        let a = BigAlloc;
        let small = Layout::from_size_align(1 << 20, 16).unwrap();
        // SAFETY: as above.
        unsafe {
            let p = a.alloc(small);
            fill(p, small.size());
            let big = a.realloc(p, small, 6 << 20);
            assert!(holds_fill(big, small.size()));
            let back = a.realloc(big, Layout::from_size_align(6 << 20, 16).unwrap(), 64 << 10);
            assert!(holds_fill(back, 64 << 10));
            a.dealloc(back, Layout::from_size_align(64 << 10, 16).unwrap());
        }
    }
}
