//! `-M`/`--print-map` (stdout) and `-Map FILE`: a readable map of the output in GNU ld's
//! columns: each output section with its address and size, under it the input sections it
//! holds (address, size, file), and under each input section the global symbols it defines.

use crate::error::{LinkError, Result};
use crate::got_plt::Target;
use crate::layout::{Content, Layout};
use crate::link::Link;
use crate::object_file::SymPlace;
use crate::relocate::target_address;
use crate::symbols::{Def, SymbolId};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::PathBuf;

/// Writes the map if the command line asked for one.
pub fn write_if_asked(link: &Link, layout: &Layout) -> Result<()> {
    let Some(dest) = &link.opts.map_file else {
        return Ok(());
    };
    let text = render(link, layout);
    if dest.as_os_str() == "-" {
        print!("{text}");
        return Ok(());
    }
    // GNU ld: a directory gets OUTPUT.map inside it.
    let path = if dest.is_dir() {
        let mut name = link.opts.output.file_name().unwrap_or_default().to_owned();
        name.push(".map");
        dest.join(name)
    } else {
        PathBuf::from(dest)
    };
    std::fs::write(&path, text).map_err(|e| LinkError::io(&path, e))
}

/// The global symbols defined in each (object, input section), sorted by address.
fn symbols_by_section(link: &Link, layout: &Layout) -> HashMap<(u32, u32), Vec<(u64, SymbolId)>> {
    let mut by_section: HashMap<(u32, u32), Vec<(u64, SymbolId)>> = HashMap::new();
    for id in 0..link.symtab.len() as SymbolId {
        let Def::Regular { file, sym } = link.symtab.get(id).def else {
            continue;
        };
        let place = link.objects[file as usize].symbols.at(sym as usize).place;
        if let SymPlace::Section(sec) = place {
            let addr = target_address(link, layout, Target::Global(id));
            by_section.entry((file, sec)).or_default().push((addr, id));
        }
    }
    for list in by_section.values_mut() {
        list.sort();
    }
    by_section
}

/// `name` in a 15-column field, or on a line of its own when longer (as GNU ld).
fn name_column(out: &mut String, indent: &str, name: &str) {
    let width = 16 - indent.len();
    if name.len() >= width {
        let _ = writeln!(out, "{indent}{name}");
        let _ = write!(out, "{:16}", "");
    } else {
        let _ = write!(out, "{indent}{name:<width$}");
    }
}

fn render(link: &Link, layout: &Layout) -> String {
    let symbols = symbols_by_section(link, layout);
    let mut out = String::from("Linker script and memory map\n\n");
    for section in &layout.sections {
        let name = String::from_utf8_lossy(&section.name);
        name_column(&mut out, "", &name);
        let _ = writeln!(out, "0x{:016x} {:#10x}", section.addr, section.size);
        let Content::Inputs(inputs) = &section.content else {
            continue;
        };
        for &(file, sec) in inputs {
            let obj = &link.objects[file as usize];
            let input = &obj.sections[sec as usize];
            let Some(addr) = layout.input_addr(file as usize, sec as usize) else {
                continue;
            };
            name_column(&mut out, " ", &String::from_utf8_lossy(input.name));
            // A rewritten `.eh_frame` is listed with the bytes it keeps, as GNU ld lists it.
            let size = link
                .eh_frames
                .size(file as usize, sec as usize)
                .unwrap_or(input.size);
            let _ = writeln!(out, "0x{addr:016x} {size:#10x} {}", obj.name);
            for &(addr, id) in symbols.get(&(file, sec)).into_iter().flatten() {
                let symbol = String::from_utf8_lossy(link.symtab.get(id).name);
                let _ = writeln!(out, "{:16}0x{addr:016x}                {symbol}", "");
            }
        }
        out.push('\n');
    }
    out
}
