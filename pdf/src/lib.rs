//! fieldops-pdf: renders invoices and credit notes to PDF with the
//! [typst](https://typst.app) compiler used as a library.
//!
//! One template (`invoice.typ`) is compiled into the binary, and so are its
//! fonts (Libertinus Serif from `typst-assets`, parsed once per process). The
//! renderer reads nothing else: every other file, `read()`, `image()` or
//! package import is refused, so a render never touches the disk or the
//! network. Data enters only as typed values in `sys.inputs` — a customer
//! named `*PT #panic()*` is printed as those characters, never read as
//! markup. The output for the same input is the same bytes (no timestamp),
//! which is what lets the server store it content-addressed.
//!
//! Rendering is CPU work (a few milliseconds in release): call it from
//! `spawn_blocking` in async code.

use std::sync::LazyLock;

use typst::diag::{FileError, FileResult, SourceDiagnostic, Warned};
use typst::foundations::{Array, Bytes, Datetime, Dict, IntoValue, dict};
use typst::syntax::{FileId, RootedPath, Source, VirtualPath, VirtualRoot};
use typst::text::{Font, FontBook};
use typst::utils::LazyHash;
use typst::{Library, LibraryExt, World};
use typst_layout::PagedDocument;
use typst_pdf::PdfOptions;

mod words;

pub use words::terbilang;

/// A render that failed: the template refused the data (a bug here, not
/// the caller's input), with typst's diagnostics.
#[derive(Debug, thiserror::Error)]
#[error("the PDF template failed: {0}")]
pub struct PdfError(String);

/// A party to an invoice.
#[derive(Debug, Clone, Default)]
pub struct Party {
    pub name: String,
    pub address: String,
    /// The tax id (NPWP); empty when unknown.
    pub npwp: String,
}

/// One line, formatted for people.
#[derive(Debug, Clone, Default)]
pub struct Line {
    /// What kind of charge, in the document's language (`Jasa`).
    pub kind: String,
    pub description: String,
    pub quantity: String,
    pub unit_price: String,
    pub amount: String,
}

/// Everything printed on an invoice, already formatted (amounts as
/// `Rp1.234.567`, the date as `5 Des 2026`) and in its language.
#[derive(Debug, Clone, Default)]
pub struct Invoice {
    /// `id` or `en`: hyphenation and quotes.
    pub lang: String,
    /// `INVOICE`, `NOTA KREDIT`, …
    pub title: String,
    pub number: String,
    pub date: String,
    pub seller: Party,
    pub buyer: Party,
    /// For a credit note: the invoice it corrects (`INV/2026/000123, 5 Des 2026`).
    pub credits: String,
    pub tax_invoice_number: String,
    pub lines: Vec<Line>,
    pub subtotal: String,
    /// Whether PPN is charged (the tax rows are printed).
    pub taxed: bool,
    pub tax_base: String,
    pub tax: String,
    pub total: String,
    /// The total in words (*terbilang*); empty to leave it out.
    pub in_words: String,
    pub notes: String,
    /// Print the stamp-duty (e-meterai) notice.
    pub stamp_duty: bool,
    /// The template's fixed words, by key (see `invoice.typ`: `npwp`,
    /// `date`, `buyer`, `credits`, `tax_invoice_number`, `no`,
    /// `description`, `quantity`, `unit_price`, `amount`, `subtotal`,
    /// `tax_base`, `tax`, `total`, `in_words`, `stamp_duty`).
    pub labels: Vec<(&'static str, String)>,
}

/// The words `invoice.typ` prints that do not come from the invoice.
pub const LABELS: &[&str] = &[
    "npwp",
    "date",
    "buyer",
    "credits",
    "tax_invoice_number",
    "no",
    "description",
    "quantity",
    "unit_price",
    "amount",
    "subtotal",
    "tax_base",
    "tax",
    "total",
    "in_words",
    "stamp_duty",
];

impl Invoice {
    /// The PDF's bytes.
    pub fn render(&self) -> Result<Vec<u8>, PdfError> {
        let world = DocumentWorld::new(self.inputs());
        let Warned { output, warnings } = typst::compile::<PagedDocument>(&world);
        let document = output.map_err(|e| PdfError(describe(&e)))?;
        if !warnings.is_empty() {
            // A missing font or label is a bug of ours: fail loudly in tests.
            return Err(PdfError(describe(&warnings)));
        }
        let pdf =
            typst_pdf::pdf(&document, &PdfOptions::default()).map_err(|e| PdfError(describe(&e)));
        // The compiler's cache is global: keep what recent renders used.
        typst::comemo::evict(10);
        pdf
    }

    fn inputs(&self) -> Dict {
        let party = |p: &Party| {
            dict! { "name" => p.name.as_str(), "address" => p.address.as_str(), "npwp" => p.npwp.as_str() }
                .into_value()
        };
        let lines: Array = self
            .lines
            .iter()
            .map(|l| {
                dict! {
                    "kind" => l.kind.as_str(), "description" => l.description.as_str(),
                    "quantity" => l.quantity.as_str(), "unit_price" => l.unit_price.as_str(),
                    "amount" => l.amount.as_str(),
                }
                .into_value()
            })
            .collect();
        let mut labels = Dict::new();
        for key in LABELS {
            let text = self
                .labels
                .iter()
                .find(|(k, _)| k == key)
                .map_or(String::new(), |(_, v)| v.clone());
            labels.insert((*key).into(), text.into_value());
        }
        let text = |s: &str| s.into_value();
        dict! {
            "lang" => text(&self.lang), "title" => text(&self.title),
            "number" => text(&self.number), "date" => text(&self.date),
            "seller" => party(&self.seller), "buyer" => party(&self.buyer),
            "credits" => text(&self.credits),
            "tax_invoice_number" => text(&self.tax_invoice_number),
            "lines" => lines, "subtotal" => text(&self.subtotal), "taxed" => self.taxed,
            "tax_base" => text(&self.tax_base), "tax" => text(&self.tax),
            "total" => text(&self.total), "in_words" => text(&self.in_words),
            "notes" => text(&self.notes), "stamp_duty" => self.stamp_duty,
            "labels" => labels,
        }
    }
}

/// The embedded fonts, parsed once per process.
static FONTS: LazyLock<(LazyHash<FontBook>, Vec<Font>)> = LazyLock::new(|| {
    let fonts: Vec<Font> = typst_assets::fonts()
        .flat_map(|data| Font::iter(Bytes::new(data)))
        .collect();
    (LazyHash::new(FontBook::from_fonts(&fonts)), fonts)
});

const TEMPLATE: &str = include_str!("invoice.typ");

/// One fixed id for the template: typst interns file ids for the life of
/// the process, so a fresh one per render would run out.
static MAIN: LazyLock<FileId> = LazyLock::new(|| {
    let path = VirtualPath::new("/invoice.typ").unwrap_or_else(|_| unreachable!());
    FileId::new(RootedPath::new(VirtualRoot::Project, path))
});

/// What the compiler may see: the template and the fonts, nothing else.
struct DocumentWorld {
    library: LazyHash<Library>,
    main: Source,
}

impl DocumentWorld {
    fn new(inputs: Dict) -> Self {
        Self {
            library: LazyHash::new(Library::builder().with_inputs(inputs).build()),
            main: Source::new(*MAIN, TEMPLATE.to_owned()),
        }
    }
}

impl World for DocumentWorld {
    fn library(&self) -> &LazyHash<Library> {
        &self.library
    }

    fn book(&self) -> &LazyHash<FontBook> {
        &FONTS.0
    }

    fn main(&self) -> FileId {
        self.main.id()
    }

    fn source(&self, id: FileId) -> FileResult<Source> {
        if id == self.main.id() {
            Ok(self.main.clone())
        } else {
            Err(FileError::AccessDenied)
        }
    }

    fn file(&self, _id: FileId) -> FileResult<Bytes> {
        Err(FileError::AccessDenied)
    }

    fn font(&self, index: usize) -> Option<Font> {
        FONTS.1.get(index).cloned()
    }

    fn today(&self, _offset: Option<typst::foundations::Duration>) -> Option<Datetime> {
        // Dates are printed from the data, never from the clock.
        None
    }
}

fn describe(diagnostics: &[SourceDiagnostic]) -> String {
    diagnostics
        .iter()
        .map(|d| d.message.to_string())
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn sample() -> Invoice {
        Invoice {
            lang: "id".into(),
            title: "INVOICE".into(),
            number: "INV/2026/000001".into(),
            date: "5 Des 2026".into(),
            seller: Party {
                name: "PT Fieldops".into(),
                address: "Jakarta".into(),
                npwp: "0000000000000000".into(),
            },
            buyer: Party {
                name: "*PT #panic(\"x\") $y$*".into(),
                address: "Jl. Sudirman".into(),
                npwp: String::new(),
            },
            lines: vec![Line {
                kind: "Jasa".into(),
                description: "Perbaikan <b> #read(\"/etc/passwd\")".into(),
                quantity: "2.5".into(),
                unit_price: "Rp150.000".into(),
                amount: "Rp375.000".into(),
            }],
            subtotal: "Rp375.000".into(),
            taxed: true,
            tax_base: "Rp343.750".into(),
            tax: "Rp41.250".into(),
            total: "Rp416.250".into(),
            in_words: terbilang(416_250),
            labels: LABELS.iter().map(|k| (*k, k.to_uppercase())).collect(),
            ..Invoice::default()
        }
    }

    #[test]
    fn renders_a_pdf_and_the_same_input_gives_the_same_bytes() {
        let invoice = sample();
        let first = invoice.render().unwrap();
        assert!(first.starts_with(b"%PDF-"));
        // For a look: pdftoppm -png -r 60 <this file> page
        let _ = std::fs::write(
            std::env::temp_dir().join("fieldops-invoice-sample.pdf"),
            &first,
        );
        assert!(first.len() > 5_000, "{} bytes", first.len());
        assert_eq!(invoice.render().unwrap(), first);
    }

    #[test]
    fn text_from_the_data_is_never_read_as_markup() {
        // The buyer's name holds a call that would fail the compile if it
        // were evaluated; the line a read that would be refused.
        let mut invoice = sample();
        invoice.notes = "#panic(\"no\")".into();
        assert!(invoice.render().is_ok());
    }
}
