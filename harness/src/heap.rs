//! The guest heap behind the host `malloc` family.

use std::collections::BTreeMap;

/// A first-fit allocator over the guest heap region; the host tracks every live block so a
/// bad `free` is reported rather than corrupting anything.
#[derive(Debug)]
pub struct Heap {
    end: u64,
    next: u64,
    free: Vec<(u64, u64)>,
    live: BTreeMap<u64, u64>,
}

impl Heap {
    pub fn new(base: u64, size: u64) -> Heap {
        Heap {
            end: base + size,
            // Never hand out the region's first bytes: a zero-offset pointer looks like a bug.
            next: base + 16,
            free: Vec::new(),
            live: BTreeMap::new(),
        }
    }
    pub fn alloc(&mut self, len: u64) -> Option<u64> {
        let len = len.max(1).checked_next_multiple_of(16)?;
        if let Some(k) = self.free.iter().position(|&(_, l)| l >= len) {
            let (a, l) = self.free.remove(k);
            self.live.insert(a, l);
            return Some(a);
        }
        if self.next.checked_add(len)? > self.end {
            return None;
        }
        let a = self.next;
        self.next += len + 16;
        self.live.insert(a, len);
        Some(a)
    }
    pub fn free(&mut self, a: u64) -> std::result::Result<(), String> {
        match self.live.remove(&a) {
            Some(l) => {
                self.free.push((a, l));
                Ok(())
            }
            None => Err(format!(
                "free({a:#x}): not a live heap block (double free or bad pointer)"
            )),
        }
    }
    pub fn size_of(&self, a: u64) -> Option<u64> {
        self.live.get(&a).copied()
    }
}
