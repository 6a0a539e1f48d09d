//! The audit log: who changed what, when. Written in the same transaction as the change.

use super::{Tx, new_id, now_ms};

pub async fn record(
    tx: &mut Tx,
    actor_id: Option<&str>,
    action: &str,
    entity_kind: &str,
    entity_id: &str,
    detail: serde_json::Value,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO audit_log (id, actor_id, action, entity_kind, entity_id, detail, at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(new_id())
    .bind(actor_id)
    .bind(action)
    .bind(entity_kind)
    .bind(entity_id)
    .bind(detail.to_string())
    .bind(now_ms())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// `(action, actor_id)` of an entity's audit trail, oldest first.
pub async fn trail(
    db: &super::Db,
    entity_kind: &str,
    entity_id: &str,
) -> sqlx::Result<Vec<(String, Option<String>)>> {
    sqlx::query_as(
        "SELECT action, actor_id FROM audit_log WHERE entity_kind = $1 AND entity_id = $2 ORDER BY at, id",
    )
    .bind(entity_kind)
    .bind(entity_id)
    .fetch_all(db.pool())
    .await
}
