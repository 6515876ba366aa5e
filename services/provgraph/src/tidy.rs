//! Tidy checks over the whole workspace's source (a unit test, so it costs no
//! test binary of its own): every module says what it is for in a `//!`
//! line, no source file outside tests is over [`MAX_LINES`] lines, and no
//! two sibling modules of a crate import each other, directly or through
//! others (an import cycle).

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// The longest a source file outside `tests/` may be.
const MAX_LINES: usize = 800;

/// Violations that were here when this check came in, being removed by
/// the restructuring (issue #10); nothing new may join them.
const KNOWN: &[&str] = &[];

/// A crate's source files: `src/` of every crate under `services/`, and
/// the fuzz targets.
fn source_roots(services: &Path) -> Vec<(String, PathBuf)> {
    let mut roots = Vec::new();
    for entry in fs::read_dir(services).expect("services/ is readable") {
        let dir = entry.expect("a directory entry").path();
        let src = dir.join("src");
        if src.is_dir() {
            let name = dir
                .file_name()
                .expect("a crate folder")
                .to_string_lossy()
                .into_owned();
            roots.push((name, src));
        }
    }
    roots.sort();
    roots
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = fs::read_dir(dir)
        .expect("a readable folder")
        .map(|e| e.expect("a directory entry").path())
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

/// The module path of a file below `src`: `lib.rs`/`main.rs` are the root
/// (empty), `a/mod.rs` and `a.rs` are `a`, `a/b.rs` is `a::b`.
fn module_path(src: &Path, file: &Path) -> Vec<String> {
    let relative = file.strip_prefix(src).expect("a file below src");
    let mut parts: Vec<String> = relative
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    let last = parts.pop().expect("a file name");
    let stem = last.trim_end_matches(".rs").to_owned();
    let is_root = parts.is_empty() && (stem == "lib" || stem == "main");
    if stem != "mod" && !is_root {
        parts.push(stem);
    }
    parts
}

/// The first line that is not blank says what the module is for.
fn has_module_doc(text: &str) -> bool {
    text.lines()
        .find(|l| !l.trim().is_empty())
        .is_some_and(|l| l.trim_start().starts_with("//!"))
}

/// The modules a file names through `crate::`, `super::` and `self::`
/// paths (grouped imports `crate::{a::X, b::Y}` included), resolved against
/// the file's own module path.
fn references(text: &str, own: &[String]) -> Vec<Vec<String>> {
    let code: String = text
        .lines()
        .map(|l| l.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n");
    let is_path_char = |c: char| c.is_alphanumeric() || c == '_' || c == ':';
    let mut found = Vec::new();
    let mut starts: Vec<usize> = ["crate::", "super::", "self::"]
        .iter()
        .flat_map(|needle| code.match_indices(needle).map(|(i, _)| i))
        .collect();
    starts.sort_unstable();
    for start in starts {
        // `$crate::` in macros and paths inside other identifiers are not ours.
        let before = code[..start].chars().next_back();
        if before.is_some_and(|c| is_path_char(c) || c == '$') {
            continue;
        }
        for full in expand(&code[start..]) {
            let mut segments = full.split("::").filter(|s| !s.is_empty());
            let mut resolved: Vec<String> = match segments.next() {
                Some("crate") => Vec::new(),
                Some("self") => own.to_vec(),
                Some("super") => own[..own.len().saturating_sub(1)].to_vec(),
                _ => continue,
            };
            for segment in segments {
                if segment == "super" {
                    resolved.pop();
                } else if segment != "self" {
                    resolved.push(segment.to_owned());
                }
            }
            found.push(resolved);
        }
    }
    found
}

/// The paths a use tree starting at `text` names, groups expanded:
/// `a::{b::{C, D}, e}` is `a::b::C`, `a::b::D` and `a::e`.
fn expand(text: &str) -> Vec<String> {
    let is_path_char = |c: char| c.is_alphanumeric() || c == '_' || c == ':';
    let text = text.trim_start();
    let path: String = text.chars().take_while(|c| is_path_char(*c)).collect();
    let rest = &text[path.len()..];
    if !(path.ends_with("::") && rest.starts_with('{')) {
        return vec![path];
    }
    // Split the group at its top-level commas, up to its closing brace.
    let mut items = Vec::new();
    let (mut depth, mut from) = (0usize, 1usize);
    for (i, c) in rest.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    items.push(&rest[from..i]);
                    break;
                }
            }
            ',' if depth == 1 => {
                items.push(&rest[from..i]);
                from = i + 1;
            }
            _ => {}
        }
    }
    items
        .into_iter()
        .filter(|item| !item.trim().is_empty())
        .flat_map(|item| expand(item).into_iter().map(|tail| format!("{path}{tail}")))
        .collect()
}

/// Cycles among sibling modules: an edge A -> B between two children of
/// one parent when anything inside A names anything inside B.
fn sibling_cycles(
    modules: &BTreeSet<Vec<String>>,
    uses: &[(Vec<String>, Vec<String>)],
) -> Vec<String> {
    let mut graphs: BTreeMap<Vec<String>, BTreeMap<String, BTreeSet<String>>> = BTreeMap::new();
    for (from, to) in uses {
        // The module `to` names: the longest known module that prefixes it.
        let Some(target) = (0..=to.len())
            .rev()
            .map(|n| to[..n].to_vec())
            .find(|p| modules.contains(p))
        else {
            continue;
        };
        let common = from.iter().zip(&target).take_while(|(a, b)| a == b).count();
        if common == from.len() || common == target.len() {
            continue; // an ancestor or a descendant, not a sibling
        }
        graphs
            .entry(from[..common].to_vec())
            .or_default()
            .entry(from[common].clone())
            .or_default()
            .insert(target[common].clone());
    }
    let mut cycles = Vec::new();
    for (parent, graph) in &graphs {
        for start in graph.keys() {
            // A path from one of start's successors back to start.
            let mut stack: Vec<(String, Vec<String>)> = vec![(start.clone(), vec![start.clone()])];
            let mut seen = BTreeSet::new();
            while let Some((node, path)) = stack.pop() {
                for next in graph.get(&node).into_iter().flatten() {
                    if next == start {
                        let mut ring = path.clone();
                        ring.push(start.clone());
                        // Report each cycle once, from its smallest member.
                        if path.iter().all(|m| m >= start) {
                            let within = if parent.is_empty() {
                                String::new()
                            } else {
                                format!("{}: ", parent.join("::"))
                            };
                            cycles.push(format!("{within}{}", ring.join(" -> ")));
                        }
                    } else if seen.insert(next.clone()) {
                        let mut longer = path.clone();
                        longer.push(next.clone());
                        stack.push((next.clone(), longer));
                    }
                }
            }
        }
    }
    cycles
}

#[test]
fn every_module_is_documented_short_and_free_of_import_cycles() {
    let services = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("services/");
    let mut undocumented = Vec::new();
    let mut too_long = Vec::new();
    let mut cycles = Vec::new();
    let mut files_read = 0;
    for (krate, src) in source_roots(services) {
        let mut files = Vec::new();
        rust_files(&src, &mut files);
        let mut modules = BTreeSet::new();
        let mut uses = Vec::new();
        for file in &files {
            let text = fs::read_to_string(file).expect("source is UTF-8");
            files_read += 1;
            let shown = file
                .strip_prefix(services)
                .unwrap_or(file)
                .display()
                .to_string();
            if !has_module_doc(&text) {
                undocumented.push(shown.clone());
            }
            let lines = text.lines().count();
            if lines > MAX_LINES && !KNOWN.contains(&shown.as_str()) {
                too_long.push(format!("{shown}: {lines} lines"));
            }
            let own = module_path(&src, file);
            for target in references(&text, &own) {
                uses.push((own.clone(), target));
            }
            modules.insert(own);
        }
        cycles.extend(
            sibling_cycles(&modules, &uses)
                .into_iter()
                .map(|c| format!("{krate}: {c}"))
                .filter(|c| !KNOWN.contains(&c.as_str())),
        );
    }
    assert!(
        files_read > 50,
        "read only {files_read} source files from {}",
        services.display()
    );
    assert!(
        undocumented.is_empty() && too_long.is_empty() && cycles.is_empty(),
        "modules without a `//!` line saying what they are for: {undocumented:#?}\n\
         source files over {MAX_LINES} lines (split them along their seams): {too_long:#?}\n\
         import cycles between sibling modules: {cycles:#?}"
    );
}

#[test]
fn the_checks_can_fail() {
    assert!(has_module_doc("\n//! What this is for.\nuse x;"));
    assert!(!has_module_doc("// a plain comment\n//! late"));
    assert_eq!(
        module_path(Path::new("/s"), Path::new("/s/lib.rs")),
        Vec::<String>::new()
    );
    assert_eq!(
        module_path(Path::new("/s"), Path::new("/s/emit/mod.rs")),
        vec!["emit"]
    );
    assert_eq!(
        module_path(Path::new("/s"), Path::new("/s/emit/git.rs")),
        vec!["emit", "git"]
    );

    let modules: BTreeSet<Vec<String>> = [
        vec![],
        vec!["a".into()],
        vec!["b".into()],
        vec!["c".into()],
        vec!["c".into(), "x".into()],
        vec!["c".into(), "y".into()],
    ]
    .into_iter()
    .collect();
    let file = |path: &[&str], text: &str| {
        let own: Vec<String> = path.iter().map(|s| s.to_string()).collect();
        references(text, &own)
            .into_iter()
            .map(move |t| (own.clone(), t))
            .collect::<Vec<_>>()
    };
    // a -> b -> a through `crate::` and `super::`; c::x -> c::y -> c::x through `super::`.
    let mut uses = file(&["a"], "use crate::b::Thing;");
    uses.extend(file(&["b"], "fn f() { super::a::g() }"));
    uses.extend(file(&["c", "x"], "use super::y::Y;"));
    uses.extend(file(
        &["c", "y"],
        "use crate::{\n    b::B,\n    c::{x::X, y},\n}; // crate::a::ignored",
    ));
    let found = sibling_cycles(&modules, &uses);
    assert_eq!(
        found,
        vec!["a -> b -> a".to_string(), "c: x -> y -> x".to_string()]
    );
    let grouped: Vec<Vec<String>> = file(&["a"], "use crate::{b::{C, D}, c::x};")
        .into_iter()
        .map(|(_, to)| to)
        .collect();
    assert_eq!(
        grouped,
        vec![vec!["b", "C"], vec!["b", "D"], vec!["c", "x"]]
    );

    // One direction only, names inside other paths, and a parent naming its child are no cycle.
    let mut uses = file(
        &["a"],
        "use crate::b::Thing; let s = \"$crate::a\"; my_crate::b::f();",
    );
    uses.extend(file(&["c"], "use self::x::X;"));
    uses.extend(file(&["c", "x"], "use crate::b::B;"));
    assert!(sibling_cycles(&modules, &uses).is_empty());
}
