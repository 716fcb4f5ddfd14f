//! The codebase's shape, checked (issue 14's "must show"): no function in `sim/src` or
//! `harness/src` over 80 lines, and no import cycle between the top-level modules of either
//! crate. Both read the sources as text: a crude brace count and `crate::<module>` paths, which is
//! what the crates' own style makes enough (no `{`/`}` in char literals outside strings, no
//! `use super::super` across top-level modules).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const LIMIT: usize = 80;

fn sources(dir: &str) -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(dir);
    let mut out = Vec::new();
    let mut stack = vec![root];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap_or_else(|e| panic!("{}: {e}", d.display())) {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    out.sort();
    assert!(out.len() > 10, "{dir}: only {} sources found", out.len());
    out
}

/// A line with its string literals, char literals and `//` comment blanked.
fn code_of(line: &str) -> String {
    let mut out = String::new();
    let mut chars = line.chars().peekable();
    let mut in_str = false;
    while let Some(c) = chars.next() {
        if in_str {
            match c {
                '\\' => {
                    chars.next();
                }
                '"' => {
                    in_str = false;
                    out.push('"');
                }
                _ => {}
            }
            continue;
        }
        match c {
            '"' => {
                in_str = true;
                out.push('"');
            }
            '/' if chars.peek() == Some(&'/') => break,
            '\'' => {
                // A char literal ('{', '\'', '\u{7b}') or a lifetime ('a): skip a literal whole.
                let rest: String = chars.clone().take(12).collect();
                if let Some(end) = char_literal_len(&rest) {
                    for _ in 0..end {
                        chars.next();
                    }
                    out.push_str("' '");
                } else {
                    out.push(c);
                }
            }
            _ => out.push(c),
        }
    }
    out
}

/// The length of a char literal's rest (after its opening quote), if `rest` starts one.
fn char_literal_len(rest: &str) -> Option<usize> {
    let cs: Vec<char> = rest.chars().collect();
    if cs.first() == Some(&'\\') {
        let close = cs.iter().skip(2).position(|&c| c == '\'')?;
        return Some(close + 3);
    }
    (cs.len() >= 2 && cs[1] == '\'').then_some(2)
}

/// `(lines, name, line number)` of every function whose body is over [`LIMIT`] lines.
fn long_functions(path: &Path) -> Vec<(usize, String, usize)> {
    let text = std::fs::read_to_string(path).unwrap();
    let lines: Vec<String> = text.lines().map(code_of).collect();
    let mut long = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let Some(name) = fn_name(line) else { continue };
        let (mut depth, mut started) = (0i64, false);
        for (j, l) in lines.iter().enumerate().skip(i) {
            depth += l.matches('{').count() as i64 - l.matches('}').count() as i64;
            started |= l.contains('{');
            if !started && l.trim_end().ends_with(';') {
                break; // a declaration without a body
            }
            if started && depth <= 0 {
                if j - i + 1 > LIMIT {
                    long.push((j - i + 1, name.clone(), i + 1));
                }
                break;
            }
        }
    }
    long
}

fn fn_name(line: &str) -> Option<String> {
    let words: Vec<&str> = line.split_whitespace().collect();
    let at = words.iter().position(|w| *w == "fn")?;
    let before_ok = words[..at].iter().all(|w| {
        w.starts_with("pub") || matches!(*w, "async" | "const" | "unsafe" | "extern" | "\"C\"")
    });
    let name: String = words
        .get(at + 1)?
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect();
    (before_ok && !name.is_empty()).then_some(name)
}

#[test]
fn no_function_in_sim_or_harness_sources_is_over_80_lines() {
    let mut long = Vec::new();
    for dir in ["sim/src", "harness/src"] {
        for p in sources(dir) {
            for (n, name, line) in long_functions(&p) {
                long.push(format!("{}:{line} {name}: {n} lines", p.display()));
            }
        }
    }
    assert!(
        long.is_empty(),
        "functions over {LIMIT} lines:\n{}",
        long.join("\n")
    );
}

#[test]
fn the_length_check_sees_a_long_function() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("long.rs");
    let body = "    let x = '{';\n".repeat(LIMIT);
    std::fs::write(&p, format!("pub fn long() {{\n{body}}}\nfn short() {{}}\n")).unwrap();
    assert_eq!(long_functions(&p), vec![(LIMIT + 2, "long".to_string(), 1)]);
}

/// The top-level modules each top-level module names through `crate::`, outside tests.
fn module_graph(dir: &str) -> BTreeMap<String, BTreeSet<String>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(dir);
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for p in sources(dir) {
        let rel = p.strip_prefix(&root).unwrap();
        let name = rel.file_name().unwrap().to_string_lossy();
        if name.ends_with("tests.rs") || name == "rig.rs" || name == "prompts.rs" {
            continue; // test modules
        }
        let top = rel
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy()
            .trim_end_matches(".rs")
            .to_string();
        let text = std::fs::read_to_string(&p).unwrap();
        let code = text.split("mod tests {").next().unwrap();
        for line in code.lines().map(code_of) {
            for (i, _) in line.match_indices("crate::") {
                let target: String = line[i + 7..]
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if !target.is_empty() && target != top {
                    graph.entry(top.clone()).or_default().insert(target);
                }
            }
        }
    }
    graph
}

/// A cycle in `graph`, as the modules along it, if there is one.
fn cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        g: &BTreeMap<String, BTreeSet<String>>,
        v: &str,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|p| p == v) {
            let mut c = path[at..].to_vec();
            c.push(v.to_string());
            return Some(c);
        }
        if done.contains(v) {
            return None;
        }
        path.push(v.to_string());
        for w in g.get(v).into_iter().flatten() {
            if let Some(c) = visit(g, w, path, done) {
                return Some(c);
            }
        }
        path.pop();
        done.insert(v.to_string());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|v| visit(graph, v, &mut Vec::new(), &mut done))
}

#[test]
fn no_import_cycle_between_top_level_modules() {
    for dir in ["sim/src", "harness/src"] {
        let graph = module_graph(dir);
        assert!(graph.len() > 5, "{dir}: the graph found only {graph:?}");
        if let Some(c) = cycle(&graph) {
            panic!("{dir}: import cycle {}", c.join(" -> "));
        }
    }
}

#[test]
fn the_cycle_check_sees_a_cycle() {
    let g: BTreeMap<String, BTreeSet<String>> = [("a", "b"), ("b", "c"), ("c", "a"), ("d", "a")]
        .into_iter()
        .map(|(a, b)| (a.to_string(), BTreeSet::from([b.to_string()])))
        .collect();
    assert_eq!(cycle(&g).unwrap(), ["a", "b", "c", "a"]);
    let acyclic: BTreeMap<String, BTreeSet<String>> = [("a", "b"), ("b", "c")]
        .into_iter()
        .map(|(a, b)| (a.to_string(), BTreeSet::from([b.to_string()])))
        .collect();
    assert_eq!(cycle(&acyclic), None);
}
