//! Commands: the decisions only the server may take, and their results.
//!
//! A document edit merges; a claim on the last free slot of a visit cannot.
//! Such operations travel as a [`Command`] in the device's outbox, carrying a
//! [`CommandId`] chosen on the device. The server executes each id at most
//! once (a replay gets the stored [`CommandResult`]) and executes one
//! device's commands in `device_seq` order. An accepted command's effects
//! are written into documents by the server, so every device in scope learns
//! the outcome through ordinary sync; [`CommandOutcome::Accepted`] lists the
//! documents touched so the issuing device can wait for them.
//!
//! [`Command::validate`] checks the body alone (ranges, lengths); devices
//! run it before queueing and the server before executing.

use core::ops::RangeInclusive;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::ids::{CommandId, ConversationId, DocId, ItemId, MessageId};

/// Longest extension reason, in characters.
pub const MAX_REASON_CHARS: usize = 1_000;
/// Longest rating comment, in characters.
pub const MAX_COMMENT_CHARS: usize = 2_000;
/// Longest chat message, in characters.
pub const MAX_CHAT_BODY_CHARS: usize = 4_000;
/// Longest rating-link token, in bytes.
pub const MAX_TOKEN_BYTES: usize = 512;
/// Longest ticket subject, in characters.
pub const MAX_SUBJECT_CHARS: usize = 200;
/// Longest ticket description, in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 10_000;
/// Longest ticket category code, in characters.
pub const MAX_CATEGORY_CHARS: usize = 64;
/// Longest rejection message, in characters.
pub const MAX_MESSAGE_CHARS: usize = 500;
/// Extra days one extension request may ask for.
pub const EXTRA_DAYS: RangeInclusive<u16> = 1..=30;
/// Longest bank reference on a payment, in characters.
pub const MAX_REFERENCE_CHARS: usize = 200;
/// Valid rating scores.
pub const SCORES: RangeInclusive<u8> = 1..=5;

/// One server-authoritative operation, as queued on a device.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Command {
    /// Idempotency key.
    pub id: CommandId,
    /// Position in the device's outbox; strictly increasing per device.
    pub device_seq: u64,
    /// Device clock when the user acted, Unix ms.
    pub issued_at_ms: i64,
    /// What to do.
    pub body: CommandBody,
}

/// Where a technician was when checking in or out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Attendance {
    /// The visit.
    pub visit_id: DocId,
    /// Latitude in degrees, -90..=90.
    pub lat: f64,
    /// Longitude in degrees, -180..=180.
    pub lon: f64,
    /// Accuracy radius in metres, ≥ 0.
    pub accuracy_m: f64,
    /// Device clock at the event, Unix ms.
    pub device_time_ms: i64,
}

/// The operations. New variants go at the end: the wire encodes the index.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum CommandBody {
    /// Take a slot on a pool visit (first come, first served, never past the quota).
    ClaimVisit {
        /// The visit.
        visit_id: DocId,
    },
    /// Give a claimed visit back, before checking in.
    ReleaseVisit {
        /// The visit.
        visit_id: DocId,
    },
    /// Arrive on site.
    CheckIn(Attendance),
    /// Leave the site.
    CheckOut(Attendance),
    /// Ask CS for more days.
    RequestExtension {
        /// The visit.
        visit_id: DocId,
        /// How many more days.
        extra_days: u16,
        /// Why.
        reason: String,
    },
    /// Rate a done visit through a signed, single-use link.
    SubmitRating {
        /// The visit.
        visit_id: DocId,
        /// The token from the link.
        token: String,
        /// 1 to 5.
        score: u8,
        /// Optional free text.
        comment: Option<String>,
    },
    /// A customer closes their own ticket.
    CloseOwnTicket {
        /// The ticket.
        ticket_id: DocId,
    },
    /// Send a chat message; without a conversation, to the sender's latest
    /// conversation (a new one if they have none). The message id makes a
    /// resend store nothing twice.
    SendChatMessage {
        /// The conversation, if the device knows it.
        conversation_id: Option<ConversationId>,
        /// The message id chosen by the device.
        client_message_id: MessageId,
        /// The text.
        body: String,
    },
    /// A customer opens a ticket, possibly while offline. The device chooses
    /// the id (it becomes the ticket's and its document's id), so the phone
    /// can show the ticket at once; the server assigns the number.
    CreateTicket {
        /// The new ticket's id.
        ticket_id: DocId,
        /// One-line subject, 1 to [`MAX_SUBJECT_CHARS`] characters.
        subject: String,
        /// The problem, up to [`MAX_DESCRIPTION_CHARS`] characters.
        description: String,
        /// A category code the server knows (e.g. `technical`).
        category: String,
    },
    /// A customer pays an invoice they have, with proof: the server records
    /// the payment for CS to verify. The proof is the SHA-256 of a photo of
    /// the transfer receipt the device attached to the invoice (its bytes
    /// may still be uploading: they show to CS once they arrive).
    SubmitPayment {
        /// The invoice (its document's id).
        invoice_id: DocId,
        /// The payment's id, chosen by the device so it can show the
        /// payment as pending and find it in the invoice once accepted.
        payment_id: ItemId,
        /// Whole units of the invoice's currency, more than zero.
        amount: i64,
        /// The bank's reference, if the customer has one.
        reference: String,
        /// SHA-256 of the receipt photo, 64 lowercase hex digits.
        proof_sha256: Option<String>,
    },
    /// A customer submits a journey (an intake form), possibly offline:
    /// the server re-checks the answers against the pinned version and
    /// opens a ticket routed by the end they reach. Like `CreateTicket`,
    /// the device chooses the ticket's id; image answers name photos the
    /// device attached to that ticket (their bytes may still be uploading).
    SubmitJourney {
        /// The new ticket's id.
        ticket_id: DocId,
        /// The journey (the server's journey id, as its documents carry it
        /// in `journey_id`; each version's document has an id of its own).
        journey_id: DocId,
        /// The version the form was filled in on.
        version: u32,
        /// When the customer started the form, Unix ms (device clock): a
        /// retired version is accepted if it was published then.
        started_at_ms: i64,
        /// The answers to the questions on the path.
        answers: crate::journey::Answers,
    },
}

impl CommandBody {
    /// The first [`crate::protocol::PROTOCOL_VERSION`] that knows this
    /// command: a device holds it back from an older server.
    pub const fn since_protocol(&self) -> u16 {
        match self {
            CommandBody::ClaimVisit { .. }
            | CommandBody::ReleaseVisit { .. }
            | CommandBody::CheckIn(_)
            | CommandBody::CheckOut(_)
            | CommandBody::RequestExtension { .. }
            | CommandBody::SubmitRating { .. }
            | CommandBody::CloseOwnTicket { .. }
            | CommandBody::SendChatMessage { .. }
            | CommandBody::CreateTicket { .. } => 1,
            CommandBody::SubmitPayment { .. } => 2,
            CommandBody::SubmitJourney { .. } => 3,
        }
    }

    /// A stable name for logs and metrics.
    pub fn name(&self) -> &'static str {
        match self {
            CommandBody::ClaimVisit { .. } => "claim_visit",
            CommandBody::ReleaseVisit { .. } => "release_visit",
            CommandBody::CheckIn(_) => "check_in",
            CommandBody::CheckOut(_) => "check_out",
            CommandBody::RequestExtension { .. } => "request_extension",
            CommandBody::SubmitRating { .. } => "submit_rating",
            CommandBody::CloseOwnTicket { .. } => "close_own_ticket",
            CommandBody::SendChatMessage { .. } => "send_chat_message",
            CommandBody::CreateTicket { .. } => "create_ticket",
            CommandBody::SubmitPayment { .. } => "submit_payment",
            CommandBody::SubmitJourney { .. } => "submit_journey",
        }
    }
}

/// A command body that cannot be executed, whatever the server's state.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("`{field}` {problem}")]
pub struct InvalidCommand {
    /// The offending field.
    pub field: &'static str,
    /// What is wrong with it.
    pub problem: Problem,
}

/// What is wrong with a command's field. `Display` is English (logs, the
/// phone's typed error); the server words each one in the caller's
/// language from its catalogue, so a new problem is a new message there
/// (the match is exhaustive).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum Problem {
    #[error("must be within -90..=90")]
    Latitude,
    #[error("must be within -180..=180")]
    Longitude,
    #[error("must be a finite number ≥ 0")]
    Accuracy,
    #[error("must be within 1..=30")]
    ExtraDays,
    #[error("must be within 1..=5")]
    Score,
    #[error("must be 1 to 512 ASCII bytes")]
    Token,
    #[error("must not be blank")]
    Blank,
    #[error("is too long")]
    TooLong,
    #[error("contains control characters")]
    ControlCharacters,
    #[error("must be one line")]
    OneLine,
    #[error("must be a category code (a-z, 0-9, _)")]
    CategoryCode,
    #[error("must be more than zero and at most 10^15")]
    Amount,
    #[error("must be 64 lowercase hex digits")]
    Sha256,
    #[error("versions start at 1")]
    Version,
    #[error("has more answers than a journey has questions")]
    TooManyAnswers,
}

fn invalid(field: &'static str, problem: Problem) -> Result<(), InvalidCommand> {
    Err(InvalidCommand { field, problem })
}

fn check_text(
    field: &'static str,
    text: &str,
    max_chars: usize,
    required: bool,
) -> Result<(), InvalidCommand> {
    use crate::text::{Shape, TextProblem, check};
    check(text, Shape::Paragraph, max_chars, required).map_err(|problem| InvalidCommand {
        field,
        problem: match problem {
            TextProblem::Blank => Problem::Blank,
            TextProblem::TooLong { .. } => Problem::TooLong,
            TextProblem::Control | TextProblem::InvisibleFormatting => Problem::ControlCharacters,
        },
    })
}

impl Attendance {
    fn validate(&self) -> Result<(), InvalidCommand> {
        if !(self.lat.is_finite() && (-90.0..=90.0).contains(&self.lat)) {
            return invalid("lat", Problem::Latitude);
        }
        if !(self.lon.is_finite() && (-180.0..=180.0).contains(&self.lon)) {
            return invalid("lon", Problem::Longitude);
        }
        if !(self.accuracy_m.is_finite() && self.accuracy_m >= 0.0) {
            return invalid("accuracy_m", Problem::Accuracy);
        }
        Ok(())
    }
}

impl Command {
    /// Checks the body's ranges and lengths.
    pub fn validate(&self) -> Result<(), InvalidCommand> {
        match &self.body {
            CommandBody::ClaimVisit { .. }
            | CommandBody::ReleaseVisit { .. }
            | CommandBody::CloseOwnTicket { .. } => Ok(()),
            CommandBody::CheckIn(at) | CommandBody::CheckOut(at) => at.validate(),
            CommandBody::RequestExtension {
                extra_days, reason, ..
            } => {
                if !EXTRA_DAYS.contains(extra_days) {
                    return invalid("extra_days", Problem::ExtraDays);
                }
                check_text("reason", reason, MAX_REASON_CHARS, true)
            }
            CommandBody::SubmitRating {
                token,
                score,
                comment,
                ..
            } => {
                if !SCORES.contains(score) {
                    return invalid("score", Problem::Score);
                }
                if token.is_empty() || token.len() > MAX_TOKEN_BYTES || !token.is_ascii() {
                    return invalid("token", Problem::Token);
                }
                match comment {
                    Some(comment) => check_text("comment", comment, MAX_COMMENT_CHARS, false),
                    None => Ok(()),
                }
            }
            CommandBody::SendChatMessage { body, .. } => {
                check_text("body", body, MAX_CHAT_BODY_CHARS, true)
            }
            CommandBody::CreateTicket {
                subject,
                description,
                category,
                ..
            } => {
                check_text("subject", subject, MAX_SUBJECT_CHARS, true)?;
                if subject.contains('\n') {
                    return invalid("subject", Problem::OneLine);
                }
                check_text("description", description, MAX_DESCRIPTION_CHARS, false)?;
                if category.is_empty()
                    || category.len() > MAX_CATEGORY_CHARS
                    || !category
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
                {
                    return invalid("category", Problem::CategoryCode);
                }
                Ok(())
            }
            CommandBody::SubmitPayment {
                amount,
                reference,
                proof_sha256,
                ..
            } => {
                if !(1..=crate::money::MAX_AMOUNT).contains(amount) {
                    return invalid("amount", Problem::Amount);
                }
                check_text("reference", reference, MAX_REFERENCE_CHARS, false)?;
                if reference.contains('\n') {
                    return invalid("reference", Problem::OneLine);
                }
                if let Some(hash) = proof_sha256
                    && hash.parse::<crate::docs::photo::Sha256Hex>().is_err()
                {
                    return invalid("proof_sha256", Problem::Sha256);
                }
                Ok(())
            }
            CommandBody::SubmitJourney {
                version, answers, ..
            } => {
                if *version == 0 {
                    return invalid("version", Problem::Version);
                }
                if answers.len() > crate::journey::MAX_NODES {
                    return invalid("answers", Problem::TooManyAnswers);
                }
                Ok(())
            }
        }
    }
}

string_enum! {
    /// Why the server refused a command. Machine-readable, stable codes.
    pub enum RejectReason {
        /// The visit already has as many active assignments as its quota.
        QuotaFull = "quota_full",
        /// The technician already holds this visit.
        AlreadyClaimed = "already_claimed",
        /// The technician is booked elsewhere at that time.
        ScheduleConflict = "schedule_conflict",
        /// The visit or ticket was cancelled.
        Cancelled = "cancelled",
        /// No such document in the actor's scope.
        NotFound = "not_found",
        /// The technician holds no active assignment on the visit.
        NotAssigned = "not_assigned",
        /// The actor's role or ownership does not allow this.
        Forbidden = "forbidden",
        /// The body failed validation.
        Invalid = "invalid",
        /// The document's state does not allow it any more.
        Conflict = "conflict",
        /// Already checked in (check-in twice).
        AlreadyCheckedIn = "already_checked_in",
        /// Not checked in (check-out without check-in, release after check-in).
        NotCheckedIn = "not_checked_in",
        /// The rating token is unknown, used or expired.
        TokenInvalid = "token_invalid",
        /// The command came after a later one from the same device.
        OutOfOrder = "out_of_order",
        /// This server cannot run this command (yet): retry after an update.
        Unavailable = "unavailable",
        /// CS returned this technician from this visit (absent, or taken
        /// off the site): they may not claim its seat again.
        ReturnedFromVisit = "returned_from_visit",
    }
    /// A reason a newer server gave that this build does not know: the
    /// command was refused all the same; its message says why.
    unknown Unknown = "unknown";
}

/// The answer to one command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandResult {
    /// The command answered.
    pub command_id: CommandId,
    /// What happened.
    pub outcome: CommandOutcome,
}

/// Accepted or rejected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum CommandOutcome {
    /// Executed; these documents changed as a result.
    Accepted {
        /// Documents the server wrote.
        effects: Vec<DocId>,
    },
    /// Refused; nothing changed.
    Rejected {
        /// Machine-readable reason.
        reason: RejectReason,
        /// Human explanation, without internal details.
        message: String,
    },
}

impl CommandResult {
    /// An acceptance.
    pub fn accepted(command_id: CommandId, effects: Vec<DocId>) -> Self {
        CommandResult {
            command_id,
            outcome: CommandOutcome::Accepted { effects },
        }
    }

    /// A refusal; the message is cut to [`MAX_MESSAGE_CHARS`].
    pub fn rejected(
        command_id: CommandId,
        reason: RejectReason,
        message: impl Into<String>,
    ) -> Self {
        let mut message: String = message.into();
        if let Some((cut, _)) = message.char_indices().nth(MAX_MESSAGE_CHARS) {
            message.truncate(cut);
        }
        CommandResult {
            command_id,
            outcome: CommandOutcome::Rejected { reason, message },
        }
    }

    /// The refusal for a body that failed [`Command::validate`].
    pub fn invalid(command_id: CommandId, error: &InvalidCommand) -> Self {
        Self::rejected(command_id, RejectReason::Invalid, error.to_string())
    }

    /// Whether the command was executed.
    pub fn is_accepted(&self) -> bool {
        matches!(self.outcome, CommandOutcome::Accepted { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn command(body: CommandBody) -> Command {
        Command {
            id: CommandId::new(),
            device_seq: 1,
            issued_at_ms: 0,
            body,
        }
    }

    fn at(lat: f64, lon: f64, accuracy_m: f64) -> Attendance {
        Attendance {
            visit_id: DocId::new(),
            lat,
            lon,
            accuracy_m,
            device_time_ms: 0,
        }
    }

    fn field_of(body: CommandBody) -> Option<&'static str> {
        command(body).validate().err().map(|e| e.field)
    }

    #[test]
    fn attendance_positions_are_range_checked() {
        assert_eq!(field_of(CommandBody::CheckIn(at(90.0, -180.0, 0.0))), None);
        assert_eq!(
            field_of(CommandBody::CheckIn(at(90.01, 0.0, 5.0))),
            Some("lat")
        );
        assert_eq!(
            field_of(CommandBody::CheckOut(at(0.0, 180.5, 5.0))),
            Some("lon")
        );
        assert_eq!(
            field_of(CommandBody::CheckOut(at(0.0, 0.0, -1.0))),
            Some("accuracy_m")
        );
        assert_eq!(
            field_of(CommandBody::CheckIn(at(f64::NAN, 0.0, 1.0))),
            Some("lat")
        );
        assert_eq!(
            field_of(CommandBody::CheckIn(at(0.0, 0.0, f64::INFINITY))),
            Some("accuracy_m")
        );
    }

    #[test]
    fn extension_days_and_reason_are_bounded() {
        let ask = |extra_days, reason: &str| CommandBody::RequestExtension {
            visit_id: DocId::new(),
            extra_days,
            reason: reason.into(),
        };
        assert_eq!(field_of(ask(1, "parts on order")), None);
        assert_eq!(field_of(ask(30, "parts on order")), None);
        assert_eq!(field_of(ask(0, "parts on order")), Some("extra_days"));
        assert_eq!(field_of(ask(31, "parts on order")), Some("extra_days"));
        assert_eq!(field_of(ask(2, "   ")), Some("reason"));
        assert_eq!(
            field_of(ask(2, &"x".repeat(MAX_REASON_CHARS + 1))),
            Some("reason")
        );
    }

    #[test]
    fn ratings_are_one_to_five_with_a_token() {
        let rate = |score, token: &str| CommandBody::SubmitRating {
            visit_id: DocId::new(),
            token: token.into(),
            score,
            comment: Some("Quick and tidy".into()),
        };
        assert_eq!(field_of(rate(1, "tok")), None);
        assert_eq!(field_of(rate(5, "tok")), None);
        assert_eq!(field_of(rate(0, "tok")), Some("score"));
        assert_eq!(field_of(rate(6, "tok")), Some("score"));
        assert_eq!(field_of(rate(4, "")), Some("token"));
        assert_eq!(
            field_of(rate(4, &"t".repeat(MAX_TOKEN_BYTES + 1))),
            Some("token")
        );
    }

    #[test]
    fn chat_bodies_must_be_printable_text() {
        let say = |body: &str| CommandBody::SendChatMessage {
            conversation_id: None,
            client_message_id: MessageId::new(),
            body: body.into(),
        };
        assert_eq!(field_of(say("Hola, ¿a qué hora llegan?\nGracias")), None);
        assert_eq!(field_of(say("")), Some("body"));
        assert_eq!(field_of(say("bell\u{7}")), Some("body"));
    }

    #[test]
    fn new_tickets_need_a_subject_and_a_category_code() {
        let open = |subject: &str, description: &str, category: &str| CommandBody::CreateTicket {
            ticket_id: DocId::new(),
            subject: subject.into(),
            description: description.into(),
            category: category.into(),
        };
        assert_eq!(field_of(open("AC bocor", "", "technical")), None);
        assert_eq!(
            field_of(open(
                "AC bocor",
                &"é".repeat(MAX_DESCRIPTION_CHARS),
                "feature_request"
            )),
            None
        );
        assert_eq!(field_of(open("  ", "", "technical")), Some("subject"));
        assert_eq!(field_of(open("a\nb", "", "technical")), Some("subject"));
        assert_eq!(
            field_of(open(&"s".repeat(MAX_SUBJECT_CHARS + 1), "", "technical")),
            Some("subject")
        );
        assert_eq!(
            field_of(open(
                "AC",
                &"d".repeat(MAX_DESCRIPTION_CHARS + 1),
                "technical"
            )),
            Some("description")
        );
        assert_eq!(field_of(open("AC", "", "")), Some("category"));
        assert_eq!(field_of(open("AC", "", "Technical")), Some("category"));
        assert_eq!(
            field_of(open("AC", "", &"c".repeat(MAX_CATEGORY_CHARS + 1))),
            Some("category")
        );
    }

    #[test]
    fn payments_are_positive_with_a_well_formed_proof() {
        let pay = |amount, reference: &str, proof: Option<String>| CommandBody::SubmitPayment {
            invoice_id: DocId::new(),
            payment_id: ItemId::new(),
            amount,
            reference: reference.into(),
            proof_sha256: proof,
        };
        let hash = Some("0a".repeat(32));
        assert_eq!(field_of(pay(555_000, "BCA 0612", hash.clone())), None);
        assert_eq!(field_of(pay(1, "", None)), None);
        assert_eq!(field_of(pay(0, "", hash.clone())), Some("amount"));
        assert_eq!(field_of(pay(-5, "", hash.clone())), Some("amount"));
        assert_eq!(
            field_of(pay(crate::money::MAX_AMOUNT + 1, "", hash.clone())),
            Some("amount")
        );
        assert_eq!(field_of(pay(10, "a\nb", hash.clone())), Some("reference"));
        assert_eq!(
            field_of(pay(10, &"r".repeat(MAX_REFERENCE_CHARS + 1), None)),
            Some("reference")
        );
        assert_eq!(
            field_of(pay(10, "", Some("0A".repeat(32)))),
            Some("proof_sha256")
        );
        assert_eq!(
            field_of(pay(10, "", Some("0a".repeat(31)))),
            Some("proof_sha256")
        );
    }

    #[test]
    fn rejection_messages_are_capped_on_a_char_boundary() {
        let result =
            CommandResult::rejected(CommandId::new(), RejectReason::QuotaFull, "é".repeat(600));
        let CommandOutcome::Rejected { message, reason } = result.outcome else {
            panic!("expected a rejection");
        };
        assert_eq!(reason.as_str(), "quota_full");
        assert_eq!(message.chars().count(), MAX_MESSAGE_CHARS);
    }
}
