//! The daily rollup: once a day is over (plus a grace for writes still in
//! flight at midnight), its facts are written into `kpi_daily` and the
//! rollup's watermark moves onto it, in one transaction. Restart-safe (the
//! watermark says where to go on) and safe on several instances (moving the
//! watermark is a compare-and-set; the loser rolls back). Views count the
//! days after the watermark live, so a late rollup is slower, never wrong.

use super::facts;
use super::formulas::day_of;
use crate::AppState;
use crate::db::{kpi as db, now_ms};

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
        let mut tx = state.db.begin_write().await?;
        db::start(&mut tx, first.min(last_finished + 1)).await?;
        tx.commit().await?;
    }
    let mut written = 0;
    while let Some(through) = db::through_day(pool).await? {
        let day = through + 1;
        if day > last_finished {
            break;
        }
        let cells: Vec<db::Cell> = facts::collect(state, day, day)
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
            .collect();
        let mut tx = state.db.begin_write().await?;
        if !db::advance(&mut tx, day).await? {
            // Another instance wrote this day meanwhile.
            continue;
        }
        db::write_day(&mut tx, day, &cells).await?;
        tx.commit().await?;
        written += 1;
    }
    Ok(written)
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
