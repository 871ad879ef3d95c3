//! `-z` keywords that only set `.dynamic` flag bits, and those accepted because they change
//! nothing in what tether writes (tether's layout does not depend on them).

use crate::error::{LinkError, Result};
use object::elf;

/// The DT_FLAGS and DT_FLAGS_1 bits a keyword sets, as GNU ld's `elf.em` sets them.
pub fn dynamic_flags(keyword: &str) -> Option<(u64, u64)> {
    let flag_1 = |f: elf::DynamicFlags1| Some((0, f.0));
    match keyword {
        "initfirst" => flag_1(elf::DF_1_INITFIRST),
        "interpose" => flag_1(elf::DF_1_INTERPOSE),
        "nodump" => flag_1(elf::DF_1_NODUMP),
        "nodlopen" => flag_1(elf::DF_1_NOOPEN),
        "global" => flag_1(elf::DF_1_GLOBAL),
        "globalaudit" => flag_1(elf::DF_1_GLOBAUDIT),
        "nodefaultlib" => flag_1(elf::DF_1_NODEFLIB),
        "loadfltr" => flag_1(elf::DF_1_LOADFLTR),
        "origin" => Some((elf::DF_ORIGIN.0, elf::DF_1_ORIGIN.0)),
        _ => None,
    }
}

/// Whether `keyword` is accepted with no effect on the output; a bad value is an error.
pub fn accepted(keyword: &str) -> Result<bool> {
    if matches!(keyword, "combreloc" | "nocombreloc") {
        return Ok(true);
    }
    if let Some((name, value)) = keyword.split_once('=') {
        match name {
            // tether places segments on 4 KiB (x86-64) / 64 KiB (ARM) pages regardless.
            "max-page-size" | "common-page-size" => {
                let size = crate::options::parse_number(value).filter(|n| n.is_power_of_two());
                return size.map(|_| true).ok_or_else(|| {
                    LinkError::Usage(format!("-z {name}: invalid page size: {value}"))
                });
            }
            // Read by `stack_size`.
            "stack-size" => {
                return stack_size(keyword).map(|_| true);
            }
            // __start_/__stop_ symbols: tether gives them the default, protected.
            "start-stop-visibility" => {
                return match value {
                    "default" | "internal" | "hidden" | "protected" => Ok(true),
                    _ => Err(LinkError::Usage(format!(
                        "-z start-stop-visibility: invalid visibility: {value}"
                    ))),
                };
            }
            _ => {}
        }
    }
    Ok(false)
}

/// `-z stack-size=N`: PT_GNU_STACK's p_memsz (`None` for another keyword).
pub fn stack_size(keyword: &str) -> Result<Option<u64>> {
    let Some(value) = keyword.strip_prefix("stack-size=") else {
        return Ok(None);
    };
    crate::options::parse_number(value)
        .map(Some)
        .ok_or_else(|| LinkError::Usage(format!("-z stack-size: invalid size: {value}")))
}

/// The `-z` keywords GNU ld 2.40 knows for x86-64 and ARM (`ld --help`), by the name before
/// any `=`: any other keyword GNU ld ignores with a warning.
pub fn gnu_knows(keyword: &str) -> bool {
    const KNOWN: &[&str] = &[
        "call-nop",
        "cet-report",
        "combreloc",
        "common",
        "common-page-size",
        "copyreloc",
        "defs",
        "dynamic-undefined-weak",
        "execstack",
        "global",
        "globalaudit",
        "ibt",
        "ibtplt",
        "indirect-extern-access",
        "initfirst",
        "interpose",
        "isa-level-report",
        "lam-report",
        "lam-u48",
        "lam-u48-report",
        "lam-u57",
        "lam-u57-report",
        "lazy",
        "loadfltr",
        "max-page-size",
        "muldefs",
        "nocombreloc",
        "nocommon",
        "nocopyreloc",
        "nodefaultlib",
        "nodelete",
        "nodlopen",
        "nodump",
        "nodynamic-undefined-weak",
        "noexecstack",
        "noextern-protected-data",
        "noindirect-extern-access",
        "nopack-relative-relocs",
        "noreloc-overflow",
        "norelro",
        "noseparate-code",
        "nostart-stop-gc",
        "notext",
        "nounique",
        "nounique-symbol",
        "now",
        "origin",
        "pack-relative-relocs",
        "relro",
        "report-relative-reloc",
        "separate-code",
        "shstk",
        "stack-size",
        "start-stop-gc",
        "start-stop-visibility",
        "text",
        "textoff",
        "undefs",
        "unique",
        "unique-symbol",
        "x86-64-baseline",
        "x86-64-v2",
        "x86-64-v3",
        "x86-64-v4",
    ];
    let name = keyword.split('=').next().unwrap_or(keyword);
    KNOWN.contains(&name)
}
