//! The workspace's shape, checked on its sources: no two modules of one crate reach each other
//! (through `crate::` or `super::` paths), so every crate reads as layers from its leaves up; and
//! the server writes SQL in `server/src/store/` only, and its HTTP handlers stay short (the
//! decisions are in `server/src/renewal/`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const CRATES: [&str; 7] = ["api", "ccid", "token", "renewal", "server", "web", "kiosk"];

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace above server/")
        .to_path_buf()
}

/// Every `.rs` file under `dir`, with its module path (`piv/mod.rs` → `piv`, `a/b.rs` → `a::b`).
fn modules(src: &Path) -> Vec<(String, String)> {
    let mut out = vec![];
    let mut stack = vec![src.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                if p.file_name().is_some_and(|n| n != "bin") {
                    stack.push(p);
                }
                continue;
            }
            if p.extension().is_none_or(|x| x != "rs") {
                continue;
            }
            let rel = p.strip_prefix(src).expect("under src");
            let mut parts: Vec<String> = rel
                .iter()
                .map(|c| c.to_string_lossy().trim_end_matches(".rs").to_string())
                .collect();
            if matches!(
                parts.last().map(String::as_str),
                Some("mod" | "lib" | "main")
            ) {
                parts.pop();
            }
            let name = parts.join("::");
            out.push((name, std::fs::read_to_string(&p).expect("readable")));
        }
    }
    out
}

/// The module a path names: the longest known module it starts with.
fn resolve(path: &str, known: &BTreeSet<String>) -> Option<String> {
    let mut parts: Vec<&str> = path.split("::").collect();
    while !parts.is_empty() {
        let candidate = parts.join("::");
        if known.contains(&candidate) {
            return Some(candidate);
        }
        parts.pop();
    }
    None
}

/// `crate::a::b` and `super::c` paths in `text`, as absolute module paths from `module`.
fn references(module: &str, text: &str) -> Vec<String> {
    let mut out = vec![];
    for (prefix, base) in [
        ("crate::", String::new()),
        (
            "super::",
            module
                .rsplit_once("::")
                .map_or(String::new(), |(p, _)| p.to_string()),
        ),
    ] {
        for (i, _) in text.match_indices(prefix) {
            // Not the tail of a longer path (`foo::super::`) and not inside a word.
            let before = text[..i].chars().next_back();
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
                continue;
            }
            let rest: String = text[i + prefix.len()..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
                .collect();
            let mut rest = rest.trim_end_matches(':');
            let mut base = base.clone();
            while let Some(up) = rest.strip_prefix("super::") {
                rest = up;
                base = base
                    .rsplit_once("::")
                    .map_or(String::new(), |(p, _)| p.to_string());
            }
            let full = if base.is_empty() {
                rest.to_string()
            } else {
                format!("{base}::{rest}")
            };
            out.push(full);
        }
    }
    out
}

/// Module-to-module edges of one crate (a module's references into its own descendants or
/// ancestors are its own structure, not a dependency between peers).
fn graph(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let mods = modules(src);
    let known: BTreeSet<String> = mods.iter().map(|(m, _)| m.clone()).collect();
    let mut g: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (m, text) in &mods {
        for r in references(m, text) {
            let Some(to) = resolve(&r, &known) else {
                continue;
            };
            let related = to.is_empty()
                || m.is_empty()
                || to == *m
                || to.starts_with(&format!("{m}::"))
                || m.starts_with(&format!("{to}::"));
            if !related {
                g.entry(m.clone()).or_default().insert(to);
            }
        }
    }
    g
}

/// A cycle in `g`, if there is one (depth-first search, colours).
fn cycle(g: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        n: &str,
        g: &BTreeMap<String, BTreeSet<String>>,
        state: &mut BTreeMap<String, u8>,
        path: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        state.insert(n.to_string(), 1);
        path.push(n.to_string());
        for next in g.get(n).into_iter().flatten() {
            match state.get(next.as_str()).copied().unwrap_or(0) {
                1 => {
                    let start = path.iter().position(|p| p == next).unwrap_or(0);
                    let mut c = path[start..].to_vec();
                    c.push(next.clone());
                    return Some(c);
                }
                0 => {
                    if let Some(c) = visit(next, g, state, path) {
                        return Some(c);
                    }
                }
                _ => {}
            }
        }
        path.pop();
        state.insert(n.to_string(), 2);
        None
    }
    let mut state = BTreeMap::new();
    for n in g.keys() {
        if state.get(n.as_str()).copied().unwrap_or(0) == 0 {
            if let Some(c) = visit(n, g, &mut state, &mut vec![]) {
                return Some(c);
            }
        }
    }
    None
}

#[test]
fn no_two_modules_of_a_crate_depend_on_each_other() {
    let mut found = vec![];
    for krate in CRATES {
        let src = workspace().join(krate).join("src");
        assert!(!modules(&src).is_empty(), "{krate}: no sources read");
        let g = graph(&src);
        // Every cycle, not only the first: each found one is cut at its last edge and the
        // search runs again (bounded by the number of edges).
        let mut g = g;
        let edges: usize = g.values().map(BTreeSet::len).sum();
        for _ in 0..=edges {
            let Some(c) = cycle(&g) else { break };
            found.push(format!("{krate}: {}", c.join(" → ")));
            if let [.., from, to] = &c[..] {
                if let Some(e) = g.get_mut(from) {
                    e.remove(to);
                }
            }
        }
    }
    assert!(found.is_empty(), "import cycles:\n{}", found.join("\n"));
}

#[test]
fn the_cycle_finder_finds_a_planted_cycle() {
    let dir = std::env::temp_dir().join(format!("layers-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("piv")).unwrap();
    std::fs::write(dir.join("lib.rs"), "mod keys; mod piv;").unwrap();
    std::fs::write(dir.join("keys.rs"), "use crate::piv::Algorithm;").unwrap();
    std::fs::write(
        dir.join("piv/mod.rs"),
        "use crate::keys::Key; pub mod types;",
    )
    .unwrap();
    std::fs::write(dir.join("piv/types.rs"), "use super::super::keys::Key;").unwrap();
    let g = graph(&dir);
    let c = cycle(&g).expect("keys → piv → keys");
    assert!(
        c.contains(&"keys".to_string()) && c.contains(&"piv".to_string()),
        "{c:?}"
    );
    // Broken the way ccid broke it: keys uses only the leaf piv::types, which uses nothing.
    std::fs::write(dir.join("keys.rs"), "use crate::piv::types::Algorithm;").unwrap();
    std::fs::write(dir.join("piv/types.rs"), "pub enum Algorithm {}").unwrap();
    assert_eq!(cycle(&graph(&dir)), None);
    std::fs::remove_dir_all(&dir).ok();
}

/// SQL statements written as string literals in `text` (`"SELECT …`, `r#"INSERT …`, …).
fn sql_literals(text: &str) -> usize {
    const WORDS: [&str; 12] = [
        "SELECT", "INSERT", "UPDATE", "DELETE", "WITH", "CREATE", "ALTER", "DROP", "VACUUM",
        "PRAGMA", "BEGIN", "COMMIT",
    ];
    text.match_indices('"')
        .filter(|(i, _)| {
            let rest = text[i + 1..].trim_start();
            WORDS.iter().any(|w| {
                rest.starts_with(w)
                    && rest[w.len()..]
                        .chars()
                        .next()
                        .is_some_and(|c| c.is_whitespace() || c == ';')
            })
        })
        .count()
}

#[test]
fn sql_is_written_in_the_store_only() {
    let src = workspace().join("server").join("src");
    let mut found = BTreeMap::new();
    let mut stack = vec![src.clone()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap().flatten() {
            let p = e.path();
            let rel = p
                .strip_prefix(&src)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            if rel == "store" {
                continue;
            }
            if p.is_dir() {
                stack.push(p);
            } else if rel.ends_with(".rs") {
                let n = sql_literals(&std::fs::read_to_string(&p).unwrap());
                if n > 0 {
                    found.insert(rel, n);
                }
            }
        }
    }
    let wrong: Vec<String> = found
        .iter()
        .map(|(file, n)| format!("{file}: {n} SQL statements outside server/src/store/"))
        .collect();
    assert!(
        wrong.is_empty(),
        "move SQL into server/src/store/:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn sql_literals_are_counted() {
    assert_eq!(
        sql_literals(r#"query("SELECT a FROM t") "UPDATE t" "Selected" "x""#),
        2
    );
    assert_eq!(sql_literals(r#"const Q: &str = "  DELETE FROM t";"#), 1);
}

/// The length in lines of each top-level function of `text` (signature to closing brace).
fn function_lengths(text: &str) -> Vec<(String, usize)> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = vec![];
    for (i, line) in lines.iter().enumerate() {
        let item = line
            .trim_start_matches("pub ")
            .trim_start_matches("pub(crate) ")
            .trim_start_matches("async ");
        let Some(rest) = item.strip_prefix("fn ") else {
            continue;
        };
        let name: String = rest
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        if line.ends_with('}') {
            out.push((name, 1));
        } else if let Some(end) = lines[i..].iter().position(|l| *l == "}") {
            out.push((name, end + 1));
        }
    }
    out
}

/// Handlers extract, call the renewal (or the store) and respond: about 40 lines at most, so the
/// decisions live in `server/src/renewal/`, not in the HTTP layer.
#[test]
fn http_handlers_are_short() {
    const MOST: usize = 42;
    let http = workspace().join("server").join("src").join("http");
    let mut long = vec![];
    for e in std::fs::read_dir(&http).unwrap().flatten() {
        let text = std::fs::read_to_string(e.path()).unwrap();
        for (name, n) in function_lengths(&text) {
            if n > MOST {
                long.push(format!("{}: {name} is {n} lines", e.path().display()));
            }
        }
    }
    assert!(long.is_empty(), "over {MOST} lines:\n{}", long.join("\n"));
}

#[test]
fn function_lengths_are_measured() {
    let text = "pub async fn a(\n    x: u8,\n) {\n    x;\n}\n\nfn b() {}\nfn c() {\n}\n";
    assert_eq!(
        function_lengths(text),
        vec![
            ("a".to_string(), 5),
            ("b".to_string(), 1),
            ("c".to_string(), 2)
        ]
    );
}

/// The signatures of `text`'s public functions (`pub` or `pub(…)`, to the body's `{`).
fn public_signatures(text: &str) -> Vec<String> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = vec![];
    for (i, line) in lines.iter().enumerate() {
        let t = line.trim_start();
        if !(t.starts_with("pub ") || t.starts_with("pub(")) {
            continue;
        }
        let mut sig = String::new();
        for l in &lines[i..] {
            sig.push(' ');
            sig.push_str(l.trim());
            if l.contains(['{', ';']) {
                break;
            }
        }
        let sig = sig
            .split(['{', ';'])
            .next()
            .unwrap_or("")
            .trim()
            .to_string();
        if sig.contains("fn ") {
            out.push(sig);
        }
    }
    out
}

/// Errors cross the server's layers typed (`fault::Error`, `AppError`, the store's), never as
/// bare strings a caller can only print.
#[test]
fn no_public_function_of_the_server_returns_a_string_error() {
    let src = workspace().join("server").join("src");
    let mut found = vec![];
    for (module, text) in modules(&src) {
        for sig in public_signatures(&text) {
            if sig.replace(' ', "").contains(",String>") {
                found.push(format!("{module}: {sig}"));
            }
        }
    }
    assert!(found.is_empty(), "string errors:\n{}", found.join("\n"));
}

#[test]
fn public_signatures_are_read() {
    let text = "pub fn a(x: u8)\n    -> Result<u8, String> {\n}\nfn b() {}\npub struct C;\npub(crate) fn d() -> Vec<String> {}";
    assert_eq!(
        public_signatures(text),
        vec![
            "pub fn a(x: u8) -> Result<u8, String>".to_string(),
            "pub(crate) fn d() -> Vec<String>".to_string()
        ]
    );
}
