//! The one catalogue of strings people read, in Bahasa Indonesia and
//! English: `server/locales/{id,en}.ftl`, in [Fluent] syntax, compiled into
//! the binary.
//!
//! The console renders every label through [`Lang::text`]; a test checks
//! that both languages define the same messages, so a string added in one
//! and forgotten in the other fails the suite instead of reaching a user.
//!
//! ## The language of the request being served
//!
//! A refusal is written deep inside a service (`the visit is full`), far
//! from the adapter that knows who is asking. Rather than thread a language
//! through every function that can refuse, each request (and each sync
//! session) runs inside [`speaking`], a task-local scope holding its
//! language, and [`t!`](crate::t) renders a catalogue message in it. The
//! HTTP layer opens the scope with the `Accept-Language` header's choice;
//! authentication fills it with the person's saved language when the header
//! chose none ([`prefer`]); the console sets the language it renders its page
//! in ([`speak`]). Outside any scope (background jobs) it is English, and
//! messages for a known reader (a customer's WhatsApp text) name their
//! language explicitly with [`Lang::text`].
//!
//! `fluent-bundle` is used directly rather than through `fluent-templates`:
//! two embedded files need no compile-time directory walker, and the
//! bundles are built once, on first use.
//!
//! [Fluent]: https://projectfluent.org/

use std::borrow::Cow;
use std::cell::Cell;
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
        accept_language
            .and_then(Lang::preferred)
            .unwrap_or_default()
    }

    /// The spoken language an `Accept-Language` header weighs highest;
    /// `None` when it names none the catalogue speaks.
    pub fn preferred(header: &str) -> Option<Lang> {
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
        best.map(|(lang, _)| lang)
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

/// Where a [`stored`] message begins: no text a person writes can (a
/// control character, refused at every edge by `fieldops_sync::text`).
const STORED: char = '\u{1}';

/// A catalogue message kept to be read later, in each reader's language (a
/// round-robin assignment's reason, a system note in a ticket's thread):
/// the key and its arguments as JSON behind a marker. [`read`] renders it.
pub fn stored(key: &str, args: &[(&str, Arg<'_>)]) -> String {
    let args: serde_json::Map<String, serde_json::Value> = args
        .iter()
        .map(|(name, value)| {
            let value = match value {
                Arg::Text(s) => serde_json::Value::from(*s),
                Arg::Number(n) => serde_json::Value::from(*n),
            };
            ((*name).to_owned(), value)
        })
        .collect();
    let body = serde_json::json!({ "key": key, "args": args });
    format!("{STORED}{body}")
}

/// A saved text as `lang` reads it: a [`stored`] message rendered, anything
/// a person wrote as it is.
pub fn read(text: &str, lang: Lang) -> String {
    let Some(body) = text.strip_prefix(STORED) else {
        return text.to_owned();
    };
    let Ok(value) = serde_json::from_str::<serde_json::Value>(body) else {
        return body.to_owned();
    };
    // Only the messages meant to be stored: never a page label or a problem.
    let key = value["key"]
        .as_str()
        .filter(|k| k.starts_with("stored-") || k.starts_with("chat-system-"));
    let Some(key) = key else {
        return body.to_owned();
    };
    let args: Vec<(String, String, Option<i64>)> = value["args"]
        .as_object()
        .map(|args| {
            args.iter()
                .map(|(name, v)| {
                    (
                        name.clone(),
                        v.as_str().map(str::to_owned).unwrap_or_default(),
                        v.as_i64(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let args: Vec<(&str, Arg<'_>)> = args
        .iter()
        .map(|(name, text, number)| {
            let arg = number.map_or(Arg::Text(text), Arg::Number);
            (name.as_str(), arg)
        })
        .collect();
    // An empty last argument ("[Photo] { $caption }") leaves no trailing space.
    lang.text_with(key, &args).trim_end().to_owned()
}

/// What is wrong with a text field (`fieldops_sync::text`), for a person,
/// in the request's language.
pub fn describe(problem: fieldops_sync::text::TextProblem) -> String {
    use fieldops_sync::text::TextProblem;
    match problem {
        TextProblem::Blank => crate::t!("problem-text-blank"),
        TextProblem::TooLong { max } => crate::t!("problem-text-too-long", max = max),
        TextProblem::Control => crate::t!("problem-text-control"),
        TextProblem::InvisibleFormatting => crate::t!("problem-text-invisible"),
    }
}

/// Why a phone's command cannot be executed (`fieldops_sync`'s checks),
/// for a person, in the session's language: "`score` must be 1 to 5".
pub fn describe_invalid_command(invalid: &fieldops_sync::commands::InvalidCommand) -> String {
    use fieldops_sync::commands::Problem;
    let problem = match invalid.problem {
        Problem::Latitude => crate::t!("problem-command-latitude"),
        Problem::Longitude => crate::t!("problem-command-longitude"),
        Problem::Accuracy => crate::t!("problem-command-accuracy"),
        Problem::ExtraDays => crate::t!("problem-command-extra-days"),
        Problem::Score => crate::t!("problem-command-score"),
        Problem::Token => crate::t!("problem-command-token"),
        Problem::Blank => crate::t!("problem-text-blank"),
        Problem::TooLong => crate::t!("problem-command-too-long"),
        Problem::ControlCharacters => crate::t!("problem-text-control"),
        Problem::OneLine => crate::t!("problem-command-one-line"),
        Problem::CategoryCode => crate::t!("problem-command-category"),
        Problem::Amount => crate::t!("problem-command-amount"),
        Problem::Sha256 => crate::t!("problem-command-sha256"),
        Problem::Version => crate::t!("problem-command-version"),
        Problem::TooManyAnswers => crate::t!("problem-command-too-many-answers"),
    };
    crate::t!(
        "problem-command-field",
        field = invalid.field,
        problem = &problem
    )
}

/// A value for a message's placeable.
#[derive(Debug, Clone, Copy)]
pub enum Arg<'a> {
    Text(&'a str),
    Number(i64),
}

impl<'a> From<&'a str> for Arg<'a> {
    fn from(s: &'a str) -> Self {
        Arg::Text(s)
    }
}

impl<'a> From<&'a String> for Arg<'a> {
    fn from(s: &'a String) -> Self {
        Arg::Text(s)
    }
}

macro_rules! number_args {
    ($($t:ty),*) => {$(
        impl From<$t> for Arg<'_> {
            fn from(n: $t) -> Self {
                Arg::Number(i64::try_from(n).unwrap_or(i64::MAX))
            }
        }
    )*};
}
number_args!(i64, i32, u32, u64, usize);

tokio::task_local! {
    /// The language of the request or session being served; `None` until
    /// something chooses one.
    static SPOKEN: Cell<Option<Lang>>;
}

/// Runs `work` answering in `lang` (`None`: not chosen yet, see [`prefer`]).
pub async fn speaking<F: Future>(lang: Option<Lang>, work: F) -> F::Output {
    SPOKEN.scope(Cell::new(lang), work).await
}

/// The person's saved language, for a request whose header chose none.
pub fn prefer(lang: Option<Lang>) {
    let _ = SPOKEN.try_with(|spoken| {
        if spoken.get().is_none() {
            spoken.set(lang);
        }
    });
}

/// Answers the rest of this request in `lang`, whatever was chosen before
/// (the console: the language its page is rendered in).
pub fn speak(lang: Lang) {
    let _ = SPOKEN.try_with(|spoken| spoken.set(Some(lang)));
}

/// The language the request being served chose so far, if any.
pub fn chosen() -> Option<Lang> {
    SPOKEN.try_with(Cell::get).ok().flatten()
}

/// The language of the request being served: English when nothing chose
/// one (an API client that sent no `Accept-Language`, a background job).
pub fn current() -> Lang {
    chosen().unwrap_or(Lang::English)
}

/// The catalogue message `key` in the language of the request being
/// served, with its placeables filled in: `t!("problem-visit-full")`,
/// `t!("problem-quota", quota = 3, name = &name)`.
#[macro_export]
macro_rules! t {
    ($key:literal) => {
        $crate::i18n::current().text($key)
    };
    ($key:literal, $($name:ident = $value:expr),+ $(,)?) => {
        $crate::i18n::current().text_with(
            $key,
            &[$((stringify!($name), $crate::i18n::Arg::from($value))),+],
        )
    };
}

/// Each language's catalogue, in files by subject: the console and
/// messages (`{lang}.ftl`), and the problems services and the API answer
/// with (`problems/*.{lang}.ftl`).
macro_rules! sources {
    ($lang:literal) => {
        [
            include_str!(concat!("../locales/", $lang, ".ftl")),
            include_str!(concat!("../locales/problems/api.", $lang, ".ftl")),
            include_str!(concat!("../locales/problems/field.", $lang, ".ftl")),
            include_str!(concat!("../locales/problems/helpdesk.", $lang, ".ftl")),
            include_str!(concat!("../locales/problems/office.", $lang, ".ftl")),
            include_str!(concat!("../locales/problems/adapters.", $lang, ".ftl")),
        ]
    };
}

const SOURCES: [(&str, [&str; 6]); 2] = [("id", sources!("id")), ("en", sources!("en"))];

static CATALOGUE: LazyLock<[FluentBundle<FluentResource>; 2]> =
    LazyLock::new(|| SOURCES.map(|(code, sources)| bundle(code, &sources)));

fn bundle(code: &str, sources: &[&str]) -> FluentBundle<FluentResource> {
    let lang: LanguageIdentifier = code.parse().unwrap_or_default();
    let mut bundle = FluentBundle::new_concurrent(vec![lang]);
    // The text goes into HTML and plain messages: no Unicode isolation
    // marks around placeables.
    bundle.set_use_isolating(false);
    for source in sources {
        let resource =
            FluentResource::try_new((*source).to_owned()).unwrap_or_else(|(resource, errors)| {
                tracing::error!(code, ?errors, "catalogue has syntax errors");
                resource
            });
        if let Err(errors) = bundle.add_resource(resource) {
            tracing::error!(code, ?errors, "catalogue has duplicate messages");
        }
    }
    bundle
}

/// The message ids of one language's catalogue, file by file, in order.
pub fn message_ids(lang: Lang) -> Vec<String> {
    SOURCES[lang as usize]
        .1
        .iter()
        .filter_map(|source| FluentResource::try_new((*source).to_owned()).ok())
        .flat_map(|resource| {
            resource
                .entries()
                .filter_map(|entry| match entry {
                    fluent_syntax::ast::Entry::Message(m) => Some(m.id.name.to_owned()),
                    _ => None,
                })
                .collect::<Vec<_>>()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_languages_say_the_same_things() {
        let id = message_ids(Lang::Id);
        let en = message_ids(Lang::English);
        assert!(!id.is_empty(), "the Indonesian catalogue parses");
        for (lang, sources) in SOURCES {
            for (i, source) in sources.iter().enumerate() {
                if let Err((_, errors)) = FluentResource::try_new((*source).to_owned()) {
                    let at: Vec<_> = errors
                        .iter()
                        .map(|e| {
                            let line = source[..e.pos.start].lines().count();
                            format!("line {line}: {:?}", e.kind)
                        })
                        .collect();
                    panic!("{lang} catalogue file {i} has syntax errors: {at:?}");
                }
            }
        }
        for ids in [&id, &en] {
            let mut seen = std::collections::HashSet::new();
            let twice: Vec<_> = ids.iter().filter(|k| !seen.insert(*k)).collect();
            assert!(twice.is_empty(), "defined twice: {twice:?}");
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
        assert_eq!(Lang::preferred("de, fr"), None);
    }

    /// Every `t!("key")` in the server's code names a message both
    /// languages define.
    #[test]
    fn every_key_the_code_names_is_in_the_catalogue() {
        fn walk(dir: &std::path::Path, found: &mut Vec<(String, String)>) {
            for entry in std::fs::read_dir(dir)
                .expect("the source tree is readable")
                .flatten()
            {
                let path = entry.path();
                if path.is_dir() {
                    walk(&path, found);
                } else if path.extension().is_some_and(|e| e == "rs") && !path.ends_with("i18n.rs")
                {
                    let text = std::fs::read_to_string(&path).expect("a source file is readable");
                    let mut rest = text.as_str();
                    while let Some(at) = rest.find("t!(\"") {
                        // `t!(`, not `format!(` or `assert!(`.
                        let macro_named_t = rest[..at]
                            .chars()
                            .next_back()
                            .is_none_or(|c| !(c.is_alphanumeric() || c == '_'));
                        rest = &rest[at + 4..];
                        if let Some(key) = rest.split('"').next().filter(|_| macro_named_t) {
                            found.push((key.to_owned(), path.display().to_string()));
                        }
                    }
                    // Stored messages are named wherever they are chosen.
                    let mut rest = text.as_str();
                    while let Some(at) = rest.find("\"stored-") {
                        rest = &rest[at + 1..];
                        if let Some(key) = rest.split('"').next() {
                            found.push((key.to_owned(), path.display().to_string()));
                        }
                    }
                }
            }
        }
        let mut found = Vec::new();
        walk(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
            &mut found,
        );
        assert!(found.len() > 100, "the scan finds the code's keys");
        let missing: Vec<_> = found
            .iter()
            .filter(|(key, _)| !(Lang::Id.has(key) && Lang::English.has(key)))
            .collect();
        assert!(
            missing.is_empty(),
            "keys missing from the catalogue: {missing:?}"
        );
    }

    #[test]
    fn a_stored_message_is_read_in_each_readers_language() {
        let saved = stored("stored-assign-manual", &[("name", Arg::Text("Siti"))]);
        assert_eq!(read(&saved, Lang::English), "manual: chosen by Siti");
        assert_eq!(read(&saved, Lang::Id), "manual: dipilih oleh Siti");
        assert_eq!(read("written by a person", Lang::Id), "written by a person");
        // Only messages meant to be stored are rendered, never a page label.
        let label = stored("console-seats", &[]);
        assert_ne!(
            read(&label, Lang::English),
            Lang::English.text("console-seats")
        );
        assert!(
            fieldops_sync::text::has_forbidden_control(&saved),
            "no person can write a stored message"
        );
    }

    #[tokio::test]
    async fn a_request_speaks_its_language_and_english_outside_any() {
        assert_eq!(current(), Lang::English);
        speaking(Some(Lang::Id), async {
            prefer(Some(Lang::English));
            assert_eq!(current(), Lang::Id, "the header's choice stands");
            speak(Lang::English);
            assert_eq!(current(), Lang::English);
        })
        .await;
        speaking(None, async {
            assert_eq!(current(), Lang::English);
            prefer(Some(Lang::Id));
            assert_eq!(current(), Lang::Id, "the saved language fills the gap");
        })
        .await;
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
