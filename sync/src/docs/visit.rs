//! The visit document: one on-site job, its schedule, site, the assignments
//! the server granted, and the technicians' notes and checklist.
//!
//! Customer-private data (contact, access instructions) sits in its own
//! root map, [`Field::CustomerPrivate`]. A technician browsing the open pool
//! must not receive it, and an Automerge document cannot be replicated with
//! a hole in it: whoever syncs a document receives its whole history. So
//! the pool is served as a separate, server-written projection built by
//! [`Visit::pool_view`] and [`DocumentSchema::to_document`], which shares no
//! history with the full document and therefore carries no trace of the
//! private map. When a claim is granted, the device drops the projection and
//! receives the full document.

use core::fmt;
use core::str::FromStr;

use automerge::AutoCommit;

use super::codec::{MapRead, MapWrite};
use super::{DocumentSchema, Header};
use crate::error::SchemaError;
use crate::ids::{AssignmentId, DepartmentId, DocId, DocKind, ItemId, UserId};

document_fields! {
    /// The fields of a visit document.
    pub enum Field {
        /// The ticket this visit serves.
        TicketId = "ticket_id",
        /// The customer being visited.
        CustomerId = "customer_id",
        /// The department that owns the visit.
        DepartmentId = "department_id",
        /// Short title shown in lists.
        Title = "title",
        /// What has to be done.
        Description = "description",
        /// Where: `{address, lat, lon}`.
        Site = "site",
        /// First day, `YYYY-MM-DD` in the site's local calendar.
        ScheduledStart = "scheduled_start",
        /// Planned duration in days.
        PlannedDays = "planned_days",
        /// How many technicians may hold an active assignment.
        TechnicianQuota = "technician_quota",
        /// [`VisitStatus`] code.
        Status = "status",
        /// Whether the visit sits in the emergency pool.
        Emergency = "emergency",
        /// Claims as the server decided them.
        Assignments = "assignments",
        /// Technicians' collaborative notes.
        Notes = "notes",
        /// The job's checklist.
        Checklist = "checklist",
        /// Contact and access data never shown in the pool.
        CustomerPrivate = "customer_private",
    }
}

/// Keys inside the nested records of a visit.
mod keys {
    pub(super) const ADDRESS: &str = "address";
    pub(super) const LAT: &str = "lat";
    pub(super) const LON: &str = "lon";
    pub(super) const ASSIGNMENT_ID: &str = "assignment_id";
    pub(super) const TECHNICIAN_ID: &str = "technician_id";
    pub(super) const STATE: &str = "state";
    pub(super) const ID: &str = "id";
    pub(super) const LABEL: &str = "label";
    pub(super) const DONE: &str = "done";
    pub(super) const CONTACT_NAME: &str = "contact_name";
    pub(super) const CONTACT_PHONE: &str = "contact_phone";
    pub(super) const ACCESS_NOTES: &str = "access_notes";
}

string_enum! {
    /// Where a visit is in its life: open → assigned → in progress → done,
    /// or cancelled.
    pub enum VisitStatus {
        /// In the pool, waiting for claims.
        Open = "open",
        /// At least one technician holds an assignment.
        Assigned = "assigned",
        /// Someone checked in.
        InProgress = "in_progress",
        /// Work finished.
        Done = "done",
        /// Called off.
        Cancelled = "cancelled",
    }
}

/// The visit state machine: the one place that says which statuses take
/// claims, what seats do to a status, and which moves exist. The server's
/// storage layer and services follow it; so does a phone's reading of a
/// visit document.
impl VisitStatus {
    /// The statuses that take claims: the open pool, and a visit already in
    /// progress with a seat free again (the emergency pool).
    pub const CLAIMABLE: [VisitStatus; 2] = [VisitStatus::Open, VisitStatus::InProgress];

    /// The statuses a visit never leaves by itself.
    pub const CLOSED: [VisitStatus; 2] = [VisitStatus::Done, VisitStatus::Cancelled];

    /// Whether a technician may claim a free seat now.
    pub fn accepts_claims(self) -> bool {
        Self::CLAIMABLE.contains(&self)
    }

    /// Done or cancelled.
    pub fn is_closed(self) -> bool {
        Self::CLOSED.contains(&self)
    }

    /// The status once `taken` of `quota` seats are held: an open visit
    /// whose seats are all taken is assigned; an assigned one with a seat
    /// free opens again; every other status stays.
    pub fn with_seats(self, taken: i64, quota: i64) -> Self {
        match self {
            VisitStatus::Open | VisitStatus::Assigned if taken >= quota => VisitStatus::Assigned,
            VisitStatus::Open | VisitStatus::Assigned => VisitStatus::Open,
            other => other,
        }
    }

    /// Whether a visit may move from `self` to `to` by a person's action:
    /// the first check-in starts it, completion finishes it, reopening takes
    /// a done visit back to work, and anything not closed may be cancelled.
    /// (Open ↔ assigned follow the seats, [`VisitStatus::with_seats`].)
    pub fn can_become(self, to: VisitStatus) -> bool {
        use VisitStatus::{Assigned, Cancelled, Done, InProgress, Open};
        matches!(
            (self, to),
            (Open | Assigned, InProgress) | (InProgress, Done) | (Done, InProgress)
        ) || (to == Cancelled && !self.is_closed())
    }
}

string_enum! {
    /// The state of one assignment.
    pub enum AssignmentState {
        /// The technician holds the job.
        Active = "active",
        /// Withdrawn by the technician or released back to the pool by CS.
        Released = "released",
        /// The technician finished their part.
        Completed = "completed",
    }
}

/// A calendar date as `YYYY-MM-DD`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IsoDate(String);

impl IsoDate {
    /// The date as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for IsoDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for IsoDate {
    type Err = &'static str;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bytes = s.as_bytes();
        let shape_ok = bytes.len() == 10
            && bytes[4] == b'-'
            && bytes[7] == b'-'
            && bytes
                .iter()
                .enumerate()
                .all(|(i, b)| i == 4 || i == 7 || b.is_ascii_digit());
        if !shape_ok {
            return Err("must be YYYY-MM-DD");
        }
        let month: u8 = s[5..7].parse().map_err(|_| "bad month")?;
        let day: u8 = s[8..10].parse().map_err(|_| "bad day")?;
        if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
            return Err("month or day out of range");
        }
        Ok(IsoDate(s.to_owned()))
    }
}

/// Where a visit takes place.
#[derive(Debug, Clone, PartialEq)]
pub struct Site {
    /// Postal address.
    pub address: String,
    /// Latitude in degrees.
    pub lat: f64,
    /// Longitude in degrees.
    pub lon: f64,
}

/// One claim of the visit, as the server decided it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment {
    /// The assignment's id.
    pub assignment_id: AssignmentId,
    /// Who holds it.
    pub technician_id: UserId,
    /// Its state.
    pub state: AssignmentState,
}

/// One checklist entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChecklistItem {
    /// Stable id of the entry.
    pub id: ItemId,
    /// What to check.
    pub label: String,
    /// Whether it is done.
    pub done: bool,
}

/// Data only the customer, staff and assigned technicians may see.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CustomerPrivate {
    /// Who to ask for on site.
    pub contact_name: String,
    /// Their phone number (E.164).
    pub contact_phone: String,
    /// Gate codes, parking, pets.
    pub access_notes: String,
}

/// A visit.
#[derive(Debug, Clone, PartialEq)]
pub struct Visit {
    /// The ticket served, if the visit serves one.
    pub ticket_id: Option<DocId>,
    /// The customer visited.
    pub customer_id: UserId,
    /// The owning department, if any.
    pub department_id: Option<DepartmentId>,
    /// Short title.
    pub title: String,
    /// What to do.
    pub description: String,
    /// Where.
    pub site: Site,
    /// First day.
    pub scheduled_start: IsoDate,
    /// Planned days.
    pub planned_days: u32,
    /// Maximum number of active assignments; server-owned.
    pub technician_quota: u32,
    /// Status; server-owned.
    pub status: VisitStatus,
    /// In the emergency pool; server-owned.
    pub emergency: bool,
    /// Assignments; server-owned.
    pub assignments: Vec<Assignment>,
    /// Technicians' notes, collaborative text.
    pub notes: String,
    /// Checklist.
    pub checklist: Vec<ChecklistItem>,
    /// Private data; `None` in pool views.
    pub customer_private: Option<CustomerPrivate>,
}

impl Visit {
    /// Whether `technician` holds an active assignment on this visit.
    pub fn is_assigned_to(&self, technician: UserId) -> bool {
        self.assignments
            .iter()
            .any(|a| a.technician_id == technician && a.state == AssignmentState::Active)
    }

    /// Number of active assignments; never above the quota.
    pub fn active_assignments(&self) -> usize {
        self.assignments
            .iter()
            .filter(|a| a.state == AssignmentState::Active)
            .count()
    }

    /// The visit as the open pool shows it: without customer-private data.
    #[must_use]
    pub fn pool_view(&self) -> Visit {
        Visit {
            customer_private: None,
            ..self.clone()
        }
    }
}

impl DocumentSchema for Visit {
    const KIND: DocKind = DocKind::Visit;
    const SCHEMA_VERSION: u64 = 1;

    fn hydrate(doc: &AutoCommit) -> Result<Self, SchemaError> {
        Header::expect::<Self>(doc)?;
        let root = MapRead::root(doc);
        let site = root.map(Field::Site.key())?;
        Ok(Visit {
            ticket_id: root.opt_parse(Field::TicketId.key())?,
            customer_id: root.parse(Field::CustomerId.key())?,
            department_id: root.opt_parse(Field::DepartmentId.key())?,
            title: root.str(Field::Title.key())?,
            description: root.str(Field::Description.key())?,
            site: Site {
                address: site.str(keys::ADDRESS)?,
                lat: site.f64(keys::LAT)?,
                lon: site.f64(keys::LON)?,
            },
            scheduled_start: root.parse(Field::ScheduledStart.key())?,
            planned_days: root.uint(Field::PlannedDays.key())?,
            technician_quota: root.uint(Field::TechnicianQuota.key())?,
            status: root.parse(Field::Status.key())?,
            emergency: root.bool(Field::Emergency.key())?,
            assignments: root.map_list(Field::Assignments.key(), |item| {
                Ok(Assignment {
                    assignment_id: item.parse(keys::ASSIGNMENT_ID)?,
                    technician_id: item.parse(keys::TECHNICIAN_ID)?,
                    state: item.parse(keys::STATE)?,
                })
            })?,
            notes: root.text(Field::Notes.key())?,
            checklist: root.map_list(Field::Checklist.key(), |item| {
                Ok(ChecklistItem {
                    id: item.parse(keys::ID)?,
                    label: item.str(keys::LABEL)?,
                    done: item.bool(keys::DONE)?,
                })
            })?,
            customer_private: root
                .opt_map(Field::CustomerPrivate.key())?
                .map(|private| {
                    Ok::<_, SchemaError>(CustomerPrivate {
                        contact_name: private.str(keys::CONTACT_NAME)?,
                        contact_phone: private.str(keys::CONTACT_PHONE)?,
                        access_notes: private.str(keys::ACCESS_NOTES)?,
                    })
                })
                .transpose()?,
        })
    }

    fn reconcile(&self, doc: &mut AutoCommit) -> Result<(), SchemaError> {
        Header::prepare::<Self>(doc)?;
        let mut root = MapWrite::root(doc);
        root.put_opt_display(Field::TicketId.key(), self.ticket_id.as_ref())?;
        root.put_display(Field::CustomerId.key(), &self.customer_id)?;
        root.put_opt_display(Field::DepartmentId.key(), self.department_id.as_ref())?;
        root.put(Field::Title.key(), self.title.as_str())?;
        root.put(Field::Description.key(), self.description.as_str())?;
        {
            let mut site = root.map(Field::Site.key())?;
            site.put(keys::ADDRESS, self.site.address.as_str())?;
            site.put(keys::LAT, self.site.lat)?;
            site.put(keys::LON, self.site.lon)?;
        }
        root.put_display(Field::ScheduledStart.key(), &self.scheduled_start)?;
        root.put(Field::PlannedDays.key(), i64::from(self.planned_days))?;
        root.put(
            Field::TechnicianQuota.key(),
            i64::from(self.technician_quota),
        )?;
        root.put(Field::Status.key(), self.status.as_str())?;
        root.put(Field::Emergency.key(), self.emergency)?;
        root.keyed_list(
            Field::Assignments.key(),
            keys::ASSIGNMENT_ID,
            &self.assignments,
            |a| a.assignment_id.to_string(),
            |record, a| {
                record.put_display(keys::TECHNICIAN_ID, &a.technician_id)?;
                record.put(keys::STATE, a.state.as_str())
            },
        )?;
        root.text(Field::Notes.key(), &self.notes)?;
        root.keyed_list(
            Field::Checklist.key(),
            keys::ID,
            &self.checklist,
            |item| item.id.to_string(),
            |record, item| {
                record.put(keys::LABEL, item.label.as_str())?;
                record.put(keys::DONE, item.done)
            },
        )?;
        match &self.customer_private {
            Some(private) => {
                let mut map = root.map(Field::CustomerPrivate.key())?;
                map.put(keys::CONTACT_NAME, private.contact_name.as_str())?;
                map.put(keys::CONTACT_PHONE, private.contact_phone.as_str())?;
                map.put(keys::ACCESS_NOTES, private.access_notes.as_str())?;
            }
            None => root.put_opt(Field::CustomerPrivate.key(), None::<bool>)?,
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::testing::sample_visit;

    #[test]
    fn round_trips() {
        let visit = sample_visit();
        let doc = visit.to_document().unwrap();
        assert_eq!(Visit::hydrate(&doc).unwrap(), visit);
    }

    #[test]
    fn pool_projection_carries_no_trace_of_private_data() {
        let visit = sample_visit();
        let private = visit.customer_private.clone().unwrap();
        let mut full = visit.to_document().unwrap();
        let mut pool = visit.pool_view().to_document().unwrap();

        let contains = |bytes: &[u8], needle: &str| {
            bytes.windows(needle.len()).any(|w| w == needle.as_bytes())
        };
        assert!(contains(&full.save_nocompress(), &private.access_notes));
        assert!(!contains(&pool.save_nocompress(), &private.access_notes));
        assert!(!contains(&pool.save_nocompress(), &private.contact_phone));
        assert_eq!(Visit::hydrate(&pool).unwrap().customer_private, None);
    }

    #[test]
    fn checklist_edits_keep_item_identity_under_concurrency() {
        let visit = sample_visit();
        let mut a = visit.to_document().unwrap();
        let mut b = a.fork();

        // A ticks the first item; B removes the second and appends one.
        let mut on_a = visit.clone();
        on_a.checklist[0].done = true;
        on_a.reconcile(&mut a).unwrap();
        let mut on_b = visit.clone();
        on_b.checklist.remove(1);
        on_b.checklist.push(ChecklistItem {
            id: ItemId::new(),
            label: "Photo of meter".into(),
            done: false,
        });
        on_b.reconcile(&mut b).unwrap();

        a.merge(&mut b).unwrap();
        let merged = Visit::hydrate(&a).unwrap().checklist;
        assert_eq!(merged.len(), 2);
        assert!(merged[0].done, "A's tick survives B's edits");
        assert_eq!(merged[1].label, "Photo of meter");
    }

    #[test]
    fn dates_are_validated() {
        assert!("2026-11-22".parse::<IsoDate>().is_ok());
        for bad in [
            "2026-13-01",
            "2026-1-01",
            "22/11/2026",
            "2026-11-22T00:00",
            "",
        ] {
            assert!(bad.parse::<IsoDate>().is_err(), "{bad}");
        }
    }
}

#[cfg(test)]
mod state_machine_tests {
    use super::VisitStatus::{self, Assigned, Cancelled, Done, InProgress, Open};

    #[test]
    fn seats_move_a_visit_between_open_and_assigned_only() {
        assert_eq!(Open.with_seats(1, 2), Open);
        assert_eq!(Open.with_seats(2, 2), Assigned);
        assert_eq!(Assigned.with_seats(1, 2), Open);
        assert_eq!(Assigned.with_seats(3, 2), Assigned);
        assert_eq!(
            InProgress.with_seats(2, 2),
            InProgress,
            "a full visit in progress stays in progress"
        );
        assert_eq!(InProgress.with_seats(0, 2), InProgress);
        assert_eq!(Done.with_seats(0, 2), Done);
        assert_eq!(Cancelled.with_seats(0, 2), Cancelled);
    }

    #[test]
    fn only_the_pool_and_the_emergency_pool_take_claims() {
        let claimable: Vec<VisitStatus> = VisitStatus::ALL
            .iter()
            .copied()
            .filter(|s| s.accepts_claims())
            .collect();
        assert_eq!(claimable, [Open, InProgress]);
        assert!(Done.is_closed() && Cancelled.is_closed() && !Assigned.is_closed());
    }

    #[test]
    fn the_moves_people_make() {
        assert!(Open.can_become(InProgress) && Assigned.can_become(InProgress));
        assert!(InProgress.can_become(Done) && Done.can_become(InProgress));
        assert!(Open.can_become(Cancelled) && InProgress.can_become(Cancelled));
        assert!(!Done.can_become(Cancelled) && !Cancelled.can_become(Open));
        assert!(
            !Open.can_become(Done),
            "a visit nobody checked into is not done"
        );
        assert!(!Cancelled.can_become(InProgress));
    }
}
