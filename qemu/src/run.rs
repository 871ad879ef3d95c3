//! Running one guest program to completion (or to its timeout) and capturing what it did.

use crate::ld_debug::{parse_line, Binding, LoaderLine};
use crate::tools::{armhf_sysroot, Arch, Tool};
use crate::Error;
use std::fs::File;
use std::io::Read;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Loader variables that must never reach the guest unless the [`RunSpec`] sets them.
const LOADER_VARIABLES: &[&str] = &[
    "LD_PRELOAD",
    "LD_LIBRARY_PATH",
    "LD_BIND_NOW",
    "LD_BIND_NOT",
    "LD_DEBUG",
    "LD_DEBUG_OUTPUT",
    "LD_AUDIT",
    "LD_PROFILE",
    "LD_DYNAMIC_WEAK",
    "LD_HWCAP_MASK",
];

/// Output beyond this is dropped: a runaway guest must not exhaust memory.
const OUTPUT_LIMIT: u64 = 16 << 20;

/// Where a guest program runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Machine {
    /// Directly on the host, with the host's loader (`/lib64/ld-linux-x86-64.so.2`).
    Native,
    /// Under qemu-user; `sysroot` is passed as `-L` (the armhf sysroot for ARM).
    Qemu {
        arch: Arch,
        qemu: PathBuf,
        sysroot: Option<PathBuf>,
    },
}

impl Machine {
    /// qemu-user for `arch`, with the armhf sysroot for ARM. Fails naming the missing package.
    pub fn qemu(arch: Arch) -> Result<Machine, Error> {
        let qemu = Tool::qemu(arch).find()?;
        let sysroot = match arch {
            Arch::Arm => Some(armhf_sysroot()?),
            Arch::X86_64 => None,
        };
        Ok(Machine::Qemu {
            arch,
            qemu,
            sysroot,
        })
    }

    /// The host itself, for programs of `arch` (fails if the host is another architecture).
    pub fn native(arch: Arch) -> Result<Machine, Error> {
        if Arch::host() == Some(arch) {
            Ok(Machine::Native)
        } else {
            Err(Error::WrongArch {
                machine: "this host".into(),
                arch: arch.to_string(),
            })
        }
    }

    pub fn name(&self) -> String {
        match self {
            Machine::Native => "native".into(),
            Machine::Qemu { arch, .. } => format!("qemu-{}", arch.name()),
        }
    }

    /// Runs `spec` to completion. Only failures to start or capture are errors.
    pub fn run(&self, spec: &RunSpec) -> Result<RunOutcome, Error> {
        let env = spec.guest_environment();
        let mut command = match self {
            Machine::Native => {
                let mut c = Command::new(&spec.program);
                c.env_clear().envs(env.iter().map(|(k, v)| (k, v)));
                c
            }
            Machine::Qemu { qemu, sysroot, .. } => {
                let mut c = Command::new(qemu);
                // qemu itself gets an empty environment (so nothing leaks through it), and the
                // guest's variables are named explicitly.
                c.env_clear();
                if let Some(root) = sysroot {
                    c.arg("-L").arg(root);
                }
                for (k, v) in &env {
                    if v.contains(',') {
                        return Err(Error::CommaInEnvironment {
                            variable: k.clone(),
                            value: v.clone(),
                        });
                    }
                    c.arg("-E").arg(format!("{k}={v}"));
                }
                for var in LOADER_VARIABLES {
                    if !env.iter().any(|(k, _)| k == var) {
                        c.arg("-U").arg(var);
                    }
                }
                c.arg(&spec.program);
                c
            }
        };
        command.args(&spec.args);
        if let Some(dir) = &spec.cwd {
            command.current_dir(dir);
        }
        let program = spec.program.display().to_string();
        let capture_path = capture_file_path();
        let capture_error = |source| Error::Capture {
            program: program.clone(),
            path: capture_path.clone(),
            source,
        };
        // One file description for both stdout and stderr (like `>file 2>&1`) keeps the
        // loader's debug lines and the program's output in the order they were written.
        let file = File::options()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&capture_path)
            .map_err(capture_error)?;
        let _cleanup = RemoveOnDrop(capture_path.clone());
        let stderr = file.try_clone().map_err(capture_error)?;
        let stdout = file.try_clone().map_err(capture_error)?;
        command
            .stdin(Stdio::null())
            .stdout(Stdio::from(stdout))
            .stderr(Stdio::from(stderr));
        let started = Instant::now();
        let mut child = command.spawn().map_err(|source| Error::Spawn {
            program: program.clone(),
            source,
        })?;
        let mut pause = Duration::from_millis(1);
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break ExitStatus::from_std(status),
                Ok(None) if started.elapsed() >= spec.timeout => {
                    // The child may exit between try_wait and kill; either way it is reaped.
                    let _ = child.kill();
                    let _ = child.wait();
                    break ExitStatus::TimedOut;
                }
                Ok(None) => {
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(Duration::from_millis(20));
                }
                Err(source) => {
                    return Err(Error::Spawn {
                        program: program.clone(),
                        source,
                    })
                }
            }
        };
        let mut raw = Vec::new();
        File::open(&capture_path)
            .and_then(|f| f.take(OUTPUT_LIMIT).read_to_end(&mut raw))
            .map_err(capture_error)?;
        let log = String::from_utf8_lossy(&raw).into_owned();
        let program_name = spec
            .program
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        Ok(RunOutcome::from_log(
            status,
            log,
            &program_name,
            started.elapsed(),
        ))
    }
}

/// What to run and what the guest sees.
#[derive(Debug, Clone)]
pub struct RunSpec {
    pub program: PathBuf,
    pub args: Vec<String>,
    pub cwd: Option<PathBuf>,
    /// The guest's whole environment besides `LD_LIBRARY_PATH`, `LD_DEBUG` and `LC_ALL`.
    pub env: Vec<(String, String)>,
    /// Becomes `LD_LIBRARY_PATH` (guest paths; under qemu, host paths not in the sysroot).
    pub library_path: Vec<PathBuf>,
    /// Sets `LD_DEBUG=bindings:files` (glibc also splits on ':'; qemu's `-E` splits values on ',') so bindings, init and fini calls are recorded.
    pub ld_debug: bool,
    pub timeout: Duration,
}

impl RunSpec {
    pub fn new(program: impl Into<PathBuf>) -> RunSpec {
        RunSpec {
            program: program.into(),
            args: Vec::new(),
            cwd: None,
            env: Vec::new(),
            library_path: Vec::new(),
            ld_debug: true,
            timeout: Duration::from_secs(20),
        }
    }

    fn guest_environment(&self) -> Vec<(String, String)> {
        let mut env = vec![("LC_ALL".to_string(), "C".to_string())];
        if !self.library_path.is_empty() {
            let joined = std::env::join_paths(&self.library_path)
                .map(|p| p.to_string_lossy().into_owned())
                .unwrap_or_default();
            env.push(("LD_LIBRARY_PATH".into(), joined));
        }
        if self.ld_debug {
            env.push(("LD_DEBUG".into(), "bindings:files".into()));
        }
        env.extend(self.env.iter().cloned());
        env
    }
}

/// How the guest ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    Code(i32),
    Signal(i32),
    TimedOut,
}

impl ExitStatus {
    fn from_std(status: std::process::ExitStatus) -> ExitStatus {
        use std::os::unix::process::ExitStatusExt;
        match (status.code(), status.signal()) {
            (Some(code), _) => ExitStatus::Code(code),
            (None, Some(signal)) => ExitStatus::Signal(signal),
            (None, None) => ExitStatus::Code(-1),
        }
    }
}

impl std::fmt::Display for ExitStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ExitStatus::Code(c) => write!(f, "exit code {c}"),
            ExitStatus::Signal(s) => write!(f, "killed by signal {s}"),
            ExitStatus::TimedOut => f.write_str("timed out"),
        }
    }
}

/// A binding seen in the loader log, and how many program output lines preceded it (which tells
/// a lazy binding at first call from an eager one at load time).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimedBinding {
    pub binding: Binding,
    pub after_lines: usize,
}

/// What a run did.
#[derive(Debug, Clone)]
pub struct RunOutcome {
    pub status: ExitStatus,
    /// The program's own output (stdout and stderr, merged in write order), loader lines removed.
    /// Every line ends with a newline.
    pub output: String,
    /// Every binding the loader reported, in order.
    pub bindings: Vec<TimedBinding>,
    /// Objects whose initialisers the loader called, in order (file names).
    pub inits: Vec<String>,
    /// Objects whose finalisers the loader called, in order (file names; the program by its name).
    pub finis: Vec<String>,
    /// True once the loader transferred control to the program.
    pub started: bool,
    /// The whole merged output, loader lines included.
    pub log: String,
    pub elapsed: Duration,
}

impl RunOutcome {
    fn from_log(status: ExitStatus, log: String, program: &str, elapsed: Duration) -> RunOutcome {
        let mut outcome = RunOutcome {
            status,
            output: String::new(),
            bindings: Vec::new(),
            inits: Vec::new(),
            finis: Vec::new(),
            started: false,
            log: String::new(),
            elapsed,
        };
        let mut lines = 0;
        for line in log.lines() {
            match parse_line(line, program) {
                LoaderLine::Program => {
                    outcome.output.push_str(line);
                    outcome.output.push('\n');
                    lines += 1;
                }
                LoaderLine::Binding(binding) => outcome.bindings.push(TimedBinding {
                    binding,
                    after_lines: lines,
                }),
                LoaderLine::Init(object) => outcome.inits.push(object),
                LoaderLine::Fini(object) => outcome.finis.push(object),
                LoaderLine::Start => outcome.started = true,
                LoaderLine::OtherDebug => {}
            }
        }
        outcome.log = log;
        outcome
    }
}

fn capture_file_path() -> PathBuf {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    std::env::temp_dir().join(format!("tether-run-{}-{n}-{nanos}.log", std::process::id()))
}

struct RemoveOnDrop(PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}
