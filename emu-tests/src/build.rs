//! Compiling a scenario for a target and linking its modules with a chosen linker.
//!
//! Each source is compiled to an object with the target's compiler; each module is then linked
//! through the compiler driver (so crt files and libc come as usual) with the linker under test
//! (`linker: "reference"` modules with GNU ld): libraries with `-shared -Wl,-soname,<name>`, the
//! program as its `kind` says (`-pie`, `-no-pie`, `-static`, `-static-pie`) against the
//! libraries it needs.
//!
//! A program that fails to build does not fail the whole build: the libraries are still there
//! for backends that only load them and make the manifest's calls, and
//! [`BuiltScenario::program_error`] says why the program is missing to those that need it.

use crate::child::{self, Ended, Limits};
use crate::corpus::Scenario;
use crate::linker::Linker;
use crate::manifest::{LinkerRole, Module, ProgramKind};
use crate::target::{Compiler, Target};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

/// How long one compile or link may take by default; `tether check --timeout` changes it.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);
use tether_qemu::{Arch, Tool};

/// Host variables the build must not inherit: they add run paths, search directories or
/// other compilers' pieces to what is built.
const BUILD_VARIABLES: &[&str] = &[
    "LD_RUN_PATH",
    "LD_LIBRARY_PATH",
    "LD_PRELOAD",
    "LIBRARY_PATH",
    "COMPILER_PATH",
    "GCC_EXEC_PREFIX",
    "CPATH",
    "C_INCLUDE_PATH",
    "CPLUS_INCLUDE_PATH",
    "CFLAGS",
    "LDFLAGS",
];

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error(transparent)]
    Tool(#[from] tether_qemu::Error),
    #[error("{what} {path}: {source}")]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("compiling {source_file} for {module} failed:\n$ {command}\n{output}")]
    Compile {
        module: String,
        source_file: String,
        command: String,
        output: String,
    },
    #[error("linking {module} with {linker} failed:\n$ {command}\n{output}")]
    Link {
        module: String,
        linker: String,
        command: String,
        output: String,
    },
}

/// A module that was built.
#[derive(Debug, Clone)]
pub struct BuiltModule {
    pub name: String,
    pub path: PathBuf,
}

/// A scenario compiled for one target with one linker, ready for a [`crate::Backend`].
#[derive(Debug, Clone)]
pub struct BuiltScenario<'a> {
    pub scenario: &'a Scenario,
    pub target: Target,
    /// Report name of the linker that linked the libraries.
    pub linker: String,
    /// Directory holding every output (libraries and program); the run's library path.
    pub out_dir: PathBuf,
    /// The libraries, in manifest order.
    pub libraries: Vec<BuiltModule>,
    /// The program, if the scenario has one and it was built.
    pub program: Option<BuiltModule>,
    /// Why the scenario's program could not be built (compiling or linking it failed).
    pub program_error: Option<Arc<BuildError>>,
    /// Every command run, for the report.
    pub commands: Vec<String>,
}

impl BuiltScenario<'_> {
    pub fn arch(&self) -> Arch {
        self.target.arch
    }

    /// The libraries an in-process backend loads in place of the program: `program.needs`
    /// (their own dependencies follow from their DT_NEEDED entries).
    pub fn initial_libraries(&self) -> Vec<&BuiltModule> {
        let Some(program) = &self.scenario.manifest.program else {
            return self.libraries.iter().collect();
        };
        program
            .needs
            .iter()
            .filter_map(|n| self.libraries.iter().find(|l| &l.name == n))
            .collect()
    }
}

/// Builds `scenario` for `target` into `dir` (sources under `dir/src`, outputs under `dir/out`),
/// each step bounded by [`DEFAULT_TIMEOUT`].
pub fn build<'a>(
    scenario: &'a Scenario,
    target: Target,
    linker: &Linker,
    dir: &Path,
) -> Result<BuiltScenario<'a>, BuildError> {
    build_with_timeout(scenario, target, linker, dir, DEFAULT_TIMEOUT)
}

/// [`build`] with each compile and link bounded by `timeout`: a step that takes longer is
/// killed (with what it started) and is that step's failure.
pub fn build_with_timeout<'a>(
    scenario: &'a Scenario,
    target: Target,
    linker: &Linker,
    dir: &Path,
    timeout: Duration,
) -> Result<BuiltScenario<'a>, BuildError> {
    let src = dir.join("src");
    let out = dir.join("out");
    let obj = dir.join("obj");
    for d in [&src, &out, &obj] {
        std::fs::create_dir_all(d).map_err(|source| BuildError::Io {
            what: "cannot create",
            path: d.clone(),
            source,
        })?;
    }
    scenario.write_to(&src).map_err(|source| BuildError::Io {
        what: "cannot write the sources into",
        path: src.clone(),
        source,
    })?;
    let mut builder = Builder {
        target,
        src,
        out: out.clone(),
        obj,
        commands: Vec::new(),
        timeout,
        tested_linker: LinkerArgs::new(linker, target, dir)?,
        reference_linker: LinkerArgs::new(&Linker::GnuLd, target, dir)?,
    };
    let mut libraries = Vec::new();
    for module in &scenario.manifest.libraries {
        let path = builder.module(module, None)?;
        libraries.push(BuiltModule {
            name: module.name.clone(),
            path,
        });
    }
    let kind = scenario.manifest.program_kind();
    let (program, program_error) = match &scenario.manifest.program {
        Some(module) => match builder.module(module, Some(kind)) {
            Ok(path) => (
                Some(BuiltModule {
                    name: module.name.clone(),
                    path,
                }),
                None,
            ),
            Err(error) => (None, Some(Arc::new(error))),
        },
        None => (None, None),
    };
    Ok(BuiltScenario {
        scenario,
        target,
        linker: linker.name().to_string(),
        out_dir: out,
        libraries,
        program,
        program_error,
        commands: builder.commands,
    })
}

/// How to make the compiler driver use one linker.
struct LinkerArgs {
    name: String,
    args: Vec<String>,
}

impl LinkerArgs {
    fn new(linker: &Linker, target: Target, dir: &Path) -> Result<LinkerArgs, BuildError> {
        let args = match (linker, target.compiler) {
            (Linker::GnuLd, Compiler::Gcc) => Vec::new(),
            (Linker::GnuLd, Compiler::Clang) => match target.arch {
                Arch::X86_64 => Vec::new(),
                // clang's default `ld` is the host's; ARM needs the cross binutils' one.
                Arch::Arm => vec![format!("--ld-path={}", Tool::ARM_LD.find()?.display())],
            },
            (Linker::Path { .. }, Compiler::Clang) => {
                let path = linker.binary_for(target.arch).unwrap_or_default();
                vec![format!("--ld-path={}", path.display())]
            }
            (Linker::Path { .. }, Compiler::Gcc) => {
                let path = linker.binary_for(target.arch).unwrap_or_default();
                // gcc (collect2) looks for a program called `ld` in the -B directories first.
                let bin = dir.join("ld-bin");
                let ld = bin.join("ld");
                let io = |source| BuildError::Io {
                    what: "cannot make the linker link",
                    path: ld.clone(),
                    source,
                };
                std::fs::create_dir_all(&bin).map_err(io)?;
                let absolute = std::path::absolute(&path).map_err(io)?;
                if std::fs::symlink_metadata(&ld).is_err() {
                    std::os::unix::fs::symlink(&absolute, &ld).map_err(io)?;
                }
                vec![format!("-B{}/", bin.display())]
            }
        };
        Ok(LinkerArgs {
            name: linker.name().to_string(),
            args,
        })
    }
}

struct Builder {
    target: Target,
    src: PathBuf,
    out: PathBuf,
    obj: PathBuf,
    commands: Vec<String>,
    timeout: Duration,
    tested_linker: LinkerArgs,
    reference_linker: LinkerArgs,
}

fn is_cxx(file: &str) -> bool {
    [".cc", ".cpp", ".cxx", ".C"]
        .iter()
        .any(|e| file.ends_with(e))
}

impl Builder {
    fn arch_name(&self) -> &'static str {
        self.target.arch.name()
    }

    fn substitute(&self, flags: &[String]) -> Vec<String> {
        let src = self.src.display().to_string();
        flags.iter().map(|f| f.replace("{src}", &src)).collect()
    }

    /// Builds a library (`program: None`) or the program of the given kind.
    fn module(
        &mut self,
        module: &Module,
        program: Option<ProgramKind>,
    ) -> Result<PathBuf, BuildError> {
        let arch = self.arch_name();
        let sources: Vec<_> = module
            .sources
            .iter()
            .chain(module.arch_sources.get(arch).into_iter().flatten())
            .cloned()
            .collect();
        let cxx = sources.iter().any(|s| is_cxx(s.file()));
        let mut cflags = self.substitute(&module.cflags);
        cflags.extend(self.substitute(module.arch_cflags.get(arch).map_or(&[][..], |v| v)));
        let mut objects = Vec::new();
        for (i, source) in sources.iter().enumerate() {
            let (tool, mut args) = self.target.driver(is_cxx(source.file()));
            let object = self.obj.join(format!("{}.{i}.o", module.name));
            args.extend(["-c", "-O1", "-g0"].map(String::from));
            args.push(program.map_or("-fPIC", ProgramKind::compile_flag).into());
            args.extend(cflags.iter().cloned());
            args.extend(self.substitute(source.cflags()));
            args.push("-o".into());
            args.push(object.display().to_string());
            args.push(self.src.join(source.file()).display().to_string());
            let (command, result) = self.run(tool, &args)?;
            if let Err(output) = result {
                return Err(BuildError::Compile {
                    module: module.name.clone(),
                    source_file: source.file().to_string(),
                    command,
                    output,
                });
            }
            objects.push(object);
        }

        let (tool, mut args) = self.target.driver(cxx);
        let linker = if module.linker == LinkerRole::Tested {
            &self.tested_linker
        } else {
            &self.reference_linker
        };
        let linker_name = linker.name.clone();
        args.extend(linker.args.iter().cloned());
        let output = self.out.join(&module.name);
        match program {
            None => {
                args.push("-shared".into());
                args.push(format!("-Wl,-soname,{}", module.name));
            }
            Some(kind) => args.push(kind.link_flag().into()),
        }
        args.push("-o".into());
        args.push(output.display().to_string());
        args.extend(objects.iter().map(|o| o.display().to_string()));
        // `needs` means DT_NEEDED, even where nothing references the library (an interposer):
        // some toolchains default to --as-needed.
        args.push("-Wl,--no-as-needed".into());
        for need in &module.needs {
            args.push(self.out.join(need).display().to_string());
        }
        // Dependencies of dependencies are found in the output directory too.
        args.push(format!("-Wl,-rpath-link,{}", self.out.display()));
        args.extend(self.substitute(&module.ldflags));
        args.extend(self.substitute(module.arch_ldflags.get(arch).map_or(&[][..], |v| v)));
        let (command, result) = self.run(tool, &args)?;
        // A linker that reports success must have written what it was asked for; otherwise
        // the failure would surface later, blamed on whatever reads the file next.
        let result = result.and_then(|()| match std::fs::metadata(&output) {
            Ok(m) if m.is_file() => Ok(()),
            _ => Err(format!(
                "the linker exited 0 and wrote no output ({} is missing)",
                output.display()
            )),
        });
        if let Err(output) = result {
            return Err(BuildError::Link {
                module: module.name.clone(),
                linker: linker_name,
                command,
                output,
            });
        }
        Ok(output)
    }

    /// Runs a build command; the inner result carries the tool's output on failure.
    fn run(
        &mut self,
        tool: Tool,
        args: &[String],
    ) -> Result<(String, Result<(), String>), BuildError> {
        let program = tool.find()?;
        let command = format!("{} {}", tool.name, args.join(" "));
        self.commands.push(command.clone());
        let mut process = Command::new(&program);
        process.args(args).env("LC_ALL", "C");
        // Variables that would silently change what the compilers and linkers produce.
        for var in BUILD_VARIABLES {
            process.env_remove(var);
        }
        let result = child::run(process, &Limits::timeout(self.timeout)).map_err(|source| {
            BuildError::Io {
                what: "cannot run",
                path: program.clone(),
                source,
            }
        })?;
        let mut output = result.stderr;
        output.push_str(&result.stdout);
        match result.ended {
            Ended::Code(0) => Ok((command, Ok(()))),
            Ended::TimedOut => Ok((
                command,
                Err(format!(
                    "timed out after {} s (killed with everything it started){}{output}",
                    self.timeout.as_secs_f64(),
                    if output.is_empty() { "" } else { ":\n" }
                )),
            )),
            Ended::Signal(s) => Ok((command, Err(format!("killed by signal {s}\n{output}")))),
            Ended::Code(_) => Ok((command, Err(output))),
        }
    }
}
