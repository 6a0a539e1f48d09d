//! Identifiers shared by documents, commands and the protocol.
//!
//! Every identifier is a UUID newtype so that a visit id cannot be passed
//! where a user id is expected. Ids that the devices create offline
//! ([`DocId`], [`CommandId`]) are UUIDv7: unique without coordination, and
//! ordered by creation time, which keeps database indexes compact.
//!
//! In documents ids are stored as their canonical hyphenated text; on the
//! wire they are 16 raw bytes.

use core::fmt;
use core::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::InvalidId;

macro_rules! uuid_id {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// A fresh, time-ordered (UUIDv7) id.
            #[must_use]
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }

            /// Wraps an existing UUID, for ids that come from storage.
            pub const fn from_uuid(uuid: Uuid) -> Self {
                Self(uuid)
            }

            /// The UUID inside.
            pub const fn as_uuid(&self) -> &Uuid {
                &self.0
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl From<Uuid> for $name {
            fn from(uuid: Uuid) -> Self {
                Self(uuid)
            }
        }

        impl From<$name> for Uuid {
            fn from(id: $name) -> Self {
                id.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0.hyphenated(), f)
            }
        }

        impl FromStr for $name {
            type Err = InvalidId;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match Uuid::try_parse(s) {
                    Ok(uuid) if !uuid.is_nil() => Ok(Self(uuid)),
                    _ => Err(InvalidId { kind: stringify!($name) }),
                }
            }
        }

        /// For ids read from storage as text (`#[sqlx(try_from = "String")]`).
        impl TryFrom<String> for $name {
            type Error = InvalidId;

            fn try_from(s: String) -> Result<Self, Self::Error> {
                s.parse()
            }
        }
    };
}

uuid_id! {
    /// The id of a replicated document. Stable for the document's lifetime.
    DocId
}

uuid_id! {
    /// The idempotency key of a [`Command`](crate::commands::Command),
    /// chosen by the device when the command is queued. The server applies a
    /// command at most once per key and answers replays with the stored
    /// result.
    CommandId
}

uuid_id! {
    /// A person who signs in: staff, technician or customer. A customer's
    /// account id is the `customer_id` stored in their tickets and visits.
    UserId
}

uuid_id! {
    /// A department; staff scope and write rights follow departments.
    DepartmentId
}

uuid_id! {
    /// One claim of a visit by a technician, as decided by the server.
    AssignmentId
}

uuid_id! {
    /// A device installation; one device session per device.
    DeviceId
}

uuid_id! {
    /// An entry inside a list in a document (checklist item, internal note).
    ItemId
}

uuid_id! {
    /// A chat conversation between a customer and staff.
    ConversationId
}

uuid_id! {
    /// A call between a staff member and a customer, chosen by the caller's
    /// device so a resent invite is not a second call.
    CallId
}

uuid_id! {
    /// A chat message, chosen by the sending device so a resend is not a
    /// second message.
    MessageId
}

string_enum! {
    /// The kinds of replicated documents. The codes are stored in every
    /// document root and in the server's document table: never change one.
    pub enum DocKind {
        /// The customer-visible part of a ticket.
        Ticket = "ticket",
        /// An on-site visit: schedule, site, assignments, notes, checklist.
        Visit = "visit",
        /// One check-in or check-out record.
        CheckIn = "check_in",
        /// A photo's metadata (the bytes travel separately).
        Photo = "photo",
        /// Staff-only internal notes attached to a ticket.
        StaffNotes = "staff_notes",
        /// An invoice or credit note as the customer has it; server-owned.
        Invoice = "invoice",
        /// A published journey (an intake form); server-owned.
        Journey = "journey",
    }
}

impl DocKind {
    /// The first [`crate::protocol::PROTOCOL_VERSION`] that knows this kind:
    /// an older device is never sent one.
    pub const fn since_protocol(self) -> u16 {
        match self {
            DocKind::Ticket
            | DocKind::Visit
            | DocKind::CheckIn
            | DocKind::Photo
            | DocKind::StaffNotes => 1,
            DocKind::Invoice => 2,
            DocKind::Journey => 3,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn doc_ids_round_trip_through_text_and_are_time_ordered() {
        let first = DocId::new();
        let second = DocId::new();
        assert_eq!(first.to_string().parse::<DocId>().unwrap(), first);
        assert_eq!(first.as_uuid().get_version_num(), 7);
        assert!(first < second, "UUIDv7 ids sort by creation time");
    }

    #[test]
    fn rejects_nil_and_garbage() {
        assert!("".parse::<DocId>().is_err());
        assert!("not-a-uuid".parse::<UserId>().is_err());
        assert!(Uuid::nil().to_string().parse::<CommandId>().is_err());
    }

    #[test]
    fn doc_kind_codes_are_stable() {
        let codes: Vec<_> = DocKind::ALL.iter().map(|kind| kind.as_str()).collect();
        assert_eq!(
            codes,
            [
                "ticket",
                "visit",
                "check_in",
                "photo",
                "staff_notes",
                "invoice",
                "journey"
            ]
        );
        for kind in DocKind::ALL {
            assert_eq!(kind.as_str().parse::<DocKind>().unwrap(), *kind);
        }
    }
}
