//! The library's modules import each other without cycles, the engine counted
//! as one module (ARCHITECTURE.md, "Layers").
//!
//! Reads `workq/src`: every `crate::` path outside comments and test modules is
//! an edge from the file's module to the module it names (a re-exported name
//! such as `crate::Work` counts for the module that defines it). A module is a
//! top-level file (`error`, `shutdown`), `engine` as a whole, or one entry of
//! `support/`, `front/` or `addons/` (a file, or a folder with its files).
//! Test-only code (`tests.rs` files, `mod tests`, the models) is left out.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

const LAYERED: [&str; 3] = ["front", "addons", "support"];

/// The module a source file belongs to; `None` for files outside the graph.
fn module_of(rel: &Path) -> Option<String> {
    let mut parts: Vec<String> = rel
        .with_extension("")
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if parts.last().map(String::as_str) == Some("mod") {
        parts.pop();
    }
    match parts.first().map(String::as_str) {
        None | Some("lib") | Some("models") | Some("models_pool") => None,
        _ if parts.last().map(String::as_str) == Some("tests") => None,
        Some("engine") => Some("engine".to_string()),
        Some(top) if LAYERED.contains(&top) && parts.len() >= 2 => Some(parts[..2].join("/")),
        Some(_) => Some(parts.join("/")),
    }
}

/// The module a path after `crate::` names (`engine::timer::Timer`,
/// `front::pool::Pool`, `Work`), using `exports` for names re-exported by lib.rs.
fn target_of(path: &[&str], exports: &BTreeMap<String, String>) -> Option<String> {
    let first = *path.first()?;
    match first {
        "engine" => Some("engine".to_string()),
        "error" | "shutdown" => Some(first.to_string()),
        top if LAYERED.contains(&top) => path.get(1).map(|b| format!("{top}/{b}")),
        name => exports.get(name).cloned(),
    }
}

/// The code of a file without comment lines and without its test module.
fn code_of(text: &str) -> String {
    let mut text = text.to_string();
    if let Some(at) = text.find("mod tests {") {
        let cut = text[..at].rfind("#[cfg(").unwrap_or(at);
        text.truncate(cut);
    }
    text.lines()
        .filter(|line| !line.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every `crate::a::b::...` path in `code`, with `{..}` groups opened one level.
fn crate_paths(code: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let mut rest = code;
    while let Some(at) = rest.find("crate::") {
        let before = rest[..at].chars().last();
        rest = &rest[at + "crate::".len()..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue; // e.g. `workq_crate::`
        }
        let end = rest
            .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
            .unwrap_or(rest.len());
        let head: Vec<String> = rest[..end]
            .split("::")
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect();
        if rest[end..].starts_with('{') {
            let group_end = rest[end..].find('}').map_or(rest.len(), |i| end + i);
            for name in rest[end + 1..group_end].split(',') {
                let mut path = head.clone();
                path.extend(
                    name.trim()
                        .split("::")
                        .filter(|s| !s.is_empty() && *s != "self")
                        .map(|s| s.split_whitespace().next().unwrap_or(s).to_string()),
                );
                out.push(path);
            }
        } else {
            out.push(head);
        }
    }
    out
}

/// lib.rs's `pub use a::b::{X, Y};` lines: name -> module.
fn exports(lib: &str) -> BTreeMap<String, String> {
    let mut map = BTreeMap::new();
    for stmt in lib.split(';') {
        let Some(at) = stmt.find("pub use ") else {
            continue;
        };
        let body: String = stmt[at + "pub use ".len()..].split_whitespace().collect();
        let (prefix, names) = match body.find("::{") {
            Some(i) => (&body[..i], body[i + 3..].trim_end_matches('}')),
            None => match body.rfind("::") {
                Some(i) => (&body[..i], &body[i + 2..]),
                None => continue,
            },
        };
        let path: Vec<&str> = prefix.split("::").collect();
        if let Some(module) = target_of(&path, &BTreeMap::new()) {
            for name in names.split(',').filter(|n| !n.is_empty()) {
                map.insert(name.to_string(), module.clone());
            }
        }
    }
    map
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|entry| entry.map(|e| e.path()).unwrap_or_else(|e| panic!("{e}")))
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The import graph of the library's modules: module -> (module it names -> a file that does).
fn graph() -> BTreeMap<String, BTreeMap<String, String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let lib = fs::read_to_string(src.join("lib.rs")).expect("lib.rs is readable");
    let exports = exports(&lib);
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut edges: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for file in files {
        let rel = file.strip_prefix(&src).expect("under src").to_path_buf();
        let Some(from) = module_of(&rel) else {
            continue;
        };
        let text = fs::read_to_string(&file).expect("source is readable");
        for path in crate_paths(&code_of(&text)) {
            let path: Vec<&str> = path.iter().map(String::as_str).collect();
            if let Some(to) = target_of(&path, &exports) {
                if to != from {
                    edges
                        .entry(from.clone())
                        .or_default()
                        .entry(to)
                        .or_insert_with(|| rel.display().to_string());
                }
            }
        }
    }
    edges
}

/// A path of edges from `from` to `to`, if there is one.
fn route(
    edges: &BTreeMap<String, BTreeMap<String, String>>,
    from: &str,
    to: &str,
    seen: &mut BTreeSet<String>,
) -> Option<Vec<String>> {
    if from == to {
        return Some(vec![to.to_string()]);
    }
    if !seen.insert(from.to_string()) {
        return None;
    }
    for next in edges.get(from).into_iter().flat_map(BTreeMap::keys) {
        if let Some(mut rest) = route(edges, next, to, seen) {
            rest.insert(0, from.to_string());
            return Some(rest);
        }
    }
    None
}

#[test]
fn modules_import_each_other_without_cycles() {
    let edges = graph();
    assert!(
        edges
            .get("front/work")
            .is_some_and(|t| t.contains_key("engine")),
        "the scan must see front/work importing the engine: {edges:?}"
    );
    let mut cycles = BTreeSet::new();
    for (from, targets) in &edges {
        for (to, file) in targets {
            if let Some(back) = route(&edges, to, from, &mut BTreeSet::new()) {
                cycles.insert(format!(
                    "{from} -> {} (first import in {file})",
                    back.join(" -> ")
                ));
            }
        }
    }
    assert!(
        cycles.is_empty(),
        "import cycles:\n{}",
        cycles.into_iter().collect::<Vec<_>>().join("\n")
    );
}

#[test]
fn the_scan_sees_paths_groups_and_re_exports() {
    let exports = exports("pub use front::work::{Queued, Work};\npub use error::Error;");
    assert_eq!(exports.get("Work").map(String::as_str), Some("front/work"));
    assert_eq!(exports.get("Error").map(String::as_str), Some("error"));
    let code = code_of("use crate::{engine::RunQueue, Work};\n// crate::addons::wait\nlet x = crate::front::pool::Pool::new();\n#[cfg(test)]\nmod tests {\n use crate::addons::events;\n}");
    let targets: Vec<Option<String>> = crate_paths(&code)
        .iter()
        .map(|p| target_of(&p.iter().map(String::as_str).collect::<Vec<_>>(), &exports))
        .collect();
    assert_eq!(
        targets,
        vec![
            Some("engine".into()),
            Some("front/work".into()),
            Some("front/pool".into())
        ]
    );
}
