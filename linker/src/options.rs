//! The GNU ld compatible command line, parsed with clap.
//!
//! GNU ld's own grammar (one-dash long options, abbreviations, which short options win) is
//! read by `grammar` first and spelled canonically for clap. Inputs and the flags that
//! change how later inputs are read (`-Bstatic`, `--as-needed`, `--whole-archive`, groups,
//! `--push-state`) are positional: their order is recovered from clap's argument indices.

mod gnu_table;
pub mod grammar;
mod zfeatures;
mod zkeywords;
pub use zfeatures::{CetReport, ZFeatures};

pub use crate::build_id::BuildIdStyle;
use crate::error::{LinkError, Result};
use crate::search::expand_response_files;
use clap::{Arg, ArgAction, ArgMatches, Command};
use grammar::Token;
use std::ffi::OsString;
use std::path::PathBuf;

/// One positional item, in command-line order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InputItem {
    File(PathBuf),
    /// `-lfoo` (holds `foo`) or `-l:file` (holds `:file`).
    Library(String),
    WholeArchive(bool),
    /// `-Bstatic` (true) / `-Bdynamic` (false).
    Static(bool),
    AsNeeded(bool),
    PushState,
    PopState,
    StartGroup,
    EndGroup,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HashStyle {
    pub sysv: bool,
    pub gnu: bool,
}

#[derive(Clone, Debug)]
pub struct Options {
    pub output: PathBuf,
    pub shared: bool,
    pub soname: Option<String>,
    pub inputs: Vec<InputItem>,
    pub lib_dirs: Vec<PathBuf>,
    pub sysroot: Option<PathBuf>,
    pub hash_style: HashStyle,
    /// `None` also for `--build-id=none`.
    pub build_id: Option<BuildIdStyle>,
    pub eh_frame_hdr: bool,
    pub init: String,
    pub fini: String,
    pub rpath: Vec<String>,
    /// `-rpath-link`: directories searched for the libraries that shared libraries need.
    pub rpath_link: Vec<String>,
    pub new_dtags: bool,
    pub version_script: Vec<PathBuf>,
    pub bsymbolic: bool,
    pub bsymbolic_functions: bool,
    /// `-Bsymbolic-non-weak-functions` (lld's): as `-Bsymbolic-functions` but for non-weak
    /// definitions only.
    pub bsymbolic_non_weak_functions: bool,
    pub exclude_libs: Vec<String>,
    pub no_undefined: bool,
    pub relro: bool,
    pub now: bool,
    pub text: bool,
    pub exec_stack: bool,
    pub nodelete: bool,
    pub emulation: Option<String>,
    /// `-pie`: a position-independent executable.
    pub pie: bool,
    /// `-static` given as an option (besides its `-Bstatic` meaning for later inputs).
    pub static_link: bool,
    /// `--no-dynamic-linker`: a program that relocates itself (static-pie).
    pub no_dynamic_linker: bool,
    /// `-e`/`--entry`: a symbol name or an address.
    pub entry: Option<String>,
    /// `--dynamic-linker`/`-I`: PT_INTERP of a dynamic program.
    pub dynamic_linker: Option<String>,
    /// `-E`/`--export-dynamic`: a program exports every global symbol it defines.
    pub export_dynamic: bool,
    /// `--export-dynamic-symbol`: names (glob patterns) a program exports.
    pub export_dynamic_symbols: Vec<String>,
    /// `--dynamic-list` files: symbols a program exports (or a library keeps preemptible).
    pub dynamic_list: Vec<PathBuf>,
    /// `-Ttext-segment`/`--image-base`: the first address of a fixed-address program.
    pub image_base: Option<u64>,
    /// `-z separate-code` / `-z noseparate-code`: code gets pages of its own, apart from
    /// headers and read-only data (`None`: the target's default, as GNU ld's).
    pub separate_code: Option<bool>,
    /// `-z nocopyreloc`: refuse copy relocations.
    pub copyreloc: bool,
    /// `--relax` (the default) / `--no-relax`: rewrite TLS and GOT accesses in programs.
    pub relax: bool,
    /// `--audit` / `--depaudit` (`-P`): DT_AUDIT / DT_DEPAUDIT libraries.
    pub audit: Vec<String>,
    pub depaudit: Vec<String>,
    /// DT_FLAGS / DT_FLAGS_1 bits that `-z` keywords ask for (`-z origin`, `-z initfirst`...).
    pub dt_flags: u64,
    pub dt_flags_1: u64,
    /// RELR, undefined weak symbols and x86-64 CET keywords of `-z`.
    pub z: ZFeatures,
    /// `-z stack-size=N`: PT_GNU_STACK's p_memsz (0: the loader's default).
    pub stack_size: u64,
    /// `-u`/`--undefined` and `--require-defined`: symbols treated as referenced.
    pub undefined: Vec<String>,
    pub require_defined: Vec<String>,
    /// `--defsym SYMBOL=EXPRESSION`, in command-line order.
    pub defsym: Vec<String>,
    /// `--wrap`: symbols whose undefined references go to `__wrap_SYMBOL`.
    pub wrap: Vec<String>,
    /// `--unresolved-symbols`: whether undefined symbols of the objects are errors (`None`:
    /// the default, or `-z defs`/`--no-undefined` in a library).
    pub unresolved_in_objects: Option<bool>,
    /// Whether shared libraries' own undefined symbols must be defined by something in the
    /// link (`--no-allow-shlib-undefined`; `None`: GNU ld's default, checked for programs).
    pub shlib_undefined: Option<bool>,
    /// Warnings about the command line (they fail the link under `--fatal-warnings`).
    pub warnings: Vec<String>,
    pub fatal_warnings: bool,
    /// `--compress-debug-sections`.
    pub compress_debug: crate::compress::Compression,
    /// `--undefined-version` (the default) / `--no-undefined-version`.
    pub undefined_version: bool,
    /// `--default-symver`: exported symbols get a version named after the output.
    pub default_symver: bool,
    /// `-Map FILE` (or `-` for `-M`/`--print-map`): where the link map goes.
    pub map_file: Option<PathBuf>,
    /// `-t`: print each input file as it is opened.
    pub trace: bool,
    /// `-y`: symbols whose every mention is reported.
    pub trace_symbols: Vec<String>,
    pub strip: crate::strip::Strip,
    /// `--retain-symbols-file`: keep only the symbols it lists in `.symtab` (it overrides an
    /// earlier `-s` or `-S`, and a later one overrides it, as GNU ld).
    pub retain_symbols_file: Option<PathBuf>,
    pub discard: crate::strip::Discard,
    /// `--gc-sections`: drop the sections nothing reachable refers to.
    pub gc_sections: bool,
    /// `--print-gc-sections`: name each section dropped.
    pub print_gc_sections: bool,
    /// `--time-trace`: print each phase's time on stderr ([`crate::timing`]).
    pub time_trace: bool,
    /// Return to the caller once the output is in place ([`crate::detach`]): `Some(true)`
    /// with `--fork`, `Some(false)` with `--no-fork` (the last given wins); by default
    /// ([`crate::detach::worth_forking`]) only for a link large enough to gain from it.
    pub fork: Option<bool>,
    /// `-r`/`--relocatable`/`-Ur`: one `ET_REL` of the inputs ([`crate::relocatable`]).
    pub relocatable: bool,
    /// `--icf=`: identical code folding ([`crate::icf`]).
    pub icf: crate::icf::Level,
    /// `--print-icf-sections`: name each folded section and its kept copy.
    pub print_icf_sections: bool,
    /// `-plugin`: the LTO plugin to load ([`crate::plugin`]).
    pub plugin: Option<PathBuf>,
    /// `-plugin-opt`: options handed to the plugin, in order, as given.
    pub plugin_opts: Vec<String>,
    /// `-T`/`--script` files, as named.
    pub script_files: Vec<PathBuf>,
    /// What the scripts ask beyond inputs ([`crate::script::load::prepare`] fills it).
    pub script: crate::script::load::Scripts,
}

/// The error of a link that warned under `--fatal-warnings`.
pub const FATAL_WARNINGS: &str = "warnings are fatal (--fatal-warnings)";

/// What the command line asked for: a link, or information.
pub enum Invocation {
    Link(Box<Options>),
    Help(String),
    Version,
}

fn command() -> Command {
    let flag = |name: &'static str, help: &'static str| {
        Arg::new(name)
            .long(name)
            .action(ArgAction::Append)
            .num_args(0)
            .default_missing_value("1")
            .help(help)
    };
    let value = |name: &'static str, help: &'static str| {
        Arg::new(name)
            .long(name)
            .action(ArgAction::Append)
            .num_args(1)
            .allow_hyphen_values(true)
            .help(help)
    };
    Command::new("ld.tether")
        .about("tether: an ELF linker for x86-64 and ARM32 shared libraries (GNU ld compatible)")
        .disable_version_flag(true)
        .disable_help_flag(true)
        .no_binary_name(true)
        .arg(
            Arg::new("input")
                .action(ArgAction::Append)
                .value_parser(clap::value_parser!(PathBuf))
                .help("Object files, archives, shared libraries, linker scripts"),
        )
        .arg(value("output", "Output file").short('o'))
        .arg(flag("shared", "Create a shared library").alias("Bshareable"))
        .arg(
            flag(
                "relocatable",
                "Merge the inputs into one relocatable object (-Ur is the same here)",
            )
            .short('r')
            .alias("Ur"),
        )
        .arg(value("soname", "Set DT_SONAME").short('h'))
        .arg(
            value(
                "library",
                "Search for library NAME (-l:FILE for an exact file name)",
            )
            .short('l'),
        )
        .arg(value("library-path", "Add a directory to the library search path").short('L'))
        .arg(value("sysroot", "Prefix for =/$SYSROOT paths"))
        .arg(
            value(
                "B",
                "-Bstatic, -Bdynamic, -Bsymbolic, -Bsymbolic-functions, \
                 -Bsymbolic-non-weak-functions, -Bno-symbolic",
            )
            .short('B')
            .long(None),
        )
        .arg(
            flag("static", "Same as -Bstatic")
                .alias("non_shared")
                .alias("dn"),
        )
        .arg(flag("call_shared", "Same as -Bdynamic").alias("dy"))
        .arg(flag(
            "whole-archive",
            "Include every member of the following archives",
        ))
        .arg(flag("no-whole-archive", "Turn off --whole-archive"))
        .arg(flag(
            "as-needed",
            "Only add DT_NEEDED for libraries that are used",
        ))
        .arg(flag("no-as-needed", "Turn off --as-needed"))
        .arg(flag(
            "push-state",
            "Save the -B/--as-needed/--whole-archive state",
        ))
        .arg(flag("pop-state", "Restore the state saved by --push-state"))
        .arg(
            flag(
                "start-group",
                "Start a group of archives searched repeatedly",
            )
            .short_alias('('),
        )
        .arg(flag("end-group", "End a group").short_alias(')'))
        .arg(
            value(
                "z",
                "-z relro|norelro|now|lazy|defs|undefs|text|notext|noexecstack|execstack|nodelete|\
                 separate-code|noseparate-code|copyreloc|nocopyreloc|initfirst|interpose|nodump|\
                 nodlopen|origin|global|globalaudit|nodefaultlib|loadfltr|combreloc|nocombreloc|\
                 max-page-size=N|common-page-size=N|start-stop-visibility=V|stack-size=N|pack-relative-relocs|nopack-relative-relocs|dynamic-undefined-weak|\
                 nodynamic-undefined-weak|ibt|ibtplt|shstk|cet-report=none|warning|error",
            )
            .short('z')
            .long(None),
        )
        .arg(value("hash-style", "sysv, gnu or both"))
        .arg(
            Arg::new("build-id")
                .long("build-id")
                .action(ArgAction::Append)
                .num_args(0..=1)
                .require_equals(true)
                .default_missing_value("sha1")
                .help("Add a build-id note (sha1, md5, uuid, 0xHEX, none)"),
        )
        .arg(flag(
            "eh-frame-hdr",
            "Create .eh_frame_hdr and PT_GNU_EH_FRAME",
        ))
        .arg(value("init", "Symbol for DT_INIT (default _init)"))
        .arg(value("fini", "Symbol for DT_FINI (default _fini)"))
        .arg(value("rpath", "Add a run-time library search directory").short('R'))
        .arg(value(
            "rpath-link",
            "Where to find the libraries that shared libraries need (for their undefined symbols)",
        ))
        .arg(value(
            "audit",
            "Add DT_AUDIT entries (libraries, :-separated)",
        ))
        .arg(
            value(
                "depaudit",
                "Add DT_DEPAUDIT entries (libraries, :-separated)",
            )
            .short('P'),
        )
        .arg(flag("enable-new-dtags", "Use DT_RUNPATH for -rpath"))
        .arg(flag("disable-new-dtags", "Use DT_RPATH for -rpath"))
        .arg(value("version-script", "Read a version script (searched in -L dirs too)"))
        .arg(
            value(
                "script",
                "Read a linker script (searched in -L dirs too): assignments, PROVIDE, \
                 ASSERT, ENTRY, EXTERN, INCLUDE, VERSION, SECTIONS, INSERT",
            )
            .short('T')
            .alias("default-script")
            .alias("dT"),
        )
        .arg(value(
            "exclude-libs",
            "Make symbols from these archives local (ALL for every archive)",
        ))
        .arg(flag(
            "no-undefined",
            "Report undefined symbols in shared libraries",
        ))
        .arg(
            value("m", "Emulation (elf_x86_64, armelf_linux_eabi)")
                .short('m')
                .long(None),
        )
        .arg(value("plugin", "Load an LTO plugin (gold plugin API)"))
        .arg(value("plugin-opt", "Pass an option to the plugin"))
        .arg(
            value("O", "Optimisation level (accepted, ignored)")
                .short('O')
                .long(None),
        )
        .arg(value("dynamic-linker", "Set PT_INTERP of a dynamic program").short('I'))
        .arg(flag(
            "no-dynamic-linker",
            "A program without PT_INTERP that relocates itself (static-pie)",
        ))
        .arg(
            value(
                "entry",
                "Entry point: a symbol or an address (default _start)",
            )
            .short('e'),
        )
        .arg(
            flag(
                "export-dynamic",
                "A program exports every global symbol it defines",
            )
            .short('E'),
        )
        .arg(value(
            "export-dynamic-symbol",
            "A program exports the symbols matching this glob",
        ))
        .arg(value(
            "dynamic-list",
            "A file listing symbols a program exports ({ sym; ... };)",
        ))
        .arg(value(
            "image-base",
            "First address of a fixed-address program",
        ))
        .arg(value("Ttext-segment", "Same as --image-base"))
        .arg(
            flag(
                "discard-locals",
                "Discard the temporary (.L) local symbols (the default)",
            )
            .short('X'),
        )
        .arg(
            value(
                "undefined",
                "Start with an undefined reference to SYMBOL (pulls archive members)",
            )
            .short('u'),
        )
        .arg(value(
            "defsym",
            "Define SYMBOL=EXPRESSION (a linker-script expression: a=b+0x10)",
        ))
        .arg(value(
            "wrap",
            "Undefined SYMBOL references go to __wrap_SYMBOL, __real_SYMBOL to SYMBOL",
        ))
        .arg(value(
            "require-defined",
            "As -u, and fail unless SYMBOL ends up defined",
        ))
        .arg(flag("discard-all", "Discard all input local symbols").short('x'))
        .arg(value(
            "retain-symbols-file",
            "Keep only the symbols FILE lists (one per line) in .symtab; overrides -s and -S",
        ))
        .arg(flag("strip-all", "Omit .symtab, .strtab and debugging sections").short('s'))
        .arg(flag("strip-debug", "Omit debugging sections").short('S'))
        .arg(flag("gc-sections", "Drop sections nothing reachable refers to"))
        .arg(flag("no-gc-sections", "Keep every section (the default)"))
        .arg(flag("print-gc-sections", "List the sections --gc-sections drops"))
        .arg(flag("no-print-gc-sections", "Do not list them (the default)"))
        .arg(flag(
            "time-trace",
            "Print each phase's time on stderr (also TETHER_TIME_TRACE=1)",
        ))
        .arg(flag(
            "fork",
            "Exit as soon as the output is in place, cleaning up in a child (as mold; the default \
             when the inputs named by path total 32 MiB or more)",
        ))
        .arg(flag(
            "no-fork",
            "Do all the work in one process (to measure its CPU time and memory)",
        ))
        .arg(value(
            "icf",
            "none, safe or all: fold identical read-only sections (as lld; safe keeps \
             address-significant ones)",
        ))
        .arg(flag(
            "print-icf-sections",
            "List the sections --icf folds and the copy each is folded into",
        ))
        .arg(value(
            "compress-debug-sections",
            "none, zlib (zlib-gabi) or zstd: SHF_COMPRESSED debugging sections",
        ))
        .arg(value(
            "unresolved-symbols",
            "ignore-all, report-all, ignore-in-object-files or ignore-in-shared-libs",
        ))
        .arg(flag(
            "undefined-version",
            "A version script may name undefined symbols (default)",
        ))
        .arg(flag(
            "no-undefined-version",
            "Fail when a version script names a symbol nothing defines",
        ))
        .arg(flag(
            "default-symver",
            "Version every exported symbol with the soname (or output name)",
        ))
        .arg(value(
            "Map",
            "Write a map of sections, addresses and symbols to FILE",
        ))
        .arg(flag("print-map", "Print the map on standard output").short('M'))
        // clang passes -EL for ARM; big-endian (-EB) inputs are not supported.
        .arg(flag("EL", "Link little-endian objects (the only kind tether links)"))
        .arg(flag("trace", "Print each input file as it is opened").short('t'))
        .arg(
            value(
                "trace-symbol",
                "Report each input that defines or references SYMBOL",
            )
            .short('y'),
        )
        .arg(flag(
            "fatal-warnings",
            "Fail the link if there is any warning",
        ))
        .arg(flag("no-fatal-warnings", "Turn off --fatal-warnings"))
        .arg(flag("warn-common", "Accepted, ignored"))
        .arg(flag(
            "allow-shlib-undefined",
            "Leave shared libraries' undefined symbols to the loader (default with -shared)",
        ))
        .arg(flag(
            "no-allow-shlib-undefined",
            "Fail if a shared library's undefined symbol is defined nowhere in the link or its dependencies (default for programs)",
        ))
        .arg(flag(
            "relax",
            "Rewrite TLS and GOT accesses where the output allows (default)",
        ))
        .arg(flag(
            "no-relax",
            "Keep every TLS and GOT access as the compiler wrote it",
        ))
        .arg(flag("pie", "A position-independent executable").alias("pic-executable"))
        .arg(flag(
            "no-pie",
            "A fixed-address executable (the default without -pie)",
        ))
        .arg(
            flag("version", "Print the version and exit")
                .short('v')
                .alias("V"),
        )
        .arg(flag("help", "Print this help"))
}

/// Spells one token of GNU ld's grammar the single way clap reads it.
fn canonical(token: Token) -> Vec<OsString> {
    let joined = |prefix: &str, value: Option<OsString>| {
        let mut arg = OsString::from(prefix);
        if let Some(v) = value {
            arg.push("=");
            arg.push(v);
        }
        arg
    };
    match token {
        Token::Input(arg) => vec![arg],
        Token::Long("Bshareable", _) => vec!["--shared".into()],
        Token::Long(name, None) if name.starts_with('B') => vec!["-B".into(), name[1..].into()],
        Token::Long(name, value) => vec![joined(&format!("--{name}"), value)],
        Token::Short('(', _) => vec!["--start-group".into()],
        Token::Short(')', _) => vec!["--end-group".into()],
        // A separate value: clap would drop the `=` of `-L=/dir` (a sysroot-relative dir).
        Token::Short(c, value) => std::iter::once(OsString::from(format!("-{c}")))
            .chain(value)
            .collect(),
    }
}

/// Parses the arguments (without the program name).
pub fn parse(args: impl IntoIterator<Item = OsString>) -> Result<Invocation> {
    let expanded = expand_response_files(args).map_err(|e| LinkError::Usage(e.to_string()))?;
    let lexed = grammar::lex(expanded)?;
    for w in &lexed.warnings {
        eprintln!("ld.tether: warning: {w}");
    }
    let normalised: Vec<OsString> = lexed.tokens.into_iter().flat_map(canonical).collect();
    let matches = command().try_get_matches_from(normalised).map_err(|e| {
        let rendered = e.to_string();
        let first = rendered
            .lines()
            .next()
            .unwrap_or("invalid command line")
            .trim_start_matches("error: ");
        LinkError::Usage(first.to_string())
    })?;
    if matches.get_many::<String>("help").is_some() {
        return Ok(Invocation::Help(command().render_long_help().to_string()));
    }
    if matches.get_many::<String>("version").is_some() {
        return Ok(Invocation::Version);
    }
    let options = from_matches(&matches)?;
    crate::relocatable::check_options(&options)?;
    if options.fatal_warnings && !(lexed.warnings.is_empty() && options.warnings.is_empty()) {
        return Err(LinkError::Other(FATAL_WARNINGS.into()));
    }
    Ok(Invocation::Link(Box::new(options)))
}

fn strings(m: &ArgMatches, id: &str) -> Vec<String> {
    m.get_many::<String>(id)
        .map(|v| v.cloned().collect())
        .unwrap_or_default()
}

fn last(m: &ArgMatches, id: &str) -> Option<String> {
    strings(m, id).pop()
}

fn present(m: &ArgMatches, id: &str) -> bool {
    m.get_many::<String>(id).is_some()
}

/// (command-line index, item) for every occurrence of `id`.
fn indexed<T: Clone>(
    m: &ArgMatches,
    id: &str,
    make: impl Fn(&str) -> Option<T>,
) -> Result<Vec<(usize, T)>> {
    let (Some(indices), Some(values)) = (m.indices_of(id), m.get_raw(id)) else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for (index, value) in indices.zip(values) {
        let text = value.to_string_lossy();
        if let Some(item) = make(&text) {
            out.push((index, item));
        }
    }
    Ok(out)
}

fn from_matches(m: &ArgMatches) -> Result<Options> {
    let mut items: Vec<(usize, InputItem)> = Vec::new();
    items.extend(indexed(m, "input", |s| {
        Some(InputItem::File(PathBuf::from(s)))
    })?);
    items.extend(indexed(m, "library", |s| {
        Some(InputItem::Library(s.to_string()))
    })?);
    for (id, item) in [
        ("whole-archive", InputItem::WholeArchive(true)),
        ("no-whole-archive", InputItem::WholeArchive(false)),
        ("static", InputItem::Static(true)),
        ("call_shared", InputItem::Static(false)),
        ("as-needed", InputItem::AsNeeded(true)),
        ("no-as-needed", InputItem::AsNeeded(false)),
        ("push-state", InputItem::PushState),
        ("pop-state", InputItem::PopState),
        ("start-group", InputItem::StartGroup),
        ("end-group", InputItem::EndGroup),
    ] {
        items.extend(indexed(m, id, |_| Some(item.clone()))?);
    }
    let mut symbolic = [false; 3];
    let mut bad_b = None;
    items.extend(indexed(m, "B", |s| match s {
        "static" => Some(InputItem::Static(true)),
        "dynamic" => Some(InputItem::Static(false)),
        _ => None,
    })?);
    for b in strings(m, "B") {
        match b.as_str() {
            "static" | "dynamic" => {}
            // One setting in GNU ld (and lld): the last one wins.
            "symbolic" => symbolic = [true, false, false],
            "symbolic-functions" => symbolic = [false, true, false],
            "symbolic-non-weak-functions" => symbolic = [false, false, true],
            "no-symbolic" => symbolic = [false; 3],
            "shareable" | "group" => {}
            other => bad_b = Some(other.to_string()),
        }
    }
    if let Some(b) = bad_b {
        return Err(LinkError::Usage(format!("unknown option: -B{b}")));
    }
    items.sort_by_key(|(i, _)| *i);

    let mut relro = true;
    let mut now = false;
    let mut no_undefined = present(m, "no-undefined");
    let mut text = false;
    let mut exec_stack = false;
    let mut nodelete = false;
    let mut separate_code = None;
    let mut copyreloc = true;
    let mut warnings = Vec::new();
    let mut stack_size = 0u64;
    let mut dt_flags = 0u64;
    let mut dt_flags_1 = 0u64;
    let mut z_features = ZFeatures::default();
    for z in strings(m, "z") {
        if z_features.take(&z)? {
            continue;
        }
        if let Some(size) = zkeywords::stack_size(&z)? {
            stack_size = size;
        }
        if let Some((flags, flags_1)) = zkeywords::dynamic_flags(&z) {
            dt_flags |= flags;
            dt_flags_1 |= flags_1;
            continue;
        }
        if zkeywords::accepted(&z)? {
            continue;
        }
        match z.as_str() {
            "relro" => relro = true,
            "norelro" => relro = false,
            "now" => now = true,
            "lazy" => now = false,
            "defs" => no_undefined = true,
            "undefs" => no_undefined = false,
            "text" => text = true,
            "notext" | "textoff" => text = false,
            "noexecstack" => exec_stack = false,
            "execstack" => exec_stack = true,
            "nodelete" => nodelete = true,
            "separate-code" => separate_code = Some(true),
            "noseparate-code" => separate_code = Some(false),
            "nocopyreloc" => copyreloc = false,
            "copyreloc" => copyreloc = true,
            // GNU ld ignores a keyword it does not know, with a warning; one it knows and
            // tether does not implement is an error (the output would lack what it asks).
            other if !zkeywords::gnu_knows(other) => {
                let warning = format!("-z {other} ignored");
                eprintln!("ld.tether: warning: {warning}");
                warnings.push(warning);
            }
            other => return Err(LinkError::Usage(format!("unsupported -z keyword: {other}"))),
        }
    }

    let hash_style = match last(m, "hash-style").as_deref() {
        None | Some("sysv") => HashStyle {
            sysv: true,
            gnu: false,
        },
        Some("gnu") => HashStyle {
            sysv: false,
            gnu: true,
        },
        Some("both") => HashStyle {
            sysv: true,
            gnu: true,
        },
        Some(other) => return Err(LinkError::Usage(format!("unknown --hash-style: {other}"))),
    };
    let build_id = match last(m, "build-id") {
        None => None,
        Some(style) => match crate::build_id::parse_style(&style)
            .map_err(|e| LinkError::Usage(e.to_string()))?
        {
            BuildIdStyle::None => None,
            other => Some(other),
        },
    };
    let image_base = match last_of(m, &["image-base", "Ttext-segment"]) {
        None => None,
        Some(v) => Some(
            parse_address(&v)
                .ok_or_else(|| LinkError::Usage(format!("--image-base: invalid address: {v}")))?,
        ),
    };
    let emulation = last(m, "m");
    if let Some(e) = &emulation {
        if !matches!(
            e.as_str(),
            "elf_x86_64" | "armelf_linux_eabi" | "armelfb_linux_eabi" | "armelf"
        ) {
            return Err(LinkError::Usage(format!("unrecognised emulation: {e}")));
        }
    }
    let mut new_dtags = true;
    for (i, _) in indexed(m, "disable-new-dtags", |_| Some(()))? {
        let enabled_after = m
            .indices_of("enable-new-dtags")
            .map(|mut it| it.any(|j| j > i))
            .unwrap_or(false);
        new_dtags = enabled_after;
    }
    Ok(Options {
        output: PathBuf::from(last(m, "output").unwrap_or_else(|| "a.out".into())),
        shared: present(m, "shared"),
        soname: last(m, "soname"),
        inputs: items.into_iter().map(|(_, item)| item).collect(),
        lib_dirs: strings(m, "library-path")
            .into_iter()
            .map(PathBuf::from)
            .collect(),
        sysroot: last(m, "sysroot").map(PathBuf::from),
        hash_style,
        build_id,
        eh_frame_hdr: present(m, "eh-frame-hdr"),
        init: last(m, "init").unwrap_or_else(|| "_init".into()),
        fini: last(m, "fini").unwrap_or_else(|| "_fini".into()),
        rpath: strings(m, "rpath"),
        rpath_link: strings(m, "rpath-link"),
        new_dtags,
        version_script: strings(m, "version-script")
            .into_iter()
            .map(PathBuf::from)
            .collect(),
        bsymbolic: symbolic[0],
        bsymbolic_functions: symbolic[1],
        bsymbolic_non_weak_functions: symbolic[2],
        exclude_libs: strings(m, "exclude-libs")
            .iter()
            .flat_map(|s| s.split([',', ':']).map(str::to_string).collect::<Vec<_>>())
            .collect(),
        no_undefined,
        relro,
        now,
        text,
        exec_stack,
        nodelete,
        emulation,
        pie: last_wins(m, "pie", "no-pie"),
        static_link: present(m, "static"),
        no_dynamic_linker: present(m, "no-dynamic-linker"),
        entry: last(m, "entry"),
        dynamic_linker: last(m, "dynamic-linker"),
        export_dynamic: present(m, "export-dynamic"),
        export_dynamic_symbols: strings(m, "export-dynamic-symbol"),
        dynamic_list: strings(m, "dynamic-list")
            .into_iter()
            .map(PathBuf::from)
            .collect(),
        image_base,
        separate_code,
        copyreloc,
        relax: !last_wins(m, "no-relax", "relax"),
        audit: split_colons(&strings(m, "audit")),
        depaudit: split_colons(&strings(m, "depaudit")),
        dt_flags,
        dt_flags_1,
        z: z_features,
        stack_size,
        undefined: strings(m, "undefined"),
        require_defined: strings(m, "require-defined"),
        defsym: strings(m, "defsym"),
        wrap: strings(m, "wrap"),
        unresolved_in_objects: match last(m, "unresolved-symbols").as_deref() {
            None => None,
            Some("report-all" | "ignore-in-shared-libs") => Some(true),
            Some("ignore-all" | "ignore-in-object-files") => Some(false),
            Some(other) => {
                return Err(LinkError::Usage(format!(
                    "bad --unresolved-symbols option: {other}"
                )))
            }
        },
        shlib_undefined: shlib_undefined(m),
        warnings,
        fatal_warnings: last_wins(m, "fatal-warnings", "no-fatal-warnings"),
        compress_debug: match last(m, "compress-debug-sections") {
            None => crate::compress::Compression::None,
            Some(v) => crate::compress::Compression::parse(&v).map_err(LinkError::Usage)?,
        },
        undefined_version: !last_wins(m, "no-undefined-version", "undefined-version"),
        default_symver: present(m, "default-symver"),
        map_file: if last_wins(m, "print-map", "Map") {
            Some(PathBuf::from("-"))
        } else {
            last(m, "Map").map(PathBuf::from)
        },
        trace: present(m, "trace"),
        trace_symbols: strings(m, "trace-symbol"),
        retain_symbols_file: retain_wins(m)
            .then(|| last(m, "retain-symbols-file").map(PathBuf::from))
            .flatten(),
        strip: if retain_wins(m) {
            crate::strip::Strip::None
        } else if present(m, "strip-all") {
            crate::strip::Strip::All
        } else if present(m, "strip-debug") {
            crate::strip::Strip::Debug
        } else {
            crate::strip::Strip::None
        },
        discard: if last_wins(m, "discard-all", "discard-locals") {
            crate::strip::Discard::All
        } else {
            crate::strip::Discard::Locals
        },
        gc_sections: last_wins(m, "gc-sections", "no-gc-sections"),
        print_gc_sections: last_wins(m, "print-gc-sections", "no-print-gc-sections"),
        time_trace: present(m, "time-trace"),
        fork: (m.contains_id("fork") || m.contains_id("no-fork"))
            .then(|| !last_wins(m, "no-fork", "fork")),
        relocatable: present(m, "relocatable"),
        icf: match last(m, "icf") {
            None => crate::icf::Level::None,
            Some(v) => crate::icf::Level::parse(&v).map_err(LinkError::Usage)?,
        },
        print_icf_sections: present(m, "print-icf-sections"),
        plugin: plugin_path(m)?,
        plugin_opts: strings(m, "plugin-opt"),
        script_files: strings(m, "script")
            .into_iter()
            .map(PathBuf::from)
            .collect(),
        script: Default::default(),
    })
}

/// The one plugin tether drives; naming the same file again (as drivers may) is harmless.
fn plugin_path(m: &ArgMatches) -> Result<Option<PathBuf>> {
    let mut paths = strings(m, "plugin");
    paths.dedup();
    if paths.len() > 1 {
        return Err(LinkError::Usage(format!(
            "only one -plugin is supported, got {}",
            paths.join(", ")
        )));
    }
    Ok(paths.pop().map(PathBuf::from))
}

/// `--audit a:b --audit c` lists a, b and c.
fn split_colons(values: &[String]) -> Vec<String> {
    values
        .iter()
        .flat_map(|v| v.split(':'))
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// Whether flag `on` was given after the last `off` (GNU ld: the last of a pair wins).
/// `--retain-symbols-file` and `-s`/`-S` set one setting in GNU ld (what to strip): the last
/// of them on the command line is the one that counts.
fn retain_wins(m: &ArgMatches) -> bool {
    last_wins(m, "retain-symbols-file", "strip-all")
        && last_wins(m, "retain-symbols-file", "strip-debug")
}

fn last_wins(m: &ArgMatches, on: &str, off: &str) -> bool {
    let last_index = |id: &str| m.indices_of(id).and_then(|it| it.max());
    match (last_index(on), last_index(off)) {
        (Some(a), Some(b)) => a > b,
        (Some(_), None) => true,
        _ => false,
    }
}

/// The last of `--[no-]allow-shlib-undefined` and `--unresolved-symbols` decides whether
/// libraries' undefined symbols are checked, as in GNU ld.
fn shlib_undefined(m: &ArgMatches) -> Option<bool> {
    let last_index = |id: &str| m.indices_of(id).and_then(|it| it.max());
    [
        ("allow-shlib-undefined", Some(false)),
        ("no-allow-shlib-undefined", Some(true)),
        (
            "unresolved-symbols",
            match last(m, "unresolved-symbols").as_deref() {
                Some("ignore-all" | "ignore-in-shared-libs") => Some(false),
                Some(_) => Some(true),
                None => None,
            },
        ),
    ]
    .into_iter()
    .filter_map(|(id, value)| Some((last_index(id)?, value?)))
    .max_by_key(|&(index, _)| index)
    .map(|(_, value)| value)
}

/// The value of whichever of `ids` came last on the command line.
fn last_of(m: &ArgMatches, ids: &[&str]) -> Option<String> {
    ids.iter()
        .filter_map(|id| {
            let index = m.indices_of(id)?.max()?;
            Some((index, last(m, id)?))
        })
        .max_by_key(|(i, _)| *i)
        .map(|(_, v)| v)
}

/// A number as C's `strtoul(text, 0)` reads it, as GNU ld does for sizes: `0x` hex,
/// a leading `0` octal, else decimal.
pub fn parse_number(text: &str) -> Option<u64> {
    let t = text.trim();
    if let Some(hex) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        u64::from_str_radix(hex, 16).ok()
    } else if t.len() > 1 && t.starts_with('0') {
        u64::from_str_radix(&t[1..], 8).ok()
    } else {
        t.parse().ok()
    }
}

/// A number as GNU ld writes addresses: hex with or without `0x`, or decimal with `0x`-less
/// digits only when they are not hex (GNU ld reads `-Ttext-segment=400000` as hex).
pub fn parse_address(text: &str) -> Option<u64> {
    let t = text.trim();
    let digits = t
        .strip_prefix("0x")
        .or_else(|| t.strip_prefix("0X"))
        .unwrap_or(t);
    u64::from_str_radix(digits, 16).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(args: &[&str]) -> Options {
        match parse(args.iter().map(OsString::from)).expect("parses") {
            Invocation::Link(o) => *o,
            _ => panic!("expected a link"),
        }
    }

    #[test]
    fn gcc_shared_command_line_keeps_input_order() {
        let o = opts(&[
            "-plugin",
            "/usr/lib/gcc/liblto_plugin.so",
            "-plugin-opt=-fresolution=/tmp/x.res",
            "--build-id",
            "--eh-frame-hdr",
            "-m",
            "elf_x86_64",
            "--hash-style=gnu",
            "-shared",
            "-o",
            "t.so",
            "crti.o",
            "-L/usr/lib",
            "a.o",
            "-lgcc",
            "--push-state",
            "--as-needed",
            "-lgcc_s",
            "--pop-state",
            "-lc",
            "-Bstatic",
            "-l:libx.a",
            "-Bdynamic",
            "crtn.o",
            "-z",
            "relro",
            "-znow",
            "-init=go_init",
            "-soname",
            "libt.so",
        ]);
        assert!(o.shared && o.eh_frame_hdr && o.now && o.relro);
        assert_eq!(o.build_id, Some(BuildIdStyle::Sha1));
        assert_eq!(
            o.hash_style,
            HashStyle {
                sysv: false,
                gnu: true
            }
        );
        assert_eq!(o.init, "go_init");
        assert_eq!(o.soname.as_deref(), Some("libt.so"));
        use InputItem::*;
        assert_eq!(
            o.inputs,
            vec![
                File("crti.o".into()),
                File("a.o".into()),
                Library("gcc".into()),
                PushState,
                AsNeeded(true),
                Library("gcc_s".into()),
                PopState,
                Library("c".into()),
                Static(true),
                Library(":libx.a".into()),
                Static(false),
                File("crtn.o".into()),
            ]
        );
    }

    #[test]
    fn unknown_option_is_named() {
        let err = parse(["--frobnicate"].iter().map(OsString::from))
            .err()
            .expect("fails");
        assert!(err.to_string().contains("--frobnicate"), "{err}");
    }
}
