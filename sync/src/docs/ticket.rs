//! The ticket document: the customer-visible part of a support ticket.
//!
//! Internal notes are not here: they live in a separate
//! [`StaffNotes`](super::StaffNotes) document that never reaches customers.
//!
//! The public conversation on the ticket (customer messages and staff
//! replies) is here, written by the server only; staff-only notes are not.
//!
//! Version history: version 1 stored `description` as a plain string, so
//! concurrent edits replaced each other. Version 2 stores it as Automerge
//! text, which merges character by character; [`upgrade`](super::upgrade)
//! converts older documents. `messages` was added to version 2 as an
//! optional field: a document without it has no messages yet, and readers
//! that predate it ignore it.

use core::fmt;
use core::str::FromStr;

use automerge::AutoCommit;

use super::codec::{MapRead, MapWrite};
use super::{DocumentSchema, Header, UpgradeStep};
use crate::error::SchemaError;
use crate::ids::{DepartmentId, DocId, DocKind, ItemId, UserId};

document_fields! {
    /// The fields of a ticket document.
    pub enum Field {
        /// Human ticket number, e.g. `TKT-000123`. Server-assigned.
        Number = "number",
        /// One-line subject.
        Subject = "subject",
        /// Collaborative text describing the problem.
        Description = "description",
        /// Free-form category code.
        Category = "category",
        /// [`Priority`] code.
        Priority = "priority",
        /// [`TicketStatus`] code.
        Status = "status",
        /// The customer who opened the ticket.
        CustomerId = "customer_id",
        /// The department handling the ticket.
        DepartmentId = "department_id",
        /// The staff member handling the ticket, if any.
        AssigneeId = "assignee_id",
        /// Photo documents attached to the ticket, in display order.
        PhotoIds = "photo_ids",
        /// Creation time, Unix milliseconds UTC.
        CreatedAtMs = "created_at_ms",
        /// Last server-accepted change, Unix milliseconds UTC.
        UpdatedAtMs = "updated_at_ms",
        /// The public messages, oldest first. Server-written.
        Messages = "messages",
    }
}

mod keys {
    pub(super) const ID: &str = "id";
    pub(super) const AUTHOR: &str = "author";
    pub(super) const BODY: &str = "body";
    pub(super) const AT_MS: &str = "at_ms";
}

string_enum! {
    /// Who wrote a public ticket message.
    pub enum Author {
        /// The customer.
        Customer = "customer",
        /// A staff member.
        Staff = "staff",
        /// The system (automatic notices).
        System = "system",
    }
}

/// One public message on a ticket. Internal notes never appear here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TicketMessage {
    /// The message's id (the server's).
    pub id: ItemId,
    /// Who wrote it.
    pub author: Author,
    /// The text.
    pub body: String,
    /// When, Unix ms.
    pub at_ms: i64,
}

string_enum! {
    /// How urgent a ticket is.
    pub enum Priority {
        /// Whenever convenient.
        Low = "low",
        /// The default.
        Normal = "normal",
        /// Ahead of normal work.
        High = "high",
        /// Drop everything.
        Urgent = "urgent",
    }
}

string_enum! {
    /// Where a ticket is in its life: open → in progress → resolved → closed.
    pub enum TicketStatus {
        /// Waiting for triage; the customer may still edit it.
        Open = "open",
        /// Being worked on.
        InProgress = "in_progress",
        /// Work done, awaiting confirmation.
        Resolved = "resolved",
        /// Finished.
        Closed = "closed",
    }
}

impl Priority {
    /// One step more urgent (urgent stays urgent): an escalation.
    pub fn raised(self) -> Self {
        match self {
            Priority::Low => Priority::Normal,
            Priority::Normal => Priority::High,
            Priority::High | Priority::Urgent => Priority::Urgent,
        }
    }
}

impl TicketStatus {
    /// Whether a ticket may go from `self` to `to`: open → in progress →
    /// resolved → closed, back to open from in progress or resolved, and
    /// closed from anywhere but closed.
    pub fn can_become(self, to: TicketStatus) -> bool {
        use TicketStatus::{Closed, InProgress, Open, Resolved};
        matches!(
            (self, to),
            (Open, InProgress | Resolved | Closed)
                | (InProgress, Open | Resolved | Closed)
                | (Resolved, Open | Closed)
        )
    }
}

/// A ticket number: `TKT-` followed by at least six digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TicketNumber(String);

impl TicketNumber {
    const PREFIX: &'static str = "TKT-";

    /// The number for sequence value `n`, e.g. `TKT-000123` for 123.
    pub fn from_sequence(n: u64) -> Self {
        TicketNumber(format!("{}{n:06}", Self::PREFIX))
    }

    /// The number as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The placeholder a device writes into a ticket it created offline,
    /// until the server's document (with the real number) replaces it. The
    /// server numbers from 1, so this never names a real ticket.
    pub fn pending() -> Self {
        Self::from_sequence(0)
    }

    /// Whether this is the [`pending`](Self::pending) placeholder.
    pub fn is_pending(&self) -> bool {
        *self == Self::pending()
    }
}

impl fmt::Display for TicketNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for TicketNumber {
    type Err = &'static str;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let digits = s.strip_prefix(Self::PREFIX).ok_or("must start with TKT-")?;
        if (6..=12).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()) {
            Ok(TicketNumber(s.to_owned()))
        } else {
            Err("must be TKT- and 6 to 12 digits")
        }
    }
}

/// The customer-visible part of a ticket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ticket {
    /// Human ticket number.
    pub number: TicketNumber,
    /// One-line subject.
    pub subject: String,
    /// The problem, as collaborative text.
    pub description: String,
    /// Category code.
    pub category: String,
    /// Priority.
    pub priority: Priority,
    /// Status; server-owned.
    pub status: TicketStatus,
    /// The customer who opened it.
    pub customer_id: UserId,
    /// The handling department.
    pub department_id: DepartmentId,
    /// The handling staff member.
    pub assignee_id: Option<UserId>,
    /// Attached photo documents.
    pub photo_ids: Vec<DocId>,
    /// Creation time, Unix ms.
    pub created_at_ms: i64,
    /// Last accepted change, Unix ms.
    pub updated_at_ms: i64,
    /// The public messages, oldest first.
    pub messages: Vec<TicketMessage>,
}

impl DocumentSchema for Ticket {
    const KIND: DocKind = DocKind::Ticket;
    const SCHEMA_VERSION: u64 = 2;

    fn hydrate(doc: &AutoCommit) -> Result<Self, SchemaError> {
        Header::expect::<Self>(doc)?;
        let root = MapRead::root(doc);
        Ok(Ticket {
            number: root.parse(Field::Number.key())?,
            subject: root.str(Field::Subject.key())?,
            // Version 1 stored a plain string here; `text` reads both.
            description: root.text(Field::Description.key())?,
            category: root.str(Field::Category.key())?,
            priority: root.parse(Field::Priority.key())?,
            status: root.parse(Field::Status.key())?,
            customer_id: root.parse(Field::CustomerId.key())?,
            department_id: root.parse(Field::DepartmentId.key())?,
            assignee_id: root.opt_parse(Field::AssigneeId.key())?,
            photo_ids: root.parse_list(Field::PhotoIds.key())?,
            created_at_ms: root.i64(Field::CreatedAtMs.key())?,
            updated_at_ms: root.i64(Field::UpdatedAtMs.key())?,
            messages: root.map_list(Field::Messages.key(), |m| {
                Ok(TicketMessage {
                    id: m.parse(keys::ID)?,
                    author: m.parse(keys::AUTHOR)?,
                    body: m.str(keys::BODY)?,
                    at_ms: m.i64(keys::AT_MS)?,
                })
            })?,
        })
    }

    fn reconcile(&self, doc: &mut AutoCommit) -> Result<(), SchemaError> {
        Header::prepare::<Self>(doc)?;
        let mut root = MapWrite::root(doc);
        root.put_display(Field::Number.key(), &self.number)?;
        root.put(Field::Subject.key(), self.subject.as_str())?;
        root.text(Field::Description.key(), &self.description)?;
        root.put(Field::Category.key(), self.category.as_str())?;
        root.put(Field::Priority.key(), self.priority.as_str())?;
        root.put(Field::Status.key(), self.status.as_str())?;
        root.put_display(Field::CustomerId.key(), &self.customer_id)?;
        root.put_display(Field::DepartmentId.key(), &self.department_id)?;
        root.put_opt_display(Field::AssigneeId.key(), self.assignee_id.as_ref())?;
        root.display_list(Field::PhotoIds.key(), &self.photo_ids)?;
        root.put(Field::CreatedAtMs.key(), self.created_at_ms)?;
        root.put(Field::UpdatedAtMs.key(), self.updated_at_ms)?;
        root.keyed_list(
            Field::Messages.key(),
            keys::ID,
            &self.messages,
            |m| m.id.to_string(),
            |record, m| {
                record.put(keys::AUTHOR, m.author.as_str())?;
                record.put(keys::BODY, m.body.as_str())?;
                record.put(keys::AT_MS, m.at_ms)
            },
        )
    }
}

/// The ticket's upgrade path.
pub(crate) const UPGRADES: &[UpgradeStep] = &[UpgradeStep {
    from: 1,
    apply: description_to_text,
}];

/// Version 1 → 2: the plain-string description becomes collaborative text.
fn description_to_text(doc: &mut AutoCommit) -> Result<(), SchemaError> {
    let description = MapRead::root(doc).text(Field::Description.key())?;
    MapWrite::root(doc).text(Field::Description.key(), &description)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use automerge::transaction::Transactable;
    use automerge::{ObjType, ROOT, ReadDoc, Value};

    use super::*;
    use crate::docs::{SCHEMA_VERSION_KEY, upgrade};
    use crate::testing::sample_ticket;

    #[test]
    fn round_trips_and_rewriting_an_unchanged_ticket_is_no_change() {
        let ticket = sample_ticket();
        let mut doc = ticket.to_document().unwrap();
        assert_eq!(Ticket::hydrate(&doc).unwrap(), ticket);
        doc.commit();
        let heads = doc.get_heads();
        ticket.reconcile(&mut doc).unwrap();
        assert_eq!(doc.commit(), None);
        assert_eq!(doc.get_heads(), heads);
    }

    #[test]
    fn concurrent_description_edits_merge_character_wise() {
        let mut ticket = sample_ticket();
        ticket.description = "The boiler is leaking.".into();
        let mut customer = ticket.to_document().unwrap();
        let mut staff = customer.fork();

        let mut mine = ticket.clone();
        mine.description = "The old boiler is leaking.".into();
        mine.reconcile(&mut customer).unwrap();
        let mut theirs = ticket;
        theirs.description = "The boiler is leaking since Monday.".into();
        theirs.reconcile(&mut staff).unwrap();

        customer.merge(&mut staff).unwrap();
        staff.merge(&mut customer).unwrap();
        let merged = Ticket::hydrate(&customer).unwrap().description;
        assert_eq!(merged, "The old boiler is leaking since Monday.");
        assert_eq!(Ticket::hydrate(&staff).unwrap().description, merged);
    }

    #[test]
    fn reads_and_upgrades_version_one() {
        let ticket = sample_ticket();
        let mut doc = ticket.to_document().unwrap();
        // Rewrite the document into its version 1 shape.
        doc.put(ROOT, Field::Description.key(), ticket.description.as_str())
            .unwrap();
        doc.put(ROOT, SCHEMA_VERSION_KEY, 1).unwrap();

        assert_eq!(Ticket::hydrate(&doc).unwrap(), ticket, "v1 is readable");
        assert!(matches!(
            ticket.reconcile(&mut doc),
            Err(SchemaError::Outdated {
                found: 1,
                current: 2,
                ..
            })
        ));

        assert_eq!(upgrade(&mut doc).unwrap(), Some(1));
        assert_eq!(upgrade(&mut doc).unwrap(), None, "upgrading is idempotent");
        assert!(matches!(
            doc.get(ROOT, Field::Description.key()).unwrap(),
            Some((Value::Object(ObjType::Text), _))
        ));
        assert_eq!(Ticket::hydrate(&doc).unwrap(), ticket);
        ticket.reconcile(&mut doc).unwrap();
    }

    #[test]
    fn refuses_newer_versions_and_other_kinds() {
        let mut doc = sample_ticket().to_document().unwrap();
        doc.put(ROOT, SCHEMA_VERSION_KEY, 3).unwrap();
        assert!(matches!(
            Ticket::hydrate(&doc),
            Err(SchemaError::UnsupportedVersion {
                found: 3,
                supported: 2,
                ..
            })
        ));
        let visit = crate::testing::sample_visit().to_document().unwrap();
        assert!(matches!(
            Ticket::hydrate(&visit),
            Err(SchemaError::WrongKind { .. })
        ));
    }

    #[test]
    fn ticket_numbers_are_validated() {
        assert_eq!(TicketNumber::from_sequence(123).as_str(), "TKT-000123");
        assert!("TKT-000123".parse::<TicketNumber>().is_ok());
        assert!(TicketNumber::pending().is_pending());
        assert!(!TicketNumber::from_sequence(1).is_pending());
        for bad in ["TKT-123", "tkt-000123", "TKT-00012a", "000123"] {
            assert!(bad.parse::<TicketNumber>().is_err(), "{bad}");
        }
    }
}
