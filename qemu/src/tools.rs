//! Finding the tools that build and run guest programs, with the Debian package that provides each.

use crate::Error;
use std::path::{Path, PathBuf};

/// Where Debian's `libc6-armhf-cross` puts the armhf loader and libraries; `qemu-arm -L` takes it.
pub const ARMHF_SYSROOT: &str = "/usr/arm-linux-gnueabihf";

/// A guest architecture.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Arch {
    X86_64,
    /// 32-bit ARM, EABI hard-float (armhf).
    Arm,
}

impl Arch {
    pub fn name(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64",
            Arch::Arm => "arm",
        }
    }

    /// The host architecture, if it is one tether targets.
    pub fn host() -> Option<Arch> {
        match std::env::consts::ARCH {
            "x86_64" => Some(Arch::X86_64),
            "arm" => Some(Arch::Arm),
            _ => None,
        }
    }
}

impl std::fmt::Display for Arch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A program tether drives, and the Debian package that installs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tool {
    pub name: &'static str,
    pub package: &'static str,
}

impl Tool {
    pub const QEMU_ARM: Tool = Tool {
        name: "qemu-arm",
        package: "qemu-user",
    };
    pub const QEMU_X86_64: Tool = Tool {
        name: "qemu-x86_64",
        package: "qemu-user",
    };
    pub const GCC: Tool = Tool {
        name: "gcc",
        package: "gcc",
    };
    pub const GXX: Tool = Tool {
        name: "g++",
        package: "g++",
    };
    pub const CLANG: Tool = Tool {
        name: "clang",
        package: "clang",
    };
    pub const CLANGXX: Tool = Tool {
        name: "clang++",
        package: "clang",
    };
    pub const ARM_GCC: Tool = Tool {
        name: "arm-linux-gnueabihf-gcc",
        package: "gcc-arm-linux-gnueabihf",
    };
    pub const ARM_GXX: Tool = Tool {
        name: "arm-linux-gnueabihf-g++",
        package: "g++-arm-linux-gnueabihf",
    };
    pub const ARM_LD: Tool = Tool {
        name: "arm-linux-gnueabihf-ld",
        package: "binutils-arm-linux-gnueabihf",
    };
    pub const LD_BFD: Tool = Tool {
        name: "ld.bfd",
        package: "binutils",
    };

    /// The full path of this tool, or an error naming the package to install.
    pub fn find(self) -> Result<PathBuf, Error> {
        find_tool(self.name, self.package)
    }

    /// The qemu-user emulator for `arch`.
    pub fn qemu(arch: Arch) -> Tool {
        match arch {
            Arch::X86_64 => Tool::QEMU_X86_64,
            Arch::Arm => Tool::QEMU_ARM,
        }
    }
}

/// Looks `name` up on PATH; the error names the Debian `package` that provides it.
pub fn find_tool(name: &str, package: &str) -> Result<PathBuf, Error> {
    which::which(name).map_err(|_| Error::ToolMissing {
        tool: name.to_string(),
        package: package.to_string(),
    })
}

/// The armhf sysroot, checked to hold the hard-float loader qemu-arm will be asked for.
pub fn armhf_sysroot() -> Result<PathBuf, Error> {
    let root = Path::new(ARMHF_SYSROOT);
    let loader = root.join("lib/ld-linux-armhf.so.3");
    if loader.exists() {
        Ok(root.to_path_buf())
    } else {
        Err(Error::SysrootMissing { path: loader })
    }
}
