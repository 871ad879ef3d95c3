//! The built-in host library: answers to `libc.so.6` (and the dynamic loader's sonames) with
//! glibc's version names, implemented in Rust over guest memory.

use crate::arch::Arch;
use crate::error::{Fault, FaultKind, HarnessError, Result};
use crate::printf;
use crate::session::{AtExit, Session};

pub use crate::heap::Heap;

/// The stack-protector canary (`__stack_chk_guard`, and %fs:0x28 on x86-64).
pub const CANARY: u64 = 0x00ac_1d5e_ed00_7e70;

pub fn host_fault(message: String) -> HarnessError {
    HarnessError::Fault(Box::new(Fault {
        kind: FaultKind::HostFunction(message),
        pc: 0,
        address: None,
        location: None,
        registers: Vec::new(),
        recent_blocks: Vec::new(),
    }))
}

fn kind_fault(kind: FaultKind) -> HarnessError {
    HarnessError::Fault(Box::new(Fault {
        kind,
        pc: 0,
        address: None,
        location: None,
        registers: Vec::new(),
        recent_blocks: Vec::new(),
    }))
}

fn strlen(s: &Session, a: u64) -> Result<u64> {
    Ok(s.read_c_string(a)?.len() as u64)
}

/// Registers every built-in function and data object.
pub fn install(s: &mut Session) -> Result<()> {
    let v = Some(s.arch.glibc_base_version());
    let layout = s.arch.layout();
    let w = s.arch.word_size();

    // Data: stdout/stderr/stdin pointers to distinct FILE stand-ins, the canary, argv/envp.
    let stdout = s.register_host_data("stdout", v, w)?;
    let stderr = s.register_host_data("stderr", v, w)?;
    let stdin = s.register_host_data("stdin", v, w)?;
    let files = s.register_host_data("_IO_2_1_files_", None, 0x300)?;
    s.stdout_file = files;
    s.stderr_file = files + 0x100;
    s.write_word(stdout, files)?;
    s.write_word(stderr, files + 0x100)?;
    s.write_word(stdin, files + 0x200)?;
    let guard = s.register_host_data("__stack_chk_guard", v, w)?;
    s.write_word(guard, CANARY)?;
    let argv = layout.host_data + 0x100;
    let prog = layout.host_data + 0x200;
    s.write_memory(prog, b"tether-guest\0")?;
    s.write_word(argv, prog)?;

    s.register_host_fn("puts", v, |s| {
        let mut text = s.read_c_string(s.arg(0)?)?;
        text.push(b'\n');
        s.write_stream(false, &text);
        Ok(text.len() as u64)
    });
    s.register_host_fn("putchar", v, |s| {
        let c = s.arg(0)? as u8;
        s.write_stream(false, &[c]);
        Ok(u64::from(c))
    });
    s.register_host_fn("printf", v, |s| {
        let fmt = s.read_c_string(s.arg(0)?)?;
        let mut va = s.arch.var_args(1);
        let out = printf::format(s, &fmt, &mut va)?;
        s.write_stream(false, &out);
        Ok(out.len() as u64)
    });
    s.register_host_fn("__printf_chk", v, |s| {
        let fmt = s.read_c_string(s.arg(1)?)?;
        let mut va = s.arch.var_args(2);
        let out = printf::format(s, &fmt, &mut va)?;
        s.write_stream(false, &out);
        Ok(out.len() as u64)
    });
    s.register_host_fn("fprintf", v, |s| {
        let stream = stream_of(s, s.arg(0)?)?;
        let fmt = s.read_c_string(s.arg(1)?)?;
        let mut va = s.arch.var_args(2);
        let out = printf::format(s, &fmt, &mut va)?;
        s.write_stream(stream, &out);
        Ok(out.len() as u64)
    });
    s.register_host_fn("__fprintf_chk", v, |s| {
        let stream = stream_of(s, s.arg(0)?)?;
        let fmt = s.read_c_string(s.arg(2)?)?;
        let mut va = s.arch.var_args(3);
        let out = printf::format(s, &fmt, &mut va)?;
        s.write_stream(stream, &out);
        Ok(out.len() as u64)
    });
    s.register_host_fn("sprintf", v, |s| {
        let dst = s.arg(0)?;
        let fmt = s.read_c_string(s.arg(1)?)?;
        let mut va = s.arch.var_args(2);
        let mut out = printf::format(s, &fmt, &mut va)?;
        let n = out.len() as u64;
        out.push(0);
        s.write_memory(dst, &out)?;
        Ok(n)
    });
    s.register_host_fn("snprintf", v, |s| {
        let dst = s.arg(0)?;
        let cap = s.arg(1)?;
        let fmt = s.read_c_string(s.arg(2)?)?;
        let mut va = s.arch.var_args(3);
        let out = printf::format(s, &fmt, &mut va)?;
        if cap > 0 {
            let keep = (cap - 1).min(out.len() as u64) as usize;
            let mut b = out[..keep].to_vec();
            b.push(0);
            s.write_memory(dst, &b)?;
        }
        Ok(out.len() as u64)
    });
    s.register_host_fn("fputs", v, |s| {
        let text = s.read_c_string(s.arg(0)?)?;
        let stream = stream_of(s, s.arg(1)?)?;
        s.write_stream(stream, &text);
        Ok(1)
    });
    s.register_host_fn("fputc", v, |s| {
        let c = s.arg(0)? as u8;
        let stream = stream_of(s, s.arg(1)?)?;
        s.write_stream(stream, &[c]);
        Ok(u64::from(c))
    });
    s.register_host_fn("putc", v, |s| {
        let c = s.arg(0)? as u8;
        let stream = stream_of(s, s.arg(1)?)?;
        s.write_stream(stream, &[c]);
        Ok(u64::from(c))
    });
    s.register_host_fn("fwrite", v, |s| {
        let (p, size, n) = (s.arg(0)?, s.arg(1)?, s.arg(2)?);
        let stream = stream_of(s, s.arg(3)?)?;
        let total = size
            .checked_mul(n)
            .ok_or_else(|| host_fault("fwrite: size overflows".into()))?;
        let bytes = s.read_memory(p, total as usize)?;
        s.write_stream(stream, &bytes);
        Ok(n)
    });
    s.register_host_fn("fflush", v, |_| Ok(0));
    s.register_host_fn("write", v, |s| {
        let (fd, p, n) = (s.arg(0)?, s.arg(1)?, s.arg(2)?);
        let bytes = s.read_memory(p, n as usize)?;
        match fd {
            1 | 2 => {
                s.write_stream(fd == 2, &bytes);
                Ok(n)
            }
            _ => Ok(s.mask_neg1()),
        }
    });
    s.register_host_fn("malloc", v, |s| {
        let n = s.arg(0)?;
        Ok(s.heap.alloc(n).unwrap_or(0))
    });
    s.register_host_fn("calloc", v, |s| {
        let n = s.arg(0)?.saturating_mul(s.arg(1)?);
        match s.heap.alloc(n) {
            Some(a) => {
                s.write_memory(a, &vec![0u8; n as usize])?;
                Ok(a)
            }
            None => Ok(0),
        }
    });
    s.register_host_fn("realloc", v, |s| {
        let (old, n) = (s.arg(0)?, s.arg(1)?);
        let Some(new) = s.heap.alloc(n) else {
            return Ok(0);
        };
        if old != 0 {
            let old_len = s
                .heap
                .size_of(old)
                .ok_or_else(|| host_fault(format!("realloc({old:#x}): not a live heap block")))?;
            let bytes = s.read_memory(old, old_len.min(n) as usize)?;
            s.write_memory(new, &bytes)?;
            s.heap.free(old).map_err(host_fault)?;
        }
        Ok(new)
    });
    s.register_host_fn("free", v, |s| {
        let a = s.arg(0)?;
        if a != 0 {
            s.heap.free(a).map_err(host_fault)?;
        }
        Ok(0)
    });
    let copy = |s: &mut Session, d: u64, src: u64, n: u64| -> Result<u64> {
        let b = s.read_memory(src, n as usize)?;
        s.write_memory(d, &b)?;
        Ok(d)
    };
    s.register_host_fn("memcpy", v, move |s| {
        copy(s, s.arg(0)?, s.arg(1)?, s.arg(2)?)
    });
    s.register_host_fn("memmove", v, move |s| {
        copy(s, s.arg(0)?, s.arg(1)?, s.arg(2)?)
    });
    s.register_host_fn("memset", v, |s| {
        let (d, c, n) = (s.arg(0)?, s.arg(1)?, s.arg(2)?);
        if n as usize > crate::machine::MAX_ACCESS {
            return Err(host_fault(format!(
                "memset({d:#x}, {c}, {n:#x}): length too large"
            )));
        }
        s.write_memory(d, &vec![c as u8; n as usize])?;
        Ok(d)
    });
    s.register_host_fn("memcmp", v, |s| {
        let n = s.arg(2)? as usize;
        let a = s.read_memory(s.arg(0)?, n)?;
        let b = s.read_memory(s.arg(1)?, n)?;
        Ok(s.sign(cmp_bytes(&a, &b)))
    });
    s.register_host_fn("bcmp", v, |s| {
        let n = s.arg(2)? as usize;
        let a = s.read_memory(s.arg(0)?, n)?;
        let b = s.read_memory(s.arg(1)?, n)?;
        Ok(u64::from(a != b))
    });
    s.register_host_fn("strlen", v, |s| strlen(s, s.arg(0)?));
    s.register_host_fn("strcmp", v, |s| {
        let a = s.read_c_string(s.arg(0)?)?;
        let b = s.read_c_string(s.arg(1)?)?;
        Ok(s.sign(cmp_bytes(&a, &b)))
    });
    s.register_host_fn("strncmp", v, |s| {
        let n = s.arg(2)? as usize;
        let a = s.read_c_string(s.arg(0)?)?;
        let b = s.read_c_string(s.arg(1)?)?;
        Ok(s.sign(cmp_bytes(&a[..a.len().min(n)], &b[..b.len().min(n)])))
    });
    s.register_host_fn("strcpy", v, |s| {
        let d = s.arg(0)?;
        let mut b = s.read_c_string(s.arg(1)?)?;
        b.push(0);
        s.write_memory(d, &b)?;
        Ok(d)
    });
    s.register_host_fn("strchr", v, |s| {
        let p = s.arg(0)?;
        let c = s.arg(1)? as u8;
        let b = s.read_c_string(p)?;
        if c == 0 {
            return Ok(p + b.len() as u64);
        }
        Ok(b.iter().position(|&x| x == c).map_or(0, |i| p + i as u64))
    });
    s.register_host_fn("abort", v, |_| Err(kind_fault(FaultKind::Abort)));
    s.register_host_fn("__stack_chk_fail", v, |_| {
        Err(kind_fault(FaultKind::StackSmashing))
    });
    s.register_host_fn("exit", v, |s| {
        let code = s.arg(0)? as i32;
        run_atexit(s, None)?;
        Err(HarnessError::Exit { code })
    });
    s.register_host_fn("_exit", v, |s| {
        Err(HarnessError::Exit {
            code: s.arg(0)? as i32,
        })
    });
    s.register_host_fn("atexit", v, |s| {
        let func = s.arg(0)?;
        Ok(push_atexit(
            s,
            AtExit {
                func,
                arg: 0,
                dso: 0,
                with_arg: false,
            },
        ))
    });
    s.register_host_fn("__cxa_atexit", v, |s| {
        let (func, arg, dso) = (s.arg(0)?, s.arg(1)?, s.arg(2)?);
        Ok(push_atexit(
            s,
            AtExit {
                func,
                arg,
                dso,
                with_arg: true,
            },
        ))
    });
    s.register_host_fn("__cxa_finalize", v, |s| {
        let dso = s.arg(0)?;
        run_atexit(s, if dso == 0 { None } else { Some(dso) })?;
        Ok(0)
    });
    // The host plays glibc's start-up: main(argc, argv, envp), then exit with its result.
    s.register_host_fn("__libc_start_main", v, |s| {
        let (main, argc, argv) = (s.arg(0)?, s.arg(1)?, s.arg(2)?);
        let envp = argv + (argc + 1) * s.arch.word_size();
        let code = s.call_address(main, &[argc, argv, envp])?;
        run_atexit(s, None)?;
        Err(HarnessError::Exit {
            code: code as u32 as i32,
        })
    });
    // The dynamic-loading API: every object goes into the global scope (RTLD_GLOBAL) and
    // dlclose unloads nothing.
    s.register_host_fn("dlopen", v, |s| {
        let p = s.arg(0)?;
        if p == 0 {
            return Ok(s.objects().first().map_or(0, |o| o.base));
        }
        let name = String::from_utf8_lossy(&s.read_c_string(p)?).into_owned();
        match s.open_library(&name) {
            Ok(h) => Ok(h),
            Err(e @ HarnessError::Fault(_)) | Err(e @ HarnessError::Exit { .. }) => Err(e),
            Err(e) => {
                s.dl_error = Some(e.to_string());
                Ok(0)
            }
        }
    });
    s.register_host_fn("dlsym", v, |s| {
        let (handle, p) = (s.arg(0)?, s.arg(1)?);
        let name = String::from_utf8_lossy(&s.read_c_string(p)?).into_owned();
        // RTLD_DEFAULT (0) and RTLD_NEXT (-1) search the global scope.
        let found = if handle == 0 || handle == s.sign(-1) {
            s.function_address(&name)?
        } else {
            s.symbol_in_handle(handle, &name)?
        };
        Ok(found.unwrap_or_else(|| {
            s.dl_error = Some(format!("undefined symbol: {name}"));
            0
        }))
    });
    s.register_host_fn("dlerror", v, |s| match s.dl_error.take() {
        Some(m) => s.alloc_c_string(&m),
        None => Ok(0),
    });
    s.register_host_fn("dlclose", v, |_| Ok(0));
    for name in ["dlopen", "dlsym", "dlerror", "dlclose"] {
        s.add_host_version(name, "GLIBC_2.34");
    }
    s.register_host_fn("__tls_get_addr", None, |s| {
        let ti = s.arg(0)?;
        let w = s.arch.word_size();
        let module = s.read_word(ti)?;
        let offset = s.read_word(ti + w)?;
        let block = s
            .tls_block(module)
            .ok_or_else(|| host_fault(format!("__tls_get_addr: no TLS module {module}")))?;
        Ok(block.wrapping_add(offset))
    });
    s.register_host_fn("__aeabi_read_tp", None, |s| Ok(s.thread_pointer()));
    if s.arch == Arch::X86_64 {
        // x86-64 glibc versions that are newer than the port's base version.
        for (name, version) in [
            ("memcpy", "GLIBC_2.14"),
            ("__stack_chk_fail", "GLIBC_2.4"),
            ("__printf_chk", "GLIBC_2.3.4"),
            ("__fprintf_chk", "GLIBC_2.3.4"),
        ] {
            s.add_host_version(name, version);
        }
    }
    // glibc 2.34 moved the start-up code into libc proper under a new version.
    s.add_host_version("__libc_start_main", "GLIBC_2.34");
    // Weak hooks glibc's crt files test before calling; present and harmless.
    for name in [
        "__gmon_start__",
        "_ITM_deregisterTMCloneTable",
        "_ITM_registerTMCloneTable",
    ] {
        s.register_host_fn(name, None, |_| Ok(0));
    }
    crate::host_runtime::install(s)
}

fn cmp_bytes(a: &[u8], b: &[u8]) -> i64 {
    for (x, y) in a.iter().zip(b) {
        if x != y {
            return i64::from(*x) - i64::from(*y);
        }
    }
    a.len() as i64 - b.len() as i64
}

fn stream_of(s: &Session, file: u64) -> Result<bool> {
    if file == s.stdout_file {
        Ok(false)
    } else if file == s.stderr_file {
        Ok(true)
    } else {
        Err(host_fault(format!(
            "output to FILE* {file:#x}, which is neither stdout nor stderr"
        )))
    }
}

/// Runs `atexit`/`__cxa_atexit` handlers, newest first: all of them, or those of one DSO.
pub fn run_atexit(s: &mut Session, dso: Option<u64>) -> Result<()> {
    while let Some(k) = s
        .atexit
        .iter()
        .rposition(|e| dso.is_none_or(|d| e.dso == d))
    {
        let e = s.atexit.remove(k);
        if e.with_arg {
            s.call_address(e.func, &[e.arg])?;
        } else {
            s.call_address(e.func, &[])?;
        }
    }
    Ok(())
}

impl Session {
    fn sign(&self, v: i64) -> u64 {
        let v = v.signum();
        match self.arch {
            Arch::Arm => (v as u64) & 0xffff_ffff,
            Arch::X86_64 => v as u64,
        }
    }
    fn mask_neg1(&self) -> u64 {
        self.sign(-1)
    }
}

/// Handlers a session keeps: host memory, so bounded whatever the guest does. Past it the call
/// fails as glibc's does when it cannot allocate (-1), and the guest may go on.
const MAX_ATEXIT: usize = 1 << 16;

fn push_atexit(s: &mut Session, handler: AtExit) -> u64 {
    if s.atexit.len() >= MAX_ATEXIT {
        return u64::MAX;
    }
    s.atexit.push(handler);
    0
}
