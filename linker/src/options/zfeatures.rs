//! `-z` keywords about the dynamic details of the output: packed relative relocations
//! (`pack-relative-relocs`), undefined weak symbols in programs (`dynamic-undefined-weak`)
//! and the x86-64 control-flow protection properties (`ibt`, `ibtplt`, `shstk`,
//! `cet-report`).

use crate::error::{LinkError, Result};

/// What `-z cet-report=` asks about inputs lacking IBT or SHSTK (GNU ld's names).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CetReport {
    #[default]
    None,
    Warning,
    Error,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ZFeatures {
    /// `-z pack-relative-relocs`: relative relocations go to `.relr.dyn` (DT_RELR).
    pub pack_relative_relocs: bool,
    /// `-z dynamic-undefined-weak` (`Some(true)`) / `-z nodynamic-undefined-weak`
    /// (`Some(false)`): whether a program's undefined weak symbols are dynamic.
    pub dynamic_undefined_weak: Option<bool>,
    /// `-z ibt`: GNU_PROPERTY_X86_FEATURE_1_IBT set whatever the inputs say, IBT PLT.
    pub ibt: bool,
    /// `-z ibtplt`: the IBT-enabled PLT without the property.
    pub ibtplt: bool,
    /// `-z shstk`: GNU_PROPERTY_X86_FEATURE_1_SHSTK set whatever the inputs say.
    pub shstk: bool,
    pub cet_report: CetReport,
}

impl ZFeatures {
    /// Takes `keyword` if it is one of these; `Ok(false)` for another keyword.
    pub fn take(&mut self, keyword: &str) -> Result<bool> {
        match keyword {
            "pack-relative-relocs" => self.pack_relative_relocs = true,
            "nopack-relative-relocs" => self.pack_relative_relocs = false,
            "dynamic-undefined-weak" => self.dynamic_undefined_weak = Some(true),
            "nodynamic-undefined-weak" => self.dynamic_undefined_weak = Some(false),
            "ibt" => self.ibt = true,
            "ibtplt" => self.ibtplt = true,
            "shstk" => self.shstk = true,
            _ => match keyword.strip_prefix("cet-report=") {
                Some("none") => self.cet_report = CetReport::None,
                Some("warning") => self.cet_report = CetReport::Warning,
                Some("error") => self.cet_report = CetReport::Error,
                Some(other) => {
                    return Err(LinkError::Usage(format!(
                        "-z cet-report: invalid report: {other} (none, warning or error)"
                    )))
                }
                None => return Ok(false),
            },
        }
        Ok(true)
    }

    /// The keywords given that only x86 targets act on (GNU ld's ARM target ignores each
    /// with a warning).
    pub fn x86_only_keywords(&self) -> Vec<String> {
        let mut out: Vec<String> = [
            (self.ibt, "ibt"),
            (self.ibtplt, "ibtplt"),
            (self.shstk, "shstk"),
        ]
        .iter()
        .filter(|(on, _)| *on)
        .map(|(_, k)| k.to_string())
        .collect();
        match self.cet_report {
            CetReport::None => {}
            CetReport::Warning => out.push("cet-report=warning".into()),
            CetReport::Error => out.push("cet-report=error".into()),
        }
        match self.dynamic_undefined_weak {
            Some(true) => out.push("dynamic-undefined-weak".into()),
            Some(false) => out.push("nodynamic-undefined-weak".into()),
            None => {}
        }
        out
    }

    /// The PLT has the IBT-enabled form (`endbr64` entries and `.plt.sec`).
    pub fn ibt_plt(&self) -> bool {
        self.ibt || self.ibtplt
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords() {
        let mut z = ZFeatures::default();
        for k in ["pack-relative-relocs", "ibt", "shstk", "cet-report=error"] {
            assert!(z.take(k).unwrap(), "{k}");
        }
        assert!(z.pack_relative_relocs && z.ibt && z.shstk && z.ibt_plt());
        assert_eq!(z.cet_report, CetReport::Error);
        assert!(z.take("nopack-relative-relocs").unwrap());
        assert!(!z.pack_relative_relocs);
        assert!(!z.take("now").unwrap());
        assert!(z.take("cet-report=loud").is_err());
        assert!(z.take("nodynamic-undefined-weak").unwrap());
        assert_eq!(z.dynamic_undefined_weak, Some(false));
    }
}
