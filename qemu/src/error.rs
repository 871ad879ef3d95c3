use std::path::PathBuf;

/// What can go wrong before or while running a guest program. A guest that exits non-zero or
/// crashes is not an error: that is reported in [`crate::RunOutcome`].
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("`{tool}` was not found on PATH; install the Debian package `{package}`")]
    ToolMissing { tool: String, package: String },
    #[error("the armhf sysroot is missing ({path} not found); install the Debian package `libc6-armhf-cross`")]
    SysrootMissing { path: PathBuf },
    #[error("cannot run `{program}`: {source}")]
    Spawn {
        program: String,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot capture the output of `{program}` in {path}: {source}")]
    Capture {
        program: String,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("qemu-user cannot pass {variable}={value} to the guest: `-E` splits values at commas")]
    CommaInEnvironment { variable: String, value: String },
    #[error("{machine} cannot run {arch} programs")]
    WrongArch { machine: String, arch: String },
}
