//! The daily rollup: once a day is over (plus a grace for writes still in
//! flight at midnight), its facts are written into `kpi_daily` and the
//! rollup's watermark moves onto it, in one transaction. Restart-safe (the
//! watermark says where to go on) and safe on several instances (moving the
//! watermark is a compare-and-set; the loser rolls back). Views count the
//! days after the watermark live, so a late rollup is slower, never wrong.
//!
//! A fact can change after its day was written: a check-in an offline
//! phone syncs the next day, a resolution a reopen undoes. Those writes
//! mark their instant late (`db::kpi::mark_late`, in the same
//! transaction), and each pass writes such days again from the sources and
//! forgets the marks, so the rollup comes back to what live counting says
//! within one `kpi_rollup_interval_secs`.

use super::facts;
use super::formulas::day_of;
use crate::AppState;
use crate::db::{kpi as db, now_ms};
use crate::work::{Effects, Work};

/// How long after midnight a day is still open to writes in flight.
const GRACE_MS: i64 = 10 * 60_000;

/// Rolls up every finished day the rollup does not hold yet; returns how
/// many this call wrote.
pub async fn catch_up(state: &AppState) -> anyhow::Result<u32> {
    let offset = state.config.attendance.utc_offset_minutes;
    let last_finished = day_of(now_ms() - GRACE_MS, offset) - 1;
    let pool = state.db.pool();
    if db::through_day(pool).await?.is_none() {
        let first = match db::earliest(pool).await? {
            Some(at) => day_of(at, offset),
            None => last_finished + 1,
        };
        let mut work = Work::begin(state).await?;
        db::start(work.tx(), first.min(last_finished + 1)).await?;
        work.commit(Effects::none()).await?;
    }
    let mut written = 0;
    while let Some(through) = db::through_day(pool).await? {
        let day = through + 1;
        if day > last_finished {
            break;
        }
        let cells = cells(state, day).await?;
        let mut work = Work::begin(state).await?;
        if !db::advance(work.tx(), day).await? {
            // Another instance wrote this day meanwhile (dropped: rolled back).
            continue;
        }
        db::write_day(work.tx(), day, &cells).await?;
        work.commit(Effects::none()).await?;
        written += 1;
    }
    written += rewrite_late(state).await?;
    Ok(written)
}

/// Writes again the rolled-up days whose facts changed afterwards (see
/// `db::kpi::mark_late`); how many days.
async fn rewrite_late(state: &AppState) -> anyhow::Result<u32> {
    let offset = state.config.attendance.utc_offset_minutes;
    let pool = state.db.pool();
    let marks = db::late(pool).await?;
    if marks.is_empty() {
        return Ok(0);
    }
    let through = db::through_day(pool).await?.unwrap_or(i64::MIN);
    let days: std::collections::BTreeSet<i64> = marks
        .iter()
        .map(|(_, at)| day_of(*at, offset))
        .filter(|d| *d <= through)
        .collect();
    let mut rewritten = Vec::new();
    for day in &days {
        rewritten.push((*day, cells(state, *day).await?));
    }
    let ids: Vec<String> = marks.into_iter().map(|(id, _)| id).collect();
    let mut work = Work::begin(state).await?;
    if db::take_late(work.tx(), &ids).await? == 0 {
        // Another instance took them.
        return Ok(0);
    }
    for (day, cells) in &rewritten {
        db::write_day(work.tx(), *day, cells).await?;
    }
    work.commit(Effects::none()).await?;
    Ok(u32::try_from(rewritten.len()).unwrap_or(u32::MAX))
}

/// The rollup's cells of `day`, counted from the sources.
async fn cells(state: &AppState, day: i64) -> anyhow::Result<Vec<db::Cell>> {
    Ok(facts::collect(state, day, day, None)
        .await?
        .into_iter()
        .flat_map(|((subject, subject_id, day), counts)| {
            super::Metric::ALL.into_iter().filter_map(move |metric| {
                let value = counts.get(metric);
                (value != 0).then(|| db::Cell {
                    subject: subject.as_str().to_owned(),
                    subject_id: subject_id.clone(),
                    day,
                    metric: metric.as_str().to_owned(),
                    value,
                })
            })
        })
        .collect())
}

/// Runs [`catch_up`] now and then every `interval` until shutdown.
pub fn spawn(state: AppState) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(state.config.kpi_rollup_interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = state.shutdown.cancelled() => break,
                _ = tick.tick() => {}
            }
            match catch_up(&state).await {
                Ok(0) => {}
                Ok(days) => tracing::info!(days, "KPI rollup caught up"),
                Err(e) => tracing::warn!(error = ?e, "KPI rollup"),
            }
        }
    });
}
