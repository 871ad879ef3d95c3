//! Running a tool as a child under limits: wall-clock time, address space, file size, and the
//! bytes of output kept. The child leads its own process group, so a timeout (or Ctrl-C, see
//! [`crate::cleanup`]) also ends what it started: a compiler driver's linker, say.

use std::fs::File;
use std::io::{Read, Seek};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// What a child may use. `None` leaves that resource as the parent has it.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub timeout: Duration,
    /// RLIMIT_AS: allocations past it fail in the child.
    pub address_space: Option<u64>,
    /// RLIMIT_FSIZE: a write past it fails (and raises SIGXFSZ).
    pub file_size: Option<u64>,
    /// Bytes of stdout and of stderr kept.
    pub output: u64,
}

impl Limits {
    pub fn timeout(timeout: Duration) -> Limits {
        Limits {
            timeout,
            address_space: None,
            file_size: None,
            output: 1 << 20,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    Code(i32),
    Signal(i32),
    /// Killed (with its process group) when the time limit passed.
    TimedOut,
}

impl std::fmt::Display for Ended {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Ended::Code(c) => write!(f, "exit status {c}"),
            Ended::Signal(s) => write!(f, "signal {s}"),
            Ended::TimedOut => write!(f, "timed out"),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Finished {
    pub ended: Ended,
    pub stdout: String,
    pub stderr: String,
    /// The child's peak resident memory (its own, not its children's), from wait4.
    pub max_rss: u64,
    pub elapsed: Duration,
}

impl Finished {
    pub fn success(&self) -> bool {
        self.ended == Ended::Code(0)
    }
}

/// Runs `command` to its end or its time limit. Its stdin is empty; stdout and stderr go to
/// unlinked temporary files, so a child that writes a lot never blocks on a pipe.
pub fn run(mut command: Command, limits: &Limits) -> std::io::Result<Finished> {
    let mut out = tempfile::tempfile()?;
    let mut err = tempfile::tempfile()?;
    command
        .stdin(Stdio::null())
        .stdout(out.try_clone()?)
        .stderr(err.try_clone()?)
        .process_group(0);
    let (address_space, file_size) = (limits.address_space, limits.file_size);
    // SAFETY: between fork and exec only async-signal-safe calls (setrlimit) are made.
    unsafe {
        command.pre_exec(move || {
            if let Some(bytes) = address_space {
                set_limit(libc::RLIMIT_AS, bytes)?;
            }
            if let Some(bytes) = file_size {
                set_limit(libc::RLIMIT_FSIZE, bytes)?;
            }
            Ok(())
        });
    }
    let started = Instant::now();
    let child = command.spawn()?;
    let pid = child.id() as libc::pid_t;
    crate::cleanup::register_group(pid);
    let waited = wait(pid, started, limits.timeout);
    crate::cleanup::unregister_group(pid);
    let (ended, max_rss) = waited?;
    Ok(Finished {
        ended,
        stdout: read_kept(&mut out, limits.output)?,
        stderr: read_kept(&mut err, limits.output)?,
        max_rss,
        elapsed: started.elapsed(),
    })
}

fn set_limit(resource: libc::__rlimit_resource_t, bytes: u64) -> std::io::Result<()> {
    let limit = libc::rlimit {
        rlim_cur: bytes,
        rlim_max: bytes,
    };
    // SAFETY: a plain system call on a value on the stack.
    if unsafe { libc::setrlimit(resource, &limit) } == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// Waits for the child's end (polling, so the time limit can be enforced), then ends whatever
/// it left running in its group before reaping it: until it is reaped its pid, and so the
/// group's id, cannot be reused. wait4 gives the peak memory.
fn wait(pid: libc::pid_t, started: Instant, timeout: Duration) -> std::io::Result<(Ended, u64)> {
    let mut pause = Duration::from_millis(1);
    let mut timed_out = false;
    loop {
        if started.elapsed() >= timeout {
            timed_out = true;
            break;
        }
        // SAFETY: siginfo_t is plain data; waitid only writes into it.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        let flags = libc::WEXITED | libc::WNOHANG | libc::WNOWAIT;
        // SAFETY: pid is our child and info is valid for writes.
        if unsafe { libc::waitid(libc::P_PID, pid as libc::id_t, &mut info, flags) } < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() != std::io::ErrorKind::Interrupted {
                return Err(e);
            }
        // SAFETY: filled in by waitid; zero when the child has not ended.
        } else if unsafe { info.si_pid() } == pid {
            break;
        }
        let left = timeout.saturating_sub(started.elapsed());
        std::thread::sleep(pause.min(left));
        pause = (pause * 2).min(Duration::from_millis(20));
    }
    kill_group(pid);
    let mut status = 0;
    // SAFETY: rusage is plain data, zero is a valid value.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: pid is our child; status and usage are valid for writes.
    while unsafe { libc::wait4(pid, &mut status, 0, &mut usage) } < 0 {
        let e = std::io::Error::last_os_error();
        if e.kind() != std::io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
    let rss = (usage.ru_maxrss as u64) * 1024;
    if timed_out {
        return Ok((Ended::TimedOut, rss));
    }
    let status = std::process::ExitStatus::from_raw(status);
    let ended = match (status.code(), status.signal()) {
        (Some(c), _) => Ended::Code(c),
        (None, Some(s)) => Ended::Signal(s),
        (None, None) => Ended::Signal(0),
    };
    Ok((ended, rss))
}

/// Sends SIGKILL to the process group led by `pid` (ignored when it is gone).
pub fn kill_group(pid: libc::pid_t) {
    // SAFETY: a plain system call; a stale group id only yields ESRCH.
    unsafe {
        libc::kill(-pid, libc::SIGKILL);
    }
}

fn read_kept(file: &mut File, limit: u64) -> std::io::Result<String> {
    file.rewind()?;
    let mut bytes = Vec::new();
    file.take(limit).read_to_end(&mut bytes)?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hung_child_and_its_children_are_killed_at_the_limit() {
        let mut c = Command::new("sh");
        // The grandchild would outlive a kill of the shell alone.
        c.args(["-c", "sleep 30 & sleep 30; echo never"]);
        let f = run(c, &Limits::timeout(Duration::from_millis(300))).unwrap();
        assert_eq!(f.ended, Ended::TimedOut);
        assert!(f.elapsed < Duration::from_secs(5), "{:?}", f.elapsed);
        assert!(!f.stdout.contains("never"));
    }

    #[test]
    fn the_address_space_limit_applies_to_the_child() {
        let mut c = Command::new("sh");
        // A 64 MiB limit is far below what the shell's `head` of 256 MiB into a variable needs.
        c.args([
            "-c",
            "x=$(head -c 268435456 /dev/zero | tr '\\0' a); echo ${#x}",
        ]);
        let limits = Limits {
            address_space: Some(64 << 20),
            ..Limits::timeout(Duration::from_secs(20))
        };
        let f = run(c, &limits).unwrap();
        assert!(!f.stdout.contains("268435456"), "{f:?}");
    }

    #[test]
    fn status_output_and_peak_memory_are_reported() {
        let mut c = Command::new("sh");
        c.args(["-c", "echo out; echo err >&2; exit 3"]);
        let f = run(c, &Limits::timeout(Duration::from_secs(20))).unwrap();
        assert_eq!(f.ended, Ended::Code(3));
        assert_eq!(f.stdout, "out\n");
        assert_eq!(f.stderr, "err\n");
        assert!(f.max_rss > 0);
    }
}
