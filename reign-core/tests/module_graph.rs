//! The module graph of reign-core, computed from its sources: what each top-level module
//! names with `crate::` paths (outside comments and test modules). The only cycle allowed is
//! the mailbox core (docs/ARCHITECTURE.md, "The module graph"); a new edge that closes
//! another fails here.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The modules of the crate, from `lib.rs`, and the public names `lib.rs` re-exports from each.
fn modules(src: &Path) -> (BTreeSet<String>, BTreeMap<String, String>) {
    let lib = std::fs::read_to_string(src.join("lib.rs")).unwrap();
    let mut mods = BTreeSet::new();
    let mut reexports = BTreeMap::new();
    for line in lib.lines().map(str::trim) {
        let line = line
            .trim_start_matches("pub ")
            .trim_start_matches("pub(crate) ");
        if let Some(m) = line.strip_prefix("mod ").and_then(|l| l.strip_suffix(';')) {
            mods.insert(m.to_string());
        }
    }
    // `pub use module::{A, B};` possibly over several lines.
    let flat = lib.replace('\n', " ");
    for stmt in flat.split(';') {
        let stmt = stmt.trim();
        let Some(rest) = stmt
            .strip_prefix("pub use ")
            .or_else(|| stmt.strip_prefix("pub(crate) use "))
        else {
            continue;
        };
        let module = rest.split("::").next().unwrap().trim().to_string();
        if !mods.contains(&module) {
            continue;
        }
        for item in rest.split(['{', '}', ',']).skip(1) {
            let name = item.trim().rsplit("::").next().unwrap().trim();
            if !name.is_empty() {
                reexports.insert(name.to_string(), module.clone());
            }
        }
        if !rest.contains('{') {
            let name = rest.rsplit("::").next().unwrap().trim();
            reexports.insert(name.to_string(), module.clone());
        }
    }
    (mods, reexports)
}

fn files(src: &Path, module: &str) -> Vec<PathBuf> {
    let dir = src.join(module);
    // `module.rs`, with its submodules in `module/` if it has any (or `module/mod.rs`).
    let file = src.join(format!("{module}.rs"));
    let mut out: Vec<PathBuf> = file.is_file().then_some(file).into_iter().collect();
    if !dir.is_dir() {
        return out;
    }
    let mut todo = vec![dir];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                todo.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                let name = p.file_name().unwrap().to_string_lossy();
                // Test-only files (the sim harness and `*tests.rs`) may name anything.
                if !name.contains("tests") && name != "sim.rs" {
                    out.push(p);
                }
            }
        }
    }
    out
}

/// The code of a file without comments and without its test module.
fn code(text: &str) -> String {
    let text = match text.find("#[cfg(test)]\nmod ") {
        Some(i) => &text[..i],
        None => text,
    };
    text.lines()
        .map(|l| l.split("//").next().unwrap())
        .collect::<Vec<_>>()
        .join("\n")
}

fn edges() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let (mods, reexports) = modules(&src);
    let mut graph = BTreeMap::new();
    for m in &mods {
        let mut deps = BTreeSet::new();
        for f in files(&src, m) {
            let text = code(&std::fs::read_to_string(&f).unwrap());
            for (i, _) in text.match_indices("crate::") {
                let rest = &text[i + "crate::".len()..];
                let heads: Vec<&str> = if let Some(group) = rest.strip_prefix('{') {
                    let end = group.find('}').unwrap_or(group.len());
                    group[..end].split(',').collect()
                } else {
                    vec![rest]
                };
                for h in heads {
                    let head: String = h
                        .trim()
                        .chars()
                        .take_while(|c| c.is_alphanumeric() || *c == '_')
                        .collect();
                    let dep = if mods.contains(&head) {
                        Some(head)
                    } else {
                        reexports.get(&head).cloned()
                    };
                    if let Some(d) = dep.filter(|d| d != m) {
                        deps.insert(d);
                    }
                }
            }
        }
        graph.insert(m.clone(), deps);
    }
    graph
}

/// The modules that lie on a cycle through `start` (its strongly connected component).
fn component(graph: &BTreeMap<String, BTreeSet<String>>, start: &str) -> BTreeSet<String> {
    let reach = |from: &str, g: &dyn Fn(&str) -> Vec<String>| {
        let mut seen = BTreeSet::from([from.to_string()]);
        let mut todo = vec![from.to_string()];
        while let Some(n) = todo.pop() {
            for d in g(&n) {
                if seen.insert(d.clone()) {
                    todo.push(d);
                }
            }
        }
        seen
    };
    let forward = reach(start, &|n| graph[n].iter().cloned().collect());
    let backward = reach(start, &|n| {
        graph
            .iter()
            .filter(|(_, ds)| ds.contains(n))
            .map(|(m, _)| m.clone())
            .collect()
    });
    forward.intersection(&backward).cloned().collect()
}

#[test]
fn the_only_cycle_is_the_mailbox_core() {
    let graph = edges();
    let core: BTreeSet<String> = ["address", "inbox", "mailbox", "node", "scope"]
        .map(String::from)
        .into();
    assert_eq!(component(&graph, "node"), core, "graph: {graph:#?}");
    for m in graph.keys().filter(|m| !core.contains(*m)) {
        let c = component(&graph, m);
        assert_eq!(
            c.len(),
            1,
            "{m} is on a cycle with {c:?}; graph: {graph:#?}"
        );
    }
}

#[test]
fn the_tables_and_the_wire_depend_on_no_mailbox_or_node() {
    let graph = edges();
    for m in ["global", "proto", "codec", "remote"] {
        let bad: Vec<_> = graph[m]
            .iter()
            .filter(|d| {
                [
                    "node", "inbox", "mailbox", "address", "hook", "cluster", "handles",
                ]
                .contains(&d.as_str())
            })
            .collect();
        assert!(bad.is_empty(), "{m} depends on {bad:?}");
    }
    // Nothing depends on the cluster driver.
    for (m, deps) in &graph {
        assert!(
            !deps.contains("cluster") || m == "__fuzz",
            "{m} depends on cluster"
        );
    }
}
