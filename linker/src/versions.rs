//! Symbol versioning of the output: applies `--version-script` to the symbol table (which
//! symbols stay global, under which version node) and lists the nodes for `.gnu.version_d`.
//! The script language itself is parsed by [`crate::version_script`].

use crate::error::Result;
use crate::link::Link;

/// A version node of the output, in script order (its version index is position + 2).
pub struct Node {
    pub name: String,
    pub parent: Option<String>,
}

/// Marks symbols local or versioned according to the version scripts on the command line.
pub fn apply_version_scripts(link: &mut Link) -> Result<()> {
    if link.opts.version_script.is_empty() {
        return Ok(());
    }
    Err(crate::error::LinkError::Other(
        "--version-script is not supported yet".into(),
    ))
}

/// The version nodes the output defines.
pub fn nodes(_link: &Link) -> Vec<Node> {
    Vec::new()
}
