//! Visits on the phone (`core.visits()`): reading them, the lists (my
//! visits by date, the pool by distance), the collaborative edits (notes,
//! checklist) and the decisions queued as commands (claim, release, check-in
//! and check-out with the device's geofence verdict, extension requests,
//! ratings).
//!
//! The visit list queries over the index are here; the documents and the
//! outbox they read and write are [`crate::documents`]' and
//! [`crate::outbox`]'s.

use std::sync::Arc;

use fieldops_sync::commands::{Attendance, CommandBody};
use fieldops_sync::docs::visit::{ChecklistItem, IsoDate};
use fieldops_sync::docs::{CheckIn, Visit};
use fieldops_sync::ids::{DocId, ItemId};

use crate::documents::{self, LIST_COLUMNS, ListItem};
use crate::error::{CoreError, Result, check_len};
use crate::geo::{GeofenceCheck, Position, check_geofence};
use crate::model::OutboxEntry;
use crate::outbox;
use crate::shared::Shared;
use crate::store::now_ms;

/// Longest visit notes, in characters.
pub const MAX_NOTES_CHARS: usize = 20_000;
/// Longest checklist label, in characters.
pub const MAX_LABEL_CHARS: usize = 200;

/// What queueing a check-in or check-out returns.
#[derive(Debug, Clone, PartialEq)]
pub struct AttendanceReceipt {
    /// The queued command.
    pub command: OutboxEntry,
    /// The device's geofence verdict (the server re-checks).
    pub geofence: GeofenceCheck,
}

/// Visits on this device (`core.visits()`).
#[derive(Debug, Clone, Copy)]
pub struct Visits<'a> {
    shared: &'a Arc<Shared>,
}

impl<'a> Visits<'a> {
    pub(crate) fn new(shared: &'a Arc<Shared>) -> Self {
        Visits { shared }
    }

    /// A visit.
    pub fn get(&self, id: DocId) -> Result<Visit> {
        documents::get(self.shared, id)
    }

    /// A check-in record.
    pub fn check_in_record(&self, id: DocId) -> Result<CheckIn> {
        documents::get(self.shared, id)
    }

    /// My visits by start date; only those starting on `date` (`YYYY-MM-DD`) if given.
    pub fn mine(&self, date: Option<&str>) -> Result<Vec<ListItem>> {
        if let Some(date) = date {
            date.parse::<IsoDate>()
                .map_err(|e| CoreError::invalid("date", e))?;
        }
        let sql = format!(
            "SELECT {LIST_COLUMNS} FROM doc_index
             WHERE doc_index.kind = 'visit' AND assigned_to_me = 1 AND (?1 IS NULL OR sort_key = ?1)
             ORDER BY sort_key, title"
        );
        documents::list(self.shared, &sql, &[&date])
    }

    /// Open visits I do not hold, nearest first when a position is given.
    pub fn pool(&self, from: Option<Position>) -> Result<Vec<ListItem>> {
        let sql = format!(
            "SELECT {LIST_COLUMNS} FROM doc_index
             WHERE doc_index.kind = 'visit' AND status = 'open' AND assigned_to_me = 0
             ORDER BY sort_key, title"
        );
        let mut items = documents::list(self.shared, &sql, &[])?;
        if let Some(from) = from {
            for item in &mut items {
                item.distance_m = item.position.map(|p| from.distance_m(p));
            }
            items.sort_by(|a, b| {
                let d = |i: &ListItem| i.distance_m.unwrap_or(f64::MAX);
                d(a).total_cmp(&d(b))
            });
        }
        Ok(items)
    }

    /// Distance from `from` to a visit's site, metres.
    pub fn distance_to(&self, visit_id: DocId, from: Position) -> Result<f64> {
        let visit = self.get(visit_id)?;
        Ok(from.distance_m(Position::new(visit.site.lat, visit.site.lon)?))
    }

    /// Replaces a visit's notes.
    pub fn set_notes(&self, visit_id: DocId, notes: &str) -> Result<()> {
        check_len("notes", notes, MAX_NOTES_CHARS)?;
        documents::edit::<Visit>(self.shared, visit_id, |v| {
            v.notes = notes.to_owned();
            Ok(())
        })
    }

    /// Ticks or unticks a checklist item.
    pub fn set_checklist_item(&self, visit_id: DocId, item_id: ItemId, done: bool) -> Result<()> {
        documents::edit::<Visit>(self.shared, visit_id, |v| {
            let item =
                v.checklist
                    .iter_mut()
                    .find(|i| i.id == item_id)
                    .ok_or(CoreError::NotFound {
                        kind: "checklist item",
                    })?;
            item.done = done;
            Ok(())
        })
    }

    /// Adds a checklist item; returns its id.
    pub fn add_checklist_item(&self, visit_id: DocId, label: &str) -> Result<ItemId> {
        check_len("label", label, MAX_LABEL_CHARS)?;
        if label.trim().is_empty() {
            return Err(CoreError::invalid("label", "must not be blank"));
        }
        let id = ItemId::new();
        documents::edit::<Visit>(self.shared, visit_id, |v| {
            v.checklist.push(ChecklistItem {
                id,
                label: label.trim().to_owned(),
                done: false,
            });
            Ok(())
        })?;
        Ok(id)
    }

    /// The visit, once the caller is known to be signed in.
    fn require(&self, visit_id: DocId) -> Result<Visit> {
        self.shared.require_account()?;
        self.get(visit_id)
    }

    /// Claims a pool visit.
    pub fn claim(&self, visit_id: DocId) -> Result<OutboxEntry> {
        self.require(visit_id)?;
        outbox::queue(self.shared, CommandBody::ClaimVisit { visit_id })
    }

    /// Gives a claimed visit back.
    pub fn release(&self, visit_id: DocId) -> Result<OutboxEntry> {
        self.require(visit_id)?;
        outbox::queue(self.shared, CommandBody::ReleaseVisit { visit_id })
    }

    fn attendance(
        &self,
        visit_id: DocId,
        at: Position,
        accuracy_m: f64,
        check_in: bool,
    ) -> Result<AttendanceReceipt> {
        let visit = self.require(visit_id)?;
        let site = Position::new(visit.site.lat, visit.site.lon)?;
        let geofence = check_geofence(at, accuracy_m, site)?;
        let attendance = Attendance {
            visit_id,
            lat: at.lat,
            lon: at.lon,
            accuracy_m,
            device_time_ms: now_ms(),
        };
        let body = if check_in {
            CommandBody::CheckIn(attendance)
        } else {
            CommandBody::CheckOut(attendance)
        };
        Ok(AttendanceReceipt {
            command: outbox::queue(self.shared, body)?,
            geofence,
        })
    }

    /// Checks in on site; returns the queued command and the device's geofence verdict.
    pub fn check_in(
        &self,
        visit_id: DocId,
        at: Position,
        accuracy_m: f64,
    ) -> Result<AttendanceReceipt> {
        self.attendance(visit_id, at, accuracy_m, true)
    }

    /// Checks out.
    pub fn check_out(
        &self,
        visit_id: DocId,
        at: Position,
        accuracy_m: f64,
    ) -> Result<AttendanceReceipt> {
        self.attendance(visit_id, at, accuracy_m, false)
    }

    /// Asks CS for more days.
    pub fn request_extension(
        &self,
        visit_id: DocId,
        extra_days: u16,
        reason: &str,
    ) -> Result<OutboxEntry> {
        self.require(visit_id)?;
        outbox::queue(
            self.shared,
            CommandBody::RequestExtension {
                visit_id,
                extra_days,
                reason: reason.to_owned(),
            },
        )
    }

    /// Rates a done visit with the token from the rating link.
    pub fn submit_rating(
        &self,
        visit_id: DocId,
        token: &str,
        score: u8,
        comment: Option<&str>,
    ) -> Result<OutboxEntry> {
        outbox::queue(
            self.shared,
            CommandBody::SubmitRating {
                visit_id,
                token: token.to_owned(),
                score,
                comment: comment.map(str::to_owned),
            },
        )
    }
}
