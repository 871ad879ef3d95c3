//! The C side of the gold plugin API (binutils' `include/plugin-api.h`): the structures the
//! plugin shares with the linker, the transfer vector, and the callbacks it calls. Every
//! `unsafe` of the plugin interface is here; the rest of [`crate::plugin`] is safe code over
//! [`super::state`].

use super::state::{self, SectionInfo};
use std::ffi::{c_char, c_int, c_uint, c_void, CStr, CString};
use std::os::fd::AsRawFd;

// The transfer vector's union is read by the plugin as an `int` or a pointer from the same
// slot; writing a `usize` puts an `int` in the bytes the plugin reads only on a 64-bit
// little-endian host.
#[cfg(not(all(target_pointer_width = "64", target_endian = "little")))]
compile_error!("the LTO plugin interface is implemented for 64-bit little-endian hosts");

pub const LDPS_OK: c_int = 0;
pub const LDPS_BAD_HANDLE: c_int = 2;
pub const LDPS_ERR: c_int = 3;

pub const LDPL_INFO: c_int = 0;
pub const LDPL_WARNING: c_int = 1;
pub const LDPL_ERROR: c_int = 2;

/// `enum ld_plugin_tag` values tether offers.
mod tag {
    pub const NULL: i32 = 0;
    pub const API_VERSION: i32 = 1;
    pub const LINKER_OUTPUT: i32 = 3;
    pub const OPTION: i32 = 4;
    pub const REGISTER_CLAIM_FILE_HOOK: i32 = 5;
    pub const REGISTER_ALL_SYMBOLS_READ_HOOK: i32 = 6;
    pub const REGISTER_CLEANUP_HOOK: i32 = 7;
    pub const ADD_SYMBOLS: i32 = 8;
    pub const GET_SYMBOLS: i32 = 9;
    pub const ADD_INPUT_FILE: i32 = 10;
    pub const MESSAGE: i32 = 11;
    pub const GET_INPUT_FILE: i32 = 12;
    pub const RELEASE_INPUT_FILE: i32 = 13;
    pub const ADD_INPUT_LIBRARY: i32 = 14;
    pub const OUTPUT_NAME: i32 = 15;
    pub const SET_EXTRA_LIBRARY_PATH: i32 = 16;
    pub const GET_VIEW: i32 = 18;
    pub const GET_INPUT_SECTION_COUNT: i32 = 19;
    pub const GET_INPUT_SECTION_TYPE: i32 = 20;
    pub const GET_INPUT_SECTION_NAME: i32 = 21;
    pub const GET_INPUT_SECTION_CONTENTS: i32 = 22;
    pub const GET_SYMBOLS_V2: i32 = 25;
    pub const GET_SYMBOLS_V3: i32 = 28;
    pub const GET_INPUT_SECTION_ALIGNMENT: i32 = 29;
    pub const GET_INPUT_SECTION_SIZE: i32 = 30;
    pub const GET_WRAP_SYMBOLS: i32 = 32;
}

/// `struct ld_plugin_input_file`.
#[repr(C)]
pub struct InputFile {
    pub name: *const c_char,
    pub fd: c_int,
    pub offset: i64,
    pub filesize: i64,
    pub handle: *mut c_void,
}

/// `struct ld_plugin_symbol` (the little-endian layout of `def`'s byte and its neighbours).
#[repr(C)]
pub struct Symbol {
    pub name: *mut c_char,
    pub version: *mut c_char,
    pub def: c_char,
    pub symbol_type: c_char,
    pub section_kind: c_char,
    pub unused: c_char,
    pub visibility: c_int,
    pub size: u64,
    pub comdat_key: *mut c_char,
    pub resolution: c_int,
}

/// `struct ld_plugin_section`.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct Section {
    pub handle: *const c_void,
    pub shndx: c_uint,
}

/// `struct ld_plugin_tv`: a tag and a word holding an `int`, a string or a function.
#[repr(C)]
pub struct Tv {
    tag: c_int,
    value: usize,
}

pub type ClaimHook = unsafe extern "C" fn(*const InputFile, *mut c_int) -> c_int;
pub type VoidHook = unsafe extern "C" fn() -> c_int;
type Onload = unsafe extern "C" fn(*mut Tv) -> c_int;

extern "C" {
    /// The variadic `message` callback, built from `message.c`.
    fn tether_plugin_message(level: c_int, format: *const c_char, ...) -> c_int;
    fn strdup(s: *const c_char) -> *mut c_char;
}

/// A loaded plugin library. Never unloaded: plugins keep threads and atexit handlers (LLVM's)
/// that must not outlive their code, and the process ends soon after the link.
pub struct Loaded {
    _library: std::mem::ManuallyDrop<libloading::Library>,
}

/// The plugin's view of one input: strings it may keep pointers to for as long as it runs.
pub struct OwnedInput {
    pub name: CString,
    pub file: std::fs::File,
}

/// Loads `path` and calls its `onload` with the transfer vector.
pub fn load(
    path: &std::path::Path,
    output_kind: c_int,
    output_name: &CStr,
    options: &[CString],
) -> Result<Loaded, String> {
    // SAFETY: loading a library runs its initialisers; the plugin is what the user named with
    // -plugin, trusted as GNU ld trusts it.
    let library = unsafe { libloading::Library::new(path) }.map_err(|e| e.to_string())?;
    // SAFETY: `onload` has this type in every plugin (plugin-api.h's `ld_plugin_onload`).
    let onload: Onload = unsafe { library.get::<Onload>(b"onload\0") }
        .map(|f| *f)
        .map_err(|e| e.to_string())?;
    let mut tv = transfer_vector(output_kind, output_name, options);
    // SAFETY: the vector ends with LDPT_NULL and every string in it outlives the call (they
    // are owned by the caller's state for the whole link).
    let status = unsafe { onload(tv.as_mut_ptr()) };
    if status != LDPS_OK {
        return Err(format!("onload failed (status {status})"));
    }
    Ok(Loaded {
        _library: std::mem::ManuallyDrop::new(library),
    })
}

fn transfer_vector(output_kind: c_int, output_name: &CStr, options: &[CString]) -> Vec<Tv> {
    let entry = |tag, value: usize| Tv { tag, value };
    let mut tv = vec![
        entry(tag::API_VERSION, 1),
        entry(tag::LINKER_OUTPUT, output_kind as usize),
        entry(tag::OUTPUT_NAME, output_name.as_ptr() as usize),
    ];
    tv.extend(
        options
            .iter()
            .map(|o| entry(tag::OPTION, o.as_ptr() as usize)),
    );
    let callbacks: [(i32, usize); 22] = [
        (
            tag::REGISTER_CLAIM_FILE_HOOK,
            register_claim_file as *const () as usize,
        ),
        (
            tag::REGISTER_ALL_SYMBOLS_READ_HOOK,
            register_all_symbols_read as *const () as usize,
        ),
        (
            tag::REGISTER_CLEANUP_HOOK,
            register_cleanup as *const () as usize,
        ),
        (tag::ADD_SYMBOLS, add_symbols as *const () as usize),
        (tag::GET_SYMBOLS, get_symbols_v1 as *const () as usize),
        (tag::GET_SYMBOLS_V2, get_symbols_v2 as *const () as usize),
        (tag::GET_SYMBOLS_V3, get_symbols_v3 as *const () as usize),
        (tag::ADD_INPUT_FILE, add_input_file as *const () as usize),
        (
            tag::ADD_INPUT_LIBRARY,
            add_input_library as *const () as usize,
        ),
        (
            tag::SET_EXTRA_LIBRARY_PATH,
            set_extra_library_path as *const () as usize,
        ),
        (tag::MESSAGE, tether_plugin_message as *const () as usize),
        (tag::GET_INPUT_FILE, get_input_file as *const () as usize),
        (
            tag::RELEASE_INPUT_FILE,
            release_input_file as *const () as usize,
        ),
        (tag::GET_VIEW, get_view as *const () as usize),
        (
            tag::GET_INPUT_SECTION_COUNT,
            get_input_section_count as *const () as usize,
        ),
        (
            tag::GET_INPUT_SECTION_TYPE,
            get_input_section_type as *const () as usize,
        ),
        (
            tag::GET_INPUT_SECTION_NAME,
            get_input_section_name as *const () as usize,
        ),
        (
            tag::GET_INPUT_SECTION_CONTENTS,
            get_input_section_contents as *const () as usize,
        ),
        (
            tag::GET_INPUT_SECTION_ALIGNMENT,
            get_input_section_alignment as *const () as usize,
        ),
        (
            tag::GET_INPUT_SECTION_SIZE,
            get_input_section_size as *const () as usize,
        ),
        (
            tag::GET_WRAP_SYMBOLS,
            get_wrap_symbols as *const () as usize,
        ),
        (tag::NULL, 0),
    ];
    tv.extend(callbacks.iter().map(|&(t, v)| entry(t, v)));
    tv
}

/// Offers one input to a claim hook; `Ok(true)` when the plugin takes it.
pub fn call_claim(
    hook: ClaimHook,
    input: &OwnedInput,
    offset: u64,
    size: u64,
    handle: usize,
) -> Result<bool, c_int> {
    let file = InputFile {
        name: input.name.as_ptr(),
        fd: input.file.as_raw_fd(),
        offset: offset as i64,
        filesize: size as i64,
        handle: handle as *mut c_void,
    };
    let mut claimed: c_int = 0;
    // SAFETY: `file` and its name and descriptor stay valid for the call; the plugin copies
    // what it keeps (plugin-api.h's contract for claim_file_handler).
    let status = unsafe { hook(&file, &mut claimed) };
    if status != LDPS_OK {
        return Err(status);
    }
    Ok(claimed != 0)
}

/// Calls an all-symbols-read or cleanup hook.
pub fn call_void(hook: VoidHook) -> c_int {
    // SAFETY: hooks of this kind take nothing; the plugin registered it with this type.
    unsafe { hook() }
}

/// A C string from the plugin, copied (`None` for a null pointer).
///
/// # Safety
/// `p` is null or points at a NUL-terminated string.
unsafe fn string(p: *const c_char) -> Option<Vec<u8>> {
    (!p.is_null()).then(|| CStr::from_ptr(p).to_bytes().to_vec())
}

extern "C" fn register_claim_file(hook: Option<ClaimHook>) -> c_int {
    match hook {
        Some(h) => state::with(|s| s.claim_hooks.push(h)),
        None => return LDPS_ERR,
    }
    LDPS_OK
}

extern "C" fn register_all_symbols_read(hook: Option<VoidHook>) -> c_int {
    match hook {
        Some(h) => state::with(|s| s.all_symbols_read_hooks.push(h)),
        None => return LDPS_ERR,
    }
    LDPS_OK
}

extern "C" fn register_cleanup(hook: Option<VoidHook>) -> c_int {
    match hook {
        Some(h) => state::with(|s| s.cleanup_hooks.push(h)),
        None => return LDPS_ERR,
    }
    LDPS_OK
}

extern "C" fn add_symbols(handle: *mut c_void, count: c_int, syms: *const Symbol) -> c_int {
    if syms.is_null() && count > 0 || count < 0 {
        return LDPS_ERR;
    }
    let mut copied = Vec::with_capacity(count as usize);
    for i in 0..count as usize {
        // SAFETY: the plugin passes `count` symbols at `syms` (checked non-null above), each
        // with NUL-terminated or null strings; they are copied before returning.
        let sym = unsafe {
            let s = &*syms.add(i);
            state::IrSymbol {
                name: string(s.name).unwrap_or_default(),
                version: string(s.version),
                kind: s.def as u8,
                symbol_type: s.symbol_type as u8,
                visibility: s.visibility,
                size: s.size,
                comdat: string(s.comdat_key),
            }
        };
        copied.push(sym);
    }
    state::with(|s| s.add_symbols(handle as usize, copied))
}

/// Writes the resolutions of input `handle` into the plugin's array.
fn get_symbols(handle: *const c_void, count: c_int, syms: *mut Symbol, version: u8) -> c_int {
    let Some(resolutions) = state::with(|s| s.resolutions(handle as usize, version)) else {
        return LDPS_BAD_HANDLE;
    };
    if count < 0 || (count as usize) > resolutions.len() || syms.is_null() && count > 0 {
        return LDPS_ERR;
    }
    for (i, &r) in resolutions.iter().take(count as usize).enumerate() {
        // SAFETY: the plugin's array holds `count` symbols (the ones it added for `handle`).
        unsafe { (*syms.add(i)).resolution = r };
    }
    LDPS_OK
}

extern "C" fn get_symbols_v1(handle: *const c_void, count: c_int, syms: *mut Symbol) -> c_int {
    get_symbols(handle, count, syms, 1)
}

extern "C" fn get_symbols_v2(handle: *const c_void, count: c_int, syms: *mut Symbol) -> c_int {
    get_symbols(handle, count, syms, 2)
}

extern "C" fn get_symbols_v3(handle: *const c_void, count: c_int, syms: *mut Symbol) -> c_int {
    // Every claimed file is part of the link (claiming happens when a member is loaded), so
    // v3's LDPS_NO_SYMS for unused archive members never applies.
    get_symbols(handle, count, syms, 3)
}

/// Runs `f` on the copied string, `LDPS_ERR` for a null pointer.
fn with_string(p: *const c_char, f: impl FnOnce(Vec<u8>)) -> c_int {
    // SAFETY: the API passes NUL-terminated strings (or null, refused).
    match unsafe { string(p) } {
        Some(s) => {
            f(s);
            LDPS_OK
        }
        None => LDPS_ERR,
    }
}

extern "C" fn add_input_file(path: *const c_char) -> c_int {
    with_string(path, |p| state::with(|s| s.added_files.push(p)))
}

extern "C" fn add_input_library(name: *const c_char) -> c_int {
    with_string(name, |p| state::with(|s| s.added_libraries.push(p)))
}

extern "C" fn set_extra_library_path(path: *const c_char) -> c_int {
    with_string(path, |p| state::with(|s| s.extra_library_paths.push(p)))
}

/// The message callback's formatted text (from `message.c`).
#[no_mangle]
extern "C" fn tether_plugin_report(level: c_int, text: *const c_char) -> c_int {
    with_string(text, |t| state::with(|s| s.message(level, t)))
}

extern "C" fn get_input_file(handle: *const c_void, file: *mut InputFile) -> c_int {
    if file.is_null() {
        return LDPS_ERR;
    }
    let Some((name, fd, offset, size)) = state::with(|s| s.open_input(handle as usize)) else {
        return LDPS_BAD_HANDLE;
    };
    // SAFETY: `file` is the plugin's (checked non-null); `name` points into the state's
    // inputs, which live until the plugin is done.
    unsafe {
        *file = InputFile {
            name,
            fd,
            offset: offset as i64,
            filesize: size as i64,
            handle: handle as *mut c_void,
        }
    };
    LDPS_OK
}

extern "C" fn release_input_file(handle: *const c_void) -> c_int {
    match state::with(|s| s.release_input(handle as usize)) {
        true => LDPS_OK,
        false => LDPS_BAD_HANDLE,
    }
}

extern "C" fn get_view(handle: *const c_void, view: *mut *const c_void) -> c_int {
    if view.is_null() {
        return LDPS_ERR;
    }
    let Some(bytes) = state::with(|s| s.view(handle as usize)) else {
        return LDPS_BAD_HANDLE;
    };
    // SAFETY: `view` is the plugin's (checked non-null); the bytes are a mapping of the input
    // that lives for the whole link.
    unsafe { *view = bytes as *const c_void };
    LDPS_OK
}

fn with_section<T>(section: Section, out: *mut T, f: impl FnOnce(&SectionInfo) -> T) -> c_int {
    if out.is_null() {
        return LDPS_ERR;
    }
    let value = state::with(|s| s.section(section.handle as usize, section.shndx).map(f));
    match value {
        Some(v) => {
            // SAFETY: `out` is the plugin's (checked non-null) and of the callback's type.
            unsafe { *out = v };
            LDPS_OK
        }
        None => LDPS_BAD_HANDLE,
    }
}

extern "C" fn get_input_section_count(handle: *const c_void, count: *mut c_uint) -> c_int {
    if count.is_null() {
        return LDPS_ERR;
    }
    let Some(n) = state::with(|s| s.section_count(handle as usize)) else {
        return LDPS_BAD_HANDLE;
    };
    // SAFETY: `count` is the plugin's (checked non-null).
    unsafe { *count = n as c_uint };
    LDPS_OK
}

extern "C" fn get_input_section_type(section: Section, ty: *mut c_uint) -> c_int {
    with_section(section, ty, |s| s.sh_type)
}

extern "C" fn get_input_section_alignment(section: Section, align: *mut c_uint) -> c_int {
    with_section(section, align, |s| s.align as c_uint)
}

extern "C" fn get_input_section_size(section: Section, size: *mut u64) -> c_int {
    with_section(section, size, |s| s.size)
}

extern "C" fn get_input_section_name(section: Section, name: *mut *mut c_char) -> c_int {
    with_section(section, name, |s| {
        let text = CString::new(s.name.clone()).unwrap_or_default();
        // SAFETY: the API has the plugin free() the name, so it comes from malloc (strdup).
        unsafe { strdup(text.as_ptr()) }
    })
}

extern "C" fn get_input_section_contents(
    section: Section,
    contents: *mut *const u8,
    len: *mut usize,
) -> c_int {
    if len.is_null() {
        return LDPS_ERR;
    }
    let mut size = 0;
    let status = with_section(section, contents, |s| {
        size = s.data.1;
        s.data.0 as *const u8
    });
    if status == LDPS_OK {
        // SAFETY: `len` is the plugin's (checked non-null).
        unsafe { *len = size };
    }
    status
}

extern "C" fn get_wrap_symbols(count: *mut u64, list: *mut *const *const c_char) -> c_int {
    if count.is_null() || list.is_null() {
        return LDPS_ERR;
    }
    // tether has no --wrap yet: no symbol is wrapped.
    // SAFETY: both pointers are the plugin's (checked non-null).
    unsafe {
        *count = 0;
        *list = std::ptr::null();
    }
    LDPS_OK
}
