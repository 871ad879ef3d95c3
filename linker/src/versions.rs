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
    for path in &link.opts.version_script {
        let text = std::fs::read_to_string(path).map_err(|e| LinkError::io(path, e))?;
        let parsed = version_script::parse(&text)
            .map_err(|e| LinkError::Other(format!("{}: {e}", path.display())))?;
        script.nodes.extend(parsed.nodes);
    }
    if script.nodes.is_empty() {
        return Ok(());
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
    for id in 0..link.symtab.len() as SymbolId {
        let s = link.symtab.get(id);
        if !matches!(s.def, Def::Regular { .. } | Def::Common { .. }) {
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

/// The named version nodes the output defines (empty without a version script).
pub fn nodes<'a>(link: &'a Link) -> &'a [Node] {
    &link.version_nodes
}
