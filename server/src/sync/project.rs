//! Visits as sync documents: the server writes each visit's SQL state (the
//! source of truth for schedule, quota, status and assignments) into its
//! Automerge document, whose id is the visit's id, so phones learn every
//! decision by ordinary sync.
//!
//! Scope follows the visit: while it has free seats it is in the pool (every
//! technician reads it); its holders read it by access; the customer reads
//! their own; staff by department. A visit document carries no
//! customer-private fields, so the pool can be the document itself: contact
//! details stay behind the HTTP API for the holders. Technicians who saw a
//! visit in the pool and do not hold it are told to drop it when it leaves
//! (one pool-exit mark on the document, not a row per technician).

use automerge::AutoCommit;
use fieldops_sync::docs::DocumentSchema;
use fieldops_sync::docs::visit::{Assignment, AssignmentState, Site, Visit};
use fieldops_sync::ids::{AssignmentId, DepartmentId, DocId, DocKind, UserId};
use fieldops_sync::protocol::DropReason;

use super::{Changed, DocScope, DocWriteError, FeedPosition, store, stored_uuid};
use crate::db::visits::VisitRow;
use crate::db::{Db, Tx, assignments, visits};

/// The document form of a visit row and its assignments, keeping what
/// technicians wrote (notes, checklist) from `current`.
fn visit_doc(
    row: &VisitRow,
    held: &[assignments::AssignmentRow],
    current: Option<Visit>,
) -> anyhow::Result<Visit> {
    let status = row.status;
    let assignments = held
        .iter()
        .map(|a| {
            Ok(Assignment {
                assignment_id: AssignmentId::from_uuid(stored_uuid(&a.id)?),
                technician_id: UserId::from_uuid(stored_uuid(&a.technician_id)?),
                state: match a.state.as_str() {
                    "active" => AssignmentState::Active,
                    "completed" => AssignmentState::Completed,
                    "released" => AssignmentState::Released,
                    other => anyhow::bail!("assignment {} has an unknown state {other:?}", a.id),
                },
            })
        })
        .collect::<anyhow::Result<_>>()?;
    let (notes, checklist) = current.map(|v| (v.notes, v.checklist)).unwrap_or_default();
    Ok(Visit {
        // A visit's ticket is free text over HTTP today (a ticket number
        // from elsewhere, say): only a ticket document's id names one.
        ticket_id: row
            .ticket_id
            .as_deref()
            .and_then(|t| uuid::Uuid::parse_str(t).ok())
            .map(DocId::from_uuid),
        // The customer record's id.
        customer_id: UserId::from_uuid(stored_uuid(&row.customer_id)?),
        department_id: row
            .department_id
            .as_deref()
            .map(|d| stored_uuid(d).map(DepartmentId::from_uuid))
            .transpose()?,
        title: row.title.clone(),
        description: row.description.clone(),
        site: Site {
            address: row.site_address.clone(),
            lat: row.site_lat,
            lon: row.site_lon,
        },
        scheduled_start: row
            .scheduled_start
            .parse()
            .map_err(|e| anyhow::anyhow!("visit {} has a bad date: {e:?}", row.id))?,
        planned_days: u32::try_from(row.planned_days)?,
        technician_quota: u32::try_from(row.technician_quota)?,
        status,
        emergency: row.emergency == 1,
        assignments,
        notes,
        checklist,
        customer_private: None,
    })
}

/// Writes visit `visit_id`'s current state into its document, inside `tx`.
/// Returns what changed, to wake the sessions with once committed
/// ([`crate::visits::finish`]). Everything it changes shares one feed
/// position ([`FeedPosition`]).
pub async fn visit(tx: &mut Tx, db: &Db, visit_id: &str) -> anyhow::Result<Vec<Changed>> {
    let Some(row) = visits::get(&mut **tx, visit_id).await? else {
        return Ok(vec![]);
    };
    let all = assignments::for_visits(&mut **tx, &[visit_id]).await?;
    let holders: Vec<String> = all
        .iter()
        .filter(|a| a.state != "released")
        .map(|a| a.technician_id.clone())
        .collect();
    let scope = DocScope {
        customer_id: Some(row.customer_id.clone()),
        department_id: row.department_id.clone(),
        in_pool: row.in_pool(),
    };
    let Some(existing) = store::lock(tx, db.backend(), visit_id).await? else {
        let mut doc = visit_doc(&row, &all, None)?.to_document()?;
        let created =
            super::create(tx, visit_id, DocKind::Visit, scope, &mut doc, &holders).await?;
        return Ok(vec![created]);
    };
    let was_in_pool = existing.in_pool == 1;
    // Access follows the holders; a technician who joins the crew later
    // (a replacement from the emergency pool) also gets the photos taken on
    // the visit so far, and one who leaves (withdrawn, returned to the pool)
    // loses the visit and the photos others took; their own stay theirs.
    // Read before the feed position is taken: on Postgres every writer
    // queues for that row until commit, so only writes follow it.
    let granted = store::access_users(&mut **tx, visit_id).await?;
    let mut joined = Vec::new();
    for user in holders.iter().filter(|h| !granted.contains(h)) {
        let photos = store::photos_not_shared_with(&mut **tx, visit_id, user).await?;
        joined.push((user, photos));
    }
    let mut left = Vec::new();
    for user in granted.iter().filter(|g| !holders.contains(g)) {
        let photos = store::photos_shared_with(&mut **tx, visit_id, user).await?;
        left.push((user, photos));
    }
    let mut position = FeedPosition::default();
    let mut changed = Vec::new();
    let stored = super::update_locked(
        tx,
        existing,
        DocKind::Visit,
        &mut position,
        |doc: &mut AutoCommit| {
            let current = Visit::hydrate(doc).ok();
            visit_doc(&row, &all, current)
                .and_then(|v| Ok(v.reconcile(doc)?))
                .map_err(DocWriteError::Storage)
        },
    )
    .await
    .map_err(|e| e.context(format!("projecting visit {visit_id}")))?;
    // Whether the document already stands at the shared position.
    let mut moved = stored.changed.is_some();
    changed.extend(stored.changed);
    if was_in_pool != scope.in_pool {
        let seq = position.get(tx).await?;
        store::set_scope(tx, visit_id, &scope, seq).await?;
        if was_in_pool {
            // Technicians who read it in the pool and do not hold it drop
            // it: marked once on the document, resolved per reader.
            store::mark_pool_exit(tx, visit_id, seq).await?;
        }
        moved = true;
        changed.push(Changed {
            doc_id: visit_id.to_owned(),
            seq,
        });
    }
    if joined.is_empty() && left.is_empty() {
        return Ok(changed);
    }
    // The visit's own access rows; its document moves to the position once,
    // below, rather than once per reader.
    let seq = position.get(tx).await?;
    for (user, photos) in joined {
        store::grant(tx, visit_id, user, seq).await?;
        for photo in photos {
            changed.push(super::grant_access(tx, &photo, user, &mut position).await?);
        }
    }
    for (user, photos) in left {
        if store::revoke(tx, visit_id, user).await? {
            store::record_drop(tx, user, visit_id, seq, DropReason::OutOfScope.as_str()).await?;
        }
        for photo in photos {
            let reason = DropReason::OutOfScope;
            changed.extend(super::revoke_access(tx, &photo, user, reason, &mut position).await?);
        }
    }
    if !moved {
        store::touch(tx, visit_id, seq).await?;
        changed.push(Changed {
            doc_id: visit_id.to_owned(),
            seq,
        });
    }
    Ok(changed)
}
