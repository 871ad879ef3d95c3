//! Build targets: an architecture, a compiler and (for ARM) the instruction set the C is compiled to.

use serde::{Deserialize, Serialize};
use tether_qemu::{Arch, Tool};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Compiler {
    Gcc,
    Clang,
}

/// What a scenario is compiled for. ARM with gcc defaults to Thumb-2 (Debian's armhf default);
/// `arm_mode` adds `-marm`. clang's `armv7a-linux-gnueabihf` compiles to ARM state by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Target {
    #[serde(with = "arch_name")]
    pub arch: Arch,
    pub compiler: Compiler,
    pub arm_mode: bool,
}

impl Target {
    pub const X86_64_GCC: Target = Target {
        arch: Arch::X86_64,
        compiler: Compiler::Gcc,
        arm_mode: false,
    };
    pub const X86_64_CLANG: Target = Target {
        arch: Arch::X86_64,
        compiler: Compiler::Clang,
        arm_mode: false,
    };
    pub const ARM_GCC_THUMB: Target = Target {
        arch: Arch::Arm,
        compiler: Compiler::Gcc,
        arm_mode: false,
    };
    pub const ARM_GCC_ARM: Target = Target {
        arch: Arch::Arm,
        compiler: Compiler::Gcc,
        arm_mode: true,
    };
    pub const ARM_CLANG: Target = Target {
        arch: Arch::Arm,
        compiler: Compiler::Clang,
        arm_mode: true,
    };

    /// Every target the check runs by default.
    pub fn all() -> Vec<Target> {
        vec![
            Target::X86_64_GCC,
            Target::X86_64_CLANG,
            Target::ARM_GCC_THUMB,
            Target::ARM_GCC_ARM,
            Target::ARM_CLANG,
        ]
    }

    /// `x86_64-gcc`, `x86_64-clang`, `arm-gcc-thumb`, `arm-gcc-arm`, `arm-clang`.
    pub fn name(&self) -> String {
        match (self.arch, self.compiler) {
            (Arch::X86_64, Compiler::Gcc) => "x86_64-gcc".into(),
            (Arch::X86_64, Compiler::Clang) => "x86_64-clang".into(),
            (Arch::Arm, Compiler::Gcc) if self.arm_mode => "arm-gcc-arm".into(),
            (Arch::Arm, Compiler::Gcc) => "arm-gcc-thumb".into(),
            (Arch::Arm, Compiler::Clang) => "arm-clang".into(),
        }
    }

    pub fn parse(name: &str) -> Option<Target> {
        Target::all().into_iter().find(|t| t.name() == name)
    }

    /// The compiler driver (C or C++) and the arguments every invocation starts with.
    pub fn driver(&self, cxx: bool) -> (Tool, Vec<String>) {
        let mut args = Vec::new();
        let tool = match (self.arch, self.compiler, cxx) {
            (Arch::X86_64, Compiler::Gcc, false) => Tool::GCC,
            (Arch::X86_64, Compiler::Gcc, true) => Tool::GXX,
            (Arch::X86_64, Compiler::Clang, false) => Tool::CLANG,
            (Arch::X86_64, Compiler::Clang, true) => Tool::CLANGXX,
            (Arch::Arm, Compiler::Gcc, false) => Tool::ARM_GCC,
            (Arch::Arm, Compiler::Gcc, true) => Tool::ARM_GXX,
            (Arch::Arm, Compiler::Clang, c) => {
                args.push("--target=armv7a-linux-gnueabihf".to_string());
                if c {
                    Tool::CLANGXX
                } else {
                    Tool::CLANG
                }
            }
        };
        if self.arch == Arch::Arm && self.arm_mode && self.compiler == Compiler::Gcc {
            args.push("-marm".into());
        }
        (tool, args)
    }
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.name())
    }
}

mod arch_name {
    use serde::{Deserialize, Deserializer, Serializer};
    use tether_qemu::Arch;

    pub fn serialize<S: Serializer>(arch: &Arch, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(arch.name())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Arch, D::Error> {
        let name = String::deserialize(d)?;
        match name.as_str() {
            "x86_64" => Ok(Arch::X86_64),
            "arm" => Ok(Arch::Arm),
            other => Err(serde::de::Error::custom(format!(
                "unknown architecture `{other}`"
            ))),
        }
    }
}
