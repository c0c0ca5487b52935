//! Text that came from outside, made safe to show.
//!
//! Owns: the one sanitiser for text that a server or a child process wrote and
//! that we put into a log line or an error message (AWS error messages and
//! codes, request ids, a `credential_process` helper's stderr): control
//! characters (C0, DEL and C1, which include the ANSI escape and the carriage
//! return) and the Unicode bidirectional controls (which reorder what a
//! terminal shows, "Trojan Source", CVE-2021-42574) become spaces, so the text
//! can neither forge a log line nor move the cursor; the result is trimmed and
//! cut to a number of characters, never inside a character. Pure.
//! Refuses: deciding what is secret — callers never pass secrets here.

/// The most characters kept of one piece of server text (an error message, an
/// error code, a request id): 512.
pub const MAX_SERVER_TEXT: usize = 512;

/// True for what [`clean`] replaces: `char::is_control` (C0, DEL, C1) and the
/// bidirectional embedding, override and isolate controls (U+202A–U+202E,
/// U+2066–U+2069) and marks (U+200E, U+200F, U+061C).
fn unsafe_char(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}' | '\u{061c}'
        )
}

fn replaced(text: &str) -> String {
    text.chars()
        .map(|c| if unsafe_char(c) { ' ' } else { c })
        .collect()
}

/// `text` with control characters replaced by spaces, trimmed, and cut to its
/// first `max_chars` characters (`…` appended when something was cut).
pub fn clean(text: &str, max_chars: usize) -> String {
    let text = replaced(text);
    let text = text.trim();
    match text.char_indices().nth(max_chars) {
        Some((at, _)) => format!("{}…", text[..at].trim_end()),
        None => text.to_owned(),
    }
}

/// As [`clean`], but keeps the *last* `max_chars` characters (`…` put before
/// them when something was cut): for a helper's stderr, whose reason comes last.
pub fn clean_tail(text: &str, max_chars: usize) -> String {
    let text = replaced(text);
    let text = text.trim();
    let count = text.chars().count();
    if count <= max_chars {
        return text.to_owned();
    }
    let start = text
        .char_indices()
        .nth(count - max_chars)
        .map_or(0, |(i, _)| i);
    format!("…{}", &text[start..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_become_spaces_and_the_result_is_trimmed() {
        assert_eq!(clean("m\x1b[31m", 100), "m [31m");
        assert_eq!(clean(" a\r\nFAKE LOG LINE\t", 100), "a  FAKE LOG LINE");
        assert_eq!(clean("\u{9b}x\u{7f}", 100), "x");
        assert_eq!(clean("abc\u{202e}fed\u{2066}", 100), "abc fed");
        assert_eq!(clean("", 5), "");
    }

    #[test]
    fn cuts_count_characters_not_bytes() {
        assert_eq!(clean("ééééé", 3), "ééé…");
        assert_eq!(clean("ab cd", 3), "ab…");
        assert_eq!(clean("abc", 3), "abc");
        assert_eq!(clean_tail("ééééé", 2), "…éé");
        assert_eq!(clean_tail("x\ny", 5), "x y");
        let long = "x".repeat(2000);
        assert_eq!(clean(&long, MAX_SERVER_TEXT).chars().count(), 513);
    }
}
