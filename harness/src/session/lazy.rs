//! The lazy-binding resolver: entered from a PLT through GOT[2], it binds one slot and
//! continues into the target exactly as glibc's `_dl_runtime_resolve` does.

use super::*;

impl Session {
    pub(super) fn lazy_bind(&mut self) -> Result<u64> {
        let (handle, index) = self.arch.resolver_entry(&self.emu)?;
        let Some(i) = self.objects.iter().position(|o| o.base == handle && o.lazy) else {
            return Err(self.fault(
                FaultKind::HostFunction(format!(
                    "lazy resolver entered with unknown object handle {handle:#x}"
                )),
                None,
            ));
        };
        let Some(r) = self.objects[i]
            .elf
            .dynamic
            .jmprel
            .get(index as usize)
            .copied()
        else {
            return Err(self.fault(
                FaultKind::HostFunction(format!(
                    "lazy resolver: relocation index {index} beyond {}'s .rel(a).plt",
                    self.objects[i].name
                )),
                None,
            ));
        };
        if !self.objects[i].elf.in_segment(r.offset) {
            return Err(self.fault(
                FaultKind::HostFunction(format!(
                    "lazy resolver: JUMP_SLOT at {:#x} lies outside {}",
                    r.offset, self.objects[i].name
                )),
                None,
            ));
        }
        let slot = self.objects[i].base + r.offset;
        let before = self.read_word(slot)?;
        let res = self.resolve_reference(i, r.sym, false, true)?;
        let target = self
            .target_of(&res)?
            .wrapping_add(r.addend.unwrap_or(0) as u64);
        self.write_word(slot, target)?;
        let (symbol, version) = self.symbol_label(i, r.sym);
        self.record(Event::Bound {
            object: self.objects[i].name.clone(),
            slot,
            symbol,
            version,
            target,
            target_object: res.object,
            before,
            after: target,
            lazy: true,
        });
        self.arch.resolver_exit(&mut self.emu, target)
    }
}
