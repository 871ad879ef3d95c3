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
    let symvers: Vec<SymbolId> = (0..link.symtab.len() as SymbolId)
        .filter(|&id| link.symtab.get(id).symver.is_some())
        .collect();
    for path in &link.opts.version_script {
        let text = std::fs::read_to_string(path).map_err(|e| LinkError::io(path, e))?;
        let parsed = version_script::parse(&text)
            .map_err(|e| LinkError::Other(format!("{}: {e}", path.display())))?;
        script.nodes.extend(parsed.nodes);
    }
    if script.nodes.is_empty() {
        return match symvers.first() {
            Some(&id) => Err(version_not_found(link, id)),
            None => Ok(()),
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
        let Some((version, hidden)) = link.symtab.get(id).symver else {
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
        if !matches!(s.def, Def::Regular { .. } | Def::Common { .. }) || s.symver.is_some() {
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
    link.version_nodes = nodes;
    Ok(())
}

/// `.gnu.version` bit marking a non-default version.
const HIDDEN: u16 = 0x8000;

fn version_not_found(link: &Link, id: SymbolId) -> LinkError {
    let s = link.symtab.get(id);
    let (version, hidden) = s.symver.unwrap_or((b"", false));
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
