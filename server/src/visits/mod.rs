//! Field execution as service functions: claims and withdrawals, the
//! emergency pool, attendance, extensions and the visit lifecycle.
//!
//! Every function here takes the transaction of a unit of work
//! ([`Work::tx`](crate::work::Work::tx)) and the acting
//! [`Actor`](crate::auth::Actor), does its checks and writes, and returns
//! either an [`Applied`](crate::service::Applied) value with the live-event
//! [`Notice`]s, or a [`ServiceError`] — for a rule, a
//! [`ServiceError::Rejected`] whose `RejectReason` is the machine code the
//! sync protocol uses. The HTTP handlers and the sync command executor call
//! the same functions:
//!
//! ```text
//! let mut work = Work::begin(&state).await?;
//! let applied = visits::claims::claim(work.tx(), db.backend(), &actor, visit_id).await?;
//! work.respond(Effects::notices(applied.notices), StatusCode::OK, view).await
//! ```
//!
//! On a refusal the caller drops the unit of work, which rolls back: checks
//! come before writes, but a rejection discovered by a constraint (a
//! duplicate claim) leaves a Postgres transaction aborted. Every accepted
//! change is written to the audit log in the same transaction.

pub mod attendance;
pub mod claims;
pub mod extensions;
pub mod gate;
pub mod lifecycle;

use fieldops_sync::commands::RejectReason;
use geo::{Distance as _, Haversine, Point};
use serde_json::json;

use crate::db::visits::{VisitRow, VisitStatus};
use crate::db::{Tx, audit};
use crate::events::{Happened, StatusChanged};
use crate::service::{Notice, ServiceError, reject, reject_as};
use crate::sync::Changed;

/// Writes `visit_ids` into their documents inside `tx`.
pub async fn project(
    tx: &mut Tx,
    db: &crate::db::Db,
    visit_ids: impl IntoIterator<Item = impl AsRef<str>>,
) -> anyhow::Result<Vec<Changed>> {
    let mut changed = Vec::new();
    for id in visit_ids {
        changed.extend(crate::sync::project::visit(tx, db, id.as_ref()).await?);
    }
    Ok(changed)
}

/// Audits a status change and returns its notice; `None` when unchanged.
pub async fn record_transition(
    tx: &mut Tx,
    actor_id: &str,
    before: &VisitRow,
    after: &VisitRow,
) -> sqlx::Result<Option<Notice>> {
    if before.status == after.status {
        return Ok(None);
    }
    audit::record(
        tx,
        Some(actor_id),
        "visit.status_changed",
        "visit",
        &after.id,
        json!({ "from": before.status, "to": after.status }),
    )
    .await?;
    Ok(Some(Notice::staff(Happened::VisitStatusChanged(
        StatusChanged {
            visit: after.into(),
            from: before.status,
        },
    ))))
}

/// Rejects a visit that is cancelled or done.
pub fn ensure_not_closed(v: &VisitRow) -> Result<(), ServiceError> {
    match v.status {
        VisitStatus::Cancelled => Err(reject(
            RejectReason::Cancelled,
            crate::t!("problem-visit-cancelled"),
        )),
        VisitStatus::Done => Err(reject_as(
            RejectReason::Conflict,
            "visit_done",
            crate::t!("problem-visit-done"),
        )),
        _ => Ok(()),
    }
}

pub fn visit_not_found() -> ServiceError {
    ServiceError::not_found("visit")
}

/// How many visits a distance search ranks (`GET /visits?near=`).
pub const NEAR_CANDIDATES: u32 = 2000;

/// The visits `filter` lets through nearest `point` (lat, lon) first, then
/// soonest, at most `limit`, with their distances in metres; with
/// `within_km`, only those that close. A bounding box narrows the read to
/// the circle's square; the exact distance decides.
pub async fn nearest(
    db: &crate::db::Db,
    mut filter: crate::db::visits::VisitFilter,
    point: (f64, f64),
    within_km: Option<f64>,
    limit: usize,
) -> sqlx::Result<Vec<(f64, VisitRow)>> {
    if let Some(km) = within_km {
        let dlat = km / 111.0;
        let dlon = km / (111.0 * point.0.to_radians().cos().abs().max(0.01));
        filter.bbox = Some((
            point.0 - dlat,
            point.0 + dlat,
            point.1 - dlon,
            point.1 + dlon,
        ));
    }
    let mut rows: Vec<(f64, VisitRow)> =
        crate::db::visits::candidates(db.pool(), &filter, NEAR_CANDIDATES)
            .await?
            .into_iter()
            .map(|r| (distance_m(point, (r.site_lat, r.site_lon)), r))
            .filter(|(d, _)| within_km.is_none_or(|km| *d <= km * 1000.0))
            .collect();
    rows.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.start_day.cmp(&b.1.start_day)));
    rows.truncate(limit);
    Ok(rows)
}

/// Great-circle distance in metres between two WGS84 positions.
pub fn distance_m(a: (f64, f64), b: (f64, f64)) -> f64 {
    // geo points are (x = lon, y = lat).
    Haversine.distance(Point::new(a.1, a.0), Point::new(b.1, b.0))
}

/// Days since 1970-01-01 of a `YYYY-MM-DD` date.
pub fn parse_day(date: &str) -> Result<i64, String> {
    let d: jiff::civil::Date = date
        .parse()
        .map_err(|_| crate::t!("problem-visit-date-format"))?;
    if date.len() != 10 || d.year() < 2000 || d.year() > 2100 {
        return Err(crate::t!("problem-visit-date-range"));
    }
    Ok(d.duration_since(jiff::civil::date(1970, 1, 1)).as_secs() / 86_400)
}

/// The `YYYY-MM-DD` of a day number.
pub fn day_to_date(day: i64) -> String {
    jiff::civil::date(1970, 1, 1)
        .checked_add(jiff::SignedDuration::from_hours(day * 24))
        .map(|d| d.to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances_are_metres_on_the_sphere() {
        // Monas to Bundaran HI, Jakarta: about 2.2 km.
        let d = distance_m((-6.1754, 106.8272), (-6.1950, 106.8230));
        assert!((2_100.0..2_350.0).contains(&d), "{d}");
        assert!(distance_m((-6.2, 106.8), (-6.2, 106.8)) < 0.001);
    }

    #[test]
    fn days_round_trip() {
        assert_eq!(
            parse_day("1970-01-02"),
            Err("must be a date as YYYY-MM-DD between 2000 and 2100".into())
        );
        let day = parse_day("2026-11-22").ok();
        assert_eq!(day.map(day_to_date).as_deref(), Some("2026-11-22"));
        assert!(parse_day("2026-02-30").is_err());
        assert!(parse_day("22-11-2026").is_err());
    }
}
