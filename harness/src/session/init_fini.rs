//! Running initialisers and finalisers in glibc's order.

use super::*;

impl Session {
    /// Dependencies before the objects that need them (depth-first post-order over DT_NEEDED).
    pub(super) fn dependency_order(&self) -> Vec<usize> {
        fn visit(s: &Session, i: usize, seen: &mut HashSet<usize>, out: &mut Vec<usize>) {
            if !seen.insert(i) {
                return;
            }
            for n in &s.objects[i].elf.dynamic.needed {
                if let Some(j) = s.find_loaded(n) {
                    visit(s, j, seen, out);
                }
            }
            out.push(i);
        }
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        for i in 0..self.objects.len() {
            visit(self, i, &mut seen, &mut out);
        }
        out
    }

    /// Runs DT_INIT then DT_INIT_ARRAY of every loaded object not yet initialised,
    /// dependencies first.
    pub fn run_init(&mut self) -> Result<()> {
        let layout = self.arch.layout();
        let argv = layout.host_data + 0x100;
        let envp = layout.host_data + 0x100 + 2 * self.arch.word_size();
        // A program's DT_PREINIT_ARRAY runs before every other initialiser.
        for i in 0..self.objects.len() {
            if self.objects[i].init_started || !self.is_program(i) {
                continue;
            }
            let (base, name) = (self.objects[i].base, self.objects[i].name.clone());
            let arr = self.objects[i].elf.dynamic.preinit_array_addr;
            for k in 0..self.objects[i].elf.dynamic.preinit_array.len() as u64 {
                let f = self.read_word(base + arr + k * self.arch.word_size())?;
                if f == 0 || f == self.mask(u64::MAX) {
                    continue;
                }
                self.record(Event::Init {
                    object: name.clone(),
                    kind: format!("DT_PREINIT_ARRAY[{k}]"),
                    address: f,
                });
                self.call_address(f, &[1, argv, envp])?;
            }
        }
        for i in self.dependency_order() {
            if self.objects[i].init_started {
                continue;
            }
            self.objects[i].init_started = true;
            self.init_order.push(i);
            let (base, name) = (self.objects[i].base, self.objects[i].name.clone());
            if let Some(init) = self.objects[i].elf.dynamic.init {
                self.record(Event::Init {
                    object: name.clone(),
                    kind: "DT_INIT".into(),
                    address: base + init,
                });
                self.call_address(base + init, &[1, argv, envp])?;
            }
            let arr = self.objects[i].elf.dynamic.init_array_addr;
            for k in 0..self.objects[i].elf.dynamic.init_array.len() as u64 {
                let f = self.read_word(base + arr + k * self.arch.word_size())?;
                if f == 0 || f == self.mask(u64::MAX) {
                    continue;
                }
                self.record(Event::Init {
                    object: name.clone(),
                    kind: format!("DT_INIT_ARRAY[{k}]"),
                    address: f,
                });
                self.call_address(f, &[1, argv, envp])?;
            }
        }
        Ok(())
    }

    pub(super) fn mask(&self, v: u64) -> u64 {
        match self.arch {
            Arch::Arm => v & 0xffff_ffff,
            Arch::X86_64 => v,
        }
    }

    /// Runs the remaining `atexit`/`__cxa_atexit` handlers, then DT_FINI_ARRAY (reversed) and
    /// DT_FINI of every initialised object, in the reverse of the order they were initialised.
    pub fn run_fini(&mut self) -> Result<()> {
        host_libc::run_atexit(self, None)?;
        let order: Vec<usize> = self.init_order.iter().rev().copied().collect();
        for i in order {
            if self.objects[i].fini_done {
                continue;
            }
            self.objects[i].fini_done = true;
            let (base, name) = (self.objects[i].base, self.objects[i].name.clone());
            let arr = self.objects[i].elf.dynamic.fini_array_addr;
            let n = self.objects[i].elf.dynamic.fini_array.len() as u64;
            for k in (0..n).rev() {
                let f = self.read_word(base + arr + k * self.arch.word_size())?;
                if f == 0 || f == self.mask(u64::MAX) {
                    continue;
                }
                self.record(Event::Fini {
                    object: name.clone(),
                    kind: format!("DT_FINI_ARRAY[{k}]"),
                    address: f,
                });
                self.call_address(f, &[])?;
            }
            if let Some(fini) = self.objects[i].elf.dynamic.fini {
                self.record(Event::Fini {
                    object: name.clone(),
                    kind: "DT_FINI".into(),
                    address: base + fini,
                });
                self.call_address(base + fini, &[])?;
            }
        }
        Ok(())
    }
}
