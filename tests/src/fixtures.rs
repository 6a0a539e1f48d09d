//! What many tests start from: the demo data's customers and departments,
//! dates in the sites' calendar, a visit made over HTTP (its raw body, for
//! tests that check the JSON; [`crate::client`] answers with view types).

use std::collections::HashMap;

use serde_json::{Value, json};

use crate::TestApp;

/// The demo customer Hendra Gunawan's id (site at -6.2251, 106.8097).
pub async fn demo_customer(app: &TestApp, token: &str) -> String {
    let list = app.get("/api/v1/customers?q=Hendra", token).await;
    list.body["items"][0]["id"].as_str().unwrap().to_owned()
}

/// Today in the sites' calendar (UTC+7), as `YYYY-MM-DD`, shifted by `days`.
pub fn local_date(days: i64) -> String {
    let today = jiff::Timestamp::now()
        .to_zoned(jiff::tz::TimeZone::fixed(jiff::tz::offset(7)))
        .date();
    today
        .checked_add(jiff::Span::new().days(days))
        .unwrap()
        .to_string()
}

/// Creates a visit at (lat, lon) and returns its body.
pub async fn new_visit(
    app: &TestApp,
    cs: &str,
    customer: &str,
    title: &str,
    start: &str,
    days: i64,
    quota: i64,
) -> Value {
    let reply = app
        .post("/api/v1/visits", cs, json!({
            "customer_id": customer, "title": title, "description": "Periksa panel listrik",
            "site": { "address": "Jl. Jend. Sudirman Kav. 52-53", "lat": -6.2251, "lon": 106.8097 },
            "scheduled_start": start, "planned_days": days, "technician_quota": quota
        }))
        .await;
    assert_eq!(reply.status, 201, "{:?}", reply.body);
    reply.body
}

/// (id, name) of the demo customers, by name.
pub async fn customer_ids(app: &TestApp, token: &str) -> Vec<(String, String)> {
    let list = app.get("/api/v1/customers?limit=200", token).await;
    let mut out: Vec<(String, String)> = list.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["id"].as_str().unwrap().to_owned(),
                c["name"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    out.sort_by(|a, b| a.1.cmp(&b.1));
    out
}

/// The id of the demo department called `name`.
pub async fn department_id(app: &TestApp, token: &str, name: &str) -> String {
    let list = app.get("/api/v1/departments", token).await;
    list.body
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["name"] == name)
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// A visit of `customer` made today and taken to `done` the way a
/// technician does it: claim, check in and out on site, complete. Returns
/// its id.
pub async fn done_visit(
    app: &TestApp,
    cs: &str,
    tech: &str,
    customer: &str,
    title: &str,
) -> String {
    let visit = new_visit(app, cs, customer, title, &local_date(0), 1, 1).await;
    let id = visit["id"].as_str().unwrap().to_owned();
    finish_visit(app, tech, &id).await;
    id
}

/// The technician `tech` claims visit `id`, checks in and out at its site
/// and marks it done.
pub async fn finish_visit(app: &TestApp, tech: &str, id: &str) {
    let path = format!("/api/v1/visits/{id}");
    let on_site = || {
        json!({ "device_time": jiff::Timestamp::now().to_string(),
                "lat": -6.2251, "lon": 106.8097, "accuracy_m": 5.0 })
    };
    for (step, body) in [
        ("claim", json!({})),
        ("check-in", on_site()),
        ("check-out", on_site()),
        ("complete", json!({ "summary": "Selesai, uji beban OK" })),
    ] {
        let reply = app.post(&format!("{path}/{step}"), tech, body).await;
        assert!(
            reply.status.is_success(),
            "{step}: {} {:?}",
            reply.status,
            reply.body
        );
    }
}

/// Two invoice lines: 2.5 × Rp150.000 of labour and an Rp350.000 part
/// (Rp725.000, Rp804.750 with PPN).
pub fn two_lines() -> Value {
    json!([
        { "kind": "labour", "description": "Perbaikan panel listrik", "quantity": 2.5, "unit_price": 150000 },
        { "kind": "material", "description": "MCB 3 fasa", "quantity": "1", "unit_price": 350000 },
    ])
}

/// Drafts, submits, approves and sends an invoice of two lines for a done
/// visit of the demo customer (Rp804.750 with PPN); returns its path.
pub async fn sent_invoice(app: &TestApp, title: &str) -> String {
    let cs = app.login_as("cs").await;
    let sales = app.login_as("sales").await;
    let tech = app.login_as("technician").await;
    let hendra = demo_customer(app, &cs).await;
    let visit = done_visit(app, &cs, &tech, &hendra, title).await;
    let draft = app
        .post(
            "/api/v1/invoices",
            &cs,
            json!({ "visit_ids": [visit], "lines": two_lines() }),
        )
        .await;
    let path = format!("/api/v1/invoices/{}", draft.body["id"].as_str().unwrap());
    for (step, token) in [("submit", &cs), ("approve", &sales), ("send", &cs)] {
        let reply = app.post(&format!("{path}/{step}"), token, json!({})).await;
        assert_eq!(reply.status, 200, "{step}: {:?}", reply.body);
    }
    path
}

/// Per visit of a claim race: (quota, seats_taken, held assignments, claim audit records).
pub async fn claim_audit(app: &TestApp, ids: &[String]) -> HashMap<String, (i64, i64, i64, i64)> {
    claim_audit_in(&app.server.state.db, ids).await
}

/// [`claim_audit`] read from `db` (a database several server processes share).
pub async fn claim_audit_in(
    db: &fieldops_server::db::Db,
    ids: &[String],
) -> HashMap<String, (i64, i64, i64, i64)> {
    let rows: Vec<(String, i64, i64, i64, i64)> = sqlx::query_as(
        "SELECT v.id, v.technician_quota, v.seats_taken, \
                (SELECT COUNT(*) FROM assignments a WHERE a.visit_id = v.id AND a.state = 'active'), \
                (SELECT COUNT(*) FROM audit_log l WHERE l.entity_kind = 'visit' \
                    AND l.entity_id = v.id AND l.action = 'visit.claimed') \
         FROM visits v",
    )
    .fetch_all(db.pool())
    .await
    .unwrap();
    rows.into_iter()
        .filter(|r| ids.contains(&r.0))
        .map(|(id, q, s, h, c)| (id, (q, s, h, c)))
        .collect()
}

/// Stores `n` ten-field ticket documents straight through the sync store
/// (no tickets behind them), as a large catch-up's payload; commits.
pub async fn seed_ticket_documents(db: &fieldops_server::db::Db, n: usize) {
    use fieldops_server::sync::{self, DocScope};
    use fieldops_sync::docs::DocumentSchema as _;
    use fieldops_sync::ids::{DocId, DocKind};
    let mut tx = db.begin_write().await.unwrap();
    for i in 0..n {
        let mut ticket = fieldops_sync::testing::sample_ticket();
        ticket.subject = format!("Ticket {i}: AC unit not cooling");
        let mut doc = ticket.to_document().unwrap();
        sync::create(
            &mut tx,
            &DocId::new().to_string(),
            DocKind::Ticket,
            DocScope::default(),
            &mut doc,
            &[],
        )
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();
}
