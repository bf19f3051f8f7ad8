//! The README's code is the crate's doc tests: every Rust block of its "In code" section
//! appears, line for line, in the docs of `src/lib.rs` (which compile as doc tests).

#[test]
fn the_readmes_code_is_compiled_as_doc_tests() {
    let root = env!("CARGO_MANIFEST_DIR");
    let readme = std::fs::read_to_string(format!("{root}/README.md")).expect("README");
    let lib = std::fs::read_to_string(format!("{root}/src/lib.rs")).expect("lib.rs");
    let docs: String = lib
        .lines()
        .filter_map(|l| l.strip_prefix("//!"))
        .map(|l| l.strip_prefix(' ').unwrap_or(l))
        .collect::<Vec<_>>()
        .join("\n");
    let section = readme
        .split("## In code")
        .nth(1)
        .and_then(|s| s.split("\n## ").next())
        .expect("an In code section");
    let blocks: Vec<&str> = section
        .split("```rust\n")
        .skip(1)
        .filter_map(|b| b.split("```").next())
        .collect();
    assert_eq!(blocks.len(), 2, "a server, then the mailbox layer");
    for b in blocks {
        assert!(docs.contains(b.trim_end()), "not in src/lib.rs docs:\n{b}");
    }
}
