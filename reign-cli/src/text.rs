//! Text from a node, made safe for a terminal.

/// `s` with every control character but the newline, and every bidirectional override,
/// written as a Rust escape (`\u{1b}`), so a node's text cannot move the cursor, rewrite a
/// line or reorder what the terminal shows.
pub(crate) fn clean(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if (c.is_control() && c != '\n')
            || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
        {
            out.extend(c.escape_unicode());
        } else {
            out.push(c);
        }
    }
    out
}

/// [`clean`] for one line: a newline is escaped too, so a node's words cannot start a line
/// of their own (an error message is one line).
pub(crate) fn clean_line(s: &str) -> String {
    clean(s).replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    #[test]
    fn controls_and_overrides_are_escaped_newlines_kept() {
        let s = super::clean("a\u{1b}[2Jb\nc\u{202e}d\re");
        assert_eq!(s, "a\\u{1b}[2Jb\nc\\u{202e}d\\u{d}e");
        assert_eq!(super::clean_line("x\nrenewed b"), "x\\nrenewed b");
    }
}
