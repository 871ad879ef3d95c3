//! Link-time optimisation through the gold plugin API (`-plugin`, `-plugin-opt`): GCC's
//! `liblto_plugin.so` and LLVM's `LLVMgold.so`.
//!
//! The link runs twice over the inputs. The first resolution offers every object and every
//! archive member it loads to the plugin's claim hook; a claimed file takes part with the
//! symbols the plugin describes ([`ir_object`]). Its outcome gives each IR symbol its `LDPR_*`
//! resolution ([`resolution`]); then the all-symbols-read hook compiles the IR into objects
//! the plugin adds. The second resolution is the real link: the added objects stand where the
//! first claimed input stood, the claimed inputs are left out, and the libraries the plugin
//! asks for (`-pass-through=`) come last.

mod ffi;
mod resolution;
mod state;

pub use state::IrSymbol;

use crate::decide::OutputKind;
use crate::error::{LinkError, Result};
use crate::inputs::{FileKind, MappedFile};
use crate::object_file::{InputSymbol, ObjectFile, SymPlace, SymbolName};
use crate::options::Options;
use crate::resolve::Resolved;
use object::elf;
use std::collections::HashSet;
use std::ffi::CString;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

/// What the resolver does with an input it is about to load.
pub enum Claim {
    /// Not the plugin's: link it as it is.
    No,
    /// The plugin's: it takes part with these symbols (handle, symbols).
    Ir(usize, Vec<IrSymbol>),
    /// Claimed in the first resolution and replaced by the plugin's output: leave it out.
    Drop,
}

/// Decides, for the resolver, whether an input is the plugin's.
pub trait Claimer {
    /// `path` is the file (the archive for a member), `bytes` the input's bytes inside `file`.
    fn offer(&mut self, display: &str, path: &Path, file: &[u8], bytes: &[u8]) -> Result<Claim>;
}

/// Whether `data` is LLVM bitcode (raw or in its wrapper), which only a plugin can read.
pub fn is_bitcode(data: &[u8]) -> bool {
    data.starts_with(b"BC\xc0\xde") || data.starts_with(&[0xde, 0xc0, 0x17, 0x0b])
}

/// Whether a plugin could claim `data`: LLVM bitcode, or an ELF object carrying GCC's LTO
/// sections (`.gnu.lto_*`, slim or fat). Nothing else is offered to the plugin, as mold and
/// lld do: asking it about every ordinary object costs a claim call and a read per file, and
/// those objects can be parsed ahead in parallel instead.
pub fn may_be_ir(data: &[u8]) -> bool {
    use object::{Object, ObjectSection};
    if is_bitcode(data) {
        return true;
    }
    match object::read::File::parse(data) {
        Ok(file) => file
            .sections()
            .any(|s| s.name_bytes().is_ok_and(|n| n.starts_with(b".gnu.lto_"))),
        // Unreadable here: let the plugin (and then the ELF reader) say what it is.
        Err(_) => true,
    }
}

/// Only one link at a time drives a plugin: its callbacks share global state.
static ACTIVE: Mutex<()> = Mutex::new(());

pub struct Plugin {
    _loaded: ffi::Loaded,
    _active: MutexGuard<'static, ()>,
    name: String,
    /// Strings the transfer vector points at; the plugin may keep those pointers.
    _strings: (CString, Vec<CString>),
}

fn cstring(text: &[u8], what: &str) -> Result<CString> {
    CString::new(text).map_err(|_| LinkError::Usage(format!("{what} contains a NUL byte")))
}

fn ldpo(kind: OutputKind) -> i32 {
    match kind {
        OutputKind::Shared => 2,
        OutputKind::Pie | OutputKind::StaticPie => 3,
        OutputKind::Exec | OutputKind::Static => 1,
    }
}

impl Plugin {
    pub fn load(path: &Path, opts: &Options, kind: OutputKind) -> Result<Plugin> {
        let active = ACTIVE.lock().unwrap_or_else(|e| e.into_inner());
        let name = path.display().to_string();
        if !path.exists() {
            return Err(LinkError::Other(format!(
                "{name}: cannot load plugin: no such file"
            )));
        }
        state::reset(name.clone());
        let output = cstring(opts.output.as_os_str().as_encoded_bytes(), "-o")?;
        let options = opts
            .plugin_opts
            .iter()
            .map(|o| cstring(o.as_bytes(), "-plugin-opt"))
            .collect::<Result<Vec<_>>>()?;
        let loaded = ffi::load(path, ldpo(kind), &output, &options)
            .map_err(|e| LinkError::Other(format!("{name}: cannot load plugin: {e}")))?;
        let plugin = Plugin {
            _loaded: loaded,
            _active: active,
            name,
            _strings: (output, options),
        };
        plugin.check_errors()?;
        Ok(plugin)
    }

    /// Fails with the plugin's error messages, if it reported any.
    fn check_errors(&self) -> Result<()> {
        let errors = state::with(|s| std::mem::take(&mut s.errors));
        if errors.is_empty() {
            Ok(())
        } else {
            Err(LinkError::Many(errors))
        }
    }

    /// Offers one input to the claim hooks; the IR symbols when one takes it.
    fn claim(&self, display: &str, path: &Path, file: &[u8], bytes: &[u8]) -> Result<Claim> {
        let hooks = state::with(|s| s.claim_hooks.clone());
        if hooks.is_empty() {
            return Ok(Claim::No);
        }
        let offset = bytes.as_ptr() as usize - file.as_ptr() as usize;
        let input = ffi::OwnedInput {
            name: cstring(path.as_os_str().as_encoded_bytes(), "an input's path")?,
            file: std::fs::File::open(path).map_err(|e| LinkError::io(path, e))?,
        };
        let handle = state::with(|s| {
            s.inputs.push(state::Input {
                name: input.name.clone(),
                offset: offset as u64,
                size: bytes.len() as u64,
                bytes: bytes.as_ptr() as usize,
                sections: section_infos(bytes),
                symbols: Vec::new(),
                resolutions: Vec::new(),
                open: None,
            });
            s.inputs.len()
        });
        for hook in hooks {
            let claimed = ffi::call_claim(hook, &input, offset as u64, bytes.len() as u64, handle)
                .map_err(|status| {
                    LinkError::Other(format!(
                        "{}: claim_file failed for {display} (status {status})",
                        self.name
                    ))
                });
            self.check_errors()?;
            if claimed? {
                crate::detach::hold();
                let symbols = state::with(|s| s.inputs[handle - 1].symbols.clone());
                return Ok(Claim::Ir(handle, symbols));
            }
        }
        Ok(Claim::No)
    }

    /// Runs the all-symbols-read hooks (the plugin compiles the IR then) and returns what the
    /// plugin added: objects, libraries and library directories.
    fn all_symbols_read(&self) -> Result<Added> {
        for hook in state::with(|s| s.all_symbols_read_hooks.clone()) {
            let status = ffi::call_void(hook);
            self.check_errors()?;
            if status != ffi::LDPS_OK {
                return Err(LinkError::Other(format!(
                    "{}: all_symbols_read failed (status {status})",
                    self.name
                )));
            }
        }
        let bytes_to_path = |b: Vec<u8>| {
            PathBuf::from(<std::ffi::OsString as std::os::unix::ffi::OsStringExt>::from_vec(b))
        };
        Ok(state::with(|s| Added {
            files: s.added_files.drain(..).map(bytes_to_path).collect(),
            libraries: s
                .added_libraries
                .drain(..)
                .map(|l| String::from_utf8_lossy(&l).into_owned())
                .collect(),
            dirs: s.extra_library_paths.drain(..).map(bytes_to_path).collect(),
        }))
    }

    /// Runs the cleanup hooks (the plugin removes its temporary files) and forgets the inputs.
    fn cleanup(&self) -> Result<()> {
        for hook in state::with(|s| s.cleanup_hooks.clone()) {
            ffi::call_void(hook);
        }
        let errors = self.check_errors();
        state::reset(self.name.clone());
        errors
    }
}

struct Added {
    files: Vec<PathBuf>,
    libraries: Vec<String>,
    dirs: Vec<PathBuf>,
}

/// The section headers of an ELF input (none for bitcode), for the section queries.
fn section_infos(bytes: &[u8]) -> Vec<state::SectionInfo> {
    use object::elf::{FileHeader32, FileHeader64};
    let found = match bytes.get(4) {
        Some(&c) if c == elf::ELFCLASS64.0 => headers::<FileHeader64<object::Endianness>>(bytes),
        Some(&c) if c == elf::ELFCLASS32.0 => headers::<FileHeader32<object::Endianness>>(bytes),
        _ => None,
    };
    found.unwrap_or_default()
}

fn headers<E: object::read::elf::FileHeader<Endian = object::Endianness>>(
    bytes: &[u8],
) -> Option<Vec<state::SectionInfo>> {
    use object::read::elf::SectionHeader as _;
    let header = E::parse(bytes).ok()?;
    let endian = header.endian().ok()?;
    let table = header.sections(endian, bytes).ok()?;
    let infos = table
        .iter()
        .map(|s| {
            let data = s.data(endian, bytes).unwrap_or(&[]);
            state::SectionInfo {
                name: table.section_name(endian, s).unwrap_or(b"").to_vec(),
                sh_type: s.sh_type(endian).0,
                align: s.sh_addralign(endian).into(),
                size: s.sh_size(endian).into(),
                data: (data.as_ptr() as usize, data.len()),
            }
        })
        .collect();
    Some(infos)
}

/// A claimed input as the resolver sees it: no sections, one symbol per IR symbol (index
/// `i + 1` for the plugin's symbol `i`), defined ones absolute so that they count as defined.
pub fn ir_object(
    display: String,
    archive: Option<String>,
    syms: &[IrSymbol],
) -> ObjectFile<'static> {
    let mut symbols = vec![InputSymbol {
        name: SymbolName::Known(b""),
        value: 0,
        size: 0,
        place: SymPlace::Undefined,
        bind: elf::STB_LOCAL.0,
        ty: elf::STT_NOTYPE.0,
        visibility: elf::STV_DEFAULT.0,
    }];
    let mut groups: Vec<crate::object_file::Group<'static>> = Vec::new();
    for s in syms {
        // The names live as long as the process: the resolver's tables borrow them and a
        // link is one run of the linker.
        let name: &'static [u8] = Box::leak(s.name.clone().into_boxed_slice());
        let (place, weak) = match s.kind {
            0 => (SymPlace::Absolute, false),
            1 => (SymPlace::Absolute, true),
            2 => (SymPlace::Undefined, false),
            3 => (SymPlace::Undefined, true),
            _ => (SymPlace::Common, false),
        };
        symbols.push(InputSymbol {
            name: SymbolName::Known(name),
            value: 1,
            size: s.size,
            place,
            bind: if weak {
                elf::STB_WEAK.0
            } else {
                elf::STB_GLOBAL.0
            },
            ty: match s.symbol_type {
                1 => elf::STT_FUNC.0,
                2 => elf::STT_OBJECT.0,
                _ => elf::STT_NOTYPE.0,
            },
            visibility: match s.visibility {
                1 => elf::STV_PROTECTED.0,
                2 => elf::STV_INTERNAL.0,
                3 => elf::STV_HIDDEN.0,
                _ => elf::STV_DEFAULT.0,
            },
        });
        if let Some(key) = &s.comdat {
            if !groups.iter().any(|g| g.signature == key.as_slice()) {
                let signature: &'static [u8] = Box::leak(key.clone().into_boxed_slice());
                groups.push(crate::object_file::Group {
                    signature,
                    signature_sym: 0,
                    members: Vec::new(),
                });
            }
        }
    }
    ObjectFile {
        name: display,
        archive,
        machine: 0,
        flags: 0,
        sections: Vec::new(),
        global_hashes: symbols
            .get(1..)
            .unwrap_or(&[])
            .iter()
            .map(|s| crate::symbols::name_hash(s.name()))
            .collect(),
        global_name_lens: symbols
            .get(1..)
            .unwrap_or(&[])
            .iter()
            .map(|s| s.name().len() as u32)
            .collect(),
        symbols: crate::symbol_list::SymbolList::decoded(symbols),
        first_global: 1,
        groups,
        wants_exec_stack: false,
    }
}

/// The first resolution's claimer: asks the plugin, remembers what it took.
struct FirstPass<'p> {
    plugin: &'p Plugin,
    /// (path, offset) of every claimed input.
    claimed: HashSet<(PathBuf, usize)>,
    /// The first file (by path) an input was claimed from.
    first: Option<PathBuf>,
}

impl Claimer for FirstPass<'_> {
    fn offer(&mut self, display: &str, path: &Path, file: &[u8], bytes: &[u8]) -> Result<Claim> {
        let claim = self.plugin.claim(display, path, file, bytes)?;
        if let Claim::Ir(..) = claim {
            let offset = bytes.as_ptr() as usize - file.as_ptr() as usize;
            self.claimed.insert((path.to_path_buf(), offset));
            self.first.get_or_insert_with(|| path.to_path_buf());
        }
        Ok(claim)
    }
}

/// The real link's claimer: leaves out what the plugin took the first time.
struct SecondPass {
    claimed: HashSet<(PathBuf, usize)>,
}

impl Claimer for SecondPass {
    fn offer(&mut self, _: &str, path: &Path, file: &[u8], bytes: &[u8]) -> Result<Claim> {
        let offset = bytes.as_ptr() as usize - file.as_ptr() as usize;
        Ok(if self.claimed.contains(&(path.to_path_buf(), offset)) {
            Claim::Drop
        } else {
            Claim::No
        })
    }
}

/// Runs a link whose inputs go through the plugin named by `-plugin`. The plugin cleans up
/// whether the link succeeds or not.
pub fn run(
    opts: &Options,
    plugin_path: &Path,
    files: Vec<MappedFile>,
    roots: &crate::resolve::Roots,
) -> Result<()> {
    let has_dsos = files.iter().any(|f| f.kind == FileKind::Shared);
    let kind = crate::link::output_kind(opts, has_dsos);
    let plugin = crate::timing::time("load plugin", || Plugin::load(plugin_path, opts, kind))?;
    let result = link_through(&plugin, opts, kind, files, roots);
    let cleaned = plugin.cleanup();
    result.and(cleaned)
}

fn link_through(
    plugin: &Plugin,
    opts: &Options,
    kind: OutputKind,
    files: Vec<MappedFile>,
    roots: &crate::resolve::Roots,
) -> Result<()> {
    let mut first = FirstPass {
        plugin,
        claimed: HashSet::new(),
        first: None,
    };
    let resolved: Resolved = crate::timing::time("resolve symbols", || {
        crate::resolve::resolve_with(&files, Some(&mut first), false, roots)
    })?;
    // gcc passes its plugin to every link: when it claims nothing, the first resolution is the
    // link's (unless no input told the target, which the ordinary path reports).
    let told_target = !resolved.dsos.is_empty() || resolved.objects.iter().any(|o| o.machine != 0);
    if first.claimed.is_empty() && told_target {
        plugin.all_symbols_read()?;
        return crate::link::link_resolved(opts, resolved);
    }
    crate::relocatable::refuse_ir(opts, &resolved)?;
    let resolutions = resolution::compute(opts, kind, &resolved);
    state::with(|s| {
        for (handle, r) in resolutions {
            s.inputs[handle - 1].resolutions = r;
        }
    });
    drop(resolved);
    let added = plugin.all_symbols_read()?;
    let files = with_added(opts, files, first.first.as_deref(), added)?;
    let mut second = SecondPass {
        claimed: first.claimed,
    };
    let resolved = crate::timing::time("resolve symbols again", || {
        crate::resolve::resolve_with(&files, Some(&mut second), true, roots)
    })?;
    crate::link::link_resolved(opts, resolved)
}

/// The inputs of the real link: the plugin's objects where the first claimed input was, its
/// libraries (those not already linked) at the end.
fn with_added(
    opts: &Options,
    mut files: Vec<MappedFile>,
    first: Option<&Path>,
    added: Added,
) -> Result<Vec<MappedFile>> {
    let at = first
        .and_then(|p| files.iter().position(|f| f.path == p))
        .unwrap_or(files.len());
    let placement = files.get(at).map(|f| f.placement).unwrap_or_default();
    let mut objects = Vec::new();
    for path in &added.files {
        objects.push(crate::inputs::map_input(path, placement)?);
    }
    files.splice(at..at, objects);
    let libraries = crate::inputs::collect_libraries(opts, &added.dirs, &added.libraries)?;
    for lib in libraries {
        if !files.iter().any(|f| f.path == lib.path) {
            files.push(lib);
        }
    }
    Ok(files)
}
