//! From the command line to a flat, ordered list of mapped input files.
//!
//! This is the first of two phases: every file is found (`-l` search, linker scripts
//! expanded) and memory-mapped here, so that the second phase ([`crate::resolve`]) can hand
//! out slices of the mappings for the rest of the link.

use crate::error::{LinkError, Result};
use crate::options::{InputItem, Options};
use crate::script::{self, Command, InputName};
use crate::search::SearchPaths;
use memmap2::Mmap;
use std::fs::File;
use std::path::{Path, PathBuf};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileKind {
    Object,
    Archive,
    Shared,
}

/// How a file was listed: the state of the positional flags at that point.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Placement {
    pub whole_archive: bool,
    pub as_needed: bool,
    pub static_only: bool,
    /// Files of one `--start-group`/`--end-group` (or script `GROUP`) share an id.
    pub group: Option<u32>,
}

pub struct MappedFile {
    pub path: PathBuf,
    pub kind: FileKind,
    pub placement: Placement,
    pub map: Mmap,
    /// Found by `-l` (or a script's `-l` entry) rather than named by path.
    pub searched: bool,
}

impl MappedFile {
    pub fn display(&self) -> String {
        self.path.display().to_string()
    }
}

/// What a file is, from its first bytes (`None`: none of the kinds a link takes).
pub fn kind_of(bytes: &[u8]) -> Option<FileKind> {
    if crate::plugin::is_bitcode(bytes) {
        return Some(FileKind::Object);
    }
    if bytes.starts_with(b"!<arch>\n") || bytes.starts_with(b"!<thin>\n") {
        return Some(FileKind::Archive);
    }
    if bytes.starts_with(b"\x7fELF") {
        let little = bytes.get(5) == Some(&1);
        let e_type = bytes.get(16..18).map(|b| {
            if little {
                u16::from_le_bytes([b[0], b[1]])
            } else {
                u16::from_be_bytes([b[0], b[1]])
            }
        });
        return match e_type {
            Some(1) => Some(FileKind::Object),
            Some(3) => Some(FileKind::Shared),
            _ => None,
        };
    }
    None
}

/// Maps one object or library the LTO plugin adds to the link.
pub fn map_input(path: &Path, placement: Placement) -> Result<MappedFile> {
    let file = File::open(path).map_err(|e| LinkError::io(path, e))?;
    // SAFETY: as in `Collector::add_path`.
    let map = unsafe { Mmap::map(&file) }.map_err(|e| LinkError::io(path, e))?;
    let kind = kind_of(&map).ok_or_else(|| {
        LinkError::malformed(&path.display().to_string(), "file format not recognized")
    })?;
    Ok(MappedFile {
        path: path.to_path_buf(),
        kind,
        placement,
        map,
        searched: false,
    })
}

/// Finds and maps the libraries the LTO plugin adds (`-pass-through=-lNAME`), searching
/// `extra_dirs` after the command line's; linker scripts expand as on the command line.
pub fn collect_libraries(
    opts: &Options,
    extra_dirs: &[PathBuf],
    libraries: &[String],
) -> Result<Vec<MappedFile>> {
    let mut search = SearchPaths::new(opts.sysroot.clone());
    for dir in opts.lib_dirs.iter().chain(extra_dirs) {
        search.add_dir(dir.clone());
    }
    let mut c = Collector {
        search,
        files: Vec::new(),
        next_group: 0,
        depth: 0,
        trace: opts.trace,
    };
    // They are searched as if listed last: under the final -Bstatic/-Bdynamic state (gcc's
    // static links say -Bstatic, not -static).
    let static_only = opts
        .inputs
        .iter()
        .rev()
        .find_map(|i| match i {
            InputItem::Static(on) => Some(*on),
            _ => None,
        })
        .unwrap_or(opts.static_link);
    for spec in libraries {
        let path = c.search.find_library(spec, static_only).ok_or_else(|| {
            LinkError::Other(format!(
                "unable to find library -l{spec} (named by the plugin)"
            ))
        })?;
        c.add_path(&path, Placement::default(), true)?;
    }
    Ok(c.files)
}

struct Collector {
    search: SearchPaths,
    files: Vec<MappedFile>,
    next_group: u32,
    depth: usize,
    /// `-t`: print each file as it is opened.
    trace: bool,
}

/// Finds and maps every input named by the command line, in order.
pub fn collect(opts: &Options) -> Result<Vec<MappedFile>> {
    let mut search = SearchPaths::new(opts.sysroot.clone());
    for dir in &opts.lib_dirs {
        search.add_dir(dir.clone());
    }
    let mut c = Collector {
        search,
        files: Vec::new(),
        next_group: 0,
        depth: 0,
        trace: opts.trace,
    };
    let mut state = Placement::default();
    let mut saved = Vec::new();
    for item in &opts.inputs {
        match item {
            InputItem::File(path) => c.add_path(path, state, false)?,
            InputItem::Library(spec) => {
                let path = c
                    .search
                    .find_library(spec, state.static_only)
                    .ok_or_else(|| LinkError::Other(format!("unable to find library -l{spec}")))?;
                c.add_path(&path, state, true)?;
            }
            InputItem::WholeArchive(on) => state.whole_archive = *on,
            InputItem::Static(on) => state.static_only = *on,
            InputItem::AsNeeded(on) => state.as_needed = *on,
            InputItem::PushState => saved.push(state),
            InputItem::PopState => {
                let group = state.group;
                state = saved
                    .pop()
                    .ok_or_else(|| LinkError::Usage("--pop-state without --push-state".into()))?;
                state.group = group;
            }
            InputItem::StartGroup => {
                if state.group.is_some() {
                    return Err(LinkError::Usage("nested --start-group".into()));
                }
                state.group = Some(c.new_group());
            }
            InputItem::EndGroup => {
                if state.group.take().is_none() {
                    return Err(LinkError::Usage("--end-group without --start-group".into()));
                }
            }
        }
    }
    if state.group.is_some() {
        return Err(LinkError::Usage("--start-group without --end-group".into()));
    }
    if c.files.is_empty() {
        return Err(LinkError::Usage("no input files".into()));
    }
    Ok(c.files)
}

impl Collector {
    fn new_group(&mut self) -> u32 {
        self.next_group += 1;
        self.next_group
    }

    fn add_path(&mut self, path: &Path, placement: Placement, searched: bool) -> Result<()> {
        let file = File::open(path).map_err(|e| LinkError::io(path, e))?;
        crate::trace::opened(self.trace, path);
        // SAFETY: inputs are not expected to change while the link runs; like every mmap-based
        // linker, tether cannot defend against another process truncating them.
        let map = unsafe { Mmap::map(&file) }.map_err(|e| LinkError::io(path, e))?;
        match kind_of(&map) {
            Some(kind) => {
                self.files.push(MappedFile {
                    path: path.to_path_buf(),
                    kind,
                    placement,
                    map,
                    searched,
                });
                Ok(())
            }
            None if script::is_linker_script(&map) => self.add_script(path, &map, placement),
            None if map.starts_with(b"\x7fELF") => Err(LinkError::malformed(
                &path.display().to_string(),
                "ELF file is neither a relocatable object nor a shared library",
            )),
            None => Err(LinkError::malformed(
                &path.display().to_string(),
                "file format not recognized",
            )),
        }
    }

    fn add_script(&mut self, path: &Path, bytes: &[u8], placement: Placement) -> Result<()> {
        self.depth += 1;
        if self.depth > 16 {
            return Err(LinkError::Other(format!(
                "{}: linker scripts nest too deeply",
                path.display()
            )));
        }
        let text = std::str::from_utf8(bytes).map_err(|_| {
            LinkError::malformed(&path.display().to_string(), "linker script is not UTF-8")
        })?;
        let commands = script::parse(text)
            .map_err(|e| LinkError::Other(format!("{}: {e}", path.display())))?;
        for command in commands {
            let (entries, grouped) = match command {
                Command::Group(entries) => (entries, true),
                Command::Input(entries) => (entries, false),
                Command::SearchDir(dir) => {
                    self.search.add_dir(dir);
                    continue;
                }
                // The rest is crate::script::load's.
                _ => continue,
            };
            let mut inner = placement;
            if grouped && inner.group.is_none() {
                inner.group = Some(self.new_group());
            }
            for entry in entries {
                let mut p = inner;
                p.as_needed |= entry.as_needed;
                let found = match &entry.name {
                    InputName::Path(name) => self.search.find_script_input(name, path),
                    InputName::Library(spec) => self.search.find_library(spec, p.static_only),
                };
                let found = found.ok_or_else(|| {
                    LinkError::Other(format!(
                        "{}: cannot find {:?} named by the linker script",
                        path.display(),
                        entry.name
                    ))
                })?;
                let searched = matches!(entry.name, InputName::Library(_));
                self.add_path(&found, p, searched)?;
            }
        }
        self.depth -= 1;
        Ok(())
    }
}
