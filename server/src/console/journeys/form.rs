//! The builder's forms read into definition parts: a question's or an
//! end's fields, a rule's comparisons. Problems are field errors named as
//! in the definition (`input.choices[1].id`, `rules[0].when`).

use std::collections::BTreeMap;

use fieldops_sync::journey::{
    Choice, Cmp, Condition, End, Input, Localized, Outcome, Priority, Question, Rule, Slug, Test,
};

use crate::service::FieldError;

pub(super) const COMPARISONS: usize = 3;

pub(super) type Fields = BTreeMap<String, String>;

pub(super) fn fields(pairs: Vec<(String, String)>) -> Fields {
    pairs.into_iter().collect()
}

pub(super) fn text(f: &Fields, name: &str) -> String {
    f.get(name).map(|v| v.trim().to_owned()).unwrap_or_default()
}

fn slug_field(f: &Fields, name: &str, problems: &mut Vec<FieldError>, field: &str) -> Option<Slug> {
    let value = text(f, name);
    match value.parse::<Slug>() {
        Ok(slug) => Some(slug),
        Err(_) => {
            problems.push(FieldError::new(field, slug_problem(&value)));
            None
        }
    }
}

/// "\"Q 1\" must be 1 to 40 characters of a-z, 0-9, _ and -", in the page's language.
fn slug_problem(value: &str) -> String {
    t!(
        "problem-journey-builder-slug",
        value = &format!("{value:?}")
    )
}

fn date_problem(value: &str) -> String {
    t!(
        "problem-journey-builder-date",
        value = &format!("{value:?}")
    )
}

fn number<T: std::str::FromStr>(
    f: &Fields,
    name: &str,
    problems: &mut Vec<FieldError>,
    field: &str,
) -> Option<T> {
    let value = text(f, name);
    if value.is_empty() {
        return None;
    }
    match value.replace(',', ".").parse::<T>() {
        Ok(n) => Some(n),
        Err(_) => {
            problems.push(FieldError::new(
                field,
                t!(
                    "problem-journey-builder-not-a-number",
                    value = &format!("{value:?}")
                ),
            ));
            None
        }
    }
}

fn date(
    f: &Fields,
    name: &str,
    problems: &mut Vec<FieldError>,
    field: &str,
) -> Option<fieldops_sync::journey::Date> {
    let value = text(f, name);
    if value.is_empty() {
        return None;
    }
    value
        .parse()
        .map_err(|_| problems.push(FieldError::new(field, date_problem(&value))))
        .ok()
}

pub(super) fn localized(f: &Fields, stem: &str) -> Localized {
    Localized::new(
        text(f, &format!("{stem}_id")),
        text(f, &format!("{stem}_en")),
    )
}

/// A comparison from the editor's row.
fn test_of(op: &str, value: &str) -> Result<Test, String> {
    let slug = |v: &str| v.trim().parse::<Slug>().map_err(|_| slug_problem(v.trim()));
    let num = |v: &str| {
        v.trim().replace(',', ".").parse::<f64>().map_err(|_| {
            t!(
                "problem-journey-builder-not-a-number",
                value = &format!("{v:?}")
            )
        })
    };
    let day = |v: &str| v.trim().parse().map_err(|_| date_problem(v.trim()));
    Ok(match op {
        "answered" => Test::Answered,
        "unanswered" => Test::Unanswered,
        "is" => Test::Is {
            choice: slug(value)?,
        },
        "is_one_of" => Test::IsOneOf {
            choices: value
                .split(',')
                .filter(|v| !v.trim().is_empty())
                .map(slug)
                .collect::<Result<_, _>>()?,
        },
        "includes" => Test::Includes {
            choice: slug(value)?,
        },
        "at_least" => Test::AtLeast {
            count: value.trim().parse().map_err(|_| {
                t!(
                    "problem-journey-builder-not-a-count",
                    value = &format!("{value:?}")
                )
            })?,
        },
        "before" => Test::Before { date: day(value)? },
        "after" => Test::After { date: day(value)? },
        "contains" => Test::Contains {
            text: value.trim().to_owned(),
        },
        other => Test::Compare {
            cmp: other.parse::<Cmp>().map_err(|_| {
                crate::t!(
                    "problem-field-not-accepted",
                    value = other,
                    expected = "answered, unanswered, is, is_one_of, includes, at_least, before, after, contains, lt, le, eq, ge, gt"
                )
            })?,
            value: num(value)?,
        },
    })
}

fn parse_rules(old: &Question, f: &Fields, problems: &mut Vec<FieldError>) -> Vec<Rule> {
    let mut rules = Vec::new();
    for r in 0..=old.rules.len() {
        if let Some(kept) = f.get(&format!("rule_{r}_kept")).filter(|k| !k.is_empty()) {
            if let (Ok(when), Some(goto)) = (
                serde_json::from_str::<Condition>(kept),
                slug_field(
                    f,
                    &format!("rule_{r}_goto"),
                    problems,
                    &format!("rules[{r}].goto"),
                ),
            ) {
                rules.push(Rule { when, goto });
            }
            continue;
        }
        let mut comps = Vec::new();
        for c in 0..COMPARISONS {
            let question = text(f, &format!("rule_{r}_{c}_question"));
            if question.is_empty() {
                continue;
            }
            let field = format!("rules[{r}].when");
            let Some(question) = slug_field(f, &format!("rule_{r}_{c}_question"), problems, &field)
            else {
                continue;
            };
            match test_of(
                &text(f, &format!("rule_{r}_{c}_op")),
                &text(f, &format!("rule_{r}_{c}_value")),
            ) {
                Ok(test) => comps.push(Condition::Answer { question, test }),
                Err(message) => problems.push(FieldError::new(&field, message)),
            }
        }
        if comps.is_empty() {
            continue;
        }
        let Some(goto) = slug_field(
            f,
            &format!("rule_{r}_goto"),
            problems,
            &format!("rules[{r}].goto"),
        ) else {
            continue;
        };
        let when = if comps.len() == 1 {
            comps.remove(0)
        } else if text(f, &format!("rule_{r}_match")) == "any" {
            Condition::Any(comps)
        } else {
            Condition::All(comps)
        };
        rules.push(Rule { when, goto });
    }
    rules
}

pub(super) fn parse_question(
    old: &Question,
    f: &Fields,
    problems: &mut Vec<FieldError>,
) -> Option<Question> {
    let id = slug_field(f, "id", problems, "id");
    let choices: Vec<Choice> = (0..old.input.choices().len() + 2)
        .filter_map(|i| {
            let choice = text(f, &format!("choice_{i}_id"));
            if choice.is_empty() {
                return None;
            }
            let id = slug_field(
                f,
                &format!("choice_{i}_id"),
                problems,
                &format!("input.choices[{i}].id"),
            )?;
            Some(Choice {
                id,
                label: localized(f, &format!("choice_{i}_label")),
            })
        })
        .collect();
    let kind = text(f, "kind");
    let input = match kind.as_str() {
        "single" => Input::Single { choices },
        "multi" => Input::Multi {
            choices,
            min: number(f, "min", problems, "input.min"),
            max: number(f, "max", problems, "input.max"),
        },
        "text" => Input::Text {
            max_chars: number(f, "max_chars", problems, "input.max_chars").unwrap_or(500),
            multiline: f.contains_key("multiline"),
        },
        "number" => Input::Number {
            min: number(f, "min", problems, "input.min"),
            max: number(f, "max", problems, "input.max"),
            integer: f.contains_key("integer"),
        },
        "date" => Input::Date {
            earliest: date(f, "earliest", problems, "input.earliest"),
            latest: date(f, "latest", problems, "input.latest"),
        },
        "image" => Input::Image {
            max_count: number(f, "max_count", problems, "input.max_count").unwrap_or(5),
            max_bytes: number::<u64>(f, "max_mb", problems, "input.max_bytes")
                .unwrap_or(5)
                .saturating_mul(1024 * 1024),
        },
        other => {
            problems.push(FieldError::new(
                "input",
                t!(
                    "problem-journey-builder-kind-unknown",
                    kind = &format!("{other:?}")
                ),
            ));
            return None;
        }
    };
    let help = localized(f, "help");
    let next = text(f, "next");
    Some(Question {
        id: id?,
        prompt: localized(f, "prompt"),
        help: (!help.id.is_empty() || !help.en.is_empty()).then_some(help),
        required: f.contains_key("required"),
        input,
        rules: parse_rules(old, f, problems),
        next: if next.is_empty() {
            None
        } else {
            slug_field(f, "next", problems, "next")
        },
    })
}

pub(super) fn parse_end(f: &Fields, problems: &mut Vec<FieldError>) -> Option<End> {
    let id = slug_field(f, "id", problems, "id");
    let priority = text(f, "priority").parse::<Priority>().map_err(|_| {
        let message = crate::t!(
            "problem-field-not-accepted",
            value = &text(f, "priority"),
            expected = "low, normal, high, urgent"
        );
        problems.push(FieldError::new("outcome.priority", message));
    });
    let department = text(f, "department_id");
    Some(End {
        id: id?,
        message: localized(f, "message"),
        outcome: Outcome {
            category: text(f, "category"),
            priority: priority.ok()?,
            department_id: (!department.is_empty()).then_some(department),
            propose_visit: f.contains_key("propose_visit"),
        },
    })
}
