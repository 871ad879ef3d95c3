use super::*;
use object::{Object, ObjectSection};
use std::path::Path;
use std::process::Command;

use crate::test_support::run_ok as run;

/// (offset, size, kind, FDE pc_begin) for each record `readelf -wf` lists.
fn readelf_frames(readelf: &str, file: &Path) -> Vec<(usize, usize, RecordKind, Option<u64>)> {
    let text = run(
        Command::new(readelf).arg("-wf").arg(file),
        readelf,
        "binutils",
    );
    let mut frames = Vec::new();
    for line in text.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        let hex = |w: &str| u64::from_str_radix(w, 16).ok();
        let Some(offset) = words.first().filter(|w| w.len() == 8).and_then(|w| hex(w)) else {
            continue;
        };
        let offset = offset as usize;
        match words.as_slice() {
            [_, "ZERO", "terminator"] => frames.push((offset, 4, RecordKind::Terminator, None)),
            [_, len, _, "CIE", ..] => frames.push((
                offset,
                hex(len).unwrap() as usize + 4,
                RecordKind::Cie,
                None,
            )),
            [_, len, _, "FDE", cie, pc, ..] => {
                let cie_offset = hex(cie.strip_prefix("cie=").unwrap()).unwrap() as usize;
                let pc = pc.strip_prefix("pc=").unwrap().split("..").next().unwrap();
                frames.push((
                    offset,
                    hex(len).unwrap() as usize + 4,
                    RecordKind::Fde { cie_offset },
                    hex(pc),
                ))
            }
            _ => {}
        }
    }
    frames
}

struct Section {
    data: Vec<u8>,
    addr: u64,
}

fn section(file: &Path, name: &str) -> Section {
    let bytes = std::fs::read(file).unwrap();
    let obj = object::File::parse(&*bytes).unwrap();
    let s = obj
        .section_by_name(name)
        .unwrap_or_else(|| panic!("{}: no {name}", file.display()));
    Section {
        data: s.data().unwrap().to_vec(),
        addr: s.address(),
    }
}

/// Our records, CIE links and decoded initial locations agree with readelf's, and the
/// header we build is byte-identical to the one ld.bfd wrote.
fn check_linked(readelf: &str, lib: &Path, address_size: u8) -> usize {
    let eh = section(lib, ".eh_frame");
    let hdr = section(lib, ".eh_frame_hdr");
    let expected = readelf_frames(readelf, lib);
    let records = split_records(&eh.data).unwrap();
    let ours: Vec<_> = records.iter().map(|r| (r.offset, r.size, r.kind)).collect();
    let theirs: Vec<_> = expected.iter().map(|&(o, s, k, _)| (o, s, k)).collect();
    assert_eq!(ours, theirs, "{}", lib.display());
    let locations = fde_locations(&eh.data, eh.addr, hdr.addr, address_size).unwrap();
    let theirs: Vec<_> = expected
        .iter()
        .filter_map(|&(o, _, _, pc)| pc.map(|pc| (o, pc)))
        .collect();
    let ours: Vec<_> = locations
        .iter()
        .map(|l| (l.fde_offset, l.initial_location))
        .collect();
    assert_eq!(ours, theirs, "{}", lib.display());
    assert_eq!(
        build_eh_frame_hdr(&eh.data, eh.addr, hdr.addr, address_size).unwrap(),
        hdr.data,
        "{}",
        lib.display()
    );
    // parse_fde agrees with the header walk, and every LSDA points into
    // .gcc_except_table.
    let bytes = std::fs::read(lib).unwrap();
    let obj = object::File::parse(&*bytes).unwrap();
    let except = obj
        .section_by_name(".gcc_except_table")
        .map(|s| s.address()..s.address() + s.size());
    let mut lsdas = 0;
    for r in &records {
        let RecordKind::Fde { cie_offset } = r.kind else {
            continue;
        };
        let cie_record = records.iter().find(|c| c.offset == cie_offset).unwrap();
        let cie = parse_cie(&eh.data, cie_record, address_size).unwrap();
        let fde = parse_fde(&eh.data, r, &cie, address_size).unwrap();
        let start = pointer_target(&fde.pc_begin, eh.addr, address_size).unwrap();
        assert!(locations
            .iter()
            .any(|l| l.fde_offset == r.offset && l.initial_location == start));
        if let Some(lsda) = fde.lsda {
            let target = pointer_target(&lsda, eh.addr, address_size).unwrap();
            assert!(
                except.as_ref().is_some_and(|e| e.contains(&target)),
                "LSDA {target:#x}"
            );
            lsdas += 1;
        }
    }
    if except.is_some() {
        assert!(lsdas > 0, "{}: no LSDA decoded", lib.display());
    }
    locations.len()
}

const C_SOURCE: &str = r#"
    #include <stdio.h>
    static int helper(int x) { return x * 3 + 1; }
    int first(int x) { return helper(x) + printf("%d\n", x); }
    int second(int a, int b) { int v[64]; for (int i = 0; i < 64; i++) v[i] = a + i; return v[b & 63]; }
    void third(void) { puts("third"); }
"#;

const CXX_SOURCE: &str = r#"
    #include <stdexcept>
    int thrower(int x) { if (x) throw std::runtime_error("x"); return 1; }
    int catcher(int x) { try { return thrower(x); } catch (const std::exception &) { return 2; } }
    struct S { S(); ~S(); };
    S::S() {}
    S::~S() {}
    S global_s;
"#;

#[test]
fn x86_64_headers_identical_to_ld_bfd() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("c.c"), C_SOURCE).unwrap();
    std::fs::write(d.join("x.cc"), CXX_SOURCE).unwrap();
    let mut fdes = 0;
    for (driver, src, extra) in [
        ("gcc", "c.c", "-O2"),
        ("gcc", "c.c", "-O0"),
        ("clang", "c.c", "-O2"),
        ("g++", "x.cc", "-O2"),
        ("clang++", "x.cc", "-O1"),
    ] {
        let lib = d.join(format!("lib-{driver}{extra}.so"));
        run(
            Command::new(driver)
                .args([
                    "-fuse-ld=bfd",
                    "-shared",
                    "-fPIC",
                    extra,
                    "-Wl,--eh-frame-hdr",
                ])
                .arg(d.join(src))
                .arg("-o")
                .arg(&lib),
            driver,
            "gcc / g++ / clang",
        );
        fdes += check_linked("readelf", &lib, 8);
    }
    assert!(fdes >= 15, "only {fdes} FDEs seen");
}

#[test]
fn arm32_header_identical_to_ld_bfd() {
    // ARM code unwinds through .ARM.exidx by default; .cfi_sections asks for .eh_frame.
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut asm = String::from(".syntax unified\n.cfi_sections .eh_frame\n.text\n");
    for i in 0..5 {
        asm += &format!(
            ".globl f{i}\n.type f{i},%function\nf{i}:\n.cfi_startproc\npush {{r4, lr}}\n\
             .cfi_def_cfa_offset 8\n.cfi_offset 4, -8\n.cfi_offset 14, -4\nmov r4, #{i}\n\
             pop {{r4, pc}}\n.cfi_endproc\n"
        );
    }
    std::fs::write(d.join("a.s"), asm).unwrap();
    run(
        Command::new("arm-linux-gnueabihf-gcc")
            .arg("-c")
            .arg(d.join("a.s"))
            .arg("-o")
            .arg(d.join("a.o")),
        "arm-linux-gnueabihf-gcc",
        "gcc-arm-linux-gnueabihf",
    );
    let lib = d.join("liba.so");
    run(
        Command::new("arm-linux-gnueabihf-ld.bfd")
            .args(["-shared", "--eh-frame-hdr"])
            .arg(d.join("a.o"))
            .arg("-o")
            .arg(&lib),
        "arm-linux-gnueabihf-ld.bfd",
        "binutils-arm-linux-gnueabihf",
    );
    assert_eq!(check_linked("arm-linux-gnueabihf-readelf", &lib, 4), 5);
}

#[test]
fn input_object_records_and_zplr_augmentation() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("x.cc"), CXX_SOURCE).unwrap();
    let obj = d.join("x.o");
    run(
        Command::new("g++")
            .args(["-fPIC", "-O2", "-c"])
            .arg(d.join("x.cc"))
            .arg("-o")
            .arg(&obj),
        "g++",
        "g++",
    );
    let eh = section(&obj, ".eh_frame");
    let records = split_records(&eh.data).unwrap();
    let theirs: Vec<_> = readelf_frames("readelf", &obj)
        .iter()
        .map(|&(o, s, k, _)| (o, s, k))
        .collect();
    let ours: Vec<_> = records.iter().map(|r| (r.offset, r.size, r.kind)).collect();
    assert_eq!(ours, theirs);
    let cies: Vec<Cie> = records
        .iter()
        .filter(|r| r.kind == RecordKind::Cie)
        .map(|r| parse_cie(&eh.data, r, 8).unwrap())
        .collect();
    let (zplr_record, zplr) = records
        .iter()
        .filter(|r| r.kind == RecordKind::Cie)
        .zip(&cies)
        .find(|(_, c)| c.augmentation == "zPLR")
        .expect("a zPLR CIE");
    assert_eq!(zplr.version, 1);
    assert_eq!((zplr.code_alignment, zplr.data_alignment), (1, -8));
    assert_eq!(zplr.return_address_register, 16);
    assert_eq!(zplr.fde_encoding, pe::PCREL | pe::SDATA4);
    assert_eq!(zplr.lsda_encoding, Some(pe::PCREL | pe::SDATA4));
    let personality = zplr.personality.unwrap();
    // Personality via a DW.ref indirection: indirect|pcrel|sdata4, relocated later (so 0).
    assert_eq!(personality.encoding, pe::INDIRECT | pe::PCREL | pe::SDATA4);
    assert_eq!(personality.raw, 0);
    // Augmentation "zPLR" begins at offset 9 of the CIE; the 'P' encoding byte follows
    // the code/data alignment, RA register and augmentation length: 9+5+1+1+1+1+1.
    assert_eq!(personality.offset - zplr_record.offset, 19);
    let zr = cies
        .iter()
        .find(|c| c.augmentation == "zR")
        .expect("a zR CIE");
    assert_eq!(zr.personality, None);
    assert_eq!(zr.lsda_encoding, None);
}

fn cie_bytes(aug: &[u8], aug_data: &[u8]) -> Vec<u8> {
    let mut body = vec![0, 0, 0, 0, 1];
    body.extend_from_slice(aug);
    body.push(0);
    body.extend_from_slice(&[1, 0x78, 16]);
    if !aug_data.is_empty() {
        body.push(aug_data.len() as u8);
        body.extend_from_slice(aug_data);
    }
    while (body.len() + 4) % 8 != 0 {
        body.push(0);
    }
    let mut rec = (body.len() as u32).to_le_bytes().to_vec();
    rec.extend(body);
    rec
}

#[test]
fn long_length_escape_terminator_and_encodings() {
    // CIE "zR" with udata8|absptr-width FDEs, then a 64-bit-length FDE, a terminator,
    // and an sdata4|datarel CIE/FDE pair after it.
    let mut data = cie_bytes(b"zR", &[pe::UDATA8]);
    let fde_at = data.len();
    let mut fde = vec![0xff, 0xff, 0xff, 0xff];
    let body_len: u64 = 4 + 8 + 8;
    fde.extend_from_slice(&body_len.to_le_bytes());
    fde.extend_from_slice(&((fde_at + 12) as u32).to_le_bytes());
    fde.extend_from_slice(&0x1234_5678u64.to_le_bytes());
    fde.extend_from_slice(&0x10u64.to_le_bytes());
    data.extend(fde);
    let term_at = data.len();
    data.extend_from_slice(&[0, 0, 0, 0]);
    let cie2_at = data.len();
    data.extend(cie_bytes(b"zR", &[pe::DATAREL | pe::SDATA4]));
    let fde2_at = data.len();
    data.extend_from_slice(&12u32.to_le_bytes());
    data.extend_from_slice(&((fde2_at + 4 - cie2_at) as u32).to_le_bytes());
    data.extend_from_slice(&(-0x100i32).to_le_bytes());
    data.extend_from_slice(&4u32.to_le_bytes());

    let records = split_records(&data).unwrap();
    assert_eq!(
        records,
        vec![
            Record {
                offset: 0,
                size: fde_at,
                kind: RecordKind::Cie
            },
            Record {
                offset: fde_at,
                size: 12 + 20,
                kind: RecordKind::Fde { cie_offset: 0 }
            },
            Record {
                offset: term_at,
                size: 4,
                kind: RecordKind::Terminator
            },
            Record {
                offset: cie2_at,
                size: fde2_at - cie2_at,
                kind: RecordKind::Cie
            },
            Record {
                offset: fde2_at,
                size: 16,
                kind: RecordKind::Fde {
                    cie_offset: cie2_at
                }
            },
        ]
    );
    let locations = fde_locations(&data, 0x40_0000, 0x30_0000, 8).unwrap();
    assert_eq!(
        locations
            .iter()
            .map(|l| l.initial_location)
            .collect::<Vec<_>>(),
        vec![0x1234_5678, 0x30_0000 - 0x100]
    );
    let hdr = build_eh_frame_hdr(&data, 0x40_0000, 0x30_0000, 8).unwrap();
    let mut expected = vec![1, 0x1b, 0x03, 0x3b];
    expected.extend_from_slice(&(0x10_0000i32 - 4).to_le_bytes());
    expected.extend_from_slice(&2u32.to_le_bytes());
    for (loc, fde) in [(-0x100i32, fde2_at), (0x1234_5678 - 0x30_0000, fde_at)] {
        expected.extend_from_slice(&loc.to_le_bytes());
        expected.extend_from_slice(&((0x10_0000 + fde) as i32).to_le_bytes());
    }
    assert_eq!(hdr, expected);

    // The same section 4 GiB away from its header cannot be described.
    let err = build_eh_frame_hdr(&data, 0x1_0040_0000, 0x30_0000, 8).unwrap_err();
    assert_eq!(
        err.to_string(),
        ".eh_frame_hdr: .eh_frame at 0x100400000 is too far from the header at 0x300000 for a 32-bit offset"
    );
    // An FDE whose code lies more than 2 GiB from the header.
    let mut far = cie_bytes(b"zR", &[pe::UDATA8]);
    let at = far.len() as u32;
    far.extend_from_slice(&20u32.to_le_bytes());
    far.extend_from_slice(&(at + 4).to_le_bytes());
    far.extend_from_slice(&0x9000_0000u64.to_le_bytes());
    far.extend_from_slice(&4u64.to_le_bytes());
    assert_eq!(
        build_eh_frame_hdr(&far, 0x1000, 0x800, 8).unwrap_err().to_string(),
        ".eh_frame_hdr: initial location 0x8ffff800 does not fit in 32 bits (FDE at .eh_frame+0x18)"
    );
}

/// Corrupted and truncated copies of a valid section give errors or results, never a
/// panic (deterministic xorshift, so a failure reproduces).
#[test]
fn corrupted_sections_never_panic() {
    let mut data = cie_bytes(b"zPLR", &[0x9b, 0, 0, 0, 0, 0x1b, 0x1b]);
    for i in 0..4u32 {
        let at = data.len() as u32;
        data.extend_from_slice(&20u32.to_le_bytes());
        data.extend_from_slice(&(at + 4).to_le_bytes());
        data.extend_from_slice(&(0x100 * i).to_le_bytes());
        data.extend_from_slice(&0x10u32.to_le_bytes());
        data.extend_from_slice(&[4, 0, 0, 0, 0, 0, 0, 0]);
    }
    data.extend_from_slice(&[0, 0, 0, 0]);
    assert_eq!(fde_locations(&data, 0x2000, 0x1000, 8).unwrap().len(), 4);
    let mut next = crate::test_support::xorshift();
    for _ in 0..20_000 {
        let mut d = data.clone();
        for _ in 0..1 + next() % 3 {
            let at = next() as usize % d.len();
            d[at] = next() as u8;
        }
        if next() % 4 == 0 {
            d.truncate(next() as usize % d.len());
        }
        if let Ok(records) = split_records(&d) {
            let cie = records
                .iter()
                .find(|r| r.kind == RecordKind::Cie)
                .and_then(|r| parse_cie(&d, r, 4).ok());
            for r in records.iter().filter(|r| r.kind != RecordKind::Cie) {
                if let Some(cie) = &cie {
                    let _ = parse_fde(&d, r, cie, 8);
                }
            }
        }
        let _ = build_eh_frame_hdr(&d, next(), next(), 8);
        let _ = build_eh_frame_hdr(&d, 0x2000, 0x1000, 4);
    }
}

#[test]
fn malformed_sections_are_errors() {
    let cie = cie_bytes(b"zR", &[0x1b]);
    assert_eq!(
        split_records(&cie[..cie.len() - 1])
            .unwrap_err()
            .to_string(),
        ".eh_frame+0x0: record of 0x18 bytes runs past the end of the section (0x17 bytes)"
    );
    assert_eq!(
        split_records(&[1, 0]).unwrap_err().to_string(),
        ".eh_frame+0x0: truncated record length"
    );
    let mut bad = cie.clone();
    bad.extend_from_slice(&12u32.to_le_bytes());
    bad.extend_from_slice(&8u32.to_le_bytes()); // points into the middle of the CIE
    bad.extend_from_slice(&[0; 8]);
    assert_eq!(
        split_records(&bad).unwrap_err().to_string(),
        ".eh_frame+0x18: FDE's CIE pointer 0x8 does not point at a CIE"
    );
    let mut textrel = cie_bytes(b"zR", &[pe::TEXTREL | pe::SDATA4]);
    let at = textrel.len() as u32;
    textrel.extend_from_slice(&12u32.to_le_bytes());
    textrel.extend_from_slice(&(at + 4).to_le_bytes());
    textrel.extend_from_slice(&[0; 8]);
    assert_eq!(
        build_eh_frame_hdr(&textrel, 0, 0, 8)
            .unwrap_err()
            .to_string(),
        ".eh_frame+0x20: unsupported pointer encoding 0x2b"
    );
    let mut v9 = cie_bytes(b"zR", &[0x1b]);
    v9[8] = 9;
    let rec = split_records(&v9).unwrap();
    assert_eq!(
        parse_cie(&v9, &rec[0], 8).unwrap_err().to_string(),
        ".eh_frame+0x0: unsupported CIE version 9"
    );
    assert_eq!(
        build_eh_frame_hdr(&cie, 0, 0, 2).unwrap_err().to_string(),
        ".eh_frame_hdr: address size must be 4 or 8, not 2"
    );
}
