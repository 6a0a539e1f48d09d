//! What text fieldops accepts from people, on every path: HTTP bodies and
//! query strings, sync commands and document edits, WhatsApp messages.
//!
//! One rule, here, so the server's edge, its sync executor and the phone's
//! own pre-checks cannot disagree:
//!
//! * **No control characters** but tab, line feed and carriage return in
//!   running text (NUL, the other C0 codes, DEL and the C1 block). They
//!   carry no meaning for a person, break terminals and logs, and
//!   PostgreSQL refuses NUL in `TEXT` outright.
//! * **Names and other one-line labels** also refuse line breaks and the
//!   invisible formatting characters used to disguise text: the bidi
//!   embeddings, overrides and isolates (`U+202A–202E`, `U+2066–2069`,
//!   which can make `"Budi\u{202E}nimdA"` read as "BudiAdmin"), and the zero-width
//!   and word-joiner characters (`U+200B–200F`, `U+2060–2064`, `U+FEFF`),
//!   which make two names that look alike differ.
//!
//! Inbound messages that must never be refused (a customer's WhatsApp
//! text) are [`sanitize`]d instead: the forbidden characters are dropped.

/// How a piece of text is used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// Running text: descriptions, messages, notes. Tabs and line breaks allowed.
    Paragraph,
    /// A one-line label: names, titles, subjects, search terms.
    Line,
}

/// Why a text was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextProblem {
    /// Empty or only whitespace where text is required.
    Blank,
    /// More characters than allowed.
    TooLong { max: usize },
    /// A control character (or, in a [`Shape::Line`], a line break).
    Control,
    /// Invisible formatting (bidi overrides, zero-width characters) in a
    /// [`Shape::Line`].
    InvisibleFormatting,
}

impl TextProblem {
    /// A short English description, for error details and logs.
    pub fn describe(self) -> String {
        match self {
            TextProblem::Blank => "must not be empty".into(),
            TextProblem::TooLong { max } => format!("must be at most {max} characters"),
            TextProblem::Control => "must not contain control characters".into(),
            TextProblem::InvisibleFormatting => {
                "must not contain invisible formatting characters (bidi overrides, zero-width)"
                    .into()
            }
        }
    }
}

/// A control character no text may hold: C0 but tab, LF and CR; DEL; C1.
pub fn is_forbidden_control(c: char) -> bool {
    c.is_control() && !matches!(c, '\t' | '\n' | '\r')
}

/// Invisible characters that change how a line reads or compares.
pub fn is_invisible_formatting(c: char) -> bool {
    matches!(c,
        '\u{200B}'..='\u{200F}'
        | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{2064}'
        | '\u{2066}'..='\u{2069}'
        | '\u{FEFF}'
        | '\u{180E}')
}

/// Checks `text` (as given, untrimmed) against the rule for `shape` and at
/// most `max_chars` characters; `required` refuses blank text.
pub fn check(
    text: &str,
    shape: Shape,
    max_chars: usize,
    required: bool,
) -> Result<(), TextProblem> {
    if required && text.trim().is_empty() {
        return Err(TextProblem::Blank);
    }
    let mut count = 0;
    for c in text.chars() {
        count += 1;
        if is_forbidden_control(c) || (shape == Shape::Line && matches!(c, '\n' | '\r' | '\t')) {
            return Err(TextProblem::Control);
        }
        if shape == Shape::Line && is_invisible_formatting(c) {
            return Err(TextProblem::InvisibleFormatting);
        }
    }
    if count > max_chars {
        return Err(TextProblem::TooLong { max: max_chars });
    }
    Ok(())
}

/// Whether `text` holds anything no text may hold (for values checked only
/// for that, such as query parameters and passwords).
pub fn has_forbidden_control(text: &str) -> bool {
    text.chars().any(is_forbidden_control)
}

/// `text` without the characters no text may hold, trimmed: for messages
/// that are accepted whatever they contain.
pub fn sanitize(text: &str) -> String {
    text.chars()
        .filter(|c| !is_forbidden_control(*c))
        .collect::<String>()
        .trim()
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paragraphs_keep_line_breaks_and_refuse_nul() {
        assert_eq!(check("a\nb\tc\r\n", Shape::Paragraph, 10, true), Ok(()));
        assert_eq!(
            check("a\u{0}b", Shape::Paragraph, 10, true),
            Err(TextProblem::Control)
        );
        assert_eq!(
            check("a\u{7F}", Shape::Paragraph, 10, true),
            Err(TextProblem::Control)
        );
        assert_eq!(
            check("a\u{85}", Shape::Paragraph, 10, true),
            Err(TextProblem::Control)
        );
        assert_eq!(
            check("   ", Shape::Paragraph, 10, true),
            Err(TextProblem::Blank)
        );
        assert_eq!(check("", Shape::Paragraph, 10, false), Ok(()));
        assert_eq!(
            check("ééééé", Shape::Paragraph, 4, true),
            Err(TextProblem::TooLong { max: 4 })
        );
    }

    #[test]
    fn lines_refuse_breaks_and_disguises() {
        assert_eq!(check("Budi Santoso", Shape::Line, 120, true), Ok(()));
        assert_eq!(check("Siti Nurhaliza ✓", Shape::Line, 120, true), Ok(()));
        assert_eq!(
            check("Budi\nAdmin", Shape::Line, 120, true),
            Err(TextProblem::Control)
        );
        for disguise in [
            "Budi\u{202E}nimdA",
            "Bu\u{200B}di",
            "\u{FEFF}Budi",
            "a\u{2066}b",
        ] {
            assert_eq!(
                check(disguise, Shape::Line, 120, true),
                Err(TextProblem::InvisibleFormatting),
                "{disguise:?}"
            );
        }
        // Running text may quote such characters (a pasted RTL message).
        assert_eq!(check("a\u{200F}b", Shape::Paragraph, 10, true), Ok(()));
    }

    #[test]
    fn sanitizing_drops_only_what_no_text_may_hold() {
        assert_eq!(sanitize(" halo\u{0} pak\n "), "halo pak");
        assert_eq!(sanitize("\u{0}\u{1} "), "");
        assert_eq!(sanitize("baris 1\nbaris 2"), "baris 1\nbaris 2");
    }
}
