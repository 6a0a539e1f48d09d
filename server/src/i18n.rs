//! The one catalogue of strings people read, in Bahasa Indonesia and
//! English: `server/locales/{id,en}.ftl`, in [Fluent] syntax, compiled into
//! the binary.
//!
//! The console renders every label through [`Lang::text`]; a test checks
//! that both languages define the same messages, so a string added in one
//! and forgotten in the other fails the suite instead of reaching a user.
//!
//! `fluent-bundle` is used directly rather than through `fluent-templates`:
//! two embedded files need no compile-time directory walker, and the
//! bundles are built once, on first use.
//!
//! [Fluent]: https://projectfluent.org/

use std::borrow::Cow;
use std::sync::LazyLock;

use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource, FluentValue};
use unic_langid::LanguageIdentifier;

/// A language the catalogue speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Lang {
    /// Bahasa Indonesia: the default, for the people fieldops is for.
    #[default]
    Id,
    English,
}

impl Lang {
    pub const ALL: [Lang; 2] = [Lang::Id, Lang::English];

    /// The BCP 47 code: `id` or `en`.
    pub fn code(self) -> &'static str {
        match self {
            Lang::Id => "id",
            Lang::English => "en",
        }
    }

    /// `id`, `id-ID`, `en`, `en-GB`, … (case-insensitive); `None` for a
    /// language the catalogue does not speak.
    pub fn parse(tag: &str) -> Option<Lang> {
        let primary = tag.trim().split(['-', '_']).next()?.to_ascii_lowercase();
        match primary.as_str() {
            "id" | "in" => Some(Lang::Id),
            "en" => Some(Lang::English),
            _ => None,
        }
    }

    /// The best language for an `Accept-Language` header: the spoken one
    /// with the highest weight (ties go to the earlier entry); the default
    /// when none is spoken or there is no header.
    pub fn negotiate(accept_language: Option<&str>) -> Lang {
        let Some(header) = accept_language else {
            return Lang::default();
        };
        let mut best: Option<(Lang, f32)> = None;
        for entry in header.split(',') {
            let mut parts = entry.split(';');
            let Some(lang) = parts.next().and_then(Lang::parse) else {
                continue;
            };
            let weight = parts
                .find_map(|p| p.trim().strip_prefix("q="))
                .and_then(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            if weight > 0.0 && best.is_none_or(|(_, w)| weight > w) {
                best = Some((lang, weight));
            }
        }
        best.map_or_else(Lang::default, |(lang, _)| lang)
    }

    /// The message `key`; the key itself if the catalogue lacks it (which
    /// the catalogue test rules out for every key the code names).
    pub fn text(self, key: &str) -> String {
        self.format(key, None)
    }

    /// The message `key` with its `{ $name }` placeables filled in.
    pub fn text_with(self, key: &str, args: &[(&str, Arg<'_>)]) -> String {
        let mut fluent = FluentArgs::new();
        for (name, value) in args {
            let value = match value {
                Arg::Text(s) => FluentValue::String(Cow::Borrowed(s)),
                Arg::Number(n) => FluentValue::from(*n),
            };
            fluent.set(*name, value);
        }
        self.format(key, Some(&fluent))
    }

    fn format(self, key: &str, args: Option<&FluentArgs<'_>>) -> String {
        let bundle = &CATALOGUE[self as usize];
        let Some(pattern) = bundle.get_message(key).and_then(|m| m.value()) else {
            return key.to_owned();
        };
        let mut errors = Vec::new();
        let text = bundle.format_pattern(pattern, args, &mut errors);
        if !errors.is_empty() {
            tracing::warn!(
                key,
                lang = self.code(),
                ?errors,
                "catalogue message failed to format"
            );
        }
        text.into_owned()
    }

    /// Whether the catalogue has `key` in this language.
    pub fn has(self, key: &str) -> bool {
        CATALOGUE[self as usize].has_message(key)
    }
}

/// `5 Des 2026` / `5 Dec 2026` for a `YYYY-MM-DD` date (the text itself
/// when it is not one).
pub fn date(lang: Lang, iso: &str) -> String {
    iso.parse::<jiff::civil::Date>()
        .map_or_else(|_| iso.to_owned(), |d| date_label(lang, d))
}

/// A date as people read it in `lang`: `17 Agu 2026`.
pub fn date_label(lang: Lang, date: jiff::civil::Date) -> String {
    const ID: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "Mei", "Jun", "Jul", "Agu", "Sep", "Okt", "Nov", "Des",
    ];
    const EN: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let months = if lang == Lang::Id { ID } else { EN };
    let month = months[usize::try_from(date.month() - 1).unwrap_or(0)];
    format!("{} {month} {}", date.day(), date.year())
}

/// A value for a message's placeable.
#[derive(Debug, Clone, Copy)]
pub enum Arg<'a> {
    Text(&'a str),
    Number(i64),
}

const SOURCES: [(&str, &str); 2] = [
    ("id", include_str!("../locales/id.ftl")),
    ("en", include_str!("../locales/en.ftl")),
];

static CATALOGUE: LazyLock<[FluentBundle<FluentResource>; 2]> =
    LazyLock::new(|| SOURCES.map(|(code, source)| bundle(code, source)));

fn bundle(code: &str, source: &str) -> FluentBundle<FluentResource> {
    let lang: LanguageIdentifier = code.parse().unwrap_or_default();
    let mut bundle = FluentBundle::new_concurrent(vec![lang]);
    // The text goes into HTML and plain messages: no Unicode isolation
    // marks around placeables.
    bundle.set_use_isolating(false);
    let resource =
        FluentResource::try_new(source.to_owned()).unwrap_or_else(|(resource, errors)| {
            tracing::error!(code, ?errors, "catalogue has syntax errors");
            resource
        });
    if let Err(errors) = bundle.add_resource(resource) {
        tracing::error!(code, ?errors, "catalogue has duplicate messages");
    }
    bundle
}

/// The message ids of one catalogue source, in order.
pub fn message_ids(lang: Lang) -> Vec<String> {
    let source = SOURCES[lang as usize].1;
    match FluentResource::try_new(source.to_owned()) {
        Ok(resource) => resource
            .entries()
            .filter_map(|entry| match entry {
                fluent_syntax::ast::Entry::Message(m) => Some(m.id.name.to_owned()),
                _ => None,
            })
            .collect(),
        Err(_) => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_languages_say_the_same_things() {
        let id = message_ids(Lang::Id);
        let en = message_ids(Lang::English);
        assert!(!id.is_empty(), "the Indonesian catalogue parses");
        for (lang, source) in SOURCES {
            assert!(
                FluentResource::try_new(source.to_owned()).is_ok(),
                "{lang}.ftl has syntax errors"
            );
        }
        let missing_en: Vec<_> = id.iter().filter(|k| !en.contains(k)).collect();
        let missing_id: Vec<_> = en.iter().filter(|k| !id.contains(k)).collect();
        assert!(missing_en.is_empty(), "missing in en.ftl: {missing_en:?}");
        assert!(missing_id.is_empty(), "missing in id.ftl: {missing_id:?}");
    }

    #[test]
    fn accept_language_picks_the_heaviest_spoken_language() {
        assert_eq!(Lang::negotiate(None), Lang::Id);
        assert_eq!(Lang::negotiate(Some("en-US,en;q=0.9")), Lang::English);
        assert_eq!(Lang::negotiate(Some("fr, en;q=0.5, id;q=0.8")), Lang::Id);
        assert_eq!(Lang::negotiate(Some("de, fr")), Lang::Id);
        assert_eq!(Lang::negotiate(Some("EN-gb")), Lang::English);
        assert_eq!(Lang::negotiate(Some("en;q=0, id")), Lang::Id);
    }

    #[test]
    fn placeables_are_filled_without_isolation_marks() {
        let text = Lang::English.text_with(
            "console-seats",
            &[("taken", Arg::Number(1)), ("quota", Arg::Number(2))],
        );
        assert_eq!(text, "1 of 2 technicians");
        assert_eq!(Lang::Id.text("nav-dispatch"), "Penugasan");
        assert_eq!(Lang::English.text("no-such-key"), "no-such-key");
    }
}
