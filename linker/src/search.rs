//! Finding inputs the way GNU ld does: `@response` files, `-l`/`-L` library search with
//! `--sysroot`, and the files a linker script names.
//!
//! Behaviours copied from ld.bfd 2.40 (checked against it in the tests):
//! - `@file` uses libiberty's quoting: whitespace separates, `'...'` and `"..."` quote, a
//!   backslash escapes the next character everywhere (also inside quotes). An `@file` that
//!   cannot be opened stays in the argument list literally; ld then reports it as a missing
//!   input. Nested `@file`s expand; more than 2000 expansions is an error (recursion).
//! - `-lfoo` tries `libfoo.so` then `libfoo.a` in each directory in order (only `.a` under
//!   `-Bstatic`); `-l:name` looks for exactly `name`.
//! - A `-L`/`SEARCH_DIR` directory starting with `=` or `$SYSROOT` is under the sysroot.
//! - A file a script names: `=`/`$SYSROOT` prefix → under the sysroot; an absolute path in a
//!   script that itself lies inside the sysroot → under the sysroot (and only there);
//!   otherwise an absolute path as is; a relative path is looked for in the script's
//!   directory, then the current directory, then the library search directories.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum SearchError {
    #[error("@{path}: response file is a directory")]
    ResponseFileIsDirectory { path: String },
    #[error("@{path}: cannot read response file: {source}")]
    ResponseFileRead {
        path: String,
        source: std::io::Error,
    },
    #[error("too many @-files encountered (last: @{path}); is a response file including itself?")]
    ResponseFileRecursion { path: String },
}

/// libiberty's limit on the number of `@file` expansions in one command line.
const MAX_RESPONSE_EXPANSIONS: usize = 2000;

/// Replaces every `@file` argument by the arguments the file holds, recursively.
pub fn expand_response_files(
    args: impl IntoIterator<Item = OsString>,
) -> Result<Vec<OsString>, SearchError> {
    // Pending arguments in reverse order, so expansions can be pushed in front cheaply.
    let mut pending: Vec<OsString> = args.into_iter().collect();
    pending.reverse();
    let mut out = Vec::with_capacity(pending.len());
    let mut expansions = 0usize;
    while let Some(arg) = pending.pop() {
        let Some(file) = arg.as_bytes().strip_prefix(b"@") else {
            out.push(arg);
            continue;
        };
        let file = Path::new(OsStr::from_bytes(file));
        let display = file.display().to_string();
        if file.is_dir() {
            return Err(SearchError::ResponseFileIsDirectory { path: display });
        }
        let contents = match std::fs::read(file) {
            Ok(c) => c,
            // As libiberty does: an unopenable @file is an ordinary argument.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound || file.as_os_str().is_empty() => {
                out.push(arg);
                continue;
            }
            Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
                out.push(arg);
                continue;
            }
            Err(source) => {
                return Err(SearchError::ResponseFileRead {
                    path: display,
                    source,
                })
            }
        };
        expansions += 1;
        if expansions >= MAX_RESPONSE_EXPANSIONS {
            return Err(SearchError::ResponseFileRecursion { path: display });
        }
        let mut words = split_response_text(&contents);
        words.reverse();
        pending.extend(words);
    }
    Ok(out)
}

/// Splits response-file contents into arguments with libiberty's `buildargv` rules.
pub fn split_response_text(text: &[u8]) -> Vec<OsString> {
    // C's isspace in the "C" locale.
    let is_space = |c: u8| matches!(c, b' ' | b'\t' | b'\n' | b'\r' | b'\x0b' | b'\x0c');
    let mut args = Vec::new();
    let mut i = 0;
    loop {
        while i < text.len() && is_space(text[i]) {
            i += 1;
        }
        if i >= text.len() {
            return args;
        }
        let (mut squote, mut dquote, mut escaped) = (false, false, false);
        let mut arg = Vec::new();
        while i < text.len() {
            let c = text[i];
            if is_space(c) && !squote && !dquote && !escaped {
                break;
            }
            if escaped {
                escaped = false;
                arg.push(c);
            } else if c == b'\\' {
                escaped = true;
            } else if squote {
                if c == b'\'' {
                    squote = false;
                } else {
                    arg.push(c);
                }
            } else if dquote {
                if c == b'"' {
                    dquote = false;
                } else {
                    arg.push(c);
                }
            } else if c == b'\'' {
                squote = true;
            } else if c == b'"' {
                dquote = true;
            } else {
                arg.push(c);
            }
            i += 1;
        }
        args.push(OsString::from_vec(arg));
    }
}

/// The library search path (`-L`, `SEARCH_DIR`) and `--sysroot`.
///
/// Directories are kept as written (`=/usr/lib` included) and resolved when searched, so
/// that `--sysroot` may come after `-L` on the command line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SearchPaths {
    pub dirs: Vec<PathBuf>,
    pub sysroot: Option<PathBuf>,
}

/// `sysroot` + `rest` by string concatenation (`Path::join` would drop the sysroot when
/// `rest` is absolute).
fn concat_path(sysroot: Option<&Path>, rest: &[u8]) -> PathBuf {
    let mut bytes = sysroot
        .map(|s| s.as_os_str().as_bytes().to_vec())
        .unwrap_or_default();
    bytes.extend_from_slice(rest);
    PathBuf::from(OsString::from_vec(bytes))
}

/// The part after a `=` or `$SYSROOT` prefix, if the name has one.
fn sysroot_relative(name: &[u8]) -> Option<&[u8]> {
    name.strip_prefix(b"=")
        .or_else(|| name.strip_prefix(b"$SYSROOT"))
}

impl SearchPaths {
    pub fn new(sysroot: Option<PathBuf>) -> Self {
        SearchPaths {
            dirs: Vec::new(),
            sysroot,
        }
    }

    /// Appends a `-L`/`SEARCH_DIR` directory (searched after those already present).
    pub fn add_dir(&mut self, dir: impl Into<PathBuf>) {
        self.dirs.push(dir.into());
    }

    /// A script named on the command line (`-T`, `--version-script`) or by `INCLUDE`: as
    /// given, else in each `-L` directory in order (GNU ld's `ldfile_find_command_file`).
    pub fn find_command_file(&self, name: &Path) -> Option<PathBuf> {
        if name.is_file() {
            return Some(name.to_path_buf());
        }
        if name.is_absolute() {
            return None;
        }
        self.dirs
            .iter()
            .map(|d| self.resolve_dir(d).join(name))
            .find(|p| p.is_file())
    }

    /// A directory with its `=`/`$SYSROOT` prefix replaced by the sysroot.
    pub fn resolve_dir(&self, dir: &Path) -> PathBuf {
        match sysroot_relative(dir.as_os_str().as_bytes()) {
            Some(rest) => concat_path(self.sysroot.as_deref(), rest),
            None => dir.to_path_buf(),
        }
    }

    /// Finds `-l<spec>`: `spec` is `foo` (→ `libfoo.so`, then `libfoo.a`, per directory)
    /// or `:file` (→ exactly `file`).
    pub fn find_library(&self, spec: &str, static_only: bool) -> Option<PathBuf> {
        let exact = spec.strip_prefix(':');
        for dir in &self.dirs {
            let dir = self.resolve_dir(dir);
            let candidates: Vec<String> = match exact {
                Some(file) => vec![file.to_string()],
                None if static_only => vec![format!("lib{spec}.a")],
                None => vec![format!("lib{spec}.so"), format!("lib{spec}.a")],
            };
            for name in candidates {
                let path = dir.join(name);
                if path.is_file() {
                    return Some(path);
                }
            }
        }
        None
    }

    /// Whether a script at `script` lies inside the sysroot (compared after resolving
    /// symbolic links, as ld does), which makes its absolute file names sysroot-relative.
    pub fn is_in_sysroot(&self, script: &Path) -> bool {
        let Some(sysroot) = &self.sysroot else {
            return false;
        };
        match (sysroot.canonicalize(), script.canonicalize()) {
            (Ok(root), Ok(file)) => file != root && file.starts_with(&root),
            _ => false,
        }
    }

    /// Finds a file named by `GROUP`/`INPUT` in the script at `script` (not a `-l` entry:
    /// those go through [`SearchPaths::find_library`]). Returns `None` when it is nowhere.
    pub fn find_script_input(&self, name: &str, script: &Path) -> Option<PathBuf> {
        let bytes = name.as_bytes();
        if let Some(rest) = sysroot_relative(bytes) {
            let path = concat_path(self.sysroot.as_deref(), rest);
            return path.is_file().then_some(path);
        }
        let path = Path::new(name);
        if path.is_absolute() {
            let path = if self.is_in_sysroot(script) {
                concat_path(self.sysroot.as_deref(), bytes)
            } else {
                path.to_path_buf()
            };
            return path.is_file().then_some(path);
        }
        let script_dir = script.parent().filter(|d| !d.as_os_str().is_empty());
        let mut candidates = Vec::new();
        if let Some(dir) = script_dir {
            candidates.push(dir.join(path));
        }
        candidates.push(path.to_path_buf());
        candidates.extend(self.dirs.iter().map(|d| self.resolve_dir(d).join(path)));
        candidates.into_iter().find(|c| c.is_file())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    fn os(v: &[&str]) -> Vec<OsString> {
        v.iter().map(OsString::from).collect()
    }

    #[test]
    fn libiberty_quoting() {
        let words = split_response_text(
            b"  -o 'a b'\t\"c d\" e\\ f 'it\\'s' \"q\\\"q\" '' x\\\ny\n\n  last",
        );
        assert_eq!(
            words,
            os(&["-o", "a b", "c d", "e f", "it's", "q\"q", "", "x\ny", "last"])
        );
        assert!(split_response_text(b" \n\t ").is_empty());
        // Unterminated quote and trailing backslash end at the end of the file, no error.
        assert_eq!(split_response_text(b"'abc def\\"), os(&["abc def"]));
    }

    #[test]
    fn nested_missing_and_recursive_response_files() {
        let dir = tempfile::tempdir().unwrap();
        let inner = dir.path().join("inner.rsp");
        let outer = dir.path().join("outer.rsp");
        std::fs::write(&inner, "-lm 'x y'").unwrap();
        std::fs::write(&outer, format!("-shared @{} -o out", inner.display())).unwrap();
        let missing = format!("@{}/nope.rsp", dir.path().display());
        let args = vec![
            OsString::from("ld"),
            OsString::from(format!("@{}", outer.display())),
            OsString::from(&missing),
            OsString::from("@"),
            OsString::from("tail"),
        ];
        assert_eq!(
            expand_response_files(args).unwrap(),
            os(&["ld", "-shared", "-lm", "x y", "-o", "out", &missing, "@", "tail"])
        );

        let selfref = dir.path().join("self.rsp");
        std::fs::write(&selfref, format!("a @{}", selfref.display())).unwrap();
        let err =
            expand_response_files([OsString::from(format!("@{}", selfref.display()))]).unwrap_err();
        assert!(
            err.to_string().starts_with("too many @-files encountered"),
            "{err}"
        );

        let err = expand_response_files([OsString::from(format!("@{}", dir.path().display()))])
            .unwrap_err();
        assert!(
            err.to_string().ends_with("response file is a directory"),
            "{err}"
        );
    }

    use crate::test_support::run_tool as run;

    /// ld.bfd reads the same response file: the object and output names it sees with its
    /// own quoting are the ones we compute.
    #[test]
    fn response_file_quoting_agrees_with_ld_bfd() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("t.c");
        std::fs::write(&src, "int x;\n").unwrap();
        let obj = dir.path().join("in put's.o");
        let out = run(
            Command::new("gcc").arg("-c").arg(&src).arg("-o").arg(&obj),
            "gcc",
            "gcc",
        );
        assert!(out.status.success());
        let rsp = dir.path().join("args.rsp");
        std::fs::write(
            &rsp,
            format!(
                "-r \"{d}/in put's.o\" -o {d}/out\\ \\\"put\\\"\\'s.o",
                d = dir.path().display()
            ),
        )
        .unwrap();
        let ours = expand_response_files([OsString::from(format!("@{}", rsp.display()))]).unwrap();
        let expected_out = format!("{}/out \"put\"'s.o", dir.path().display());
        assert_eq!(
            ours,
            os(&["-r", obj.to_str().unwrap(), "-o", &expected_out])
        );
        let out = run(
            Command::new("ld.bfd").arg(format!("@{}", rsp.display())),
            "ld.bfd",
            "binutils",
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(Path::new(&expected_out).is_file());

        // A missing @file is an input file name to ld.
        let missing = format!("@{}/absent", dir.path().display());
        let out = run(Command::new("ld.bfd").arg(&missing), "ld.bfd", "binutils");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains(&format!("cannot find {missing}")),
            "{stderr}"
        );
        assert_eq!(
            expand_response_files([OsString::from(&missing)]).unwrap(),
            os(&[&missing])
        );
    }

    fn touch(p: &Path) {
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, b"x").unwrap();
    }

    #[test]
    fn library_search_order_static_exact_and_sysroot() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        touch(&d.join("one/libfoo.a"));
        touch(&d.join("two/libfoo.so"));
        touch(&d.join("one/libbar.so"));
        touch(&d.join("one/libbar.a"));
        touch(&d.join("root/usr/lib/libsys.so"));
        touch(&d.join("root/opt/libdollar.a"));
        touch(&d.join("two/weird.name"));
        let mut paths = SearchPaths::new(Some(d.join("root")));
        paths.add_dir(d.join("one"));
        paths.add_dir(d.join("two"));
        paths.add_dir("=/usr/lib");
        paths.add_dir("$SYSROOT/opt");
        // Directory order wins over .so preference.
        assert_eq!(
            paths.find_library("foo", false),
            Some(d.join("one/libfoo.a"))
        );
        assert_eq!(
            paths.find_library("bar", false),
            Some(d.join("one/libbar.so"))
        );
        assert_eq!(
            paths.find_library("bar", true),
            Some(d.join("one/libbar.a"))
        );
        assert_eq!(paths.find_library("sys", true), None);
        assert_eq!(
            paths.find_library("sys", false),
            Some(d.join("root/usr/lib/libsys.so"))
        );
        assert_eq!(
            paths.find_library("dollar", true),
            Some(d.join("root/opt/libdollar.a"))
        );
        assert_eq!(
            paths.find_library(":weird.name", true),
            Some(d.join("two/weird.name"))
        );
        assert_eq!(paths.find_library(":libfoo", false), None);
        assert_eq!(paths.find_library("absent", false), None);
    }

    #[test]
    fn script_inputs_inside_and_outside_the_sysroot() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let root = d.join("root");
        let abs_in_root = d.join("root/lib/libc.so.6");
        touch(&abs_in_root);
        touch(&d.join("outside/libc.so.6"));
        touch(&d.join("root/usr/lib/libtinfo.so.6"));
        touch(&d.join("libdir/libonly-in-L.so.1"));
        let script_in = d.join("root/usr/lib/libc.so");
        let script_out = d.join("outside/libc.so");
        touch(&script_in);
        touch(&script_out);
        let mut paths = SearchPaths::new(Some(root.clone()));
        paths.add_dir(d.join("libdir"));
        assert!(paths.is_in_sysroot(&script_in));
        assert!(!paths.is_in_sysroot(&script_out));

        // "/lib/libc.so.6" inside a sysrooted script means <sysroot>/lib/libc.so.6 ...
        assert_eq!(
            paths.find_script_input("/lib/libc.so.6", &script_in),
            Some(abs_in_root.clone())
        );
        // ... and only that: the host path is not a fallback.
        let host_abs = d.join("outside/libc.so.6");
        let host_abs = host_abs.to_str().unwrap();
        assert_eq!(paths.find_script_input(host_abs, &script_in), None);
        // Outside the sysroot an absolute path is taken as is.
        assert_eq!(
            paths.find_script_input(host_abs, &script_out),
            Some(PathBuf::from(host_abs))
        );
        // `=` forces the sysroot anywhere.
        assert_eq!(
            paths.find_script_input("=/lib/libc.so.6", &script_out),
            Some(abs_in_root)
        );
        // Relative: the script's directory first, then the search path.
        assert_eq!(
            paths.find_script_input("libtinfo.so.6", &script_in),
            Some(d.join("root/usr/lib/libtinfo.so.6"))
        );
        assert_eq!(
            paths.find_script_input("libonly-in-L.so.1", &script_out),
            Some(d.join("libdir/libonly-in-L.so.1"))
        );
        assert_eq!(paths.find_script_input("nothere.so", &script_out), None);
    }

    /// ld.bfd agrees: a copy of a libc.so-style script inside a sysroot resolves its
    /// absolute paths under that sysroot (the link fails naming the sysrooted path).
    #[test]
    fn ld_bfd_prefixes_sysroot_for_scripts_inside_it() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        std::fs::create_dir_all(root.join("usr/lib")).unwrap();
        std::fs::write(root.join("usr/lib/libzz.so"), "GROUP ( /lib/libzz.so.1 )\n").unwrap();
        let out = run(
            Command::new("ld.bfd")
                .arg(format!("--sysroot={}", root.display()))
                .arg("-L=/usr/lib")
                .arg("-lzz")
                .arg("-o")
                .arg(dir.path().join("a.out")),
            "ld.bfd",
            "binutils",
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains(&format!(
                "cannot find /lib/libzz.so.1 inside {}",
                root.display()
            )),
            "{stderr}"
        );
        let mut paths = SearchPaths::new(Some(root.clone()));
        paths.add_dir("=/usr/lib");
        let script = paths.find_library("zz", false).unwrap();
        assert_eq!(script, root.join("usr/lib/libzz.so"));
        assert!(paths.is_in_sysroot(&script));
        std::fs::create_dir_all(root.join("lib")).unwrap();
        std::fs::write(root.join("lib/libzz.so.1"), "x").unwrap();
        assert_eq!(
            paths.find_script_input("/lib/libzz.so.1", &script),
            Some(root.join("lib/libzz.so.1"))
        );
    }
}
