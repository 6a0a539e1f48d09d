//! KPI and analytics (issue 21): six visits done by Budi, five rated
//! through their WhatsApp links (5, 5, 4, 3, 4), one of them for a ticket
//! Siti handled; the table per technician, CS agent and overall says CSAT
//! 80 %, average 4.2, response rate 83.3 %, ranked; the help desk and the
//! field work count; managers see all, others their own; the CSVs read
//! back with a BOM and `;`; the rollup of finished days agrees with live
//! counting; Meta's delivery statuses land on the rating request, and a
//! failed one or a rejected template opens an alert for admins.

use serde_json::{Value, json};

use fieldops_tests::fixtures::{demo_customer, finish_visit, local_date, new_visit};
use fieldops_tests::ratings::{open, rate, rating_token};
use fieldops_tests::whatsapp::{change, deliver_signed};
use fieldops_tests::{Backend, TestApp, on_both_backends};

on_both_backends!(ratings_tickets_and_field_work_make_the_kpis);

fn user_id(app: &TestApp, email: &str) -> impl std::future::Future<Output = String> {
    let pool = app.server.state.db.pool().clone();
    let email = email.to_owned();
    async move {
        sqlx::query_scalar("SELECT id FROM users WHERE email = $1")
            .bind(email)
            .fetch_one(&pool)
            .await
            .unwrap()
    }
}

/// The row of `name` in a KPI table.
fn row<'a>(board: &'a Value, name: &str) -> &'a Value {
    board["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == name)
        .unwrap_or_else(|| panic!("no row for {name}: {board}"))
}

fn close(v: &Value, want: f64) -> bool {
    v.as_f64().is_some_and(|x| (x - want).abs() < 0.05)
}

async fn ratings_tickets_and_field_work_make_the_kpis(backend: Backend) {
    let Some((app, mut sent)) = fieldops_tests::whatsapp::spawn(backend).await else {
        return;
    };
    let admin = app.login_as("admin").await;
    let cs = app.login_as("cs").await;
    let tech = app.login_as("technician").await;
    let hendra = demo_customer(&app, &cs).await;
    let siti = user_id(&app, "cs@example.com").await;
    let budi = user_id(&app, "tech1@example.com").await;

    // A ticket Siti answers, resolves, sees reopened and resolves again.
    let ticket = app
        .post(
            "/api/v1/tickets",
            &cs,
            json!({
                "subject": "AC ruang rapat bocor", "category": "technical",
                "priority": "normal", "customer_id": hendra,
            }),
        )
        .await;
    assert_eq!(ticket.status, 201, "{:?}", ticket.body);
    let ticket_id = ticket.body["id"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/tickets/{ticket_id}");
    let put = |p: String, body: Value| {
        let (app, cs) = (&app, &cs);
        async move {
            let r = app
                .call(reqwest::Method::PUT, &p, Some(cs), Some(body))
                .await;
            assert!(r.status.is_success(), "{p}: {:?}", r.body);
        }
    };
    put(format!("{path}/assign"), json!({ "assigned_to": siti })).await;
    let reply = app
        .post(
            &format!("{path}/messages"),
            &cs,
            json!({ "body": "Teknisi kami datang hari ini" }),
        )
        .await;
    assert_eq!(reply.status, 201, "{:?}", reply.body);
    for status in ["resolved", "open", "resolved"] {
        put(format!("{path}/status"), json!({ "status": status })).await;
    }

    // Six visits done by Budi, the first for that ticket.
    let mut tokens = Vec::new();
    let mut visits = Vec::new();
    for i in 0..6 {
        let visit = if i == 0 {
            let r = app
                .post("/api/v1/visits", &cs, json!({
                    "customer_id": hendra, "ticket_id": ticket_id, "title": "Perbaikan AC bocor",
                    "site": { "address": "Jl. Jend. Sudirman Kav. 52-53", "lat": -6.2251, "lon": 106.8097 },
                    "scheduled_start": local_date(0), "planned_days": 1, "technician_quota": 1,
                }))
                .await;
            assert_eq!(r.status, 201, "{:?}", r.body);
            r.body
        } else {
            let title = format!("Servis berkala #{i}");
            new_visit(&app, &cs, &hendra, &title, &local_date(0), 1, 1).await
        };
        let id = visit["id"].as_str().unwrap().to_owned();
        finish_visit(&app, &tech, &id).await;
        tokens.push(rating_token(&mut sent, "6281210000001").await);
        visits.push(id);
    }
    // Five answer; the sixth never does.
    for (token, score) in tokens.iter().zip(["5", "5", "4", "3", "4"]) {
        let (_, _, csrf, cookie) = open(&app, token).await;
        let (status, body) = rate(&app, token, &csrf, &cookie, score).await;
        assert_eq!(status, 200, "{body}");
    }

    // Managers: every technician, agent and the whole.
    let board = app.get("/api/v1/kpi?subject=technician", &admin).await;
    assert_eq!(board.status, 200, "{:?}", board.body);
    let b = row(&board.body, "Budi Hartono");
    assert_eq!(b["subject_id"], budi.as_str());
    let r = &b["ratings"];
    assert_eq!(
        (&r["sent"], &r["answered"], &r["satisfied"]),
        (&json!(6), &json!(5), &json!(4))
    );
    assert!(
        close(&r["csat_pct"], 80.0) && close(&r["average"], 4.2),
        "{r}"
    );
    assert!(close(&r["response_rate_pct"], 83.3), "{r}");
    assert_eq!(r["ranked"], true, "five ratings are ranked");
    let f = &b["field"];
    assert_eq!(f["visits_done"], 6);
    assert_eq!(f["absent"], 0);
    assert_eq!(
        f["on_time"].as_i64().unwrap() + f["late"].as_i64().unwrap(),
        6,
        "each visit day is decided by the check-in: {f}"
    );
    assert_eq!(f["avg_days_over_plan"], 0.0);

    let agents = app.get("/api/v1/kpi?subject=agent", &admin).await;
    let s = row(&agents.body, "Siti Rahmawati");
    assert_eq!(
        (&s["ratings"]["answered"], &s["ratings"]["ranked"]),
        (&json!(1), &json!(false))
    );
    assert!(close(&s["ratings"]["csat_pct"], 100.0), "{s}");
    let h = &s["helpdesk"];
    // Resolved, reopened, resolved again: one resolution (the last), one reopen.
    assert_eq!(
        (
            &h["created"],
            &h["responded"],
            &h["resolved"],
            &h["reopened"]
        ),
        (&json!(1), &json!(1), &json!(1), &json!(1))
    );
    assert!(
        close(&h["response_sla_pct"], 100.0) && close(&h["reopen_rate_pct"], 100.0),
        "{h}"
    );

    let all = app.get("/api/v1/kpi?subject=all", &admin).await;
    assert_eq!(
        all.body["rows"].as_array().unwrap().len(),
        1,
        "{:?}",
        all.body
    );
    assert_eq!(all.body["rows"][0]["ratings"]["answered"], 5);

    // Others see their own rows only, and never the whole.
    let own = app.get("/api/v1/kpi?subject=technician", &tech).await;
    assert_eq!(own.status, 200);
    let rows = own.body["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["subject_id"], budi.as_str());
    let dewi = app.login("tech2@example.com", "tech123").await;
    let none = app.get("/api/v1/kpi?subject=technician", &dewi).await;
    assert_eq!(none.body["rows"], json!([]), "Dewi sees nobody else's");
    app.get("/api/v1/kpi?subject=all", &tech)
        .await
        .assert_problem(403);
    let series = format!("/api/v1/kpi/series?subject=technician&id={budi}&period=day");
    app.get(&series, &dewi).await.assert_problem(403);
    let customer = app.login("customer@example.com", "customer123").await;
    app.get("/api/v1/kpi", &customer).await.assert_problem(403);
    app.get("/api/v1/kpi/live", &tech).await.assert_problem(403);
    assert_eq!(
        app.get("/api/v1/kpi?subject=agent", &cs).await.body["rows"][0]["name"],
        "Siti Rahmawati"
    );
    // Bad input names the field.
    let bad = app.get("/api/v1/kpi?from=2026-13-01", &admin).await;
    assert_eq!(bad.assert_problem(422), "validation");
    assert_eq!(bad.body["errors"][0]["field"], "from", "{:?}", bad.body);
    let bad = app.get("/api/v1/kpi?subject=everyone", &admin).await;
    assert_eq!(bad.body["errors"][0]["field"], "subject", "{:?}", bad.body);

    // A time series: today holds the five ratings, and every day is there.
    let today = local_date(0);
    let week_ago = local_date(-6);
    let s = app
        .get(&format!("/api/v1/kpi/series?subject=technician&id={budi}&period=day&from={week_ago}&to={today}"), &tech)
        .await;
    assert_eq!(s.status, 200, "{:?}", s.body);
    let points = s.body["points"].as_array().unwrap();
    assert_eq!(points.len(), 7);
    assert_eq!(points[6]["period"], today.as_str());
    assert_eq!(points[6]["ratings"]["answered"], 5);
    assert_eq!(points[0]["ratings"]["answered"], 0);

    // Real time.
    let live = app.get("/api/v1/kpi/live", &cs).await;
    assert_eq!(live.status, 200, "{:?}", live.body);
    assert_eq!(live.body["technicians_on_site"], 0);

    // CSV: a BOM, `;` and decimal commas for Indonesian spreadsheets.
    let csv = app
        .client
        .get(app.url("/api/v1/kpi.csv?subject=technician&sep=semicolon"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(csv.status(), 200);
    assert_eq!(csv.headers()["content-type"], "text/csv; charset=utf-8");
    assert!(
        csv.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment;")
    );
    let text = csv.text().await.unwrap();
    assert!(text.starts_with('\u{feff}'), "{text}");
    let lines: Vec<&str> = text.trim_start_matches('\u{feff}').lines().collect();
    assert!(
        lines[0].starts_with("subject;id;name;ratings_sent;ratings;"),
        "{}",
        lines[0]
    );
    let budi_line = lines.iter().find(|l| l.contains("Budi Hartono")).unwrap();
    assert!(
        budi_line.contains(";6;5;4;80,0;4,20;83,3;true;"),
        "{budi_line}"
    );
    // Every rating, with the customer's comment.
    let export = app
        .client
        .get(app.url("/api/v1/ratings.csv"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    let text = export.text().await.unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 6, "a header and five ratings: {text}");
    assert!(
        lines[1].contains("Cepat dan rapi") && lines[1].contains("Budi Hartono"),
        "{}",
        lines[1]
    );
    app.get("/api/v1/ratings.csv", &cs)
        .await
        .assert_problem(403);

    // The rollup of finished days says what live counting says. Move it all
    // three days back, count live, then roll up and count again.
    let pool = app.server.state.db.pool();
    let day = 86_400_000_i64;
    for sql in [
        "UPDATE ratings SET created_at = created_at - $1",
        "UPDATE rating_requests SET created_at = created_at - $1",
        "UPDATE tickets SET created_at = created_at - $1, first_response_at = first_response_at - $1, \
           resolved_at = resolved_at - $1, reopened_at = reopened_at - $1",
        "UPDATE visits SET created_at = created_at - $1, completed_at = completed_at - $1, \
           start_day = start_day - 3",
        "UPDATE attendance SET device_time = device_time - $1, received_at = received_at - $1",
        "DELETE FROM kpi_daily",
        "DELETE FROM kpi_rollup",
    ] {
        sqlx::query(sql).bind(3 * day).execute(pool).await.unwrap();
    }
    let span = format!("from={}&to={today}", local_date(-10));
    let mut live = Vec::new();
    for subject in ["technician", "agent", "all"] {
        live.push(
            app.get(&format!("/api/v1/kpi?subject={subject}&{span}"), &admin)
                .await
                .body,
        );
    }
    let written = fieldops_server::kpi::rollup::catch_up(&app.server.state)
        .await
        .unwrap();
    assert!(written >= 3, "{written} days rolled up");
    let rolled: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM kpi_daily")
        .fetch_one(pool)
        .await
        .unwrap();
    assert!(rolled > 0);
    for (subject, live) in ["technician", "agent", "all"].iter().zip(&live) {
        let now = app
            .get(&format!("/api/v1/kpi?subject={subject}&{span}"), &admin)
            .await
            .body;
        assert_eq!(
            &now, live,
            "{subject}: the rollup and live counting disagree"
        );
    }
    assert_eq!(row(&live[0], "Budi Hartono")["ratings"]["answered"], 5);
    // Again: nothing more to write.
    assert_eq!(
        fieldops_server::kpi::rollup::catch_up(&app.server.state)
            .await
            .unwrap(),
        0
    );
    // A fact of a rolled-up day changes: the ticket resolved three days ago
    // is reopened. The next pass writes that day again, and the rollup still
    // says what live counting says.
    put(format!("{path}/status"), json!({ "status": "open" })).await;
    let again = fieldops_server::kpi::rollup::catch_up(&app.server.state)
        .await
        .unwrap();
    assert_eq!(again, 1, "the resolution's day is written again");
    let rolled = app
        .get(&format!("/api/v1/kpi?subject=agent&{span}"), &admin)
        .await
        .body;
    let h = &row(&rolled, "Siti Rahmawati")["helpdesk"];
    // Its resolution is undone; a ticket counts as reopened once, at its
    // last reopening.
    assert_eq!(
        (&h["resolved"], &h["reopened"]),
        (&json!(0), &json!(1)),
        "{h}"
    );
    // The simple protocol: no prepared statement of the test's own on the
    // server's pool (a statement-cache mismatch on a pooled connection was
    // seen here twice; see the session note).
    sqlx::raw_sql("DELETE FROM kpi_rollup")
        .execute(pool)
        .await
        .unwrap();
    let counted = app
        .get(&format!("/api/v1/kpi?subject=agent&{span}"), &admin)
        .await
        .body;
    assert_eq!(
        rolled, counted,
        "the rewritten day and live counting disagree"
    );

    // Meta's statuses land on the rating request: delivered, then read; an
    // older status arriving late changes nothing.
    let wamid: String = sqlx::query_scalar(
        "SELECT o.provider_id FROM rating_requests q JOIN whatsapp_outbox o ON o.id = q.whatsapp_id \
         WHERE q.visit_id = $1",
    )
    .bind(&visits[5])
    .fetch_one(pool)
    .await
    .unwrap();
    let status = |s: &str, ts: &str| {
        change(
            "messages",
            json!({
                "messaging_product": "whatsapp",
                "statuses": [{ "id": wamid, "status": s, "timestamp": ts, "recipient_id": "6281210000001" }],
            }),
        )
    };
    for (s, ts) in [
        ("delivered", "1765000000"),
        ("read", "1765000100"),
        ("sent", "1764999990"),
    ] {
        assert_eq!(deliver_signed(&app, &status(s, ts)).await, 200);
    }
    let state = app
        .get(&format!("/api/v1/visits/{}/rating", visits[5]), &cs)
        .await;
    assert_eq!(state.status, 200, "{:?}", state.body);
    assert_eq!(state.body["message_status"], "sent");
    assert_eq!(state.body["delivery_status"], "read");
    assert!(state.body["rating"].is_null(), "never answered");
    let rated = app
        .get(&format!("/api/v1/visits/{}/rating", visits[0]), &cs)
        .await;
    assert_eq!(rated.body["rating"]["score"], 5);
    app.get(&format!("/api/v1/visits/{}/rating", visits[0]), &tech)
        .await
        .assert_problem(403);

    // A failed one opens an alert for admins; so does a template Meta rejects.
    let failed = change(
        "messages",
        json!({
            "statuses": [{ "id": wamid, "status": "failed", "timestamp": "1765000200",
                "errors": [{ "code": 131049, "title": "This message was not delivered to maintain healthy ecosystem engagement.",
                             "error_data": { "details": "Per-user marketing message limit" } }] }],
        }),
    );
    assert_eq!(deliver_signed(&app, &failed).await, 200);
    let rejected = change(
        "message_template_status_update",
        json!({
            "event": "REJECTED", "message_template_id": 594425479261596_i64,
            "message_template_name": "fieldops_penilaian_kunjungan", "message_template_language": "id",
            "reason": "INCORRECT_CATEGORY",
        }),
    );
    assert_eq!(deliver_signed(&app, &rejected).await, 200);
    assert_eq!(
        deliver_signed(&app, &rejected).await,
        200,
        "twice is one alert"
    );
    app.get("/api/v1/alerts", &cs).await.assert_problem(403);
    let alerts = app.get("/api/v1/alerts", &admin).await;
    assert_eq!(alerts.status, 200, "{:?}", alerts.body);
    let alerts = alerts.body.as_array().unwrap().clone();
    let kinds: Vec<&str> = alerts.iter().map(|a| a["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds.len(), 2, "{alerts:?}");
    assert!(
        kinds.contains(&"rating_undelivered") && kinds.contains(&"template_rejected"),
        "{kinds:?}"
    );
    let undelivered = alerts
        .iter()
        .find(|a| a["kind"] == "rating_undelivered")
        .unwrap();
    assert_eq!(undelivered["subject"], visits[5].as_str());
    assert!(
        undelivered["detail"].as_str().unwrap().contains("131049"),
        "{undelivered}"
    );
    let state = app
        .get(&format!("/api/v1/visits/{}/rating", visits[5]), &cs)
        .await;
    assert_eq!(state.body["delivery_status"], "failed");
    let template = alerts
        .iter()
        .find(|a| a["kind"] == "template_rejected")
        .unwrap();
    assert_eq!(template["subject"], "fieldops_penilaian_kunjungan (id)");
    assert_eq!(template["detail"], "REJECTED: INCORRECT_CATEGORY");
    let id = template["id"].as_str().unwrap();
    let dismissed = app
        .post(&format!("/api/v1/alerts/{id}/dismiss"), &admin, json!({}))
        .await;
    assert_eq!(dismissed.status, 204, "{:?}", dismissed.body);
    let left = app.get("/api/v1/alerts", &admin).await.body;
    assert_eq!(left.as_array().unwrap().len(), 1);
}

on_both_backends!(a_resolved_ticket_is_rated_when_the_settings_ask);

/// Rating requests on ticket resolution (a setting, off by default): the
/// customer gets the same WhatsApp template naming the ticket, rates it on
/// the same page, and the agent's KPI moves; a ticket reopened and resolved
/// again is not asked twice.
async fn a_resolved_ticket_is_rated_when_the_settings_ask(backend: Backend) {
    let Some((app, mut sent)) = fieldops_tests::whatsapp::spawn(backend).await else {
        return;
    };
    let admin = app.login_as("admin").await;
    let cs = app.login_as("cs").await;
    let hendra = demo_customer(&app, &cs).await;
    let siti = user_id(&app, "cs@example.com").await;
    let put = |path: String, body: Value| {
        let app = &app;
        let token = if path.contains("settings") {
            admin.clone()
        } else {
            cs.clone()
        };
        async move {
            let r = app
                .call(reqwest::Method::PUT, &path, Some(&token), Some(body))
                .await;
            assert!(r.status.is_success(), "{path}: {:?}", r.body);
            r.body
        }
    };
    let ticket = |subject: &'static str| {
        let (app, cs, hendra) = (&app, &cs, &hendra);
        async move {
            let t = app
                .post(
                    "/api/v1/tickets",
                    cs,
                    json!({
                        "subject": subject, "category": "technical", "customer_id": hendra,
                    }),
                )
                .await;
            assert_eq!(t.status, 201, "{:?}", t.body);
            format!("/api/v1/tickets/{}", t.body["id"].as_str().unwrap())
        }
    };
    let count = |sql: &'static str| {
        let pool = app.server.state.db.pool().clone();
        async move {
            sqlx::query_scalar::<_, i64>(sql)
                .fetch_one(&pool)
                .await
                .unwrap()
        }
    };

    // Off by default: resolving asks nobody.
    let quiet = ticket("Tagihan ganda").await;
    put(format!("{quiet}/status"), json!({ "status": "resolved" })).await;
    let mut settings = app.get("/api/v1/settings", &admin).await.body["ratings"].clone();
    assert_eq!(settings["after_ticket"], false);
    settings["after_ticket"] = json!(true);
    put("/api/v1/settings/ratings".into(), settings).await;

    let asked = ticket("AC bocor di lobi").await;
    put(format!("{asked}/assign"), json!({ "assigned_to": siti })).await;
    put(format!("{asked}/status"), json!({ "status": "resolved" })).await;
    let token = rating_token(&mut sent, "6281210000001").await;
    let (status, body, csrf, cookie) = open(&app, &token).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("TKT-000002 AC bocor di lobi"), "{body}");
    assert!(body.contains("Nilai layanan kami"), "{body}");
    assert_eq!(rate(&app, &token, &csrf, &cookie, "2").await.0, 200);
    // The fake WhatsApp answered before the outbox recorded it: "sent"
    // follows "sending" by one write, which a loaded machine can delay.
    let mut asked_rating = app.get(&format!("{asked}/rating"), &admin).await;
    for _ in 0..100 {
        if asked_rating.body["message_status"] != "sending" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        asked_rating = app.get(&format!("{asked}/rating"), &admin).await;
    }
    assert_eq!(asked_rating.status, 200, "{:?}", asked_rating.body);
    assert_eq!(asked_rating.body["rating"]["score"], 2);
    assert_eq!(asked_rating.body["message_status"], "sent");
    app.get(&format!("{quiet}/rating"), &admin)
        .await
        .assert_problem(404);
    // Reopened and resolved again: still one request.
    put(format!("{asked}/status"), json!({ "status": "open" })).await;
    put(format!("{asked}/status"), json!({ "status": "resolved" })).await;
    assert_eq!(
        count("SELECT COUNT(*) FROM rating_requests WHERE ticket_id IS NOT NULL").await,
        1
    );

    let agents = app.get("/api/v1/kpi?subject=agent", &admin).await;
    let s = row(&agents.body, "Siti Rahmawati");
    let r = &s["ratings"];
    assert_eq!(
        (&r["sent"], &r["answered"], &r["satisfied"]),
        (&json!(1), &json!(1), &json!(0))
    );
    assert!(close(&r["csat_pct"], 0.0), "{r}");
    let export = app
        .client
        .get(app.url("/api/v1/ratings.csv"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        export.contains(",ticket,") && export.contains("TKT-000002 AC bocor di lobi"),
        "{export}"
    );
}
