//! Write rules: who may change what, and the check that enforces them.
//!
//! The policy is one table, [`RULES`]. [`check_change`] compares two
//! versions of a document field by field, works out which root fields
//! differ, and asks the table whether the actor may change each of them in
//! the document's current state. It returns every violation, not just the
//! first, so a client can show them all and a test can assert exactly.
//!
//! The server runs [`receive_checked`] (or [`apply_checked`]) on every
//! incoming sync message: the changes are applied to a copy, the copy is
//! checked, and only a clean copy replaces the stored document. Devices run
//! [`check_since`] on their unsent local changes, so an honest app rarely
//! produces a change the server will refuse.

mod table;

use automerge::sync::{self, SyncDoc};
use automerge::{AutoCommit, ChangeHash};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::docs::codec::raw_root;
use crate::docs::ticket::TicketStatus;
use crate::docs::visit::VisitStatus;
use crate::docs::{
    self, Document, KIND_KEY, checkin, invoice, journey, photo, staff_notes, ticket, visit,
};
use crate::error::{ApplyError, SchemaError};
use crate::ids::{DepartmentId, DocKind, UserId};

pub use table::RULES;

string_enum! {
    /// The roles an actor can have.
    pub enum Role {
        /// Administrators: every department.
        Admin = "admin",
        /// Customer service staff.
        Cs = "cs",
        /// Sales staff.
        Sales = "sales",
        /// Field technicians.
        Technician = "technician",
        /// Customers.
        Customer = "customer",
        /// The server itself, the authority. Never a signed-in user.
        Server = "server",
    }
}

/// Who is making a change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// Their role.
    pub role: Role,
    /// Their user id; `None` only for the server.
    pub user_id: Option<UserId>,
    /// The departments they belong to (staff).
    pub departments: Vec<DepartmentId>,
}

impl Actor {
    /// The server, writing its own decisions.
    pub fn server() -> Self {
        Actor {
            role: Role::Server,
            user_id: None,
            departments: Vec::new(),
        }
    }

    /// A signed-in user with no departments (customer, technician).
    pub fn user(role: Role, user_id: UserId) -> Self {
        Actor {
            role,
            user_id: Some(user_id),
            departments: Vec::new(),
        }
    }

    /// A staff member of some departments.
    pub fn staff(role: Role, user_id: UserId, departments: Vec<DepartmentId>) -> Self {
        Actor {
            role,
            user_id: Some(user_id),
            departments,
        }
    }

    fn is(&self, user: UserId) -> bool {
        self.user_id == Some(user)
    }
}

/// The fields of one document kind that a [`Rule`] covers.
#[derive(Debug, Clone, Copy)]
pub enum Fields {
    /// Ticket fields.
    Ticket(&'static [ticket::Field]),
    /// Visit fields.
    Visit(&'static [visit::Field]),
    /// Check-in fields.
    CheckIn(&'static [checkin::Field]),
    /// Photo fields.
    Photo(&'static [photo::Field]),
    /// Staff-notes fields.
    StaffNotes(&'static [staff_notes::Field]),
    /// Invoice fields.
    Invoice(&'static [invoice::Field]),
    /// Journey fields.
    Journey(&'static [journey::Field]),
}

impl Fields {
    /// The document kind these fields belong to.
    pub fn kind(&self) -> DocKind {
        match self {
            Fields::Ticket(_) => DocKind::Ticket,
            Fields::Visit(_) => DocKind::Visit,
            Fields::CheckIn(_) => DocKind::CheckIn,
            Fields::Photo(_) => DocKind::Photo,
            Fields::StaffNotes(_) => DocKind::StaffNotes,
            Fields::Invoice(_) => DocKind::Invoice,
            Fields::Journey(_) => DocKind::Journey,
        }
    }

    /// Whether the field stored under `key` is covered.
    pub fn covers(&self, key: &str) -> bool {
        match self {
            Fields::Ticket(fields) => fields.iter().any(|f| f.key() == key),
            Fields::Visit(fields) => fields.iter().any(|f| f.key() == key),
            Fields::CheckIn(fields) => fields.iter().any(|f| f.key() == key),
            Fields::Photo(fields) => fields.iter().any(|f| f.key() == key),
            Fields::StaffNotes(fields) => fields.iter().any(|f| f.key() == key),
            Fields::Invoice(fields) => fields.iter().any(|f| f.key() == key),
            Fields::Journey(fields) => fields.iter().any(|f| f.key() == key),
        }
    }
}

/// Whether `kind` has a field stored under `key`.
fn is_known_field(kind: DocKind, key: &str) -> bool {
    match kind {
        DocKind::Ticket => ticket::Field::from_key(key).is_some(),
        DocKind::Visit => visit::Field::from_key(key).is_some(),
        DocKind::CheckIn => checkin::Field::from_key(key).is_some(),
        DocKind::Photo => photo::Field::from_key(key).is_some(),
        DocKind::StaffNotes => staff_notes::Field::from_key(key).is_some(),
        DocKind::Invoice => invoice::Field::from_key(key).is_some(),
        DocKind::Journey => journey::Field::from_key(key).is_some(),
    }
}

/// One row of the table: `roles` may change `fields` when all of `when` hold.
#[derive(Debug, Clone, Copy)]
pub struct Rule {
    /// Who.
    pub roles: &'static [Role],
    /// What.
    pub fields: Fields,
    /// When. Empty means always.
    pub when: &'static [Condition],
}

/// A condition on the document and the actor. Conditions about state and
/// ownership are judged on the document as it was before the change (for a
/// creation: as created), so a change cannot grant itself the right to be made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Condition {
    /// The change creates the document.
    Creating,
    /// The document existed before the change.
    Existing,
    /// The actor is the ticket's customer.
    OwnTicket,
    /// The ticket is in one of these states.
    TicketStatusIn(&'static [TicketStatus]),
    /// The ticket, visit or notes belong to one of the actor's departments.
    InDepartment,
    /// The actor holds an active assignment on the visit.
    AssignedToVisit,
    /// The visit is in one of these states.
    VisitStatusIn(&'static [VisitStatus]),
    /// The actor is the photo's author or the check-in's technician.
    OwnRecord,
    /// Fields the server decides are still unset after the change (photo
    /// upload pending; check-in without receipt time or geofence decision).
    ServerFieldsUnset,
    /// Existing notes are untouched and every added note is the actor's.
    AppendsOwnNotes,
    /// The photo moves from pending (or nothing, for a creation) to stored.
    /// The table cannot see the object store: the server additionally
    /// refuses the change unless it holds the bytes
    /// ([`ViolationReason::BytesMissing`]).
    MarksUploaded,
}

impl Condition {
    fn holds(self, change: &Change<'_>) -> bool {
        let actor = change.actor;
        match (self, change.current()) {
            (Condition::Creating, _) => change.before.is_none(),
            (Condition::Existing, _) => change.before.is_some(),
            (Condition::OwnTicket, Document::Ticket(t)) => actor.is(t.customer_id),
            (Condition::TicketStatusIn(states), Document::Ticket(t)) => states.contains(&t.status),
            (Condition::InDepartment, Document::Ticket(t)) => {
                actor.departments.contains(&t.department_id)
            }
            (Condition::InDepartment, Document::Visit(v)) => v
                .department_id
                .is_some_and(|d| actor.departments.contains(&d)),
            (Condition::InDepartment, Document::StaffNotes(n)) => {
                actor.departments.contains(&n.department_id)
            }
            (Condition::AssignedToVisit, Document::Visit(v)) => {
                actor.user_id.is_some_and(|id| v.is_assigned_to(id))
            }
            (Condition::VisitStatusIn(states), Document::Visit(v)) => states.contains(&v.status),
            (Condition::OwnRecord, Document::Photo(p)) => actor.is(p.author_id),
            (Condition::OwnRecord, Document::CheckIn(c)) => actor.is(c.technician_id),
            (Condition::ServerFieldsUnset, _) => match change.after {
                Document::Photo(p) => p.upload_state == photo::UploadState::Pending,
                Document::CheckIn(c) => c.within_geofence.is_none() && c.received_at_ms.is_none(),
                _ => true,
            },
            (Condition::MarksUploaded, Document::Photo(_)) => match (change.before, change.after) {
                (before, Document::Photo(after)) => {
                    after.upload_state == photo::UploadState::Stored
                        && before.is_none_or(|b| {
                            matches!(b, Document::Photo(b) if b.upload_state == photo::UploadState::Pending)
                        })
                }
                _ => false,
            },
            (Condition::AppendsOwnNotes, _) => match (change.before, change.after) {
                (Some(Document::StaffNotes(before)), Document::StaffNotes(after)) => {
                    let (kept, added): (Vec<_>, Vec<_>) = after
                        .notes
                        .iter()
                        .partition(|note| before.notes.iter().any(|old| old.id == note.id));
                    kept.into_iter().eq(before.notes.iter())
                        && added.iter().all(|note| actor.is(note.author_id))
                }
                _ => false,
            },
            // A condition about another kind never holds.
            _ => false,
        }
    }

    /// The reason reported when this condition fails.
    fn refusal(self) -> ViolationReason {
        match self {
            Condition::Creating => ViolationReason::Immutable,
            Condition::Existing => ViolationReason::Forbidden,
            Condition::OwnTicket | Condition::OwnRecord => ViolationReason::NotOwner,
            Condition::TicketStatusIn(_) | Condition::VisitStatusIn(_) => {
                ViolationReason::WrongState
            }
            Condition::InDepartment => ViolationReason::NotInDepartment,
            Condition::AssignedToVisit => ViolationReason::NotAssigned,
            Condition::ServerFieldsUnset => ViolationReason::ServerOwned,
            Condition::AppendsOwnNotes => ViolationReason::AppendOnly,
            Condition::MarksUploaded => ViolationReason::ServerOwned,
        }
    }
}

string_enum! {
    /// Why a field change was refused. Machine-readable, stable codes.
    pub enum ViolationReason {
        /// Only the server writes this field.
        ServerOwned = "server_owned",
        /// The actor's role may not change this field.
        Forbidden = "forbidden",
        /// The document is not the actor's.
        NotOwner = "not_owner",
        /// The document's state does not allow this change now.
        WrongState = "wrong_state",
        /// The document belongs to another department.
        NotInDepartment = "not_in_department",
        /// The actor holds no active assignment on the visit.
        NotAssigned = "not_assigned",
        /// The field may only be set when the document is created.
        Immutable = "immutable",
        /// Existing entries may not be edited or removed.
        AppendOnly = "append_only",
        /// The schema has no such field.
        UnknownField = "unknown_field",
        /// The document no longer matches its schema after the change.
        Malformed = "malformed",
        /// The document is not of the expected kind.
        KindMismatch = "kind_mismatch",
        /// A photo was marked uploaded but the server does not hold its
        /// bytes (or its thumbnail's): upload them first.
        BytesMissing = "bytes_missing",
    }
    /// A reason a newer server gave that this build does not know: the
    /// change was refused all the same.
    unknown Unknown = "unknown";
}

/// One refused field change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Violation {
    /// The root key of the field (`""` when the whole document is at fault).
    pub field: String,
    /// Why.
    pub reason: ViolationReason,
}

impl Violation {
    fn new(field: impl Into<String>, reason: ViolationReason) -> Self {
        Violation {
            field: field.into(),
            reason,
        }
    }

    fn from_schema(error: &SchemaError) -> Self {
        match error {
            SchemaError::WrongKind { .. } => {
                Violation::new(KIND_KEY, ViolationReason::KindMismatch)
            }
            SchemaError::Missing { field }
            | SchemaError::WrongType { field, .. }
            | SchemaError::InvalidValue { field, .. } => {
                let root = field.split(['.', '[']).next().unwrap_or_default();
                Violation::new(root, ViolationReason::Malformed)
            }
            _ => Violation::new("", ViolationReason::Malformed),
        }
    }
}

/// The two versions being compared, hydrated.
struct Change<'a> {
    before: Option<&'a Document>,
    after: &'a Document,
    actor: &'a Actor,
}

impl Change<'_> {
    /// The document whose state and ownership decide: the existing one, or
    /// the new one for a creation.
    fn current(&self) -> &Document {
        self.before.unwrap_or(self.after)
    }
}

/// Checks that `actor` may turn `before` into `after`, both documents of
/// `kind`. `before` is blank (see [`docs::is_blank`]) for a creation.
///
/// Returns every violation: unknown fields, fields the actor may not
/// change, and a malformed result. Unchanged fields are never judged, so a
/// document that already breaks a rule (written by the server) does not
/// block edits of other fields.
pub fn check_change(
    kind: DocKind,
    before: &AutoCommit,
    after: &AutoCommit,
    actor: &Actor,
) -> Result<(), Vec<Violation>> {
    let malformed = |error: SchemaError| vec![Violation::from_schema(&error)];
    let old = raw_root(before).map_err(malformed)?;
    let new = raw_root(after).map_err(malformed)?;
    let changed: Vec<&String> = old
        .keys()
        .chain(new.keys().filter(|key| !old.contains_key(*key)))
        .filter(|key| old.get(*key) != new.get(*key))
        .collect();
    if changed.is_empty() {
        return Ok(());
    }

    let after_doc = Document::hydrate(kind, after).map_err(malformed)?;
    let before_doc = match docs::is_blank(before) {
        true => None,
        false => Some(Document::hydrate(kind, before).map_err(malformed)?),
    };
    let change = Change {
        before: before_doc.as_ref(),
        after: &after_doc,
        actor,
    };

    let violations: Vec<Violation> = changed
        .into_iter()
        .filter_map(|key| {
            permit(kind, key, &change)
                .err()
                .map(|reason| Violation::new(key.as_str(), reason))
        })
        .collect();
    if violations.is_empty() {
        Ok(())
    } else {
        Err(violations)
    }
}

/// Whether the table lets the actor change the field under `key`.
fn permit(kind: DocKind, key: &str, change: &Change<'_>) -> Result<(), ViolationReason> {
    if !is_known_field(kind, key) {
        return Err(ViolationReason::UnknownField);
    }
    let mut refusal = None;
    let mut writable_by_someone_else = false;
    for rule in RULES
        .iter()
        .filter(|rule| rule.fields.kind() == kind && rule.fields.covers(key))
    {
        writable_by_someone_else |= rule.roles.iter().any(|role| *role != Role::Server);
        if !rule.roles.contains(&change.actor.role) {
            continue;
        }
        match rule
            .when
            .iter()
            .position(|condition| !condition.holds(change))
        {
            None => return Ok(()),
            // Report the refusal of the rule that came closest to granting.
            Some(failed) => {
                if refusal.is_none_or(|(best, _)| failed > best) {
                    refusal = Some((failed, rule.when[failed].refusal()));
                }
            }
        }
    }
    Err(refusal
        .map(|(_, reason)| reason)
        .unwrap_or(if writable_by_someone_else {
            ViolationReason::Forbidden
        } else {
            ViolationReason::ServerOwned
        }))
}

/// Why incoming changes were not accepted.
#[derive(Debug, Error)]
pub enum WriteError {
    /// The changes could not be applied at all.
    #[error(transparent)]
    Apply(#[from] ApplyError),
    /// The changes break write rules.
    #[error("{} write rule violation(s)", .0.len())]
    Violations(Vec<Violation>),
}

/// A copy of `doc` that keeps its actor, for trying changes on.
fn candidate(doc: &mut AutoCommit) -> AutoCommit {
    let actor = doc.get_actor().clone();
    doc.fork().with_actor(actor)
}

/// Applies raw Automerge changes (as produced by `save_incremental` or
/// `save_after`) to `doc` if, and only if, `actor` may make them. On any
/// error `doc` is left exactly as it was. As with Automerge's
/// `load_incremental`, trailing bytes that hold no complete change are
/// ignored, and changes whose dependencies are missing wait in Automerge's
/// queue: neither is applied, so neither is judged.
pub fn apply_checked(
    doc: &mut AutoCommit,
    kind: DocKind,
    changes: &[u8],
    actor: &Actor,
) -> Result<(), WriteError> {
    let mut next = candidate(doc);
    next.load_incremental(changes).map_err(ApplyError::from)?;
    check_change(kind, doc, &next, actor).map_err(WriteError::Violations)?;
    *doc = next;
    Ok(())
}

/// Receives a sync message from `actor` into `doc` if, and only if, the
/// changes it carries are allowed. On any error neither `doc` nor `state`
/// change, so the refused changes are never stored or forwarded.
pub fn receive_checked(
    doc: &mut AutoCommit,
    state: &mut sync::State,
    kind: DocKind,
    message: sync::Message,
    actor: &Actor,
) -> Result<(), WriteError> {
    let mut next = candidate(doc);
    let mut next_state = state.clone();
    next.sync()
        .receive_sync_message(&mut next_state, message)
        .map_err(ApplyError::from)?;
    check_change(kind, doc, &next, actor).map_err(WriteError::Violations)?;
    *doc = next;
    *state = next_state;
    Ok(())
}

/// Checks the changes made to `doc` since `synced` (the heads the server
/// last confirmed), on the device, before they are sent.
pub fn check_since(
    doc: &mut AutoCommit,
    kind: DocKind,
    synced: &[ChangeHash],
    actor: &Actor,
) -> Result<(), WriteError> {
    let before = doc.fork_at(synced).map_err(ApplyError::from)?;
    check_change(kind, &before, doc, actor).map_err(WriteError::Violations)
}
