//! The round-robin's memory (`agent_rotation`): when each agent was last
//! given work, and their shift; and the queue of unassigned tickets (see
//! `crate::helpdesk::assignment`).

use super::Tx;

/// An agent who could take work now, if within their shift.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Candidate {
    pub user_id: String,
    pub department_id: String,
    pub last_assigned_at: i64,
    pub shift_start_min: Option<i64>,
    pub shift_end_min: Option<i64>,
}

/// Active, available CS and admin accounts, once per department they are
/// a member of, least recently assigned first (ties by id).
pub async fn available(tx: &mut Tx) -> sqlx::Result<Vec<Candidate>> {
    sqlx::query_as(
        "SELECT u.id AS user_id, m.department_id, COALESCE(r.last_assigned_at, 0) AS last_assigned_at, \
                r.shift_start_min, r.shift_end_min \
         FROM users u JOIN department_members m ON m.user_id = u.id \
         LEFT JOIN agent_rotation r ON r.user_id = u.id \
         WHERE u.status = 'active' AND u.presence = 'available' AND u.role IN ('cs', 'admin') \
         ORDER BY last_assigned_at, u.id",
    )
    .fetch_all(&mut **tx)
    .await
}

/// Records that `user_id` was just given work (at `now`, or just after the
/// newest assignment, so the order is strict): they go to the back of the
/// line. Returns the time recorded.
pub async fn rotate(tx: &mut Tx, user_id: &str, now: i64) -> sqlx::Result<i64> {
    let newest: i64 =
        sqlx::query_scalar("SELECT COALESCE(MAX(last_assigned_at), 0) FROM agent_rotation")
            .fetch_one(&mut **tx)
            .await?;
    let at = now.max(newest + 1);
    sqlx::query(
        "INSERT INTO agent_rotation (user_id, last_assigned_at, assigned_count) VALUES ($1, $2, 1) \
         ON CONFLICT (user_id) DO UPDATE SET last_assigned_at = $2, \
                                             assigned_count = agent_rotation.assigned_count + 1",
    )
    .bind(user_id)
    .bind(at)
    .execute(&mut **tx)
    .await?;
    Ok(at)
}

/// The most urgent, oldest unassigned open ticket of one of `departments`:
/// `(id, department_id, priority)`.
pub async fn next_queued_ticket(
    tx: &mut Tx,
    departments: &[&str],
) -> sqlx::Result<Option<(String, String, String)>> {
    if departments.is_empty() {
        return Ok(None);
    }
    let placeholders: Vec<String> = (1..=departments.len()).map(|i| format!("${i}")).collect();
    let sql = format!(
        "SELECT id, department_id, priority FROM tickets \
         WHERE assignee_id IS NULL AND status IN ('open', 'in_progress') \
           AND department_id IN ({}) \
         ORDER BY CASE priority WHEN 'urgent' THEN 0 WHEN 'high' THEN 1 WHEN 'normal' THEN 2 ELSE 3 END, \
                  created_at, id \
         LIMIT 1",
        placeholders.join(", ")
    );
    let mut query = sqlx::query_as::<_, (String, String, String)>(sqlx::AssertSqlSafe(sql));
    for d in departments {
        query = query.bind(*d);
    }
    query.fetch_optional(&mut **tx).await
}

/// Sets or clears an agent's shift (minutes of the day).
pub async fn set_shift(tx: &mut Tx, user_id: &str, shift: Option<(i64, i64)>) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO agent_rotation (user_id, shift_start_min, shift_end_min) VALUES ($1, $2, $3) \
         ON CONFLICT (user_id) DO UPDATE SET shift_start_min = $2, shift_end_min = $3",
    )
    .bind(user_id)
    .bind(shift.map(|s| s.0))
    .bind(shift.map(|s| s.1))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Every agent's shift as `HH:MM` start and end (`None`: any time).
pub async fn shifts(
    ex: impl sqlx::AnyExecutor<'_>,
) -> sqlx::Result<Vec<(String, Option<String>, Option<String>)>> {
    let rows: Vec<(String, Option<i64>, Option<i64>)> =
        sqlx::query_as("SELECT user_id, shift_start_min, shift_end_min FROM agent_rotation")
            .fetch_all(ex)
            .await?;
    let clock = |m: Option<i64>| m.map(|m| format!("{:02}:{:02}", m / 60, m % 60));
    Ok(rows
        .into_iter()
        .map(|(id, start, end)| (id, clock(start), clock(end)))
        .collect())
}
