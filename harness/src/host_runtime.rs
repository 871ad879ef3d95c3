//! The parts of glibc that a C++ runtime linked into a program (`-static-libstdc++`, with
//! libgcc_s or `-static-libgcc`) asks of libc: the unwinder's object lookup
//! (`_dl_find_object` on x86-64, `__gnu_Unwind_Find_exidx` on ARM), one-time initialisation,
//! thread-specific keys and mutexes for the one thread there is, `errno`.

use crate::error::Result;
use crate::host_libc::host_fault;
use crate::session::Session;
use crate::Arch;
use object::read::elf::{FileHeader, ProgramHeader};

const PT_GNU_EH_FRAME: u32 = 0x6474_e550;
const PT_ARM_EXIDX: u32 = 0x7000_0001;

/// Registers the functions and data; called by `host_libc::install`.
pub fn install(s: &mut Session) -> Result<()> {
    let single = s.register_host_data("__libc_single_threaded", None, 1)?;
    s.write_memory(single, &[1])?;
    let errno = s.register_host_data("errno", None, 4)?;
    s.register_host_fn("__errno_location", None, move |_| Ok(errno));
    s.register_host_fn("_dl_find_object", None, dl_find_object);
    s.register_host_fn("__gnu_Unwind_Find_exidx", None, find_exidx);
    s.register_host_fn("pthread_once", None, pthread_once);
    for name in ["__pthread_key_create", "pthread_key_create"] {
        s.register_host_fn(name, None, pthread_key_create);
    }
    s.register_host_fn("pthread_getspecific", None, |s| {
        let key = s.arg(0)?;
        Ok(s.thread_keys.get(&key).copied().unwrap_or(0))
    });
    s.register_host_fn("pthread_setspecific", None, |s| {
        let (key, value) = (s.arg(0)?, s.arg(1)?);
        s.thread_keys.insert(key, value);
        Ok(0)
    });
    // One thread: a lock is always free.
    for name in [
        "pthread_mutex_lock",
        "pthread_mutex_unlock",
        "pthread_key_delete",
    ] {
        s.register_host_fn(name, None, |_| Ok(0));
    }
    s.register_host_fn("gettext", None, |s| s.arg(0));
    s.register_host_fn("memchr", None, |s| {
        let (p, c, n) = (s.arg(0)?, s.arg(1)? as u8, s.arg(2)?);
        let bytes = s.read_memory(p, n as usize)?;
        Ok(bytes
            .iter()
            .position(|&b| b == c)
            .map_or(0, |k| p + k as u64))
    });
    Ok(())
}

/// `pthread_once(control, init)`: runs `init` the first time, marking the control word.
fn pthread_once(s: &mut Session) -> Result<u64> {
    let (control, init) = (s.arg(0)?, s.arg(1)?);
    let done = s.read_memory(control, 4)?;
    if done == [0, 0, 0, 0] {
        s.write_memory(control, &2u32.to_le_bytes())?;
        s.call_address(init, &[])?;
    }
    Ok(0)
}

fn pthread_key_create(s: &mut Session) -> Result<u64> {
    let key = s.thread_keys.len() as u64 + 1;
    s.thread_keys.insert(key, 0);
    s.write_memory(s.arg(0)?, &(key as u32).to_le_bytes())?;
    Ok(0)
}

/// The loaded object holding `pc`, and the (address, size) of its segment of type `p_type`.
fn segment_of(s: &Session, pc: u64, p_type: u32) -> Result<Option<(u64, u64, u64, u64)>> {
    let Some(o) = s
        .objects()
        .iter()
        .find(|o| (o.base..o.base + o.size).contains(&pc))
    else {
        return Ok(None);
    };
    let data = std::fs::read(&o.path)
        .map_err(|e| host_fault(format!("{}: rereading program headers: {e}", o.path)))?;
    let found = match s.arch() {
        Arch::X86_64 => {
            find_segment::<object::elf::FileHeader64<object::LittleEndian>>(&data, p_type)
        }
        Arch::Arm => find_segment::<object::elf::FileHeader32<object::LittleEndian>>(&data, p_type),
    };
    Ok(found.map(|(vaddr, memsz)| (o.base, o.base + o.size, o.base + vaddr, memsz)))
}

fn find_segment<H: FileHeader<Endian = object::LittleEndian>>(
    data: &[u8],
    p_type: u32,
) -> Option<(u64, u64)> {
    let endian = object::LittleEndian;
    let header = H::parse(data).ok()?;
    let phdrs = header.program_headers(endian, data).ok()?;
    phdrs
        .iter()
        .find(|ph| ph.p_type(endian).0 == p_type)
        .map(|ph| (ph.p_vaddr(endian).into(), ph.p_memsz(endian).into()))
}

/// `_dl_find_object(pc, result)`: fills `struct dl_find_object` (flags, map start and end,
/// link map, PT_GNU_EH_FRAME); -1 when no object holds `pc`.
fn dl_find_object(s: &mut Session) -> Result<u64> {
    let (pc, result) = (s.arg(0)?, s.arg(1)?);
    let Some((start, end, eh_frame, _)) = segment_of(s, pc, PT_GNU_EH_FRAME)? else {
        return Ok(u64::MAX);
    };
    for (k, v) in [0, start, end, start, eh_frame].into_iter().enumerate() {
        s.write_word(result + 8 * k as u64, v)?;
    }
    Ok(0)
}

/// `__gnu_Unwind_Find_exidx(pc, &count)`: the PT_ARM_EXIDX table of the object holding `pc`
/// and its entry count; 0 when there is none.
fn find_exidx(s: &mut Session) -> Result<u64> {
    let (pc, count) = (s.arg(0)? & !1, s.arg(1)?);
    let Some((_, _, table, size)) = segment_of(s, pc, PT_ARM_EXIDX)? else {
        return Ok(0);
    };
    s.write_memory(count, &((size / 8) as u32).to_le_bytes())?;
    Ok(table)
}
