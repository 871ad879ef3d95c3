//! Symbol versioning of the output: applies `--version-script` to the symbol table (which
//! symbols stay global, under which version node) and lists the nodes for `.gnu.version_d`.
//! The script language itself is parsed by [`crate::version_script`].

use crate::error::{LinkError, Result};
use crate::link::Link;
use crate::symbols::{Def, SymbolId};
use crate::version_script::{self, VersionScript};

/// A named version node of the output, in script order (its version index is position + 2;
/// index 1 is the base version named after the output).
#[derive(Clone, Debug)]
pub struct Node {
    pub name: String,
    pub parent: Option<String>,
}

/// Reads the version scripts, marks symbols local or versioned, and records the nodes.
pub fn apply_version_scripts(link: &mut Link) -> Result<()> {
    let mut script = VersionScript::default();
    // `foo@` and `foo@@` name the base version: global, unversioned, whatever the scripts say.
    let mut symvers = Vec::new();
    for id in 0..link.symtab.len() as SymbolId {
        match link.symtab.symver(id) {
            Some((b"", _)) => link.symtab.get_mut(id).export_version = 1,
            Some(_) => symvers.push(id),
            None => {}
        }
    }
    for path in &link.opts.version_script {
        let text = std::fs::read_to_string(path).map_err(|e| LinkError::io(path, e))?;
        let parsed = version_script::parse(&text)
            .map_err(|e| LinkError::Other(format!("{}: {e}", path.display())))?;
        script.nodes.extend(parsed.nodes);
    }
    // `VERSION { ... }` inside linker scripts.
    for (origin, text) in &link.opts.script.versions {
        let parsed = version_script::parse(text)
            .map_err(|e| LinkError::Other(format!("{origin}: VERSION: {e}")))?;
        script.nodes.extend(parsed.nodes);
    }
    if !link.opts.undefined_version {
        check_defined(link, &script)?;
    }
    if script.nodes.is_empty() {
        return match symvers.first() {
            Some(&id) => Err(version_not_found(link, id)),
            None => {
                default_symver(link);
                Ok(())
            }
        };
    }
    // Version indices of named nodes; the anonymous node versions nothing.
    let mut index_of_node = Vec::with_capacity(script.nodes.len());
    let mut nodes = Vec::new();
    for node in &script.nodes {
        match &node.name {
            Some(name) => {
                index_of_node.push(nodes.len() as u16 + 2);
                nodes.push(Node {
                    name: name.clone(),
                    parent: node.parents.first().cloned(),
                });
            }
            None => index_of_node.push(1),
        }
    }
    // A version written in the object wins over the script's patterns.
    for &id in &symvers {
        let Some((version, hidden)) = link.symtab.symver(id) else {
            continue;
        };
        let node = nodes
            .iter()
            .position(|n| n.name.as_bytes() == version)
            .ok_or_else(|| version_not_found(link, id))?;
        let index = node as u16 + 2;
        link.symtab.get_mut(id).export_version = if hidden { index | HIDDEN } else { index };
    }
    for id in 0..link.symtab.len() as SymbolId {
        let s = link.symtab.get(id);
        if !matches!(s.def, Def::Regular { .. } | Def::Common { .. }) || s.has_symver {
            continue;
        }
        let Some(m) = script.classify(s.name) else {
            continue;
        };
        let s = link.symtab.get_mut(id);
        if m.local {
            s.forced_local = true;
        } else {
            s.export_version = index_of_node[m.node];
        }
    }
    hide_plain_twins(link, &nodes);
    link.version_nodes = nodes;
    default_symver(link);
    Ok(())
}

/// `.symver foo, foo@V` with a script that puts `foo` in V too: GNU ld exports only the
/// hidden `foo@V`, and the plain `foo` stays local (one definition, one version).
fn hide_plain_twins(link: &mut Link, nodes: &[Node]) {
    let twins: Vec<(Vec<u8>, u16)> = (0..link.symtab.len() as SymbolId)
        .filter_map(|id| {
            let s = link.symtab.get(id);
            let (version, true) = link.symtab.symver(id)? else {
                return None;
            };
            let node = nodes.iter().position(|n| n.name.as_bytes() == version)?;
            let base = s.name.split(|&b| b == b'@').next()?;
            Some((base.to_vec(), node as u16 + 2))
        })
        .collect();
    for (base, index) in twins {
        let Some(id) = link.symtab.lookup(&base) else {
            continue;
        };
        let s = link.symtab.get_mut(id);
        if !s.has_symver && s.export_version == index {
            s.forced_local = true;
        }
    }
}

/// `--no-undefined-version`: every plain name a script exports must be defined (GNU ld's
/// message). Glob patterns and `extern "C++"` names may match nothing.
fn check_defined(link: &Link, script: &VersionScript) -> Result<()> {
    let mut errors = Vec::new();
    for node in &script.nodes {
        for p in node
            .globals
            .iter()
            .filter(|p| !p.glob && p.lang == version_script::Lang::C)
        {
            let defined = link
                .symtab
                .lookup(p.text.as_bytes())
                .is_some_and(|id| link.symtab.get(id).is_defined());
            if !defined {
                let version = node.name.as_deref().unwrap_or("");
                errors.push(format!("{}: undefined version: {version}", p.text));
            }
        }
    }
    match errors.is_empty() {
        true => Ok(()),
        false => Err(LinkError::Many(errors)),
    }
}

/// `--default-symver`: a version named after the output (its soname, else its file name)
/// becomes the default version of every exported symbol the scripts leave unversioned.
fn default_symver(link: &mut Link) {
    if !link.opts.default_symver {
        return;
    }
    let name = link.opts.soname.clone().unwrap_or_else(|| {
        let file = link.opts.output.file_name().unwrap_or_default();
        file.to_string_lossy().into_owned()
    });
    link.version_nodes.push(Node { name, parent: None });
    let index = link.version_nodes.len() as u16 + 1;
    for id in 0..link.symtab.len() as SymbolId {
        let s = link.symtab.get_mut(id);
        let ours = matches!(s.def, Def::Regular { .. } | Def::Common { .. });
        if ours && !s.forced_local && !s.has_symver && s.export_version == 1 {
            s.export_version = index;
        }
    }
}

/// `.gnu.version` bit marking a non-default version.
const HIDDEN: u16 = 0x8000;

fn version_not_found(link: &Link, id: SymbolId) -> LinkError {
    let s = link.symtab.get(id);
    let (version, hidden) = link.symtab.symver(id).unwrap_or((b"", false));
    // The file whose definition carries the `@VERSION` suffix.
    let file = match s.def {
        Def::Regular { file, .. } | Def::Common { file, .. } => link
            .objects
            .get(file as usize)
            .map_or(String::new(), |o| format!("{}: ", o.name)),
        _ => String::new(),
    };
    LinkError::Other(format!(
        "{file}version node not found for symbol {}{}{} (define {} in a --version-script)",
        crate::error::sym_name(crate::symbols::dynamic_name(s.name)),
        if hidden { "@" } else { "@@" },
        crate::error::sym_name(version),
        crate::error::sym_name(version)
    ))
}

/// The named version nodes the output defines (empty without a version script).
pub fn nodes<'a>(link: &'a Link) -> &'a [Node] {
    &link.version_nodes
}
