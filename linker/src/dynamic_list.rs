//! `--dynamic-list FILE`: the symbols a program exports, written as a version script's
//! anonymous node (`{ foo; bar*; extern "C++" { ns::f*; }; };`).

use crate::error::{LinkError, Result};
use std::path::Path;

/// The glob patterns listed in a dynamic list file.
pub fn read(path: &Path) -> Result<Vec<String>> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        LinkError::Other(format!("cannot read dynamic list {}: {e}", path.display()))
    })?;
    parse(&text).map_err(|why| LinkError::Other(format!("{}: {why}", path.display())))
}

/// The patterns of a dynamic list's text; C++ patterns are kept as written.
pub fn parse(text: &str) -> std::result::Result<Vec<String>, String> {
    let without_comments = strip_comments(text);
    let body = without_comments.trim();
    let inner = body
        .strip_prefix('{')
        .and_then(|b| b.trim_end().strip_suffix(';'))
        .and_then(|b| b.trim_end().strip_suffix('}'))
        .ok_or("a dynamic list is `{ symbol; ... };`")?;
    let mut patterns = Vec::new();
    for item in inner.split(';') {
        let item = item
            .trim()
            .trim_start_matches('{')
            .trim_end_matches('}')
            .trim();
        let item = item
            .strip_prefix("extern \"C++\"")
            .or_else(|| item.strip_prefix("extern \"C\""))
            .unwrap_or(item)
            .trim()
            .trim_start_matches('{')
            .trim();
        if item.is_empty() {
            continue;
        }
        patterns.push(item.trim_matches('"').to_string());
    }
    Ok(patterns)
}

fn strip_comments(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("/*") {
        out.push_str(&rest[..start]);
        rest = rest[start + 2..]
            .find("*/")
            .map_or("", |end| &rest[start + 2 + end + 2..]);
    }
    out.push_str(rest);
    out.lines()
        .map(|l| l.split('#').next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    #[test]
    fn lists_every_pattern() {
        let text = "/* exports */ {\n  main_cb;\n  api_*;\n  extern \"C++\" { ns::f; };\n};\n";
        assert_eq!(
            super::parse(text).unwrap(),
            vec!["main_cb", "api_*", "ns::f"]
        );
    }

    #[test]
    fn refuses_what_is_not_a_list() {
        assert!(super::parse("main_cb;").is_err());
    }
}
