//! printf's formatting, reading variadic arguments per the target's calling convention.

use crate::arch::{Arch, VarArgs};
use crate::error::Result;
use crate::session::Session;

const MAX_FIELD: usize = 1 << 16;

#[derive(Default)]
struct Spec {
    left: bool,
    plus: bool,
    space: bool,
    alt: bool,
    zero: bool,
    width: usize,
    precision: Option<usize>,
    /// 0 = int, 1 = short (h), 2 = long, 3 = long long / size_t / intmax_t, 4 = char (hh)
    length: u8,
}

pub fn format(s: &Session, fmt: &[u8], va: &mut VarArgs) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    let mut i = 0;
    let long_is_64 = s.arch == Arch::X86_64;
    while i < fmt.len() {
        let c = fmt[i];
        i += 1;
        if c != b'%' {
            out.push(c);
            continue;
        }
        let mut sp = Spec::default();
        while i < fmt.len() {
            match fmt[i] {
                b'-' => sp.left = true,
                b'+' => sp.plus = true,
                b' ' => sp.space = true,
                b'#' => sp.alt = true,
                b'0' => sp.zero = true,
                _ => break,
            }
            i += 1;
        }
        if fmt.get(i) == Some(&b'*') {
            let w = va.int(&s.emu)? as u32 as i32;
            if w < 0 {
                sp.left = true;
            }
            sp.width = w.unsigned_abs() as usize;
            i += 1;
        }
        while let Some(d) = fmt.get(i).filter(|c| c.is_ascii_digit()) {
            sp.width = sp
                .width
                .saturating_mul(10)
                .saturating_add(usize::from(d - b'0'));
            i += 1;
        }
        if fmt.get(i) == Some(&b'.') {
            i += 1;
            let mut p = 0usize;
            if fmt.get(i) == Some(&b'*') {
                p = (va.int(&s.emu)? as u32 as i32).max(0) as usize;
                i += 1;
            }
            while let Some(d) = fmt.get(i).filter(|c| c.is_ascii_digit()) {
                p = p.saturating_mul(10).saturating_add(usize::from(d - b'0'));
                i += 1;
            }
            sp.precision = Some(p);
        }
        loop {
            match fmt.get(i) {
                Some(b'h') => sp.length = if sp.length == 1 { 4 } else { 1 },
                Some(b'l') => sp.length = if sp.length == 2 || long_is_64 { 3 } else { 2 },
                Some(b'z' | b'j' | b't') => sp.length = if long_is_64 { 3 } else { 2 },
                Some(b'L' | b'q') => sp.length = 3,
                _ => break,
            }
            i += 1;
        }
        // glibc would print a gigabyte of padding; a harness reports it instead.
        if sp.width > MAX_FIELD || sp.precision.is_some_and(|p| p > MAX_FIELD) {
            return Err(crate::host_libc::host_fault(format!(
                "printf field width or precision above {MAX_FIELD}"
            )));
        }
        let Some(&conv) = fmt.get(i) else { break };
        i += 1;
        let int_arg = |va: &mut VarArgs, signed: bool| -> Result<(bool, u64)> {
            let raw = if sp.length == 3 {
                va.int64(&s.emu)?
            } else {
                va.int(&s.emu)?
            };
            Ok(match (sp.length, signed) {
                (3, true) => ((raw as i64) < 0, (raw as i64).unsigned_abs()),
                (3, false) => (false, raw),
                (1, true) => ((raw as i16) < 0, i64::from(raw as i16).unsigned_abs()),
                (1, false) => (false, u64::from(raw as u16)),
                (4, true) => ((raw as i8) < 0, i64::from(raw as i8).unsigned_abs()),
                (4, false) => (false, u64::from(raw as u8)),
                (_, true) => (
                    (raw as u32 as i32) < 0,
                    i64::from(raw as u32 as i32).unsigned_abs(),
                ),
                (_, false) => (false, u64::from(raw as u32)),
            })
        };
        let body: Vec<u8>;
        let mut sign = String::new();
        let mut numeric = true;
        match conv {
            b'%' => {
                out.push(b'%');
                continue;
            }
            b'd' | b'i' => {
                let (neg, mag) = int_arg(va, true)?;
                sign = if neg {
                    "-".into()
                } else if sp.plus {
                    "+".into()
                } else if sp.space {
                    " ".into()
                } else {
                    String::new()
                };
                body = digits(mag.to_string(), sp.precision).into_bytes();
            }
            b'u' => body = digits(int_arg(va, false)?.1.to_string(), sp.precision).into_bytes(),
            b'x' | b'X' | b'o' => {
                let v = int_arg(va, false)?.1;
                let mut t = match conv {
                    b'x' => format!("{v:x}"),
                    b'X' => format!("{v:X}"),
                    _ => format!("{v:o}"),
                };
                t = digits(t, sp.precision);
                if sp.alt && v != 0 {
                    sign = match conv {
                        b'x' => "0x".into(),
                        b'X' => "0X".into(),
                        _ => "0".into(),
                    };
                }
                body = t.into_bytes();
            }
            b'p' => {
                let v = va.int(&s.emu)?;
                body = if v == 0 {
                    numeric = false;
                    b"(nil)".to_vec()
                } else {
                    format!("0x{v:x}").into_bytes()
                };
            }
            b'c' => {
                numeric = false;
                body = vec![va.int(&s.emu)? as u8];
            }
            b's' => {
                numeric = false;
                let p = va.int(&s.emu)?;
                let mut t = if p == 0 {
                    b"(null)".to_vec()
                } else {
                    s.read_c_string(p)?
                };
                if let Some(n) = sp.precision {
                    t.truncate(n);
                }
                body = t;
            }
            b'f' | b'F' | b'e' | b'E' | b'g' | b'G' => {
                let v = va.double(&s.emu)?;
                if v.is_sign_negative() && !v.is_nan() {
                    sign = "-".into();
                } else if sp.plus {
                    sign = "+".into();
                } else if sp.space {
                    sign = " ".into();
                }
                body = float(v.abs(), conv, sp.precision.unwrap_or(6), sp.alt).into_bytes();
                numeric = v.is_finite();
            }
            other => {
                // Unknown conversion: print it as glibc does, verbatim.
                numeric = false;
                body = vec![b'%', other];
            }
        }
        let len = sign.len() + body.len();
        let pad = sp.width.saturating_sub(len);
        let zero_pad = sp.zero
            && !sp.left
            && numeric
            && (sp.precision.is_none() || matches!(conv, b'f' | b'F' | b'e' | b'E' | b'g' | b'G'));
        if !sp.left && !zero_pad {
            out.extend(std::iter::repeat_n(b' ', pad));
        }
        out.extend_from_slice(sign.as_bytes());
        if zero_pad {
            out.extend(std::iter::repeat_n(b'0', pad));
        }
        out.extend_from_slice(&body);
        if sp.left {
            out.extend(std::iter::repeat_n(b' ', pad));
        }
    }
    Ok(out)
}

fn digits(t: String, precision: Option<usize>) -> String {
    match precision {
        Some(0) if t == "0" => String::new(),
        Some(p) if t.len() < p => format!("{}{t}", "0".repeat(p - t.len())),
        _ => t,
    }
}

fn exp_form(v: f64, prec: usize, upper: bool) -> String {
    let t = format!("{v:.prec$e}");
    let (mant, exp) = t.split_once('e').unwrap_or((&t, "0"));
    let e: i32 = exp.parse().unwrap_or(0);
    let s = format!("{mant}e{}{:02}", if e < 0 { '-' } else { '+' }, e.abs());
    if upper {
        s.to_uppercase()
    } else {
        s
    }
}

fn float(v: f64, conv: u8, prec: usize, alt: bool) -> String {
    let upper = conv.is_ascii_uppercase();
    if v.is_nan() {
        return if upper { "NAN" } else { "nan" }.into();
    }
    if v.is_infinite() {
        return if upper { "INF" } else { "inf" }.into();
    }
    match conv {
        b'f' | b'F' => format!("{v:.prec$}"),
        b'e' | b'E' => exp_form(v, prec, upper),
        _ => {
            let p = if prec == 0 { 1 } else { prec };
            let x = if v == 0.0 {
                0
            } else {
                let t = format!("{v:.*e}", p - 1);
                t.split_once('e')
                    .and_then(|(_, e)| e.parse::<i32>().ok())
                    .unwrap_or(0)
            };
            let mut t = if x < -4 || x >= p as i32 {
                exp_form(v, p - 1, upper)
            } else {
                format!("{v:.*}", (p as i32 - 1 - x).max(0) as usize)
            };
            if !alt {
                // %g drops trailing zeros (and a trailing point) from the fraction.
                let (m, e) = match t.find(['e', 'E']) {
                    Some(k) => (t[..k].to_string(), t[k..].to_string()),
                    None => (t.clone(), String::new()),
                };
                let m = if m.contains('.') {
                    m.trim_end_matches('0').trim_end_matches('.').to_string()
                } else {
                    m
                };
                t = m + &e;
            }
            t
        }
    }
}
