//! Log lines a peer can trigger, on a fixed budget: [`warn_limited!`](crate::warn_limited)
//! and [`Limiter`], and [`Escaped`], the one way a peer's text reaches a log line, an event or
//! a terminal.
//!
//! Anything a peer (or an outsider) can make a node log goes through a per-call-site
//! [`Limiter`]: at most [`BURST`] lines per [`WINDOW`], then silence until the window ends;
//! the next line that gets through says how many were suppressed (`suppressed = N`). So no
//! peer can make a node write log lines faster than `BURST` per window per call site, and
//! nothing is lost silently: the count is kept.

use std::fmt;
use std::sync::Mutex;
use std::sync::PoisonError;
use std::time::{Duration, Instant};

/// Lines one call site may write per [`WINDOW`].
pub const BURST: u32 = 10;
/// The window of [`BURST`].
pub const WINDOW: Duration = Duration::from_secs(10);

/// A budget of [`BURST`] events per [`WINDOW`], with a count of what it refused.
#[derive(Debug)]
pub struct Limiter {
    state: Mutex<Option<Window>>,
}

#[derive(Debug)]
struct Window {
    start: Instant,
    admitted: u32,
    suppressed: u64,
}

impl Limiter {
    /// A fresh limiter (usable in a `static`).
    pub const fn new() -> Self {
        Self {
            state: Mutex::new(None),
        }
    }

    /// Whether one more event may be logged now. `Some(n)`: yes, and `n` events were refused
    /// since the last admitted one; `None`: no (it is counted).
    pub fn admit(&self) -> Option<u64> {
        self.admit_at(Instant::now())
    }

    /// [`Limiter::admit`] at a given instant (for tests on a virtual clock).
    pub fn admit_at(&self, now: Instant) -> Option<u64> {
        let mut st = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let w = st.get_or_insert(Window {
            start: now,
            admitted: 0,
            suppressed: 0,
        });
        if now.saturating_duration_since(w.start) >= WINDOW {
            w.start = now;
            w.admitted = 0;
        }
        if w.admitted < BURST {
            w.admitted += 1;
            Some(std::mem::take(&mut w.suppressed))
        } else {
            w.suppressed += 1;
            None
        }
    }
}

impl Default for Limiter {
    fn default() -> Self {
        Self::new()
    }
}

/// `tracing::warn!` on a budget: at most [`BURST`] lines per [`WINDOW`] from this call site;
/// the lines that get through carry `suppressed`, the count refused before them.
///
/// ```
/// for i in 0..1000 {
///     reign_tls::warn_limited!(attempt = i, "refused a connection");
/// }
/// ```
#[macro_export]
macro_rules! warn_limited {
    ($($arg:tt)+) => { $crate::__log_limited!(warn, $($arg)+) };
}

/// [`warn_limited!`] at debug level.
#[macro_export]
macro_rules! debug_limited {
    ($($arg:tt)+) => { $crate::__log_limited!(debug, $($arg)+) };
}

/// [`warn_limited!`] at info level (link and node events a peer can cause by reconnecting).
#[macro_export]
macro_rules! info_limited {
    ($($arg:tt)+) => { $crate::__log_limited!(info, $($arg)+) };
}

/// The three above: a [`Limiter`] of its own per call site (a `static` in the expansion).
#[doc(hidden)]
#[macro_export]
macro_rules! __log_limited {
    ($level:ident, $($arg:tt)+) => {{
        static LIMITER: $crate::ratelimit::Limiter = $crate::ratelimit::Limiter::new();
        if let Some(suppressed) = LIMITER.admit() {
            $crate::ratelimit::__tracing::$level!(suppressed, $($arg)+);
        }
    }};
}

#[doc(hidden)]
pub use tracing as __tracing;

/// The most characters of a peer's text that [`Escaped`] shows; the rest is summarized as
/// `…(+N bytes)`.
pub const MAX_SHOWN: usize = 200;

/// A peer's text, made safe to print: control characters (newlines and ESC included),
/// bidirectional controls and marks, invisible format characters (zero-width spaces and
/// joiners, the byte order mark, soft hyphens) and backslashes are written as Rust escapes
/// (`\n`, `\u{1b}`, `\u{200b}`, `\\`), and anything past [`MAX_SHOWN`] characters is cut.
/// Printing it can never start a new log line, move the cursor, reorder what a terminal
/// shows or hide characters in it.
///
/// ```
/// use reign_tls::ratelimit::Escaped;
/// assert_eq!(Escaped("a\nb\x1b[2J").to_string(), "a\\nb\\u{1b}[2J");
/// ```
#[derive(Clone, Copy)]
pub struct Escaped<'a>(pub &'a str);

impl fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.char_indices().nth(MAX_SHOWN) {
            None => EscapedAll(self.0).fmt(f),
            Some((cut, _)) => {
                EscapedAll(&self.0[..cut]).fmt(f)?;
                write!(f, "…(+{} bytes)", self.0.len() - cut)
            }
        }
    }
}

/// [`Escaped`] without the cut: the whole text, for a program's own output of what peers
/// said (a chat line), where length is the program's business but control characters are not.
///
/// ```
/// use reign_tls::ratelimit::EscapedAll;
/// assert_eq!(EscapedAll("bob: hi\r\nalice: lies").to_string(), "bob: hi\\r\\nalice: lies");
/// ```
#[derive(Clone, Copy)]
pub struct EscapedAll<'a>(pub &'a str);

impl fmt::Display for EscapedAll<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_escaped(f, self.0, needs_escape)
    }
}

/// Writes `text` with each character `escape` picks as its Rust escape.
fn write_escaped(
    f: &mut fmt::Formatter<'_>,
    text: &str,
    escape: impl Fn(char) -> bool,
) -> fmt::Result {
    use fmt::Write;
    for c in text.chars() {
        if escape(c) {
            for e in c.escape_default() {
                f.write_char(e)?;
            }
        } else {
            f.write_char(c)?;
        }
    }
    Ok(())
}

/// Text made of parts that already escape what peers sent (a node event's `Display`, a
/// reign error's), for a program's output: control and bidirectional characters are still
/// escaped, so a part that did not escape its text cannot start a line or drive a terminal,
/// but backslashes are left as they are, so text escaped once is not escaped twice (a
/// peer's newline shows as `\n`, not `\\n`, as [`EscapedAll`] over it would show it).
///
/// ```
/// use reign_tls::ratelimit::{Escaped, EscapedControls};
/// let event = format!("b refused us, saying: {}", Escaped("a\nb"));
/// assert_eq!(EscapedControls(&event).to_string(), "b refused us, saying: a\\nb");
/// assert_eq!(EscapedControls("raw\nline").to_string(), "raw\\nline");
/// ```
#[derive(Clone, Copy)]
pub struct EscapedControls<'a>(pub &'a str);

impl fmt::Display for EscapedControls<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_escaped(f, self.0, |c| c != '\\' && needs_escape(c))
    }
}

impl fmt::Debug for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{self}\"")
    }
}

/// Bytes from a peer that should be text: [`Escaped`] if UTF-8, else shown as escaped bytes.
#[derive(Clone, Copy)]
pub struct EscapedBytes<'a>(pub &'a [u8]);

impl fmt::Display for EscapedBytes<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match std::str::from_utf8(self.0) {
            Ok(s) => Escaped(s).fmt(f),
            Err(_) => {
                let shown = &self.0[..self.0.len().min(MAX_SHOWN)];
                for b in shown {
                    write!(f, "{}", std::ascii::escape_default(*b))?;
                }
                if shown.len() < self.0.len() {
                    write!(f, "…(+{} bytes)", self.0.len() - shown.len())?;
                }
                Ok(())
            }
        }
    }
}

fn needs_escape(c: char) -> bool {
    c == '\\'
        || c.is_control()
        || matches!(c,
            // Bidirectional embeddings, overrides, isolates and marks.
            '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}' | '\u{061c}'
            // Line and paragraph separators.
            | '\u{2028}' | '\u{2029}'
            // Invisible format characters: zero-width space, joiners, word joiner and
            // invisible operators, the byte order mark, the soft hyphen, the Mongolian vowel
            // separator, interlinear annotation marks, and the deprecated format controls.
            | '\u{200b}'..='\u{200d}' | '\u{2060}'..='\u{2064}' | '\u{206a}'..='\u{206f}'
            | '\u{feff}' | '\u{00ad}' | '\u{180e}' | '\u{fff9}'..='\u{fffb}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaped_controls_escapes_what_was_not_escaped_and_nothing_twice() {
        let hostile = "x\r\nevent: z up\u{1b}[2J\u{202e}\\";
        let once = format!("b refused us, saying: {}", Escaped(hostile));
        // Escaped once: shown as it was, backslashes included.
        assert_eq!(EscapedControls(&once).to_string(), once);
        // Not escaped at all: controls and bidi escaped, a backslash left alone.
        let shown = EscapedControls(hostile).to_string();
        assert_eq!(shown, "x\\r\\nevent: z up\\u{1b}[2J\\u{202e}\\");
        assert!(!shown.chars().any(|c| c.is_control() || c == '\u{202e}'));
    }

    #[test]
    fn budget_per_window_with_count() {
        let l = Limiter::new();
        let t0 = Instant::now();
        for _ in 0..BURST {
            assert_eq!(l.admit_at(t0), Some(0));
        }
        for _ in 0..1000 {
            assert_eq!(l.admit_at(t0 + Duration::from_secs(1)), None);
        }
        assert_eq!(l.admit_at(t0 + WINDOW), Some(1000));
        assert_eq!(l.admit_at(t0 + WINDOW), Some(0));
    }

    #[test]
    fn escapes_what_could_forge_a_line() {
        assert_eq!(
            Escaped("x\r\nevent: z up\u{202e}\\").to_string(),
            "x\\r\\nevent: z up\\u{202e}\\\\"
        );
        assert_eq!(Escaped("plain ünïcode").to_string(), "plain ünïcode");
        let long = "a".repeat(MAX_SHOWN + 5);
        assert_eq!(
            Escaped(&long).to_string(),
            format!("{}…(+5 bytes)", "a".repeat(MAX_SHOWN))
        );
        assert_eq!(EscapedBytes(b"a\xff\n").to_string(), "a\\xff\\n");
        assert_eq!(EscapedBytes(b"ok\n").to_string(), "ok\\n");
        // Bidirectional marks and invisible format characters (an outside test found these
        // passing raw): each escaped, visible text untouched.
        for c in [
            '\u{200e}', '\u{200f}', '\u{061c}', '\u{200b}', '\u{200c}', '\u{200d}', '\u{2060}',
            '\u{feff}', '\u{00ad}', '\u{180e}', '\u{fffb}', '\u{2066}', '\u{0085}',
        ] {
            let shown = Escaped(&format!("a{c}b")).to_string();
            assert_eq!(shown, format!("a{}b", c.escape_default()), "{c:?}");
        }
        assert_eq!(Escaped("é ü 漢字 🙂").to_string(), "é ü 漢字 🙂");
    }
}
