//! Typed schemas of the replicated documents, and the dispatch over kinds.
//!
//! Each kind lives in its own module with three things: a plain Rust struct
//! (the hydrated document), a `Field` enum that is the only place the kind's
//! Automerge keys are written down, and an implementation of
//! [`DocumentSchema`] that reads (`hydrate`) and writes (`reconcile`) the
//! struct. Every document root carries `kind` and `schema_version`.
//!
//! # Schema versions
//!
//! Readers accept every version up to their own, upgrading older layouts in
//! memory. Writers only write documents at the current version: an older
//! document is first upgraded in place by [`upgrade`], which is a server
//! privilege (`schema_version` is server-owned in the write rules), so that
//! devices never race each other to migrate the same document. A document
//! from a newer schema is refused with [`SchemaError::UnsupportedVersion`],
//! its data untouched.

pub mod checkin;
pub(crate) mod codec;
pub mod invoice;
pub mod journey;
pub mod photo;
pub mod staff_notes;
pub mod ticket;
pub mod visit;

use automerge::AutoCommit;

use crate::error::SchemaError;
use crate::ids::DocKind;
use codec::{MapRead, MapWrite};

pub use checkin::CheckIn;
pub use invoice::Invoice;
pub use journey::Journey;
pub use photo::Photo;
pub use staff_notes::StaffNotes;
pub use ticket::Ticket;
pub use visit::Visit;

/// Root key holding the [`DocKind`] code.
pub const KIND_KEY: &str = "kind";
/// Root key holding the schema version the document was written with.
pub const SCHEMA_VERSION_KEY: &str = "schema_version";

/// A typed document kind: how to read it from and write it to Automerge.
pub trait DocumentSchema: Sized {
    /// The kind stored in the document root.
    const KIND: DocKind;
    /// The version this build writes, and the newest it reads.
    const SCHEMA_VERSION: u64;

    /// Reads the document, accepting any version up to
    /// [`SCHEMA_VERSION`](Self::SCHEMA_VERSION).
    fn hydrate(doc: &AutoCommit) -> Result<Self, SchemaError>;

    /// Writes the fields of `self` that differ from `doc`. On an empty
    /// document this writes everything, including the root header. Fails on
    /// a document of another kind or of an older or newer schema version.
    fn reconcile(&self, doc: &mut AutoCommit) -> Result<(), SchemaError>;

    /// A new document holding `self`.
    fn to_document(&self) -> Result<AutoCommit, SchemaError> {
        let mut doc = AutoCommit::new();
        self.reconcile(&mut doc)?;
        Ok(doc)
    }
}

/// The `kind` and `schema_version` of a document root.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// The document kind.
    pub kind: DocKind,
    /// The schema version it was last written with.
    pub schema_version: u64,
}

impl Header {
    /// Reads the header of `doc`.
    pub fn read(doc: &AutoCommit) -> Result<Self, SchemaError> {
        let root = MapRead::root(doc);
        Ok(Header {
            kind: root.parse(KIND_KEY)?,
            schema_version: root.uint(SCHEMA_VERSION_KEY)?,
        })
    }

    /// Reads the header and checks that `doc` is a `S` this build can read.
    pub(crate) fn expect<S: DocumentSchema>(doc: &AutoCommit) -> Result<Self, SchemaError> {
        let root = MapRead::root(doc);
        let found = root.str(KIND_KEY)?;
        if found != S::KIND.as_str() {
            return Err(SchemaError::WrongKind {
                expected: S::KIND,
                found: found.chars().take(32).collect(),
            });
        }
        let header = Header {
            kind: S::KIND,
            schema_version: root.uint(SCHEMA_VERSION_KEY)?,
        };
        if header.schema_version == 0 {
            return Err(SchemaError::invalid(
                SCHEMA_VERSION_KEY,
                "versions start at 1",
            ));
        }
        if header.schema_version > S::SCHEMA_VERSION {
            return Err(SchemaError::UnsupportedVersion {
                kind: S::KIND,
                found: header.schema_version,
                supported: S::SCHEMA_VERSION,
            });
        }
        Ok(header)
    }

    /// Before writing a `S`: a fresh document gets the header; an existing
    /// one must already be a `S` at the current version.
    pub(crate) fn prepare<S: DocumentSchema>(doc: &mut AutoCommit) -> Result<(), SchemaError> {
        if !MapRead::root(doc).has(KIND_KEY)? {
            let mut root = MapWrite::root(doc);
            root.put(KIND_KEY, S::KIND.as_str())?;
            root.put(SCHEMA_VERSION_KEY, i64_version(S::SCHEMA_VERSION))?;
            return Ok(());
        }
        let header = Self::expect::<S>(doc)?;
        if header.schema_version < S::SCHEMA_VERSION {
            return Err(SchemaError::Outdated {
                kind: S::KIND,
                found: header.schema_version,
                current: S::SCHEMA_VERSION,
            });
        }
        Ok(())
    }
}

/// Schema versions are small; they are stored as Automerge integers.
pub(crate) fn i64_version(version: u64) -> i64 {
    i64::try_from(version).unwrap_or(i64::MAX)
}

/// Any replicated document, hydrated.
#[derive(Debug, Clone, PartialEq)]
pub enum Document {
    /// A ticket.
    Ticket(Ticket),
    /// A visit.
    Visit(Visit),
    /// A check-in or check-out record.
    CheckIn(CheckIn),
    /// A photo's metadata.
    Photo(Photo),
    /// Staff-only notes.
    StaffNotes(StaffNotes),
    /// An invoice or credit note.
    Invoice(Invoice),
    /// A published journey.
    Journey(Journey),
}

impl Document {
    /// The kind of this document.
    pub fn kind(&self) -> DocKind {
        match self {
            Document::Ticket(_) => DocKind::Ticket,
            Document::Visit(_) => DocKind::Visit,
            Document::CheckIn(_) => DocKind::CheckIn,
            Document::Photo(_) => DocKind::Photo,
            Document::StaffNotes(_) => DocKind::StaffNotes,
            Document::Invoice(_) => DocKind::Invoice,
            Document::Journey(_) => DocKind::Journey,
        }
    }

    /// Reads `doc` as a document of `kind`; fails if it is of another kind.
    pub fn hydrate(kind: DocKind, doc: &AutoCommit) -> Result<Self, SchemaError> {
        Ok(match kind {
            DocKind::Ticket => Document::Ticket(Ticket::hydrate(doc)?),
            DocKind::Visit => Document::Visit(Visit::hydrate(doc)?),
            DocKind::CheckIn => Document::CheckIn(CheckIn::hydrate(doc)?),
            DocKind::Photo => Document::Photo(Photo::hydrate(doc)?),
            DocKind::StaffNotes => Document::StaffNotes(StaffNotes::hydrate(doc)?),
            DocKind::Invoice => Document::Invoice(Invoice::hydrate(doc)?),
            DocKind::Journey => Document::Journey(Journey::hydrate(doc)?),
        })
    }

    /// Writes this document into `doc` (see [`DocumentSchema::reconcile`]).
    pub fn reconcile(&self, doc: &mut AutoCommit) -> Result<(), SchemaError> {
        match self {
            Document::Ticket(d) => d.reconcile(doc),
            Document::Visit(d) => d.reconcile(doc),
            Document::CheckIn(d) => d.reconcile(doc),
            Document::Photo(d) => d.reconcile(doc),
            Document::StaffNotes(d) => d.reconcile(doc),
            Document::Invoice(d) => d.reconcile(doc),
            Document::Journey(d) => d.reconcile(doc),
        }
    }
}

/// Whether `doc` has no content at all: the "before" of a creation.
pub fn is_blank(doc: &AutoCommit) -> bool {
    use automerge::ReadDoc;
    doc.length(automerge::ROOT) == 0
}

/// Brings an older document up to the current schema version of its kind,
/// in place, as new Automerge changes. Returns the version it was upgraded
/// from, or `None` if it was current. Run by the server only.
pub fn upgrade(doc: &mut AutoCommit) -> Result<Option<u64>, SchemaError> {
    let header = Header::read(doc)?;
    let (current, steps): (u64, &[UpgradeStep]) = match header.kind {
        DocKind::Ticket => (Ticket::SCHEMA_VERSION, ticket::UPGRADES),
        DocKind::Visit => (Visit::SCHEMA_VERSION, &[]),
        DocKind::CheckIn => (CheckIn::SCHEMA_VERSION, &[]),
        DocKind::Photo => (Photo::SCHEMA_VERSION, &[]),
        DocKind::StaffNotes => (StaffNotes::SCHEMA_VERSION, &[]),
        DocKind::Invoice => (Invoice::SCHEMA_VERSION, &[]),
        DocKind::Journey => (Journey::SCHEMA_VERSION, &[]),
    };
    if header.schema_version > current {
        return Err(SchemaError::UnsupportedVersion {
            kind: header.kind,
            found: header.schema_version,
            supported: current,
        });
    }
    if header.schema_version == current {
        return Ok(None);
    }
    let mut version = header.schema_version;
    while version < current {
        let step = steps
            .iter()
            .find(|step| step.from == version)
            .ok_or_else(|| SchemaError::invalid(SCHEMA_VERSION_KEY, "no upgrade path"))?;
        (step.apply)(doc)?;
        version = step.from + 1;
        MapWrite::root(doc).put(SCHEMA_VERSION_KEY, i64_version(version))?;
    }
    Ok(Some(header.schema_version))
}

/// One step of a kind's upgrade path: from `from` to `from + 1`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct UpgradeStep {
    pub(crate) from: u64,
    pub(crate) apply: fn(&mut AutoCommit) -> Result<(), SchemaError>,
}
