//! tether's linker: turns ELF relocatable objects, archives and shared libraries into
//! shared libraries and programs (PIE, fixed-address, static, static-pie) for x86-64 and ARM32 (EABI).
//!
//! A link runs these phases ([`link::run`]), each in its own module:
//! 1. [`options`]: the GNU ld command line; [`inputs`]: find (`-l`, [`search`], [`script`])
//!    and memory-map every input.
//! 2. [`resolve`]: read objects ([`object_file`]) and shared libraries ([`shared_file`]) in
//!    order, extract archive members, drop duplicate COMDAT groups, and pick one definition
//!    per name in the flat [`symbols`] table; [`versions`] applies version scripts. With
//!    `-plugin`, [`plugin`] drives the LTO plugin around this phase.
//! 3. [`scan`]: classify every relocation through the target ([`arch`]) and store what the
//!    decision table ([`decide`]) makes of it, keyed on the output kind and the symbol's
//!    class: its value, GOT and PLT entries ([`got_plt`]), copies of imported data
//!    ([`copies`]), dynamic relocations, relaxations; before it, [`eh_frame`] rewrites the output's
//!    `.eh_frame` (FDEs of discarded code and duplicate CIEs go) and maps its relocations;
//!    before that, [`gc`] drops unreachable sections, [`merge`] merges strings and constants
//!    and [`icf`] folds identical sections. The scan reads each global's facts, computed once
//!    ([`scan::global_facts`], [`link::Link::reference`]).
//! 4. [`dynamic`]: plan `.dynsym`, `.dynstr`, versions, hash tables ([`hash`]) and `.dynamic`;
//!    [`symtab`]: plan `.symtab`.
//! 5. [`layout`]: output sections, segments, addresses; [`addresses`]: every global's address
//!    and PLT entry, once.
//! 6. [`mod@write`]: copy and relocate ([`relocate`]) in parallel chunks straight into the
//!    memory-mapped output ([`output_file`], renamed over `-o` when done), encode the synthetic
//!    sections, `.eh_frame_hdr` ([`eh_frame::hdr`]), the build-id ([`build_id`]).
//!
//! [`timing`] times each of these passes for `--time-trace`.
//!
//! With `-r`, [`relocatable`] takes over after resolution and writes one `ET_REL`.

pub mod addresses;
pub mod arch;
pub mod big_alloc;
pub mod build_id;
pub mod compress;
pub mod copies;
pub mod decide;
pub mod defsym;
pub mod demangle;
pub mod detach;
pub mod dynamic;
pub mod dynamic_list;
pub mod eh_frame;
/// `.eh_frame_hdr`, by the name the writer has always called it.
pub use eh_frame::hdr as eh_frame_hdr;
pub mod error;
pub mod gc;
pub mod gnu_property;
pub mod got_plt;
pub mod hash;
pub mod ibt_plt;
pub mod icf;
pub mod indexed;
pub mod inputs;
pub mod layout;
pub mod link;
pub mod map_file;
pub mod merge;
pub mod name_index;
pub mod object_file;
pub mod options;
pub mod output_file;
pub mod plt_got;
pub mod plugin;
pub mod prefetch;
pub mod reloc_list;
pub mod relocatable;
pub mod relocate;
pub mod relr;
pub mod resolve;
pub mod scan;
pub mod script;
pub mod search;
pub mod shared_file;
pub mod shlib_undefined;
pub mod strip;
pub mod symbol_list;
pub mod symbols;
pub mod symtab;
#[cfg(test)]
mod test_support;
pub mod thunks;
pub mod timing;
pub mod trace;
pub mod version_script;
pub mod versions;
pub mod write;
