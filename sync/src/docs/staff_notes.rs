//! The staff-notes document: internal notes on a ticket, for staff only.
//!
//! A separate document rather than a hidden field, because whoever
//! replicates a document receives all of it. The server never puts this
//! kind in a customer's or technician's scope.

use automerge::AutoCommit;

use super::codec::{MapRead, MapWrite};
use super::{DocumentSchema, Header};
use crate::error::SchemaError;
use crate::ids::{DepartmentId, DocId, DocKind, ItemId, UserId};

document_fields! {
    /// The fields of a staff-notes document.
    pub enum Field {
        /// The ticket the notes are about.
        TicketId = "ticket_id",
        /// The ticket's department, which decides who may read and write.
        DepartmentId = "department_id",
        /// The notes, oldest first. Append-only for staff.
        Notes = "notes",
    }
}

mod keys {
    pub(super) const ID: &str = "id";
    pub(super) const AUTHOR_ID: &str = "author_id";
    pub(super) const BODY: &str = "body";
    pub(super) const AT_MS: &str = "at_ms";
}

/// One internal note.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InternalNote {
    /// Stable id.
    pub id: ItemId,
    /// Who wrote it.
    pub author_id: UserId,
    /// The note.
    pub body: String,
    /// When, Unix ms.
    pub at_ms: i64,
}

/// Internal notes on one ticket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaffNotes {
    /// The ticket.
    pub ticket_id: DocId,
    /// The ticket's department.
    pub department_id: DepartmentId,
    /// Notes, oldest first.
    pub notes: Vec<InternalNote>,
}

impl DocumentSchema for StaffNotes {
    const KIND: DocKind = DocKind::StaffNotes;
    const SCHEMA_VERSION: u64 = 1;

    fn hydrate(doc: &AutoCommit) -> Result<Self, SchemaError> {
        Header::expect::<Self>(doc)?;
        let root = MapRead::root(doc);
        Ok(StaffNotes {
            ticket_id: root.parse(Field::TicketId.key())?,
            department_id: root.parse(Field::DepartmentId.key())?,
            notes: root.map_list(Field::Notes.key(), |note| {
                Ok(InternalNote {
                    id: note.parse(keys::ID)?,
                    author_id: note.parse(keys::AUTHOR_ID)?,
                    body: note.str(keys::BODY)?,
                    at_ms: note.i64(keys::AT_MS)?,
                })
            })?,
        })
    }

    fn reconcile(&self, doc: &mut AutoCommit) -> Result<(), SchemaError> {
        Header::prepare::<Self>(doc)?;
        let mut root = MapWrite::root(doc);
        root.put_display(Field::TicketId.key(), &self.ticket_id)?;
        root.put_display(Field::DepartmentId.key(), &self.department_id)?;
        root.keyed_list(
            Field::Notes.key(),
            keys::ID,
            &self.notes,
            |note| note.id.to_string(),
            |record, note| {
                record.put_display(keys::AUTHOR_ID, &note.author_id)?;
                record.put(keys::BODY, note.body.as_str())?;
                record.put(keys::AT_MS, note.at_ms)
            },
        )
    }
}
