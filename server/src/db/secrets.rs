//! Secrets generated once and shared by every instance through the database.

use super::{Db, now_ms};

/// Returns the secret called `name`, creating it with `generate` if it does not
/// exist yet. Concurrent first starts agree on one value.
pub async fn get_or_create(
    db: &Db,
    name: &str,
    generate: impl FnOnce() -> String,
) -> sqlx::Result<String> {
    sqlx::query("INSERT INTO server_secrets (name, value, created_at) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING")
        .bind(name)
        .bind(generate())
        .bind(now_ms())
        .execute(db.pool())
        .await?;
    sqlx::query_scalar("SELECT value FROM server_secrets WHERE name = $1")
        .bind(name)
        .fetch_one(db.pool())
        .await
}
