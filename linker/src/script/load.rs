//! Reading the scripts of a link: `-T` files and script inputs, searched in the `-L`
//! directories as GNU ld does, `INCLUDE` expanded (bounded), and what they say folded into
//! the options: `ENTRY` (unless `-e`), `EXTERN` (as `-u`), `VERSION` bodies, the
//! assignments and `SECTIONS` ([`Scripts`]).

use super::{Assertion, Assignment, Command, SectionItem};
use crate::error::{LinkError, Result};
use crate::options::{InputItem, Options};
use crate::search::SearchPaths;
use std::io::Read;
use std::path::Path;

/// Everything the link's scripts ask beyond their input files.
#[derive(Clone, Debug, Default)]
pub struct Scripts {
    /// Assignments and assertions outside `SECTIONS`, in order.
    pub top: Vec<SectionItem>,
    /// The statements of every `SECTIONS`, in order.
    pub sections: Vec<SectionItem>,
    /// `INSERT AFTER|BEFORE`: (after, anchor section).
    pub insert: Option<(bool, String)>,
    /// `VERSION { ... }` bodies: (where, text).
    pub versions: Vec<(String, String)>,
    /// `--defsym` expressions beyond a number or a name, as assignments.
    pub defsyms: Vec<Assignment>,
}

impl Scripts {
    pub fn is_empty(&self) -> bool {
        self.top.is_empty() && self.sections.is_empty() && self.defsyms.is_empty()
    }

    /// Every symbol assignment, in evaluation order: `--defsym`, outside `SECTIONS`, then
    /// inside (with the output section each is in, if any).
    pub fn assignments(&self) -> impl Iterator<Item = (&Assignment, Option<&str>)> {
        let inside = self
            .sections
            .iter()
            .flat_map(|item| -> Vec<(&Assignment, Option<&str>)> {
                match item {
                    SectionItem::Assign(a) => vec![(a, None)],
                    SectionItem::Output(o) => o
                        .body
                        .iter()
                        .filter_map(|b| match b {
                            super::BodyItem::Assign(a) => Some((a, Some(o.name.as_str()))),
                            _ => None,
                        })
                        .collect(),
                    SectionItem::Assert(_) => Vec::new(),
                }
            });
        self.defsyms
            .iter()
            .map(|a| (a, None))
            .chain(self.top.iter().filter_map(|i| match i {
                SectionItem::Assign(a) => Some((a, None)),
                _ => None,
            }))
            .chain(inside)
    }

    pub fn assertions(&self) -> impl Iterator<Item = &Assertion> {
        let body = self.sections.iter().flat_map(|i| match i {
            SectionItem::Output(o) => o
                .body
                .iter()
                .filter_map(|b| match b {
                    super::BodyItem::Assert(a) => Some(a),
                    _ => None,
                })
                .collect(),
            SectionItem::Assert(a) => vec![a],
            _ => Vec::new(),
        });
        self.top
            .iter()
            .filter_map(|i| match i {
                SectionItem::Assert(a) => Some(a),
                _ => None,
            })
            .chain(body)
    }
}

/// Deepest `INCLUDE` chain (GNU ld's limit is also small: its lexer keeps a fixed stack).
const MAX_INCLUDE_DEPTH: usize = 10;
/// Largest script file read.
const MAX_SCRIPT_BYTES: u64 = 16 << 20;

struct Loader<'o> {
    search: SearchPaths,
    opts: &'o mut Options,
    entry_given: bool,
}

/// The options with the scripts read: `-T` scripts become inputs (for their `INPUT` and
/// `GROUP`), their other commands and those of script inputs are folded in.
pub fn prepare(opts: &Options) -> Result<Options> {
    let mut out = opts.clone();
    let mut search = SearchPaths::new(opts.sysroot.clone());
    for dir in &opts.lib_dirs {
        search.add_dir(dir.clone());
    }
    let mut found_scripts = Vec::new();
    for name in &opts.script_files {
        let path = search.find_command_file(name).ok_or_else(|| {
            LinkError::Other(format!("cannot open linker script file {}", name.display()))
        })?;
        found_scripts.push(InputItem::File(path));
    }
    out.inputs.splice(0..0, found_scripts);
    for v in out.version_script.iter_mut() {
        if let Some(found) = search.find_command_file(v) {
            *v = found;
        }
    }
    defsym_expressions(&mut out)?;
    let entry_given = out.entry.is_some();
    let inputs = out.inputs.clone();
    let mut loader = Loader {
        search,
        opts: &mut out,
        entry_given,
    };
    for item in &inputs {
        if let InputItem::File(path) = item {
            if let Some(text) = read_script(path)? {
                loader.script(path, &text, 0)?;
            }
        }
    }
    Ok(out)
}

/// The text of `path` when it is a linker script (`None` for objects, archives, libraries
/// and files that do not open: the input phase reports those).
fn read_script(path: &Path) -> Result<Option<String>> {
    let Ok(meta) = std::fs::metadata(path) else {
        return Ok(None);
    };
    if !meta.is_file() || meta.len() > MAX_SCRIPT_BYTES {
        return Ok(None);
    }
    // The head decides; reading every object whole here would double the input reading.
    let mut head = Vec::with_capacity(super::SCRIPT_HEAD_BYTES);
    std::fs::File::open(path)
        .and_then(|f| {
            f.take(super::SCRIPT_HEAD_BYTES as u64)
                .read_to_end(&mut head)
        })
        .map_err(|e| LinkError::io(path, e))?;
    if !super::is_linker_script(&head) {
        return Ok(None);
    }
    let bytes = std::fs::read(path).map_err(|e| LinkError::io(path, e))?;
    Ok(String::from_utf8(bytes).ok())
}

impl Loader<'_> {
    fn script(&mut self, path: &Path, text: &str, depth: usize) -> Result<()> {
        let name = path.display().to_string();
        let commands =
            super::parse_file(text, &name).map_err(|e| LinkError::Other(format!("{name}: {e}")))?;
        for command in commands {
            self.command(&name, command, depth)?;
        }
        Ok(())
    }

    fn command(&mut self, file: &str, command: Command, depth: usize) -> Result<()> {
        let scripts = &mut self.opts.script;
        match command {
            Command::Entry(name) if !self.entry_given => self.opts.entry = Some(name),
            Command::Extern(names) => self.opts.undefined.extend(names),
            Command::Assign(a) => scripts.top.push(SectionItem::Assign(a)),
            Command::Assert(a) => scripts.top.push(SectionItem::Assert(a)),
            Command::Version { body, line } => {
                scripts.versions.push((format!("{file}:{line}"), body))
            }
            Command::Sections(items) => scripts.sections.extend(items),
            Command::Insert { after, anchor } => scripts.insert = Some((after, anchor)),
            Command::Include { file: name, line } => self.include(file, &name, line, depth)?,
            // The input phase reads these (it finds the files a script names).
            Command::Group(_)
            | Command::Input(_)
            | Command::SearchDir(_)
            | Command::OutputFormat(_)
            | Command::OutputArch(_)
            | Command::Entry(_) => {}
        }
        Ok(())
    }

    fn include(&mut self, from: &str, name: &str, line: usize, depth: usize) -> Result<()> {
        if depth >= MAX_INCLUDE_DEPTH {
            return Err(LinkError::Other(format!(
                "{from}:{line}: INCLUDE {name}: includes nest more than {MAX_INCLUDE_DEPTH} deep"
            )));
        }
        let path = self
            .search
            .find_command_file(Path::new(name))
            .ok_or_else(|| {
                LinkError::Other(format!("{from}:{line}: cannot find INCLUDE file {name}"))
            })?;
        let text = read_script(&path)?.ok_or_else(|| {
            LinkError::Other(format!(
                "{from}:{line}: INCLUDE {}: not a linker script",
                path.display()
            ))
        })?;
        self.script(&path, &text, depth + 1)
    }
}

/// `--defsym` definitions that are more than a number or a name become script assignments,
/// evaluated with the scripts' after layout.
fn defsym_expressions(opts: &mut Options) -> Result<()> {
    let mut simple = Vec::new();
    for definition in std::mem::take(&mut opts.defsym) {
        if crate::defsym::is_simple(&definition) {
            simple.push(definition);
            continue;
        }
        let bad = |why: String| LinkError::Usage(format!("--defsym {definition}: {why}"));
        let (name, text) = definition
            .split_once('=')
            .ok_or_else(|| bad("expected SYMBOL=EXPRESSION".into()))?;
        let expr = super::expr::parse_expr(text).map_err(|e| bad(e.to_string()))?;
        opts.script.defsyms.push(Assignment {
            name: name.trim().to_string(),
            expr,
            kind: super::AssignKind::Plain,
            at: super::Loc {
                file: "--defsym".into(),
                line: 0,
            },
        });
    }
    opts.defsym = simple;
    Ok(())
}
