//! A journey's answers as people read them: the ticket's subject and
//! description when it opens, and the answers shown to staff with the
//! questions as they were in the version answered.

use fieldops_sync::journey::{Answer, Answers, Definition, Input, Node};
use serde::Serialize;
use utoipa::ToSchema;

use crate::AppState;
use crate::db::blobs;
use crate::db::journeys::TicketJourneyRow;
use crate::i18n::{Arg, Lang};
use crate::service::ServiceError;

/// One answer, in words.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    pub question_id: String,
    pub prompt: String,
    pub answer: String,
}

fn language(lang: Lang) -> &'static str {
    lang.code()
}

/// An answer in words: choice labels, the text, the number, the date, or
/// the number of photos.
pub fn answer_text(definition: &Definition, question: &str, answer: &Answer, lang: Lang) -> String {
    let choices = question
        .parse()
        .ok()
        .and_then(|id| definition.question(&id))
        .map(|q| q.input.choices())
        .unwrap_or_default();
    let label = |id: &fieldops_sync::journey::Slug| {
        choices.iter().find(|c| &c.id == id).map_or_else(
            || id.to_string(),
            |c| c.label.get(language(lang)).to_owned(),
        )
    };
    match answer {
        Answer::Choice(id) => label(id),
        Answer::Choices(ids) => ids.iter().map(label).collect::<Vec<_>>().join(", "),
        Answer::Text(text) => text.clone(),
        Answer::Number(n) => n.to_string(),
        Answer::Date(date) => crate::i18n::date(lang, &date.to_string()),
        Answer::Images(images) => lang.text_with(
            "journey-photos",
            &[(
                "count",
                Arg::Number(i64::try_from(images.len()).unwrap_or(i64::MAX)),
            )],
        ),
    }
}

/// The answers on the path, in the order asked.
pub fn summary(definition: &Definition, answers: &Answers, lang: Lang) -> Vec<Line> {
    definition
        .nodes
        .iter()
        .filter_map(|node| match node {
            Node::Question(q) => answers.get(&q.id).map(|a| Line {
                question_id: q.id.to_string(),
                prompt: q.prompt.get(language(lang)).to_owned(),
                answer: answer_text(definition, q.id.as_str(), a, lang),
            }),
            Node::End(_) => None,
        })
        .collect()
}

/// The ticket's subject: the journey's title and the first choice made
/// (`Keluhan Layanan: Perangkat rusak`), in Bahasa Indonesia.
pub fn subject(definition: &Definition, answers: &Answers) -> String {
    let title = definition.title.get("id");
    let first_choice = definition.nodes.iter().find_map(|n| match n {
        Node::Question(q) if matches!(q.input, Input::Single { .. }) => answers
            .get(&q.id)
            .map(|a| answer_text(definition, q.id.as_str(), a, Lang::Id)),
        _ => None,
    });
    let subject = match first_choice {
        Some(choice) => format!("{title}: {choice}"),
        None => title.to_owned(),
    };
    subject.chars().take(200).collect()
}

/// The ticket's description: one `question: answer` line per answer.
pub fn description(lines: &[Line]) -> String {
    let text = lines
        .iter()
        .map(|l| format!("{}: {}", l.prompt, l.answer))
        .collect::<Vec<_>>()
        .join("\n");
    text.chars().take(10_000).collect()
}

/// A photo of an answer, and whether its bytes have arrived.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AnswerPhoto {
    pub sha256: String,
    /// Uploaded by the customer (else still on its way from the phone).
    pub received: bool,
}

/// One answer as staff read it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AnswerView {
    pub question_id: String,
    /// The question, in both languages, as it was in the version answered.
    pub prompt_id: String,
    pub prompt_en: String,
    /// `single`, `multi`, `text`, `number`, `date`, `image`.
    pub kind: String,
    /// The answer in words, in both languages.
    pub answer_id: String,
    pub answer_en: String,
    /// The answer as submitted.
    #[schema(value_type = Object)]
    pub value: serde_json::Value,
    pub photos: Vec<AnswerPhoto>,
}

/// The journey a ticket was opened with.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TicketAnswers {
    pub journey_id: String,
    pub version: i64,
    pub title_id: String,
    pub title_en: String,
    /// The end reached.
    pub end_id: String,
    /// Whether the end proposes a visit (for CS to plan).
    pub propose_visit: bool,
    pub started_at: String,
    pub submitted_at: String,
    pub answers: Vec<AnswerView>,
}

/// The answers of `row`, rendered with `definition` (the version answered).
pub async fn ticket_answers(
    state: &AppState,
    definition: &Definition,
    row: &TicketJourneyRow,
    answers: &Answers,
    uploader: &str,
) -> Result<Option<TicketAnswers>, ServiceError> {
    let mut views = Vec::new();
    for node in &definition.nodes {
        let Node::Question(q) = node else { continue };
        let Some(answer) = answers.get(&q.id) else {
            continue;
        };
        let mut photos = Vec::new();
        if let Answer::Images(hashes) = answer {
            for hash in hashes {
                photos.push(AnswerPhoto {
                    sha256: hash.to_string(),
                    received: blobs::uploaded_by(state.db.pool(), hash.as_str(), uploader).await?,
                });
            }
        }
        views.push(AnswerView {
            question_id: q.id.to_string(),
            prompt_id: q.prompt.id.clone(),
            prompt_en: q.prompt.en.clone(),
            kind: q.input.kind().to_owned(),
            answer_id: answer_text(definition, q.id.as_str(), answer, Lang::Id),
            answer_en: answer_text(definition, q.id.as_str(), answer, Lang::English),
            value: serde_json::to_value(answer).unwrap_or_default(),
            photos,
        });
    }
    Ok(Some(TicketAnswers {
        journey_id: row.journey_id.clone(),
        version: row.version,
        title_id: definition.title.id.clone(),
        title_en: definition.title.en.clone(),
        end_id: row.end_id.clone(),
        propose_visit: row.propose_visit != 0,
        started_at: crate::domain::rfc3339(row.started_at),
        submitted_at: crate::domain::rfc3339(row.submitted_at),
        answers: views,
    }))
}

#[cfg(test)]
mod tests {
    use fieldops_sync::testing::sample_journey;

    use super::*;

    #[test]
    fn the_ticket_reads_the_answers_in_order_and_in_words() {
        let def = sample_journey();
        let answers: Answers = serde_json::from_value(serde_json::json!({
            "kerusakan": {"choices": ["bocor", "mati"]},
            "jenis": {"choice": "perangkat_rusak"},
            "perangkat": {"choice": "ac"},
        }))
        .unwrap_or_default();
        assert_eq!(subject(&def, &answers), "Keluhan Layanan: Perangkat rusak");
        let lines = summary(&def, &answers, Lang::English);
        let words: Vec<_> = lines.iter().map(|l| l.answer.as_str()).collect();
        assert_eq!(
            words,
            [
                "A broken device",
                "Air conditioner",
                "Leaking, Does not turn on"
            ]
        );
        assert!(description(&summary(&def, &answers, Lang::Id)).starts_with(
            "Apa yang ingin Anda laporkan?: Perangkat rusak\nPerangkat apa yang rusak?: AC\n"
        ));
    }
}
