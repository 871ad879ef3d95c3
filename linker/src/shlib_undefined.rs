//! GNU ld's check that the shared libraries a link uses have their undefined symbols
//! defined somewhere (`--no-allow-shlib-undefined`, the default for programs): by the output
//! itself, by another library on the command line, or by a library that one of them needs.
//!
//! Needed libraries that the command line does not name are found where GNU ld 2.40 finds
//! them: `-rpath-link`, `-rpath`, for a native link `LD_RUN_PATH` (without `-rpath`) and
//! `LD_LIBRARY_PATH`, the needing library's DT_RUNPATH/DT_RPATH, for a native link
//! `/etc/ld.so.conf`, then the target's default directories (checked against Debian's GNU ld
//! and its arm-linux-gnueabihf cross ld). `-L` directories are not searched, as in GNU ld. A
//! library found this way only defines symbols for the check: it is not linked against.

use crate::error::{sym_name, LinkError, Result};
use crate::link::Link;
use crate::shared_file::SharedFile;
use memmap2::Mmap;
use rustc_hash::FxHashSet as HashSet;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// Fails the link on libraries' undefined symbols that nothing defines, if the options ask
/// for the check; warns about needed libraries that cannot be found.
pub fn check(link: &Link) -> Result<()> {
    if !link.opts.shlib_undefined.unwrap_or(link.kind.is_program()) {
        return Ok(());
    }
    let kept = crate::dynamic::kept_dsos(link);
    let checked: Vec<&SharedFile> = link
        .dsos
        .iter()
        .zip(&kept)
        .filter_map(|(dso, &k)| k.then_some(dso))
        .collect();
    let found = Dependencies::find(link, &checked)?;
    let indirect = found.parse()?;
    let mut defined: HashSet<&[u8]> = HashSet::default();
    for dso in link.dsos.iter().chain(&indirect) {
        defined.extend(dso.symbols.iter().map(|s| s.name));
    }
    let mut errors = Vec::new();
    for dso in checked.iter().copied().chain(&indirect) {
        for (&name, &weak) in dso.undefined.iter().zip(&dso.undefined_weak) {
            // Defined in the link, or referenced by an object too: then the objects' own
            // check (or the library being made) decides, as in GNU ld.
            let in_output = link.symtab.lookup(name).is_some_and(|id| {
                let s = link.symtab.get(id);
                s.referenced || !s.is_undefined()
            });
            if !weak && !in_output && !defined.contains(name) {
                errors.push(format!(
                    "{}: undefined reference to `{}'",
                    dso.name,
                    sym_name(name)
                ));
            }
        }
    }
    for w in &found.warnings {
        eprintln!("ld.tether: warning: {w}");
    }
    if !errors.is_empty() {
        return Err(LinkError::Many(errors));
    }
    if link.opts.fatal_warnings && !found.warnings.is_empty() {
        return Err(LinkError::Other(crate::options::FATAL_WARNINGS.into()));
    }
    Ok(())
}

/// The libraries that the checked ones need, transitively, mapped (parsed by
/// [`Dependencies::parse`], so that the parsed symbols may borrow the maps).
struct Dependencies {
    maps: Vec<(PathBuf, Mmap)>,
    warnings: Vec<String>,
}

/// One needed library to look for: its DT_NEEDED name and the library that needs it.
struct Need {
    name: Vec<u8>,
    needed_by: String,
    runpath: Option<Vec<u8>>,
}

impl Dependencies {
    fn find(link: &Link, checked: &[&SharedFile]) -> Result<Self> {
        let mut known: HashSet<Vec<u8>> = HashSet::default();
        for dso in &link.dsos {
            known.insert(dso.soname.as_bytes().to_vec());
            known.insert(file_name(&dso.name).to_vec());
        }
        let mut queue: Vec<Need> = checked.iter().flat_map(|d| needs(d)).collect();
        let mut deps = Dependencies {
            maps: Vec::new(),
            warnings: Vec::new(),
        };
        let search = SearchOrder::new(link);
        while let Some(need) = queue.pop() {
            if !known.insert(need.name.clone()) {
                continue;
            }
            let Some((path, map)) = search.find(link, &need)? else {
                deps.warnings.push(format!(
                    "{}, needed by {}, not found (try using -rpath or -rpath-link)",
                    sym_name(&need.name),
                    need.needed_by
                ));
                continue;
            };
            // Parsed here for its own needs and again by `parse` (its symbols cannot borrow
            // a map that is still being moved into `maps`); such libraries are few.
            let dso = SharedFile::parse(path.display().to_string(), &map, false)?;
            known.insert(dso.soname.as_bytes().to_vec());
            queue.extend(needs(&dso));
            deps.maps.push((path, map));
        }
        Ok(deps)
    }

    fn parse(&self) -> Result<Vec<SharedFile<'_>>> {
        self.maps
            .iter()
            .map(|(path, map)| SharedFile::parse(path.display().to_string(), map, false))
            .collect()
    }
}

fn needs(dso: &SharedFile) -> Vec<Need> {
    dso.needed
        .iter()
        .map(|&name| Need {
            name: name.to_vec(),
            needed_by: dso.name.clone(),
            runpath: dso.runpath.map(|r| expand_origin(r, &dso.name)),
        })
        .collect()
}

fn file_name(path: &str) -> &[u8] {
    Path::new(path)
        .file_name()
        .map_or(path.as_bytes(), |f| f.as_bytes())
}

/// `$ORIGIN` (or `${ORIGIN}`) in a run path is the needing library's directory.
fn expand_origin(runpath: &[u8], library: &str) -> Vec<u8> {
    let dir = Path::new(library)
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let dir = dir.as_os_str().as_bytes();
    let mut out = Vec::with_capacity(runpath.len());
    let mut rest = runpath;
    while !rest.is_empty() {
        if let Some(after) = rest
            .strip_prefix(b"${ORIGIN}")
            .or_else(|| rest.strip_prefix(b"$ORIGIN"))
        {
            out.extend_from_slice(dir);
            rest = after;
        } else {
            out.push(rest[0]);
            rest = &rest[1..];
        }
    }
    out
}

/// The directories GNU ld searches for a needed library, in its order, except the needing
/// library's own run path, which differs per library.
struct SearchOrder {
    before_runpath: Vec<PathBuf>,
    after_runpath: Vec<PathBuf>,
}

impl SearchOrder {
    fn new(link: &Link) -> Self {
        let opts = link.opts;
        let native = link.arch.is_native();
        let split = |list: &str| -> Vec<PathBuf> {
            list.split(':')
                .filter(|d| !d.is_empty())
                .map(PathBuf::from)
                .collect()
        };
        // `=` (or `$SYSROOT`) puts the sysroot in front, as for `-L`.
        let root = crate::search::SearchPaths::new(opts.sysroot.clone());
        let mut before: Vec<PathBuf> = opts.rpath_link.iter().flat_map(|l| split(l)).collect();
        before.extend(opts.rpath.iter().flat_map(|l| split(l)));
        if native && opts.rpath.is_empty() {
            before.extend(std::env::var("LD_RUN_PATH").iter().flat_map(|l| split(l)));
        }
        if native {
            before.extend(
                std::env::var("LD_LIBRARY_PATH")
                    .iter()
                    .flat_map(|l| split(l)),
            );
        }
        let before = before.iter().map(|d| root.resolve_dir(d)).collect();
        let mut after = Vec::new();
        if native {
            after.extend(ld_so_conf(Path::new("/etc/ld.so.conf"), 0));
        }
        after.extend(
            link.arch
                .default_search_dirs()
                .iter()
                .map(|d| root.resolve_dir(Path::new(&format!("={d}")))),
        );
        SearchOrder {
            before_runpath: before,
            after_runpath: after,
        }
    }

    /// The first file for `need` that is a shared library of the output's machine.
    fn find(&self, link: &Link, need: &Need) -> Result<Option<(PathBuf, Mmap)>> {
        let name = Path::new(OsStr::from_bytes(&need.name));
        // Entries with other dynamic string tokens ($LIB, $PLATFORM) name no one directory.
        let runpath: Vec<PathBuf> = need
            .runpath
            .iter()
            .flat_map(|r| r.split(|&b| b == b':'))
            .filter(|d| !d.is_empty() && !d.contains(&b'$'))
            .map(|d| PathBuf::from(OsStr::from_bytes(d)))
            .collect();
        let candidates: Vec<PathBuf> = if need.name.contains(&b'/') {
            vec![name.to_path_buf()]
        } else {
            self.before_runpath
                .iter()
                .chain(&runpath)
                .chain(&self.after_runpath)
                .map(|d| d.join(name))
                .collect()
        };
        for path in candidates {
            if let Some(map) = map_if_compatible(&path, link.arch.machine()) {
                return Ok(Some((path, map)));
            }
        }
        Ok(None)
    }
}

/// A shared library of `machine` at `path`, mapped; `None` for anything else, which GNU ld
/// skips as incompatible.
fn map_if_compatible(path: &Path, machine: u16) -> Option<Mmap> {
    let file = std::fs::File::open(path).ok()?;
    // SAFETY: as for inputs: the file is only read, and a library changing under the link
    // is outside what a linker can defend against.
    let map = unsafe { Mmap::map(&file) }.ok()?;
    let is_library = crate::inputs::kind_of(&map) == Some(crate::inputs::FileKind::Shared);
    (is_library && crate::object_file::elf_machine(&map) == Some(machine)).then_some(map)
}

/// The directories `/etc/ld.so.conf` lists, following its `include` lines (whose patterns
/// the `glob` crate expands); nesting is bounded so that an include cycle ends.
fn ld_so_conf(path: &Path, depth: u32) -> Vec<PathBuf> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Vec::new();
    };
    let mut dirs = Vec::new();
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("").trim();
        if let Some(pattern) = line.strip_prefix("include") {
            let pattern = pattern.trim();
            if depth >= 8 || pattern.is_empty() {
                continue;
            }
            let pattern = match Path::new(pattern).is_absolute() {
                true => PathBuf::from(pattern),
                false => path.parent().unwrap_or(Path::new("/")).join(pattern),
            };
            let mut files: Vec<PathBuf> = glob::glob(&pattern.to_string_lossy())
                .map(|paths| paths.flatten().collect())
                .unwrap_or_default();
            files.sort();
            for file in files {
                dirs.extend(ld_so_conf(&file, depth + 1));
            }
        } else if !line.is_empty() {
            dirs.push(PathBuf::from(line));
        }
    }
    dirs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origin_is_the_needing_librarys_directory() {
        assert_eq!(
            expand_origin(b"$ORIGIN/../d:/opt/${ORIGIN}", "/a/b/libx.so"),
            b"/a/b/../d:/opt//a/b".to_vec()
        );
        assert_eq!(expand_origin(b"$ORIGIN", "libx.so"), b".".to_vec());
    }

    #[test]
    fn ld_so_conf_follows_includes() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("conf.d");
        std::fs::create_dir(&sub).unwrap();
        std::fs::write(sub.join("b.conf"), "/dir/b\n").unwrap();
        std::fs::write(sub.join("a.conf"), "# comment\n/dir/a\n").unwrap();
        std::fs::write(sub.join("skip.txt"), "/dir/no\n").unwrap();
        let main = dir.path().join("ld.so.conf");
        std::fs::write(&main, "/first\ninclude conf.d/*.conf\ninclude ld.so.conf\n").unwrap();
        let dirs = ld_so_conf(&main, 0);
        let first: Vec<PathBuf> = ["/first", "/dir/a", "/dir/b", "/first"]
            .iter()
            .map(PathBuf::from)
            .collect();
        assert_eq!(dirs[..4], first[..]);
        assert!(dirs.len() < 64, "the include cycle ends");
    }
}
