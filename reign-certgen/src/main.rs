//! The `reign-certgen` command-line tool.
fn main() {}
