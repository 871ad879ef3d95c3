//! What the plugin's callbacks read and write. The API's callbacks carry no context pointer,
//! so the state is global; [`super::Plugin`] holds a lock that keeps one plugin-driven link
//! per process, and the state's own lock is never held while plugin code runs (its callbacks
//! take it again).

use super::ffi::{ClaimHook, VoidHook, LDPL_ERROR, LDPL_INFO, LDPL_WARNING};
use std::ffi::{c_char, c_int, CString};
use std::os::fd::AsRawFd;
use std::sync::Mutex;

/// `LDPR_PREVAILING_DEF`, what API versions 1 reports for `LDPR_PREVAILING_DEF_IRONLY_EXP`.
const PREVAILING_DEF: i32 = 2;
const PREVAILING_DEF_IRONLY_EXP: i32 = 9;

/// A symbol of a claimed file, as the plugin described it (`struct ld_plugin_symbol`).
#[derive(Clone, Debug)]
pub struct IrSymbol {
    pub name: Vec<u8>,
    pub version: Option<Vec<u8>>,
    /// `LDPK_*`.
    pub kind: u8,
    /// `LDST_*`.
    pub symbol_type: u8,
    /// `LDPV_*`.
    pub visibility: c_int,
    pub size: u64,
    pub comdat: Option<Vec<u8>>,
}

/// One section header of an input, for the section queries.
pub struct SectionInfo {
    pub name: Vec<u8>,
    pub sh_type: u32,
    pub align: u64,
    pub size: u64,
    /// Address and length of the contents inside the input's mapping.
    pub data: (usize, usize),
}

/// An input offered to the plugin (handle = index + 1).
pub struct Input {
    pub name: CString,
    pub offset: u64,
    pub size: u64,
    /// Address of the input's bytes in a mapping that outlives the plugin's use of them (the
    /// inputs stay mapped until the link ends; [`reset`] forgets them before that).
    pub bytes: usize,
    pub sections: Vec<SectionInfo>,
    pub symbols: Vec<IrSymbol>,
    /// `LDPR_*` per symbol, as API version 2 and later spell them.
    pub resolutions: Vec<i32>,
    /// Descriptor handed out by `get_input_file`, closed by `release_input_file`.
    pub open: Option<std::fs::File>,
}

#[derive(Default)]
pub struct State {
    pub plugin_name: String,
    pub claim_hooks: Vec<ClaimHook>,
    pub all_symbols_read_hooks: Vec<VoidHook>,
    pub cleanup_hooks: Vec<VoidHook>,
    pub inputs: Vec<Input>,
    pub added_files: Vec<Vec<u8>>,
    pub added_libraries: Vec<Vec<u8>>,
    pub extra_library_paths: Vec<Vec<u8>>,
    /// Messages of level LDPL_ERROR and LDPL_FATAL: the link fails with them.
    pub errors: Vec<String>,
}

static STATE: Mutex<Option<State>> = Mutex::new(None);

/// Runs `f` on the state (made fresh by [`reset`]).
pub fn with<R>(f: impl FnOnce(&mut State) -> R) -> R {
    let mut guard = STATE.lock().unwrap_or_else(|e| e.into_inner());
    f(guard.get_or_insert_with(State::default))
}

pub fn reset(plugin_name: String) {
    with(|s| {
        *s = State {
            plugin_name,
            ..State::default()
        }
    });
}

impl State {
    fn input(&mut self, handle: usize) -> Option<&mut Input> {
        handle.checked_sub(1).and_then(|i| self.inputs.get_mut(i))
    }

    pub fn add_symbols(&mut self, handle: usize, syms: Vec<IrSymbol>) -> c_int {
        match self.input(handle) {
            Some(input) => {
                input.symbols.extend(syms);
                super::ffi::LDPS_OK
            }
            None => super::ffi::LDPS_BAD_HANDLE,
        }
    }

    pub fn resolutions(&mut self, handle: usize, version: u8) -> Option<Vec<i32>> {
        let input = self.input(handle)?;
        let mut r = input.resolutions.clone();
        if version == 1 {
            for x in r.iter_mut().filter(|x| **x == PREVAILING_DEF_IRONLY_EXP) {
                *x = PREVAILING_DEF;
            }
        }
        Some(r)
    }

    /// Prints a plugin diagnostic the way tether prints its own; errors also fail the link.
    pub fn message(&mut self, level: c_int, text: Vec<u8>) {
        let text = String::from_utf8_lossy(&text).trim_end().to_string();
        let what = match level {
            LDPL_INFO => "info",
            LDPL_WARNING => "warning",
            LDPL_ERROR => "error",
            _ => "fatal error",
        };
        eprintln!("ld.tether: {what}: {}: {text}", self.plugin_name);
        if level >= LDPL_ERROR {
            self.errors.push(format!("{}: {text}", self.plugin_name));
        }
    }

    /// Opens input `handle` again for the plugin: (name, descriptor, offset, size).
    pub fn open_input(&mut self, handle: usize) -> Option<(*const c_char, c_int, u64, u64)> {
        let input = self.input(handle)?;
        let path = std::path::PathBuf::from(input.name.to_string_lossy().into_owned());
        let file = std::fs::File::open(path).ok()?;
        let fd = file.as_raw_fd();
        input.open = Some(file);
        Some((input.name.as_ptr(), fd, input.offset, input.size))
    }

    pub fn release_input(&mut self, handle: usize) -> bool {
        self.input(handle).map(|i| i.open = None).is_some()
    }

    pub fn view(&mut self, handle: usize) -> Option<usize> {
        self.input(handle).map(|i| i.bytes)
    }

    pub fn section_count(&mut self, handle: usize) -> Option<usize> {
        self.input(handle).map(|i| i.sections.len())
    }

    pub fn section(&mut self, handle: usize, index: u32) -> Option<&SectionInfo> {
        self.input(handle)?.sections.get(index as usize)
    }
}
