//! Every route × every role: the expected allow or deny, and the proof that the
//! table covers every route in the OpenAPI document.

use std::collections::BTreeSet;

use fieldops_tests::{Backend, ROLES, TestApp, on_both_backends};
use reqwest::Method;
use serde_json::{Value, json};

/// Routes anyone may call.
const PUBLIC: &[(&str, &str)] = &[
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/metrics"),
    ("GET", "/api/v1/openapi.json"),
    ("POST", "/api/v1/auth/login"),
    ("POST", "/api/v1/auth/refresh"),
    ("POST", "/api/v1/auth/register"),
    ("POST", "/api/v1/auth/phone-codes"),
    // The sync endpoints authenticate inside the protocol (Hello); tested in sync.rs.
    ("GET", "/api/v1/sync"),
    ("POST", "/api/v1/sync/batch"),
    ("OPTIONS", "/api/v1/uploads"),
    ("GET", "/api/v1/files/{sha256}"),
    ("GET", "/webhooks/whatsapp"),
    ("POST", "/webhooks/whatsapp"),
];

struct Route {
    method: &'static str,
    /// `{user}`, `{customer}` and `{department}` are filled in per run.
    path: &'static str,
    allowed: &'static [&'static str],
    body: fn(role: &str) -> Option<Value>,
}

/// Routes that answer 404 rather than 403 to a role that may not see their
/// target, because even a refusal would say that it exists.
const DENIED_AS_NOT_FOUND: &[(&str, &str)] = &[("GET", "/api/v1/blobs/{blob}")];

/// Routes whose target may not exist for the roles allowed to ask (a visit
/// not done yet has no rating request): 404 is an answer, not a refusal.
const MAY_BE_MISSING: &[(&str, &str)] = &[
    ("GET", "/api/v1/visits/{visit}/rating"),
    // The matrix's ticket was opened without a journey.
    ("GET", "/api/v1/tickets/{ticket}/journey"),
    // ... and never resolved: nobody was asked to rate it.
    ("GET", "/api/v1/tickets/{ticket}/rating"),
];

/// Routes on an invoice answer 404 to the roles that may not see it at all
/// (a technician; a customer before it is sent), and 403 to those who see
/// it but may not do this.
const HIDDEN_FROM: &[(&str, &str, &[&str])] = &[
    ("GET", "/api/v1/invoices/{invoice}", &["technician"]),
    ("GET", "/api/v1/invoices/{invoice}/pdf", &["technician"]),
    (
        "POST",
        "/api/v1/invoices/{invoice}/payments",
        &["technician"],
    ),
];

const ALL: &[&str] = &["admin", "cs", "sales", "technician", "customer"];
const STAFF: &[&str] = &["admin", "cs", "sales", "technician"];

fn none(_: &str) -> Option<Value> {
    None
}

fn empty(_: &str) -> Option<Value> {
    Some(json!({}))
}

fn journey(_: &str) -> Option<Value> {
    Some(json!({ "definition": fieldops_sync::testing::sample_journey() }))
}

/// In order: routes that change the target come after those that read it, and
/// logout comes last because it ends the caller's session.
const PROTECTED: &[Route] = &[
    Route {
        method: "GET",
        path: "/api/v1/me",
        allowed: ALL,
        body: none,
    },
    Route {
        method: "PUT",
        path: "/api/v1/me/status",
        allowed: STAFF,
        body: |_| Some(json!({ "status": "available" })),
    },
    Route {
        method: "PUT",
        path: "/api/v1/me/language",
        allowed: &["admin", "cs", "sales", "technician", "customer"],
        body: |_| Some(json!({ "language": "id" })),
    },
    Route {
        method: "PUT",
        path: "/api/v1/me/push-token",
        allowed: ALL,
        body: |_| Some(json!({ "platform": "fcm", "token": "matrix-token" })),
    },
    Route {
        method: "DELETE",
        path: "/api/v1/me/push-token",
        allowed: ALL,
        body: none,
    },
    Route {
        method: "POST",
        path: "/api/v1/me/password",
        allowed: ALL,
        body: |_| Some(json!({ "current_password": "wrong", "new_password": "whatever-123" })),
    },
    Route {
        method: "GET",
        path: "/api/v1/users",
        allowed: &["admin", "cs"],
        body: none,
    },
    Route {
        method: "POST",
        path: "/api/v1/users",
        allowed: &["admin", "cs"],
        body: |role| {
            Some(
                json!({ "email": format!("new-{role}@example.com"), "name": "New", "role": "technician", "password": "password-1" }),
            )
        },
    },
    Route {
        method: "GET",
        path: "/api/v1/users/{user}",
        allowed: &["admin", "cs"],
        body: none,
    },
    Route {
        method: "PATCH",
        path: "/api/v1/users/{user}",
        allowed: &["admin", "cs"],
        body: |_| Some(json!({ "name": "Target" })),
    },
    Route {
        method: "POST",
        path: "/api/v1/users/{user}/reset-password",
        allowed: &["admin", "cs"],
        body: |_| Some(json!({ "password": "password-2" })),
    },
    Route {
        method: "POST",
        path: "/api/v1/users/{user}/deactivate",
        allowed: &["admin", "cs"],
        body: empty,
    },
    Route {
        method: "POST",
        path: "/api/v1/users/{user}/activate",
        allowed: &["admin", "cs"],
        body: empty,
    },
    Route {
        method: "GET",
        path: "/api/v1/departments",
        allowed: STAFF,
        body: none,
    },
    Route {
        method: "POST",
        path: "/api/v1/departments",
        allowed: &["admin"],
        body: |role| Some(json!({ "name": format!("Dept by {role}") })),
    },
    Route {
        method: "PATCH",
        path: "/api/v1/departments/{department}",
        allowed: &["admin"],
        body: |_| Some(json!({ "description": "d" })),
    },
    Route {
        method: "GET",
        path: "/api/v1/customers",
        allowed: &["admin", "cs", "sales"],
        body: none,
    },
    Route {
        method: "POST",
        path: "/api/v1/customers",
        allowed: &["admin", "cs"],
        body: |role| {
            let n = ROLES.iter().position(|r| *r == role).unwrap_or(9);
            Some(json!({ "name": "New", "phone": format!("+628139999000{n}") }))
        },
    },
    Route {
        method: "GET",
        path: "/api/v1/customers/{customer}",
        allowed: &["admin", "cs", "sales", "customer"],
        body: none,
    },
    Route {
        method: "PATCH",
        path: "/api/v1/customers/{customer}",
        allowed: &["admin", "cs"],
        body: |_| Some(json!({ "city": "Depok" })),
    },
    Route {
        method: "DELETE",
        path: "/api/v1/customers/{customer}",
        allowed: &["admin", "cs"],
        body: none,
    },
    Route {
        method: "POST",
        path: "/api/v1/customers/{customer}/restore",
        allowed: &["admin", "cs"],
        body: empty,
    },
    Route {
        method: "POST",
        path: "/api/v1/customers/{customer}/merge",
        allowed: &["admin", "cs"],
        // Into itself: refused (422) after the policy, so the target stays.
        body: |_| Some(json!({ "into": "{customer}" })),
    },
    // `{upload}` is an upload the admin started; `{blob}` bytes the admin uploaded.
    Route {
        method: "POST",
        path: "/api/v1/uploads",
        allowed: ALL,
        body: none,
    },
    Route {
        method: "HEAD",
        path: "/api/v1/uploads/{upload}",
        allowed: &["admin"],
        body: none,
    },
    Route {
        method: "PATCH",
        path: "/api/v1/uploads/{upload}",
        allowed: &["admin"],
        body: none,
    },
    Route {
        method: "DELETE",
        path: "/api/v1/uploads/{upload}",
        allowed: &["admin"],
        body: none,
    },
    Route {
        method: "GET",
        path: "/api/v1/blobs/{blob}",
        // Bytes the admin uploaded and attached to nothing: the others are
        // told nothing of them (tests/api/blob_access.rs).
        allowed: &["admin"],
        body: none,
    },
    Route {
        method: "GET",
        path: "/api/v1/blobs/{blob}/link",
        // Attached to nothing: only its uploader (the admin) may download it;
        // attached photos follow their ticket or visit (tests/api/photo_queue.rs).
        allowed: &["admin"],
        body: none,
    },
    Route {
        method: "GET",
        path: "/api/v1/tickets",
        allowed: ALL,
        body: none,
    },
    Route {
        method: "POST",
        path: "/api/v1/tickets",
        allowed: &["admin", "cs", "customer"],
        body: |_| Some(json!({ "subject": "Matrix", "category": "general" })),
    },
    Route {
        method: "GET",
        path: "/api/v1/tickets/stats",
        allowed: &["admin", "cs"],
        body: none,
    },
    Route {
        method: "GET",
        path: "/api/v1/tickets/{ticket}",
        allowed: &["admin", "cs", "customer"],
        body: none,
    },
    Route {
        method: "PATCH",
        path: "/api/v1/tickets/{ticket}",
        allowed: &["admin", "cs"],
        body: |_| Some(json!({ "description": "d" })),
    },
    Route {
        method: "PUT",
        path: "/api/v1/tickets/{ticket}/status",
        allowed: &["admin", "cs"],
        body: |_| Some(json!({ "status": "in_progress" })),
    },
    Route {
        method: "PUT",
        path: "/api/v1/tickets/{ticket}/assign",
        allowed: &["admin", "cs"],
        body: |_| Some(json!({ "assigned_to": "0190f5e0-0000-7000-8000-000000000000" })),
    },
    Route {
        method: "POST",
        path: "/api/v1/tickets/{ticket}/messages",
        allowed: &["admin", "cs", "customer"],
        body: |_| Some(json!({ "body": "hello" })),
    },
    Route {
        method: "POST",
        path: "/api/v1/tickets/{ticket}/attachments",
        allowed: &["admin", "cs", "customer"],
        body: |_| Some(json!({ "sha256": "0".repeat(64) })),
    },
    Route {
        method: "GET",
        path: "/api/v1/tickets/{ticket}/attachments",
        allowed: &["admin", "cs", "customer"],
        body: none,
    },
    Route {
        method: "PUT",
        path: "/api/v1/users/{user}/shift",
        allowed: &["admin", "cs"],
        body: |_| Some(json!({ "start": "08:00", "end": "16:00" })),
    },
    Route {
        method: "GET",
        path: "/api/v1/conversations",
        allowed: &["admin", "cs", "customer"],
        body: none,
    },
    Route {
        method: "POST",
        path: "/api/v1/conversations",
        allowed: &["admin", "cs", "customer"],
        body: |_| Some(json!({ "message": "Halo" })),
    },
    Route {
        method: "GET",
        path: "/api/v1/conversations/{conversation}/messages",
        allowed: &["admin", "cs", "customer"],
        body: none,
    },
    Route {
        method: "POST",
        path: "/api/v1/conversations/{conversation}/messages",
        allowed: &["admin", "cs", "customer"],
        body: |_| Some(json!({ "body": "Halo lagi" })),
    },
    Route {
        method: "POST",
        path: "/api/v1/conversations/{conversation}/read",
        allowed: &["admin", "cs", "customer"],
        body: empty,
    },
    Route {
        method: "GET",
        path: "/api/v1/visits",
        allowed: ALL,
        body: none,
    },
    Route {
        method: "POST",
        path: "/api/v1/visits",
        allowed: &["admin", "cs"],
        body: |_| {
            Some(
                json!({ "customer_id": "{customer}", "title": "Matrix", "site": { "address": "Jl. Uji 1", "lat": -6.2, "lon": 106.8 }, "scheduled_start": "2030-01-02", "technician_quota": 1 }),
            )
        },
    },
    Route {
        method: "GET",
        path: "/api/v1/visits/{visit}",
        allowed: ALL,
        body: none,
    },
    Route {
        method: "PATCH",
        path: "/api/v1/visits/{visit}",
        allowed: &["admin", "cs"],
        body: |_| Some(json!({ "description": "Bawa tangga" })),
    },
    Route {
        method: "POST",
        path: "/api/v1/visits/{visit}/cancel",
        allowed: &["admin", "cs"],
        // Refused as invalid after the policy check, so the visit stays.
        body: |_| Some(json!({ "reason": "" })),
    },
    Route {
        method: "POST",
        path: "/api/v1/visits/{visit}/claim",
        allowed: &["technician"],
        body: none,
    },
    Route {
        method: "POST",
        path: "/api/v1/visits/{visit}/check-in",
        allowed: &["technician"],
        body: |_| {
            Some(
                json!({ "device_time": "2026-01-02T08:00:00+07:00", "lat": -6.2251, "lon": 106.8097, "accuracy_m": 5.0 }),
            )
        },
    },
    Route {
        method: "POST",
        path: "/api/v1/visits/{visit}/check-out",
        allowed: &["technician"],
        body: |_| {
            Some(
                json!({ "device_time": "2026-01-02T09:00:00+07:00", "lat": -6.2251, "lon": 106.8097, "accuracy_m": 5.0 }),
            )
        },
    },
    Route {
        method: "POST",
        path: "/api/v1/visits/{visit}/extensions",
        allowed: &["technician"],
        body: |_| Some(json!({ "extra_days": 1, "reason": "Suku cadang belum datang" })),
    },
    Route {
        method: "POST",
        path: "/api/v1/visits/{visit}/withdraw",
        allowed: &["technician"],
        body: none,
    },
    Route {
        method: "POST",
        path: "/api/v1/visits/{visit}/complete",
        allowed: &["admin", "cs", "technician"],
        body: |_| Some(json!({ "summary": "Selesai" })),
    },
    Route {
        method: "POST",
        path: "/api/v1/visits/{visit}/reopen",
        allowed: &["admin", "cs"],
        body: |_| Some(json!({ "reason": "Belum beres" })),
    },
    Route {
        method: "GET",
        path: "/api/v1/extensions",
        allowed: &["admin", "cs"],
        body: none,
    },
    Route {
        method: "POST",
        path: "/api/v1/extensions/{extension}/approve",
        allowed: &["admin", "cs"],
        body: empty,
    },
    Route {
        method: "POST",
        path: "/api/v1/extensions/{extension}/reject",
        allowed: &["admin", "cs"],
        body: empty,
    },
    Route {
        method: "POST",
        path: "/api/v1/assignments/{assignment}/return-to-pool",
        allowed: &["admin", "cs"],
        body: |_| Some(json!({ "reason": "Tidak hadir" })),
    },
    Route {
        method: "GET",
        path: "/api/v1/attendance",
        allowed: &["admin", "cs"],
        body: none,
    },
    Route {
        method: "GET",
        path: "/api/v1/invoices",
        allowed: &["admin", "cs", "sales", "customer"],
        body: none,
    },
    Route {
        method: "POST",
        path: "/api/v1/invoices",
        allowed: &["admin", "cs"],
        // Refused as invalid after the policy check: nothing is drafted.
        body: |_| Some(json!({ "visit_ids": [], "lines": [] })),
    },
    Route {
        method: "GET",
        path: "/api/v1/invoices/{invoice}",
        allowed: &["admin", "cs", "sales", "customer"],
        body: none,
    },
    Route {
        method: "GET",
        path: "/api/v1/invoices/{invoice}/pdf",
        allowed: &["admin", "cs", "sales", "customer"],
        body: none,
    },
    // The target invoice has been sent: every change below is refused
    // (409 or 422) after the policy said yes, so it stays as it is.
    Route {
        method: "PATCH",
        path: "/api/v1/invoices/{invoice}",
        allowed: &["admin", "cs"],
        body: |_| Some(json!({ "notes": "x" })),
    },
    Route {
        method: "POST",
        path: "/api/v1/invoices/{invoice}/submit",
        allowed: &["admin", "cs"],
        body: none,
    },
    Route {
        method: "POST",
        path: "/api/v1/invoices/{invoice}/approve",
        allowed: &["admin", "sales"],
        body: none,
    },
    Route {
        method: "POST",
        path: "/api/v1/invoices/{invoice}/return",
        allowed: &["admin", "sales"],
        body: |_| Some(json!({ "reason": "Harga" })),
    },
    Route {
        method: "POST",
        path: "/api/v1/invoices/{invoice}/send",
        allowed: &["admin", "cs"],
        body: none,
    },
    Route {
        method: "POST",
        path: "/api/v1/invoices/{invoice}/void",
        allowed: &["admin"],
        body: |_| Some(json!({ "reason": "Salah" })),
    },
    Route {
        method: "POST",
        path: "/api/v1/invoices/{invoice}/write-off",
        allowed: &["admin", "sales"],
        body: |_| Some(json!({ "reason": "" })),
    },
    Route {
        method: "POST",
        path: "/api/v1/invoices/{invoice}/payments",
        allowed: &["admin", "cs", "customer"],
        body: |_| Some(json!({ "amount": 0 })),
    },
    Route {
        method: "POST",
        path: "/api/v1/invoices/{invoice}/payments/{payment}/check",
        allowed: &["admin", "cs"],
        body: |_| Some(json!({ "verified": false, "reason": "" })),
    },
    Route {
        method: "POST",
        path: "/api/v1/invoices/{invoice}/credit-notes",
        allowed: &["admin", "cs"],
        body: |_| Some(json!({ "lines": [], "reason": "" })),
    },
    Route {
        method: "GET",
        path: "/api/v1/events",
        allowed: ALL,
        body: none,
    },
    // KPI: staff see their own rows; the whole and others' series are the
    // managers'.
    Route {
        method: "GET",
        path: "/api/v1/kpi",
        allowed: STAFF,
        body: none,
    },
    Route {
        method: "GET",
        path: "/api/v1/kpi.csv",
        allowed: STAFF,
        body: none,
    },
    Route {
        method: "GET",
        path: "/api/v1/kpi/series",
        allowed: &["admin"],
        body: none,
    },
    Route {
        method: "GET",
        path: "/api/v1/kpi/series.csv",
        allowed: &["admin"],
        body: none,
    },
    Route {
        method: "GET",
        path: "/api/v1/kpi/live",
        allowed: &["admin", "cs", "sales"],
        body: none,
    },
    Route {
        method: "GET",
        path: "/api/v1/ratings.csv",
        allowed: &["admin"],
        body: none,
    },
    Route {
        method: "GET",
        path: "/api/v1/visits/{visit}/rating",
        allowed: &["admin", "cs", "sales"],
        body: none,
    },
    Route {
        method: "GET",
        path: "/api/v1/alerts",
        allowed: &["admin"],
        body: none,
    },
    Route {
        method: "GET",
        path: "/api/v1/settings",
        allowed: &["admin"],
        body: none,
    },
    // Each saves what is already in force (the defaults).
    Route {
        method: "PUT",
        path: "/api/v1/settings/sla",
        allowed: &["admin"],
        body: |_| {
            Some(json!({
                "timezone": "Asia/Jakarta", "working_days": [1, 2, 3, 4, 5],
                "day_start": "09:00", "day_end": "17:00", "holidays": [],
                "targets": {
                    "low": { "response_minutes": 1440, "resolution_minutes": 2400 },
                    "normal": { "response_minutes": 480, "resolution_minutes": 1440 },
                    "high": { "response_minutes": 240, "resolution_minutes": 960 },
                    "urgent": { "response_minutes": 60, "resolution_minutes": 240 },
                },
            }))
        },
    },
    Route {
        method: "PUT",
        path: "/api/v1/settings/assignment",
        allowed: &["admin"],
        body: |_| Some(json!({ "tickets_round_robin": true, "chats_round_robin": true })),
    },
    Route {
        method: "PUT",
        path: "/api/v1/settings/ratings",
        allowed: &["admin"],
        body: |_| {
            Some(json!({ "after_visit": true, "delay_minutes": 0,
                         "template": "fieldops_penilaian_kunjungan", "template_language": "id" }))
        },
    },
    Route {
        method: "POST",
        path: "/api/v1/alerts/{alert}/dismiss",
        allowed: &["admin"],
        body: none,
    },
    Route {
        method: "GET",
        path: "/api/v1/calls",
        allowed: &["admin", "cs"],
        body: none,
    },
    Route {
        method: "GET",
        path: "/api/v1/journeys",
        allowed: &["admin"],
        body: none,
    },
    Route {
        method: "POST",
        path: "/api/v1/journeys",
        allowed: &["admin"],
        body: journey,
    },
    Route {
        method: "POST",
        path: "/api/v1/journeys/check",
        allowed: &["admin"],
        body: journey,
    },
    Route {
        method: "GET",
        path: "/api/v1/journeys/published",
        allowed: &["customer"],
        body: none,
    },
    Route {
        method: "GET",
        path: "/api/v1/journeys/{journey}",
        allowed: &["admin"],
        body: none,
    },
    Route {
        method: "PUT",
        path: "/api/v1/journeys/{journey}/draft",
        allowed: &["admin"],
        body: journey,
    },
    Route {
        method: "POST",
        path: "/api/v1/journeys/{journey}/publish",
        allowed: &["admin"],
        body: none,
    },
    // By the customer's turn the admin retired it: 409, an answer.
    Route {
        method: "POST",
        path: "/api/v1/journeys/{journey}/submissions",
        allowed: &["customer"],
        body: |_| {
            Some(json!({ "version": 1, "started_at_ms": 1, "answers": {
                "jenis": { "choice": "tagihan" }, "tagihan": { "text": "Tagihan ganda" } } }))
        },
    },
    Route {
        method: "POST",
        path: "/api/v1/journeys/{journey}/retire",
        allowed: &["admin"],
        body: none,
    },
    Route {
        method: "GET",
        path: "/api/v1/tickets/{ticket}/rating",
        allowed: &["admin", "cs"],
        body: none,
    },
    Route {
        method: "GET",
        path: "/api/v1/tickets/{ticket}/journey",
        allowed: &["admin", "cs", "customer"],
        body: none,
    },
    Route {
        method: "POST",
        path: "/api/v1/auth/logout",
        allowed: ALL,
        body: none,
    },
];

on_both_backends!(every_route_for_every_role);

async fn every_route_for_every_role(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let admin = app.login_as("admin").await;
    let target = app
        .post("/api/v1/users", &admin, json!({ "email": "target@example.com", "name": "Target", "role": "technician", "password": "password-1" }))
        .await;
    let user = target.body["id"].as_str().unwrap().to_owned();
    let customer = app
        .get("/api/v1/me", &app.login_as("customer").await)
        .await
        .body["customer"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let department = app.get("/api/v1/departments", &admin).await.body[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let photo = fieldops_core::photo::normalise(&fieldops_core::photo::testing::synthetic_jpeg(
        64, 48, 1, 90,
    ))
    .unwrap();
    let stored = fieldops_tests::photos::upload(&app, &admin, &photo.image, None, 1 << 20).await;
    assert_eq!(stored.last.status, 204);
    let blob = photo.sha256.clone();
    let started = fieldops_tests::photos::create(
        &app,
        &admin,
        100,
        &fieldops_tests::photos::metadata(&"ab".repeat(32), None),
    )
    .await;
    let upload = started.headers["location"]
        .to_str()
        .unwrap()
        .trim_start_matches("/api/v1/uploads/")
        .to_owned();
    let ticket = app
        .post(
            "/api/v1/tickets",
            &admin,
            json!({ "subject": "Matrix target", "category": "general", "customer_id": customer }),
        )
        .await
        .body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let conversation = app
        .post(
            "/api/v1/conversations",
            &admin,
            json!({ "message": "Matrix", "customer_id": customer }),
        )
        .await
        .body["conversation"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (visit, assignment, extension) = field_targets(&app).await;
    let (invoice, payment) = invoice_targets(&app).await;
    // An alert for admins: Meta rejected a template.
    let alert = uuid::Uuid::now_v7().to_string();
    sqlx::query(
        "INSERT INTO admin_alerts (id, kind, subject, detail, created_at) \
         VALUES ($1, 'template_rejected', 'matrix (id)', 'REJECTED', 0)",
    )
    .bind(&alert)
    .execute(app.server.state.db.pool())
    .await
    .unwrap();
    let journey = app
        .post(
            "/api/v1/journeys",
            &admin,
            journey("admin").unwrap_or_default(),
        )
        .await
        .body["journey_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let fill = |path: &str| {
        path.replace("{ticket}", &ticket)
            .replace("{conversation}", &conversation)
            .replace("{user}", &user)
            .replace("{customer}", &customer)
            .replace("{department}", &department)
            .replace("{upload}", &upload)
            .replace("{blob}", &blob)
            .replace("{visit}", &visit)
            .replace("{assignment}", &assignment)
            .replace("{extension}", &extension)
            .replace("{invoice}", &invoice)
            .replace("{payment}", &payment)
            .replace("{alert}", &alert)
            .replace("{journey}", &journey)
    };

    let mut failures = Vec::new();
    for role in ROLES {
        let token = app.login_as(role).await;
        for route in PROTECTED {
            let method = Method::from_bytes(route.method.as_bytes()).unwrap();
            let body = (route.body)(role).map(|b| {
                serde_json::from_str(&b.to_string().replace("{customer}", &customer)).unwrap()
            });
            let reply = app
                .call(method, &fill(route.path), Some(&token), body)
                .await;
            let allowed = route.allowed.contains(&role);
            let status = reply.status.as_u16();
            let ok = if allowed && MAY_BE_MISSING.contains(&(route.method, route.path)) {
                !matches!(status, 401 | 403 | 405 | 500..)
            } else if allowed {
                !matches!(status, 401 | 403 | 404 | 405 | 500..)
            } else if DENIED_AS_NOT_FOUND.contains(&(route.method, route.path))
                || HIDDEN_FROM.iter().any(|(m, p, roles)| {
                    (*m, *p) == (route.method, route.path) && roles.contains(&role)
                })
            {
                status == 404
            } else {
                status == 403
            };
            if !ok {
                failures.push(format!(
                    "{role} {} {} -> {status} {:?}",
                    route.method, route.path, reply.body
                ));
            }
        }
    }
    // No token at all: every protected route says 401.
    for route in PROTECTED {
        let method = Method::from_bytes(route.method.as_bytes()).unwrap();
        let reply = app
            .call(method, &fill(route.path), None, (route.body)("anonymous"))
            .await;
        if reply.status != 401 {
            failures.push(format!(
                "anonymous {} {} -> {}",
                route.method, route.path, reply.status
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "policy mismatches:\n{}",
        failures.join("\n")
    );

    // The table covers exactly the routes the OpenAPI document lists.
    let spec = app
        .call(Method::GET, "/api/v1/openapi.json", None, None)
        .await;
    let documented: BTreeSet<(String, String)> = spec.body["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, ops)| {
            ops.as_object()
                .unwrap()
                .keys()
                .map(move |m| (m.to_uppercase(), path.clone()))
        })
        .collect();
    let placeholder = |p: &str| {
        p.replace("{user}", "{id}")
            .replace("{ticket}", "{id}")
            .replace("{conversation}", "{id}")
            .replace("{customer}", "{id}")
            .replace("{department}", "{id}")
            .replace("{upload}", "{id}")
            .replace("{blob}", "{sha256}")
            .replace("{visit}", "{id}")
            .replace("{assignment}", "{id}")
            .replace("{extension}", "{id}")
            .replace("{invoice}", "{id}")
            .replace("{payment}", "{payment_id}")
            .replace("{alert}", "{id}")
            .replace("{journey}", "{id}")
    };
    let tested: BTreeSet<(String, String)> = PROTECTED
        .iter()
        .map(|r| (r.method.to_owned(), placeholder(r.path)))
        .chain(
            PUBLIC
                .iter()
                .map(|(m, p)| ((*m).to_owned(), (*p).to_owned())),
        )
        .collect();
    assert_eq!(
        documented, tested,
        "the matrix and the OpenAPI document disagree"
    );
    app.stop().await;
}

/// A demo visit of the demo customer (in the pool), and an assignment and a
/// pending extension request of tech2 on another demo visit.
/// The demo's invoice waiting for approval, approved and sent, with one
/// payment CS recorded: (invoice, payment).
async fn invoice_targets(app: &TestApp) -> (String, String) {
    let (cs, sales) = (app.login_as("cs").await, app.login_as("sales").await);
    let waiting = app
        .get("/api/v1/invoices?status=pending_approval", &cs)
        .await;
    let invoice = waiting.body["items"][0]["id"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/invoices/{invoice}");
    for (step, token) in [("approve", &sales), ("send", &cs)] {
        let reply = app.post(&format!("{path}/{step}"), token, json!({})).await;
        assert_eq!(reply.status, 200, "{step}: {:?}", reply.body);
    }
    let paid = app
        .post(
            &format!("{path}/payments"),
            &cs,
            json!({ "amount": 1000, "reference": "Matrix" }),
        )
        .await;
    assert_eq!(paid.status, 201, "{:?}", paid.body);
    let payment = paid.body["payments"][0]["id"].as_str().unwrap().to_owned();
    (invoice, payment)
}

async fn field_targets(app: &TestApp) -> (String, String, String) {
    let cs = app.login_as("cs").await;
    let visits = app.get("/api/v1/visits?limit=200", &cs).await;
    let id_of = |title: &str| {
        visits.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["title"] == title)
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let visit = id_of("Servis AC kantor lantai 12");
    let other = id_of("Instalasi jaringan LAN gudang");
    let tech2 = app.login("tech2@example.com", "tech123").await;
    let claim = app
        .post(&format!("/api/v1/visits/{other}/claim"), &tech2, json!({}))
        .await;
    let assignment = claim.body["assignment_id"].as_str().unwrap().to_owned();
    let ext = app
        .post(
            &format!("/api/v1/visits/{other}/extensions"),
            &tech2,
            json!({ "extra_days": 2, "reason": "Kabel kurang" }),
        )
        .await;
    let extension = ext.body["id"].as_str().unwrap().to_owned();
    (visit, assignment, extension)
}
