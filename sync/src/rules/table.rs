//! The write-rule table: who may change which fields, of which kind, when.
//!
//! This is the whole policy. A field that no row names for a role is not
//! writable by that role; a field that only the `server` rows name is
//! server-owned. A change is allowed when any row grants it; when none does,
//! the refusal reported is that of the row that came closest (failed at the
//! latest condition), so conditions are listed from general to specific.
//!
//! What the table cannot see is the relation between documents: that the
//! ticket a customer attaches a photo to is theirs, or that the visit of a
//! check-in is one the technician is assigned to. The server enforces those
//! through scope (a client can only sync documents in its scope) and by
//! executing attendance as commands. Nor can it see the object store: a
//! device may mark its photo `stored`, and the server refuses that change
//! (`bytes_missing`) unless it holds the photo's and its thumbnail's bytes.

use super::Condition::{
    AppendsOwnNotes, AssignedToVisit, Creating, Existing, InDepartment, MarksUploaded, OwnRecord,
    OwnTicket, ServerFieldsUnset, TicketStatusIn, VisitStatusIn,
};
use super::Role::{Admin, Cs, Customer, Sales, Server, Technician};
use super::{Fields, Rule};
use crate::docs::checkin::Field as C;
use crate::docs::invoice::Field as I;
use crate::docs::photo::Field as P;
use crate::docs::staff_notes::Field as N;
use crate::docs::ticket::{Field as T, TicketStatus};
use crate::docs::visit::{Field as V, VisitStatus};

/// Visit states in which the work is still live.
const LIVE_VISIT: &[VisitStatus] = &[
    VisitStatus::Open,
    VisitStatus::Assigned,
    VisitStatus::InProgress,
];

/// Ticket fields staff may edit.
const STAFF_TICKET: &[T] = &[
    T::Subject,
    T::Description,
    T::Category,
    T::Priority,
    T::DepartmentId,
    T::AssigneeId,
    T::PhotoIds,
];

/// Visit fields staff may edit. Quota, status, emergency and assignments
/// are decisions: they change through server commands only.
const STAFF_VISIT: &[V] = &[
    V::Title,
    V::Description,
    V::Site,
    V::ScheduledStart,
    V::PlannedDays,
    V::Checklist,
    V::CustomerPrivate,
];

/// Every write rule.
pub static RULES: &[Rule] = &[
    // The server is the authority and writes everything, including
    // status, assignments, quota, geofence decisions and schema upgrades.
    Rule {
        roles: &[Server],
        fields: Fields::Ticket(T::ALL),
        when: &[],
    },
    Rule {
        roles: &[Server],
        fields: Fields::Visit(V::ALL),
        when: &[],
    },
    Rule {
        roles: &[Server],
        fields: Fields::CheckIn(C::ALL),
        when: &[],
    },
    Rule {
        roles: &[Server],
        fields: Fields::Photo(P::ALL),
        when: &[],
    },
    Rule {
        roles: &[Server],
        fields: Fields::StaffNotes(N::ALL),
        when: &[],
    },
    // Invoices are the server's alone: a customer pays by a command.
    Rule {
        roles: &[Server],
        fields: Fields::Invoice(I::ALL),
        when: &[],
    },
    // Journeys are published by the server; customers only read them.
    Rule {
        roles: &[Server],
        fields: Fields::Journey(crate::docs::journey::Field::ALL),
        when: &[],
    },
    // Customers: the description and photo list of their own open ticket.
    Rule {
        roles: &[Customer],
        fields: Fields::Ticket(&[T::Description, T::PhotoIds]),
        when: &[Existing, OwnTicket, TicketStatusIn(&[TicketStatus::Open])],
    },
    // Customers and technicians: create photos they took, before upload.
    Rule {
        roles: &[Customer, Technician],
        fields: Fields::Photo(P::ALL),
        when: &[Creating, OwnRecord, ServerFieldsUnset],
    },
    // ... or already marked uploaded (a photo taken offline whose bytes went
    // up before its document): the server accepts `stored` only for bytes it
    // holds (see `MarksUploaded`).
    Rule {
        roles: &[Customer, Technician],
        fields: Fields::Photo(P::ALL),
        when: &[Creating, OwnRecord, MarksUploaded],
    },
    // ... mark them uploaded once the bytes are on the server ...
    Rule {
        roles: &[Customer, Technician],
        fields: Fields::Photo(&[P::UploadState]),
        when: &[Existing, OwnRecord, MarksUploaded],
    },
    // ... and caption them afterwards.
    Rule {
        roles: &[Customer, Technician],
        fields: Fields::Photo(&[P::Caption]),
        when: &[Existing, OwnRecord],
    },
    // Technicians: notes and checklist of a visit they actively hold.
    Rule {
        roles: &[Technician],
        fields: Fields::Visit(&[V::Notes, V::Checklist]),
        when: &[
            Existing,
            AssignedToVisit,
            VisitStatusIn(&[VisitStatus::Assigned, VisitStatus::InProgress]),
        ],
    },
    // Technicians: their own check-in records, as creation only.
    Rule {
        roles: &[Technician],
        fields: Fields::CheckIn(C::ALL),
        when: &[Creating, OwnRecord, ServerFieldsUnset],
    },
    // Staff: tickets and live visits of their departments; admins: all.
    Rule {
        roles: &[Cs],
        fields: Fields::Ticket(STAFF_TICKET),
        when: &[Existing, InDepartment],
    },
    Rule {
        roles: &[Admin],
        fields: Fields::Ticket(STAFF_TICKET),
        when: &[Existing],
    },
    Rule {
        roles: &[Cs],
        fields: Fields::Visit(STAFF_VISIT),
        when: &[Existing, InDepartment, VisitStatusIn(LIVE_VISIT)],
    },
    Rule {
        roles: &[Admin],
        fields: Fields::Visit(STAFF_VISIT),
        when: &[Existing, VisitStatusIn(LIVE_VISIT)],
    },
    // Staff: append their own internal notes in their departments.
    Rule {
        roles: &[Cs, Sales],
        fields: Fields::StaffNotes(&[N::Notes]),
        when: &[Existing, InDepartment, AppendsOwnNotes],
    },
    Rule {
        roles: &[Admin],
        fields: Fields::StaffNotes(&[N::Notes]),
        when: &[Existing, AppendsOwnNotes],
    },
];
