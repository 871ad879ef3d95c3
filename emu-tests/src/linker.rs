//! Which linker links a scenario's modules.

use std::path::{Path, PathBuf};

/// The linker under test: it links every module of a scenario, the program too (modules marked
/// `linker: "reference"` excepted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Linker {
    /// The toolchain's own GNU ld (`ld` for x86-64, `arm-linux-gnueabihf-ld` for ARM).
    GnuLd,
    /// Any GNU-ld-compatible linker binary (tether's `ld-tether`, gold, lld, mold, ...). It is
    /// given to gcc as an `ld` found through `-B`, and to clang with `--ld-path`; see
    /// [`Linker::binary_for`] for host-only binutils.
    Path { name: String, path: PathBuf },
}

impl Linker {
    /// A linker binary by path; its report name is the file name.
    pub fn at(path: impl Into<PathBuf>) -> Linker {
        let path = path.into();
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| path.display().to_string());
        Linker::Path { name, path }
    }

    /// tether's `ld-tether` from the workspace's target directory (release first), if built.
    pub fn tether(workspace: &Path) -> Option<Linker> {
        ["release", "debug"]
            .iter()
            .map(|profile| workspace.join("target").join(profile).join("ld-tether"))
            .find(|p| p.is_file())
            .map(Linker::at)
    }

    /// `ld-tether` in the directory of the running executable (the `tether` binary is built
    /// next to it, in `target/<profile>/`), if it is there.
    pub fn tether_beside_current_exe() -> Option<Linker> {
        let exe = std::env::current_exe().ok()?;
        let candidate = exe.parent()?.join("ld-tether");
        candidate.is_file().then(|| Linker::at(candidate))
    }

    /// The binary to run for `arch`. Host binutils are often built for the host only (ld.bfd,
    /// ld.gold): when `arm-linux-gnueabihf-<name>` sits next to the given path, ARM links use it.
    pub fn binary_for(&self, arch: tether_qemu::Arch) -> Option<PathBuf> {
        let Linker::Path { path, .. } = self else {
            return None;
        };
        if arch == tether_qemu::Arch::Arm {
            if let (Some(dir), Some(file)) = (path.parent(), path.file_name()) {
                let cross = dir.join(format!("arm-linux-gnueabihf-{}", file.to_string_lossy()));
                if cross.is_file() {
                    return Some(cross);
                }
            }
        }
        Some(path.clone())
    }

    pub fn name(&self) -> &str {
        match self {
            Linker::GnuLd => "gnu-ld",
            Linker::Path { name, .. } => name,
        }
    }
}
