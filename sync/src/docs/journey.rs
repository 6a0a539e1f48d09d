//! The journey document: a published journey as the customer's phone holds
//! it, to fill in offline.
//!
//! Server-owned ([`crate::rules::RULES`] has only the server row): each
//! published version is a document of its own, written once when it is
//! published and deleted (phones drop it) when it is retired or replaced
//! by the next version. The definition is stored whole as JSON, because a
//! published version never changes. Adding a field to the definition
//! types is a schema change: readers decode them strictly, so it needs a
//! new `SCHEMA_VERSION` (older apps then skip the journey, unread).
//! A form the customer started keeps its own copy of the version it
//! started on, so a publish while they are offline never changes the
//! questions under them.

use automerge::AutoCommit;

use super::codec::{MapRead, MapWrite};
use super::{DocumentSchema, Header};
use crate::error::SchemaError;
use crate::ids::{DocId, DocKind};
use crate::journey::{Definition, JourneyStatus};

document_fields! {
    /// The fields of a journey document.
    pub enum Field {
        /// The journey this is a version of (each published version has a
        /// document of its own).
        JourneyId = "journey_id",
        /// The version number, from 1.
        Version = "version",
        /// [`JourneyStatus`] code.
        Status = "status",
        /// When this version was published, Unix ms.
        PublishedAtMs = "published_at_ms",
        /// The [`Definition`] as JSON.
        Definition = "definition",
    }
}

/// A published journey version.
#[derive(Debug, Clone, PartialEq)]
pub struct Journey {
    /// The journey (submissions name it).
    pub journey_id: DocId,
    /// Its version.
    pub version: u32,
    /// Published (the document is deleted when the version retires).
    pub status: JourneyStatus,
    /// When it was published, Unix ms.
    pub published_at_ms: i64,
    /// The questions and ends.
    pub definition: Definition,
}

impl DocumentSchema for Journey {
    const KIND: DocKind = DocKind::Journey;
    const SCHEMA_VERSION: u64 = 1;

    fn hydrate(doc: &AutoCommit) -> Result<Self, SchemaError> {
        Header::expect::<Self>(doc)?;
        let root = MapRead::root(doc);
        let version = u32::try_from(root.uint::<u64>(Field::Version.key())?)
            .map_err(|_| SchemaError::invalid(Field::Version.key(), "is too large"))?;
        let json = root.str(Field::Definition.key())?;
        let definition = Definition::from_json(&json).map_err(|_| {
            SchemaError::invalid(Field::Definition.key(), "is not a journey definition")
        })?;
        Ok(Journey {
            journey_id: root.parse(Field::JourneyId.key())?,
            version,
            status: root.parse(Field::Status.key())?,
            published_at_ms: root.i64(Field::PublishedAtMs.key())?,
            definition,
        })
    }

    fn reconcile(&self, doc: &mut AutoCommit) -> Result<(), SchemaError> {
        Header::prepare::<Self>(doc)?;
        let mut root = MapWrite::root(doc);
        root.put_display(Field::JourneyId.key(), &self.journey_id)?;
        root.put(Field::Version.key(), i64::from(self.version))?;
        root.put(Field::Status.key(), self.status.as_str())?;
        root.put(Field::PublishedAtMs.key(), self.published_at_ms)?;
        root.put(Field::Definition.key(), self.definition.to_json())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use automerge::ROOT;
    use automerge::transaction::Transactable;

    use super::*;
    use crate::testing::sample_journey;

    #[test]
    fn round_trips_and_refuses_a_broken_definition() {
        let journey = Journey {
            journey_id: DocId::new(),
            version: 3,
            status: JourneyStatus::Published,
            published_at_ms: 1_780_000_000_000,
            definition: sample_journey(),
        };
        let mut doc = journey.to_document().unwrap();
        assert_eq!(Journey::hydrate(&doc).unwrap(), journey);
        doc.put(ROOT, Field::Definition.key(), "{\"nodes\": 1}")
            .unwrap();
        assert!(matches!(
            Journey::hydrate(&doc),
            Err(SchemaError::InvalidValue { field, .. }) if field == "definition"
        ));
    }
}
