//! CSV for spreadsheet users, streamed: UTF-8 with a byte-order mark (the
//! only way Excel reads UTF-8 by double-click), CRLF line ends, RFC 4180
//! quoting, and `,` or `;` between cells (`;` is the list separator of
//! Indonesian Excel, whose decimal separator is `,`: decimals follow).
//!
//! A cell a person typed (a rating comment) that starts like a formula
//! (`=`, `+`, `-`, `@`, tab, CR) is written with a leading `'`, so a
//! spreadsheet shows it instead of running it (OWASP's CSV injection).

use std::borrow::Cow;
use std::convert::Infallible;

use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use futures_util::{Stream, StreamExt as _};

/// What separates cells.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Separator {
    #[default]
    Comma,
    Semicolon,
}

impl Separator {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "comma" | "," => Some(Self::Comma),
            "semicolon" | ";" => Some(Self::Semicolon),
            _ => None,
        }
    }

    fn char(self) -> char {
        match self {
            Separator::Comma => ',',
            Separator::Semicolon => ';',
        }
    }

    /// A decimal as this dialect writes it (`57.14` or `57,14`).
    pub fn decimal(self, value: Option<f64>, places: usize) -> String {
        let Some(v) = value else {
            return String::new();
        };
        let text = format!("{v:.places$}");
        match self {
            Separator::Comma => text,
            Separator::Semicolon => text.replace('.', ","),
        }
    }
}

/// The byte-order mark every file starts with.
pub const BOM: &str = "\u{feff}";

/// `text` made safe to open in a spreadsheet (see the module docs).
pub fn neutralised(text: &str) -> Cow<'_, str> {
    match text.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => Cow::Owned(format!("'{text}")),
        _ => Cow::Borrowed(text),
    }
}

/// One record, CRLF-terminated: cells quoted when they hold the separator,
/// a quote or a line break (quotes doubled inside).
pub fn record<I, S>(cells: I, sep: Separator) -> String
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    let sep = sep.char();
    let mut out = String::new();
    for (i, cell) in cells.into_iter().enumerate() {
        if i > 0 {
            out.push(sep);
        }
        let cell = neutralised(cell.as_ref());
        if cell.contains([sep, '"', '\n', '\r']) {
            out.push('"');
            out.push_str(&cell.replace('"', "\"\""));
            out.push('"');
        } else {
            out.push_str(&cell);
        }
    }
    if out.is_empty() {
        // A record of one empty cell: a blank line would be skipped.
        out.push_str("\"\"");
    }
    out.push_str("\r\n");
    out
}

/// A streamed `text/csv` download named `filename`: the BOM, then each
/// record as it comes, never the whole file in memory.
pub fn download<S>(filename: &str, records: S) -> Response
where
    S: Stream<Item = String> + Send + 'static,
{
    let body = futures_util::stream::once(async { String::from(BOM) })
        .chain(records)
        .map(|r| Ok::<_, Infallible>(Bytes::from(r)));
    let mut response = Body::from_stream(body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    let disposition = format!("attachment; filename=\"{filename}\"");
    if let Ok(value) = HeaderValue::from_str(&disposition) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    response
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use proptest::prelude::*;

    use super::*;

    /// Reads `text` back with the `csv` crate, as a spreadsheet would (it
    /// drops the byte-order mark).
    fn read(text: &str, sep: Separator) -> Vec<Vec<String>> {
        csv::ReaderBuilder::new()
            .has_headers(false)
            .delimiter(sep.char() as u8)
            .flexible(false)
            .from_reader(text.as_bytes())
            .records()
            .map(|r| r.unwrap().iter().map(str::to_owned).collect())
            .collect()
    }

    fn table() -> impl Strategy<Value = Vec<Vec<String>>> {
        // Any text: separators, quotes, CR/LF, formulas, emoji, Bahasa.
        let cell = prop_oneof![
            "[a-zA-Z0-9 ,;\"'\r\n=+@\t-]{0,12}",
            any::<String>(),
            Just(String::from("Bagus sekali, terima kasih!")),
        ];
        (1usize..6).prop_flat_map(move |width| {
            proptest::collection::vec(
                proptest::collection::vec(cell.clone(), width..=width),
                1..20,
            )
        })
    }

    proptest! {
        #[test]
        fn an_exported_table_reads_back_cell_for_cell(
            rows in table(),
            semicolon in any::<bool>(),
        ) {
            let sep = if semicolon { Separator::Semicolon } else { Separator::Comma };
            let mut text = String::from(BOM);
            for row in &rows {
                text.push_str(&record(row, sep));
            }
            let expected: Vec<Vec<String>> = rows
                .iter()
                .map(|r| r.iter().map(|c| neutralised(c).into_owned()).collect())
                .collect();
            prop_assert_eq!(read(&text, sep), expected);
        }
    }

    #[test]
    fn formulas_are_shown_not_run_and_decimals_follow_the_dialect() {
        assert_eq!(
            record(["=HYPERLINK(\"x\")", "a;b"], Separator::Semicolon),
            "\"'=HYPERLINK(\"\"x\"\")\";\"a;b\"\r\n"
        );
        assert_eq!(record(["a,b", "c"], Separator::Comma), "\"a,b\",c\r\n");
        assert_eq!(Separator::Semicolon.decimal(Some(57.142), 1), "57,1");
        assert_eq!(Separator::Comma.decimal(Some(57.142), 1), "57.1");
        assert_eq!(Separator::Comma.decimal(None, 1), "");
    }
}
